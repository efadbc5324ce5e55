"""Dagster asset `line_items`: the current delivery of each billing period, normalized (sql/line_items.sql)."""

from datetime import date

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetExecutionContext,
    MaterializeResult,
    MetadataValue,
    RetryRequested,
)

from pipelines.billing.ingest import ingest_deliveries, published_state
from pipelines.billing.plausibility import (
    MAX_LINE_COST,
    MIN_FLAGGED_COST,
    REST_FACTOR,
    describe,
    implausible_lines,
)
from pipelines.billing.s3 import TRANSIENT_MAX_RETRIES, TransientS3Error, transient_retry_seconds
from pipelines.errors import InputError
from pipelines.orchestration.checks import judged_periods, rows_table
from pipelines.orchestration.data_through import monthly_data_through, through_metadata
from pipelines.orchestration.lake_assets import lake_asset_body
from pipelines.orchestration.partitions import month_keys
from pipelines.orchestration.resources import MlcostResource
from pipelines.storage import lake
from pipelines.storage.generations import unchanged_fingerprints


def _is_transient(exc: Exception) -> bool:
    """S3 throttling, 5xx and timeouts (after botocore's own retries) are worth a later retry of the run step."""
    return isinstance(exc, TransientS3Error)


@lake_asset_body("line_items")
def line_items(context: AssetExecutionContext, mlcost: MlcostResource) -> MaterializeResult:
    """Every line of the current billing delivery per billing period; a re-delivery replaces its month whole."""
    from pipelines.billing.deliveries import discover_deliveries

    settings = mlcost.settings()
    if not settings.cur_source:
        raise InputError(
            "MLCOST_CUR_SOURCE", "no billing source configured (a folder, a file or s3://bucket/prefix)"
        )
    window = context.partition_time_window
    periods = {
        date.fromisoformat(k)
        for k in month_keys(window.start.date(), window.end.date())
        if date.fromisoformat(k) < window.end.date()
    }
    lake.clean_scratch(settings)
    # "Already published" is trusted only while the file has the SHA-256 recorded when it was published.
    unchanged, changed = unchanged_fingerprints(settings, [p.isoformat() for p in periods])
    for message in changed:
        context.log.warning(message)
    try:
        deliveries = discover_deliveries(
            settings.cur_source,
            staging_dir=settings.staging,
            endpoint_url=settings.s3_endpoint_url,
            skip_fingerprints=unchanged,
        )
    except Exception as exc:
        if _is_transient(exc):
            raise RetryRequested(
                max_retries=TRANSIENT_MAX_RETRIES,
                seconds_to_wait=transient_retry_seconds(context.retry_number),
            ) from exc
        raise
    con = lake.connect(settings)
    written = ingest_deliveries(con, settings, deliveries, periods)
    skipped = sorted(p.isoformat() for p in periods if p.isoformat() not in written)
    # Unchanged periods keep their published delivery: report its totals, so an unchanged month never reads as $0.
    published = {p: published_state(settings, p) for p in skipped}
    current = {**{p: s for p, s in published.items() if s}, **written}
    rows = sum(v["rows"] for v in current.values())
    lines = ["| billing period | delivery | rows | billed | effective |", "|---|---|---:|---:|---:|"]
    for period, info in sorted(current.items()):
        for currency, money in info["currencies"].items():
            lines.append(
                f"| {period} | {info['delivery_id']} | {info['rows']:,} | {money['billed_cost']:,.2f} {currency} "
                f"| {money['effective_cost']:,.2f} {currency} |"
            )
    context.log.info(f"line_items: wrote {sorted(written)}; unchanged or without delivery: {skipped}")
    implausible = []
    if periods and lake.has_data(settings, "line_items"):
        lake.register_views(con, settings, ["line_items"])
        implausible = implausible_lines(con, min(periods), max(periods))
    for row in implausible:
        context.log.warning(describe(row))
    return MaterializeResult(
        check_results=[
            AssetCheckResult(
                check_name="plausible_line_costs",
                passed=not implausible,
                severity=AssetCheckSeverity.WARN,
                # Failing, the description names the lines: `mlcost run` prints failed checks' descriptions.
                description="; ".join(describe(row) for row in implausible[:3])
                + (f"; and {len(implausible) - 3} more" if len(implausible) > 3 else "")
                if implausible
                else f"no line above {MAX_LINE_COST:,.0f}, nor above {MIN_FLAGGED_COST:,.0f} and "
                f"{REST_FACTOR:,.0f} x the rest of its billing period and currency",
                metadata={
                    **(judged_periods(min(periods), max(periods)) if periods else {}),
                    "implausible_lines": len(implausible),
                    "examples": rows_table(implausible),
                },
            )
        ],
        metadata={
            **through_metadata(*monthly_data_through(settings, "line_items"), monthly=True),
            "dagster/row_count": rows,
            "periods_written": ", ".join(sorted(written)) or "none",
            "periods_unchanged_or_missing": ", ".join(skipped) or "none",
            "delivery_ids": ", ".join(sorted({v["delivery_id"] for v in current.values()})) or "none",
            "billed_cost": sum(m["billed_cost"] for v in current.values() for m in v["currencies"].values()),
            "effective_cost": sum(
                m["effective_cost"] for v in current.values() for m in v["currencies"].values()
            ),
            "preview": MetadataValue.md("\n".join(lines)),
            "changed_after_publishing": MetadataValue.md("\n".join(f"- {m}" for m in changed) or "none"),
        },
    )
