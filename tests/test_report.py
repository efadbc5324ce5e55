"""The HTML cost report: made by the nightly run (cost_report asset), drawn in headless Chromium, equal to the warehouse.

The lake comes from `mlcost run` over the generated model company (tests/report_lake.py). Chromium loads a copy
of the page with a first script that records every uncaught error and console.error into the DOM, then
`--dump-dom` gives the page as drawn: every chart must have Plotly's SVG with marks in it, and every table's
numbers must equal what the warehouse says, queried here without the report's SQL.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections import defaultdict
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance
from report_lake import run_lake

from pipelines.config import Settings
from pipelines.errors import InputError
from pipelines.report.charts import CHARTS
from pipelines.report.render import build_report

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
AS_OF = date(2026, 10, 31)
# The model company's planted monthly effective totals (answers.json, seed 42; `mlcost fixtures` prints them).
MONTH_EFFECTIVE = {"2026-09": 80_161.83, "2026-10": 78_190.74}
CAPTURE = (
    "<script>window.__errors=[];"
    "window.addEventListener('error',e=>window.__errors.push('error: '+e.message));"
    "window.addEventListener('unhandledrejection',e=>window.__errors.push('rejection: '+e.reason));"
    "const __ce=console.error;console.error=(...a)=>{window.__errors.push('console: '+a.join(' '));__ce(...a)};"
    "window.addEventListener('load',()=>setTimeout(()=>{const p=document.createElement('pre');"
    "p.id='captured-errors';p.textContent=JSON.stringify(window.__errors);document.body.appendChild(p)},500));"
    "</script>"
)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return run_lake(tmp_path_factory)


class Tables(HTMLParser):
    """Every <table data-table=NAME> of a page, as lists of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._name: str | None = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "data-table" in a:
            self._name = a["data-table"]
            self.tables[self._name] = []
        elif tag == "tr" and self._name:
            self._row = []
        elif tag == "td" and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            if self._row:
                self.tables[self._name].append(self._row)
            self._row = None
        elif tag == "table":
            self._name = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def tables_of(page: str) -> dict[str, list[list[str]]]:
    parser = Tables()
    parser.feed(page)
    return parser.tables


def money(text: str) -> float | None:
    return None if text == "–" else float(text.replace(",", ""))


def warehouse_rows(settings: Settings, sql: str, params: list) -> list[tuple]:
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def test_the_nightly_run_writes_the_report_and_its_metadata(lake):
    reports = lake.settings.home / "reports"
    assert (reports / "latest.html").exists()
    assert (reports / f"{AS_OF}.html").read_bytes() == (reports / "latest.html").read_bytes()
    instance = DagsterInstance.from_config(str(lake.settings.home / "dagster_home"))
    try:
        event = instance.get_latest_materialization_event(AssetKey("cost_report"))
    finally:
        instance.dispose()
    assert event is not None, "mlcost run did not materialize cost_report"
    metadata = event.asset_materialization.metadata
    assert metadata["path"].value == str(reports / f"{AS_OF}.html")
    assert metadata["charts_drawn"].value == len(CHARTS)
    summary = metadata["summary"].value
    assert "Cost report as of 2026-10-31" in summary
    # this month (October) against the same days of last month (September 1–30 = all of it): the planted totals.
    assert "| USD | 78,190.74 | 80,161.83 |" in summary


def test_the_page_is_self_contained(lake):
    page = (lake.settings.home / "reports" / "latest.html").read_text()
    # No script, stylesheet or font is fetched (Plotly's bundle names CDN addresses only for map charts, which
    # the report has none of; Chromium below draws the page with every host unresolvable).
    assert not re.findall(r"<script[^>]+src=|<link[^>]+href=|<img[^>]+src=", page)
    assert "Plotly" in page and page.count("<script") >= len(CHARTS)


def test_tables_equal_the_warehouse(lake):
    report = build_report(lake.settings)
    tables = tables_of(report.path.read_text())
    settings = lake.settings

    # Daily cost by category: every cell equals the day's sum in cost_by_category_daily, and each month's cells
    # add up to the planted total (within half a cent per cell rounded).
    daily = tables["daily_cost_by_category"]
    want = {
        (str(d), c): round(v, 2)
        for d, c, v in warehouse_rows(
            settings,
            "SELECT usage_date, category, sum(effective_cost) FROM cost_by_category_daily "
            "WHERE usage_date BETWEEN DATE '2026-09-01' AND DATE '2026-10-31' GROUP BY 1, 2",
            [],
        )
    }
    assert {(r[0], r[1]): money(r[3]) for r in daily} == want
    by_month: dict[str, float] = defaultdict(float)
    for r in daily:
        by_month[r[0][:7]] += money(r[3])
    for month, total in MONTH_EFFECTIVE.items():
        assert abs(by_month[month] - total) <= 0.005 * len(daily), (month, by_month[month], total)

    # Idle GPU dollars: October's idle cost per resource, from gpu_efficiency_daily.
    idle = {
        re.sub(r"^arn:aws:sagemaker:[^:]*:[^:]*:", "", r): round(v, 2)
        for r, v in warehouse_rows(
            settings,
            "SELECT resource_id, coalesce(sum(idle_cost), 0) FROM gpu_efficiency_daily "
            "WHERE usage_date >= DATE '2026-10-01' GROUP BY 1",
            [],
        )
    }
    assert {r[0]: money(r[4]) for r in tables["idle_cost_by_instance"]} == idle

    # Top movers by workload: October minus September per workload, the ten largest by absolute change.
    change: dict[str, float] = defaultdict(float)
    for workload, day, cost in warehouse_rows(
        settings, "SELECT workload, usage_date, effective_cost FROM cost_by_category_daily", []
    ):
        if day.month == 10:
            change[workload] += cost
        elif day.month == 9:
            change[workload] -= cost
    top = sorted(change.items(), key=lambda kv: (-abs(kv[1]), kv[0]))[:10]
    assert [(r[0], money(r[4])) for r in tables["top_movers_workload"]] == [(w, round(c, 2)) for w, c in top]

    # Cost per 1,000 predictions: each day's figure of cost_per_prediction_daily, to 4 places.
    per_1k = {
        (str(d), w): (None if v is None else round(v, 4), p)
        for d, w, v, p in warehouse_rows(
            settings,
            "SELECT usage_date, workload, cost_per_1k_predictions, predictions FROM cost_per_prediction_daily "
            "WHERE usage_date >= DATE '2026-09-01'",
            [],
        )
    }
    got = {(r[0], r[1]): (money(r[5]), money(r[3])) for r in tables["cost_per_1k_predictions"]}
    assert got == per_1k

    # Spread shared cost: with tax and support spread, it all left `shared` for the workloads.
    spread = {
        (c, w, k): round(v, 2)
        for c, w, k, v in warehouse_rows(
            settings,
            "SELECT category, workload, shared_kind, sum(effective_cost) FROM cost_attribution "
            "WHERE allocation = 'spread' AND usage_date >= DATE '2026-10-01' GROUP BY ALL",
            [],
        )
    }
    assert spread and {(r[0], r[1], r[2]): money(r[4]) for r in tables["shared_spread_to"]} == spread
    assert {k for k, *_ in spread} <= {"training", "inference", "storage", "egress", "other"}


def test_report_renders_in_chromium_with_every_chart_drawn(lake, tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"chromium is not installed: {CHROMIUM} is absent (apt-get install chromium)")
    report = build_report(lake.settings)
    page = report.path.read_text()
    probe = tmp_path / "report.html"
    probe.write_text(page.replace("<head>", "<head>" + CAPTURE, 1))
    flags = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        # Offline: no host resolves, so a chart that needed the network would not draw.
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--window-size=1280,5600",
        "--virtual-time-budget=20000",
    ]
    shot = tmp_path / "report.png"
    dom = subprocess.run(
        [*flags, "--dump-dom", probe.as_uri()], capture_output=True, text=True, timeout=180, check=True
    ).stdout
    subprocess.run([*flags, f"--screenshot={shot}", report.path.as_uri()], capture_output=True, timeout=180)
    captured = re.search(r'<pre id="captured-errors">(.*?)</pre>', dom, re.S)
    assert captured, "the page never finished loading"
    assert json.loads(captured.group(1).replace("&quot;", '"')) == []
    for chart in CHARTS:
        start = dom.find(f'id="chart-{chart.name}"')
        assert start >= 0, f"{chart.name}: no chart in the page"
        drawn = dom[start : dom.find("<details>", start)]
        assert "main-svg" in drawn, f"{chart.name}: Plotly drew no SVG"
        marks = len(re.findall(r'class="point[ "]|class="js-line"|<image ', drawn))
        assert marks > 0, f"{chart.name}: the SVG has no marks"
    # The tables of the drawn page are the warehouse's numbers (checked above on the file): the same here.
    assert tables_of(dom)["daily_cost_by_category"] == tables_of(page)["daily_cost_by_category"]
    assert shot.stat().st_size > 100_000, "the screenshot is nearly blank"
    coordinator = REPO / "data" / "report.png"
    coordinator.parent.mkdir(exist_ok=True)
    shutil.copyfile(shot, coordinator)


def test_decision_tables_appear_when_the_warehouse_has_them(lake, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(lake.settings.warehouse, home / "warehouse.duckdb")
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    # Only an anomalies table, with one row a person can check: the other decision tables are left out.
    for table in ("cost_anomalies", "month_end_forecast", "budget_status", "recommendations"):
        con.execute(f"DROP VIEW IF EXISTS {table}")
    con.execute(
        "CREATE VIEW cost_anomalies AS SELECT DATE '2026-10-30' AS usage_date, 'fraud-scorer' AS workload, "
        "1234.5 AS effective_cost"
    )
    con.close()
    report = build_report(Settings(home=home))
    assert report.decisions == ["anomalies"]
    page = report.path.read_text()
    assert tables_of(page)["anomalies"] == [["2026-10-30", "fraud-scorer", "1,234.5000"]]
    assert 'id="forecast"' not in page and 'id="budgets"' not in page


def test_without_a_warehouse_the_error_says_run_first(tmp_path):
    with pytest.raises(InputError, match="run `mlcost run` first"):
        build_report(Settings(home=tmp_path))


def test_a_report_without_gpu_logs_says_so_in_its_asset_check(lake, tmp_path):
    from dagster import materialize

    from pipelines.orchestration.resources import MlcostResource
    from pipelines.report.assets import cost_report

    home = tmp_path / "home"
    home.mkdir()
    shutil.copyfile(lake.settings.warehouse, home / "warehouse.duckdb")
    con = duckdb.connect(str(home / "warehouse.duckdb"))
    con.execute("DROP VIEW gpu_efficiency_daily")
    con.close()
    result = materialize(
        [cost_report], resources={"mlcost": MlcostResource.from_settings(Settings(home=home))}
    )
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert not check.passed
    assert check.metadata["empty_sections"].value == "gpu_eta_heatmap, idle_cost_by_instance"
    page = (home / "reports" / "latest.html").read_text()
    assert 'data-empty="gpu_eta_heatmap"' in page and 'data-chart="daily_cost_by_category"' in page
