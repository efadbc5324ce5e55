"""`mlcost export focus` and `mlcost export showback` on the lake of a `mlcost run` (tests/report_lake.py).

Expected totals are the model company's bill (answers.json of seed 42, printed by `mlcost fixtures`):

| period  | billed      | effective  |
|---------|-------------|------------|
| 2026-09 | 134,271.03  | 80,161.83  |
| 2026-10 |  73,183.62  | 78,190.74  |
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from focus12 import focus12_errors
from report_lake import run_lake

from pipelines.errors import InputError
from pipelines.exports.focus import export_focus
from pipelines.exports.showback import export_showback

REPO = Path(__file__).resolve().parents[1]
BILL = {"2026-09": (134_271.03, 80_161.83), "2026-10": (73_183.62, 78_190.74)}


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return run_lake(tmp_path_factory)


def _period(text: str) -> date:
    return date.fromisoformat(text + "-01")


@pytest.mark.parametrize("period", sorted(BILL))
def test_focus_export_conforms_to_focus_1_2_and_sums_to_the_bill(lake, tmp_path, period):
    result = export_focus(lake.settings, _period(period), tmp_path)
    billed, effective = BILL[period]
    for frame in (
        pl.read_parquet(result.parquet),
        pl.read_csv(result.csv, infer_schema=False),
    ):
        assert focus12_errors(frame) == []
        assert frame.height == result.rows
        assert round(frame["BilledCost"].cast(pl.Float64).sum(), 2) == billed
        assert round(frame["EffectiveCost"].cast(pl.Float64).sum(), 2) == effective
    frame = pl.read_parquet(result.parquet)
    # Spread shared cost is its own rows (tax proportionally, support evenly), on workloads, not on `shared`.
    spread = frame.filter(pl.col("x_Allocation") == "spread")
    assert spread.height > 0
    assert set(spread["x_SharedKind"].unique()) == {"tax", "support"}
    assert "shared" not in set(spread["x_Category"].unique())
    assert set(spread["x_RuleId"].str.slice(0, 7).unique()) == {"spread:"}
    assert (
        frame.filter(
            pl.col("x_SharedKind").is_in(["tax", "support"]) & (pl.col("x_Allocation") == "direct")
        ).height
        == 0
    )
    assert str(frame.schema["ChargePeriodStart"]) == "Datetime(time_unit='us', time_zone='UTC')"


def test_the_conformance_check_catches_what_focus_1_2_forbids(lake, tmp_path):
    result = export_focus(lake.settings, _period("2026-10"), tmp_path)
    good = pl.read_parquet(result.parquet)
    broken = {
        "missing column ServiceName": good.drop("ServiceName"),
        "custom column Workload lacks the x_ prefix": good.rename({"x_Workload": "Workload"}),
        "ChargeCategory: 1 rows outside": good.with_columns(
            pl.when(pl.int_range(pl.len()) == 0)
            .then(pl.lit("usage"))
            .otherwise(pl.col("ChargeCategory"))
            .alias("ChargeCategory")
        ),
        "PricingCategory null on Tax rows": good.with_columns(
            pl.when(pl.col("ChargeCategory") == "Tax")
            .then(pl.lit("Standard"))
            .otherwise(pl.col("PricingCategory"))
            .alias("PricingCategory")
        ),
        "RegionName not null when RegionId is": good.with_columns(
            pl.lit(None, pl.String).alias("RegionName")
        ),
        "ServiceSubcategory is null": good.with_columns(pl.lit(None, pl.String).alias("ServiceSubcategory")),
        "PricingUnit's time suffix": good.with_columns(
            pl.col("PricingUnit").str.replace("-Months$", "-Mo").alias("PricingUnit")
        ),
        "ServiceSubcategory Other (...) names": good.with_columns(
            pl.lit("Other (Compute)").alias("ServiceSubcategory")
        ),
    }
    for message, frame in broken.items():
        errors = focus12_errors(frame)
        assert any(e.startswith(message) for e in errors), (message, errors)


@pytest.mark.parametrize("by", ["workload", "team", "model"])
def test_showback_sums_to_the_bill_and_says_what_it_came_from(lake, tmp_path, by):
    result = export_showback(lake.settings, _period("2026-10"), by, tmp_path)
    billed, effective = BILL["2026-10"]
    frame = pl.read_parquet(result.parquet)
    assert frame.columns == [
        "billing_period",
        by,
        "category",
        "billing_currency",
        "direct_cost",
        "spread_cost",
        "total_cost",
        "billed_cost",
    ]
    assert round(frame["total_cost"].sum(), 2) == effective
    assert round(frame["billed_cost"].sum(), 2) == billed
    # Each is rounded to a millionth, so they agree to two millionths.
    assert (frame["direct_cost"] + frame["spread_cost"] - frame["total_cost"]).abs().max() < 2e-6
    # Tax and support were spread, so shared cost left is only what was kept (commitments, credits, refunds).
    assert frame["spread_cost"].sum() > 0
    csv_lines = result.csv.read_text().splitlines()
    comments = [line for line in csv_lines if line.startswith("#")]
    sha = hashlib.sha256(lake.rules.read_bytes()).hexdigest()
    delivery = frame_delivery(lake)
    assert f"# rules file {lake.rules} sha256 {sha}" in comments
    assert f"# delivery {delivery}" in comments
    meta = pq.read_schema(result.parquet).metadata
    assert meta[b"mlcost.rules_sha256"].decode() == sha
    assert meta[b"mlcost.delivery_id"].decode() == delivery
    data = pl.read_csv(result.csv, comment_prefix="#")
    assert round(data["total_cost"].sum(), 2) == effective


def frame_delivery(lake) -> str:
    import duckdb

    con = duckdb.connect(str(lake.settings.warehouse), read_only=True)
    try:
        (delivery,) = con.execute(
            "SELECT DISTINCT delivery_id FROM line_items WHERE billing_period = DATE '2026-10-01'"
        ).fetchone()
    finally:
        con.close()
    return delivery


def test_showback_by_team_and_model_owners(lake, tmp_path):
    """Owners by hand, from the model company: models carry user:model and user:team; team-only lines name the
    team. So support-llm (a model of team nlp) is under nlp by team and under itself by model; the team workload
    nlp is nobody's model."""
    team = pl.read_parquet(export_showback(lake.settings, _period("2026-10"), "team", tmp_path).parquet)
    model = pl.read_parquet(export_showback(lake.settings, _period("2026-10"), "model", tmp_path).parquet)
    workload = pl.read_parquet(
        export_showback(lake.settings, _period("2026-10"), "workload", tmp_path).parquet
    )

    def total(frame, column, owner):
        return round(frame.filter(pl.col(column) == owner)["total_cost"].sum(), 2)

    assert total(model, "model", "support-llm") == total(workload, "workload", "support-llm") > 0
    assert "nlp" not in set(model["model"])
    assert total(team, "team", "nlp") >= total(workload, "workload", "nlp") + total(
        workload, "workload", "support-llm"
    )


def test_a_period_never_attributed_is_one_clear_error(lake, tmp_path):
    with pytest.raises(
        InputError, match=r"billing period 2026-12 has no attributed cost \(periods: 2026-09, 2026-10\)"
    ):
        export_focus(lake.settings, date(2026, 12, 1), tmp_path)
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pipelines.cli",
            "export",
            "showback",
            "--period",
            "2026-12",
            "--home",
            str(lake.settings.home),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        f"mlcost: error: {lake.settings.warehouse}: billing period 2026-12 has no attributed cost (periods: 2026-09, 2026-10)"
    ]
    assert list(tmp_path.iterdir()) == []


def test_focus_service_subcategory_and_units_are_focus_1_2_values(lake, tmp_path):
    """FOCUS 1.2 requires a ServiceSubcategory of the row's category, and spells units out (focus-validator's
    ServiceSubcategory-C-002-M and PricingUnit-C-003-O failed on every row / on the storage rows before).

    | ServiceName (AWS product code) | ServiceCategory         | ServiceSubcategory   |
    |--------------------------------|-------------------------|----------------------|
    | AmazonEC2                      | Compute                 | Virtual Machines     |
    | AmazonS3                       | Storage                 | Object Storage       |
    | AmazonSageMaker                | AI and Machine Learning | Machine Learning     |
    | ComputeSavingsPlans            | Compute                 | Other (Compute)      |
    """
    frame = pl.read_parquet(export_focus(lake.settings, _period("2026-10"), tmp_path).parquet)
    pairs = {
        (r["ServiceName"], r["ServiceCategory"], r["ServiceSubcategory"])
        for r in frame.select("ServiceName", "ServiceCategory", "ServiceSubcategory")
        .unique()
        .iter_rows(named=True)
    }
    assert {
        ("AmazonEC2", "Compute", "Virtual Machines"),
        ("AmazonS3", "Storage", "Object Storage"),
        ("AmazonSageMaker", "AI and Machine Learning", "Machine Learning"),
        ("ComputeSavingsPlans", "Compute", "Other (Compute)"),
    } <= pairs
    assert frame["ServiceSubcategory"].null_count() == 0
    # One subcategory per service name (FOCUS: "exactly one ... that best aligns with its primary purpose").
    assert (
        frame.group_by("ServiceName").agg(pl.col("ServiceSubcategory").n_unique().alias("n"))["n"].max() == 1
    )
    units = set(frame["PricingUnit"].drop_nulls().unique())
    assert "GB-Months" in units and "GB-Mo" not in units


@pytest.mark.parametrize("period", sorted(BILL))
def test_commitment_fees_are_a_purchase_and_an_unused_row_with_the_bills_invoice(lake, tmp_path, period):
    """FOCUS 1.2: a commitment's purchase has EffectiveCost 0, its unused part is a Usage row with status Unused;
    the issuer of the invoice is the provider; InvoiceId is the bill's. Expected values come from the raw CUR 2.0
    files of the delivery (columns the export never reads), not from the lake."""
    import duckdb

    files = [str(p) for p in Path(lake.settings.cur_source).rglob(f"BILLING_PERIOD={period}/*.parquet")]
    assert files
    raw = duckdb.sql(
        """
        select
            sum(case line_item_line_item_type
                when 'SavingsPlanRecurringFee'
                    then savings_plan_total_commitment_to_date - savings_plan_used_commitment
                when 'RIFee'
                    then reservation_unused_amortized_upfront_fee_for_billing_period + reservation_unused_recurring_fee
                else 0 end) as unused_cost,
            sum(case when line_item_line_item_type = 'RIFee' then reservation_unused_quantity else 0 end)
                as unused_hours,
            -- Every commitment fee: recurring, and upfront (a Savings Plan's, or an RI's Fee line).
            sum(case when line_item_line_item_type in ('SavingsPlanRecurringFee', 'RIFee', 'SavingsPlanUpfrontFee')
                or (line_item_line_item_type = 'Fee' and coalesce(reservation_reservation_a_r_n, '') <> '')
                then line_item_unblended_cost else 0 end) as fees_billed,
            list(distinct bill_invoice_id) as invoices,
            list(distinct bill_invoicing_entity) as issuers
        from read_parquet($files)
        """,
        params={"files": files},
    ).fetchone()
    unused_cost, unused_hours, fees_billed, invoices, issuers = raw
    assert unused_cost > 0 and len(invoices) == 1 and invoices[0] and len(issuers) == 1

    frame = pl.read_parquet(export_focus(lake.settings, _period(period), tmp_path).parquet)
    commitment = frame.filter(pl.col("CommitmentDiscountId").is_not_null())
    purchases = commitment.filter(pl.col("ChargeCategory") == "Purchase")
    unused = commitment.filter(pl.col("CommitmentDiscountStatus") == "Unused")
    used = commitment.filter(pl.col("CommitmentDiscountStatus") == "Used")
    assert frame.filter(pl.col("ChargeCategory") == "Purchase")["EffectiveCost"].abs().max() == 0
    assert round(purchases["BilledCost"].sum(), 2) == round(fees_billed, 2)
    assert unused.height > 0 and set(unused["ChargeCategory"]) == {"Usage"}
    assert unused["BilledCost"].abs().max() == 0 and unused["ConsumedQuantity"].null_count() == unused.height
    assert round(unused["EffectiveCost"].sum(), 2) == round(unused_cost, 2)
    reserved = unused.filter(pl.col("CommitmentDiscountCategory") == "Usage")
    assert set(reserved["CommitmentDiscountUnit"]) == {"Hours"}
    assert round(reserved["CommitmentDiscountQuantity"].sum(), 6) == round(unused_hours, 6)
    assert used.height > 0 and set(used["ChargeCategory"]) == {"Usage"}
    # Every commitment row says what it is; no other row names a commitment.
    for column in ("CommitmentDiscountCategory", "CommitmentDiscountType", "CommitmentDiscountQuantity"):
        assert commitment[column].null_count() == 0, column
    rest = frame.filter(pl.col("CommitmentDiscountId").is_null())
    assert rest["CommitmentDiscountStatus"].null_count() == rest.height
    # A support plan's monthly fee covers no future charges: a Usage row of its period, with its cost.
    support = frame.filter((pl.col("x_LineItemType") == "Fee") & pl.col("CommitmentDiscountId").is_null())
    assert support.height > 0 and set(support["ChargeCategory"]) == {"Usage"}
    assert support["EffectiveCost"].sum() == pytest.approx(support["BilledCost"].sum())
    # The bill's invoice and issuer; the provider is the issuer (not a third party paid), AWS kept in x_Provider.
    assert set(frame["InvoiceId"]) == {invoices[0]}
    assert set(frame["InvoiceIssuerName"]) == {issuers[0]}
    assert (frame["ProviderName"] == frame["InvoiceIssuerName"]).all()
    assert set(frame["x_Provider"]) == {"AWS"}


# Units as real exports write them: the legacy CUR of realdata/cur1-parquet (2018), AWS's FOCUS 1.0 export and the
# Microsoft and Oracle rows of realdata/focus-1.0, and CUR units of services the fixtures lack.
REAL_UNITS = {
    "GB": "GB",
    "GB-Mo": "GB-Months",
    "Hrs": "Hours",
    "Events": "Events",
    "Requests": "Requests",
    "DPU-Hour": "DPU-Hours",
    "User": "User",
    "IOPS-Mo": "IOPS-Months",
    "IOs": "IOs",
    "ConfigurationItemRecorded": "ConfigurationItemRecorded",
    "Terabytes": "Terabytes",
    "days": "Days",
    "GiB/Second-Months": "GiBps-Months",
    "Lambda-GB-Seconds": "Lambda GB-Seconds",
    "Lambda-GB-Second": "Lambda GB-Seconds",
    "ReadCapacityUnit-Hrs": "ReadCapacityUnit-Hours",
    "vCPU-Hours": "vCPU-Hours",
    "LCU-Hours": "LCU-Hours",
    "API Requests": "API Requests",
    "GB/Month": "GB/Month",
    "Units/Hour": "Units/Hour",
    "GB Hours": "GB Hours",
    "Gigabyte Per Hour": "Gigabyte Per Hour",
    "": None,
    # EventBridge bills per 64 KB chunk: no FOCUS spelling keeps that meaning, so it stays the provider's word.
    "64K-Chunks": "64K-Chunks",
}


def test_units_are_respelled_in_the_focus_unit_format():
    import duckdb
    from focus12 import UNIT_FORMAT

    from pipelines.storage.sqlfiles import load_sql

    con = duckdb.connect()
    con.execute(load_sql("exports/focus_unit"))
    got = {unit: con.execute("SELECT focus_unit(?)", [unit]).fetchone()[0] for unit in REAL_UNITS}
    assert got == REAL_UNITS
    frame = pl.DataFrame({"unit": [u for u in got.values() if u is not None]})
    bad = frame.filter(~pl.col("unit").str.contains(UNIT_FORMAT))["unit"].to_list()
    assert bad == ["64K-Chunks"]
