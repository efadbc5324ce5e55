"""`mlcost report`: one self-contained HTML page of charts and their tables, from the analysts' warehouse.

The page embeds Plotly's JavaScript inline (no CDN), so it opens offline and can be mailed as one file. It is
written to $MLCOST_HOME/reports/<as-of day>.html and copied to latest.html, each by a rename of a finished file,
so a reader never opens half a page.
"""

from __future__ import annotations

import html
import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import plotly.io as pio
from plotly.offline import get_plotlyjs

from pipelines.config import Settings
from pipelines.errors import InputError
from pipelines.report.charts import CHARTS, DECISION_TABLES, Chart, Column
from pipelines.storage.sqlfiles import load_sql

DECISION_ROWS = 50
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


@dataclass
class Section:
    chart: Chart
    rows: list[dict]
    drawn: bool


@dataclass
class Report:
    path: Path
    latest: Path
    as_of: date
    sections: list[Section] = field(default_factory=list)
    decisions: list[str] = field(default_factory=list)
    summary: str = ""


def reports_dir(settings: Settings) -> Path:
    return settings.home / "reports"


def _query(con: duckdb.DuckDBPyConnection, name: str, params: dict) -> list[dict]:
    rel = con.execute(load_sql(f"report/{name}"), params)
    columns = [d[0] for d in rel.description]
    return [dict(zip(columns, row, strict=True)) for row in rel.fetchall()]


def _cell(column: Column, value: object) -> str:
    if value is None:
        return '<td class="null">–</td>'
    if column.kind == "money":
        return f'<td class="num">{value:,.2f}</td>'
    if column.kind == "count":
        return f'<td class="num">{value:,.0f}</td>'
    if column.kind == "ratio":
        return f'<td class="num">{value:,.4f}</td>'
    return f"<td>{html.escape(str(value))}</td>"


def html_table(name: str, columns: tuple[Column, ...], rows: list[dict]) -> str:
    """The chart's fallback: every number it draws, as a table (money to the cent, ratios to 4 places)."""
    head = "".join(f"<th>{html.escape(c.label)}</th>" for c in columns)
    body = "\n".join("<tr>" + "".join(_cell(c, r.get(c.name)) for c in columns) + "</tr>" for r in rows)
    return f'<table class="data" data-table="{name}"><thead><tr>{head}</tr></thead>\n<tbody>\n{body}\n</tbody></table>'


def _plain_table(name: str, rows: list[dict]) -> str:
    columns = tuple(
        Column(k, k, "ratio" if isinstance(v, float | Decimal) else "text")
        for k, v in (rows[0] if rows else {}).items()
    )
    return html_table(name, columns, rows)


def _summary(con: duckdb.DuckDBPyConnection, as_of: date, sections: dict[str, Section], path: Path) -> str:
    """A few lines of Markdown for the Dagster UI: the month so far against last month, idle GPU dollars."""
    movers = sections["top_movers_workload"].rows
    lines = [f"**Cost report as of {as_of}** — `{path}`", ""]
    totals = con.execute(
        "SELECT billing_currency, fsum(effective_cost) FILTER (WHERE usage_date >= date_trunc('month', ?::DATE)),"
        " fsum(effective_cost) FILTER (WHERE usage_date < date_trunc('month', ?::DATE)"
        " AND usage_date <= ?::DATE - INTERVAL 1 MONTH) FROM cost_by_category_daily"
        " WHERE usage_date BETWEEN date_trunc('month', ?::DATE) - INTERVAL 1 MONTH AND ?::DATE GROUP BY 1 ORDER BY 1",
        [as_of] * 5,
    ).fetchall()
    lines += ["| currency | this month | same days last month |", "|---|---:|---:|"]
    lines += [f"| {c} | {t or 0:,.2f} | {p or 0:,.2f} |" for c, t, p in totals]
    idle = sum(r["idle_cost"] or 0 for r in sections["idle_cost_by_instance"].rows)
    lines += ["", f"- idle GPU cost this month: {idle:,.2f}"]
    if movers:
        top = movers[0]
        lines.append(f"- largest mover: {top['workload']} {top['change']:+,.2f} {top['billing_currency']}")
    return "\n".join(lines)


def build_report(settings: Settings, as_of: date | None = None) -> Report:
    """Query the warehouse, draw every chart, write the page and latest.html; return what was written."""
    if not settings.warehouse.exists():
        raise InputError(settings.warehouse, "no warehouse yet: run `mlcost run` first")
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        views = {
            r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        }
        missing = {"cost_by_category_daily", "cost_attribution"} - views
        if missing:
            raise InputError(
                settings.warehouse, f"no {', '.join(sorted(missing))} yet: run `mlcost run` first"
            )
        if as_of is None:
            (as_of,) = con.execute(load_sql("report/as_of")).fetchone()
            if as_of is None:
                raise InputError(settings.warehouse, "cost_by_category_daily has no rows: nothing to report")
        sections: dict[str, Section] = {}
        parts: list[str] = []
        for chart in CHARTS:
            needs = {"cost_per_1k_predictions": "cost_per_prediction_daily"}.get(chart.name) or (
                "gpu_efficiency_daily" if chart.name in ("gpu_eta_heatmap", "idle_cost_by_instance") else None
            )
            params = {"as_of": as_of} | ({"limit": chart.limit} if chart.limit else {})
            rows = _query(con, chart.name, params) if needs is None or needs in views else []
            section = Section(chart, rows, drawn=bool(rows) and chart.figure is not None)
            sections[chart.name] = section
            parts.append(_section_html(section))
        decisions = []
        for name, title, table in DECISION_TABLES:
            if table in views:
                rows = _query(con, name, {"limit": DECISION_ROWS})
                decisions.append(name)
                parts.append(
                    f'<section id="{name}"><h2>{html.escape(title)}</h2>'
                    f"<p>The decisions layer's <code>{name}</code> (first {DECISION_ROWS} rows; "
                    f"<code>sql/report/{name}.sql</code>).</p>{_plain_table(name, rows)}</section>"
                )
        folder = reports_dir(settings)
        path = folder / f"{as_of.isoformat()}.html"
        summary = _summary(con, as_of, sections, path)
    finally:
        con.close()
    page = _page(as_of, parts, sorted(views))
    folder.mkdir(parents=True, exist_ok=True)
    latest = folder / "latest.html"
    _write_atomically(path, page)
    _write_atomically(latest, page)
    return Report(path, latest, as_of, list(sections.values()), decisions, summary)


def _write_atomically(target: Path, text: str) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _section_html(section: Section) -> str:
    chart = section.chart
    if section.drawn and chart.figure is not None:
        figure = pio.to_html(
            chart.figure(section.rows),
            full_html=False,
            include_plotlyjs=False,
            div_id=f"chart-{chart.name}",
            config=PLOTLY_CONFIG,
        )
        body = f'<div class="chart" data-chart="{chart.name}">{figure}</div>'
    else:
        body = f'<p class="empty" data-empty="{chart.name}">{html.escape(chart.empty_note)}</p>'
    table = html_table(chart.name, chart.columns, section.rows)
    return (
        f'<section id="{chart.name}"><h2>{html.escape(chart.title)}</h2>'
        f'<p>{html.escape(chart.description)} <span class="src">SQL: <code>sql/report/{chart.name}.sql</code>'
        f"</span></p>{body}"
        f"<details><summary>Table ({len(section.rows)} rows)</summary>{table}</details></section>"
    )


STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1200px; color: #222; }
h1 { margin-bottom: 0.2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #ddd; }
nav a { margin-right: 1rem; } .src { color: #777; font-size: 0.85em; }
table.data { border-collapse: collapse; font-size: 0.85em; margin-top: 0.5rem; }
table.data th, table.data td { border: 1px solid #ddd; padding: 2px 6px; }
td.num { text-align: right; font-variant-numeric: tabular-nums; } td.null { color: #aaa; text-align: center; }
p.empty { color: #777; font-style: italic; }
"""


def _page(as_of: date, parts: list[str], views: list[str]) -> str:
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    nav = " ".join(f'<a href="#{c.name}">{html.escape(c.title.split(" (")[0])}</a>' for c in CHARTS)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>mlcost report {as_of}</title><style>{STYLE}</style>"
        # Plotly's JavaScript, inline: the page needs no network to draw.
        f'<script type="text/javascript">{get_plotlyjs()}</script></head><body>'
        f"<h1>ML cost report, {as_of}</h1><p>Made {made} from the warehouse's tables "
        f"({html.escape(', '.join(views))}). Money is effective (amortized) cost in the billing currency; "
        "each chart's numbers are in the table below it.</p>"
        f"<nav>{nav}</nav>\n" + "\n".join(parts) + "\n</body></html>\n"
    )


def copy_to(report: Report, target: Path) -> Path:
    """Copy the page elsewhere (tests, mail); returns the copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(report.path, target)
    return target
