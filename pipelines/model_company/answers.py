"""The known answers: totals per flavour and month, and the planted daily cost by category and workload."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import polars as pl

from .company import CURRENCY
from .periods import DAY, Month

DECIMALS = 10


def money(value: float) -> float:
    """Answers carry 10 decimals, like the lines they are summed from."""
    return round(float(value), DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def totals(billed: pl.Series | np.ndarray, effective: pl.Series | np.ndarray) -> dict:
    """Line count and exactly rounded sums (fsum, so the order of lines does not matter)."""
    billed_values = billed.to_list() if isinstance(billed, pl.Series) else list(billed)
    effective_values = effective.to_list() if isinstance(effective, pl.Series) else list(effective)
    return {
        "lines": len(billed_values),
        "billed_cost": money(math.fsum(billed_values)),
        "effective_cost": money(math.fsum(effective_values)),
        "currency": CURRENCY,
    }


def spread_by_day(charges: pl.DataFrame, months: dict[str, Month]) -> pl.DataFrame:
    """Each line's cost over the UTC days of [start, end) ∩ its billing period, by seconds in each day.

    A line whose charge period lies wholly outside its billing period goes to the period's first day.
    Returns one row per line and day with ``usage_date``, ``category``, ``workload``, and the costs.
    """
    period_start = (
        charges["billing_period"].replace_strict({k: m.start for k, m in months.items()}).to_numpy()
    )
    period_end = charges["billing_period"].replace_strict({k: m.end for k, m in months.items()}).to_numpy()
    start = np.maximum(charges["start"].to_numpy(), period_start)
    end = np.minimum(charges["end"].to_numpy(), period_end)
    outside = end <= start
    start = np.where(outside, period_start, start)
    end = np.where(outside, period_start + 1, end)  # one second on the first day: all of the cost lands there
    first_day = start // DAY
    n_days = (end - 1) // DAY - first_day + 1
    line = np.repeat(np.arange(charges.height), n_days)
    day = first_day[line] + (np.arange(line.size) - np.repeat(np.cumsum(n_days) - n_days, n_days))
    overlap = np.minimum(end[line], (day + 1) * DAY) - np.maximum(start[line], day * DAY)
    weight = overlap / (end - start)[line]
    return pl.DataFrame(
        {
            "usage_date": pl.Series(day.astype("datetime64[D]")),
            "billing_period": charges["billing_period"].gather(line),
            "category": charges["category"].gather(line),
            "workload": charges["workload"].gather(line),
            "billed_cost": charges["billed"].to_numpy()[line] * weight,
            "effective_cost": charges["effective"].to_numpy()[line] * weight,
        }
    )


def daily_answers(charges: pl.DataFrame, months: dict[str, Month]) -> pl.DataFrame:
    """``usage_date, category, workload, billed_cost, effective_cost``: the planted daily attribution."""
    spread = spread_by_day(charges, months)
    return (
        spread.group_by("usage_date", "category", "workload")
        .agg(pl.col("billed_cost").sum(), pl.col("effective_cost").sum())
        .with_columns(pl.col("billed_cost", "effective_cost").round(DECIMALS))
        .sort("usage_date", "category", "workload")
    )


def by_category(charges: pl.DataFrame) -> dict:
    """Billed and effective totals per planted category."""
    grouped = charges.group_by("category").agg(pl.col("billed"), pl.col("effective")).sort("category")
    return {
        row["category"]: {
            "billed_cost": money(math.fsum(row["billed"])),
            "effective_cost": money(math.fsum(row["effective"])),
        }
        for row in grouped.iter_rows(named=True)
    }


def rows_for_json(frame: pl.DataFrame) -> list[dict]:
    """Frame rows with dates as ISO strings and floats rounded, for answers.json."""
    out = []
    for row in frame.iter_rows(named=True):
        clean: dict[str, object] = {}
        for key, value in row.items():
            if isinstance(value, date):
                clean[key] = value.isoformat()
            elif isinstance(value, float):
                clean[key] = None if math.isnan(value) else money(value)
            else:
                clean[key] = value
        out.append(clean)
    return out
