"""Kubernetes: a shared GPU node's cost split by the GPU time each pod held (issue 14, "What fleet operators expect").

The GPU logs are DCGM exporter scrapes (Prometheus text, a sample every 30 s, timestamps in ms) with the labels the
exporter writes on Kubernetes: ``pod``, ``namespace``, ``container`` (empty strings when no pod holds the GPU), and
under time-slicing with ``KUBERNETES_VIRTUAL_GPUS`` one copy of each sample per pod (label ``vgpu``). The bill is a
legacy CUR with one BoxUsage hour of a 2-GPU node (``product/gpu`` 2) at $10.
"""

from __future__ import annotations

import csv
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from pipelines.attribution.compute import attribute
from pipelines.attribution.rules import load_rules
from pipelines.billing.ingest import ingest_deliveries
from pipelines.config import Settings, SettingsError
from pipelines.errors import InputError
from pipelines.gpu.efficiency import compute_device_efficiency, compute_efficiency, publish_samples
from pipelines.gpu.pod_workloads import read_pod_workloads
from pipelines.gpu.pods import compute_pod_costs
from pipelines.gpu.samples import read_gpu_file, read_gpu_samples
from pipelines.orchestration.checks import check_rows
from pipelines.storage import lake
from tests.conftest import FileDelivery

DAY = date(2026, 10, 1)
TEN = datetime(2026, 10, 1, 10)
NODE = "i-0c0ffee0000000001"  # g5g.16xlarge: 2 NVIDIA T4G GPUs
CUR_HEADER = [
    "bill/BillingPeriodStartDate", "lineItem/UsageStartDate", "lineItem/UsageEndDate", "lineItem/LineItemType",
    "lineItem/ProductCode", "lineItem/UsageType", "lineItem/ResourceId", "lineItem/UsageAmount",
    "lineItem/UnblendedCost", "product/instanceType", "product/gpu", "resourceTags/user:workload-type",
]  # fmt: skip
UUIDS = {0: "GPU-3b2e8f4c-0d1a-4c6e-9f7b-5a1e2d3c4b00", 1: "GPU-3b2e8f4c-0d1a-4c6e-9f7b-5a1e2d3c4b01"}
POD_A = ("team-x", "trainer-0", "trainer")
POD_B = ("team-y", "ranker-7d9f8c6b5-x2k4p", "ranker")
POD_C = ("team-z", "chat-5f6c7d8e9-abcde", "chat")
POD_D = ("team-z", "embed-6b7c8d9e0-fghij", "embed")
NO_POD = ("", "", "")

# Who holds each GPU, per 30 s scrape k = 1..120 (the sample at 10:00:00 + 30 s × k stands for the 30 s before it):
#   GPU 0  10:00-11:00  pod trainer-0 (team-x), whole GPU, 50 %
#   GPU 1  10:00-10:30  pod ranker (team-y), whole GPU, 100 %
#          10:30-10:45  pods chat and embed (team-z) time-sliced, 0.5 GPU each (two copies per scrape), 60 %
#          10:45-10:55  pod chat alone, 0.5 GPU (the other half held by no pod), 20 %
#          10:55-11:00  no pod (empty labels), 0 %
TIMELINE = {
    0: [(range(1, 121), [POD_A], 50)],
    1: [
        (range(1, 61), [POD_B], 100),
        (range(61, 91), [POD_C, POD_D], 60),
        (range(91, 111), [POD_C], 20),
        (range(111, 121), [NO_POD], 0),
    ],
}
POD_WORKLOADS = """namespace,pod,workload,gpu_fraction
team-x,trainer-*,llm-training,
team-y,ranker-*,search-ranking,
team-z,chat-*,chat-assistant,0.5
team-z,embed-*,embeddings,0.5
"""

# The node: 2 GPUs × 1 h = 2 GPU-h billed at $10, so a GPU-hour costs $5.
# workload         namespace  pod          GPU-h held                               active GPU-h                η     $
EXPECTED = [
    ("llm-training",   "team-x", "trainer-0", 1.0,                                  0.5,                        0.5,  5.00),  # noqa: E501
    ("search-ranking", "team-y", POD_B[1],    0.5,                                  0.5,                        1.0,  2.50),  # noqa: E501
    ("chat-assistant", "team-z", POD_C[1],    0.25 * 0.5 + 10 / 60 * 0.5,           0.125 * 0.6 + 10 / 120 * 0.2, 0.44, 1.0416667),  # noqa: E501
    ("embeddings",     "team-z", POD_D[1],    0.25 * 0.5,                           0.125 * 0.6,                0.6,  0.625),  # noqa: E501
    # no pod: the half of GPU 1 chat left 10:45-10:55 (10 min × 0.5) and GPU 1 10:55-11:00 (5 min)
    ("__idle__",       None,     None,        10 / 60 * 0.5 + 5 / 60,               10 / 120 * 0.2,             0.1,  0.8333333),  # noqa: E501
    ("__unobserved__", None,     None,        0.0,                                  None,                       None, 0.0),  # noqa: E501
]  # fmt: skip


def dcgm_scrapes(timeline: dict, hostname: str = "ip-10-0-1-23.ec2.internal") -> str:
    """DCGM exporter scrapes of DCGM_FI_DEV_GPU_UTIL with Kubernetes labels, one copy per pod holding a GPU."""
    lines = [
        "# HELP DCGM_FI_DEV_GPU_UTIL GPU utilization (in %).",
        "# TYPE DCGM_FI_DEV_GPU_UTIL gauge",
    ]
    for gpu, spans in timeline.items():
        for scrapes, pods, util in spans:
            for k in scrapes:
                ms = int((TEN + timedelta(seconds=30 * k)).timestamp() * 1000)
                for vgpu, (namespace, pod, container) in enumerate(pods):
                    shared = f',vgpu="{vgpu}"' if len(pods) > 1 else ""
                    lines.append(
                        f'DCGM_FI_DEV_GPU_UTIL{{gpu="{gpu}",UUID="{UUIDS[gpu]}",pci_bus_id="00000000:00:1{gpu}.0",'
                        f'device="nvidia{gpu}",modelName="NVIDIA T4G",Hostname="{hostname}",'
                        f'container="{container}",namespace="{namespace}",pod="{pod}"{shared}}} {util} {ms}'
                    )
    return "\n".join(lines) + "\n"


def bill(tmp_path: Path, settings, con, hours: int = 1) -> None:
    path = tmp_path / "cur.csv"
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(CUR_HEADER)
        for h in range(hours):
            start = TEN + timedelta(hours=h)
            writer.writerow(
                ["2026-10-01T00:00:00Z", f"{start:%Y-%m-%dT%H:%M:%SZ}", f"{start + timedelta(hours=1):%Y-%m-%dT%H:%M:%SZ}",
                 "Usage", "AmazonEC2", "BoxUsage:g5g.16xlarge", NODE, "1", "10.0", "g5g.16xlarge", "2", "training"]
            )  # fmt: skip
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    attribute(con, settings, load_rules(), DAY, date(2026, 10, 31))


def pod_costs(settings, con, logs: Path) -> list[tuple]:
    result = read_gpu_samples(logs)
    assert result.rejected_files == {}
    publish_samples(con, settings, result, DAY, DAY)
    compute_efficiency(con, settings, DAY, DAY)
    compute_pod_costs(con, settings, DAY, DAY)
    lake.register_views(con, settings, ["gpu_cost_by_pod_daily", "gpu_efficiency_daily"])
    return con.execute(
        "SELECT workload, namespace, pod, gpu_hours, active_gpu_hours, eta, gpu_cost FROM gpu_cost_by_pod_daily "
        "ORDER BY pod IS NULL, gpu_cost DESC, workload"
    ).fetchall()


def write_logs(tmp_path: Path, timeline: dict = TIMELINE) -> Path:
    (tmp_path / "logs" / NODE).mkdir(parents=True)
    (tmp_path / "logs" / NODE / "dcgm-exporter.prom").write_text(dcgm_scrapes(timeline))
    return tmp_path / "logs"


def test_dcgm_keeps_pod_namespace_container_and_one_copy_per_pod(tmp_path):
    logs = write_logs(tmp_path)
    samples = read_gpu_file(logs / NODE / "dcgm-exporter.prom").samples
    # 120 scrapes of GPU 0 + 120 scrapes of GPU 1, of which 30 carry two copies (chat and embed): 270 rows.
    assert samples.height == 270
    first = samples.filter(samples["gpu_index"] == 0).row(0, named=True)
    assert (first["namespace"], first["pod"], first["container"], first["holders"]) == (
        "team-x", "trainer-0", "trainer", 1,
    )  # fmt: skip
    shared = samples.filter(samples["holders"] == 2)
    assert shared.height == 60 and sorted(set(shared["container"])) == ["chat", "embed"]
    # Every copy stands for the 30 s before it: the copies do not shorten each other's interval.
    assert set(samples["interval_seconds"]) == {30.0}
    unheld = samples.filter(samples["pod"].is_null())
    assert unheld.height == 10 and unheld["namespace"].is_null().all() and unheld["container"].is_null().all()


def test_shared_node_cost_is_split_by_pod_gpu_time(tmp_path, settings, con):
    bill(tmp_path, settings, con)
    rules = tmp_path / "pod_workloads.csv"
    rules.write_text(POD_WORKLOADS)
    settings = Settings(home=settings.home, pod_workloads=str(rules))
    got = pod_costs(settings, con, write_logs(tmp_path))
    assert [r[:3] for r in got] == [e[:3] for e in EXPECTED]
    rules = con.execute(
        "SELECT workload_rule FROM gpu_cost_by_pod_daily ORDER BY pod IS NULL, gpu_cost DESC"
    ).fetchall()
    assert [r[0] for r in rules] == ["line 2", "line 3", "line 4", "line 5", None, None]
    for row, want in zip(got, EXPECTED, strict=True):
        assert row[3] == pytest.approx(want[3], abs=1e-9), row[:3]
        assert (row[4], row[5]) == (
            (None, None)
            if want[4] is None
            else (pytest.approx(want[4], abs=1e-9), pytest.approx(want[5], abs=1e-9))
        ), row[:3]
        assert round(row[6], 2) == round(want[6], 2), row[:3]
    # No dollar dropped: the split adds up to the node's $10 to the cent, and its GPU hours to the 2 billed.
    assert round(sum(r[6] for r in got), 2) == 10.00
    assert sum(r[3] for r in got) == pytest.approx(2.0, abs=1e-9)
    assert check_rows(con, "gpu_cost_by_pod_daily", "pod_split_adds_up_to_node_cost", DAY, DAY) == []
    # The copies per pod count once at the node: active 0.5 + 0.5 + 0.15 + 1/30 + 0 = 1.1833 GPU-h, as in the split.
    node = con.execute(
        "SELECT observed_gpu_hours, active_gpu_hours, gpu_cost FROM gpu_efficiency_daily"
    ).fetchone()
    assert node == (pytest.approx(2.0), pytest.approx(0.5 + 0.5 + 0.15 + 1 / 30), pytest.approx(10.0))
    assert sum(r[4] or 0 for r in got) == pytest.approx(node[1], abs=1e-9)


def test_the_per_device_table_counts_a_shared_sample_once(tmp_path, settings, con):
    bill(tmp_path, settings, con)
    pod_costs(settings, con, write_logs(tmp_path))
    compute_device_efficiency(con, settings, DAY, DAY)
    lake.register_views(con, settings, ["gpu_efficiency_by_device_daily"])
    got = con.execute(
        "SELECT gpu_index, observed_gpu_hours, active_gpu_hours FROM gpu_efficiency_by_device_daily ORDER BY 1"
    ).fetchall()
    # GPU 1: observed 1 h (not 1.25 h with the chat/embed copies); active 0.5 + 0.25 × 0.6 + 1/6 × 0.2 + 0.
    assert got == [
        (0, pytest.approx(1.0), pytest.approx(0.5)),
        (1, pytest.approx(1.0), pytest.approx(0.5 + 0.15 + 1 / 30)),
    ]


def test_the_device_and_pod_tables_skip_the_bill_where_no_sample_or_pod_can_fall(
    tmp_path, settings, con, monkeypatch
):
    """Neither table has a row for a GPU no sample (device) or no pod (pods) was seen on, so over days no sample can
    reach (a backfill older than the logs) its query is not run: it would group the days' GPU lines of the bill for
    nothing. The bill's GPU hours stay in gpu_efficiency_daily, unobserved."""
    ran: list[tuple[str, bool]] = []
    publish_days = lake.publish_days

    def spy(con, settings, table, query, params, start, end):
        ran.append((table, not query.endswith(") WHERE false")))
        return publish_days(con, settings, table, query, params, start, end)

    monkeypatch.setattr(lake, "publish_days", spy)

    def both(first: date, last: date) -> list[tuple[str, bool]]:
        ran.clear()
        compute_device_efficiency(con, settings, first, last)
        compute_pod_costs(con, settings, first, last)
        return list(ran)

    def rows(table: str) -> int:
        if not lake.has_data(settings, table):
            return 0
        lake.register_views(con, settings, [table])
        return con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]

    bill(tmp_path, settings, con)
    # No GPU log yet: both skipped, no rows; the node's hours are unobserved in gpu_efficiency_daily.
    assert both(DAY, DAY) == [("gpu_efficiency_by_device_daily", False), ("gpu_cost_by_pod_daily", False)]
    assert not lake.has_data(settings, "gpu_efficiency_by_device_daily")
    compute_efficiency(con, settings, DAY, DAY)
    lake.register_views(con, settings, ["gpu_efficiency_daily"])
    assert con.execute("SELECT allocated_gpu_hours, eta FROM gpu_efficiency_daily").fetchall() == [
        (2.0, None)
    ]

    # Logs of Oct 1 with pods: run on Oct 1 (and on Oct 2, which a sample stamped at midnight could reach).
    result = read_gpu_samples(write_logs(tmp_path))
    publish_samples(con, settings, result, DAY, DAY)
    assert both(DAY, DAY) == [("gpu_efficiency_by_device_daily", True), ("gpu_cost_by_pod_daily", True)]
    assert rows("gpu_efficiency_by_device_daily") == 2 and rows("gpu_cost_by_pod_daily") == len(EXPECTED)
    assert both(date(2026, 10, 2), date(2026, 10, 2))[0] == ("gpu_efficiency_by_device_daily", True)
    assert both(date(2026, 10, 3), date(2026, 10, 5)) == [
        ("gpu_efficiency_by_device_daily", False),
        ("gpu_cost_by_pod_daily", False),
    ]
    assert rows("gpu_efficiency_by_device_daily") == 2  # Oct 1 untouched

    # Logs that name no pod (a plain EC2 host): devices yes, pods skipped.
    (tmp_path / "logs").rename(tmp_path / "pod-logs")
    result = read_gpu_samples(write_logs(tmp_path, {0: [(range(1, 121), [NO_POD], 40)]}))
    publish_samples(con, settings, result, DAY, DAY)
    assert both(DAY, DAY) == [("gpu_efficiency_by_device_daily", True), ("gpu_cost_by_pod_daily", False)]
    assert rows("gpu_efficiency_by_device_daily") == 1 and rows("gpu_cost_by_pod_daily") == 0


def test_without_a_mapping_file_the_workload_is_the_namespace(tmp_path, settings, con):
    bill(tmp_path, settings, con)
    got = pod_costs(settings, con, write_logs(tmp_path))
    # Without fractions the time-sliced chat and embed pods share GPU 1 equally 10:30-10:45 (0.125 GPU-h each), and
    # chat alone holds the whole GPU 10:45-10:55 (1/6 GPU-h): only 10:55-11:00 is idle.
    # workload         pod          GPU-h                $
    expected = [
        ("team-x",         "trainer-0", 1.0,                 5.00),
        ("team-y",         POD_B[1],    0.5,                 2.50),
        ("team-z",         POD_C[1],    0.125 + 1 / 6,       1.4583333),
        ("team-z",         POD_D[1],    0.125,               0.625),
        ("__idle__",       None,        1 / 12,              0.4166667),
        ("__unobserved__", None,        0.0,                 0.0),
    ]  # fmt: skip
    assert [(r[0], r[2]) for r in got] == [e[:2] for e in expected]
    rules = con.execute(
        "SELECT DISTINCT workload_rule FROM gpu_cost_by_pod_daily WHERE pod IS NOT NULL"
    ).fetchall()
    assert rules == [("namespace",)]
    assert [r[3] for r in got] == pytest.approx([e[2] for e in expected], abs=1e-9)
    assert [round(r[6], 2) for r in got] == [round(e[3], 2) for e in expected]
    assert round(sum(r[6] for r in got), 2) == 10.00


def test_unlogged_time_is_unobserved_not_idle(tmp_path, settings, con):
    # Two billed hours; the logs cover only the first: the second hour's 2 GPU-h ($10) are __unobserved__.
    bill(tmp_path, settings, con, hours=2)
    got = pod_costs(settings, con, write_logs(tmp_path))
    by_workload = {r[0]: r for r in got}
    assert by_workload["__unobserved__"][3] == pytest.approx(2.0)
    assert round(by_workload["__unobserved__"][6], 2) == 10.00
    assert by_workload["__unobserved__"][5] is None
    assert round(by_workload["team-x"][6], 2) == 5.00
    assert round(sum(r[6] for r in got), 2) == 20.00


def test_prometheus_exported_labels_win_over_the_exporters_own_pod(tmp_path):
    # Scraped by Prometheus with target labels, the exporter's pod/namespace are the exporter's own and the workload's
    # are renamed exported_pod/exported_namespace/exported_container.
    ms = int((TEN + timedelta(seconds=30)).timestamp() * 1000)
    path = tmp_path / NODE / "scrape.prom"
    path.parent.mkdir()
    path.write_text(
        f'DCGM_FI_DEV_GPU_UTIL{{gpu="0",UUID="{UUIDS[0]}",Hostname="n1",container="exporter",'
        'namespace="monitoring",pod="dcgm-exporter-78z52",exported_container="runner",'
        f'exported_namespace="team-x",exported_pod="trainer-0",job="dcgm-exporter"}} 50 {ms}\n'
        f'DCGM_FI_DEV_GPU_UTIL{{gpu="1",UUID="{UUIDS[1]}",Hostname="n1",container_name="server",'
        f'pod_namespace="legacy",pod_name="old-0"}} 50 {ms}\n'
    )
    samples = read_gpu_file(path).samples.sort("gpu_index")
    assert samples.select("namespace", "pod", "container").rows() == [
        ("team-x", "trainer-0", "runner"),
        ("legacy", "old-0", "server"),
    ]


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ("namespace,pod,workload,gpu_fraction\nteam-z,chat-*,chat,1.5\n", "line 2, column 'gpu_fraction'",
         "gpu_fraction '1.5' is not a share of one GPU"),
        ("namespace,pod,workload,gpu_fraction\nteam-z,chat-*,chat,half\n", "line 2, column 'gpu_fraction'",
         "gpu_fraction 'half' is not a share of one GPU"),
        ("namespace,pod,workload\nteam-x,a,x\nteam-z,chat-*,\n", "line 3, column 'workload'", "empty workload"),
        ("namespace,pod,team\nteam-x,a,x\n", "line 1, column 'team'", "unknown column; accepted: namespace:"),
        ("namespace,pod\nteam-x,a\n", "line 1, column 'workload'", "missing required column"),
        ("namespace,pod,pod_name,workload\nteam-x,a,b,x\n", "line 1, column 'pod_name'",
         "a second pod column (the first is 'pod')"),
        ("namespace,pod,workload\nteam-x,a\n", "line 2", "2 fields where the header has 3"),
    ],
)  # fmt: skip
def test_a_bad_mapping_file_is_one_line_naming_file_line_and_column(tmp_path, text, where, problem):
    path = tmp_path / "pod_workloads.csv"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        read_pod_workloads(path)
    message = str(caught.value)
    assert message.startswith(f"{path}, {where}: {problem}"), message
    assert "\n" not in message
    # The setting refuses it before a run writes anything, in one line naming the variable and the file's problem.
    with pytest.raises(SettingsError) as refused:
        Settings(home=tmp_path / "home", pod_workloads=str(path))
    assert str(refused.value).startswith(f"MLCOST_POD_WORKLOADS='{path}' is not accepted ({path}, {where}: ")
    assert "\n" not in str(refused.value)
