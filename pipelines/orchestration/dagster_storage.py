"""Dagster's SQLite run history, with one SQLAlchemy engine per database file instead of one per event.

Dagster's `SqliteEventLogStorage` creates an engine for every event it writes and disposes of it afterwards, so
each event pays for a new engine and for compiling its INSERT again (SQLAlchemy caches compiled statements per
engine). A month's `mlcost run` writes ~450 events (a planned and a done materialization per asset and day);
an asset event took 24 ms on this machine, 9-15 ms with the engines kept (bench/analysis.md, section 4). The
files, tables and locking are Dagster's own (an engine with `NullPool` still opens and closes a SQLite
connection per use), so the UI, the daemon and older run history read the same storage unchanged.

`pipelines/orchestration/instance_config.py` selects it in dagster.yaml (`storage: custom:`), unless the operator configured
a storage of their own.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from dagster._core.storage.event_log.sqlite.sqlite_event_log import (
    SQLITE_BUSY_TIMEOUT_SECONDS,
    SqliteEventLogStorage,
)
from dagster._core.storage.runs import SqliteRunStorage
from dagster._core.storage.schedules import SqliteScheduleStorage
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import NullPool

# A run writes two shards (its own file and the index); the UI reads many runs' files: keep the recent ones.
ENGINES_KEPT = 16


class EventLogStorage(SqliteEventLogStorage):
    """`SqliteEventLogStorage` that keeps an engine per shard (database file) between events."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()  # before super(): its set-up connects
        super().__init__(base_dir, inst_data=inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # As Dagster's own _connect (same lock, connection string, busy timeout and one-time schema set-up),
        # except that the engine outlives the call.
        with self._db_lock:
            engine = self._engines.pop(shard, None)
            if engine is None:
                engine = create_engine(
                    self.conn_string_for_shard(shard),
                    poolclass=NullPool,
                    connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
                )
                if shard not in self._initialized_dbs:
                    self._initdb(engine)
                    self._initialized_dbs.add(shard)
            self._engines[shard] = engine
            while len(self._engines) > ENGINES_KEPT:
                self._engines.popitem(last=False)[1].dispose()
            with engine.connect() as conn, conn.begin():
                yield conn

    def wipe(self) -> None:
        super().wipe()  # deletes the run files: their engines must not outlive them
        self._dispose_engines()

    def dispose(self) -> None:
        super().dispose()
        self._dispose_engines()

    def _dispose_engines(self) -> None:
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()


class SqliteStorage(DagsterSqliteStorage):
    """Dagster's default SQLite storage (same folders under base_dir), with the event log above."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        # Not super().__init__: it would open a second, unused event log storage on the same files.
        self.base_dir = base_dir
        self._run_storage = SqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = EventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(
        cls, inst_data: ConfigurableClassData, config_value: Mapping[str, Any]
    ) -> SqliteStorage:
        return cls.from_local(inst_data=inst_data, **config_value)
