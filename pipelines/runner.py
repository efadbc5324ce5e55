"""`mlcost run`: materialize everything for a range of billing periods through Dagster, in three runs.

Each run is recorded in the Dagster instance at $DAGSTER_HOME (default: $MLCOST_HOME/dagster_home), so the
runs of `make demo` appear in `make ui`'s history.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from datetime import date, timedelta

from dagster import DagsterInstance

from pipelines import interrupts
from pipelines.config import Settings
from pipelines.instance_config import write_instance_config
from pipelines.lake import pid_alive
from pipelines.partitions import days_from, month_keys, partition_start

RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


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
    defs, job_name: str, instance: DagsterInstance, start: str, end: str, warnings: list[str] | None = None
) -> str:
    job = defs.resolve_job_def(job_name)
    # A stop request that came before this run: do not start it.
    interrupts.raise_if_received()
    from dagster import DagsterExecutionInterruptedError

    try:
        try:
            result = _execute_in_process(job, instance, start, end)
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


def _execute_in_process(job, instance: DagsterInstance, start: str, end: str):
    return job.execute_in_process(
        instance=instance,
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


def run_pipeline(settings: Settings, months: list[str]) -> RunReport:
    """Ingest `months` (YYYY-MM-01 keys), then compute their days, then reconcile them.

    The partitions start at the earliest of these months and the lake's (or at MLCOST_PARTITION_START, which
    must not be after them: refused with one line before anything runs).
    """
    from pipelines.code_location import build_definitions

    start = partition_start(settings, run_months=months)
    defs = build_definitions(settings, start=start)
    instance = dagster_instance(settings)
    release_dead_runs(instance)
    report = RunReport(months=months)
    try:
        return _run_jobs(defs, instance, report, start)
    except interrupts.Interrupted as exc:
        exc.finished = list(report.run_ids)
        # A step stopped between creating its scratch folder and entering its `with` leaves it: remove ours.
        for scratch in settings.tmp.glob(f"write-{os.getpid()}-*"):
            shutil.rmtree(scratch, ignore_errors=True)
        raise


def _run_jobs(defs, instance: DagsterInstance, report: RunReport, start: date) -> RunReport:
    months = report.months
    report.run_ids["ingest_billing"] = _execute(
        defs, "ingest_billing", instance, months[0], months[-1], report.warnings
    )
    last_partition = days_from(start).get_last_partition_key()
    first_day = months[0]
    last_month = date.fromisoformat(months[-1])
    month_end = (last_month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    last_day = min(month_end.isoformat(), last_partition) if last_partition else month_end.isoformat()
    report.first_day, report.last_day = first_day, last_day
    if first_day <= last_day:
        report.run_ids["daily_tables"] = _execute(
            defs, "daily_tables", instance, first_day, last_day, report.warnings
        )
    report.run_ids["monthly_reconciliation"] = _execute(
        defs, "monthly_reconciliation", instance, months[0], months[-1], report.warnings
    )
    return report


def months_between(start: date, end: date) -> list[str]:
    return month_keys(start, end)
