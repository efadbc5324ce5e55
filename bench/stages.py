"""One measured benchmark stage per process: `python -m bench.stages STAGE --data DIR --home DIR --result F`.

Each stage runs in its own child process (started by bench/run.py) so that its peak memory is its own and no
stage warms a cache for the next inside one interpreter. A stage times only its work (imports and set-up are
outside the clock) and writes a JSON result: seconds, rows (the source lines the stage covers), rows_out
(rows it wrote) and stage-specific details.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# Every stage's result has these keys; `extra` holds the stage's own breakdown.
Result = dict


def month_bounds(month: str) -> tuple[date, date]:
    """First and last day of a YYYY-MM month."""
    first = date.fromisoformat(month + "-01")
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    return first, last


def data_files(data: Path) -> list[Path]:
    """The generated month's CUR 2.0 Parquet files, in name order."""
    files = sorted((data / "cur2").rglob("*.parquet"))
    if not files:
        raise SystemExit(f"no Parquet files under {data / 'cur2'}: generate the month first")
    return files


def _settings(args: argparse.Namespace):
    from pipelines.config import Settings

    # Everything else (memory limit, threads) comes from the environment bench/run.py prepared.
    os.environ["MLCOST_HOME"] = str(args.home)
    os.environ["MLCOST_CUR_SOURCE"] = str(args.data / "cur2")
    return Settings.from_env()


class _Clock:
    """Accumulates the wall time of named sub-steps, including ones reached by wrapping a function."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        # Peak RSS so far when each part first ended: the part that raised it is the one to blame.
        self.peak_after: dict[str, int] = {}

    def add(self, key: str, seconds: float) -> None:
        self.times[key] = self.times.get(key, 0.0) + seconds

    def wrap(self, owner: object, name: str, key: str) -> None:
        """Time every call of owner.name under `key`; a name the code no longer has is skipped."""
        fn = getattr(owner, name, None)
        if fn is None:
            return

        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.add(key, time.perf_counter() - t0)
                self.peak_after.setdefault(key, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)

        setattr(owner, name, timed)


class _Timer:
    """Wall and CPU seconds (all threads of this process) of the work inside a `with` block."""

    def __enter__(self) -> _Timer:
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall
        self.cpu = time.process_time() - self._cpu


# --- generation ---------------------------------------------------------------------------------------------


def stage_generate(args: argparse.Namespace) -> Result:
    """Generate the model company's month at `--lines` (bench/run.py caches the folder)."""
    from fixtures.model_company.scaled import generate_scaled_month

    with _Timer() as tm:
        answers = generate_scaled_month(args.data, lines=args.lines, month=args.month, seed=args.seed)
    info = answers["billing_periods"][args.month]["cur2"]
    size = sum(p.stat().st_size for p in data_files(args.data))
    return {
        "seconds": tm.wall,
        "cpu_seconds": tm.cpu,
        "rows": args.lines,
        "rows_out": info["lines"],
        "extra": {"bytes": size, "files": len(info["files"]), "billed_cost": info["billed_cost"]},
    }


# Where stage_time_order writes the month in time order, inside the generated month's folder (cached with it).
TIME_ORDERED = "time_ordered"
# Lines per file of the time-ordered copy: as many as the generator's files hold.
_TIME_ORDERED_FILE_LINES = 4_000_000


def stage_time_order(args: argparse.Namespace) -> Result:
    """The generated month as an exporter writing in time order would deliver it, into `--data`/time_ordered/cur2:
    every line as generated, ordered by usage start time (then resource and the line's place), in files of at most
    4M lines. Data preparation, like `generate` (bench/run.py caches it and times no stage by it): the ingestion of
    such a delivery is judged against the floor of the same files (pipelines/billing/ingest.py,
    `clustered_as_delivered`)."""
    import duckdb
    import pyarrow.parquet as pq

    from pipelines.storage.sqlfiles import quote_literal

    out = args.data / TIME_ORDERED / "cur2"
    shutil.rmtree(out.parent, ignore_errors=True)
    out.mkdir(parents=True)
    whole = out.parent / "sorted.parquet"
    with _Timer() as tm, duckdb.connect() as con:
        con.execute("SET preserve_insertion_order = true")
        con.execute("SET memory_limit = '4GB'")  # preparation, not a measured stage: the sort may spill
        con.execute(f"SET temp_directory = {quote_literal(str(out.parent / 'spill'))}")
        con.execute(
            f"COPY (SELECT * EXCLUDE (filename, file_row_number) FROM {_read(data_files(args.data))} "
            "ORDER BY line_item_usage_start_date, "
            f"line_item_resource_id, filename, file_row_number) TO {quote_literal(str(whole))} "
            "(FORMAT parquet, COMPRESSION snappy)"
        )
        lines = pq.ParquetFile(whole).metadata.num_rows
        files = []
        for first in range(0, lines, _TIME_ORDERED_FILE_LINES):
            part = out / f"time-ordered-{len(files) + 1:05d}.snappy.parquet"
            # A filter on the row number keeps the file's order (no sort, no join).
            con.execute(
                f"COPY (SELECT * EXCLUDE (file_row_number) FROM read_parquet({quote_literal(str(whole))}, "
                "file_row_number = true) WHERE file_row_number >= ? AND file_row_number < ?) "
                f"TO {quote_literal(str(part))} (FORMAT parquet, COMPRESSION snappy)",
                [first, first + _TIME_ORDERED_FILE_LINES],
            )
            files.append(part)
    whole.unlink()
    shutil.rmtree(out.parent / "spill", ignore_errors=True)
    return {
        "seconds": tm.wall,
        "cpu_seconds": tm.cpu,
        "rows": lines,
        "rows_out": lines,
        "extra": {"files": len(files), "bytes": sum(f.stat().st_size for f in files)},
    }


# --- the floor ----------------------------------------------------------------------------------------------

# The least any ingestion must do: read each source column once, cast it, write the normalized columns once.
# The same ~30 line_items columns as sql/line_items.sql, by the plainest expression that gives each.
FLOOR_COLUMNS = (
    "CAST(date_trunc('month', bill_billing_period_start_date) AS DATE) AS billing_period",
    "CAST(line_item_usage_start_date AS TIMESTAMP) AS charge_period_start",
    "CAST(line_item_usage_end_date AS TIMESTAMP) AS charge_period_end",
    "CAST(line_item_usage_start_date AS DATE) AS usage_date",
    "'AWS' AS provider",
    "bill_payer_account_id AS billing_account_id",
    "line_item_usage_account_id AS sub_account_id",
    "line_item_product_code AS service_code",
    "line_item_usage_type AS usage_type",
    "line_item_operation AS operation",
    "line_item_resource_id AS resource_id",
    "product_region_code AS region",
    "line_item_availability_zone AS availability_zone",
    "NULLIF(product_instance_type, '') AS instance_type",
    "product_product_family AS product_family",
    "line_item_line_item_type AS line_item_type",
    "CASE WHEN line_item_line_item_type IN ('Usage', 'SavingsPlanCoveredUsage', 'SavingsPlanNegation', "
    "'DiscountedUsage') THEN 'Usage' ELSE 'Other' END AS charge_category",
    "line_item_line_item_description AS charge_description",
    "CAST(line_item_usage_amount AS DOUBLE) AS usage_quantity",
    "pricing_unit",
    "CAST(line_item_unblended_cost AS DOUBLE) AS billed_cost",
    "CASE line_item_line_item_type "
    "WHEN 'SavingsPlanCoveredUsage' THEN savings_plan_savings_plan_effective_cost "
    "WHEN 'SavingsPlanNegation' THEN 0 WHEN 'DiscountedUsage' THEN reservation_effective_cost "
    "ELSE line_item_unblended_cost END AS effective_cost",
    "CAST(pricing_public_on_demand_cost AS DOUBLE) AS list_cost",
    "line_item_currency_code AS billing_currency",
    "NULLIF(bill_invoice_id, '') AS invoice_id",
    "NULLIF(bill_invoicing_entity, '') AS invoice_issuer",
    "NULLIF(line_item_legal_entity, '') AS publisher",
    "TRY_CAST(product['gpu'] AS INTEGER) AS product_gpu_count",
    "coalesce(NULLIF(reservation_reservation_a_r_n, ''), NULLIF(savings_plan_savings_plan_a_r_n, '')) "
    "AS commitment_id",
    "CAST(resource_tags AS MAP(VARCHAR, VARCHAR)) AS tags",
    "filename AS source_file",
    "file_row_number + 1 AS source_row",
    "$delivery_id AS delivery_id",
)


def _read(files: list[Path]) -> str:
    from pipelines.storage.sqlfiles import quote_literal

    # File paths are SQL text here (a table function's argument list), not data: quoted as literals.
    return (
        "read_parquet(["
        + ", ".join(quote_literal(str(f)) for f in files)
        + "], filename = true, file_row_number = true)"
    )


def stage_floor_copy(args: argparse.Namespace) -> Result:
    """One DuckDB pass: read the raw export once, write the normalized columns once (zstd, as the lake)."""
    from pipelines.storage import lake
    from pipelines.storage.sqlfiles import quote_literal

    settings = _settings(args)
    files = data_files(args.data)
    out = args.home / "floor" / "line_items.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    con = lake.connect(settings)  # the same memory limit, threads and spill folder as every pipeline step
    with _Timer() as tm:
        rows = con.execute(
            f"COPY (SELECT {', '.join(FLOOR_COLUMNS)} FROM {_read(files)}) TO {quote_literal(str(out))} "
            "(FORMAT parquet, COMPRESSION zstd)",
            {"delivery_id": "floor"},
        ).fetchone()[0]
    return {
        "seconds": tm.wall,
        "cpu_seconds": tm.cpu,
        "rows": int(rows),
        "rows_out": int(rows),
        "extra": {"columns": len(FLOOR_COLUMNS), "bytes_written": out.stat().st_size},
    }


def stage_floor_scan(args: argparse.Namespace) -> Result:
    """One aggregate scan of the raw export: cost per day and line item type."""
    from pipelines.storage import lake

    settings = _settings(args)
    files = data_files(args.data)
    con = lake.connect(settings)
    with _Timer() as tm:
        rows = con.execute(
            "SELECT CAST(line_item_usage_start_date AS DATE) AS day, line_item_line_item_type, "
            "count(*) AS n, "
            "sum(line_item_unblended_cost), sum(pricing_public_on_demand_cost), "
            f"sum(savings_plan_savings_plan_effective_cost) FROM {_read(files)} GROUP BY ALL"
        ).fetchall()
    return {
        "seconds": tm.wall,
        "cpu_seconds": tm.cpu,
        "rows": int(sum(r[2] for r in rows)),
        "rows_out": len(rows),
        "extra": {"billed_cost": round(sum(r[3] for r in rows), 2)},
    }


# --- the pipeline's stages, called as its Dagster assets call them ------------------------------------------


# How ingestion writes line_items: as delivered when its order already groups days, otherwise one sort up to
# ONE_SORT_MAX_LINES, above it pass 1 and pass 2.
WRITE_PARTS = ("_write_as_delivered", "_write_in_one_sort", "_split_by_day", "_append_days_in_order")


def stage_ingest(args: argparse.Namespace) -> Result:
    """Discover the deliveries and ingest them to line_items (ingest_deliveries), with its parts timed."""
    from pipelines.billing import deliveries as deliveries_mod
    from pipelines.billing import ingest as ingest_mod
    from pipelines.storage import lake

    settings = _settings(args)
    clock = _Clock()
    # Wrapped from outside (the pipeline code is not changed): where an ingestion's seconds go.
    clock.wrap(ingest_mod, "stage_delivery", "stage_delivery")
    clock.wrap(ingest_mod, "_validate", "validate")
    clock.wrap(ingest_mod, "_refuse_repeated_lines", "repeated_lines_check")
    clock.wrap(ingest_mod, "period_totals", "period_totals")
    clock.wrap(ingest_mod, "keep_history", "keep_history")
    # Inside stage_delivery: the line_items write, one sort or two passes (pipelines/billing/ingest.py).
    for name in WRITE_PARTS:
        clock.wrap(ingest_mod, name, name)
    clock.wrap(lake.PartitionWriter, "stage", "split_periods")
    clock.wrap(lake.PartitionWriter, "publish", "publish")
    con = lake.connect(settings)
    with _Timer() as tm:
        t0 = time.perf_counter()
        found = deliveries_mod.discover_deliveries(settings.cur_source, staging_dir=settings.staging)
        clock.add("discover", time.perf_counter() - t0)
        written = ingest_mod.ingest_deliveries(con, settings, found)
    seconds = tm.wall
    rows = sum(v["rows"] for v in written.values())
    parts = {k: v for k, v in clock.times.items() if k not in WRITE_PARTS}
    inner = parts.get("validate", 0.0) + parts.get("repeated_lines_check", 0.0)
    if "stage_delivery" in parts:
        # One COPY reads the export and writes the staged (later published) file.
        parts["normalize_and_write"] = parts.pop("stage_delivery") - inner
    parts["other"] = seconds - sum(parts.values())
    # Already inside normalize_and_write: labelled "of which".
    parts.update({f"of which {k}": v for k, v in clock.times.items() if k in WRITE_PARTS})
    effective = sum(m["effective_cost"] for v in written.values() for m in v["currencies"].values())
    return {
        "seconds": seconds,
        "cpu_seconds": tm.cpu,
        "rows": rows,
        "rows_out": rows,
        "extra": {
            "parts": parts,
            "peak_rss_after": clock.peak_after,
            "effective_cost": round(effective, 2),
            "files": len(found[0].files) if found else 0,
        },
    }


def _line_count(settings, start: date, end: date) -> int:
    from pipelines.storage import lake

    con = lake.connect(settings)
    lake.register_views(con, settings, ["line_items"])
    return con.execute(
        "SELECT count(*) FROM line_items WHERE usage_date BETWEEN ? AND ?", [start, end]
    ).fetchone()[0]


def stage_attribute(args: argparse.Namespace) -> Result:
    """The month's attribution: attribute + summarize_by_category + reconcile, each timed."""
    from pipelines.attribution.compute import attribute, reconcile, summarize_by_category
    from pipelines.attribution.rules import load_rules
    from pipelines.storage import lake

    settings = _settings(args)
    rules = load_rules(settings.rules_path)
    start, end = month_bounds(args.month)
    rows = _line_count(settings, start, end)
    con = lake.connect(settings)
    parts: dict[str, float] = {}
    with _Timer() as tm:
        t0 = time.perf_counter()
        written = attribute(con, settings, rules, start, end)
        parts["attribute"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        summarize_by_category(con, settings, start, end)
        parts["summarize_by_category"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        recon = reconcile(con, settings, start, start)
        parts["reconcile"] = time.perf_counter() - t1
    lake.register_views(con, settings, ["cost_by_category_daily"])
    by_category = dict(
        con.execute(
            "SELECT category, round(fsum(effective_cost), 2) FROM cost_by_category_daily GROUP BY 1"
        ).fetchall()
    )
    return {
        "seconds": tm.wall,
        "cpu_seconds": tm.cpu,
        "rows": rows,
        "rows_out": sum(written.values()),
        "extra": {
            "parts": parts,
            "by_category": by_category,
            "reconciliation_difference": max((abs(r["difference"]) for r in recon), default=None),
        },
    }


def stage_gpu_predictions(args: argparse.Namespace) -> Result:
    """GPU efficiency and cost per prediction for the month, with no GPU or prediction source configured."""
    from pipelines.gpu import efficiency
    from pipelines.predictions import cost
    from pipelines.storage import lake

    settings = _settings(args)
    start, end = month_bounds(args.month)
    con = lake.connect(settings)
    lake.register_views(con, settings, ["cost_attribution"])
    rows = con.execute(
        "SELECT count(*) FROM cost_attribution WHERE usage_date BETWEEN ? AND ?", [start, end]
    ).fetchone()[0]
    parts: dict[str, float] = {}
    written = 0
    # The order the daily job runs them: samples (from the bill's GPU counts), efficiency, predictions, cost.
    with _Timer() as tm:
        t1 = time.perf_counter()
        samples = efficiency.read_source(settings, efficiency.gpu_counts_from_bill(con))
        written += sum(efficiency.publish_samples(con, settings, samples, start, end).values())
        parts["gpu_samples"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        written += sum(efficiency.compute_efficiency(con, settings, start, end, settings.eta_basis).values())
        parts["gpu_efficiency_daily"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        written += sum(
            cost.publish_predictions(con, settings, cost.read_source(settings), start, end).values()
        )
        parts["predictions_daily"] = time.perf_counter() - t1
        t1 = time.perf_counter()
        written += sum(cost.compute_cost_per_prediction(con, settings, start, end).values())
        parts["cost_per_prediction_daily"] = time.perf_counter() - t1
    return {
        "seconds": tm.wall,
        "cpu_seconds": tm.cpu,
        "rows": rows,
        "rows_out": written,
        "extra": {
            "parts": parts,
            "gpu_source": settings.gpu_source,
            "predictions_source": settings.predictions_source,
        },
    }


def stage_restate_day(args: argparse.Namespace) -> Result:
    """Recompute one day after a restatement: attribute (and summarize) for that day only."""
    from pipelines.attribution import compute
    from pipelines.attribution.rules import load_rules
    from pipelines.storage import lake

    settings = _settings(args)
    rules = load_rules(settings.rules_path)
    day = date.fromisoformat(args.day) if args.day else month_bounds(args.month)[0] + timedelta(days=14)
    rows = _line_count(settings, day, day)
    con = lake.connect(settings)
    with _Timer() as tm:
        t0 = time.perf_counter()
        written = compute.attribute(con, settings, rules, day, day)
        attribute_seconds = time.perf_counter() - t0
        compute.summarize_by_category(con, settings, day, day)
    seconds = tm.wall
    # The lines the day's attribution query read (its table macro, left on the connection): the day's and those
    # spanning it, against the month's.
    spreading = any(strategy != "keep" for strategy in rules.strategies.values())
    lines_read = con.execute(
        "SELECT count(*) FROM attribution_lines(?, ?, ?)", [day, day, spreading]
    ).fetchone()[0]
    return {
        "seconds": seconds,
        "cpu_seconds": tm.cpu,
        "rows": rows,
        "rows_out": sum(written.values()),
        "extra": {
            "day": day.isoformat(),
            "lines_read": int(lines_read),
            "parts": {
                "attribute": attribute_seconds,
                "summarize_by_category": seconds - attribute_seconds,
            },
        },
    }


# --- Dagster ------------------------------------------------------------------------------------------------


def _wall(cmd: list[str], env: dict | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, env=env, cwd=REPO, stdout=subprocess.DEVNULL)
    return time.perf_counter() - t0


def stage_import_definitions(args: argparse.Namespace) -> Result:
    """Process start + definitions load: `python -c "import pipelines.definitions"`, median of three."""
    py = sys.executable
    bare = statistics.median(_wall([py, "-c", "pass"]) for _ in range(3))
    walls = [_wall([py, "-c", "import pipelines.definitions"]) for _ in range(3)]
    return {
        "seconds": statistics.median(walls),
        "rows": 0,
        "rows_out": 0,
        "extra": {"walls": walls, "python_startup": bare},
    }


def stage_e2e(args: argparse.Namespace) -> Result:
    """`mlcost run` for the month in a subprocess (three Dagster runs), and where its wall time went."""
    home = args.home / "e2e"
    dagster_home = home / "dagster_home"
    dagster_home.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.update(
        MLCOST_HOME=str(home),
        DAGSTER_HOME=str(dagster_home),
        MLCOST_PARTITION_START=args.month + "-01",
        MLCOST_CUR_SOURCE=str(args.data / "cur2"),
    )
    # What the `mlcost` script runs (pipelines.cli:main), from the code this process imports (the snapshot).
    cmd = [sys.executable, "-m", "pipelines.cli", "run", "--from", args.month, "--to", args.month]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"mlcost run failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    # Waited-for children's usage is the `mlcost run` process's own: its peak (KiB on Linux) and CPU time.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_peak = usage.ru_maxrss * 1024
    runs = _dagster_runs(dagster_home)
    # `mlcost run` prints the time of run_pipeline (the three Dagster runs, without start-up and summary).
    # (Its progress lines come first, one per Dagster step: match the summary line itself.)
    said = re.search(r"^mlcost run: .* in ([0-9.]+) s ", done.stdout, re.MULTILINE)
    steps = sum(r["steps_seconds"] for r in runs)
    rows = _published_rows(home, args.month)
    return {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "rows": rows,
        "rows_out": rows,
        "extra": {
            "runs": runs,
            "steps_seconds": steps,
            "overhead_seconds": seconds - steps,
            "run_pipeline_seconds": float(said.group(1)) if said else None,
            "child_peak_rss": child_peak,
            "stdout_tail": [line for line in done.stdout.splitlines() if line.startswith("mlcost run:")][:1],
        },
    }


def _dagster_runs(dagster_home: Path) -> list[dict]:
    """Each run of the instance: job, wall time (start to end), and the sum of its steps' times."""
    os.environ["DAGSTER_HOME"] = str(dagster_home)
    from dagster import DagsterInstance

    instance = DagsterInstance.get()
    runs = sorted(instance.get_runs(), key=lambda r: instance.get_run_stats(r.run_id).start_time or 0)
    return [_run_figures(instance, run) for run in runs]


def _run_figures(instance, run) -> dict:
    stats = instance.get_run_stats(run.run_id)
    steps = instance.get_run_step_stats(run.run_id)
    step_times = {
        s.step_key: (s.end_time - s.start_time) for s in steps if s.start_time is not None and s.end_time
    }
    # Every event is a row written (and committed) to the instance's SQLite storage.
    events = instance.all_logs(run.run_id)
    return {
        "job": run.job_name,
        "run_id": run.run_id,
        "status": str(run.status.value),
        "run_seconds": (stats.end_time or 0) - (stats.start_time or 0),
        "steps_seconds": sum(step_times.values()),
        "steps": step_times,
        "events": len(events),
        "asset_events": sum(
            1
            for e in events
            if e.dagster_event_type is not None
            and e.dagster_event_type.value in ("ASSET_MATERIALIZATION", "ASSET_MATERIALIZATION_PLANNED")
        ),
    }


def stage_rerun_day(args: argparse.Namespace) -> Result:
    """One day rerun through Dagster after `e2e`, on its home and instance: the daily_tables job for that day.

    What the UI's "materialize" of one daily partition does after a restatement: every daily table of the day,
    with its checks. Its share is of the month's daily_tables run, which the e2e stage left in the instance."""
    home = args.home / "e2e"
    dagster_home = home / "dagster_home"
    month_runs = [
        r for r in _dagster_runs(dagster_home) if r["job"] == "daily_tables" and r["status"] == "SUCCESS"
    ]
    if not month_runs:
        raise SystemExit(f"no finished daily_tables run in {dagster_home}: run the e2e stage first")
    os.environ.update(
        MLCOST_HOME=str(home),
        MLCOST_PARTITION_START=args.month + "-01",
        MLCOST_CUR_SOURCE=str(args.data / "cur2"),
    )
    from pipelines.config import Settings
    from pipelines.orchestration import runner
    from pipelines.orchestration.code_location import build_definitions
    from pipelines.orchestration.partitions import partition_start

    settings = Settings.from_env()
    day = date.fromisoformat(args.day) if args.day else month_bounds(args.month)[0] + timedelta(days=14)
    defs = build_definitions(settings, start=partition_start(settings, run_months=[args.month + "-01"]))
    instance = runner.dagster_instance(settings)
    with _Timer() as tm:
        run_id = runner._execute(defs, "daily_tables", instance, day.isoformat(), day.isoformat())
    run = _run_figures(instance, instance.get_run_by_id(run_id))
    month = month_runs[-1]
    return {
        "seconds": tm.wall,
        "cpu_seconds": tm.cpu,
        "rows": _line_count(settings, day, day),
        "rows_out": 0,
        "extra": {
            "day": day.isoformat(),
            "run": run,
            "month_daily_tables_seconds": month["run_seconds"],
            "month_daily_tables_steps": month["steps"],
            "share_of_month_run": run["run_seconds"] / month["run_seconds"] if month["run_seconds"] else None,
        },
    }


def _published_rows(home: Path, month: str) -> int:
    import pyarrow.parquet as pq

    path = home / "lake" / "line_items" / f"billing_period={month}-01" / "data.parquet"
    return pq.ParquetFile(path).metadata.num_rows if path.exists() else 0


# --- pandas -------------------------------------------------------------------------------------------------


def stage_pandas(args: argparse.Namespace) -> Result:
    """The straightforward pandas ingestion + attribution (bench/pandas_baseline.py) on the same files."""
    from bench import pandas_baseline

    out = args.home / "pandas"
    out.mkdir(parents=True, exist_ok=True)
    files = data_files(args.data)
    with _Timer() as tm:
        t0 = time.perf_counter()
        lines = pandas_baseline.ingest(files, out / "line_items.parquet")
        t1 = time.perf_counter()
        daily = pandas_baseline.attribute(lines, out / "cost_by_category_daily.parquet")
        t2 = time.perf_counter()
    by_category = {k: round(v, 2) for k, v in daily.groupby("category")["effective_cost"].sum().items()}
    return {
        "seconds": tm.wall,
        "cpu_seconds": tm.cpu,
        "rows": len(lines),
        "rows_out": len(daily),
        "extra": {"parts": {"ingest": t1 - t0, "attribute": t2 - t1}, "by_category": by_category},
    }


STAGES: dict[str, Callable[[argparse.Namespace], Result]] = {
    "generate": stage_generate,
    "time_order": stage_time_order,
    "floor_copy": stage_floor_copy,
    # The same two stages on the month in time order (bench/run.py passes --data <month>/time_ordered).
    "floor_copy_time_ordered": stage_floor_copy,
    "ingest_time_ordered": stage_ingest,
    "floor_scan": stage_floor_scan,
    "ingest": stage_ingest,
    "attribute": stage_attribute,
    "gpu_predictions": stage_gpu_predictions,
    "restate_day": stage_restate_day,
    "import_definitions": stage_import_definitions,
    "e2e": stage_e2e,
    "rerun_day": stage_rerun_day,
    "pandas": stage_pandas,
}


def main(argv: list[str] | None = None) -> int:
    """Run one stage and write its result as JSON (to --result, else stdout)."""
    parser = argparse.ArgumentParser(prog="python -m bench.stages", description=__doc__)
    parser.add_argument("stage", choices=sorted(STAGES))
    parser.add_argument("--data", type=Path, required=True, help="the generated month (holds cur2/)")
    parser.add_argument("--home", type=Path, required=True, help="MLCOST_HOME for this benchmark size")
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--lines", type=int, default=0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--day", help="the restated day (default: the 15th of the month)")
    parser.add_argument("--result", type=Path)
    args = parser.parse_args(argv)
    args.data, args.home = args.data.resolve(), args.home.resolve()
    result = STAGES[args.stage](args)
    result["stage"] = args.stage
    result["self_peak_rss"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    text = json.dumps(result, indent=2, default=str)
    if args.result:
        args.result.write_text(text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
