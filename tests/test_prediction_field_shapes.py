"""Prediction counts in the shapes serving stacks write (issue 14): per-replica counters, vendor status words with
zone-less times, Prometheus rate exports, the generated alias docs, and a log that yields nothing usable.

Expected figures are written as tables a person can check by hand.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from corpus import bad_inputs as corpus

from pipelines.config import Settings, SettingsError
from pipelines.predictions import read_predictions
from pipelines.predictions.aliases import COLUMNS, DOC_END, DOC_START, STATUS_WORDS, updated_doc
from pipelines.predictions.cost import read_source, unusable_files
from pipelines.storage import lake

REPO = Path(__file__).resolve().parents[1]
APR30, MAY1, MAY2 = date(2026, 4, 30), date(2026, 5, 1), date(2026, 5, 2)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def daily(result, *columns: str) -> list[tuple]:
    return [tuple(r[c] for c in columns) for r in result.daily.iter_rows(named=True)]


# --- bug 3: counters written per replica add up ---------------------------------------------------------------

# `increase(model_predictions_total[5m])` by pod, as a Prometheus range query exported long (KServe pod names).
# Two overlapping exports: the second repeats pod a's 10:00 row (a true duplicate), and the first has pod c's row
# written twice (a true duplicate in one file).
#
# | file    | pod | count | errors | counted          |
# |---------|-----|------:|-------:|------------------|
# | export1 | a   |     5 |      0 | 5                |
# | export1 | b   |     5 |      1 | 5 (1 failed)     |
# | export1 | c   |     3 |      0 | 3                |
# | export1 | c   |     3 |      0 | duplicate        |
# | export2 | a   |     5 |      0 | duplicate        |
# | total   |     |       |        | 13, 1 failed, 12 |
REPLICA_EXPORT_1 = """timestamp,model,pod,count,errors
2026-05-01T10:00:00Z,ranker,ranker-predictor-00001-deployment-7d9f8-a,5,0
2026-05-01T10:00:00Z,ranker,ranker-predictor-00001-deployment-7d9f8-b,5,1
2026-05-01T10:00:00Z,ranker,ranker-predictor-00001-deployment-7d9f8-c,3,0
2026-05-01T10:00:00Z,ranker,ranker-predictor-00001-deployment-7d9f8-c,3,0
"""
REPLICA_EXPORT_2 = """timestamp,model,pod,count,errors
2026-05-01T10:00:00Z,ranker,ranker-predictor-00001-deployment-7d9f8-a,5,0
"""


def test_counters_of_three_replicas_add_up_and_only_true_duplicates_collapse(tmp_path):
    write(tmp_path / "export1.csv", REPLICA_EXPORT_1)
    write(tmp_path / "export2.csv", REPLICA_EXPORT_2)
    result = read_predictions(tmp_path)
    assert daily(result, "usage_date", "endpoint", "invocations", "failed_requests", "predictions") == [
        (MAY1, "ranker", 13, 1, 12.0)
    ]
    assert result.duplicates == 2 and result.conflicts == 0
    assert any(
        w.startswith("interval counts: 2 (timestamp, model, replica) keys were read more than once")
        for w in result.warnings
    )


def test_equal_counts_of_unlabelled_rows_in_one_file_are_replicas_not_duplicates(tmp_path):
    # A shared log sink where each replica appends its own count, with no pod field: 5, 5, 3 → 13.
    write(
        tmp_path / "counts.csv",
        "timestamp,model,count\n"
        "2026-05-01T10:00:00Z,ranker,5\n"
        "2026-05-01T10:00:00Z,ranker,5\n"
        "2026-05-01T10:00:00Z,ranker,3\n",
    )
    write(tmp_path / "copy_of_counts.csv", (tmp_path / "counts.csv").read_text())  # an overlapping export
    result = read_predictions(tmp_path)
    assert daily(result, "invocations", "predictions") == [(13, 13.0)]
    assert result.duplicates == 1  # the copy's (10:00, ranker) total of 13
    assert any(
        "summed them as different replicas" in w and "Add a replica column" in w for w in result.warnings
    )


def test_a_twenty_replica_service_is_not_undercounted_by_95_percent(tmp_path):
    # | 20 pods (Prometheus `instance` label) | 50 requests each | 1,000 requests, not 50 |
    lines = ["timestamp,instance,model_name,count"]
    lines += [f"2026-05-01T10:00:00Z,10.0.0.{i}:8080,ranker,50" for i in range(20)]
    write(tmp_path / "by_instance.csv", "\n".join(lines) + "\n")
    result = read_predictions(tmp_path)
    assert daily(result, "invocations", "predictions") == [(1000, 1000.0)]
    assert result.duplicates == 0


def test_a_replica_whose_copies_disagree_keeps_the_larger_and_is_a_conflict(tmp_path):
    header = "timestamp,model,host,count\n"
    write(
        tmp_path / "early.csv", header + "2026-05-01T10:00:00Z,m,gpu-1,30\n2026-05-01T10:00:00Z,m,gpu-2,7\n"
    )
    write(tmp_path / "late.csv", header + "2026-05-01T10:00:00Z,m,gpu-1,31\n")
    result = read_predictions(tmp_path)
    # | gpu-1 | 30 then 31 | 31 (conflict) | + gpu-2 7 | = 38 |
    assert daily(result, "invocations") == [(38,)]
    assert result.conflicts == 1 and result.duplicates == 1


# --- vendor status words, zone-less timestamps ----------------------------------------------------------------

# An async-inference job log (one line per state change, local time, no zone), read in Europe/Paris (UTC+2 in
# May, so 01:30 local is 23:30 UTC on April 30).
#
# | request | lines                    | outcome                      |
# |---------|--------------------------|------------------------------|
# | q1      | PENDING, SUCCEEDED       | 1 ok, 1 unfinished line      |
# | q2      | PROCESSING, FAILED       | 1 failed, 1 unfinished line  |
# | q3      | RUNNING                  | 1 unfinished line, not count |
# | q4      | Completed                | ok                           |
# | q5      | TIMEOUT                  | failed                       |
# | q6      | ERROR                    | failed                       |
# | q7, q8  | SUCCEED, SUCCESS         | ok, ok                       |
# | q9      | WAITING                  | unknown: skipped line        |
# | total   | 11 lines                 | 7 invocations, 3 failed, 4 predictions; 3 unfinished; 1 skipped |
ASYNC_LOG = """\
{"time": "2026-05-01 01:30:00", "model_name": "llm-7b", "request_id": "q1", "state": "PENDING"}
{"time": "2026-05-01 01:30:02", "model_name": "llm-7b", "request_id": "q1", "state": "SUCCEEDED"}
{"time": "2026-05-01 01:31:00", "model_name": "llm-7b", "request_id": "q2", "state": "PROCESSING"}
{"time": "2026-05-01 01:31:05", "model_name": "llm-7b", "request_id": "q2", "state": "FAILED"}
{"time": "2026-05-01 01:32:00", "model_name": "llm-7b", "request_id": "q3", "state": "RUNNING"}
{"time": "2026-05-01 01:33:00", "model_name": "llm-7b", "request_id": "q4", "state": "Completed"}
{"time": "2026-05-01 01:34:00", "model_name": "llm-7b", "request_id": "q5", "state": "TIMEOUT"}
{"time": "2026-05-01 01:35:00", "model_name": "llm-7b", "request_id": "q6", "state": "ERROR"}
{"time": "2026-05-01 01:36:00", "model_name": "llm-7b", "request_id": "q7", "state": "SUCCEED"}
{"time": "2026-05-01 01:37:00", "model_name": "llm-7b", "request_id": "q8", "state": "SUCCESS"}
{"time": "2026-05-01 01:38:00", "model_name": "llm-7b", "request_id": "q9", "state": "WAITING"}
"""


def test_vendor_status_words_and_unfinished_requests(tmp_path):
    log = write(tmp_path / "async" / "requests.jsonl", ASYNC_LOG)
    result = read_predictions(tmp_path, naive_timezone="Europe/Paris")
    assert daily(result, "usage_date", "endpoint", "invocations", "failed_requests", "predictions") == [
        (APR30, "llm-7b", 7, 3, 4.0)
    ]
    assert result.unfinished_lines == {str(log): 3}
    assert result.skipped_lines == {str(log): 1}
    assert result.conflicts == 0  # a pending line and its finished line are not two versions of a request
    [message] = [w for w in result.warnings if "line 11" in w]
    assert message.startswith(f"{log}, line 11, column 'state': unknown status 'WAITING' (accepted: ")
    for word in ("succeeded", "completed", "failed", "timeout", "pending", "processing", "running"):
        assert word in message
    files = result.files.row(0, named=True)
    assert (files["lines_read"], files["lines_skipped"], files["lines_unfinished"], files["successful"]) == (
        11,
        1,
        3,
        4.0,
    )


def test_csv_status_words_are_compared_in_any_case(tmp_path):
    write(
        tmp_path / "r.csv",
        "timestamp,endpoint,status\n"
        "2026-05-01T10:00:00Z,ep,succeeded\n"
        "2026-05-01T10:00:01Z,ep,Failed\n"
        "2026-05-01T10:00:02Z,ep,pending\n"
        "2026-05-01T10:00:03Z,ep,200\n",
    )
    result = read_predictions(tmp_path)
    assert daily(result, "invocations", "failed_requests", "predictions") == [(3, 1, 2.0)]
    # "pending" is a request not yet finished: counted apart, not a bad line.
    assert result.unfinished_lines == {str(tmp_path / "r.csv"): 1} and result.skipped_lines == {}


def test_predictions_timezone_setting(tmp_path, monkeypatch):
    write(tmp_path / "requests.jsonl", ASYNC_LOG)
    monkeypatch.setenv("MLCOST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MLCOST_PREDICTIONS_SOURCE", str(tmp_path))
    monkeypatch.setenv("MLCOST_PREDICTIONS_TIMEZONE", "Europe/Paris")
    result = read_source(Settings.from_env())
    assert daily(result, "usage_date", "invocations") == [(APR30, 7)]
    # Unset: zone-less lines are skipped, and the message names the setting.
    monkeypatch.delenv("MLCOST_PREDICTIONS_TIMEZONE")
    result = read_source(Settings.from_env())
    assert result.rejected_files  # every line refused: the file is rejected with the first reason
    assert "set MLCOST_PREDICTIONS_TIMEZONE" in next(iter(result.rejected_files.values()))
    monkeypatch.setenv("MLCOST_PREDICTIONS_TIMEZONE", "Europe/Pariss")
    # A bad zone is refused when the settings are read, before anything is written (docs/reliability.md).
    with pytest.raises(SettingsError) as info:
        Settings.from_env()
    assert info.value.lines[0].startswith("MLCOST_PREDICTIONS_TIMEZONE='Europe/Pariss' is not accepted")


# --- rate sources ---------------------------------------------------------------------------------------------

# `sum by (container, model) (rate(inference_requests_total[15s]))` exported as CSV, 15 s step.
#
# | container | 10:00:15 | 10:00:30 | 10:00:45 | requests               |
# |-----------|---------:|---------:|---------:|------------------------|
# | a         |      2.0 |      4.0 |      1.0 | (2 + 4 + 1) × 15 = 105 |
# | b         |      0.6 |      0.6 |      0.6 | 1.8 × 15 = 27          |
# | total     |          |          |          | 132                    |
QPS_EXPORT = """timestamp,container,model,qps
2026-05-01T10:00:15Z,triton-a,detector,2.0
2026-05-01T10:00:15Z,triton-b,detector,0.6
2026-05-01T10:00:30Z,triton-a,detector,4.0
2026-05-01T10:00:30Z,triton-b,detector,0.6
2026-05-01T10:00:45Z,triton-a,detector,1.0
2026-05-01T10:00:45Z,triton-b,detector,0.6
2026-05-01T10:00:45Z,triton-b,detector,NaN
"""

# The Prometheus HTTP API's [epoch, "value"] pairs written out, 60 s step, one series, with an error rate; the
# 00:02 sample is missing. A sample stands for the minute that ends at its timestamp.
#
# | sample   | rps  | errors/s | interval        | day   | requests | failed |
# |----------|-----:|---------:|-----------------|-------|---------:|-------:|
# | 00:00:00 | 1.5  | 0.5      | 23:59 → 00:00   | May 1 |       90 |     30 |
# | 00:01:00 | 2.0  | 0        | 00:00 → 00:01   | May 2 |      120 |      0 |
# | 00:03:00 | 0.25 | (blank)  | 00:02 → 00:03   | May 2 |       15 |      0 |
RPS_EXPORT = """timestamp,model,requests_per_second,errors_per_second
1777680000,embedder,1.5,0.5
1777680060,embedder,2.0,0
1777680180,embedder,0.25,
"""


def test_rate_samples_count_rate_times_spacing_summed_over_containers(tmp_path):
    qps = write(tmp_path / "qps.csv", QPS_EXPORT)
    write(tmp_path / "rps.csv", RPS_EXPORT)
    result = read_predictions(tmp_path)
    assert daily(
        result, "usage_date", "endpoint", "invocations", "failed_requests", "predictions", "source"
    ) == [
        (MAY1, "detector", 132, 0, 132.0, "rates_csv"),
        (MAY1, "embedder", 90, 30, 60.0, "rates_csv"),
        (MAY2, "embedder", 135, 0, 135.0, "rates_csv"),
    ]
    assert result.skipped_lines == {str(qps): 1}  # Prometheus' NaN: no data, a counted bad line
    assert any("1 samples of 60 s missing" in w for w in result.warnings)
    detector = result.intervals.filter(pl.col("endpoint") == "detector")
    assert detector["invocations"].to_list() == pytest.approx([2 * 15 + 0.6 * 15, 4 * 15 + 9, 15 + 9])


def test_a_jittery_sampler_with_a_missing_sample(tmp_path):
    # A sidecar script printing its server's requests/s every ~10 s; the 10:00:30 sample never came.
    #
    # | gaps (s)                         | step: lower median | samples | requests                  |
    # |----------------------------------|--------------------|--------:|---------------------------|
    # | 10.002, 9.997, 20.002, 9.999     | 9.999              |       5 | 5 × 2.0 × 9.999 = 99.99 → 100 |
    write(
        tmp_path / "sidecar.csv",
        "ts,hostname,model_id,rps\n"
        "2026-05-01T10:00:00.000Z,gpu-node-3,whisper,2.0\n"
        "2026-05-01T10:00:10.002Z,gpu-node-3,whisper,2.0\n"
        "2026-05-01T10:00:19.999Z,gpu-node-3,whisper,2.0\n"
        "2026-05-01T10:00:40.001Z,gpu-node-3,whisper,2.0\n"
        "2026-05-01T10:00:50.000Z,gpu-node-3,whisper,2.0\n",
    )
    result = read_predictions(tmp_path)
    assert daily(result, "endpoint", "invocations", "predictions") == [("whisper", 100, 100.0)]
    assert result.intervals["invocations"].sum() == pytest.approx(5 * 2.0 * 9.999)
    assert any("1 samples of 9.999 s missing" in w for w in result.warnings)


def test_a_rate_file_with_one_sample_per_series_is_refused(tmp_path):
    path = write(tmp_path / "one.csv", "timestamp,pod,model,rps\n2026-05-01T10:00:00Z,p,m,3\n")
    result = read_predictions(tmp_path)
    assert result.rejected_files == {
        str(path): f"{path}, column 'timestamp': cannot tell the spacing of the rate samples: "
        "no series (model, container) has two samples"
    }


# --- the alias docs are generated from the code's tables ------------------------------------------------------


def test_docs_list_every_header_alias_and_status_word_from_the_code():
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "docs", "predictions", "--check"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )
    assert proc.returncode == 0, (
        proc.stderr + "\n(run `mlcost docs predictions` and commit docs/predictions.md)"
    )
    text = (REPO / "docs" / "predictions.md").read_text()
    assert updated_doc(text) == text
    generated = text.split(DOC_START, 1)[1].split(DOC_END, 1)[0]
    for column in COLUMNS:
        for alias in column.aliases:
            assert f"`{alias}`" in generated, alias
    for word in STATUS_WORDS:
        assert f"`{word}`" in generated, word


# --- a source that yields nothing usable is reported ----------------------------------------------------------


def _mostly_bad_log(folder: Path) -> Path:
    """A request log of 100 lines where 99 carry a zone-less time (no zone configured): 1 usable line."""
    lines = ["timestamp,model,status", "2026-10-03T00:00:00Z,ranker,200"]
    lines += [f"2026-10-03 00:{m:02d}:00,ranker,200" for m in range(1, 60)]
    lines += [f"2026-10-03 01:{m:02d}:00,ranker,200" for m in range(0, 40)]
    return write(folder / "requests.csv", "\n".join(lines) + "\n")


def test_the_unusable_files_check_gives_the_figures(tmp_path):
    bad = _mostly_bad_log(tmp_path / "src")
    failing = write(
        tmp_path / "src" / "failing.csv", "timestamp,model,status\n2026-10-03T00:00:00Z,tagger,FAILED\n"
    )
    write(tmp_path / "src" / "good.csv", "timestamp,model,count\n2026-10-03T00:00:00Z,embedder,4\n")
    result = read_predictions(tmp_path / "src")
    con = lake.connect(Settings(home=tmp_path / "home"))
    try:
        rows = unusable_files(con, str(tmp_path / "src"), result)
        empty = unusable_files(
            con, str(tmp_path / "empty"), read_predictions(write(tmp_path / "empty" / "x.md", ""))
        )
    finally:
        con.close()
    # | file         | lines read | skipped | successful | why                            |
    # | failing.csv  |          1 |       0 |          0 | every request failed           |
    # | requests.csv |        100 |      99 |          1 | 99 % skipped (no time zone)    |
    assert [
        (r["file"], r["lines_read"], r["lines_skipped"], r["lines_unfinished"], r["successful"]) for r in rows
    ] == [(str(failing), 1, 0, 0, 0.0), (str(bad), 100, 99, 0, 1.0)]
    assert "has no time zone" in rows[1]["first_problem"]
    assert [(r["lines_read"], r["first_problem"]) for r in empty] == [
        (0, "no prediction file read (1 ignored)")
    ]


def test_mlcost_run_says_on_the_terminal_when_a_log_yields_almost_nothing(tmp_path):
    source = corpus.baseline(tmp_path / "corpus")
    predictions = tmp_path / "predictions"
    log = _mostly_bad_log(predictions)
    # Beside it, pod b's counter written twice: the collapsed row is counted in the asset's metadata.
    write(
        predictions / "counts.csv",
        "timestamp,model,pod,count\n"
        "2026-10-03T00:00:00Z,embedder,a,5\n2026-10-03T00:00:00Z,embedder,b,3\n2026-10-03T00:00:00Z,embedder,b,3\n",
    )
    dagster_home = tmp_path / "dagster"
    dagster_home.mkdir()
    env = {
        **os.environ,
        "MLCOST_HOME": str(tmp_path / "home"),
        "DAGSTER_HOME": str(dagster_home),
        "MLCOST_PARTITION_START": "2026-10-01",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "pipelines.cli", "run", "--cur-source", str(source),
         "--predictions-source", str(predictions), "--from", "2026-10"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    warnings = [line for line in proc.stderr.splitlines() if "prediction_files_unusable" in line]
    assert len(warnings) == 1, proc.stderr[-3000:]
    assert warnings[0].startswith(
        "mlcost: warning: predictions_daily prediction_files_unusable: 1 prediction"
    )
    assert (
        f"{log.resolve()}: 100 lines read, 99 skipped, 0 unfinished, 1 successful predictions" in warnings[0]
    )
    from dagster import AssetKey, DagsterInstance

    with DagsterInstance.from_config(str(dagster_home)) as instance:
        event = instance.get_latest_materialization_event(AssetKey("predictions_daily"))
    metadata = {key: value.value for key, value in event.asset_materialization.metadata.items()}
    assert (metadata["files_read"], metadata["lines_skipped"], metadata["duplicate_rows_collapsed"]) == (
        2,
        99,
        1,
    )
    con = lake.connect(Settings(home=tmp_path / "home"))
    try:
        lake.register_views(con, Settings(home=tmp_path / "home"), ["predictions_daily"])
        counted = con.execute(
            "SELECT endpoint, sum(predictions) FROM predictions_daily GROUP BY 1 ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    # | embedder | pods a 5 + b 3 (b's second row collapsed) | 8 | ranker | the 1 usable line of 100 | 1 |
    assert counted == [("embedder", 8.0), ("ranker", 1.0)]
