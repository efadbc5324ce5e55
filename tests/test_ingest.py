"""Ingestion into line_items: real exports, every flavour's totals, and bad input that must not publish."""

from __future__ import annotations

import csv
import gzip
import hashlib
import os
import subprocess
import sys

import pytest

from pipelines.billing.ingest import ingest_deliveries
from pipelines.errors import InputError
from pipelines.storage import lake
from tests.conftest import REPO, FileDelivery, realdata

CUR1_HEADER = [
    "bill/BillingPeriodStartDate", "lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/LineItemType",
    "lineItem/ProductCode", "lineItem/UsageType", "lineItem/UnblendedCost", "lineItem/UsageAmount",
]  # fmt: skip
GOOD_ROWS = [
    ["2026-10-01T00:00:00Z", "2026-10-03T00:00:00Z", "2026-10-03T01:00:00Z", "Usage", "AmazonEC2",
     "BoxUsage:g5.xlarge", "1.006", "1"],
    ["2026-10-01T00:00:00Z", "2026-10-03T00:00:00Z", "2026-10-04T00:00:00Z", "Usage", "AmazonS3",
     "TimedStorage-ByteHrs", "0.25", "10"],
]  # fmt: skip


def write_csv(path, header, rows, *, gz=False):
    opener = gzip.open if gz else open
    with opener(path, "wt", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_real_cur_parquet_totals(settings, con):
    path = realdata("cur1-parquet", "Oct2018-WorkshopCUR-00001.snappy.parquet")
    written = ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    (period,) = written
    assert period == "2018-10-01"
    assert written[period]["rows"] == 119_307
    money = written[period]["currencies"]["USD"]
    assert money["billed_cost"] == pytest.approx(4064.4831, abs=0.00005)
    assert money["effective_cost"] == pytest.approx(4195.9571, abs=0.00005)
    # The difference is the RI upfront fee amortized into the month (BILLING.md's invariant).
    assert money["effective_cost"] - money["billed_cost"] == pytest.approx(131.474, abs=0.0005)


def test_real_focus_sample_keeps_every_row(settings, con):
    path = realdata("focus-1.0", "focus_sample.csv")
    written = ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    assert sum(v["rows"] for v in written.values()) == 1000
    lake.register_views(con, settings, ["line_items"])
    providers = dict(con.execute("SELECT provider, count(*) FROM line_items GROUP BY 1").fetchall())
    assert providers == {"AWS": 942, "Microsoft": 51, "Oracle": 7}
    # NULL written as the word NULL is missing, not text; tags JSON becomes a MAP with normalized keys.
    assert con.execute("SELECT count(*) FROM line_items WHERE resource_id = 'NULL'").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM line_items WHERE cardinality(tags) > 0").fetchone()[0] > 0


def test_legacy_csv_gz_roundtrip_and_idempotent(tmp_path, settings, con):
    path = write_csv(tmp_path / "r-1.csv.gz", CUR1_HEADER, GOOD_ROWS, gz=True)
    first = ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    assert first["2026-10-01"]["currencies"]["USD"]["billed_cost"] == pytest.approx(1.256)
    target = lake.partition_path(settings, "line_items", "2026-10-01")
    before = digest(target)
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    assert digest(target) == before  # the same delivery twice changes nothing


def test_cur2_blank_tag_values_are_no_tag(tmp_path, settings, con):
    """A blank tag value means the tag is not set, in a map that has other tags and in one that has none."""
    from tests.corpus.bad_inputs import cur2_parquet_with_tags

    tags = [{"team": "vision", "owner": ""}, {"team": ""}, {}, {"team": "nlp", "owner": "ana"}]
    path = cur2_parquet_with_tags(tmp_path / "cur2-00001.snappy.parquet", tags)
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    lake.register_views(con, settings, ["line_items"])
    rows = con.execute("SELECT tags FROM line_items ORDER BY source_row").fetchall()
    assert [r[0] for r in rows] == [{"team": "vision"}, {}, {}, {"team": "nlp", "owner": "ana"}]


def _bad_inputs(tmp_path):
    truncated = write_csv(tmp_path / "t-1.csv.gz", CUR1_HEADER, GOOD_ROWS * 2000, gz=True)
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    not_parquet = tmp_path / "cur-00001.snappy.parquet"
    not_parquet.write_text("this is not parquet\n")
    missing = write_csv(tmp_path / "missing.csv", [c for c in CUR1_HEADER if c != "lineItem/UnblendedCost"],
                        [r[:6] + r[7:] for r in GOOD_ROWS])  # fmt: skip
    unknown = write_csv(tmp_path / "unknown.csv", ["a", "b"], [["1", "2"]])
    text_cost = write_csv(
        tmp_path / "text.csv", CUR1_HEADER, [GOOD_ROWS[0], GOOD_ROWS[1][:6] + ["12,5 USD", "1"]]
    )
    random_bytes = tmp_path / "random.csv"
    random_bytes.write_bytes(os.urandom(200_000))
    return {
        "truncated gzip": (truncated, "gzip"),
        "parquet that is not parquet": (not_parquet, "Parquet"),
        "missing required column": (missing, "lineItem/UnblendedCost"),
        "unknown format": (unknown, "unknown billing export format"),
        "text in a cost column": (text_cost, "'12,5 USD'"),
        "random bytes": (random_bytes, "random.csv"),
    }


@pytest.mark.parametrize(
    "case",
    ["truncated gzip", "parquet that is not parquet", "missing required column", "unknown format",
     "text in a cost column", "random bytes"],
)  # fmt: skip
def test_bad_input_names_the_file_and_publishes_nothing(tmp_path, settings, con, case):
    good = write_csv(tmp_path / "good.csv", CUR1_HEADER, GOOD_ROWS)
    ingest_deliveries(con, settings, [FileDelivery(files=(good,))])
    target = lake.partition_path(settings, "line_items", "2026-10-01")
    before = digest(target)
    path, expected = _bad_inputs(tmp_path)[case]
    with pytest.raises(InputError) as info:
        ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    message = str(info.value)
    assert str(path) in message and expected in message
    assert digest(target) == before
    assert not list(settings.tmp.glob("write-*"))  # no scratch left behind


def test_text_in_cost_column_names_column_and_line(tmp_path, settings, con):
    path, _ = _bad_inputs(tmp_path)["text in a cost column"]
    with pytest.raises(InputError) as info:
        ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    assert info.value.column == "lineItem/UnblendedCost"
    assert info.value.line == 3  # header is line 1


def test_cli_bad_source_exits_non_zero_without_traceback(tmp_path):
    bad = write_csv(tmp_path / "unknown.csv", ["a", "b"], [["1", "2"]])
    env = {**os.environ, "MLCOST_HOME": str(tmp_path / "home"), "DAGSTER_HOME": str(tmp_path / "dh")}
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--cur-source", str(bad), "--from", "2026-10"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 2
    assert "unknown billing export format" in proc.stderr and str(bad) in proc.stderr
    assert "Traceback" not in proc.stderr


def test_restatement_replaces_and_keeps_the_superseded_version(tmp_path, settings, con):
    from pipelines.storage.warehouse import refresh_catalog

    first = write_csv(tmp_path / "a.csv", CUR1_HEADER, GOOD_ROWS)
    ingest_deliveries(con, settings, [FileDelivery(files=(first,), delivery_id="A", fingerprint="a")])
    restated = write_csv(tmp_path / "b.csv", CUR1_HEADER, [GOOD_ROWS[0][:6] + ["2.5", "1"], GOOD_ROWS[1]])
    written = ingest_deliveries(
        con, settings, [FileDelivery(files=(restated,), delivery_id="B", fingerprint="b")]
    )
    assert written["2026-10-01"]["currencies"]["USD"]["billed_cost"] == pytest.approx(2.75)
    refresh_catalog(settings)
    import duckdb

    ro = duckdb.connect(str(settings.warehouse), read_only=True)
    assert ro.execute("SELECT sum(billed_cost), count(*) FROM line_items").fetchone() == (
        pytest.approx(2.75),
        2,
    )
    old = ro.execute(
        "SELECT delivery_id, sum(billed_cost), count(DISTINCT superseded) FROM line_items_history GROUP BY 1"
    ).fetchall()
    assert old == [("A", pytest.approx(1.256), 1)]
    ro.close()
    # Retention: only the newest `history_versions` superseded versions are kept.
    from dataclasses import replace

    short = replace(settings, history_versions=1)
    for n, cost in enumerate(["3", "4"]):
        again = write_csv(tmp_path / f"c{n}.csv", CUR1_HEADER, [GOOD_ROWS[0][:6] + [cost, "1"]])
        ingest_deliveries(
            con, short, [FileDelivery(files=(again,), delivery_id=f"C{n}", fingerprint=f"c{n}")]
        )
    versions = list(
        (settings.lake / "_history" / "line_items" / "billing_period=2026-10-01").glob("superseded=*")
    )
    assert len(versions) == 1
