"""The `mlcost report` and `mlcost export focus|showback` commands (registered by pipelines/cli/main.py)."""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path


def cmd_report(args: argparse.Namespace, settings) -> int:
    from pipelines.report.render import build_report

    t0 = time.monotonic()
    report = build_report(settings, args.as_of)
    drawn = sum(s.drawn for s in report.sections)
    print(
        f"mlcost report: {report.path} ({drawn}/{len(report.sections)} charts drawn) in {time.monotonic() - t0:.1f} s"
    )
    for section in report.sections:
        if not section.drawn:
            print(f"  {section.chart.name}: {section.chart.empty_note}")
    print(f"  latest: {report.latest}")
    return 0


def cmd_export_focus(args: argparse.Namespace, settings) -> int:
    from pipelines.exports.focus import export_focus

    result = export_focus(settings, args.period, Path(args.out) if args.out else None)
    print(f"mlcost export focus: {result.rows:,} rows -> {result.parquet} and {result.csv}")
    for currency, (billed, effective) in sorted(result.sums.items()):
        print(
            f"  {currency}: Σ BilledCost {billed:,.2f}, Σ EffectiveCost {effective:,.2f} (equal to the bill)"
        )
    if result.uninvoiced_rows:
        print(
            f"  note: {result.uninvoiced_rows:,} of {result.rows:,} rows have no InvoiceId: the billing export "
            f"gives none for their lines, because the month is not invoiced yet (CUR writes bill/InvoiceId once "
            f"the invoice is issued: export the period again then) or because its format has none (FOCUS 1.0 and "
            f"1.1). FOCUS validators that check InvoiceId on every row report these."
        )
    return 0


def cmd_export_showback(args: argparse.Namespace, settings) -> int:
    from pipelines.exports.showback import export_showback

    result = export_showback(
        settings, args.period, args.by, Path(args.out) if args.out else None, args.owner_tag
    )
    print(f"mlcost export showback: {result.rows:,} rows -> {result.csv} and {result.parquet}")
    print(
        f"  rules sha256 {result.metadata['mlcost.rules_sha256'][:16]}…, delivery {result.metadata['mlcost.delivery_id']}"
    )
    return 0


def add_report_commands(
    sub: argparse._SubParsersAction,
    common: Callable[[argparse.ArgumentParser], None],
    settings: Callable[[argparse.Namespace], object],
    month: Callable[[str], date],
) -> None:
    def bind(func):
        return lambda args: func(args, settings(args))

    report = sub.add_parser("report", help="write the HTML cost report under $MLCOST_HOME/reports/")
    common(report)
    report.add_argument(
        "--as-of", type=date.fromisoformat, help="last day of the report (default: the latest day)"
    )
    report.set_defaults(func=bind(cmd_report))

    export = sub.add_parser("export", help="files other tools read: FOCUS 1.2, showback")
    export_sub = export.add_subparsers(dest="export_command", required=True)
    focus = export_sub.add_parser(
        "focus", help="a billing period's attributed cost as FOCUS 1.2 (Parquet, CSV)"
    )
    common(focus)
    focus.add_argument("--period", type=month, required=True, help="billing period, YYYY-MM")
    focus.add_argument("--out", help="folder (default $MLCOST_HOME/exports/focus)")
    focus.set_defaults(func=bind(cmd_export_focus))
    showback = export_sub.add_parser("showback", help="direct, spread and total cost per owner and category")
    common(showback)
    showback.add_argument("--period", type=month, required=True, help="billing period, YYYY-MM")
    showback.add_argument(
        "--by",
        choices=["workload", "team", "model"],
        default="workload",
        help="the owner each row is for (default: workload)",
    )
    showback.add_argument(
        "--owner-tag", help="tag naming the owner (default user:team for team, user:model for model)"
    )
    showback.add_argument("--out", help="folder (default $MLCOST_HOME/exports/showback)")
    showback.set_defaults(func=bind(cmd_export_showback))
