"""The pod -> workload mapping file of Kubernetes GPU nodes (MLCOST_POD_WORKLOADS), read and checked.

Kept free of heavy imports: the settings check reads the file before a run writes anything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from pipelines.errors import InputError
from pipelines.file_reading.mapping_csv import header_key, read_mapping_table

# Column of the mapping file -> accepted header spellings (compared lower-cased, `-` and spaces as `_`).
# `nvidia.com/gpu` is the resource name a pod spec requests; `gpu-fraction` the annotation of fractional schedulers.
POD_WORKLOAD_COLUMNS = {
    "namespace": ("namespace", "ns", "pod_namespace"),
    "pod": ("pod", "pod_name", "pod_glob", "pod_pattern"),
    "workload": ("workload",),
    "gpu_fraction": ("gpu_fraction", "gpu_request", "nvidia.com/gpu"),
}


@dataclass(frozen=True)
class PodRule:
    """One line of the mapping file."""

    namespace: str
    pod: str
    workload: str
    gpu_fraction: float
    line: int

    def matches(self, namespace: str | None, pod: str) -> bool:
        return fnmatchcase(pod, self.pod or "*") and fnmatchcase(namespace or "", self.namespace or "*")


def read_pod_workloads(path: Path) -> list[PodRule]:
    """The rules of a pod_workloads.csv; InputError naming the file, line and column of the first bad cell."""
    table = read_mapping_table(path, what="pod mapping file", expected_header="namespace,pod,workload")
    header = table.header
    spelled = {header_key(s): role for role, spellings in POD_WORKLOAD_COLUMNS.items() for s in spellings}
    at: dict[str, int] = {}
    for i, name in enumerate(header):
        role = spelled.get(header_key(name))
        if role is None:
            accepted = "; ".join(f"{role}: {', '.join(s)}" for role, s in POD_WORKLOAD_COLUMNS.items())
            raise InputError(path, f"unknown column; accepted: {accepted}", column=name.strip(), line=1)
        if role in at:
            raise InputError(
                path,
                f"a second {role} column (the first is {header[at[role]].strip()!r})",
                column=name.strip(),
                line=1,
            )
        at[role] = i
    if "workload" not in at:
        raise InputError(path, "missing required column in the pod mapping file", column="workload", line=1)
    if "namespace" not in at and "pod" not in at:
        raise InputError(path, "the pod mapping file needs a namespace or a pod column", column="pod", line=1)
    rules: list[PodRule] = []
    for line, row in table.rows(list(at.values())):
        cell = {role: row[i] for role, i in at.items()}
        if not cell["workload"]:
            raise InputError(path, "empty workload", column=header[at["workload"]].strip(), line=line)
        rules.append(
            PodRule(
                namespace=cell.get("namespace", ""),
                pod=cell.get("pod", ""),
                workload=cell["workload"],
                gpu_fraction=_fraction(path, cell.get("gpu_fraction", ""), header, at, line),
                line=line,
            )
        )
    return rules


def _fraction(path: Path, text: str, header: list[str], at: dict[str, int], line: int) -> float:
    if not text:
        return 1.0
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= 1:  # NaN fails too
        raise InputError(
            path,
            f"gpu_fraction {text!r} is not a share of one GPU: expected a number in (0, 1] (0.5 for half a GPU),"
            " or empty for a whole GPU",
            column=header[at["gpu_fraction"]].strip(),
            line=line,
        )
    return value
