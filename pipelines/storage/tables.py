"""Every table mlcost publishes, declared once: its partitioning, columns (type and meaning), what it reads and
its checks.

Everything else about a table is derived from this file: the lake's partition folders (`lake.PARTITION_COLUMNS`),
the Dagster assets' dependencies, column schemas and check specs (pipelines/orchestration/lake_assets.py), the jobs that run it
(pipelines/orchestration/jobs.py), the empty stand-in when an optional input has no data yet (`lake.register_view_or_empty`),
the warehouse's COMMENT ON, and docs/tables.md (`mlcost docs tables`). The SQL of a table is `sql/<table>.sql`; a
check's SQL is `sql/checks/<table>__<check>.sql` and returns the rows that break it. A partition whose columns
differ from the ones declared here is refused when it is written (`check_columns`), and tests/test_tables.py
checks each SQL file's FROM/JOIN against `reads` + `inputs`. docs/architecture.md: "Adding a column".

This module imports nothing from pipelines/, so anything may import it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

MONTHLY = "billing_period"
DAILY = "usage_date"
_MONEY = "in the billing currency"


@dataclass(frozen=True)
class Column:
    name: str
    type: (
        str  # as DuckDB names it in duckdb_columns() (the UI shows it; a test compares it with the warehouse)
    )
    description: str


def col(name: str, type_: str, description: str) -> Column:
    return Column(name, type_, description)


@dataclass(frozen=True)
class Check:
    """An asset check. `sql`: whether sql/checks/<table>__<name>.sql holds its rule (rows returned = failures);
    the few without one judge a figure computed in Python (said in the description)."""

    name: str
    blocking: bool
    description: str
    sql: bool = True


@dataclass(frozen=True)
class Table:
    name: str
    description: str
    columns: tuple[Column, ...]
    # Dagster asset group; None for `view` tables, which the warehouse defines over other tables (no asset).
    group: str | None = None
    # The column whose value names a partition's folder (MONTHLY or DAILY); None for a view.
    partitioned_by: str | None = None
    # Lake tables this one is computed from: its Dagster dependencies.
    reads: tuple[str, ...] = ()
    # Lake tables its Python reads besides the SQL (also Dagster dependencies).
    python_reads: tuple[str, ...] = ()
    # Other relations its SQL reads: staging macros (sql/staging/) and views registered from source files or
    # settings (rules, mappings, budgets, reference CSVs).
    inputs: tuple[str, ...] = ()
    checks: tuple[Check, ...] = ()
    # Whether the asset has the shared `data_is_recent` warning check (pipelines/orchestration/data_through.py).
    data_is_recent: bool = False
    view: bool = False

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    @property
    def types(self) -> dict[str, str]:
        return {c.name: c.type for c in self.columns}

    @property
    def descriptions(self) -> dict[str, str]:
        return {c.name: c.description for c in self.columns}

    def empty_columns(self) -> str:
        """The column list of an empty stand-in table: `"usage_date" DATE, "workload" VARCHAR, …`."""
        return ", ".join('"' + c.name.replace('"', '""') + '" ' + c.type for c in self.columns)

    def check(self, name: str) -> Check:
        for check in self.checks:
            if check.name == name:
                return check
        raise KeyError(f"{self.name} declares no check {name!r}; it has {[c.name for c in self.checks]}")

    def check_sql_name(self, name: str) -> str:
        """The SQL file of a check, for `sqlfiles.load_sql`: checks/<table>__<check>."""
        self.check(name)
        return f"checks/{self.name}__{name}"


def column_problems(table: str, columns: Iterable[str]) -> list[str]:
    """What differs between a computed partition's columns and the declared ones (empty when they agree)."""
    declared, actual = TABLES[table].column_names, list(columns)
    problems = []
    if missing := [c for c in declared if c not in actual]:
        problems.append(f"declared but not computed: {', '.join(missing)}")
    if extra := [c for c in actual if c not in declared]:
        problems.append(f"computed but not declared: {', '.join(extra)}")
    if not problems and actual != declared:
        problems.append(f"in another order than declared ({', '.join(actual)})")
    return problems


def lake_tables() -> list[Table]:
    """The tables written as partitioned Parquet, in the order of the layers."""
    return [t for t in TABLES.values() if t.partitioned_by]


def monthly_tables() -> list[str]:
    return [t.name for t in lake_tables() if t.partitioned_by == MONTHLY]


def daily_tables() -> list[str]:
    return [t.name for t in lake_tables() if t.partitioned_by == DAILY]


def job_of(table: str) -> str | None:
    """The Dagster job that computes a table (a Dagster run covers one partitioning): the bill's months are
    ingested by `ingest_billing`, the days by `daily_tables`, the other monthly tables by
    `monthly_reconciliation`; None for a warehouse view."""
    declared = TABLES[table]
    if declared.view:
        return None
    if table == "line_items":
        return "ingest_billing"
    return "daily_tables" if declared.partitioned_by == DAILY else "monthly_reconciliation"


def tables_of_job(job: str) -> list[str]:
    """The tables `job` computes, in the registry's order."""
    return [t.name for t in lake_tables() if job_of(t.name) == job]


# line_items and its history view (the superseded versions of its lines) share these columns.
_LINE_ITEMS_COLUMNS = (
    col("billing_period", "DATE", "First day of the billing period (month) the line is billed in."),
    col("charge_period_start", "TIMESTAMP", "Start of the period the charge covers (UTC)."),
    col("charge_period_end", "TIMESTAMP", "End (exclusive) of the period the charge covers (UTC)."),
    col("usage_date", "DATE", "UTC date of charge_period_start."),
    col("provider", "VARCHAR", "Cloud provider (AWS for CUR; ProviderName for FOCUS)."),
    col("billing_account_id", "VARCHAR", "Payer / billing account."),
    col("sub_account_id", "VARCHAR", "Usage (linked) account."),
    col(
        "service_code",
        "VARCHAR",
        "Product code (AmazonEC2, AmazonSageMaker, ...); FOCUS x_ServiceCode or ServiceName.",
    ),
    col(
        "usage_type",
        "VARCHAR",
        "AWS usage type (BoxUsage:p4d.24xlarge, USE1-Train:ml.p4d.24xlarge, ...).",
    ),
    col("operation", "VARCHAR", "AWS operation (RunInstances, ...)."),
    col(
        "resource_id",
        "VARCHAR",
        "Resource the line is for (instance id, ARN, bucket); NULL when the bill has none.",
    ),
    col("region", "VARCHAR", "Region code (us-east-1)."),
    col("availability_zone", "VARCHAR", "Availability zone, when the bill has it."),
    col("instance_type", "VARCHAR", "Instance type for compute lines (p4d.24xlarge, ml.g5.2xlarge)."),
    col("product_family", "VARCHAR", "Product family (Compute Instance, Data Transfer, Storage, ...)."),
    col(
        "line_item_type",
        "VARCHAR",
        "CUR line item type (Usage, SavingsPlanCoveredUsage, RIFee, Tax, ...); FOCUS x_LineItemType when present.",
    ),
    col(
        "charge_category",
        "VARCHAR",
        "FOCUS charge category: Usage, Purchase, Tax, Credit, Adjustment.",
    ),
    col("charge_class", "VARCHAR", "FOCUS charge class (Correction or NULL)."),
    col(
        "commitment_status",
        "VARCHAR",
        "FOCUS CommitmentDiscountStatus (Used / Unused) where the export has it.",
    ),
    col("commitment_id", "VARCHAR", "Reserved Instance or Savings Plan ARN the line relates to."),
    col("charge_description", "VARCHAR", "The line's description as billed."),
    col("usage_quantity", "DOUBLE", "Usage amount in pricing_unit."),
    col("pricing_unit", "VARCHAR", "Unit of usage_quantity (Hrs, GB-Mo, ...)."),
    col(
        "billed_cost",
        "DOUBLE",
        "What the invoice shows for the line (unblended), in the billing currency.",
    ),
    col(
        "effective_cost",
        "DOUBLE",
        "Amortized cost: commitments spread onto the usage they cover, in the billing currency.",
    ),
    col("list_cost", "DOUBLE", "Public on-demand equivalent, in the billing currency."),
    col(
        "billing_currency",
        "VARCHAR",
        "Currency of the money columns; never summed across currencies.",
    ),
    col("invoice_id", "VARCHAR", "Invoice id; empty until the month is invoiced."),
    col(
        "product_gpu_count",
        "INTEGER",
        "GPUs per instance as the bill states it (product gpu), when present.",
    ),
    col(
        "tags",
        "MAP(VARCHAR, VARCHAR)",
        "Resource tags as a MAP; keys normalized like CUR 2.0 (user:workload-type → user_workload_type).",
    ),
    col("source_file", "VARCHAR", "File the line was read from."),
    col(
        "source_row",
        "BIGINT",
        "Row of the line in its Parquet source file (1-based); NULL for CSV sources.",
    ),
    col(
        "delivery_id",
        "VARCHAR",
        "Delivery (CUR 2.0 executionId, legacy assemblyId, or file hash) the line came from.",
    ),
    col("source_format", "VARCHAR", "Export flavour: cur2, cur1 or focus."),
    col(
        "service_category",
        "VARCHAR",
        "FOCUS ServiceCategory (Compute, Storage, Networking, ...); NULL for CUR.",
    ),
    col(
        "service_subcategory",
        "VARCHAR",
        "FOCUS ServiceSubcategory (Object Storage, Virtual Machines, ...; FOCUS 1.1+); NULL for CUR.",
    ),
    col(
        "service_name",
        "VARCHAR",
        "FOCUS ServiceName (Virtual Machines, Cloud Storage, ...); for CUR the product's service code (product servicecode, else the line's product code).",
    ),
    col(
        "sku_meter",
        "VARCHAR",
        "FOCUS SkuMeter (Data Transfer, Compute, ...; FOCUS 1.1+); NULL for CUR.",
    ),
    col(
        "sku_price_details",
        "MAP(VARCHAR, VARCHAR)",
        "FOCUS SkuPriceDetails as a MAP of property → text value (InstanceType, GpuCount, x_TransferType, ...); NULL for CUR and when the export's value is not a JSON object.",
    ),
    col(
        "pricing_category",
        "VARCHAR",
        "FOCUS PricingCategory (Standard, Committed, Dynamic, Other); NULL for CUR.",
    ),
    col(
        "resource_type",
        "VARCHAR",
        "FOCUS ResourceType (Virtual Machine, Disk, Storage Account, ...); NULL for CUR.",
    ),
    col(
        "commitment_type",
        "VARCHAR",
        "Reserved Instance or Savings Plan (CUR: which ARN the line carries; FOCUS CommitmentDiscountType).",
    ),
    col(
        "commitment_cost",
        "DOUBLE",
        "Fee lines of a CUR commitment: what it costs for the line's period as the bill states it (RIFee: recurring + amortized upfront fee; SavingsPlanRecurringFee: TotalCommitmentToDate), in the billing currency; NULL otherwise and for FOCUS.",
    ),
    col(
        "commitment_unused_quantity",
        "DOUBLE",
        "RIFee lines: the reservation's unused hours of the period (reservation/UnusedQuantity); NULL otherwise.",
    ),
    col(
        "invoice_issuer",
        "VARCHAR",
        "Legal entity that issues the invoice (CUR bill/InvoicingEntity, FOCUS InvoiceIssuerName); NULL when the"
        " export does not say.",
    ),
    col(
        "publisher",
        "VARCHAR",
        "Entity that sells the service: the seller of record (CUR lineItem/LegalEntity, a Marketplace seller's"
        " name for its lines; FOCUS PublisherName); NULL when the export does not say.",
    ),
)

_DECLARED = (
    Table(
        "line_items",
        group="billing",
        partitioned_by="billing_period",
        description=(
            "Every line of the current billing delivery of each billing period, one schema for CUR 2.0, "
            "legacy CUR and FOCUS. One row per source line; partitioned by billing_period."
        ),
        reads=(),
        inputs=("staged_lines",),
        columns=_LINE_ITEMS_COLUMNS,
        checks=(
            Check(
                "plausible_line_costs",
                blocking=False,
                description=(
                    "No line costs more than 1,000,000,000, nor more than 10,000 and 1,000 x the rest of its billing "
                    "period and currency (sql/checks/line_items__plausible_line_costs.sql). A warning: the line is "
                    "published as billed. When it warns, open the file and line named (a 1e300 typo, cents read as "
                    "dollars) and have the export corrected; docs/ingestion.md."
                ),
            ),
        ),
    ),
    Table(
        "cost_attribution",
        group="attribution",
        partitioned_by="usage_date",
        description=(
            "Every dollar of line_items per line and UTC day, with category, workload and the rule that "
            "decided them; shared cost spread by a strategy appears as extra rows with rule_id spread:<rule>."
            " Partitioned by usage_date."
        ),
        reads=("line_items",),
        inputs=(
            "attribution_lines",
            "attribution_rules",
            "sharing_strategies",
            "workload_mappings",
        ),
        columns=(
            col("usage_date", "DATE", "UTC day the amount is attributed to."),
            col("billing_period", "DATE", "Billing period of the source line."),
            col("category", "VARCHAR", "training, inference, storage, egress, other or shared."),
            col(
                "workload",
                "VARCHAR",
                "Model / team / project; unattributed when no tag, mapping or name says.",
            ),
            col(
                "model",
                "VARCHAR",
                "Owner dimension model: the first of its tag keys (rules file `owners`) the line carries; for spread rows the receiver's; NULL when none.",
            ),
            col(
                "team",
                "VARCHAR",
                "Owner dimension team: the first of its tag keys (rules file `owners`) the line carries; for spread rows the receiver's; NULL when none.",
            ),
            col(
                "project",
                "VARCHAR",
                "Owner dimension project: the first of its tag keys (rules file `owners`) the line carries; for spread rows the receiver's; NULL when none.",
            ),
            col(
                "environment",
                "VARCHAR",
                "Owner dimension environment: the first of its tag keys (rules file `owners`) the line carries; for spread rows the receiver's; NULL when none.",
            ),
            col(
                "rule_id",
                "VARCHAR",
                "Attribution rule that matched (spread:<rule> for shared cost allocated by a strategy).",
            ),
            col(
                "allocation",
                "VARCHAR",
                "direct (the line's own cost) or spread (shared cost allocated to this workload).",
            ),
            col(
                "shared_kind", "VARCHAR", "For shared rules: tax, support, credit, refund, commitment, other."
            ),
            col(
                "billed_cost",
                "DOUBLE",
                "Billed cost of the line's share for this day, in the billing currency.",
            ),
            col(
                "effective_cost",
                "DOUBLE",
                "Effective (amortized) cost of the line's share for this day, in the billing currency.",
            ),
            col("list_cost", "DOUBLE", "On-demand equivalent of the share, in the billing currency."),
            col("usage_quantity", "DOUBLE", "Usage of the share (instance hours for compute lines)."),
            col("billing_currency", "VARCHAR", "Currency of the money columns."),
            col("provider", "VARCHAR", "Cloud provider."),
            col("billing_account_id", "VARCHAR", "Payer / billing account."),
            col("sub_account_id", "VARCHAR", "Usage account."),
            col("service_code", "VARCHAR", "Product code of the source line."),
            col("usage_type", "VARCHAR", "Usage type of the source line."),
            col("operation", "VARCHAR", "Operation of the source line."),
            col("resource_id", "VARCHAR", "Resource of the source line."),
            col("region", "VARCHAR", "Region of the source line."),
            col("instance_type", "VARCHAR", "Instance type of the source line."),
            col("product_gpu_count", "INTEGER", "GPUs per instance from the bill, when present."),
            col("line_item_type", "VARCHAR", "Line item type of the source line."),
            col("charge_category", "VARCHAR", "FOCUS charge category of the source line."),
            col("pricing_unit", "VARCHAR", "Unit of usage_quantity."),
            col("charge_period_start", "TIMESTAMP", "Charge period start of the source line."),
            col("charge_period_end", "TIMESTAMP", "Charge period end of the source line."),
            col("delivery_id", "VARCHAR", "Delivery of the source line."),
            col("invoice_id", "VARCHAR", "Invoice of the source line; NULL until its month is invoiced."),
            col(
                "invoice_issuer",
                "VARCHAR",
                "Legal entity that invoices the source line, when the export says.",
            ),
            col("publisher", "VARCHAR", "Seller of record of the source line, when the export says."),
            col("commitment_id", "VARCHAR", "Reserved Instance or Savings Plan the source line relates to."),
            col(
                "commitment_type",
                "VARCHAR",
                "Reserved Instance or Savings Plan (FOCUS CommitmentDiscountType).",
            ),
            col(
                "commitment_status",
                "VARCHAR",
                "FOCUS CommitmentDiscountStatus of the source line (Used / Unused).",
            ),
            col(
                "commitment_cost",
                "DOUBLE",
                "Commitment fee lines: the share of what the commitment costs for the period (RI fee with its "
                "amortized upfront part; a Savings Plan's total commitment).",
            ),
            col(
                "commitment_unused_quantity",
                "DOUBLE",
                "RIFee lines: the share of the reservation's unused hours.",
            ),
        ),
        data_is_recent=True,
        checks=(
            Check(
                "every_line_has_one_category",
                blocking=True,
                description=(
                    "Every attributed row has a category, a workload and the rule that decided them "
                    "(sql/checks/cost_attribution__every_line_has_one_category.sql). Blocking: the day's downstream "
                    "tables are not computed. When it fails, the rules file let a line through undecided: run `mlcost"
                    " rules check`, make the last rule a catch-all, and rerun the days listed."
                ),
            ),
            Check(
                "attributed_equals_source_per_day",
                blocking=True,
                description=(
                    "For each billing period the run touched, Σ effective cost attributed over the period's published"
                    " days equals Σ effective cost of its line_items, to the cent "
                    "(sql/checks/cost_attribution__attributed_equals_source_per_day.sql). Blocking. When it fails, "
                    "some of the period's days were computed from an older delivery or not at all: rerun daily_tables"
                    " over the whole period; if the difference stays, a rule drops or duplicates lines (the periods "
                    "and differences are listed)."
                ),
            ),
            Check(
                "no_negative_usage_quantity",
                blocking=False,
                description=(
                    "No usage line of the days judged has a negative quantity "
                    "(sql/checks/cost_attribution__no_negative_usage_quantity.sql; Savings Plan negation lines "
                    "excepted). A warning: corrections on real bills carry negative usage; the lines are kept. When "
                    "it warns, check that the lines listed are corrections of earlier usage."
                ),
            ),
            Check(
                "unattributed_share",
                blocking=False,
                description=(
                    "At most 10% of the non-shared effective cost of the days judged has workload `unattributed` "
                    "(sql/checks/cost_attribution__unattributed_share.sql). A warning. When it warns, run "
                    "sql/examples/unattributed_spend_by_service.sql to see which services lack the workload tag, then"
                    " tag the resources or add a mapping rule (docs/attribution.md)."
                ),
            ),
        ),
    ),
    Table(
        "cost_by_category_daily",
        group="attribution",
        partitioned_by="usage_date",
        description=(
            "What each category and workload cost each UTC day, after sharing. One row per usage_date × "
            "category × workload × owner dimensions (model, team, project, environment) × currency: sum over "
            "the owner columns for a day's category × workload, or group by any of them."
        ),
        reads=("cost_attribution",),
        columns=(
            col("usage_date", "DATE", "UTC day."),
            col("category", "VARCHAR", "training, inference, storage, egress, other or shared."),
            col("workload", "VARCHAR", "Model / team / project, or unattributed."),
            col(
                "model",
                "VARCHAR",
                "Owner dimension model of the rows summed (cost_attribution.model); NULL when they carry none of its tags.",
            ),
            col(
                "team",
                "VARCHAR",
                "Owner dimension team of the rows summed (cost_attribution.team); NULL when they carry none of its tags.",
            ),
            col(
                "project",
                "VARCHAR",
                "Owner dimension project of the rows summed (cost_attribution.project); NULL when they carry none of its tags.",
            ),
            col(
                "environment",
                "VARCHAR",
                "Owner dimension environment of the rows summed (cost_attribution.environment); NULL when they carry none of its tags.",
            ),
            col("billing_currency", "VARCHAR", "Currency of the money columns."),
            col("billed_cost", "DOUBLE", "Billed cost, in the billing currency."),
            col("effective_cost", "DOUBLE", "Effective (amortized) cost, in the billing currency."),
            col(
                "direct_effective_cost",
                "DOUBLE",
                "Part of effective_cost from the workload's own lines, in the billing currency.",
            ),
            col(
                "spread_effective_cost",
                "DOUBLE",
                "Part of effective_cost allocated from shared cost, in the billing currency.",
            ),
            col("list_cost", "DOUBLE", "On-demand equivalent, in the billing currency."),
            col("attribution_rows", "BIGINT", "Rows of cost_attribution summed into this row."),
        ),
        data_is_recent=True,
    ),
    Table(
        "reconciliation",
        group="attribution",
        partitioned_by="billing_period",
        description=(
            "Per billing period and currency: the bill's totals against what was attributed. difference must "
            "be 0.00 (a blocking check)."
        ),
        reads=("line_items", "cost_attribution"),
        inputs=("generations",),
        columns=(
            col("billing_period", "DATE", "First day of the billing period."),
            col("billing_currency", "VARCHAR", "Currency."),
            col("delivery_id", "VARCHAR", "Delivery the period's lines came from."),
            col("source_lines", "BIGINT", "Lines in line_items for the period."),
            col("source_billed_cost", "DOUBLE", "Σ billed_cost of line_items, in the billing currency."),
            col(
                "source_effective_cost", "DOUBLE", "Σ effective_cost of line_items, in the billing currency."
            ),
            col(
                "attributed_billed_cost",
                "DOUBLE",
                "Σ billed_cost of cost_attribution for the period, in the billing currency.",
            ),
            col(
                "attributed_effective_cost",
                "DOUBLE",
                "Σ effective_cost of cost_attribution for the period, in the billing currency.",
            ),
            col(
                "difference",
                "DOUBLE",
                "attributed_effective_cost − source_effective_cost (0 when every dollar is attributed).",
            ),
            col("billed_difference", "DOUBLE", "attributed_billed_cost − source_billed_cost."),
            col(
                "unattributed_effective_cost",
                "DOUBLE",
                "Usage cost (not shared) with workload unattributed, in the billing currency.",
            ),
            col("attributed_days", "BIGINT", "Days of the period present in cost_attribution."),
            col("days_in_period", "BIGINT", "Days in the billing period."),
            col(
                "generation",
                "VARCHAR",
                "The generation the row was computed from: SHA-256 of the sorted '<table>/<partition> <file sha256>' lines of the period's line_items and cost_attribution files. The row is published only together with those very files (docs/architecture.md, Publishing).",
            ),
        ),
        checks=(
            Check(
                "attributed_equals_billed",
                sql=False,
                blocking=True,
                description=(
                    "Per billing period and currency, the effective cost attributed equals the bill's effective cost "
                    "to the cent, and at least one period was reconciled. Blocking. When it fails, the period's days "
                    "were not all recomputed after its latest delivery: rerun daily_tables over the period, then "
                    "reconciliation; a difference that stays means a rule drops or duplicates lines."
                ),
            ),
        ),
    ),
    Table(
        "gpu_samples",
        group="gpu",
        partitioned_by="usage_date",
        description=(
            "GPU utilization samples from every readable log (DCGM exporter, nvidia-smi, CloudWatch agent, "
            "SageMaker), one metric per row as a 0–1 ratio. A sample at ts stands for [ts − interval_seconds,"
            " ts). Partitioned by usage_date (the UTC date its interval starts)."
        ),
        # Its SQL reads only the parsed log rows; the readers map hosts to the instances billed in
        # cost_attribution (pipelines/gpu/samples.py).
        reads=(),
        python_reads=("cost_attribution",),
        inputs=("gpu_sample_rows",),
        columns=(
            col("usage_date", "DATE", "UTC date the sample's interval starts."),
            col("ts", "TIMESTAMP", "Time the sample was taken (UTC)."),
            col(
                "resource_id",
                "VARCHAR",
                "Billed resource: EC2 instance id, or SageMaker endpoint / training job name.",
            ),
            col("host", "VARCHAR", "Host name found in the log, if any."),
            col("gpu_index", "INTEGER", "GPU index on the host, when known."),
            col("gpu_uuid", "VARCHAR", "GPU UUID, when known."),
            col("gpu_model", "VARCHAR", "GPU model name, when known."),
            col("metric", "VARCHAR", "gr_engine_active, gpu_util or sm_active."),
            col("value", "DOUBLE", "Utilization over the interval, 0–1."),
            col(
                "interval_seconds",
                "DOUBLE",
                "Seconds the sample stands for: the gap to the previous sample, or the series' typical spacing across a gap longer than the limit in docs/gpu.md (holes stay unobserved).",
            ),
            col("source_file", "VARCHAR", "Log file the sample came from."),
            col(
                "source_format",
                "VARCHAR",
                "dcgm_prometheus, dcgm_csv, nvidia_smi, cloudwatch_json/csv, sagemaker_json/csv.",
            ),
            col(
                "mig_instance", "VARCHAR", "MIG GPU instance id (DCGM label GPU_I_ID); NULL for a whole GPU."
            ),
            col(
                "mig_profile",
                "VARCHAR",
                "MIG profile of the instance (GPU_I_PROFILE, e.g. 3g.20gb); NULL for a whole GPU.",
            ),
            col(
                "gpu_share",
                "DOUBLE",
                "Share of the GPU the device is: a MIG profile's slices out of 7 (3g.20gb = 3/7), else 1.",
            ),
            col(
                "namespace",
                "VARCHAR",
                "Kubernetes namespace of the pod holding the GPU (DCGM label exported_namespace, namespace or pod_namespace); NULL when no pod held it or the log has no such label.",
            ),
            col(
                "pod",
                "VARCHAR",
                "Kubernetes pod holding the GPU (DCGM label exported_pod, pod or pod_name); NULL when none.",
            ),
            col(
                "container",
                "VARCHAR",
                "Container of that pod (exported_container, container or container_name); NULL when none.",
            ),
            col(
                "holders",
                "INTEGER",
                "Copies of this sample, one per pod holding the GPU at once (the exporter's virtual GPUs under time-slicing); 1 otherwise. GPU time sums over the copies divided by holders.",
            ),
        ),
        data_is_recent=True,
    ),
    Table(
        "gpu_efficiency_daily",
        group="gpu",
        partitioned_by="usage_date",
        description=(
            "GPU efficiency per GPU resource and UTC day: allocated GPU hours from the bill, active GPU hours"
            " from the logs, η (active / observed GPU time by default; active / allocated with"
            " MLCOST_ETA_BASIS=allocated), coverage and the cost of idle GPU time."
        ),
        reads=(
            "cost_attribution",
            "gpu_samples",
        ),
        inputs=(
            "gpu_billed_intervals",
            "gpu_device_seconds",
        ),
        columns=(
            col("usage_date", "DATE", "UTC day."),
            col("resource_id", "VARCHAR", "Billed GPU resource (instance id or SageMaker ARN)."),
            col("workload", "VARCHAR", "Workload of the resource's compute cost that day."),
            col(
                "category", "VARCHAR", "Category of the resource's compute cost (training, inference, other)."
            ),
            col("instance_type", "VARCHAR", "Instance type."),
            col(
                "gpu_count",
                "INTEGER",
                "GPUs per instance (bill's product gpu, else pipelines/reference/gpu_instance_types.csv).",
            ),
            col("allocated_gpu_hours", "DOUBLE", "Billed instance hours × GPUs."),
            col(
                "observed_gpu_hours",
                "DOUBLE",
                "GPU hours of billed time that had samples, as the logs give them (not clipped: above allocated when the logs claim more GPUs than the bill).",
            ),
            col(
                "active_gpu_hours",
                "DOUBLE",
                "Σ utilization × time over the observed GPU hours (not clipped).",
            ),
            col(
                "eta",
                "DOUBLE",
                "η per eta_basis (default observed: active / observed); NULL where coverage is 0.",
            ),
            col(
                "coverage",
                "DOUBLE",
                "observed / allocated GPU hours, clipped at 1 (the excess is observed_beyond_allocated_gpu_hours).",
            ),
            col(
                "eta_observed",
                "DOUBLE",
                "active / observed GPU hours (unobserved time not counted as idle); NULL where nothing was observed.",
            ),
            col(
                "eta_allocated",
                "DOUBLE",
                "active / allocated GPU hours (unobserved time counted as idle: a lower bound); NULL where nothing was observed.",
            ),
            col(
                "eta_sm",
                "DOUBLE",
                "SM-weighted η from DCGM_FI_PROF_SM_ACTIVE; NULL where the logs have no SM-activity metric.",
            ),
            col(
                "gpu_cost",
                "DOUBLE",
                "Effective cost of the resource's GPU compute lines that day, in the billing currency.",
            ),
            col(
                "idle_cost",
                "DOUBLE",
                "gpu_cost × (1 − eta), in the billing currency; NULL where eta is NULL.",
            ),
            col(
                "unobserved_cost",
                "DOUBLE",
                "gpu_cost × (1 − coverage): spend with no utilization data, in the billing currency.",
            ),
            col("eta_basis", "VARCHAR", "observed or allocated (MLCOST_ETA_BASIS)."),
            col("metric_source", "VARCHAR", "Log format and metric η came from (none when unobserved)."),
            col(
                "gpus_in_log",
                "INTEGER",
                "Distinct GPUs (UUID, else host and index) in the logs used for η; NULL when the logs do not tell GPUs apart.",
            ),
            col(
                "gpus_billed",
                "INTEGER",
                "GPUs billed at once: instances in the busiest billed interval × GPUs per instance.",
            ),
            col(
                "observed_beyond_allocated_gpu_hours",
                "DOUBLE",
                "Observed GPU hours beyond allocated (0 when within): GPU time the logs claim that the bill does not have.",
            ),
            col(
                "eta_power",
                "DOUBLE",
                "Time-weighted power draw / power limit (a second activity signal, not a time fraction: an idle GPU draws some power); NULL where the logs have no power draw with a known limit. See docs/gpu.md.",
            ),
        ),
        data_is_recent=True,
        checks=(
            Check(
                "eta_in_range_and_active_within_allocated",
                blocking=True,
                description=(
                    "Every η of the days judged is within 0–1, and active ≤ observed ≤ allocated GPU hours "
                    "(sql/checks/gpu_efficiency_daily__eta_in_range_and_active_within_allocated.sql). Blocking. When "
                    "it fails, a log claims more GPU time than the bill: a log mapped to the wrong resource, two "
                    "loggers on one GPU, or more GPUs in the log than on the instance (see gpu_count_matches_bill); "
                    "fix the log's mapping (docs/gpu.md) and rerun the days."
                ),
            ),
            Check(
                "coverage_above_threshold",
                blocking=False,
                description=(
                    "At least 50% of the billed GPU hours of the days judged have utilization samples (observed / "
                    "allocated; sql/checks/gpu_efficiency_daily__coverage_above_threshold.sql). A warning: below it, "
                    "η describes too little of the fleet to act on. When it warns, the resources with the most "
                    "unobserved GPU hours are listed: ship their DCGM / nvidia-smi / CloudWatch logs to "
                    "MLCOST_GPU_SOURCE (docs/gpu.md)."
                ),
            ),
            Check(
                "gpu_count_matches_bill",
                blocking=False,
                description=(
                    "The logs show as many GPUs per resource and day as the bill has running at once "
                    "(sql/checks/gpu_efficiency_daily__gpu_count_matches_bill.sql). A warning. More GPUs in the logs "
                    "than billed is a log mapped to the wrong resource; fewer is a logger that misses GPUs (they "
                    "count as unobserved). When it warns, map the listed resources' logs to the right instance, or "
                    "enable every GPU in the logger (docs/gpu.md)."
                ),
            ),
        ),
    ),
    Table(
        "gpu_efficiency_by_device_daily",
        group="gpu",
        partitioned_by="usage_date",
        description=(
            "GPU efficiency per device (GPU, or MIG instance of a GPU) of each GPU resource and UTC day: "
            "which GPUs of a host did work and which idled. A resource's devices add up to its "
            "gpu_efficiency_daily row."
        ),
        reads=(
            "cost_attribution",
            "gpu_samples",
        ),
        inputs=("gpu_device_seconds",),
        columns=(
            col("usage_date", "DATE", "UTC day."),
            col("resource_id", "VARCHAR", "Billed GPU resource (instance id or SageMaker ARN)."),
            col(
                "device",
                "VARCHAR",
                "Readable device name: host, gpu <index> (else the UUID, else all), mig <id> (<profile>).",
            ),
            col("host", "VARCHAR", "Host name found in the log, if any."),
            col("gpu_index", "INTEGER", "GPU index on the host, when known."),
            col("gpu_uuid", "VARCHAR", "GPU UUID, when known."),
            col("mig_instance", "VARCHAR", "MIG GPU instance id (GPU_I_ID); NULL for a whole GPU."),
            col("mig_profile", "VARCHAR", "MIG profile (GPU_I_PROFILE, e.g. 3g.20gb); NULL for a whole GPU."),
            col(
                "gpu_share",
                "DOUBLE",
                "Share of the GPU the device is: a MIG profile's slices out of 7, else 1.",
            ),
            col("observed_gpu_hours", "DOUBLE", "GPU hours of billed time with samples, × gpu_share."),
            col(
                "active_gpu_hours", "DOUBLE", "Σ utilization × time over the observed GPU hours, × gpu_share."
            ),
            col("eta", "DOUBLE", "active / observed GPU hours; NULL where nothing was observed."),
            col(
                "metric_source",
                "VARCHAR",
                "Log format and metric η came from (the resource's, as in gpu_efficiency_daily).",
            ),
        ),
        data_is_recent=True,
    ),
    Table(
        "predictions_daily",
        group="predictions",
        partitioned_by="usage_date",
        description=(
            "Successful predictions per UTC day, workload and endpoint, from SageMaker invocation metrics, "
            "request logs or pre-aggregated counts."
        ),
        reads=("cost_attribution",),
        inputs=("prediction_counts",),
        columns=(
            col("usage_date", "DATE", "UTC day."),
            col(
                "workload",
                "VARCHAR",
                "Workload: mapping file, else the endpoint's tags on the bill, else the endpoint name.",
            ),
            col("endpoint", "VARCHAR", "SageMaker endpoint name or the model / endpoint field of the logs."),
            col(
                "predictions",
                "DOUBLE",
                "Successful predictions ((invocations − failed) × predictions per invocation).",
            ),
            col("invocations", "DOUBLE", "Requests or invocations."),
            col("failed_requests", "DOUBLE", "Requests that failed (4XX / 5XX / error status)."),
            col("source", "VARCHAR", "Formats the counts came from."),
        ),
        data_is_recent=True,
        checks=(
            Check(
                "prediction_files_unusable",
                blocking=False,
                description=(
                    "Every prediction file read gave successful predictions with at most half of its lines skipped "
                    "(sql/checks/predictions_daily__prediction_files_unusable.sql). A warning: otherwise cost per "
                    "prediction is NULL or built on a sliver of the traffic. When it warns, the files are named with "
                    "their first problem: fix the export or the header aliases (docs/predictions.md) and rerun the "
                    "days."
                ),
            ),
        ),
    ),
    Table(
        "cost_per_prediction_daily",
        group="predictions",
        partitioned_by="usage_date",
        description=(
            "What a prediction of each workload cost each UTC day, on a direct basis (inference compute) and "
            "a loaded basis (plus storage and egress, and shared cost where a sharing strategy spreads it)."
        ),
        reads=(
            "predictions_daily",
            "gpu_efficiency_daily",
            "cost_attribution",
        ),
        columns=(
            col("usage_date", "DATE", "UTC day."),
            col("workload", "VARCHAR", "Model / workload."),
            col("predictions", "DOUBLE", "Successful predictions that day (0 when none were counted)."),
            col("failed_requests", "DOUBLE", "Failed requests that day."),
            col("endpoints", "VARCHAR", "Endpoints the predictions came from."),
            col(
                "inference_cost",
                "DOUBLE",
                "Direct inference compute cost of the workload, in the billing currency.",
            ),
            col(
                "loaded_cost",
                "DOUBLE",
                "Inference + storage + egress cost of the workload, plus the shared cost a sharing strategy spreads onto those categories (none with the shipped rules, which keep shared cost apart), in the billing currency.",
            ),
            col(
                "cost_per_prediction",
                "DOUBLE",
                "inference_cost / predictions; NULL when there are no predictions.",
            ),
            col("cost_per_1k_predictions", "DOUBLE", "1000 × inference_cost / predictions."),
            col("loaded_cost_per_prediction", "DOUBLE", "loaded_cost / predictions."),
            col("loaded_cost_per_1k_predictions", "DOUBLE", "1000 × loaded_cost / predictions."),
            col("eta", "DOUBLE", "η (active / observed) of the workload's inference GPUs that day."),
            col(
                "inference_idle_gpu_cost",
                "DOUBLE",
                "Idle cost of the workload's inference GPUs, in the billing currency.",
            ),
            col("billing_currency", "VARCHAR", "Currency of the money columns."),
        ),
        data_is_recent=True,
        checks=(
            Check(
                "cost_without_predictions",
                blocking=False,
                description=(
                    "Every workload with inference cost on a day judged has predictions that day "
                    "(sql/checks/cost_per_prediction_daily__cost_without_predictions.sql). A warning: its cost per "
                    "prediction is NULL. When it warns, the workload's counts are missing or named differently from "
                    "its cost: check MLCOST_PREDICTIONS_SOURCE and the workload mapping (docs/predictions.md)."
                ),
            ),
            Check(
                "predictions_not_negative",
                blocking=True,
                description=(
                    "No day and workload has a negative prediction count. Blocking. When it fails, a counter reset or"
                    " a failed-request count above its invocations made the count negative: check the source files of"
                    " the rows listed."
                ),
            ),
        ),
    ),
    Table(
        "rule_coverage",
        group="attribution",
        partitioned_by="billing_period",
        description=(
            "Per billing period and currency: how much effective cost each attribution rule decided, by "
            "service, so that what lands in other (rule unmatched, or a catch-all such as "
            "focus-service-other) names the services that need a rule. Direct rows of cost_attribution only. "
            "Partitioned by billing_period."
        ),
        reads=("cost_attribution",),
        columns=(
            col("billing_period", "DATE", "First day of the billing period."),
            col("billing_currency", "VARCHAR", "Currency of the money columns."),
            col(
                "category",
                "VARCHAR",
                "Category the rule gave (training, inference, storage, egress, other, shared).",
            ),
            col("rule_id", "VARCHAR", "Attribution rule that decided the cost (unmatched when none did)."),
            col(
                "service",
                "VARCHAR",
                "Service of the lines: FOCUS ServiceName or AWS x_ServiceCode, CUR product code; (none) when the line has none (tax).",
            ),
            col("attribution_rows", "BIGINT", "Rows of cost_attribution summed into this row."),
            col("effective_cost", "DOUBLE", "Σ effective_cost of those rows, in the billing currency."),
            col(
                "share",
                "DOUBLE",
                "effective_cost / the period's effective cost in this currency (NULL when that is 0).",
            ),
            col(
                "rule_share",
                "DOUBLE",
                "The rule's effective cost over all services / the period's effective cost (NULL when 0).",
            ),
        ),
        checks=(
            Check(
                "unmatched_share",
                blocking=False,
                description=(
                    "At most 5% of each billing period's effective cost is left to rule `unmatched` (category other) "
                    "(sql/checks/rule_coverage__unmatched_share.sql). A warning. When it warns, add rules for the "
                    "services listed, largest first (docs/attribution.md), and rerun the period."
                ),
            ),
        ),
    ),
    Table(
        "line_items_history",
        view=True,
        description=(
            "Superseded versions of restated billing periods: when a new delivery replaced a published month,"
            " the lines reported until then, kept under lake/_history/line_items (the newest "
            "MLCOST_HISTORY_VERSIONS versions per period, default 5). One row per line per kept version; the "
            "version current at time T is the one with the smallest superseded after T, else line_items."
        ),
        reads=("line_items",),
        # The same columns as line_items (the superseded versions' lines), and when each version was superseded.
        columns=(
            *_LINE_ITEMS_COLUMNS,
            col(
                "superseded",
                "TIMESTAMP",
                "When (UTC) the next delivery replaced this version; with billing_period it names the version.",
            ),
        ),
    ),
    Table(
        "commitment_utilization",
        group="attribution",
        partitioned_by="billing_period",
        description=(
            "Per billing period: each Reserved Instance and Savings Plan's used and unused commitment ($ and "
            "share), and the eligible compute it covered (EC2 and SageMaker instance hours without Spot, "
            "their GPU hours, their on-demand equivalent cost). Definitions after AWS's "
            "(docs/commitments.md). One row per billing_period × billing_currency × commitment_id."
        ),
        reads=("line_items",),
        inputs=("gpu_instance_types",),
        columns=(
            col("billing_period", "DATE", "First day of the billing period."),
            col("billing_currency", "VARCHAR", "Currency of the money columns."),
            col("commitment_id", "VARCHAR", "RI / Savings Plan ARN (FOCUS CommitmentDiscountId)."),
            col(
                "commitment_type",
                "VARCHAR",
                "Reserved Instance or Savings Plan (FOCUS CommitmentDiscountType).",
            ),
            col("provider", "VARCHAR", "Cloud provider."),
            col(
                "total_commitment_cost",
                "DOUBLE",
                "The commitment's amortized cost for the period: as its fee lines state it (CUR), else used + unused (FOCUS), in the billing currency.",
            ),
            col(
                "used_commitment_cost",
                "DOUBLE",
                "Effective cost of the usage it covered, in the billing currency.",
            ),
            col(
                "unused_commitment_cost",
                "DOUBLE",
                "The part nothing used (RIFee / SavingsPlanRecurringFee effective cost; FOCUS CommitmentDiscountStatus Unused), in the billing currency.",
            ),
            col(
                "utilization",
                "DOUBLE",
                "used_commitment_cost / total_commitment_cost (AWS Savings Plans UtilizationPercentage); NULL when the total is 0.",
            ),
            col(
                "unused_share",
                "DOUBLE",
                "unused_commitment_cost / total_commitment_cost; NULL when the total is 0.",
            ),
            col(
                "purchased_hours",
                "DOUBLE",
                "RIs: reservation hours bought for the period (RIFee usage); NULL for Savings Plans.",
            ),
            col(
                "unused_hours",
                "DOUBLE",
                "RIs: reservation hours not used (reservation/UnusedQuantity); NULL for Savings Plans.",
            ),
            col(
                "hours_utilization",
                "DOUBLE",
                "RIs: (purchased − unused) / purchased hours (AWS RI UtilizationPercentage); NULL when no hours were bought.",
            ),
            col(
                "unexplained_cost",
                "DOUBLE",
                "total − used − unused (CUR; 0 when the bill's lines agree; NULL for FOCUS).",
            ),
            col("covered_hours", "DOUBLE", "Eligible instance hours this commitment covered."),
            col(
                "covered_gpu_hours",
                "DOUBLE",
                "GPU hours (instance hours × GPUs per instance) this commitment covered.",
            ),
            col(
                "covered_on_demand_cost",
                "DOUBLE",
                "On-demand equivalent (list cost) of the usage it covered, in the billing currency.",
            ),
            col(
                "eligible_hours",
                "DOUBLE",
                "All eligible instance hours of the period (covered or not); the same on each row.",
            ),
            col(
                "eligible_gpu_hours", "DOUBLE", "All eligible GPU hours of the period; the same on each row."
            ),
            col(
                "eligible_on_demand_cost",
                "DOUBLE",
                "On-demand equivalent of all eligible usage of the period, in the billing currency.",
            ),
            col(
                "hours_coverage",
                "DOUBLE",
                "covered_hours / eligible_hours (AWS RI CoverageHoursPercentage, for this commitment; sum the rows of a period for all commitments); NULL when nothing is eligible.",
            ),
            col(
                "gpu_hours_coverage",
                "DOUBLE",
                "covered_gpu_hours / eligible_gpu_hours; NULL when the period has no GPU hours.",
            ),
            col(
                "cost_coverage",
                "DOUBLE",
                "covered_on_demand_cost / eligible_on_demand_cost (AWS Savings Plans CoveragePercentage); NULL when nothing is eligible.",
            ),
        ),
        checks=(
            Check(
                "commitment_used_plus_unused",
                blocking=False,
                description=(
                    "Per billing period and commitment, used plus unused commitment equals its stated cost to the "
                    "cent (sql/checks/commitment_utilization__commitment_used_plus_unused.sql). A warning. When it "
                    "warns, the export lacks covered usage lines or unused-commitment lines for the commitment named:"
                    " check that the delivery is whole and that its commitment columns (reservation / savingsPlan "
                    "ARNs, CommitmentDiscountId) are filled."
                ),
            ),
        ),
    ),
    Table(
        "tag_coverage",
        group="attribution",
        partitioned_by="billing_period",
        description=(
            "Per billing period: for each tag key the rules file reads (workload, owners, rules), the share "
            "of effective cost whose lines carry it (a non-empty value), by service and account, so owners "
            "see which teams tag. One row per billing_period × billing_currency × tag_key × service × "
            "account."
        ),
        reads=("line_items",),
        columns=(
            col("billing_period", "DATE", "First day of the billing period."),
            col("billing_currency", "VARCHAR", "Currency of the money columns."),
            col(
                "tag_key",
                "VARCHAR",
                "Tag key, normalized as line_items.tags keys are (user:team → user_team).",
            ),
            col(
                "used_by",
                "VARCHAR",
                "What in the rules file reads the key: workload, owners.<dimension>, rule <id>.",
            ),
            col(
                "service",
                "VARCHAR",
                "Service of the lines (FOCUS ServiceName or x_ServiceCode, CUR product code); (none) for lines without one.",
            ),
            col("account", "VARCHAR", "Usage (sub) account, else the billing account."),
            col("lines", "BIGINT", "Lines of line_items in the group."),
            col("tagged_lines", "BIGINT", "Of those, lines carrying the tag."),
            col("effective_cost", "DOUBLE", "Σ effective_cost of the lines, in the billing currency."),
            col(
                "tagged_effective_cost",
                "DOUBLE",
                "Σ effective_cost of the lines carrying the tag, in the billing currency.",
            ),
            col(
                "tagged_share",
                "DOUBLE",
                "tagged_effective_cost / effective_cost; NULL when effective_cost is 0.",
            ),
        ),
    ),
    Table(
        "gpu_cost_by_pod_daily",
        group="gpu",
        partitioned_by="usage_date",
        description=(
            "A Kubernetes GPU node's GPU cost per UTC day split by the GPU time each pod held (DCGM pod "
            "labels, MLCOST_POD_WORKLOADS); time no pod held and billed time without samples are rows of "
            "their own (pod NULL, workload __idle__ / __unobserved__), so a node's rows add up to its "
            "gpu_cost. Nodes whose logs name no pod that day have no row."
        ),
        reads=(
            "cost_attribution",
            "gpu_samples",
        ),
        inputs=(
            "gpu_billed_intervals",
            "gpu_device_seconds",
            "pod_workload_map",
        ),
        columns=(
            col("usage_date", "DATE", "UTC day."),
            col("resource_id", "VARCHAR", "Billed GPU resource (the node's instance id)."),
            col(
                "namespace",
                "VARCHAR",
                "Kubernetes namespace of the pod; NULL on the __idle__ and __unobserved__ rows.",
            ),
            col("pod", "VARCHAR", "Kubernetes pod; NULL on the __idle__ and __unobserved__ rows."),
            col(
                "workload",
                "VARCHAR",
                "Workload of the pod: the first matching line of MLCOST_POD_WORKLOADS, else its namespace (else its pod name); __idle__ or __unobserved__ on the rows no pod holds.",
            ),
            col(
                "gpu_hours",
                "DOUBLE",
                "GPU hours the pod held: observed time while it held a GPU × its GPU fraction × MIG share; on __idle__ the observed GPU hours no pod held, on __unobserved__ the billed GPU hours without samples.",
            ),
            col(
                "active_gpu_hours",
                "DOUBLE",
                "gpu_hours × the GPU's activity over them (DCGM measures the GPU, not the pod); NULL on __unobserved__.",
            ),
            col(
                "eta",
                "DOUBLE",
                "active_gpu_hours / gpu_hours; NULL where gpu_hours is 0 or nothing was observed.",
            ),
            col(
                "cost_share",
                "DOUBLE",
                "gpu_hours / the node's GPU hours (billed, or observed where the logs claim more).",
            ),
            col(
                "gpu_cost",
                "DOUBLE",
                "The node's gpu_cost × cost_share, in the billing currency; a node's rows add up to node_gpu_cost.",
            ),
            col(
                "idle_cost",
                "DOUBLE",
                "gpu_cost × (1 − eta), in the billing currency; NULL where eta is NULL.",
            ),
            col(
                "node_gpu_cost",
                "DOUBLE",
                "Effective cost of the node's GPU compute lines that day (gpu_efficiency_daily.gpu_cost), in the billing currency.",
            ),
            col(
                "node_allocated_gpu_hours",
                "DOUBLE",
                "The node's billed GPU hours that day (gpu_efficiency_daily.allocated_gpu_hours).",
            ),
            col(
                "workload_rule",
                "VARCHAR",
                "What named the workload: line N of MLCOST_POD_WORKLOADS, or the default rule (namespace, else pod); NULL on the __idle__ and __unobserved__ rows.",
            ),
        ),
        checks=(
            Check(
                "pod_split_adds_up_to_node_cost",
                blocking=True,
                description=(
                    "Per node and day, the pods' GPU cost plus the __idle__ and __unobserved__ rows equals the node's"
                    " GPU cost to the cent (sql/checks/gpu_cost_by_pod_daily__pod_split_adds_up_to_node_cost.sql). "
                    "Blocking. When it fails, a pod's GPU fraction or a sample's holder count split a GPU second more"
                    " or less than once: the failing nodes and days are named; check MLCOST_POD_WORKLOADS's "
                    "gpu_fraction column and the DCGM pod labels."
                ),
            ),
            Check(
                "pods_found_for_pod_workloads",
                sql=False,
                blocking=False,
                description=(
                    "When MLCOST_POD_WORKLOADS is set, some GPU sample names a Kubernetes pod. A warning. When it "
                    "warns, the DCGM exporter runs without pod labels (enable its Kubernetes mode, or keep "
                    "Prometheus's exported_pod labels in the export): without them no GPU cost can be split by pod."
                ),
            ),
        ),
    ),
    Table(
        "cost_anomalies",
        group="decisions",
        partitioned_by="usage_date",
        description=(
            "Days whose cost (per workload × category), cost per prediction (per workload) or η (per GPU "
            "resource) departs from the same series' trailing 28 days: median baseline, MAD spread, robust z "
            "≥ 3.5 and a $ impact of at least 50 in the billing currency (pipelines/decisions/anomalies.py). "
            "One row per flagged usage_date × metric × scope; partitioned by usage_date."
        ),
        reads=(
            "cost_per_prediction_daily",
            "cost_by_category_daily",
            "cost_attribution",
            "gpu_efficiency_daily",
        ),
        columns=(
            col("usage_date", "DATE", "UTC day flagged."),
            col("metric", "VARCHAR", "effective_cost, cost_per_prediction or eta."),
            col("scope_kind", "VARCHAR", "What scope names: workload × category, workload, or resource."),
            col(
                "scope", "VARCHAR", "The series: 'workload / category', the workload, or the GPU resource id."
            ),
            col("workload", "VARCHAR", "Workload of the series."),
            col("category", "VARCHAR", "Category of the series (inference for cost per prediction)."),
            col("resource_id", "VARCHAR", "GPU resource for eta rows; NULL otherwise."),
            col(
                "billing_currency",
                "VARCHAR",
                "Currency of the money figures; NULL for eta rows (gpu_efficiency_daily has none: the bill's currency).",
            ),
            col("value", "DOUBLE", "The day's value (cost, cost per prediction, or η)."),
            col("baseline", "DOUBLE", "Median of the series over the trailing days (the day excluded)."),
            col("mad", "DOUBLE", "Median absolute deviation of the trailing days from the baseline."),
            col("history_days", "BIGINT", "Trailing days with a value (at least 7 to be judged)."),
            col("deviation", "DOUBLE", "value − baseline, in the metric's unit."),
            col(
                "deviation_pct",
                "DOUBLE",
                "deviation / |baseline| (1.0 = +100 %); NULL when the baseline is 0.",
            ),
            col(
                "dollar_impact",
                "DOUBLE",
                "What the change cost that day: the cost deviation; (value − baseline) × predictions; or (baseline − value) × GPU cost for eta, in the billing currency.",
            ),
            col(
                "robust_z",
                "DOUBLE",
                "deviation / max(1.4826 × MAD, 5 % of |baseline|); NULL when that scale is 0.",
            ),
            col("direction", "VARCHAR", "up or down."),
            col(
                "top_contributors",
                "VARCHAR",
                "Cost rows: the three rules (service) whose day cost moved most against their trailing mean; cost per prediction: predictions and inference cost against their baselines; eta: instance type, GPU cost and active GPU hours against their baselines.",
            ),
        ),
        checks=(
            Check(
                "anomalous_days",
                blocking=False,
                description=(
                    "No day of the days judged departs from its own series' trailing 28 days (robust z ≥ 3.5 and an "
                    "impact of at least 50 in the billing currency; docs/decisions.md). A warning. When it warns, "
                    "read each anomaly's top contributors (rule ids, services, predictions, GPU hours) in "
                    "cost_anomalies: an idle GPU left running, a traffic drop or a transfer spike; a planned change "
                    "needs no action."
                ),
            ),
        ),
    ),
    Table(
        "month_end_forecast",
        group="decisions",
        partitioned_by="billing_period",
        description=(
            "Per billing period, category, workload and currency: month-to-date cost and where the month will"
            " end: MTD + mean of the last 7 days × days remaining, with a 95 % interval from the daily spread"
            " (docs/decisions.md has the method and its back-test). Partitioned by billing_period."
        ),
        reads=("cost_by_category_daily",),
        columns=(
            col("billing_period", "DATE", "First day of the month forecast."),
            col("as_of", "DATE", "Last day counted in the month to date (the month's last day with cost)."),
            col("category", "VARCHAR", "Category."),
            col("workload", "VARCHAR", "Workload."),
            col("billing_currency", "VARCHAR", "Currency of the money columns."),
            col("days_in_month", "BIGINT", "Days in the month."),
            col("days_elapsed", "BIGINT", "Days of the month up to as_of."),
            col("days_remaining", "BIGINT", "days_in_month − days_elapsed."),
            col(
                "trailing_days", "BIGINT", "Days the daily rate is the mean of (7, fewer in the first week)."
            ),
            col(
                "mtd_cost",
                "DOUBLE",
                "Effective cost from the first of the month to as_of, in the billing currency.",
            ),
            col(
                "daily_rate",
                "DOUBLE",
                "Mean daily cost of the trailing days (a day without cost counts 0), in the billing currency.",
            ),
            col(
                "daily_stddev", "DOUBLE", "Sample standard deviation of those days' cost; NULL with one day."
            ),
            col(
                "forecast_cost", "DOUBLE", "mtd_cost + daily_rate × days_remaining, in the billing currency."
            ),
            col(
                "forecast_low",
                "DOUBLE",
                "forecast_cost − 1.96 × daily_stddev × √(R + R²/n) (R days remaining, n trailing days); NULL when daily_stddev is.",
            ),
            col("forecast_high", "DOUBLE", "forecast_cost + the same half-width."),
        ),
    ),
    Table(
        "budget_status",
        group="decisions",
        partitioned_by="billing_period",
        description=(
            "Per billing period and budget of the MLCOST_BUDGETS file: cost so far and forecast month end "
            "against the monthly amount, and the highest threshold each reached. Partitioned by "
            "billing_period (empty when no budgets file is set)."
        ),
        reads=(
            "month_end_forecast",
            "cost_by_category_daily",
        ),
        inputs=("budgets",),
        columns=(
            col("billing_period", "DATE", "First day of the month."),
            col("budget", "VARCHAR", "Budget name from the file."),
            col(
                "scope",
                "VARCHAR",
                "category=…, workload=… as the budget names them; whole bill when it names neither.",
            ),
            col("category", "VARCHAR", "Category the budget covers; NULL for all."),
            col("workload", "VARCHAR", "Workload (or model) the budget covers; NULL for all."),
            col("billing_currency", "VARCHAR", "Currency of the amount and the costs."),
            col("amount", "DOUBLE", "Monthly budget, in the billing currency."),
            col("thresholds", "DOUBLE[]", "Shares of amount that warn (0.8 = 80 %)."),
            col("as_of", "DATE", "Last day of the month to date the forecast counted."),
            col(
                "actual_cost",
                "DOUBLE",
                "Effective cost of the scope in the month so far, in the billing currency.",
            ),
            col(
                "forecast_cost",
                "DOUBLE",
                "Σ month_end_forecast.forecast_cost of the scope (actual_cost when none), in the billing currency.",
            ),
            col("actual_share", "DOUBLE", "actual_cost / amount."),
            col("forecast_share", "DOUBLE", "forecast_cost / amount."),
            col("crossed_actual", "DOUBLE", "Highest threshold actual_cost reached; NULL if none."),
            col("crossed_forecast", "DOUBLE", "Highest threshold forecast_cost reached; NULL if none."),
            col("status", "VARCHAR", "within, forecast crosses N %, or actual crossed N %."),
        ),
        checks=(
            Check(
                "budget_thresholds_crossed",
                blocking=False,
                description=(
                    "No budget of MLCOST_BUDGETS has its actual or forecast month-end cost past one of its thresholds"
                    " (docs/decisions.md). A warning. When it warns, the scope, the threshold and the figures are "
                    "named: look at cost_anomalies and the scope's workloads, or raise the budget if the spend is "
                    "planned."
                ),
            ),
        ),
    ),
    Table(
        "recommendations",
        group="decisions",
        partitioned_by="billing_period",
        description=(
            "Per billing period: actions with the monthly saving each would bring, one row per kind and "
            "resource, workload or path: idle GPUs, multi-GPU hosts using few GPUs, inference batching within"
            " a latency budget, S3 lifecycle, egress paths, a Savings Plan at the on-demand GPU floor, unused"
            " commitments (docs/recommendations.md has each formula). Partitioned by billing_period."
        ),
        reads=(
            "gpu_efficiency_daily",
            "gpu_efficiency_by_device_daily",
            "predictions_daily",
            "cost_attribution",
            "commitment_utilization",
        ),
        inputs=("gpu_instance_types", "gpu_instance_prices", "batching_curve"),
        columns=(
            col("billing_period", "DATE", "First day of the month."),
            col(
                "as_of",
                "DATE",
                (
                    "Last day of the window (GPU kinds: the period's last day in gpu_efficiency_daily; others: the "
                    "period's last day with cost)."
                ),
            ),
            col(
                "kind",
                "VARCHAR",
                "idle_gpu, multi_gpu, batching, storage_lifecycle, egress_path, commitment, unused_commitment.",
            ),
            col(
                "resource_id",
                "VARCHAR",
                (
                    "Resource (instance id, SageMaker ARN, bucket, commitment ARN; batching: the workload's inference"
                    " resources); NULL for commitment."
                ),
            ),
            col("workload", "VARCHAR", "Workload(s) of the resource in the window."),
            col("category", "VARCHAR", "Category(ies) of the resource's cost in the window."),
            col("instance_type", "VARCHAR", "Instance type (GPU kinds)."),
            col("window_days", "INTEGER", "Days of the GPU window (7); NULL for the bill kinds."),
            col("days_billed", "BIGINT", "Days of the window the resource had cost."),
            col("eta", "DOUBLE", "Σ active / Σ observed GPU hours over the window (GPU kinds)."),
            col(
                "coverage",
                "DOUBLE",
                "Σ observed / Σ allocated GPU hours over the window, clipped at 1 (GPU kinds).",
            ),
            col("gpu_cost", "DOUBLE", "GPU cost over the window, in the billing currency (GPU kinds)."),
            col(
                "idle_cost",
                "DOUBLE",
                "Σ idle_cost over the window (days with an η), in the billing currency (GPU kinds).",
            ),
            col(
                "monthly_cost",
                "DOUBLE",
                "What the resource, workload or path costs a month now, in the billing currency.",
            ),
            col(
                "monthly_saving",
                "DOUBLE",
                "The saving a month of the action, in the billing currency; computed_as has the formula.",
            ),
            col(
                "action",
                "VARCHAR",
                "What to do, with the figures it needs (the batch size, the smaller type, the commitment).",
            ),
            col(
                "confidence",
                "VARCHAR",
                "high, medium or low (docs/recommendations.md says why for each kind).",
            ),
            col("evidence", "VARCHAR", "The measured figures the recommendation rests on, in words."),
            col("computed_as", "VARCHAR", "The saving's formula with its figures."),
        ),
    ),
)

TABLES: dict[str, Table] = {t.name: t for t in _DECLARED}
