"""Progress of long work: live on a terminal (a pseudo-terminal here, from Python's `pty`), one plain line per step
when stdout is a pipe.

What each command must print for its steps, when not on a terminal:

| command                                   | steps (one line each)                                  |
|-------------------------------------------|--------------------------------------------------------|
| `mlcost fixtures --lines 300000`          | `fixtures 2026-10: file 1 of 1 (...)`, 300,000 rows    |
| `mlcost run --from 2026-10` (bill only)   | every Dagster step of its three runs, in the order they |
|                                           | ran; `line_items` with 15,773 rows (the model company's |
|                                           | 2026-10 lines, printed by `mlcost fixtures`)            |
"""

from __future__ import annotations

import io
import os
import pty
import re
import subprocess
import sys
from pathlib import Path

import pytest
from test_examples import company_fixtures

from pipelines.progress import Progress

REPO = Path(__file__).resolve().parents[1]
ANSI = re.compile(r"\x1b\[")
CLOCK = re.compile(r"\d:\d\d:\d\d")  # rich's elapsed-time column, h:mm:ss
STEP_LINE = re.compile(r"^(?P<label>.+): (?P<status>done|FAILED) in \d+\.\d s(?:, (?P<rows>[\d,]+) rows)?$")


def run_on_terminal(argv: list[str], env: dict) -> tuple[int, str]:
    """Run `argv` with stdout and stderr on a pseudo-terminal; return its exit status and everything it drew."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(argv, env=env, cwd=REPO, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(), b"".join(chunks).decode("utf-8", errors="replace")


def run_piped(argv: list[str], env: dict) -> tuple[int, str, str]:
    done = subprocess.run(argv, env=env, cwd=REPO, capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


def plain(text: str) -> None:
    assert "\r" not in text, "a carriage return in output that is not a terminal"
    assert not ANSI.search(text), "an escape code in output that is not a terminal"


# --- the module itself --------------------------------------------------------------------------------------


def test_off_a_terminal_each_step_is_one_line_when_it_ends():
    out = io.StringIO()  # not a terminal: isatty() is False
    progress = Progress(stream=out)
    progress.start("a", "ingest_billing [12345678] line_items")
    progress.rows("a", 1_000)
    progress.rows("a", 15_773)
    assert out.getvalue() == ""  # nothing while the step runs
    progress.start("b", "daily_tables [9abcdef0] cost_report")
    progress.finish("a")
    progress.finish("b", ok=False)
    progress.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (STEP_LINE.match(line) for line in lines)
    assert (first["label"], first["status"], first["rows"]) == (
        "ingest_billing [12345678] line_items",
        "done",
        "15,773",
    )
    assert (second["label"], second["status"], second["rows"]) == (
        "daily_tables [9abcdef0] cost_report",
        "FAILED",
        None,
    )
    plain(out.getvalue())


def test_a_reader_gone_away_does_not_stop_the_steps_only_the_command_at_the_end():
    class ClosedPipe(io.StringIO):
        def write(self, text):
            raise BrokenPipeError

    progress = Progress(stream=ClosedPipe())
    progress.start("a", "ingest_billing [12345678] line_items")
    progress.finish("a")  # inside a Dagster step's event handling: must not raise
    progress.start("b", "daily_tables [12345678] cost_attribution")
    progress.finish("b")
    with pytest.raises(BrokenPipeError):
        progress.close()  # outside Dagster: the command stops as `mlcost run | head` expects


def test_on_a_terminal_the_running_step_is_drawn_with_its_rows_and_clock():
    code = (
        "from pipelines.progress import Progress\n"
        "with Progress() as p:\n"
        "    p.start('s', 'daily_tables [abcdef01] cost_attribution')\n"
        "    p.rows('s', 123456)\n"
        "    p.finish('s')\n"
    )
    status, drawn = run_on_terminal([sys.executable, "-c", code], {**os.environ, "COLUMNS": "160"})
    assert status == 0, drawn
    assert ANSI.search(drawn)  # drawn in place
    assert "123,456 rows" in drawn  # the rows so far, while the step ran
    assert CLOCK.search(drawn)
    assert re.search(r"daily_tables \[abcdef01\] cost_attribution: done in \d+\.\d s, 123,456 rows", drawn)


# --- the commands -------------------------------------------------------------------------------------------


def test_fixtures_at_scale_off_and_on_a_terminal(tmp_path):
    argv = [sys.executable, "-m", "pipelines.cli", "fixtures", "--lines", "300000"]
    env = {**os.environ, "COLUMNS": "200"}
    status, out, err = run_piped([*argv, "--out", str(tmp_path / "piped")], env)
    assert status == 0, err
    plain(out)
    lines = out.splitlines()
    steps = [m for m in map(STEP_LINE.match, lines) if m]
    assert len(steps) == 1
    assert steps[0]["label"] == "fixtures 2026-10: file 1 of 1 (mlcost-cur2-00001.snappy.parquet)"
    assert steps[0]["rows"] == "300,000"
    assert lines[1].startswith("fixtures written to ")

    status, drawn = run_on_terminal([*argv, "--out", str(tmp_path / "tty")], env)
    assert status == 0, drawn
    assert ANSI.search(drawn)
    assert CLOCK.search(drawn)
    assert "fixtures 2026-10: file 1 of 1" in drawn
    assert re.search(r"\d[\d,]* rows", drawn)


@pytest.fixture(scope="module")
def bill(tmp_path_factory) -> Path:
    fixtures, _answers = company_fixtures(tmp_path_factory)
    return fixtures / "cur2"


def _run_env(home: Path, bill: Path) -> dict:
    return {
        **os.environ,
        "MLCOST_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster_home"),
        "MLCOST_CUR_SOURCE": str(bill),
        "COLUMNS": "200",
    }


def _steps_of_runs(dagster_home: Path, run_ids: list[str]) -> list[tuple[str, str, str]]:
    """(job, run id, step key) of every step the runs executed, in start order, from the Dagster instance."""
    code = (
        "import json, sys\n"
        "from dagster import DagsterInstance\n"
        "instance = DagsterInstance.get()\n"
        "out = []\n"
        "for run_id in sys.argv[1:]:\n"
        "    run = instance.get_run_by_id(run_id)\n"
        "    stats = sorted(instance.get_run_step_stats(run_id), key=lambda s: s.start_time)\n"
        "    out += [(run.job_name, run_id, s.step_key, s.status.value) for s in stats]\n"
        "print(json.dumps(out))\n"
    )
    import json

    done = subprocess.run(
        [sys.executable, "-c", code, *run_ids],
        env={**os.environ, "DAGSTER_HOME": str(dagster_home)},
        capture_output=True,
        text=True,
        check=True,
    )
    return [tuple(step) for step in json.loads(done.stdout)]


def test_run_off_a_terminal_prints_exactly_one_line_per_dagster_step(tmp_path, bill):
    home = tmp_path / "home"
    status, out, err = run_piped(
        [sys.executable, "-m", "pipelines.cli", "run", "--from", "2026-10"], _run_env(home, bill)
    )
    assert status == 0, err
    plain(out)
    lines = out.splitlines()
    summary = next(i for i, line in enumerate(lines) if line.startswith("mlcost run: "))
    run_ids = dict(re.findall(r"(\w+)=([0-9a-f]{8})", lines[summary]))
    steps = _steps_of_runs(home / "dagster_home", list(_full_run_ids(home, run_ids)))
    assert steps and all(status == "SUCCESS" for *_, status in steps)
    # Every line before the summary is a step's, and every step has exactly one, in the order they ran.
    printed = [STEP_LINE.match(line) for line in lines[:summary]]
    assert all(printed), lines[:summary]
    assert [m["label"] for m in printed] == [f"{job} [{run_id[:8]}] {step}" for job, run_id, step, _ in steps]
    rows = {m["label"].split()[-1]: m["rows"] for m in printed}
    assert rows["line_items"] == "15,773"
    assert {job for job, *_ in steps} == {"ingest_billing", "daily_tables", "monthly_reconciliation"}


def _full_run_ids(home: Path, short: dict[str, str]) -> list[str]:
    """The runs' full ids (the summary line prints their first 8 characters)."""
    code = (
        "import sys\n"
        "from dagster import DagsterInstance\n"
        "for run in DagsterInstance.get().get_runs():\n"
        "    print(run.run_id)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "DAGSTER_HOME": str(home / "dagster_home")},
        capture_output=True,
        text=True,
        check=True,
    )
    every = done.stdout.split()
    return [next(r for r in every if r.startswith(prefix)) for prefix in short.values()]


def test_run_on_a_terminal_shows_the_steps_live(tmp_path, bill):
    home = tmp_path / "home"
    status, drawn = run_on_terminal(
        [sys.executable, "-m", "pipelines.cli", "run", "--from", "2026-10"], _run_env(home, bill)
    )
    assert status == 0, drawn
    assert ANSI.search(drawn)  # redrawn in place
    assert CLOCK.search(drawn)  # the running step's elapsed time
    assert re.search(r"ingest_billing \[[0-9a-f]{8}\] line_items: done in \d+\.\d s, 15,773 rows", drawn)
    assert re.search(r"daily_tables \[[0-9a-f]{8}\] cost_attribution", drawn)
    assert "15,773 rows" in drawn
    assert "mlcost run: 2026-10 in " in drawn
