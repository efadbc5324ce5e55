"""The daily usage lines: storage (S3, EBS, snapshots), CloudWatch, and data transfer out of each resource."""

from __future__ import annotations

import numpy as np

from .company import Company
from .lines import day_starts, prefixed, r10, tag_cols
from .periods import DAY, Month

# S3 Standard, EBS gp3 / snapshots, transfer and CloudWatch list prices, us-east-1.
S3_GB_MONTH, EBS_GP3_GB_MONTH, SNAPSHOT_GB_MONTH = 0.023, 0.08, 0.05
S3_PUT, S3_GET = 0.000005, 0.0000004
INTERNET_OUT_GB, INTER_REGION_GB, INTER_AZ_GB, NAT_GB = 0.09, 0.02, 0.01, 0.045
CW_METRIC_MONTH = 0.30


def _usage(
    lines,
    resource,
    month,
    *,
    starts,
    product_code,
    service_code,
    usage_type,
    operation,
    family,
    unit,
    amounts,
    rate,
    category,
    **extra,
) -> None:
    amounts = r10(amounts)
    billed = r10(amounts * rate)
    lines.add(
        len(starts),
        account_id=resource.account_id,
        product_code=product_code,
        service_code=service_code,
        resource_id=resource.resource_id,
        region=resource.region,
        az=resource.az,
        product_family=family,
        pricing_unit=unit,
        line_item_type="Usage",
        start=starts,
        end=starts + DAY,
        usage_type=usage_type,
        operation=operation,
        usage_amount=amounts,
        rate=rate,
        public_rate=rate,
        billed=billed,
        effective=billed,
        public_cost=billed,
        pricing_term="OnDemand",
        category=category,
        **tag_cols(resource),
        **extra,
    )


def storage_lines(lines, company: Company, month: Month, rng) -> None:
    starts = day_starts(month)
    day_number = (starts - company.months[0].start) // DAY
    for res in company.of_kind("s3", "ebs", "snapshot"):
        # Storage is billed in GB-months: a day of S GB is S / days-in-month GB-Mo.
        if res.kind == "s3":
            size = res.size_gb * (1 + 0.002 * day_number)
            _usage(
                lines,
                res,
                month,
                starts=starts,
                product_code="AmazonS3",
                service_code="AmazonS3",
                usage_type=prefixed(res.region, "TimedStorage-ByteHrs"),
                operation="StandardStorage",
                family="Storage",
                unit="GB-Mo",
                amounts=size / month.days,
                rate=S3_GB_MONTH,
                category="storage",
                description=f"${S3_GB_MONTH} per GB - first 50 TB / month of storage used",
            )
            if res.region == "us-east-1":
                puts = rng.integers(5_000, 40_000, size=len(starts)).astype(float)
                gets = rng.integers(100_000, 900_000, size=len(starts)).astype(float)
                for tier, op, amount, rate in (
                    ("Requests-Tier1", "PutObject", puts, S3_PUT),
                    ("Requests-Tier2", "GetObject", gets, S3_GET),
                ):
                    _usage(
                        lines,
                        res,
                        month,
                        starts=starts,
                        product_code="AmazonS3",
                        service_code="AmazonS3",
                        usage_type=tier,
                        operation=op,
                        family="API Request",
                        unit="Requests",
                        amounts=amount,
                        rate=rate,
                        category="storage",
                        description=f"${rate} per {op} request",
                    )
        elif res.kind == "ebs":
            _usage(
                lines,
                res,
                month,
                starts=starts,
                product_code="AmazonEC2",
                service_code="AmazonEC2",
                usage_type="EBS:VolumeUsage.gp3",
                operation="CreateVolume-Gp3",
                family="Storage",
                unit="GB-Mo",
                amounts=np.full(len(starts), res.size_gb / month.days),
                rate=EBS_GP3_GB_MONTH,
                category="storage",
                description=f"${EBS_GP3_GB_MONTH} per GB-month of General Purpose (gp3)",
            )
        else:
            _usage(
                lines,
                res,
                month,
                starts=starts,
                product_code="AmazonEC2",
                service_code="AmazonEC2",
                usage_type="EBS:SnapshotUsage",
                operation="CreateSnapshot",
                family="Storage Snapshot",
                unit="GB-Mo",
                amounts=np.full(len(starts), res.size_gb / month.days),
                rate=SNAPSHOT_GB_MONTH,
                category="storage",
                description=f"${SNAPSHOT_GB_MONTH} per GB-Month of snapshot data stored",
            )
    for res in company.of_kind("cloudwatch"):
        _usage(
            lines,
            res,
            month,
            starts=starts,
            product_code="AmazonCloudWatch",
            service_code="AmazonCloudWatch",
            usage_type="CW:MetricMonitorUsage",
            operation="MetricStorage",
            family="Metric",
            unit="Metrics",
            amounts=np.full(len(starts), 240 / month.days),
            rate=CW_METRIC_MONTH,
            category="other",
            description="$0.30 per metric-month - first 10,000 metrics",
        )


def transfer_lines(lines, company: Company, month: Month, rng, timelines, offset) -> None:
    """Egress lines keep their parent's product code; AWS files them under service code AWSDataTransfer."""
    starts = day_starts(month)
    transfer = {
        "product_code": "AmazonEC2",
        "service_code": "AWSDataTransfer",
        "family": "Data Transfer",
        "unit": "GB",
        "category": "egress",
    }
    for res in company.of_kind("ec2"):
        if res.category == "inference" or not res.tags or res.region != "us-east-1":
            gb = rng.uniform(15, 90, size=len(starts))
            _usage(
                lines,
                res,
                month,
                starts=starts,
                **transfer,
                usage_type=prefixed(res.region, "DataTransfer-Out-Bytes"),
                operation="RunInstances",
                amounts=gb,
                rate=INTERNET_OUT_GB,
                from_region=res.region,
                from_location="",
                to_location="External",
                description=f"${INTERNET_OUT_GB} per GB - first 10 TB / month data transfer out",
            )
        if res.instance_type.startswith("p") and res.key in timelines:
            # Inter-AZ traffic only on days the trainer ran.
            daily_hours = (
                timelines[res.key][offset : offset + month.hours].reshape(month.days, 24).sum(axis=1)
            )
            ran = daily_hours > 0
            gb = rng.uniform(150, 900, size=int(ran.sum()))
            _usage(
                lines,
                res,
                month,
                starts=starts[ran],
                **transfer,
                usage_type="DataTransfer-Regional-Bytes",
                operation="InterZone-In",
                amounts=gb,
                rate=INTER_AZ_GB,
                from_region=res.region,
                to_region=res.region,
                description=f"${INTER_AZ_GB} per GB - regional data transfer - in/out/between EC2 AZs",
            )
    s3 = {**transfer, "product_code": "AmazonS3"}
    artifacts = company.by_key("s3-model-artifacts")
    _usage(
        lines,
        artifacts,
        month,
        starts=starts,
        **s3,
        usage_type="DataTransfer-Out-Bytes",
        operation="GetObject",
        amounts=rng.uniform(10, 40, size=len(starts)),
        rate=INTERNET_OUT_GB,
        from_region="us-east-1",
        to_location="External",
        description=f"${INTERNET_OUT_GB} per GB - first 10 TB / month data transfer out",
    )
    _usage(
        lines,
        artifacts,
        month,
        starts=starts,
        **s3,
        usage_type="USE1-USW2-AWS-Out-Bytes",
        operation="PutObjectForRepl",
        amounts=rng.uniform(50, 150, size=len(starts)),
        rate=INTER_REGION_GB,
        from_region="us-east-1",
        to_region="us-west-2",
        from_location="US East (N. Virginia)",
        to_location="US West (Oregon)",
        description=f"${INTER_REGION_GB} per GB - US East (N. Virginia) data transfer to US West (Oregon)",
    )
    for res in company.of_kind("nat"):
        _usage(
            lines,
            res,
            month,
            starts=starts,
            product_code="AmazonEC2",
            service_code="AmazonEC2",
            family="NAT Gateway",
            unit="GB",
            category="egress",
            usage_type="NatGateway-Bytes",
            operation="NatGateway",
            amounts=rng.uniform(100, 400, size=len(starts)),
            rate=NAT_GB,
            description=f"${NAT_GB} per GB Data Processed by NAT Gateways",
        )
