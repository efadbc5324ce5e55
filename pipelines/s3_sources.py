"""`s3://` sources of GPU logs and prediction counts: stage the prefix's objects, read them with the local readers.

The readers of `pipelines/gpu` and `pipelines/predictions` walk a local folder. An S3 source is mirrored into
``$MLCOST_HOME/staging/_<kind>/<bucket>/<key>`` with the billing code's verified downloads
(`pipelines/billing/s3.py`: size and MD5 checked, a file unchanged since the last run is not fetched again),
objects no longer listed are removed from the mirror, and the reader gets the mirrored folder. Folders and
file names are the object keys, so a `hosts.csv` in the prefix, a host named by its folder or file stem, and
the skipping of hidden and `_`-prefixed names behave as for a local folder.

What the reader reports (file names in messages, `source_file`, the lists of files read and rejected) names
the objects, ``s3://bucket/key``, never the staging copy.
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path, PurePath
from typing import TypeVar

import polars as pl

from pipelines.billing import s3 as s3io
from pipelines.config import Settings
from pipelines.errors import InputError

_DOWNLOAD_THREADS = 4
T = TypeVar("T")


def is_s3(source: str | Path | None) -> bool:
    return str(source or "").startswith("s3://")


def read_staged(settings: Settings, source: str, kind: str, read: Callable[[str | Path], T]) -> T:
    """``read(source)`` for a local source; for ``s3://``, ``read(staged mirror)`` with the names mapped back."""
    if not is_s3(source):
        return read(source)
    local, names = stage_prefix(settings, source, kind)
    try:
        with _logs_named_by_key(names):
            return relabel(read(local), names)
    except InputError as exc:
        raise relabel(exc, names) from None


@contextmanager
def _logs_named_by_key(names: dict[str, str]) -> Iterator[None]:
    # The readers log rejected files as they meet them, before their result can be renamed.
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        if isinstance(record.msg, str):
            record.msg = _rename(record.msg, names)
        if isinstance(record.args, tuple):
            record.args = tuple(
                relabel(str(a) if isinstance(a, PurePath | InputError) else a, names) for a in record.args
            )
        return record

    logging.setLogRecordFactory(factory)
    try:
        yield
    finally:
        logging.setLogRecordFactory(previous)


def stage_prefix(settings: Settings, source: str, kind: str) -> tuple[Path, dict[str, str]]:
    """Mirror the objects of `source` (one object, or a prefix taken as a folder) under the staging area.

    Returns the local path to read and {staged folder prefix: s3 prefix} to name files back.
    """
    bucket, key = s3io.parse_s3_uri(source)
    key = key.strip("/")
    client = s3io.make_client(settings.s3_endpoint_url)
    # "_<kind>" cannot be a bucket name, so it never meets the billing deliveries staged as staging/<bucket>/.
    root = settings.staging / f"_{kind}"
    objects = [
        o
        for o in s3io.list_objects(client, bucket, key)
        if not key or o.key == key or o.key.startswith(key + "/")
    ]
    if not objects:
        raise InputError(
            source, "no object under this prefix (check the bucket, the prefix and the credentials)"
        )
    single = len(objects) == 1 and objects[0].key == key
    # A key that is both an object and a folder prefix is read as the folder.
    objects = [o for o in objects if single or o.key != key]
    with ThreadPoolExecutor(max_workers=max(1, min(_DOWNLOAD_THREADS, len(objects)))) as pool:
        staged = list(pool.map(lambda o: s3io.stage_object(client, bucket, o, root)[0], objects))
    local = s3io.staged_path(root, bucket, key) if key else root / bucket
    if not single:
        _remove_unlisted(local, set(staged))
    names = {f"{root / bucket}{os.sep}": f"s3://{bucket}/"}
    return local, names


def _remove_unlisted(folder: Path, kept: set[Path]) -> None:
    # An object deleted from S3 must not be read again from an earlier run's mirror. Sidecars of kept files and
    # in-flight downloads (hidden names, never read) stay.
    for path in folder.rglob("*"):
        if path.is_file() and not path.name.startswith(".") and path not in kept:
            path.unlink()
            path.with_name(f".{path.name}{s3io.SIDECAR_SUFFIX}").unlink(missing_ok=True)


def _rename(text: str, names: dict[str, str]) -> str:
    for local, remote in names.items():
        text = text.replace(local, remote)
    return text


def relabel(value, names: dict[str, str]):
    """`value` with every staged path in it (strings, lists, dicts, frames, dataclasses, errors) named by its key."""
    if isinstance(value, str):
        return _rename(value, names)
    if isinstance(value, InputError):
        renamed = InputError(
            _rename(value.path, names), _rename(value.problem, names), column=value.column, line=value.line
        )
        renamed.__class__ = type(value)
        return renamed
    if isinstance(value, pl.DataFrame):
        return value.with_columns(
            [_relabel_column(value[c], names) for c in value.columns if _holds_text(value.schema[c])]
        )
    if isinstance(value, list | tuple):
        return type(value)(relabel(v, names) for v in value)
    if isinstance(value, dict):
        return {relabel(k, names): relabel(v, names) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: relabel(getattr(value, f.name), names) for f in dataclasses.fields(value) if f.init
        }
        return dataclasses.replace(value, **changes)
    return value


def _holds_text(dtype: pl.DataType) -> bool:
    return dtype == pl.Utf8 or (isinstance(dtype, pl.List) and dtype.inner == pl.Utf8)


def _relabel_column(column: pl.Series, names: dict[str, str]) -> pl.Series:
    expr = pl.col(column.name)
    for local, remote in names.items():
        if column.dtype == pl.Utf8:
            expr = expr.str.replace_all(local, remote, literal=True)
        else:
            expr = expr.list.eval(pl.element().str.replace_all(local, remote, literal=True))
    return column.to_frame().select(expr).to_series()
