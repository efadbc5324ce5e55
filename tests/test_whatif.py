"""`mlcost whatif`: the month's inference cost of a workload under a changed batch size, η target or instance type.

The month: chat's week of September 2026 from test_recommendation_kinds (ep-chat, ml.g5.xlarge, 700.00 of GPU cost,
84 active of 168 observed GPU hours (η 0.5), 3,024,000 predictions in as many invocations: t(1) = 100 ms).
"""

from __future__ import annotations

import pytest
from test_recommendation_kinds import gpu_rows

from pipelines.cli import main
from pipelines.config import Settings
from tests.decisions_lake import write_table


@pytest.fixture
def home(tmp_path, monkeypatch):
    settings = Settings(home=tmp_path)
    efficiency, _, predictions = gpu_rows()
    write_table(settings, "gpu_efficiency_daily", efficiency)
    write_table(settings, "predictions_daily", predictions)
    monkeypatch.setenv("MLCOST_HOME", str(tmp_path))
    return tmp_path


def test_batch_size(home, capsys):
    """B = 8: 700 × (1 + 0.1 × 7) / 8 = 148.75; per 1k: 700 / 3,024 = 0.2315 → 148.75 / 3,024 = 0.0492.
    t(8) = 100 × 1.7 = 170 ms ≤ 200; the cheapest within 200 ms is B = 11: 700 × 2 / 11 = 127.27."""
    assert main(["whatif", "batch", "--workload", "chat", "--batch-size", "8"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "mlcost whatif chat 2026-09 (3,024,000 predictions):"
    assert out[1].split() == ["inference", "GPU", "cost", "700.00", "→", "148.75", "(-551.25)"]
    assert out[2].split() == ["cost", "per", "1k", "predictions", "0.2315", "→", "0.0492"]
    assert (
        "GPU cost 700.00 × (t(8) / 8) / (t(1.00) / 1.00), t(B) = 100.000 ms × (1 + 0.1 × (B − 1))" in out[3]
    )
    assert out[4].strip() == (
        "latency t(8) = 170.0 ms: within the 200 ms budget; the cheapest batch size within it is 11 (127.27)"
    )
    assert (
        main(["whatif", "batch", "--workload", "chat", "--batch-size", "16", "--latency-budget-ms", "150"])
        == 0
    )
    assert (
        "t(16) = 250.0 ms: OVER the 150 ms budget; the cheapest batch size within it is 6"
        in capsys.readouterr().out
    )


def test_eta_target_and_instance_type(home, capsys):
    """η 0.5 → 0.8: 700 × 0.5 / 0.8 = 437.50. g5.xlarge (1.006 / GPU hour) → g6.xlarge (0.805): 700 × 0.805 /
    1.006 = 560.14."""
    assert main(["whatif", "eta", "--workload", "chat", "--target", "0.8"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[3:6] == ["700.00", "→", "437.50"]
    assert out[3].strip() == "computed as: GPU cost 700.00 × η 0.5000 / target 0.8000"
    assert main(["whatif", "instance", "--workload", "chat", "--instance-type", "g6.xlarge"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1].split()[3:6] == ["700.00", "→", "560.14"]


def test_unknown_workload_and_bad_values_list_what_is_accepted(home, capsys):
    assert main(["whatif", "batch", "--workload", "vision", "--batch-size", "8"]) == 2
    assert capsys.readouterr().err.strip() == (
        "mlcost: error: --workload: 'vision' has no inference GPU cost with predictions in 2026-09; known: chat"
    )
    assert main(["whatif", "batch", "--workload", "chat", "--batch-size", "65"]) == 2
    assert "--batch-size: 65 is not between 1 and 64" in capsys.readouterr().err
    assert (
        main(["whatif", "batch", "--workload", "chat", "--batch-size", "8", "--latency-budget-ms", "0"]) == 2
    )
    assert "--latency-budget-ms: 0.0 is not a number of milliseconds > 0" in capsys.readouterr().err
    assert main(["whatif", "batch", "--workload", "chat", "--batch-size", "8", "--marginal-share", "-1"]) == 2
    assert "--marginal-share: -1.0 is not a share" in capsys.readouterr().err
    assert main(["whatif", "instance", "--workload", "chat", "--instance-type", "x9.huge"]) == 2
    assert "'x9.huge' has no list price; known: g4dn.xlarge, g5.12xlarge" in capsys.readouterr().err


def test_an_empty_lake_says_to_run_first(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MLCOST_HOME", str(tmp_path))
    assert main(["whatif", "eta", "--workload", "chat", "--target", "0.8"]) == 2
    assert "have no data yet: run `mlcost run` first" in capsys.readouterr().err
