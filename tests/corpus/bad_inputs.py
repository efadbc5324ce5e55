"""The corpus of bad inputs of issue #9, written by code into a folder: each case and what must happen to it.

Every builder takes a folder, writes its input there (nothing is committed: a 50 MB file of random bytes is
made on the fly) and returns a `BadInput` saying where to point the pipeline and the expected outcome:

- `refused`: the billing period is not published; one `InputError` names `names` (the file), and its message
  contains every fragment of `says` (the column, the line, the problem); published data is unchanged.
- `loaded`: the input is valid, if unusual, and loads; the tests check its values.
- `kept`: nothing to load (an empty delivery); the published month stays as it was.
- `rejected`: GPU logs and prediction counts: that file is set aside in `rejected_files`, the others load.

`write_corpus(root)` writes them all (tests/test_bad_inputs.py uses the builders one by one).
"""

from __future__ import annotations

import csv
import gzip
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

PERIOD = "2026-10-01"
PERIOD_FOLDER = "20261001-20261101"
BUCKET = "billing-bucket"
PREFIX = "cur"  # a source folder stands for s3://billing-bucket/cur/
REPORT = "ml-cur"

CUR1_HEADER = [
    "bill/BillingPeriodStartDate", "lineItem/UsageStartDate", "lineItem/UsageEndDate",
    "lineItem/LineItemType", "lineItem/ProductCode", "lineItem/UsageType", "lineItem/ResourceId",
    "lineItem/UsageAmount", "lineItem/UnblendedCost", "lineItem/CurrencyCode", "resourceTags/user:team",
]  # fmt: skip

# Tag values a naive loader would mangle: quotes, a newline, SQL, separators, JSON, unicode, edge spaces.
TRICKY_TAG_VALUES = [
    'O\'Brien "the" team',
    "first line\nsecond line",
    "x'); DROP TABLE line_items; --",
    "a,b;c|d\te",
    '{"json": [1, 2]}',
    "naïve ☃ 模型",
    "  spaced  ",
    "back\\slash",
]
# A tag key with quotes in it: AWS keys cannot have them, other providers' FOCUS keys and hand-made files can.
TRICKY_TAG_KEY = 'user:owner\'s "group"'
TRICKY_TAG_KEY_NORMALIZED = 'user_owner\'s_"group"'


@dataclass(frozen=True)
class BadInput:
    """One corpus entry: what to point the pipeline at and what must happen."""

    name: str
    source: Path  # a file or folder, given as the billing (or GPU, predictions) source
    outcome: str  # refused | loaded | kept | rejected
    names: Path | None = None  # the file the error message must name
    says: tuple[str, ...] = ()  # fragments the message must contain
    column: str | None = None
    line: int | None = None
    before: Path | None = None  # a source to publish first, instead of the baseline month
    notes: dict = field(default_factory=dict)  # case-specific expectations (totals, rows)


def cur1_row(
    start: datetime,
    cost: float | str,
    *,
    hours: float = 1,
    usage: float | str = 1,
    currency: str = "USD",
    line_type: str = "Usage",
    product: str = "AmazonEC2",
    usage_type: str = "BoxUsage:g5.xlarge",
    resource: str = "i-0a",
    team: str = "search",
    period: str = "2026-10-01T00:00:00Z",
) -> list[str]:
    """One legacy CUR CSV line in CUR1_HEADER order."""
    end = start + timedelta(hours=hours)
    return [
        period, _iso(start), _iso(end), line_type, product, usage_type, resource, str(usage), str(cost),
        currency, team,
    ]  # fmt: skip


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def hourly_rows(n: int, *, cost: float = 1.25, day: int = 3, resource: str = "i-0a") -> list[list[str]]:
    """n consecutive hourly lines from 00:00 on the given October day."""
    first = datetime(2026, 10, day)
    return [cur1_row(first + timedelta(hours=h), cost, resource=resource) for h in range(n)]


def write_csv(path: Path, header: list[str], rows: list[list[str]], *, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    opener = gzip.open if gz else open
    with opener(path, "wt", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def legacy_report(
    root: Path, files: dict[str, list[list[str]] | bytes], *, assembly: str = "asm-1", report: str = REPORT
) -> Path:
    """A legacy CUR delivery for October 2026 under `root` (an S3 prefix's copy); returns the manifest path.

    `files` maps a data file name to its lines (written as CSV.gz) or to raw bytes.
    """
    period_dir = root / report / PERIOD_FOLDER
    keys = []
    for name, content in files.items():
        path = period_dir / assembly / name
        if isinstance(content, bytes):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        else:
            write_csv(path, CUR1_HEADER, content, gz=name.endswith(".gz"))
        keys.append(f"{PREFIX}/{path.relative_to(root).as_posix()}")
    return write_legacy_manifest(root, keys, assembly=assembly, report=report)


def write_legacy_manifest(root: Path, keys: list[str], *, assembly: str, report: str = REPORT) -> Path:
    doc = {
        "assemblyId": assembly,
        "reportName": report,
        "bucket": BUCKET,
        "billingPeriod": {"start": "20261001T000000.000Z", "end": "20261101T000000.000Z"},
        "reportKeys": keys,
    }
    manifest = root / report / PERIOD_FOLDER / f"{report}-Manifest.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(doc))
    return manifest


def cur2_export(
    root: Path,
    files: dict[str, list[list[str]]],
    *,
    execution_id: str,
    delivered: datetime | None = None,
    create_new: bool = False,
    export: str = "ml-cur2",
) -> Path:
    """A CUR 2.0 Data Export layout for October 2026 (data in legacy-header CSV: content decides the flavour).

    `delivered` goes into the manifest's deliveryTimestamp, or (create_new) into the refresh folder's name.
    """
    data_dir = root / export / "data" / "BILLING_PERIOD=2026-10"
    meta_dir = root / export / "metadata" / "BILLING_PERIOD=2026-10"
    doc: dict = {"exportName": export, "billingPeriod": {"start": "2026-10-01T00:00:00.000Z"}}
    if create_new:
        assert delivered is not None
        folder = f"{delivered:%Y%m%dT%H%M%SZ}-{execution_id}"
        data_dir, meta_dir = data_dir / folder, meta_dir / folder
    elif delivered is not None:
        doc["deliveryTimestamp"] = delivered.isoformat().replace("+00:00", "Z")
    uris = []
    for name, rows in files.items():
        path = write_csv(data_dir / name, CUR1_HEADER, rows)
        uris.append(f"s3://{BUCKET}/{PREFIX}/{path.relative_to(root).as_posix()}")
    doc.update({"executionId": execution_id, "dataFiles": uris})
    manifest = meta_dir / f"{export}-Manifest.json"
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(doc))
    return manifest


def legacy_parquet(path: Path, rows: int) -> Path:
    """A legacy CUR Parquet file with Athena snake_case names (the real export's shape), `rows` lines."""
    start = datetime(2026, 10, 1, tzinfo=UTC)
    starts = [start + timedelta(hours=h % 720) for h in range(rows)]
    table = pa.table(
        {
            "bill_billing_period_start_date": pa.array([start] * rows, pa.timestamp("ms", tz="UTC")),
            "line_item_usage_start_date": pa.array(starts, pa.timestamp("ms", tz="UTC")),
            "line_item_usage_end_date": pa.array(
                [s + timedelta(hours=1) for s in starts], pa.timestamp("ms", tz="UTC")
            ),
            "line_item_line_item_type": ["Usage"] * rows,
            "line_item_product_code": ["AmazonEC2"] * rows,
            "line_item_usage_type": ["BoxUsage:g5.xlarge"] * rows,
            "line_item_resource_id": [f"i-{h % 17:04d}" for h in range(rows)],
            "line_item_usage_amount": [1.0] * rows,
            "line_item_unblended_cost": [1.006] * rows,
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def identified_parquet(path: Path, lines: list[tuple[str, int]]) -> Path:
    """Legacy CUR Parquet (Athena names) with AWS's line identity: one (line item id, hour) per line, all else
    equal (1.25 USD of i-0a), so that only the identity tells the lines apart."""
    period = datetime(2026, 10, 1, tzinfo=UTC)
    ts = pa.timestamp("ms", tz="UTC")
    starts = [period + timedelta(hours=hour % 3) for _, hour in lines]
    table = pa.table(
        {
            "identity_line_item_id": [line_id for line_id, _ in lines],
            "identity_time_interval": [
                f"{s:%Y-%m-%dT%H}:00:00Z/{s + timedelta(hours=1):%Y-%m-%dT%H}:00:00Z" for s in starts
            ],  # fmt: skip
            "bill_billing_period_start_date": pa.array([period] * len(lines), ts),
            "line_item_usage_start_date": pa.array(starts, ts),
            "line_item_usage_end_date": pa.array([s + timedelta(hours=1) for s in starts], ts),
            "line_item_line_item_type": ["Usage"] * len(lines),
            "line_item_product_code": ["AmazonEC2"] * len(lines),
            "line_item_usage_type": ["BoxUsage:g5.xlarge"] * len(lines),
            "line_item_resource_id": ["i-0a"] * len(lines),
            "line_item_usage_amount": [1.0] * len(lines),
            "line_item_unblended_cost": [1.25] * len(lines),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def cur2_parquet_with_tags(path: Path, tags: list[dict[str, str]]) -> Path:
    """A CUR 2.0 Parquet file (resource_tags and product are MAP columns) with one line per tag dict."""
    n = len(tags)
    start = datetime(2026, 10, 3, tzinfo=UTC)
    ts = pa.timestamp("ms", tz="UTC")
    table = pa.table(
        {
            "bill_payer_account_name": ["ml-company"] * n,
            "bill_billing_period_start_date": pa.array([datetime(2026, 10, 1, tzinfo=UTC)] * n, ts),
            "line_item_line_item_type": ["Usage"] * n,
            "line_item_usage_start_date": pa.array([start + timedelta(hours=i) for i in range(n)], ts),
            "line_item_usage_end_date": pa.array([start + timedelta(hours=i + 1) for i in range(n)], ts),
            "line_item_product_code": ["AmazonEC2"] * n,
            "line_item_usage_type": ["BoxUsage:g5.xlarge"] * n,
            "line_item_unblended_cost": [2.0] * n,
            "line_item_usage_amount": [1.0] * n,
            "product": pa.array([[("region", "us-east-1")]] * n, pa.map_(pa.string(), pa.string())),
            "resource_tags": pa.array([list(t.items()) for t in tags], pa.map_(pa.string(), pa.string())),
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


FOCUS_HEADER = [
    "BillingPeriodStart", "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "BilledCost",
    "EffectiveCost", "BillingCurrency", "ProviderName", "ServiceName", "ResourceId", "Tags",
]  # fmt: skip


def focus_rows_with_tags(tags: list[dict[str, str]]) -> list[list[str]]:
    start = datetime(2026, 10, 3)
    return [
        ["2026-10-01T00:00:00Z", _iso(start + timedelta(hours=i)), _iso(start + timedelta(hours=i + 1)),
         "Usage", "3.0", "3.0", "USD", "AWS", "Amazon EC2", f"i-focus{i}", json.dumps(t, ensure_ascii=False)]
        for i, t in enumerate(tags)
    ]  # fmt: skip


# --- the baseline month every refusal must leave untouched ------------------------------------------------


def baseline(root: Path) -> Path:
    """A good October 2026 delivery: 10 hourly lines of 1.25 USD (12.50)."""
    return write_csv(root / "baseline" / "cur-good.csv", CUR1_HEADER, hourly_rows(10))


BASELINE_BILLED = 12.50


# --- the cases ----------------------------------------------------------------------------------------------


def truncated_gzip(root: Path) -> BadInput:
    path = write_csv(root / "truncated" / "cur-00001.csv.gz", CUR1_HEADER, hourly_rows(24) * 400, gz=True)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return BadInput("truncated gzip", path, "refused", path, ("gzip",))


def parquet_cut_in_half(root: Path) -> BadInput:
    path = legacy_parquet(root / "halfparquet" / "cur-00001.snappy.parquet", 5000)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return BadInput("parquet cut in half", path, "refused", path, ("not a readable Parquet file",))


def missing_required_column(root: Path) -> BadInput:
    drop = CUR1_HEADER.index("lineItem/UnblendedCost")
    header = [c for i, c in enumerate(CUR1_HEADER) if i != drop]
    rows = [[v for i, v in enumerate(r) if i != drop] for r in hourly_rows(3)]
    path = write_csv(root / "missingcol" / "cur.csv", header, rows)
    return BadInput(
        "missing required column", path, "refused", path, ("required column is missing",),
        column="lineItem/UnblendedCost",
    )  # fmt: skip


def text_in_cost_column(root: Path) -> BadInput:
    rows = hourly_rows(4)
    rows[2][CUR1_HEADER.index("lineItem/UnblendedCost")] = "12,5 USD"
    path = write_csv(root / "textcost" / "cur.csv", CUR1_HEADER, rows)
    # Header is line 1, so the third data line is line 4.
    return BadInput(
        "text in a cost column", path, "refused", path, ("'12,5 USD'", "not a valid double"),
        column="lineItem/UnblendedCost", line=4,
    )  # fmt: skip


def unparseable_timestamp(root: Path) -> BadInput:
    rows = hourly_rows(3)
    rows[1][CUR1_HEADER.index("lineItem/UsageStartDate")] = "03/10/2026 25:61"
    path = write_csv(root / "badtime" / "cur.csv", CUR1_HEADER, rows)
    return BadInput(
        "unparseable timestamp", path, "refused", path, ("'03/10/2026 25:61'", "not a valid timestamp"),
        column="lineItem/UsageStartDate", line=3,
    )  # fmt: skip


def manifest_missing_file(root: Path) -> BadInput:
    folder = root / "missingfile"
    manifest = legacy_report(folder, {f"{REPORT}-1.csv.gz": hourly_rows(3)})
    key = f"{PREFIX}/{REPORT}/{PERIOD_FOLDER}/asm-1/{REPORT}-2.csv.gz"
    doc = json.loads(manifest.read_text())
    doc["reportKeys"].append(key)
    manifest.write_text(json.dumps(doc))
    return BadInput("manifest names a missing file", folder, "refused", manifest, (key, "is missing"))


def manifest_key_outside_prefix(root: Path) -> BadInput:
    folder = root / "outside"
    manifest = legacy_report(folder, {f"{REPORT}-1.csv.gz": hourly_rows(3)})
    secret = folder / "elsewhere" / "secrets.csv"
    write_csv(secret, CUR1_HEADER, hourly_rows(2, cost=999))  # it exists, and must still not be read
    doc = json.loads(manifest.read_text())
    doc["reportKeys"].append(f"{PREFIX}/elsewhere/secrets.csv")
    manifest.write_text(json.dumps(doc))
    return BadInput(
        "manifest key outside the export", folder, "refused", manifest, ("elsewhere/secrets.csv", "refused")
    )


def same_id_different_content(root: Path) -> BadInput:
    """The same assembly id published before with other lines: the files changed under their manifest."""
    first = root / "sameid-a"
    legacy_report(first, {f"{REPORT}-1.csv.gz": hourly_rows(5)}, assembly="asm-7")
    second = root / "sameid-b"
    manifest = legacy_report(second, {f"{REPORT}-1.csv.gz": hourly_rows(6)}, assembly="asm-7")
    return BadInput(
        "same delivery id, different content", second, "refused", manifest,
        ("asm-7", "already published with other content", "5 lines, now 6"), before=first,
    )  # fmt: skip


def same_id_two_exports(root: Path) -> BadInput:
    """Two exports in one source carry the same assembly id and different lines for one month."""
    folder = root / "sameid-two"
    legacy_report(folder, {f"{REPORT}-1.csv.gz": hourly_rows(5)}, assembly="asm-9", report="report-a")
    manifest = legacy_report(
        folder, {"report-b-1.csv.gz": hourly_rows(6)}, assembly="asm-9", report="report-b"
    )
    return BadInput(
        "same delivery id in two exports", folder, "refused", manifest,
        ("two deliveries with the same delivery id", "asm-9", "report-a", "report-b"),
    )  # fmt: skip


def repeated_lines_across_files(root: Path) -> BadInput:
    """Part 2 of one delivery repeats two lines of part 1 (AWS never does; a re-upload or bad merge does)."""
    part1 = hourly_rows(6)
    part2 = hourly_rows(4, resource="i-0b") + part1[2:4]
    folder = root / "repeated"
    legacy_report(folder, {f"{REPORT}-1.csv.gz": part1, f"{REPORT}-2.csv.gz": part2})
    second = folder / REPORT / PERIOD_FOLDER / "asm-1" / f"{REPORT}-2.csv.gz"
    first = folder / REPORT / PERIOD_FOLDER / "asm-1" / f"{REPORT}-1.csv.gz"
    # Part 2's header is line 1, its four own lines 2-5, so the first repeated line is line 6.
    return BadInput(
        "identical lines in two files of one delivery", folder, "refused", second,
        ("2 line(s) are exact copies", str(first.resolve())), line=6,
    )  # fmt: skip


def repeated_lines_across_parquet_parts(root: Path) -> BadInput:
    """Parquet parts with AWS's line identity: part 2 repeats two lines of part 1, identity included."""
    folder = root / "repeated-parquet"
    base = folder / REPORT / PERIOD_FOLDER / "asm-1"
    first = identified_parquet(base / f"{REPORT}-1.snappy.parquet", [(f"L{i}", i) for i in range(6)])
    second = identified_parquet(
        base / f"{REPORT}-2.snappy.parquet", [(f"M{i}", i) for i in range(4)] + [("L1", 1), ("L4", 4)]
    )
    keys = [f"{PREFIX}/{p.relative_to(folder).as_posix()}" for p in (first, second)]
    write_legacy_manifest(folder, keys, assembly="asm-1")
    # Rows are counted from 1; the repeats are rows 5 and 6 of part 2.
    return BadInput(
        "identical lines in two Parquet parts (line identity)", folder, "refused", second,
        ("2 line(s) are exact copies", str(first.resolve())), line=5,
    )  # fmt: skip


def copied_file(root: Path) -> BadInput:
    """A manifest-less folder holding a file and its copy: the same month twice."""
    folder = root / "copied"
    original = write_csv(folder / "cur-2026-10.csv", CUR1_HEADER, hourly_rows(8))
    copy = folder / "cur-2026-10_copy.csv"
    copy.write_bytes(original.read_bytes())
    return BadInput(
        "a file and its copy",
        folder,
        "refused",
        copy,
        ("exactly the same content as", str(original.resolve())),
    )


def negative_usage(root: Path) -> BadInput:
    """Usage lines with negative quantities and costs: real corrections (the real FOCUS sample has them)."""
    rows = hourly_rows(3)
    rows.append(cur1_row(datetime(2026, 10, 3, 5), -1.25, usage=-1))
    path = write_csv(root / "negative" / "cur.csv", CUR1_HEADER, rows)
    return BadInput(
        "negative usage quantity", path, "loaded", notes={"billed": 2.50, "rows": 4, "negative": 1}
    )


def two_currencies(root: Path) -> BadInput:
    """One month billed partly in USD, partly in EUR (two payer accounts exported together)."""
    rows = hourly_rows(4, cost=1.25)
    rows += [cur1_row(datetime(2026, 10, 4, h), 2.0, currency="EUR", resource="i-0eu") for h in range(3)]
    rows.append(cur1_row(datetime(2026, 10, 4), 0.75, currency="EUR", line_type="Tax", product="AWSTax",
                         usage_type="Tax", resource="", hours=24 * 27))  # fmt: skip
    path = write_csv(root / "currencies" / "cur.csv", CUR1_HEADER, rows)
    return BadInput("two currencies in one month", path, "loaded", notes={"USD": 5.00, "EUR": 6.75})


def charge_outside_billing_period(root: Path) -> BadInput:
    """A late credit: charged in September, billed in October."""
    rows = hourly_rows(2)
    rows.append(cur1_row(datetime(2026, 9, 20), -3.0, usage=0, line_type="Credit", hours=24))
    path = write_csv(root / "outside-period" / "cur.csv", CUR1_HEADER, rows)
    return BadInput("charge period outside its billing period", path, "loaded", notes={"credit": -3.0})


def random_bytes(root: Path, size: int = 50 * 2**20, seed: int = 9) -> BadInput:
    """A large file of random bytes named like a CSV export (generated here, never committed)."""
    path = root / "random" / "cur-00001.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))
    return BadInput("50 MB of random bytes named .csv", path, "refused", path, ("not a CSV billing export",))


def empty_delivery(root: Path) -> BadInput:
    """The manifest of the month lists no data file yet (AWS writes one at the start of a month)."""
    folder = root / "empty"
    write_legacy_manifest(folder, [], assembly="asm-empty")
    return BadInput("empty delivery", folder, "kept")


def header_only(root: Path) -> BadInput:
    path = write_csv(root / "headeronly" / "cur.csv", CUR1_HEADER, [])
    return BadInput("a CSV with a header and no line", path, "kept")


def tricky_tags_cur1(root: Path) -> BadInput:
    header = [*CUR1_HEADER, f"resourceTags/{TRICKY_TAG_KEY}"]
    rows = [
        [*cur1_row(datetime(2026, 10, 3, h), 1.0, team=value), f"{h}:{value}"]
        for h, value in enumerate(TRICKY_TAG_VALUES)
    ]
    path = write_csv(root / "tags-cur1" / "cur.csv", header, rows)
    return BadInput("tag values with quotes, newlines and SQL (legacy CSV)", path, "loaded")


def tricky_tags_focus(root: Path) -> BadInput:
    tags = [{"user:team": v, TRICKY_TAG_KEY: f"{i}:{v}"} for i, v in enumerate(TRICKY_TAG_VALUES)]
    path = write_csv(root / "tags-focus" / "focus.csv", FOCUS_HEADER, focus_rows_with_tags(tags))
    return BadInput("tag values with quotes, newlines and SQL (FOCUS CSV)", path, "loaded")


def tricky_tags_cur2(root: Path) -> BadInput:
    tags = [{"user_team": v, TRICKY_TAG_KEY_NORMALIZED: f"{i}:{v}"} for i, v in enumerate(TRICKY_TAG_VALUES)]
    path = cur2_parquet_with_tags(root / "tags-cur2" / "cur2-00001.snappy.parquet", tags)
    return BadInput("tag values with quotes, newlines and SQL (CUR 2.0 Parquet)", path, "loaded")


def gpu_log_of_nul_bytes(root: Path) -> BadInput:
    folder = root / "gpu"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "i-0123456789abcdef0" / "nvidia-smi.csv"
    path.parent.mkdir()
    path.write_bytes(b"\x00" * 65536)
    good = folder / "i-0123456789abcdef0" / "nvidia-smi-ok.csv"
    good.write_text(
        "timestamp, index, utilization.gpu [%]\n"
        "2026/10/03 10:00:00.000, 0, 50 %\n"
        "2026/10/03 10:00:01.000, 0, 70 %\n"
    )
    return BadInput("GPU log of NUL bytes", folder, "rejected", path, ("NUL bytes",), notes={"good": good})


def predictions_with_duplicate_rows(root: Path) -> BadInput:
    folder = root / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    # The pod column makes a repeated line a true duplicate (the same replica's interval twice). Without one,
    # rows sharing (timestamp, model) in a file are different replicas and add up (docs/predictions.md).
    rows = ["2026-10-03T00:00:00Z,ranker,ranker-0,100", "2026-10-03T01:00:00Z,ranker,ranker-0,50"]
    text = "timestamp,model,pod,count\n" + "\n".join(rows + rows + rows[:1]) + "\n"
    (folder / "counts.csv").write_text(text)
    return BadInput(
        "prediction counts with duplicate rows", folder, "loaded", notes={"invocations": 150, "duplicates": 3}
    )


def predictions_count_overflow(root: Path) -> BadInput:
    """A count of 25 digits: no 64-bit integer holds it; the line must be skipped and counted, not zeroed."""
    folder = root / "predictions-overflow"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "counts.csv"
    path.write_text(
        "timestamp,model,count,errors\n"
        "2026-10-03T00:00:00Z,ranker,9999999999999999999999999,0\n"
        "2026-10-03T01:00:00Z,ranker,5,9999999999999999999999999\n"
        "2026-10-03T02:00:00Z,ranker,7,0\n"
    )
    return BadInput(
        "a count too large for 64 bits", folder, "loaded", path, notes={"skipped": 2, "invocations": 7}
    )


# --- issue #21: values that cannot be a bill, and sources that cannot be read whole ------------------------

COST = CUR1_HEADER.index("lineItem/UnblendedCost")


def _cost_spelled(spelling: str) -> Callable[[Path], BadInput]:
    """A legacy CSV whose 4th data line (file line 5: the header is line 1) has a non-finite cost."""

    def build(root: Path) -> BadInput:
        rows = hourly_rows(6)
        rows[3][COST] = spelling
        folder = "nonfinite-" + "".join(ch if ch.isalnum() else "_" for ch in spelling)
        path = write_csv(root / folder / "cur.csv", CUR1_HEADER, rows)
        return BadInput(
            f"cost {spelling!r}", path, "refused", path, (repr(spelling), "is not a finite number"),
            column="lineItem/UnblendedCost", line=5,
        )  # fmt: skip

    return build


# How NaN and infinities are written by the tools that write CSVs: pandas (`NaN`, `inf`, `-inf`), Spark and
# Java (`NaN`, `Infinity`, `-Infinity`), numpy's repr (`nan`), and a number too large for a double (`1e400`).
NON_FINITE_SPELLINGS = {
    "nan_cost": "NaN",
    "lowercase_nan_cost": "nan",
    "inf_cost": "inf",
    "negative_infinity_cost": "-Infinity",
    "overflowing_cost": "1e400",
}


def nan_after_a_multiline_tag(root: Path) -> BadInput:
    """Data row 2 has a tag value holding a newline (quoted, as csv writers do), row 3 a NaN cost: the error names
    line 5 of the file, where row 3 starts (header 1, row 1 line 2, row 2 lines 3-4), as an editor shows it."""
    rows = hourly_rows(3)
    rows[1][CUR1_HEADER.index("resourceTags/user:team")] = "first line\nsecond line"
    rows[2][COST] = "NaN"
    path = write_csv(root / "multiline-nan" / "cur.csv", CUR1_HEADER, rows)
    return BadInput(
        "NaN after a tag value holding a newline", path, "refused", path, ("'NaN'", "is not a finite number"),
        column="lineItem/UnblendedCost", line=5,
    )  # fmt: skip


def _parquet_with(path: Path, rows: int, column: str, row: int, value) -> Path:
    """legacy_parquet with one value replaced at data row `row` (counted from 1)."""
    legacy_parquet(path, rows)
    table = pq.read_table(path)
    values = table.column(column).to_pylist()
    values[row - 1] = value
    kind = table.schema.field(column).type if not isinstance(value, str) else pa.string()
    if isinstance(value, str):
        values = [v if isinstance(v, str) else v.isoformat() for v in values]
    index = table.schema.get_field_index(column)
    pq.write_table(table.set_column(index, column, pa.array(values, kind)), path)
    return path


def parquet_nan_cost(root: Path) -> BadInput:
    """A float NaN in row 10 of a Parquet file (pandas writes a missing float as NaN, not null)."""
    path = _parquet_with(root / "pq-nan" / "cur-00001.snappy.parquet", 20, "line_item_unblended_cost", 10,
                         float("nan"))  # fmt: skip
    return BadInput(
        "Parquet NaN cost", path, "refused", path, ("'nan'", "is not a finite number"),
        column="line_item_unblended_cost", line=10,
    )  # fmt: skip


def parquet_infinite_usage(root: Path) -> BadInput:
    path = _parquet_with(root / "pq-inf" / "cur-00001.snappy.parquet", 20, "line_item_usage_amount", 7,
                         float("-inf"))  # fmt: skip
    return BadInput(
        "Parquet -inf usage", path, "refused", path, ("'-inf'", "is not a finite number"),
        column="line_item_usage_amount", line=7,
    )  # fmt: skip


def parquet_bad_timestamp_row_10(root: Path) -> BadInput:
    """Row 10 of a Parquet file (a text column there) holds no time: the error says line 10, not 11."""
    path = _parquet_with(root / "pq-badtime" / "cur-00001.snappy.parquet", 20, "line_item_usage_start_date",
                         10, "not a time")  # fmt: skip
    return BadInput(
        "Parquet row 10 with a bad timestamp", path, "refused", path, ("'not a time'", "not a valid timestamp"),
        column="line_item_usage_start_date", line=10,
    )  # fmt: skip


def duplicated_cost_column(root: Path) -> BadInput:
    """Two `lineItem/UnblendedCost` columns (a bad merge of two exports' columns)."""
    header = [*CUR1_HEADER, "lineItem/UnblendedCost"]
    rows = [[*r, "99.00"] for r in hourly_rows(3)]
    path = write_csv(root / "dupcol" / "cur.csv", header, rows)
    return BadInput(
        "a column named twice", path, "refused", path, ("names this column twice",),
        column="lineItem/UnblendedCost",
    )  # fmt: skip


def duplicated_column_two_spellings(root: Path) -> BadInput:
    """`lineItem/UnblendedCost` and its Athena spelling `line_item_unblended_cost` in one header."""
    header = [*CUR1_HEADER, "line_item_unblended_cost"]
    rows = [[*r, "99.00"] for r in hourly_rows(3)]
    path = write_csv(root / "dupcol2" / "cur.csv", header, rows)
    return BadInput(
        "a column in two spellings", path, "refused", path,
        ("'lineItem/UnblendedCost' and 'line_item_unblended_cost'",), column="line_item_unblended_cost",
    )  # fmt: skip


def parquet_duplicated_column(root: Path) -> BadInput:
    legacy_parquet(root / "pq-dup" / "base.parquet", 5)
    table = pq.read_table(root / "pq-dup" / "base.parquet")
    (root / "pq-dup" / "base.parquet").unlink()
    doubled = pa.Table.from_arrays(
        [*table.columns, table.column("line_item_unblended_cost")],
        names=[*table.column_names, "line_item_unblended_cost"],
    )
    path = root / "pq-dup" / "cur-00001.snappy.parquet"
    pq.write_table(doubled, path)
    return BadInput(
        "a Parquet column named twice", path, "refused", path, ("names this column twice",),
        column="line_item_unblended_cost",
    )  # fmt: skip


def latin1_byte(root: Path) -> BadInput:
    """A team name typed in Latin-1 (é = 0xe9) on file line 5, as Excel on Windows saves a CSV."""
    rows = hourly_rows(6)
    rows[3][CUR1_HEADER.index("resourceTags/user:team")] = "équipe"
    path = write_csv(root / "latin1" / "cur.csv", CUR1_HEADER, rows)
    path.write_bytes(path.read_bytes().replace("équipe".encode(), "équipe".encode("latin-1")))
    return BadInput(
        "a byte that is not UTF-8", path, "refused", path, ("0xe9", "not UTF-8"), line=5,
    )  # fmt: skip


def end_before_start(root: Path) -> BadInput:
    rows = hourly_rows(4)
    rows[2][CUR1_HEADER.index("lineItem/UsageEndDate")] = "2026-10-02T00:00:00Z"
    path = write_csv(root / "endbefore" / "cur.csv", CUR1_HEADER, rows)
    return BadInput(
        "usage end before start", path, "refused", path,
        ("ends (2026-10-02 00:00:00) before it starts", "lineItem/UsageStartDate 2026-10-03 02:00:00"),
        column="lineItem/UsageEndDate", line=4,
    )  # fmt: skip


def line_from_1970(root: Path) -> BadInput:
    """A good October plus one line dated 1970-01-01 (an epoch 0 written by a broken export script)."""
    rows = hourly_rows(6)
    rows.append(cur1_row(datetime(1970, 1, 1), 5.0, period="1970-01-01T00:00:00Z"))
    path = write_csv(root / "y1970" / "cur.csv", CUR1_HEADER, rows)
    return BadInput(
        "a line from 1970", path, "refused", path, ("billing period 1970-01-01 is outside the accepted 2000-01",),
        column="bill/BillingPeriodStartDate", line=8,
    )  # fmt: skip


def bill_from_2100(root: Path) -> BadInput:
    """A bill dated 2100 (a year typed wrong): four lines of 1.25."""
    rows = [cur1_row(datetime(2100, 1, 1, h), 1.25, period="2100-01-01T00:00:00Z") for h in range(4)]
    path = write_csv(root / "y2100" / "cur.csv", CUR1_HEADER, rows)
    return BadInput(
        "a bill from 2100", path, "refused", path,
        ("billing period 2100-01-01 is outside the accepted 2000-01", "4 lines of the delivery are like it"),
        column="bill/BillingPeriodStartDate", line=2,
    )  # fmt: skip


def charge_in_1999(root: Path) -> BadInput:
    """A line of October's bill whose usage started in 1999 (before any cloud bill)."""
    rows = hourly_rows(3)
    rows.append(cur1_row(datetime(1999, 12, 31), 1.0))
    path = write_csv(root / "y1999" / "cur.csv", CUR1_HEADER, rows)
    return BadInput(
        "a charge dated 1999", path, "refused", path, ("charge period start 1999-12-31", "outside the accepted"),
        column="lineItem/UsageStartDate", line=5,
    )  # fmt: skip


def line_of_another_period(root: Path) -> BadInput:
    """The October manifest's file holds a line billed in September (files of two months mixed up)."""
    rows = hourly_rows(4)
    rows[2][0] = "2026-09-01T00:00:00Z"
    folder = root / "otherperiod"
    legacy_report(folder, {f"{REPORT}-1.csv": rows})
    data = folder / REPORT / PERIOD_FOLDER / "asm-1" / f"{REPORT}-1.csv"
    return BadInput(
        "a line of another billing period than its manifest's", folder, "refused", data,
        ("billed in 2026-09-01", "for billing period 2026-10-01"), column="bill/BillingPeriodStartDate",
        line=4,
    )  # fmt: skip


def currency_not_a_code(root: Path) -> BadInput:
    rows = hourly_rows(3)
    rows[1][CUR1_HEADER.index("lineItem/CurrencyCode")] = "US Dollar"
    path = write_csv(root / "badcurrency" / "cur.csv", CUR1_HEADER, rows)
    return BadInput(
        "a currency that is not a code", path, "refused", path, ("'US DOLLAR' is not a three-letter",),
        column="lineItem/CurrencyCode", line=3,
    )  # fmt: skip


def broken_link_to_part_of_the_month(root: Path) -> BadInput:
    """A source folder whose second half of the month sits behind a symbolic link whose target is gone (an
    unmounted share, a sync that removed it). Root reads through any permission, so this, unlike chmod 000,
    is unreadable for every user."""
    folder = root / "brokenlink"
    write_csv(folder / "part-1.csv", CUR1_HEADER, hourly_rows(6))
    link = folder / "part-2"
    link.symlink_to(root / "gone" / "part-2")
    return BadInput(
        "a broken symbolic link inside the source", folder, "refused", link,
        ("broken symbolic link", "nothing is loaded"),
    )  # fmt: skip


def case_of_currency_codes(root: Path) -> BadInput:
    """`usd`, ` USD ` and `USD` on lines of one month (hand-edited files, other tools' exports): one currency."""
    rows = hourly_rows(4)
    rows[1][CUR1_HEADER.index("lineItem/CurrencyCode")] = "usd"
    rows[2][CUR1_HEADER.index("lineItem/CurrencyCode")] = " USD "
    path = write_csv(root / "usd-case" / "cur.csv", CUR1_HEADER, rows)
    return BadInput("currency codes in lower case and with spaces", path, "loaded", notes={"USD": 5.00})


def implausible_cost(root: Path) -> BadInput:
    """A cost of 1e300 on the 4th line (valid input: published, with a warning)."""
    rows = hourly_rows(6)
    rows[3][COST] = "1e300"
    path = write_csv(root / "huge" / "cur.csv", CUR1_HEADER, rows)
    return BadInput("a cost of 1e300", path, "loaded", notes={"billed": 1e300})


BUILDERS: dict[str, Callable[[Path], BadInput]] = {
    "truncated_gzip": truncated_gzip,
    "parquet_cut_in_half": parquet_cut_in_half,
    "missing_required_column": missing_required_column,
    "text_in_cost_column": text_in_cost_column,
    "unparseable_timestamp": unparseable_timestamp,
    "manifest_missing_file": manifest_missing_file,
    "manifest_key_outside_prefix": manifest_key_outside_prefix,
    "same_id_different_content": same_id_different_content,
    "same_id_two_exports": same_id_two_exports,
    "repeated_lines_across_files": repeated_lines_across_files,
    "repeated_lines_across_parquet_parts": repeated_lines_across_parquet_parts,
    "copied_file": copied_file,
    "negative_usage": negative_usage,
    "two_currencies": two_currencies,
    "charge_outside_billing_period": charge_outside_billing_period,
    "random_bytes": random_bytes,
    "empty_delivery": empty_delivery,
    "header_only": header_only,
    "tricky_tags_cur1": tricky_tags_cur1,
    "tricky_tags_focus": tricky_tags_focus,
    "tricky_tags_cur2": tricky_tags_cur2,
    "gpu_log_of_nul_bytes": gpu_log_of_nul_bytes,
    "predictions_with_duplicate_rows": predictions_with_duplicate_rows,
    "predictions_count_overflow": predictions_count_overflow,
    **{name: _cost_spelled(spelling) for name, spelling in NON_FINITE_SPELLINGS.items()},
    "nan_after_a_multiline_tag": nan_after_a_multiline_tag,
    "parquet_nan_cost": parquet_nan_cost,
    "parquet_infinite_usage": parquet_infinite_usage,
    "parquet_bad_timestamp_row_10": parquet_bad_timestamp_row_10,
    "duplicated_cost_column": duplicated_cost_column,
    "duplicated_column_two_spellings": duplicated_column_two_spellings,
    "parquet_duplicated_column": parquet_duplicated_column,
    "latin1_byte": latin1_byte,
    "end_before_start": end_before_start,
    "line_from_1970": line_from_1970,
    "bill_from_2100": bill_from_2100,
    "charge_in_1999": charge_in_1999,
    "line_of_another_period": line_of_another_period,
    "currency_not_a_code": currency_not_a_code,
    "broken_link_to_part_of_the_month": broken_link_to_part_of_the_month,
    "case_of_currency_codes": case_of_currency_codes,
    "implausible_cost": implausible_cost,
}
REFUSED = [name for name in BUILDERS if name not in {
    "negative_usage", "two_currencies", "charge_outside_billing_period", "empty_delivery", "header_only",
    "tricky_tags_cur1", "tricky_tags_focus", "tricky_tags_cur2", "gpu_log_of_nul_bytes",
    "predictions_with_duplicate_rows", "predictions_count_overflow", "case_of_currency_codes",
    "implausible_cost",
}]  # fmt: skip


def write_corpus(root: Path) -> dict[str, BadInput]:
    """Write every case under `root` (one subfolder each) and return them by name."""
    return {name: build(root) for name, build in BUILDERS.items()}
