"""Dagster assets for GPU efficiency: gpu_samples (the logs, normalized) and gpu_efficiency_daily (η, idle cost)."""

from datetime import date

import duckdb
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
)

from pipelines.config import Settings
from pipelines.gpu.efficiency import (
    compute_device_efficiency,
    compute_efficiency,
    gpu_counts_from_bill,
    publish_samples,
    read_source,
)
from pipelines.orchestration.checks import check_rows, rows_table
from pipelines.orchestration.data_through import daily_through
from pipelines.orchestration.lake_assets import CheckWords, lake_asset, lake_asset_body
from pipelines.orchestration.partition_figures import (
    add_per_partition,
    money,
    of_run,
    ratio,
    this,
)
from pipelines.orchestration.partitions import day_range
from pipelines.orchestration.resources import MlcostResource
from pipelines.storage import lake

# Below this share of billed GPU time with samples, η describes too little of the fleet to act on.
COVERAGE_WARN_BELOW = 0.5


@lake_asset_body("gpu_samples")
def gpu_samples(context: AssetExecutionContext, mlcost: MlcostResource) -> MaterializeResult:
    """GPU utilization samples from DCGM, nvidia-smi and CloudWatch/SageMaker exports, one metric per row (0–1)."""
    settings = mlcost.settings()
    start, end = day_range(context)
    con = lake.connect(settings)
    lake.register_views(con, settings, ["cost_attribution"])
    # Only the files and rows that can hold samples of these days are parsed: a one-day rerun reads one day.
    result = read_source(settings, gpu_counts_from_bill(con), days=(start, end))
    written = publish_samples(con, settings, result, start, end)
    for reason in result.rejected_files.values():
        context.log.warning(f"GPU log rejected: {reason}")
    rejected = "\n".join(f"- {reason}" for reason in result.rejected_files.values()) or "none"
    through, recent = daily_through(settings, "gpu_samples")
    add_per_partition(context, written)
    return MaterializeResult(
        check_results=[recent],
        metadata={
            **through,
            of_run("rows", start, end): sum(written.values()),
            "files_read": len(result.files_read),
            "files_outside_days": len(result.files_outside_days),
            "files_rejected": len(result.rejected_files),
            "lines_skipped": sum(result.skipped_lines.values()),
            "duplicate_samples_dropped": result.duplicate_samples,
            "rejected": MetadataValue.md(rejected),
        },
    )


def _ratio(value: float | None) -> str:
    return "NULL" if value is None else f"{value:.3f}"


def _hours(value: float | None) -> str:
    return "0.00" if value is None else f"{value:,.2f}"


def least_busy_devices(con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date) -> dict:
    """The five devices with the lowest η over the run's days: on an 8-GPU host, which GPUs idled."""
    idle = con.execute(
        "SELECT resource_id, device, round(sum(active_gpu_hours) / nullif(sum(observed_gpu_hours), 0), 3) AS eta "
        "FROM gpu_efficiency_by_device_daily WHERE usage_date BETWEEN ? AND ? GROUP BY ALL "
        "HAVING eta IS NOT NULL ORDER BY eta, resource_id, device LIMIT 5",
        [start, end],
    ).fetchall()
    return {
        "least_busy_devices": MetadataValue.md(
            "\n".join(
                ["| resource | device | η |", "|---|---|---:|"]
                + [f"| {r} | {d} | {e:.3f} |" for r, d, e in idle]
            )
        )
    }


gpu_efficiency_by_device_daily = lake_asset(
    "gpu_efficiency_by_device_daily", compute=compute_device_efficiency, figures=least_busy_devices
)


@lake_asset_body("gpu_cost_by_pod_daily")
def gpu_cost_by_pod_daily(context: AssetExecutionContext, mlcost: MlcostResource):
    """A Kubernetes GPU node's GPU cost split by the GPU time each pod held (DCGM pod labels, MLCOST_POD_WORKLOADS)."""
    # Imported here so that this appended asset leaves the module's shared import block alone (merge of branches).
    from pipelines.gpu.pods import compute_pod_costs

    settings = mlcost.settings()
    start, end = day_range(context)
    con = lake.connect(settings)
    written = compute_pod_costs(con, settings, start, end)
    mismatched: list[dict] = []
    top: list[tuple] = []
    pods, by_default = 0, 0
    if lake.has_data(settings, "gpu_cost_by_pod_daily"):
        lake.register_views(con, settings, ["gpu_cost_by_pod_daily"])
        mismatched = check_rows(con, "gpu_cost_by_pod_daily", "pod_split_adds_up_to_node_cost", start, end)
        top = con.execute(
            "SELECT workload, round(fsum(gpu_cost), 2) AS cost, round(sum(gpu_hours), 2) AS hours "
            "FROM gpu_cost_by_pod_daily WHERE usage_date BETWEEN ? AND ? GROUP BY ALL ORDER BY cost DESC LIMIT 10",
            [start, end],
        ).fetchall()
        pods, by_default = con.execute(
            "SELECT count(DISTINCT (namespace, pod)), count(DISTINCT (namespace, pod)) FILTER (WHERE workload_rule "
            "NOT LIKE 'line %') FROM gpu_cost_by_pod_daily WHERE pod IS NOT NULL AND usage_date BETWEEN ? AND ?",
            [start, end],
        ).fetchone()
    # A mapping file with no pod to apply it to: the logs carry no Kubernetes labels (or none in these days).
    no_pods = bool(settings.pod_workloads) and not pods
    if no_pods:
        context.log.warning(
            f"MLCOST_POD_WORKLOADS is set but no GPU sample of {start}..{end} names a pod (DCGM labels pod, "
            "exported_pod or pod_name): gpu_cost_by_pod_daily is empty"
        )
    add_per_partition(context, written)
    yield MaterializeResult(
        metadata={
            of_run("rows", start, end): sum(written.values()),
            "pods": pods,
            "pods_by_default_rule": by_default,
            "top_workloads": MetadataValue.md(
                "\n".join(
                    ["| workload | GPU cost | GPU hours |", "|---|---:|---:|"]
                    + [f"| {w} | {c:,.2f} | {h:,.2f} |" for w, c, h in top]
                )
            ),
        },
        check_results=[
            AssetCheckResult(
                check_name="pod_split_adds_up_to_node_cost",
                passed=not mismatched,
                description="each node's pod, __idle__ and __unobserved__ rows add up to its GPU cost to the cent",
                metadata={"rows": len(mismatched), "examples": rows_table(mismatched)},
            ),
            AssetCheckResult(
                check_name="pods_found_for_pod_workloads",
                passed=not no_pods,
                severity=AssetCheckSeverity.WARN,
                description="MLCOST_POD_WORKLOADS is set but no GPU sample of these days names a pod"
                if no_pods
                else "GPU samples name pods, or no pod mapping file is set",
                metadata={"pods": pods, "pods_by_default_rule": by_default},
            ),
        ],
    )


def _efficiency_figures(rows: list[dict]) -> dict:
    """One day's coverage, η (active / observed GPU time), GPU and idle cost; NULL ratios without GPU time."""
    (r,) = rows or [{"coverage": None, "eta": None, "idle_cost": 0, "gpu_cost": 0, "allocated": 0}]
    return {
        this("coverage"): ratio(r["coverage"]),
        this("η active/observed"): ratio(r["eta"]),
        this("idle cost"): money(r["idle_cost"]),
        this("GPU cost"): money(r["gpu_cost"]),
        this("allocated GPU hours"): round(float(r["allocated"] or 0), 6),
    }


def efficiency_figures(con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date) -> dict:
    """The run's coverage, η, idle and GPU cost, and the five resources that idled most."""
    where, params = "WHERE usage_date BETWEEN ? AND ?", [start, end]
    coverage, idle, gpu, eta = con.execute(
        "SELECT sum(observed_gpu_hours) / nullif(sum(allocated_gpu_hours), 0), fsum(idle_cost), fsum(gpu_cost), "
        f"sum(active_gpu_hours) / nullif(sum(observed_gpu_hours), 0) FROM gpu_efficiency_daily {where}",
        params,
    ).fetchone()
    top = con.execute(
        f"SELECT resource_id, workload, round(fsum(idle_cost), 2) AS idle FROM gpu_efficiency_daily {where} "
        "GROUP BY ALL HAVING idle IS NOT NULL ORDER BY idle DESC LIMIT 5",
        params,
    ).fetchall()
    return {
        "coverage": ratio(coverage),
        "η active/observed": ratio(eta),
        "idle cost": money(idle),
        "GPU cost": money(gpu),
        "top idle": MetadataValue.md(
            "\n".join(
                ["| resource | workload | idle cost |", "|---|---|---:|"]
                + [f"| {r} | {w} | {c:,.2f} |" for r, w, c in top]
            )
        ),
    }


def describe_coverage(rows: list[dict]) -> str | None:
    """The coverage warning: the run's days, the share of billed GPU hours with samples, the most unobserved."""
    if not rows:
        return None
    (r,) = rows
    unobserved = "; ".join(
        f"{u['resource_id']} {_hours(u['gpu_hours'])} GPU h" for u in r["most_unobserved"] or []
    )
    return (
        f"{r['first_day']} … {r['last_day']}: {r['coverage']:.1%} of {_hours(r['allocated_gpu_hours'])} billed GPU "
        f"hours had utilization samples, below {COVERAGE_WARN_BELOW:.0%}; most unobserved: {unobserved or 'none'}"
    )


gpu_efficiency_daily = lake_asset(
    "gpu_efficiency_daily",
    compute=lambda con, settings, start, end: compute_efficiency(
        con, settings, start, end, settings.eta_basis
    ),
    figures=efficiency_figures,
    # One grouped query: each day's own figures go on that day's materialization.
    day_figures=(
        "SELECT usage_date, sum(observed_gpu_hours) / nullif(sum(allocated_gpu_hours), 0) AS coverage, "
        "sum(active_gpu_hours) / nullif(sum(observed_gpu_hours), 0) AS eta, fsum(idle_cost) AS idle_cost, "
        "fsum(gpu_cost) AS gpu_cost, sum(allocated_gpu_hours) AS allocated FROM gpu_efficiency_daily "
        "WHERE usage_date BETWEEN ? AND ? GROUP BY ALL",
        _efficiency_figures,
    ),
    checks={
        "eta_in_range_and_active_within_allocated": CheckWords(
            line=lambda r: (
                f"{r['usage_date']} {r['resource_id']}: η {_ratio(r['eta'])}, active "
                f"{_hours(r['active_gpu_hours'])} / observed {_hours(r['observed_gpu_hours'])} / allocated "
                f"{_hours(r['allocated_gpu_hours'])} GPU h"
            ),
            what="resource-day(s) out of range",
            passed="0 ≤ η ≤ 1, and active ≤ observed ≤ allocated GPU hours",
            rows_key="examples",
        ),
        "coverage_above_threshold": CheckWords(
            describe=describe_coverage,
            params=lambda settings: {"min_coverage": COVERAGE_WARN_BELOW},
            rows_key="coverage_below_threshold",
            figures=lambda rows: {
                "coverage": ratio(rows[0]["coverage"]) if rows else None,
                "allocated_gpu_hours": float(rows[0]["allocated_gpu_hours"]) if rows else None,
            },
        ),
        "gpu_count_matches_bill": CheckWords(
            line=lambda r: (
                f"{r['usage_date']} {r['resource_id']} ({r['instance_type']}): {r['gpus_in_log']} "
                f"GPUs in the logs, {r['gpus_billed']} billed"
            ),
            what="resource-day(s) whose logs show another GPU count than the bill",
            passed="the logs show as many GPUs per resource and day as the bill has running at once",
            rows_key="examples",
            figures=lambda rows: {
                "observed_beyond_allocated_gpu_hours": float(
                    sum(r["observed_beyond_allocated_gpu_hours"] or 0 for r in rows)
                )
            },
        ),
    },
)
