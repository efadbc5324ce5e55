"""The `mlcost` command line: run, sql, summary, fixtures, rules check, docs tables."""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from datetime import date
from pathlib import Path

from pipelines.config import REPO_ROOT, Settings
from pipelines.errors import InputError


def _settings(args: argparse.Namespace) -> Settings:
    # Flags override the environment; Settings.from_env reads the rest (one place for configuration).
    for flag, env in (
        ("home", "MLCOST_HOME"),
        ("cur_source", "MLCOST_CUR_SOURCE"),
        ("gpu_source", "MLCOST_GPU_SOURCE"),
        ("predictions_source", "MLCOST_PREDICTIONS_SOURCE"),
        ("rules", "MLCOST_RULES"),
    ):
        value = getattr(args, flag, None)
        if value:
            os.environ[env] = str(Path(value).resolve()) if not str(value).startswith("s3://") else str(value)
    return Settings.from_env()


def _month(text: str) -> date:
    try:
        return date.fromisoformat(text + "-01" if len(text) == 7 else text).replace(day=1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a month (YYYY-MM)") from None


def cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.start:
        os.environ.setdefault("MLCOST_PARTITION_START", args.start.isoformat())
    from pipelines.billing.ingest import source_periods
    from pipelines.runner import months_between, run_pipeline

    if not settings.cur_source:
        raise InputError("MLCOST_CUR_SOURCE", "no billing source: pass --cur-source or set MLCOST_CUR_SOURCE")
    if args.start:
        months = months_between(args.start, args.end or args.start)
    else:
        found = source_periods(settings)
        if not found:
            raise InputError(settings.cur_source, "no billing delivery found in the source")
        months = months_between(min(found), max(found))
    first = os.environ.get("MLCOST_PARTITION_START")
    if first and months[0] < first:
        raise InputError(
            settings.cur_source,
            f"billing period {months[0]} is before the first partition {first}: "
            f"set MLCOST_PARTITION_START={months[0]}",
        )
    t0 = time.monotonic()
    report = run_pipeline(settings, months)
    print(
        f"mlcost run: {', '.join(m[:7] for m in months)} in {time.monotonic() - t0:.1f} s "
        f"(runs: {', '.join(f'{k}={v[:8]}' for k, v in report.run_ids.items())})"
    )
    from pipelines.summary import print_summary

    print_summary(settings)
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    from pipelines.summary import print_summary

    print_summary(_settings(args))
    return 0


def cmd_sql(args: argparse.Namespace) -> int:
    from pipelines.sqlshell import run_query, shell

    settings = _settings(args)
    if args.query:
        return run_query(settings, args.query, args.format)
    return shell(settings)


def cmd_fixtures(args: argparse.Namespace) -> int:
    from pipelines import model_company

    out = Path(args.out).resolve()
    t0 = time.monotonic()
    if args.lines:
        answers = model_company.generate_scaled_month(out, lines=args.lines)
    else:
        answers = model_company.generate(out, seed=args.seed)
    print(f"fixtures written to {out} in {time.monotonic() - t0:.1f} s")
    for period, info in sorted((answers.get("billing_periods") or {}).items()):
        cur2 = info.get("cur2", info)
        print(
            f"  {period}: {cur2.get('lines', 0):,} lines, billed {cur2.get('billed_cost', 0):,.2f}, "
            f"effective {cur2.get('effective_cost', 0):,.2f} {cur2.get('currency', '')}"
        )
    return 0


def cmd_rules_check(args: argparse.Namespace) -> int:
    from pipelines.attribution.rules import load_rules

    rules = load_rules(args.file)
    print(
        f"{rules.path}: {len(rules.rules) - 1} rules, workload tags {rules.tag_keys}, sharing {rules.strategies}"
    )
    return 0


def cmd_docs_tables(args: argparse.Namespace) -> int:
    from pipelines.tables_doc import render_tables_doc

    target = REPO_ROOT / "docs" / "tables.md"
    text = render_tables_doc()
    if args.check:
        if not target.exists() or target.read_text() != text:
            print(f"{target} is out of date: run `mlcost docs tables`", file=sys.stderr)
            return 1
        return 0
    target.write_text(text)
    print(f"wrote {target}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlcost", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show Python tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--home", help="where the lake and warehouse live (MLCOST_HOME, default ./data)")

    run = sub.add_parser("run", help="ingest, attribute and reconcile billing periods through Dagster")
    common(run)
    run.add_argument("--cur-source", help="billing export: folder, file, glob or s3://bucket/prefix")
    run.add_argument("--gpu-source", help="GPU utilization logs: folder, file or s3://...")
    run.add_argument("--predictions-source", help="prediction counts: folder, file or s3://...")
    run.add_argument("--rules", help="attribution rules file (default: the shipped rules)")
    run.add_argument("--from", dest="start", type=_month, help="first billing period, YYYY-MM")
    run.add_argument("--to", dest="end", type=_month, help="last billing period, YYYY-MM")
    run.set_defaults(func=cmd_run)

    summary = sub.add_parser("summary", help="print rows and totals per billing period")
    common(summary)
    summary.set_defaults(func=cmd_summary)

    sql = sub.add_parser("sql", help="query the warehouse read-only (no query: interactive shell)")
    common(sql)
    sql.add_argument("query", nargs="?")
    sql.add_argument("--format", choices=["table", "csv", "json"], default="table")
    sql.set_defaults(func=cmd_sql)

    fixtures = sub.add_parser("fixtures", help="generate the seeded model company's exports and answers")
    fixtures.add_argument("--out", default=str(REPO_ROOT / "fixtures" / "generated"))
    fixtures.add_argument("--seed", type=int, default=42)
    fixtures.add_argument("--lines", type=int, help="one CUR 2.0 month of about this many lines (benchmarks)")
    fixtures.set_defaults(func=cmd_fixtures)

    rules = sub.add_parser("rules", help="attribution rules")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    check = rules_sub.add_parser("check", help="validate a rules file")
    check.add_argument("file", nargs="?")
    check.set_defaults(func=cmd_rules_check)

    docs = sub.add_parser("docs", help="generated documentation")
    docs_sub = docs.add_subparsers(dest="docs_command", required=True)
    tables = docs_sub.add_parser("tables", help="render docs/tables.md from the catalog descriptions")
    tables.add_argument("--check", action="store_true", help="fail if docs/tables.md is out of date")
    tables.set_defaults(func=cmd_docs_tables)

    from pipelines.report.commands import add_report_commands

    add_report_commands(sub, common, _settings, _month)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: a user's mistake prints one clear line and exits 2; --debug shows the traceback."""
    warnings.filterwarnings("ignore", module="dagster")
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except InputError as exc:
        if args.debug:
            raise
        print(f"mlcost: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:
        from pipelines.runner import RunFailed

        if isinstance(exc, RunFailed) and not args.debug:
            print(f"mlcost: error: {exc}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
