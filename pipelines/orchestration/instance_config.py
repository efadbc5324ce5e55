"""The Dagster instance settings mlcost relies on, written into $DAGSTER_HOME/dagster.yaml before `make ui`.

- `concurrency.pools.default_limit: 1`: every asset is in pool `mlcost_lake`, the only pool, so one step at a
  time runs DuckDB and its memory limit holds for the machine, whatever runs the sensors launch. With
  MLCOST_EXECUTOR=multiprocess, `mlcost run` gives the pool MLCOST_MAX_WORKERS slots (stored in the instance):
  the pool is a memory budget, not a lock, since parallel runs write different partitions' files.
- `concurrency.runs.tag_concurrency_limits`: at most one queued run per partition key (`dagster/partition`,
  applied per value): the lock is per partition, so the daemon runs different days and months side by side,
  never two runs of the same one.
- `run_retries` without `retry_on_asset_or_op_failure`: a run whose worker died (killed, out of memory) is
  retried twice; a run that failed on bad input (InputError) is not: the same input fails the same way.
- `freshness.enabled`: the freshness policies of the daily tables are evaluated (docs/operations.md).
- `telemetry.enabled: false`: billing pipelines do not report usage to a third party.
- `storage`: Dagster's SQLite storage in $DAGSTER_HOME (the default files), with the event log of
  pipelines/orchestration/dagster_storage.py (an asset event in 9-15 ms instead of 24 ms on this machine). Added only when
  the file configures no storage of its own (`storage`, `run_storage`, `event_log_storage` or
  `schedule_storage`); its folder is the home's absolute path (so `DagsterInstance.from_config(home)` works
  without DAGSTER_HOME), updated when the home has moved.
- `storage: postgres:` instead, when MLCOST_DAGSTER_STORAGE names a Postgres database (`postgresql://...`): the
  production setting (docs/deployment.md), where runs, the daemon and the UI on several machines or containers
  share one run history. The file then holds the URL (and its password): it is written readable by its owner
  only. The same rule applies: a storage the operator configured in the file is kept.

Settings already in the file win: an operator's own choices are kept, only missing ones are added.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import yaml

from pipelines.errors import InputError

POOL = "mlcost_lake"
PARTITION_TAG = "dagster/partition"
SETTINGS: dict = {
    "concurrency": {
        "pools": {"default_limit": 1},
        # One run at a time per partition key (Dagster tags a one-partition run `dagster/partition`): runs of
        # different days or months, which write different files, run side by side.
        "runs": {
            "tag_concurrency_limits": [
                {"key": PARTITION_TAG, "value": {"applyLimitPerUniqueValue": True}, "limit": 1}
            ]
        },
    },
    "run_retries": {"enabled": True, "max_retries": 2, "retry_on_asset_or_op_failure": False},
    "freshness": {"enabled": True},
    "telemetry": {"enabled": False},
}
STORAGE_MODULE = "pipelines.orchestration.dagster_storage"
STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage")
HEADER = "# Dagster instance settings; mlcost adds the ones it needs (see pipelines/orchestration/instance_config.py).\n"
# Dagster refuses these run_queue fields next to a `concurrency` section: their home is concurrency.runs.
_RUN_QUEUE_CONFLICTS = ("max_concurrent_runs", "tag_concurrency_limits")


def _merge(ours: dict, theirs: dict) -> dict:
    merged = dict(theirs)
    for key, value in ours.items():
        if isinstance(value, dict) and isinstance(theirs.get(key), dict):
            merged[key] = _merge(value, theirs[key])
        elif key not in theirs:
            merged[key] = value
    return merged


def read_config(path: Path) -> dict:
    """The mapping in an existing dagster.yaml ({} when absent or empty); InputError when it is not YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(path, f"cannot read the Dagster instance settings ({exc})") from None
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise InputError(
            path, f"not valid YAML: {getattr(exc, 'problem', exc)}", line=mark.line + 1 if mark else None
        ) from None
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        raise InputError(path, "the Dagster instance settings must be a YAML mapping")
    return doc


def _ours_or_none(config: dict, postgres_url: str | None = None) -> bool:
    """True when the file configures no storage, or only one mlcost adds (whose folder or URL it may update).

    A `storage: postgres:` block holding only a URL counts as mlcost's only while MLCOST_DAGSTER_STORAGE is set
    (the setting then updates its URL); unset, it is the operator's and stays.
    """
    present = [key for key in STORAGE_KEYS if key in config]
    storage = config["storage"] if present == ["storage"] and isinstance(config["storage"], dict) else {}
    custom = storage.get("custom")
    ours_sqlite = isinstance(custom, dict) and custom.get("module") == STORAGE_MODULE
    postgres = storage.get("postgres")
    ours_postgres = bool(postgres_url) and isinstance(postgres, dict) and list(postgres) == ["postgres_url"]
    return not present or ours_sqlite or ours_postgres


def psycopg2_url(url: str) -> str:
    """The URL with psycopg2 named as its driver: dagster-postgres installs psycopg2, while SQLAlchemy 2.1 reads
    a bare `postgresql://` as psycopg 3 (not installed)."""
    scheme, sep, rest = url.partition("://")
    return f"postgresql+psycopg2://{rest}" if scheme in ("postgresql", "postgres") and sep else url


def storage_section(home: Path, postgres_url: str | None) -> dict:
    """The `storage` mlcost writes: Dagster's Postgres storage at `postgres_url`, else the SQLite one in home."""
    if postgres_url:
        return {"postgres": {"postgres_url": psycopg2_url(postgres_url)}}
    return {
        "custom": {
            "module": STORAGE_MODULE,
            "class": "SqliteStorage",
            "config": {"base_dir": str(home.resolve())},
        }
    }


def write_instance_config(dagster_home: str | os.PathLike, postgres_url: str | None = None) -> Path:
    """Add mlcost's settings to `dagster_home`/dagster.yaml (created if absent; untouched if all there).

    `postgres_url` (MLCOST_DAGSTER_STORAGE): the run history goes to that Postgres database instead of SQLite.
    """
    home = Path(dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    path = home / "dagster.yaml"
    existing = read_config(path)
    run_queue = existing.get("run_queue")
    if isinstance(run_queue, dict):
        for field in _RUN_QUEUE_CONFLICTS:
            if field in run_queue:
                raise InputError(
                    path,
                    f"run_queue.{field} cannot stand beside the concurrency pool settings mlcost adds; "
                    f"move it to concurrency.runs.{field}",
                    column=f"run_queue.{field}",
                )
    merged = _merge(SETTINGS, existing)
    if _ours_or_none(existing, postgres_url):
        merged["storage"] = storage_section(home, postgres_url)
    elif postgres_url:
        own = next(key for key in STORAGE_KEYS if key in existing)
        raise InputError(
            path,
            f"configures its own run storage ({own}) and MLCOST_DAGSTER_STORAGE names another: "
            "remove one of them, so that the run history has one home",
            column=own,
        )
    if merged != existing or not path.exists():
        tmp = path.with_name(f".dagster.yaml.{os.getpid()}.tmp")
        tmp.write_text(HEADER + yaml.safe_dump(merged, sort_keys=False), encoding="utf-8")
        if postgres_url:
            tmp.chmod(0o600)  # the URL may carry the database password
        tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    """`python -m pipelines.orchestration.instance_config [DAGSTER_HOME]`; default $DAGSTER_HOME, else under MLCOST_HOME."""
    from pipelines.config import Settings

    args = sys.argv[1:] if argv is None else argv
    try:
        settings = Settings.from_env()
        default = os.environ.get("DAGSTER_HOME") or str(settings.home / "dagster_home")
        home = args[0] if args else default
        path = write_instance_config(home, settings.dagster_storage)
    except InputError as exc:
        print(f"mlcost: {exc}", file=sys.stderr)
        return 2
    limit = read_config(path)["concurrency"]["pools"].get("default_limit")
    print(f"{path}: pool {POOL} limit {limit}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
