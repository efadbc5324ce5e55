"""Prediction counts (SageMaker invocation metrics, request logs, interval counters) → daily predictions."""

from pipelines.predictions.counts import PredictionReadResult, read_predictions

__all__ = ["PredictionReadResult", "read_predictions"]
