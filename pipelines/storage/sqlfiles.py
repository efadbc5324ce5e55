"""Load the SQL files under `sql/` by table name, and quote the few identifiers we ever splice."""

from __future__ import annotations

from functools import cache
from pathlib import Path

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"


@cache
def load_sql(name: str) -> str:
    """Return the text of `sql/<name>.sql` (name may include a layer folder, e.g. `staging/cur_lines`)."""
    return (SQL_DIR / f"{name}.sql").read_text()


def quote_ident(name: str) -> str:
    """Quote an identifier (a column or table name that is part of the design, never user data values)."""
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """Quote a string literal for the rare DDL that cannot take parameters (CREATE VIEW, COMMENT ON)."""
    return "'" + text.replace("'", "''") + "'"
