"""commitment_utilization: an RI used 75 % and a Savings Plan used 100 %, hand-built as legacy CUR writes them, and
the real 2018-10 legacy CUR month's RIs against an independent query over the raw file (issue 20)."""

from __future__ import annotations

import csv
from datetime import date

import duckdb
import pytest

from pipelines.attribution.commitments import unexplained_commitments, utilize
from pipelines.billing.ingest import ingest_deliveries
from pipelines.storage import lake
from tests.conftest import FileDelivery, realdata

HEADER = [
    "bill/BillingPeriodStartDate",
    "lineItem/UsageStartDate",
    "lineItem/UsageEndDate",
    "lineItem/LineItemType",
    "lineItem/ProductCode",
    "lineItem/UsageType",
    "lineItem/ResourceId",
    "lineItem/UsageAmount",
    "lineItem/UnblendedCost",
    "lineItem/CurrencyCode",
    "pricing/publicOnDemandCost",
    "pricing/unit",
    "product/instanceType",
    "reservation/ReservationARN",
    "reservation/EffectiveCost",
    "reservation/AmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedQuantity",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedRecurringFee",
    "savingsPlan/SavingsPlanARN",
    "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment",
]
P, M1 = "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z"
D1, D9, D17, D25 = (f"2026-10-{d:02d}T00:00:00Z" for d in (1, 9, 17, 25))
RI = "arn:aws:ec2:us-east-1:1:reserved-instances/ri-g5"
SP = "arn:aws:savingsplans::1:savingsplan/sp-p5"
G5, P5 = "BoxUsage:g5.xlarge", "BoxUsage:p5.48xlarge"
# fmt: off
LINES = [
    # start, end, type, product, usage type, resource, amount, unblended, list, instance,
    # ri arn, ri eff, ri amortized upfront, ri unused qty, ri unused upfront, ri unused recurring,
    # sp arn, sp eff, sp total commitment, sp used
    # The RI: 744 h bought for October at 0.10/h recurring + 0.10/h amortized upfront = 148.80; 186 h unused.
    [D1, M1, "RIFee", "AmazonEC2", "HeavyUsage:g5.xlarge", "", "744", "74.40", "0", "g5.xlarge",
     RI, "", "74.40", "186", "18.60", "18.60", "", "", "", ""],
    # 558 h used (three stretches of 186 h), each at 0.20/h effective; 1.00/h on demand.
    [D1, D9, "DiscountedUsage", "AmazonEC2", G5, "i-g5a", "186", "0", "186", "g5.xlarge",
     RI, "37.20", "", "", "", "", "", "", "", ""],
    [D9, D17, "DiscountedUsage", "AmazonEC2", G5, "i-g5a", "186", "0", "186", "g5.xlarge",
     RI, "37.20", "", "", "", "", "", "", "", ""],
    [D17, D25, "DiscountedUsage", "AmazonEC2", G5, "i-g5b", "186", "0", "186", "g5.xlarge",
     RI, "37.20", "", "", "", "", "", "", "", ""],
    # A g5 the RI did not cover: 186 h on demand.
    [D25, M1, "Usage", "AmazonEC2", G5, "i-g5c", "186", "186", "186", "g5.xlarge",
     "", "", "", "", "", "", "", "", "", ""],
    # The Savings Plan: 100.00 committed for the month, all of it used by 10 h of p5 (8 GPUs each).
    [D1, M1, "SavingsPlanRecurringFee", "ComputeSavingsPlans", "ComputeSP:1yrNoUpfront", SP, "1", "100", "0", "",
     "", "", "", "", "", "", SP, "", "100", "100"],
    [D1, D9, "SavingsPlanCoveredUsage", "AmazonEC2", P5, "i-p5a", "10", "550.40", "550.40", "p5.48xlarge",
     "", "", "", "", "", "", SP, "100", "", ""],
    [D1, D9, "SavingsPlanNegation", "AmazonEC2", P5, "i-p5a", "10", "-550.40", "0", "p5.48xlarge",
     "", "", "", "", "", "", SP, "", "", ""],
    # p5 hours nothing covered: 2 h on demand (eligible), 5 h Spot (no commitment applies: not eligible).
    [D9, D17, "Usage", "AmazonEC2", P5, "i-p5b", "2", "110.08", "110.08", "p5.48xlarge",
     "", "", "", "", "", "", "", "", "", ""],
    [D9, D17, "Usage", "AmazonEC2", "SpotUsage:p5.48xlarge", "i-p5c", "5", "90.00", "275.20", "p5.48xlarge",
     "", "", "", "", "", "", "", "", "", ""],
]
# fmt: on
ELIGIBLE_HOURS = 558 + 186 + 10 + 2  # g5 covered + g5 on demand + p5 covered + p5 on demand = 756
ELIGIBLE_GPU_HOURS = 744 * 1 + 12 * 8  # 840
ELIGIBLE_ON_DEMAND = 744 * 1.00 + 550.40 + 110.08  # 1,404.48
N = None
# commitment type, total, used, unused, utilization, purchased h, unused h, hours utilization,
# covered h, covered GPU h, covered on-demand $
EXPECTED = {
    RI: ("Reserved Instance", 148.80, 111.60, 37.20, 0.75, 744, 186, 0.75, 558, 558, 558.00),
    SP: ("Savings Plan", 100.00, 100.00, 0.00, 1.00, N, N, N, 10, 80, 550.40),
}
COLUMNS = (
    "commitment_type, total_commitment_cost, used_commitment_cost, unused_commitment_cost, utilization, "
    "purchased_hours, unused_hours, hours_utilization, covered_hours, covered_gpu_hours, covered_on_demand_cost"
)


def _close(got, expected):
    if expected is None or isinstance(expected, str):
        return got == expected
    return got == pytest.approx(expected, abs=1e-6)


def test_hand_built_ri_and_savings_plan(tmp_path, settings, con):
    path = tmp_path / "cur.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for line in LINES:
            writer.writerow([P, *line[:8], "USD", line[8], "Hrs", *line[9:]])
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    written = utilize(con, settings, date(2026, 10, 1), date(2026, 10, 1))
    assert written == {"2026-10-01": 2}
    lake.register_views(con, settings, ["commitment_utilization"])
    rows = con.execute(f"SELECT commitment_id, {COLUMNS} FROM commitment_utilization").fetchall()
    got = {row[0]: row[1:] for row in rows}
    assert set(got) == set(EXPECTED)
    for arn, expected in EXPECTED.items():
        for name, g, e in zip(COLUMNS.split(", "), got[arn], expected, strict=True):
            assert _close(g, e), (arn, name, g, e)
    totals = con.execute(
        "SELECT DISTINCT eligible_hours, eligible_gpu_hours, eligible_on_demand_cost FROM commitment_utilization"
    ).fetchall()
    assert totals == [
        (pytest.approx(ELIGIBLE_HOURS), pytest.approx(ELIGIBLE_GPU_HOURS), pytest.approx(ELIGIBLE_ON_DEMAND))
    ]
    coverage = dict(
        con.execute(
            "SELECT commitment_id, [hours_coverage, gpu_hours_coverage, cost_coverage] FROM commitment_utilization"
        ).fetchall()
    )
    assert coverage[RI] == pytest.approx([558 / 756, 558 / 840, 558.00 / 1404.48])
    assert coverage[SP] == pytest.approx([10 / 756, 80 / 840, 550.40 / 1404.48])
    # Fee lines and covered usage agree, so the check has nothing to report.
    assert unexplained_commitments(con, settings, date(2026, 10, 1), date(2026, 10, 1)) == []


def test_missing_covered_usage_is_reported(tmp_path, settings, con):
    """A delivery whose RI fee line states 148.80 but whose covered usage is missing: the check names it."""
    path = tmp_path / "cur.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for line in LINES[:2]:  # the RIFee and one of the three DiscountedUsage lines
            writer.writerow([P, *line[:8], "USD", line[8], "Hrs", *line[9:]])
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    utilize(con, settings, date(2026, 10, 1), date(2026, 10, 1))
    (row,) = unexplained_commitments(con, settings, date(2026, 10, 1), date(2026, 10, 1))
    assert row["commitment_id"] == RI
    assert row["unexplained_cost"] == pytest.approx(148.80 - 37.20 - 37.20)


# Written from the CUR data dictionary, independently of sql/commitment_utilization.sql: an RI's amortized
# commitment for the month is its RIFee's recurring fee plus its amortized upfront fee; the unused part is the
# RIFee's unused upfront + unused recurring fee; the used part is the DiscountedUsage lines' reservation effective
# cost; coverage counts EC2 instance hours (BoxUsage) the RI covered over all of them.
INDEPENDENT = """
WITH raw AS (SELECT * FROM read_parquet(?)),
fees AS (
    SELECT reservation_reservation_a_r_n AS arn,
        sum(line_item_unblended_cost + coalesce(reservation_amortized_upfront_fee_for_billing_period, 0)) AS total,
        sum(coalesce(reservation_unused_amortized_upfront_fee_for_billing_period, 0)
            + coalesce(reservation_unused_recurring_fee, 0)) AS unused,
        sum(line_item_usage_amount) AS purchased_hours,
        sum(reservation_unused_quantity) AS unused_hours
    FROM raw WHERE line_item_line_item_type = 'RIFee' GROUP BY 1
),
used AS (
    SELECT reservation_reservation_a_r_n AS arn, sum(reservation_effective_cost) AS used,
        sum(line_item_usage_amount) FILTER (WHERE line_item_usage_type LIKE '%BoxUsage%') AS covered_hours
    FROM raw WHERE line_item_line_item_type = 'DiscountedUsage' GROUP BY 1
),
eligible AS (
    SELECT sum(line_item_usage_amount) AS hours FROM raw
    WHERE line_item_line_item_type IN ('Usage', 'DiscountedUsage') AND line_item_usage_type LIKE '%BoxUsage:%'
)
SELECT f.arn, f.total, coalesce(u.used, 0), f.unused, f.purchased_hours, f.unused_hours,
    coalesce(u.covered_hours, 0) / e.hours
FROM fees AS f LEFT JOIN used AS u USING (arn), eligible AS e
ORDER BY 1
"""


def test_realdata_ris_match_an_independent_query(settings, con):
    path = realdata("cur1-parquet", "Oct2018-WorkshopCUR-00001.snappy.parquet")
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    utilize(con, settings, date(2018, 10, 1), date(2018, 10, 1))
    lake.register_views(con, settings, ["commitment_utilization"])
    got = con.execute(
        "SELECT commitment_id, total_commitment_cost, used_commitment_cost, unused_commitment_cost, "
        "purchased_hours, unused_hours, hours_coverage FROM commitment_utilization "
        "WHERE commitment_type = 'Reserved Instance' ORDER BY 1"
    ).fetchall()
    expected = duckdb.connect().execute(INDEPENDENT, [str(path)]).fetchall()
    assert len(got) == len(expected) == 9
    for g, e in zip(got, expected, strict=True):
        assert g[0] == e[0]
        assert list(g[1:]) == pytest.approx(list(e[1:]), abs=1e-6), g[0]
    # The month as a person adds it up off the nine RIFee lines: recurring fees 149.7754 + amortized upfront fees
    # 131.4740 = 281.2494 committed; unused 48.9956 (the c4.large's 44.6570 whole, and two t2.micro RIs' unused recurring fees).
    total, used, unused = con.execute(
        "SELECT sum(total_commitment_cost), sum(used_commitment_cost), sum(unused_commitment_cost) "
        "FROM commitment_utilization"
    ).fetchone()
    assert (total, used, unused) == pytest.approx((281.2494, 232.2538, 48.9956), abs=0.0001)
    assert unexplained_commitments(con, settings, date(2018, 10, 1), date(2018, 10, 1)) == []


FOCUS_HEADER = [
    "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart", "ChargePeriodEnd", "ProviderName",
    "BillingAccountId", "SubAccountId", "ServiceName", "ServiceCategory", "ChargeCategory", "PricingCategory",
    "CommitmentDiscountId", "CommitmentDiscountStatus", "CommitmentDiscountType", "ResourceId", "SkuPriceDetails",
    "ConsumedQuantity", "PricingUnit", "BilledCost", "EffectiveCost", "ListCost", "BillingCurrency",
]  # fmt: skip
AZ_RI = "/providers/Microsoft.Capacity/reservationOrders/o-1/reservations/r-1"
NC = '{"InstanceType": "Standard_NC24ads_A100_v4"}'
# fmt: off
FOCUS_ROWS = [
    # category, pricing category, commitment id, status, type, resource, details, quantity, billed, effective, list
    # The reservation's purchase: its EffectiveCost is 0, the amortized 300.00 is on the Used and Unused rows.
    ["Purchase", "Committed", AZ_RI, "", "Reservation", "", "", "1", "300", "0", "0"],
    ["Usage", "Committed", AZ_RI, "Used", "Reservation", "vm-1", NC, "600", "0", "225", "2205"],
    ["Usage", "Committed", AZ_RI, "Unused", "Reservation", "", NC, "200", "0", "75", "0"],
    ["Usage", "Standard", "", "", "", "vm-2", NC, "144", "529.20", "529.20", "529.20"],
    # Spot (Dynamic): no commitment applies, so not eligible.
    ["Usage", "Dynamic", "", "", "", "vm-3", NC, "50", "40", "40", "183.75"],
]
# fmt: on


def test_focus_reservation_used_and_unused_rows(tmp_path, settings, con):
    """FOCUS states a commitment as its Used and Unused rows (CommitmentDiscountStatus): 225 + 75 = 300, 75 % used."""
    path = tmp_path / "focus.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(FOCUS_HEADER)
        for row in FOCUS_ROWS:
            writer.writerow(
                ["2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z", "2026-10-01T00:00:00Z", "2026-11-01T00:00:00Z",
                 "Microsoft", "ba-1", "sub-1", "Virtual Machines", "Compute", *row[:8], "Hours", *row[8:], "USD"]
            )  # fmt: skip
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    utilize(con, settings, date(2026, 10, 1), date(2026, 10, 1))
    lake.register_views(con, settings, ["commitment_utilization"])
    (row,) = con.execute(
        "SELECT commitment_id, commitment_type, total_commitment_cost, used_commitment_cost, unused_commitment_cost, "
        "utilization, purchased_hours, unexplained_cost, covered_hours, eligible_hours, covered_gpu_hours, "
        "eligible_gpu_hours, cost_coverage FROM commitment_utilization"
    ).fetchall()
    assert row == (
        AZ_RI, "Reservation", 300.0, 225.0, 75.0, 0.75, None, None, 600.0, 744.0, 600.0, 744.0,
        pytest.approx(2205 / (2205 + 529.20)),
    )  # fmt: skip
