"""The `mlcost anomalies`, `mlcost forecast` and `mlcost recommend` commands (registered by pipelines/cli/main.py)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from datetime import date, timedelta

from pipelines.storage import lake

FORMATS = ["table", "csv", "json"]

# What the terminal shows of each table; csv and json give the same columns (all of a row's figures).
ANOMALY_COLUMNS = (
    "usage_date, metric, scope, billing_currency, round(value, 6) AS value, round(baseline, 6) AS baseline, "
    "round(100 * deviation_pct, 1) AS change_pct, round(dollar_impact, 2) AS dollar_impact, "
    "round(robust_z, 1) AS robust_z, top_contributors"
)
FORECAST_COLUMNS = (
    "billing_period, as_of, category, workload, billing_currency, round(mtd_cost, 2) AS mtd_cost, "
    "round(daily_rate, 2) AS daily_rate, days_remaining, round(forecast_cost, 2) AS forecast_cost, "
    "round(forecast_low, 2) AS forecast_low, round(forecast_high, 2) AS forecast_high"
)


def _missing(table: str) -> int:
    print(f"mlcost: {table} has no published data yet: run `mlcost run` first (it computes {table})")
    return 1


def _print(rel, fmt: str) -> None:
    from pipelines.cli.sqlshell import TABLE_MAX_ROWS, write_rows

    if fmt == "table":
        rel.show(max_rows=TABLE_MAX_ROWS, max_width=200)
    else:
        write_rows(rel.columns, rel.fetchall(), fmt)


def cmd_anomalies(args: argparse.Namespace, settings) -> int:
    if not lake.has_data(settings, "cost_anomalies"):
        return _missing("cost_anomalies")
    con = lake.connect(settings)
    lake.register_views(con, settings, ["cost_anomalies"])
    # The days judged are the table's partitions (a day without anomaly has an empty one): the window ends at the
    # last judged day, not today, so a lake of past months still answers.
    last = date.fromisoformat(lake.published_partitions(settings, "cost_anomalies")[-1])
    first = last - timedelta(days=args.days - 1)
    rel = con.sql(
        f"SELECT {ANOMALY_COLUMNS} FROM cost_anomalies WHERE usage_date BETWEEN $first AND $last "
        "ORDER BY usage_date DESC, abs(dollar_impact) DESC, metric, scope",
        params={"first": first, "last": last},
    )
    count = len(rel.fetchall())
    if args.format == "table":
        print(
            f"mlcost anomalies: {count} from {first} to {last} (trailing 28-day median, robust z, ≥ 50 impact)"
        )
        if not count:
            return 0
    _print(rel, args.format)
    return 0


def cmd_forecast(args: argparse.Namespace, settings) -> int:
    if not lake.has_data(settings, "month_end_forecast"):
        return _missing("month_end_forecast")
    con = lake.connect(settings)
    lake.register_views(con, settings, ["month_end_forecast"])
    period = args.period or date.fromisoformat(lake.published_partitions(settings, "month_end_forecast")[-1])
    params = {"period": period}
    rel = con.sql(
        f"SELECT {FORECAST_COLUMNS} FROM month_end_forecast WHERE billing_period = $period "
        "ORDER BY billing_currency, forecast_cost DESC, category, workload",
        params=params,
    )
    if args.format == "table":
        totals = con.execute(
            "SELECT billing_currency, max(as_of), fsum(mtd_cost), fsum(forecast_cost) FROM month_end_forecast "
            "WHERE billing_period = $period GROUP BY ALL ORDER BY ALL",
            params,
        ).fetchall()
        if not totals:
            print(f"mlcost forecast: no cost in {period:%Y-%m}")
            return 0
        for currency, as_of, mtd, forecast in totals:
            print(
                f"mlcost forecast {period:%Y-%m}: {mtd:,.2f} {currency} to {as_of}, month end {forecast:,.2f} "
                f"{currency} (month to date + mean of the last 7 days × days remaining)"
            )
    _print(rel, args.format)
    if args.format == "table" and lake.has_data(settings, "budget_status"):
        # People reading the forecast want the budgets beside it; csv and json stay one table.
        lake.register_views(con, settings, ["budget_status"])
        budgets = con.sql(
            "SELECT budget, scope, billing_currency, amount, round(actual_cost, 2) AS actual_cost, "
            "round(forecast_cost, 2) AS forecast_cost, round(100 * forecast_share, 1) AS forecast_pct, status "
            "FROM budget_status WHERE billing_period = $period ORDER BY forecast_share DESC, budget",
            params=params,
        )
        if budgets.fetchall():
            print(f"budgets ({period:%Y-%m}):")
            _print(budgets, "table")
    return 0


def add_decision_commands(
    sub: argparse._SubParsersAction,
    common: Callable[[argparse.ArgumentParser], None],
    settings: Callable[[argparse.Namespace], object],
    month: Callable[[str], date],
) -> None:
    def bind(func):
        return lambda args: func(args, settings(args))

    def positive_days(text: str) -> int:
        days = int(text)
        if days < 1:
            raise argparse.ArgumentTypeError(f"--days must be 1 or more, not {text}")
        return days

    anomalies = sub.add_parser(
        "anomalies", help="days whose cost, cost per prediction or η departed from normal"
    )
    common(anomalies)
    anomalies.add_argument(
        "--days", type=positive_days, default=7, help="last N judged days (default: %(default)s)"
    )
    anomalies.add_argument("--format", choices=FORMATS, default="table", help="default: %(default)s")
    anomalies.set_defaults(func=bind(cmd_anomalies))

    forecast = sub.add_parser("forecast", help="month-end cost forecast per category and workload")
    common(forecast)
    forecast.add_argument("--period", type=month, help="billing period, YYYY-MM (default: the latest)")
    forecast.add_argument("--format", choices=FORMATS, default="table", help="default: %(default)s")
    forecast.set_defaults(func=bind(cmd_forecast))

    recommend = sub.add_parser(
        "recommend",
        help="actions (idle GPUs, batching, storage, egress, commitments) and their monthly saving",
    )
    common(recommend)
    recommend.add_argument(
        "--min-saving", type=float, default=0.0, help="hide savings under this a month (default: %(default)s)"
    )
    recommend.add_argument("--format", choices=FORMATS, default="table", help="default: %(default)s")
    recommend.set_defaults(func=bind(cmd_recommend))

    add_whatif_command(sub, common, settings, month)


def add_whatif_command(sub, common, settings, month) -> None:
    from pipelines.decisions.recommendations import BATCH_MARGINAL_SHARE

    def bind(func):
        return lambda args: func(args, settings(args))

    whatif = sub.add_parser(
        "whatif", help="a month's inference cost under a changed batch size, η target or instance type"
    )
    kinds = whatif.add_subparsers(dest="whatif", required=True, metavar="KIND")

    def kind(name: str, text: str) -> argparse.ArgumentParser:
        parser = kinds.add_parser(name, help=text)
        common(parser)
        parser.add_argument("--workload", required=True, help="the model / workload")
        parser.add_argument("--period", type=month, help="billing period, YYYY-MM (default: the latest)")
        parser.set_defaults(func=bind(cmd_whatif))
        return parser

    batch = kind("batch", "predictions per invocation (the batching recommendation's model)")
    batch.add_argument("--batch-size", type=int, required=True, help="1 to 64")
    batch.add_argument("--latency-budget-ms", type=float, help="default: MLCOST_LATENCY_BUDGET_MS (200)")
    batch.add_argument(
        "--marginal-share",
        type=float,
        default=BATCH_MARGINAL_SHARE,
        help="GPU time each further request adds, as a share of one request's (default: %(default)s)",
    )
    eta = kind("eta", "the GPUs kept busy a target share η of the time they are paid for")
    eta.add_argument("--target", type=float, required=True, help="target η, (0, 1]")
    instance = kind("instance", "another GPU instance type at its list price per GPU hour")
    instance.add_argument("--instance-type", required=True, help="e.g. g6.xlarge")


def cmd_whatif(args: argparse.Namespace, settings) -> int:
    from pipelines.decisions import whatif

    con = whatif.connect(settings)
    if args.whatif == "batch":
        projection = whatif.whatif_batch(
            con,
            settings,
            args.workload,
            args.batch_size,
            args.period,
            args.latency_budget_ms,
            args.marginal_share,
        )
    elif args.whatif == "eta":
        projection = whatif.whatif_eta(con, settings, args.workload, args.target, args.period)
    else:
        projection = whatif.whatif_instance(con, settings, args.workload, args.instance_type, args.period)
    print("\n".join(projection.lines()))
    return 0


RECOMMENDATION_COLUMNS = (
    "billing_period, kind, resource_id, workload, instance_type, round(eta, 3) AS eta, "
    "round(monthly_cost, 2) AS monthly_cost, round(monthly_saving, 2) AS monthly_saving, confidence, action, "
    "evidence, computed_as"
)


def cmd_recommend(args: argparse.Namespace, settings) -> int:
    if not lake.has_data(settings, "recommendations"):
        return _missing("recommendations")
    con = lake.connect(settings)
    lake.register_views(con, settings, ["recommendations"])
    period = date.fromisoformat(lake.published_partitions(settings, "recommendations")[-1])
    rel = con.sql(
        f"SELECT {RECOMMENDATION_COLUMNS} FROM recommendations "
        "WHERE billing_period = $period AND monthly_saving >= $min_saving "
        "ORDER BY monthly_saving DESC, resource_id",
        params={"period": period, "min_saving": args.min_saving},
    )
    count = len(rel.fetchall())
    if args.format == "table":
        print(
            f"mlcost recommend {period:%Y-%m}: {count} recommendation(s) saving ≥ {args.min_saving:,.2f} a month (billing currency)"
        )
        if not count:
            return 0
    _print(rel, args.format)
    return 0
