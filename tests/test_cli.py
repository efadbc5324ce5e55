"""The command line's manners (issue 20, "Command line" and "Also found"): --version, a suggestion for a
mistyped command, help for every argument with the defaults the code uses, `summary --format`, a quiet exit
when the reader of the output goes away, DuckDB's error position kept, numbers printed without float noise."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import duckdb
import pytest

from pipelines.cli import build_parser, main
from pipelines.cli.sqlshell import write_rows
from pipelines.cli.summary import print_summary
from pipelines.config import REPO_ROOT, Settings
from pipelines.storage.generations import generation_digest
from pipelines.storage.warehouse import refresh_catalog

TESTS = Path(__file__).resolve().parent
MLCOST = [sys.executable, "-m", "pipelines.cli"]
SIGPIPE_EXIT = 141  # 128 + SIGPIPE, what a shell reports for `yes | head`'s `yes`


# --- a small published warehouse, built the way the pipeline publishes --------------------------------------


@pytest.fixture(scope="module")
def small_home(tmp_path_factory) -> Settings:
    """A lake with one reconciliation row, two categories and 300,000 gpu_samples rows (for the pipe tests).

    | billing period | lines | billed | effective | difference |   | month   | category | effective |
    | 2026-10-01     | 3     | 36.36  | 36.36     | 0.00       |   | 2026-10 | training | 24.24     |
    |                |       |        |           |            |   | 2026-10 | storage  | 12.12     |
    The costs are sums of doubles chosen to leave float noise: 12.12 + 12.12 + 12.12 = 36.36000000000001.
    """
    home = tmp_path_factory.mktemp("small_home")
    settings = Settings(home=home)
    lake = settings.lake
    con = duckdb.connect()
    try:
        for table, partition, sql in (
            (
                "reconciliation",
                "billing_period=2026-10-01",
                "SELECT DATE '2026-10-01' AS billing_period, 'USD' AS billing_currency, 3::BIGINT AS source_lines, "
                "12.12::DOUBLE + 12.12::DOUBLE + 12.12::DOUBLE AS source_billed_cost, "
                "12.12::DOUBLE + 12.12::DOUBLE + 12.12::DOUBLE AS source_effective_cost, 0.0::DOUBLE AS difference, "
                # Computed from no line_items or cost_attribution file: the generation of none (else the
                # warehouse would leave out a reconciliation that names other files).
                f"'{generation_digest({})}' AS generation",
            ),
            (
                "cost_by_category_daily",
                "usage_date=2026-10-31",
                "SELECT * FROM (VALUES (DATE '2026-10-31', 'training', 'USD', 12.12::DOUBLE + 12.12::DOUBLE), "
                "(DATE '2026-10-31', 'storage', 'USD', 12.12::DOUBLE)) "
                "t(usage_date, category, billing_currency, effective_cost)",
            ),
            (
                "gpu_samples",
                "usage_date=2026-10-31",
                "SELECT DATE '2026-10-31' AS usage_date, range AS gpu_index, 50.0::DOUBLE AS value "
                "FROM range(300000)",
            ),
        ):
            folder = lake / table / partition
            folder.mkdir(parents=True)
            con.execute(f"COPY ({sql}) TO '{folder / 'data.parquet'}' (FORMAT parquet)")
    finally:
        con.close()
    refresh_catalog(settings)
    return settings


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCOST_") and k != "DAGSTER_HOME"}
    env.update(MLCOST_HOME=str(home), PYTHONPATH=str(REPO_ROOT))
    return env


# --- --version, suggestions, help ---------------------------------------------------------------------------


def test_version_prints_the_installed_package_version(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"mlcost {version('mlcost')}"


@pytest.mark.parametrize(
    "argv, suggestion",
    [
        (["rnu"], "did you mean 'run'?"),
        (["sumary"], "did you mean 'summary'?"),
        (["rules", "chek"], "did you mean 'check'?"),
        (["docs", "tabels"], "did you mean 'tables'?"),
    ],
)
def test_a_mistyped_command_gets_a_suggestion(argv, suggestion, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert f"invalid choice: '{argv[-1]}'" in err and err.rstrip().endswith(suggestion), err


def test_an_unrelated_word_gets_no_suggestion(capsys):
    with pytest.raises(SystemExit):
        main(["xyzzy"])
    assert "did you mean" not in capsys.readouterr().err


def _parsers(parser: argparse.ArgumentParser, name: str = "mlcost"):
    yield name, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                yield from _parsers(sub, f"{name} {sub_name}")


def test_every_argument_has_help_and_its_default_is_the_one_the_code_uses(monkeypatch):
    monkeypatch.delenv("MLCOST_HOME", raising=False)
    undocumented, wrong_default = [], []
    for name, parser in _parsers(build_parser()):
        formatter = parser._get_formatter()
        for action in parser._actions:
            if isinstance(
                action, argparse._HelpAction | argparse._VersionAction | argparse._SubParsersAction
            ):
                continue
            label = f"{name} {'/'.join(action.option_strings) or action.dest}"
            if not action.help:
                undocumented.append(label)
                continue
            shown = formatter._expand_help(action)
            if action.default not in (None, False) and f"default: {action.default}" not in shown:
                wrong_default.append(f"{label}: {shown}")
    assert undocumented == [] and wrong_default == []
    # Where data/ is: the help names the folder Settings uses when MLCOST_HOME is unset (not ./data).
    home_help = next(a.help for a in _parsers_actions("mlcost sql") if "--home" in a.option_strings)
    assert f"else {Settings.from_env().home})" in home_help


def _parsers_actions(wanted: str):
    for name, parser in _parsers(build_parser()):
        if name == wanted:
            return parser._actions
    raise AssertionError(wanted)


# --- summary --format ---------------------------------------------------------------------------------------


def test_summary_json_and_csv_give_cents_and_whole_counts(small_home, capsys):
    print_summary(small_home, "json")
    data = json.loads(capsys.readouterr().out)
    assert data["billing_periods"] == [
        {
            "billing_period": "2026-10-01",
            "currency": "USD",
            "lines": 3,
            "billed_cost": 36.36,
            "effective_cost": 36.36,
            "difference": 0.0,
        }
    ]
    assert data["effective_cost_by_category"] == [
        {"month": "2026-10", "currency": "USD", "category": "training", "effective_cost": 24.24},
        {"month": "2026-10", "currency": "USD", "category": "storage", "effective_cost": 12.12},
    ]
    print_summary(small_home, "csv")
    rows = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert rows == [
        ["section", "period", "currency", "item", "value"],
        ["billing_period", "2026-10-01", "USD", "lines", "3"],
        ["billing_period", "2026-10-01", "USD", "billed_cost", "36.36"],
        ["billing_period", "2026-10-01", "USD", "effective_cost", "36.36"],
        ["billing_period", "2026-10-01", "USD", "difference", "0.0"],
        ["effective_cost_by_category", "2026-10", "USD", "training", "24.24"],
        ["effective_cost_by_category", "2026-10", "USD", "storage", "12.12"],
    ]


def test_summary_format_is_a_command_line_option(small_home, monkeypatch, capsys):
    monkeypatch.setenv("MLCOST_HOME", str(small_home.home))
    assert main(["summary", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["billing_periods"][0]["lines"] == 3
    assert main(["summary"]) == 0
    assert (
        "2026-10-01     USD               3           36.36           36.36        0.00"
        in capsys.readouterr().out
    )


def test_summary_csv_without_a_warehouse_is_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLCOST_HOME", str(tmp_path / "none"))
    assert main(["summary", "--format", "csv"]) == 2
    assert "no warehouse yet" in capsys.readouterr().err


# --- numbers in mlcost sql --format csv|json ----------------------------------------------------------------


def test_sql_prints_money_without_float_noise_and_counts_as_integers(small_home, monkeypatch, capsys):
    monkeypatch.setenv("MLCOST_HOME", str(small_home.home))
    query = (
        "SELECT source_effective_cost AS money, source_lines AS lines, 29256.0::DOUBLE AS predictions, "
        "0.1::DOUBLE + 0.2::DOUBLE AS ratio, 12.5::DECIMAL(18, 2) AS decimal_money FROM reconciliation"
    )
    # As DuckDB computes them: 36.36000000000001 and 0.30000000000000004.
    assert main(["sql", query, "--format", "csv"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "money,lines,predictions,ratio,decimal_money",
        "36.36,3,29256,0.3,12.5",
    ]
    assert main(["sql", query, "--format", "json"]) == 0
    out = capsys.readouterr().out
    assert json.loads(out) == [
        {"money": 36.36, "lines": 3, "predictions": 29256, "ratio": 0.3, "decimal_money": 12.5}
    ]
    assert "36.36000000000001" not in out and "29256.0" not in out


def test_write_rows_keeps_what_a_double_holds_to_15_digits():
    out = io.StringIO()
    write_rows(["a", "b", "c"], [(1234567.891234567, 1e-7, float("nan"))], "json", out)
    assert json.loads(out.getvalue()) == [{"a": 1234567.89123457, "b": 1e-07, "c": None}]


# --- DuckDB's error position --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query, expected",
    [
        (
            "SELECT * FRM reconciliation",
            'syntax error at or near "reconciliation" (LINE 1, column 14: SELECT * FRM reconciliation)',
        ),
        (
            "SELECT billing_period,\n       source_lines +\nFROM reconciliation",
            'syntax error at or near "FROM" (LINE 3, column 1: FROM reconciliation)',
        ),
        (
            "SELECT " + "source_lines, " * 20 + "nope( FROM reconciliation",
            "(LINE 1, column 294: SELECT source_lines, ",
        ),
    ],
)
def test_sql_errors_keep_the_position_on_one_line(small_home, monkeypatch, capsys, query, expected):
    monkeypatch.setenv("MLCOST_HOME", str(small_home.home))
    assert main(["sql", query]) == 2
    err = capsys.readouterr().err
    assert expected in err and len(err.strip().splitlines()) == 1, err


# --- a reader that goes away --------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_sql_into_a_closed_pipe_exits_quietly(small_home, fmt):
    """`mlcost sql ... | head -1`: the first line arrives, then the pipe closes; no traceback, exit 141."""
    proc = subprocess.Popen(
        [*MLCOST, "sql", "SELECT * FROM gpu_samples", "--format", fmt],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(small_home.home),
        cwd=TESTS,
    )
    first = proc.stdout.readline()
    proc.stdout.close()  # as head does after its line: 300,000 rows cannot fit in the pipe's buffer
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == SIGPIPE_EXIT
    assert first.strip() in (b"usage_date,gpu_index,value", b"[")
    assert err == ""


def test_run_into_a_closed_pipe_exits_quietly(tmp_path):
    """`mlcost run | head -1` where head is gone before the run prints: the run publishes, then stops quietly."""
    from tests.corpus import bad_inputs as corpus

    source = corpus.baseline(tmp_path / "corpus")
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **_env(tmp_path / "home"),
        "DAGSTER_HOME": str(dagster_home),
        "MLCOST_PARTITION_START": "2026-10-01",
    }
    with open(tmp_path / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(
            [*MLCOST, "run", "--cur-source", str(source), "--from", "2026-10"],
            stdout=subprocess.PIPE,
            stderr=err,
            env=env,
            cwd=REPO_ROOT,
        )
        proc.stdout.close()
        status = proc.wait(timeout=600)
    stderr = (tmp_path / "stderr.txt").read_text()
    assert status == SIGPIPE_EXIT, stderr[-3000:]
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr
    assert (tmp_path / "home" / "warehouse.duckdb").exists()


def test_run_to_before_the_sources_first_period_is_one_line(tmp_path, monkeypatch, capsys):
    """`--to` without `--from` counts from the source's first period; before it, nothing runs."""
    from tests.corpus import bad_inputs as corpus

    source = corpus.baseline(tmp_path / "corpus")  # one delivery: October 2026
    monkeypatch.setenv("MLCOST_HOME", str(tmp_path / "home"))
    assert main(["run", "--cur-source", str(source), "--to", "2026-09"]) == 2
    assert capsys.readouterr().err.strip() == (
        "mlcost: error: --to: 2026-09 is before the first billing period in the source"
    )
    assert not (tmp_path / "home" / "lake").exists()
