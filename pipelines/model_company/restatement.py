"""The month-to-date state of a month before its corrections, for the restatement fixture."""

from __future__ import annotations

import numpy as np
import polars as pl

from .ids import stream
from .lines import USAGE_LINE_TYPES, r10
from .periods import DAY, Month, iso_z


def restatement_step1(final: pl.DataFrame, month: Month, seed: int) -> tuple[pl.DataFrame, list[dict]]:
    """The month-to-date state after 10 days, before corrections: usage lines only, some amounts lower."""
    cutoff = month.start + 10 * DAY
    early = final.filter(
        (pl.col("start") >= month.start)
        & (pl.col("end") <= cutoff)
        & pl.col("line_item_type").is_in(list(USAGE_LINE_TYPES) + ["SavingsPlanRecurringFee"])
    )
    rng = stream(seed, f"restatement/{month.label}")
    candidates = np.flatnonzero(
        (early["line_item_type"] == "Usage").to_numpy()
        & early["usage_type"].str.contains("TimedStorage|DataTransfer").to_numpy()
    )
    chosen = np.sort(rng.choice(candidates, size=min(6, len(candidates)), replace=False))
    factors = np.round(rng.uniform(0.80, 0.95, size=len(chosen)), 4)
    amounts = early["usage_amount"].to_numpy().copy()
    rates = early["rate"].to_numpy()
    corrections = []
    for row, factor in zip(chosen, factors, strict=True):
        final_amount = amounts[row]
        amounts[row] = float(r10(final_amount * factor))
        corrections.append(
            {
                "resource_id": early["resource_id"][int(row)],
                "usage_type": early["usage_type"][int(row)],
                "charge_period_start": iso_z(int(early["start"][int(row)])),
                "step1_usage_amount": float(amounts[row]),
                "step2_usage_amount": float(final_amount),
                "step1_billed_cost": float(r10(amounts[row] * rates[row])),
                "step2_billed_cost": float(early["billed"][int(row)]),
            }
        )
    changed = np.zeros(early.height, dtype=bool)
    changed[chosen] = True
    new_cost = r10(amounts * rates)
    updates = [pl.Series("usage_amount", amounts)]
    for column in ("billed", "effective", "public_cost"):
        updates.append(pl.Series(column, np.where(changed, new_cost, early[column].to_numpy())))
    return early.with_columns(updates), corrections
