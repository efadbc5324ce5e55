"""The generated parts of docs/gpu.md: nvidia-smi header aliases and the observed-gap rule, from the code's tables.

Each part sits between ``<!-- generated: NAME -->`` and ``<!-- end generated: NAME -->`` in docs/gpu.md;
``mlcost docs gpu`` rewrites them and ``mlcost docs gpu --check`` fails when the page differs (a test runs it).
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pipelines.config import REPO_ROOT
from pipelines.gpu.dcgm import KUBERNETES_LABELS
from pipelines.gpu.nvidia_smi import HEADER_ALIASES, UNIT_SUFFIXES
from pipelines.gpu.pod_workloads import POD_WORKLOAD_COLUMNS
from pipelines.gpu.samples import OBSERVED_GAP_MULTIPLE, OBSERVED_GAP_SLACK_SECONDS, observed_gap_limit

GPU_DOC = REPO_ROOT / "docs" / "gpu.md"


def _header_aliases() -> str:
    lines = [
        "| field | meaning | accepted header names |",
        "|---|---|---|",
    ]
    for role, (meaning, spellings) in HEADER_ALIASES.items():
        lines.append(f"| {role} | {meaning} | {', '.join(f'`{s}`' for s in spellings)} |")
    lines += [
        "",
        "Names are compared without case, unit brackets (`[%]`, `(W)`), separators (space, `.`, `_`, `-`) and one"
        " or more trailing unit words ("
        + ", ".join(f"`{u}`" for u in UNIT_SUFFIXES)
        + "): `utilization.gpu [%]`,"
        " `utilization_gpu_percent`, `GPU Util` and `gpu_util` are one field. The first matching column of each"
        " field is used; other columns are ignored.",
    ]
    return "\n".join(lines)


def _gap_rule() -> str:
    examples = ", ".join(f"{n:g} s → {observed_gap_limit(n):g} s" for n in (0.3, 1.0, 10.0, 30.0, 60.0))
    return (
        f"A gap between two samples of a series counts as observed when it is at most {OBSERVED_GAP_MULTIPLE:g} ×"
        f" the series' typical spacing and at most {OBSERVED_GAP_SLACK_SECONDS:g} s longer than it (typical"
        f" spacing → longest observed gap: {examples}). Loop scripts and exporters are late by scheduling jitter,"
        " about a second whatever their period (an `nvidia-smi` loop every 0.3 s logs gaps of 0.2–1.6 s). A"
        " longer gap is a hole: the sample after it stands for the typical spacing only, the rest is unobserved."
    )


def _kubernetes_labels() -> str:
    lines = ["| gpu_samples column | DCGM labels, the first present wins |", "|---|---|"]
    lines += [
        f"| `{name}` | {', '.join(f'`{s}`' for s in spellings)} |"
        for name, spellings in KUBERNETES_LABELS.items()
    ]
    return "\n".join(lines)


def _pod_workload_columns() -> str:
    lines = ["| column | accepted header names |", "|---|---|"]
    lines += [
        f"| {role} | {', '.join(f'`{s}`' for s in spellings)} |"
        for role, spellings in POD_WORKLOAD_COLUMNS.items()
    ]
    lines += [
        "",
        "Header names are compared without case, with `-` and spaces read as `_`. Any other column is refused with"
        " this list.",
    ]
    return "\n".join(lines)


BLOCKS: dict[str, Callable[[], str]] = {
    "nvidia-smi-headers": _header_aliases,
    "observed-gaps": _gap_rule,
    "kubernetes-labels": _kubernetes_labels,
    "pod-workload-columns": _pod_workload_columns,
}


def render_gpu_doc(text: str) -> str:
    """``text`` (docs/gpu.md) with every generated block replaced by what the code's tables give."""
    for name, render in BLOCKS.items():
        pattern = re.compile(
            rf"^([ \t]*)(<!-- generated: {re.escape(name)} -->\n).*?^[ \t]*(<!-- end generated: {re.escape(name)} -->)",
            re.S | re.M,
        )
        if not pattern.search(text):
            raise ValueError(
                f"{GPU_DOC} has no block <!-- generated: {name} --> ... <!-- end generated: {name} -->"
            )
        # The default argument binds this block's renderer (ruff B023); mypy cannot type a lambda's default.
        text = pattern.sub(lambda m, r=render: _block(m[1], m[2], r(), m[3]), text)  # type: ignore[misc]
    return text


def _block(indent: str, start: str, body: str, end: str) -> str:
    lines = [indent + line if line else line for line in body.split("\n")]
    return indent + start + "\n".join(lines) + "\n" + indent + end
