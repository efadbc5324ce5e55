"""Settings read from the environment in one place (MLCOST_HOME, sources, limits), each validated on its own.

Every field of ``Settings`` names its environment variable, its default and the parser that checks it
(``setting(...)``): adding a validated setting is one line. A bad value is refused when the settings are built,
before anything is written, with one line per bad variable naming it, its value and what is accepted.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pipelines.errors import InputError

REPO_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(InputError):
    """One or more MLCOST_* variables have bad values: one line per variable (`lines`)."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        super().__init__(lines[0].partition("=")[0], "; ".join(lines))
        self.args = ("\n".join(lines),)

    def __str__(self) -> str:
        return "\n".join(self.lines)


# --- parsers: text -> value, raising ValueError; `accepts` says what is accepted, in the error line ----------


def accepts(text: str) -> Callable[[Callable], Callable]:
    def mark(parse: Callable) -> Callable:
        parse.accepts = text  # type: ignore[attr-defined]  # a function attribute the docs and errors read
        return parse

    return mark


@accepts("a folder path (created if missing)")
def folder(value: str) -> Path:
    path = Path(value).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise ValueError("exists and is not a folder")
    return path


@accepts("the path of an existing file")
def existing_file(value: str) -> Path:
    path = Path(value).expanduser()
    if not path.is_file():
        raise ValueError("no such file")
    return path


@accepts("the path of an existing file")
def existing_file_name(value: str) -> str:
    return str(existing_file(value))


@accepts("an existing file, a glob, a folder or s3://bucket/prefix")
def source(value: str) -> str:
    if value.startswith("s3://") and not value[len("s3://") :].split("/", 1)[0]:
        raise ValueError("no bucket")
    return value


@accepts("s3://bucket/prefix (unset: the local lake under MLCOST_HOME)")
def s3_lake(value: str) -> str:
    if not value.startswith("s3://"):
        raise ValueError("not an s3:// URI")
    from pipelines.billing.s3 import parse_s3_uri

    try:
        parse_s3_uri(value)
    except InputError as exc:
        raise ValueError(exc.problem) from None
    return value.rstrip("/")


@accepts("an http:// or https:// URL")
def url(value: str) -> str:
    if not re.fullmatch(r"https?://[^/\s]+(/\S*)?", value):
        raise ValueError("not a URL")
    return value


@accepts("an integer ≥ 0")
def count(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError("negative")
    return number


@accepts("an integer ≥ 1")
def positive_count(value: str) -> int:
    number = int(value)
    if number < 1:
        raise ValueError("below 1")
    return number


@accepts("an IANA time zone name such as UTC or America/New_York")
def timezone_name(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError("unknown zone") from None
    return value


@accepts("observed or allocated")
def eta_basis(value: str) -> str:
    if value not in ("observed", "allocated"):
        raise ValueError("unknown basis")
    return value


@accepts("a DuckDB memory size such as 2GB, 512MB or 4GiB")
def memory_size(value: str) -> str:
    _duckdb_memory_limit(value)
    return value


@functools.lru_cache(maxsize=16)
def _duckdb_memory_limit(value: str) -> None:
    # DuckDB is the one that reads the value: ask it rather than keep a copy of its unit list.
    import duckdb

    try:
        duckdb.connect(":memory:", config={"memory_limit": value}).close()
    except duckdb.Error:
        raise ValueError("not a memory size") from None


@accepts("a month YYYY-MM or its first day YYYY-MM-01, not after the current month")
def month_start(value: str) -> date:
    if not re.fullmatch(r"\d{4}-\d{2}(-01)?", value):
        raise ValueError("not YYYY-MM or YYYY-MM-01")
    first = date.fromisoformat(value[:7] + "-01")
    if first > date.today().replace(day=1):
        raise ValueError("after the current month")
    return first


@accepts("endpoint=positive number, comma-separated (fraud=4,chat=2.5)")
def batching(value: str) -> str:
    parse_batching(value)
    return value


def parse_batching(value: str | None) -> dict[str, float]:
    """MLCOST_PREDICTIONS_PER_INVOCATION: endpoint → predictions per invocation."""
    out: dict[str, float] = {}
    for item in (value or "").split(","):
        if not item.strip():
            continue
        name, sep, number = item.partition("=")
        try:
            out[name.strip()] = float(number)
        except ValueError:
            sep = ""
        if not sep or not name.strip() or not out.get(name.strip(), 0) > 0:
            raise InputError(
                "MLCOST_PREDICTIONS_PER_INVOCATION", f"{item.strip()!r} is not endpoint=positive number"
            )
    return out


@accepts("a number of milliseconds > 0")
def positive_ms(value: str) -> float:
    number = float(value)
    if not number > 0 or number == float("inf"):
        raise ValueError(f"{value} is not > 0")
    return number


@accepts("a CSV namespace,pod,workload[,gpu_fraction] (docs/gpu.md, Kubernetes)")
def pod_workloads_file(value: str) -> str:
    path = existing_file(value)
    # Imported here: the reader is needed only when the setting is given, and this module is imported by all.
    from pipelines.gpu.pod_workloads import read_pod_workloads

    try:
        read_pod_workloads(path)
    except InputError as exc:
        raise ValueError(str(exc)) from None
    return str(path)


@accepts("a Postgres URL postgresql://user:password@host:port/database")
def postgres_url(value: str) -> str:
    from urllib.parse import urlsplit

    parts = urlsplit(value)
    if parts.scheme not in ("postgresql", "postgres", "postgresql+psycopg2"):
        raise ValueError("not a postgresql:// URL")
    if not parts.hostname or not parts.path.strip("/"):
        raise ValueError("no host or no database")
    return value


EXECUTORS = ("in_process", "multiprocess")


@accepts(" or ".join(EXECUTORS))
def executor_name(value: str) -> str:
    if value not in EXECUTORS:
        raise ValueError("unknown executor")
    return value


def setting(env: str, default: Any, parse: Callable[[str], Any]) -> Any:
    """A Settings field read from `env` (unset or blank: `default`) and checked by `parse`."""
    return field(default=default, metadata={"env": env, "parse": parse})


@dataclass(frozen=True)
class Settings:
    """Where data lives and where it comes from. Built from environment variables by ``Settings.from_env``.

    Values given to the constructor are checked and normalised by the same parsers as the environment's.
    """

    home: Path = setting("MLCOST_HOME", REPO_ROOT / "data", folder)
    cur_source: str | None = setting("MLCOST_CUR_SOURCE", None, source)
    gpu_source: str | None = setting("MLCOST_GPU_SOURCE", None, source)
    predictions_source: str | None = setting("MLCOST_PREDICTIONS_SOURCE", None, source)
    s3_endpoint_url: str | None = setting("MLCOST_S3_ENDPOINT_URL", None, url)
    # None: the shipped pipelines/attribution/default_rules.yaml
    rules_path: Path | None = setting("MLCOST_RULES", None, existing_file)
    # Zone of GPU log timestamps written without one (nvidia-smi host-local time).
    gpu_timezone: str = setting("MLCOST_GPU_TIMEZONE", "UTC", timezone_name)
    # observed: unobserved GPU time is not idle; allocated: it counts as idle.
    eta_basis: str = setting("MLCOST_ETA_BASIS", "observed", eta_basis)
    # Superseded versions of a restated billing period kept under lake/_history.
    history_versions: int = setting("MLCOST_HISTORY_VERSIONS", 5, count)
    # Predictions per invocation (batching) per endpoint, as "endpoint=4,other=2"; unlisted endpoints count 1.
    predictions_per_invocation: str | None = setting("MLCOST_PREDICTIONS_PER_INVOCATION", None, batching)
    # CSV endpoint,workload naming the workload of endpoints the bill cannot.
    endpoint_map: str | None = setting("MLCOST_ENDPOINT_MAP", None, existing_file_name)
    duckdb_memory_limit: str = setting("MLCOST_DUCKDB_MEMORY_LIMIT", "2GB", memory_size)
    duckdb_threads: int = setting("MLCOST_DUCKDB_THREADS", 2, positive_count)
    # Pinned first billing period of the Dagster partitions; None: they start at the data (pipelines/orchestration/partitions.py).
    partition_start: date | None = setting("MLCOST_PARTITION_START", None, month_start)
    # IANA zone of request-log / counter times written without one; None: such times are refused.
    predictions_timezone: str | None = setting("MLCOST_PREDICTIONS_TIMEZONE", None, timezone_name)
    # CSV namespace,pod,workload[,gpu_fraction] naming the workload of Kubernetes pods; None: workload = namespace.
    pod_workloads: str | None = setting("MLCOST_POD_WORKLOADS", None, pod_workloads_file)
    # YAML of monthly budgets per category / workload / model (pipelines/decisions/budgets.py); None: no budgets.
    budgets_path: Path | None = setting("MLCOST_BUDGETS", None, existing_file)
    # Latency budget of the batching recommendation (pipelines/decisions/recommendations.py), in ms.
    latency_budget_ms: float = setting("MLCOST_LATENCY_BUDGET_MS", 200.0, positive_ms)
    # Where published generations go for readers (pipelines/storage/object_lake.py); None: only the local lake.
    lake_uri: str | None = setting("MLCOST_LAKE", None, s3_lake)
    # Dagster's run history in Postgres (production: docs/deployment.md); None: SQLite under DAGSTER_HOME.
    dagster_storage: str | None = setting("MLCOST_DAGSTER_STORAGE", None, postgres_url)
    # in_process: one process runs every step; multiprocess: partitions and steps in parallel processes.
    executor: str = setting("MLCOST_EXECUTOR", "in_process", executor_name)
    # multiprocess: how many runs (and steps) at once; each holds up to MLCOST_DUCKDB_MEMORY_LIMIT.
    max_workers: int = setting("MLCOST_MAX_WORKERS", 2, positive_count)

    def __post_init__(self) -> None:
        problems = []
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            try:
                parsed = f.metadata["parse"](str(value.isoformat() if isinstance(value, date) else value))
            except (ValueError, InputError) as exc:
                problems.append(bad_setting_line(f, value, exc))
                continue
            object.__setattr__(self, f.name, parsed)  # the parsed type: Path, int, date, ...
        if problems:
            raise SettingsError(problems)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Every field from its MLCOST_* variable (unset or blank: the default); all bad values at once."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(f.metadata["env"], "").strip()
            values[f.name] = raw if raw else f.default
        return cls(**values)

    def batching(self) -> dict[str, float]:
        """MLCOST_PREDICTIONS_PER_INVOCATION parsed: endpoint → predictions per invocation."""
        return parse_batching(self.predictions_per_invocation)

    @property
    def lake(self) -> Path:
        return self.home / "lake"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def staging(self) -> Path:
        return self.home / "staging"

    @property
    def tmp(self) -> Path:
        return self.home / "tmp"


def bad_setting_line(f, value: object, exc: Exception) -> str:
    """`MLCOST_X='value' is not accepted (why): expected <what>` for one field."""
    why = exc.problem if isinstance(exc, InputError) else str(exc)
    if "invalid literal for int()" in why:
        why = "not an integer"
    return (
        f"{f.metadata['env']}={str(value)!r} is not accepted ({why}): expected {f.metadata['parse'].accepts}"
    )


def environment_variables() -> dict[str, str]:
    """Settings field name -> its MLCOST_* variable (for the docs test and the Dagster resource)."""
    return {f.name: f.metadata["env"] for f in fields(Settings)}
