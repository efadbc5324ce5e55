"""Publish gpu_samples, gpu_efficiency_daily and gpu_efficiency_by_device_daily for a range of days (sql/gpu_*.sql)."""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from pipelines.config import REPO_ROOT, Settings
from pipelines.gpu.samples import SAMPLES_SCHEMA, GpuReadResult, read_gpu_samples
from pipelines.s3_sources import read_staged
from pipelines.storage import lake
from pipelines.storage.sqlfiles import load_sql, quote_literal

GPU_TYPES = REPO_ROOT / "pipelines" / "reference" / "gpu_instance_types.csv"
ETA_BASES = ("observed", "allocated")


def register_gpu_types(con: duckdb.DuckDBPyConnection) -> None:
    """The shipped table of GPUs per instance type, used where the bill has no product gpu count.

    Provider-neutral: AWS instance types, Azure VM sizes, Google Cloud machine types and OCI shapes, each row with
    the public page it comes from. Names are compared lower-cased (Azure writes Standard_NC24ads_A100_v4)."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE gpu_instance_types AS SELECT lower(instance_type) AS instance_type, "
        f"gpu_count, gpu_model, provider, source FROM read_csv({quote_literal(str(GPU_TYPES))}, header = true, "
        "columns = {'instance_type': 'VARCHAR', 'gpu_count': 'INTEGER', 'gpu_model': 'VARCHAR', "
        "'provider': 'VARCHAR', 'source': 'VARCHAR'})"
    )


def gpu_counts_from_bill(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """GPUs per SageMaker endpoint name (lower-cased) from the bill: SageMaker's GPUUtilization is a sum over them."""
    register_gpu_types(con)
    rows = con.execute(
        """
        SELECT lower(regexp_extract(a.resource_id, '/([^/]+)$', 1)) AS name,
               max(coalesce(nullif(a.product_gpu_count, 0), t.gpu_count)) AS gpus
        FROM cost_attribution a
        LEFT JOIN gpu_instance_types t
          ON regexp_replace(lower(coalesce(a.instance_type, regexp_extract(a.usage_type, ':(.*)$', 1))), '^ml\\.', '')
             = t.instance_type
        WHERE a.resource_id LIKE 'arn:aws:sagemaker:%' GROUP BY 1 HAVING gpus > 0
        """
    ).fetchall()
    return {name: int(gpus) for name, gpus in rows}


def read_source(
    settings: Settings, gpu_counts: dict[str, int] | None = None, days: tuple[date, date] | None = None
) -> GpuReadResult:
    """Read the configured GPU source, or an empty result when none is configured.

    ``days`` (first, last): read only the files and rows that can bear on those days (see read_gpu_samples)."""
    if not settings.gpu_source:
        return GpuReadResult(samples=pl.DataFrame(schema=SAMPLES_SCHEMA))
    return read_staged(
        settings,
        settings.gpu_source,
        "gpu_logs",
        lambda source: read_gpu_samples(
            source, gpu_counts=gpu_counts, timezone=settings.gpu_timezone, days=days
        ),
    )


def publish_samples(
    con: duckdb.DuckDBPyConnection, settings: Settings, result: GpuReadResult, start: date, end: date
) -> dict[str, int]:
    """Publish the samples whose interval starts in start..end, one file per day."""
    con.register("gpu_sample_rows", result.samples)
    try:
        return lake.publish_days(
            con,
            settings,
            "gpu_samples",
            load_sql("gpu_samples"),
            {"start_date": start, "end_date": end},
            start,
            end,
        )
    finally:
        con.unregister("gpu_sample_rows")


def register_gpu_macros(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """The views and staging macros (sql/staging/gpu_*.sql) both GPU efficiency tables read."""
    register_gpu_types(con)
    lake.register_views(con, settings, ["cost_attribution"])
    lake.register_view_or_empty(con, settings, "gpu_samples")
    con.execute(load_sql("staging/gpu_billed_intervals"))
    con.execute(load_sql("staging/gpu_device_seconds"))


def compute_efficiency(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date, eta_basis: str = "observed"
) -> dict[str, int]:
    """Publish gpu_efficiency_daily for start..end from cost_attribution and gpu_samples."""
    if eta_basis not in ETA_BASES:
        raise ValueError(f"eta basis must be one of {ETA_BASES}")
    register_gpu_macros(con, settings)
    return lake.publish_days(
        con,
        settings,
        "gpu_efficiency_daily",
        load_sql("gpu_efficiency_daily"),
        {"start_date": start, "end_date": end, "eta_basis": eta_basis},
        start,
        end,
    )


def samples_between(con: duckdb.DuckDBPyConnection, start: date, end: date) -> bool:
    """Whether gpu_samples (registered by `register_gpu_macros`) has a sample that can fall in start..end: from the
    day before start (a sample stands for the interval before its timestamp, gpu_device_seconds.sql) to end."""
    found = con.execute(
        "SELECT 1 FROM gpu_samples WHERE usage_date BETWEEN CAST(? AS DATE) - 1 AND CAST(? AS DATE) LIMIT 1",
        [start, end],
    ).fetchone()
    return found is not None


def without_rows(query: str) -> str:
    """`query`'s columns and no row, planned without running it (DuckDB prunes a plan under WHERE false).

    For a table that has no row by definition over the days at hand (a GPU table with no sample to read): its query
    would still group the days' GPU lines of the bill first, 1.5-3.2 s a month at 10M lines with no GPU log
    (bench/analysis.md, section 19): the cost of every day of a backfill older than the logs.
    """
    return f"SELECT * FROM ({query}) WHERE false"


def compute_device_efficiency(
    con: duckdb.DuckDBPyConnection, settings: Settings, start: date, end: date
) -> dict[str, int]:
    """Publish gpu_efficiency_by_device_daily for start..end: η per GPU (or MIG instance) of each resource."""
    register_gpu_macros(con, settings)
    query = load_sql("gpu_efficiency_by_device_daily")
    # A billed GPU without samples has no row here (gpu_efficiency_daily counts it as unobserved).
    return lake.publish_days(
        con,
        settings,
        "gpu_efficiency_by_device_daily",
        query if samples_between(con, start, end) else without_rows(query),
        {"start_date": start, "end_date": end},
        start,
        end,
    )
