"""Which files of a source folder are data, by one rule for every reader.

A folder is walked recursively in path order. Hidden files and folders (a name starting with ``.``) are not
listed at all (editors' and tools' scratch). These are listed as ignored, with the reason, and not read:

- a name starting with ``_`` (a job marker such as ``_SUCCESS`` or a metadata file);
- documentation and configuration (``NOT_DATA_SUFFIXES``: ``.md``, ``.yaml``, ...) and checksum files (``.crc``);
- the mapping file given to the read;
- what the reader says is no data of its own (``also_ignored``: GPU ``hosts.csv``, nvidia-smi ``.header`` files,
  CloudWatch request sidecars).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

NOT_DATA_SUFFIXES = frozenset({".md", ".rst", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".crc"})


def list_data_files(
    root: Path,
    *,
    mapping_file: Path | None = None,
    also_ignored: Callable[[Path], str | None] | None = None,
) -> tuple[list[Path], dict[str, str]]:
    """The data files under ``root`` (a file or a folder, walked recursively, sorted) and the ignored ones, with why."""
    mapping = Path(mapping_file).resolve() if mapping_file is not None else None
    ignored: dict[str, str] = {}
    if root.is_file():
        if mapping is not None and root.resolve() == mapping:
            ignored[str(root)] = "it is the mapping file"
            return [], ignored
        return [root], ignored
    files: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in names:
            if name.startswith("."):
                continue
            path = Path(folder) / name
            if not path.is_file():
                continue
            reason = _ignored_because(path, root, mapping, also_ignored)
            if reason is None:
                files.append(path)
            else:
                ignored[str(path)] = reason
    return sorted(files), dict(sorted(ignored.items()))


def _ignored_because(
    path: Path, root: Path, mapping: Path | None, also_ignored: Callable[[Path], str | None] | None
) -> str | None:
    if any(part.startswith("_") for part in path.relative_to(root).parts):
        return "name starts with '_' (a job marker or metadata file)"
    if mapping is not None and path.resolve() == mapping:
        return "it is the mapping file"
    if path.suffix.lower() in NOT_DATA_SUFFIXES:
        return f"a {path.suffix} file is not data"
    return also_ignored(path) if also_ignored is not None else None
