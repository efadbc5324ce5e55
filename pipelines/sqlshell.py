"""`mlcost sql`: one query printed as a table, CSV or JSON, or an interactive shell, always read-only."""

from __future__ import annotations

import csv
import json
import math
import os
import sys
from pathlib import Path

import duckdb

from pipelines.config import Settings
from pipelines.errors import InputError

TABLE_MAX_ROWS = 200


def _connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    if not settings.warehouse.exists():
        raise InputError(settings.warehouse, "no warehouse yet: run `mlcost run` (or `make demo`) first")
    return duckdb.connect(str(settings.warehouse), read_only=True)


def _problem(exc: duckdb.Error) -> str:
    """DuckDB's message up to its caret drawing, on one line (keeps "Did you mean ..." and candidates)."""
    text = str(exc).split("\n\n", 1)[0]
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def read_query(query: str) -> tuple[str, str]:
    """The SQL to run and where it came from: the text itself, or the contents of a `.sql` file it names."""
    if query.strip().endswith(".sql") and "\n" not in query.strip():
        path = Path(query.strip()).expanduser()
        if not path.is_file():
            raise InputError(path, "no such SQL file")
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(path, f"cannot read the SQL file: {exc}") from None
    return query, "query"


def run_query(settings: Settings, query: str, fmt: str = "table") -> int:
    """Run one query (or a `.sql` file of statements, the last one's result shown) and print its result."""
    sql, origin = read_query(query)
    con = _connect(settings)
    try:
        # Errors can surface at bind time (con.sql) or only when rows are produced (a bad cast, a file gone).
        rel = con.sql(sql)
        if rel is None:
            return 0
        if fmt == "table":
            rel.show(max_rows=TABLE_MAX_ROWS, max_width=200)
            return 0
        columns = rel.columns
        rows = rel.fetchall()
    except duckdb.Error as exc:
        raise InputError(origin, _problem(exc)) from None
    finally:
        con.close()
    if fmt == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    else:
        records = [{c: _json_value(v) for c, v in zip(columns, r, strict=True)} for r in rows]
        json.dump(records, sys.stdout, default=str, indent=1, ensure_ascii=False)
        print()
    return 0


def _json_value(value: object) -> object:
    # JSON has no NaN or infinity; a ratio over zero hours is better read as null than as invalid JSON.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def duckdb_cli() -> Path | None:
    """The `duckdb` command installed beside this Python (same release as the library), if there is one."""
    candidate = Path(sys.executable).parent / "duckdb"
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def shell(settings: Settings, use_cli: bool = True) -> int:
    """Open the warehouse read-only in the duckdb CLI (history, completion, .tables), else a small prompt."""
    con = _connect(settings)
    tables = [
        r[0]
        for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()
    ]
    cli = duckdb_cli() if use_cli else None
    if cli is not None:
        con.close()
        sys.stdout.flush()
        # Replace this process: the analyst's session is DuckDB's own shell, with nothing of ours in between.
        os.execv(cli, [str(cli), "-readonly", str(settings.warehouse)])
    print(f"mlcost sql: {settings.warehouse} (read-only). Tables: {', '.join(tables)}")
    print("End each statement with ';'. .quit to leave.")
    buffer: list[str] = []
    try:
        while True:
            try:
                line = input("mlcost> " if not buffer else "   ...> ")
            except EOFError:
                print()
                return 0
            if not buffer and line.strip() in (".quit", ".exit", "\\q"):
                return 0
            buffer.append(line)
            if line.rstrip().endswith(";"):
                query = "\n".join(buffer)
                buffer = []
                try:
                    rel = con.sql(query)
                    if rel is not None:
                        rel.show(max_rows=TABLE_MAX_ROWS, max_width=200)
                except duckdb.Error as exc:
                    print(_problem(exc))
    finally:
        con.close()
