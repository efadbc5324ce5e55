"""`mlcost run`: materialize everything for a range of billing periods through Dagster, in three runs.

Each run is recorded in the Dagster instance at $DAGSTER_HOME (default: $MLCOST_HOME/dagster_home), so the
runs of `make demo` appear in `make ui`'s history.
"""

from __future__ import annotations

import os
import shutil
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from dagster import DagsterInstance

from pipelines.config import Settings
from pipelines.orchestration import interrupts
from pipelines.orchestration.instance_config import write_instance_config
from pipelines.orchestration.partitions import RANGE_END, RANGE_START, days_from, month_keys, partition_start
from pipelines.progress import Progress
from pipelines.storage.lake import pid_alive


class RunFailed(Exception):
    """A Dagster run failed; the message is the failing step's error (an InputError's text for bad input)."""


@dataclass
class RunReport:
    run_ids: dict[str, str] = field(default_factory=dict)
    months: list[str] = field(default_factory=list)
    first_day: str | None = None
    last_day: str | None = None
    # Failed warning checks ("asset check: description"): the run succeeded, but a user must hear about these.
    warnings: list[str] = field(default_factory=list)


def dagster_instance(settings: Settings) -> DagsterInstance:
    """The persistent instance (run history) under DAGSTER_HOME, created under MLCOST_HOME if unset."""
    home = os.environ.get("DAGSTER_HOME") or str(settings.home / "dagster_home")
    os.environ["DAGSTER_HOME"] = os.path.abspath(home)
    # The same instance settings as `make ui` (pool limit, run retries, no telemetry), so runs agree with the UI.
    write_instance_config(home, settings.dagster_storage)
    return DagsterInstance.get()


def _failure_message(result) -> str:
    """The failing step's error, as one line for a user: an InputError's own text, else its class and text."""
    for event in result.all_events:
        if event.event_type_value != "STEP_FAILURE":
            continue
        error = event.event_specific_data.error
        chain = []
        while error is not None:
            chain.append(error)
            error = error.cause
        for err in chain:
            if err.cls_name in ("InputError", "DownloadError", "TransientS3Error"):
                return err.message.strip().removeprefix(f"pipelines.errors.{err.cls_name}: ").splitlines()[0]
        last = chain[-1]
        return f"{last.cls_name}: {last.message.strip().splitlines()[0]}"
    return "the run failed (see the Dagster UI for the run's logs)"


def release_dead_runs(instance: DagsterInstance) -> list[str]:
    """Runs of `mlcost run` whose process is gone (killed) still hold their pool slots and would make every later
    run wait forever: free those slots and mark the runs failed. Returns the run ids released."""
    from dagster import DagsterRunStatus, RunsFilter

    released = []
    runs = instance.get_runs(
        filters=RunsFilter(
            statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.NOT_STARTED],
            tags={"mlcost/launched_by": "mlcost run"},
        )
    )
    for run in runs:
        pid = int(run.tags.get("mlcost/pid", "0") or 0)
        if pid and pid != os.getpid() and not pid_alive(pid):
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            instance.report_run_failed(run)
            released.append(run.run_id)
    return released


def _execute(
    defs,
    job_name: str,
    instance: DagsterInstance,
    start: str,
    end: str,
    warnings: list[str] | None = None,
    progress: Progress | None = None,
) -> str:
    job = defs.resolve_job_def(job_name)
    # A stop request that came before this run: do not start it.
    interrupts.raise_if_received()
    from dagster import DagsterExecutionInterruptedError

    try:
        try:
            result = _execute_in_process(job, instance, start, end, progress)
        except (DagsterExecutionInterruptedError, KeyboardInterrupt):
            interrupts.raise_if_received()
            raise
        # Dagster forgets a signal that came after the run's last step: the run may have ended as a success.
        interrupts.raise_if_received()
    except interrupts.Interrupted as exc:
        exc.during = job_name
        raise
    if not result.success:
        raise RunFailed(f"{job_name} ({start} … {end}): {_failure_message(result)}")
    if warnings is not None:
        for check in result.get_asset_check_evaluations():
            what = check.description or "failed (its rows are in the check's metadata: make ui)"
            text = f"{check.asset_key.to_user_string()} {check.check_name}: {what}"
            if not check.passed and text not in warnings:
                warnings.append(text)
    return result.run_id


def _execute_in_process(
    job,
    instance: DagsterInstance,
    start: str,
    end: str,
    progress: Progress | None = None,
    asset_selection=None,
):
    # The run id is chosen here so that the progress listener is on the instance before the run's first event.
    run_id = str(uuid.uuid4())
    if progress is not None:
        instance.add_event_listener(run_id, step_listener(progress, job.name, run_id))
    return job.execute_in_process(
        run_id=run_id,
        instance=instance,
        asset_selection=asset_selection,
        # The run's full event log, tracebacks included, is in the Dagster instance (make ui); the terminal
        # gets only this module's one-line summary of a failure.
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        tags={
            RANGE_START: start,
            RANGE_END: end,
            "mlcost/launched_by": "mlcost run",
            "mlcost/pid": str(os.getpid()),
        },
        raise_on_error=False,
    )


def step_listener(progress: Progress, job_name: str, run_id: str):
    """A Dagster event listener that tells `progress` each step's start, rows so far and end.

    Rows are the `dagster/row_count` of the step's materializations: a step over a range of days reports the
    same count on each day's event, so the count is kept per asset, not added up per event.
    """
    rows: dict[str, dict[str, int]] = {}

    def on_event(entry) -> None:
        event = entry.dagster_event
        if event is None or not event.step_key:
            return
        kind, step = event.event_type_value, event.step_key
        key = f"{run_id}/{step}"
        if kind == "STEP_START":
            progress.start(key, f"{job_name} [{run_id[:8]}] {step}")
        elif kind == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            count = materialization.metadata.get("dagster/row_count")
            if count is not None:
                per_asset = rows.setdefault(step, {})
                per_asset[materialization.asset_key.to_user_string()] = int(count.value)
                progress.rows(key, sum(per_asset.values()))
        elif kind == "STEP_SUCCESS":
            counted = rows.get(step)
            progress.finish(key, rows=sum(counted.values()) if counted else None)
        elif kind == "STEP_FAILURE":
            progress.finish(key, ok=False)

    return on_event


def run_pipeline(settings: Settings, months: list[str], progress: Progress | None = None) -> RunReport:
    """Ingest `months` (YYYY-MM-01 keys), then compute their days, then reconcile them.

    The partitions start at the earliest of these months and the lake's (or at MLCOST_PARTITION_START, which
    must not be after them: refused with one line before anything runs).
    """
    from pipelines.orchestration.code_location import build_definitions

    start = partition_start(settings, run_months=months)
    defs = build_definitions(settings, start=start)
    instance = dagster_instance(settings)
    release_dead_runs(instance)
    report = RunReport(months=months)
    try:
        if settings.executor == "multiprocess":
            return _run_jobs_in_parallel(settings, defs, instance, report, start)
        return _run_jobs(defs, instance, report, start, progress)
    except interrupts.Interrupted as exc:
        exc.finished = list(report.run_ids)
        # A step stopped between creating its scratch folder and entering its `with` leaves it: remove ours.
        for scratch in settings.tmp.glob(f"write-{os.getpid()}-*"):
            shutil.rmtree(scratch, ignore_errors=True)
        raise


def _day_span(report: RunReport, start: date) -> tuple[str, str]:
    """First and last day of the months of the run (not after the last daily partition: yesterday)."""
    months = report.months
    last_partition = days_from(start).get_last_partition_key()
    first_day = months[0]
    last_month = date.fromisoformat(months[-1])
    month_end = (last_month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    last_day = min(month_end.isoformat(), last_partition) if last_partition else month_end.isoformat()
    report.first_day, report.last_day = first_day, last_day
    return first_day, last_day


def _run_jobs(
    defs, instance: DagsterInstance, report: RunReport, start: date, progress: Progress | None = None
) -> RunReport:
    months = report.months
    report.run_ids["ingest_billing"] = _execute(
        defs, "ingest_billing", instance, months[0], months[-1], report.warnings, progress
    )
    first_day, last_day = _day_span(report, start)
    if first_day <= last_day:
        report.run_ids["daily_tables"] = _execute(
            defs, "daily_tables", instance, first_day, last_day, report.warnings, progress
        )
    report.run_ids["monthly_reconciliation"] = _execute(
        defs, "monthly_reconciliation", instance, months[0], months[-1], report.warnings, progress
    )
    return report


# --- MLCOST_EXECUTOR=multiprocess: partitions in parallel runs --------------------------------------------------

# Daily assets that read other days than their own (cost_anomalies: each day's trailing 28 days): they run once
# over the whole range after the parallel runs, never beside them.
CROSS_DAY_ASSETS = ("cost_anomalies",)


def chunks(keys: list[str], workers: int) -> list[tuple[str, str]]:
    """`keys` (in order) cut into at most `workers` contiguous ranges of near-equal length: (first, last) each."""
    n = max(1, min(workers, len(keys)))
    size, extra = divmod(len(keys), n)
    out, i = [], 0
    for c in range(n):
        j = i + size + (1 if c < extra else 0)
        out.append((keys[i], keys[j - 1]))
        i = j
    return out


def _run_jobs_in_parallel(
    settings: Settings, defs, instance: DagsterInstance, report: RunReport, start: date
) -> RunReport:
    """The three runs of `_run_jobs`, with billing months and day ranges as parallel runs, each in its own process.

    Runs cover whole billing periods (a month's days are checked together against its line_items). Each
    partition is written by one run only (its range is nobody else's), into its own Parquet file, renamed
    into place: two runs never write the same file, and DuckDB's one-writer rule is never in play (each step's
    connection is its own, in memory). The only shared writer is the reconciliation, which publishes the
    generation and rebuilds warehouse.duckdb: it stays one run, after all the others. The lake pool
    `mlcost_lake` gets MLCOST_MAX_WORKERS slots (each step holds up to MLCOST_DUCKDB_MEMORY_LIMIT).
    """
    from pipelines.orchestration.instance_config import POOL

    instance.event_log_storage.set_concurrency_slots(POOL, settings.max_workers)
    months = report.months
    month_ranges = [(m, m) for m in months]
    report.run_ids.update(_parallel(settings, start, "ingest_billing", month_ranges, None, report))
    first_day, last_day = _day_span(report, start)
    if first_day <= last_day:
        job = defs.resolve_job_def("daily_tables")
        local = [key for key in job.asset_layer.executable_asset_keys if key.path[-1] not in CROSS_DAY_ASSETS]
        # Whole billing periods per run: cost_attribution's blocking check compares each period's published days
        # with its line_items, so a period's days are computed by one run, never split between two.
        ranges = [
            (first, min(_month_end(last), last_day))
            for first, last in chunks(months, settings.max_workers)
            if first <= last_day
        ]
        report.run_ids.update(_parallel(settings, start, "daily_tables", ranges, local, report))
        cross = [key for key in job.asset_layer.executable_asset_keys if key.path[-1] in CROSS_DAY_ASSETS]
        if cross:
            report.run_ids["daily_tables (cross-day)"] = _parallel(
                settings, start, "daily_tables", [(first_day, last_day)], cross, report
            )["daily_tables"]
    report.run_ids["monthly_reconciliation"] = _execute(
        defs, "monthly_reconciliation", instance, months[0], months[-1], report.warnings
    )
    return report


def _month_end(month: str) -> str:
    first = date.fromisoformat(month)
    return ((first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)).isoformat()


def _parallel(settings: Settings, start: date, job_name: str, ranges, asset_keys, report: RunReport) -> dict:
    """Run `job_name` once per (first, last) range, in parallel processes; {job name [#i]: run id}."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    interrupts.raise_if_received()
    names = [k.path for k in asset_keys] if asset_keys is not None else None
    if len(ranges) == 1:  # one range: no process to start
        (first, last), *_ = ranges
        results = [_range_run(settings, start, job_name, first, last, names)]
    else:
        # spawn, not fork: a forked copy of a process holding Dagster's and DuckDB's threads can deadlock.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=len(ranges), mp_context=context) as pool:
            futures = [pool.submit(_range_run, settings, start, job_name, a, b, names) for a, b in ranges]
            results = [f.result() for f in futures]
    interrupts.raise_if_received()
    ids = {}
    for i, ((first, last), (run_id, failure, warnings)) in enumerate(zip(ranges, results, strict=True)):
        ids[job_name if len(ranges) == 1 else f"{job_name} #{i + 1}"] = run_id
        for text in warnings:
            if text not in report.warnings:
                report.warnings.append(text)
        if failure is not None:
            raise RunFailed(f"{job_name} ({first} … {last}): {failure}")
    return ids


def _range_run(settings: Settings, start: date, job_name: str, first: str, last: str, asset_names):
    """One run of `job_name` over first..last in this process: (run id, failure or None, warning lines)."""
    from dagster import AssetKey

    from pipelines.orchestration.code_location import build_definitions

    defs = build_definitions(settings, start=start)
    selection = [AssetKey(path) for path in asset_names] if asset_names is not None else None
    with DagsterInstance.get() as instance:  # DAGSTER_HOME: set by dagster_instance() in the parent
        result = _execute_in_process(
            defs.resolve_job_def(job_name), instance, first, last, asset_selection=selection
        )
    warnings = []
    for check in result.get_asset_check_evaluations():
        what = check.description or "failed (its rows are in the check's metadata: make ui)"
        if not check.passed:
            warnings.append(f"{check.asset_key.to_user_string()} {check.check_name}: {what}")
    return result.run_id, None if result.success else _failure_message(result), warnings


def months_between(start: date, end: date) -> list[str]:
    return month_keys(start, end)
