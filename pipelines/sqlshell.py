"""`mlcost sql`: one query printed as a table, CSV or JSON, or an interactive shell, always read-only."""

from __future__ import annotations

import csv
import json
import sys

import duckdb

from pipelines.config import Settings
from pipelines.errors import InputError


def _connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    if not settings.warehouse.exists():
        raise InputError(settings.warehouse, "no warehouse yet: run `mlcost run` (or `make demo`) first")
    return duckdb.connect(str(settings.warehouse), read_only=True)


def run_query(settings: Settings, query: str, fmt: str = "table") -> int:
    """Run one query against the warehouse and print its result."""
    con = _connect(settings)
    try:
        rel = con.sql(query)
    except duckdb.Error as exc:
        raise InputError("query", str(exc).splitlines()[0]) from None
    if rel is None:
        return 0
    if fmt == "table":
        rel.show(max_rows=200, max_width=200)
        return 0
    columns = rel.columns
    rows = rel.fetchall()
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        json.dump([dict(zip(columns, r, strict=True)) for r in rows], sys.stdout, default=str, indent=1)
        print()
    return 0


def shell(settings: Settings) -> int:
    """A small interactive SQL prompt (the duckdb CLI is not a Python dependency); `.quit` leaves."""
    con = _connect(settings)
    print(f"mlcost sql: {settings.warehouse} (read-only). Tables: "
          + ", ".join(r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()))
    print("End each statement with ';'. .quit to leave.")
    buffer: list[str] = []
    while True:
        try:
            line = input("mlcost> " if not buffer else "   ...> ")
        except EOFError:
            print()
            return 0
        if line.strip() in (".quit", ".exit", "\\q"):
            return 0
        buffer.append(line)
        if line.rstrip().endswith(";"):
            query = "\n".join(buffer)
            buffer = []
            try:
                rel = con.sql(query)
                if rel is not None:
                    rel.show(max_rows=200, max_width=200)
            except duckdb.Error as exc:
                print(str(exc).splitlines()[0])


