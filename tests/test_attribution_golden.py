"""Attribution of a dozen hand-written lines, checked against a table a person can verify by eye."""

from __future__ import annotations

import csv
from datetime import date

import pytest

from pipelines.attribution.compute import attribute, reconcile, summarize_by_category
from pipelines.attribution.rules import load_rules, with_strategy
from pipelines.billing.ingest import ingest_deliveries
from pipelines.storage import lake
from tests.conftest import FileDelivery

HEADER = [
    "bill/BillingPeriodStartDate",
    "lineItem/UsageStartDate",
    "lineItem/UsageEndDate",
    "lineItem/LineItemType",
    "lineItem/ProductCode",
    "lineItem/UsageType",
    "lineItem/Operation",
    "lineItem/ResourceId",
    "lineItem/UsageAmount",
    "lineItem/UnblendedCost",
    "lineItem/CurrencyCode",
    "lineItem/LineItemDescription",
    "product/productFamily",
    "product/instanceType",
    "reservation/ReservationARN",
    "reservation/EffectiveCost",
    "reservation/UnusedAmortizedUpfrontFeeForBillingPeriod",
    "reservation/UnusedRecurringFee",
    "savingsPlan/SavingsPlanARN",
    "savingsPlan/SavingsPlanEffectiveCost",
    "savingsPlan/TotalCommitmentToDate",
    "savingsPlan/UsedCommitment",
    "resourceTags/user:model",
    "resourceTags/user:team",
    "resourceTags/user:workload-type",
]
P = "2026-10-01T00:00:00Z"
H0, H1 = "2026-10-01T00:00:00Z", "2026-10-01T01:00:00Z"
D1 = "2026-10-02T00:00:00Z"
M1 = "2026-11-01T00:00:00Z"
RI = "arn:aws:ec2:us-east-1:1:reserved-instances/ri-1"
SP = "arn:aws:savingsplans::1:savingsplan/sp-1"
EP = "arn:aws:sagemaker:us-east-1:1:endpoint/Chat-Prod"
TJ = "arn:aws:sagemaker:us-east-1:1:training-job/llm-pretrain-7"
# fmt: off
LINES = [
    # start, end, type, product, usage type, operation, resource, amount, unblended, description, family, instance,
    # ri arn, ri eff, ri unused upfront, ri unused recurring, sp arn, sp eff, sp commit, sp used, model, team, wl type
    [H0, H1, "Usage", "AmazonEC2", "BoxUsage:p4d.24xlarge", "RunInstances", "i-train1", "1", "21.96", "p4d",
     "Compute Instance", "p4d.24xlarge", "", "", "", "", "", "", "", "", "llm", "research", "training"],
    [H0, H1, "SavingsPlanCoveredUsage", "AmazonEC2", "BoxUsage:p5.48xlarge", "RunInstances", "i-train2", "1",
     "55.04", "p5 SP", "Compute Instance", "p5.48xlarge", "", "", "", "", SP, "38.53", "", "", "llm", "", "training"],
    [H0, H1, "SavingsPlanNegation", "AmazonEC2", "BoxUsage:p5.48xlarge", "RunInstances", "i-train2", "1",
     "-55.04", "SP negation", "Compute Instance", "p5.48xlarge", "", "", "", "", SP, "", "", "", "llm", "",
     "training"],
    [H0, H1, "DiscountedUsage", "AmazonEC2", "BoxUsage:g5.xlarge", "RunInstances", "i-serve1", "1", "0",
     "RI", "Compute Instance", "g5.xlarge", RI, "0.60", "", "", "", "", "", "", "chat", "", "inference"],
    [P, M1, "RIFee", "AmazonEC2", "HeavyUsage:g5.xlarge", "RunInstances", "", "744", "300", "RI fee",
     "Compute Instance", "g5.xlarge", RI, "", "10", "20", "", "", "", "", "", "", ""],
    [P, M1, "Tax", "AmazonEC2", "", "", "", "1", "50", "Tax", "", "", "", "", "", "", "", "", "", "", "", "", ""],
    [H0, D1, "Usage", "AmazonEC2", "DataTransfer-Out-Bytes", "RunInstances", "i-serve1", "13.67", "1.23",
     "internet out", "Data Transfer", "", "", "", "", "", "", "", "", "", "", "", ""],
    [H0, D1, "Usage", "AmazonS3", "TimedStorage-ByteHrs", "StandardStorage", "vision-data", "21.7", "0.50",
     "S3", "Storage", "", "", "", "", "", "", "", "", "", "", "vision", ""],
    [H0, H1, "Usage", "AmazonSageMaker", "USE1-Host:ml.g5.2xlarge", "RunInstance", EP, "1", "1.52", "host",
     "ML Instance", "ml.g5.2xlarge", "", "", "", "", "", "", "", "", "", "", ""],
    [H0, H1, "Usage", "AmazonSageMaker", "USE1-Train:ml.p4d.24xlarge", "RunInstance", TJ, "1", "37.69",
     "train", "ML Instance", "ml.p4d.24xlarge", "", "", "", "", "", "", "", "", "llm", "", ""],
    [H0, D1, "Usage", "AmazonEC2", "NatGateway-Bytes", "NatGateway", "nat-1", "10", "0.45", "NAT",
     "NAT Gateway", "", "", "", "", "", "", "", "", "", "", "", ""],
    [H0, D1, "Credit", "AmazonEC2", "", "", "", "0", "-5.00", "credit", "", "", "", "", "", "", "", "", "", "",
     "", "", ""],
    [H0, H1, "Usage", "AmazonEC2", "BoxUsage:g5.xlarge", "RunInstances", "i-untagged", "1", "1.006", "g5",
     "Compute Instance", "g5.xlarge", "", "", "", "", "", "", "", "", "", "", ""],
    [H0, D1, "SavingsPlanRecurringFee", "ComputeSavingsPlans", "ComputeSP:1yrNoUpfront", "", SP, "24", "24",
     "SP fee", "", "", "", "", "", "", SP, "", "24", "20", "", "", ""],
]
# What a person expects on 2026-10-01 with shared cost kept (category, workload, billed, effective):
# RIFee (eff 10+20=30) and tax (50) cover the whole month: 1/31 of each lands on each day.
EXPECTED_OCT_1 = [
    ("egress", "unattributed", 1.23 + 0.45, 1.23 + 0.45),
    ("inference", "chat", 0.00, 0.60),
    ("inference", "chat-prod", 1.52, 1.52),          # untagged endpoint: named after the ARN, lower-cased
    ("other", "unattributed", 1.006, 1.006),          # untagged EC2 box: no workload-type tag, so `other`
    ("shared", "unattributed", 300 / 31 + 50 / 31 - 5.00 + 24, 30 / 31 + 50 / 31 - 5.00 + 4),
    ("storage", "vision", 0.50, 0.50),                 # no user:model tag: the team names the workload
    ("training", "llm", 21.96 + 55.04 - 55.04 + 37.69, 21.96 + 38.53 + 0 + 37.69),
]
# fmt: on


@pytest.fixture
def loaded(tmp_path, settings, con):
    path = tmp_path / "cur.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for line in LINES:
            writer.writerow([P, *line[:9], "USD", *line[9:]])
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    return settings


def _by_day(con, settings, day):
    lake.register_views(con, settings, ["cost_by_category_daily"])
    return con.execute(
        "SELECT category, workload, sum(billed_cost), sum(effective_cost) FROM cost_by_category_daily "
        "WHERE usage_date = ? GROUP BY ALL ORDER BY 1, 2",
        [day],
    ).fetchall()


def test_keep_strategy_matches_hand_table(loaded, con):
    attribute(con, loaded, load_rules(), date(2026, 10, 1), date(2026, 10, 31))
    summarize_by_category(con, loaded, date(2026, 10, 1), date(2026, 10, 31))
    got = _by_day(con, loaded, date(2026, 10, 1))
    assert [(c, w) for c, w, _, _ in got] == [(c, w) for c, w, _, _ in EXPECTED_OCT_1]
    for (_, _, billed, effective), (c, w, exp_billed, exp_effective) in zip(got, EXPECTED_OCT_1, strict=True):
        assert billed == pytest.approx(exp_billed, abs=0.005), (c, w)
        assert effective == pytest.approx(exp_effective, abs=0.005), (c, w)
    # Any later day holds only the monthly lines' share.
    assert _by_day(con, loaded, date(2026, 10, 2)) == [
        ("shared", "unattributed", pytest.approx(350 / 31), pytest.approx(80 / 31))
    ]
    (row,) = reconcile(con, loaded, date(2026, 10, 1), date(2026, 10, 1))
    assert row["difference"] == pytest.approx(0, abs=0.005)
    assert row["source_effective_cost"] == pytest.approx(sum(e for *_, e in EXPECTED_OCT_1) + 30 * 80 / 31)


def test_rule_ids_name_the_rule_that_matched(loaded, con):
    attribute(con, loaded, load_rules(), date(2026, 10, 1), date(2026, 10, 1))
    lake.register_views(con, loaded, ["cost_attribution"])
    rules = dict(
        con.execute(
            "SELECT coalesce(resource_id, line_item_type), rule_id FROM cost_attribution "
            "WHERE line_item_type NOT IN ('SavingsPlanNegation')"
        ).fetchall()
    )
    assert rules["i-train1"] == "ec2-training"
    assert rules["i-serve1"] in {"ec2-inference", "egress-internet"}
    assert rules["vision-data"] == "storage-s3"
    assert rules["nat-1"] == "egress-nat"
    assert rules["Tax"] == "tax"
    assert rules["Credit"] == "credit"
    # An untagged GPU box stays `other` but is named: GPU spend without a workload tag (issue 15).
    assert rules["i-untagged"] == "compute-gpu-untagged"


@pytest.mark.parametrize("strategy", ["proportional", "even"])
def test_shared_cost_is_spread_and_conserved(loaded, con, strategy):
    attribute(con, loaded, with_strategy(load_rules(), strategy), date(2026, 10, 1), date(2026, 10, 31))
    summarize_by_category(con, loaded, date(2026, 10, 1), date(2026, 10, 31))
    got = {(c, w): (b, e) for c, w, b, e in _by_day(con, loaded, date(2026, 10, 1))}
    assert ("shared", "unattributed") not in got
    direct = {(c, w): e for c, w, _, e in EXPECTED_OCT_1 if c != "shared"}
    # Only day 1 has usage, so the day's and the billing period's receivers and weights are the same.
    pool = -5.00 + 4 + (30 + 50) / 31
    total = sum(direct.values())
    for key, own in direct.items():
        share = own / total if strategy == "proportional" else 1 / len(direct)
        assert got[key][1] == pytest.approx(own + pool * share, abs=0.005), key
    # Monthly charges are spread by the billing period's weights, so later days (with no usage of their own)
    # still give each receiver its share of that day's 1/31 of the monthly lines.
    later = {(c, w): e for c, w, _, e in _by_day(con, loaded, date(2026, 10, 2))}
    assert set(later) == set(direct)
    for key, own in direct.items():
        share = own / total if strategy == "proportional" else 1 / len(direct)
        assert later[key] == pytest.approx(80 / 31 * share, abs=0.005), key
    (row,) = reconcile(con, loaded, date(2026, 10, 1), date(2026, 10, 1))
    assert row["difference"] == pytest.approx(0, abs=0.005)


CUSTOM_RULES = """
workload:
  tag_keys: ["user:team"]
  resource_mappings:
    - {pattern: "^i-untagged$", workload: batch-pool}
    - {pattern: "^i-", workload: ec2-fleet}
rules:
  - {id: serve-fleet, priority: 1, category: inference, match: {resource_id: "^i-serve"}}
  - {id: nat-by-description, priority: 2, category: egress, match: {charge_description: "^NAT$"}}
  - {id: vision-team, priority: 3, category: training, match: {tags: {"user:team": "^vision$"}}}
  - {id: ri-fee, priority: 4, category: shared, shared_kind: commitment, match: {commitment_id: "ri-1$"}}
  - {id: box, priority: 5, category: training, match: {usage_type: "BoxUsage"}}
"""


def test_rules_on_resource_ids_descriptions_tags_and_commitments_and_workload_mappings(
    tmp_path, settings, con
):
    """Fields the shipped rules never read (resource id, description) still classify when a rule reads them.

    The SQL classifies each distinct combination of the fields some rule reads, so a rule on resource_id must
    put resource_id into that combination; workload mappings likewise make the resource id count. i-serve2 is
    i-untagged's line with another resource id: only the resource id tells them apart.
    """
    untagged = next(line for line in LINES if line[6] == "i-untagged")
    path = tmp_path / "cur.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for line in [*LINES, [*untagged[:6], "i-serve2", *untagged[7:]]]:
            writer.writerow([P, *line[:9], "USD", *line[9:]])
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    rules = tmp_path / "rules.yaml"
    rules.write_text(CUSTOM_RULES)
    attribute(con, settings, load_rules(rules), date(2026, 10, 1), date(2026, 10, 1))
    lake.register_views(con, settings, ["cost_attribution"])
    got = con.execute(
        "SELECT DISTINCT coalesce(resource_id, line_item_type), rule_id, category, workload "
        "FROM cost_attribution ORDER BY ALL"
    ).fetchall()
    assert got == sorted(
        [
            ("Credit", "unmatched", "other", "unattributed"),
            ("RIFee", "ri-fee", "shared", "unattributed"),  # a commitment id, no resource
            ("Tax", "unmatched", "other", "unattributed"),
            (EP, "unmatched", "other", "chat-prod"),  # no team tag, no mapping: the SageMaker name
            (SP, "unmatched", "other", "unattributed"),  # the SP fee: resource is the plan, no mapping
            (TJ, "unmatched", "other", "llm-pretrain-7"),  # user:model is not a workload tag in this file
            ("i-serve1", "serve-fleet", "inference", "ec2-fleet"),  # beats ri-fee (priority 1) on its RI line
            ("i-serve2", "serve-fleet", "inference", "ec2-fleet"),
            ("i-train1", "box", "training", "research"),  # the team tag before any mapping
            ("i-train2", "box", "training", "ec2-fleet"),
            ("i-untagged", "box", "training", "batch-pool"),  # the first mapping that matches
            ("nat-1", "nat-by-description", "egress", "unattributed"),
            ("vision-data", "vision-team", "training", "vision"),
        ]
    )
