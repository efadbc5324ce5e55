"""`mlcost export focus`: one billing period's attributed cost as a FOCUS 1.2 dataset (Parquet and CSV).

Columns: the 57 of FOCUS 1.2 (sql/exports/focus.sql), then mlcost's attribution as `x_` columns. Timestamps are
UTC: TIMESTAMP WITH TIME ZONE in Parquet, ISO 8601 with a Z in the CSV. The files are written beside their final
names and renamed into place only after Σ BilledCost and Σ EffectiveCost per currency equal the bill's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from pipelines.config import REPO_ROOT, Settings
from pipelines.exports.common import bill_totals, check_sums, open_warehouse, replace_atomically, scratch_name
from pipelines.storage.sqlfiles import load_sql, quote_ident, quote_literal

REFERENCE = REPO_ROOT / "pipelines" / "reference"
TIMESTAMP_COLUMNS = ("BillingPeriodEnd", "BillingPeriodStart", "ChargePeriodEnd", "ChargePeriodStart")


@dataclass
class FocusExport:
    parquet: Path
    csv: Path
    rows: int
    sums: dict[str, tuple[float, float]]  # currency -> (Σ BilledCost, Σ EffectiveCost)
    # Rows whose source line carries no invoice id: the period is not invoiced yet (CUR writes the id once the
    # invoice is issued, early in the next month). FOCUS wants InvoiceId null on them, and not null once invoiced.
    uninvoiced_rows: int = 0


def export_focus(settings: Settings, period: date, out: Path | None = None) -> FocusExport:
    out = Path(out) if out else settings.home / "exports" / "focus"
    out.mkdir(parents=True, exist_ok=True)
    con = open_warehouse(settings, period)
    try:
        con.execute(
            "CREATE TEMP TABLE region_names AS SELECT * FROM read_csv(?, header = true, all_varchar = true)",
            [str(REFERENCE / "aws_regions.csv")],
        )
        con.execute(
            "CREATE TEMP TABLE service_categories AS SELECT * FROM read_csv(?, header = true, all_varchar = true)",
            [str(REFERENCE / "focus_service_categories.csv")],
        )
        con.execute(load_sql("exports/focus_unit"))
        con.execute(f"CREATE TEMP TABLE focus AS {load_sql('exports/focus')}", {"period": period})
        rows, uninvoiced = con.execute(
            "SELECT count(*), count(*) FILTER (InvoiceId IS NULL) FROM focus"
        ).fetchone()
        sums = {
            c: (b, e)
            for c, b, e in con.execute(
                "SELECT BillingCurrency, sum(BilledCost), sum(EffectiveCost) FROM focus GROUP BY 1"
            ).fetchall()
        }
        name = f"focus-{period:%Y-%m}"
        check_sums(name, sums, bill_totals(con, period))
        parquet, csv = out / f"{name}.parquet", out / f"{name}.csv"
        tmp_parquet, tmp_csv = scratch_name(parquet), scratch_name(csv)
        as_tz = ", ".join(
            f"CAST({quote_ident(c)} AS TIMESTAMPTZ) AS {quote_ident(c)}" for c in TIMESTAMP_COLUMNS
        )
        try:
            con.execute(
                f"COPY (SELECT * REPLACE ({as_tz}) FROM focus) TO {quote_literal(str(tmp_parquet))} "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
            con.execute(
                f"COPY focus TO {quote_literal(str(tmp_csv))} "
                "(FORMAT csv, HEADER true, TIMESTAMP_FORMAT '%Y-%m-%dT%H:%M:%SZ', DATEFORMAT '%Y-%m-%d')"
            )
            replace_atomically(tmp_parquet, parquet)
            replace_atomically(tmp_csv, csv)
        finally:
            tmp_parquet.unlink(missing_ok=True)
            tmp_csv.unlink(missing_ok=True)
    finally:
        con.close()
    return FocusExport(parquet, csv, int(rows), sums, int(uninvoiced))
