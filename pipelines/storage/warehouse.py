"""Build `warehouse.duckdb`: the catalog of views over the published generations that analysts open read-only.

The file holds no data, only views with absolute paths (so it works from any working directory) and the
table and column descriptions from `pipelines/storage/tables.py`. It is rebuilt in a temporary file and renamed
over the old one: an open session keeps reading the old catalog, a new one gets the new catalog, nobody
waits on a lock.

The views show, for each billing period, its published generation as `lake/_published.json` names it
(pipelines/storage/generations.py), never the working lake the pipeline writes: a period whose run has not finished
its reconciliation step is shown as it was before, whole. They do not read the generation folders either.
DuckDB opens a Parquet file by path more than once per query (schema at bind time, row groups at scan time),
so each refresh hard-links the published files into an immutable snapshot folder
(`$MLCOST_HOME/snapshots/<stamp>/`: no copy, no extra space) and the views read that: a catalog shows every
table as of its refresh, and no file it names ever changes. A snapshot is removed `SNAPSHOT_GRACE` after a newer
one replaced it, so sessions opened on an older catalog keep working that long.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from pipelines.config import Settings
from pipelines.storage import lake
from pipelines.storage.sqlfiles import quote_ident, quote_literal
from pipelines.storage.tables import TABLES

log = logging.getLogger(__name__)

HISTORY_VIEW = "line_items_history"
SNAPSHOT_GRACE = timedelta(hours=24)
_STAMP = "%Y%m%dT%H%M%S%fZ"


def snapshots_dir(settings: Settings) -> Path:
    """Where the catalog's immutable snapshots of the lake live."""
    return settings.home / "snapshots"


def refresh_catalog(settings: Settings) -> list[str]:
    """Publish the working lake as it stands, then rebuild the views; return the views exposed.

    Every billing period whose working files changed becomes a new generation, unchecked
    (`generations.publish_working`). This is for tools and tests that build the lake step by step; the
    pipeline's assets never call it: its reconciliation step publishes what it verified (`build_warehouse`).
    """
    from pipelines.storage.generations import publish_working

    publish_working(settings)
    return build_warehouse(settings)


def build_warehouse(settings: Settings) -> list[str]:
    """Snapshot the published generations, recreate the views over the snapshot; return the views exposed."""
    settings.home.mkdir(parents=True, exist_ok=True)
    snapshot = _snapshot_lake(settings)
    tmp = settings.home / f".warehouse-{os.getpid()}-{uuid.uuid4().hex[:8]}.duckdb"
    exposed: list[str] = []
    try:
        con = duckdb.connect(str(tmp))
        try:
            for table in lake.PARTITION_COLUMNS:
                folder = snapshot / table
                if not any(folder.glob("*.parquet")):
                    continue
                con.execute(
                    f"CREATE VIEW {quote_ident(table)} AS SELECT * FROM "
                    f"read_parquet({quote_literal(str(folder / '*.parquet'))}, union_by_name = true)"
                )
                exposed.append(table)
            history = snapshot / HISTORY_VIEW
            if any(history.glob("*/*/*.parquet")):
                # The folder names carry the billing period and when the version was superseded (UTC).
                con.execute(
                    f"CREATE VIEW {HISTORY_VIEW} AS SELECT * REPLACE "
                    f"(try_strptime(CAST(superseded AS VARCHAR), {quote_literal(_STAMP)}) AS superseded) "
                    f"FROM read_parquet({quote_literal(str(history / '*' / '*' / '*.parquet'))}, "
                    "hive_partitioning = true, union_by_name = true)"
                )
                exposed.append(HISTORY_VIEW)
            for view in exposed:
                _comment(con, view)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        lake.publish_step("switch warehouse")
        os.replace(tmp, settings.warehouse)
        lake.publish_step("switched warehouse")  # a kill point after the switch (tests/failpoints.py)
    except BaseException:
        tmp.unlink(missing_ok=True)
        shutil.rmtree(snapshot, ignore_errors=True)
        raise
    finally:
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    remove_old_snapshots(settings, keep=snapshot)
    return exposed


def _comment(con: duckdb.DuckDBPyConnection, view: str) -> None:
    doc = TABLES.get(view)
    if not doc:
        return
    con.execute(f"COMMENT ON VIEW {quote_ident(view)} IS {quote_literal(doc.description)}")
    columns = {r[0] for r in con.execute(f"DESCRIBE {quote_ident(view)}").fetchall()}
    for column, text in doc.descriptions.items():
        if column in columns:
            con.execute(
                f"COMMENT ON COLUMN {quote_ident(view)}.{quote_ident(column)} IS {quote_literal(text)}"
            )


def _snapshot_lake(settings: Settings) -> Path:
    """Hard-link every published generation's files and the kept history versions into a new snapshot folder.

    A history version is shown only for a period that is published, and not when it is the delivery the
    period's published generation still shows (ingested, superseded in the working lake, not yet published).
    """
    from pipelines.storage.generations import file_name, read_catalog

    published = read_catalog(settings)["periods"]
    stamp = datetime.now(UTC).strftime(_STAMP)
    snapshot = snapshots_dir(settings) / f"{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    snapshot.mkdir(parents=True)
    for _period, record in sorted(published.items()):
        folder = settings.lake / record["folder"]
        for table, values in sorted(record["files"].items()):
            for value in sorted(values):
                name = file_name(table, value)
                _link(folder / table / name, snapshot / table / name)
    history = settings.lake / "_history" / "line_items"
    for path in sorted(history.glob("*/*/*.parquet")):
        period = path.parent.parent.name.split("=", 1)[-1]
        record = published.get(period)
        if record is None or path.stem == re.sub(r"[^A-Za-z0-9_.-]", "_", str(record.get("delivery_id"))):
            continue
        _link(path, snapshot / HISTORY_VIEW / path.relative_to(history))
    return snapshot


def _link(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except FileNotFoundError:
        # A published generation's file removed by hand (or a history version pruned meanwhile): say so.
        log.warning("%s: a published file is missing; the warehouse shows its table without it", source)
        return
    except OSError:
        # No hard links on this file system: a copy reads one version through one open file, so it is whole.
        try:
            shutil.copyfile(source, target)
        except FileNotFoundError:
            return


def remove_old_snapshots(settings: Settings, keep: Path | None = None, now: datetime | None = None) -> int:
    """Remove snapshots replaced by a newer one over SNAPSHOT_GRACE ago (never `keep`); return how many."""
    root = snapshots_dir(settings)
    if not root.exists():
        return 0
    now = now or datetime.now(UTC)
    stamped = sorted((stamp, path) for path in root.iterdir() if (stamp := _stamp_of(path)) is not None)
    removed = 0
    for i, (stamp, path) in enumerate(stamped):
        if path == keep or (keep is None and i == len(stamped) - 1):
            continue
        # Newer than the current catalog: a refresh in progress or a killed one, judged by its own age.
        newer_than_current = keep is not None and path.name > keep.name
        replaced_at = stamp if newer_than_current else stamped[i + 1][0]
        if now - replaced_at > SNAPSHOT_GRACE:
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
    return removed


def _stamp_of(path: Path) -> datetime | None:
    try:
        return datetime.strptime(path.name.split("-", 1)[0], _STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None
