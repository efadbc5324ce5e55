"""`mlcost whatif`: a month's inference cost of a workload recomputed under a changed batch size, η target or
instance type, from the measured month (the warehouse's gpu_efficiency_daily and predictions_daily).

The batch size uses the batching recommendation's own model (sql/staging/batching_curve.sql), so what the
recommendation says and what `whatif batch` prints agree. Formulas (docs/recommendations.md):
- batch B:      cost(B) = GPU cost × (t(B) / B) / (t(B₀) / B₀), t(B) = t(B₀) × (1 + m (B − 1)) / (1 + m (B₀ − 1))
- η target η′:  cost = GPU cost × η / η′ (the same active GPU time, paid at the target's idle share)
- instance T:   cost = GPU cost × (T's price per GPU hour / the current type's), list prices of
                pipelines/reference/gpu_instance_prices.csv; it assumes a GPU of T does the work of a current one.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from pipelines.config import Settings
from pipelines.decisions.recommendations import BATCH_MARGINAL_SHARE, register_sources
from pipelines.errors import InputError
from pipelines.storage import lake

MAX_BATCH = 64


@dataclass(frozen=True)
class Projection:
    workload: str
    period: date
    currency: str
    predictions: float
    cost_before: float
    cost_after: float
    formula: str
    note: str = ""

    @property
    def per_1k_before(self) -> float:
        return 1000 * self.cost_before / self.predictions

    @property
    def per_1k_after(self) -> float:
        return 1000 * self.cost_after / self.predictions

    def lines(self) -> list[str]:
        saving = self.cost_before - self.cost_after
        out = [
            f"mlcost whatif {self.workload} {self.period:%Y-%m} ({self.predictions:,.0f} predictions):",
            f"  inference GPU cost   {self.cost_before:>14,.2f} → {self.cost_after:>14,.2f} {self.currency}"
            f"  ({-saving:+,.2f})",
            f"  cost per 1k predictions {self.per_1k_before:>11,.4f} → {self.per_1k_after:>14,.4f} {self.currency}",
            f"  computed as: {self.formula}",
        ]
        return out + ([f"  {self.note}"] if self.note else [])


def month_bounds(period: date) -> tuple[date, date]:
    last = date(period.year + period.month // 12, period.month % 12 + 1, 1).toordinal() - 1
    return period, date.fromordinal(last)


def measured(
    con: duckdb.DuckDBPyConnection, settings: Settings, workload: str, period: date | None, share: float
) -> tuple[date, list[dict]]:
    """The batching curve of a workload over its month (default: the latest month with inference GPU data)."""
    register_sources(con, settings)
    if period is None:
        last = con.execute(
            "SELECT max(usage_date) FROM gpu_efficiency_daily WHERE category = 'inference'"
        ).fetchone()[0]
        if last is None:
            raise InputError(
                "gpu_efficiency_daily", "no inference GPU data: run `mlcost run` with GPU logs first"
            )
        period = last.replace(day=1)
    first, last = month_bounds(period)
    cur = con.execute(
        "SELECT * FROM batching_curve(?, ?, ?) ORDER BY workload, batch_size", [first, last, share]
    )
    columns = [d[0] for d in cur.description]
    rows = [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]
    known = sorted({r["workload"] for r in rows})
    curve = [r for r in rows if r["workload"] == workload]
    if not curve:
        raise InputError(
            "--workload",
            f"{workload!r} has no inference GPU cost with predictions in {period:%Y-%m}; known: "
            + (", ".join(known) or "none"),
        )
    return period, curve


def currency(con: duckdb.DuckDBPyConnection, period: date) -> str:
    row = con.execute(
        "SELECT any_value(billing_currency) FROM cost_attribution WHERE billing_period = ?", [period]
    ).fetchone()
    return (row and row[0]) or ""


def whatif_batch(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    workload: str,
    batch_size: int,
    period: date | None = None,
    latency_budget_ms: float | None = None,
    share: float = BATCH_MARGINAL_SHARE,
) -> Projection:
    if not 1 <= batch_size <= MAX_BATCH:
        raise InputError("--batch-size", f"{batch_size} is not between 1 and {MAX_BATCH}")
    if not 0 <= share <= 1:
        raise InputError("--marginal-share", f"{share} is not a share of one request's GPU time in [0, 1]")
    if latency_budget_ms is not None and not latency_budget_ms > 0:
        raise InputError("--latency-budget-ms", f"{latency_budget_ms} is not a number of milliseconds > 0")
    period, curve = measured(con, settings, workload, period, share)
    row = curve[batch_size - 1]
    budget = settings.latency_budget_ms if latency_budget_ms is None else latency_budget_ms
    within = row["latency_ms"] <= budget
    best = max((r for r in curve if r["latency_ms"] <= budget), key=lambda r: r["batch_size"], default=None)
    note = (
        f"latency t({batch_size}) = {row['latency_ms']:,.1f} ms: "
        + ("within" if within else "OVER")
        + f" the {budget:,.0f} ms budget; "
        + (
            f"the cheapest batch size within it is {best['batch_size']} ({best['cost']:,.2f})"
            if best
            else "no batch size is within it"
        )
    )
    formula = (
        f"GPU cost {row['gpu_cost']:,.2f} × (t({batch_size}) / {batch_size}) / (t({row['current_batch']:.2f}) / "
        f"{row['current_batch']:.2f}), t(B) = {row['current_latency_ms']:,.3f} ms × (1 + {share} × (B − 1)) / "
        f"(1 + {share} × ({row['current_batch']:.2f} − 1)) [C = R / B × t(B) × c_gpu/h / η]"
    )
    return Projection(
        workload,
        period,
        currency(con, period),
        row["predictions"],
        row["gpu_cost"],
        row["cost"],
        formula,
        note,
    )


def whatif_eta(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    workload: str,
    target: float,
    period: date | None = None,
) -> Projection:
    if not 0 < target <= 1:
        raise InputError("--target", f"{target} is not an η in (0, 1]")
    period, curve = measured(con, settings, workload, period, BATCH_MARGINAL_SHARE)
    row = curve[0]
    after = row["gpu_cost"] * row["eta"] / target
    formula = f"GPU cost {row['gpu_cost']:,.2f} × η {row['eta']:.4f} / target {target:.4f}"
    return Projection(
        workload, period, currency(con, period), row["predictions"], row["gpu_cost"], after, formula
    )


def whatif_instance(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    workload: str,
    instance_type: str,
    period: date | None = None,
) -> Projection:
    period, curve = measured(con, settings, workload, period, BATCH_MARGINAL_SHARE)
    row = curve[0]
    prices = {
        t: p / g
        for t, g, p in con.execute(
            "SELECT instance_type, gpu_count, on_demand_hourly FROM gpu_instance_prices"
        ).fetchall()
    }
    target = instance_type.lower().removeprefix("ml.")
    if target not in prices:
        raise InputError(
            "--instance-type", f"{instance_type!r} has no list price; known: {', '.join(sorted(prices))}"
        )
    current = sorted({t.strip().lower().removeprefix("ml.") for t in (row["instance_type"] or "").split(",")})
    if len(current) != 1 or current[0] not in prices:
        raise InputError(
            "--instance-type",
            f"{workload} runs on {row['instance_type']}, which has no single list price to compare with; "
            f"known: {', '.join(sorted(prices))}",
        )
    ratio = prices[target] / prices[current[0]]
    after = row["gpu_cost"] * ratio
    formula = (
        f"GPU cost {row['gpu_cost']:,.2f} × {prices[target]:.4f} / {prices[current[0]]:.4f} per GPU hour "
        f"({target} / {current[0]})"
    )
    note = "assumes a GPU of the new type does the work of a current one; measure throughput before moving"
    return Projection(
        workload, period, currency(con, period), row["predictions"], row["gpu_cost"], after, formula, note
    )


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    if not lake.has_data(settings, "gpu_efficiency_daily") or not lake.has_data(
        settings, "predictions_daily"
    ):
        raise InputError(
            "MLCOST_HOME",
            "gpu_efficiency_daily and predictions_daily have no data yet: run `mlcost run` first",
        )
    return lake.connect(settings)
