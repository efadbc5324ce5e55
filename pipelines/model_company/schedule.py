"""When each compute resource runs: instance-hours used in each hour of the generated span."""

from __future__ import annotations

import numpy as np

from .company import Company, Resource
from .ids import stream
from .periods import DAY, HOUR


def build_timelines(company: Company) -> dict[str, np.ndarray]:
    """Instance-hours per hour (float, index 0 = first hour of the first month) for every compute resource."""
    span_start, span_end = company.months[0].start, company.months[-1].end
    n_hours = (span_end - span_start) // HOUR
    timelines: dict[str, np.ndarray] = {}
    for resource in company.resources:
        if resource.kind not in ("ec2", "sagemaker_host", "sagemaker_notebook", "sagemaker_train"):
            continue
        rng = stream(company.seed, f"schedule/{resource.key}")
        timelines[resource.key] = _timeline(resource, rng, span_start, n_hours)
    return timelines


def _timeline(resource: Resource, rng: np.random.Generator, span_start: int, n_hours: int) -> np.ndarray:
    hours = np.zeros(n_hours)
    if resource.schedule == "always":
        hours[:] = resource.count
    elif resource.schedule == "workhours":
        stamps = span_start + np.arange(n_hours) * HOUR
        weekday = ((stamps // DAY) + 3) % 7  # 1970-01-01 was a Thursday: 0 = Monday
        hour_of_day = (stamps % DAY) // HOUR
        hours[(weekday < 5) & (hour_of_day >= 13) & (hour_of_day < 23)] = resource.count
    elif resource.schedule == "bursty":
        hours[:] = _bursts(rng, n_hours) * resource.count
    elif resource.schedule == "job":
        first = (resource.job_start - span_start) // HOUR
        whole = int(resource.job_hours)
        hours[first : first + whole] = resource.count
        remainder = round(resource.job_hours - whole, 4)
        if remainder > 0:
            hours[first + whole] = round(remainder * resource.count, 4)
    else:
        raise ValueError(f"unknown schedule {resource.schedule!r} for {resource.key}")
    return hours


def _bursts(rng: np.random.Generator, n_hours: int) -> np.ndarray:
    """Training bursts: whole hours on, runs of 4 to 30 hours, about one day in four with no start."""
    on = np.zeros(n_hours, dtype=bool)
    days_off = rng.random(n_hours // 24 + 1) < 0.25
    hour = 0
    while hour < n_hours:
        if days_off[hour // 24] or rng.random() > 0.12:
            hour += 1
            continue
        length = int(rng.integers(4, 31))
        on[hour : hour + length] = True
        hour += length + int(rng.integers(1, 6))
    return on.astype(float)
