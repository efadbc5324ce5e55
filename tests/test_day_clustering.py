"""A day costs a day: line_items is written ordered by usage day, and a one-day rerun reads about a day of lines.

Each row group of a line_items partition spans a few neighbouring usage days (a single one at 10M lines), so its min/max statistics let DuckDB skip
the rest of the month; sql/staging/attribution_lines.sql asks only one-column comparisons, so it can. And a
one-day rerun, for every day of a month full of odd lines, writes the rows a whole-month run writes for it.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from fixtures.model_company.scaled import generate_scaled_month
from pipelines.attribution.compute import attribute
from pipelines.attribution.rules import load_rules
from pipelines.billing import ingest as ingest_module
from pipelines.billing.deliveries import discover_deliveries
from pipelines.billing.formats import Detected, detect
from pipelines.billing.ingest import clustered_as_delivered, ingest_deliveries
from pipelines.config import Settings
from pipelines.storage import lake
from pipelines.storage.sqlfiles import load_sql, quote_literal
from tests.corpus import bad_inputs as corpus


def _ingest(con, settings: Settings, source) -> None:
    ingest_deliveries(con, settings, discover_deliveries(str(source), staging_dir=settings.staging))


def test_line_items_row_groups_hold_neighbouring_days_and_a_day_reads_a_day(tmp_path):
    # 400,000 lines of CUR 2.0 Parquet as the model company's export writes them (generated in source order:
    # every day's lines mixed through the files).
    generate_scaled_month(tmp_path / "export", lines=400_000, month="2026-10")
    settings = Settings(home=tmp_path / "home")
    con = lake.connect(settings)
    _ingest(con, settings, tmp_path / "export" / "cur2")
    path = lake.partition_path(settings, "line_items", "2026-10-01")
    meta = pq.ParquetFile(path).metadata
    column = meta.schema.to_arrow_schema().get_field_index("usage_date")
    groups = []
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(column).statistics
        groups.append((stats.min, stats.max, meta.row_group(i).num_rows))
    # 400,000 lines in 65,536-line groups: 7 groups, each of a few neighbouring days (a 31-day month has ~12,900
    # lines a day, so a group holds ~5 days; unsorted, every group would hold all 31). At 10M lines a month a
    # day is ~320,000 lines: five groups of the one day.
    assert len(groups) == 7
    assert sum(rows for *_, rows in groups) == 400_000
    spans = [(hi - lo).days for lo, hi, _ in groups]
    assert max(spans) <= 6, spans
    # Groups follow each other in day order and do not overlap beyond a shared boundary day.
    assert all(a[1] <= b[0] for a, b in zip(groups, groups[1:], strict=False)), groups

    # What a one-day query over usage day 15 must read, judged by the statistics DuckDB prunes with: the groups
    # whose min/max range holds the day. One or two groups of seven, instead of all.
    day = date(2026, 10, 15)
    read = sum(rows for lo, hi, rows in groups if lo <= day <= hi)
    assert 0 < read <= 2 * 65_536 < 400_000

    # The lines a one-day rerun reads are that day's (plus lines spanning it), ~1/31 of the month.
    lake.register_views(con, settings, ["line_items"])
    con.execute(load_sql("staging/attribution_lines"))
    kept = con.execute("SELECT count(*) FROM attribution_lines(?, ?, false)", [day, day]).fetchone()[0]
    on_day = con.execute(
        "SELECT count(*) FROM read_parquet(?) WHERE charge_period_start < ? AND charge_period_end > ?",
        [str(path), datetime(2026, 10, 16), datetime(2026, 10, 15)],
    ).fetchone()[0]
    assert kept == on_day and 0 < kept < 400_000 / 20
    con.close()


def _odd_month() -> list[list[str]]:
    """October 2026 as a legacy CUR CSV, with every kind of line attribution places on a day."""
    rows = []
    for d in range(1, 32):
        rows.append(corpus.cur1_row(datetime(2026, 10, d, 3), 2.0 + d / 100, resource="i-0a", team="search"))
        rows.append(
            corpus.cur1_row(datetime(2026, 10, d, 23), 1.0 + d / 10, resource="i-0b", team="chat", hours=3)
        )
    monthly = {"resource": "", "hours": 24 * 31}
    rows.append(corpus.cur1_row(datetime(2026, 10, 1), 31.0, line_type="Fee", product="AWSSupportBusiness",
                                usage_type="Dollar", **monthly))  # fmt: skip
    rows.append(corpus.cur1_row(datetime(2026, 9, 30, 23), 0.5, resource="i-0c", team="chat"))  # late: Oct 1
    rows.append(corpus.cur1_row(datetime(2026, 10, 15, 6), 0.25, hours=0, resource="i-0d"))  # zero length
    rows.append(corpus.cur1_row(datetime(2026, 11, 2, 1), 0.125, resource="i-0f"))  # after the period: Oct 1
    return rows


def test_every_one_day_rerun_writes_what_the_whole_month_writes_for_that_day(tmp_path):
    """Days 1..31 rerun one at a time give the month run's rows, odd lines included (each lands on one day)."""
    source = corpus.write_csv(tmp_path / "cur.csv", corpus.CUR1_HEADER, _odd_month())
    rules = load_rules()

    def rows(settings: Settings, day: date) -> list[tuple]:
        path = lake.partition_path(settings, "cost_attribution", day.isoformat())
        if not path.exists():
            return []
        return duckdb.execute(
            "SELECT category, workload, rule_id, allocation, round(effective_cost, 9), round(billed_cost, 9) "
            "FROM read_parquet(?) ORDER BY ALL",
            [str(path)],
        ).fetchall()

    month = Settings(home=tmp_path / "month")
    con = lake.connect(month)
    _ingest(con, month, source)
    attribute(con, month, rules, date(2026, 10, 1), date(2026, 10, 31))
    con.close()
    days = Settings(home=tmp_path / "days")
    con = lake.connect(days)
    _ingest(con, days, source)
    day = date(2026, 10, 1)
    while day <= date(2026, 10, 31):
        attribute(con, days, rules, day, day)
        assert rows(days, day) == rows(month, day), day
        day += timedelta(days=1)
    con.close()
    # Every dollar is on some day: 62 hourly lines + the fee (31.00) + the three odd lines (an end before the start is refused
    # at ingestion: tests/test_bad_inputs.py).
    total = duckdb.execute(
        "SELECT round(sum(effective_cost), 6) FROM read_parquet(?)",
        [str(lake.table_glob(days, "cost_attribution"))],
    ).fetchone()[0]
    hourly = sum(2.0 + d / 100 + 1.0 + d / 10 for d in range(1, 32))
    assert total == round(hourly + 31.0 + 0.5 + 0.25 + 0.125, 6)


def test_a_refused_csv_names_its_first_bad_line_with_that_lines_values(tmp_path):
    """line_items is staged in usage-day order; the error still names the file's first bad line and its times."""
    import pytest

    from pipelines.errors import InputError

    rows = [
        corpus.cur1_row(
            datetime(2026, 10, 20, 6), 1.0, hours=-2
        ),  # line 2: ends before it starts, on the 20th
        corpus.cur1_row(datetime(2026, 10, 5, 1), 1.0),
        corpus.cur1_row(datetime(2026, 10, 2, 6), 1.0, hours=-3),  # line 4: the same, earlier in the month
    ]
    source = corpus.write_csv(tmp_path / "cur.csv", corpus.CUR1_HEADER, rows)
    settings = Settings(home=tmp_path / "home")
    con = lake.connect(settings)
    with pytest.raises(InputError) as caught:
        _ingest(con, settings, source)
    text = str(caught.value)
    assert "line 2" in text and "2026-10-20 04:00:00" in text and "2026-10-20 06:00:00" in text, text
    assert "2 lines of the delivery are like it" in text
    con.close()


def test_a_large_delivery_written_day_by_day_is_the_one_sort_write_row_for_row(tmp_path, monkeypatch):
    """Above ONE_SORT_MAX_LINES a delivery is written in two passes (one folder per day, then each day sorted on its
    own), so that its sort never holds the month: the published partition has the same rows in the same order and
    the same column types as the one-sort write, and each row group holds one usage day."""
    import pipelines.billing.ingest as ingest

    generate_scaled_month(tmp_path / "export", lines=150_000, month="2026-10")
    # Plus the odd lines of a legacy CSV (a late line, a zero-length one, one after the period, a monthly fee).
    odd = corpus.write_csv(tmp_path / "odd" / "cur.csv", corpus.CUR1_HEADER, _odd_month())
    paths = {}
    for name, limit in (("one_sort", 10**12), ("by_day", 0)):
        monkeypatch.setattr(ingest, "ONE_SORT_MAX_LINES", limit)
        for source in (tmp_path / "export" / "cur2", odd.parent):
            settings = Settings(home=tmp_path / name / source.name)
            con = lake.connect(settings)
            _ingest(con, settings, source)
            con.close()
            paths[name, source.name] = lake.partition_path(settings, "line_items", "2026-10-01")
            assert not list(settings.home.rglob("*.days")), "the per-day folders are removed"
    for source in ("cur2", "odd"):
        one, by_day = paths["one_sort", source], paths["by_day", source]
        _assert_same_rows_in_order(one, by_day)
        meta = pq.ParquetFile(by_day).metadata
        column = meta.schema.to_arrow_schema().get_field_index("usage_date")
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(column).statistics
            assert stats.min == stats.max, (source, i, stats)


def _assert_same_rows_in_order(one: Path, other: Path) -> None:
    """Two line_items files hold the same rows in the same order, with the same column types (row groups may
    differ: the two-pass write cuts one at each day)."""
    con = duckdb.connect()
    select = (
        "SELECT row_number() OVER () AS rn, * REPLACE (CAST(tags AS VARCHAR) AS tags) FROM read_parquet(?)"
    )
    assert con.execute(f"SELECT count(*) FROM ({select})", [str(one)]).fetchone()[0] > 0
    for a, b in ((one, other), (other, one)):
        left = con.execute(f"{select} EXCEPT ALL {select}", [str(a), str(b)]).fetchall()
        assert left == [], (a, left[:3])
    describe = "DESCRIBE SELECT * FROM read_parquet(?)"
    assert con.execute(describe, [str(one)]).fetchall() == con.execute(describe, [str(other)]).fetchall()


def _day_folders(tmp_path, days: int, rows: int) -> list:
    """Folders like pass 1's: `_day=…/data_0.parquet` with `rows` lines each (the columns pass 2 sorts by)."""
    con = duckdb.connect()
    folders = []
    for d in range(days):
        folder = tmp_path / "days" / f"_day=2026-10-{d + 1:02d}"
        folder.mkdir(parents=True)
        con.execute(
            "COPY (SELECT TIMESTAMP '2026-10-01' + INTERVAL (i) MINUTE AS charge_period_start, 'f' AS source_file, "
            f"i AS source_row FROM range(?) t(i)) TO {quote_literal(str(folder / 'data_0.parquet'))} (FORMAT parquet)",
            [rows],
        )
        folders.append(folder)
    return folders


def _sorters_alive() -> list:
    import threading

    return [t for t in threading.enumerate() if t.name == "mlcost-day-sort"]


def test_pass_two_raises_what_its_sorting_thread_meets_and_leaves_no_thread(tmp_path):
    """Pass 2 sorts on a thread of its own: a day it cannot read fails the write in the caller, with DuckDB's
    error, instead of hanging or losing it, and the thread is gone afterwards."""
    import pytest

    from pipelines.billing.ingest import _append_days_in_order

    folders = _day_folders(tmp_path, days=3, rows=1_000)
    (folders[1] / "data_1.parquet").write_bytes(b"not parquet")
    con = duckdb.connect()
    with pytest.raises(duckdb.Error):
        _append_days_in_order(con, folders, tmp_path / "out.parquet")
    assert _sorters_alive() == []
    con.execute("SELECT 1").fetchone()  # the caller's connection is still usable


def test_pass_two_stops_its_sorting_thread_when_the_writer_fails(tmp_path, monkeypatch):
    """A writer that fails (a full disk) while the sorting thread waits on a full queue: the error reaches the
    caller, and the thread, unblocked, ends."""
    import pytest

    import pipelines.billing.ingest as ingest

    folders = _day_folders(tmp_path, days=3, rows=150_000)
    written = []

    def failing_write(self, batch, row_group_size=None):
        written.append(batch.num_rows)
        if len(written) == 2:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(ingest.pq.ParquetWriter, "write_batch", failing_write)
    with pytest.raises(OSError, match="No space left"):
        ingest._append_days_in_order(duckdb.connect(), folders, tmp_path / "out.parquet")
    assert _sorters_alive() == []
    assert len(written) == 2


def test_a_month_attributed_in_passes_of_a_few_days_writes_what_one_pass_writes(tmp_path, monkeypatch):
    """Above ATTRIBUTE_PASS_LINES lines the month is attributed in passes of consecutive days (a 300M-line month
    in one pass filled the disk with DuckDB's spill). With a limit of 5 lines the odd month takes many passes,
    and every day's file holds the rows one pass writes, every column, and the month reconciles the same."""
    from pipelines.attribution import compute

    source = corpus.write_csv(tmp_path / "cur.csv", corpus.CUR1_HEADER, _odd_month())
    rules = load_rules()
    october = (date(2026, 10, 1), date(2026, 10, 31))

    def attributed(name: str) -> tuple[list[tuple], int]:
        settings = Settings(home=tmp_path / name)
        con = lake.connect(settings)
        _ingest(con, settings, source)
        passes = []
        original = compute.day_passes
        monkeypatch.setattr(compute, "day_passes", lambda *a: passes.extend(original(*a)) or passes)
        written = attribute(con, settings, rules, *october)
        con.close()
        rows = duckdb.execute(
            "SELECT * EXCLUDE (effective_cost, billed_cost, list_cost, usage_quantity), round(effective_cost, 9), "
            "round(billed_cost, 9) FROM read_parquet(?) ORDER BY ALL",
            [str(lake.table_glob(settings, "cost_attribution"))],
        ).fetchall()
        assert sum(written.values()) == len(rows)
        return rows, len(passes)

    one, one_passes = attributed("one")
    monkeypatch.setattr(compute, "ATTRIBUTE_PASS_LINES", 5)
    many, many_passes = attributed("many")
    assert one_passes == 1 and many_passes > 5
    assert many == one


def _start_times_file(path, starts: list[datetime], row_group: int, **options) -> Detected:
    """A Parquet file whose only column is CUR 2.0's start time, in the given order, as `detect` would see it."""
    table = pa.table({"line_item_usage_start_date": pa.array(starts, pa.timestamp("ms", tz="UTC"))})
    pq.write_table(table, path, row_group_size=row_group, **options)
    columns = ("line_item_usage_start_date",)
    return Detected(
        path=path, flavour="cur2", container="parquet", columns=columns, footer=pq.read_metadata(path)
    )


def test_a_delivery_is_written_as_delivered_only_when_its_order_already_groups_days(tmp_path, monkeypatch):
    """The judgement reads the footers' min/max of the start time: a one-day read of the file-order layout is
    compared with the sorted layout's (a day's lines plus a boundary row group), at most FILE_ORDER_SLACK times."""
    monkeypatch.setattr(ingest_module, "FILE_ORDER_MIN_LINES", 0)
    monkeypatch.setattr(lake, "ROW_GROUP_LINES", 1_000)
    hours = [datetime(2026, 10, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(31 * 24)]
    per_hour = 80  # 59,520 lines, 1,920 a day: a day is about two written row groups
    chronological = [t for t in hours for _ in range(per_hour)]

    def judged(name: str, starts: list[datetime], row_group: int = 500, **options) -> bool:
        return clustered_as_delivered(
            [_start_times_file(tmp_path / f"{name}.parquet", starts, row_group, **options)]
        )

    assert judged("chronological", chronological)
    # AWS's few chronological sweeps (one per product family, say): each day sits in two places of the file.
    assert judged("two_sweeps", [t for t in hours for _ in range(per_hour // 2)] * 2)
    # Lines in random order: every row group spans the month.
    assert not judged("shuffled", random.Random(7).sample(chronological, len(chronological)))
    # Twenty sweeps: each day's lines are spread over twenty places, each a row group spanning days.
    assert not judged("twenty_sweeps", [t for t in hours for _ in range(per_hour // 20)] * 20)
    # Source row groups too coarse to tell (the whole month in one): sorted.
    assert not judged("one_group", chronological, row_group=len(chronological))
    # No statistics in the footer: nothing to judge by, sorted.
    assert not judged("no_statistics", chronological, write_statistics=False)
    # Several files are read in the order given: two chronological halves in order pass, swapped they still pass
    # (each half is clustered; the swap costs one boundary group).
    first, second = chronological[: len(chronological) // 2], chronological[len(chronological) // 2 :]
    files = [
        _start_times_file(tmp_path / "a.parquet", second, 500),
        _start_times_file(tmp_path / "b.parquet", first, 500),
    ]
    assert clustered_as_delivered(files)
    # Under the minimum size, always sorted (the sort is cheap there and gives the one documented order).
    monkeypatch.setattr(ingest_module, "FILE_ORDER_MIN_LINES", len(chronological) + 1)
    assert not judged("chronological_small", chronological)


def _month_in_time_order(tmp_path: Path, row_group: int) -> tuple[list[Path], Path]:
    """The generated 400,000-line month's files (its lines in mixed order) and the same lines rewritten in time order
    as one snappy Parquet file of `row_group`-line row groups."""
    generate_scaled_month(tmp_path / "export", lines=400_000, month="2026-10")
    mixed = sorted((tmp_path / "export" / "cur2").rglob("*.parquet"))
    chrono = tmp_path / "chrono" / "cur-00001.snappy.parquet"
    chrono.parent.mkdir()
    files = "[" + ", ".join(quote_literal(str(f)) for f in mixed) + "]"
    duckdb.execute(
        f"COPY (FROM read_parquet({files}) ORDER BY line_item_usage_start_date, line_item_resource_id) "
        f"TO {quote_literal(str(chrono))} (FORMAT parquet, COMPRESSION snappy, ROW_GROUP_SIZE {row_group})"
    )
    return mixed, chrono


def test_a_delivery_already_in_time_order_is_published_as_delivered_and_clustered(tmp_path, monkeypatch):
    """An export whose lines come in time order (as the generated month rewritten chronologically) is written in
    its own order, without the sort: the lines keep their places, the row groups hold neighbouring days, and a
    repeat writes the same bytes. The same month in generated (mixed) order is sorted."""
    monkeypatch.setattr(ingest_module, "FILE_ORDER_MIN_LINES", 100_000)
    mixed, chrono = _month_in_time_order(tmp_path, row_group=10_000)
    assert clustered_as_delivered([detect(chrono)])
    assert not clustered_as_delivered([detect(f) for f in mixed])
    # Both judgements use the footer `detect` read: no file is opened again for them.
    detected = [detect(chrono)]

    def opened_again(*args, **kwargs):
        raise AssertionError("a footer was read again")

    with monkeypatch.context() as patched:
        patched.setattr(pq, "read_metadata", opened_again)
        patched.setattr(pq, "ParquetFile", opened_again)
        assert clustered_as_delivered(detected)
        assert ingest_module.estimated_lines(detected) == 400_000

    written_as_delivered = []
    monkeypatch.setattr(
        ingest_module,
        "_write_as_delivered",
        lambda *a, _f=ingest_module._write_as_delivered: written_as_delivered.append(1) or _f(*a),
    )
    published = []
    for home in ("one", "two"):
        settings = Settings(home=tmp_path / home)
        con = lake.connect(settings)
        _ingest(con, settings, chrono.parent)
        published.append(lake.partition_path(settings, "line_items", "2026-10-01"))
        con.close()
    assert written_as_delivered == [1, 1]
    assert published[0].read_bytes() == published[1].read_bytes()
    # In the export's own order: source rows 1..N.
    rows = duckdb.execute("SELECT source_row FROM read_parquet(?)", [str(published[0])]).fetchall()
    assert [r[0] for r in rows] == list(range(1, 400_001))
    meta = pq.ParquetFile(published[0]).metadata
    column = meta.schema.to_arrow_schema().get_field_index("usage_date")
    spans = [
        (
            meta.row_group(i).column(column).statistics.max - meta.row_group(i).column(column).statistics.min
        ).days
        for i in range(meta.num_row_groups)
    ]
    assert max(spans) <= 6, spans


def test_the_one_sort_write_lowers_the_memory_limit_for_its_sort_only(tmp_path):
    """The sort gets SORT_MEMORY_SHARE of the step's DuckDB limit (it holds memory outside the buffer pool); the
    connection's limit is the step's again afterwards, also when the write fails."""
    assert lake.memory_bytes("2GB") == 2_000_000_000
    assert lake.memory_bytes(" 512 MiB ") == 512 * 2**20
    assert lake.memory_bytes("1.5GB") == 1_500_000_000
    assert lake.memory_bytes("4gib") == 4 * 2**30
    assert lake.memory_bytes("lots") is None and lake.memory_bytes("80%") is None

    settings = Settings(home=tmp_path / "home", duckdb_memory_limit="1GB")
    con = lake.connect(settings)
    before = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    seen = []
    real = con.execute

    class Watching:
        """The connection, noting the limit in force when the sort's COPY runs."""

        def execute(self, sql, *args):
            if sql.startswith("COPY ("):
                seen.append(real("SELECT current_setting('memory_limit')").fetchone()[0])
            return real(sql, *args)

    source = corpus.write_csv(
        tmp_path / "cur.csv", corpus.CUR1_HEADER, [corpus.cur1_row(datetime(2026, 10, 3), 1.0)]
    )
    stage = {"delivery_id": "d", "name": "staged", "memory_limit": "1GB"}
    ingest_module.stage_delivery(con, [source], out=tmp_path / "one.parquet", **stage)
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == before
    ingest_module._write_in_one_sort(
        Watching(), {"delivery_id": "d", "source_format": "cur1"}, tmp_path / "two.parquet", "1GB"
    )
    # DuckDB shows the limit rounded to its own units ("715.2 MiB"): compared in bytes, to that rounding.
    assert len(seen) == 1 and lake.memory_bytes(seen[0]) == pytest.approx(
        ingest_module.SORT_MEMORY_SHARE * 10**9, rel=1e-3
    )
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == before
    with pytest.raises(duckdb.IOException):  # no such folder: the COPY fails
        ingest_module._write_in_one_sort(
            con, {"delivery_id": "d", "source_format": "cur1"}, tmp_path / "no" / "x.parquet", "1GB"
        )
    assert con.execute("SELECT current_setting('memory_limit')").fetchone()[0] == before
    con.close()


def test_a_csv_delivery_s_lines_are_guessed_from_its_first_mib_gzip_or_plain(tmp_path, monkeypatch):
    """The one-sort or two-pass choice needs a CSV delivery's lines before reading it. Legacy CUR comes as gzip CSV,
    ten times smaller than its text: the guess weighs the lines of the file's first stored MiB (decompressed), never
    below the truth (a low guess would sort a large delivery in one piece), at most _CSV_GUESS_MARGIN and a bit
    above it; a file the sample holds whole is counted."""
    import gzip
    import zlib

    rng = random.Random(3)
    # CUR-like lines: a few varying fields and many product attributes repeated from line to line (~700 bytes).
    products = [
        ",".join(f"{name} {k} attribute,value {k % 7},{k * 0.01:.2f}" for k in range(start, start + 25))
        for name, start in (("Compute Instance", 0), ("Storage", 3), ("Data Transfer", 5))
    ]
    lines = [
        f"2026-10-{rng.randint(1, 31):02d}T{rng.randint(0, 23):02d}:00:00Z,i-{rng.getrandbits(64):016x},"
        f"BoxUsage:{rng.choice(['p4d.24xlarge', 'g5.xlarge', 'm5.large'])},{rng.random() * 40:.6f},"
        f"{rng.choice(['training', 'inference', ''])},{rng.choice(products)}\n"
        for _ in range(60_000)
    ]
    text = ("usage_start,resource,usage_type,cost,workload" + ",p" * 75 + "\n" + "".join(lines)).encode()
    actual = len(lines) + 1

    plain = tmp_path / "cur.csv"
    plain.write_bytes(text)
    packed = tmp_path / "cur.csv.gz"
    packed.write_bytes(gzip.compress(text, compresslevel=6))
    # gzip streams written in parts (a writer flushing members as it goes): concatenated members.
    members = tmp_path / "members.csv.gz"
    members.write_bytes(b"".join(gzip.compress(text[i : i + 100_000]) for i in range(0, len(text), 100_000)))
    assert packed.stat().st_size > 1 << 20 and packed.stat().st_size * 8 < len(text)
    for path in (plain, packed, members):
        guess = ingest_module._csv_lines_guess(path)
        assert actual <= guess <= ingest_module._CSV_GUESS_MARGIN * actual * 1.1, (path.name, guess, actual)
    # What a guess at a fixed weight of 100 stored bytes a line made of the gzip file: far below the truth.
    assert packed.stat().st_size // 100 < actual / 2

    # A file within the sample is counted, gzip or not (one line more: the line after the last newline, if any).
    small = tmp_path / "small.csv.gz"
    small.write_bytes(gzip.compress(text[:50_000]) + gzip.compress(text[50_000:60_000]))
    assert ingest_module._csv_lines_guess(small) == text[:60_000].count(b"\n") + 1

    # A stream that inflates a thousandfold: decompressed up to _CSV_SAMPLE_TEXT only, still guessed high enough.
    monkeypatch.setattr(ingest_module, "_CSV_SAMPLE_TEXT", 1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    blank = b"," * 99 + b"\n"
    bomb = tmp_path / "bomb.csv.gz"
    bomb.write_bytes(compressor.compress(blank * 500_000) + compressor.flush())
    guess = ingest_module._csv_lines_guess(bomb)
    assert 500_000 <= guess <= ingest_module._CSV_GUESS_MARGIN * 500_000 * 1.1, guess
    # Guessed, not counted, although the stored file is smaller than the sample: the text bound stopped it.
    assert guess != 500_000 + 1


def _sweeps(sweeps: list[tuple[str, str, int]], hours: int = 10 * 24) -> list[list[str]]:
    """Legacy CUR lines in AWS's file order: one chronological sweep of October's first `hours` per (product, usage
    type, lines an hour), each hour's lines for distinct resources."""
    rows = []
    start = datetime(2026, 10, 1)
    for product, usage_type, per_hour in sweeps:
        for h in range(hours):
            for r in range(per_hour):
                cost = round(0.01 * ((h * 7 + r) % 97 + 1), 2)
                rows.append(
                    corpus.cur1_row(
                        start + timedelta(hours=h),
                        cost,
                        product=product,
                        usage_type=usage_type,
                        resource=f"r-{r}",
                    )
                )
    return rows


def _written(calls: list, monkeypatch) -> None:
    """Note in `calls` each write of line_items ingestion makes: as delivered, sorted (one sort or two passes), or a
    sort of a write as delivered."""
    for name in ("_write_as_delivered", "_sort_written", "_write_in_one_sort", "_write_by_day"):
        real = getattr(ingest_module, name)
        monkeypatch.setattr(
            ingest_module, name, lambda *a, _f=real, _n=name, **k: calls.append(_n) or _f(*a, **k)
        )


def _epoch(text: str) -> int:
    """Seconds since 1970 of a CSV line's UTC start time."""
    return int(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp())


def _same_lines(a, b) -> bool:
    """Whether two line_items files hold the same lines, whatever their order (where they came from aside)."""
    select = "SELECT * EXCLUDE (delivery_id, source_file, source_row) REPLACE (CAST(tags AS VARCHAR) AS tags) FROM read_parquet(?)"
    left = duckdb.execute(f"SELECT count(*) FROM ({select} EXCEPT ALL {select})", [str(a), str(b)]).fetchone()
    right = duckdb.execute(
        f"SELECT count(*) FROM ({select} EXCEPT ALL {select})", [str(b), str(a)]
    ).fetchone()
    return left == right == (0,)


def _small_row_groups(monkeypatch, lines: int) -> None:
    """Row groups of `lines` lines in every lake file (and in the judgements): a test-sized month then has the
    days-per-row-group of a 10M-line one."""
    monkeypatch.setattr(lake, "ROW_GROUP_LINES", lines)
    monkeypatch.setattr(lake, "PARQUET_OPTIONS", f"FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {lines}")


def test_a_gzip_csv_in_time_order_is_written_as_delivered_and_one_in_mixed_order_is_sorted(
    tmp_path, monkeypatch
):
    """CSV has no statistics to judge its order by before reading it. Legacy CUR comes as gzip CSV, in AWS's
    chronological sweeps: the first lines (a sample of 0.5 %) fall on one day, so the delivery is written as
    delivered and judged by the row groups written (each day in three places: within twice what the sorted
    layout reads). The same lines shuffled are sorted without a write as delivered."""
    monkeypatch.setattr(ingest_module, "FILE_ORDER_MIN_LINES", 10_000)
    monkeypatch.setattr(ingest_module, "_ORDER_SAMPLE_LINES", (100, 200_000))
    _small_row_groups(monkeypatch, 2048)
    rows = _sweeps([("AmazonEC2", "BoxUsage:g5.xlarge", 250), ("AmazonS3", "TimedStorage-ByteHrs", 150),
                    ("AWSDataTransfer", "DataTransfer-Out-Bytes", 150)])  # fmt: skip
    chrono = corpus.write_csv(tmp_path / "chrono" / "cur-00001.csv.gz", corpus.CUR1_HEADER, rows, gz=True)
    shuffled = random.Random(5).sample(rows, len(rows))
    mixed = corpus.write_csv(tmp_path / "mixed" / "cur-00001.csv.gz", corpus.CUR1_HEADER, shuffled, gz=True)

    published = {}
    for source in (chrono, mixed):
        calls: list[str] = []
        with monkeypatch.context() as patched:
            _written(calls, patched)
            settings = Settings(home=tmp_path / source.parent.name / "home")
            con = lake.connect(settings)
            _ingest(con, settings, source.parent)
            con.close()
        published[source.parent.name] = (lake.partition_path(settings, "line_items", "2026-10-01"), calls)

    path, calls = published["chrono"]
    assert calls == ["_write_as_delivered"]
    # The lines keep the export's order (a CSV line has no source row: its start, resource and usage type).
    got = duckdb.execute(
        "SELECT CAST(epoch(charge_period_start) AS BIGINT), resource_id, usage_type FROM read_parquet(?)",
        [str(path)],
    ).fetchall()
    assert got == [(_epoch(r[1]), r[6], r[5]) for r in rows]
    meta = pq.ParquetFile(path).metadata
    column = meta.schema.to_arrow_schema().get_field_index("usage_date")
    groups = [meta.row_group(i).column(column).statistics for i in range(meta.num_row_groups)]
    # 13,200 lines a day (6,000 + 3,600 + 3,600 in its three sweeps) in groups of about 2,048 lines: no group spans
    # more than three days, but the two where one sweep ends and the next begins.
    assert meta.num_row_groups > 60 and sum((g.max - g.min).days > 2 for g in groups) == 2
    assert ingest_module.written_clustered(path)

    sorted_path, calls = published["mixed"]
    assert calls == ["_write_in_one_sort"]
    # Both hold the same lines; the sorted one in day order.
    assert _same_lines(path, sorted_path)
    days = duckdb.execute("SELECT usage_date FROM read_parquet(?)", [str(sorted_path)]).fetchall()
    assert days == sorted(days)


def test_a_delivery_that_only_starts_in_time_order_is_sorted_after_its_write_as_delivered(
    tmp_path, monkeypatch
):
    """The sample sees the first lines only: a delivery whose first half is chronological and second half mixed
    passes it, is written as delivered, fails the judgement of what was written, and is sorted from that file.
    What is published is what the one sort writes, byte for byte; above ONE_SORT_MAX_LINES the written file is
    sorted in two passes, which publish the same rows in the same order. The text codes are collected once: the
    sort of the written file reuses those of the write as delivered."""
    monkeypatch.setattr(ingest_module, "FILE_ORDER_MIN_LINES", 10_000)
    monkeypatch.setattr(ingest_module, "_ORDER_SAMPLE_LINES", (100, 200_000))
    _small_row_groups(monkeypatch, 2048)
    first = _sweeps([("AmazonEC2", "BoxUsage:g5.xlarge", 250)])
    second = random.Random(11).sample(_sweeps([("AmazonS3", "TimedStorage-ByteHrs", 250)]), len(first))
    source = corpus.write_csv(
        tmp_path / "export" / "cur-00001.csv.gz", corpus.CUR1_HEADER, first + second, gz=True
    )

    published = {}
    for name, second_chance, one_sort_max in (
        ("second_chance", True, 10**12),
        ("one_sort", False, 10**12),
        # Above ONE_SORT_MAX_LINES the written file is sorted by the two passes instead.
        ("second_chance_by_day", True, 0),
    ):
        calls: list[str] = []
        with monkeypatch.context() as patched:
            patched.setattr(ingest_module, "ONE_SORT_MAX_LINES", one_sort_max)
            if not second_chance:
                patched.setattr(ingest_module, "starts_in_time_order", lambda con, lines: False)
            _written(calls, patched)
            collected: list[str] = []
            patched.setattr(
                ingest_module,
                "_text_codes",
                lambda *a, _seen=collected, _real=ingest_module._text_codes, **k: (
                    _seen.append("codes") or _real(*a, **k)
                ),
            )
            settings = Settings(home=tmp_path / name)
            con = lake.connect(settings)
            _ingest(con, settings, source.parent)
            assert not con.execute(
                "SELECT * FROM duckdb_types() WHERE type_name LIKE '_text_code%'"
            ).fetchall()
            con.close()
        assert collected == ["codes"], name
        published[name] = (lake.partition_path(settings, "line_items", "2026-10-01"), calls)
        assert not [p for p in settings.home.rglob("*") if "as-delivered" in p.name]

    path, calls = published["second_chance"]
    assert calls == ["_write_as_delivered", "_sort_written", "_write_in_one_sort"]
    one, calls = published["one_sort"]
    assert calls == ["_write_in_one_sort"]
    # The same lines in the same order (day order, CSV lines of one start by their content) and the same types.
    assert path.read_bytes() == one.read_bytes()
    days = duckdb.execute(
        "SELECT usage_date, charge_period_start FROM read_parquet(?)", [str(path)]
    ).fetchall()
    assert days == sorted(days)
    by_day, calls = published["second_chance_by_day"]
    assert calls == ["_write_as_delivered", "_sort_written", "_write_by_day"]
    _assert_same_rows_in_order(one, by_day)


def test_a_parquet_delivery_in_time_order_with_month_wide_row_groups_is_written_as_delivered(
    tmp_path, monkeypatch
):
    """pyarrow writes a million lines a row group by default: a chronological export of a smaller month then has
    row groups whose statistics span the month, and the footers cannot tell its order. The sample and the
    judgement of the write tell it: written as delivered, in the export's order."""
    monkeypatch.setattr(ingest_module, "FILE_ORDER_MIN_LINES", 100_000)
    _, chrono = _month_in_time_order(tmp_path, row_group=1_000_000)
    assert pq.ParquetFile(chrono).metadata.num_row_groups == 1
    assert not clustered_as_delivered([detect(chrono)])
    calls: list[str] = []
    _written(calls, monkeypatch)
    settings = Settings(home=tmp_path / "home")
    con = lake.connect(settings)
    _ingest(con, settings, chrono.parent)
    con.close()
    assert calls == ["_write_as_delivered"]
    path = lake.partition_path(settings, "line_items", "2026-10-01")
    rows = duckdb.execute("SELECT source_row FROM read_parquet(?)", [str(path)]).fetchall()
    assert [r[0] for r in rows] == list(range(1, 400_001))


def test_a_csv_delivery_sorted_twice_is_written_the_same_bytes(tmp_path, monkeypatch):
    """A CSV line has no source row (formats.projection), so lines of one file with the same start tie in
    DAY_ORDER, and DuckDB's sort on two threads put them in a different order from run to run: the same delivery
    gave different files (150,000 lines: two outputs in three runs, both writes), where docs/architecture.md
    promises the same bytes. Ties are now broken by the line's content: the one sort and the two passes each give
    one file, run after run."""
    export = tmp_path / "export"
    export.mkdir()
    # 150,000 lines in 240 hours (625 lines an hour, one per resource), in no particular order.
    duckdb.execute(
        f"""COPY (
            SELECT
                '2026-10-01T00:00:00Z' AS "bill/BillingPeriodStartDate",
                strftime(TIMESTAMP '2026-10-01' + INTERVAL 1 HOUR * (i % 240), '%Y-%m-%dT%H:%M:%SZ')
                    AS "lineItem/UsageStartDate",
                strftime(TIMESTAMP '2026-10-01' + INTERVAL 1 HOUR * (i % 240 + 1), '%Y-%m-%dT%H:%M:%SZ')
                    AS "lineItem/UsageEndDate",
                'Usage' AS "lineItem/LineItemType",
                'AmazonEC2' AS "lineItem/ProductCode",
                'BoxUsage:g5.xlarge' AS "lineItem/UsageType",
                'i-' || (i // 240) AS "lineItem/ResourceId",
                1 AS "lineItem/UsageAmount",
                round((i % 97 + 1) * 0.01, 2) AS "lineItem/UnblendedCost",
                'USD' AS "lineItem/CurrencyCode",
                'search' AS "resourceTags/user:team"
            FROM range(150000) AS t(i) ORDER BY hash(i)
        ) TO {quote_literal(str(export / "cur-00001.csv.gz"))} (HEADER)"""
    )
    for name, limit in (("one_sort", 10**12), ("by_day", 0)):
        monkeypatch.setattr(ingest_module, "ONE_SORT_MAX_LINES", limit)
        files = set()
        for run in range(3):
            settings = Settings(home=tmp_path / f"{name}-{run}")
            con = lake.connect(settings)
            _ingest(con, settings, export)
            con.close()
            files.add(lake.partition_path(settings, "line_items", "2026-10-01").read_bytes())
        assert len(files) == 1, name
        # Whatever the threads did, the order is the content's: within each run of tied lines (one day, start and
        # file), the lines' hashes never go down. The runs are many (625 lines an hour), so this is not vacuous.
        tied, out_of_order = duckdb.execute(
            """WITH l AS (
                SELECT row_number() OVER () AS rn, usage_date AS d, charge_period_start AS s, source_file AS f,
                    hash(*COLUMNS(*)) AS h
                FROM read_parquet(?)
            ),
            pairs AS (
                SELECT h, lag(h) OVER w AS before,
                    coalesce(lag(d) OVER w = d AND lag(s) OVER w = s AND lag(f) OVER w = f, false) AS tie
                FROM l WINDOW w AS (ORDER BY rn)
            )
            SELECT count(*) FILTER (WHERE tie), count(*) FILTER (WHERE tie AND h < before) FROM pairs""",
            [str(lake.partition_path(settings, "line_items", "2026-10-01"))],
        ).fetchone()
        assert tied > 100_000 and out_of_order == 0, (name, tied, out_of_order)


def test_the_one_sort_carries_repeated_text_as_codes_and_writes_the_rows_the_text_sort_writes(
    tmp_path, monkeypatch
):
    """The one sort moves every column of every line; its repeated text columns travel as ENUM codes and are
    written as Parquet strings from the ENUM's dictionary (`_text_codes`). A three-file Parquet month (lines of the
    same start in several files: the file name is a sort key, so the codes must order as the text does) and a CSV
    delivery (ties broken by the line's content, hashed as text) give the same rows in the same order, with the
    same types, as the text sort, whichever columns are coded or written back as text; and the same bytes again
    when ingested again."""
    import fixtures.model_company.scaled as scaled

    monkeypatch.setattr(scaled, "ROWS_PER_FILE", 20_000)
    monkeypatch.setattr(scaled, "CHUNK_ROWS", 20_000)
    generate_scaled_month(tmp_path / "export", lines=50_000, month="2026-10")
    assert len(list((tmp_path / "export" / "cur2").rglob("*.parquet"))) == 3
    odd = corpus.write_csv(tmp_path / "odd" / "cur.csv", corpus.CUR1_HEADER, _odd_month())
    coded: list = []
    original = ingest_module._text_codes

    def noting(*args):
        codes = original(*args)
        coded.append(codes)
        return codes

    monkeypatch.setattr(ingest_module, "_text_codes", noting)
    monkeypatch.setattr(ingest_module, "FILE_ORDER_MIN_LINES", 10**12)  # sorted, whatever the order
    variants = {  # name: (codes on, most values coded, most text bytes written as codes)
        "codes": (True, 100_000, 32 << 10),
        "again": (True, 100_000, 32 << 10),
        "text": (False, 100_000, 32 << 10),
        "few values": (True, 5, 32 << 10),
        "written as text": (True, 100_000, 40),
    }
    for source in (tmp_path / "export" / "cur2", odd.parent):
        written = {}
        for name, (on, values, text_bytes) in variants.items():
            monkeypatch.setattr(ingest_module, "TEXT_AS_CODES", on)
            monkeypatch.setattr(ingest_module, "TEXT_CODES_MAX_VALUES", values)
            monkeypatch.setattr(ingest_module, "TEXT_CODES_WRITTEN_MAX_BYTES", text_bytes)
            coded.clear()
            settings = Settings(home=tmp_path / name / source.name)
            con = lake.connect(settings)
            _ingest(con, settings, source)
            assert not con.execute(
                "SELECT * FROM duckdb_types() WHERE type_name LIKE '_text_code_%'"
            ).fetchall()
            con.close()
            written[name] = lake.partition_path(settings, "line_items", "2026-10-01")
            if not on:
                assert coded == []
                continue
            (codes,) = coded
            if name == "codes":
                assert {"source_file", "usage_type", "line_item_type"} <= set(codes.types)
                assert "resource_id" not in codes.types and not codes.written_as_text
            if name == "few values" and source.name == "cur2":
                assert "usage_type" not in codes.types and "source_file" in codes.types
            if name == "written as text":
                # The file names (over 40 bytes) are written back as text; the provider ("AWS") is not.
                assert "source_file" in codes.written_as_text and "provider" not in codes.written_as_text
        for name in variants:
            _assert_same_rows_in_order(written["text"], written[name])
        assert written["codes"].read_bytes() == written["again"].read_bytes(), source.name
        types = {f.name: f.type for f in pq.read_schema(written["codes"])}
        assert types["usage_type"] == types["source_file"] == types["resource_id"] == pa.string()


def test_the_codes_order_as_the_text_orders(tmp_path):
    """An ENUM orders by its members' positions: `_text_codes` lists them in the text's own (byte) order, so sorting
    by a code is sorting by its text, for case, accents, prefixes and the empty string."""
    con = lake.connect(Settings(home=tmp_path))
    values = ["b", "a", "B", "é", "e", "", "ab", "a b", "Z", "zz", "a", None]
    con.execute("CREATE TABLE t AS SELECT unnest(?::VARCHAR[]) AS source_file", [values])
    query = "SELECT NULL::VARCHAR AS provider, source_file FROM t"
    codes = ingest_module._text_codes(con, query, {}, ["provider", "source_file"])
    assert list(codes.types) == ["source_file"]  # a column with no value has no codes
    code = codes.types["source_file"]
    by_code = con.execute(
        f"SELECT source_file::{code}::VARCHAR FROM t ORDER BY source_file::{code}"
    ).fetchall()
    by_text = con.execute("SELECT source_file FROM t ORDER BY source_file").fetchall()
    assert by_code == by_text and by_text[0] == ("",) and by_text[-1] == (None,)


def test_a_text_column_with_a_new_value_on_every_line_is_neither_collected_nor_coded(tmp_path, monkeypatch):
    """Which columns repeat is judged on the delivery's first TEXT_CODES_SAMPLE_LINES lines: one whose values are
    mostly distinct there is not collected (its values could fill memory), and one with more values than
    TEXT_CODES_MAX_VALUES in the whole delivery is collected but left as text."""
    monkeypatch.setattr(ingest_module, "TEXT_CODES_SAMPLE_LINES", 1_000)
    monkeypatch.setattr(ingest_module, "TEXT_CODES_MAX_VALUES", 300)
    con = lake.connect(Settings(home=tmp_path))
    # unique: a new value on every line; late: repeats in the first 1,000 lines, then 400 values; few: 3 values.
    con.execute(
        "CREATE TABLE t AS SELECT 'u' || i AS \"unique\", CASE WHEN i < 1000 THEN 'x' ELSE 'v' || (i % 400) END AS late, "
        "'f' || (i % 3) AS few FROM range(5000) AS r(i)"
    )
    statements = []
    real = con.execute

    class Watching:
        def execute(self, sql, *args):
            statements.append(sql)
            return real(sql, *args)

    codes = ingest_module._text_codes(Watching(), "FROM t", {}, ["unique", "late", "few"])
    assert list(codes.types) == ["few"]
    (collecting,) = [s for s in statements if "list(DISTINCT" in s]
    assert '"late"' in collecting and '"unique"' not in collecting
    ingest_module._drop_text_codes(con, codes)
