"""Budgets from a user file (MLCOST_BUDGETS, e.g. budgets.yaml), validated at load like the rules file.

    budgets:
      - name: chat-serving          # unique; names the budget in the check and the table
        workload: chat              # scope: any of category, workload, model (model: a model's workload);
        category: inference         #        none of them = the whole bill of the currency
        amount: 30000               # per month, in `currency`
        currency: USD               # default USD
        thresholds: [0.8, 1.0]      # shares of amount that warn (default 0.8 and 1.0)

A bad file stops with one line naming the file, the budget and the problem (pipelines.errors.InputError).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import yaml

from pipelines.attribution.rules import CATEGORIES
from pipelines.errors import InputError

BUDGET_FIELDS = ("name", "category", "workload", "model", "amount", "currency", "thresholds")
DEFAULT_THRESHOLDS = (0.8, 1.0)
DEFAULT_CURRENCY = "USD"
# The highest threshold accepted: 10 × the amount (a warning at 1000 % is a typo for 100 %, most likely 10.0).
MAX_THRESHOLD = 10.0


@dataclass(frozen=True)
class Budget:
    name: str
    category: str | None
    workload: str | None
    amount: float
    currency: str
    thresholds: tuple[float, ...]

    @property
    def scope(self) -> str:
        parts = [f"category={self.category}"] if self.category else []
        parts += [f"workload={self.workload}"] if self.workload else []
        return ", ".join(parts) or "whole bill"


def _number(path: Path, name: str, field: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InputError(path, f"budget {name!r}: {field} must be a number, not {value!r}")
    return float(value)


def _parse(path: Path, n: int, entry: object, seen: set[str]) -> Budget:
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"].strip():
        raise InputError(path, f"budget #{n} has no name")
    name = entry["name"].strip()
    unknown = set(entry) - set(BUDGET_FIELDS)
    if unknown:
        raise InputError(
            path,
            f"budget {name!r}: unknown field(s) {', '.join(sorted(map(str, unknown)))} "
            f"(accepted: {', '.join(BUDGET_FIELDS)})",
        )
    if name in seen:
        raise InputError(path, f"budget {name!r}: duplicate name")
    seen.add(name)
    category = entry.get("category")
    if category is not None and category not in CATEGORIES:
        raise InputError(
            path, f"budget {name!r}: category {category!r} is not one of {', '.join(CATEGORIES)}"
        )
    if entry.get("workload") is not None and entry.get("model") is not None:
        raise InputError(path, f"budget {name!r}: give workload or model, not both (a model is a workload)")
    workload = entry.get("workload", entry.get("model"))
    if workload is not None and (not isinstance(workload, str) or not workload.strip()):
        raise InputError(path, f"budget {name!r}: workload / model must be a non-empty name")
    if "amount" not in entry:
        raise InputError(path, f"budget {name!r}: amount (per month) is missing")
    amount = _number(path, name, "amount", entry["amount"])
    if amount <= 0:
        raise InputError(path, f"budget {name!r}: amount must be above 0, not {entry['amount']!r}")
    currency = entry.get("currency", DEFAULT_CURRENCY)
    if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
        raise InputError(
            path, f"budget {name!r}: currency must be an ISO 4217 code such as USD, not {currency!r}"
        )
    raw = entry.get("thresholds", list(DEFAULT_THRESHOLDS))
    if not isinstance(raw, list) or not raw:
        raise InputError(path, f"budget {name!r}: thresholds must be a list of shares such as [0.8, 1.0]")
    thresholds = tuple(_number(path, name, "a threshold", t) for t in raw)
    if any(not 0 < t <= MAX_THRESHOLD for t in thresholds):
        raise InputError(
            path,
            f"budget {name!r}: thresholds are shares of amount in (0, {MAX_THRESHOLD:g}] (0.8 = 80 %), not {raw}",
        )
    if list(thresholds) != sorted(set(thresholds)):
        raise InputError(path, f"budget {name!r}: thresholds must be increasing without repeats, not {raw}")
    return Budget(name, category, workload.strip() if workload else None, amount, currency, thresholds)


def load_budgets(path: Path | str) -> list[Budget]:
    """Read and validate a budgets file; every problem names the file and the budget."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InputError(path, "budgets file not found") from None
    except yaml.YAMLError as exc:
        raise InputError(path, f"not valid YAML ({' '.join(str(exc).split())})") from None
    if not isinstance(doc, dict) or set(doc) != {"budgets"} or not isinstance(doc["budgets"], list):
        raise InputError(path, "a budgets file is a mapping with one field, `budgets`: a list of budgets")
    seen: set[str] = set()
    return [_parse(path, n, entry, seen) for n, entry in enumerate(doc["budgets"], start=1)]


def budgets_frame(budgets: list[Budget]) -> pl.DataFrame:
    """The budgets as a table for sql/budget_status.sql (registered as `budgets`)."""
    return pl.DataFrame(
        {
            "budget": [b.name for b in budgets],
            "scope": [b.scope for b in budgets],
            "category": [b.category for b in budgets],
            "workload": [b.workload for b in budgets],
            "amount": [b.amount for b in budgets],
            "billing_currency": [b.currency for b in budgets],
            "thresholds": [list(b.thresholds) for b in budgets],
        },
        schema={
            "budget": pl.Utf8,
            "scope": pl.Utf8,
            "category": pl.Utf8,
            "workload": pl.Utf8,
            "amount": pl.Float64,
            "billing_currency": pl.Utf8,
            "thresholds": pl.List(pl.Float64),
        },
    )


def compute_budget_status(con, settings, periods: list) -> dict[str, int]:
    """Publish budget_status for each billing period (an empty partition when no budgets file is set)."""
    from pipelines.storage import lake
    from pipelines.storage.sqlfiles import load_sql

    budgets = load_budgets(settings.budgets_path) if settings.budgets_path else []
    lake.register_views(con, settings, ["cost_by_category_daily"])
    lake.register_view_or_empty(con, settings, "month_end_forecast")
    con.register("budgets", budgets_frame(budgets))
    try:
        with lake.PartitionWriter(con, settings, "budget_status") as writer:
            for period in periods:
                writer.stage(period.isoformat(), load_sql("budget_status"), {"billing_period": period})
            return writer.publish()
    finally:
        con.unregister("budgets")


def describe_crossed(rows: list[dict], limit: int = 5) -> str:
    """The check's description: each budget over a threshold, with its scope and figures."""
    if not rows:
        return "every budget's month-to-date cost and month-end forecast are below its thresholds"
    parts = [
        f"{r['budget']} ({r['scope']}, {r['billing_period']:%Y-%m}): {r['status']}: actual "
        f"{r['actual_cost']:,.2f} ({r['actual_share']:.0%}), forecast {r['forecast_cost']:,.2f} "
        f"({r['forecast_share']:.0%}) of {r['amount']:,.2f} {r['billing_currency']}"
        for r in rows[:limit]
    ]
    more = f"; and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"{len(rows)} budget(s) over a threshold: " + "; ".join(parts) + more
