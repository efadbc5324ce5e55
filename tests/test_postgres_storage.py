"""Dagster's run history in a real Postgres (MLCOST_DAGSTER_STORAGE), the production setting.

The test starts Debian's PostgreSQL 15 (`initdb`, `pg_ctl`; CI installs the `postgresql` package: .ci/run) in a
temporary folder on a loopback port, runs `mlcost run` on a small CUR delivery against it, and reads the runs
back from Postgres's own `runs` table. Without a Postgres binary it skips, saying which paths it looked in.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import yaml

from pipelines.errors import InputError
from pipelines.orchestration.instance_config import psycopg2_url, write_instance_config

REPO_ROOT = Path(__file__).resolve().parent.parent
SEARCHED = ["$PATH", "/usr/local/bin", "/usr/lib/postgresql/*/bin"]


def _postgres_bin() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres (PATH first, then Debian's package folders)."""
    found = shutil.which("pg_ctl")
    candidates = [Path(found).parent] if found else []
    candidates += [
        Path("/usr/local/bin"),
        *map(Path, sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)),
    ]
    for folder in candidates:
        if all((folder / name).exists() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def postgres_url():
    folder = _postgres_bin()
    if folder is None:
        pytest.skip(f"no PostgreSQL binaries (initdb, pg_ctl, postgres) in {', '.join(SEARCHED)}")
    # Postgres refuses to run as root: as root, run it as the package's `postgres` user (or nobody).
    prefix: list[str] = []
    owner = None
    if os.geteuid() == 0:
        import pwd

        user = next((u for u in ("postgres", "nobody") if _user_exists(pwd, u)), None)
        if user is None or shutil.which("runuser") is None:
            pytest.skip("running as root without a `postgres` user or runuser to start PostgreSQL as")
        prefix, owner = ["runuser", "-u", user, "--"], pwd.getpwnam(user)
    root = Path(tempfile.mkdtemp(prefix="mlcost-pg-"))
    data = root / "data"
    data.mkdir()
    if owner is not None:
        for path in (root, data):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    run = lambda *args: subprocess.run([*prefix, *args], check=True, capture_output=True, text=True)  # noqa: E731
    run(str(folder / "initdb"), "-D", str(data), "-U", "mlcost", "--auth=trust", "--no-sync", "-E", "UTF8")
    port = _free_port()
    options = f"-h 127.0.0.1 -p {port} -k {root} -c fsync=off"
    run(str(folder / "pg_ctl"), "-D", str(data), "-l", str(root / "log"), "-o", options, "-w", "start")
    try:
        yield f"postgresql://mlcost@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*prefix, str(folder / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], check=False
        )
        shutil.rmtree(root, ignore_errors=True)


def _user_exists(pwd, name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def test_mlcost_run_records_its_runs_in_postgres(tmp_path, postgres_url):
    import sqlalchemy

    from tests.corpus import bad_inputs as corpus

    source = corpus.baseline(tmp_path / "corpus")  # October 2026: 10 hourly lines of 1.25 USD
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCOST_") and k != "DAGSTER_HOME"}
    env.update(
        MLCOST_HOME=str(tmp_path / "home"),
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
        MLCOST_PARTITION_START="2026-10",
        MLCOST_DAGSTER_STORAGE=postgres_url,
        PYTHONPATH=str(REPO_ROOT),
    )
    result = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--cur-source", str(source), "--from", "2026-10"],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO_ROOT,
        timeout=900,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    config = yaml.safe_load((tmp_path / "dagster_home" / "dagster.yaml").read_text())
    assert config["storage"] == {"postgres": {"postgres_url": psycopg2_url(postgres_url)}}
    assert (
        tmp_path / "dagster_home" / "dagster.yaml"
    ).stat().st_mode & 0o077 == 0  # the URL may hold a password
    # No SQLite run history was written beside it.
    assert not (tmp_path / "dagster_home" / "history").exists()
    engine = sqlalchemy.create_engine(psycopg2_url(postgres_url))
    with engine.connect() as conn:
        runs = conn.execute(
            sqlalchemy.text("SELECT pipeline_name, status FROM runs ORDER BY create_timestamp")
        )
        rows = [tuple(r) for r in runs]
        materialized = conn.execute(
            sqlalchemy.text(
                "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' "
                "AND asset_key = :key"
            ),
            {"key": '["line_items"]'},
        ).scalar_one()
    engine.dispose()
    # The three runs of `mlcost run`, in order, all successful (docs/operations.md).
    assert rows == [
        ("ingest_billing", "SUCCESS"),
        ("daily_tables", "SUCCESS"),
        ("monthly_reconciliation", "SUCCESS"),
    ]
    assert materialized == 1  # line_items, billing period 2026-10


def test_a_storage_in_dagster_yaml_and_the_setting_together_are_refused(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("run_storage:\n  module: m\n  class: C\n")
    with pytest.raises(InputError, match=r"dagster.yaml.*run_storage.*MLCOST_DAGSTER_STORAGE"):
        write_instance_config(home, "postgresql://u@db:5432/dagster")


def test_the_setting_switches_mlcosts_sqlite_storage_to_postgres(tmp_path):
    home = tmp_path / "dagster_home"
    sqlite = yaml.safe_load(write_instance_config(home).read_text())["storage"]
    assert sqlite["custom"]["class"] == "SqliteStorage"
    url = "postgresql://u:secret@db:5432/dagster"
    # psycopg2 named as the driver: SQLAlchemy 2.1 would otherwise look for psycopg 3, which is not installed.
    assert yaml.safe_load(write_instance_config(home, url).read_text())["storage"] == {
        "postgres": {"postgres_url": "postgresql+psycopg2://u:secret@db:5432/dagster"}
    }
    # A new URL replaces the block; unsetting the setting keeps it: the run history never moves silently.
    other = "postgresql://u@db2:5432/dagster"
    moved = {"postgres_url": "postgresql+psycopg2://u@db2:5432/dagster"}
    assert yaml.safe_load(write_instance_config(home, other).read_text())["storage"]["postgres"] == moved
    assert yaml.safe_load(write_instance_config(home).read_text())["storage"]["postgres"] == moved


def test_an_operators_postgres_block_stays_when_the_setting_is_unset(tmp_path):
    home = tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("storage:\n  postgres:\n    postgres_url:\n      env: PG_URL\n")
    doc = yaml.safe_load(write_instance_config(home).read_text())
    assert doc["storage"] == {"postgres": {"postgres_url": {"env": "PG_URL"}}}
