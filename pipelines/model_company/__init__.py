"""A seeded fictional ML company on AWS, exported as billing, GPU and prediction fixtures with known answers.

``generate`` writes the fixtures and ``answers.json``; ``generate_scaled_month`` writes a large month of
CUR 2.0 for benchmarks. The same seed gives the same bytes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import polars as pl

from .answers import by_category, daily_answers, money, rows_for_json, totals
from .charges import build_month as _build_month
from .company import CURRENCY, build_company
from .cur1 import write_cur1_delivery
from .cur2 import cur2_table, write_cur2_delivery
from .cur_fields import cur_values
from .fixture_readme import write_readme
from .focus import focus_frame, write_focus_month
from .gpu_logs import gpu_answers, write_gpu_logs
from .ids import stream, uuid4
from .periods import DAY, HOUR, iso_z, parse_months
from .predictions import write_predictions
from .restatement import restatement_step1
from .scaled import generate_scaled_month
from .schedule import build_timelines

__all__ = ["generate", "generate_scaled_month"]

OWNED = ("cur2", "cur1", "focus", "restatement", "gpu", "predictions")
ANSWERS = "answers.json"


def _prepare(out_dir: Path) -> None:
    """Clear what an earlier run wrote; refuse a non-empty folder that is not a fixture folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if any(out_dir.iterdir()) and not (out_dir / ANSWERS).exists():
        raise ValueError(f"{out_dir} is not empty and holds no {ANSWERS}: refusing to write fixtures into it")
    for name in OWNED:
        if (out_dir / name).exists():
            shutil.rmtree(out_dir / name)


def generate(
    out_dir: Path,
    *,
    seed: int = 42,
    months: tuple[str, ...] = ("2026-09", "2026-10"),
    gpu_logs: bool = True,
    predictions: bool = True,
) -> dict:
    """Write every fixture of the model company under ``out_dir``; return the answers it wrote."""
    out_dir = Path(out_dir)
    periods = parse_months(months)
    _prepare(out_dir)
    company = build_company(seed, periods)
    timelines = build_timelines(company)
    ids = stream(seed, "deliveries")
    by_label = {m.label: m for m in periods}

    frames = []
    periods_answers: dict[str, dict] = {}
    for index, month in enumerate(periods):
        charges = _build_month(company, month, timelines)
        # Exports hold lines in no particular order; the answers do not depend on it.
        order = stream(seed, f"order/{month.label}").permutation(charges.height)
        charges = charges[order]
        frames.append(charges)
        values = cur_values(charges, company, month)
        table = cur2_table(values)
        execution_id = uuid4(ids)
        delivered = month.end + DAY + 6 * HOUR
        cur2_manifest = write_cur2_delivery(
            out_dir / "cur2", month, table, execution_id=execution_id, delivered_at=delivered
        )
        assembly_id = uuid4(ids)
        if index == 0:
            # An earlier, partial delivery whose folder stays behind after the manifest moved on.
            stale = values.filter(pl.col("lineItem/UsageStartDate").dt.epoch("s") < month.start + 5 * DAY)
            write_cur1_delivery(
                out_dir / "cur1", month, stale, index, assembly_id=uuid4(ids), write_manifest=False
            )
        write_cur1_delivery(out_dir / "cur1", month, values, index, assembly_id=assembly_id)
        focus = focus_frame(charges, month)
        write_focus_month(out_dir / "focus", month, focus)

        ri = company.reservation
        reserved_hours = max(0, (min(month.end, ri.end) - max(month.start, ri.start)) // HOUR)
        periods_answers[month.label] = {
            "cur2": totals(table["line_item_unblended_cost"].to_numpy(), _cur2_effective(table))
            | {
                "execution_id": execution_id,
                "files": [u.split(f"s3://{cur2_manifest['bucket']}/")[1] for u in cur2_manifest["dataFiles"]],
            },
            "cur1": totals(values["lineItem/UnblendedCost"], charges["effective"])
            | {"assembly_id": assembly_id},
            "focus": totals(focus["BilledCost"], focus["EffectiveCost"]),
            "amortized_upfront_fee": money(reserved_hours * ri.amortized_upfront_hourly),
            "upfront_fee_paid": money(ri.upfront_fee if month.start <= ri.start < month.end else 0.0),
            "by_category": by_category(charges),
        }

    all_charges = pl.concat(frames)
    daily = daily_answers(all_charges, by_label)
    answers: dict = {
        "generator": {"kind": "model-company", "seed": seed, "months": list(months), "currency": CURRENCY},
        "billing_periods": periods_answers,
        "restatement": _restatement(out_dir, company, frames[-1], periods[-1], periods_answers, seed),
        "daily": rows_for_json(daily),
        "resources": _resources(company),
    }
    if gpu_logs:
        counted = write_gpu_logs(out_dir / "gpu", company, timelines)
        answers["gpu"] = rows_for_json(gpu_answers(all_charges, counted, company))
    if predictions:
        answers["predictions"] = rows_for_json(write_predictions(out_dir / "predictions", company))
    (out_dir / ANSWERS).write_text(json.dumps(answers, indent=1) + "\n")
    daily.write_csv(out_dir / "answers_daily.csv", float_scientific=False)
    write_readme(out_dir, company)
    return answers


def _cur2_effective(table) -> np.ndarray:
    """Effective cost per CUR 2.0 line by the amortization rules in domain/BILLING.md (first match wins)."""
    t = {
        n: table[n].to_numpy(zero_copy_only=False)
        for n in (
            "line_item_line_item_type",
            "line_item_unblended_cost",
            "savings_plan_savings_plan_effective_cost",
            "savings_plan_total_commitment_to_date",
            "savings_plan_used_commitment",
            "reservation_effective_cost",
            "reservation_unused_amortized_upfront_fee_for_billing_period",
            "reservation_unused_recurring_fee",
            "reservation_reservation_a_r_n",
        )
    }
    kind = t["line_item_line_item_type"]
    return np.select(
        [
            kind == "SavingsPlanCoveredUsage",
            kind == "SavingsPlanNegation",
            kind == "SavingsPlanRecurringFee",
            kind == "SavingsPlanUpfrontFee",
            kind == "DiscountedUsage",
            kind == "RIFee",
            (kind == "Fee") & (t["reservation_reservation_a_r_n"] != ""),
        ],
        [
            t["savings_plan_savings_plan_effective_cost"],
            0.0,
            t["savings_plan_total_commitment_to_date"] - t["savings_plan_used_commitment"],
            0.0,
            t["reservation_effective_cost"],
            t["reservation_unused_amortized_upfront_fee_for_billing_period"]
            + t["reservation_unused_recurring_fee"],
            0.0,
        ],
        t["line_item_unblended_cost"],
    )


def _restatement(out_dir: Path, company, final, month, periods_answers, seed) -> dict:
    """Two successive CUR 2.0 states of the last month: 10 days month-to-date, then the corrected month."""
    step1, corrections = restatement_step1(final, month, seed)
    ids = stream(seed, "restatement-deliveries")
    execution_a = uuid4(ids)
    step1_values = cur_values(step1, company, month)
    step1_table = cur2_table(step1_values)
    write_cur2_delivery(
        out_dir / "restatement" / "step1",
        month,
        step1_table,
        execution_id=execution_a,
        delivered_at=month.start + 10 * DAY + 6 * HOUR,
        files=1,
    )
    final_answers = periods_answers[month.label]["cur2"]
    # Step 2 is the final delivery itself: same files and execution id as the main CUR 2.0 export.
    src = out_dir / "cur2"
    dst = out_dir / "restatement" / "step2"
    for path in src.rglob(f"*BILLING_PERIOD={month.label}*/*"):
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    refund = final.filter((pl.col("line_item_type") == "Refund") & (pl.col("end") <= month.start))
    return {
        "billing_period": month.label,
        "step1": {"execution_id": execution_a, "cutoff": f"{month.first_day.replace(day=11).isoformat()}"}
        | totals(step1_table["line_item_unblended_cost"].to_numpy(), _cur2_effective(step1_table)),
        "step2": {"execution_id": final_answers["execution_id"]}
        | {k: final_answers[k] for k in ("lines", "billed_cost", "effective_cost", "currency")},
        "corrections": corrections,
        "added_refund": [
            {
                "charge_period_start": iso_z(r["start"]),
                "charge_period_end": iso_z(r["end"]),
                "billed_cost": money(r["billed"]),
                "description": r["description"],
            }
            for r in refund.iter_rows(named=True)
        ],
    }


def _resources(company) -> list[dict]:
    return [
        {
            "key": r.key,
            "resource_id": r.resource_id,
            "kind": r.kind,
            "account_id": r.account_id,
            "region": r.region,
            "instance_type": r.instance_type,
            "gpu_count": r.gpu_count,
            "tags": dict(sorted(r.tags.items())),
            "category": r.category,
            "workload": r.workload,
            "purchase": r.purchase,
            "gpu_log": r.gpu_log,
            "hostname": r.hostname,
            "name": r.display_name,
        }
        for r in company.resources
    ]
