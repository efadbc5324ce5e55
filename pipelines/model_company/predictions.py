"""Prediction counts: SageMaker invocation metrics, EC2 request logs and pre-aggregated counts."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl

from .company import Company
from .ids import stream
from .periods import DAY, HOUR, iso_z

PERIOD = 300  # CloudWatch period: a datapoint stamped T covers [T, T + 5 min)
VARIANT = "AllTraffic"
ENDPOINT_LOAD = {"fraud-scorer-prod": 900.0, "recsys-ranker": 2400.0, "Churn-Predictor-V2": 150.0}
FAILING_ENDPOINT = "Churn-Predictor-V2"
REQUEST_LOG_LOAD = {"image-tagger": 1200.0, "support-llm": 400.0}  # requests per day, before the weekend dip
COUNTS_MODEL, COUNTS_LOAD = "text-embedder", 300.0  # per 5 minutes


def _load(times: np.ndarray) -> np.ndarray:
    """Diurnal load (peak mid-afternoon UTC) with a weekend dip to 55 %."""
    hour = (times % DAY) / HOUR
    weekday = ((times // DAY) + 3) % 7  # 0 = Monday
    weekend = np.where(weekday >= 5, 0.55, 1.0)
    return (0.35 + 0.65 * (0.5 + 0.5 * np.sin(2 * np.pi * (hour - 9) / 24))) * weekend


def failing_day(company: Company) -> int:
    """Epoch second of the day the failing endpoint returned many 5XX errors (mid last month)."""
    return company.months[-1].start + 13 * DAY


def write_predictions(out: Path, company: Company) -> pl.DataFrame:
    """Write every prediction source under ``out``; return planted counts per day, workload, endpoint."""
    rows = []
    rows.append(_sagemaker(out, company))
    rows.append(_request_logs(out, company))
    rows.append(_counts(out, company))
    return (
        pl.concat(rows)
        .group_by("usage_date", "workload", "endpoint", "source")
        .agg(pl.col("predictions").sum(), pl.col("failures").sum())
        .sort("usage_date", "workload", "endpoint")
    )


def _stamps(times: np.ndarray, fmt: str) -> list[str]:
    return pl.from_epoch(pl.Series(times), time_unit="s").dt.strftime(fmt).to_list()


def _sagemaker(out: Path, company: Company) -> pl.DataFrame:
    """GetMetricData JSON (newest first, as the API answers) and the same numbers as CSV, per month."""
    endpoints = {r.display_name: r for r in company.of_kind("sagemaker_host")}
    rng = stream(company.seed, "predictions/sagemaker")
    bad_day = failing_day(company)
    planted = []
    json_dir, csv_dir = out / "sagemaker-getmetricdata", out / "sagemaker-csv"
    json_dir.mkdir(parents=True, exist_ok=True)
    csv_dir.mkdir(parents=True, exist_ok=True)
    for month in company.months:
        times = np.arange(month.start, month.end, PERIOD, dtype=np.int64)
        newest_first = _stamps(times[::-1], "%Y-%m-%dT%H:%M:%S+00:00")
        results, csv_parts = [], []
        for name, resource in endpoints.items():
            invocations = rng.poisson(ENDPOINT_LOAD[name] * _load(times))
            err4 = rng.binomial(invocations, 0.002)
            p5 = np.full(len(times), 0.001)
            if name == FAILING_ENDPOINT:
                broken = (times >= bad_day + 6 * HOUR) & (times < bad_day + 18 * HOUR)
                p5[broken] = 0.35
            err5 = rng.binomial(invocations - err4, p5)
            metrics = {"Invocations": invocations, "Invocation4XXErrors": err4, "Invocation5XXErrors": err5}
            for metric, values in metrics.items():
                results.append(
                    {
                        "Id": f"{metric.lower()}_{name.lower().replace('-', '_')}",
                        "Label": f"{name} {VARIANT} {metric}",
                        "Timestamps": newest_first,
                        "Values": values[::-1].astype(float).tolist(),
                        "StatusCode": "Complete",
                    }
                )
            csv_parts.append(
                pl.DataFrame(
                    {
                        "timestamp": pl.from_epoch(pl.Series(times), time_unit="s").dt.strftime(
                            "%Y-%m-%dT%H:%M:%SZ"
                        ),
                        "endpoint_name": name,
                        "variant_name": VARIANT,
                        **{metric: values.astype(np.int64) for metric, values in metrics.items()},
                    }
                )
            )
            planted.append(
                _daily(times, invocations - err4 - err5, err4 + err5, resource.workload, name, "sagemaker")
            )
        payload = {"MetricDataResults": results, "Messages": []}
        (json_dir / f"metrics-{month.label}.json").write_text(json.dumps(payload) + "\n")
        pl.concat(csv_parts).write_csv(csv_dir / f"metrics-{month.label}.csv")
    return pl.concat(planted)


def _daily(times, ok, failed, workload: str, endpoint: str, source: str) -> pl.DataFrame:
    return (
        pl.DataFrame(
            {
                "t": times,
                "predictions": np.asarray(ok, dtype=np.int64),
                "failures": np.asarray(failed, dtype=np.int64),
            }
        )
        .with_columns(pl.from_epoch("t", time_unit="s").dt.date().alias("usage_date"))
        .group_by("usage_date")
        .agg(pl.col("predictions").sum(), pl.col("failures").sum())
        .with_columns(
            pl.lit(workload).alias("workload"),
            pl.lit(endpoint).alias("endpoint"),
            pl.lit(source).alias("source"),
        )
        .select("usage_date", "workload", "endpoint", "source", "predictions", "failures")
    )


def _request_logs(out: Path, company: Company) -> pl.DataFrame:
    """One JSON line per request; statuses >= 400 are failures."""
    rng = stream(company.seed, "predictions/request-logs")
    planted = []
    for model, per_day in REQUEST_LOG_LOAD.items():
        folder = out / "request-logs" / model
        folder.mkdir(parents=True, exist_ok=True)
        for month in company.months:
            for day_start in range(month.start, month.end, DAY):
                hours = day_start + np.arange(24) * HOUR
                weights = _load(hours)
                n = int(rng.poisson(per_day * weights.mean() / 0.675))
                hour_index = rng.choice(24, size=n, p=weights / weights.sum())
                stamps_ms = np.sort(
                    (day_start + hour_index * HOUR) * 1000 + rng.integers(0, HOUR * 1000, size=n)
                )
                status = rng.choice([200, 429, 500, 503], size=n, p=[0.985, 0.008, 0.005, 0.002])
                latency = np.round(
                    rng.lognormal(3.6 if model == "image-tagger" else 6.2, 0.35, size=n)
                ).astype(int)
                frame = pl.DataFrame({"ms": stamps_ms, "status": status, "latency_ms": latency}).with_columns(
                    pl.from_epoch("ms", time_unit="ms")
                    .dt.strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
                    .alias("timestamp")
                )
                text = frame.select(
                    pl.concat_str(
                        [
                            pl.lit('{"timestamp": "'),
                            pl.col("timestamp"),
                            pl.lit(f'", "model": "{model}", "status": '),
                            pl.col("status").cast(pl.String),
                            pl.lit(', "latency_ms": '),
                            pl.col("latency_ms").cast(pl.String),
                            pl.lit("}"),
                        ]
                    )
                ).to_series()
                day_label = iso_z(day_start)[:10]
                (folder / f"{day_label}.jsonl").write_text("".join(line + "\n" for line in text.to_list()))
                ok = int((status < 400).sum())
                planted.append(
                    {
                        "usage_date": day_label,
                        "workload": model,
                        "endpoint": model,
                        "source": "request-logs",
                        "predictions": ok,
                        "failures": n - ok,
                    }
                )
    return pl.DataFrame(planted).with_columns(pl.col("usage_date").str.to_date())


def _counts(out: Path, company: Company) -> pl.DataFrame:
    """Pre-aggregated successful predictions per 5 minutes (the serving stack's counter)."""
    rng = stream(company.seed, "predictions/counts")
    times = np.arange(company.months[0].start, company.months[-1].end, PERIOD, dtype=np.int64)
    counts = rng.poisson(COUNTS_LOAD * _load(times))
    folder = out / "counts"
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame(
        {"timestamp": _stamps(times, "%Y-%m-%dT%H:%M:%SZ"), "model": COUNTS_MODEL, "count": counts}
    ).write_csv(folder / f"{COUNTS_MODEL}.csv")
    return _daily(times, counts, np.zeros_like(counts), COUNTS_MODEL, COUNTS_MODEL, "counts")
