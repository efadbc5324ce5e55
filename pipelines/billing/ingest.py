"""Load billing deliveries into the `line_items` table, one partition per billing period.

A delivery (see pipelines/billing/deliveries.py) is the set of current files of one export refresh. Each is
detected (formats.py), projected onto canonical columns, normalized by `sql/staging/<flavour>_lines.sql` and
`sql/line_items.sql`, validated, and only then published: a delivery replaces its billing period's partition
whole (AWS re-delivers the complete month-to-date every time), never appends to it.
"""

from __future__ import annotations

import contextlib
import csv
import gzip
import hashlib
import io
import json
import logging
import math
import os
import queue
import re
import shutil
import threading
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.billing.formats import (
    NON_FINITE_ERROR,
    Detected,
    _normalized_names,
    common_types,
    detect,
    missing_required,
    projection,
)
from pipelines.config import Settings
from pipelines.errors import InputError
from pipelines.file_reading.content import GZIP_MAGIC
from pipelines.storage import lake, tables
from pipelines.storage.sqlfiles import load_sql, quote_ident, quote_literal

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
    found = _first_bad_value(con, det, files, "TRY_CAST(v AS {type}) IS NULL")
    if found:
        path, column, line, value, duck_type = found
        raise InputError(
            path, f"value {value!r} is not a valid {duck_type.lower()}", column=column, line=line
        )
    raise InputError(files[0], f"a value could not be converted ({exc})") from None


def _diagnose_non_finite(con: duckdb.DuckDBPyConnection, det: Detected, files: list[Path]):
    """Name the first NaN or ±Infinity number of a delivery (the COPY stopped at one, see formats._finite)."""
    found = _first_bad_value(con, det, files, "isfinite(TRY_CAST(v AS DOUBLE)) IS FALSE", only="DOUBLE")
    if found:
        path, column, line, value, _ = found
        raise InputError(
            path,
            f"value {value!r} is not a finite number (NaN or ±Infinity would make every total of the month "
            "NaN or infinite)",
            column=column,
            line=line,
        )
    raise InputError(files[0], "a number is NaN or infinite (the line could not be found again)")


def _first_bad_value(
    con: duckdb.DuckDBPyConnection, det: Detected, files: list[Path], test: str, only: str | None = None
) -> tuple[Path, str, int, str, str] | None:
    """(file, column as the file spells it, line, value, type) of the first value for which `test` holds.

    `test` is SQL over `v` (the value as text, blanks as NULL) with `{type}` for the column's type; columns are
    tried in the canonical order, files as listed. Only read after a delivery failed: it reads the files again.
    """
    from pipelines.billing.formats import CUR_COLUMNS, FOCUS_COLUMNS

    spec = FOCUS_COLUMNS if det.flavour == "focus" else CUR_COLUMNS
    names = {c: c for c in det.columns} if det.flavour == "focus" else _normalized_names(det)
    for path in files:
        own = set(detect(path).columns)
        source = _read_function(det, [path])
        for canon, duck_type in spec.items():
            if duck_type == "VARCHAR" or canon not in names or names[canon] not in own:
                continue
            if only is not None and duck_type != only:
                continue
            col = quote_ident(names[canon])
            bad = con.execute(
                f"SELECT rn, v FROM (SELECT {_row_number(det)} AS rn, "
                f"NULLIF(NULLIF(trim(CAST({col} AS VARCHAR)), ''), 'NULL') AS v FROM {source}) "
                f"WHERE v IS NOT NULL AND {test.format(type=duck_type)} ORDER BY rn LIMIT 1"
            ).fetchone()
            if bad:
                return path, names[canon], _line_number(det, path, bad[0]), bad[1], duck_type
    return None


def _row_number(det: Detected) -> str:
    """SQL numbering a file's rows from 1 in file order (Parquet: the reader's own row number)."""
    return "file_row_number + 1" if det.container == "parquet" else "row_number() OVER ()"


def _line_number(det: Detected, path: Path, row: int) -> int:
    """What an error calls the position of the `row`-th data row (from 1) of a file.

    Parquet: the row number itself (row 10 is "line 10"). CSV: the line of the file where that row starts, as an
    editor numbers it (the header is line 1), counting the lines inside quoted values that hold a newline.
    """
    if det.container == "parquet":
        return int(row)
    with _open_text(path) as fh:
        reader = csv.reader(fh)
        if next(reader, None) is None:
            return int(row) + 1
        start = reader.line_num + 1
        for i, _ in enumerate(reader, start=1):
            if i == row:
                return start
            start = reader.line_num + 1
        return int(row) + 1


def _open_text(path: Path):
    """A text handle on a CSV (gzip or plain), bytes that are not UTF-8 replaced (only lines are counted)."""
    with open(path, "rb") as fh:
        gz = fh.read(2) == GZIP_MAGIC
    raw = gzip.open(path, "rb") if gz else open(path, "rb")  # noqa: SIM115 (closed by the TextIOWrapper)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="replace", newline="")


def _first_non_utf8(files: list[Path]) -> tuple[Path, int, int, bytes] | None:
    """(file, line, byte offset in the line from 1, bytes) of the first bytes that are not UTF-8, files as listed."""
    for path in files:
        with _open_text(path) as text:
            raw = text.buffer
            for number, line in enumerate(raw, start=1):
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as err:
                    return path, number, err.start + 1, line[err.start : err.end]
    return None


def stage_delivery(
    con: duckdb.DuckDBPyConnection,
    files: list[Path],
    *,
    delivery_id: str,
    name: str,
    out: Path,
    billing_period: date | None = None,
    today: date | None = None,
    memory_limit: str | None = None,
) -> tuple[str, Detected]:
    """Normalize one delivery's files into the Parquet file `out`, in one pass, and check it.

    `name` becomes a temp view over `out` (with the line hash the repeated-lines check uses). The file holds the
    lines ordered by usage day (then start time; `source_file`, `source_row` keep where each came from), or in the
    delivery's own order when that already groups them by day (`clustered_as_delivered` from the footers, or
    `starts_in_time_order` then `written_clustered` from the lines), so when the delivery is one billing period it
    is that period's partition as it stands, clustered by day: ingestion reads the export once and writes it once,
    like the floor pass in docs/benchmarks.md. Raise InputError for anything unreadable or implausible (see
    `_validate`; `billing_period` is the manifest's, `today` fixes the accepted window in tests); `out` is then
    unused.
    `memory_limit` is the connection's DuckDB memory limit (MLCOST_DUCKDB_MEMORY_LIMIT), which the one-sort write
    lowers for its sort (`_write_in_one_sort`).
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
        # Clustered by usage day: each row group then holds a day or a few, and its min/max statistics let a
        # one-day rerun of the attribution skip the rest of the month (sql/staging/attribution_lines.sql).
        # A total order (ties broken by the line's place in the export, or a CSV line's content): every run writes
        # the same bytes.
        lines = estimated_lines(detected)
        by_content = first.container != "parquet"  # no source row to break ties by (_BY_CONTENT)
        if clustered_as_delivered(detected):
            _write_as_delivered(con, params, out)
        elif starts_in_time_order(con, lines):
            # The footers could not tell (CSV, coarse row groups), the first lines look chronological: written as
            # delivered, then judged by the row groups written, and sorted after all if they do not group days
            # (with the same text codes: the written file holds the export's values).
            with _codes_for(con, load_sql("line_items"), params) as codes:
                _write_as_delivered(con, params, out, codes)
                if not written_clustered(out):
                    _sort_written(con, out, memory_limit, by_content, codes)
        elif lines <= ONE_SORT_MAX_LINES:
            _write_in_one_sort(con, params, out, memory_limit, by_content=by_content)
        else:
            _write_by_day(con, params, out, by_content=by_content)
    except duckdb.ConversionException as exc:
        _diagnose_cast_failure(con, first, files, exc)
    except (duckdb.IOException, duckdb.InvalidInputException) as exc:
        message = _first_line(exc)
        if NON_FINITE_ERROR in message:
            _diagnose_non_finite(con, first, files)
        damaged = _damaged_gzip(files)
        if damaged is not None:
            raise InputError(damaged[0], f"the gzip stream is truncated or damaged ({damaged[1]})") from None
        if first.container == "csv" and ("unicode" in message.lower() or "utf-8" in str(exc).lower()):
            bad = _first_non_utf8(files)
            if bad is not None:
                path, line, offset, raw = bad
                raise InputError(
                    path,
                    f"byte(s) {' '.join(f'0x{b:02x}' for b in raw)} at byte {offset} of the line are not UTF-8: billing CSVs are "
                    "UTF-8 text; save the file as UTF-8",
                    line=line,
                ) from None
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
    _validate(con, name, first, files, billing_period=billing_period, today=today)
    if len(files) > 1:
        _refuse_repeated_lines(con, detected, files, tuple(all_columns), name)
    return name, first


# The order line_items is written in (unless written as delivered): by usage day, then start, then the line's place
# in the export.
DAY_ORDER = "usage_date, charge_period_start, source_file, source_row"
_DAY_ORDER_WITHIN_A_DAY = "charge_period_start, source_file, source_row"
# A CSV line has no source row (formats.projection): lines of one file with the same start would tie, and DuckDB's
# sort on two threads ordered them differently from run to run (a 150,000-line CSV gave two different files in
# three runs). Their content breaks the tie (lines equal in every column are interchangeable), so the same
# delivery writes the same bytes again.
_BY_CONTENT = "hash(*COLUMNS(*))"


def _sorted_lines(
    source: str, within_a_day: bool, by_content: bool, encode: list[str], decode: list[str] | None = None
) -> str:
    """A SELECT of `source`'s lines in DAY_ORDER (or its part within one day): the text codes `encode` (SELECT *
    REPLACE expressions) applied before the sort and `decode` after it; for a delivery whose lines have no source
    row (CSV), the lines' content last, hashed as it stands (before the codes, as text)."""
    order = _DAY_ORDER_WITHIN_A_DAY if within_a_day else DAY_ORDER
    content = f", {_BY_CONTENT} AS _content" if by_content else ""
    inner = f"SELECT *{_replace(encode)}{content} FROM {source} ORDER BY {order}{', _content' if by_content else ''}"
    return f"SELECT *{' EXCLUDE (_content)' if by_content else ''}{_replace(decode or [])} FROM ({inner})"


# Above this many lines a delivery is clustered by day in two passes (_write_by_day) instead of one ORDER BY.
# DuckDB's sort spills every row it holds uncompressed (about 150 bytes a line): a 300M-line month filled the 45 GB
# left on this machine's disk within four minutes (docs/benchmarks.md, "300M lines").
ONE_SORT_MAX_LINES = 20_000_000
# How much of each CSV file's stored bytes `estimated_lines` reads to weigh its lines (1 MiB: thousands of CUR lines).
_CSV_SAMPLE_BYTES = 1 << 20
# At most this much text is decompressed from a gzip file's sample.
_CSV_SAMPLE_TEXT = 64 << 20
# The CSV guess is this many times the sample's rate: a guess too high only sends a delivery to the two-pass write
# (the same rows in the same order, a little slower), a guess too low sends a large one to the one sort, whose
# spill can fill the disk (above).
_CSV_GUESS_MARGIN = 2


def estimated_lines(detected: list[Detected]) -> int:
    """The delivery's lines: exact for Parquet (its footer), guessed for CSV (`_csv_lines_guess`)."""
    total = 0
    for det in detected:
        if det.container == "parquet":
            total += _footer(det).num_rows
        else:
            total += _csv_lines_guess(det.path)
    return total


def _csv_lines_guess(path: Path) -> int:
    """A CSV file's lines, guessed from the lines in its first stored MiB (gzip or plain) times its size, with
    _CSV_GUESS_MARGIN. Legacy CUR is delivered as gzip CSV: ten or more times smaller than its text (the generated
    CUR 2.0 month: 787 bytes a line as text, 79 gzipped), so the stored size at a fixed 100 bytes a line (the guess
    before this one) took a gzip delivery of 25M such lines for under 20M, and sorted it in one piece."""
    size = path.stat().st_size
    with open(path, "rb") as fh:
        sample = fh.read(_CSV_SAMPLE_BYTES)
    if sample.startswith(GZIP_MAGIC):
        lines, consumed, ended = _gzip_sample_lines(sample)
    else:
        lines, consumed, ended = sample.count(b"\n"), len(sample), True
    if ended and size <= len(sample):  # the whole file was read: its lines are counted, not guessed
        return lines + 1
    return max(lines, 1) * size // max(consumed, 1) * _CSV_GUESS_MARGIN


def _gzip_sample_lines(sample: bytes) -> tuple[int, int, bool]:
    """(lines, stored bytes they came from, whether the sample's gzip members all ended) of the start of a gzip file.

    Members follow one another (a writer flushing as it goes), as `gzip` itself reads them. At most _CSV_SAMPLE_TEXT
    of text is made: a stream that inflates a thousandfold stays small in memory. A damaged stream: the lines
    before the damage are the sample.
    """
    lines, consumed, produced, rest = 0, 0, 0, sample
    with contextlib.suppress(zlib.error):
        while rest:
            member = zlib.decompressobj(wbits=31)
            text = member.decompress(rest, max(_CSV_SAMPLE_TEXT - produced, 1))
            lines, produced = lines + text.count(b"\n"), produced + len(text)
            if not member.eof:  # stopped at the text bound or at the sample's end
                return lines, consumed + len(rest) - len(member.unconsumed_tail), False
            consumed += len(rest) - len(member.unused_data)
            rest = member.unused_data
    return lines, consumed, True


# A Parquet delivery of at least this many lines whose footers show its lines already grouped by time is written
# as delivered (below). Smaller ones are sorted: the sort takes seconds there, and gives the one order docs and
# tests describe.
FILE_ORDER_MIN_LINES = 1_000_000
# Written as delivered when a one-day read of the file-order layout is at most this many times what the sorted
# layout reads (a day's lines plus a boundary row group).
FILE_ORDER_SLACK = 2.0
# Start times spread over more days than this (ten years) are not judged: sorted.
_MAX_JUDGED_DAYS = 3660


def clustered_as_delivered(detected: list[Detected]) -> bool:
    """Whether the delivery, written in its own order, is already clustered by usage day for one-day reads.

    AWS writes a CUR in a few chronological sweeps: the real 2018 export in ../shared/realdata (119,307 lines) changes
    day 63 times in file order and steps back in time twice, where lines in random order would change day at almost
    every line. Such a delivery is written as it comes (the floor's pass: no sort, docs/benchmarks.md section 15).
    Judged from the Parquet footers alone, before anything is read: each source row group's first and last start
    time (its min/max statistics) bound the days of the 65,536-line row groups the file-order write would make;
    for each day of the span, the lines of the groups whose range holds it are what a one-day query would decode.
    Accepted when that, averaged over the days, is at most FILE_ORDER_SLACK times what the sorted layout reads (a
    day's share of the lines plus one row group). CSV (no statistics), a start column without min/max, or a delivery
    under FILE_ORDER_MIN_LINES: False (the first two may still be written as delivered: `starts_in_time_order`).
    """
    if any(det.container != "parquet" for det in detected):
        return False
    # (lines, first day, last day) of each source row group, in the order the write reads them.
    groups: list[tuple[int, date, date]] = []
    for det in detected:
        found = _row_group_days(_footer(det), _source_column(det, "charge_period_start"))
        if found is None:
            return False
        groups += found
    return sum(n for n, _, _ in groups) >= FILE_ORDER_MIN_LINES and _clustered(groups)


def _row_group_days(meta: pq.FileMetaData, column: str) -> list[tuple[int, date, date]] | None:
    """(lines, first day, last day) of each non-empty row group of a Parquet footer, from `column`'s min/max (a
    start time or a date), or None when some row group has none to read."""
    leaves = [j for j in range(meta.num_columns) if meta.schema.column(j).path == column]
    if len(leaves) != 1:
        return None
    groups = []
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        if group.num_rows == 0:
            continue
        # Statistics pyarrow cannot read (an unusual logical type) are as good as none.
        unreadable = (pa.ArrowException, ValueError, TypeError, NotImplementedError)
        try:
            stats = group.column(leaves[0]).statistics
            bounds = (stats.min, stats.max) if stats is not None and stats.has_min_max else None
        except unreadable:
            bounds = None
        if bounds is None:
            return None
        first, last = _utc_day(bounds[0]), _utc_day(bounds[1])
        if first is None or last is None:
            return None
        groups.append((group.num_rows, first, last))
    return groups


def _clustered(groups: list[tuple[int, date, date]]) -> bool:
    """Whether lines laid out in these row groups (lines, first day, last day; in read order), rewritten into
    ROW_GROUP_LINES-line row groups in the same order, let a one-day query read at most FILE_ORDER_SLACK times
    what the sorted layout reads (`clustered_as_delivered`)."""
    lines = sum(n for n, _, _ in groups)
    if not lines:
        return False
    start = min(first for _, first, _ in groups)
    days = (max(last for _, _, last in groups) - start).days + 1
    if days > _MAX_JUDGED_DAYS:
        return False
    # The written row groups: consecutive windows of ROW_GROUP_LINES lines in read order; each window's days lie
    # within those of the source groups it overlaps. Lines read on each day: a difference array over the span.
    read = [0] * (days + 1)
    offset, g = 0, 0
    for window_start in range(0, lines, lake.ROW_GROUP_LINES):
        window_end = min(window_start + lake.ROW_GROUP_LINES, lines)
        while offset + groups[g][0] <= window_start:  # skip the source groups that end before the window
            offset += groups[g][0]
            g += 1
        first, last, at, k = groups[g][1], groups[g][2], offset, g
        while at + groups[k][0] < window_end:  # the source groups the window reaches into
            at += groups[k][0]
            k += 1
            first, last = min(first, groups[k][1]), max(last, groups[k][2])
        read[(first - start).days] += window_end - window_start
        read[(last - start).days + 1] -= window_end - window_start
    total, running = 0, 0
    for change in read[:days]:
        running += change
        total += running
    file_order = total / days / lines
    sorted_layout = 1 / days + lake.ROW_GROUP_LINES / lines
    return file_order <= FILE_ORDER_SLACK * sorted_layout


def _footer(det: Detected) -> pq.FileMetaData:
    """A Parquet file's footer: the one `detect` read, or read now for a Detected built without it."""
    return det.footer if det.footer is not None else pq.read_metadata(det.path)


def _utc_day(value: object) -> date | None:
    """The UTC day of a start time or a date from Parquet statistics, or None when it is neither."""
    if isinstance(value, datetime):
        return (value.astimezone(UTC) if value.tzinfo is not None else value).date()
    return value if isinstance(value, date) else None


# The second chance (`stage_delivery`) for a delivery the footers cannot judge (CSV, which has no statistics;
# Parquet whose row groups each span days, as pyarrow's default of 1M lines a group makes them): its first lines
# are sampled, 1 in _ORDER_SAMPLE_SHARE of its (estimated) lines within _ORDER_SAMPLE_LINES. At most
# _SAMPLE_MAX_DAYS usage days among them: written as delivered and judged by what was written.
_ORDER_SAMPLE_SHARE = 200
_ORDER_SAMPLE_LINES = (1_000, 200_000)
_SAMPLE_MAX_DAYS = 2


def starts_in_time_order(con: duckdb.DuckDBPyConnection, lines: int) -> bool:
    """Whether the delivery staged as `staged_lines`, of about `lines` lines, begins in time order.

    0.5 % of a month's lines in mixed order fall on every day of it (the generated 1M-line month: all 31); in
    AWS's chronological sweeps (docs/ingestion.md), on the first hours of the first day. A delivery under
    FILE_ORDER_MIN_LINES is not sampled: sorted, as `clustered_as_delivered` leaves it.
    """
    if lines < FILE_ORDER_MIN_LINES:
        return False
    low, high = _ORDER_SAMPLE_LINES
    sample = min(max(lines // _ORDER_SAMPLE_SHARE, low), high)
    # LIMIT on a query that keeps insertion order: DuckDB reads the first lines of the first file and stops.
    days = con.execute(
        "SELECT count(DISTINCT usage_date) FROM (SELECT usage_date FROM staged_lines LIMIT ?)", [sample]
    ).fetchone()
    return days is not None and days[0] <= _SAMPLE_MAX_DAYS


def written_clustered(out: Path) -> bool:
    """Whether line_items written as delivered to `out` groups its usage days: its own row groups judged by the
    rule `clustered_as_delivered` applies to a delivery's footers (exactly here: these are the row groups a one-day
    query reads)."""
    groups = _row_group_days(pq.read_metadata(out), "usage_date")
    return groups is not None and _clustered(groups)


def _sort_written(
    con: duckdb.DuckDBPyConnection,
    out: Path,
    memory_limit: str | None,
    by_content: bool = False,
    codes: TextCodes | None = None,
) -> None:
    """Rewrite line_items written as delivered to `out` in DAY_ORDER, reading the normalized file rather than the
    export again: the second chance did not pay off, and costs this one extra write. `codes`: those of the write
    as delivered (default: collected from the file)."""
    delivered = out.with_name(out.name + ".as-delivered")
    out.replace(delivered)
    source = f"FROM read_parquet({quote_literal(str(delivered))})"
    try:
        if pq.read_metadata(delivered).num_rows <= ONE_SORT_MAX_LINES:
            _write_in_one_sort(con, {}, out, memory_limit, source=source, by_content=by_content, codes=codes)
        else:
            _write_by_day(con, {}, out, source=source, by_content=by_content, codes=codes)
    finally:
        delivered.unlink(missing_ok=True)


def _write_as_delivered(
    con: duckdb.DuckDBPyConnection, params: dict, out: Path, codes: TextCodes | None = None
) -> None:
    """Write line_items to `out` in the delivery's own order (files in order, then rows): the staging query only
    reads and projects, and DuckDB keeps that order while reading in parallel (`preserve_insertion_order`,
    lake.connect), so a repeat writes the same bytes. The repeated text columns are written from ENUM
    dictionaries (`codes`, default `_text_codes`; those written back as text by the sort are left as text here)."""
    query = load_sql("line_items")
    with _codes_for(con, query, params, codes) as codes:
        con.execute(
            f"COPY (SELECT *{_replace(_written_codes(codes))} FROM ({query})) TO {quote_literal(str(out))} "
            f"({lake.PARQUET_OPTIONS})",
            params,
        )


# The share of the connection's memory limit the one-sort write gives DuckDB's buffer pool (below). With the text
# sorted as text, 0.75 peaked at 1.88-1.99 GiB at 10M lines and 0.65 at 1.73-1.78 GiB (docs/benchmarks.md, section
# 18). With the text as codes (`_text_codes`) the sorted rows are narrower: 0.65 peaked at 1.66-1.67 GiB in
# 24.0-24.2 s, 0.5 at 1.34 GiB in 24.4-25.0 s (section 19).
SORT_MEMORY_SHARE = 0.5


def _write_in_one_sort(
    con: duckdb.DuckDBPyConnection,
    params: dict,
    out: Path,
    memory_limit: str | None = None,
    source: str | None = None,
    by_content: bool = False,
    codes: TextCodes | None = None,
) -> None:
    """Write line_items to `out` in DAY_ORDER with one COPY … ORDER BY (deliveries up to ONE_SORT_MAX_LINES).

    The sort carries the repeated text columns as codes (`_text_codes`). It holds memory outside DuckDB's buffer
    pool (the Parquet writer's row groups, and batches jemalloc keeps after they are freed): with the pool at the
    connection's 2 GB limit a 10M-line month's ingestion peaked at 2.2-2.45 GiB. With SORT_MEMORY_SHARE of
    `memory_limit` for the sort and jemalloc's background threads returning freed memory (`lake.return_freed_memory`,
    as in pass 2): 1.34 GiB (docs/benchmarks.md, sections 14, 18 and 19). The connection's limit
    is set back after the write. Without `memory_limit` (or one not in bytes and DuckDB's units) the pool keeps the
    connection's limit. `source`: the lines' query (default line_items.sql over `staged_lines`, with `params`);
    `by_content`: ties broken by the lines' content (`_sorted_lines`); `codes`: the text codes (default
    `_text_codes` of the lines).
    """
    query = source or load_sql("line_items")
    limit = lake.memory_bytes(memory_limit) if memory_limit else None
    lake.return_freed_memory(con)
    with _codes_for(con, query, params, codes) as codes:
        if limit:
            con.execute("SET memory_limit = ?", [f"{int(limit * SORT_MEMORY_SHARE)}B"])
        try:
            # Every coded column sorted as codes; those whose dictionary is large written back as text.
            decode = [f"{quote_ident(c)}::VARCHAR AS {quote_ident(c)}" for c in sorted(codes.written_as_text)]
            lines = _sorted_lines(
                f"({query})", False, by_content, _to_codes(codes, list(codes.types)), decode
            )
            con.execute(f"COPY ({lines}) TO {quote_literal(str(out))} ({lake.PARQUET_OPTIONS})", params)
        finally:
            if limit:
                con.execute("SET memory_limit = ?", [memory_limit])


def _replace(expressions: list[str]) -> str:
    """A SELECT * modifier replacing columns by `expressions`, or nothing."""
    return f" REPLACE ({', '.join(expressions)})" if expressions else ""


# The one sort and the write as delivered carry line_items' repeated text columns as codes (DuckDB ENUMs: one to four
# bytes a value, `_text_codes`). DuckDB's sort moves every column of every row, and its Parquet writer builds each
# row group's dictionary by hashing every string; an ENUM column is written from its own dictionary, as a Parquet
# string column (the same type to every reader). On the generated 10M-line month the one sort wrote in 51.7 s with
# the text, 33.6 s with codes written back as text, 20.9 s with codes written as they are (bench/analysis.md,
# section 19). Columns whose values may differ on every line stay text: resource ids, free-text descriptions, maps.
TEXT_AS_CODES = True
_UNCODED_TEXT = ("resource_id", "charge_description")
# A column with more distinct values than this in a delivery is left as text: its dictionary would cost more than
# its codes save. Nor are a column's values collected when its values in the delivery's first
# TEXT_CODES_SAMPLE_LINES lines are mostly distinct (a column with a new value on every line would fill memory with
# them); planning the sample's query costs ~0.2 s, reading its lines little.
TEXT_CODES_MAX_VALUES = 100_000
TEXT_CODES_SAMPLE_LINES = 100_000
# An ENUM column's Parquet dictionary is the whole ENUM, in every row group (and its min/max statistics bound the
# whole ENUM, its distinct count is the ENUM's size). A coded column whose values hold more text than this is
# written back as text, so no row group repeats a large dictionary: at most ~0.5 byte a line for each column.
TEXT_CODES_WRITTEN_MAX_BYTES = 32 << 10


@dataclass(frozen=True)
class TextCodes:
    """The ENUM type of each coded column, and the coded columns written back as text."""

    types: dict[str, str] = field(default_factory=dict)
    written_as_text: frozenset[str] = frozenset()


def _text_codes(
    con: duckdb.DuckDBPyConnection, query: str, params: dict, columns: list[str] | None = None
) -> TextCodes:
    """The codes for the repeated text `columns` of `query`'s lines (default: line_items' text columns but
    _UNCODED_TEXT). Each ENUM lists the column's values in text order, so the sort orders codes as it would order
    the text (`source_file` is a sort key).

    The delivery's first lines tell which columns repeat (a LIMIT on a query that keeps insertion order reads only
    those); one aggregate pass over the lines, reading only those columns, collects their values.
    """
    if columns is None:
        columns = [
            c.name
            for c in tables.TABLES["line_items"].columns
            if c.type == "VARCHAR" and c.name not in _UNCODED_TEXT
        ]
    sampled = con.execute(
        "SELECT "
        + ", ".join(f"count(DISTINCT {quote_ident(c)})" for c in columns)
        + f" FROM (SELECT {', '.join(quote_ident(c) for c in columns)} FROM ({query}) LIMIT $sample_lines)",
        {**params, "sample_lines": TEXT_CODES_SAMPLE_LINES},
    ).fetchone()
    coded = [c for c, n in zip(columns, sampled or (), strict=True) if 0 < n <= TEXT_CODES_SAMPLE_LINES // 2]
    if not coded:
        return TextCodes()
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _text_values AS SELECT "
        + ", ".join(
            f"list(DISTINCT {quote_ident(c)}) FILTER ({quote_ident(c)} IS NOT NULL) AS {quote_ident(c)}"
            for c in coded
        )
        + f" FROM ({query})",
        params,
    )
    types: dict[str, str] = {}
    try:
        # Per column: how many values, and how many bytes of text they hold.
        sizes = (
            con.execute(
                "SELECT "
                + ", ".join(
                    f"len({quote_ident(c)}), coalesce(list_sum(list_transform({quote_ident(c)}, v -> strlen(v))), 0)"
                    for c in coded
                )
                + " FROM _text_values"
            ).fetchone()
            or ()
        )
        values, text_bytes = (
            dict(zip(coded, sizes[::2], strict=True)),
            dict(zip(coded, sizes[1::2], strict=True)),
        )
        for i, column in enumerate(c for c in coded if values[c] <= TEXT_CODES_MAX_VALUES):
            type_name = f"_text_code_{i}"
            con.execute(
                f"CREATE TYPE {type_name} AS ENUM "
                f"(SELECT v FROM (SELECT unnest({quote_ident(column)}) AS v FROM _text_values) ORDER BY v)"
            )
            types[column] = type_name
    except BaseException:
        _drop_text_codes(con, TextCodes(types))
        raise
    finally:
        con.execute("DROP TABLE _text_values")
    large = {c for c in types if text_bytes[c] > TEXT_CODES_WRITTEN_MAX_BYTES}
    return TextCodes(types, frozenset(large))


def _drop_text_codes(con: duckdb.DuckDBPyConnection, codes: TextCodes) -> None:
    for type_name in codes.types.values():
        con.execute(f"DROP TYPE IF EXISTS {type_name}")


@contextlib.contextmanager
def _codes_for(
    con: duckdb.DuckDBPyConnection, query: str, params: dict, codes: TextCodes | None = None
) -> Iterator[TextCodes]:
    """`codes` as they are (their owner drops them), or the text codes of `query`'s lines (none without
    TEXT_AS_CODES), dropped afterwards."""
    if codes is not None:
        yield codes
        return
    made = _text_codes(con, query, params) if TEXT_AS_CODES else TextCodes()
    try:
        yield made
    finally:
        _drop_text_codes(con, made)


def _write_by_day(
    con: duckdb.DuckDBPyConnection,
    params: dict,
    out: Path,
    source: str | None = None,
    by_content: bool = False,
    codes: TextCodes | None = None,
) -> None:
    """Write line_items to `out` in DAY_ORDER without sorting the whole delivery at once.

    Pass 1 (`_split_by_day`) streams the normalized lines into one folder per usage day. Pass 2
    (`_append_days_in_order`) sorts each day on its own (a month's 1/31) and appends it to `out`, so each row group
    holds one day. The rows and their order are those of the one-pass ORDER BY; temporary space is one compressed
    copy of the delivery instead of an uncompressed one. `source`, `by_content` and `codes` as in
    `_write_in_one_sort`.
    """
    days = out.with_name(out.name + ".days")
    shutil.rmtree(days, ignore_errors=True)
    query = source or load_sql("line_items")
    try:
        with _codes_for(con, query, params, codes) as codes:
            folders = _split_by_day(con, params, days, query, codes)
            if not folders:  # no lines: the one-pass write of an empty result
                _write_in_one_sort(con, params, out, source=source, by_content=by_content, codes=codes)
                return
            _append_days_in_order(con, folders, out, by_content, codes)
    finally:
        shutil.rmtree(days, ignore_errors=True)


def _to_codes(codes: TextCodes, columns: list[str]) -> list[str]:
    """SELECT * REPLACE expressions putting `columns` (coded ones) in their ENUMs."""
    return [f"{quote_ident(c)}::{codes.types[c]} AS {quote_ident(c)}" for c in columns]


def _written_codes(codes: TextCodes) -> list[str]:
    """The expressions for the coded columns written as codes (not those written back as text)."""
    return _to_codes(codes, [c for c in codes.types if c not in codes.written_as_text])


def _split_by_day(
    con: duckdb.DuckDBPyConnection, params: dict, days: Path, query: str, codes: TextCodes
) -> list[Path]:
    """Pass 1: the delivery's normalized lines (`query`) into `days/_day=YYYY-MM-DD/`, in day order ('none' last),
    the repeated text written as `codes`.

    DuckDB's partitioned write: no sort, and memory bounded by its 65,536-row flush threshold per day.
    """
    con.execute("SET partitioned_write_flush_threshold = 65536")
    try:
        con.execute(
            f"COPY (SELECT *{_replace(_written_codes(codes))}, coalesce(strftime(usage_date, '%Y-%m-%d'), 'none') AS _day "
            f"FROM ({query})) TO {quote_literal(str(days))} "
            "(FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 65536, PARTITION_BY (_day), WRITE_PARTITION_COLUMNS false)",
            params,
        )
    finally:
        con.execute("RESET partitioned_write_flush_threshold")
    # 'YYYY-MM-DD' folders sort as dates; lines with no usage day ('none') come last, as NULLS LAST does.
    return sorted(days.glob("_day=*"), key=lambda f: (f.name == "_day=none", f.name))


def _append_days_in_order(
    con: duckdb.DuckDBPyConnection,
    folders: list[Path],
    out: Path,
    by_content: bool = False,
    codes: TextCodes | None = None,
) -> None:
    """Pass 2: each day's lines sorted by _DAY_ORDER_WITHIN_A_DAY, appended to `out` through one Parquet writer,
    65,536-line row groups (a day's last row group is short, so no row group spans two days).

    The Parquet writer encodes on one thread. DuckDB sorts the days on another (a cursor of `con`), a few batches
    ahead, so the sort and the encoding share the machine's cores instead of taking turns (pass 2 of an 8.4M-line
    delivery: 36.1 s -> 25.7-27.9 s; of a 100M-line month: 557 s -> 311 s; docs/benchmarks.md, section 13). Both
    release the GIL while they work.
    """
    batches: queue.Queue = queue.Queue(maxsize=_BATCHES_AHEAD)
    stop = threading.Event()
    cursor = con.cursor()
    # The day's lines with the repeated text as codes (pass 1 wrote them from ENUMs; they read back as text). DuckDB
    # hands ENUMs to Arrow as dictionary arrays, which the Parquet writer writes from their dictionary.
    day_query = _sorted_lines(
        "read_parquet(?, hive_partitioning = false)", True, by_content, _written_codes(codes or TextCodes())
    )

    def sort_days() -> None:
        try:
            for folder in folders:
                files = sorted(str(f) for f in folder.glob("*.parquet"))
                reader = cursor.execute(day_query, [files]).to_arrow_reader(65_536)
                for batch in reader:
                    if stop.is_set():
                        return
                    batches.put(batch)
            batches.put(_END)
        except BaseException as exc:  # handed to the writing thread, which raises it
            batches.put(exc)

    # The batches are DuckDB's memory (jemalloc), made on the sorting thread and freed on this one. Without
    # jemalloc's background threads that memory stayed resident: a 100M-line month's ingestion then peaked at
    # 3.92-4.09 GiB in the check after pass 2 (3.05 GiB before the thread). With them and pyarrow's pool released
    # after the write (the two were not measured apart): 3.01 GiB, the resident set falling from 2.68 GiB at the
    # end of pass 2 to 0.49 GiB two seconds later (docs/benchmarks.md, section 13).
    lake.return_freed_memory(con)
    sorter = threading.Thread(target=sort_days, name="mlcost-day-sort", daemon=True)
    sorter.start()
    writer = None
    try:
        while (item := batches.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            if writer is None:
                # No Arrow schema in the file: a reader gets the text columns as text, as from the one sort.
                writer = pq.ParquetWriter(
                    out, item.schema, compression="zstd", compression_level=3, store_schema=False
                )
            writer.write_batch(item, row_group_size=65_536)
    finally:
        stop.set()
        # Stopped early (an error, Ctrl-C): cancel a sort under way instead of awaiting it.
        if sorter.is_alive():
            cursor.interrupt()
        while sorter.is_alive():  # unblock a sorter waiting on a full queue, then let it finish
            with contextlib.suppress(queue.Empty):
                batches.get_nowait()
            sorter.join(timeout=0.1)
        cursor.close()
        if writer is not None:
            writer.close()
        pa.default_memory_pool().release_unused()  # the writer's buffers (pyarrow's own allocator)


# How many 65,536-line batches the day sort may run ahead of the Parquet writer (~40 MB each in Arrow for the
# generated CUR lines, 635 bytes a line).
_BATCHES_AHEAD = 4
_END = object()


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
    # differ in a column the pipeline does not load. With the line identity, the candidates' lines are collected in
    # the same pass, so the identity check does not hash the staged lines again.
    identity = _identity_columns(detected)
    _find_repeat_candidates(con, staged, with_lines=identity is not None)
    try:
        if con.execute("SELECT count(*) FROM repeat_candidates").fetchone()[0] == 0:
            return
        if identity:
            found: tuple[str, str, int, int | None] | None = _repeats_by_identity(
                con, detected[0], files, staged, identity
            )
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
        con.execute("DROP TABLE IF EXISTS candidate_lines")
        con.execute("DROP TABLE IF EXISTS repeated_lines")


# Hashes are grouped in slices of at most this many lines (runs of usage days, `_find_repeat_candidates`, or parts
# of the hash space, `_hashes_in_several_files`): one GROUP BY over every line of a 100M-line delivery held 6.45 GB
# (DuckDB's aggregate did not stay within its memory limit).
LINES_PER_SLICE = 4_000_000
# The hashes (h, a number per file hf) of `{source}` found in more than one file, as (h, first_hf, last_hf).
_IN_SEVERAL_FILES = "SELECT h, min(hf), max(hf) FROM {source} GROUP BY h HAVING min(hf) <> max(hf)"


def _hashes_in_several_files(con: duckdb.DuckDBPyConnection, table: str, out: str) -> None:
    """Create temp table `out` (h, first_hf, last_hf): the hashes of `table` (h, hf) that occur in two files.

    `hf` is a number per file (hash of its name). min <> max of it, not count(DISTINCT file), which keeps a set
    per hash; numbers, not names, which keep a string per hash. Above LINES_PER_SLICE lines, one pass writes the
    hashes into one Parquet folder per slice (h modulo the number of slices) under DuckDB's spill folder, and
    each slice is grouped from its own folder. Filtering the whole table once per slice instead reads every line
    once per slice: the slices grow with the lines, so that is quadratic in the delivery's size.
    """
    lines = con.execute(f"SELECT count(*) FROM {quote_ident(table)}").fetchone()[0]
    slices = 1 << max(0, math.ceil(math.log2(max(lines, 1) / LINES_PER_SLICE)))
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {quote_ident(out)} (h UBIGINT, first_hf UBIGINT, last_hf UBIGINT)"
    )
    group = _IN_SEVERAL_FILES
    if slices == 1:
        con.execute(f"INSERT INTO {quote_ident(out)} {group.format(source=quote_ident(table))}")
        return
    spill = Path(con.execute("SELECT current_setting('temp_directory')").fetchone()[0] or ".tmp")
    folder = spill.resolve() / f"hash-slices-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    folder.parent.mkdir(parents=True, exist_ok=True)  # DuckDB creates its spill folder only when it spills
    # 16 bytes a line and one open partition per slice: a small flush threshold bounds the buffers.
    con.execute("SET partitioned_write_flush_threshold = 65536")
    try:
        con.execute(
            # Typed parameter: an untyped one made DuckDB widen every hash for the modulo (20x slower).
            f"COPY (SELECT h, hf, h % CAST(? AS UBIGINT) AS s FROM {quote_ident(table)}) "
            f"TO {quote_literal(str(folder))} (FORMAT parquet, PARTITION_BY (s), WRITE_PARTITION_COLUMNS false)",
            [slices],
        )
        for part in sorted(folder.glob("s=*")):
            files = sorted(str(f) for f in part.glob("*.parquet"))
            con.execute(
                f"INSERT INTO {quote_ident(out)} "
                + group.format(source="read_parquet(?, hive_partitioning = false)"),
                [files],
            )
    finally:
        con.execute("RESET partitioned_write_flush_threshold")
        shutil.rmtree(folder, ignore_errors=True)


def _find_repeat_candidates(con: duckdb.DuckDBPyConnection, staged: str, with_lines: bool = False) -> None:
    """Create `repeat_candidates` (h, first_hf, last_hf): the line hashes found in more than one file of the staged
    delivery, grouped usage day by usage day; `with_lines`: and `candidate_lines` (hf, source_row, lh), the lines
    with those hashes, for `_repeats_by_identity` (collecting them afterwards hashed every line again: 11.6 s of a
    100M-line month's check).

    A repeated line has the same start in both files (LINE_HASH_COLUMNS), so the same usage day (the start's date,
    staging/*_lines.sql): the hashes are grouped over runs of consecutive days of up to LINES_PER_SLICE lines
    (`_day_slices`), each read straight from the staged file. It is clustered by day, so a slice reads its days' row
    groups and each line is read once: the work grows with the lines, where slicing the hash space had to write
    every line's hash first (16 bytes a line, a 1.6 GB table at 100M lines, then a Parquet folder per slice). A day over
    LINES_PER_SLICE lines (a 1B-line month has 32M a day) is grouped on its own by `_hashes_in_several_files`.
    Only the lines that can be repeats are read: those starting inside a span of start times two files share
    (`shared_start_spans`), and those without a start. Plain ranges on the start, so DuckDB reads only the row
    groups whose statistics overlap one (one scan with the ranges OR-ed: 0.5 s for 300 spans of a 10M-line file,
    where a UNION ALL of a scan per span took 6 s).
    """
    spans = shared_start_spans(con, staged)
    shared = ""
    shared_params: list[datetime] = []
    if spans is not None:
        shared = (
            " AND ("
            + " OR ".join(
                ["charge_period_start IS NULL"] + ["charge_period_start BETWEEN ? AND ?"] * len(spans)
            )
            + ")"
        )
        shared_params = [bound for span in spans for bound in span]
    con.execute(
        "CREATE OR REPLACE TEMP TABLE repeat_candidates (h UBIGINT, first_hf UBIGINT, last_hf UBIGINT)"
    )
    row = ", source_row" if with_lines else ""
    hashes = f"SELECT {LINE_HASH} AS h, hash(source_file) AS hf{row} FROM {quote_ident(staged)}"
    if with_lines:
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE candidate_lines AS SELECT hf, source_row, h AS lh FROM ({hashes}) LIMIT 0"
        )
    for first, last, lines in _day_slices(con, staged, shared, shared_params):
        days = "usage_date IS NULL" if first is None else "usage_date BETWEEN ? AND ?"
        where = f" WHERE {days}{shared}"
        params = ([] if first is None else [first, last]) + shared_params
        if lines <= LINES_PER_SLICE and not with_lines:
            con.execute(
                "INSERT INTO repeat_candidates " + _IN_SEVERAL_FILES.format(source=f"({hashes}{where})"),
                params,
            )
            continue
        con.execute(f"CREATE OR REPLACE TEMP TABLE line_hashes AS {hashes}{where}", params)
        try:
            _hashes_in_several_files(con, "line_hashes", "slice_candidates")
            con.execute("INSERT INTO repeat_candidates SELECT * FROM slice_candidates")
            if with_lines:
                con.execute(
                    "INSERT INTO candidate_lines SELECT hf, source_row, h FROM line_hashes "
                    "WHERE h IN (SELECT h FROM slice_candidates)"
                )
        finally:
            con.execute("DROP TABLE IF EXISTS line_hashes")
            con.execute("DROP TABLE IF EXISTS slice_candidates")


def _day_slices(
    con: duckdb.DuckDBPyConnection, staged: str, shared: str, params: list[datetime]
) -> list[tuple[date | None, date | None, int]]:
    """Runs of consecutive usage days (first, last, lines) of the staged lines matching `shared` (an AND clause),
    each of up to LINES_PER_SLICE lines or one day; the lines without a usage day last, as (None, None, lines)."""
    counts = con.execute(
        f"SELECT usage_date, count(*) FROM {quote_ident(staged)} WHERE true{shared} "
        "GROUP BY usage_date ORDER BY usage_date NULLS LAST",
        params,
    ).fetchall()
    slices: list[tuple[date | None, date | None, int]] = []
    for day, lines in counts:
        if day is None:
            slices.append((None, None, lines))
        elif slices and slices[-1][0] is not None and slices[-1][2] + lines <= LINES_PER_SLICE:
            slices[-1] = (slices[-1][0], day, slices[-1][2] + lines)
        else:
            slices.append((day, day, lines))
    return slices


def shared_start_spans(con: duckdb.DuckDBPyConnection, staged: str) -> list[tuple[datetime, datetime]] | None:
    """The spans of start times (inclusive, merged, in order) that at least two files of the staged delivery share;
    None when that is every start of the delivery.

    A line repeated in another file has the same start (LINE_HASH_COLUMNS), so it starts inside one of these
    spans (or has no start). In mixed order every file spans the month: None, and every line is hashed. A delivery
    written in time order (AWS's, docs/ingestion.md) shares only the hours around each boundary between its files,
    and only their lines are hashed (docs/benchmarks.md, section 18).
    """
    ranges = con.execute(
        f"SELECT min(charge_period_start), max(charge_period_start) FROM {quote_ident(staged)} "
        "GROUP BY source_file HAVING count(charge_period_start) > 0 ORDER BY 1, 2"
    ).fetchall()
    spans: list[tuple[datetime, datetime]] = []
    reach = None  # the latest end of the files before: that file covers from this one's start to it
    for first, last in ranges:
        if reach is not None and first <= reach:
            shared = (first, min(last, reach))
            if spans and shared[0] <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], shared[1]))
            else:
                spans.append(shared)
        reach = last if reach is None else max(reach, last)
    if ranges and spans == [(ranges[0][0], reach)]:
        return None  # filtering would only cost a comparison per line
    return spans


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
    """Candidates whose line identity matches across files too: (first file, second file, count, row). Reads
    `candidate_lines` (`_find_repeat_candidates` with `with_lines`)."""
    ids = "hash(" + ", ".join(quote_ident(c) for c in identity) + ")"
    # The candidate lines alone (`candidate_lines`: 18M of the 100M-line bench month, where lines alike in the
    # hashed columns are common), keyed by a number per file rather than its name, so that the join with the
    # files' identities and the grouping after it hold numbers.
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
            if fh.read(2) != GZIP_MAGIC:
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


# The dates a delivery may carry (docs/ingestion.md, "Accepted dates"). Before 2000 no cloud bill exists; after
# the month following the current one no bill can be delivered yet (AWS delivers the current month to date).
# A date outside them is a broken export or a typo, and loading it would create partitions for 1970 or 2100
# that no good run ever removes.
EARLIEST_BILLING_PERIOD = date(2000, 1, 1)


def latest_billing_period(today: date | None = None) -> date:
    """The last billing period a delivery may hold: the month after today's (UTC), one billing period ahead."""
    today = today or datetime.now(UTC).date()
    return _next_month(today.replace(day=1))


def _next_month(first: date) -> date:
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1)


# Where each staged column comes from in each flavour, for messages that name the column as the file spells it.
_SOURCE_COLUMN = {
    "cur": {
        "charge_period_start": "line_item_usage_start_date",
        "charge_period_end": "line_item_usage_end_date",
        "billing_period": "bill_billing_period_start_date",
        "billing_currency": "line_item_currency_code",
    },
    "focus": {
        "charge_period_start": "ChargePeriodStart",
        "charge_period_end": "ChargePeriodEnd",
        "billing_period": "BillingPeriodStart",
        "billing_currency": "BillingCurrency",
    },
}


def _source_column(det: Detected, column: str) -> str:
    """The file's own name of a staged column (`charge_period_start` → `lineItem/UsageStartDate`)."""
    if det.flavour == "focus":
        return _SOURCE_COLUMN["focus"][column]
    names = _normalized_names(det)
    canon = _SOURCE_COLUMN["cur"][column]
    if canon not in names and column == "billing_period":  # no billing period column: it is the usage month
        canon = "line_item_usage_start_date"
    return names.get(canon, canon)


def _validate(
    con: duckdb.DuckDBPyConnection,
    name: str,
    det: Detected,
    files: list[Path],
    *,
    billing_period: date | None = None,
    today: date | None = None,
) -> None:
    """Refuse a delivery with a line that cannot be placed in time or money, naming its file, line and column.

    Every line needs a start and a billing period; it must not end before it starts; its billing period and
    times must lie in the accepted window (EARLIEST_BILLING_PERIOD to latest_billing_period, the charge times
    up to the end of that month); its billing period must be the delivery's (`billing_period`, from the
    manifest) when there is one; its currency must be a three-letter code. One pass over the staged file
    counts the problems; only when there is one are the files read again to find its line.
    """
    latest = latest_billing_period(today)
    times_end = datetime.combine(_next_month(latest), datetime.min.time())
    earliest = datetime.combine(EARLIEST_BILLING_PERIOD, datetime.min.time())
    # (staged column, SQL that is true on a bad line, problem) in the order they are reported.
    problems = [
        ("charge_period_start", "charge_period_start IS NULL", "the line has no charge period start"),
        ("billing_period", "billing_period IS NULL", "the line has no billing period"),
        (
            "billing_period",
            "billing_period NOT BETWEEN $earliest_period AND $latest_period",
            f"billing period {{billing_period}} is outside the accepted {EARLIEST_BILLING_PERIOD:%Y-%m} to "
            f"{latest:%Y-%m} (from 2000 to one billing period after the current month; docs/ingestion.md)",
        ),
        (
            "charge_period_start",
            "charge_period_start NOT BETWEEN $earliest AND $times_end",
            f"charge period start {{charge_period_start}} is outside the accepted {earliest:%Y-%m-%d} to "
            f"{times_end:%Y-%m-%d} (docs/ingestion.md)",
        ),
        (
            "charge_period_end",
            "charge_period_end NOT BETWEEN $earliest AND $times_end",
            f"charge period end {{charge_period_end}} is outside the accepted {earliest:%Y-%m-%d} to "
            f"{times_end:%Y-%m-%d} (docs/ingestion.md)",
        ),
        (
            "charge_period_end",
            "charge_period_end < charge_period_start",
            "the line ends ({charge_period_end}) before it starts ({start_column} {charge_period_start})",
        ),
        (
            "billing_currency",
            "NOT regexp_full_match(billing_currency, '[A-Z]{3}')",
            "currency {billing_currency!r} is not a three-letter ISO 4217 code (like USD)",
        ),
    ]
    params = {
        "earliest_period": EARLIEST_BILLING_PERIOD,
        "latest_period": latest,
        "earliest": earliest,
        "times_end": times_end,
    }
    if billing_period is not None:
        problems.append(
            (
                "billing_period",
                "billing_period <> $delivery_period",
                f"the line is billed in {{billing_period}} but its delivery (the manifest) is for billing "
                f"period {billing_period:%Y-%m-%d}",
            )
        )
        params["delivery_period"] = billing_period
    counts = con.execute(
        "SELECT "
        + ", ".join(f"count(*) FILTER (WHERE {test})" for _, test, _ in problems)
        + f" FROM {quote_ident(name)}",
        params,
    ).fetchone()
    for (column, test, problem), count in zip(problems, counts, strict=True):
        if not count:
            continue
        used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", test)}
        row = con.execute(
            f"SELECT source_file, source_row, charge_period_start, charge_period_end, "
            f"CAST(billing_period AS VARCHAR) AS billing_period, billing_currency "
            # The first offending line of the export, not of the file (which is in usage-day order).
            f"FROM {quote_ident(name)} WHERE {test} ORDER BY source_file, source_row NULLS LAST LIMIT 1",
            used,
        ).fetchone()
        source_file, source_row = row[0], row[1]
        values = dict(zip(("charge_period_start", "charge_period_end", "billing_period", "billing_currency"),
                          row[2:], strict=True))  # fmt: skip
        path = next((f for f in files if str(f) == source_file), Path(source_file))
        if source_row is None:  # a CSV: read that file again with row numbers
            located = _locate_row(con, det, path, test, used)
            if located is not None:
                # That line's own values: the staged file is in usage-day order, not the file's.
                source_row = located[0]
                values = dict(zip(values, located[1:], strict=True))
        line = _line_number(det, path, source_row) if source_row is not None else None
        more = f"; {count} lines of the delivery are like it" if count > 1 else ""
        message = problem.format(start_column=_source_column(det, "charge_period_start"), **values)
        raise InputError(path, message + more, column=_source_column(det, column), line=line)


_VALUE_COLUMNS = "charge_period_start, charge_period_end, CAST(billing_period AS VARCHAR) AS billing_period, billing_currency"


def _locate_row(
    con: duckdb.DuckDBPyConnection, det: Detected, path: Path, test: str, params: dict
) -> tuple | None:
    """The first data row (from 1) of one file whose staged line fails `test` (SQL over line_items columns),
    with that line's values of _VALUE_COLUMNS."""
    own = detect(path)
    select = projection(own, csv_row_numbers=True)
    staging = "staging/focus_lines" if det.flavour == "focus" else "staging/cur_lines"
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW raw_lines AS SELECT {select} FROM {_read_function(own, [path])}"
    )
    con.execute(f"CREATE OR REPLACE TEMP VIEW staged_lines AS {load_sql(staging)}")
    found = con.execute(
        f"SELECT source_row, {_VALUE_COLUMNS} FROM staged_lines WHERE {test} ORDER BY source_row LIMIT 1",
        params,
    ).fetchone()
    return (int(found[0]), *found[1:]) if found else None


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
        f"SELECT CAST(billing_period AS VARCHAR), billing_currency, count(*), fsum(billed_cost), fsum(effective_cost) "
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
                con,
                list(delivery.files),
                delivery_id=delivery.delivery_id,
                name=f"delivery_{i}",
                out=out,
                billing_period=delivery.billing_period,
                memory_limit=settings.duckdb_memory_limit,
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
            else:  # a FOCUS export of several months: split it (the staged file is in day order already)
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

    if not settings.cur_source:
        raise InputError("MLCOST_CUR_SOURCE", "no billing source: pass --cur-source or set MLCOST_CUR_SOURCE")
    deliveries = discover_deliveries(
        settings.cur_source, staging_dir=settings.staging, endpoint_url=settings.s3_endpoint_url
    )
    found: set[date] = set()
    con = lake.connect(settings)
    latest = latest_billing_period()
    for i, delivery in enumerate(deliveries):
        if delivery.billing_period is not None:
            if not EARLIEST_BILLING_PERIOD <= delivery.billing_period <= latest:
                # The manifest alone decides the months of the run: refuse before any run is started for them.
                raise InputError(
                    delivery.manifest or delivery.source,
                    f"the manifest's billing period {delivery.billing_period} is outside the accepted "
                    f"{EARLIEST_BILLING_PERIOD:%Y-%m} to {latest:%Y-%m} (docs/ingestion.md)",
                )
            found.add(delivery.billing_period)
        elif delivery.files:
            with lake.PartitionWriter(con, settings, "line_items") as scratch:  # publishes nothing
                table, _ = stage_delivery(
                    con,
                    list(delivery.files),
                    delivery_id=delivery.delivery_id,
                    name=f"probe_{i}",
                    out=scratch.scratch / f"probe_{i}.parquet",
                    memory_limit=settings.duckdb_memory_limit,
                )
                found.update(
                    r[0]
                    for r in con.execute(
                        f"SELECT DISTINCT billing_period FROM {quote_ident(table)}"
                    ).fetchall()
                )
                con.execute(f"DROP VIEW {quote_ident(table)}")
    return sorted(found)
