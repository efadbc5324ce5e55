"""Owner dimensions (model, team, project, environment) as columns of cost_attribution and cost_by_category_daily,
checked against tables a person can verify by eye, under each sharing strategy (issue 20)."""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from pipelines.attribution.compute import attribute, reconcile, summarize_by_category
from pipelines.attribution.rules import load_rules, with_strategy
from pipelines.billing.ingest import ingest_deliveries
from pipelines.errors import InputError
from pipelines.storage import lake
from tests.conftest import FileDelivery

# A legacy CUR CSV with the columns AWS writes for user-defined cost allocation tags.
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
    "product/instanceType",
    "resourceTags/user:model",
    "resourceTags/user:team",
    "resourceTags/user:project",
    "resourceTags/user:environment",
    "resourceTags/user:squad",
    "resourceTags/user:workload-type",
]
P, H0, H1 = "2026-10-01T00:00:00Z", "2026-10-01T00:00:00Z", "2026-10-01T01:00:00Z"
BOX = "BoxUsage:p4d.24xlarge"
# fmt: off
LINES = [
    # type,  product,     usage type,            resource, cost,  instance,       model, team, project, env,  squad, wl type
    ["Usage", "AmazonEC2", BOX,                   "i-1",  "10", "p4d.24xlarge", "a", "x", "p1", "prod", "",  "training"],
    ["Usage", "AmazonEC2", BOX,                   "i-2",  "30", "p4d.24xlarge", "a", "z", "",   "",     "",  "training"],
    ["Usage", "AmazonEC2", BOX,                   "i-3",  "20", "p4d.24xlarge", "b", "x", "",   "dev",  "",  "training"],
    # No model tag: the team names the workload (workload keeps its meaning), and the model column is NULL.
    ["Usage", "AmazonEC2", BOX,                   "i-4",  "30", "p4d.24xlarge", "",  "y", "",   "",     "s", "training"],
    ["Usage", "AmazonS3",  "TimedStorage-ByteHrs", "bkt", "5",  "",             "",  "",  "",   "",     "",  ""],
    ["Tax",   "AmazonEC2", "",                    "",     "19", "",             "",  "",  "",   "",     "",  ""],
]
# fmt: on
N = None
# Shared cost kept: (category, workload, model, team, project, environment, effective cost).
KEEP = [
    ("shared", "unattributed", N, N, N, N, 19.00),
    ("storage", "unattributed", N, N, N, N, 5.00),
    ("training", "a", "a", "x", "p1", "prod", 10.00),
    ("training", "a", "a", "z", N, N, 30.00),
    ("training", "b", "b", "x", N, "dev", 20.00),
    ("training", "y", N, "y", N, N, 30.00),
]
# Proportional: the tax (19) over the 95 of usage, 0.20 per dollar, each owner keeping its own share.
PROPORTIONAL = [
    ("storage", "unattributed", N, N, N, N, 5.00 + 1.00),
    ("training", "a", "a", "x", "p1", "prod", 10.00 + 2.00),
    ("training", "a", "a", "z", N, N, 30.00 + 6.00),
    ("training", "b", "b", "x", N, "dev", 20.00 + 4.00),
    ("training", "y", N, "y", N, N, 30.00 + 6.00),
]
# Even: 19 / 4 receiving category × workload pairs = 4.75 each; inside training/a its owners split the 4.75 by
# their own cost (10 : 30), so the pair still gets exactly what `even` gives it.
EVEN = [
    ("storage", "unattributed", N, N, N, N, 5.00 + 4.75),
    ("training", "a", "a", "x", "p1", "prod", 10.00 + 4.75 * 10 / 40),
    ("training", "a", "a", "z", N, N, 30.00 + 4.75 * 30 / 40),
    ("training", "b", "b", "x", N, "dev", 20.00 + 4.75),
    ("training", "y", N, "y", N, N, 30.00 + 4.75),
]


@pytest.fixture
def loaded(tmp_path, settings, con):
    path = tmp_path / "cur.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        for line in LINES:
            writer.writerow([P, H0, H1, *line[:4], "1", line[4], "USD", *line[5:]])
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    return settings


def _rows(con, settings):
    lake.register_views(con, settings, ["cost_by_category_daily"])
    return con.execute(
        "SELECT category, workload, model, team, project, environment, sum(effective_cost) "
        "FROM cost_by_category_daily GROUP BY ALL ORDER BY ALL"
    ).fetchall()


def _run(con, settings, rules):
    day = date(2026, 10, 1)
    attribute(con, settings, rules, day, day)
    summarize_by_category(con, settings, day, day)
    (row,) = reconcile(con, settings, day, day)
    assert row["difference"] == pytest.approx(0, abs=0.005)


@pytest.mark.parametrize(
    ("strategy", "expected"), [("keep", KEEP), ("proportional", PROPORTIONAL), ("even", EVEN)]
)
def test_owner_columns_match_hand_table(loaded, con, strategy, expected):
    _run(con, loaded, with_strategy(load_rules(), strategy))
    got = _rows(con, loaded)
    assert [r[:6] for r in got] == [e[:6] for e in expected]
    for row, exp in zip(got, expected, strict=True):
        assert row[6] == pytest.approx(exp[6], abs=1e-9), exp
    # "Per team" is one GROUP BY, and sums to the bill.
    lake.register_views(con, loaded, ["cost_attribution"])
    by_team = dict(
        con.execute("SELECT team, sum(effective_cost) FROM cost_attribution GROUP BY ALL").fetchall()
    )
    assert sum(by_team.values()) == pytest.approx(114.00, abs=1e-9)
    if strategy == "proportional":
        assert by_team == {
            "x": pytest.approx(36.0),
            "z": pytest.approx(36.0),
            "y": pytest.approx(36.0),
            N: 6.0,
        }


def test_owner_dimensions_do_not_change_workload_totals(loaded, con):
    """Splitting spread cost by owner leaves every category × workload total what it was without owners."""
    _run(con, loaded, with_strategy(load_rules(), "even"))
    lake.register_views(con, loaded, ["cost_by_category_daily"])
    got = dict(
        con.execute(
            "SELECT category || '/' || workload, sum(effective_cost) FROM cost_by_category_daily GROUP BY 1"
        ).fetchall()
    )
    assert got == {
        "storage/unattributed": pytest.approx(9.75),
        "training/a": pytest.approx(44.75),
        "training/b": pytest.approx(24.75),
        "training/y": pytest.approx(34.75),
    }


def test_owner_tag_keys_come_from_the_rules_file(tmp_path, loaded, con):
    rules_file = tmp_path / "rules.yaml"
    defaults = load_rules().path
    text = (
        Path(defaults).read_text().replace('  team: ["user:team"]\n', '  team: ["user:squad", "user:team"]\n')
    )
    assert '["user:squad", "user:team"]' in text
    rules_file.write_text(text)
    rules = load_rules(rules_file)
    assert rules.owners["team"] == ["user_squad", "user_team"]
    _run(con, loaded, rules)
    lake.register_views(con, loaded, ["cost_attribution"])
    teams = dict(
        con.execute("SELECT resource_id, team FROM cost_attribution WHERE resource_id <> ''").fetchall()
    )
    # i-4 carries squad s: the first key listed wins; the others fall back to user:team.
    assert teams == {"i-1": "x", "i-2": "z", "i-3": "x", "i-4": "s", "bkt": None}


def test_unknown_owner_dimension_is_refused(tmp_path):
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text("owners:\n  cost_center: [user:cc]\nrules: []\n")
    with pytest.raises(InputError, match=r"owners: unknown dimension 'cost_center' \(accepted: model, team"):
        load_rules(rules_file)
