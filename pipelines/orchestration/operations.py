"""Running mlcost unattended: the nightly schedule, the delivery sensor, the run chain, freshness, retries.

The decisions (which months and days) are pure functions in `pipelines/orchestration/refresh_plan.py`; this module reads the
facts they need (manifests, the lake's files, the Dagster instance) and turns their answer into runs.
docs/operations.md is the operator's guide.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    AssetSpec,
    DagsterInstance,
    DagsterRunStatus,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    FreshnessPolicy,
    RunRequest,
    RunStatusSensorContext,
    ScheduleEvaluationContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_status_sensor,
    schedule,
    sensor,
)

from pipelines.billing.s3 import TRANSIENT_MAX_RETRIES, transient_retry_seconds  # noqa: F401 (re-exported)
from pipelines.config import Settings
from pipelines.errors import InputError
from pipelines.orchestration.jobs import daily_tables, ingest_billing, monthly_reconciliation
from pipelines.orchestration.partitions import RANGE_END, RANGE_START, is_daily, partition_start
from pipelines.orchestration.refresh_plan import (
    NIGHTLY_CRON,
    RefreshPlan,
    changed_deliveries,
    decode_cursor,
    decode_ranges,
    delivery_plan,
    encode_cursor,
    encode_ranges,
    month_start,
    months_of,
    nightly_plan,
    period_days,
    utc_date,
    yesterday,
)
from pipelines.orchestration.resources import MlcostResource
from pipelines.storage import lake
from pipelines.storage.generations import pending_periods

# Run tags that carry the rest of a chain: the chain sensor reads them from the run that just succeeded.
TAG_THEN_DAYS = "mlcost/then_days"
TAG_THEN_RECONCILE = "mlcost/then_reconcile"
TAG_LAUNCHED_BY = "mlcost/launched_by"
TAG_PARENT_RUN = "mlcost/parent_run"

# Listing manifests is a few small requests; every 15 minutes catches each of AWS's daily refreshes promptly.
DELIVERY_SENSOR_INTERVAL_SECONDS = 15 * 60
# The nightly lands yesterday by about 06:30 UTC; 36 hours leaves one missed night before the UI turns red.
DAILY_FRESHNESS = FreshnessPolicy.time_window(fail_window=timedelta(hours=36))


def first_day(context=None, settings: Settings | None = None) -> date:
    """The first day partition: that of the loaded definitions (the context's), else where they would start."""
    try:
        repository = context.repository_def if context is not None else None
    except Exception:  # noqa: BLE001 - a context built without definitions (tests) has none
        repository = None
    if repository is not None:
        return repository.asset_graph.get(AssetKey("line_items")).partitions_def.start.date()
    return partition_start(settings or Settings.from_env())


# --- facts the decisions need -------------------------------------------------------------------------------


def line_items_written(settings: Settings) -> dict[str, float]:
    """Billing period -> modification time of its published line_items file (changed only by a rewrite)."""
    written = {}
    for period in lake.published_partitions(settings, "line_items"):
        try:
            written[period] = lake.partition_path(settings, "line_items", period).stat().st_mtime
        except FileNotFoundError:
            continue  # replaced or removed between the listing and the stat: the next tick sees it
    return written


def days_computed(
    instance: DagsterInstance, written: Mapping[str, float], *, first: date, through: date
) -> dict[str, float]:
    """Day -> time of its latest cost_attribution materialization, for days computed after their month's file.

    One query per billing period, filtered to materializations after that period's line_items file was
    written, so the answer stays small however long the history; days missing from it are stale.
    """
    computed: dict[str, float] = {}
    for period, when in written.items():
        wanted = period_days(period, first_day=first, through=through)
        if not wanted:
            continue
        cursor = None
        while True:
            result = instance.fetch_materializations(
                AssetRecordsFilter(
                    asset_key=AssetKey("cost_attribution"), asset_partitions=wanted, after_timestamp=when
                ),
                limit=1000,
                cursor=cursor,
            )
            for record in result.records:
                key = record.partition_key
                if key is not None:
                    computed[key] = max(computed.get(key, 0.0), record.timestamp)
            if not result.has_more:
                break
            cursor = result.cursor
    return computed


def published_fingerprints(settings: Settings, periods: list[str]) -> dict[str, str]:
    """Billing period -> fingerprint of the delivery published in the lake, for the given periods."""
    from pipelines.billing.ingest import published_state

    out = {}
    for period in periods:
        state = published_state(settings, period)
        if state and state.get("fingerprint"):
            out[period] = str(state["fingerprint"])
    return out


# --- from a plan to runs -------------------------------------------------------------------------------


def ingest_request(plan: RefreshPlan, *, launched_by: str, run_key: str) -> RunRequest:
    """The ingest_billing run of a plan; its tags carry the day ranges the chain recomputes after it."""
    tags = {TAG_LAUNCHED_BY: launched_by}
    if plan.day_ranges:
        tags[TAG_THEN_DAYS] = encode_ranges(plan.day_ranges)
    periods = plan.billing_periods
    if len(periods) == 1:
        return RunRequest(run_key=run_key, job_name=ingest_billing.name, partition_key=periods[0], tags=tags)
    # Several months: one single-run backfill, as `mlcost run` does.
    tags.update({RANGE_START: periods[0], RANGE_END: periods[-1]})
    return RunRequest(run_key=run_key, job_name=ingest_billing.name, tags=tags)


def chain_requests(job_name: str, run_id: str, tags: Mapping[str, str]) -> list[RunRequest]:
    """What follows a successful run: ingest -> a daily_tables run per day range -> their reconciliation.

    Runs without the chain tags (`mlcost run`, a rerun from the UI) are not followed.
    """
    launched_by = tags.get(TAG_LAUNCHED_BY, "mlcost chain")
    requests = []
    if job_name == ingest_billing.name:
        for start, end in decode_ranges(tags.get(TAG_THEN_DAYS)):
            requests.append(
                RunRequest(
                    run_key=f"{run_id}:{daily_tables.name}:{start}",
                    job_name=daily_tables.name,
                    tags={
                        RANGE_START: start,
                        RANGE_END: end,
                        TAG_THEN_RECONCILE: encode_ranges([months_of((start, end))]),
                        TAG_LAUNCHED_BY: launched_by,
                        TAG_PARENT_RUN: run_id,
                    },
                )
            )
    elif job_name == daily_tables.name:
        for start, end in decode_ranges(tags.get(TAG_THEN_RECONCILE)):
            requests.append(
                RunRequest(
                    run_key=f"{run_id}:{monthly_reconciliation.name}:{start}",
                    job_name=monthly_reconciliation.name,
                    tags={
                        RANGE_START: start,
                        RANGE_END: end,
                        TAG_LAUNCHED_BY: launched_by,
                        TAG_PARENT_RUN: run_id,
                    },
                )
            )
    return requests


# --- the schedule and the sensors ----------------------------------------------------------------------


@schedule(
    name="nightly",
    cron_schedule=NIGHTLY_CRON,
    execution_timezone="UTC",
    job=ingest_billing,
    default_status=DefaultScheduleStatus.RUNNING,
    description="06:00 UTC: ingest the current billing period (and the previous one in a month's first "
    "5 days), then recompute their days up to yesterday, yesterday, and any day a restatement made stale; "
    "then reconcile those months.",
)
def nightly(context: ScheduleEvaluationContext, mlcost: MlcostResource):
    """Bring every asset up to date (plan: `refresh_plan.nightly_plan`; the chain sensor runs the rest)."""
    now = context.scheduled_execution_time or datetime.now(UTC)
    settings = mlcost.settings()
    first = first_day(context, settings)
    written = line_items_written(settings)
    computed = days_computed(context.instance, written, first=first, through=yesterday(now))
    unpublished = pending_periods(settings)
    plan = nightly_plan(now, written, computed, first_day=first, unpublished=unpublished)
    if not plan.billing_periods:
        return SkipReason(f"no billing period is due at {now:%Y-%m-%d %H:%M} UTC (partitions start {first})")
    return ingest_request(plan, launched_by="nightly", run_key=f"nightly-{utc_date(now)}")


@sensor(
    name="billing_delivery_sensor",
    job=ingest_billing,
    minimum_interval_seconds=DELIVERY_SENSOR_INTERVAL_SECONDS,
    default_status=DefaultSensorStatus.RUNNING,
    description="Reads the billing source's manifests only; a new or changed delivery of a month requests "
    "its ingestion, then (chain) its days up to yesterday and its reconciliation. "
    "Cursor: JSON of month -> manifest fingerprint.",
)
def billing_delivery_sensor(context: SensorEvaluationContext, mlcost: MlcostResource):
    """Request ingest_billing for each billing period whose manifest fingerprint changed since last tick."""
    from pipelines.billing.deliveries import scan_manifests
    from pipelines.billing.s3 import TransientS3Error

    settings = mlcost.settings()
    if not settings.cur_source:
        return SkipReason("no billing source configured (set MLCOST_CUR_SOURCE)")
    try:
        scanned = scan_manifests(settings.cur_source, endpoint_url=settings.s3_endpoint_url)
    except TransientS3Error as exc:
        return SkipReason(f"the billing source did not answer ({exc}); the next tick tries again")
    except InputError as exc:
        # The operator reads this on the sensor's tick; the cursor stays, so the fix is picked up next tick.
        context.log.error(str(exc))
        return SkipReason(f"the billing source cannot be read: {exc}")
    now = datetime.now(UTC)
    published = published_fingerprints(settings, [p.isoformat() for p in scanned])
    decision = changed_deliveries(
        scanned,
        decode_cursor(context.cursor),
        published,
        first_period=first_day(context, settings),
        # The current month is the last billing-period partition (end_offset=1 in partitions.py).
        last_period=month_start(utc_date(now)),
    )
    if decision.out_of_range:
        context.log.warning(
            f"deliveries for {', '.join(decision.out_of_range)} lie outside the billing-period partitions "
            f"(first {first_day(context, settings)}); run `mlcost run` on them once (or unset or lower "
            "MLCOST_PARTITION_START), then reload the code location"
        )
    requests = [
        ingest_request(
            delivery_plan(period, now, first_day=first_day(context, settings)),
            launched_by="billing_delivery_sensor",
            run_key=f"delivery-{period}-{decision.cursor[period][:16]}",
        )
        for period in decision.to_ingest
    ]
    cursor = encode_cursor(decision.cursor)
    if not scanned:
        # A single file, a glob or a folder of plain exports has no manifest to watch: the nightly ingests it.
        skip = f"no delivery manifest under {settings.cur_source}; the nightly schedule ingests it"
        return SensorResult(skip_reason=skip, cursor=cursor)
    if not requests:
        skip = f"no new delivery among {len(scanned)} billing period(s)"
        return SensorResult(skip_reason=skip, cursor=cursor)
    return SensorResult(run_requests=requests, cursor=cursor)


@run_status_sensor(
    name="mlcost_chain",
    run_status=DagsterRunStatus.SUCCESS,
    monitored_jobs=[ingest_billing, daily_tables],
    request_jobs=[daily_tables, monthly_reconciliation],
    default_status=DefaultSensorStatus.RUNNING,
    description="After a scheduled or sensor-launched ingest_billing succeeds: daily_tables over the days "
    "its tags name (one run per range); after that succeeds: monthly_reconciliation of those months.",
)
def mlcost_chain(context: RunStatusSensorContext):
    """Launch the next run of a chain when its predecessor succeeded (the plan travels in run tags)."""
    run = context.dagster_run
    try:
        requests = chain_requests(run.job_name, run.run_id, run.tags)
    except ValueError as exc:
        return SkipReason(f"run {run.run_id}: unreadable chain tag ({exc}); nothing launched")
    return requests or SkipReason(f"run {run.run_id} ({run.job_name}) has no follow-up")


SCHEDULES = [nightly]
SENSORS = [billing_delivery_sensor, mlcost_chain]


def _daily_freshness(spec: AssetSpec) -> AssetSpec:
    # A policy set on the asset itself is a deliberate choice and stays.
    if is_daily(spec.partitions_def) and spec.freshness_policy is None:
        return spec.replace_attributes(freshness_policy=DAILY_FRESHNESS)
    return spec


def with_freshness(defs: Definitions) -> Definitions:
    """The definitions with a 36-hour freshness policy on every daily-partitioned asset (red in the UI)."""
    return defs.map_asset_specs(func=_daily_freshness)
