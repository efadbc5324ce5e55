"""Publishing: the layers of a billing period switch together, as one generation.

The pipeline writes every table into the working lake (pipelines/storage/lake.py). Readers never see that working copy.
The warehouse views (pipelines/storage/warehouse.py) show, for each billing period, its *published generation*: the
period's line_items file, the files of every daily table for the period's days, and its reconciliation, as they
stood together when they were verified. `lake/_published.json` (the catalog) names each period's generation and
the SHA-256 of each of its files. The files are hard links in `lake/_generations/billing_period=<P>/<name>/`,
never written again, so a generation stays whole however far the working copy moves on.

The reconciliation step (`monthly_reconciliation`, the last of the three runs of `mlcost run` and of the nightly
chain) is the only step of the pipeline that publishes:

1. `PendingGeneration` hard-links the working files of every layer of its billing periods into a new generation
   folder, hashes each link and compares it with the checksum its writer recorded (for line_items, also with
   `_delivery.json`). A file changed after it was written stops the step and is named.
2. Reconciliation is computed from those very links. Each row stores the generation it checked: a digest of the
   line_items and cost_attribution files it read (`generation_digest`).
3. `publish()` switches the catalog (one atomic rename for all the step's periods) only when every period
   reconciles to the cent, from rows of this generation, and no attribution row lacks a category. It then
   rebuilds the warehouse.

Until then readers see each period's previous generation whole: a failure or a kill anywhere in the three runs
leaves the catalog as it was. `publish_working` publishes the working lake as it stands, unchecked: it is what
`warehouse.refresh_catalog` does for tools and tests that build the lake step by step; the pipeline never calls it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from pipelines.config import Settings
from pipelines.storage import lake
from pipelines.storage.sqlfiles import quote_ident, quote_literal

log = logging.getLogger(__name__)

CATALOG_FILE = "_published.json"
GENERATIONS_DIR = "_generations"
# The layers reconciliation reads: a generation's digest covers exactly these files.
RECONCILED = ("line_items", "cost_attribution")
# Money is compared to the cent (pipelines/orchestration/checks.py): under half a cent is floating-point noise.
CENT = 0.005
_STAMP = "%Y%m%dT%H%M%S%fZ"


# Folders of generations this process is building now: never removed as leftovers (clean_generations).
_BUILDING: set[Path] = set()


class PublishRefused(RuntimeError):
    """What was about to be published is not what the pipeline wrote, or does not reconcile: nothing switched."""


# --- where things are ----------------------------------------------------------------------------------------


def catalog_path(settings: Settings) -> Path:
    return settings.lake / CATALOG_FILE


def generations_dir(settings: Settings) -> Path:
    return settings.lake / GENERATIONS_DIR


def period_of(value: str) -> str:
    """The billing period (first day of the month) of a partition value: a period or a day."""
    return value[:8] + "01"


def months(start: date, end: date) -> list[str]:
    """First days (ISO) of every month from start's to end's: the billing periods of a monthly run."""
    out, year, month = [], start.year, start.month
    while (year, month) <= (end.year, end.month):
        out.append(date(year, month, 1).isoformat())
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


def file_name(table: str, value: str) -> str:
    """How a partition file is named inside a generation folder and a snapshot: `<column>=<value>.parquet`."""
    return f"{lake.PARTITION_COLUMNS[table]}={value}.parquet"


def working_files(settings: Settings, periods: Iterable[str]) -> dict[str, dict[str, dict[str, Path]]]:
    """Per billing period, table and partition: the working lake's file (every layer of the period)."""
    wanted = set(periods)
    out: dict[str, dict[str, dict[str, Path]]] = {p: {} for p in wanted}
    for table in lake.PARTITION_COLUMNS:
        for value in lake.published_partitions(settings, table):
            period = period_of(value)
            if period in wanted:
                out[period].setdefault(table, {})[value] = lake.partition_path(settings, table, value)
    return out


def working_periods(settings: Settings) -> list[str]:
    """Billing periods that have any file in the working lake."""
    return sorted(
        {period_of(v) for table in lake.PARTITION_COLUMNS for v in lake.published_partitions(settings, table)}
    )


# --- the catalog -----------------------------------------------------------------------------------------------


def read_catalog(settings: Settings) -> dict:
    """The published generations: {"version": 1, "periods": {period: record}} (empty before the first publish)."""
    path = catalog_path(settings)
    try:
        catalog = json.loads(path.read_text())
    except FileNotFoundError:
        return {"version": 1, "periods": {}}
    except (OSError, json.JSONDecodeError) as exc:
        raise PublishRefused(f"{path}: the catalog of published generations cannot be read ({exc})") from None
    if not isinstance(catalog, dict) or not isinstance(catalog.get("periods"), dict):
        raise PublishRefused(f"{path}: not a catalog of published generations (no 'periods' mapping)")
    return catalog


def _write_catalog(settings: Settings, catalog: dict) -> None:
    """Replace the catalog in one rename: every period it changes switches at once, or none does."""
    path = catalog_path(settings)
    tmp = path.with_name(f".published-{os.getpid()}-{uuid.uuid4().hex[:8]}.json")
    try:
        with open(tmp, "w") as fh:
            json.dump(catalog, fh, indent=1, sort_keys=True)
            fh.flush()
            os.fsync(fh.fileno())
        lake.publish_step("switch catalog")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def generation_digest(checksums: dict[str, dict[str, str]]) -> str:
    """The name of a generation: SHA-256 of `<table>/<partition> <file sha256>` lines of its line_items and
    cost_attribution files, sorted. A reconciliation row stores it, so it names the files the row was computed
    from (`sha256sum` of the published files reproduces it)."""
    lines = sorted(
        f"{table}/{value} {digest}\n"
        for table in RECONCILED
        for value, digest in checksums.get(table, {}).items()
    )
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def pending_periods(settings: Settings) -> list[str]:
    """Billing periods whose working files are not exactly their published generation's (a run stopped or
    failed before its reconciliation step published, a day rerun from the UI, a failed reconciliation).

    Before the first publish there is no catalog, and no period counts as pending: a lake written before
    generations existed is adopted as it stands by the first publish (`PendingGeneration.publish`).
    """
    if not catalog_path(settings).exists():
        return []
    catalog = read_catalog(settings)["periods"]
    pending = []
    for period, tables in sorted(working_files(settings, working_periods(settings)).items()):
        record = catalog.get(period)
        if record is None:
            pending.append(period)
            continue
        folder = settings.lake / record["folder"]
        published = {(t, v) for t, values in record["files"].items() for v in values}
        working = {(t, v) for t, values in tables.items() for v in values}
        if published != working or not all(
            _same_file(tables[t][v], folder / t / file_name(t, v)) for t, v in working
        ):
            pending.append(period)
    return pending


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


# --- "already published" is trusted only while the file is what was published --------------------------------


def unchanged_fingerprints(settings: Settings, periods: Iterable[str]) -> tuple[set[str], list[str]]:
    """Fingerprints of the deliveries whose line_items file still has the SHA-256 recorded when it was published
    (ingestion may skip those), and one message per period whose file does not (ingested again).

    Each message is logged as a warning, so it shows on the terminal of `mlcost run`.
    """
    from pipelines.billing.ingest import STATE_FILE, published_state

    unchanged: set[str] = set()
    changed: list[str] = []
    for period in sorted(periods):
        state = published_state(settings, period)
        if not state:
            continue
        path = lake.partition_path(settings, "line_items", period)
        recorded = state.get("sha256")
        try:
            actual = lake.file_sha256(path)
        except FileNotFoundError:
            actual = None
        if actual is not None and actual == recorded:
            unchanged.add(state["fingerprint"])
            continue
        if actual is None:
            why = f"{path} is missing although {STATE_FILE} records delivery {state.get('delivery_id')}"
        elif not recorded:
            why = f"{path} has no checksum in its {STATE_FILE} (published by an older mlcost)"
        else:
            why = (
                f"{path} does not match the SHA-256 recorded when it was published (recorded {recorded[:16]}…, "
                f"now {actual[:16]}…): it was changed after publishing"
            )
        message = f"billing period {period}: {why}; its delivery {state.get('delivery_id')} is ingested again"
        log.warning(message)
        changed.append(message)
    return unchanged, changed


# --- a generation being built ----------------------------------------------------------------------------------


class PendingGeneration:
    """The files of every layer of some billing periods, hard-linked and verified, about to be published together.

    Use as a context manager: entering links and verifies (`stage`); leaving without `publish()` removes the
    folders, and the catalog, so what readers see, is unchanged.
    """

    def __init__(self, settings: Settings, periods: Iterable[str]):
        self.settings = settings
        self.periods = sorted(set(periods))
        stamp = datetime.now(UTC).strftime(_STAMP)
        self.name = f"{stamp}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.checksums: dict[str, dict[str, dict[str, str]]] = {p: {} for p in self.periods}
        self.published = False

    def folder(self, period: str) -> Path:
        return generations_dir(self.settings) / f"billing_period={period}" / self.name

    def path(self, period: str, table: str, value: str) -> Path:
        return self.folder(period) / table / file_name(table, value)

    def __enter__(self) -> PendingGeneration:
        _BUILDING.update(self.folder(p) for p in self.periods)
        try:
            self.stage()
        except BaseException:
            self.discard()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        if not self.published:
            self.discard()
        _BUILDING.difference_update(self.folder(p) for p in self.periods)

    def discard(self) -> None:
        for period in self.periods:
            shutil.rmtree(self.folder(period), ignore_errors=True)

    def stage(self) -> None:
        """Hard-link the working files of every layer; hash each link; refuse any that differs from its record."""
        from pipelines.billing.ingest import STATE_FILE, published_state

        problems = []
        for period, tables in sorted(working_files(self.settings, self.periods).items()):
            for table, values in sorted(tables.items()):
                lake.publish_step(f"generation {period} {table}")
                for value, source in sorted(values.items()):
                    link = self.path(period, table, value)
                    _link(source, link)
                    digest = lake.file_sha256(link)
                    self.checksums[period].setdefault(table, {})[value] = digest
                    recorded = lake.recorded_checksum(source)
                    if recorded is not None and recorded != digest:
                        problems.append(f"{source} (recorded {recorded[:16]}…, now {digest[:16]}…)")
                    if table == "line_items":
                        state = published_state(self.settings, value) or {}
                        if state.get("sha256") and state["sha256"] != digest:
                            problems.append(f"{source} is not the file its {STATE_FILE} records")
        if problems:
            raise PublishRefused(
                f"{len(problems)} file(s) of billing period(s) {', '.join(self.periods)} changed after their "
                f"step wrote them, e.g. {problems[0]}; nothing is published (readers keep the previous "
                "generation); `mlcost run` for these months writes them again"
            )

    def generation(self, period: str) -> str:
        return generation_digest(self.checksums[period])

    def files(self, table: str) -> list[Path]:
        return [
            self.path(period, table, value)
            for period in self.periods
            for value in sorted(self.checksums[period].get(table, {}))
        ]

    def adopt(self, table: str, value: str, source: Path, digest: str) -> None:
        """Add a file just written by this step (its reconciliation) to the generation."""
        period = period_of(value)
        link = self.path(period, table, value)
        link.unlink(missing_ok=True)
        _link(source, link)
        if lake.file_sha256(link) != digest:
            raise PublishRefused(f"{source} changed while it was being published")
        self.checksums[period].setdefault(table, {})[value] = digest

    def register_inputs(self, con: duckdb.DuckDBPyConnection) -> None:
        """Views `line_items` and `cost_attribution` over this generation's links (what reconciliation reads),
        and the table `generations` (billing_period, generation) naming them."""
        for table in RECONCILED:
            files = self.files(table)
            if files:
                listed = "[" + ", ".join(quote_literal(str(f)) for f in files) + "]"
                source = f"read_parquet({listed}, union_by_name = true)"
            elif lake.has_data(self.settings, table):  # none in these periods: the table's columns, no row
                source = f"read_parquet({quote_literal(lake.table_glob(self.settings, table))}) WHERE false"
            else:
                raise RuntimeError(
                    f"{table} has no published data under {lake.table_dir(self.settings, table)}: run it first"
                )
            con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_ident(table)} AS SELECT * FROM {source}")
        con.execute("CREATE OR REPLACE TEMP TABLE generations (billing_period DATE, generation VARCHAR)")
        for period in self.periods:
            con.execute("INSERT INTO generations VALUES (?, ?)", [period, self.generation(period)])

    def publish(self, *, checked: bool = True, rebuild: bool = True) -> list[str]:
        """Switch the catalog to this generation for its periods, then rebuild the warehouse. Returns the periods.

        `checked`: refuse (PublishRefused, nothing switched) unless each period's reconciliation is of this
        generation and within a cent, and no attribution row lacks a category. Unchecked (publish_working), a
        reconciliation that is not of this generation is left out rather than shown beside files it did not read.
        """
        if checked and not catalog_path(self.settings).exists():
            # A lake written before generations existed: what its warehouse showed stays shown, as it stands.
            others = [p for p in working_periods(self.settings) if p not in self.periods]
            if others:
                with PendingGeneration(self.settings, others) as adopted:
                    adopted.publish(checked=False, rebuild=False)
        catalog = read_catalog(self.settings)
        records = {}
        for period in self.periods:
            checksums = self.checksums[period]
            if not any(checksums.values()):
                continue  # nothing of this period in the working lake: nothing to show
            generation = self.generation(period)
            problem = self._problem(period, generation)
            if problem and checked:
                raise PublishRefused(
                    f"billing period {period} is not published ({problem}); readers keep its previous generation"
                )
            if problem and "reconciliation" in checksums:
                log.warning("billing period %s: %s; its reconciliation is not shown", period, problem)
                shutil.rmtree(self.folder(period) / "reconciliation", ignore_errors=True)
                del checksums["reconciliation"]
            delivery = (
                _delivery_id(self.path(period, "line_items", period)) if "line_items" in checksums else None
            )
            records[period] = {
                "generation": generation,
                "folder": str(self.folder(period).relative_to(self.settings.lake)),
                "published_at": datetime.now(UTC).isoformat(),
                "delivery_id": delivery,
                "reconciled": not problem,
                "files": checksums,
            }
        if records:
            catalog["periods"].update(records)
            if self.settings.lake_uri:
                # The S3 manifest switches first: a stop between the two leaves these periods pending here, and
                # the next publish pushes them again (same objects, content-addressed).
                from pipelines.storage.object_lake import publish_generation

                publish_generation(self.settings, catalog, records)
            _write_catalog(self.settings, catalog)
        self.published = True
        clean_generations(self.settings, catalog)
        if rebuild:
            from pipelines.storage.warehouse import build_warehouse

            build_warehouse(self.settings)
        return sorted(records)

    def _problem(self, period: str, generation: str) -> str | None:
        """Why this period's generation must not be published as reconciled, or None."""
        checksums = self.checksums[period]
        if not {"line_items", "cost_attribution", "reconciliation"} & set(checksums):
            return None  # nothing billed (GPU logs or predictions only): nothing to reconcile
        if "reconciliation" not in checksums:
            return "it has no reconciliation"
        con = duckdb.connect()
        try:
            (path,) = [self.path(period, "reconciliation", v) for v in checksums["reconciliation"]]
            columns = {r[0] for r in con.execute("DESCRIBE FROM read_parquet(?)", [str(path)]).fetchall()}
            if "generation" not in columns:
                return "its reconciliation records no generation"
            generations, worst = con.execute(
                "SELECT list(DISTINCT generation), max(abs(difference)) FROM read_parquet(?)", [str(path)]
            ).fetchone()
            if generations != [generation]:
                return (
                    f"its reconciliation was computed from other files (generation {generations}, "
                    f"these files are {generation[:16]}…)"
                )
            if worst is None or worst >= CENT:
                return f"its reconciliation differs from the bill by {worst}"
            mine = [
                self.path(period, "cost_attribution", v)
                for v in sorted(checksums.get("cost_attribution", {}))
            ]
            if mine:
                listed = "[" + ", ".join(quote_literal(str(f)) for f in mine) + "]"
                (missing,) = con.execute(
                    f"SELECT count(*) FROM read_parquet({listed}, union_by_name = true) "
                    "WHERE category IS NULL OR workload IS NULL OR rule_id IS NULL"
                ).fetchone()
                if missing:
                    return f"{missing} attribution row(s) have no category, workload or rule"
        finally:
            con.close()
        return None


def publish_working(settings: Settings) -> list[str]:
    """Publish every billing period whose working files changed, as they stand (unchecked; see the module doc)."""
    exists = catalog_path(settings).exists()
    pending = pending_periods(settings) if exists else working_periods(settings)
    if not pending:
        return []
    with PendingGeneration(settings, pending) as generation:
        return generation.publish(checked=False, rebuild=False)


def clean_generations(settings: Settings, catalog: dict) -> int:
    """Remove generation folders the catalog does not name: superseded ones, and those of stopped runs. A folder
    of another live process (a publish in progress) is kept. Returns how many were removed."""
    named = {settings.lake / r["folder"] for r in catalog["periods"].values()}
    removed = 0
    for period_dir in generations_dir(settings).glob("billing_period=*"):
        for folder in period_dir.iterdir():
            if folder in named or folder in _BUILDING:
                continue
            try:
                pid = int(folder.name.split("-")[1])
            except (IndexError, ValueError):
                pid = 0
            if pid and pid != os.getpid() and lake.pid_alive(pid):
                continue
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
        if not any(period_dir.iterdir()):
            period_dir.rmdir()
    for tmp in settings.lake.glob(".published-*.json"):
        try:
            pid = int(tmp.name.split("-")[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not lake.pid_alive(pid):
            tmp.unlink(missing_ok=True)
    return removed


def _link(source: Path, target: Path) -> None:
    """Hard-link `source` to `target` (a copy where the file system has no hard links)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except FileExistsError:
        raise
    except FileNotFoundError:
        raise PublishRefused(f"{source} vanished while it was being published") from None
    except OSError:
        shutil.copyfile(source, target)


def _delivery_id(path: Path) -> str | None:
    try:
        row = duckdb.execute("SELECT delivery_id FROM read_parquet(?) LIMIT 1", [str(path)]).fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None
