"""What the exports share: the warehouse opened read-only, a period's bill totals, checks that sums equal them."""

from __future__ import annotations

import hashlib
import os
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import duckdb

from pipelines.attribution.rules import DEFAULT_RULES
from pipelines.config import Settings
from pipelines.errors import InputError
from pipelines.storage.sqlfiles import load_sql

CENT = 0.005


@dataclass(frozen=True)
class BillTotals:
    currency: str
    billed_cost: float
    effective_cost: float
    delivery_id: str


def open_warehouse(settings: Settings, period: date) -> duckdb.DuckDBPyConnection:
    """The analysts' catalog, read-only; an error naming what is missing when the period was never attributed."""
    if not settings.warehouse.exists():
        raise InputError(settings.warehouse, "no warehouse yet: run `mlcost run` first")
    con = duckdb.connect(str(settings.warehouse), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()}
    if not {"cost_attribution", "line_items"} <= views:
        con.close()
        raise InputError(settings.warehouse, "no cost_attribution yet: run `mlcost run` first")
    found = [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT strftime(billing_period, '%Y-%m') FROM cost_attribution ORDER BY 1"
        ).fetchall()
    ]
    if period.strftime("%Y-%m") not in found:
        con.close()
        raise InputError(
            settings.warehouse,
            f"billing period {period:%Y-%m} has no attributed cost (periods: {', '.join(found) or 'none'})",
        )
    return con


def bill_totals(con: duckdb.DuckDBPyConnection, period: date) -> list[BillTotals]:
    rows = con.execute(load_sql("exports/period_totals"), {"period": period}).fetchall()
    return [BillTotals(*row) for row in rows]


def check_sums(what: str, sums: dict[str, tuple[float, float]], bill: list[BillTotals]) -> None:
    """Refuse an export whose Σ billed or Σ effective per currency differs from the bill's by a cent or more."""
    for total in bill:
        billed, effective = sums.get(total.currency, (0.0, 0.0))
        for name, got, want in (
            ("billed", billed, total.billed_cost),
            ("effective", effective, total.effective_cost),
        ):
            if abs(got - want) >= CENT:
                raise InputError(
                    what, f"Σ {name} cost {got:,.2f} {total.currency} differs from the bill's {want:,.2f}"
                )


def rules_file(settings: Settings) -> Path:
    return Path(settings.rules_path) if settings.rules_path else DEFAULT_RULES


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def replace_atomically(tmp: Path, target: Path) -> None:
    os.replace(tmp, target)


def scratch_name(target: Path) -> Path:
    return target.with_name(f".{target.name}.{os.getpid()}-{uuid.uuid4().hex[:8]}")
