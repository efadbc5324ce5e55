"""`mlcost sql`: one query printed as a table, CSV or JSON, or an interactive prompt, in a read-only sandbox.

The warehouse file is opened read-only, but DuckDB can still write files (`COPY … TO`, `EXPORT DATABASE`),
attach other databases, install extensions and read any file the user can read. A session of `mlcost sql`
is therefore closed in two ways (docs/reliability.md, "mlcost sql is a read-only sandbox"):

- DuckDB's own sandbox: `allowed_directories` is the snapshot folders the warehouse views read, then
  `enable_external_access = false` and `lock_configuration = true`, so no SET can give any of it back.
- A statement gate: only statements that cannot write a file run (SELECT and its relatives, EXPLAIN of those,
  SET, CALL, transactions, and changes to the session's in-memory temp objects). DuckDB's allowed directories are readable *and writable*, and the snapshot's files
  are hard links to the lake's: `COPY … TO '<snapshot file>' (USE_TMP_FILE false)` would rewrite a published
  Parquet file in place. The gate refuses every COPY, so nothing reaches that hole.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import sys
from decimal import Decimal
from pathlib import Path

import duckdb

from pipelines.config import Settings
from pipelines.errors import InputError

TABLE_MAX_ROWS = 200
# Statements allowed through the gate: those that read, and those whose only possible effect is on the session's
# in-memory temp catalog (CREATE TEMP VIEW/TABLE/MACRO, PIVOT's enum type, inserts into a temp table): DuckDB
# refuses them on the read-only warehouse itself. SET covers SET VARIABLE (the examples use it); every other
# setting is locked by `lock_configuration`. Not allowed: COPY, EXPORT, ATTACH/DETACH, INSTALL/LOAD, PREPARE/
# EXECUTE (a prepared COPY), VACUUM and whatever kind a later DuckDB adds.
_ALLOWED = {
    duckdb.StatementType.SELECT,
    duckdb.StatementType.SET,
    duckdb.StatementType.VARIABLE_SET,
    duckdb.StatementType.CALL,
    duckdb.StatementType.PRAGMA,
    duckdb.StatementType.TRANSACTION,
    duckdb.StatementType.CREATE,
    duckdb.StatementType.INSERT,
    duckdb.StatementType.UPDATE,
    duckdb.StatementType.DELETE,
    duckdb.StatementType.MERGE_INTO,
    duckdb.StatementType.DROP,
    duckdb.StatementType.ALTER,
}
_GLOB = re.compile(r"[*?\[{]")
_QUOTED = re.compile(r"'((?:[^']|'')*)'")
# A double holds 15 significant decimal digits whatever its value (DBL_DIG): printing that many shows what
# was computed, and drops the noise that summing binary fractions leaves in the 16th and 17th digits.
FLOAT_DIGITS = 15


def view_directories(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The folders the warehouse's views read Parquet from: each quoted absolute path up to its first glob."""
    folders: set[str] = set()
    for (sql,) in con.execute("SELECT sql FROM duckdb_views() WHERE NOT internal").fetchall():
        for literal in _QUOTED.findall(sql or ""):
            path = literal.replace("''", "'")
            if not path.startswith("/"):
                continue  # a format string or other value, not a file the view reads
            match = _GLOB.search(path)
            folder = path[: match.start()].rpartition("/")[0] if match else path.rpartition("/")[0]
            folders.add(folder.rstrip("/") + "/")
    return sorted(folders)


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """The warehouse opened read-only and sandboxed: it reads the views' snapshot folders and nothing else.

    With an S3 lake (MLCOST_LAKE), the views are over the objects its manifest names, and the session may read
    under the lake's prefix only (pipelines/storage/object_lake.py)."""
    if settings.lake_uri:
        from pipelines.storage.object_lake import connect_reader

        return _sandbox(connect_reader(settings), [settings.lake_uri + "/"])
    if not settings.warehouse.exists():
        raise InputError(settings.warehouse, "no warehouse yet: run `mlcost run` (or `make demo`) first")
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    return _sandbox(con, view_directories(con))


def _sandbox(con: duckdb.DuckDBPyConnection, folders: list[str]) -> duckdb.DuckDBPyConnection:
    try:
        # Order matters: allowed_directories cannot change once external access is off, nor anything once locked.
        con.execute("SET allowed_directories = $folders", {"folders": folders})
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str, origin: str) -> None:
    """Refuse (InputError) a text holding any statement that could write a file, a database or an extension."""
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise InputError(origin, problem(exc, sql)) from None
    for statement in statements:
        if statement.type in _ALLOWED or (
            statement.type == duckdb.StatementType.EXPLAIN and _explains_a_read(con, statement.query)
        ):
            continue
        kind = statement.query.split(None, 1)[0].upper() if statement.query.strip() else statement.type.name
        raise InputError(
            origin,
            f"{kind} is refused: mlcost sql runs in read-only mode and reads only the published tables "
            "(to save a result, use --format csv or json and redirect the output)",
        )


def _explains_a_read(con: duckdb.DuckDBPyConnection, text: str) -> bool:
    # EXPLAIN ANALYZE runs its statement: what it explains must itself be a read.
    inner = re.sub(r"^\s*explain\s+(analy[sz]e\s+)?(\([^)]*\)\s*)?", "", text, flags=re.IGNORECASE)
    try:
        return all(s.type in _ALLOWED for s in con.extract_statements(inner))
    except duckdb.Error:
        return False


def problem(exc: duckdb.Error, sql: str = "") -> str:
    """DuckDB's message on one line, with the position its caret drawing marks (LINE n, column c: the line)."""
    text = str(exc)
    head, _, drawing = text.partition("\n\n")
    message = " ".join(line.strip() for line in head.splitlines() if line.strip())
    where = re.match(r"LINE (\d+): (.*)\n( *)\^", drawing)
    if where:
        number, shown, pad = int(where.group(1)), where.group(2), len(where.group(3))
        caret = pad - len(f"LINE {number}: ")
        column, snippet = caret + 1, shown
        lines = sql.splitlines()
        core = shown[3:] if shown.startswith("...") else shown
        core = core[:-3] if core.endswith("...") else core
        if 0 < number <= len(lines) and core and core in lines[number - 1]:
            # DuckDB shortens long lines around the error; count the column in the line as written.
            column = lines[number - 1].index(core) + caret - (3 if shown.startswith("...") else 0) + 1
            snippet = lines[number - 1].strip()
        message += f" (LINE {number}, column {column}: {snippet})"
    if "Permission Error" in message:
        message += " (mlcost sql reads only the published tables of the warehouse)"
    return message


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
    con = connect(settings)
    try:
        check_read_only(con, sql, origin)
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
        raise InputError(origin, problem(exc, sql)) from None
    finally:
        con.close()
    write_rows(columns, rows, fmt)
    return 0


def write_rows(columns: list[str], rows: list[tuple], fmt: str, out=None) -> None:
    """Print rows as CSV or JSON: doubles at FLOAT_DIGITS significant digits, whole numbers without '.0'."""
    out = out or sys.stdout
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        writer.writerows([_csv_value(v) for v in row] for row in rows)
        return
    records = [{c: json_value(v) for c, v in zip(columns, row, strict=True)} for row in rows]
    json.dump(records, out, default=str, indent=1, ensure_ascii=False)
    print(file=out)


def number_value(value: float | Decimal) -> int | float:
    """A double or decimal as the number it shows: an int when whole (a count), else FLOAT_DIGITS digits."""
    number: float | Decimal = float(f"{value:.{FLOAT_DIGITS}g}") if isinstance(value, float) else value
    if number == int(number) and -(2**53) < number < 2**53:
        return int(number)
    return float(number)


def _csv_value(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return value
    if isinstance(value, float | Decimal):
        return number_value(value)
    return value


def json_value(value: object) -> object:
    """A value JSON can hold: NaN/infinity as null (a ratio over zero hours), numbers without float noise."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, float | Decimal):
        return number_value(value)
    return value


def duckdb_cli() -> Path | None:
    """The `duckdb` command installed beside this Python (same release as the library), if there is one."""
    candidate = Path(sys.executable).parent / "duckdb"
    return candidate if candidate.is_file() and os.access(candidate, os.X_OK) else None


def shell(settings: Settings) -> int:
    """An interactive prompt on the sandboxed warehouse: statements end with ';', `.tables`, `.quit`.

    DuckDB's own CLI is not offered: it cannot be given the statement gate, and its allowed folders are
    writable (module docstring). Line editing and history come from readline where Python has it.
    """
    con = connect(settings)
    tables = [
        r[0]
        for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()
    ]
    _enable_line_editing(tables)
    print(f"mlcost sql: {settings.warehouse} (read-only). Tables: {', '.join(tables)}")
    print("End each statement with ';'. .tables lists the tables, .quit leaves.")
    buffer: list[str] = []
    try:
        while True:
            try:
                line = input("mlcost> " if not buffer else "   ...> ")
            except EOFError:
                print()
                return 0
            except KeyboardInterrupt:  # Ctrl-C drops the statement being typed, as in DuckDB's shell
                print()
                buffer = []
                continue
            command = line.strip()
            if not buffer and command in (".quit", ".exit", "\\q"):
                return 0
            if not buffer and command == ".tables":
                print("  ".join(tables))
                continue
            buffer.append(line)
            if line.rstrip().endswith(";"):
                query = "\n".join(buffer)
                buffer = []
                try:
                    check_read_only(con, query, "query")
                    rel = con.sql(query)
                    if rel is not None:
                        rel.show(max_rows=TABLE_MAX_ROWS, max_width=200)
                except InputError as exc:
                    print(exc.problem)
                except duckdb.Error as exc:
                    print(problem(exc, query))
                except KeyboardInterrupt:
                    print("interrupted")
    finally:
        con.close()


def _enable_line_editing(tables: list[str]) -> None:
    try:
        import readline
    except ImportError:  # Windows without pyreadline: plain input() still works
        return
    words = sorted({*tables, "SELECT", "FROM", "WHERE", "GROUP BY", "ORDER BY", "LIMIT", "DESCRIBE"})

    def complete(text: str, state: int) -> str | None:
        matches = [w for w in words if w.lower().startswith(text.lower())]
        return matches[state] if state < len(matches) else None

    readline.set_completer(complete)
    readline.parse_and_bind("tab: complete")
