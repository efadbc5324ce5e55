"""tag_coverage: the share of effective cost carrying each tag key the rules read, by service and account, on
hand-built legacy CUR lines a person can add up (issue 20)."""

from __future__ import annotations

import csv
from datetime import date

import pytest

from pipelines.attribution.rules import load_rules
from pipelines.attribution.tag_coverage import cover_tags, rule_tag_keys
from pipelines.billing.ingest import ingest_deliveries
from pipelines.storage import lake
from tests.conftest import FileDelivery

HEADER = [
    "bill/BillingPeriodStartDate",
    "lineItem/UsageStartDate",
    "lineItem/UsageEndDate",
    "lineItem/LineItemType",
    "lineItem/UsageAccountId",
    "lineItem/ProductCode",
    "lineItem/UsageType",
    "lineItem/UsageAmount",
    "lineItem/UnblendedCost",
    "lineItem/CurrencyCode",
    "resourceTags/user:team",
    "resourceTags/user:workload-type",
]
P, H0, H1 = "2026-10-01T00:00:00Z", "2026-10-01T00:00:00Z", "2026-10-01T01:00:00Z"
# fmt: off
LINES = [
    # account, product, usage type, cost, team, workload type
    ["111", "AmazonEC2", "BoxUsage:g5.xlarge", "60", "x", "training"],
    ["111", "AmazonEC2", "BoxUsage:g5.xlarge", "40", "", ""],
    ["111", "AmazonS3", "TimedStorage-ByteHrs", "10", "y", ""],
    ["222", "AmazonEC2", "BoxUsage:g5.xlarge", "30", "", "inference"],  # an empty team value names no team
    ["222", "AmazonS3", "Requests-Tier1", "0", "z", ""],  # nothing spent: no share (NULL)
]
# fmt: on
N = None
# tag key → (service, account) → (effective cost, tagged cost, tagged share)
EXPECTED = {
    "user_team": {
        ("AmazonEC2", "111"): (100.0, 60.0, 0.60),
        ("AmazonS3", "111"): (10.0, 10.0, 1.00),
        ("AmazonEC2", "222"): (30.0, 0.0, 0.00),
        ("AmazonS3", "222"): (0.0, 0.0, N),
    },
    "user_workload_type": {
        ("AmazonEC2", "111"): (100.0, 60.0, 0.60),
        ("AmazonS3", "111"): (10.0, 0.0, 0.00),
        ("AmazonEC2", "222"): (30.0, 30.0, 1.00),
        ("AmazonS3", "222"): (0.0, 0.0, N),
    },
}


def test_tag_keys_are_the_ones_the_rules_read():
    keys = rule_tag_keys(load_rules())
    assert keys["user_model"] == "workload, owners.model"
    assert keys["user_team"] == "workload, owners.team"
    assert keys["user_project"] == "owners.project"
    assert keys["user_workload_type"] == "rule ec2-training, rule ec2-inference"
    assert keys["workload_type"].startswith("rule gpu-vm-training")


def test_tag_coverage_matches_hand_table(tmp_path, settings, con):
    path = tmp_path / "cur.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for account, product, usage_type, cost, team, wl_type in LINES:
            writer.writerow(
                [P, H0, H1, "Usage", account, product, usage_type, "1", cost, "USD", team, wl_type]
            )
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    written = cover_tags(con, settings, load_rules(), date(2026, 10, 1), date(2026, 10, 1))
    lake.register_views(con, settings, ["tag_coverage"])
    rows = con.execute(
        "SELECT tag_key, service, account, effective_cost, tagged_effective_cost, tagged_share, lines, tagged_lines "
        "FROM tag_coverage"
    ).fetchall()
    # Every key the rules read (6) × the 4 service-account pairs.
    assert written == {"2026-10-01": 6 * 4}
    got = {}
    for key, service, account, cost, tagged, share, lines, tagged_lines in rows:
        got.setdefault(key, {})[(service, account)] = (cost, tagged, share)
        assert lines >= tagged_lines
    for key, expected in EXPECTED.items():
        assert set(got[key]) == set(expected)
        for pair, (cost, tagged, share) in expected.items():
            g = got[key][pair]
            assert g[:2] == pytest.approx((cost, tagged), abs=1e-9), (key, pair)
            assert (g[2] is None) if share is None else g[2] == pytest.approx(share), (key, pair)
    # No line carries a model tag: every share is 0, or NULL where nothing was spent.
    assert {v[2] for v in got["user_model"].values()} == {0.0, None}
