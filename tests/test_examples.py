"""The analysts' example queries (sql/examples/) on the model company's warehouse give the planted answers.

Also home of the builders the other analyst tests share (test_catalog_docs.py, test_analyst_access.py): the
fixtures and the warehouse are built once per test session, in the session's base temporary folder.
"""

from __future__ import annotations

import json
import shutil
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from fixtures.model_company import generate
from pipelines.attribution.commitments import utilize
from pipelines.attribution.compute import attribute, cover, reconcile, summarize_by_category
from pipelines.attribution.rules import load_rules
from pipelines.attribution.tag_coverage import cover_tags
from pipelines.billing.deliveries import discover_deliveries
from pipelines.billing.ingest import ingest_deliveries
from pipelines.config import Settings
from pipelines.storage import lake
from pipelines.storage.warehouse import refresh_catalog
from tests.conftest import compute_gpu_and_prediction_days

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "sql" / "examples"
FIRST, LAST = date(2026, 9, 1), date(2026, 10, 31)
# The queries round money to the cent; the planted answers are not rounded.
CENT = 0.0051


def company_fixtures(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """The model company's exports and planted answers, generated once per test session."""
    root = tmp_path_factory.getbasetemp() / "analyst_company"
    done = root / ".complete"
    if not done.exists():
        shutil.rmtree(root, ignore_errors=True)
        generate(root)
        done.touch()
    return root, json.loads((root / "answers.json").read_text())


def ingest(settings: Settings, source: Path | str) -> dict:
    """Ingest every delivery found in `source` into the lake, as the line_items asset does."""
    con = lake.connect(settings)
    try:
        return ingest_deliveries(
            con, settings, discover_deliveries(str(source), staging_dir=settings.staging)
        )
    finally:
        con.close()


def compute_days(settings: Settings, first: date, last: date) -> None:
    """Every daily table and reconciliation for first..last from the published line_items (no Dagster)."""
    con = lake.connect(settings)
    try:
        attribute(con, settings, load_rules(), first, last)
        summarize_by_category(con, settings, first, last)
        reconcile(con, settings, first.replace(day=1), last.replace(day=1))
        cover(con, settings, first.replace(day=1), last.replace(day=1))
        utilize(con, settings, first.replace(day=1), last.replace(day=1))
        cover_tags(con, settings, load_rules(), first.replace(day=1), last.replace(day=1))
        compute_gpu_and_prediction_days(con, settings, first, last)
        # The decision tables (issue 16), so the catalog holds every published table.
        from pipelines.decisions.anomalies import compute_anomalies
        from pipelines.decisions.budgets import compute_budget_status
        from pipelines.decisions.forecast import compute_forecast
        from pipelines.orchestration.partitions import month_keys

        months = [date.fromisoformat(m) for m in month_keys(first, last)]
        compute_anomalies(con, settings, first, last)
        compute_forecast(con, settings, months)
        compute_budget_status(con, settings, months)
        from pipelines.decisions.recommendations import compute_recommendations

        compute_recommendations(con, settings, months)
    finally:
        con.close()


def analyst_warehouse(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, dict]:
    """The whole company in a warehouse, its 2026-10 restated: restatement step 1 published, then the export.

    The export's 2026-10 is restatement step 2, so line_items holds the planted months and line_items_history
    the step-1 version of 2026-10.
    """
    fixtures, answers = company_fixtures(tmp_path_factory)
    home = tmp_path_factory.getbasetemp() / "analyst_home"
    settings = Settings(
        home=home,
        cur_source=str(fixtures / "cur2"),
        gpu_source=str(fixtures / "gpu"),
        predictions_source=str(fixtures / "predictions"),
    )
    done = home / ".complete"
    if not done.exists():
        shutil.rmtree(home, ignore_errors=True)
        assert list(ingest(settings, fixtures / "restatement" / "step1")) == ["2026-10-01"]
        assert sorted(ingest(settings, settings.cur_source)) == ["2026-09-01", "2026-10-01"]
        compute_days(settings, FIRST, LAST)
        refresh_catalog(settings)
        done.touch()
    return settings, answers


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> tuple[Settings, dict]:
    return analyst_warehouse(tmp_path_factory)


def run_example(settings: Settings, name: str, **variables: object) -> list[dict]:
    """Run sql/examples/<name>.sql on a read-only connection (after SET VARIABLE for each keyword)."""
    text = (EXAMPLES / f"{name}.sql").read_text()
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        for key, value in variables.items():
            con.execute(f"SET VARIABLE {key} = ?", [value])
        rel = con.sql(text)
        return [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]
    finally:
        con.close()


def _sum_by(rows, key, value) -> dict:
    out: dict = defaultdict(float)
    for row in rows:
        out[key(row)] += value(row)
    return dict(out)


def _day(text: str) -> date:
    return date.fromisoformat(text)


def test_yesterday_spend_by_category(warehouse):
    settings, answers = warehouse
    rows = run_example(settings, "yesterday_spend_by_category")
    latest = max(_day(r["usage_date"]) for r in answers["daily"])
    planted = _sum_by(
        answers["daily"], lambda r: (_day(r["usage_date"]), r["category"]), lambda r: r["effective_cost"]
    )
    billed = _sum_by(
        answers["daily"], lambda r: (_day(r["usage_date"]), r["category"]), lambda r: r["billed_cost"]
    )
    assert {r["category"] for r in rows} == {c for d, c in planted if d == latest}
    for row in rows:
        assert row["usage_date"] == latest == date(2026, 10, 31)
        assert row["billing_currency"] == "USD"
        assert row["effective_cost"] == pytest.approx(planted[latest, row["category"]], abs=CENT), row
        assert row["billed_cost"] == pytest.approx(billed[latest, row["category"]], abs=CENT), row
        before = planted.get((latest - timedelta(days=1), row["category"]), 0.0)
        assert row["day_before_effective_cost"] == pytest.approx(before, abs=CENT), row
    day_total = sum(v for (d, _), v in planted.items() if d == latest)
    training = next(r for r in rows if r["category"] == "training")
    assert training["pct_of_day"] == pytest.approx(
        round(100 * planted[latest, "training"] / day_total, 1), abs=0.051
    )
    assert [r["effective_cost"] for r in rows] == sorted((r["effective_cost"] for r in rows), reverse=True)


def test_idle_gpu_dollars_by_instance(warehouse):
    settings, answers = warehouse
    rows = run_example(settings, "idle_gpu_dollars_by_instance")
    latest = max(_day(r["usage_date"]) for r in answers["gpu"])
    window = [r for r in answers["gpu"] if _day(r["usage_date"]) > latest - timedelta(days=7)]
    by_key: dict = defaultdict(list)
    for r in window:
        by_key[r["resource_id"], r["workload"]].append(r)
    assert {(r["resource_id"], r["workload"]) for r in rows} == set(by_key)
    for row in rows:
        planted = by_key[row["resource_id"], row["workload"]]
        idle = [r["idle_cost"] for r in planted if r["idle_cost"] is not None]
        assert row["gpu_cost"] == pytest.approx(sum(r["gpu_cost"] for r in planted), abs=CENT), row
        if idle:
            assert row["idle_cost"] == pytest.approx(sum(idle), abs=CENT), row
            observed = sum(r["observed_gpu_hours"] for r in planted)
            assert row["eta"] == pytest.approx(
                sum(r["active_gpu_hours"] for r in planted) / observed, abs=0.0006
            )
        else:
            assert row["idle_cost"] is None and row["eta"] is None, row
        unobserved = sum(r["gpu_cost"] * (1 - r["coverage"]) for r in planted)
        assert row["unobserved_cost"] == pytest.approx(unobserved, abs=CENT), row
    top = rows[0]
    assert (top["resource_id"], top["workload"], top["idle_cost"]) == (
        "i-05ee00fd9c3696ddb",
        "support-llm",
        1525.59,
    )
    idle_order = [r["idle_cost"] for r in rows if r["idle_cost"] is not None]
    assert idle_order == sorted(idle_order, reverse=True)


def test_cost_per_1k_predictions_trend(warehouse):
    settings, answers = warehouse
    rows = run_example(settings, "cost_per_1k_predictions_trend")
    inference = {
        (_day(r["usage_date"]), r["workload"]): r["effective_cost"]
        for r in answers["daily"]
        if r["category"] == "inference"
    }
    predictions = _sum_by(
        answers["predictions"], lambda r: (_day(r["usage_date"]), r["workload"]), lambda r: r["predictions"]
    )
    models = {w for _, w in predictions}
    assert {r["workload"] for r in rows} == models
    days = sorted({d for d, _ in predictions})
    assert len(rows) == len(models) * len(days)
    for row in rows:
        day, model = row["usage_date"], row["workload"]
        assert row["predictions"] == predictions[day, model]
        cost = inference.get((day, model), 0.0)
        assert row["inference_cost"] == pytest.approx(cost, abs=CENT)
        assert row["cost_per_1k_predictions"] == pytest.approx(
            1000 * cost / predictions[day, model], abs=6e-5
        )
        week = [day - timedelta(days=i) for i in range(7)]
        rolling = (
            1000
            * sum(inference.get((d, model), 0.0) for d in week)
            / sum(predictions.get((d, model), 0) for d in week)
        )
        assert row["cost_per_1k_7d"] == pytest.approx(rolling, abs=6e-5), row
    churn = {r["usage_date"]: r for r in rows if r["workload"] == "churn-predictor-v2"}
    assert churn[date(2026, 9, 7)]["pct_change_vs_week_before"] is None
    expected = 100 * (
        churn[date(2026, 9, 8)]["cost_per_1k_7d"] / churn[date(2026, 9, 1)]["cost_per_1k_7d"] - 1
    )
    assert churn[date(2026, 9, 8)]["pct_change_vs_week_before"] == pytest.approx(expected, abs=0.06)


def test_unattributed_spend_by_service(warehouse):
    settings, answers = warehouse
    rows = run_example(settings, "unattributed_spend_by_service")
    unattributed = [
        r for r in answers["daily"] if r["workload"] == "unattributed" and r["category"] != "shared"
    ]
    planted = _sum_by(
        unattributed, lambda r: (r["usage_date"][:7], r["category"]), lambda r: r["effective_cost"]
    )
    got = _sum_by(
        rows, lambda r: (r["billing_period"].isoformat()[:7], r["category"]), lambda r: r["effective_cost"]
    )
    assert set(got) == set(planted)
    for key, value in planted.items():
        assert got[key] == pytest.approx(value, abs=CENT * len(rows)), key
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        reconciled = dict(
            con.execute("SELECT billing_period, unattributed_effective_cost FROM reconciliation").fetchall()
        )
    finally:
        con.close()
    per_period = _sum_by(rows, lambda r: r["billing_period"], lambda r: r["effective_cost"])
    assert per_period.keys() == reconciled.keys()
    for period, value in reconciled.items():
        assert per_period[period] == pytest.approx(value, abs=CENT * len(rows)), period
    october = [r for r in rows if r["billing_period"] == date(2026, 10, 1)]
    assert (october[0]["service_code"], october[0]["category"], october[0]["effective_cost"]) == (
        "AmazonEC2",
        "other",
        1254.38,
    )


def test_month_to_date_vs_last_month(warehouse):
    settings, answers = warehouse
    rows = run_example(settings, "month_to_date_vs_last_month")
    october = answers["billing_periods"]["2026-10"]["by_category"]
    september = answers["billing_periods"]["2026-09"]["by_category"]
    assert {r["category"] for r in rows} == set(october)
    for row in rows:
        assert (row["month_start"], row["through"]) == (date(2026, 10, 1), date(2026, 10, 31))
        category = row["category"]
        assert row["month_to_date"] == pytest.approx(october[category]["effective_cost"], abs=CENT), row
        assert row["last_month_total"] == pytest.approx(september[category]["effective_cost"], abs=CENT), row
        # Through the 31st of October is through the 30th (the last day) of September.
        assert row["last_month_to_same_day"] == pytest.approx(
            september[category]["effective_cost"], abs=CENT
        ), row
        change = 100 * (october[category]["effective_cost"] / september[category]["effective_cost"] - 1)
        assert row["pct_change"] == pytest.approx(change, abs=0.051), row


def _restatement_rows(settings: Settings) -> list[dict]:
    return run_example(settings, "restatement_effect_by_day")


def test_restatement_effect_by_day(warehouse):
    settings, answers = warehouse
    restated = answers["restatement"]
    rows = _restatement_rows(settings)
    assert {r["billing_period"] for r in rows} == {date(2026, 10, 1)}
    assert {(r["delivery_before"], r["delivery_after"]) for r in rows} == {
        (restated["step1"]["execution_id"], restated["step2"]["execution_id"])
    }
    assert sum(r["lines_before"] for r in rows) == restated["step1"]["lines"]
    assert sum(r["lines_after"] for r in rows) == restated["step2"]["lines"]
    assert sum(r["billed_before"] for r in rows) == pytest.approx(
        restated["step1"]["billed_cost"], abs=CENT * len(rows)
    )
    assert sum(r["billed_after"] for r in rows) == pytest.approx(
        restated["step2"]["billed_cost"], abs=CENT * len(rows)
    )
    assert sum(r["effective_after"] for r in rows) == pytest.approx(
        restated["step2"]["effective_cost"], abs=CENT * len(rows)
    )
    by_day = {r["usage_date"]: r for r in rows}
    corrections = _sum_by(
        restated["corrections"],
        lambda c: _day(c["charge_period_start"][:10]),
        lambda c: c["step2_billed_cost"] - c["step1_billed_cost"],
    )
    cutoff = _day(restated["step1"]["cutoff"])
    # Day 1 carries the month's fees, restated with the month; days 2 .. cutoff change by the corrections.
    for day in (date(2026, 10, 1) + timedelta(days=i) for i in range(1, (cutoff - date(2026, 10, 1)).days)):
        assert by_day[day]["billed_change"] == pytest.approx(corrections.get(day, 0.0), abs=CENT), day
        assert by_day[day]["lines_before"] == by_day[day]["lines_after"], day
    assert corrections[date(2026, 10, 7)] == pytest.approx(6.13, abs=CENT)
    for day, row in by_day.items():
        if day >= cutoff:
            assert row["lines_before"] == 0 and row["billed_before"] == 0, day
    (refund,) = restated["added_refund"]
    refund_day = by_day[_day(refund["charge_period_start"][:10])]
    assert (refund_day["lines_before"], refund_day["billed_change"]) == (
        0,
        pytest.approx(refund["billed_cost"]),
    )


def test_reported_as_of_a_moment_before_and_after_the_restatement(warehouse):
    settings, answers = warehouse
    restated = answers["restatement"]
    superseded = _restatement_rows(settings)[0]["superseded"]
    assert isinstance(superseded, datetime)

    def reported(**variables) -> dict:
        return {
            r["billing_period"].isoformat()[:7]: r
            for r in run_example(settings, "reported_as_of", **variables)
        }

    before = reported(as_of=superseded - timedelta(seconds=1))
    assert before["2026-10"]["reported_version"] == "superseded"
    assert before["2026-10"]["reported_delivery_id"] == restated["step1"]["execution_id"]
    assert before["2026-10"]["reported_lines"] == restated["step1"]["lines"]
    assert before["2026-10"]["reported_billed_cost"] == pytest.approx(
        restated["step1"]["billed_cost"], abs=CENT
    )
    assert before["2026-10"]["reported_effective_cost"] == pytest.approx(
        restated["step1"]["effective_cost"], abs=CENT
    )
    assert before["2026-10"]["effective_change_since"] == pytest.approx(
        restated["step2"]["effective_cost"] - restated["step1"]["effective_cost"], abs=2 * CENT
    )
    september = answers["billing_periods"]["2026-09"]["cur2"]
    assert before["2026-09"]["reported_version"] == "current"
    assert before["2026-09"]["reported_effective_cost"] == pytest.approx(
        september["effective_cost"], abs=CENT
    )
    assert before["2026-09"]["effective_change_since"] == 0

    after = reported(as_of=superseded + timedelta(seconds=1))
    assert after["2026-10"]["reported_version"] == "current"
    assert after["2026-10"]["reported_lines"] == restated["step2"]["lines"]
    assert after["2026-10"]["reported_effective_cost"] == pytest.approx(
        restated["step2"]["effective_cost"], abs=CENT
    )

    # With no as_of set: a week ago, before this session's restatement, so the step-1 version.
    default = reported()
    assert default["2026-10"]["reported_lines"] == restated["step1"]["lines"]
    assert default["2026-10"]["as_of"] < superseded


VALUE_TESTS = {
    "yesterday_spend_by_category": test_yesterday_spend_by_category,
    "idle_gpu_dollars_by_instance": test_idle_gpu_dollars_by_instance,
    "cost_per_1k_predictions_trend": test_cost_per_1k_predictions_trend,
    "unattributed_spend_by_service": test_unattributed_spend_by_service,
    "month_to_date_vs_last_month": test_month_to_date_vs_last_month,
    "restatement_effect_by_day": test_restatement_effect_by_day,
    "reported_as_of": test_reported_as_of_a_moment_before_and_after_the_restatement,
}


def test_every_example_has_a_one_line_purpose_and_a_value_test():
    files = sorted(EXAMPLES.glob("*.sql"))
    assert {f.stem for f in files} == set(VALUE_TESTS)
    for path in files:
        first = path.read_text().splitlines()[0]
        assert first.startswith("-- Purpose: ") and len(first) > len("-- Purpose: ") + 20, path.name
