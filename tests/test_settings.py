"""Settings: every MLCOST_* variable the code reads is a validated Settings field, documented in the README; a bad
value stops `mlcost run` before anything is written, with one line naming the variable, the value and what is
accepted (issue 21)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import fields
from datetime import date, datetime
from pathlib import Path

import pytest

from pipelines.config import Settings, SettingsError, environment_variables
from pipelines.errors import InputError
from pipelines.orchestration.resources import MlcostResource
from tests.conftest import REPO
from tests.corpus import bad_inputs as corpus

# variable, bad value, the words of its line after "is not accepted": (why): expected <what is accepted>
BAD_VALUES = [
    ("MLCOST_HISTORY_VERSIONS", "abc", "(not an integer): expected an integer ≥ 0"),
    ("MLCOST_HISTORY_VERSIONS", "-2", "(negative): expected an integer ≥ 0"),
    ("MLCOST_DUCKDB_THREADS", "-1", "(below 1): expected an integer ≥ 1"),
    ("MLCOST_DUCKDB_THREADS", "two", "(not an integer): expected an integer ≥ 1"),
    (
        "MLCOST_PARTITION_START",
        "notadate",
        "(not YYYY-MM or YYYY-MM-01): expected a month YYYY-MM or its first",
    ),
    ("MLCOST_PARTITION_START", "2026-01-15", "(not YYYY-MM or YYYY-MM-01): expected a month YYYY-MM or its"),
    ("MLCOST_PARTITION_START", "2999-01", "(after the current month): expected a month YYYY-MM or its first"),
    ("MLCOST_DUCKDB_MEMORY_LIMIT", "lots", "(not a memory size): expected a DuckDB memory size such as 2GB"),
    ("MLCOST_ETA_BASIS", "foo", "(unknown basis): expected observed or allocated"),
    ("MLCOST_GPU_TIMEZONE", "Mars/Base", "(unknown zone): expected an IANA time zone name"),
    ("MLCOST_GPU_TIMEZONE", "../../etc/passwd", "(unknown zone): expected an IANA time zone name"),
    (
        "MLCOST_PREDICTIONS_PER_INVOCATION",
        "bad",
        "('bad' is not endpoint=positive number): expected endpoint=",
    ),
    ("MLCOST_RULES", "/missing", "(no such file): expected the path of an existing file"),
    ("MLCOST_ENDPOINT_MAP", "/missing.csv", "(no such file): expected the path of an existing file"),
    ("MLCOST_S3_ENDPOINT_URL", "localhost:9000", "(not a URL): expected an http:// or https:// URL"),
    ("MLCOST_CUR_SOURCE", "s3://", "(no bucket): expected an existing file, a glob, a folder or s3://"),
    ("MLCOST_POD_WORKLOADS", "/missing.csv", "(no such file): expected a CSV namespace,pod,workload"),
]


@pytest.fixture(scope="module")
def small_bill(tmp_path_factory) -> Path:
    """A legacy CUR CSV of one day of 2026-10 (three instances, two-hour lines) that a good run publishes."""
    rows = [
        corpus.cur1_row(datetime(2026, 10, 1, hour), 0.5, resource=resource, hours=2)
        for hour in range(0, 24, 2)
        for resource in ("i-0a", "i-0b")
    ]
    return corpus.write_csv(tmp_path_factory.mktemp("bill") / "cur-2026-10.csv", corpus.CUR1_HEADER, rows)


def _run(tmp_path: Path, bill: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MLCOST_")}
    environment.update(
        MLCOST_HOME=str(tmp_path / "home"),
        DAGSTER_HOME=str(tmp_path / "dagster"),
        MLCOST_CUR_SOURCE=str(bill),
    )
    environment.update(env)
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run"],
        capture_output=True, text=True, env=environment, cwd=REPO, timeout=600,
    )  # fmt: skip


def _lake_files(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "home" / "lake").rglob("*") if p.is_file())


@pytest.mark.parametrize(("variable", "value", "accepted"), BAD_VALUES, ids=lambda v: str(v)[:24])
def test_a_bad_setting_stops_the_run_before_anything_is_written(
    tmp_path, small_bill, variable, value, accepted
):
    result = _run(tmp_path, small_bill, **{variable: value})
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"mlcost: error: {variable}={value!r} is not accepted {accepted}"), lines[0]
    assert "Traceback" not in result.stderr
    assert _lake_files(tmp_path) == []
    assert not (tmp_path / "dagster").exists()  # not even the Dagster instance was created


def test_every_bad_setting_is_named_at_once_one_line_each(tmp_path, small_bill):
    bad = {
        "MLCOST_HISTORY_VERSIONS": "abc",
        "MLCOST_DUCKDB_THREADS": "-1",
        "MLCOST_PARTITION_START": "notadate",
        "MLCOST_DUCKDB_MEMORY_LIMIT": "lots",
        "MLCOST_ETA_BASIS": "foo",
        "MLCOST_GPU_TIMEZONE": "Mars/Base",
        "MLCOST_PREDICTIONS_PER_INVOCATION": "bad",
        "MLCOST_RULES": "/missing",
    }
    result = _run(tmp_path, small_bill, **bad)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == len(bad), result.stderr
    named = sorted(line.removeprefix("mlcost: error: ").partition("=")[0] for line in lines)
    assert named == sorted(bad)
    assert _lake_files(tmp_path) == []


def test_the_same_run_with_good_settings_publishes(tmp_path, small_bill):
    """The control of the tests above: the bill they run is good, so only the setting stopped them."""
    rules = tmp_path / "rules.yaml"
    rules.write_text((REPO / "pipelines" / "attribution" / "default_rules.yaml").read_text())
    result = _run(
        tmp_path,
        small_bill,
        MLCOST_HISTORY_VERSIONS="0",
        MLCOST_DUCKDB_THREADS="1",
        MLCOST_DUCKDB_MEMORY_LIMIT="512MiB",
        MLCOST_ETA_BASIS="allocated",
        MLCOST_GPU_TIMEZONE="America/New_York",
        MLCOST_PREDICTIONS_PER_INVOCATION="fraud=4",
        MLCOST_RULES=str(rules),
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "home" / "lake" / "line_items" / "billing_period=2026-10-01" / "data.parquet").exists()


def test_values_are_parsed_to_their_types():
    settings = Settings.from_env(
        {
            "MLCOST_HOME": "/tmp/mlcost-settings-test",
            "MLCOST_HISTORY_VERSIONS": " 7 ",
            "MLCOST_DUCKDB_THREADS": "3",
            "MLCOST_PARTITION_START": "2018-10",
            "MLCOST_GPU_TIMEZONE": "Europe/Paris",
            "MLCOST_ETA_BASIS": "",  # blank: the default
        }
    )
    assert (settings.history_versions, settings.duckdb_threads) == (7, 3)
    assert settings.partition_start == date(2018, 10, 1)
    assert Settings.from_env({"MLCOST_PARTITION_START": "2018-10-01"}).partition_start == date(2018, 10, 1)
    assert (settings.gpu_timezone, settings.eta_basis) == ("Europe/Paris", "observed")
    assert settings.home == Path("/tmp/mlcost-settings-test")
    # The constructor checks what it is given as the environment's values are checked.
    with pytest.raises(SettingsError, match=r"^MLCOST_ETA_BASIS='foo' is not accepted"):
        Settings(home=Path("/tmp"), eta_basis="foo")
    assert isinstance(SettingsError(["x"]), InputError)


def test_every_environment_variable_the_code_reads_is_a_setting_and_documented():
    code = "\n".join(p.read_text() for p in (REPO / "pipelines").rglob("*.py"))
    used = set(re.findall(r"\b(MLCOST_[A-Z0-9_]+[A-Z0-9])\b", code))
    settings = set(environment_variables().values())
    assert "MLCOST_PARTITION_START" in used and "MLCOST_HOME" in used, (
        "the pattern finds nothing: it is wrong"
    )
    assert sorted(used - settings) == []
    readme = (REPO / "README.md").read_text()
    table = set(re.findall(r"^\| `(MLCOST_[A-Z0-9_]+)`(?:, `(MLCOST_[A-Z0-9_]+)`)? \|", readme, re.MULTILINE))
    documented = {name for row in table for name in row if name}
    assert sorted(settings - documented) == []


def test_only_config_reads_mlcost_variables_and_nothing_reads_them_at_import(tmp_path):
    """Environment reads of MLCOST_* live in Settings.from_env; importing the code location's modules with every
    variable set to garbage must not fail (the partitions' start used to be read at import)."""
    for path in (REPO / "pipelines").rglob("*.py"):
        if path.name == "config.py":
            continue
        text = path.read_text()
        assert not re.search(r"(environ\.get|getenv|environ\[)\(?\s*[\"']MLCOST_", text), path
    garbage = {name: "garbage" for name in environment_variables().values()}
    environment = {**os.environ, **garbage}
    code = "import pipelines.orchestration.code_location, pipelines.orchestration.partitions as p; print(p.days.start.date())"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=environment, cwd=REPO, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "2000-01-01"


def test_the_dagster_resource_carries_every_setting():
    """A field added to Settings must be added to MlcostResource too, or the assets would not see it."""
    assert {f.name for f in fields(Settings)} <= set(MlcostResource.model_fields)
    settings = Settings(home=Path("/tmp/x"), partition_start="2018-10", history_versions=3)
    assert MlcostResource.from_settings(settings).settings() == settings


def test_batching_is_parsed_and_bad_values_are_refused(tmp_path):
    settings = Settings(home=tmp_path, predictions_per_invocation="fraud=4, chat = 2.5")
    assert settings.batching() == {"fraud": 4.0, "chat": 2.5}
    for bad in ("fraud", "fraud=x", "fraud=0", "=3"):
        with pytest.raises(InputError, match="MLCOST_PREDICTIONS_PER_INVOCATION"):
            Settings(home=tmp_path, predictions_per_invocation=bad).batching()


def test_rules_check_without_a_file_checks_mlcost_rules(tmp_path):
    """It used to check the shipped defaults whatever MLCOST_RULES said."""
    rules = tmp_path / "my_rules.yaml"
    rules.write_text(
        "rules:\n  - id: gpu\n    priority: 10\n    category: training\n    match: {usage_type: 'GPU'}\n"
        "workload:\n  tag_keys: [model]\n"
    )
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MLCOST_")}
    check = [sys.executable, "-m", "pipelines.cli", "rules", "check"]
    good = subprocess.run(
        check, capture_output=True, text=True, env={**environment, "MLCOST_RULES": str(rules)}
    )
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith(f"{rules}: 1 rules, workload tags ['model']"), good.stdout
    rules.write_text("rules:\n  - id: gpu\n    category: nonsense\n")
    bad = subprocess.run(
        check, capture_output=True, text=True, env={**environment, "MLCOST_RULES": str(rules)}
    )
    assert bad.returncode == 2
    assert bad.stderr.startswith(f"mlcost: error: {rules}: "), bad.stderr
    # The file argument still wins over the variable.
    default = REPO / "pipelines" / "attribution" / "default_rules.yaml"
    given = subprocess.run(
        [*check, str(default)],
        capture_output=True,
        text=True,
        env={**environment, "MLCOST_RULES": str(rules)},
    )
    assert given.returncode == 0 and given.stdout.startswith(f"{default}: "), given.stderr


def test_a_bad_pod_workloads_file_stops_the_run_naming_its_line_and_column(tmp_path, small_bill):
    pods = tmp_path / "pod_workloads.csv"
    pods.write_text("namespace,pod,workload,gpu_fraction\nteam-x,trainer-*,llm,\nteam-z,chat-*,chat,1.5\n")
    result = _run(tmp_path, small_bill, MLCOST_POD_WORKLOADS=str(pods))
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"mlcost: error: MLCOST_POD_WORKLOADS={str(pods)!r} is not accepted ({pods}, line 3, column 'gpu_fraction':"
        " gpu_fraction '1.5' is not a share of one GPU: expected a number in (0, 1] (0.5 for half a GPU), or empty"
        " for a whole GPU): expected a CSV namespace,pod,workload[,gpu_fraction] (docs/gpu.md, Kubernetes)"
    ]
    assert _lake_files(tmp_path) == []
