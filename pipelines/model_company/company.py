"""The fictional company: its accounts, resources, commitments and the planted category/workload of each."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .ids import hex_id, instance_id, stream, uuid4
from .periods import HOUR, Month

PAYER_ACCOUNT = "111111111111"
PROD_ACCOUNT = "222222222222"
RESEARCH_ACCOUNT = "333333333333"
ACCOUNT_NAMES = {
    PAYER_ACCOUNT: "model-company-payer",
    PROD_ACCOUNT: "ml-prod",
    RESEARCH_ACCOUNT: "ml-research",
}
PAYER_NAME = "Model Company Ltd"
CURRENCY = "USD"
BUCKET = "mlcost-billing"

REGION_NAMES = {"us-east-1": "US East (N. Virginia)", "us-west-2": "US West (Oregon)"}
# EC2 and S3 usage types in us-east-1 carry no region prefix; every other region (and every SageMaker
# usage type) does.
REGION_PREFIX = {"us-east-1": "USE1", "us-west-2": "USW2"}


@dataclass(frozen=True)
class InstanceType:
    """What the bill and the GPU logs need to know about an instance type."""

    name: str
    gpus: int
    gpu_model: str
    on_demand_rate: float
    vcpu: int
    memory: str
    gpu_memory: str = ""

    @property
    def family(self) -> str:
        return self.name.split(".")[0]


INSTANCE_TYPES = {
    t.name: t
    for t in [
        InstanceType("p5.48xlarge", 8, "NVIDIA H100 80GB HBM3", 55.04, 192, "2048 GiB", "640 GB"),
        InstanceType("p4d.24xlarge", 8, "NVIDIA A100-SXM4-40GB", 21.96, 96, "1152 GiB", "320 GB"),
        InstanceType("g5.48xlarge", 8, "NVIDIA A10G", 16.288, 192, "768 GiB", "192 GB"),
        InstanceType("g5.12xlarge", 4, "NVIDIA A10G", 5.672, 48, "192 GiB", "96 GB"),
        InstanceType("g5.xlarge", 1, "NVIDIA A10G", 1.006, 4, "16 GiB", "24 GB"),
        InstanceType("g6.xlarge", 1, "NVIDIA L4", 0.805, 4, "16 GiB", "24 GB"),
        InstanceType("m6i.2xlarge", 0, "", 0.384, 8, "32 GiB"),
        InstanceType("r6i.xlarge", 0, "", 0.252, 4, "32 GiB"),
        InstanceType("c6i.4xlarge", 0, "", 0.68, 16, "32 GiB"),
        # SageMaker ml. types: same GPUs as their EC2 namesakes, SageMaker's own hourly price.
        InstanceType("ml.p4d.24xlarge", 8, "NVIDIA A100-SXM4-40GB", 37.688, 96, "1152 GiB", "320 GB"),
        InstanceType("ml.g5.2xlarge", 1, "NVIDIA A10G", 1.515, 8, "32 GiB", "24 GB"),
        InstanceType("ml.t3.medium", 0, "", 0.05, 2, "4 GiB"),
    ]
}

TEAM, MODEL, WORKLOAD_TYPE = "user:team", "user:model", "user:workload-type"
TAG_KEYS = (TEAM, MODEL, WORKLOAD_TYPE)

_SAGEMAKER_ARN = re.compile(r"^arn:aws:sagemaker:[^:]*:[^:]*:(?:endpoint|training-job)/(.+)$")


def planted_workload(tags: dict[str, str], resource_id: str) -> str:
    """The workload rule the pipeline implements: model tag, else team tag, else SageMaker name, else none."""
    if tags.get(MODEL):
        return tags[MODEL]
    if tags.get(TEAM):
        return tags[TEAM]
    match = _SAGEMAKER_ARN.match(resource_id)
    if match:
        return match.group(1).lower()
    return "unattributed"


def compute_category(tags: dict[str, str]) -> str:
    """Category of an EC2 instance's compute lines: its workload-type tag, else ``other``."""
    kind = tags.get(WORKLOAD_TYPE, "")
    return kind if kind in ("training", "inference") else "other"


@dataclass(frozen=True)
class Resource:
    """One billed thing. ``schedule`` says when it runs; ``gpu_log`` which utilization log it writes."""

    key: str
    # ec2 | sagemaker_train | sagemaker_host | sagemaker_notebook | s3 | ebs | snapshot | nat | cloudwatch
    kind: str
    resource_id: str
    account_id: str
    region: str
    az: str = ""
    instance_type: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    purchase: str = "on_demand"  # on_demand | ri | sp | spot
    schedule: str = "always"  # always | bursty | workhours | job | daily
    count: int = 1
    size_gb: float = 0.0
    hostname: str = ""
    gpu_log: str = ""  # dcgm | dcgm-util-only | dcgm-lowercase-host | nvidia-smi | nvidia-smi-half | none
    job_start: int = 0
    job_hours: float = 0.0
    display_name: str = ""  # SageMaker endpoint name as CloudWatch spells it

    @property
    def workload(self) -> str:
        return planted_workload(self.tags, self.resource_id)

    @property
    def gpu_count(self) -> int:
        itype = INSTANCE_TYPES.get(self.instance_type)
        return itype.gpus if itype else 0

    @property
    def category(self) -> str:
        """Category of the resource's main usage lines."""
        if self.kind == "ec2":
            return compute_category(self.tags)
        return {
            "sagemaker_train": "training",
            "sagemaker_host": "inference",
            "s3": "storage",
            "ebs": "storage",
            "snapshot": "storage",
            "nat": "egress",
        }.get(self.kind, "other")


@dataclass(frozen=True)
class Reservation:
    """A 1-year partial-upfront standard RI bought at the start of the first generated month."""

    arn: str
    subscription_id: str
    instance_type: str
    region: str
    az: str
    account_id: str
    start: int
    end: int
    amortized_upfront_hourly: float
    recurring_hourly: float

    @property
    def upfront_fee(self) -> float:
        return round(self.amortized_upfront_hourly * (self.end - self.start) / HOUR, 2)


@dataclass(frozen=True)
class SavingsPlan:
    """A 1-year no-upfront Compute Savings Plan; planted to cover only the p5 (first in line for it)."""

    arn: str
    account_id: str
    start: int
    end: int
    hourly_commitment: float
    discount: float  # SP rate = on-demand rate x (1 - discount)


@dataclass
class Company:
    """Everything that appears on the bill, as planted."""

    seed: int
    months: list[Month]
    resources: list[Resource]
    reservation: Reservation
    savings_plan: SavingsPlan

    def by_key(self, key: str) -> Resource:
        for resource in self.resources:
            if resource.key == key:
                return resource
        raise KeyError(key)

    def of_kind(self, *kinds: str) -> list[Resource]:
        return [r for r in self.resources if r.kind in kinds]


def _tags(team: str = "", model: str = "", workload_type: str = "") -> dict[str, str]:
    tags = {TEAM: team, MODEL: model, WORKLOAD_TYPE: workload_type}
    return {k: v for k, v in tags.items() if v}


def build_company(seed: int, months: list[Month]) -> Company:
    """Create the resources and commitments; ids come from the seed, the layout is fixed."""
    rng = stream(seed, "company")
    span_start, span_end = months[0].start, months[-1].end
    training = _tags(workload_type="training")
    inference = _tags(workload_type="inference")
    resources: list[Resource] = []

    def ec2(key, itype, account, region, az, tags, **kw):
        resources.append(
            Resource(key, "ec2", instance_id(rng), account, region, az, itype, tags, **kw),
        )

    # GPU training boxes: bursts of whole hours, days off.
    ec2(
        "train-p4d-ri",
        "p4d.24xlarge",
        RESEARCH_ACCOUNT,
        "us-east-1",
        "us-east-1a",
        _tags("nlp", "support-llm") | training,
        purchase="ri",
        schedule="bursty",
        hostname="ip-10-1-0-11",
        gpu_log="dcgm",
    )
    ec2(
        "train-p4d-od",
        "p4d.24xlarge",
        RESEARCH_ACCOUNT,
        "us-east-1",
        "us-east-1b",
        _tags("vision", "vision-detector") | training,
        schedule="bursty",
        hostname="ip-10-1-0-12",
        gpu_log="dcgm-util-only",
    )
    ec2(
        "train-p5-sp",
        "p5.48xlarge",
        RESEARCH_ACCOUNT,
        "us-east-1",
        "us-east-1a",
        _tags("nlp", "support-llm") | training,
        purchase="sp",
        schedule="bursty",
        hostname="ip-10-1-0-13",
        gpu_log="dcgm",
    )
    ec2(
        "train-g5-spot",
        "g5.48xlarge",
        RESEARCH_ACCOUNT,
        "us-west-2",
        "us-west-2a",
        _tags("vision") | training,
        purchase="spot",
        schedule="bursty",
        hostname="ip-10-2-0-21",
        gpu_log="dcgm-lowercase-host",
    )
    # GPU inference fleet: always on.
    ec2(
        "infer-g5-tagger",
        "g5.xlarge",
        PROD_ACCOUNT,
        "us-east-1",
        "us-east-1a",
        _tags("vision", "image-tagger") | inference,
        gpu_log="nvidia-smi",
    )
    ec2(
        "infer-g5-llm",
        "g5.12xlarge",
        PROD_ACCOUNT,
        "us-east-1",
        "us-east-1b",
        _tags("nlp", "support-llm") | inference,
        gpu_log="nvidia-smi",
    )
    for i, log in enumerate(("nvidia-smi", "nvidia-smi-half", "none"), start=1):
        ec2(
            f"infer-g6-embed-{i}",
            "g6.xlarge",
            PROD_ACCOUNT,
            "us-east-1",
            f"us-east-1{'abc'[i - 1]}",
            _tags("search", "text-embedder") | inference,
            gpu_log=log,
        )
    # No tags at all: not known to be inference, so `other` / `unattributed`.
    ec2("infer-g5-untagged", "g5.xlarge", PROD_ACCOUNT, "us-east-1", "us-east-1c", {}, gpu_log="nvidia-smi")
    # CPU boxes.
    for i in range(1, 4):
        ec2(f"cpu-etl-{i}", "m6i.2xlarge", RESEARCH_ACCOUNT, "us-east-1", "us-east-1a", _tags("data"))
    for i in range(1, 3):
        ec2(
            f"cpu-features-{i}",
            "r6i.xlarge",
            RESEARCH_ACCOUNT,
            "us-east-1",
            "us-east-1b",
            _tags("nlp") | training,
        )
    ec2("cpu-gateway", "c6i.4xlarge", PROD_ACCOUNT, "us-east-1", "us-east-1a", _tags("platform") | inference)
    ec2("cpu-legacy-west", "c6i.4xlarge", PROD_ACCOUNT, "us-west-2", "us-west-2b", {})

    # SageMaker: endpoints (always on), a notebook (working hours), training jobs (one-off runs).
    def sm_arn(kind: str, name: str) -> str:
        return f"arn:aws:sagemaker:us-east-1:{PROD_ACCOUNT}:{kind}/{name}"

    endpoints = [
        ("fraud-scorer-prod", 2, _tags("risk", "fraud-scorer") | inference),
        ("recsys-ranker", 1, _tags("personalization", "recsys-ranker") | inference),
        # Untagged; AWS lower-cases the name in the ARN while CloudWatch keeps the name as created.
        ("Churn-Predictor-V2", 1, {}),
    ]
    for name, count, tags in endpoints:
        resources.append(
            Resource(
                f"endpoint-{name.lower()}",
                "sagemaker_host",
                sm_arn("endpoint", name.lower()),
                PROD_ACCOUNT,
                "us-east-1",
                "",
                "ml.g5.2xlarge",
                tags,
                count=count,
                display_name=name,
            )
        )
    resources.append(
        Resource(
            "notebook-research",
            "sagemaker_notebook",
            sm_arn("notebook-instance", "research-notebook"),
            PROD_ACCOUNT,
            "us-east-1",
            "",
            "ml.t3.medium",
            _tags("research"),
            schedule="workhours",
        )
    )
    resources.extend(_training_jobs(rng, span_start, span_end, sm_arn))

    # Storage.
    for key, name, account, region, size, tags in [
        (
            "s3-training-data",
            "mlcost-training-data",
            RESEARCH_ACCOUNT,
            "us-east-1",
            80_000.0,
            _tags("nlp", "support-llm"),
        ),
        (
            "s3-vision-datasets",
            "vision-datasets-7f3a",
            RESEARCH_ACCOUNT,
            "us-east-1",
            45_000.0,
            _tags("vision"),
        ),
        ("s3-model-artifacts", "model-artifacts-prod", PROD_ACCOUNT, "us-east-1", 6_000.0, {}),
        ("s3-dr-replica", "model-artifacts-dr", PROD_ACCOUNT, "us-west-2", 6_000.0, {}),
    ]:
        resources.append(
            Resource(key, "s3", name, account, region, "", "", tags, schedule="daily", size_gb=size)
        )
    for key, owner, size in [
        ("ebs-p4d-ri", "train-p4d-ri", 2000.0),
        ("ebs-p4d-od", "train-p4d-od", 2000.0),
        ("ebs-p5-sp", "train-p5-sp", 4000.0),
        ("ebs-llm-serving", "infer-g5-llm", 500.0),
        ("ebs-orphan", "", 1000.0),
    ]:
        owner_res = next((r for r in resources if r.key == owner), None)
        tags = {k: v for k, v in owner_res.tags.items() if k != WORKLOAD_TYPE} if owner_res else {}
        account = owner_res.account_id if owner_res else RESEARCH_ACCOUNT
        az = owner_res.az if owner_res else "us-east-1a"
        resources.append(
            Resource(
                key,
                "ebs",
                "vol-0" + hex_id(rng, 16),
                account,
                "us-east-1",
                az,
                "",
                tags,
                schedule="daily",
                size_gb=size,
            )
        )
    for key, size, tags in [("snap-nlp", 1500.0, _tags("nlp")), ("snap-untagged", 3000.0, {})]:
        snap = f"arn:aws:ec2:us-east-1:{RESEARCH_ACCOUNT}:snapshot/snap-0{hex_id(rng, 16)}"
        resources.append(
            Resource(
                key,
                "snapshot",
                snap,
                RESEARCH_ACCOUNT,
                "us-east-1",
                "",
                "",
                tags,
                schedule="daily",
                size_gb=size,
            )
        )
    nat = f"arn:aws:ec2:us-east-1:{RESEARCH_ACCOUNT}:natgateway/nat-0{hex_id(rng, 16)}"
    resources.append(
        Resource("nat-research", "nat", nat, RESEARCH_ACCOUNT, "us-east-1", "", "", {}, schedule="daily")
    )
    resources.append(
        Resource("cloudwatch-prod", "cloudwatch", "", PROD_ACCOUNT, "us-east-1", "", "", {}, schedule="daily")
    )

    ri_start = span_start
    reservation = Reservation(
        arn=f"arn:aws:ec2:us-east-1:{RESEARCH_ACCOUNT}:reserved-instances/{uuid4(rng)}",
        subscription_id=str(int(rng.integers(10**9, 10**10))),
        instance_type="p4d.24xlarge",
        region="us-east-1",
        az="us-east-1a",
        account_id=RESEARCH_ACCOUNT,
        start=ri_start,
        end=ri_start + 365 * 24 * HOUR,
        amortized_upfront_hourly=6.73,
        recurring_hourly=6.73,
    )
    savings_plan = SavingsPlan(
        arn=f"arn:aws:savingsplans::{RESEARCH_ACCOUNT}:savingsplan/{uuid4(rng)}",
        account_id=RESEARCH_ACCOUNT,
        start=span_start - 90 * 24 * HOUR,
        end=span_start + 275 * 24 * HOUR,
        hourly_commitment=20.0,
        discount=0.28,
    )
    return Company(seed, months, resources, reservation, savings_plan)


def _training_jobs(rng: np.random.Generator, span_start: int, span_end: int, sm_arn) -> list[Resource]:
    """SageMaker training jobs: a few a month, each a run of whole or partial hours on ml.p4d.24xlarge."""
    jobs: list[Resource] = []
    days = (span_end - span_start) // (24 * HOUR)
    training = _tags(workload_type="training")
    plans = []
    for day in range(1, days - 1, 6):
        plans.append(("support-llm-ft", _tags("nlp", "support-llm") | training, day))
        plans.append(("vision-detector-hpo", _tags("vision", "vision-detector") | training, day + 3))
    for n, (prefix, tags, day) in enumerate(plans):
        start = span_start + day * 24 * HOUR + int(rng.integers(0, 18)) * HOUR
        hours = round(float(rng.uniform(3.0, 14.0)), 4)
        count = int(rng.integers(1, 3))
        stamp = f"{n:03d}-{hex_id(rng, 6)}"
        name = f"{prefix}-{stamp}"
        jobs.append(
            Resource(
                f"job-{name}",
                "sagemaker_train",
                sm_arn("training-job", name),
                PROD_ACCOUNT,
                "us-east-1",
                "",
                "ml.p4d.24xlarge",
                tags,
                schedule="job",
                count=count,
                job_start=start,
                job_hours=hours,
            )
        )
    # The one untagged job: its workload is the lower-cased name from the ARN (kept in its original case).
    start = span_start + (days // 2) * 24 * HOUR + 9 * HOUR
    jobs.append(
        Resource(
            "job-resnet-sweep",
            "sagemaker_train",
            sm_arn("training-job", "ResNet-Sweep-07"),
            PROD_ACCOUNT,
            "us-east-1",
            "",
            "ml.p4d.24xlarge",
            {},
            schedule="job",
            count=1,
            job_start=start,
            job_hours=7.5,
        )
    )
    return [j for j in jobs if j.job_start + j.job_hours * HOUR <= span_end]
