"""Load and validate the attribution rules file (YAML), and turn it into rows DuckDB can join on.

The file format is documented at the top of `default_rules.yaml` and in docs/attribution.md. A file with an
error (unknown field, bad pattern, duplicate id, unknown category) is refused at load with a message naming the rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import yaml

from pipelines.billing.formats import tag_key
from pipelines.errors import InputError

DEFAULT_RULES = Path(__file__).with_name("default_rules.yaml")
CATEGORIES = ("training", "inference", "storage", "egress", "other", "shared")
SHARED_KINDS = ("tax", "support", "credit", "refund", "commitment", "other")
STRATEGIES = ("keep", "proportional", "even")
MATCH_FIELDS = (
    "usage_type",
    "service_code",
    "product_family",
    "operation",
    "line_item_type",
    "charge_category",
    "resource_id",
    "charge_description",
    "commitment_id",
    # FOCUS columns (NULL on CUR lines, except provider 'AWS' and service_name, the product's service code).
    "service_category",
    "service_subcategory",
    "service_name",
    "sku_meter",
    "charge_class",
    "pricing_category",
    "resource_type",
    "provider",
    "instance_type",
    "commitment_status",
)
# Match fields that take one {key: pattern}: a tag, or a property of FOCUS SkuPriceDetails (x_TransferType, ...).
KEYED_FIELDS = ("tags", "sku_price_details")
RULE_FIELDS = {"id", "priority", "category", "shared_kind", "match", "description"}
# Owner dimensions: each is a column of cost_attribution and cost_by_category_daily, valued by the first of its tag
# keys a line carries (the rules file's `owners` section; these are the defaults). NULL when the line has none.
OWNER_DIMENSIONS: dict[str, tuple[str, ...]] = {
    "model": ("user:model",),
    "team": ("user:team",),
    "project": ("user:project",),
    "environment": ("user:environment",),
}
# The last resort, so that every line gets exactly one category.
UNMATCHED = {"rule_id": "unmatched", "priority": 1_000_000, "category": "other", "shared_kind": None}


@dataclass(frozen=True)
class Rules:
    """A validated rules file: rule rows for SQL, workload settings and sharing strategies."""

    path: str
    rules: list[dict]
    tag_keys: list[str]
    resource_mappings: list[dict]
    sagemaker_names: bool
    strategies: dict[str, str] = field(default_factory=dict)
    # Owner dimension -> its tag keys (normalized), in the order they are tried.
    owners: dict[str, list[str]] = field(
        default_factory=lambda: {d: [tag_key(k) for k in keys] for d, keys in OWNER_DIMENSIONS.items()}
    )


def _check_pattern(path: Path, rule_id: str, name: str, pattern: object) -> str:
    if not isinstance(pattern, str) or not pattern:
        raise InputError(path, f"rule {rule_id!r}: match field {name!r} must be a non-empty pattern string")
    try:  # DuckDB's regex engine (RE2) is the one that runs the pattern: ask it, not Python's re.
        duckdb.sql("SELECT regexp_matches('', ?)", params=["(?i)" + pattern]).fetchall()
    except duckdb.Error as exc:
        raise InputError(path, f"rule {rule_id!r}: bad pattern {pattern!r} for {name!r} ({exc})") from None
    return "(?i)" + pattern


def load_rules(path: Path | str | None = None) -> Rules:
    """Read and validate a rules file (the shipped defaults when `path` is None)."""
    path = Path(path) if path else DEFAULT_RULES
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "rules file not found") from None
    except yaml.YAMLError as exc:
        raise InputError(path, f"not valid YAML ({exc})") from None
    if not isinstance(doc, dict):
        raise InputError(path, "a rules file is a mapping with `rules`, `workload`, `owners` and `shared`")
    unknown = set(doc) - {"rules", "workload", "shared", "owners"}
    if unknown:
        raise InputError(path, f"unknown top-level field(s): {', '.join(sorted(unknown))}")

    rows: list[dict] = []
    seen: set[str] = set()
    for n, rule in enumerate(doc.get("rules") or [], start=1):
        if not isinstance(rule, dict) or "id" not in rule:
            raise InputError(path, f"rule #{n} has no id")
        rid = str(rule["id"])
        bad = set(rule) - RULE_FIELDS
        if bad:
            raise InputError(path, f"rule {rid!r}: unknown field(s) {', '.join(sorted(bad))}")
        if rid in seen or rid == UNMATCHED["rule_id"]:
            raise InputError(path, f"rule {rid!r}: duplicate id")
        seen.add(rid)
        if rule.get("category") not in CATEGORIES:
            raise InputError(path, f"rule {rid!r}: category must be one of {', '.join(CATEGORIES)}")
        if not isinstance(rule.get("priority"), int):
            raise InputError(path, f"rule {rid!r}: priority must be an integer")
        kind = rule.get("shared_kind")
        if rule["category"] == "shared" and kind not in SHARED_KINDS:
            raise InputError(
                path, f"rule {rid!r}: a shared rule needs shared_kind, one of {', '.join(SHARED_KINDS)}"
            )
        if rule["category"] != "shared" and kind is not None:
            raise InputError(path, f"rule {rid!r}: shared_kind is only for category shared")
        match = rule.get("match") or {}
        if not isinstance(match, dict) or not match:
            raise InputError(path, f"rule {rid!r}: `match` must name at least one field")
        row = {
            "rule_id": rid,
            "priority": rule["priority"],
            "category": rule["category"],
            "shared_kind": kind,
        }
        for name in MATCH_FIELDS:
            row[name] = _check_pattern(path, rid, name, match[name]) if name in match else None
        for name, prefix in (("tags", "tag"), ("sku_price_details", "detail")):
            keyed = match.get(name) or {}
            if not isinstance(keyed, dict) or len(keyed) > 1:
                raise InputError(
                    path, f"rule {rid!r}: `{name}` takes one {{key: pattern}} (split into two rules)"
                )
            row[f"{prefix}_key"], row[f"{prefix}_pattern"] = None, None
            for key, pattern in keyed.items():
                # Tag keys are normalized as the lines' are; SkuPriceDetails keys are kept as the export writes
                # them (FOCUS names them: InstanceType, GpuCount; providers add x_ ones).
                row[f"{prefix}_key"] = tag_key(str(key)) if name == "tags" else str(key)
                row[f"{prefix}_pattern"] = _check_pattern(path, rid, f"{name}.{key}", pattern)
        unknown_match = set(match) - set(MATCH_FIELDS) - set(KEYED_FIELDS)
        if unknown_match:
            raise InputError(
                path,
                f"rule {rid!r}: unknown match field(s) {', '.join(sorted(unknown_match))} "
                f"(accepted: {', '.join((*MATCH_FIELDS, *KEYED_FIELDS))})",
            )
        rows.append(row)
    rows.append(
        {
            **UNMATCHED,
            **{name: None for name in MATCH_FIELDS},
            "tag_key": None,
            "tag_pattern": None,
            "detail_key": None,
            "detail_pattern": None,
        }
    )

    workload = doc.get("workload") or {}
    bad = set(workload) - {"tag_keys", "resource_mappings", "sagemaker_names"}
    if bad:
        raise InputError(path, f"workload: unknown field(s) {', '.join(sorted(bad))}")
    mappings = []
    for n, item in enumerate(workload.get("resource_mappings") or [], start=1):
        if not isinstance(item, dict) or set(item) != {"pattern", "workload"}:
            raise InputError(path, f"workload.resource_mappings #{n}: needs exactly `pattern` and `workload`")
        mappings.append(
            {
                "position": n,
                "pattern": _check_pattern(path, f"resource_mappings #{n}", "pattern", item["pattern"]),
                "workload": str(item["workload"]),
            }
        )
    shared = doc.get("shared") or {}
    bad = set(shared) - {"default", "strategies"}
    if bad:
        raise InputError(path, f"shared: unknown field(s) {', '.join(sorted(bad))}")
    default = shared.get("default", "keep")
    strategies = {kind: default for kind in SHARED_KINDS}
    for kind, strategy in (shared.get("strategies") or {}).items():
        if kind not in SHARED_KINDS:
            raise InputError(path, f"shared.strategies: unknown shared kind {kind!r}")
        strategies[kind] = strategy
    for kind, strategy in strategies.items():
        if strategy not in STRATEGIES:
            raise InputError(path, f"shared strategy for {kind!r} must be one of {', '.join(STRATEGIES)}")
    owners = _owner_tag_keys(path, doc.get("owners"))
    return Rules(
        path=str(path),
        rules=rows,
        tag_keys=[tag_key(str(k)) for k in workload.get("tag_keys", ["user:model", "user:team"])],
        resource_mappings=mappings,
        sagemaker_names=bool(workload.get("sagemaker_names", True)),
        strategies=strategies,
        owners=owners,
    )


def _owner_tag_keys(path: Path, section: object) -> dict[str, list[str]]:
    """The `owners` section: {dimension: tag key or [tag keys]}; a dimension left out keeps its default keys."""
    owners = {d: list(keys) for d, keys in OWNER_DIMENSIONS.items()}
    if section is None:
        section = {}
    if not isinstance(section, dict):
        raise InputError(path, "owners: a mapping of owner dimension to tag key(s)")
    for dimension, keys in section.items():
        if dimension not in OWNER_DIMENSIONS:
            raise InputError(
                path, f"owners: unknown dimension {dimension!r} (accepted: {', '.join(OWNER_DIMENSIONS)})"
            )
        keys = [keys] if isinstance(keys, str) else keys
        if not isinstance(keys, list) or not all(isinstance(k, str) and k for k in keys):
            raise InputError(path, f"owners.{dimension}: a tag key or a list of tag keys")
        owners[dimension] = keys
    return {d: [tag_key(k) for k in keys] for d, keys in owners.items()}


def with_strategy(rules: Rules, strategy: str) -> Rules:
    """The same rules with one sharing strategy for every shared kind (tests and what-if runs)."""
    return Rules(**{**rules.__dict__, "strategies": {kind: strategy for kind in SHARED_KINDS}})


def register(con: duckdb.DuckDBPyConnection, rules: Rules) -> None:
    """Create the temp tables `attribution_rules`, `workload_mappings` and `sharing_strategies` for the SQL."""
    import polars as pl

    text_columns = [
        "rule_id",
        "category",
        "shared_kind",
        *MATCH_FIELDS,
        "tag_key",
        "tag_pattern",
        "detail_key",
        "detail_pattern",
    ]
    rule_frame = pl.DataFrame(
        rules.rules, schema={"priority": pl.Int64, **{c: pl.Utf8 for c in text_columns}}
    )
    mapping_frame = pl.DataFrame(
        rules.resource_mappings or [],
        schema={"position": pl.Int64, "pattern": pl.Utf8, "workload": pl.Utf8},
    )
    strategy_frame = pl.DataFrame(
        {"shared_kind": list(rules.strategies), "strategy": list(rules.strategies.values())}
    )
    con.register("rule_rows", rule_frame)
    con.register("mapping_rows", mapping_frame)
    con.register("strategy_rows", strategy_frame)
    con.execute("CREATE OR REPLACE TEMP TABLE attribution_rules AS SELECT * FROM rule_rows")
    con.execute("CREATE OR REPLACE TEMP TABLE workload_mappings AS SELECT * FROM mapping_rows")
    con.execute("CREATE OR REPLACE TEMP TABLE sharing_strategies AS SELECT * FROM strategy_rows")
    for name in ("rule_rows", "mapping_rows", "strategy_rows"):
        con.unregister(name)
