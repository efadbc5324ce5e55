"""Which billing files are current: read export manifests in a folder or an S3 prefix, keep what they name.

AWS re-delivers a whole month at every refresh and leaves older refreshes in place (create-new mode, legacy
assembly folders), so the manifest of each billing period is the only authority on which files count. Files
that no manifest governs (a FOCUS export, a single file, a glob) are deliveries of their own. Manifest keys
are untrusted input: a key that leaves the export folder, the prefix or the bucket is refused, never followed.
"""

from __future__ import annotations

import glob
import hashlib
import json
import logging
import os
import re
import stat
from collections.abc import Container, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pipelines.billing import s3 as s3io
from pipelines.errors import InputError

log = logging.getLogger(__name__)

DATA_SUFFIXES = (".parquet", ".csv", ".gz", ".zip", ".zst")
_GLOB_CHARS = re.compile(r"[*?\[]")
_CUR2_PERIOD = re.compile(r"^BILLING_PERIOD=(\d{4})-(\d{2})$")
_LEGACY_PERIOD = re.compile(r"^(\d{4})(\d{2})(\d{2})-(\d{4})(\d{2})(\d{2})$")
_PERIOD_VALUE = re.compile(r"^(\d{4})-?(\d{2})")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
# A delivery time as AWS writes it: 20240602T010000Z (create-new folder names) or ISO 8601 (manifest fields).
_TIMESTAMP = re.compile(
    r"^(\d{4})-?(\d{2})-?(\d{2})T(\d{2}):?(\d{2}):?(\d{2})(?:\.(\d{1,9}))?(Z|[+-]00:?00)?(?=$|-)"
)
_DOWNLOAD_THREADS = 4


@dataclass(frozen=True)
class Delivery:
    """The current files of one export refresh for one billing period (or one manifest-less file)."""

    billing_period: date | None
    delivery_id: str
    fingerprint: str
    flavour: str | None
    files: tuple[Path, ...]
    manifest: Path | None
    source: str
    # When AWS delivered it (manifest deliveryTimestamp, else the create-new folder's time); None: unknown.
    delivered_at: datetime | None = None


def discover_deliveries(
    source: str,
    *,
    staging_dir: Path,
    endpoint_url: str | None = None,
    skip_fingerprints: Container[str] = (),
    billing_periods: Container[date] | None = None,
) -> list[Delivery]:
    """The current deliveries of `source` (file, glob, folder or s3://bucket/prefix), S3 files staged locally.

    Deliveries whose fingerprint is in `skip_fingerprints` are left out without downloading anything;
    `billing_periods` keeps only those periods (manifest-less files, whose period is unknown, are always
    kept).
    """
    found: list[Delivery] = []
    for store, selected in _stores(source, endpoint_url=endpoint_url, staging_dir=Path(staging_dir)):
        found += _deliveries(
            store, selected, skip_fingerprints=skip_fingerprints, billing_periods=billing_periods
        )
    return sorted(found, key=lambda d: (d.billing_period is None, d.billing_period or date.min, d.source))


def scan_manifests(source: str, *, endpoint_url: str | None = None) -> dict[date, str]:
    """Billing period -> fingerprint of its current manifest deliveries, reading manifests and listings only.

    A period with one delivery maps to that delivery's fingerprint; with several (two exports), to a hash of
    theirs. Manifest-less files have no known period and are not included.
    """
    by_period: dict[date, list[str]] = {}
    for store, selected in _stores(source, endpoint_url=endpoint_url, staging_dir=None):
        for found in _manifest_deliveries(store, selected):
            by_period.setdefault(found.period, []).append(found.fingerprint)
    return {
        period: fps[0] if len(fps) == 1 else _hash("periods", *sorted(fps))
        for period, fps in by_period.items()
    }


# --- manifests ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ManifestRef:
    """Where a manifest sits: the export (CUR 2.0) or report (legacy) folder it governs, and its period."""

    rel: str
    flavour: str  # "cur2" | "cur1"
    governed: tuple[str, ...]  # the export/report folder, as path parts relative to the store root
    period_folder: str
    subfolder: str | None  # create-new CUR 2.0: the <timestamp>-<executionId> folder the manifest is in


@dataclass(frozen=True)
class _Parsed:
    period: date
    delivery_id: str
    flavour: str | None
    entries: list[tuple[str, str | None, str]]  # (as written, bucket or None, bucket-relative key)
    bucket: str | None  # the manifest's own `bucket` field, when it has one
    delivered_at: datetime | None = None


@dataclass(frozen=True)
class _Found:
    ref: _ManifestRef
    parsed: _Parsed
    data: bytes
    rels: list[str]
    period: date
    fingerprint: str


def _is_manifest_name(name: str) -> bool:
    return name.lower().endswith("manifest.json")


def _classify(parts: tuple[str, ...]) -> _ManifestRef | None:
    """Recognize a manifest by its place in the delivery layout; copies inside assembly folders are not."""
    if not parts or not _is_manifest_name(parts[-1]):
        return None
    rel = "/".join(parts)
    if len(parts) >= 3 and parts[-3] == "metadata" and _CUR2_PERIOD.match(parts[-2]):
        return _ManifestRef(rel, "cur2", parts[:-3], parts[-2], None)
    if len(parts) >= 4 and parts[-4] == "metadata" and _CUR2_PERIOD.match(parts[-3]):
        return _ManifestRef(rel, "cur2", parts[:-4], parts[-3], parts[-2])
    if len(parts) >= 2 and _LEGACY_PERIOD.match(parts[-2]):
        return _ManifestRef(rel, "cur1", parts[:-2], parts[-2], None)
    return None


def _current(refs: Iterable[_ManifestRef]) -> list[_ManifestRef]:
    """One manifest per export and period: the one in the period folder, else the latest create-new one."""
    groups: dict[tuple, list[_ManifestRef]] = {}
    for ref in refs:
        groups.setdefault((ref.flavour, ref.governed, ref.period_folder), []).append(ref)
    chosen = []
    for group in groups.values():
        top = [r for r in group if r.subfolder is None]
        # Subfolders are named <ISO timestamp>-<executionId>, so the greatest name is the latest refresh.
        chosen.append(
            min(top, key=lambda r: r.rel) if top else max(group, key=lambda r: (r.subfolder, r.rel))
        )
    return sorted(chosen, key=lambda r: r.rel)


def _period_from_folder(ref: _ManifestRef) -> date:
    m = _CUR2_PERIOD.match(ref.period_folder) or _LEGACY_PERIOD.match(ref.period_folder)
    assert m is not None  # _classify only accepts these folder names
    return date(int(m.group(1)), int(m.group(2)), 1)


def _period_from_value(value: object) -> date | None:
    if isinstance(value, dict):
        value = value.get("start")
    if not isinstance(value, str):
        return None
    m = _PERIOD_VALUE.match(value.strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        return None
    return date(int(m.group(1)), int(m.group(2)), 1)


def _parse_entry(raw: str, where: str) -> tuple[str, str | None, str]:
    if raw.startswith("s3://"):
        bucket, _, key = raw[len("s3://") :].partition("/")
        if not bucket:
            raise InputError(where, f"data file {raw!r} names no bucket; refused")
        return raw, bucket, key
    if _SCHEME.match(raw):
        raise InputError(where, f"data file {raw!r} is neither an s3:// URI nor a key in the bucket; refused")
    return raw, None, raw


def _parse_manifest(data: bytes, where: str, ref: _ManifestRef) -> _Parsed:
    """Read the fields that say which files are current; raise InputError naming what is wrong."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(where, "the manifest is not UTF-8 text") from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            where, f"the manifest is not valid JSON: {exc.msg} (column {exc.colno})", line=exc.lineno
        ) from None
    if not isinstance(doc, dict):
        raise InputError(where, "the manifest is not a JSON object")
    field = "dataFiles" if ref.flavour == "cur2" else "reportKeys"
    if field not in doc:
        raise InputError(where, f"required field {field!r} is missing from the manifest")
    raw_entries = doc[field]
    if not isinstance(raw_entries, list) or not all(isinstance(e, str) for e in raw_entries):
        raise InputError(where, f"field {field!r} must be a list of strings")

    folder_period = _period_from_folder(ref)
    period = folder_period
    if "billingPeriod" in doc:
        stated = _period_from_value(doc["billingPeriod"])
        if stated is None:
            raise InputError(where, f"field 'billingPeriod' has an unreadable value {doc['billingPeriod']!r}")
        if stated != folder_period:
            raise InputError(
                where,
                f"field 'billingPeriod' says {stated:%Y-%m} but the manifest is in folder "
                f"{ref.period_folder}",
            )

    id_field = "executionId" if ref.flavour == "cur2" else "assemblyId"
    delivery_id = doc.get(id_field)
    if not isinstance(delivery_id, str) or not delivery_id.strip():
        delivery_id = hashlib.sha256(data).hexdigest()[:32]

    flavour: str | None = ref.flavour
    if ref.flavour == "cur2" and _looks_like_focus(doc):
        flavour = None  # a FOCUS Data Export has the CUR 2.0 layout; the ingestion tells it by its columns

    entries, seen = [], set()
    for raw in raw_entries:
        if raw not in seen:  # the same file named twice is still one file, not twice its cost
            seen.add(raw)
            entries.append(_parse_entry(raw, where))
    bucket = doc.get("bucket") if isinstance(doc.get("bucket"), str) and doc.get("bucket") else None
    delivered_at = _delivery_time(doc, ref, entries, where)
    return _Parsed(period, delivery_id.strip(), flavour, entries, bucket, delivered_at)


def parse_timestamp(text: str) -> datetime | None:
    """A UTC time from `20240602T010000Z` or ISO 8601 text (a suffix after `-` is ignored), or None."""
    m = _TIMESTAMP.match(text.strip())
    if not m:
        return None
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError:
        return None


def _iso_timestamp(text: str) -> datetime | None:
    try:
        stamp = datetime.fromisoformat(text.strip())
    except ValueError:
        return parse_timestamp(text)
    # A time without a zone in an AWS manifest is UTC, like every time AWS writes.
    return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def _delivery_time(doc: dict, ref: _ManifestRef, entries: list, where: str) -> datetime | None:
    """When this refresh was delivered, from what the export itself says; None when it says nothing.

    The manifest's `deliveryTimestamp` first; else the `<timestamp>-<executionId>` folder of a create-new
    refresh (the manifest's own folder, or the one all its data files share). File times are never used: a
    copy or a sync rewrites them, and an older delivery copied later would then look newer.
    """
    if "deliveryTimestamp" in doc:
        value = doc["deliveryTimestamp"]
        stamp = _iso_timestamp(value) if isinstance(value, str) else None
        if stamp is None:
            raise InputError(where, f"field 'deliveryTimestamp' has an unreadable value {value!r}")
        return stamp
    if ref.subfolder is not None and (stamp := parse_timestamp(ref.subfolder)) is not None:
        return stamp
    folders = set()
    for _, _, key in entries:
        parts = key.split("/")
        folders.add(next((p for p in parts[:-1] if parse_timestamp(p) is not None), None))
    if len(folders) == 1 and (folder := next(iter(folders))) is not None:
        return parse_timestamp(folder)
    return None


def _looks_like_focus(doc: dict) -> bool:
    columns = doc.get("columns")
    if not isinstance(columns, list):
        return False
    names = {str(c.get("name", "")).lower() for c in columns if isinstance(c, dict)}
    return "billedcost" in names or "billed_cost" in names


def _key_problem(key: str) -> str | None:
    if not key:
        return "is an empty key"
    if key.startswith("/"):
        return "is an absolute path"
    if "\\" in key or "\x00" in key:
        return "contains a backslash or NUL character"
    segments = key.split("/")
    if ".." in segments or "." in segments:
        return "climbs out of its folder with '..'" if ".." in segments else "contains a '.' path segment"
    if "" in segments:
        return "has an empty path segment"
    return None


# --- stores: a local folder or an S3 prefix ----------------------------------------------------------------


@dataclass(frozen=True)
class _Obj:
    size: int
    # S3: the ETag. Local: the modification time in ns; a content hash would read every byte at every scan.
    token: str


def _stat(path: Path) -> _Obj:
    st = path.stat()
    return _Obj(st.st_size, str(st.st_mtime_ns))


def _unreadable_folder(error: OSError) -> None:
    raise InputError(
        error.filename,
        f"cannot read this folder of the billing source ({error.strerror}); it may hold part of the bill, so "
        "nothing is loaded: make it readable or move it out of the source",
    )


def _readable(path: Path) -> _Obj:
    """The size and time of a file of a local source, or InputError if it could hold billing data unread.

    A broken symbolic link (its target gone, a file or a folder: no way to tell) is refused by name, and so is
    a billing-named entry (data or manifest) that is not a regular file (a FIFO would block the reader forever)
    or that the process may not read; other names are never read. `os.access` asks with the process's real user, so this last case never fires for
    root, which reads every file anyway.
    """
    try:
        st = path.stat()
    except OSError as exc:
        target = os.readlink(path) if path.is_symlink() else None
        what = f"a broken symbolic link to {target}" if target is not None else f"unreadable ({exc.strerror})"
        raise InputError(
            path, f"is {what}; it may hold part of the bill, so nothing is loaded: fix it or remove it"
        ) from None
    billing_name = _is_data_name(path.name) or _is_manifest_name(path.name)
    if billing_name and not stat.S_ISREG(st.st_mode):
        raise InputError(
            path,
            "is not a regular file (a FIFO, socket or device) inside the billing source; nothing is loaded: "
            "remove it",
        )
    if billing_name and not os.access(path, os.R_OK):
        raise InputError(
            path,
            "cannot be read (permission denied); it may hold part of the bill, so nothing is loaded: make it "
            "readable or move it out of the source",
        )
    return _Obj(st.st_size, str(st.st_mtime_ns))


class _LocalStore:
    """A local folder standing for a bucket prefix; files are used where they are."""

    def __init__(self, root: Path, label: str, listed: dict[str, _Obj] | None = None):
        self.root = root.resolve()
        self.label = label.rstrip("/") or label
        self.file_labels: dict[str, str] = {}  # rel -> the path as the user wrote it (single files, globs)
        self._objects: dict[str, _Obj] | None = listed

    def objects(self) -> dict[str, _Obj]:
        if self._objects is None:
            found: dict[str, _Obj] = {}
            # os.walk skips a folder it cannot list unless told: that folder may hold part of the month, and
            # publishing the rest would understate the bill in silence, so the whole source is refused.
            # Linked folders are followed (a month split over a mounted share is still the month), each real
            # folder once, so that a link back up the tree does not loop.
            seen = {os.path.realpath(self.root)}
            for dirpath, dirnames, filenames in os.walk(
                self.root, onerror=_unreadable_folder, followlinks=True
            ):
                base = Path(dirpath)
                # Hidden entries are tools' state (staging sidecars, .part files), never billing data.
                kept = []
                for d in sorted(d for d in dirnames if not d.startswith(".")):
                    real = os.path.realpath(base / d)
                    if real not in seen:
                        seen.add(real)
                        kept.append(d)
                dirnames[:] = kept
                for name in filenames:
                    if name.startswith("."):
                        continue
                    path = base / name
                    found[path.relative_to(self.root).as_posix()] = _readable(path)
            self._objects = found
        return self._objects

    def identity(self, rel: str) -> str:
        return (self.root / rel).as_posix()

    def where(self, rel: str) -> str:
        if rel in self.file_labels:
            return self.file_labels[rel]
        return f"{self.label}/{rel}" if rel else self.label

    def read(self, rel: str) -> bytes:
        try:
            return (self.root / rel).read_bytes()
        except OSError as exc:
            raise InputError(self.where(rel), f"cannot read the manifest ({exc.strerror})") from None

    def absorb(self, other: _LocalStore) -> None:
        self.file_labels.update(other.file_labels)
        # Stores of single files know just their own file; a merged store needs all of them.
        if self._objects is not None and other._objects is not None:
            self._objects.update(other._objects)
        else:
            self._objects = None

    def governed_name(self, governed: tuple[str, ...]) -> str:
        return self.root.joinpath(*governed).name

    def resolve(self, found_ref: _ManifestRef, parsed: _Parsed, where: str) -> list[str]:
        """Map manifest keys to files in the export folder; the local folder stands for the bucket prefix."""
        name = self.governed_name(found_ref.governed)
        anchor = "data" if found_ref.flavour == "cur2" else found_ref.period_folder
        objects = self.objects()
        bucket = parsed.bucket
        prefix_seen: list[str] | None = None
        rels = []
        for raw, entry_bucket, key in parsed.entries:
            problem = _key_problem(key)
            if problem:
                raise InputError(where, f"data file {raw!r} {problem}; refused")
            if entry_bucket is not None:
                if bucket is None:
                    bucket = entry_bucket
                elif entry_bucket != bucket:
                    raise InputError(
                        where,
                        f"data file {raw!r} is in bucket {entry_bucket!r}, not the export's {bucket!r}; "
                        "refused",
                    )
            parts = key.split("/")
            starts = [i for i in range(len(parts) - 1) if parts[i] == name]

            def rel_at(i: int, parts=parts) -> str:
                return "/".join((*found_ref.governed, *parts[i + 1 :]))

            # The key is <bucket prefix>/<export>/<path>: the export folder's name tells where <path> starts.
            pick = next((i for i in starts if parts[i + 1] == anchor), None)
            if pick is None:
                pick = next((i for i in starts if rel_at(i) in objects), None)
            if pick is None:
                raise InputError(where, f"data file {raw!r} lies outside the export folder {name!r}; refused")
            if prefix_seen is None:
                prefix_seen = parts[:pick]
            elif parts[:pick] != prefix_seen:
                raise InputError(
                    where,
                    f"data file {raw!r} lies under prefix {'/'.join(parts[:pick])!r}, not the export's "
                    f"{'/'.join(prefix_seen)!r}; refused",
                )
            rels.append(rel_at(pick))
        return rels

    def materialize(self, rels: list[str], manifest_rel: str | None, manifest_data: bytes | None):
        files = tuple(self.root / rel for rel in rels)
        return files, (self.root / manifest_rel if manifest_rel is not None else None)


class _S3Store:
    """An S3 prefix; data files are staged in ``staging_dir/<bucket>/<key>`` when a delivery is returned."""

    def __init__(self, client, bucket: str, prefix: str, staging_dir: Path | None, listed=None):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.staging_dir = staging_dir
        self.label = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self._objects: dict[str, s3io.S3Object] | None = None
        self._simple: dict[str, _Obj] | None = None
        if listed is not None:
            self._objects = {self._rel(o.key): o for o in listed}

    def absorb(self, other: _S3Store) -> None:
        # Stores of single objects carry just their own listing entry; a merged store needs all of them.
        if self._objects is not None and other._objects is not None:
            self._objects.update(other._objects)
            self._simple = None
        else:
            self._objects = self._simple = None

    def _rel(self, key: str) -> str:
        return key[len(self.prefix) + 1 :] if self.prefix else key

    def key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def listing(self) -> dict[str, s3io.S3Object]:
        if self._objects is None:
            start = f"{self.prefix}/" if self.prefix else ""
            self._objects = {self._rel(o.key): o for o in s3io.list_objects(self.client, self.bucket, start)}
        return self._objects

    def objects(self) -> dict[str, _Obj]:
        if self._simple is None:
            self._simple = {rel: _Obj(o.size, o.etag) for rel, o in self.listing().items()}
        return self._simple

    def where(self, rel: str) -> str:
        return f"s3://{self.bucket}/{self.key(rel)}"

    identity = where

    def read(self, rel: str) -> bytes:
        return s3io.read_small_object(self.client, self.bucket, self.key(rel))

    def resolve(self, ref: _ManifestRef, parsed: _Parsed, where: str) -> list[str]:
        """Keys are used as they are; they must stay in the source bucket, prefix and export folder."""
        governed = "/".join(ref.governed)
        rels = []
        for raw, entry_bucket, key in parsed.entries:
            problem = _key_problem(key)
            if problem:
                raise InputError(where, f"data file {raw!r} {problem}; refused")
            if entry_bucket is not None and entry_bucket != self.bucket:
                raise InputError(
                    where,
                    f"data file {raw!r} is in bucket {entry_bucket!r}, outside the source {self.label}; "
                    "refused",
                )
            if self.prefix and not key.startswith(self.prefix + "/"):
                raise InputError(
                    where, f"data file {raw!r} lies outside the configured prefix {self.label}/; refused"
                )
            rel = self._rel(key)
            if governed and not rel.startswith(governed + "/"):
                raise InputError(
                    where,
                    f"data file {raw!r} lies outside the export folder {self.where(governed)}/; refused",
                )
            rels.append(rel)
        return rels

    def materialize(self, rels: list[str], manifest_rel: str | None, manifest_data: bytes | None):
        staging_dir = self.staging_dir
        assert staging_dir is not None
        listing = self.listing()
        objs = [listing[rel] for rel in rels]
        with ThreadPoolExecutor(max_workers=max(1, min(_DOWNLOAD_THREADS, len(objs)))) as pool:
            results = list(
                pool.map(lambda o: s3io.stage_object(self.client, self.bucket, o, staging_dir), objs)
            )
        downloaded = sum(1 for _, fresh in results if fresh)
        log.info(
            "staged %d file(s) from %s (%d downloaded, %d reused)",
            len(results),
            self.label,
            downloaded,
            len(results) - downloaded,
        )
        manifest_path = None
        if manifest_rel is not None and manifest_data is not None:
            manifest_path = s3io.staged_path(staging_dir, self.bucket, self.key(manifest_rel))
            s3io.write_atomically(manifest_path, manifest_data)
        return tuple(path for path, _ in results), manifest_path


# --- sources -> stores --------------------------------------------------------------------------------------


def _stores(
    source: str, *, endpoint_url: str | None, staging_dir: Path | None
) -> list[tuple[object, set | None]]:
    """The stores to read for `source`, each with the keys selected in it (None: everything in the folder)."""
    source = str(source).strip()
    if not source:
        raise InputError("(billing source)", "is empty; give a file, a folder, a glob or s3://bucket/prefix")
    if source.startswith("s3://"):
        return _s3_stores(source, endpoint_url=endpoint_url, staging_dir=staging_dir)
    path = Path(source).expanduser()
    if path.is_dir():
        return [(_LocalStore(path, source), None)]
    if path.is_file():
        return [_local_single(path, source)]
    if _GLOB_CHARS.search(source):
        matches = sorted(Path(m) for m in glob.glob(str(path), recursive=True) if Path(m).is_file())
        if not matches:
            raise InputError(source, "no file matches this pattern")
        picked = _pick_matches([(m, m.resolve().parts) for m in matches], source)
        return _merge([_local_single(m, str(m)) for m in picked])
    raise InputError(source, "no such file or folder")


def _pick_matches(matches: list, source: str) -> list:
    """The matches of a glob worth reading: manifests, and data files that no matched manifest governs.

    A glob over a whole export would otherwise count the month twice: once through its manifest and once
    through the data files themselves (stale refreshes included).
    """
    governed = set()
    for _, parts in matches:
        ref = _classify(tuple(parts))
        if ref is not None:
            governed.add(ref.governed)
    picked, ignored = [], 0
    for item, parts in matches:
        parts = tuple(parts)
        is_manifest = _classify(parts) is not None
        in_export = any(parts[: len(g)] == g for g in governed)
        if is_manifest or (_is_data_name(parts[-1]) and not in_export):
            picked.append(item)
        else:
            ignored += 1
    if ignored:
        log.info(
            "%s: %d matching file(s) are not billing data or belong to a matched export, ignored",
            source,
            ignored,
        )
    return picked


def _local_single(path: Path, label: str) -> tuple[_LocalStore, set[str]]:
    resolved = path.resolve()
    if _is_manifest_name(path.name):
        ref = _classify(resolved.parts)
        if ref is None:
            raise InputError(
                label,
                "a manifest must sit in <export>/metadata/BILLING_PERIOD=YYYY-MM/ (CUR 2.0) or "
                "<report>/YYYYMMDD-YYYYMMDD/ (legacy CUR) so that its data files can be found",
            )
        root = Path(*ref.governed)
        store = _LocalStore(root, str(root))
    else:
        # Only this file: listing its whole folder (perhaps a home directory) would be wasted work.
        store = _LocalStore(resolved.parent, str(resolved.parent), {resolved.name: _stat(resolved)})
    rel = resolved.relative_to(store.root).as_posix()
    store.file_labels[rel] = label
    return store, {rel}


def _merge(singles: list[tuple[Any, set[str]]]) -> list[tuple[Any, set[str] | None]]:
    """One store per root, so that a glob over many files lists each folder once."""
    by_root: dict[str, tuple[Any, set[str]]] = {}
    for store, selected in singles:
        if store.label in by_root:
            kept, kept_selected = by_root[store.label]
            kept.absorb(store)
            kept_selected.update(selected)
        else:
            by_root[store.label] = (store, set(selected))
    return list(by_root.values())


def _s3_stores(source: str, *, endpoint_url: str | None, staging_dir: Path | None):
    bucket, prefix = s3io.parse_s3_uri(source)
    client = s3io.make_client(endpoint_url)
    if glob_at := _GLOB_CHARS.search(prefix):
        base = prefix[: glob_at.start()].rpartition("/")[0]
        listed = list(s3io.list_objects(client, bucket, f"{base}/" if base else ""))
        matches = [o for o in listed if fnmatchcase(o.key, prefix)]
        if not matches:
            raise InputError(source, "no object matches this pattern")
        picked = _pick_matches([(o, o.key.split("/")) for o in matches], source)
        return _merge([_s3_single(client, bucket, o, staging_dir) for o in picked])
    prefix = prefix.strip("/")
    listed = [
        o
        for o in s3io.list_objects(client, bucket, prefix)
        if not prefix or o.key == prefix or o.key.startswith(prefix + "/")
    ]
    if len(listed) == 1 and listed[0].key == prefix:
        return [_s3_single(client, bucket, listed[0], staging_dir)]
    return [(_S3Store(client, bucket, prefix, staging_dir, [o for o in listed if o.key != prefix]), None)]


def _s3_single(client, bucket: str, obj: s3io.S3Object, staging_dir: Path | None):
    parts = tuple(obj.key.split("/"))
    if _is_manifest_name(parts[-1]):
        ref = _classify(parts)
        if ref is None:
            raise InputError(
                f"s3://{bucket}/{obj.key}",
                "a manifest must sit in <export>/metadata/BILLING_PERIOD=YYYY-MM/ (CUR 2.0) or "
                "<report>/YYYYMMDD-YYYYMMDD/ (legacy CUR) so that its data files can be found",
            )
        root = "/".join(ref.governed)
        store = _S3Store(client, bucket, root, staging_dir)
        return store, {store._rel(obj.key)}
    root = obj.key.rpartition("/")[0]
    store = _S3Store(client, bucket, root, staging_dir, [obj])
    return store, {store._rel(obj.key)}


# --- from stores to deliveries ----------------------------------------------------------------------------


def _is_data_name(name: str) -> bool:
    return str(name).lower().endswith(DATA_SUFFIXES)


def _hash(*fields: object) -> str:
    digest = hashlib.sha256()
    for value in fields:
        digest.update(str(value).encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _manifest_deliveries(store, selected: set[str] | None) -> list[_Found]:
    """Read, parse and check every current manifest of the store; no data file is read."""
    objects = store.objects()
    refs = [ref for rel in objects if (ref := _classify(tuple(rel.split("/")))) is not None]
    if selected is not None:
        refs = [ref for ref in refs if ref.rel in selected]
    found = []
    for ref in _current(refs):
        where = store.where(ref.rel)
        data = store.read(ref.rel)
        parsed = _parse_manifest(data, where, ref)
        rels = store.resolve(ref, parsed, where)
        for rel, (raw, _, _) in zip(rels, parsed.entries, strict=True):
            if rel not in objects:
                raise InputError(
                    where,
                    f"data file {raw!r} named by the manifest is missing (looked for {store.where(rel)})",
                )
        # Whole locations, not paths relative to the source: the same delivery reached through a folder, its
        # manifest or a glob must keep one fingerprint.
        listed = sorted((store.identity(rel), objects[rel].size, objects[rel].token) for rel in rels)
        manifest_hash = hashlib.sha256(data).hexdigest()
        fingerprint = _hash("delivery-v1", ref.flavour, store.identity(ref.rel), manifest_hash, *listed)
        found.append(_Found(ref, parsed, data, rels, parsed.period, fingerprint))
    return found


def _governed_roots(objects: Iterable[str]) -> set[tuple[str, ...]]:
    return {ref.governed for rel in objects if (ref := _classify(tuple(rel.split("/")))) is not None}


def _deliveries(
    store,
    selected: set[str] | None,
    *,
    skip_fingerprints: Container[str],
    billing_periods: Container[date] | None,
) -> list[Delivery]:
    out: list[Delivery] = []
    skipped = 0
    for found in _manifest_deliveries(store, selected):
        if billing_periods is not None and found.period not in billing_periods:
            continue
        if found.fingerprint in skip_fingerprints:
            skipped += 1
            continue
        files, manifest = store.materialize(found.rels, found.ref.rel, found.data)
        out.append(
            Delivery(
                billing_period=found.period,
                delivery_id=found.parsed.delivery_id,
                fingerprint=found.fingerprint,
                flavour=found.parsed.flavour,
                files=files,
                manifest=manifest,
                source=store.where(found.ref.rel),
                delivered_at=found.parsed.delivered_at,
            )
        )

    objects = store.objects()
    if selected is None:
        governed = _governed_roots(objects)
        candidates = [
            rel for rel in objects if not any(tuple(rel.split("/")[: len(g)]) == g for g in governed)
        ]
    else:
        candidates = [rel for rel in selected if _classify(tuple(rel.split("/"))) is None]
    ignored = 0
    for rel in sorted(candidates):
        if not _is_data_name(rel):
            ignored += 1
            continue
        obj = objects[rel]
        fingerprint = _hash("file-v1", store.identity(rel), obj.size, obj.token)
        if fingerprint in skip_fingerprints:
            skipped += 1
            continue
        files, _ = store.materialize([rel], None, None)
        out.append(
            Delivery(
                billing_period=None,
                delivery_id=fingerprint[:32],
                fingerprint=fingerprint,
                flavour=None,
                files=files,
                manifest=None,
                source=store.where(rel),
            )
        )
    if ignored:
        log.info(
            "%s: %d file(s) outside any export are not billing data (by name), ignored", store.label, ignored
        )
    if skipped:
        log.info("%s: %d delivery(ies) already ingested (same fingerprint), skipped", store.label, skipped)
    return out
