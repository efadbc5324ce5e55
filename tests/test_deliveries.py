"""Which billing files are current, from local folders laid out as AWS delivers them (no network)."""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path

import pytest

from pipelines.billing.deliveries import Delivery, discover_deliveries, scan_manifests
from pipelines.errors import InputError

REALDATA = Path(__file__).resolve().parents[1].parent / "shared" / "realdata"
BUCKET = "billing-bucket"
PREFIX = "cur"  # the local folder `root` stands for s3://billing-bucket/cur/


def _write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def cur2_export(
    root: Path,
    export: str,
    period: str,
    files: dict[str, bytes],
    *,
    execution_id: str | None = "exec-1",
    subfolder: str | None = None,
    metadata_subfolder: bool = False,
    extra: dict | None = None,
) -> Path:
    """Write a CUR 2.0 Data Export period (data files and manifest) under `root`; return the manifest path."""
    data_dir = root / export / "data" / f"BILLING_PERIOD={period}"
    if subfolder:
        data_dir = data_dir / subfolder
    uris = []
    for name, content in files.items():
        path = _write(data_dir / name, content)
        uris.append(f"s3://{BUCKET}/{PREFIX}/{path.relative_to(root).as_posix()}")
    doc = {"exportName": export, "billingPeriod": {"start": f"{period}-01T00:00:00.000Z"}, "dataFiles": uris}
    if execution_id is not None:
        doc["executionId"] = execution_id
    doc.update(extra or {})
    meta_dir = root / export / "metadata" / f"BILLING_PERIOD={period}"
    if metadata_subfolder:
        meta_dir = meta_dir / subfolder
    return _write(meta_dir / f"{export}-Manifest.json", json.dumps(doc))


def legacy_report(
    root: Path,
    report: str,
    period: tuple[str, str],
    files: dict[str, bytes],
    *,
    assembly: str | None,
    copy_into_assembly: bool = True,
) -> Path:
    """Write a legacy CUR delivery (assembly folder, or none in overwrite mode); return the manifest path."""
    period_dir = root / report / f"{period[0]}-{period[1]}"
    data_dir = period_dir / assembly if assembly else period_dir
    keys = []
    for name, content in files.items():
        path = _write(data_dir / name, content)
        keys.append(f"{PREFIX}/{path.relative_to(root).as_posix()}")
    doc = {
        "assemblyId": assembly or "overwrite-assembly",
        "reportName": report,
        "bucket": BUCKET,
        "billingPeriod": {"start": f"{period[0]}T000000.000Z", "end": f"{period[1]}T000000.000Z"},
        "reportKeys": keys,
    }
    text = json.dumps(doc)
    if assembly and copy_into_assembly:
        # AWS also leaves a copy of the manifest in each assembly folder: it is not a second delivery.
        _write(data_dir / f"{report}-Manifest.json", text)
    return _write(period_dir / f"{report}-Manifest.json", text)


def discover(source, tmp_path: Path, **kwargs) -> list[Delivery]:
    return discover_deliveries(str(source), staging_dir=tmp_path / "staging", **kwargs)


def names(delivery: Delivery, root: Path) -> list[str]:
    return [p.relative_to(root.resolve()).as_posix() for p in delivery.files]


# --- CUR 2.0 -----------------------------------------------------------------------------------------------


def test_cur2_overwrite_mode_lists_the_manifest_files(tmp_path):
    root = tmp_path / "bucket"
    manifest = cur2_export(
        root,
        "ml-cur2",
        "2024-05",
        {"ml-cur2-00001.snappy.parquet": b"one", "ml-cur2-00002.snappy.parquet": b"two"},
    )
    [d] = discover(root, tmp_path)
    assert d.billing_period == date(2024, 5, 1)
    assert d.delivery_id == "exec-1"
    assert d.flavour == "cur2"
    assert names(d, root) == [
        "ml-cur2/data/BILLING_PERIOD=2024-05/ml-cur2-00001.snappy.parquet",
        "ml-cur2/data/BILLING_PERIOD=2024-05/ml-cur2-00002.snappy.parquet",
    ]
    assert [p.read_bytes() for p in d.files] == [b"one", b"two"]
    assert d.manifest == manifest.resolve()
    assert d.source == f"{root}/ml-cur2/metadata/BILLING_PERIOD=2024-05/ml-cur2-Manifest.json"
    assert len(d.fingerprint) == 64


def test_cur2_create_new_mode_ignores_stale_refresh_subfolders(tmp_path):
    root = tmp_path / "bucket"
    cur2_export(
        root,
        "exp",
        "2024-06",
        {"exp-00001.snappy.parquet": b"old"},
        execution_id="e1",
        subfolder="20240601T010000Z-e1",
    )
    cur2_export(
        root,
        "exp",
        "2024-06",
        {"exp-00001.snappy.parquet": b"new1", "exp-00002.snappy.parquet": b"new2"},
        execution_id="e2",
        subfolder="20240602T010000Z-e2",
    )
    [d] = discover(root, tmp_path)
    assert d.delivery_id == "e2"
    assert names(d, root) == [
        "exp/data/BILLING_PERIOD=2024-06/20240602T010000Z-e2/exp-00001.snappy.parquet",
        "exp/data/BILLING_PERIOD=2024-06/20240602T010000Z-e2/exp-00002.snappy.parquet",
    ]


def test_cur2_manifests_in_refresh_subfolders_latest_wins(tmp_path):
    root = tmp_path / "bucket"
    for i, stamp in enumerate(["20240601T010000Z", "20240603T010000Z", "20240602T010000Z"]):
        cur2_export(
            root,
            "exp",
            "2024-06",
            {"part.parquet": f"v{i}".encode()},
            execution_id=f"e{i}",
            subfolder=f"{stamp}-e{i}",
            metadata_subfolder=True,
        )
    [d] = discover(root, tmp_path)
    assert d.delivery_id == "e1"
    assert [p.read_bytes() for p in d.files] == [b"v1"]


def test_cur2_without_execution_id_uses_a_manifest_hash(tmp_path):
    root = tmp_path / "bucket"
    cur2_export(root, "exp", "2024-05", {"a.parquet": b"a"}, execution_id=None)
    [d] = discover(root, tmp_path)
    assert len(d.delivery_id) == 32 and d.delivery_id != "exec-1"


def test_focus_data_export_with_cur2_layout_leaves_flavour_to_the_data(tmp_path):
    root = tmp_path / "bucket"
    cur2_export(root, "focus", "2024-05", {"a.parquet": b"a"}, extra={"columns": [{"name": "BilledCost"}]})
    [d] = discover(root, tmp_path)
    assert d.flavour is None and d.billing_period == date(2024, 5, 1)


def test_two_exports_for_one_period_are_two_deliveries(tmp_path):
    root = tmp_path / "bucket"
    cur2_export(root, "exp-a", "2024-05", {"a.parquet": b"a"}, execution_id="ea")
    cur2_export(root, "exp-b", "2024-05", {"b.parquet": b"b"}, execution_id="eb")
    found = discover(root, tmp_path)
    assert [(d.billing_period, d.delivery_id) for d in found] == [
        (date(2024, 5, 1), "ea"),
        (date(2024, 5, 1), "eb"),
    ]
    scanned = scan_manifests(str(root))
    assert list(scanned) == [date(2024, 5, 1)]
    assert scanned[date(2024, 5, 1)] not in {d.fingerprint for d in found}


def test_several_periods_and_the_period_filter(tmp_path):
    root = tmp_path / "bucket"
    for month in ("2024-03", "2024-04", "2024-05"):
        cur2_export(root, "exp", month, {"p.parquet": month.encode()}, execution_id=f"e-{month}")
    found = discover(root, tmp_path)
    assert [d.billing_period for d in found] == [date(2024, 3, 1), date(2024, 4, 1), date(2024, 5, 1)]
    only = discover(root, tmp_path, billing_periods={date(2024, 4, 1)})
    assert [(d.billing_period, d.delivery_id) for d in only] == [(date(2024, 4, 1), "e-2024-04")]
    assert scan_manifests(str(root)) == {d.billing_period: d.fingerprint for d in found}


def test_source_pointing_at_the_export_folder_itself(tmp_path):
    root = tmp_path / "bucket"
    cur2_export(root, "exp", "2024-05", {"a.parquet": b"a"})
    [d] = discover(root / "exp", tmp_path)
    assert names(d, root) == ["exp/data/BILLING_PERIOD=2024-05/a.parquet"]


def test_a_manifest_file_as_the_source(tmp_path):
    root = tmp_path / "bucket"
    manifest = cur2_export(root, "exp", "2024-05", {"a.parquet": b"a"})
    cur2_export(root, "exp", "2024-06", {"b.parquet": b"b"})
    [d] = discover(manifest, tmp_path)
    assert d.billing_period == date(2024, 5, 1)
    assert names(d, root) == ["exp/data/BILLING_PERIOD=2024-05/a.parquet"]
    assert d.source == str(manifest)


# --- legacy CUR --------------------------------------------------------------------------------------------


def test_legacy_two_assemblies_keeps_the_current_one(tmp_path):
    root = tmp_path / "bucket"
    legacy_report(root, "hourly", ("20240501", "20240601"), {"hourly-1.csv.gz": b"old"}, assembly="asm-old")
    legacy_report(
        root,
        "hourly",
        ("20240501", "20240601"),
        {"hourly-1.csv.gz": b"n1", "hourly-2.csv.gz": b"n2"},
        assembly="asm-new",
    )
    [d] = discover(root, tmp_path)
    assert (d.billing_period, d.delivery_id, d.flavour) == (date(2024, 5, 1), "asm-new", "cur1")
    assert names(d, root) == [
        "hourly/20240501-20240601/asm-new/hourly-1.csv.gz",
        "hourly/20240501-20240601/asm-new/hourly-2.csv.gz",
    ]
    assert d.manifest == (root / "hourly/20240501-20240601/hourly-Manifest.json").resolve()


def test_legacy_overwrite_mode_without_assembly_folder(tmp_path):
    root = tmp_path / "bucket"
    legacy_report(root, "daily", ("20231201", "20240101"), {"daily-1.csv.gz": b"x"}, assembly=None)
    [d] = discover(root, tmp_path)
    assert d.billing_period == date(2023, 12, 1)
    assert names(d, root) == ["daily/20231201-20240101/daily-1.csv.gz"]


def test_legacy_athena_layout_outside_the_period_folder(tmp_path):
    root = tmp_path / "bucket"
    data = _write(root / "rep/rep/year=2024/month=5/rep-00001.snappy.parquet", b"p")
    doc = {
        "assemblyId": "a1",
        "billingPeriod": {"start": "20240501T000000.000Z"},
        "reportKeys": [f"{PREFIX}/rep/rep/year=2024/month=5/rep-00001.snappy.parquet"],
    }
    _write(root / "rep/20240501-20240601/rep-Manifest.json", json.dumps(doc))
    [d] = discover(root, tmp_path)
    assert d.files == (data.resolve(),)


def test_realdata_manifest_with_empty_report_keys_is_an_empty_delivery(tmp_path):
    src = REALDATA / "cur1-manifests" / "manifest-2019-12.json"
    if not src.exists():
        pytest.skip("../shared/realdata is absent (a user's clone has no shared folder)")
    root = tmp_path / "bucket"
    target = root / "ReportName" / "20191201-20200101" / "ReportName-Manifest.json"
    target.parent.mkdir(parents=True)
    shutil.copy(src, target)
    [d] = discover(root, tmp_path)
    assert d.billing_period == date(2019, 12, 1)
    assert d.delivery_id == "11111111-2222-3333-4444-555555555555"
    assert d.flavour == "cur1"
    assert d.files == ()
    assert d.manifest == target.resolve()


def test_realdata_manifest_with_report_keys_under_a_bucket_prefix(tmp_path):
    src = REALDATA / "cur1-manifests" / "manifestTest.json"
    if not src.exists():
        pytest.skip("../shared/realdata is absent (a user's clone has no shared folder)")
    # Its keys are hourly/hourly-cost-and-usage/20170801-20170901/<assembly>/...: the folder stands for s3://b/hourly/.
    root = tmp_path / "bucket"
    period = root / "hourly-cost-and-usage" / "20170801-20170901"
    period.mkdir(parents=True)
    shutil.copy(src, period / "hourly-cost-and-usage-Manifest.json")
    assembly = period / "abcdefgh-e98d-48d6-86b4-29967358fe6c"
    for n in ("01", "02"):
        _write(assembly / f"hourly-cost-and-usage-{n}.csv.gz", n)
    _write(period / "00000000-stale-assembly" / "hourly-cost-and-usage-01.csv.gz", b"stale")
    [d] = discover(root, tmp_path)
    assert (d.billing_period, d.delivery_id) == (date(2017, 8, 1), "abcdefgh-e98d-48d6-86b4-29967358fe6c")
    assert [p.read_bytes() for p in d.files] == [b"01", b"02"]
    # Without the data files, the manifest names files that are not there.
    for p in d.files:
        p.unlink()
    with pytest.raises(InputError) as err:
        discover(root, tmp_path)
    assert "hourly-cost-and-usage-Manifest.json" in str(err.value)
    assert "hourly-cost-and-usage-01.csv.gz" in str(err.value) and "missing" in str(err.value)


# --- files without a manifest -------------------------------------------------------------------------------


def test_files_without_a_manifest_are_deliveries_of_their_own(tmp_path):
    root = tmp_path / "focus"
    _write(root / "2024-05" / "focus-part1.csv", b"a,b\n")
    _write(root / "2024-05" / "focus-part2.parquet", b"PAR1")
    _write(root / "README.txt", b"not billing data")
    _write(root / ".hidden.csv", b"tool state")
    found = discover(root, tmp_path)
    assert [names(d, root) for d in found] == [["2024-05/focus-part1.csv"], ["2024-05/focus-part2.parquet"]]
    assert all(d.billing_period is None and d.flavour is None and d.manifest is None for d in found)
    assert found[0].source == f"{root}/2024-05/focus-part1.csv"
    assert len({d.delivery_id for d in found}) == 2


def test_plain_files_beside_an_export_are_kept_and_stale_export_files_are_not(tmp_path):
    root = tmp_path / "bucket"
    cur2_export(
        root, "exp", "2024-06", {"old.parquet": b"o"}, execution_id="e1", subfolder="20240601T000000Z-e1"
    )
    cur2_export(
        root, "exp", "2024-06", {"new.parquet": b"n"}, execution_id="e2", subfolder="20240602T000000Z-e2"
    )
    _write(root / "focus" / "focus.csv", b"x")
    found = discover(root, tmp_path)
    assert [(d.delivery_id if d.manifest else "plain", names(d, root)) for d in found] == [
        ("e2", ["exp/data/BILLING_PERIOD=2024-06/20240602T000000Z-e2/new.parquet"]),
        ("plain", ["focus/focus.csv"]),
    ]


def test_a_single_file_and_a_glob(tmp_path):
    one = _write(tmp_path / "exports" / "jan.csv", b"1")
    _write(tmp_path / "exports" / "feb.csv", b"22")
    _write(tmp_path / "exports" / "notes.md", b"no")
    [d] = discover(one, tmp_path)
    assert d.files == (one.resolve(),) and d.source == str(one)
    found = discover(tmp_path / "exports" / "*.csv", tmp_path)
    assert [p.name for d in found for p in d.files] == ["feb.csv", "jan.csv"]
    assert [d.delivery_id for d in found if d.files[0].name == "jan.csv"] == [d.delivery_id]


def test_a_glob_over_an_export_counts_the_month_once(tmp_path):
    root = tmp_path / "bucket"
    cur2_export(
        root, "exp", "2024-06", {"old.parquet": b"o"}, execution_id="e1", subfolder="20240601T000000Z-e1"
    )
    cur2_export(
        root, "exp", "2024-06", {"new.parquet": b"n"}, execution_id="e2", subfolder="20240602T000000Z-e2"
    )
    found = discover(f"{root}/**/*", tmp_path)
    assert [(d.delivery_id, [p.name for p in d.files]) for d in found] == [("e2", ["new.parquet"])]


def test_missing_source_and_empty_glob(tmp_path):
    with pytest.raises(InputError, match="no such file or folder"):
        discover(tmp_path / "nope", tmp_path)
    with pytest.raises(InputError, match="no file matches"):
        discover(tmp_path / "*.parquet", tmp_path)


def test_an_empty_folder_has_no_deliveries(tmp_path):
    (tmp_path / "empty").mkdir()
    assert discover(tmp_path / "empty", tmp_path) == []


# --- refusing bad manifests ---------------------------------------------------------------------------------


def _manifest_with(root: Path, data_files: list[str], **extra) -> Path:
    _write(root / "exp/data/BILLING_PERIOD=2024-05/a.parquet", b"a")
    doc = {"executionId": "e", "billingPeriod": {"start": "2024-05-01"}, "dataFiles": data_files, **extra}
    return _write(root / "exp/metadata/BILLING_PERIOD=2024-05/exp-Manifest.json", json.dumps(doc))


GOOD = f"s3://{BUCKET}/{PREFIX}/exp/data/BILLING_PERIOD=2024-05/a.parquet"


@pytest.mark.parametrize(
    ("entry", "extra", "problem"),
    [
        (f"s3://{BUCKET}/{PREFIX}/exp/data/../../../../etc/passwd", {}, "'..'"),
        (f"s3://{BUCKET}/{PREFIX}/exp/data/BILLING_PERIOD=2024-05/../a.parquet", {}, "'..'"),
        (
            "s3://other-bucket/cur/exp/data/BILLING_PERIOD=2024-05/a.parquet",
            {"bucket": BUCKET},
            "other-bucket",
        ),
        ("/etc/passwd", {}, "absolute path"),
        ("s3:///exp/data/a.parquet", {}, "names no bucket"),
        ("file:///etc/passwd", {}, "neither an s3:// URI"),
        (f"s3://{BUCKET}/{PREFIX}/other-export/data/x.parquet", {}, "outside the export folder"),
    ],
)
def test_hostile_keys_are_refused(tmp_path, entry, extra, problem):
    root = tmp_path / "bucket"
    manifest = _manifest_with(root, [GOOD, entry], **extra)
    with pytest.raises(InputError) as err:
        discover(root, tmp_path)
    assert err.value.path == str(manifest)
    assert str(err.value).startswith(f"{manifest}: ")
    assert entry in err.value.problem and problem in err.value.problem and "refused" in err.value.problem
    with pytest.raises(InputError):
        scan_manifests(str(root))


def test_other_bucket_refused_without_a_bucket_field(tmp_path):
    root = tmp_path / "bucket"
    _manifest_with(root, [GOOD, "s3://other-bucket/cur/exp/data/BILLING_PERIOD=2024-05/a.parquet"])
    with pytest.raises(InputError, match="other-bucket.*not the export's 'billing-bucket'"):
        discover(root, tmp_path)


def test_keys_under_different_prefixes_are_refused(tmp_path):
    root = tmp_path / "bucket"
    _manifest_with(root, [GOOD, f"s3://{BUCKET}/elsewhere/exp/data/BILLING_PERIOD=2024-05/a.parquet"])
    with pytest.raises(InputError, match="under prefix 'elsewhere'"):
        discover(root, tmp_path)


def test_missing_data_file_names_manifest_and_key(tmp_path):
    root = tmp_path / "bucket"
    gone = f"s3://{BUCKET}/{PREFIX}/exp/data/BILLING_PERIOD=2024-05/gone.parquet"
    manifest = _manifest_with(root, [GOOD, gone])
    with pytest.raises(InputError) as err:
        discover(root, tmp_path)
    assert err.value.path == f"{root}/exp/metadata/BILLING_PERIOD=2024-05/exp-Manifest.json" == str(manifest)
    assert gone in err.value.problem and "missing" in err.value.problem


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b'{"dataFiles": [', "not valid JSON"),
        (b"\xff\xfe\x00", "not UTF-8"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"executionId": "e"}', "'dataFiles' is missing"),
        (b'{"dataFiles": "a.parquet"}', "'dataFiles' must be a list of strings"),
        (b'{"dataFiles": [], "billingPeriod": "soon"}', "'billingPeriod' has an unreadable value"),
        (
            b'{"dataFiles": [], "billingPeriod": {"start": "2024-06-01"}}',
            "says 2024-06 but the manifest is in folder",
        ),
    ],
)
def test_bad_cur2_manifests(tmp_path, content, expected):
    root = tmp_path / "bucket"
    manifest = _write(root / "exp/metadata/BILLING_PERIOD=2024-05/exp-Manifest.json", content)
    with pytest.raises(InputError) as err:
        discover(root, tmp_path)
    assert err.value.path == str(manifest)
    assert expected in err.value.problem


def test_bad_json_names_the_line(tmp_path):
    root = tmp_path / "bucket"
    _write(root / "exp/metadata/BILLING_PERIOD=2024-05/exp-Manifest.json", '{\n  "dataFiles": [\n  oops\n]}')
    with pytest.raises(InputError) as err:
        discover(root, tmp_path)
    assert err.value.line == 3


def test_legacy_manifest_without_report_keys(tmp_path):
    root = tmp_path / "bucket"
    _write(root / "rep/20240501-20240601/rep-Manifest.json", '{"assemblyId": "a"}')
    with pytest.raises(InputError, match="'reportKeys' is missing"):
        discover(root, tmp_path)


# --- fingerprints -------------------------------------------------------------------------------------------


def test_fingerprint_changes_when_content_changes_and_not_otherwise(tmp_path):
    root = tmp_path / "bucket"
    cur2_export(
        root, "exp", "2024-06", {"a.parquet": b"aaaa"}, execution_id="e2", subfolder="20240602T000000Z-e2"
    )
    cur2_export(
        root, "exp", "2024-06", {"a.parquet": b"stale"}, execution_id="e1", subfolder="20240601T000000Z-e1"
    )
    manifest = root / "exp/metadata/BILLING_PERIOD=2024-06/exp-Manifest.json"
    current = root / "exp/data/BILLING_PERIOD=2024-06/20240602T000000Z-e2/a.parquet"
    stale = root / "exp/data/BILLING_PERIOD=2024-06/20240601T000000Z-e1/a.parquet"
    # The second cur2_export overwrote the manifest with e1's; put e2's back (the latest refresh).
    doc = json.loads(manifest.read_text())
    doc.update(executionId="e2", dataFiles=[f"s3://{BUCKET}/{PREFIX}/{current.relative_to(root).as_posix()}"])
    manifest.write_text(json.dumps(doc))

    def fp() -> str:
        [d] = discover(root, tmp_path)
        return d.fingerprint

    first = fp()
    assert fp() == first  # nothing changed
    os.utime(stale, ns=(1, 1))
    stale.write_bytes(b"stale, rewritten")
    assert fp() == first  # only a stale refresh changed
    current.write_bytes(b"bbbbbbbb")
    second = fp()
    assert second != first  # a current file changed size
    st = current.stat()
    os.utime(current, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    third = fp()
    assert third not in (first, second)  # rewritten in place, same size
    manifest.write_text(manifest.read_text() + "\n")
    assert fp() not in (first, second, third)  # the manifest itself changed


def test_skip_fingerprints_leaves_known_deliveries_out(tmp_path):
    root = tmp_path / "bucket"
    cur2_export(root, "exp", "2024-05", {"a.parquet": b"a"}, execution_id="e5")
    cur2_export(root, "exp", "2024-06", {"a.parquet": b"a"}, execution_id="e6")
    _write(root / "focus.csv", b"f")
    found = discover(root, tmp_path)
    assert [d.delivery_id for d in found if d.manifest] == ["e5", "e6"]
    known = {d.fingerprint for d in found if d.delivery_id == "e5" or d.manifest is None}
    assert [d.delivery_id for d in discover(root, tmp_path, skip_fingerprints=known)] == ["e6"]
    assert discover(root, tmp_path, skip_fingerprints={d.fingerprint for d in found}) == []


def test_plain_file_fingerprint_follows_size_and_mtime(tmp_path):
    path = _write(tmp_path / "f" / "bill.csv", b"abc")
    [before] = discover(tmp_path / "f", tmp_path)
    [same] = discover(tmp_path / "f", tmp_path)
    path.write_bytes(b"abcd")
    [after] = discover(tmp_path / "f", tmp_path)
    assert before.fingerprint == same.fingerprint != after.fingerprint
    assert before.delivery_id == same.delivery_id != after.delivery_id


def test_scan_manifests_matches_discovery(tmp_path):
    root = tmp_path / "bucket"
    cur2_export(root, "exp", "2024-05", {"a.parquet": b"a"})
    legacy_report(root, "rep", ("20240401", "20240501"), {"r-1.csv.gz": b"r"}, assembly="asm")
    _write(root / "loose.csv", b"no period known")
    found = discover(root, tmp_path)
    assert scan_manifests(str(root)) == {d.billing_period: d.fingerprint for d in found if d.manifest}
    assert set(scan_manifests(str(root))) == {date(2024, 4, 1), date(2024, 5, 1)}
