"""GPU utilization logs for the last 7 days of the last month, and the efficiency answers they imply.

A sample stamped t stands for [t - interval, t). Only sample time inside the instance's billed hours counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from .company import INSTANCE_TYPES, Company, Resource
from .ids import gpu_uuid, stream
from .periods import DAY, HOUR

WINDOW_DAYS = 7
DCGM_INTERVAL = 60
SMI_INTERVAL = 10
GR_ACTIVE = "DCGM_FI_PROF_GR_ENGINE_ACTIVE"
GPU_UTIL = "DCGM_FI_DEV_GPU_UTIL"
_HELP = {
    GR_ACTIVE: "Ratio of time the graphics engine is active.",
    GPU_UTIL: "GPU utilization (in %).",
}
COMPUTE_LINE_TYPES = ("Usage", "DiscountedUsage", "SavingsPlanCoveredUsage")


@dataclass
class Samples:
    """Counted samples of one instance: end times (epoch s), active ratio per GPU, and the metric used."""

    resource: Resource
    times: np.ndarray  # (n,) sample timestamps, shared by all GPUs
    active: np.ndarray  # (n, gpus) ratio 0..1 as written (after rounding)
    interval: int
    source: str


def _billed_hours(timeline: np.ndarray, span_start: int) -> set[int]:
    return set((span_start + np.flatnonzero(timeline > 0) * HOUR).tolist())


def _sample_times(window_start: int, window_end: int, interval: int) -> np.ndarray:
    return np.arange(window_start + interval, window_end + 1, interval, dtype=np.int64)


def _in_billed(times: np.ndarray, interval: int, billed: set[int]) -> np.ndarray:
    hours = ((times - interval) // HOUR) * HOUR
    return np.fromiter((h in billed for h in hours.tolist()), dtype=bool, count=len(hours))


def write_gpu_logs(out: Path, company: Company, timelines: dict[str, np.ndarray]) -> list[Samples]:
    """Write DCGM scrapes, nvidia-smi CSVs and ``dcgm/hosts.csv`` under ``out``; return what was counted."""
    last = company.months[-1]
    span_start = company.months[0].start
    window_start, window_end = last.end - WINDOW_DAYS * DAY, last.end
    counted: list[Samples] = []
    hosts = []
    for resource in company.of_kind("ec2"):
        if not resource.gpu_log or resource.gpu_log == "none":
            continue
        rng = stream(company.seed, f"gpu/{resource.key}")
        gpus = resource.gpu_count
        uuids = [gpu_uuid(rng) for _ in range(gpus)]
        billed = _billed_hours(timelines[resource.key], span_start)
        if resource.gpu_log.startswith("dcgm"):
            times = _sample_times(window_start, window_end, DCGM_INTERVAL)
            keep = _in_billed(times, DCGM_INTERVAL, billed)
            # The exporter's clock runs ahead: a few scrapes after each burst carry stamps in an hour the bill
            # does not cover. They are written, and must not count.
            after_burst = keep[:-1] & ~keep[1:]
            stray = np.zeros_like(keep)
            for i in np.flatnonzero(after_burst):
                stray[i + 1 : i + 6] = True
            written = keep | stray
            gr, util = _training_activity(rng, times, gpus)
            metrics = {
                "dcgm": (GR_ACTIVE, GPU_UTIL),
                "dcgm-util-only": (GPU_UTIL,),
                "dcgm-lowercase-host": (GR_ACTIVE,),
            }[resource.gpu_log]
            host_label = "hostname" if resource.gpu_log == "dcgm-lowercase-host" else "Hostname"
            # The util-only host is a Kubernetes node: the exporter labels each GPU with the pod holding it (its
            # first six GPUs held by the team's training pods, the last two by none: empty labels), which
            # gpu_cost_by_pod_daily splits the node's GPU cost by. The labels do not change η.
            pods = None
            if resource.gpu_log == "dcgm-util-only":
                team = resource.workload.split("-")[0]
                pods = [
                    (f"{resource.workload}-trainer-{g}", team, "trainer") if g < 6 else ("", "", "")
                    for g in range(gpus)
                ]
            _write_dcgm(
                out / "dcgm" / resource.hostname,
                resource,
                uuids,
                times[written],
                gr[written],
                util[written],
                metrics,
                host_label,
                pods,
            )
            hosts.append((resource.hostname, resource.resource_id))
            active = gr[keep] if GR_ACTIVE in metrics else util[keep] / 100.0
            source = f"dcgm:{GR_ACTIVE if GR_ACTIVE in metrics else GPU_UTIL}"
            counted.append(Samples(resource, times[keep], active, DCGM_INTERVAL, source))
        else:
            times = _sample_times(window_start, window_end, SMI_INTERVAL)
            if resource.gpu_log == "nvidia-smi-half":
                times = times[rng.random(len(times)) < 0.5]
            util, memory = _inference_activity(rng, times, gpus)
            _write_nvidia_smi(
                out / "nvidia-smi" / resource.resource_id / "gpu.csv", resource, uuids, times, util, memory
            )
            keep = _in_billed(times, SMI_INTERVAL, billed)
            counted.append(
                Samples(resource, times[keep], util[keep] / 100.0, SMI_INTERVAL, "nvidia-smi:utilization.gpu")
            )
    (out / "dcgm").mkdir(parents=True, exist_ok=True)
    pl.DataFrame(hosts, schema=["hostname", "instance_id"], orient="row").write_csv(
        out / "dcgm" / "hosts.csv"
    )
    return counted


def _diurnal(times: np.ndarray) -> np.ndarray:
    """Load between 0 and 1, peaking mid-afternoon UTC (US daytime)."""
    hour = (times % DAY) / HOUR
    return 0.5 + 0.5 * np.sin(2 * np.pi * (hour - 9) / 24)


def _training_activity(rng, times: np.ndarray, gpus: int) -> tuple[np.ndarray, np.ndarray]:
    """Busy hours near full engine activity, idle hours (job crashed, box left running) near zero."""
    hour = (times - DCGM_INTERVAL) // HOUR  # the clock hour each sample's interval falls in
    busy_hour = rng.random(int(hour[-1] - hour[0]) + 1) < 0.8
    busy = busy_hour[hour - hour[0]]
    level = np.where(
        busy[:, None], rng.normal(0.82, 0.06, (len(times), gpus)), rng.normal(0.01, 0.005, (len(times), gpus))
    )
    gr = np.round(np.clip(level, 0.0, 1.0), 4)
    # GPU_UTIL reads higher: any kernel in the period counts as busy.
    util = np.clip(
        np.round(
            gr * 100 + np.where(busy[:, None], rng.uniform(8, 15, gr.shape), rng.uniform(0, 3, gr.shape))
        ),
        0,
        100,
    )
    return gr, util


def _inference_activity(rng, times: np.ndarray, gpus: int) -> tuple[np.ndarray, np.ndarray]:
    load = _diurnal(times)[:, None]
    util = np.clip(np.round(10 + 70 * load + rng.normal(0, 6, (len(times), gpus))), 0, 100)
    memory = np.round(9000 + 3000 * load + rng.normal(0, 150, (len(times), gpus))).astype(np.int64)
    return util, memory


def _write_dcgm(
    folder: Path, resource: Resource, uuids, times, gr, util, metrics, host_label: str, pods=None
) -> None:
    """Prometheus text scrapes with millisecond timestamps, one file per UTC day of scrape time.

    ``pods``: per GPU, the (pod, namespace, container) labels the exporter writes on Kubernetes, or None."""
    folder.mkdir(parents=True, exist_ok=True)
    model = INSTANCE_TYPES[resource.instance_type].gpu_model
    gpus = len(uuids)
    blocks = []
    for order, metric in enumerate(metrics):
        values = gr if metric == GR_ACTIVE else util.astype(np.int64)
        labels = [
            f'{metric}{{gpu="{g}",UUID="{uuids[g]}",device="nvidia{g}",modelName="{model}",'
            f'{host_label}="{resource.hostname}"'
            + (f',container="{pods[g][2]}",namespace="{pods[g][1]}",pod="{pods[g][0]}"' if pods else "")
            + "} "
            for g in range(gpus)
        ]
        n = len(times)
        samples = pl.DataFrame(
            {
                "t": np.repeat(times, gpus),
                "order": order,
                "line": np.tile(np.arange(gpus), n) + 2,
                "text": pl.Series(np.tile(np.arange(gpus), n)).replace_strict(
                    dict(enumerate(labels)), return_dtype=pl.String
                )
                + pl.Series(values.reshape(-1)).cast(pl.String)
                + " "
                + pl.Series(np.repeat(times * 1000, gpus)).cast(pl.String),
            }
        )
        headers = pl.DataFrame(
            {
                "t": np.repeat(times, 2),
                "order": order,
                "line": np.tile([0, 1], n),
                "text": np.tile([f"# HELP {metric} {_HELP[metric]}", f"# TYPE {metric} gauge"], n),
            }
        )
        blocks += [
            samples.with_columns(pl.col("order").cast(pl.Int64)),
            headers.with_columns(pl.col("order").cast(pl.Int64)),
        ]
    lines = pl.concat(blocks, how="vertical_relaxed").sort("t", "order", "line")
    lines = lines.with_columns(pl.from_epoch("t", time_unit="s").dt.date().alias("day"))
    for (day,), part in lines.group_by("day", maintain_order=True):
        (folder / f"{day.isoformat()}.prom").write_text("\n".join(part["text"].to_list()) + "\n")


def _write_nvidia_smi(path: Path, resource: Resource, uuids, times, util, memory) -> None:
    """What ``nvidia-smi --query-gpu=timestamp,index,uuid,name,utilization.gpu,memory.used --format=csv``
    prints: units inside the values, host-local (here UTC) timestamps with no zone."""
    path.parent.mkdir(parents=True, exist_ok=True)
    gpus = len(uuids)
    model = INSTANCE_TYPES[resource.instance_type].gpu_model
    index = np.tile(np.arange(gpus), len(times))
    frame = pl.DataFrame(
        {
            "t": np.repeat(times, gpus) * 1000,
            "index": index,
            "util": util.reshape(-1).astype(np.int64),
            "mem": memory.reshape(-1),
        }
    ).with_columns(pl.from_epoch("t", time_unit="ms").dt.strftime("%Y/%m/%d %H:%M:%S%.3f").alias("ts"))
    text = frame.select(
        pl.concat_str(
            [
                pl.col("ts"),
                pl.lit(", "),
                pl.col("index").cast(pl.String),
                pl.lit(", "),
                pl.col("index").replace_strict(dict(enumerate(uuids)), return_dtype=pl.String),
                pl.lit(f", {model}, "),
                pl.col("util").cast(pl.String),
                pl.lit(" %, "),
                pl.col("mem").cast(pl.String),
                pl.lit(" MiB"),
            ]
        )
    ).to_series()
    header = "timestamp, index, uuid, name, utilization.gpu [%], memory.used [MiB]"
    path.write_text(header + "\n" + "\n".join(text.to_list()) + "\n")


def gpu_answers(charges: pl.DataFrame, counted: list[Samples], company: Company) -> pl.DataFrame:
    """Per day and GPU resource: allocated, observed and active GPU-hours, coverage, eta, idle cost."""
    by_id = {r.resource_id: r for r in company.resources}
    compute = charges.filter(
        (pl.col("gpu_count") > 0)
        & pl.col("line_item_type").is_in([*COMPUTE_LINE_TYPES, "SavingsPlanNegation"])
        & pl.col("product_family").is_in(["Compute Instance", "ML Instance"])
    ).with_columns(pl.from_epoch("start", time_unit="s").dt.date().alias("usage_date"))
    allocated = compute.group_by("usage_date", "resource_id").agg(
        (pl.col("usage_amount") * pl.col("gpu_count"))
        .filter(pl.col("line_item_type") != "SavingsPlanNegation")
        .sum()
        .alias("allocated_gpu_hours"),
        pl.col("effective").sum().alias("gpu_cost"),
        pl.col("gpu_count").first(),
        pl.col("instance_type").first(),
        pl.col("category").first(),
        pl.col("workload").first(),
    )
    observed_parts = []
    for s in counted:
        days = pl.from_epoch(pl.Series(s.times - s.interval), time_unit="s").dt.date()
        frame = (
            pl.DataFrame(
                {
                    "usage_date": days,
                    "observed": np.full(len(s.times), s.active.shape[1] * s.interval / HOUR),
                    "active": s.active.sum(axis=1) * s.interval / HOUR,
                }
            )
            .group_by("usage_date")
            .agg(pl.col("observed").sum(), pl.col("active").sum())
        )
        observed_parts.append(
            frame.with_columns(
                pl.lit(s.resource.resource_id).alias("resource_id"), pl.lit(s.source).alias("metric_source")
            )
        )
    observed = (
        pl.concat(observed_parts)
        if observed_parts
        else pl.DataFrame(
            schema={
                "usage_date": pl.Date,
                "observed": pl.Float64,
                "active": pl.Float64,
                "resource_id": pl.String,
                "metric_source": pl.String,
            }
        )
    )
    result = (
        allocated.join(observed, on=["usage_date", "resource_id"], how="left")
        .with_columns(
            pl.col("observed").fill_null(0.0).alias("observed_gpu_hours"),
            pl.col("active").fill_null(0.0).alias("active_gpu_hours"),
        )
        .with_columns(
            (pl.col("observed_gpu_hours") / pl.col("allocated_gpu_hours")).alias("coverage"),
            pl.when(pl.col("observed_gpu_hours") > 0)
            .then(pl.col("active_gpu_hours") / pl.col("observed_gpu_hours"))
            .alias("eta"),
            (pl.col("active_gpu_hours") / pl.col("allocated_gpu_hours")).alias("eta_allocated"),
        )
        .with_columns((pl.col("gpu_cost") * (1 - pl.col("eta"))).alias("idle_cost"))
        .select(
            "usage_date",
            "resource_id",
            "workload",
            "category",
            "instance_type",
            "gpu_count",
            "allocated_gpu_hours",
            "observed_gpu_hours",
            "active_gpu_hours",
            "coverage",
            "eta",
            "eta_allocated",
            "gpu_cost",
            "idle_cost",
            "metric_source",
        )
        .sort("usage_date", "resource_id")
    )
    missing = set(result["resource_id"].to_list()) - set(by_id)
    if missing:
        raise AssertionError(f"GPU lines for unknown resources {sorted(missing)}")
    return result
