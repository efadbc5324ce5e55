"""The `mlcost` command line: run, sql, summary, fixtures, rules check, docs tables, docs gpu."""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
import time
import warnings
from datetime import date
from pathlib import Path

from pipelines.config import REPO_ROOT, Settings
from pipelines.errors import InputError


def _settings(args: argparse.Namespace) -> Settings:
    # Flags override the environment; Settings.from_env reads and validates all of it (one place for
    # configuration). The process's environment is not written: the settings object is passed on instead.
    overrides = {}
    for flag, env in (
        ("home", "MLCOST_HOME"),
        ("cur_source", "MLCOST_CUR_SOURCE"),
        ("gpu_source", "MLCOST_GPU_SOURCE"),
        ("predictions_source", "MLCOST_PREDICTIONS_SOURCE"),
        ("rules", "MLCOST_RULES"),
    ):
        value = getattr(args, flag, None)
        if value:
            overrides[env] = str(Path(value).resolve()) if not str(value).startswith("s3://") else str(value)
    return Settings.from_env({**os.environ, **overrides})


def _month(text: str) -> date:
    try:
        return date.fromisoformat(text + "-01" if len(text) == 7 else text).replace(day=1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month (YYYY-MM)") from None


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from pipelines.attribution.rules import load_rules
    from pipelines.billing.ingest import source_periods
    from pipelines.orchestration.runner import months_between, run_pipeline

    if not settings.cur_source:
        raise InputError("MLCOST_CUR_SOURCE", "no billing source: pass --cur-source or set MLCOST_CUR_SOURCE")
    load_rules(settings.rules_path)  # a bad rules file stops the run before ingestion writes anything
    if settings.budgets_path:  # so does a bad budgets file (read again by budget_status)
        from pipelines.decisions.budgets import load_budgets

        load_budgets(settings.budgets_path)
    if args.start:
        months = months_between(args.start, args.end or args.start)
    else:
        found = source_periods(settings)
        if not found:
            raise InputError(settings.cur_source, "no billing delivery found in the source")
        months = months_between(min(found), args.end or max(found))
        if not months:
            raise InputError("--to", f"{args.end:%Y-%m} is before the first billing period in the source")
    from pipelines.progress import Progress

    t0 = time.monotonic()
    # Each Dagster step live on a terminal, one line per step otherwise (pipelines/progress.py).
    with Progress() as progress:
        report = run_pipeline(settings, months, progress=progress)
    print(
        f"mlcost run: {', '.join(m[:7] for m in months)} in {time.monotonic() - t0:.1f} s "
        f"(runs: {', '.join(f'{k}={v[:8]}' for k, v in report.run_ids.items())})"
    )
    from pipelines.cli.summary import print_summary

    print_summary(settings)
    for warning in report.warnings:
        print(f"mlcost: warning: {warning}", file=sys.stderr)
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from pipelines.cli.summary import print_summary

    print_summary(_settings(args), args.format)
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from pipelines.cli.sqlshell import run_query, shell

    settings = _settings(args)
    if args.query:
        return run_query(settings, args.query, args.format)
    return shell(settings)


def _fixture_generator():
    """The model company generator (`fixtures.model_company`) of a source checkout, or None without one."""
    # The generator is test and demo tooling, not product: it lives beside the fixtures it writes, outside
    # the installed `pipelines` package. Look for it in the checkout this `pipelines` runs from (an editable
    # install: the package's parent), then in the current directory (an installed mlcost run inside a
    # clone). Only this command puts that root on sys.path, so no other command can import the generator.
    for root in dict.fromkeys([REPO_ROOT, Path.cwd().resolve()]):
        if (root / "fixtures" / "model_company" / "__init__.py").is_file():
            sys.path.insert(0, str(root))
            import importlib

            return importlib.import_module("fixtures.model_company")
    return None


def cmd_fixtures(args: argparse.Namespace) -> int:
    model_company = _fixture_generator()
    if model_company is None:
        print(
            "mlcost: error: the fixture generator is not installed with mlcost: it lives in the source "
            "checkout's fixtures/model_company/; run `mlcost fixtures` (or `make fixtures`) inside a clone "
            "of the mlcost repository",
            file=sys.stderr,
        )
        return 2
    default = REPO_ROOT / "fixtures" / "generated"
    out = Path(args.out or (default / "decisions" if args.scenario == "decisions" else default)).resolve()
    t0 = time.monotonic()
    if args.scenario == "decisions":
        import importlib

        decisions = importlib.import_module("fixtures.model_company.decisions")
        answers = decisions.generate_decisions(out, seed=16 if args.seed is None else args.seed)
    elif args.lines:
        from pipelines.progress import Progress

        # One step per Parquet file written: live on a terminal, one line per file otherwise.
        with Progress() as progress:
            answers = model_company.generate_scaled_month(out, lines=args.lines, progress=progress)
    else:
        answers = model_company.generate(out, seed=42 if args.seed is None else args.seed)
    print(f"fixtures written to {out} in {time.monotonic() - t0:.1f} s")
    if args.scenario == "decisions":
        print(
            f"  planted: {len(answers['anomalies'])} anomalies, {sum(b['crossed'] for b in answers['budgets'])} "
            f"budget breach(es), {len(answers['recommendations'])} recommendations (answers.json)"
        )
    for period, info in sorted((answers.get("billing_periods") or {}).items()):
        cur2 = info.get("cur2", info)
        print(
            f"  {period}: {cur2.get('lines', 0):,} lines, billed {cur2.get('billed_cost', 0):,.2f}, "
            f"effective {cur2.get('effective_cost', 0):,.2f} {cur2.get('currency', '')}"
        )
    return 0


def cmd_rules_check(args: argparse.Namespace) -> int:
    from pipelines.attribution.rules import load_rules

    rules = load_rules(args.file or Settings.from_env().rules_path)
    print(
        f"{rules.path}: {len(rules.rules) - 1} rules, workload tags {rules.tag_keys}, sharing {rules.strategies}"
    )
    return 0


def _write_or_check_doc(name: str, render, check: bool) -> int:
    """Write docs/<name>.md from ``render(current text)``, or with ``check`` fail when it is out of date."""
    target = REPO_ROOT / "docs" / f"{name}.md"
    current = target.read_text() if target.exists() else ""
    text = render(current)
    if check:
        if current != text:
            print(f"{target} is out of date: run `mlcost docs {name}`", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    print(f"wrote {target}")
    return 0


def cmd_docs_tables(args: argparse.Namespace) -> int:
    from pipelines.cli.tables_doc import render_tables_doc

    return _write_or_check_doc("tables", lambda _current: render_tables_doc(), args.check)


def cmd_docs_predictions(args: argparse.Namespace) -> int:
    from pipelines.predictions.aliases import updated_doc

    return _write_or_check_doc("predictions", updated_doc, args.check)


def cmd_docs_gpu(args: argparse.Namespace) -> int:
    from pipelines.gpu.gpu_doc import render_gpu_doc

    return _write_or_check_doc("gpu", render_gpu_doc, args.check)


def cmd_docs_analysts(args: argparse.Namespace) -> int:
    from pipelines.cli.analysts_doc import render_analysts_doc

    settings = Settings.from_env()
    return _write_or_check_doc("analysts", lambda current: render_analysts_doc(current, settings), args.check)


class _Parser(argparse.ArgumentParser):
    """argparse with a suggestion for a mistyped command (argparse's own `suggest_on_error` is Python 3.14+)."""

    def error(self, message: str):
        typed = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if typed:
            choices = [c.strip().strip("'") for c in typed.group(2).split(",")]
            close = difflib.get_close_matches(typed.group(1), choices, n=1)
            if close:
                message += f"; did you mean '{close[0]}'?"
        super().error(message)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlcost")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="mlcost", description=__doc__)
    parser.add_argument("--version", action="version", version=f"mlcost {_version()}")
    parser.add_argument(
        "--debug", action="store_true", help="show Python tracebacks instead of one-line errors"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument(
            "--home",
            help=f"where the lake and warehouse live (default: $MLCOST_HOME, else {REPO_ROOT / 'data'})",
        )

    run = sub.add_parser("run", help="ingest, attribute and reconcile billing periods through Dagster")
    common(run)
    run.add_argument(
        "--cur-source",
        help="billing export: folder, file, glob or s3://bucket/prefix (default: $MLCOST_CUR_SOURCE)",
    )
    run.add_argument(
        "--gpu-source",
        help="GPU utilization logs: folder, file or s3://bucket/prefix (default: $MLCOST_GPU_SOURCE, else none)",
    )
    run.add_argument(
        "--predictions-source",
        help="prediction counts: folder, file or s3://bucket/prefix (default: $MLCOST_PREDICTIONS_SOURCE, else none)",
    )
    run.add_argument(
        "--rules",
        help="attribution rules file (default: $MLCOST_RULES, else pipelines/attribution/default_rules.yaml)",
    )
    run.add_argument(
        "--from",
        dest="start",
        type=_month,
        metavar="YYYY-MM",
        help="first billing period (default: the first one in the billing source)",
    )
    run.add_argument(
        "--to",
        dest="end",
        type=_month,
        metavar="YYYY-MM",
        help="last billing period (default: --from if given, else the last one in the billing source)",
    )
    run.set_defaults(func=cmd_run)

    summary = sub.add_parser("summary", help="print rows and totals per billing period")
    common(summary)
    summary.add_argument(
        "--format",
        choices=["table", "csv", "json"],
        default="table",
        help="table for people, csv or json for programs (default: %(default)s)",
    )
    summary.set_defaults(func=cmd_summary)

    sql = sub.add_parser(
        "sql", help="query the warehouse in a read-only sandbox (no query: interactive prompt)"
    )
    common(sql)
    sql.add_argument(
        "query", nargs="?", help="SQL text, or the path of a .sql file (default: open an interactive prompt)"
    )
    sql.add_argument(
        "--format",
        choices=["table", "csv", "json"],
        default="table",
        help="table for people (at most 200 rows), csv or json for programs (default: %(default)s)",
    )
    sql.set_defaults(func=cmd_sql)

    fixtures = sub.add_parser("fixtures", help="generate the seeded model company's exports and answers")
    fixtures.add_argument(
        "--out",
        help="output folder (default: fixtures/generated; decisions scenario: fixtures/generated/decisions)",
    )
    fixtures.add_argument(
        "--seed", type=int, help="random seed of the generator (default: 42; decisions scenario: 16)"
    )
    fixtures.add_argument(
        "--scenario",
        choices=["demo", "decisions"],
        default="demo",
        help="demo: the company's exports; decisions: the decision layer's planted tables, budgets.yaml and "
        "answers.json (docs/decisions.md) (default: %(default)s)",
    )
    fixtures.add_argument(
        "--lines",
        type=int,
        help="one CUR 2.0 month of about this many lines instead (benchmarks; default: off)",
    )
    fixtures.set_defaults(func=cmd_fixtures)

    rules = sub.add_parser("rules", help="attribution rules")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    check = rules_sub.add_parser("check", help="validate a rules file")
    check.add_argument("file", nargs="?", help="default: MLCOST_RULES, else the shipped rules")
    check.set_defaults(func=cmd_rules_check)

    docs = sub.add_parser("docs", help="generated documentation")
    docs_sub = docs.add_subparsers(dest="docs_command", required=True, metavar="COMMAND")
    tables = docs_sub.add_parser("tables", help="render docs/tables.md from the catalog descriptions")
    tables.add_argument("--check", action="store_true", help="fail if docs/tables.md is out of date")
    tables.set_defaults(func=cmd_docs_tables)
    predictions = docs_sub.add_parser("predictions", help="render the alias tables of docs/predictions.md")
    predictions.add_argument(
        "--check", action="store_true", help="fail if docs/predictions.md is out of date"
    )
    predictions.set_defaults(func=cmd_docs_predictions)
    gpu = docs_sub.add_parser(
        "gpu", help="render the generated blocks of docs/gpu.md (header aliases, gap rule)"
    )
    gpu.add_argument("--check", action="store_true", help="fail if docs/gpu.md is out of date")
    gpu.set_defaults(func=cmd_docs_gpu)
    analysts = docs_sub.add_parser(
        "analysts", help="render the sample session of docs/analysts.md from the demo's warehouse (make demo)"
    )
    analysts.add_argument("--check", action="store_true", help="fail if docs/analysts.md is out of date")
    analysts.set_defaults(func=cmd_docs_analysts)

    from pipelines.report.commands import add_report_commands

    add_report_commands(sub, common, _settings, _month)
    from pipelines.decisions.commands import add_decision_commands

    add_decision_commands(sub, common, _settings, _month)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: a user's mistake prints one clear line and exits 2; --debug shows the traceback."""
    warnings.filterwarnings("ignore", module="dagster")
    args = build_parser().parse_args(argv)
    if args.command == "run":
        from pipelines.orchestration import interrupts

        interrupts.install()  # before anything is read or written (docs/reliability.md, "Interrupts")
    try:
        return args.func(args)
    except BrokenPipeError:
        return _closed_pipe()
    except BaseException as exc:
        if args.debug or isinstance(exc, SystemExit):
            raise
        return _stopped(exc)


def _stopped(exc: BaseException) -> int:
    """One line (or one per bad setting) for how the command stopped, and its exit status; else re-raise."""
    from pipelines.orchestration import interrupts

    # A stop request first: it may surface as another error (DuckDB's "Query interrupted", a failed run).
    if stop := interrupts.stop_request(exc):
        print(f"mlcost: {stop.describe()}", file=sys.stderr)
        return stop.exit_status
    if isinstance(exc, InputError):
        for line in getattr(exc, "lines", [exc]):  # a SettingsError has one line per bad variable
            print(f"mlcost: error: {line}", file=sys.stderr)
        return 2
    from pipelines.orchestration.runner import RunFailed
    from pipelines.storage.disk_space import disk_full_message

    if full := disk_full_message(exc):
        print(f"mlcost: error: {full}", file=sys.stderr)
        return 1
    if isinstance(exc, RunFailed):
        print(f"mlcost: error: {exc}", file=sys.stderr)
        return 2
    raise exc


def _closed_pipe() -> int:
    """The reader of our output went away (`mlcost sql ... | head`): stop quietly, as a Unix tool does."""
    # Python flushes stdout again at exit and would fail once more: point it at /dev/null first.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)
    return 128 + 13  # what a shell reports for a tool ended by SIGPIPE
