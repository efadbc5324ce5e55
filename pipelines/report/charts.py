"""The report's charts: for each, the SQL file it comes from (sql/report/<name>.sql), its table and its figure.

Figures are Plotly graph objects built from the SQL's rows (plain lists: no pandas at run time). A chart whose
query returns no row has no figure; its section says so instead of drawing an empty frame.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.subplots import make_subplots

# One colour per category in every chart, so a reader learns them once.
CATEGORY_COLOURS = {
    "training": "#4C78A8",
    "inference": "#F58518",
    "storage": "#54A24B",
    "egress": "#B279A2",
    "other": "#9D755D",
    "shared": "#E45756",
}
MOVER_LIMIT = 10
IDLE_BARS = 20
# Resources in the η heatmap and rows of the idle-dollars table: a page stays readable (and a few MB) for a fleet.
GPU_RESOURCES = 40
IDLE_ROWS = 100


@dataclass(frozen=True)
class Column:
    name: str
    label: str
    kind: str = "text"  # text, money, count, ratio, date


@dataclass(frozen=True)
class Chart:
    name: str  # sql/report/<name>.sql
    title: str
    description: str
    columns: tuple[Column, ...]
    figure: Callable[[list[dict]], go.Figure] | None = None
    empty_note: str = "No data for this period."
    limit: int | None = None  # bound as $limit when set


def _currencies(rows: list[dict]) -> bool:
    return len({r["billing_currency"] for r in rows}) > 1


def _named(name: str, row: dict, several: bool) -> str:
    # Money of two currencies is never added up: with several, every trace carries its currency.
    return f"{name} ({row['billing_currency']})" if several else name


def _layout(fig: go.Figure, height: int = 420, **kwargs) -> go.Figure:
    kwargs.setdefault("margin", {"l": 60, "r": 20, "t": 30, "b": 40})
    fig.update_layout(
        height=height, legend={"orientation": "h", "y": -0.12}, template="plotly_white", **kwargs
    )
    return fig


def daily_cost_figure(rows: list[dict]) -> go.Figure:
    months = sorted({r["month"] for r in rows}, reverse=True)
    several = _currencies(rows)
    fig = make_subplots(
        rows=len(months), cols=1, shared_xaxes=True, subplot_titles=months, vertical_spacing=0.08
    )
    seen: set[str] = set()
    for i, month in enumerate(months, start=1):
        series: dict[str, dict[int, float]] = defaultdict(dict)
        colour: dict[str, str] = {}
        for r in rows:
            if r["month"] == month:
                name = _named(r["category"], r, several)
                series[name][r["day_of_month"]] = r["effective_cost"]
                colour[name] = CATEGORY_COLOURS.get(r["category"], "#777777")
        for name in sorted(
            series,
            key=lambda n: (
                list(CATEGORY_COLOURS).index(n.split(" ")[0]) if n.split(" ")[0] in CATEGORY_COLOURS else 99
            ),
        ):
            days = sorted(series[name])
            fig.add_trace(
                go.Bar(
                    x=days,
                    y=[series[name][d] for d in days],
                    name=name,
                    legendgroup=name,
                    showlegend=name not in seen,
                    marker_color=colour[name],
                    hovertemplate="day %{x}: %{y:,.2f}<extra>" + name + "</extra>",
                ),
                row=i,
                col=1,
            )
            seen.add(name)
        fig.update_yaxes(title_text="effective cost", row=i, col=1)
    fig.update_xaxes(title_text="day of month", row=len(months), col=1)
    return _layout(fig, height=260 * len(months) + 80, barmode="stack")


def cost_per_1k_figure(rows: list[dict]) -> go.Figure:
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        row_heights=[0.6, 0.4],
        vertical_spacing=0.06,
        subplot_titles=["inference cost per 1,000 predictions", "predictions per day"],
    )
    several = _currencies(rows)
    by_model: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_model[_named(r["workload"], r, several)].append(r)
    for name, points in sorted(by_model.items()):
        days = [str(p["usage_date"]) for p in points]
        fig.add_trace(
            go.Scatter(
                x=days,
                y=[p["cost_per_1k_predictions"] for p in points],
                mode="lines+markers",
                name=name,
                legendgroup=name,
                connectgaps=False,
            ),
            row=1,
            col=1,
        )
        fig.add_trace(
            go.Bar(
                x=days, y=[p["predictions"] for p in points], name=name, legendgroup=name, showlegend=False
            ),
            row=2,
            col=1,
        )
    # Models differ by orders of magnitude in cost per prediction: a log axis keeps each one's trend readable.
    fig.update_yaxes(type="log", title_text="cost / 1k", row=1, col=1)
    return _layout(fig, height=620, barmode="stack")


def eta_heatmap_figure(rows: list[dict]) -> go.Figure:
    resources = sorted({r["resource"] for r in rows})
    days = sorted({str(r["usage_date"]) for r in rows})
    cell = {(r["resource"], str(r["usage_date"])): r["eta"] for r in rows}
    z = [[cell.get((res, d)) for d in days] for res in resources]
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=days,
            y=resources,
            zmin=0,
            zmax=1,
            colorscale="Viridis",
            colorbar={"title": "η"},
            hovertemplate="%{y}<br>%{x}: η %{z:.3f}<extra></extra>",
        )
    )
    return _layout(
        fig, height=max(320, 22 * len(resources) + 120), margin={"l": 260, "r": 20, "t": 30, "b": 40}
    )


def idle_cost_figure(rows: list[dict]) -> go.Figure:
    top = sorted((r for r in rows if r["idle_cost"]), key=lambda r: -r["idle_cost"])[:IDLE_BARS]
    fig = go.Figure()
    by_workload: dict[str, list[dict]] = defaultdict(list)
    for r in top:
        by_workload[r["workload"] or "unattributed"].append(r)
    order = [r["resource"] for r in reversed(top)]
    for workload, points in sorted(by_workload.items()):
        fig.add_trace(
            go.Bar(
                y=[p["resource"] for p in points],
                x=[p["idle_cost"] for p in points],
                orientation="h",
                name=workload,
                hovertemplate="%{y}: %{x:,.2f} idle<extra>" + workload + "</extra>",
            )
        )
    fig.update_yaxes(categoryorder="array", categoryarray=order)
    fig.update_xaxes(title_text="idle GPU cost this month")
    return _layout(
        fig,
        height=max(320, 24 * len(top) + 120),
        barmode="stack",
        margin={"l": 260, "r": 20, "t": 30, "b": 40},
    )


def movers_figure(key: str) -> Callable[[list[dict]], go.Figure]:
    def build(rows: list[dict]) -> go.Figure:
        several = _currencies(rows)
        ordered = list(reversed(rows))
        fig = go.Figure(
            go.Bar(
                y=[_named(r[key], r, several) for r in ordered],
                x=[r["change"] for r in ordered],
                orientation="h",
                marker_color=["#E45756" if r["change"] > 0 else "#54A24B" for r in ordered],
                hovertemplate="%{y}: %{x:+,.2f}<extra></extra>",
            )
        )
        fig.update_xaxes(title_text="change in effective cost (this month − same days last month)")
        return _layout(
            fig, height=max(300, 28 * len(rows) + 120), margin={"l": 200, "r": 20, "t": 30, "b": 40}
        )

    return build


def shared_figure(rows: list[dict]) -> go.Figure:
    several = _currencies(rows)
    fig = go.Figure()
    for treatment in sorted({r["treatment"] for r in rows}):
        points = [r for r in rows if r["treatment"] == treatment]
        fig.add_trace(
            go.Bar(
                x=[_named(p["kind"], p, several) for p in points],
                y=[p["effective_cost"] for p in points],
                name=treatment,
            )
        )
    fig.update_yaxes(title_text="effective cost this month")
    return _layout(fig, barmode="relative")


def spread_figure(rows: list[dict]) -> go.Figure:
    several = _currencies(rows)
    fig = go.Figure()
    for category in [c for c in CATEGORY_COLOURS if any(r["category"] == c for r in rows)]:
        totals: dict[str, float] = defaultdict(float)
        for r in rows:
            if r["category"] == category:
                totals[_named(r["workload"], r, several)] += r["effective_cost"]
        fig.add_trace(
            go.Bar(
                x=list(totals),
                y=list(totals.values()),
                name=category,
                marker_color=CATEGORY_COLOURS[category],
            )
        )
    fig.update_yaxes(title_text="shared cost received this month")
    return _layout(fig, barmode="relative")


MONEY_CUR = (Column("billing_currency", "currency"),)

CHARTS: tuple[Chart, ...] = (
    Chart(
        "daily_cost_by_category",
        "Daily effective cost by category, month over month",
        "Amortized cost per UTC day, stacked by category; one panel per month so each day sits above the same "
        "day of the month before.",
        (
            Column("usage_date", "day", "date"),
            Column("category", "category"),
            *MONEY_CUR,
            Column("effective_cost", "effective cost", "money"),
        ),
        daily_cost_figure,
    ),
    Chart(
        "cost_per_1k_predictions",
        "Cost per 1,000 predictions, per model and day",
        "Direct inference compute cost per 1,000 successful predictions (top) and the prediction volume (bottom). "
        "A day without predictions has no cost per 1,000 (a gap, not zero).",
        (
            Column("usage_date", "day", "date"),
            Column("workload", "model"),
            *MONEY_CUR,
            Column("predictions", "predictions", "count"),
            Column("inference_cost", "inference cost", "money"),
            Column("cost_per_1k_predictions", "cost / 1k", "ratio"),
            Column("loaded_cost_per_1k_predictions", "loaded cost / 1k", "ratio"),
        ),
        cost_per_1k_figure,
        "No prediction counts or inference cost for this period.",
    ),
    Chart(
        "gpu_eta_heatmap",
        "GPU efficiency η per instance and day (this month)",
        f"η = active / observed GPU hours, for the {GPU_RESOURCES} GPU resources that cost most this month. Empty "
        "cells: no utilization sample covered the resource that day.",
        (
            Column("resource", "resource"),
            Column("usage_date", "day", "date"),
            Column("workload", "workload"),
            Column("eta", "η", "ratio"),
            Column("coverage", "coverage", "ratio"),
            Column("allocated_gpu_hours", "allocated GPU h", "ratio"),
        ),
        eta_heatmap_figure,
        "No GPU resources were billed this month.",
        limit=GPU_RESOURCES,
    ),
    Chart(
        "idle_cost_by_instance",
        "Idle GPU dollars by instance and workload (this month)",
        f"gpu_cost × (1 − η) per resource, coloured by workload (the {IDLE_BARS} largest drawn, the "
        f"{IDLE_ROWS} largest in the table). Unobserved cost is spend with no utilization data at all.",
        (
            Column("resource", "resource"),
            Column("workload", "workload"),
            Column("instance_type", "instance type"),
            Column("gpu_cost", "GPU cost", "money"),
            Column("idle_cost", "idle cost", "money"),
            Column("unobserved_cost", "unobserved cost", "money"),
            Column("eta", "η", "ratio"),
        ),
        idle_cost_figure,
        "No GPU resources were billed this month.",
        limit=IDLE_ROWS,
    ),
    Chart(
        "top_movers_workload",
        "Top movers by workload",
        f"The {MOVER_LIMIT} workloads whose effective cost changed most: this month to the report's day against "
        "the same days of last month.",
        (
            Column("workload", "workload"),
            *MONEY_CUR,
            Column("last_month", "last month", "money"),
            Column("this_month", "this month", "money"),
            Column("change", "change", "money"),
        ),
        movers_figure("workload"),
        limit=MOVER_LIMIT,
    ),
    Chart(
        "top_movers_service",
        "Top movers by service",
        f"The {MOVER_LIMIT} services whose effective cost changed most, over the same windows.",
        (
            Column("service", "service"),
            *MONEY_CUR,
            Column("last_month", "last month", "money"),
            Column("this_month", "this month", "money"),
            Column("change", "change", "money"),
        ),
        movers_figure("service"),
        limit=MOVER_LIMIT,
    ),
    Chart(
        "shared_and_unattributed",
        "Shared and unattributed cost (this month)",
        "Cost without a natural owner: shared charges by kind (kept as shared, or spread onto workloads by the "
        "rules' sharing strategies) and usage no tag or mapping could name.",
        (
            Column("kind", "kind"),
            Column("treatment", "treatment"),
            *MONEY_CUR,
            Column("effective_cost", "effective cost", "money"),
        ),
        shared_figure,
        "No shared or unattributed cost this month.",
    ),
    Chart(
        "shared_spread_to",
        "Where shared cost was spread (this month)",
        "The categories and workloads that received shared cost under the rules' sharing strategies.",
        (
            Column("category", "category"),
            Column("workload", "workload"),
            Column("shared_kind", "shared kind"),
            *MONEY_CUR,
            Column("effective_cost", "effective cost", "money"),
        ),
        spread_figure,
        "Nothing was spread: every sharing strategy of the rules is `keep`, so shared cost stays in `shared`.",
    ),
)

# The decisions layer's tables (section, title, warehouse table), shown as tables when the warehouse has them
# (sql/report/<section>.sql).
DECISION_TABLES: tuple[tuple[str, str, str], ...] = (
    ("anomalies", "Anomalies", "cost_anomalies"),
    ("forecast", "Forecast", "month_end_forecast"),
    ("budgets", "Budgets", "budget_status"),
    ("recommendations", "Recommendations", "recommendations"),
)
