"""Kubernetes: which workload each pod's GPU time belongs to, and the daily split of a node's GPU cost by pod.

The DCGM exporter's ``pod``/``namespace`` labels (kept in ``gpu_samples``) say which pod held a GPU at each sample.
``MLCOST_POD_WORKLOADS`` names a CSV of rules, one per line, read top to bottom, the first match winning::

    namespace,pod,workload,gpu_fraction
    team-x,trainer-*,llm-training,
    team-z,chat-*,chat,0.5

``namespace`` and ``pod`` are shell-style patterns (``chat-*`` is a prefix; empty or ``*`` matches any);
``gpu_fraction`` is the share of one GPU the pod requested (time-slicing, fractional GPU schedulers), empty for a
whole GPU. A pod no rule matches, and every pod when there is no file, takes the default rule: workload = its
namespace, else its pod name; a whole GPU. ``gpu_cost_by_pod_daily`` (sql/gpu_cost_by_pod_daily.sql) does the split.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from pipelines.config import Settings
from pipelines.gpu.efficiency import register_gpu_macros, without_rows
from pipelines.gpu.pod_workloads import PodRule, read_pod_workloads
from pipelines.storage import lake
from pipelines.storage.sqlfiles import load_sql

# The named rows of gpu_cost_by_pod_daily that hold no pod (pod and namespace NULL), so a node's split adds up.
IDLE_WORKLOAD = "__idle__"  # observed GPU time that no pod held (or the part a fractional pod left)
UNOBSERVED_WORKLOAD = "__unobserved__"  # billed GPU time without samples: not known to be idle
MAP_COLUMNS = {
    "namespace": pl.Utf8,
    "pod": pl.Utf8,
    "workload": pl.Utf8,
    "gpu_fraction": pl.Float64,
    "workload_rule": pl.Utf8,
}


def resolve_pods(pods: list[tuple[str | None, str]], rules: list[PodRule]) -> pl.DataFrame:
    """Workload and GPU fraction of each (namespace, pod): the first matching rule, else the default rule."""
    rows = []
    for namespace, pod in pods:
        rule = next((r for r in rules if r.matches(namespace, pod)), None)
        if rule is not None:
            rows.append((namespace, pod, rule.workload, rule.gpu_fraction, f"line {rule.line}"))
        else:
            rows.append((namespace, pod, namespace or pod, 1.0, "namespace" if namespace else "pod"))
    return pl.DataFrame(rows, schema=MAP_COLUMNS, orient="row")


def compute_pod_costs(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date
) -> dict[str, int]:
    """Publish gpu_cost_by_pod_daily for start..end: each node's GPU cost split by the GPU time its pods held."""
    rules = read_pod_workloads(Path(settings.pod_workloads)) if settings.pod_workloads else []
    register_gpu_macros(con, settings)
    pods = con.execute(
        "SELECT DISTINCT namespace, pod FROM gpu_samples WHERE pod IS NOT NULL "
        "AND usage_date BETWEEN CAST(? AS DATE) - 1 AND CAST(? AS DATE) ORDER BY ALL",
        [start, end],
    ).fetchall()
    con.register("pod_workload_map", resolve_pods(pods, rules))
    query = load_sql("gpu_cost_by_pod_daily")
    try:
        return lake.publish_days(
            con,
            settings,
            "gpu_cost_by_pod_daily",
            # A node whose logs name no pod that day has no row: with no pod at all, no row.
            query if pods else without_rows(query),
            {
                "start_date": start,
                "end_date": end,
                "idle_workload": IDLE_WORKLOAD,
                "unobserved_workload": UNOBSERVED_WORKLOAD,
            },
            start,
            end,
        )
    finally:
        con.unregister("pod_workload_map")
