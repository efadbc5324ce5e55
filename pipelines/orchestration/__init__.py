"""Orchestration: Dagster definitions, assets' shared parts, jobs, partitions, schedules and sensors, runs."""
