"""`make bench`'s billion-line month on paper: measured seconds per line × 1B, and a backfill over workers."""

from bench.run import paper_month


def _stage(seconds: float) -> dict:
    return {
        "ok": True,
        "seconds": seconds,
        "cpu_seconds": seconds,
        "peak_rss": 1e9,
        "rows": 1,
        "extra": {"parts": {"attribute": seconds}},
    }


def test_the_paper_month_scales_the_largest_measured_size():
    sizes = {
        "1000000": {"stages": {"floor_copy": _stage(4.0), "ingest": _stage(5.0), "attribute": _stage(8.0),
                               "gpu_predictions": _stage(1.0), "restate_day": _stage(0.5)}},
        "10000000": {"stages": {"floor_copy": _stage(30.0), "ingest": _stage(40.0), "attribute": _stage(20.0),
                                "gpu_predictions": _stage(5.0), "restate_day": _stage(1.0)}},
    }  # fmt: skip
    paper = paper_month(sizes)
    # From 10M lines (the largest): × 100.
    assert paper["from_lines"] == 10_000_000
    assert paper["stages"] == {"ingest": 4_000.0, "attribute": 2_000.0, "gpu_predictions": 500.0}
    assert paper["month"] == 6_500.0
    assert paper["restate_day"] == 100.0
    # 12 months: 12 on one worker, 6 rounds on two, 2 rounds on eight (ceil(12 / 8)).
    assert paper["backfill"] == {1: 78_000.0, 2: 39_000.0, 8: 13_000.0}


def test_no_complete_size_no_paper_month():
    assert paper_month({"1000000": {"stages": {"floor_copy": _stage(4.0)}}}) is None
