"""The Parquet lake and the DuckDB catalog analysts open.

Every table is a folder of Parquet files, one per partition (`lake/<table>/<key>=<value>/data.parquet`).
A run stages every partition it writes and renames them into place only when all are written, so a failed or
killed run publishes nothing. Beside each file its writer records its SHA-256 (`data.parquet.sha256`, the format of
`sha256sum`), so a file changed after it was written is found before it is trusted again.

These folders are the pipeline's working copy. Analysts do not read them: `warehouse.duckdb` (pipelines/storage/warehouse.py)
shows the published generation of each billing period (pipelines/storage/generations.py), through an immutable hard-linked
snapshot, because DuckDB may open a file more than once per query.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import uuid
from collections.abc import Callable, Sequence
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from pipelines.config import Settings
from pipelines.orchestration import interrupts
from pipelines.storage import tables
from pipelines.storage.sqlfiles import quote_ident, quote_literal

# Which column partitions each table on disk, derived from the registry (pipelines/storage/tables.py), in its order.
PARTITION_COLUMNS: dict[str, str] = {
    t.name: t.partitioned_by for t in tables.lake_tables() if t.partitioned_by
}
DATA_FILE = "data.parquet"
# The writer's record of each partition file's SHA-256, beside it, in `sha256sum` format.
CHECKSUM_FILE = DATA_FILE + ".sha256"
# How every lake file is written. zstd: smaller files than the default snappy. 65,536-row groups (half DuckDB's
# default): an order-keeping write holds finished row groups until the ones before them are written and pauses
# threads when they fill the memory limit; smaller groups hold less (a 10M-line month's ingestion write: 41.9 s
# -> 33-37 s) and lowered attribution's peak memory (1.68 -> 1.2 GB; bench/analysis.md).
# Lines per Parquet row group in every lake file (docs/benchmarks.md, section 1, says why this size).
ROW_GROUP_LINES = 65_536
PARQUET_OPTIONS = f"FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE {ROW_GROUP_LINES}"


# DuckDB's memory units, as its own error message lists them (bytes, 1000^i and 1024^i).
_MEMORY_UNITS = {
    "b": 1, "bytes": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
    "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40,
}  # fmt: skip


def memory_bytes(value: str) -> int | None:
    """A DuckDB memory size ("2GB", "512 MiB") in bytes, or None when it is not one of those plain forms."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]+)\s*", value)
    if not found or found.group(2).lower() not in _MEMORY_UNITS:
        return None
    return int(float(found.group(1)) * _MEMORY_UNITS[found.group(2).lower()])


def connect(settings: Settings) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB for one step's compute, with a memory cap and a spill folder inside MLCOST_HOME."""
    settings.tmp.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(
        ":memory:",
        config={
            "memory_limit": settings.duckdb_memory_limit,
            "threads": settings.duckdb_threads,
            "temp_directory": str(settings.tmp / "duckdb_spill"),
            # Keep row order within a file stable so identical inputs give byte-identical outputs.
            "preserve_insertion_order": True,
        },
    )
    # Billing timestamps are UTC; a TIMESTAMPTZ must never be shifted by the machine's zone.
    con.execute("SET TimeZone = 'UTC'")
    # Parse a Parquet file's footer once per connection, not once per scan of it. DuckDB keeps a parsed
    # footer outside its memory limit for as long as the query runs, and the attribution query scans
    # line_items up to nine times (three reads of the lines, three parts each): the 300M-line month's
    # footer (4,588 row groups x 48 columns) is ~0.2 GB parsed, and a one-day pass peaked at 4.25 GB
    # resident with a 2 GB limit; with the cache, 1.5 GB and 44-49 s instead of 61-68 (docs/benchmarks.md,
    # section 11). DuckDB re-reads a footer whose file's modification time changed, and the lake replaces
    # a partition by renaming a new file into place.
    # A SET, not a connect option: the setting belongs to the Parquet reader, loaded after the connection opens.
    con.execute("SET parquet_metadata_cache = true")
    return con


def return_freed_memory(con: duckdb.DuckDBPyConnection) -> None:
    """Turn on jemalloc's background threads, which hand memory DuckDB has freed back to the system.

    Without them, memory freed by a sort stays resident: the batches ingestion's pass 2 makes on one thread and
    frees on another kept a 100M-line month's ingestion at 3.92-4.09 GiB (3.01 GiB with them), and the one-sort
    write of a 10M-line month peaked at 2.2-2.45 GiB (1.88-1.89 GiB with them and a smaller share for its sort;
    docs/benchmarks.md, sections 13 and 14). The setting is process-wide; only the two sorting writes of
    ingestion turn it on, the steps measured with it.
    """
    con.execute("SET allocator_background_threads = true")


# Called at every step that changes published state (a rename into place, a record, the catalog switch). None in
# production; the crash tests set it to kill the process, or fail a write, at the n-th step (tests/failpoints.py).
publish_hook: Callable[[str], None] | None = None


def publish_step(what: str) -> None:
    """Mark a step that changes what is published (see `publish_hook`)."""
    if publish_hook is not None:
        publish_hook(what)


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB chunks (1.4 GB/s on this machine, so a few seconds for the
    largest month's file)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_path(data_file: Path) -> Path:
    return data_file.with_name(CHECKSUM_FILE)


def recorded_checksum(data_file: Path) -> str | None:
    """The SHA-256 the writer recorded beside a partition file, or None when there is no readable record."""
    try:
        text = checksum_path(data_file).read_text()
    except (FileNotFoundError, NotADirectoryError):
        return None
    digest = text.split(" ", 1)[0].strip()
    return digest if len(digest) == 64 else None


def table_dir(settings: Settings, table: str) -> Path:
    return settings.lake / table


def partition_path(settings: Settings, table: str, value: str) -> Path:
    """Path of one partition's file, e.g. lake/line_items/billing_period=2026-10-01/data.parquet."""
    return table_dir(settings, table) / f"{PARTITION_COLUMNS[table]}={value}" / DATA_FILE


def table_glob(settings: Settings, table: str) -> str:
    return str(table_dir(settings, table) / "*" / DATA_FILE)


def has_data(settings: Settings, table: str) -> bool:
    return any(table_dir(settings, table).glob(f"*/{DATA_FILE}"))


def published_partitions(settings: Settings, table: str) -> list[str]:
    """Partition values that have a published file, sorted."""
    prefix = PARTITION_COLUMNS[table] + "="
    return sorted(p.parent.name[len(prefix) :] for p in table_dir(settings, table).glob(f"*/{DATA_FILE}"))


class PartitionWriter:
    """Stage partitions of one table in a scratch folder, then publish them all at once by renames.

    Nothing published changes until `publish()`: a failure while staging (bad input, a crash, a kill) leaves
    every reader's data as it was, and the scratch folder is removed (or cleaned by the next run).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: Settings, table: str):
        self.con = con
        self.settings = settings
        self.table = table
        self.column = PARTITION_COLUMNS[table]
        # Every writer is an entry point (an asset, a test, a UI rerun of one day): each clears what killed
        # runs left behind, so no entry point can forget to.
        clean_scratch(settings)
        publish_step(f"write {table}")
        self.scratch = settings.tmp / f"write-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.scratch.mkdir(parents=True)
        self.staged: dict[str, Path] = {}
        self.rows: dict[str, int] = {}
        self.removed: set[str] = set()
        self.checksums: dict[str, str] = {}  # partition -> SHA-256 of the file published, after publish()
        self.passes = 0  # stage_many calls so far

    def __enter__(self) -> PartitionWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.scratch, ignore_errors=True)

    def stage(self, value: str, query: str, params: dict | Sequence | None = None) -> int:
        """Write the rows of `query` (all belonging to partition `value`) to a scratch file."""
        publish_step(f"stage {self.table}")
        tmp = self.scratch / f"{self.column}={value}.parquet"
        rows = self.con.execute(
            f"COPY ({query}) TO {quote_literal(str(tmp))} ({PARQUET_OPTIONS})", params
        ).fetchone()[0]
        self.staged[value] = tmp
        self.rows[value] = int(rows)
        return int(rows)

    def adopt(self, value: str, path: Path, rows: int) -> None:
        """Take a file already written in the scratch folder (by the caller's own COPY) as partition `value`."""
        if path.parent != self.scratch:
            raise ValueError(f"{path} is not in this writer's scratch folder {self.scratch}")
        self.staged[value] = path
        self.rows[value] = int(rows)

    def stage_many(
        self, query: str, params: dict | Sequence | None = None, con: duckdb.DuckDBPyConnection | None = None
    ) -> dict[str, int]:
        """Write the rows of `query` split by the table's partition column, in one pass over the query (on `con`,
        default the writer's connection)."""
        con = con or self.con
        publish_step(f"stage {self.table}")
        # A folder per call: a writer may stage a table in several passes (cost_attribution of a large month).
        self.passes += 1
        out = self.scratch / f"many-{self.passes}"
        con.execute(
            f"COPY ({query}) TO {quote_literal(str(out))} "
            f"({PARQUET_OPTIONS}, PARTITION_BY ({quote_ident(self.column)}), "
            "WRITE_PARTITION_COLUMNS true, OVERWRITE_OR_IGNORE true)",
            params,
        )
        found: dict[str, int] = {}
        prefix = self.column + "="
        for folder in sorted(out.glob(prefix + "*")):
            files = sorted(folder.glob("*.parquet"))
            value = folder.name[len(prefix) :]
            if len(files) == 1:
                target = files[0]
            else:  # several writer threads: merge into one file per partition
                target = folder / "merged.parquet"
                con.execute(
                    f"COPY (SELECT * FROM read_parquet({quote_literal(str(folder))} || '/*.parquet')) "
                    f"TO {quote_literal(str(target))} ({PARQUET_OPTIONS})"
                )
            self.staged[value] = target
            found[value] = pq.ParquetFile(target).metadata.num_rows
        self.rows.update(found)
        return found

    def remove(self, value: str) -> None:
        """Mark a partition for removal at publish time (its data is gone upstream)."""
        self.removed.add(value)

    def publish(self) -> dict[str, int]:
        """Rename every staged file into place (each rename is atomic) and drop removed partitions.

        Each file's SHA-256 is recorded beside it, renamed into place right after the file: a file that differs
        from its record later was changed after this writer published it (or the writer was stopped between the
        two renames), and is not trusted (pipelines/storage/generations.py).
        """
        with (
            interrupts.deferred()
        ):  # SIGTERM/Ctrl-C wait for the last rename: never half a table's partitions
            return self._publish()

    def _publish(self) -> dict[str, int]:
        for value, tmp in sorted(self.staged.items()):
            # A table's SQL and its declaration (pipelines/storage/tables.py) must agree before anything is published:
            # a column added to one and forgotten in the other would reach analysts undocumented, or not at all.
            if problems := tables.column_problems(self.table, pq.read_schema(tmp).names):
                raise RuntimeError(
                    f"{self.table}: the computed columns differ from pipelines/storage/tables.py: {'; '.join(problems)}"
                )
            digest = file_sha256(tmp)
            record = self.scratch / f"{self.column}={value}.sha256"
            record.write_text(f"{digest}  {DATA_FILE}\n")
            self.checksums[value] = digest
        for value, tmp in sorted(self.staged.items()):
            target = partition_path(self.settings, self.table, value)
            target.parent.mkdir(parents=True, exist_ok=True)
            publish_step(f"publish {self.table}/{value}")
            os.replace(tmp, target)
            os.replace(self.scratch / f"{self.column}={value}.sha256", checksum_path(target))
        for value in sorted(self.removed - set(self.staged)):
            target = partition_path(self.settings, self.table, value)
            if target.exists():
                publish_step(f"remove {self.table}/{value}")
                target.unlink()
                checksum_path(target).unlink(missing_ok=True)
                with contextlib.suppress(OSError):
                    target.parent.rmdir()
        return dict(self.rows)


def clean_scratch(settings: Settings) -> int:
    """Remove temporary files left by a killed run (their names carry a pid that is no longer alive).

    Partition scratch folders (`tmp/write-<pid>-*`) and catalogs being rebuilt (`.warehouse-<pid>-*.duckdb`).
    """
    removed = 0
    leftovers = list(settings.tmp.glob("write-*")) if settings.tmp.exists() else []
    if settings.home.exists():
        leftovers += settings.home.glob(".warehouse-*")
    for path in leftovers:
        try:
            pid = int(path.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not pid_alive(pid):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed += 1
    return removed


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a scratch folder's or a run's owner)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def register_views(con: duckdb.DuckDBPyConnection, settings: Settings, tables: Sequence[str]) -> None:
    """Create views named after lake tables in a compute connection (a table with no data yet is an error)."""
    for table in tables:
        if not has_data(settings, table):
            raise RuntimeError(
                f"{table} has no published data under {table_dir(settings, table)}: run it first"
            )
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {quote_ident(table)} AS "
            f"SELECT * FROM read_parquet({quote_literal(table_glob(settings, table))}, union_by_name = true)"
        )


def register_view_or_empty(con: duckdb.DuckDBPyConnection, settings: Settings, table: str) -> bool:
    """Register a lake table as a view, or as an empty table with its declared columns when it has no data yet
    (no logs configured). Returns whether the table had data."""
    if has_data(settings, table):
        _drop_temp(con, table, "TABLE")
        register_views(con, settings, [table])
        return True
    _drop_temp(con, table, "VIEW")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {quote_ident(table)} ({tables.TABLES[table].empty_columns()})")
    return False


def _drop_temp(con: duckdb.DuckDBPyConnection, name: str, kind: str) -> None:
    """Drop the temporary TABLE or VIEW `name` if the connection has one. A connection may have registered a table
    as the other kind before (no data then, data now), and DuckDB replaces a view only by a view, a table only by a
    table, and refuses to drop one kind by the other's name."""
    catalog = "duckdb_tables() WHERE table_name" if kind == "TABLE" else "duckdb_views() WHERE view_name"
    if con.execute(f"SELECT 1 FROM {catalog} = ? AND temporary", [name]).fetchone():
        con.execute(f"DROP {kind} temp.main.{quote_ident(name)}")


def days_between(start: date, end: date) -> list[str]:
    """Every UTC day from start to end inclusive, as ISO strings (the daily partition keys)."""
    return [(start + timedelta(days=i)).isoformat() for i in range((end - start).days + 1)]


# The most cost_attribution rows a daily table's query reads in one pass. Every daily table after attribution reads
# the days' attribution rows; over a 300M-line month in one query, gpu_cost_by_pod_daily's grouping of the GPU
# intervals had spilled 16 GB within four minutes when it was stopped before the disk filled (docs/benchmarks.md,
# section 11). A daily table's rows of a day depend on that day's inputs only (a one-day rerun computes a day), so
# passes of a few days write what one pass over the month writes. A month of up to 10M lines is one pass.
DAY_PASS_ROWS = 10_000_000


def cut_days(per_day: dict[date, int], start: date, end: date, limit: int) -> list[tuple[date, date]]:
    """start..end cut into runs of consecutive days of at most `limit` rows (`per_day`) each; a day over the limit
    is a pass of its own, and a range of at most `limit` rows is one pass."""
    if sum(per_day.get(date.fromisoformat(d), 0) for d in days_between(start, end)) <= limit:
        return [(start, end)]
    passes: list[tuple[date, date]] = []
    first, rows = start, 0
    for day in (date.fromisoformat(d) for d in days_between(start, end)):
        n = per_day.get(day, 0)
        if rows and rows + n > limit:
            passes.append((first, day - timedelta(days=1)))
            first, rows = day, 0
        rows += n
    passes.append((first, end))
    return passes


def attribution_rows_per_day(settings: Settings, start: date, end: date) -> dict[date, int]:
    """The rows of each published cost_attribution day of start..end, from the files' footers (no data read)."""
    rows = {}
    for day in days_between(start, end):
        path = partition_path(settings, "cost_attribution", day)
        if path.exists():
            rows[date.fromisoformat(day)] = pq.ParquetFile(path).metadata.num_rows
    return rows


def publish_days(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    table: str,
    query: str,
    params: dict,
    start: date,
    end: date,
) -> dict[str, int]:
    """Publish a daily table for start..end (`query` over $start_date..$end_date), in passes of at most DAY_PASS_ROWS
    cost_attribution rows, one writer and one publish; days it returns no row for are removed."""
    passes = cut_days(attribution_rows_per_day(settings, start, end), start, end, DAY_PASS_ROWS)
    with PartitionWriter(con, settings, table) as writer:
        for first, last in passes:
            writer.stage_many(query, {**params, "start_date": first, "end_date": last})
        for day in days_between(start, end):
            if day not in writer.staged:
                writer.remove(day)
        return writer.publish()
