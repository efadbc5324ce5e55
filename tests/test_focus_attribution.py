"""FOCUS exports of any provider get categories from the default rules (issue 15).

- The FOCUS spec's commitment scenarios: a commitment's purchase is not counted twice, its unused part is shared.
- FOCUS 1.2 and 1.3 exports of AWS, Azure and Google Cloud made by an outside generator (focus-data-toolkit):
  almost nothing is `unmatched`, and storage and egress equal an independent query by ServiceCategory.
- The real FOCUS 1.0 sample: its Microsoft and Oracle rows get categories by the same rules.
- GPU virtual machines of Azure, Google Cloud and OCI: by the workload-type tag, else compute-gpu-untagged; the GPU
  join takes their GPUs from the provider-neutral reference table.
- rule_coverage and its unmatched_share check name the services no rule knows.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from datetime import date, timedelta

import duckdb
import pytest

from pipelines.attribution.compute import attribute, cover, reconcile, unmatched_periods
from pipelines.attribution.rules import load_rules
from pipelines.billing.ingest import ingest_deliveries
from pipelines.errors import InputError
from pipelines.gpu.efficiency import compute_efficiency
from pipelines.storage import lake
from tests.conftest import FileDelivery, realdata

CENT = 0.005
FEB_1, FEB_28 = date(2026, 2, 1), date(2026, 2, 28)

COLUMNS = [
    "BillingPeriodStart",
    "BillingPeriodEnd",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ChargeCategory",
    "ChargeFrequency",
    "ChargeDescription",
    "ProviderName",
    "ServiceName",
    "ServiceCategory",
    "ServiceSubcategory",
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "PricingCategory",
    "ResourceId",
    "ResourceType",
    "ConsumedQuantity",
    "CommitmentDiscountId",
    "CommitmentDiscountType",
    "CommitmentDiscountStatus",
    "SkuPriceDetails",
    "Tags",
]


def _hour(h: int) -> tuple[str, str]:
    start = f"2026-02-01T{h:02d}:00:00Z"
    end = f"2026-02-01T{h + 1:02d}:00:00Z" if h < 23 else "2026-02-02T00:00:00Z"
    return start, end


def _write(path, rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=COLUMNS)
        writer.writeheader()
        for row in rows:
            writer.writerow(
                {
                    "BillingPeriodStart": "2026-02-01T00:00:00Z",
                    "BillingPeriodEnd": "2026-03-01T00:00:00Z",
                    "BillingCurrency": "USD",
                    **row,
                }
            )


# The FOCUS spec's commitment scenarios (FOCUS_Spec, specification/data/commitment_discount_scenarios/), rows as
# published; the hourly rows of a scenario are the same row for each hour, so they are written once and repeated.
SP = "arn:aws:savingsplans::ACCT-123456789012:savingsplan/sp-abc123def456"
EC2 = {
    "ProviderName": "Amazon Web Services",
    "ServiceName": "Amazon Elastic Compute Cloud",
    "ServiceCategory": "Compute",
    "ServiceSubcategory": "Compute Instances",
}


def aws_savings_plan_all_upfront_50pct() -> list[dict]:
    """aws_savings_plan_all_upfront_50pct.csv: the purchase, 12 used hours, 12 unused hours, 3 on-demand hours."""
    sp = {"CommitmentDiscountId": SP, "CommitmentDiscountType": "Savings Plan"}
    rows = [
        {
            **EC2,
            **sp,
            "ChargePeriodStart": "2026-02-01T00:00:00Z",
            "ChargePeriodEnd": "2027-02-01T00:00:00Z",
            "ChargeCategory": "Purchase",
            "ChargeFrequency": "One-Time",
            "ChargeDescription": "EC2 Instance Savings Plan commitment purchase",
            "BilledCost": "693003.60",
            "EffectiveCost": "0.00",
            "PricingCategory": "Standard",
            "ResourceId": SP,
            "ResourceType": "Commitment",
        }
    ]
    for h in range(12):
        start, end = _hour(h)
        rows.append(
            {
                **EC2,
                **sp,
                "ChargePeriodStart": start,
                "ChargePeriodEnd": end,
                "ChargeCategory": "Usage",
                "ChargeFrequency": "Usage-Based",
                "ChargeDescription": "Amazon Elastic Compute Cloud committed usage",
                "BilledCost": "0.00",
                "EffectiveCost": "79.11",
                "PricingCategory": "Committed",
                "ResourceId": f"arn:aws:ec2:us-east-1:ACCT-123456789012:instance/i-0abc{h:08x}",
                "ResourceType": "AWS::EC2::Instance",
                "ConsumedQuantity": "1.00",
                "CommitmentDiscountStatus": "Used",
            }
        )
    for h in range(12, 24):
        start, end = _hour(h)
        rows.append(
            {
                **EC2,
                **sp,
                "ChargePeriodStart": start,
                "ChargePeriodEnd": end,
                "ChargeCategory": "Usage",
                "ChargeFrequency": "Usage-Based",
                "ChargeDescription": "Amazon Elastic Compute Cloud unused commitment",
                "BilledCost": "0.00",
                "EffectiveCost": "79.11",
                "PricingCategory": "Committed",
                "ResourceId": SP,
                "CommitmentDiscountStatus": "Unused",
            }
        )
    for h in range(3):
        start, end = _hour(h)
        rows.append(
            {
                **EC2,
                "ChargePeriodStart": start,
                "ChargePeriodEnd": end,
                "ChargeCategory": "Usage",
                "ChargeFrequency": "Usage-Based",
                "ChargeDescription": "Amazon Elastic Compute Cloud on-demand usage",
                "BilledCost": "3.84",
                "EffectiveCost": "3.84",
                "PricingCategory": "Standard",
                "ResourceId": f"arn:aws:ec2:us-east-1:ACCT-123456789012:instance/i-0std{h + 1:04d}",
                "ResourceType": "AWS::EC2::Instance",
                "ConsumedQuantity": "1.00",
            }
        )
    return rows


def azure_reservation_no_upfront_100pct() -> list[dict]:
    """azure_reservation_no_upfront_100pct: the monthly (recurring) purchase, 24 used hours, one on-demand row."""
    ri = {
        "CommitmentDiscountId": "/subscriptions/f0e9d8c7-b6a5-4321-0987-654321fedcba/providers/"
        "Microsoft.Capacity/reservationOrders/ro-1/reservations/r-1",
        "CommitmentDiscountType": "Reservation",
    }
    vm = {
        "ProviderName": "Microsoft",
        "ServiceName": "Virtual Machines",
        "ServiceCategory": "Compute",
        "ServiceSubcategory": "Virtual Machines",
    }
    rows = [
        {
            **vm,
            **ri,
            "ChargePeriodStart": "2026-02-01T00:00:00Z",
            "ChargePeriodEnd": "2026-03-01T00:00:00Z",
            "ChargeCategory": "Purchase",
            "ChargeFrequency": "Recurring",
            "ChargeDescription": "Reserved VM Instance, monthly fee",
            "BilledCost": "55333.33",
            "EffectiveCost": "0.00",
            "PricingCategory": "Standard",
            "ResourceId": ri["CommitmentDiscountId"],
        }
    ]
    for h in range(24):
        start, end = _hour(h)
        rows.append(
            {
                **vm,
                **ri,
                "ChargePeriodStart": start,
                "ChargePeriodEnd": end,
                "ChargeCategory": "Usage",
                "ChargeFrequency": "Usage-Based",
                "ChargeDescription": "Virtual Machines committed usage",
                "BilledCost": "0.00",
                "EffectiveCost": "75.80",
                "PricingCategory": "Committed",
                "ResourceId": f"/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm-{h}",
                "ResourceType": "Virtual machine",
                "ConsumedQuantity": "1.00",
                "CommitmentDiscountStatus": "Used",
            }
        )
    start, end = _hour(0)
    rows.append(
        {
            **vm,
            "ChargePeriodStart": start,
            "ChargePeriodEnd": end,
            "ChargeCategory": "Usage",
            "ChargeFrequency": "Usage-Based",
            "ChargeDescription": "Virtual Machines on-demand usage",
            "BilledCost": "9.55",
            "EffectiveCost": "9.55",
            "PricingCategory": "Standard",
            "ResourceId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/virtualMachines/vm-std",
            "ResourceType": "Virtual machine",
            "ConsumedQuantity": "1.00",
        }
    )
    return rows


def _attribute_file(con, settings, path, first=FEB_1, last=FEB_28):
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    attribute(con, settings, load_rules(), first, last)
    lake.register_views(con, settings, ["cost_attribution"])


def _by_rule(con) -> list[tuple]:
    return con.execute(
        "SELECT provider, rule_id, category, shared_kind, round(sum(billed_cost), 2), round(sum(effective_cost), 2) "
        "FROM cost_attribution GROUP BY ALL ORDER BY ALL"
    ).fetchall()


# fmt: off
# (provider, rule, category, shared kind, billed, effective), by hand from the rows above:
EXPECTED_COMMITMENTS = [
    # The purchase's 693,003.60 is billed in February; its EffectiveCost is 0 because the used hours carry it.
    ("Amazon Web Services", "commitment-purchase-focus", "shared", "commitment", 693003.60, 0.00),
    ("Amazon Web Services", "compute-other", "other", None, 3 * 3.84, 12 * 79.11 + 3 * 3.84),
    ("Amazon Web Services", "unused-commitment-focus", "shared", "commitment", 0.00, 12 * 79.11),
    ("Microsoft", "commitment-purchase-focus", "shared", "commitment", 55333.33, 0.00),
    ("Microsoft", "compute-other", "other", None, 9.55, 24 * 75.80 + 9.55),
]
# fmt: on


def test_spec_commitment_scenarios_count_the_purchase_once_and_share_the_unused_part(tmp_path, settings, con):
    path = tmp_path / "focus.csv"
    _write(path, aws_savings_plan_all_upfront_50pct() + azure_reservation_no_upfront_100pct())
    _attribute_file(con, settings, path)
    got = _by_rule(con)
    assert [g[:4] for g in got] == [e[:4] for e in EXPECTED_COMMITMENTS]
    for (*_, billed, effective), (*key, exp_billed, exp_effective) in zip(
        got, EXPECTED_COMMITMENTS, strict=True
    ):
        assert billed == pytest.approx(exp_billed, abs=CENT), key
        assert effective == pytest.approx(exp_effective, abs=CENT), key
    # Effective cost is the bill's, once: 1,910.16 + 1,828.75, not the purchases' 748,336.93 again.
    (row,) = reconcile(con, settings, FEB_1, FEB_1)
    assert row["source_effective_cost"] == pytest.approx(
        12 * 79.11 * 2 + 3 * 3.84 + 24 * 75.80 + 9.55, abs=CENT
    )
    assert row["difference"] == pytest.approx(0, abs=CENT)


def test_a_purchase_that_is_not_a_commitment_goes_by_its_service(tmp_path, settings, con):
    """A subscription fee (ChargeCategory Purchase, no CommitmentDiscountId) of a storage service is storage."""
    start, end = "2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"
    row = {
        "ChargePeriodStart": start,
        "ChargePeriodEnd": end,
        "ChargeCategory": "Purchase",
        "ChargeFrequency": "Recurring",
        "ChargeDescription": "Cloud Storage subscription fee",
        "ProviderName": "Google Cloud",
        "ServiceName": "Cloud Storage",
        "ServiceCategory": "Storage",
        "ServiceSubcategory": "Object Storage",
        "BilledCost": "280.00",
        "EffectiveCost": "280.00",
    }
    path = tmp_path / "focus.csv"
    _write(path, [row])
    _attribute_file(con, settings, path)
    assert _by_rule(con) == [("Google Cloud", "storage-focus-category", "storage", None, 280.00, 280.00)]


# --- exports made by focus-data-toolkit -----------------------------------------------------------------------

# Independent of the rules file, from the FOCUS columns alone: storage is what the Storage service category
# charges for usage and for purchases that are not commitments; egress is the usage of network connectivity and
# content delivery (the generator bills NAT and peering data there).
INDEPENDENT = """
SELECT
    CASE
        WHEN ServiceCategory = 'Networking' AND ServiceSubcategory IN ('Network Connectivity', 'Content Delivery')
            AND ChargeCategory = 'Usage' THEN 'egress'
        WHEN ServiceCategory = 'Storage'
            AND (ChargeCategory = 'Usage' OR (ChargeCategory = 'Purchase' AND CommitmentDiscountId IS NULL))
            AND CommitmentDiscountStatus IS DISTINCT FROM 'Unused' THEN 'storage'
    END AS category,
    sum(EffectiveCost) AS cost,
    count(*) FILTER (WHERE ServiceCategory = 'Networking') AS networking_rows
FROM read_csv(?, header = true, all_varchar = false)
GROUP BY 1
"""
SEEDS = {"aws": 20261205, "azure": 15, "gcp": 1205}


@pytest.mark.parametrize("version", ["1.2", "1.3"])
@pytest.mark.parametrize("provider", ["aws", "azure", "gcp"])
def test_generated_exports_are_classified(tmp_path, settings, con, provider, version):
    out = tmp_path / "export"
    subprocess.run(
        [
            sys.executable, "-m", "focus_data_toolkit", "generate", "--provider", provider,
            "--focus-version", version, "--rows", "1500", "--seed", str(SEEDS[provider]), "--out", str(out),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    (path,) = out.glob("focus_*_cost_and_usage_*.csv")
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    periods = lake.published_partitions(settings, "line_items")
    first = date.fromisoformat(periods[0])
    last = (date.fromisoformat(periods[-1]) + timedelta(days=31)).replace(day=1) - timedelta(days=1)
    attribute(con, settings, load_rules(), first, last)
    lake.register_views(con, settings, ["cost_attribution"])
    got = dict(
        con.execute("SELECT category, sum(effective_cost) FROM cost_attribution GROUP BY 1").fetchall()
    )
    total = sum(got.values())
    unmatched = con.execute(
        "SELECT coalesce(sum(effective_cost), 0) FROM cost_attribution WHERE rule_id = 'unmatched'"
    ).fetchone()[0]
    assert unmatched / total < 0.05
    expected = {c: (cost, n) for c, cost, n in duckdb.connect().execute(INDEPENDENT, [str(path)]).fetchall()}
    assert got["storage"] > 0
    assert got["storage"] == pytest.approx(expected["storage"][0], abs=CENT)
    networking_rows = sum(n for _, n in expected.values())
    if provider == "gcp":
        # The generator's Google Cloud profile has no networking service: no transfer to find.
        assert networking_rows == 0 and "egress" not in got
    else:
        assert got["egress"] > 0
        assert got["egress"] == pytest.approx(expected["egress"][0], abs=CENT)
    (row,) = reconcile(con, settings, first, first)
    assert row["difference"] == pytest.approx(0, abs=CENT)


# --- the real FOCUS 1.0 sample --------------------------------------------------------------------------------

# (provider, description starts with, category, rule): rows of the sample a person can find by their description.
# fmt: off
REAL_ROWS = [
    ("Microsoft", "Tiered Block Blob - Hot LRS - Data Stored", "storage", "storage-focus-category"),
    ("Microsoft", "Tables - Batch Write Operations", "storage", "storage-focus-category"),
    ("Microsoft", "Premium SSD Managed Disks - P4 LRS", "storage", "storage-focus-meter"),
    ("Microsoft", "Premium SSD Managed Disks - P6 LRS", "storage", "storage-focus-meter"),   # under Azure ML
    ("Microsoft", "Bandwidth Inter-Region - Intra Continent", "egress", "egress-description"),
    ("Microsoft", "Rtn Preference: MGN - Standard Data Transfer Out", "egress", "egress-description"),
    ("Microsoft", "Virtual Machines Dv2/DSv2 Series", "other", "ml-platform-other"),  # an Azure ML compute instance
    ("Microsoft", "Azure Database for MySQL", "other", "databases-other"),
    ("Oracle", "Block Volume - Performance Units", "storage", "storage-focus-category"),
    ("Oracle", "Outbound Data Transfer Zone 1", "egress", "egress-description"),
    ("Oracle", "Standard - E5", "other", "compute-other"),
    ("Oracle", "Standard - A1", "shared", "refund-focus"),  # ChargeCategory Adjustment
]
# fmt: on


def test_real_focus_sample_microsoft_and_oracle_rows_get_categories(tmp_path, settings, con):
    """The sample's Microsoft and Oracle rows, each given its own resource id so it can be found again."""
    with realdata("focus-1.0", "focus_sample.csv").open(newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames
        rows = [r for r in reader if r["ProviderName"] != "AWS"]
    path = tmp_path / "sample.csv"
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, quoting=csv.QUOTE_ALL)
        writer.writeheader()
        for n, row in enumerate(rows):
            writer.writerow({**row, "ResourceId": f"row-{n}"})
    _attribute_file(
        con, settings, path, date(2024, 9, 1), date(2024, 10, 31)
    )  # one Oracle row is billed in October
    rules = dict(
        con.execute("SELECT DISTINCT resource_id, (category, rule_id) FROM cost_attribution").fetchall()
    )
    got = {(r["ProviderName"], r["ChargeDescription"], *rules[f"row-{n}"]) for n, r in enumerate(rows)}
    for provider, description, category, rule in REAL_ROWS:
        found = {(c, r) for p, d, c, r in got if p == provider and d.startswith(description)}
        assert found == {(category, rule)}, (provider, description, found)
    assert len(rules) == len(rows) == 58
    assert not [g for g in got if g[3] == "unmatched"]


# --- GPU virtual machines ---------------------------------------------------------------------------------------


def _gpu_vm(provider, service, instance_type, tags, description, hours=1, cost="3.67"):
    start, end = _hour(0)
    return {
        "ChargePeriodStart": start,
        "ChargePeriodEnd": end,
        "ChargeCategory": "Usage",
        "ChargeFrequency": "Usage-Based",
        "ChargeDescription": description,
        "ProviderName": provider,
        "ServiceName": service,
        "ServiceCategory": "Compute",
        "ServiceSubcategory": "Virtual Machines",
        "BilledCost": cost,
        "EffectiveCost": cost,
        "PricingCategory": "Standard",
        "ResourceId": f"{provider}-{instance_type or 'gpu'}",
        "ResourceType": "Virtual Machine",
        "ConsumedQuantity": str(hours),
        "SkuPriceDetails": json.dumps({"InstanceType": instance_type}) if instance_type else "",
        "Tags": json.dumps(tags) if tags else "",
    }


# (resource, rule, category, workload, gpu_count from the reference table, allocated GPU hours)
# fmt: off
GPU_ROWS = [
    _gpu_vm("Microsoft", "Virtual Machines", "Standard_NC24ads_A100_v4", {"workload-type": "training",
            "team": "vision"}, "Virtual Machines NCadsA100v4 Series - NC24ads A100 v4"),
    _gpu_vm("Google Cloud", "Compute Engine", "a2-highgpu-8g", None, "A2 Instance Core running in Americas"),
    _gpu_vm("Oracle", "COMPUTE", "BM.GPU.A10.4", {"workload-type": "inference"}, "GPU - A10", hours=2),
    _gpu_vm("Google Cloud", "Compute Engine", None, {"workload-type": "training"},
            "Nvidia Tesla T4 GPU running in Americas"),
]
EXPECTED_GPU = [
    ("Google Cloud-a2-highgpu-8g", "compute-gpu-untagged", "other", "unattributed", 8, 8.0),
    ("Google Cloud-gpu", "gpu-meter-training", "training", "unattributed", None, None),  # no machine type
    ("Microsoft-Standard_NC24ads_A100_v4", "gpu-vm-training", "training", "vision", 1, 1.0),
    ("Oracle-BM.GPU.A10.4", "gpu-vm-inference", "inference", "unattributed", 4, 8.0),
]
# fmt: on


def test_gpu_vms_of_every_provider_by_tag_and_gpus_from_the_reference_table(tmp_path, settings, con):
    path = tmp_path / "focus.csv"
    _write(path, GPU_ROWS)
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    rules = load_rules()
    rules = type(rules)(**{**rules.__dict__, "tag_keys": ["team"]})
    attribute(con, settings, rules, FEB_1, FEB_1)
    compute_efficiency(con, settings, FEB_1, FEB_1)
    lake.register_views(con, settings, ["cost_attribution", "gpu_efficiency_daily"])
    got = con.execute(
        "SELECT a.resource_id, a.rule_id, a.category, a.workload, g.gpu_count, g.allocated_gpu_hours "
        "FROM cost_attribution a LEFT JOIN gpu_efficiency_daily g USING (resource_id) ORDER BY 1"
    ).fetchall()
    assert got == EXPECTED_GPU


# --- rule_coverage and its check -----------------------------------------------------------------------------


def test_rule_coverage_shares_and_the_unmatched_check_names_the_services(tmp_path, settings, con):
    """A row no rule knows (no ServiceCategory: a provider's own column layout) is `unmatched`."""
    start, end = _hour(0)
    base = {
        "ChargePeriodStart": start,
        "ChargePeriodEnd": end,
        "ChargeCategory": "Usage",
        "ProviderName": "X",
    }
    rows = [
        {**base, "ServiceName": "Cloud Storage", "ServiceCategory": "Storage", "BilledCost": "60", "EffectiveCost": "60"},
        {**base, "ServiceName": "Quantum Annealer", "BilledCost": "30", "EffectiveCost": "30"},
        {**base, "ServiceName": "Support Plan", "BilledCost": "10", "EffectiveCost": "10"},
    ]  # fmt: skip
    path = tmp_path / "focus.csv"
    _write(path, rows)
    _attribute_file(con, settings, path, FEB_1, FEB_1)
    assert cover(con, settings, FEB_1, FEB_1) == {"2026-02-01": 3}
    lake.register_views(con, settings, ["rule_coverage"])
    got = con.execute(
        "SELECT rule_id, category, service, effective_cost, share, rule_share FROM rule_coverage ORDER BY ALL"
    ).fetchall()
    assert got == [
        ("storage-focus-category", "storage", "Cloud Storage", 60.0, 0.6, 0.6),
        ("unmatched", "other", "Quantum Annealer", 30.0, pytest.approx(0.3), pytest.approx(0.4)),
        ("unmatched", "other", "Support Plan", 10.0, pytest.approx(0.1), pytest.approx(0.4)),
    ]
    (offending,) = unmatched_periods(con, settings, FEB_1, FEB_1)
    assert offending["unmatched_share"] == pytest.approx(0.4)
    assert offending["top_services"] == ["Quantum Annealer 30.00", "Support Plan 10.00"]
    assert unmatched_periods(con, settings, FEB_1, FEB_1, threshold=0.5) == []


def test_rule_on_an_unknown_field_lists_the_accepted_ones(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - {id: x, priority: 1, category: storage, match: {servicecategory: Storage}}\n"
    )
    with pytest.raises(
        InputError, match=r"unknown match field\(s\) servicecategory \(accepted: .*service_category"
    ):
        load_rules(path)


def test_a_rule_on_a_sku_price_details_property(tmp_path, settings, con):
    start, end = _hour(0)
    row = {
        "ChargePeriodStart": start,
        "ChargePeriodEnd": end,
        "ChargeCategory": "Usage",
        "ProviderName": "AWS",
        "ServiceName": "AmazonVPC",
        "ServiceCategory": "Networking",
        "BilledCost": "4.50",
        "EffectiveCost": "4.50",
        "SkuPriceDetails": json.dumps({"x_TransferType": "InterAZ", "CoreCount": 2}),
    }
    path = tmp_path / "focus.csv"
    # The third row's details are not JSON: the line is kept (the details never carry money), matched as empty.
    _write(
        path,
        [
            row,
            {**row, "SkuPriceDetails": json.dumps({"x_TransferType": "Internet"})},
            {**row, "SkuPriceDetails": "{x_TransferType: InterAZ"},
        ],
    )
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "rules:\n  - {id: inter-az, priority: 1, category: egress, "
        "match: {sku_price_details: {x_TransferType: '^InterAZ$'}}}\n"
    )
    attribute(con, settings, load_rules(rules), FEB_1, FEB_1)
    lake.register_views(con, settings, ["cost_attribution"])
    assert con.execute("SELECT rule_id, category FROM cost_attribution ORDER BY 1").fetchall() == [
        ("inter-az", "egress"),
        ("unmatched", "other"),
        ("unmatched", "other"),
    ]


def test_rule_coverage_asset_warns_with_the_top_services(tmp_path, settings, con):
    """Through Dagster: the asset publishes the table and its check warns, naming the services."""
    from dagster import AssetCheckSeverity, materialize

    from pipelines.orchestration.code_location import build_definitions
    from pipelines.orchestration.resources import MlcostResource

    start, end = _hour(0)
    base = {
        "ChargePeriodStart": start,
        "ChargePeriodEnd": end,
        "ChargeCategory": "Usage",
        "ProviderName": "X",
    }
    rows = [
        {**base, "ServiceName": "Cloud Storage", "ServiceCategory": "Storage", "BilledCost": "90", "EffectiveCost": "90"},
        {**base, "ServiceName": "Quantum Annealer", "BilledCost": "10", "EffectiveCost": "10"},
    ]  # fmt: skip
    path = tmp_path / "focus.csv"
    _write(path, rows)
    _attribute_file(con, settings, path, FEB_1, FEB_28)
    # Its own lake's partitions, not those of whatever MLCOST_HOME (./data) the test machine holds.
    defs = build_definitions(settings)
    result = materialize(
        [defs.get_assets_def("rule_coverage")],
        partition_key="2026-02-01",
        resources={"mlcost": MlcostResource.from_settings(settings)},
    )
    assert result.success
    (check,) = result.get_asset_check_evaluations()
    assert check.check_name == "unmatched_share" and not check.passed
    assert check.severity == AssetCheckSeverity.WARN
    assert check.metadata["worst_unmatched_share"].value == pytest.approx(0.10)
    assert "Quantum Annealer 10.00" in check.metadata["top_services"].value
    assert lake.published_partitions(settings, "rule_coverage") == ["2026-02-01"]
