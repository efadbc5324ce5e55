"""A billing period's layers are published together, and the pipeline verifies what it published (issue #21).

- A line_items file changed after it was published (overwritten, costs ×100, as `COPY … TO` does) is found by its
  SHA-256, ingested again and reported; readers never see the changed totals, and the next run equals a clean one.
- `mlcost run` killed at any of 30+ publish steps across its three Dagster runs, or failing on a full disk in the
  daily run: what a reader sees is one whole generation (the previous or the new), whose reconciliation was
  computed from those very files; the next good run equals a clean run.
- Library level: a reconciliation row names its files; a file changed after its step wrote it is not published;
  an unchecked publish never shows a reconciliation beside files it did not read; the nightly recomputes and so
  publishes a period left unpublished.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from datetime import date, datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.attribution.compute import attribute, reconcile, summarize_by_category
from pipelines.attribution.rules import load_rules
from pipelines.billing.deliveries import discover_deliveries
from pipelines.billing.ingest import ingest_deliveries
from pipelines.config import Settings
from pipelines.orchestration.refresh_plan import nightly_plan
from pipelines.storage import generations, lake
from pipelines.storage.warehouse import refresh_catalog
from tests.conftest import REPO
from tests.corpus import bad_inputs as corpus
from tests.test_crash_safety import assert_same_tables

CENT = 0.005
OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))


# --- sources: one October, then a restatement of it -----------------------------------------------------------


def month_rows(scale: float) -> list[list[str]]:
    """Two hourly lines a day for two teams, and the month's tax. Version 1: scale 1; version 2: scale 1.5."""
    rows = []
    for day in range(1, 32):
        rows.append(corpus.cur1_row(datetime(2026, 10, day, 3), 2.0 * scale, resource="i-0a", team="search"))
        rows.append(
            corpus.cur1_row(datetime(2026, 10, day, 9), 1.0 + day / 100, resource="i-0b", team="chat")
        )
    tax = {"line_type": "Tax", "product": "AWSTax", "usage_type": "Tax", "resource": "", "hours": 24 * 31}
    rows.append(corpus.cur1_row(datetime(2026, 10, 1), 30.0 * scale, **tax))
    return rows


# What each version adds up to, by hand: 31 days × (2.00 × scale + 1.00 + day/100) + 30.00 × scale.
# Version 1: 31 × 2.00 + 31 × 1.00 + 4.96 + 30.00 = 127.96 (63 lines); version 2: 93.00 + 31.00 + 4.96 + 45.00.
EXPECTED = {1: (63, 127.96), 2: (63, 173.96)}


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[int, Path]:
    root = tmp_path_factory.mktemp("sources")
    return {
        1: corpus.write_csv(root / "v1" / "cur.csv", corpus.CUR1_HEADER, month_rows(1.0)),
        2: corpus.write_csv(root / "v2" / "cur.csv", corpus.CUR1_HEADER, month_rows(1.5)),
    }


def mlcost_run(home: Path, source: Path, *failpoint: str) -> subprocess.CompletedProcess:
    """`mlcost run` of October from `source`; with `failpoint` (MODE AT TRACE), through tests/failpoints.py."""
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True, exist_ok=True)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLCOST_")},
        "MLCOST_HOME": str(home),
        "DAGSTER_HOME": str(dagster_home),
        "MLCOST_PARTITION_START": "2026-10-01",
    }
    command = ["run", "--cur-source", str(source), "--from", "2026-10"]
    entry = ["-m", "tests.failpoints", *failpoint, "--"] if failpoint else ["-m", "pipelines.cli"]
    return subprocess.run(
        [sys.executable, *entry, *command], capture_output=True, text=True, env=env, cwd=REPO, timeout=600
    )


def run_ok(home: Path, source: Path) -> subprocess.CompletedProcess:
    proc = mlcost_run(home, source)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc


# --- what a reader sees ----------------------------------------------------------------------------------------


def reader_view(home: Path) -> dict | None:
    """Per billing period, what `warehouse.duckdb` shows, checked for being one generation.

    Σ and count of line_items equal its reconciliation row's source figures; Σ cost_attribution (and Σ
    cost_by_category_daily) equal its attributed figure; the difference is under a cent; the delivery is the
    same; and the row's generation is the SHA-256 digest of the very line_items and cost_attribution files the
    views read. Returns {period: (lines, Σ effective)}, or None before anything is published.
    """
    warehouse = home / "warehouse.duckdb"
    if not warehouse.exists():
        return None
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        sql = dict(con.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal").fetchall())
        lines = {
            p: (n, s, d)
            for p, n, s, d in con.execute(
                "SELECT billing_period::VARCHAR, count(*), sum(effective_cost), any_value(delivery_id) "
                "FROM line_items GROUP BY 1"
            ).fetchall()
        }
        attributed = dict(
            con.execute(
                "SELECT billing_period::VARCHAR, sum(effective_cost) FROM cost_attribution GROUP BY 1"
            ).fetchall()
        )
        by_category = dict(
            con.execute(
                "SELECT strftime(usage_date, '%Y-%m-01'), sum(effective_cost) FROM cost_by_category_daily GROUP BY 1"
            ).fetchall()
        )
        rows = con.execute(
            "SELECT billing_period::VARCHAR, source_lines, source_effective_cost, attributed_effective_cost, "
            "difference, delivery_id, generation FROM reconciliation"
        ).fetchall()
    finally:
        con.close()
    digests = view_digests(sql)
    assert sorted(r[0] for r in rows) == sorted(lines) == sorted(attributed) == sorted(by_category)
    view = {}
    for period, source_lines, source_cost, attributed_cost, difference, delivery, generation in rows:
        n, total, li_delivery = lines[period]
        assert (n, delivery) == (source_lines, li_delivery), period
        assert abs(total - source_cost) < CENT and abs(attributed[period] - attributed_cost) < CENT, period
        assert abs(by_category[period] - attributed_cost) < CENT and abs(difference) < CENT, period
        assert generation == digests[period], "the reconciliation was computed from other files than shown"
        view[period] = (n, round(total, 2))
    return view


def view_digests(view_sql: dict[str, str]) -> dict[str, str]:
    """The generation digest (pipelines.storage.generations.generation_digest) of the files the views read, per period."""
    checksums: dict[str, dict[str, dict[str, str]]] = {}
    for table in generations.RECONCILED:
        (pattern,) = re.findall(r"read_parquet\('([^']+)'", view_sql[table])
        for path in sorted(Path(pattern).parent.glob("*.parquet")):
            value = path.stem.split("=", 1)[1]
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            checksums.setdefault(generations.period_of(value), {}).setdefault(table, {})[value] = digest
    return {period: generations.generation_digest(c) for period, c in checksums.items()}


# --- item 1: a published file changed behind the pipeline's back -------------------------------------------------


def test_a_tampered_line_items_file_is_ingested_again_and_reported(sources, tmp_path):
    clean, home = tmp_path / "clean", tmp_path / "home"
    run_ok(clean, sources[1])
    run_ok(home, sources[1])
    settings = Settings(home=home)
    assert reader_view(home) == {"2026-10-01": EXPECTED[1]}

    # An analyst's COPY … TO over the published file: every cost ×100, a valid Parquet file with the same lines.
    path = lake.partition_path(settings, "line_items", "2026-10-01")
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT * REPLACE (billed_cost * 100 AS billed_cost, effective_cost * 100 AS "
        "effective_cost, list_cost * 100 AS list_cost) FROM read_parquet(?)",
        [str(path)],
    )
    con.execute(f"COPY t TO '{path}' (FORMAT parquet)")
    con.close()
    assert duckdb.execute(
        "SELECT round(sum(effective_cost), 2) FROM read_parquet(?)", [str(path)]
    ).fetchone() == (12796.0,)
    # Readers still see the published generation: its files are not the working copy's.
    assert reader_view(home) == {"2026-10-01": EXPECTED[1]}

    proc = run_ok(home, sources[1])

    # Reported on the terminal, naming the period and the file, and in the line_items materialization.
    assert f"billing period 2026-10-01: {path} does not match the SHA-256 recorded" in proc.stderr, (
        proc.stderr
    )
    assert "ingested again" in proc.stderr
    from dagster import AssetKey, DagsterInstance

    instance = DagsterInstance.from_config(str(home / "dagster"))
    try:
        (record,) = instance.fetch_materializations(AssetKey("line_items"), limit=1).records
        metadata = record.asset_materialization.metadata
    finally:
        instance.dispose()
    assert "does not match the SHA-256 recorded" in metadata["changed_after_publishing"].value
    # line_items byte for byte, every downstream table by content, equal a clean run's; the summary is the bill.
    assert_same_tables(settings, Settings(home=clean))
    assert reader_view(home) == {"2026-10-01": EXPECTED[1]}
    assert "127.96        0.00" in proc.stdout


# --- item 3: kills and a full disk never show a half-switched period -------------------------------------------


def _which_run(label: str) -> str:
    if label.startswith(("write line_items", "publish line_items", "record")):
        return "ingest_billing"
    if label.startswith(
        ("generation", "write reconciliation", "stage reconciliation", "publish reconciliation")
    ):
        return "monthly_reconciliation"
    if label.startswith("switch"):
        return "monthly_reconciliation"
    return "daily_tables"


@pytest.fixture(scope="module")
def restatement(sources, tmp_path_factory) -> dict:
    """Version 1 published (the base every kill starts from), the publish steps of running version 2 over it,
    and that uninterrupted run (the clean run every recovered one must equal)."""
    root = tmp_path_factory.mktemp("restatement")
    base = root / "base"
    run_ok(base, sources[1])
    trace = root / "steps.txt"
    clean = root / "clean"
    shutil.copytree(base, clean)
    proc = mlcost_run(clean, sources[2], "trace", "0", str(trace))
    assert proc.returncode == 0, proc.stderr[-3000:]
    steps = trace.read_text().splitlines()
    return {"base": base, "clean": clean, "steps": steps}


def kill_points(steps: list[str]) -> list[int]:
    """Every step of the billing and reconciliation runs, and 20 spread over the daily run (1-based)."""
    daily = [i for i, s in enumerate(steps, 1) if _which_run(s) == "daily_tables"]
    chosen = {i for i, s in enumerate(steps, 1) if _which_run(s) != "daily_tables"}
    chosen.update(daily[round(k * (len(daily) - 1) / 19)] for k in range(20))
    return sorted(chosen)


# 30+ `mlcost run`s: several minutes alone, past pytest-timeout's 900 s default when the machine is shared (it was
# stopped there once, mid-query: "Query interrupted").
@pytest.mark.timeout(2400)
def test_a_run_killed_at_any_publish_step_leaves_one_generation_visible(restatement, sources, tmp_path):
    steps = restatement["steps"]
    points = kill_points(steps)
    runs = {_which_run(steps[i - 1]) for i in points}
    assert len(points) >= 30 and runs == {"ingest_billing", "daily_tables", "monthly_reconciliation"}
    before, after = {"2026-10-01": EXPECTED[1]}, {"2026-10-01": EXPECTED[2]}
    assert reader_view(restatement["base"]) == before and reader_view(restatement["clean"]) == after
    seen = []
    for n, point in enumerate(points):
        home = tmp_path / f"kill-{point}"
        shutil.copytree(restatement["base"], home)
        proc = mlcost_run(home, sources[2], "kill", str(point), "-")
        assert proc.returncode == -9, (point, steps[point - 1], proc.stderr[-2000:])
        view = reader_view(home)
        seen.append((point, steps[point - 1], "new" if view == after else "previous"))
        # The previous generation whole until the catalog switched; the new one whole after it.
        assert view in (before, after), (point, steps[point - 1], view)
        # Killed at a step, the process dies before that step's change: the catalog, then the warehouse, switch.
        if point <= steps.index("switch catalog") + 1:
            assert view == before, (point, steps[point - 1])
        if point > steps.index("switch warehouse") + 1:
            assert view == after, (point, steps[point - 1])
        if n in (0, len(points) // 2, len(points) - 1):  # first, middle and last point: a run each
            # The next good run recovers: its tables equal the uninterrupted run's, nothing is left over.
            run_ok(home, sources[2])
            assert reader_view(home) == after
            assert_same_tables(Settings(home=home), Settings(home=restatement["clean"]))
            assert not list((home / "tmp").glob("write-*"))
            assert len(list((home / "lake" / "_generations").glob("*/*"))) == 1
        shutil.rmtree(home)
    print(
        "\n"
        + "\n".join(f"kill at step {p} ({label}): reader sees the {v} generation" for p, label, v in seen)
    )


def test_a_full_disk_in_the_daily_run_keeps_the_previous_generation_whole(restatement, sources, tmp_path):
    home = tmp_path / "home"
    shutil.copytree(restatement["base"], home)
    proc = mlcost_run(home, sources[2], "enospc", "stage cost_by_category_daily", "-")
    # A full disk is not the user's input: status 1, one line naming the disk (pipelines/storage/disk_space.py).
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "the disk is full" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    # The working lake is half way (line_items and cost_attribution of version 2, the rest of version 1) ...
    settings = Settings(home=home)
    working = duckdb.execute(
        "SELECT round(sum(effective_cost), 2) FROM read_parquet(?)", [lake.table_glob(settings, "line_items")]
    ).fetchone()[0]
    assert working == EXPECTED[2][1]
    # ... and readers see version 1 whole, the summary included.
    assert reader_view(home) == {"2026-10-01": EXPECTED[1]}
    summary = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "summary", "--home", str(home)],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )  # fmt: skip
    assert "127.96        0.00" in summary.stdout, summary.stdout
    run_ok(home, sources[2])
    assert reader_view(home) == {"2026-10-01": EXPECTED[2]}
    assert_same_tables(settings, Settings(home=restatement["clean"]))


# --- library level (fast) ----------------------------------------------------------------------------------------


def _ingest(con, settings: Settings, source: Path) -> dict:
    return ingest_deliveries(con, settings, discover_deliveries(str(source), staging_dir=settings.staging))


def _compute(con, settings: Settings) -> list[dict]:
    attribute(con, settings, load_rules(), *OCTOBER)
    summarize_by_category(con, settings, *OCTOBER)
    return reconcile(con, settings, OCTOBER[0], OCTOBER[0])


def test_a_reconciliation_row_names_the_files_it_was_computed_from(sources, settings, con):
    _ingest(con, settings, sources[1])
    (row,) = _compute(con, settings)
    refresh_catalog(settings)
    record = generations.read_catalog(settings)["periods"]["2026-10-01"]
    assert row["generation"] == record["generation"] and record["reconciled"]
    # The digest is reproducible with sha256sum over the published files (the doc's recipe).
    folder = settings.lake / record["folder"]
    lines = sorted(
        f"{table}/{path.stem.split('=', 1)[1]} {hashlib.sha256(path.read_bytes()).hexdigest()}\n"
        for table in generations.RECONCILED
        for path in (folder / table).glob("*.parquet")
    )
    assert hashlib.sha256("".join(lines).encode()).hexdigest() == row["generation"]
    assert len(lines) == 1 + 31
    # Each working file's record is its writer's SHA-256, in sha256sum's format.
    data = lake.partition_path(settings, "cost_by_category_daily", "2026-10-15")
    assert lake.checksum_path(data).read_text() == f"{lake.file_sha256(data)}  data.parquet\n"


def test_a_restatement_computed_on_the_same_connection_reads_the_new_files(sources, settings, con):
    # lake.connect caches each Parquet footer for the connection's life (parquet_metadata_cache): a partition the
    # lake replaced (a new file renamed into place) must be read anew, not through the old file's footer.
    for version in (1, 2, 1):
        _ingest(con, settings, sources[version])
        (row,) = _compute(con, settings)
        lines, total = EXPECTED[version]
        assert (row["source_lines"], round(row["source_effective_cost"], 2)) == (lines, total), version
        assert abs(row["attributed_effective_cost"] - total) < CENT and abs(row["difference"]) < CENT, version
        lake.register_views(con, settings, ["cost_by_category_daily"])
        by_category = con.execute("SELECT sum(effective_cost) FROM cost_by_category_daily").fetchone()[0]
        assert abs(by_category - total) < CENT, version


def test_a_file_changed_after_its_step_wrote_it_is_not_published(sources, settings, con):
    _ingest(con, settings, sources[1])
    _compute(con, settings)
    refresh_catalog(settings)
    catalog = generations.catalog_path(settings).read_bytes()
    day = lake.partition_path(settings, "cost_by_category_daily", "2026-10-15")
    duckdb.execute(
        f"COPY (SELECT * REPLACE (effective_cost * 100 AS effective_cost) FROM '{day}') TO '{day}.x'"
    )
    shutil.move(f"{day}.x", day)
    with (
        pytest.raises(generations.PublishRefused, match=re.escape(str(day))),
        generations.PendingGeneration(settings, ["2026-10-01"]) as pending,
    ):
        pending.publish()
    assert generations.catalog_path(settings).read_bytes() == catalog
    assert not list((settings.lake / "_generations" / "billing_period=2026-10-01").glob("*-*-*"))[1:]


def test_an_unchecked_publish_never_shows_a_reconciliation_beside_other_files(sources, settings, con, caplog):
    _ingest(con, settings, sources[1])
    _compute(con, settings)
    refresh_catalog(settings)
    # Version 2 ingested and attributed, but not reconciled: the working reconciliation describes version 1.
    _ingest(con, settings, sources[2])
    attribute(con, settings, load_rules(), *OCTOBER)
    summarize_by_category(con, settings, *OCTOBER)
    with (
        pytest.raises(generations.PublishRefused, match="computed from other files"),
        generations.PendingGeneration(settings, ["2026-10-01"]) as pending,
    ):
        pending.publish()
    with caplog.at_level(logging.WARNING, logger="pipelines.storage.generations"):
        refresh_catalog(settings)
    assert "its reconciliation is not shown" in caplog.text
    ro = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        views = {
            r[0] for r in ro.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        }
        total = ro.execute("SELECT round(sum(effective_cost), 2) FROM line_items").fetchone()[0]
    finally:
        ro.close()
    assert total == EXPECTED[2][1] and "reconciliation" not in views
    record = generations.read_catalog(settings)["periods"]["2026-10-01"]
    assert not record["reconciled"] and "reconciliation" not in record["files"]


def test_the_nightly_recomputes_a_period_left_unpublished(sources, settings, con):
    _ingest(con, settings, sources[1])
    _compute(con, settings)
    refresh_catalog(settings)
    assert generations.pending_periods(settings) == []
    # A one-day rerun (from the UI) changes the day's working files: the month is unpublished until reconciled.
    attribute(con, settings, load_rules(), date(2026, 10, 15), date(2026, 10, 15))
    assert generations.pending_periods(settings) == ["2026-10-01"]
    now = datetime.fromisoformat("2026-12-10T06:00:00+00:00")
    plan = nightly_plan(now, {}, {}, first_day=date(2026, 10, 1), unpublished=["2026-10-01"])
    assert plan.day_ranges == (("2026-10-01", "2026-10-31"), ("2026-12-01", "2026-12-09"))
    reconcile(con, settings, OCTOBER[0], OCTOBER[0])
    with generations.PendingGeneration(settings, ["2026-10-01"]) as pending:
        assert pending.publish(rebuild=False) == ["2026-10-01"]
    assert generations.pending_periods(settings) == []
    assert json.loads(generations.catalog_path(settings).read_text())["periods"]["2026-10-01"]["reconciled"]


def test_a_lake_from_before_generations_is_adopted_by_the_first_publish(sources, settings, con, tmp_path):
    """An install upgraded to generations has a working lake and no catalog: the first publish (of October)
    keeps what its warehouse showed (September) shown, as it stands, instead of hiding it."""
    september = [
        corpus.cur1_row(datetime(2026, 9, day, 3), 4.0, resource="i-0a", period="2026-09-01T00:00:00Z")
        for day in range(1, 31)
    ]
    _ingest(con, settings, corpus.write_csv(tmp_path / "sep.csv", corpus.CUR1_HEADER, september))
    attribute(con, settings, load_rules(), date(2026, 9, 1), date(2026, 9, 30))
    reconcile(con, settings, date(2026, 9, 1), date(2026, 9, 1))
    _ingest(con, settings, sources[1])
    _compute(con, settings)
    assert not generations.catalog_path(settings).exists() and generations.pending_periods(settings) == []
    with generations.PendingGeneration(settings, ["2026-10-01"]) as pending:
        assert pending.publish() == ["2026-10-01"]
    published = generations.read_catalog(settings)["periods"]
    assert sorted(published) == ["2026-09-01", "2026-10-01"] and published["2026-09-01"]["reconciled"]
    ro = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        totals = ro.execute(
            "SELECT billing_period::VARCHAR, count(*), round(sum(effective_cost), 2) FROM line_items GROUP BY 1 "
            "ORDER BY 1"
        ).fetchall()
    finally:
        ro.close()
    # September by hand: 30 days × 4.00 = 120.00.
    assert totals == [("2026-09-01", 30, 120.0), ("2026-10-01", *EXPECTED[1])]
