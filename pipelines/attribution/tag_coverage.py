"""tag_coverage (monthly): per billing period and tag key the rules read, the share of effective cost whose lines
carry it, by service and account (sql/tag_coverage.sql)."""

from datetime import date

import duckdb
from dagster import MetadataValue

from pipelines.attribution.commitments import publish_monthly
from pipelines.attribution.rules import Rules, load_rules
from pipelines.config import Settings
from pipelines.orchestration.lake_assets import lake_asset
from pipelines.storage import lake


def rule_tag_keys(rules: Rules) -> dict[str, str]:
    """Each tag key the rules file reads (normalized) → what reads it, in file order: workload, owners, rules."""
    used: dict[str, list[str]] = {}
    for key in rules.tag_keys:
        used.setdefault(key, []).append("workload")
    for dimension, keys in rules.owners.items():
        for key in keys:
            used.setdefault(key, []).append(f"owners.{dimension}")
    for rule in rules.rules:
        if rule.get("tag_key"):
            used.setdefault(rule["tag_key"], []).append(f"rule {rule['rule_id']}")
    return {key: ", ".join(readers) for key, readers in used.items()}


def cover_tags(
    con: duckdb.DuckDBPyConnection, settings: Settings, rules: Rules, start_period: date, end_period: date
) -> dict[str, int]:
    """Publish tag_coverage for the billing periods start..end (first days of months); rows per period."""
    lake.register_views(con, settings, ["line_items"])
    keys = rule_tag_keys(rules)
    params = {
        "start_period": start_period,
        "end_period": end_period,
        "tag_keys": list(keys),
        "used_by": list(keys.values()),
    }
    return publish_monthly(con, settings, "tag_coverage", params)


def tag_figures(con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date) -> dict:
    """Per period and tag key: tagged cost, effective cost and the tagged share."""
    rows = con.execute(
        "SELECT billing_period, tag_key, round(fsum(tagged_effective_cost), 2), round(fsum(effective_cost), 2), "
        "round(100 * fsum(tagged_effective_cost) / nullif(fsum(effective_cost), 0), 1) FROM tag_coverage "
        "WHERE billing_period BETWEEN ? AND ? GROUP BY 1, 2 ORDER BY 1, 2",
        [start, end],
    ).fetchall()
    table = ["| period | tag key | tagged cost | effective cost | tagged % |", "|---|---|---:|---:|---:|"] + [
        f"| {' | '.join('' if v is None else str(v) for v in row)} |" for row in rows
    ]
    return {"by_tag_key": MetadataValue.md("\n".join(table) if rows else "no lines in the period(s)")}


# The rules are read when the asset runs: they name the tag keys whose coverage is measured.
tag_coverage = lake_asset(
    "tag_coverage",
    compute=lambda con, settings, start, end: cover_tags(
        con, settings, load_rules(settings.rules_path), start, end
    ),
    figures=tag_figures,
)
