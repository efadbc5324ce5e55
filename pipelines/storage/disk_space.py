"""Recognise a full disk in any error of `mlcost run` and say, in one line, which path is full.

A full disk shows up as OSError ENOSPC from our writes, as DuckDB's IOException ("No space left on device") from
its COPY and spill files, and as sqlite3's "database or disk is full" from Dagster's run storage. Each is
turned into one line naming the path (from the error when it says, else the folder the writer uses).
"""

from __future__ import annotations

import errno
import os
import re

from pipelines.config import Settings

FULL_DISK_WORDS = ("no space left on device", "database or disk is full", "disk quota exceeded")


def _chain(exc: BaseException | None):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _quoted_path(text: str) -> str | None:
    match = re.search(r"""["'](/[^"']+)["']""", text)
    return match.group(1) if match else None


def _root_of(path: str) -> str:
    """Which configured folder the path lies in, for the message: `MLCOST_HOME=/x` or `DAGSTER_HOME=/y`."""
    roots = {"DAGSTER_HOME": os.environ.get("DAGSTER_HOME")}
    try:
        roots["MLCOST_HOME"] = str(Settings.from_env().home)
    except Exception:  # noqa: BLE001 - the settings were valid when the run started; say what we can
        roots["MLCOST_HOME"] = None
    for name, root in roots.items():
        if root and os.path.abspath(path).startswith(os.path.abspath(root) + os.sep):
            return f"{name}={root}"
    return os.path.dirname(path) or path


def disk_full_message(exc: BaseException) -> str | None:
    """The one line for a full disk found anywhere in `exc`'s chain (or its text), else None."""
    for err in _chain(exc):
        text = str(err)
        is_full = isinstance(err, OSError) and err.errno in (errno.ENOSPC, errno.EDQUOT)
        if not is_full and not any(word in text.lower() for word in FULL_DISK_WORDS):
            continue
        path = getattr(err, "filename", None) or _quoted_path(text)
        if path is not None:
            what = f"writing {path} failed: no space left on the disk of {_root_of(str(path))}"
        elif "database or disk is full" in text.lower():
            home = os.environ.get("DAGSTER_HOME", "?")
            what = f"Dagster's run storage could not be written: no space left on the disk of DAGSTER_HOME={home}"
        else:
            what = "no space left on a disk it writes to (MLCOST_HOME, DAGSTER_HOME)"
        return (
            f"the disk is full: {what}; the step that was writing published nothing (steps that finished are "
            "published whole); free space and run `mlcost run` again"
        )
    return None
