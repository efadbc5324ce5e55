"""Smoke test of the benchmark (`make bench`): a tiny quick run completes and reports every stage.

No timing is asserted; the run checks that every stage ran in its child process, reported a positive time, row
count and peak memory, and that the stages agree with each other on the month's dollars to the cent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
LINES = 50_000
STAGES = [
    "floor_copy",
    "floor_scan",
    "ingest",
    "attribute",
    "gpu_predictions",
    "restate_day",
    "e2e",
    "rerun_day",
    "floor_copy_time_ordered",
    "ingest_time_ordered",
    "pandas",
]
WHOLE_MONTH = [
    "floor_copy",
    "floor_scan",
    "ingest",
    "attribute",
    "gpu_predictions",
    "e2e",
    "floor_copy_time_ordered",
    "ingest_time_ordered",
    "pandas",
]


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("bench")
    docs = REPO / "docs" / "benchmarks.md"
    before = docs.read_bytes() if docs.exists() else None
    out = tmp / "results.json"
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--lines", str(LINES), "--no-docs",
         "--cache-dir", str(tmp / "cache"), "--json", str(out)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    after = docs.read_bytes() if docs.exists() else None
    assert after == before, "--no-docs must leave docs/benchmarks.md alone"
    results = json.loads(out.read_text())
    results["stdout"] = done.stdout  # the progress lines (not a terminal here)
    return results


def test_every_stage_reports_time_rows_and_memory(results: dict) -> None:
    stages = results["sizes"][str(LINES)]["stages"]
    assert list(stages) == STAGES
    for name, res in stages.items():
        assert res["ok"], f"{name}: {res.get('error')} {res.get('log_tail')}"
        assert res["seconds"] > 0, name
        assert res["rows"] > 0, name
        assert res["rows_per_second"] > 0, name
        assert res["peak_rss"] > 10 * 2**20, name  # a Python process with DuckDB is never under 10 MB
    for name in WHOLE_MONTH:
        assert stages[name]["rows"] == LINES, name
    assert 0 < stages["restate_day"]["rows"] < LINES
    # The default rules spread nothing, so the one-day run reads the day's lines and those spanning it (the
    # monthly ones): more than the day's, far fewer than the month's.
    assert stages["restate_day"]["rows"] <= stages["restate_day"]["extra"]["lines_read"] < LINES / 10
    # The one-day rerun is a Dagster run of the daily tables of one day, beside the month's run on its instance.
    rerun = stages["rerun_day"]
    assert 0 < rerun["rows"] < LINES
    assert rerun["extra"]["run"]["job"] == "daily_tables" and rerun["extra"]["run"]["status"] == "SUCCESS"
    assert set(rerun["extra"]["run"]["steps"]) == set(rerun["extra"]["month_daily_tables_steps"])
    month_run = next(r for r in stages["e2e"]["extra"]["runs"] if r["job"] == "daily_tables")
    assert rerun["extra"]["month_daily_tables_seconds"] == pytest.approx(month_run["run_seconds"])
    assert rerun["extra"]["run"]["run_id"] != month_run["run_id"]
    overhead = results["overhead"]["import_definitions"]
    assert overhead["ok"] and overhead["seconds"] > overhead["extra"]["python_startup"] > 0


def test_stages_agree_on_the_month_to_the_cent(results: dict) -> None:
    size = results["sizes"][str(LINES)]
    stages = size["stages"]
    generated = size["generation"]["extra"]["billed_cost"]
    assert stages["floor_scan"]["extra"]["billed_cost"] == pytest.approx(generated, abs=0.01)
    pipeline = stages["attribute"]["extra"]["by_category"]
    assert sum(pipeline.values()) == pytest.approx(stages["ingest"]["extra"]["effective_cost"], abs=0.01)
    # The same lines in time order: the same month.
    ordered = stages["ingest_time_ordered"]["extra"]["effective_cost"]
    assert ordered == pytest.approx(stages["ingest"]["extra"]["effective_cost"], abs=0.01)
    assert stages["attribute"]["extra"]["reconciliation_difference"] < 0.005
    baseline = stages["pandas"]["extra"]["by_category"]
    assert set(baseline) == set(pipeline)
    for category, value in pipeline.items():
        assert baseline[category] == pytest.approx(value, abs=0.01), category
    runs = stages["e2e"]["extra"]["runs"]
    assert [r["job"] for r in runs] == ["ingest_billing", "daily_tables", "monthly_reconciliation"]
    assert all(r["status"] == "SUCCESS" for r in runs)


def test_report_renders_the_table_and_targets(results: dict) -> None:
    sys.path.insert(0, str(REPO))
    from bench.run import render, summarize

    text = render(results, "## Where the time goes\n\nnotes")
    assert "## Targets (50k lines)" in text
    assert "## 50k lines (50,000)" in text
    assert "| ingestion ≤ 1.5 × floor |" in text
    assert "| one day rerun through Dagster (the day's daily tables and checks) |" in text
    assert "| the same month delivered in time order: ingestion ≤ 1.5 × that delivery's floor |" in text
    assert "One day rerun through Dagster after `mlcost run` (the daily_tables job for 2026-10-15" in text
    assert text.rstrip().endswith("notes")
    s = summarize(results["sizes"][str(LINES)])
    stages = results["sizes"][str(LINES)]["stages"]
    assert s["ingest_ratio"] == pytest.approx(
        stages["ingest"]["seconds"] / stages["floor_copy"]["seconds"], rel=1e-6
    )
    assert s["ordered_ratio"] == pytest.approx(
        stages["ingest_time_ordered"]["seconds"] / stages["floor_copy_time_ordered"]["seconds"], rel=1e-6
    )
    # 50,000 lines are under FILE_ORDER_MIN_LINES: even in time order the delivery is sorted, and the report says so.
    assert s["ordered_as_delivered"] is False
    assert "sorted: not judged clustered as delivered" in text
    from bench import stages as stage_code
    from bench.run import TIME_ORDERED

    assert TIME_ORDERED == stage_code.TIME_ORDERED
    expected = sum(stages[n]["seconds"] for n in ("ingest", "attribute", "gpu_predictions"))
    assert s["compute"] == pytest.approx(expected, rel=1e-6)
    assert s["dagster_overhead"] == pytest.approx(
        stages["e2e"]["seconds"] - stages["e2e"]["extra"]["steps_seconds"], rel=1e-6
    )


def test_progress_off_a_terminal_is_one_plain_line_per_stage(results: dict) -> None:
    out = results["stdout"]
    assert "\r" not in out and "\x1b[" not in out
    lines = out.splitlines()
    assert lines[0].startswith("process start + definitions load ")
    # The month is generated once (then cached), then each stage prints one line when it ends.
    stages = [line.split()[1] for line in lines if line.startswith("  50k ")]
    assert stages == ["generate", "time_order", *STAGES]
    # `mlcost run` prints a line per Dagster step before its summary: the e2e stage reads the summary's time.
    e2e = results["sizes"][str(LINES)]["stages"]["e2e"]["extra"]
    assert e2e["stdout_tail"][0].startswith("mlcost run: ")
    assert e2e["run_pipeline_seconds"] > 0
