"""Golden tests: the pipeline on the seeded model company equals the answers the generator planted."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from datetime import date, timedelta

import duckdb
import pytest

from fixtures.model_company import generate
from pipelines.attribution.commitments import utilize
from pipelines.attribution.compute import attribute, cover, reconcile, summarize_by_category
from pipelines.attribution.rules import load_rules
from pipelines.attribution.tag_coverage import cover_tags
from pipelines.billing.deliveries import discover_deliveries
from pipelines.billing.ingest import ingest_deliveries, stage_delivery
from pipelines.config import Settings
from pipelines.decisions.anomalies import compute_anomalies
from pipelines.decisions.budgets import compute_budget_status
from pipelines.decisions.forecast import compute_forecast
from pipelines.decisions.recommendations import compute_recommendations
from pipelines.storage import lake
from pipelines.storage.sqlfiles import load_sql
from tests.conftest import compute_gpu_and_prediction_days

FIRST, LAST = date(2026, 9, 1), date(2026, 10, 31)
CENT = 0.005


@pytest.fixture(scope="session")
def company(tmp_path_factory):
    out = tmp_path_factory.mktemp("company")
    answers = generate(out)
    assert answers == json.loads((out / "answers.json").read_text())
    return out, answers


def _ingest(settings: Settings, source, periods=None):
    con = lake.connect(settings)
    deliveries = discover_deliveries(str(source), staging_dir=settings.staging)
    return ingest_deliveries(con, settings, deliveries, periods), con


@pytest.fixture(scope="session")
def pipeline(company, tmp_path_factory):
    """The whole pipeline (without Dagster: the same functions its assets call) on the CUR 2.0 export."""
    out, answers = company
    settings = Settings(
        home=tmp_path_factory.mktemp("home"),
        cur_source=str(out / "cur2"),
        gpu_source=str(out / "gpu"),
        predictions_source=str(out / "predictions"),
    )
    written, con = _ingest(settings, settings.cur_source)
    attribute(con, settings, load_rules(), FIRST, LAST)
    summarize_by_category(con, settings, FIRST, LAST)
    reconcile(con, settings, FIRST, date(2026, 10, 1))
    cover(con, settings, FIRST, date(2026, 10, 1))
    utilize(con, settings, FIRST, date(2026, 10, 1))
    cover_tags(con, settings, load_rules(), FIRST, date(2026, 10, 1))
    samples, predictions = compute_gpu_and_prediction_days(con, settings, FIRST, LAST)
    assert samples.rejected_files == {}
    assert predictions.rejected_files == {} and predictions.skipped_lines == {}
    compute_anomalies(con, settings, FIRST, LAST)
    compute_forecast(con, settings, [date(2026, 9, 1), date(2026, 10, 1)])
    compute_budget_status(con, settings, [date(2026, 9, 1), date(2026, 10, 1)])
    compute_recommendations(con, settings, [date(2026, 9, 1), date(2026, 10, 1)])
    for table in lake.PARTITION_COLUMNS:
        lake.register_views(con, settings, [table])
    return settings, con, answers, written


@pytest.mark.parametrize("flavour, source", [("cur2", "cur2"), ("cur1", "cur1"), ("focus", "focus")])
def test_line_items_totals_per_flavour_equal_the_answers(company, tmp_path, flavour, source):
    out, answers = company
    written, _ = _ingest(Settings(home=tmp_path / "home"), out / source)
    assert sorted(written) == ["2026-09-01", "2026-10-01"]
    for period, info in written.items():
        planted = answers["billing_periods"][period[:7]][flavour]
        assert info["rows"] == planted["lines"], period
        money = info["currencies"]["USD"]
        assert money["billed_cost"] == pytest.approx(planted["billed_cost"], abs=CENT), period
        assert money["effective_cost"] == pytest.approx(planted["effective_cost"], abs=CENT), period


def test_effective_minus_billed_is_amortized_minus_paid_upfront(pipeline):
    settings, con, answers, written = pipeline
    for period, info in written.items():
        planted = answers["billing_periods"][period[:7]]
        money = info["currencies"]["USD"]
        expected = planted["amortized_upfront_fee"] - planted["upfront_fee_paid"]
        assert money["effective_cost"] - money["billed_cost"] == pytest.approx(expected, abs=CENT)


def test_commitment_utilization_agrees_with_the_planted_reservation(pipeline):
    """The RI's amortized upfront fee per month is planted (answers.json); each commitment's stated cost is its
    used plus unused cost to the cent, for the RI and the Savings Plan."""
    settings, con, answers, _ = pipeline
    rows = con.execute(
        "SELECT strftime(billing_period, '%Y-%m'), commitment_type, total_commitment_cost, used_commitment_cost, "
        "unused_commitment_cost, unexplained_cost FROM commitment_utilization ORDER BY 1, 2"
    ).fetchall()
    assert {(p, t) for p, t, *_ in rows} == {(p, t) for p in answers["billing_periods"] for t in (
        "Reserved Instance", "Savings Plan")}  # fmt: skip
    for period, _, total, used, unused, unexplained in rows:
        assert unexplained == pytest.approx(0, abs=0.005), period
        assert total == pytest.approx(used + unused, abs=0.005), period
    recurring = dict(
        con.execute(
            "SELECT strftime(billing_period, '%Y-%m'), sum(billed_cost) FROM line_items "
            "WHERE line_item_type = 'RIFee' GROUP BY 1"
        ).fetchall()
    )
    for period, _, total, *_ in [r for r in rows if r[1] == "Reserved Instance"]:
        planted = answers["billing_periods"][period]["amortized_upfront_fee"]
        assert total - recurring[period] == pytest.approx(planted, abs=0.005), period


def test_cost_by_category_daily_equals_planted_days(pipeline):
    settings, con, answers, _ = pipeline
    got = {
        (d.isoformat(), c, w): (b, e)
        for d, c, w, b, e in con.execute(
            "SELECT usage_date, category, workload, billed_cost, effective_cost FROM cost_by_category_daily"
        ).fetchall()
    }
    planted = {(r["usage_date"], r["category"], r["workload"]): r for r in answers["daily"]}
    missing = sorted(set(planted) - set(got))
    extra = sorted(k for k in set(got) - set(planted) if abs(got[k][1]) > CENT or abs(got[k][0]) > CENT)
    assert not missing and not extra, (missing[:5], extra[:5])
    wrong = [
        (key, got[key], (row["billed_cost"], row["effective_cost"]))
        for key, row in planted.items()
        if abs(got[key][0] - row["billed_cost"]) > CENT or abs(got[key][1] - row["effective_cost"]) > CENT
    ]
    assert not wrong, wrong[:5]


def test_reconciliation_difference_is_zero(pipeline):
    settings, con, answers, _ = pipeline
    rows = con.execute(
        "SELECT billing_period, difference, source_effective_cost FROM reconciliation"
    ).fetchall()
    assert len(rows) == 2
    for period, difference, source in rows:
        assert difference == pytest.approx(0, abs=CENT)
        assert source == pytest.approx(
            answers["billing_periods"][period.isoformat()[:7]]["cur2"]["effective_cost"]
        )


def test_gpu_efficiency_equals_planted(pipeline):
    settings, con, answers, _ = pipeline
    got = {
        (r[0].isoformat(), r[1]): r[2:]
        for r in con.execute(
            "SELECT usage_date, resource_id, allocated_gpu_hours, observed_gpu_hours, active_gpu_hours, coverage, "
            "eta, gpu_cost, idle_cost, gpu_count FROM gpu_efficiency_daily"
        ).fetchall()
    }
    planted = {(r["usage_date"], r["resource_id"]): r for r in answers["gpu"]}
    assert set(got) == set(planted)
    for key, row in planted.items():
        allocated, observed, active, coverage, eta, cost, idle, gpus = got[key]
        assert gpus == row["gpu_count"], key
        assert allocated == pytest.approx(row["allocated_gpu_hours"], abs=1e-6), key
        assert observed == pytest.approx(row["observed_gpu_hours"], abs=1e-6), key
        assert active == pytest.approx(row["active_gpu_hours"], abs=1e-6), key
        assert coverage == pytest.approx(row["coverage"], abs=1e-6), key
        assert cost == pytest.approx(row["gpu_cost"], abs=CENT), key
        if row["eta"] is None:
            assert eta is None and idle is None, key
        else:
            assert eta == pytest.approx(row["eta"], abs=1e-6), key
            assert idle == pytest.approx(row["idle_cost"], abs=CENT), key


def test_gpu_cost_by_pod_splits_the_kubernetes_node_as_planted(pipeline):
    """The util-only p4d host is a Kubernetes node: GPUs 0-5 held by vision-detector-trainer-0..5 (namespace vision),
    GPUs 6-7 by no pod, all 8 sampled at the same times. So each pod holds 1/8 of the planted observed GPU hours,
    __idle__ 2/8, __unobserved__ allocated - observed, and the day's rows add up to the planted gpu_cost."""
    settings, con, answers, _ = pipeline
    (node,) = con.execute("SELECT DISTINCT resource_id FROM gpu_samples WHERE pod IS NOT NULL").fetchone()
    got: dict[str, dict] = {}
    for day, pod, workload, hours, cost in con.execute(
        "SELECT usage_date, pod, workload, gpu_hours, gpu_cost FROM gpu_cost_by_pod_daily WHERE resource_id = ?",
        [node],
    ).fetchall():
        got.setdefault(day.isoformat(), {})[pod or workload] = (workload, hours, cost)
    planted = {
        r["usage_date"]: r for r in answers["gpu"] if r["resource_id"] == node and r["observed_gpu_hours"]
    }
    assert set(got) == set(planted) and planted
    for day, row in planted.items():
        observed, allocated, cost = row["observed_gpu_hours"], row["allocated_gpu_hours"], row["gpu_cost"]
        expected = {f"vision-detector-trainer-{g}": ("vision", observed / 8) for g in range(6)}
        expected["__idle__"] = ("__idle__", observed * 2 / 8)
        expected["__unobserved__"] = ("__unobserved__", allocated - observed)
        assert {k: (w, pytest.approx(h, abs=1e-6)) for k, (w, h, _) in got[day].items()} == expected, day
        for key, (_, hours) in expected.items():
            assert got[day][key][2] == pytest.approx(cost * hours / allocated, abs=CENT), (day, key)
        assert sum(c for _, _, c in got[day].values()) == pytest.approx(cost, abs=CENT), day


def test_predictions_equal_planted(pipeline):
    settings, con, answers, _ = pipeline
    got = {
        (d.isoformat(), w, e): (p, f)
        for d, w, e, p, f in con.execute(
            "SELECT usage_date, workload, endpoint, predictions, failed_requests FROM predictions_daily"
        ).fetchall()
    }
    planted = {
        (r["usage_date"], r["workload"], r["endpoint"]): (r["predictions"], r["failures"])
        for r in answers["predictions"]
    }
    assert got == planted


def test_cost_per_1k_predictions_equals_planted(pipeline):
    """Expected: the planted inference cost of each workload and day over its planted predictions."""
    settings, con, answers, _ = pipeline
    inference = {
        (r["usage_date"], r["workload"]): r["effective_cost"]
        for r in answers["daily"]
        if r["category"] == "inference"
    }
    predictions: dict = {}
    for r in answers["predictions"]:
        key = (r["usage_date"], r["workload"])
        predictions[key] = predictions.get(key, 0) + r["predictions"]
    got = {
        (d.isoformat(), w): (p, c, k)
        for d, w, p, c, k in con.execute(
            "SELECT usage_date, workload, predictions, inference_cost, cost_per_1k_predictions "
            "FROM cost_per_prediction_daily"
        ).fetchall()
    }
    assert set(got) == set(inference) | set(predictions)
    for key, (p, cost, per_1k) in got.items():
        assert p == predictions.get(key, 0), key
        assert cost == pytest.approx(inference.get(key, 0), abs=CENT), key
        if p:
            assert per_1k == pytest.approx(1000 * inference.get(key, 0) / p, abs=CENT), key
        else:
            assert per_1k is None, key


def test_restatement_replaces_the_month_and_repeats_change_nothing(company, tmp_path):
    out, answers = company
    restated = answers["restatement"]
    settings = Settings(home=tmp_path / "home")
    source = tmp_path / "bucket"
    shutil.copytree(out / "restatement" / "step1", source)
    written, _ = _ingest(settings, source)
    assert written["2026-10-01"]["rows"] == restated["step1"]["lines"]
    assert written["2026-10-01"]["currencies"]["USD"]["billed_cost"] == pytest.approx(
        restated["step1"]["billed_cost"]
    )
    shutil.rmtree(source)
    shutil.copytree(out / "restatement" / "step2", source)
    written, con = _ingest(settings, source)
    info = written["2026-10-01"]
    assert info["rows"] == restated["step2"]["lines"]
    assert info["currencies"]["USD"]["effective_cost"] == pytest.approx(
        restated["step2"]["effective_cost"], abs=CENT
    )
    target = lake.partition_path(settings, "line_items", "2026-10-01")
    before = target.read_bytes()
    _ingest(settings, source)
    assert target.read_bytes() == before
    ro = duckdb.connect()
    assert ro.execute(f"SELECT count(*) FROM '{target}'").fetchone()[0] == restated["step2"]["lines"]


# Operators that pass lines through in the order they were read. A join, an aggregate, a sort or a materialized
# CTE would not, and the published partition's bytes (and so "a repeat writes the same bytes") depend on that order.
ORDER_KEEPING = {"PROJECTION", "FILTER", "READ_PARQUET", "READ_CSV", "READ_CSV_AUTO", "TABLE_SCAN"}


def _operators(node):
    yield node["name"]
    for child in node.get("children", []):
        yield from _operators(child)


@pytest.mark.parametrize("export", ["cur2", "cur1", "focus", "restatement/step2"])
def test_normalizing_a_delivery_writes_its_lines_in_one_order(company, tmp_path, export):
    """The staging query only reads and projects, and the file is sorted by a total order (usage day, start, then
    the line's place in the export), so every run writes a delivery's lines in the same order.

    A repeat-writes-the-same-bytes test catches a reordering only when the threads happen to race (it did, 1 run
    in 3, when an IN list of line item types became a join); the plan and the sort key say it every time.
    """
    out, _ = company
    settings = Settings(home=tmp_path / "home")
    con = lake.connect(settings)
    delivery = discover_deliveries(str(out / export), staging_dir=settings.staging)[0]
    staged = tmp_path / "staged.parquet"
    stage_delivery(con, list(delivery.files), delivery_id="d", name="staged", out=staged)
    plan = con.execute(
        "EXPLAIN (FORMAT json) " + load_sql("line_items"), {"delivery_id": "d", "source_format": "x"}
    ).fetchall()[0][1]
    operators = {name for root in json.loads(plan) for name in _operators(root)}
    assert operators <= ORDER_KEEPING, operators - ORDER_KEEPING
    if len(delivery.files) > 1 and str(delivery.files[0]).endswith(".parquet"):
        rows = (
            duckdb.connect()
            .execute(f"SELECT usage_date, charge_period_start, source_file, source_row FROM '{staged}'")
            .fetchall()
        )
        assert rows == sorted(rows)
        assert len(set(rows)) == len(rows)  # a total order: no two lines tie


def test_definitions_materialize_line_items_for_one_partition(company, tmp_path, monkeypatch):
    """The whole code location loads, and line_items materializes one billing period through Dagster."""
    from dagster import materialize

    from pipelines.orchestration.code_location import build_definitions
    from pipelines.orchestration.resources import MlcostResource

    out, answers = company
    settings = Settings(home=tmp_path / "home", cur_source=str(out / "cur2"))
    # Its own lake's partitions, not those of whatever MLCOST_HOME (./data) the test machine holds.
    defs = build_definitions(settings)
    assets = [defs.get_assets_def("line_items")]
    result = materialize(
        assets, partition_key="2026-09-01", resources={"mlcost": MlcostResource.from_settings(settings)}
    )
    assert result.success
    (mat,) = result.asset_materializations_for_node("line_items")
    assert mat.metadata["dagster/row_count"].value == answers["billing_periods"]["2026-09"]["cur2"]["lines"]
    assert not lake.has_data(replace(settings), "cost_attribution")
    # Every asset is a lake table, but cost_report (an HTML page under reports/, unpartitioned).
    assert len(defs.resolve_all_asset_keys()) == len(lake.PARTITION_COLUMNS) + 1


DAILY_AFTER_ATTRIBUTION = (
    "cost_by_category_daily",
    "gpu_samples",
    "gpu_efficiency_daily",
    "gpu_efficiency_by_device_daily",
    "gpu_cost_by_pod_daily",
    "predictions_daily",
    "cost_per_prediction_daily",
)


def test_daily_tables_computed_a_day_at_a_time_equal_one_pass(pipeline, tmp_path, monkeypatch):
    """Above lake.DAY_PASS_ROWS attribution rows a daily table is computed in passes of a few days (a 300M-line
    month in one pass spilled 16 GB in four minutes): with every day a pass of its own, each table is the one-pass
    table, row for row."""
    from tests.test_crash_safety import assert_same_content, table_content

    settings = pipeline[0]
    copy = replace(settings, home=tmp_path / "home")
    shutil.copytree(settings.home, copy.home)
    monkeypatch.setattr(lake, "DAY_PASS_ROWS", 1)
    passes: dict[str, list] = {}
    stage_many = lake.PartitionWriter.stage_many

    def record_pass(writer, query, params=None, con=None):
        passes.setdefault(writer.table, []).append((params["start_date"], params["end_date"]))
        return stage_many(writer, query, params, con=con)

    monkeypatch.setattr(lake.PartitionWriter, "stage_many", record_pass)
    con = lake.connect(copy)
    summarize_by_category(con, copy, FIRST, LAST)
    compute_gpu_and_prediction_days(con, copy, FIRST, LAST)
    con.close()
    days = (LAST - FIRST).days + 1
    for table in DAILY_AFTER_ATTRIBUTION:
        assert passes[table] == [(d, d) for d in (FIRST + timedelta(days=i) for i in range(days))], table
        assert lake.published_partitions(copy, table) == lake.published_partitions(settings, table), table
        assert_same_content(table_content(copy, table), table_content(settings, table), table)
