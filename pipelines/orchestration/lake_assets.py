"""The Dagster face of the table registry (pipelines/storage/tables.py): column schemas, asset dependencies and asset
check specs, all derived from the one declaration of each table."""

from __future__ import annotations

from dagster import AssetCheckSpec, TableColumn, TableSchema

from pipelines.orchestration.data_through import recent_spec
from pipelines.storage import tables
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


def lake_asset(table: str):
    """The @asset of a registry table: its partitions (daily or monthly, on the lake's pool), group,
    dependencies, column schema and checks, all from pipelines/storage/tables.py."""
    from dagster import asset

    from pipelines.orchestration.partitions import DAILY_ASSET, MONTHLY_ASSET

    partitioning = DAILY_ASSET if TABLES[table].partitioned_by == tables.DAILY else MONTHLY_ASSET
    return asset(**partitioning, **asset_kwargs(table))
