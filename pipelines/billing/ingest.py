"""Load billing deliveries into the `line_items` table, one partition per billing period.

A delivery (see pipelines/billing/deliveries.py) is the set of current files of one export refresh. Each is
detected (formats.py), projected onto canonical columns, normalized by `sql/staging/<flavour>_lines.sql` and
`sql/line_items.sql`, validated, and only then published: a delivery replaces its billing period's partition
whole (AWS re-delivers the complete month-to-date every time), never appends to it.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import os
import re
import shutil
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from pipelines import lake
from pipelines.billing.formats import (
    Detected,
    _normalized_names,
    common_types,
    detect,
    missing_required,
    projection,
)
from pipelines.config import Settings
from pipelines.errors import InputError
from pipelines.sqlfiles import load_sql, quote_ident, quote_literal

STATE_FILE = "_delivery.json"
# A hash of each staged line's time, resource and amounts (a column of the staged view, never published): lines
# repeated across the files of a delivery hash alike, so only lines whose hash is in two files are candidates,
# and the check reads these few columns instead of all of them.
LINE_HASH = "_line_hash"
LINE_HASH_COLUMNS = (
    "charge_period_start",
    "charge_period_end",
    "line_item_type",
    "service_code",
    "usage_type",
    "operation",
    "resource_id",
    "usage_quantity",
    "billed_cost",
    "effective_cost",
)

log = logging.getLogger(__name__)


@dataclass
class DeliveryLoad:
    """What one delivery contributed: its id, flavour, and rows and totals per billing period."""

    delivery_id: str
    fingerprint: str
    flavour: str
    files: list[str]
    table: str  # the temp view over the staged file
    path: Path  # the staged Parquet file of the delivery's normalized lines
    periods: dict[str, dict] = field(default_factory=dict)
    source: str = ""
    delivered_at: str | None = None  # ISO UTC time AWS delivered it, when the export says


def _read_function(det: Detected, files: list[Path]) -> str:
    paths = "[" + ", ".join(quote_literal(str(p)) for p in files) + "]"
    if det.container == "parquet":
        return f"read_parquet({paths}, union_by_name = true, filename = true, file_row_number = true)"
    # Legacy CUR and FOCUS CSVs: every column as text, cast by the projection, so a bad value is reported by name.
    return (
        f"read_csv({paths}, header = true, all_varchar = true, union_by_name = true, filename = true, "
        # Billing CSVs are always comma-separated with double quotes; sniffing guesses wrong on sparse files.
        "delim = ',', quote = '\"', escape = '\"')"
    )


def _diagnose_cast_failure(con: duckdb.DuckDBPyConnection, det: Detected, files: list[Path], exc: Exception):
    """Find the first file, column and row whose value does not cast, to say exactly what is wrong."""
    from pipelines.billing.formats import CUR_COLUMNS, FOCUS_COLUMNS, _normalized_names

    spec = FOCUS_COLUMNS if det.flavour == "focus" else CUR_COLUMNS
    names = {c: c for c in det.columns} if det.flavour == "focus" else _normalized_names(det)
    for path in files:
        source = _read_function(det, [path])
        for canon, duck_type in spec.items():
            if duck_type == "VARCHAR" or canon not in names:
                continue
            col = quote_ident(names[canon])
            bad = con.execute(
                f"SELECT rn, v FROM (SELECT row_number() OVER () AS rn, "
                f"NULLIF(NULLIF(trim(CAST({col} AS VARCHAR)), ''), 'NULL') AS v FROM {source}) "
                f"WHERE v IS NOT NULL AND TRY_CAST(v AS {duck_type}) IS NULL LIMIT 1"
            ).fetchone()
            if bad:
                raise InputError(
                    path,
                    f"value {bad[1]!r} is not a valid {duck_type.lower()}",
                    column=names[canon],
                    line=bad[0] + 1,
                ) from None
    raise InputError(files[0], f"a value could not be converted ({exc})") from None


def stage_delivery(
    con: duckdb.DuckDBPyConnection, files: list[Path], *, delivery_id: str, name: str, out: Path
) -> tuple[str, Detected]:
    """Normalize one delivery's files into the Parquet file `out`, in one pass, and check it.

    `name` becomes a temp view over `out` (with the line hash the repeated-lines check uses). The file holds the
    lines in source order (files as listed, rows as written), so when the delivery is one billing period it is
    that period's partition as it stands: ingestion reads the export once and writes it once, like the floor
    pass in docs/benchmarks.md. Raise InputError for anything unreadable; `out` is then incomplete and unused.
    """
    if not files:
        raise InputError("(delivery)", "no data files")
    detected = [detect(p) for p in files]
    first = detected[0]
    for det in detected:
        if (det.flavour, det.container) != (first.flavour, first.container):
            raise InputError(
                det.path,
                f"is {det.flavour}/{det.container} but {first.path.name} of the same delivery is "
                f"{first.flavour}/{first.container}",
            )
        missing = missing_required(det)
        if missing:
            raise InputError(det.path, "required column is missing", column=missing[0])
    all_columns: list[str] = []
    for det in detected:
        all_columns += [c for c in det.columns if c not in all_columns]
    select_list = projection(first, tuple(all_columns), common_types(detected))
    staging = "staging/focus_lines" if first.flavour == "focus" else "staging/cur_lines"
    try:
        # Creating the view reads the header (CSV sniffing): a damaged file can fail here already.
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW raw_lines AS SELECT {select_list} FROM {_read_function(first, files)}"
        )
        con.execute(f"CREATE OR REPLACE TEMP VIEW staged_lines AS {load_sql(staging)}")
        params = {"delivery_id": delivery_id, "source_format": first.flavour}
        con.execute(
            f"COPY ({load_sql('line_items')}) TO {quote_literal(str(out))} ({lake.PARQUET_OPTIONS})", params
        )
    except duckdb.ConversionException as exc:
        _diagnose_cast_failure(con, first, files, exc)
    except (duckdb.IOException, duckdb.InvalidInputException) as exc:
        message = _first_line(exc)
        damaged = _damaged_gzip(files)
        if damaged is not None:
            raise InputError(damaged[0], f"the gzip stream is truncated or damaged ({damaged[1]})") from None
        if "sniffing" in message or "CSV Error" in str(exc):
            message = "not a well-formed CSV: rows do not match the header's fields, or the file is not text"
        elif "gzip" in message.lower() or "zlib" in message.lower():
            message = f"the gzip stream is damaged or truncated ({message})"
        raise InputError(_guess_file(str(exc), files), f"cannot read the file: {message}") from None
    staged = f"read_parquet({quote_literal(str(out))})"
    line_hash = "hash(" + ", ".join(LINE_HASH_COLUMNS) + ")"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {quote_ident(name)} AS SELECT *, {line_hash} AS {LINE_HASH} FROM {staged}"
    )
    _validate(con, name, files)
    if len(files) > 1:
        _refuse_repeated_lines(con, detected, files, tuple(all_columns), name)
    return name, first


def _refuse_repeated_lines(
    con: duckdb.DuckDBPyConnection,
    detected: list[Detected],
    files: list[Path],
    columns: tuple[str, ...],
    staged: str,
) -> None:
    """Refuse a delivery in which a line of one file appears again, identical, in another file.

    AWS never repeats a line across the parts of one delivery; an identical line in two files is a copied
    or re-uploaded file, and loading both would count its dollars twice. Dropping one copy would hide that,
    so the delivery is refused with both files named. Identical lines inside one file are kept: that is the
    export's own content.
    """
    _refuse_copied_files(files)
    # Lines equal in their source are equal in every hashed column: the staged lines' hashes give the
    # candidates, and only when there are some are the files read again to tell real repeats from lines that
    # differ in a column the pipeline does not load.
    _find_repeat_candidates(con, staged)
    try:
        if con.execute("SELECT count(*) FROM repeat_candidates").fetchone()[0] == 0:
            return
        identity = _identity_columns(detected)
        if identity:
            found = _repeats_by_identity(con, detected[0], files, staged, identity)
        else:
            found = _repeats_by_whole_rows(con, detected[0], files, columns, staged)
        if found is not None:
            first_file, second_file, lines, line = found
            raise InputError(
                second_file,
                f"{lines} line(s) are exact copies of lines in {first_file} of the same delivery; AWS never "
                "repeats a line across the files of one delivery, so these dollars would be counted twice (a "
                "copied or re-uploaded file?)",
                line=line,
            )
    finally:
        con.execute("DROP TABLE IF EXISTS repeat_candidates")
        con.execute("DROP TABLE IF EXISTS repeated_lines")


# Hashes are grouped per slice of the hash space: one GROUP BY over every line of a 100M-line delivery held
# 6.45 GB (DuckDB's aggregate did not stay within its memory limit); slices of this many lines keep each small.
LINES_PER_SLICE = 4_000_000


def _hashes_in_several_files(con: duckdb.DuckDBPyConnection, table: str, out: str) -> None:
    """Create temp table `out` (h, first_hf, last_hf): the hashes of `table` (h, hf) that occur in two files.

    `hf` is a number per file (hash of its name). min <> max of it, not count(DISTINCT file), which keeps a set
    per hash; numbers, not names, which keep a string per hash.
    """
    lines = con.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchone()[0]
    slices = 1 << max(0, math.ceil(math.log2(max(lines, 1) / LINES_PER_SLICE)))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_ident(out)} (h UBIGINT, first_hf UBIGINT, last_hf UBIGINT)"
    )
    for i in range(slices):
        con.execute(
            # Typed parameters: an untyped one made DuckDB widen every hash for the modulo (20x slower).
            f"INSERT INTO {quote_ident(out)} SELECT h, min(hf), max(hf) FROM {quote_ident(table)} "
            "WHERE h % CAST(? AS UBIGINT) = CAST(? AS UBIGINT) GROUP BY h HAVING min(hf) <> max(hf)",
            [slices, i],
        )


def _find_repeat_candidates(con: duckdb.DuckDBPyConnection, staged: str) -> None:
    """Create `repeat_candidates` (h, ...): the line hashes found in more than one file of the staged delivery."""
    # Each line's hash and file once (16 bytes a line, in DuckDB's buffer pool, which spills to disk): the
    # slices then scan this instead of hashing the staged file again.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE line_hashes AS "
        f"SELECT {LINE_HASH} AS h, hash(source_file) AS hf FROM {quote_ident(staged)}"
    )
    try:
        _hashes_in_several_files(con, "line_hashes", "repeat_candidates")
    finally:
        con.execute("DROP TABLE IF EXISTS line_hashes")


def _refuse_copied_files(files: list[Path]) -> None:
    """Refuse two files of one delivery with the same bytes (only files of equal size are hashed)."""
    by_size: dict[int, list[Path]] = {}
    for path in files:
        by_size.setdefault(path.stat().st_size, []).append(path)
    for same_size in by_size.values():
        digests: dict[str, Path] = {}
        for path in same_size if len(same_size) > 1 else []:
            digest = _file_digest(path)
            if digest in digests:
                raise InputError(
                    path,
                    f"has exactly the same content as {digests[digest]} of the same delivery: every line "
                    "would be counted twice; remove the copy",
                )
            digests[digest] = path


# AWS's own identity of a CUR line: with it, two lines are the same line when they are equal in every loaded
# column and in these, and the files need not be read whole again.
_LINE_IDENTITY = ("identity_line_item_id", "identity_time_interval")


def _identity_columns(detected: list[Detected]) -> list[str] | None:
    """The line identity columns, when every file is CUR Parquet that has them (row numbers align rows)."""
    found: list[str] | None = None
    for det in detected:
        names = _normalized_names(det) if det.flavour != "focus" else {}
        if det.container != "parquet" or "identity_line_item_id" not in names:
            return None
        own = [names[c] for c in _LINE_IDENTITY if c in names]
        if found is not None and own != found:
            return None
        found = own
    return found


def _repeats_by_identity(
    con: duckdb.DuckDBPyConnection,
    det: Detected,
    files: list[Path],
    staged: str,
    identity: list[str],
) -> tuple[str, str, int, int] | None:
    """Candidates whose line identity matches across files too: (first file, second file, count, row)."""
    ids = "hash(" + ", ".join(quote_ident(c) for c in identity) + ")"
    # The candidate lines alone (18M of the 100M-line bench month, where lines alike in the hashed columns are
    # common), keyed by a number per file rather than its name, so that the join with the files' identities
    # and the grouping after it hold numbers.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE candidate_lines AS "
        f"SELECT hash(source_file) AS hf, source_row, {LINE_HASH} AS lh FROM {quote_ident(staged)} "
        f"WHERE {LINE_HASH} IN (SELECT h FROM repeat_candidates)"
    )
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE repeated_lines AS
            SELECT c.hf, c.source_row, hash(c.lh, i.ih) AS h
            FROM (
                SELECT hash(filename) AS hf, file_row_number + 1 AS source_row, {ids} AS ih
                FROM {_read_function(det, files)}
            ) AS i
            INNER JOIN candidate_lines AS c ON i.hf = c.hf AND i.source_row = c.source_row
            """
        )
    finally:
        con.execute("DROP TABLE IF EXISTS candidate_lines")
    _hashes_in_several_files(con, "repeated_lines", "repeated")
    try:
        pair = _first_pair(con, staged, "repeated")
        if pair is None:
            return None
        first_file, second_file, lines = pair
        (row,) = con.execute(
            "SELECT min(source_row) FROM repeated_lines WHERE hf = hash(?) AND h IN (SELECT h FROM repeated)",
            [second_file],
        ).fetchone()
        return first_file, second_file, lines, row
    finally:
        con.execute("DROP TABLE IF EXISTS repeated")


def _first_pair(con: duckdb.DuckDBPyConnection, staged: str, repeated: str) -> tuple[str, str, int] | None:
    """From a table of (h, first_hf, last_hf): the first pair of files by name sharing a line, and the count."""
    return con.execute(
        f"""
        WITH names AS (SELECT DISTINCT source_file, hash(source_file) AS hf FROM {quote_ident(staged)})
        SELECT least(a.source_file, b.source_file), greatest(a.source_file, b.source_file), count(*) OVER ()
        FROM {quote_ident(repeated)} AS r
        INNER JOIN names AS a ON a.hf = r.first_hf
        INNER JOIN names AS b ON b.hf = r.last_hf
        ORDER BY 1, 2 LIMIT 1
        """
    ).fetchone()


def _repeats_by_whole_rows(
    con: duckdb.DuckDBPyConnection, det: Detected, files: list[Path], columns: tuple[str, ...], staged: str
) -> tuple[str, str, int, int | None] | None:
    """Lines repeated across files, comparing whole source rows (every column) by a 64-bit hash."""
    row_hash = "hash(" + ", ".join(quote_ident(c) for c in columns) + ")"
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE row_hashes AS "
        f"SELECT {row_hash} AS h, hash(filename) AS hf FROM {_read_function(det, files)}"
    )
    try:
        _hashes_in_several_files(con, "row_hashes", "repeated_lines")
    finally:
        con.execute("DROP TABLE IF EXISTS row_hashes")
    found = _first_pair(con, staged, "repeated_lines")
    if found is None:
        return None
    first_file, second_file, lines = found
    line = _first_repeated_line(con, det, Path(second_file), columns, row_hash)
    return first_file, second_file, lines, line


def _first_repeated_line(
    con: duckdb.DuckDBPyConnection, det: Detected, path: Path, columns: tuple[str, ...], row_hash: str
) -> int | None:
    """Line (CSV, header counted) or row (Parquet) number of the first repeated line in `path`, if known."""
    try:
        own = detect(path).columns
        if set(own) != set(columns):
            return None  # a file with other columns hashes differently on its own: no reliable number
        source = _read_function(det, [path])
        row = con.execute(
            f"SELECT rn FROM (SELECT row_number() OVER () AS rn, {row_hash} AS h FROM {source}) "
            "WHERE h IN (SELECT h FROM repeated_lines) ORDER BY rn LIMIT 1"
        ).fetchone()
    except (duckdb.Error, InputError):
        return None
    if row is None:
        return None
    return int(row[0]) + (1 if det.container == "csv" else 0)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _damaged_gzip(files: list[Path]) -> tuple[Path, str] | None:
    """After a read failed: the first gzip file that does not decompress to its end, and why."""
    for path in files:
        with open(path, "rb") as fh:
            if fh.read(2) != b"\x1f\x8b":
                continue
        try:
            with gzip.open(path, "rb") as fh:
                while fh.read(1 << 20):
                    pass
        except (OSError, EOFError, zlib.error) as exc:
            return path, str(exc)
    return None


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]


def _guess_file(message: str, files: list[Path]) -> Path:
    for path in files:
        if str(path) in message or path.name in message:
            return path
    return files[0]


def _validate(con: duckdb.DuckDBPyConnection, name: str, files: list[Path]) -> None:
    """Refuse lines that cannot be placed in time: no charge period start, or no billing period."""
    for column in ("charge_period_start", "billing_period"):
        bad = con.execute(
            f"SELECT source_file, count(*) FROM {quote_ident(name)} WHERE {column} IS NULL GROUP BY 1 LIMIT 1"
        ).fetchone()
        if bad:
            raise InputError(bad[0], f"{bad[1]} line(s) have no value for {column}", column=column)


@dataclass(frozen=True)
class _PlainFiles:
    """Manifest-less files of one flavour read as one delivery (a FOCUS export split into several files)."""

    files: tuple[Path, ...]
    delivery_id: str
    fingerprint: str
    source: str
    billing_period: None = None
    manifest: None = None


def _group_plain_files(deliveries: list) -> list:
    """Merge manifest-less deliveries of the same flavour, so a month split over files is one delivery."""
    import hashlib

    groups: dict[tuple[str, str], list] = {}
    out: list = []
    for delivery in deliveries:
        if delivery.billing_period is not None or not delivery.files:
            out.append(delivery)
            continue
        det = detect(delivery.files[0])
        groups.setdefault((det.flavour, det.container), []).append(delivery)
    for group in groups.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        digest = hashlib.sha256("\n".join(sorted(d.fingerprint for d in group)).encode()).hexdigest()[:16]
        out.append(
            _PlainFiles(
                files=tuple(f for d in group for f in d.files),
                delivery_id=f"files-{digest}",
                fingerprint=digest,
                source=", ".join(sorted({d.source for d in group})),
            )
        )
    return out


def period_totals(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, dict]:
    """Rows and billed/effective totals per billing period and currency of a staged delivery."""
    out: dict[str, dict] = {}
    rows = con.execute(
        f"SELECT CAST(billing_period AS VARCHAR), billing_currency, count(*), sum(billed_cost), sum(effective_cost) "
        f"FROM {quote_ident(name)} GROUP BY ALL ORDER BY ALL"
    ).fetchall()
    for period, currency, n, billed, effective in rows:
        entry = out.setdefault(period, {"rows": 0, "currencies": {}})
        entry["rows"] += n
        entry["currencies"][currency] = {
            "billed_cost": round(billed, 6),
            "effective_cost": round(effective, 6),
        }
    return out


def published_state(settings: Settings, period: str) -> dict | None:
    """The record of the delivery currently published for a billing period, if any."""
    path = lake.partition_path(settings, "line_items", period).parent / STATE_FILE
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def write_state(settings: Settings, period: str, state: dict) -> None:
    path = lake.partition_path(settings, "line_items", period).parent / STATE_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2, sort_keys=True))
    tmp.replace(path)


def ingest_deliveries(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    deliveries: list,
    periods: set[date] | None = None,
) -> dict[str, dict]:
    """Stage every delivery, check that no billing period comes from two of them, then publish all at once.

    `deliveries` are `pipelines.billing.deliveries.Delivery` objects; `periods` limits the billing periods
    written (None: every period found). Returns, per billing period written, the delivery and its totals.
    """
    wanted = {p.isoformat() for p in periods} if periods is not None else None
    deliveries = _group_plain_files(deliveries)
    loads: list[DeliveryLoad] = []
    owner: dict[str, DeliveryLoad] = {}
    # Deliveries are staged in the writer's scratch folder: a refusal or a crash leaves the published lake as it
    # was, and the scratch goes with the writer (or with the next run's clean-up after a kill).
    with lake.PartitionWriter(con, settings, "line_items") as writer:
        for i, delivery in enumerate(deliveries):
            if (
                delivery.billing_period is not None
                and wanted is not None
                and delivery.billing_period.isoformat() not in wanted
            ):
                continue
            if not delivery.files:
                # An empty delivery (the manifest lists no file yet) is no statement that the month cost nothing.
                log.warning(
                    "%s: the delivery lists no data file; the published month is kept", delivery.source
                )
                continue
            delivered_at = getattr(delivery, "delivered_at", None)
            if delivery.billing_period is not None and _older_than_published(
                settings, delivery, delivered_at
            ):
                continue
            out = writer.scratch / f"delivery_{i}.parquet"
            table, det = stage_delivery(
                con, list(delivery.files), delivery_id=delivery.delivery_id, name=f"delivery_{i}", out=out
            )
            load = DeliveryLoad(
                delivery_id=delivery.delivery_id,
                fingerprint=delivery.fingerprint,
                flavour=det.flavour,
                files=[str(f) for f in delivery.files],
                table=table,
                path=out,
                periods=period_totals(con, table),
                source=str(delivery.source),
                delivered_at=delivered_at.isoformat() if delivered_at is not None else None,
            )
            if not load.periods:
                log.warning("%s: the delivery has no line; no billing period is replaced", delivery.source)
            if delivery.billing_period is not None:
                expected = delivery.billing_period.isoformat()
                others = sorted(set(load.periods) - {expected})
                if others:
                    raise InputError(
                        delivery.manifest or delivery.files[0],
                        f"the manifest says billing period {expected} but lines carry {', '.join(others)}",
                        column="bill_billing_period_start_date",
                    )
            for period in load.periods:
                if wanted is not None and period not in wanted:
                    continue
                if period in owner:
                    other = owner[period]
                    same = " with the same delivery id" if other.delivery_id == load.delivery_id else ""
                    raise InputError(
                        delivery.source,
                        f"billing period {period} is in two deliveries{same} ({other.delivery_id} from "
                        f"{other.source} and {load.delivery_id} from {load.source}); point the source at one "
                        "export so no dollar is counted twice",
                    )
                _refuse_changed_content(settings, period, load, delivery)
                owner[period] = load
            loads.append(load)

        written: dict[str, dict] = {}
        for period, load in owner.items():
            keep_history(settings, period, load.delivery_id)
        for period, load in sorted(owner.items()):
            if set(load.periods) == {period}:
                # The usual case, one billing period per delivery: the staged file is the partition.
                writer.adopt(period, load.path, load.periods[period]["rows"])
            else:  # a FOCUS export of several months: split it (the staged file is in source order already)
                writer.stage(
                    period,
                    f"SELECT * EXCLUDE ({LINE_HASH}) FROM {quote_ident(load.table)} WHERE billing_period = ?",
                    [period],
                )
            written[period] = {
                "delivery_id": load.delivery_id,
                "fingerprint": load.fingerprint,
                "flavour": load.flavour,
                "files": load.files,
                "delivered_at": load.delivered_at,
                **load.periods[period],
            }
        for load in loads:
            con.execute(f"DROP VIEW IF EXISTS {quote_ident(load.table)}")
        writer.publish()
        for period, state in written.items():
            # The published file's SHA-256: "already published" is trusted only while the file still has it.
            state["sha256"] = writer.checksums[period]
    for period, state in written.items():
        lake.publish_step(f"record {period}")
        write_state(settings, period, state)
    return written


def _older_than_published(settings: Settings, delivery, delivered_at: datetime | None) -> bool:
    """True (and say so in the log) when the period's published delivery is known to be newer than this one.

    Deliveries can arrive out of order (a stale copy, a source pointed back at an old export). When both carry
    a delivery time, the newer one stays published. Without a time on either side, the delivery found in the
    source replaces the published one: the source's current manifest is the authority on what is current.
    """
    period = delivery.billing_period.isoformat()
    state = published_state(settings, period)
    if delivered_at is None or not state or not state.get("delivered_at"):
        return False
    published_at = datetime.fromisoformat(state["delivered_at"])
    if delivered_at >= published_at:
        return False
    log.warning(
        "billing period %s: delivery %s from %s was delivered at %s, before the published delivery %s (%s); "
        "the newer published one is kept",
        period,
        delivery.delivery_id,
        delivery.source,
        delivered_at.isoformat(),
        state.get("delivery_id"),
        published_at.isoformat(),
    )
    return True


def _refuse_changed_content(settings: Settings, period: str, load: DeliveryLoad, delivery) -> None:
    """Refuse a delivery whose id is already published for the period but whose lines now add up differently.

    An execution or assembly id names one refresh of the export, so new content under an old id means the
    files changed under their manifest (an overwrite caught half way, a hand-edited file): publishing it could
    mix two refreshes. Equal totals under a new fingerprint are the same content copied or synced again.
    """
    state = published_state(settings, period)
    if not state or state.get("delivery_id") != load.delivery_id:
        return
    if state.get("fingerprint") == load.fingerprint:
        return
    new = load.periods[period]
    old = {"rows": state.get("rows"), "currencies": state.get("currencies")}
    if old == {"rows": new["rows"], "currencies": new["currencies"]}:
        return
    state_path = lake.partition_path(settings, "line_items", period).parent / STATE_FILE
    raise InputError(
        delivery.manifest or delivery.source,
        f"delivery {load.delivery_id} of billing period {period} is already published with other content "
        f"({old['rows']} lines, now {new['rows']}; totals {_money(old['currencies'])}, now "
        f"{_money(new['currencies'])}): the files changed without a new manifest, perhaps mid-delivery. The "
        f"published month is kept; the export's next delivery will replace it (to accept these files as they "
        f"are, delete {state_path})",
    )


def _money(currencies: dict | None) -> str:
    return ", ".join(f"{v['billed_cost']:.2f} {c}" for c, v in sorted((currencies or {}).items())) or "none"


def keep_history(settings: Settings, period: str, new_delivery_id: str) -> Path | None:
    """Before a restatement replaces a billing period, keep the published version under lake/_history.

    A hard link (a copy where links are impossible) costs nothing and survives the rename that publishes the new
    version; only the newest `settings.history_versions` versions per period are kept.
    """
    current = lake.partition_path(settings, "line_items", period)
    # The delivery id is read from the published file itself, not from _delivery.json: a run killed between
    # publishing a partition and recording its state leaves the record one delivery behind the file.
    published_id = _file_delivery_id(current)
    if published_id is None or published_id == new_delivery_id:
        return None
    folder = settings.lake / "_history" / "line_items" / f"billing_period={period}"
    folder.mkdir(parents=True, exist_ok=True)
    safe_id = re.sub(r"[^A-Za-z0-9_.-]", "_", published_id)
    for kept in folder.glob(f"superseded=*/{safe_id}.parquet"):
        # Kept already by a run that was stopped before it published: one version, not two.
        if _same_file(kept, current):
            return kept
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = folder / f"superseded={stamp}" / f"{safe_id}.parquet"
    target.parent.mkdir()
    try:
        os.link(current, target)
    except OSError:
        shutil.copy2(current, target)
    versions = sorted(folder.glob("superseded=*"))
    for old in versions[: max(0, len(versions) - settings.history_versions)]:
        shutil.rmtree(old, ignore_errors=True)
    return target


def _file_delivery_id(path: Path) -> str | None:
    """The delivery id recorded in a published line_items file (one delivery per file), or None if absent."""
    try:
        parquet = pq.ParquetFile(path)
    except (OSError, ValueError):  # absent, or not Parquet (pyarrow's ArrowInvalid is a ValueError)
        return None
    if "delivery_id" not in parquet.schema_arrow.names:
        return None
    batch = next(parquet.iter_batches(batch_size=1, columns=["delivery_id"]), None)
    return str(batch.column(0)[0].as_py()) if batch is not None and batch.num_rows else None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b) or _file_digest(a) == _file_digest(b)
    except OSError:
        return False


def source_periods(settings: Settings) -> list[date]:
    """Billing periods present in the configured source: from manifests, else by reading plain files' data."""
    from pipelines.billing.deliveries import discover_deliveries

    deliveries = discover_deliveries(
        settings.cur_source, staging_dir=settings.staging, endpoint_url=settings.s3_endpoint_url
    )
    found: set[date] = set()
    con = lake.connect(settings)
    for i, delivery in enumerate(deliveries):
        if delivery.billing_period is not None:
            found.add(delivery.billing_period)
        elif delivery.files:
            with lake.PartitionWriter(con, settings, "line_items") as scratch:  # publishes nothing
                table, _ = stage_delivery(
                    con,
                    list(delivery.files),
                    delivery_id=delivery.delivery_id,
                    name=f"probe_{i}",
                    out=scratch.scratch / f"probe_{i}.parquet",
                )
                found.update(
                    r[0]
                    for r in con.execute(
                        f"SELECT DISTINCT billing_period FROM {quote_ident(table)}"
                    ).fetchall()
                )
                con.execute(f"DROP VIEW {quote_ident(table)}")
    return sorted(found)
