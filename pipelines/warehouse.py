"""Build `warehouse.duckdb`: the catalog of views over the lake that analysts open read-only.

The file holds no data, only views with absolute paths (so it works from any working directory) and the table and
column descriptions from `pipelines/catalog.py`. It is rebuilt in a temporary file and renamed over the old one:
an analyst's open session keeps reading the old catalog, a new session gets the new one, nobody waits on a lock.
"""

from __future__ import annotations

import os
import uuid

import duckdb

from pipelines import lake
from pipelines.catalog import TABLES
from pipelines.config import Settings
from pipelines.sqlfiles import quote_ident, quote_literal


def refresh_catalog(settings: Settings) -> list[str]:
    """Recreate the views for every table that has data; return the table names exposed."""
    settings.home.mkdir(parents=True, exist_ok=True)
    tmp = settings.home / f".warehouse-{os.getpid()}-{uuid.uuid4().hex[:8]}.duckdb"
    exposed: list[str] = []
    con = duckdb.connect(str(tmp))
    try:
        for table in lake.PARTITION_COLUMNS:
            if not lake.has_data(settings, table):
                continue
            con.execute(
                f"CREATE VIEW {quote_ident(table)} AS SELECT * FROM "
                f"read_parquet({quote_literal(lake.table_glob(settings, table))}, union_by_name = true)"
            )
            doc = TABLES.get(table)
            if doc:
                con.execute(f"COMMENT ON VIEW {quote_ident(table)} IS {quote_literal(doc['description'])}")
                columns = {r[0] for r in con.execute(f"DESCRIBE {quote_ident(table)}").fetchall()}
                for column, text in doc["columns"].items():
                    if column in columns:
                        con.execute(
                            f"COMMENT ON COLUMN {quote_ident(table)}.{quote_ident(column)} IS {quote_literal(text)}"
                        )
            exposed.append(table)
        history = settings.lake / "_history" / "line_items"
        if any(history.glob("*/*/*.parquet")):
            # Superseded versions of restated billing periods: "what did we report for that month last week".
            con.execute(
                "CREATE VIEW line_items_history AS SELECT * FROM "
                f"read_parquet({quote_literal(str(history / '*' / '*' / '*.parquet'))}, hive_partitioning = true, "
                "union_by_name = true)"
            )
            con.execute(
                "COMMENT ON VIEW line_items_history IS 'Superseded versions of restated billing periods "
                "(line_items columns plus superseded, the UTC time the next delivery replaced them).'"
            )
            exposed.append("line_items_history")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, settings.warehouse)
    for leftover in (tmp.with_name(tmp.name + ".wal"),):
        leftover.unlink(missing_ok=True)
    return exposed
