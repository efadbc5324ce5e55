"""The Dagster face of the table registry (pipelines/storage/tables.py): column schemas, asset dependencies and asset
check specs, all derived from the one declaration of each table."""

# No `from __future__ import annotations`: Dagster reads the asset function's annotations to find its resource.
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetsDefinition,
    MaterializeResult,
    TableColumn,
    TableSchema,
    asset,
)

from pipelines.config import Settings
from pipelines.orchestration.checks import check_rows, judged_days, judged_periods, rows_table, summarize
from pipelines.orchestration.data_through import (
    daily_through,
    monthly_data_through,
    recent_spec,
    through_metadata,
)
from pipelines.orchestration.partition_figures import add_per_partition, grouped_by_day, of_run
from pipelines.orchestration.partitions import DAILY_ASSET, MONTHLY_ASSET
from pipelines.orchestration.resources import MlcostResource
from pipelines.storage import lake, tables
from pipelines.storage.tables import TABLES


def table_schema(table: str) -> TableSchema:
    """The column schema shown in the Dagster UI: each column's DuckDB type and description."""
    return TableSchema(
        columns=[TableColumn(c.name, c.type, description=c.description) for c in TABLES[table].columns]
    )


def deps(table: str) -> list[str]:
    """The asset's upstream assets: the tables it reads. The reconciliation also waits for every other monthly
    table, because it publishes them together as the billing period's generation (pipelines/storage/generations.py)."""
    declared = list(TABLES[table].reads) + list(TABLES[table].python_reads)
    if table == "reconciliation":
        declared += [
            t for t in tables.monthly_tables() if t not in declared and t not in ("line_items", table)
        ]
    return declared


def check_specs(table: str) -> list[AssetCheckSpec]:
    """The asset checks declared for the table, plus `data_is_recent` where it is declared."""
    declared = TABLES[table]
    specs = [
        AssetCheckSpec(check.name, asset=table, blocking=check.blocking, description=check.description)
        for check in declared.checks
    ]
    if declared.data_is_recent:
        specs.append(recent_spec(table))
    return specs


def asset_kwargs(table: str) -> dict:
    """What every table's @asset takes from the registry: group, dependencies, column schema and checks."""
    declared = TABLES[table]
    return {
        "name": table,
        "group_name": declared.group,
        "deps": deps(table),
        "metadata": {"dagster/column_schema": table_schema(table)},
        "check_specs": check_specs(table),
    }


def lake_asset_body(table: str):
    """The @asset decorator of a registry table whose body does more than the shared path of `lake_asset` (reads
    source files, publishes a generation, judges a figure computed in Python): its partitions (daily or monthly, on the lake's pool), group,
    dependencies, column schema and checks, all from pipelines/storage/tables.py."""
    partitioning = DAILY_ASSET if TABLES[table].partitioned_by == tables.DAILY else MONTHLY_ASSET
    return asset(**partitioning, **asset_kwargs(table))


@dataclass(frozen=True)
class CheckWords:
    """How the rows breaking a SQL check read in the UI and on the terminal.

    `line` turns one failing row into plain text, `what` names what the rows are ("budget(s) past a threshold"),
    `passed` is the description when nothing breaks; or `describe(rows)` words both itself. `params` gives the check's other SQL parameters (its
    threshold) from the settings; `rows_key` is the metadata key of the failing rows' table; `figures(rows)` adds
    the check's own figures to its metadata (the worst value found).
    """

    line: Callable[[dict], str] | None = None
    what: str = ""
    passed: str | None = None
    describe: Callable[[list[dict]], str | None] | None = None
    params: Callable[[Settings], dict] | None = None
    rows_key: str = "rows"
    figures: Callable[[list[dict]], dict] | None = None


Compute = Callable[[duckdb.DuckDBPyConnection, Settings, date, date], dict[str, int]]
Figures = Callable[[duckdb.DuckDBPyConnection, Settings, date, date], dict]
# A grouped query over the run's days (first column usage_date; parameters start, end) and what one day's rows
# say as that day partition's own figures (labels made with partition_figures.this).
DayFigures = tuple[str, Callable[[list[dict]], dict]]


def partition_range(context: AssetExecutionContext, table: str) -> tuple[date, date]:
    """The run's first and last partition as dates: days, or the first days of billing periods."""
    window = context.partition_time_window
    start, last = window.start.date(), (window.end - timedelta(days=1)).date()
    return (start, last) if TABLES[table].partitioned_by == tables.DAILY else (start, last.replace(day=1))


def judged(table: str, start: date, end: date) -> dict:
    """Check metadata naming the partitions a check judged."""
    return (
        judged_days(start, end)
        if TABLES[table].partitioned_by == tables.DAILY
        else judged_periods(start, end)
    )


def lake_asset(
    table: str,
    *,
    compute: Compute,
    figures: Figures | None = None,
    checks: dict[str, CheckWords] | None = None,
    day_figures: DayFigures | None = None,
) -> AssetsDefinition:
    """The asset of a registry table whose domain code is one `compute(con, settings, start, end)` that publishes
    its partitions (returning rows per partition); the shared path is here: settings, the run's partition range, a
    compute connection, each partition's own row count (and `day_figures`) on its materialization, the run's
    headline `figures` labelled with the partitions they cover, data-through, and each SQL check of the registry
    judged on the range and described in words (`checks`)."""
    declared = TABLES[table]
    words = checks or {}
    if missing := [c.name for c in declared.checks if c.name not in words or not c.sql]:
        raise ValueError(
            f"{table}: checks {missing} need words here (or a Python-judged check: write the body)"
        )
    partitioning = DAILY_ASSET if declared.partitioned_by == tables.DAILY else MONTHLY_ASSET

    @asset(**partitioning, **asset_kwargs(table), description=declared.description)
    def materialize(context: AssetExecutionContext, mlcost: MlcostResource) -> MaterializeResult:
        settings = mlcost.settings()
        start, end = partition_range(context, table)
        con = lake.connect(settings)
        written = compute(con, settings, start, end)
        # A run over a range records one materialization per partition: each gets its own figures, and the
        # run's figures say which partitions they cover (partition_figures.py says why).
        metadata: dict = {of_run("rows", start, end): sum(written.values())}
        published = lake.has_data(settings, table)
        grouped: dict = {}
        if published:
            lake.register_views(con, settings, [table])
            if figures is not None:
                metadata.update(
                    {of_run(k, start, end): v for k, v in figures(con, settings, start, end).items()}
                )
            if day_figures is not None:
                grouped = grouped_by_day(con, day_figures[0], [start, end])
        add_per_partition(context, written, day_figures[1] if day_figures else None, grouped)
        results = []
        for check in declared.checks:
            said = words[check.name]
            params = said.params(settings) if said.params else {}
            rows = check_rows(con, table, check.name, start, end, **params) if published else []
            text: str | None
            if said.describe is not None:
                text = said.describe(rows)
            else:
                text = summarize(rows, said.line, said.what) if rows and said.line else said.passed
            if rows and not check.blocking:
                context.log.warning(f"{table}: {text}")
            results.append(
                AssetCheckResult(
                    check_name=check.name,
                    passed=not rows,
                    severity=AssetCheckSeverity.ERROR if check.blocking else AssetCheckSeverity.WARN,
                    description=text,
                    metadata={
                        **judged(table, start, end),
                        **params,
                        "count": len(rows),
                        said.rows_key: rows_table(rows),
                        **(said.figures(rows) if said.figures else {}),
                    },
                )
            )
        if declared.partitioned_by == tables.DAILY:
            through, recent = daily_through(settings, table)
            metadata.update(through)
            if declared.data_is_recent:
                results.append(recent)
        else:
            metadata.update(through_metadata(*monthly_data_through(settings, table), monthly=True))
        return MaterializeResult(metadata=metadata, check_results=results)

    return materialize
