"""Issue #9's corpus of bad inputs (tests/corpus/bad_inputs.py): each loads correctly, or stops its billing
period with one message naming the file, the line or column and the problem, and published data stays byte for
byte as it was.
"""

from __future__ import annotations

import hashlib
import logging
import os
import random
import subprocess
import sys
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest

from pipelines.attribution.compute import attribute, reconcile, summarize_by_category
from pipelines.attribution.rules import load_rules, with_strategy
from pipelines.billing.deliveries import discover_deliveries
from pipelines.billing.ingest import ingest_deliveries
from pipelines.errors import InputError
from pipelines.gpu.samples import read_gpu_samples
from pipelines.predictions import read_predictions
from pipelines.storage import lake
from pipelines.storage.warehouse import refresh_catalog
from tests.conftest import REPO
from tests.corpus import bad_inputs as corpus

OCTOBER = (date(2026, 10, 1), date(2026, 10, 31))


def ingest(con, settings, source: Path) -> dict:
    """Discover and ingest a source the way the line_items asset does (manifests decide the files)."""
    deliveries = discover_deliveries(str(source), staging_dir=settings.staging)
    return ingest_deliveries(con, settings, deliveries)


def lake_digests(settings) -> dict[str, str]:
    """sha256 of every file under the lake (data and delivery records), by relative path."""
    return {
        str(p.relative_to(settings.lake)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(settings.lake.rglob("*"))
        if p.is_file()
    }


def rows(con, query: str, params=None) -> list[tuple]:
    return con.execute(query, params).fetchall()


# --- refused: one message, nothing published ----------------------------------------------------------------


@pytest.mark.parametrize("name", corpus.REFUSED)
def test_refused_input_names_file_and_problem_and_changes_nothing(tmp_path, settings, con, name):
    case = corpus.BUILDERS[name](tmp_path / "corpus")
    ingest(con, settings, case.before or corpus.baseline(tmp_path / "corpus"))
    before = lake_digests(settings)
    assert any(path.endswith("data.parquet") for path in before)

    with pytest.raises(InputError) as info:
        ingest(con, settings, case.source)

    error = info.value
    message = str(error)
    assert error.path == str(case.names.resolve()) or error.path == str(case.names), message
    for fragment in case.says:
        assert fragment in message, message
    assert error.column == case.column
    assert error.line == case.line
    assert "\n" not in message  # one line, as the command line prints it
    assert lake_digests(settings) == before
    assert not list(settings.tmp.glob("write-*"))


def test_a_key_outside_the_export_is_never_read(tmp_path, settings, con):
    case = corpus.manifest_key_outside_prefix(tmp_path)
    secret = case.source / "elsewhere" / "secrets.csv"
    atime = secret.stat().st_atime_ns
    with pytest.raises(InputError):
        ingest(con, settings, case.source)
    assert secret.stat().st_atime_ns == atime
    assert not settings.lake.exists() or not lake.has_data(settings, "line_items")


def test_the_month_is_refused_whole_not_the_bad_line_dropped(tmp_path, settings, con):
    """A bad value in one line stops the period: loading the other lines would publish a wrong total."""
    case = corpus.text_in_cost_column(tmp_path)
    with pytest.raises(InputError):
        ingest(con, settings, case.source)
    assert not lake.has_data(settings, "line_items")


def test_lines_alike_only_in_loaded_columns_are_not_repeats(tmp_path, settings, con):
    """Two parts may hold lines equal in every loaded column that differ in one the pipeline does not load
    (here a rate id): those are different lines, and both load."""
    header = [*corpus.CUR1_HEADER, "pricing/RateId"]
    line = corpus.hourly_rows(1)[0]
    folder = tmp_path / "alike"
    for part, rate in (("1", "rate-a"), ("2", "rate-b")):
        corpus.write_csv(folder / corpus.REPORT / corpus.PERIOD_FOLDER / "asm-1" / f"r-{part}.csv", header,
                         [[*line, rate]])  # fmt: skip
    keys = [f"{corpus.PREFIX}/{corpus.REPORT}/{corpus.PERIOD_FOLDER}/asm-1/r-{n}.csv" for n in "12"]
    corpus.write_legacy_manifest(folder, keys, assembly="asm-1")
    written = ingest(con, settings, folder)
    assert written["2026-10-01"]["rows"] == 2
    assert written["2026-10-01"]["currencies"]["USD"]["billed_cost"] == pytest.approx(2.50)


def test_parquet_parts_with_lines_alike_but_distinct_identities_load(tmp_path, settings, con):
    """In CUR Parquet the line identity tells apart lines that are equal in every other column."""
    base = tmp_path / "ids" / corpus.REPORT / corpus.PERIOD_FOLDER / "asm-1"
    parts = [
        corpus.identified_parquet(base / "r-1.snappy.parquet", [(f"L{i}", i) for i in range(6)]),
        corpus.identified_parquet(base / "r-2.snappy.parquet", [(f"M{i}", i) for i in range(6)]),
    ]
    keys = [f"{corpus.PREFIX}/{p.relative_to(tmp_path / 'ids').as_posix()}" for p in parts]
    corpus.write_legacy_manifest(tmp_path / "ids", keys, assembly="asm-1")
    written = ingest(con, settings, tmp_path / "ids")
    assert written["2026-10-01"]["rows"] == 12
    assert written["2026-10-01"]["currencies"]["USD"]["billed_cost"] == pytest.approx(15.00)


# --- loaded: unusual but valid input keeps every dollar -----------------------------------------------------


def _attribute_october(con, settings, rules=None):
    rules = rules or load_rules()
    attribute(con, settings, rules, *OCTOBER)
    summarize_by_category(con, settings, *OCTOBER)
    return reconcile(con, settings, date(2026, 10, 1), date(2026, 10, 1))


def test_negative_usage_quantities_load_and_keep_their_dollars(tmp_path, settings, con):
    case = corpus.negative_usage(tmp_path)
    written = ingest(con, settings, case.source)
    assert written["2026-10-01"]["rows"] == case.notes["rows"]
    assert written["2026-10-01"]["currencies"]["USD"]["billed_cost"] == pytest.approx(case.notes["billed"])
    lake.register_views(con, settings, ["line_items"])
    assert rows(con, "SELECT usage_quantity, billed_cost FROM line_items WHERE usage_quantity < 0") == [
        (-1.0, -1.25)
    ]
    [recon] = _attribute_october(con, settings)
    assert recon["source_effective_cost"] == pytest.approx(2.50, abs=1e-9)
    assert recon["difference"] == pytest.approx(0, abs=1e-9)
    lake.register_views(con, settings, ["cost_attribution"])
    # The correction stays on its own line and day, with its own sign: nothing is netted away or dropped.
    assert rows(
        con,
        "SELECT usage_date, usage_quantity, effective_cost FROM cost_attribution WHERE usage_quantity < 0",
    ) == [(date(2026, 10, 3), -1.0, -1.25)]


def test_two_currencies_are_never_summed_together(tmp_path, settings, con):
    case = corpus.two_currencies(tmp_path)
    written = ingest(con, settings, case.source)
    totals = {c: m["billed_cost"] for c, m in written["2026-10-01"]["currencies"].items()}
    assert totals == {"USD": pytest.approx(5.00), "EUR": pytest.approx(6.75)}

    # Spread the EUR tax proportionally: it may only land on EUR lines.
    recon = _attribute_october(con, settings, with_strategy(load_rules(), "proportional"))
    assert {
        (r["billing_currency"], round(r["source_effective_cost"], 2), round(r["difference"], 9))
        for r in recon
    } == {
        ("USD", 5.00, 0),
        ("EUR", 6.75, 0),
    }
    lake.register_views(con, settings, ["cost_attribution", "cost_by_category_daily"])
    by_currency = dict(
        rows(con, "SELECT billing_currency, round(sum(effective_cost), 6) FROM cost_attribution GROUP BY 1")
    )
    assert by_currency == {"USD": 5.00, "EUR": 6.75}
    spread = rows(
        con,
        "SELECT DISTINCT billing_currency, resource_id FROM cost_attribution "
        "WHERE allocation = 'spread' ORDER BY 1",
    )
    assert spread == [("EUR", None)]  # the tax line (no resource) spread in EUR only
    daily = dict(
        rows(
            con,
            "SELECT billing_currency, round(sum(effective_cost), 6) FROM cost_by_category_daily GROUP BY 1",
        )
    )
    assert daily == {"USD": 5.00, "EUR": 6.75}
    # Every daily row is in exactly one currency: no (day, category, workload) mixes them.
    assert rows(
        con,
        "SELECT count(*) FROM (SELECT usage_date, category, workload, count(DISTINCT billing_currency) AS n "
        "FROM cost_by_category_daily GROUP BY ALL) WHERE n > 1",
    ) == [(0,)]


def test_cost_per_prediction_keeps_currencies_apart(tmp_path, settings, con):
    from pipelines.predictions.cost import compute_cost_per_prediction

    host = {"product": "AmazonSageMaker", "usage_type": "USE1-Host:ml.g5.2xlarge", "team": "chat"}
    path = corpus.write_csv(
        tmp_path / "cur.csv",
        corpus.CUR1_HEADER,
        [
            corpus.cur1_row(datetime(2026, 10, 4, 1), 2.0, resource="ep-usd", **host),
            corpus.cur1_row(datetime(2026, 10, 4, 1), 3.0, currency="EUR", resource="ep-eur", **host),
        ],
    )
    ingest(con, settings, path)
    attribute(con, settings, load_rules(), *OCTOBER)
    compute_cost_per_prediction(con, settings, *OCTOBER)
    lake.register_views(con, settings, ["cost_per_prediction_daily"])
    got = rows(
        con, "SELECT workload, billing_currency, inference_cost FROM cost_per_prediction_daily ORDER BY 2"
    )
    assert got == [("chat", "EUR", 3.0), ("chat", "USD", 2.0)]


def test_a_charge_outside_its_billing_period_lands_on_the_periods_first_day(tmp_path, settings, con):
    case = corpus.charge_outside_billing_period(tmp_path)
    ingest(con, settings, case.source)
    [recon] = _attribute_october(con, settings)
    assert recon["source_effective_cost"] == pytest.approx(-0.50, abs=1e-9)
    assert recon["difference"] == pytest.approx(0, abs=1e-9)
    lake.register_views(con, settings, ["cost_attribution"])
    credit = rows(
        con,
        "SELECT usage_date, billing_period, sum(effective_cost) FROM cost_attribution "
        "WHERE line_item_type = 'Credit' GROUP BY ALL",
    )
    assert credit == [(date(2026, 10, 1), date(2026, 10, 1), pytest.approx(case.notes["credit"]))]
    assert rows(con, "SELECT min(usage_date) FROM cost_attribution") == [(date(2026, 10, 1),)]


@pytest.mark.parametrize("name", ["empty_delivery", "header_only"])
def test_an_empty_delivery_keeps_the_published_month_and_says_so(tmp_path, settings, con, caplog, name):
    case = corpus.BUILDERS[name](tmp_path)
    ingest(con, settings, corpus.baseline(tmp_path))
    before = lake_digests(settings)
    with caplog.at_level(logging.WARNING, logger="pipelines.billing.ingest"):
        assert ingest(con, settings, case.source) == {}
    assert lake_digests(settings) == before
    assert any("published month is kept" in r.message or "no billing period is replaced" in r.message
               for r in caplog.records)  # fmt: skip


def _expected_tags(with_team_key: str) -> list[dict[str, str]]:
    return [
        {with_team_key: value, corpus.TRICKY_TAG_KEY_NORMALIZED: f"{i}:{value}"}
        for i, value in enumerate(corpus.TRICKY_TAG_VALUES)
    ]


@pytest.mark.parametrize("name", ["tricky_tags_cur1", "tricky_tags_focus", "tricky_tags_cur2"])
def test_tag_values_with_quotes_newlines_and_sql_round_trip_exactly(tmp_path, settings, con, name):
    case = corpus.BUILDERS[name](tmp_path)
    ingest(con, settings, case.source)
    refresh_catalog(settings)
    # Read back the way an analyst does: the catalog, read-only, from another connection.
    analyst = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        got = [
            dict(tags)
            for (tags,) in analyst.execute(
                "SELECT tags FROM line_items ORDER BY charge_period_start"
            ).fetchall()
        ]
        assert analyst.execute("SELECT count(*) FROM line_items").fetchone()[0] == len(
            corpus.TRICKY_TAG_VALUES
        )
    finally:
        analyst.close()
    assert got == _expected_tags("user_team")
    # The workload named by the tag carries the value unchanged into cost_attribution.
    attribute(con, settings, load_rules(), *OCTOBER)
    lake.register_views(con, settings, ["cost_attribution"])
    workloads = [
        w for (w,) in rows(con, "SELECT workload FROM cost_attribution ORDER BY charge_period_start")
    ]
    assert workloads == corpus.TRICKY_TAG_VALUES


def test_a_gpu_log_of_nul_bytes_is_rejected_and_the_others_are_read(tmp_path):
    case = corpus.gpu_log_of_nul_bytes(tmp_path)
    result = read_gpu_samples(case.source)
    assert list(result.rejected_files) == [str(case.names)]
    assert str(case.names) in result.rejected_files[str(case.names)]
    assert "NUL bytes" in result.rejected_files[str(case.names)]
    assert result.files_read == [str(case.notes["good"])]
    assert sorted(result.samples["value"].to_list()) == [0.5, 0.7]


def test_prediction_rows_repeated_in_a_file_count_once(tmp_path):
    case = corpus.predictions_with_duplicate_rows(tmp_path)
    result = read_predictions(case.source)
    assert result.rejected_files == {}
    assert [
        (r["endpoint"], r["invocations"], r["predictions"]) for r in result.daily.iter_rows(named=True)
    ] == [("ranker", case.notes["invocations"], float(case.notes["invocations"]))]
    assert result.duplicates == case.notes["duplicates"]


def test_a_count_too_large_for_64_bits_is_skipped_and_counted(tmp_path):
    case = corpus.predictions_count_overflow(tmp_path)
    result = read_predictions(case.source)
    assert result.skipped_lines == {str(case.names): case.notes["skipped"]}
    assert [r["invocations"] for r in result.daily.iter_rows(named=True)] == [case.notes["invocations"]]


# --- the command line: one line on stderr, exit status 2, no traceback (unless --debug) ------------------

# A representative subset (each run starts Dagster, seconds apiece): a bad value, a hostile manifest, a
# repeated line, and 50 MB of noise; the library-level test above covers every refused case.
CLI_CASES = [
    "text_in_cost_column",
    "manifest_key_outside_prefix",
    "repeated_lines_across_files",
    "random_bytes",
]


def _cli(tmp_path: Path, name: str, source: Path, *extra: str) -> subprocess.Popen:
    dagster_home = tmp_path / f"dagster-{name}"
    dagster_home.mkdir()
    (dagster_home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {
        **os.environ,
        "MLCOST_HOME": str(tmp_path / f"home-{name}"),
        "DAGSTER_HOME": str(dagster_home),
        "MLCOST_PARTITION_START": "2026-10-01",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", *extra, "run", "--cur-source", str(source),
         "--from", "2026-10"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )  # fmt: skip


def test_command_line_bad_inputs_exit_2_with_one_line_and_change_nothing(tmp_path):
    from pipelines.config import Settings

    cases = {name: corpus.BUILDERS[name](tmp_path / "corpus") for name in CLI_CASES}
    homes, before, procs = {}, {}, {}
    for name, case in cases.items():
        # Publish a month first (through the library: only the failing run goes through the command line).
        settings = Settings(home=tmp_path / f"home-{name}")
        connection = lake.connect(settings)
        ingest(connection, settings, case.before or corpus.baseline(tmp_path / "corpus"))
        connection.close()
        homes[name], before[name] = settings, lake_digests(settings)
    # The runs are independent (own home, own Dagster instance): run them side by side.
    for name, case in cases.items():
        procs[name] = _cli(tmp_path, name, case.source)
    debug = _cli(tmp_path, "debug", cases["text_in_cost_column"].source, "--debug")
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        case = cases[name]
        assert proc.returncode == 2, (name, stderr[-2000:])
        assert "Traceback" not in stderr and "Traceback" not in stdout, name
        errors = [line for line in stderr.splitlines() if line.startswith("mlcost: error:")]
        assert len(errors) == 1, (name, stderr[-2000:])
        assert str(case.names.resolve()) in errors[0], (name, errors[0])
        for fragment in case.says:
            assert fragment in errors[0], (name, errors[0])
        if case.column:
            assert f"column {case.column!r}" in errors[0]
        if case.line:
            assert f"line {case.line}" in errors[0]
        assert lake_digests(homes[name]) == before[name], name
        assert not list(homes[name].tmp.glob("write-*"))
    _, stderr = debug.communicate(timeout=300)
    assert debug.returncode not in (0, 2)
    assert "Traceback" in stderr and "'12,5 USD'" in stderr


# --- issue #21: values that cannot be a bill, sources that cannot be read whole ------------------------------


@pytest.mark.timeout(60)
def test_a_fifo_in_the_source_is_refused_without_being_opened(tmp_path, settings, con):
    """A FIFO named like an export part would block the reader forever (the old code hung here)."""
    folder = tmp_path / "fifo"
    corpus.write_csv(folder / "part-1.csv", corpus.CUR1_HEADER, corpus.hourly_rows(6))
    os.mkfifo(folder / "part-2.csv")
    with pytest.raises(InputError) as info:
        ingest(con, settings, folder)
    assert info.value.path == str((folder / "part-2.csv").resolve())
    assert "is not a regular file" in str(info.value)
    assert not lake.has_data(settings, "line_items")


def _python_for(uid: int) -> str | None:
    """A Python interpreter of this version that user `uid` may run (the venv's links into /root, mode 700)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (sys.executable, f"/usr/bin/{version}", f"/usr/local/bin/{version}"):
        real = Path(candidate).resolve()
        if real.exists() and all(p.stat().st_mode & 0o001 for p in [real, *real.parents]):
            return candidate
    return None


DISCOVER = """
import sys
from pipelines.billing.deliveries import discover_deliveries
from pipelines.errors import InputError
try:
    discover_deliveries(sys.argv[1], staging_dir=sys.argv[2])
except InputError as error:
    print(error)
    sys.exit(2)
"""


def test_a_folder_the_user_cannot_read_refuses_the_source(tmp_path):
    """chmod 000 on the folder holding the second half of the month, read by an ordinary user.

    Root reads through permissions, so as root the discovery runs in a child process as user `nobody`
    (uid 65534) on a copy of the source in a world-traversable folder. The old code skipped the folder in
    silence and loaded half the month.
    """
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="mlcost-perm-", dir="/tmp"))
    try:
        base.chmod(0o755)
        source = base / "source"
        corpus.write_csv(source / "part-1.csv", corpus.CUR1_HEADER, corpus.hourly_rows(6))
        corpus.write_csv(source / "later" / "part-2.csv", corpus.CUR1_HEADER, corpus.hourly_rows(4, day=20))
        for path in (source, source / "part-1.csv"):
            path.chmod(0o755)
        (source / "later").chmod(0o000)
        if os.geteuid() != 0:
            with pytest.raises(InputError) as info:
                discover_deliveries(str(source), staging_dir=base / "staging")
            message = str(info.value)
        else:
            python = _python_for(65534)
            if python is None:
                pytest.skip("no Python interpreter that user nobody may run")

            def become_nobody():
                os.setgid(65534)
                os.setuid(65534)

            site = next(p for p in sys.path if p.endswith("site-packages") and Path(p).exists())
            result = subprocess.run(
                [python, "-S", "-c", DISCOVER, str(source), str(base / "staging")],
                capture_output=True, text=True, preexec_fn=become_nobody, cwd=base, timeout=120,
                env={"PYTHONPATH": f"{site}:{REPO}", "PATH": "/usr/bin:/bin", "HOME": str(base)},
            )  # fmt: skip
            assert result.returncode == 2, result.stderr[-2000:]
            message = result.stdout.strip()
        assert message.startswith(f"{source / 'later'}: cannot read this folder of the billing source"), (
            message
        )
        assert "Permission denied" in message and "nothing is loaded" in message
    finally:
        (base / "source" / "later").chmod(0o755)
        import shutil

        shutil.rmtree(base, ignore_errors=True)


def test_currency_codes_in_any_case_are_one_currency(tmp_path, settings, con):
    case = corpus.case_of_currency_codes(tmp_path)
    written = ingest(con, settings, case.source)
    # 4 lines of 1.25, spelled USD, usd, " USD ", USD: one currency, 5.00.
    assert {c: m["billed_cost"] for c, m in written["2026-10-01"]["currencies"].items()} == {"USD": 5.00}


def test_the_summary_never_adds_two_currencies(tmp_path, settings, con, capsys):
    """Category totals per currency: the old summary printed `other 11.75` for 5.00 USD + 6.75 EUR."""
    from pipelines.cli.summary import print_summary

    case = corpus.two_currencies(tmp_path)
    ingest(con, settings, case.source)
    _attribute_october(con, settings, with_strategy(load_rules(), "proportional"))
    refresh_catalog(settings)
    capsys.readouterr()
    print_summary(settings)
    out = capsys.readouterr().out
    category_lines = out.split("effective cost by category:\n")[1].splitlines()
    # month, category, amount, currency: EUR first (codes in order), then USD.
    assert [line.split() for line in category_lines[:2]] == [
        ["2026-10", "other", "6.75", "EUR"],
        ["2026-10", "other", "5.00", "USD"],
    ]


def test_an_implausible_cost_is_published_with_a_warning(tmp_path):
    """1e300 is a number: it is published, and the line_items asset check `plausible_line_costs` warns."""
    from dagster import AssetCheckSeverity, materialize

    from pipelines.config import Settings
    from pipelines.orchestration.code_location import build_definitions
    from pipelines.orchestration.resources import MlcostResource

    case = corpus.implausible_cost(tmp_path)
    settings = Settings(home=tmp_path / "home", cur_source=str(case.source))
    # Its own lake's partitions, not those of whatever MLCOST_HOME (./data) the test machine holds.
    defs = build_definitions(settings)
    result = materialize(
        [defs.get_assets_def("line_items")],
        partition_key="2026-10-01",
        resources={"mlcost": MlcostResource.from_settings(settings)},
    )
    assert result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == "plausible_line_costs"
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.WARN
    assert evaluation.metadata["implausible_lines"].value == 1
    # The description names the line: `mlcost run` prints failed checks' descriptions as warnings.
    assert evaluation.description == (
        f"{case.source}: billing period 2026-10: a Usage of 1e+300 USD billed (1e+300 effective) is above "
        "1,000,000,000; it is published: check the export"
    )


@pytest.mark.parametrize(
    ("billed", "rest", "flagged"),
    [
        # a line's cost, the rest of its month and currency, flagged? (bounds: 1e9; 10,000 and 1,000 x the rest)
        (999_999_999.0, 12.50, True),  # above 10,000 and above 12,500
        (12_600.0, 12.50, True),  # above 10,000 and above 1,000 x 12.50 = 12,500
        (12_400.0, 12.50, False),  # above 10,000 but under 12,500
        (9_999.0, 0.0, False),  # the only line, but under 10,000: the ratio rule never flags it
        (1_000_000.0, 5_000.0, False),  # 200 x the rest: a large month-end fee is plausible
        (1_000_000_001.0, 900_000_000.0, True),  # above the absolute bound whatever the rest
        (-2_000_000_000.0, 900_000_000.0, True),  # a credit counts by its size
    ],
)
def test_plausibility_bounds(tmp_path, settings, con, billed, rest, flagged):
    from pipelines.billing.plausibility import implausible_lines

    rows = corpus.hourly_rows(1, cost=billed)
    if rest:
        rows += [corpus.cur1_row(datetime(2026, 10, 5), rest, resource="i-rest")]
    path = corpus.write_csv(tmp_path / "cur.csv", corpus.CUR1_HEADER, rows)
    ingest(con, settings, path)
    lake.register_views(con, settings, ["line_items"])
    found = [r["billed_cost"] for r in implausible_lines(con, date(2026, 10, 1), date(2026, 10, 1))]
    assert found == ([billed] if flagged else [])


# --- issue #21 from the command line: a refused run leaves every published table and the summary as they were ---

# (corpus case, how `mlcost run` is called). Without --from the command line first reads the source to find its
# billing periods (the path of the 1970 and 2100 runs, MLCOST_PARTITION_START unset); with --from the
# refusal comes from the line_items asset inside Dagster.
RELIABILITY_CASES = [
    ("nan_cost", ["--from", "2026-10"]),
    ("negative_infinity_cost", []),
    ("parquet_nan_cost", ["--from", "2026-10"]),
    ("duplicated_cost_column", []),
    ("latin1_byte", []),
    ("end_before_start", ["--from", "2026-10"]),
    ("line_from_1970", []),
    ("bill_from_2100", []),
    ("line_of_another_period", ["--from", "2026-10"]),
    ("broken_link_to_part_of_the_month", []),
]


def _run_cli(home: Path, source: Path, *extra: str) -> subprocess.CompletedProcess:
    dagster_home = home.parent / f"{home.name}-dagster"
    dagster_home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("MLCOST_") and k != "DAGSTER_HOME"}
    env.update({"MLCOST_HOME": str(home), "DAGSTER_HOME": str(dagster_home)})
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--cur-source", str(source), *extra],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=600,
    )  # fmt: skip


def published_state(home: Path) -> dict:
    """What a reader sees: every table of warehouse.duckdb (all rows, sorted) and `mlcost summary`'s text."""
    import contextlib
    import io

    from pipelines.cli.summary import print_summary
    from pipelines.config import Settings

    settings = Settings(home=home)
    analyst = duckdb.connect(str(settings.warehouse), read_only=True)
    try:
        views = [r[0] for r in analyst.execute(
            "SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()]  # fmt: skip
        tables = {
            view: sorted(analyst.execute(f'SELECT * FROM "{view}"').fetchall(), key=repr) for view in views
        }
    finally:
        analyst.close()
    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        print_summary(settings)
    return {"tables": tables, "summary": text.getvalue()}


@pytest.fixture(scope="module")
def good_home(tmp_path_factory) -> Path:
    """MLCOST_HOME after one good `mlcost run` of the baseline October (10 lines of 1.25 = 12.50 USD)."""
    root = tmp_path_factory.mktemp("good")
    home = root / "home"
    result = _run_cli(home, corpus.baseline(root))
    assert result.returncode == 0, result.stderr[-3000:]
    return home


def _copy_of(good_home: Path, tmp_path: Path) -> Path:
    """A copy of the good home, its catalog rebuilt there (the catalog holds absolute paths)."""
    import shutil

    from pipelines.config import Settings

    home = tmp_path / "home"
    shutil.copytree(good_home, home, symlinks=True)
    refresh_catalog(Settings(home=home))
    return home


def test_the_good_state_is_what_was_billed(good_home, tmp_path):
    state = published_state(_copy_of(good_home, tmp_path))
    assert set(state["tables"]) >= {
        "line_items",
        "cost_attribution",
        "cost_by_category_daily",
        "reconciliation",
    }
    assert len(state["tables"]["line_items"]) == 10
    assert len(state["tables"]["reconciliation"]) == 1
    lines = [line.split() for line in state["summary"].splitlines()]
    # billing period, currency, lines, billed, effective, difference; then category, amount, currency.
    assert ["2026-10-01", "USD", "10", "12.50", "12.50", "0.00"] in lines
    assert ["2026-10", "other", "12.50", "USD"] in lines


@pytest.mark.parametrize(("name", "extra"), RELIABILITY_CASES, ids=[c[0] for c in RELIABILITY_CASES])
def test_a_refused_run_leaves_every_table_and_the_summary_as_they_were(good_home, tmp_path, name, extra):
    home = _copy_of(good_home, tmp_path)
    before = published_state(home)
    case = corpus.BUILDERS[name](tmp_path / "corpus")

    result = _run_cli(home, case.source, *extra)

    assert result.returncode == 2, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("mlcost: error:")]
    assert len(errors) == 1, result.stderr[-3000:]
    assert str(case.names) in errors[0]
    for fragment in case.says:
        assert fragment in errors[0], errors[0]
    if case.column:
        assert f"column {case.column!r}" in errors[0], errors[0]
    if case.line:
        assert f", line {case.line}," in errors[0] or f", line {case.line}:" in errors[0], errors[0]
    assert published_state(home) == before


def test_an_implausible_cost_is_published_and_the_run_says_so(good_home, tmp_path):
    home = _copy_of(good_home, tmp_path)
    case = corpus.implausible_cost(tmp_path / "corpus")
    result = _run_cli(home, case.source)
    assert result.returncode == 0, result.stderr[-3000:]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("mlcost: warning:")]
    # Other warning checks may fail too on this tiny bill (no GPU logs, no predictions): this one must be there.
    assert (
        f"mlcost: warning: line_items plausible_line_costs: {case.source}: billing period 2026-10: a Usage of "
        "1e+300 USD billed (1e+300 effective) is above 1,000,000,000; it is published: check the export"
    ) in warnings
    analyst = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:  # 1e300 + 5 x 1.25 is 1e300 in a double
        assert analyst.execute("SELECT source_billed_cost FROM reconciliation").fetchall() == [(1e300,)]
    finally:
        analyst.close()


def test_the_docs_state_the_bounds_the_code_uses():
    """docs/ingestion.md gives the plausibility bounds and the accepted dates: they must be the code's."""
    from pipelines.billing.ingest import EARLIEST_BILLING_PERIOD, latest_billing_period
    from pipelines.billing.plausibility import MAX_LINE_COST, MIN_FLAGGED_COST, REST_FACTOR

    text = (REPO / "docs" / "ingestion.md").read_text()
    assert f"is above {MAX_LINE_COST:,.0f} (a billion" in text
    assert f"is above {MIN_FLAGGED_COST:,.0f} and above {REST_FACTOR:,.0f} × the absolute total" in text
    assert f"between {EARLIEST_BILLING_PERIOD:%Y-%m} and the month after the current UTC month" in text
    # The latest billing period is one month ahead of today's, across a year end too.
    assert latest_billing_period(date(2026, 12, 5)) == date(2027, 1, 1)
    assert latest_billing_period(date(2026, 10, 31)) == date(2026, 11, 1)


@pytest.mark.parametrize(
    ("period", "accepted"),
    [
        # billing period of a one-line bill, accepted when today is 2026-12-05 (latest: 2027-01)?
        ("1999-12-01", False),
        ("2000-01-01", True),
        ("2026-12-01", True),
        ("2027-01-01", True),
        ("2027-02-01", False),
    ],
)
def test_the_accepted_billing_periods(tmp_path, con, period, accepted):
    from pipelines.billing.ingest import stage_delivery

    start = datetime.fromisoformat(period)
    row = corpus.cur1_row(start, 1.0, period=f"{period}T00:00:00Z")
    path = corpus.write_csv(tmp_path / "cur.csv", corpus.CUR1_HEADER, [row])
    stage = dict(delivery_id="t", name="t", out=tmp_path / "t.parquet", today=date(2026, 12, 5))
    if accepted:
        stage_delivery(con, [path], **stage)
    else:
        with pytest.raises(
            InputError, match=f"billing period {period} is outside the accepted 2000-01 to 2027-01"
        ):
            stage_delivery(con, [path], **stage)


def test_a_manifest_of_2100_is_refused_before_any_run(tmp_path):
    """A legacy CUR manifest for 2100-01: the command line takes the months of the run from manifests, so the
    manifest itself is refused, naming it, before any Dagster run starts for 2100."""
    import json

    from pipelines.billing.ingest import source_periods
    from pipelines.config import Settings

    folder = tmp_path / "manifest2100"
    period_dir = folder / corpus.REPORT / "21000101-21000201"
    rows = [corpus.cur1_row(datetime(2100, 1, 1, h), 1.25, period="2100-01-01T00:00:00Z") for h in range(4)]
    data = corpus.write_csv(period_dir / "asm-1" / "part-1.csv", corpus.CUR1_HEADER, rows)
    manifest = period_dir / f"{corpus.REPORT}-Manifest.json"
    manifest.write_text(json.dumps({
        "assemblyId": "asm-1", "reportName": corpus.REPORT, "bucket": corpus.BUCKET,
        "billingPeriod": {"start": "21000101T000000.000Z", "end": "21000201T000000.000Z"},
        "reportKeys": [f"{corpus.PREFIX}/{data.relative_to(folder).as_posix()}"],
    }))  # fmt: skip
    with pytest.raises(InputError) as info:
        source_periods(Settings(home=tmp_path / "home", cur_source=str(folder)))
    assert str(manifest) in info.value.path
    assert "the manifest's billing period 2100-01-01 is outside the accepted 2000-01 to" in str(info.value)


def test_a_linked_folder_in_the_source_is_read(tmp_path, settings, con):
    """Half of the month in a folder reached by a symbolic link (a mounted share): both halves load, 6 + 4 lines
    of 1.25 = 12.50 (the old walk did not follow the link and published 7.50). A link back up the tree is
    followed once, not forever."""
    elsewhere = tmp_path / "share" / "later"
    corpus.write_csv(elsewhere / "part-2.csv", corpus.CUR1_HEADER, corpus.hourly_rows(4, day=20))
    folder = tmp_path / "linked"
    corpus.write_csv(folder / "part-1.csv", corpus.CUR1_HEADER, corpus.hourly_rows(6))
    (folder / "later").symlink_to(elsewhere)
    (elsewhere / "loop").symlink_to(folder)
    written = ingest(con, settings, folder)
    assert written["2026-10-01"]["rows"] == 10
    assert written["2026-10-01"]["currencies"]["USD"]["billed_cost"] == 12.50


def _lines_hashed(monkeypatch) -> list[int]:
    """The number of lines each grouping of the repeated-lines check hashes, in order, as the check runs."""
    from pipelines.billing import ingest as ingest_module

    counts: list[int] = []
    original = ingest_module._hashes_in_several_files

    def counting(con, table, out):
        counts.append(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        return original(con, table, out)

    monkeypatch.setattr(ingest_module, "_hashes_in_several_files", counting)
    return counts


@pytest.mark.parametrize("name", ["repeated_lines_across_files", "repeated_lines_across_parquet_parts"])
def test_repeated_lines_are_found_when_the_hashes_are_split_into_slices(
    tmp_path, settings, con, name, monkeypatch
):
    """Above LINES_PER_SLICE lines the hashes are written into one folder per slice and grouped slice by slice
    (a large delivery's path): with a slice of one line, the same repeat is refused with the same message, and
    the slices' scratch folders are gone afterwards."""
    from pipelines.billing import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "LINES_PER_SLICE", 1)
    grouped = _lines_hashed(monkeypatch)
    case = corpus.BUILDERS[name](tmp_path / "corpus")
    with pytest.raises(InputError) as info:
        ingest(con, settings, case.source)
    assert grouped and grouped[0] > 1  # more lines than one slice: the sliced path ran
    for fragment in case.says:
        assert fragment in str(info.value)
    assert info.value.line == case.line
    assert not list((settings.tmp / "duckdb_spill").glob("hash-slices-*"))
    assert not lake.has_data(settings, "line_items")


def test_the_spans_of_start_times_files_share_are_merged_and_none_when_they_are_every_start():
    """A repeated line has the same start in both files, so only starts two files share can hold one."""
    from pipelines.billing.ingest import shared_start_spans

    con = duckdb.connect()

    def spans(files: dict[str, tuple[int, int]]):
        """The shared spans, in hours from October 1st, of files whose lines start at the given first and last hour."""
        con.execute(
            "CREATE OR REPLACE TEMP TABLE staged (source_file VARCHAR, charge_period_start TIMESTAMP)"
        )
        first = datetime(2026, 10, 1)
        rows = [(name, first + timedelta(hours=h)) for name, hours in files.items() for h in hours]
        con.executemany("INSERT INTO staged VALUES (?, ?)", rows)
        found = shared_start_spans(con, "staged")

        def hours(t: datetime) -> int:
            return int((t - first).total_seconds()) // 3600

        return found if found is None else [(hours(a), hours(b)) for a, b in found]

    # In time order: the hours shared at each boundary.
    assert spans({"a": (0, 10), "b": (10, 20), "c": (30, 40)}) == [(10, 10)]
    assert spans({"a": (0, 10), "b": (8, 20), "c": (15, 40), "d": (50, 60)}) == [(8, 10), (15, 20)]
    # Overlapping shares merge into one span (a and b share 5-10, a and c 8-10, b and c 8-20).
    assert spans({"a": (0, 10), "b": (5, 20), "c": (8, 30)}) == [(5, 20)]
    assert spans({"a": (0, 10), "b": (20, 30)}) == []
    # In mixed order every file spans the month: every line is a candidate, without a filter.
    assert spans({"a": (0, 743), "b": (0, 743), "c": (1, 742)}) is None
    # Any files: the hours two of them cover, each pair's overlap merged (brute force over the pairs).
    rng = random.Random(3)
    for _ in range(40):
        files = {}
        for f in range(rng.randint(2, 7)):
            first = rng.randint(0, 700)
            files[f"f{f}"] = (first, first + rng.randint(0, 120))
        pairs = sorted(
            (max(a[0], b[0]), min(a[1], b[1]))
            for i, a in enumerate(files.values())
            for b in list(files.values())[i + 1 :]
            if max(a[0], b[0]) <= min(a[1], b[1])
        )
        expected: list[tuple[int, int]] = []
        for first, last in pairs:
            if expected and first <= expected[-1][1]:
                expected[-1] = (expected[-1][0], max(expected[-1][1], last))
            else:
                expected.append((first, last))
        whole = (min(a for a, _ in files.values()), max(b for _, b in files.values()))
        assert spans(files) == (None if expected == [whole] else expected), files


@pytest.mark.parametrize("per_slice", [40, 200, 10_000])
def test_the_repeat_candidates_grouped_day_by_day_are_those_of_one_grouping_over_the_delivery(
    monkeypatch, per_slice
):
    """The hashes found in two files, grouped over runs of days of up to LINES_PER_SLICE lines (a day over it on
    its own, through the hash slices), are those one GROUP BY over every line finds: lines repeated on several
    days, in time order and in mixed order, lines without a start, repeats within one file (not candidates); and
    the candidates' lines collected in the same pass are those with the candidate hashes."""
    from pipelines.billing import ingest as ingest_module

    monkeypatch.setattr(ingest_module, "LINES_PER_SLICE", per_slice)
    rng = random.Random(per_slice)
    first = datetime(2026, 10, 1)
    con = duckdb.connect()
    for mixed in (False, True):
        rows = []
        for f in range(4):
            hours = range(744) if mixed else range(f * 186 - 20, f * 186 + 206)
            for h in hours:
                start = first + timedelta(hours=max(h, 0))
                rows.append((f"f{f}.csv", start, rng.randint(0, 3)))
            rows.append((f"f{f}.csv", None, rng.randint(0, 3)))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE staged AS SELECT source_file, charge_period_start, "
            "CAST(charge_period_start AS DATE) AS usage_date, "
            "hash(charge_period_start, resource) AS _line_hash, "
            "row_number() OVER (PARTITION BY source_file) AS source_row "
            "FROM (SELECT unnest(?, recursive := true)) AS t(source_file, charge_period_start, resource)",
            [[{"f": a, "s": b, "r": c} for a, b, c in rows]],
        )
        expected = con.execute(
            "SELECT _line_hash, min(hash(source_file)), max(hash(source_file)) FROM staged GROUP BY 1 "
            "HAVING min(hash(source_file)) <> max(hash(source_file)) ORDER BY 1"
        ).fetchall()
        expected_lines = con.execute(
            "SELECT hash(source_file), source_row, _line_hash FROM staged "
            "WHERE _line_hash IN (SELECT _line_hash FROM staged GROUP BY 1 HAVING count(DISTINCT source_file) > 1) "
            "ORDER BY ALL"
        ).fetchall()
        # The case covers what each slice must find: repeats on many days and among lines without a start.
        repeated = {h for h, _, _ in expected}
        starts = {
            start
            for start, h in con.execute("SELECT charge_period_start, _line_hash FROM staged").fetchall()
            if h in repeated
        }
        assert None in starts and len({start.date() for start in starts - {None}}) > 5
        for with_lines in (False, True):
            ingest_module._find_repeat_candidates(con, "staged", with_lines=with_lines)
            found = con.execute("SELECT * FROM repeat_candidates ORDER BY 1").fetchall()
            assert len(expected) > 10  # the case holds repeats across files, on several days
            assert found == expected, (per_slice, mixed, with_lines)
            if with_lines:
                lines = con.execute("SELECT * FROM candidate_lines ORDER BY ALL").fetchall()
                assert lines == expected_lines and len(lines) > len(expected)
        assert not con.execute("SELECT * FROM duckdb_tables() WHERE table_name LIKE '%hashes%'").fetchall()


def test_a_delivery_in_time_order_hashes_only_the_lines_its_files_share_in_time(
    tmp_path, settings, con, monkeypatch
):
    """Three parts in time order, the last repeating a line of the second: refused as before, with the file, the
    line and the first file named, after hashing only the lines whose start two files share."""
    from pipelines.billing import ingest as ingest_module

    hashed = _lines_hashed(monkeypatch)
    candidates: list[int] = []  # the lines the candidate search reads, day slice by day slice
    day_slices = ingest_module._day_slices

    def counting(*args):
        slices = day_slices(*args)
        candidates.append(sum(lines for _, _, lines in slices))
        return slices

    monkeypatch.setattr(ingest_module, "_day_slices", counting)
    part1 = corpus.hourly_rows(24, day=1)
    part2 = corpus.hourly_rows(24, day=2)
    part3 = corpus.hourly_rows(24, day=3) + [part2[20]]
    folder = tmp_path / "in-time-order"
    corpus.legacy_report(
        folder, {f"{corpus.REPORT}-{i}.csv.gz": p for i, p in enumerate((part1, part2, part3), 1)}
    )
    with pytest.raises(InputError) as info:
        ingest(con, settings, folder)
    assert "1 line(s) are exact copies" in str(info.value)
    assert (
        f"{corpus.REPORT}-2.csv.gz" in str(info.value)
        and Path(info.value.path).name == f"{corpus.REPORT}-3.csv.gz"
    )
    assert info.value.line == 26  # the header, part 3's own 24 lines, then the copy
    # Part 2 runs from day 2 00:00 to 23:00, part 3 from the copy's day 2 20:00: the lines from 20:00 to 23:00 of
    # day 2 in both (4 + 1) are the only ones hashed for candidates, of 73 (confirming a candidate of a CSV
    # delivery, which has no line identity, then compares whole rows of the files: `hashed`).
    assert candidates == [5]
    assert hashed == [73]
    assert not lake.has_data(settings, "line_items")
