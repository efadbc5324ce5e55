"""What the operator's console (the Dagster UI, `mlcost run`'s warnings) says is true and explained (issue 20).

Every asset check has a description saying what it guards and what to do; a failed check's own description names
the failing rows with their figures and its metadata the partitions it judged; every published column has a type
and a description; each daily asset says how recent its data is (data_through) and warns when the data is older
than the bill's normal lag.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import AssetCheckSeverity, materialize
from test_examples import analyst_warehouse

from pipelines.attribution.compute import attribute
from pipelines.attribution.rules import load_rules
from pipelines.billing.ingest import ingest_deliveries
from pipelines.config import Settings
from pipelines.orchestration.code_location import build_definitions
from pipelines.orchestration.data_through import DAILY_LAG_DAYS, recent_check, utc_today
from pipelines.orchestration.resources import MlcostResource
from pipelines.storage import lake
from pipelines.storage.tables import TABLES as REGISTRY
from tests.conftest import FileDelivery

# What the registry (pipelines/storage/tables.py) declares: descriptions and DuckDB types of every column.
TABLES = {name: {"description": t.description, "columns": t.descriptions} for name, t in REGISTRY.items()}
COLUMN_TYPES = {name: t.types for name, t in REGISTRY.items()}

# A FOCUS 1.0 export as the providers write it (the columns this test needs, in the spec's spellings).
FOCUS_COLUMNS = [
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ProviderName",
    "ServiceName",
    "ServiceCategory",
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "ResourceId",
]


def focus_export(path: Path, lines: list[tuple[date, str, str, str]]) -> Path:
    """A FOCUS CSV with one line per (day, service, category, cost), each charged 00:00–01:00 UTC that day."""
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FOCUS_COLUMNS)
        writer.writeheader()
        for day, service, category, cost in lines:
            month = day.replace(day=1)
            writer.writerow(
                {
                    "BillingPeriodStart": f"{month}T00:00:00Z",
                    "BillingPeriodEnd": f"{(month + timedelta(days=32)).replace(day=1)}T00:00:00Z",
                    "ChargePeriodStart": f"{day}T00:00:00Z",
                    "ChargePeriodEnd": f"{day}T01:00:00Z",
                    "ChargeCategory": "Usage",
                    "ProviderName": "X",
                    "ServiceName": service,
                    "ServiceCategory": category,
                    "BilledCost": cost,
                    "EffectiveCost": cost,
                    "BillingCurrency": "USD",
                    "ResourceId": f"res-{service.lower().replace(' ', '-')}",
                }
            )
    return path


def published(settings: Settings, path: Path, first: date, last: date) -> None:
    """The export ingested and its days attributed, as the line_items and cost_attribution assets do."""
    con = lake.connect(settings)
    try:
        ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
        attribute(con, settings, load_rules(), first, last)
    finally:
        con.close()


def run_asset(settings: Settings, name: str, partition: str, *, succeeds: bool = True):
    defs = build_definitions(settings, start=date(2025, 1, 1))
    result = materialize(
        [defs.get_assets_def(name)],
        partition_key=partition,
        resources={"mlcost": MlcostResource.from_settings(settings)},
        raise_on_error=False,
    )
    assert result.success is succeeds
    return result


def evaluations(result) -> dict:
    return {e.check_name: e for e in result.get_asset_check_evaluations()}


# --- descriptions and types in the code location ----------------------------------------------------------


def test_every_asset_check_says_what_it_guards_and_what_to_do():
    from pipelines.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = list(graph.asset_check_keys)
    assert len(keys) >= 21
    for key in keys:
        text = graph.get_check_spec(key).description or ""
        name = f"{key.asset_key.to_user_string()} {key.name}"
        assert len(text) > 80, f"{name}: no description (the UI shows 'No description provided')"
        assert "When it" in text, f"{name}: the description does not say what to do when it fails"


def test_every_published_column_has_a_type_and_a_description_in_the_ui():
    from pipelines.definitions import defs

    schemas = {}
    for assets_def in defs.assets or []:
        for key, spec_metadata in assets_def.metadata_by_key.items():
            if "dagster/column_schema" in spec_metadata:
                value = spec_metadata["dagster/column_schema"]
                schemas[key.to_user_string()] = getattr(value, "schema", value)
    # Every table an asset publishes carries its schema (line_items_history is a view, not an asset).
    assert set(schemas) == set(TABLES) - {"line_items_history"}
    for table, schema in schemas.items():
        assert [c.name for c in schema.columns] == list(TABLES[table]["columns"]), table
        for column in schema.columns:
            declared = COLUMN_TYPES.get(table, {}).get(column.name)
            assert column.type and column.type == declared, (
                f"{table}.{column.name}: give its DuckDB type in pipelines/storage/tables.py"
            )
            assert column.description == TABLES[table]["columns"][column.name], f"{table}.{column.name}"


def test_the_published_types_are_the_warehouse_s(tmp_path_factory):
    settings, _ = analyst_warehouse(tmp_path_factory)
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        found = con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE NOT internal"
        ).fetchall()
    finally:
        con.close()
    wrong = [
        f"{table}.{column}: warehouse {kind}, pipelines/storage/tables.py {COLUMN_TYPES.get(table, {}).get(column)}"
        for table, column, kind in found
        if COLUMN_TYPES.get(table, {}).get(column) != kind
    ]
    assert not wrong, wrong
    # A few by hand: the type an analyst sees next to the column in the UI.
    assert COLUMN_TYPES["line_items"]["tags"] == "MAP(VARCHAR, VARCHAR)"
    assert COLUMN_TYPES["cost_attribution"]["usage_date"] == "DATE"
    assert COLUMN_TYPES["reconciliation"]["source_lines"] == "BIGINT"
    assert COLUMN_TYPES["gpu_efficiency_daily"]["eta"] == "DOUBLE"


# --- a failed check names its rows and its partitions --------------------------------------------------------


def test_a_failed_reconciliation_names_the_period_and_its_figures(settings, tmp_path):
    """February billed 60.00 + 40.00 = 100.00; the 2nd's attribution is lost: attributed 60.00, difference −40.00."""
    export = focus_export(
        tmp_path / "focus.csv",
        [
            (date(2026, 2, 1), "Cloud Storage", "Storage", "60.00"),
            (date(2026, 2, 2), "Virtual Machines", "Compute", "40.00"),
        ],
    )
    published(settings, export, date(2026, 2, 1), date(2026, 2, 28))
    day = lake.partition_path(settings, "cost_attribution", "2026-02-02")
    day.unlink()
    # A blocking check: the run fails, and the check's description says why.
    result = run_asset(settings, "reconciliation", "2026-02-01", succeeds=False)
    check = evaluations(result)["attributed_equals_billed"]
    assert not check.passed
    assert check.description == (
        "1 billing period(s) not reconciled to the cent: "
        "2026-02 USD: attributed 60.00 vs billed 100.00 effective (difference −40.00)"
    )
    assert check.metadata["billing_periods_judged"].value == "2026-02"
    assert check.metadata["first_partition"].value == "2026-02-01"
    materialization = result.asset_materializations_for_node("reconciliation")[0]
    assert materialization.metadata["data_through"].value == "2026-02"


def test_cost_attribution_checks_name_their_days_and_figures(settings, tmp_path):
    """Untagged lines: all 100.00 of the non-shared cost is unattributed (above 10%): the warning says so."""
    export = focus_export(
        tmp_path / "focus.csv",
        [
            (date(2026, 2, 1), "Cloud Storage", "Storage", "60.00"),
            (date(2026, 2, 2), "Virtual Machines", "Compute", "40.00"),
        ],
    )
    published(settings, export, date(2026, 2, 1), date(2026, 2, 28))
    result = run_asset(settings, "cost_attribution", "2026-02-02")
    checks = evaluations(result)
    share = checks["unattributed_share"]
    assert not share.passed and share.severity == AssetCheckSeverity.WARN
    assert share.description == (
        "2026-02-02 … 2026-02-02: 100.0% of the non-shared effective cost (40.00) has workload unattributed, "
        "above 10%"
    )
    for name in ("unattributed_share", "every_line_has_one_category", "attributed_equals_source_per_day"):
        assert checks[name].metadata["partitions_judged"].value == "2026-02-02", name
    assert checks["attributed_equals_source_per_day"].passed


# --- data through ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("newest", "today", "passed", "behind"),
    [
        # today 2026-12-05, lag 2 days: data through the 3rd (or later) is on time; the 2nd is late.
        (date(2026, 12, 4), date(2026, 12, 5), True, 1),
        (date(2026, 12, 3), date(2026, 12, 5), True, 2),
        (date(2026, 12, 2), date(2026, 12, 5), False, 3),
        (date(2026, 10, 31), date(2026, 12, 5), False, 35),
    ],
)
def test_recent_check_allows_the_bill_s_lag_only(newest, today, passed, behind):
    check = recent_check("cost_attribution", newest, "exec-1", today)
    assert DAILY_LAG_DAYS == 2
    assert check.passed is passed and check.severity == AssetCheckSeverity.WARN
    assert check.metadata["data_through"].value == newest.isoformat()
    assert check.metadata["days_behind"].value == behind
    assert check.metadata["due_through"].value == "2026-12-03"
    assert f"data through {newest} (delivery exec-1)" in check.description


def test_recent_check_without_data_warns():
    check = recent_check("gpu_samples", None, None, date(2026, 12, 5))
    assert not check.passed
    assert (
        check.description
        == "gpu_samples has no data: nothing to be recent (expected data through 2026-12-03)"
    )


def test_a_lake_five_weeks_old_warns_with_the_dates(settings, tmp_path):
    """Computed today over a bill whose newest usage date is 35 days ago: fresh runs, stale data."""
    today = utc_today()
    newest = today - timedelta(days=35)
    older = newest - timedelta(days=1)
    export = focus_export(
        tmp_path / "focus.csv",
        [(older, "Cloud Storage", "Storage", "10.00"), (newest, "Cloud Storage", "Storage", "12.50")],
    )
    published(settings, export, older, newest)
    con = lake.connect(settings)
    try:
        lake.register_views(con, settings, ["line_items"])
        (delivery,) = con.execute("SELECT DISTINCT delivery_id FROM line_items").fetchone()
    finally:
        con.close()
    # cost_attribution rerun on the older day: its data still reaches the newest day published before.
    for asset, partition in (("cost_attribution", older), ("cost_by_category_daily", newest)):
        result = run_asset(settings, asset, partition.isoformat())
        check = evaluations(result)["data_is_recent"]
        assert not check.passed and check.severity == AssetCheckSeverity.WARN, asset
        assert check.description == (
            f"data through {newest} (delivery {delivery}) is 35 days before today {today}; the bill normally lags "
            f"at most 2 days (data expected through {today - timedelta(days=2)}): check that billing deliveries "
            "still arrive (MLCOST_CUR_SOURCE)"
        ), asset
        assert check.metadata["days_behind"].value == 35
        # The materialization carries the date too: the newest day of the table, not of the run's partition.
        materialization = result.asset_materializations_for_node(asset)[0]
        assert materialization.metadata["data_through"].value == newest.isoformat(), asset
        assert materialization.metadata["data_through_delivery"].value == delivery, asset


# --- descriptions true under the settings in force -----------------------------------------------------------


def test_descriptions_agree_with_the_default_settings():
    """The UI's words for η and loaded cost hold under the shipped settings (observed basis, nothing spread)."""
    from pipelines.definitions import defs

    assert Settings().eta_basis == "observed"
    gpu = defs.resolve_assets_def("gpu_efficiency_daily").descriptions_by_key
    (text,) = gpu.values()
    assert "η = active / allocated" not in text
    assert "active / observed GPU time by default" in text and "MLCOST_ETA_BASIS=allocated" in text

    assert set(load_rules().strategies.values()) == {"keep"}
    loaded = TABLES["cost_per_prediction_daily"]["columns"]["loaded_cost"]
    assert "including shared cost spread onto them" not in loaded
    assert "none with the shipped rules" in loaded
    assert (
        "shared cost where a sharing strategy spreads it"
        in TABLES["cost_per_prediction_daily"]["description"]
    )


# --- the docs say what the code does ---------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[1]


def test_docs_analysts_session_is_the_demo_s_output(tmp_path_factory):
    """The sample session's figures are what `mlcost sql` prints on the fixtures (storage 4,448.75 in October)."""
    from pipelines.cli.analysts_doc import render_analysts_doc

    settings, answers = analyst_warehouse(tmp_path_factory)
    committed = (REPO / "docs" / "analysts.md").read_text()
    assert committed == render_analysts_doc(committed, settings), (
        "run `mlcost docs analysts` after `make demo`"
    )
    storage = answers["billing_periods"]["2026-10"]["by_category"]["storage"]["effective_cost"]
    assert round(storage, 2) == 4448.75
    row = next(line for line in committed.splitlines() if line.startswith("│ storage "))
    assert "4448.75" in row and "4419.59" not in committed


def test_docs_operations_says_what_a_rerun_recomputes_and_the_lag():
    text = " ".join((REPO / "docs" / "operations.md").read_text().split())
    assert "The run recomputes every daily table for the day" not in text
    assert "From an asset's page the run recomputes that asset only" in text
    assert f"at most **{DAILY_LAG_DAYS} days** before today (UTC), `DAILY_LAG_DAYS`" in text


def test_old_logs_name_their_own_source():
    check = recent_check("gpu_samples", date(2026, 10, 31), None, date(2026, 12, 5))
    assert check.description == (
        "data through 2026-10-31 is 35 days before today 2026-12-05; the bill normally lags at most 2 days "
        "(data expected through 2026-12-03): check that the GPU logs still arrive (MLCOST_GPU_SOURCE)"
    )


# --- each day partition carries its own figures ----------------------------------------------------------------


def test_a_two_day_run_gives_each_day_its_own_figures(settings, tmp_path):
    """One run over 2026-02-01…02: each day's materialization has that day's rows and dollars, not the run's.

    | day        | line                      | effective |
    |------------|---------------------------|----------:|
    | 2026-02-01 | Cloud Storage (storage)   |     60.00 |
    | 2026-02-01 | Cloud Storage (storage)   |      2.50 |
    | 2026-02-02 | Virtual Machines          |     40.00 |
    """
    export = focus_export(
        tmp_path / "focus.csv",
        [
            (date(2026, 2, 1), "Cloud Storage", "Storage", "60.00"),
            (date(2026, 2, 1), "Cloud Storage", "Storage", "2.50"),
            (date(2026, 2, 2), "Virtual Machines", "Compute", "40.00"),
        ],
    )
    published(settings, export, date(2026, 2, 1), date(2026, 2, 28))
    defs = build_definitions(settings, start=date(2025, 1, 1))
    result = materialize(
        [defs.get_assets_def("cost_attribution"), defs.get_assets_def("cost_by_category_daily")],
        resources={"mlcost": MlcostResource.from_settings(settings)},
        tags={
            "dagster/asset_partition_range_start": "2026-02-01",
            "dagster/asset_partition_range_end": "2026-02-02",
        },
    )
    assert result.success
    for asset in ("cost_attribution", "cost_by_category_daily"):
        by_day = {m.partition: m.metadata for m in result.asset_materializations_for_node(asset)}
        assert set(by_day) == {"2026-02-01", "2026-02-02"}, asset
        first, second = by_day["2026-02-01"], by_day["2026-02-02"]
        assert first["effective cost (this partition)"].value == 62.50, asset
        assert second["effective cost (this partition)"].value == 40.00, asset
        # The run's figures are on both, named after the days they cover.
        for day in (first, second):
            assert "rows (run: 2026-02-01…2026-02-02)" in day, asset
            assert not any(label.startswith("rows") and "(" not in label for label in day), asset
    attributed = {m.partition: m.metadata for m in result.asset_materializations_for_node("cost_attribution")}
    assert [attributed[d]["dagster/row_count"].value for d in ("2026-02-01", "2026-02-02")] == [2, 1]
    assert attributed["2026-02-02"]["rows (run: 2026-02-01…2026-02-02)"].value == 3
    daily = {
        m.partition: m.metadata for m in result.asset_materializations_for_node("cost_by_category_daily")
    }
    # Both storage lines fall in one (day, category, workload) row; the VM line is not storage.
    assert daily["2026-02-01"]["rows (this partition)"].value == 1
    assert daily["2026-02-01"]["storage effective cost (this partition)"].value == 62.50
    assert daily["2026-02-02"]["storage effective cost (this partition)"].value == 0.00
    assert daily["2026-02-02"]["effective cost (run: 2026-02-01…2026-02-02)"].value == 102.50


REAL_CUR = REPO.parent / "shared" / "realdata" / "cur1-parquet" / "Oct2018-WorkshopCUR-00001.snappy.parquet"


def test_rounding_each_line_would_move_the_real_bill_s_total():
    """Why money stays DOUBLE in the lake (docs/analysts.md): per-line rounding moves Σ of a real CUR month.

    | lines stored as      | Σ unblended cost (2018-10) |
    |----------------------|---------------------------:|
    | delivered (DOUBLE)   |                  4064.4831 |
    | DECIMAL(18,6)        |                  4064.4776 |
    | rounded to 4 places  |                  4064.7040 |
    | rounded to the cent  |                  4018.49   |
    """
    if not REAL_CUR.exists():
        pytest.skip(f"the real CUR month is absent: {REAL_CUR}")
    with duckdb.connect() as con:
        raw, dec6, four, cents = con.execute(
            "SELECT sum(line_item_unblended_cost), sum(line_item_unblended_cost::DECIMAL(18, 6))::DOUBLE, "
            "sum(round(line_item_unblended_cost, 4)), sum(round(line_item_unblended_cost, 2)) FROM read_parquet(?)",
            [str(REAL_CUR)],
        ).fetchone()
    assert round(raw, 4) == 4064.4831  # the README of ../shared/realdata
    assert round(dec6, 4) == 4064.4776 and abs(dec6 - raw) > 0.005  # more than the reconciliation's half cent
    assert round(four, 4) == 4064.7040
    assert round(cents, 2) == 4018.49
