"""Which bill resource (EC2 instance id, SageMaker endpoint) each GPU sample belongs to.

The first rule that gives an answer wins:

1. an explicit column, label or dimension of the file: ``instance_id``, ``InstanceId``, ``resource_id``,
   ``EndpointName`` (names compared without case);
2. ``resource_map[host]`` (argument of the read);
3. a mapping file, a CSV with columns ``host,resource_id``: first the ``mapping_file`` argument, then the
   ``hosts.csv`` files from the log's own folder up to the source folder, closest first;
4. the Kubernetes node ``providerID`` (``aws:///us-east-1a/i-...``) found in any label or column value;
5. an ``i-[0-9a-f]{8,17}`` component of the file's path, closest to the file first
   (``logs/i-0abc12345678def01/gpu.csv``, ``gpu_i-0abc1234.csv``).

Files that name no host (nvidia-smi logs, CSVs without a host column) are looked up in steps 2 and 3 by the
file's name, its stem (name without extension) and the names of its folders up to the source folder,
closest first.
A file with any sample that no rule maps is rejected as a whole.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from pipelines.file_reading.mapping_csv import MappingColumn, read_mapping_csv

MAPPING_FILE_NAME = "hosts.csv"
INSTANCE_ID = re.compile(r"(?<![0-9A-Za-z])i-(?:[0-9a-f]{8,17})(?![0-9A-Za-z])")
PROVIDER_ID = re.compile(r"^aws:///[^/]*/(i-[0-9a-f]{8,17})$")
# Priority order of the explicit resource columns; keys are lower-cased names.
EXPLICIT_RESOURCE_KEYS = ("instance_id", "instanceid", "resource_id", "endpointname")


def explicit_resource(fields: Mapping[str, object]) -> str | None:
    """The resource id an explicit column/label/dimension gives (names compared without case), else None."""
    lowered = {str(k).lower(): v for k, v in fields.items()}
    for key in EXPLICIT_RESOURCE_KEYS:
        value = lowered.get(key)
        if value is not None and str(value).strip():
            return str(value).strip()
    return None


def provider_instance(values: Iterable[object]) -> str | None:
    """The instance id of the first ``aws:///zone/i-...`` providerID among ``values``."""
    for value in values:
        if value is None:
            continue
        m = PROVIDER_ID.match(str(value).strip())
        if m:
            return m[1]
    return None


# The names people give these columns (hostname as DCGM labels it, instance_id as EC2 calls it) are accepted.
HOST_COLUMN = MappingColumn("host", ("host", "hostname", "node"))
RESOURCE_COLUMN = MappingColumn("resource_id", ("resource_id", "instance_id", "instanceid", "endpointname"))


def load_mapping_file(path: Path) -> dict[str, str]:
    """Read a ``host,resource_id`` CSV (pipelines.file_reading.mapping_csv); InputError naming the file and line."""
    return read_mapping_csv(path, HOST_COLUMN, RESOURCE_COLUMN, what="host mapping file")


def path_keys(path: Path, root: Path | None = None) -> list[str]:
    """Names under which a log that names no host is looked up: file name, stem, then folder names.

    Folders are taken from the file's own up to ``root`` (the source folder) included, closest first.
    """
    keys = [path.name, path.name.split(".", 1)[0], path.stem]
    folder = path.parent
    while folder.name:
        keys.append(folder.name)
        if root is not None and folder.resolve() == root.resolve():
            break
        folder = folder.parent
    return list(dict.fromkeys(k for k in keys if k))


def path_instance(path: Path) -> str | None:
    """An instance id found in a component of ``path``, closest to the file first."""
    for part in reversed(path.parts):
        m = INSTANCE_ID.search(part)
        if m:
            return m[0]
    return None


class ResourceResolver:
    """Applies the mapping rules of this module for one read (one source file or folder)."""

    def __init__(
        self,
        root: Path,
        resource_map: Mapping[str, str] | None = None,
        mapping_file: Path | None = None,
    ):
        self.root = root if root.is_dir() else root.parent
        self.resource_map = dict(resource_map or {})
        self.mapping = load_mapping_file(Path(mapping_file)) if mapping_file is not None else {}
        self._folder_maps: dict[Path, dict[str, str]] = {}
        self._folder_map(self.root)

    def _folder_map(self, folder: Path) -> dict[str, str]:
        if folder not in self._folder_maps:
            candidate = folder / MAPPING_FILE_NAME
            self._folder_maps[folder] = load_mapping_file(candidate) if candidate.is_file() else {}
        return self._folder_maps[folder]

    def _hosts_files(self, path: Path) -> list[dict[str, str]]:
        maps = []
        folder = path.parent
        root = self.root.resolve()
        while True:
            maps.append(self._folder_map(folder))
            if folder.resolve() == root or folder.parent == folder:
                break
            if not folder.resolve().is_relative_to(root):
                break
            folder = folder.parent
        return maps

    def preload(self, path: Path) -> None:
        """Read the hosts.csv files that apply to ``path`` now, so that a broken one stops the read early."""
        self._hosts_files(path)

    def resolve(
        self, path: Path, explicit: str | None, host: str | None, provider_id: str | None
    ) -> str | None:
        """The resource id of samples with these identifiers, or None when no rule maps them."""
        if explicit:
            return explicit
        keys = [host] if host else path_keys(path, self.root)
        for mapping in [self.resource_map, self.mapping, *self._hosts_files(path)]:
            for key in keys:
                if key in mapping:
                    return mapping[key]
        if provider_id:
            return provider_id
        return path_instance(path)
