"""Schedule and sensor decisions for given times and bucket states; the chain, freshness, dagster.yaml."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from dagster import (
    AssetMaterialization,
    DagsterEvent,
    DagsterEventType,
    DagsterInstance,
    RunRequest,
    SensorResult,
    SkipReason,
    build_run_status_sensor_context,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)
from dagster._core.storage.dagster_run import DagsterRun, DagsterRunStatus

from pipelines.billing.ingest import write_state
from pipelines.config import Settings
from pipelines.errors import InputError
from pipelines.orchestration import operations
from pipelines.orchestration.instance_config import write_instance_config
from pipelines.orchestration.partitions import RANGE_END, RANGE_START, is_daily
from pipelines.orchestration.refresh_plan import (
    billing_periods_due,
    changed_deliveries,
    contiguous_ranges,
    decode_cursor,
    decode_ranges,
    delivery_plan,
    encode_cursor,
    encode_ranges,
    nightly_plan,
    stale_days,
)
from pipelines.orchestration.resources import MlcostResource
from pipelines.storage import lake

try:
    from s3server import s3_bucket, s3_endpoint  # noqa: F401  (fixtures)
except ImportError:  # run with the repository root on sys.path
    from tests.s3server import s3_bucket, s3_endpoint  # noqa: F401

JAN = date(2026, 1, 1)
BUCKET, PREFIX = "billing-bucket", "cur"


def at(text: str) -> datetime:
    return (
        datetime.fromisoformat(text).replace(tzinfo=UTC) if "+" not in text else datetime.fromisoformat(text)
    )


# --- the nightly's decisions -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        ("2026-03-03T06:00", ["2026-02-01", "2026-03-01"]),
        ("2026-03-05T23:59", ["2026-02-01", "2026-03-01"]),
        ("2026-03-06T06:00", ["2026-03-01"]),
        ("2026-03-31T06:00", ["2026-03-01"]),
        ("2027-01-04T06:00", ["2026-12-01", "2027-01-01"]),
        # 01:00 on the 6th in UTC+05:00 is still the 5th in UTC: the previous period is still due.
        ("2026-03-06T01:00+05:00", ["2026-02-01", "2026-03-01"]),
        # The previous period lies before the first partition: only the current one.
        ("2026-01-02T06:00", ["2026-01-01"]),
    ],
)
def test_billing_periods_due(now, expected):
    assert billing_periods_due(at(now), first_day=JAN) == expected


def test_nightly_plan_mid_month_is_the_month_so_far():
    plan = nightly_plan(at("2026-03-15T06:00"), {}, {}, first_day=JAN)
    assert plan.billing_periods == ("2026-03-01",)
    assert plan.day_ranges == (("2026-03-01", "2026-03-14"),)


def test_nightly_plan_early_in_a_month_includes_the_previous_period_as_one_range():
    plan = nightly_plan(at("2026-03-03T06:00"), {}, {}, first_day=JAN)
    assert plan.billing_periods == ("2026-02-01", "2026-03-01")
    assert plan.day_ranges == (("2026-02-01", "2026-03-02"),)
    assert len(plan.days) == 28 + 2


def test_nightly_plan_on_the_first_of_a_month_has_no_day_of_the_new_month():
    plan = nightly_plan(at("2026-03-01T06:00"), {}, {}, first_day=JAN)
    assert plan.billing_periods == ("2026-02-01", "2026-03-01")
    assert plan.day_ranges == (("2026-02-01", "2026-02-28"),)


def test_nightly_plan_adds_days_a_restatement_made_stale():
    jan_written = 1_000.0
    computed = {f"2026-01-{d:02d}": 2_000.0 for d in range(1, 32)}
    computed["2026-01-10"] = 500.0  # computed before January's line_items were rewritten
    del computed["2026-01-11"]  # never computed
    plan = nightly_plan(at("2026-03-15T06:00"), {"2026-01-01": jan_written}, computed, first_day=JAN)
    assert plan.day_ranges == (("2026-01-10", "2026-01-11"), ("2026-03-01", "2026-03-14"))


def test_stale_days_respects_the_first_partition_and_yesterday():
    written = {"2026-01-01": 10.0, "2026-02-01": 10.0}
    computed = {"2026-01-20": 5.0, "2026-01-21": 10.0, "2026-01-22": 11.0}
    stale = stale_days(written, computed, first_day=date(2026, 1, 20), through=date(2026, 2, 2))
    # 2026-01-21 was computed at the very time its line_items were written: not before, so not stale.
    assert stale[:1] == ["2026-01-20"]
    assert "2026-01-21" not in stale and "2026-01-22" not in stale
    assert stale[1:] == [f"2026-01-{d}" for d in range(23, 32)] + ["2026-02-01", "2026-02-02"]


def test_contiguous_ranges():
    days_ = ["2026-03-02", "2026-02-28", "2026-03-01", "2026-03-01", "2026-03-05", "2025-12-31", "2026-01-01"]
    assert contiguous_ranges(days_) == (
        ("2025-12-31", "2026-01-01"),
        ("2026-02-28", "2026-03-02"),
        ("2026-03-05", "2026-03-05"),
    )
    assert contiguous_ranges([]) == ()


def test_delivery_plan_covers_the_month_up_to_yesterday():
    assert delivery_plan("2026-02-01", at("2026-03-10T12:00"), first_day=JAN).day_ranges == (
        ("2026-02-01", "2026-02-28"),
    )
    assert delivery_plan("2026-03-01", at("2026-03-10T12:00"), first_day=JAN).day_ranges == (
        ("2026-03-01", "2026-03-09"),
    )
    # A new month's first delivery on its first day: nothing to recompute yet.
    assert delivery_plan("2026-03-01", at("2026-03-01T03:00"), first_day=JAN).day_ranges == ()


def test_tags_round_trip_and_reject_nonsense():
    ranges = (("2026-01-10", "2026-01-11"), ("2026-03-01", "2026-03-14"))
    assert decode_ranges(encode_ranges(ranges)) == ranges
    assert decode_ranges("") == ()
    with pytest.raises(ValueError):
        decode_ranges("2026-03-14..2026-03-01")
    with pytest.raises(ValueError):
        decode_ranges("yesterday..today")


def test_transient_backoff_is_exponential_and_capped():
    assert [operations.transient_retry_seconds(n) for n in range(6)] == [30, 60, 120, 240, 480, 600]


# --- the delivery sensor's decisions ----------------------------------------------------------------------


def test_changed_deliveries_first_tick_then_nothing_then_a_restatement():
    scanned = {date(2026, 2, 1): "fp-feb", date(2026, 3, 1): "fp-mar"}
    bounds = {"first_period": JAN, "last_period": date(2026, 11, 1)}
    first = changed_deliveries(scanned, {}, {}, **bounds)
    assert first.to_ingest == ("2026-02-01", "2026-03-01")
    assert first.cursor == {"2026-02-01": "fp-feb", "2026-03-01": "fp-mar"}
    again = changed_deliveries(scanned, decode_cursor(encode_cursor(first.cursor)), {}, **bounds)
    assert again.to_ingest == ()
    restated = changed_deliveries({**scanned, date(2026, 3, 1): "fp-mar-2"}, again.cursor, {}, **bounds)
    assert restated.to_ingest == ("2026-03-01",)
    assert restated.cursor["2026-03-01"] == "fp-mar-2"


def test_changed_deliveries_skips_what_is_already_published_and_reports_out_of_range():
    scanned = {date(2025, 12, 1): "fp-dec", date(2026, 2, 1): "fp-feb", date(2026, 3, 1): "fp-mar"}
    decision = changed_deliveries(
        scanned, {}, {"2026-02-01": "fp-feb"}, first_period=JAN, last_period=date(2026, 11, 1)
    )
    assert decision.to_ingest == ("2026-03-01",)
    assert decision.out_of_range == ("2025-12-01",)
    assert set(decision.cursor) == {"2025-12-01", "2026-02-01", "2026-03-01"}


def test_cursor_text_is_json_and_garbage_counts_as_empty():
    text = encode_cursor({"2026-03-01": "b", "2026-02-01": "a"})
    assert json.loads(text) == {"version": 1, "fingerprints": {"2026-02-01": "a", "2026-03-01": "b"}}
    for garbage in (None, "", "not json", "[1, 2]", '{"fingerprints": 3}'):
        assert decode_cursor(garbage) == {}


# --- the sensor against a folder and an S3 bucket laid out as AWS delivers -------------------------------


def cur2_period(root: Path, period: str, execution_id: str) -> Path:
    """A CUR 2.0 export period under `root` (stands for s3://billing-bucket/cur/): a data file, a manifest."""
    data = root / "ml-cur2" / "data" / f"BILLING_PERIOD={period}" / "part-00001.snappy.parquet"
    data.parent.mkdir(parents=True, exist_ok=True)
    data.write_bytes(f"{period} {execution_id}".encode())
    manifest = root / "ml-cur2" / "metadata" / f"BILLING_PERIOD={period}" / "ml-cur2-Manifest.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    doc = {
        "executionId": execution_id,
        "billingPeriod": {"start": f"{period}-01T00:00:00.000Z"},
        "dataFiles": [f"s3://{BUCKET}/{PREFIX}/{data.relative_to(root).as_posix()}"],
    }
    manifest.write_text(json.dumps(doc))
    return manifest


@pytest.fixture
def fixed_partitions(monkeypatch):
    """Partitions from 2026-01-01, wherever the data of this test process would make them start."""
    monkeypatch.setattr(operations, "first_day", lambda *args, **kwargs: JAN)


def tick(resource: MlcostResource, cursor: str | None = None):
    with (
        DagsterInstance.ephemeral() as instance,
        build_sensor_context(instance=instance, cursor=cursor, resources={"mlcost": resource}) as context,
    ):
        return operations.billing_delivery_sensor(context)


def test_sensor_requests_each_new_delivery_once_then_a_restated_one(tmp_path, fixed_partitions):
    source = tmp_path / "bucket"
    cur2_period(source, "2026-02", "exec-feb")
    cur2_period(source, "2026-03", "exec-mar")
    resource = MlcostResource(home=str(tmp_path / "home"), cur_source=str(source))

    first = tick(resource)
    assert isinstance(first, SensorResult)
    assert [r.partition_key for r in first.run_requests] == ["2026-02-01", "2026-03-01"]
    assert {r.job_name for r in first.run_requests} == {"ingest_billing"}
    assert [r.tags[operations.TAG_THEN_DAYS] for r in first.run_requests] == [
        "2026-02-01..2026-02-28",
        "2026-03-01..2026-03-31",
    ]
    assert all(r.tags[operations.TAG_LAUNCHED_BY] == "billing_delivery_sensor" for r in first.run_requests)
    assert set(decode_cursor(first.cursor)) == {"2026-02-01", "2026-03-01"}

    second = tick(resource, first.cursor)
    assert second.run_requests == []
    assert "no new delivery among 2 billing period(s)" in second.skip_reason.skip_message
    assert second.cursor == first.cursor

    cur2_period(source, "2026-03", "exec-mar-refresh")  # AWS re-delivers March
    third = tick(resource, second.cursor)
    assert [r.partition_key for r in third.run_requests] == ["2026-03-01"]
    assert third.run_requests[0].run_key != first.run_requests[1].run_key
    assert decode_cursor(third.cursor)["2026-02-01"] == decode_cursor(first.cursor)["2026-02-01"]


def test_sensor_first_tick_skips_deliveries_already_in_the_lake(tmp_path, fixed_partitions):
    from pipelines.billing.deliveries import scan_manifests

    source = tmp_path / "bucket"
    cur2_period(source, "2026-02", "exec-feb")
    cur2_period(source, "2026-03", "exec-mar")
    settings = Settings(home=tmp_path / "home")
    # `mlcost run` published February already: the sensor must not ingest it again.
    write_state(settings, "2026-02-01", {"fingerprint": scan_manifests(str(source))[date(2026, 2, 1)]})
    result = tick(MlcostResource(home=str(settings.home), cur_source=str(source)))
    assert [r.partition_key for r in result.run_requests] == ["2026-03-01"]


def test_sensor_reports_a_bad_manifest_without_raising(tmp_path, fixed_partitions):
    source = tmp_path / "bucket"
    manifest = cur2_period(source, "2026-02", "exec-feb")
    manifest.write_text('{"executionId": "x", "dataFiles": [')
    result = tick(MlcostResource(home=str(tmp_path / "home"), cur_source=str(source)))
    assert isinstance(result, SkipReason)
    assert str(manifest) in result.skip_message and "not valid JSON" in result.skip_message


def test_sensor_on_a_source_without_manifests_leaves_it_to_the_nightly(tmp_path, fixed_partitions):
    source = tmp_path / "exports"
    source.mkdir()
    (source / "focus-2026-02.csv").write_text("BilledCost\n1\n")
    result = tick(MlcostResource(home=str(tmp_path / "home"), cur_source=str(source)))
    assert result.run_requests == []
    assert result.skip_reason.skip_message == (
        f"no delivery manifest under {source}; the nightly schedule ingests it"
    )


def test_sensor_without_a_source_skips(tmp_path):
    result = tick(MlcostResource(home=str(tmp_path / "home")))
    assert isinstance(result, SkipReason) and "MLCOST_CUR_SOURCE" in result.skip_message


def test_sensor_on_s3_reads_manifests_only(s3_bucket, s3_endpoint, tmp_path, monkeypatch, fixed_partitions):  # noqa: F811
    from pipelines.billing import s3 as s3io

    client, bucket = s3_bucket
    data_key = "cur/ml-cur2/data/BILLING_PERIOD=2026-04/part-00001.snappy.parquet"
    manifest_key = "cur/ml-cur2/metadata/BILLING_PERIOD=2026-04/ml-cur2-Manifest.json"
    client.put_object(Bucket=bucket, Key=data_key, Body=b"lines")
    doc = {
        "executionId": "e1",
        "billingPeriod": {"start": "2026-04-01"},
        "dataFiles": [f"s3://{bucket}/{data_key}"],
    }
    client.put_object(Bucket=bucket, Key=manifest_key, Body=json.dumps(doc).encode())
    gets: list[str] = []
    real = s3io.make_client

    def counting(endpoint_url=None):
        made = real(endpoint_url)
        made.meta.events.register(
            "before-parameter-build.s3.GetObject", lambda params, **_: gets.append(params["Key"])
        )
        return made

    monkeypatch.setattr(s3io, "make_client", counting)
    resource = MlcostResource(
        home=str(tmp_path / "home"), cur_source=f"s3://{bucket}/cur", s3_endpoint_url=s3_endpoint
    )
    first = tick(resource)
    assert [r.partition_key for r in first.run_requests] == ["2026-04-01"]
    assert first.run_requests[0].tags[operations.TAG_THEN_DAYS] == "2026-04-01..2026-04-30"
    assert gets == [manifest_key]
    assert tick(resource, first.cursor).run_requests == []


# --- the nightly schedule against a lake and an instance -------------------------------------------------


def evaluate_nightly(instance: DagsterInstance, when: str, resource: MlcostResource):
    with build_schedule_context(
        instance=instance, scheduled_execution_time=at(when), resources={"mlcost": resource}
    ) as context:
        return operations.nightly(context)


def test_nightly_schedule_reads_staleness_from_the_lake_and_the_instance(tmp_path, fixed_partitions):
    settings = Settings(home=tmp_path / "home")
    jan = lake.partition_path(settings, "line_items", "2026-01-01")
    jan.parent.mkdir(parents=True)
    jan.write_bytes(b"not read: only its modification time matters")
    resource = MlcostResource(home=str(settings.home))
    with instance_for_test() as instance:
        past = time.time() - 3600
        os.utime(jan, (past, past))
        for day in range(1, 32):  # every January day computed after January's line_items were written
            instance.report_runless_asset_event(
                AssetMaterialization(asset_key="cost_attribution", partition=f"2026-01-{day:02d}")
            )
        request = evaluate_nightly(instance, "2026-03-15T06:00", resource)
        assert isinstance(request, RunRequest)
        assert request.job_name == "ingest_billing"
        assert request.partition_key == "2026-03-01"
        assert request.run_key == "nightly-2026-03-15"
        assert request.tags[operations.TAG_THEN_DAYS] == "2026-03-01..2026-03-14"

        # January is restated (its line_items rewritten after the days were computed): all its days are stale,
        # except the two recomputed since.
        rewritten = time.time()
        os.utime(jan, (rewritten, rewritten))
        time.sleep(0.01)  # the next events must be stamped strictly after the rewrite
        for day in ("2026-01-30", "2026-01-31"):
            instance.report_runless_asset_event(
                AssetMaterialization(asset_key="cost_attribution", partition=day)
            )
        request = evaluate_nightly(instance, "2026-03-15T06:00", resource)
        assert decode_ranges(request.tags[operations.TAG_THEN_DAYS]) == (
            ("2026-01-01", "2026-01-29"),
            ("2026-03-01", "2026-03-14"),
        )

        # Early in April: March is still due, so both periods in one single-run backfill.
        request = evaluate_nightly(instance, "2026-04-02T06:00", resource)
        assert request.partition_key is None
        assert (request.tags[RANGE_START], request.tags[RANGE_END]) == ("2026-03-01", "2026-04-01")
        assert decode_ranges(request.tags[operations.TAG_THEN_DAYS])[-1] == ("2026-03-01", "2026-04-01")


# --- the chain -------------------------------------------------------------------------------------------


def test_chain_after_ingest_then_after_daily_tables():
    after_ingest = operations.chain_requests(
        "ingest_billing",
        "run-1",
        {
            operations.TAG_THEN_DAYS: "2026-01-30..2026-02-02,2026-03-01..2026-03-14",
            operations.TAG_LAUNCHED_BY: "nightly",
        },
    )
    assert [(r.job_name, r.tags[RANGE_START], r.tags[RANGE_END]) for r in after_ingest] == [
        ("daily_tables", "2026-01-30", "2026-02-02"),
        ("daily_tables", "2026-03-01", "2026-03-14"),
    ]
    assert [r.tags[operations.TAG_THEN_RECONCILE] for r in after_ingest] == [
        "2026-01-01..2026-02-01",
        "2026-03-01..2026-03-01",
    ]
    assert {r.tags[operations.TAG_PARENT_RUN] for r in after_ingest} == {"run-1"}
    assert len({r.run_key for r in after_ingest}) == 2

    after_days = operations.chain_requests("daily_tables", "run-2", after_ingest[0].tags)
    assert [(r.job_name, r.tags[RANGE_START], r.tags[RANGE_END]) for r in after_days] == [
        ("monthly_reconciliation", "2026-01-01", "2026-02-01")
    ]
    assert after_days[0].tags[operations.TAG_LAUNCHED_BY] == "nightly"
    # `mlcost run` and reruns from the UI carry no chain tags: nothing follows them.
    assert operations.chain_requests("ingest_billing", "run-3", {"mlcost/launched_by": "mlcost run"}) == []
    assert operations.chain_requests("monthly_reconciliation", "run-4", after_ingest[0].tags) == []


def test_chain_sensor_launches_from_a_successful_run():
    tags = {operations.TAG_THEN_DAYS: "2026-03-01..2026-03-14", operations.TAG_LAUNCHED_BY: "nightly"}
    with DagsterInstance.ephemeral() as instance:
        run = DagsterRun(
            job_name="ingest_billing", run_id="a" * 32, tags=tags, status=DagsterRunStatus.SUCCESS
        )
        event = DagsterEvent(
            event_type_value=DagsterEventType.PIPELINE_SUCCESS.value, job_name="ingest_billing"
        )
        context = build_run_status_sensor_context(
            sensor_name="mlcost_chain", dagster_event=event, dagster_instance=instance, dagster_run=run
        )
        result = operations.mlcost_chain(context)
    requests = result if isinstance(result, list) else list(result)
    assert [(r.job_name, r.tags[RANGE_START], r.tags[RANGE_END]) for r in requests] == [
        ("daily_tables", "2026-03-01", "2026-03-14")
    ]


# --- what the code location declares ---------------------------------------------------------------------


def test_definitions_declare_the_schedule_sensors_and_freshness():
    from pipelines.definitions import defs

    repo = defs.get_repository_def()
    [nightly] = repo.schedule_defs
    assert (nightly.name, nightly.cron_schedule, nightly.execution_timezone) == (
        "nightly",
        "0 6 * * *",
        "UTC",
    )
    assert nightly.job_name == "ingest_billing"
    sensors = {s.name: s for s in repo.sensor_defs}
    assert set(sensors) == {"billing_delivery_sensor", "mlcost_chain"}
    assert sensors["billing_delivery_sensor"].minimum_interval_seconds == 900

    graph = repo.asset_graph
    daily = [key for key in graph.get_all_asset_keys() if is_daily(graph.get(key).partitions_def)]
    assert {k.to_user_string() for k in daily} >= {"cost_attribution", "cost_by_category_daily"}
    for key in graph.get_all_asset_keys():
        policy = graph.get(key).freshness_policy
        if key in daily:
            assert policy is not None and policy.fail_window.to_timedelta() == timedelta(hours=36), key
        else:
            assert policy is None, key


# --- dagster.yaml ----------------------------------------------------------------------------------------


def test_instance_config_gives_the_pool_a_limit_of_one(tmp_path, monkeypatch):
    path = write_instance_config(tmp_path / "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", str(path.parent))
    with DagsterInstance.get() as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert instance.run_retries_retry_on_asset_or_op_failure is False
    before = path.read_text()
    write_instance_config(path.parent)  # idempotent
    assert path.read_text() == before


def test_instance_config_keeps_an_operators_settings(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(
        "concurrency:\n  pools:\n    default_limit: 3\nrun_monitoring:\n  enabled: true\n"
    )
    doc = yaml.safe_load(write_instance_config(home).read_text())
    assert doc["concurrency"]["pools"]["default_limit"] == 3
    assert doc["run_monitoring"] == {"enabled": True}
    assert doc["run_retries"]["retry_on_asset_or_op_failure"] is False


def test_instance_storage_keeps_one_engine_per_database_and_the_usual_files(tmp_path, monkeypatch):
    """mlcost's event log writes Dagster's own SQLite files, reusing an engine per file instead of one per event."""
    from dagster import AssetKey, AssetMaterialization

    from pipelines.orchestration.dagster_storage import EventLogStorage

    home = write_instance_config(tmp_path / "dagster_home").parent
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.get() as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, EventLogStorage)
        instance.report_runless_asset_event(AssetMaterialization(AssetKey("x"), partition="2026-10-01"))
        engines = dict(storage._engines)
        instance.report_runless_asset_event(AssetMaterialization(AssetKey("x"), partition="2026-10-02"))
        assert engines and storage._engines == engines  # the same engines served the second event
        records = instance.fetch_materializations(AssetKey("x"), limit=10).records
        assert sorted(r.partition_key for r in records) == ["2026-10-01", "2026-10-02"]
    assert (home / "history" / "runs" / "index.db").exists()  # where Dagster's default storage keeps it
    # A second instance, opened from the folder alone (no DAGSTER_HOME), reads what the first one wrote.
    monkeypatch.delenv("DAGSTER_HOME")
    with DagsterInstance.from_config(str(home)) as instance:
        assert len(instance.fetch_materializations(AssetKey("x"), limit=10).records) == 2
    # A moved home: the storage follows it the next time mlcost writes the settings.
    moved = home.rename(tmp_path / "moved")
    doc = yaml.safe_load(write_instance_config(moved).read_text())
    assert doc["storage"]["custom"]["config"]["base_dir"] == str(moved.resolve())
    with DagsterInstance.from_config(str(moved)) as instance:
        assert len(instance.fetch_materializations(AssetKey("x"), limit=10).records) == 2


def test_instance_config_keeps_an_operators_storage(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("run_storage:\n  module: m\n  class: C\n")
    doc = yaml.safe_load(write_instance_config(home).read_text())
    assert "storage" not in doc and doc["run_storage"] == {"module": "m", "class": "C"}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("run_queue:\n  max_concurrent_runs: 4\n", "move it to concurrency.runs.max_concurrent_runs"),
        ("concurrency: [1\n", "not valid YAML"),
        ("- a list\n", "must be a YAML mapping"),
    ],
)
def test_instance_config_refuses_what_dagster_would_refuse(tmp_path, text, problem):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text(text)
    with pytest.raises(InputError) as err:
        write_instance_config(home)
    assert str(home / "dagster.yaml") in str(err.value) and problem in str(err.value)
    assert (home / "dagster.yaml").read_text() == text
