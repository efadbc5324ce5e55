"""What every analyst-facing table and column means. Stored in the catalog (COMMENT ON) and rendered to
docs/tables.md by `mlcost docs tables`; a test fails when a published column has no description here."""

from __future__ import annotations

from dagster import TableColumn, TableSchema

_MONEY = "in the billing currency"

TABLES: dict[str, dict] = {
    "line_items": {
        "description": "Every line of the current billing delivery of each billing period, one schema for CUR 2.0, "
        "legacy CUR and FOCUS. One row per source line; partitioned by billing_period.",
        "columns": {
            "billing_period": "First day of the billing period (month) the line is billed in.",
            "charge_period_start": "Start of the period the charge covers (UTC).",
            "charge_period_end": "End (exclusive) of the period the charge covers (UTC).",
            "usage_date": "UTC date of charge_period_start.",
            "provider": "Cloud provider (AWS for CUR; ProviderName for FOCUS).",
            "billing_account_id": "Payer / billing account.",
            "sub_account_id": "Usage (linked) account.",
            "service_code": "Product code (AmazonEC2, AmazonSageMaker, ...); FOCUS x_ServiceCode or ServiceName.",
            "usage_type": "AWS usage type (BoxUsage:p4d.24xlarge, USE1-Train:ml.p4d.24xlarge, ...).",
            "operation": "AWS operation (RunInstances, ...).",
            "resource_id": "Resource the line is for (instance id, ARN, bucket); NULL when the bill has none.",
            "region": "Region code (us-east-1).",
            "availability_zone": "Availability zone, when the bill has it.",
            "instance_type": "Instance type for compute lines (p4d.24xlarge, ml.g5.2xlarge).",
            "product_family": "Product family (Compute Instance, Data Transfer, Storage, ...).",
            "line_item_type": "CUR line item type (Usage, SavingsPlanCoveredUsage, RIFee, Tax, ...); "
            "FOCUS x_LineItemType when present.",
            "charge_category": "FOCUS charge category: Usage, Purchase, Tax, Credit, Adjustment.",
            "charge_class": "FOCUS charge class (Correction or NULL).",
            "commitment_status": "FOCUS CommitmentDiscountStatus (Used / Unused) where the export has it.",
            "commitment_id": "Reserved Instance or Savings Plan ARN the line relates to.",
            "charge_description": "The line's description as billed.",
            "usage_quantity": "Usage amount in pricing_unit.",
            "pricing_unit": "Unit of usage_quantity (Hrs, GB-Mo, ...).",
            "billed_cost": f"What the invoice shows for the line (unblended), {_MONEY}.",
            "effective_cost": f"Amortized cost: commitments spread onto the usage they cover, {_MONEY}.",
            "list_cost": f"Public on-demand equivalent, {_MONEY}.",
            "billing_currency": "Currency of the money columns; never summed across currencies.",
            "invoice_id": "Invoice id; empty until the month is invoiced.",
            "product_gpu_count": "GPUs per instance as the bill states it (product gpu), when present.",
            "tags": "Resource tags as a MAP; keys normalized like CUR 2.0 (user:workload-type → user_workload_type).",
            "source_file": "File the line was read from.",
            "source_row": "Row of the line in its Parquet source file (1-based); NULL for CSV sources.",
            "delivery_id": "Delivery (CUR 2.0 executionId, legacy assemblyId, or file hash) the line came from.",
            "source_format": "Export flavour: cur2, cur1 or focus.",
            "service_category": "FOCUS ServiceCategory (Compute, Storage, Networking, ...); NULL for CUR.",
            "service_subcategory": "FOCUS ServiceSubcategory (Object Storage, Virtual Machines, ...; FOCUS 1.1+); "
            "NULL for CUR.",
            "service_name": "FOCUS ServiceName (Virtual Machines, Cloud Storage, ...); for CUR the product's "
            "service code (product servicecode, else the line's product code).",
            "sku_meter": "FOCUS SkuMeter (Data Transfer, Compute, ...; FOCUS 1.1+); NULL for CUR.",
            "sku_price_details": "FOCUS SkuPriceDetails as a MAP of property → text value (InstanceType, GpuCount, "
            "x_TransferType, ...); NULL for CUR and when the export's value is not a JSON object.",
            "pricing_category": "FOCUS PricingCategory (Standard, Committed, Dynamic, Other); NULL for CUR.",
            "resource_type": "FOCUS ResourceType (Virtual Machine, Disk, Storage Account, ...); NULL for CUR.",
            "commitment_type": "Reserved Instance or Savings Plan (CUR: which ARN the line carries; FOCUS "
            "CommitmentDiscountType).",
            "commitment_cost": "Fee lines of a CUR commitment: what it costs for the line's period as the bill "
            f"states it (RIFee: recurring + amortized upfront fee; SavingsPlanRecurringFee: TotalCommitmentToDate), "
            f"{_MONEY}; NULL otherwise and for FOCUS.",
            "commitment_unused_quantity": "RIFee lines: the reservation's unused hours of the period "
            "(reservation/UnusedQuantity); NULL otherwise.",
        },
    },
    "cost_attribution": {
        "description": "Every dollar of line_items per line and UTC day, with category, workload and the rule that "
        "decided them; shared cost spread by a strategy appears as extra rows with rule_id spread:<rule>. "
        "Partitioned by usage_date.",
        "columns": {
            "usage_date": "UTC day the amount is attributed to.",
            "billing_period": "Billing period of the source line.",
            "category": "training, inference, storage, egress, other or shared.",
            "workload": "Model / team / project; unattributed when no tag, mapping or name says.",
            **{
                dimension: f"Owner dimension {dimension}: the first of its tag keys (rules file `owners`) the line "
                "carries; for spread rows the receiver's; NULL when none."
                for dimension in ("model", "team", "project", "environment")
            },
            "rule_id": "Attribution rule that matched (spread:<rule> for shared cost allocated by a strategy).",
            "allocation": "direct (the line's own cost) or spread (shared cost allocated to this workload).",
            "shared_kind": "For shared rules: tax, support, credit, refund, commitment, other.",
            "billed_cost": f"Billed cost of the line's share for this day, {_MONEY}.",
            "effective_cost": f"Effective (amortized) cost of the line's share for this day, {_MONEY}.",
            "list_cost": f"On-demand equivalent of the share, {_MONEY}.",
            "usage_quantity": "Usage of the share (instance hours for compute lines).",
            "billing_currency": "Currency of the money columns.",
            "provider": "Cloud provider.",
            "billing_account_id": "Payer / billing account.",
            "sub_account_id": "Usage account.",
            "service_code": "Product code of the source line.",
            "usage_type": "Usage type of the source line.",
            "operation": "Operation of the source line.",
            "resource_id": "Resource of the source line.",
            "region": "Region of the source line.",
            "instance_type": "Instance type of the source line.",
            "product_gpu_count": "GPUs per instance from the bill, when present.",
            "line_item_type": "Line item type of the source line.",
            "charge_category": "FOCUS charge category of the source line.",
            "pricing_unit": "Unit of usage_quantity.",
            "charge_period_start": "Charge period start of the source line.",
            "charge_period_end": "Charge period end of the source line.",
            "delivery_id": "Delivery of the source line.",
        },
    },
    "cost_by_category_daily": {
        "description": "What each category and workload cost each UTC day, after sharing. "
        "One row per usage_date × category × workload × owner dimensions (model, team, project, environment) × "
        "currency: sum over the owner columns for a day's category × workload, or group by any of them.",
        "columns": {
            "usage_date": "UTC day.",
            "category": "training, inference, storage, egress, other or shared.",
            "workload": "Model / team / project, or unattributed.",
            **{
                dimension: f"Owner dimension {dimension} of the rows summed (cost_attribution.{dimension}); NULL "
                "when they carry none of its tags."
                for dimension in ("model", "team", "project", "environment")
            },
            "billing_currency": "Currency of the money columns.",
            "billed_cost": f"Billed cost, {_MONEY}.",
            "effective_cost": f"Effective (amortized) cost, {_MONEY}.",
            "direct_effective_cost": f"Part of effective_cost from the workload's own lines, {_MONEY}.",
            "spread_effective_cost": f"Part of effective_cost allocated from shared cost, {_MONEY}.",
            "list_cost": f"On-demand equivalent, {_MONEY}.",
            "attribution_rows": "Rows of cost_attribution summed into this row.",
        },
    },
    "reconciliation": {
        "description": "Per billing period and currency: the bill's totals against what was attributed. "
        "difference must be 0.00 (a blocking check).",
        "columns": {
            "billing_period": "First day of the billing period.",
            "billing_currency": "Currency.",
            "delivery_id": "Delivery the period's lines came from.",
            "source_lines": "Lines in line_items for the period.",
            "source_billed_cost": f"Σ billed_cost of line_items, {_MONEY}.",
            "source_effective_cost": f"Σ effective_cost of line_items, {_MONEY}.",
            "attributed_billed_cost": f"Σ billed_cost of cost_attribution for the period, {_MONEY}.",
            "attributed_effective_cost": f"Σ effective_cost of cost_attribution for the period, {_MONEY}.",
            "difference": "attributed_effective_cost − source_effective_cost (0 when every dollar is attributed).",
            "billed_difference": "attributed_billed_cost − source_billed_cost.",
            "unattributed_effective_cost": f"Usage cost (not shared) with workload unattributed, {_MONEY}.",
            "attributed_days": "Days of the period present in cost_attribution.",
            "days_in_period": "Days in the billing period.",
            "generation": "The generation the row was computed from: SHA-256 of the sorted '<table>/<partition> "
            "<file sha256>' lines of the period's line_items and cost_attribution files. The row is published "
            "only together with those very files (docs/architecture.md, Publishing).",
        },
    },
}

TABLES["gpu_samples"] = {
    "description": "GPU utilization samples from every readable log (DCGM exporter, nvidia-smi, CloudWatch agent, "
    "SageMaker), one metric per row as a 0–1 ratio. A sample at ts stands for [ts − interval_seconds, ts). "
    "Partitioned by usage_date (the UTC date its interval starts).",
    "columns": {
        "usage_date": "UTC date the sample's interval starts.",
        "ts": "Time the sample was taken (UTC).",
        "resource_id": "Billed resource: EC2 instance id, or SageMaker endpoint / training job name.",
        "host": "Host name found in the log, if any.",
        "gpu_index": "GPU index on the host, when known.",
        "gpu_uuid": "GPU UUID, when known.",
        "gpu_model": "GPU model name, when known.",
        "metric": "gr_engine_active, gpu_util or sm_active.",
        "value": "Utilization over the interval, 0–1.",
        "interval_seconds": "Seconds the sample stands for: the gap to the previous sample, or the series' typical "
        "spacing across a gap longer than the limit in docs/gpu.md (holes stay unobserved).",
        "source_file": "Log file the sample came from.",
        "source_format": "dcgm_prometheus, dcgm_csv, nvidia_smi, cloudwatch_json/csv, sagemaker_json/csv.",
        "mig_instance": "MIG GPU instance id (DCGM label GPU_I_ID); NULL for a whole GPU.",
        "mig_profile": "MIG profile of the instance (GPU_I_PROFILE, e.g. 3g.20gb); NULL for a whole GPU.",
        "gpu_share": "Share of the GPU the device is: a MIG profile's slices out of 7 (3g.20gb = 3/7), else 1.",
        "namespace": "Kubernetes namespace of the pod holding the GPU (DCGM label exported_namespace, namespace or "
        "pod_namespace); NULL when no pod held it or the log has no such label.",
        "pod": "Kubernetes pod holding the GPU (DCGM label exported_pod, pod or pod_name); NULL when none.",
        "container": "Container of that pod (exported_container, container or container_name); NULL when none.",
        "holders": "Copies of this sample, one per pod holding the GPU at once (the exporter's virtual GPUs under "
        "time-slicing); 1 otherwise. GPU time sums over the copies divided by holders.",
    },
}
TABLES["gpu_efficiency_daily"] = {
    "description": "GPU efficiency per GPU resource and UTC day: allocated GPU hours from the bill, active GPU hours "
    "from the logs, η, coverage and the cost of idle GPU time.",
    "columns": {
        "usage_date": "UTC day.",
        "resource_id": "Billed GPU resource (instance id or SageMaker ARN).",
        "workload": "Workload of the resource's compute cost that day.",
        "category": "Category of the resource's compute cost (training, inference, other).",
        "instance_type": "Instance type.",
        "gpu_count": "GPUs per instance (bill's product gpu, else pipelines/reference/gpu_instance_types.csv).",
        "allocated_gpu_hours": "Billed instance hours × GPUs.",
        "observed_gpu_hours": "GPU hours of billed time that had samples, as the logs give them (not clipped: "
        "above allocated when the logs claim more GPUs than the bill).",
        "active_gpu_hours": "Σ utilization × time over the observed GPU hours (not clipped).",
        "eta": "η per eta_basis (default observed: active / observed); NULL where coverage is 0.",
        "coverage": "observed / allocated GPU hours, clipped at 1 (the excess is observed_beyond_allocated_gpu_hours).",
        "eta_observed": "active / observed GPU hours (unobserved time not counted as idle); NULL where nothing was "
        "observed.",
        "eta_allocated": "active / allocated GPU hours (unobserved time counted as idle: a lower bound); NULL where "
        "nothing was observed.",
        "eta_sm": "SM-weighted η from DCGM_FI_PROF_SM_ACTIVE; NULL where the logs have no SM-activity metric.",
        "gpu_cost": f"Effective cost of the resource's GPU compute lines that day, {_MONEY}.",
        "idle_cost": f"gpu_cost × (1 − eta), {_MONEY}; NULL where eta is NULL.",
        "unobserved_cost": f"gpu_cost × (1 − coverage): spend with no utilization data, {_MONEY}.",
        "eta_basis": "observed or allocated (MLCOST_ETA_BASIS).",
        "metric_source": "Log format and metric η came from (none when unobserved).",
        "gpus_in_log": "Distinct GPUs (UUID, else host and index) in the logs used for η; NULL when the logs do not "
        "tell GPUs apart.",
        "gpus_billed": "GPUs billed at once: instances in the busiest billed interval × GPUs per instance.",
        "observed_beyond_allocated_gpu_hours": "Observed GPU hours beyond allocated (0 when within): GPU time the "
        "logs claim that the bill does not have.",
        "eta_power": "Time-weighted power draw / power limit (a second activity signal, not a time fraction: an idle "
        "GPU draws some power); NULL where the logs have no power draw with a known limit. See docs/gpu.md.",
    },
}
TABLES["gpu_efficiency_by_device_daily"] = {
    "description": "GPU efficiency per device (GPU, or MIG instance of a GPU) of each GPU resource and UTC day: which "
    "GPUs of a host did work and which idled. A resource's devices add up to its gpu_efficiency_daily row.",
    "columns": {
        "usage_date": "UTC day.",
        "resource_id": "Billed GPU resource (instance id or SageMaker ARN).",
        "device": "Readable device name: host, gpu <index> (else the UUID, else all), mig <id> (<profile>).",
        "host": "Host name found in the log, if any.",
        "gpu_index": "GPU index on the host, when known.",
        "gpu_uuid": "GPU UUID, when known.",
        "mig_instance": "MIG GPU instance id (GPU_I_ID); NULL for a whole GPU.",
        "mig_profile": "MIG profile (GPU_I_PROFILE, e.g. 3g.20gb); NULL for a whole GPU.",
        "gpu_share": "Share of the GPU the device is: a MIG profile's slices out of 7, else 1.",
        "observed_gpu_hours": "GPU hours of billed time with samples, × gpu_share.",
        "active_gpu_hours": "Σ utilization × time over the observed GPU hours, × gpu_share.",
        "eta": "active / observed GPU hours; NULL where nothing was observed.",
        "metric_source": "Log format and metric η came from (the resource's, as in gpu_efficiency_daily).",
    },
}
TABLES["predictions_daily"] = {
    "description": "Successful predictions per UTC day, workload and endpoint, from SageMaker invocation metrics, "
    "request logs or pre-aggregated counts.",
    "columns": {
        "usage_date": "UTC day.",
        "workload": "Workload: mapping file, else the endpoint's tags on the bill, else the endpoint name.",
        "endpoint": "SageMaker endpoint name or the model / endpoint field of the logs.",
        "predictions": "Successful predictions ((invocations − failed) × predictions per invocation).",
        "invocations": "Requests or invocations.",
        "failed_requests": "Requests that failed (4XX / 5XX / error status).",
        "source": "Formats the counts came from.",
    },
}
TABLES["cost_per_prediction_daily"] = {
    "description": "What a prediction of each workload cost each UTC day, on a direct basis (inference compute) and "
    "a loaded basis (plus storage and egress, and shared cost where a sharing strategy spreads it).",
    "columns": {
        "usage_date": "UTC day.",
        "workload": "Model / workload.",
        "predictions": "Successful predictions that day (0 when none were counted).",
        "failed_requests": "Failed requests that day.",
        "endpoints": "Endpoints the predictions came from.",
        "inference_cost": f"Direct inference compute cost of the workload, {_MONEY}.",
        "loaded_cost": "Inference + storage + egress cost of the workload, plus the shared cost a sharing strategy "
        f"spreads onto those categories (none with the shipped rules, which keep shared cost apart), {_MONEY}.",
        "cost_per_prediction": "inference_cost / predictions; NULL when there are no predictions.",
        "cost_per_1k_predictions": "1000 × inference_cost / predictions.",
        "loaded_cost_per_prediction": "loaded_cost / predictions.",
        "loaded_cost_per_1k_predictions": "1000 × loaded_cost / predictions.",
        "eta": "η (active / observed) of the workload's inference GPUs that day.",
        "inference_idle_gpu_cost": f"Idle cost of the workload's inference GPUs, {_MONEY}.",
        "billing_currency": "Currency of the money columns.",
    },
}


TABLES["rule_coverage"] = {
    "description": "Per billing period and currency: how much effective cost each attribution rule decided, by "
    "service, so that what lands in other (rule unmatched, or a catch-all such as focus-service-other) names the "
    "services that need a rule. Direct rows of cost_attribution only. Partitioned by billing_period.",
    "columns": {
        "billing_period": "First day of the billing period.",
        "billing_currency": "Currency of the money columns.",
        "category": "Category the rule gave (training, inference, storage, egress, other, shared).",
        "rule_id": "Attribution rule that decided the cost (unmatched when none did).",
        "service": "Service of the lines: FOCUS ServiceName or AWS x_ServiceCode, CUR product code; (none) when "
        "the line has none (tax).",
        "attribution_rows": "Rows of cost_attribution summed into this row.",
        "effective_cost": f"Σ effective_cost of those rows, {_MONEY}.",
        "share": "effective_cost / the period's effective cost in this currency (NULL when that is 0).",
        "rule_share": "The rule's effective cost over all services / the period's effective cost (NULL when 0).",
    },
}

TABLES["line_items_history"] = {
    "description": "Superseded versions of restated billing periods: when a new delivery replaced a "
    "published month, the lines reported until then, kept under lake/_history/line_items (the newest "
    "MLCOST_HISTORY_VERSIONS versions per period, default 5). One row per line per kept version; the version "
    "current at time T is the one with the smallest superseded after T, else line_items.",
    "columns": {
        **TABLES["line_items"]["columns"],
        "superseded": "When (UTC) the next delivery replaced this version; with billing_period it names "
        "the version.",
    },
}

TABLES["commitment_utilization"] = {
    "description": "Per billing period: each Reserved Instance and Savings Plan's used and unused commitment ($ "
    "and share), and the eligible compute it covered (EC2 and SageMaker instance hours without Spot, their GPU "
    "hours, their on-demand equivalent cost). Definitions after AWS's (docs/commitments.md). One row per "
    "billing_period × billing_currency × commitment_id.",
    "columns": {
        "billing_period": "First day of the billing period.",
        "billing_currency": "Currency of the money columns.",
        "commitment_id": "RI / Savings Plan ARN (FOCUS CommitmentDiscountId).",
        "commitment_type": "Reserved Instance or Savings Plan (FOCUS CommitmentDiscountType).",
        "provider": "Cloud provider.",
        "total_commitment_cost": "The commitment's amortized cost for the period: as its fee lines state it "
        f"(CUR), else used + unused (FOCUS), {_MONEY}.",
        "used_commitment_cost": f"Effective cost of the usage it covered, {_MONEY}.",
        "unused_commitment_cost": f"The part nothing used (RIFee / SavingsPlanRecurringFee effective cost; FOCUS "
        f"CommitmentDiscountStatus Unused), {_MONEY}.",
        "utilization": "used_commitment_cost / total_commitment_cost (AWS Savings Plans UtilizationPercentage); "
        "NULL when the total is 0.",
        "unused_share": "unused_commitment_cost / total_commitment_cost; NULL when the total is 0.",
        "purchased_hours": "RIs: reservation hours bought for the period (RIFee usage); NULL for Savings Plans.",
        "unused_hours": "RIs: reservation hours not used (reservation/UnusedQuantity); NULL for Savings Plans.",
        "hours_utilization": "RIs: (purchased − unused) / purchased hours (AWS RI UtilizationPercentage); NULL "
        "when no hours were bought.",
        "unexplained_cost": "total − used − unused (CUR; 0 when the bill's lines agree; NULL for FOCUS).",
        "covered_hours": "Eligible instance hours this commitment covered.",
        "covered_gpu_hours": "GPU hours (instance hours × GPUs per instance) this commitment covered.",
        "covered_on_demand_cost": f"On-demand equivalent (list cost) of the usage it covered, {_MONEY}.",
        "eligible_hours": "All eligible instance hours of the period (covered or not); the same on each row.",
        "eligible_gpu_hours": "All eligible GPU hours of the period; the same on each row.",
        "eligible_on_demand_cost": f"On-demand equivalent of all eligible usage of the period, {_MONEY}.",
        "hours_coverage": "covered_hours / eligible_hours (AWS RI CoverageHoursPercentage, for this commitment; "
        "sum the rows of a period for all commitments); NULL when nothing is eligible.",
        "gpu_hours_coverage": "covered_gpu_hours / eligible_gpu_hours; NULL when the period has no GPU hours.",
        "cost_coverage": "covered_on_demand_cost / eligible_on_demand_cost (AWS Savings Plans CoveragePercentage); "
        "NULL when nothing is eligible.",
    },
}

TABLES["tag_coverage"] = {
    "description": "Per billing period: for each tag key the rules file reads (workload, owners, rules), the share "
    "of effective cost whose lines carry it (a non-empty value), by service and account, so owners see which "
    "teams tag. One row per billing_period × billing_currency × tag_key × service × account.",
    "columns": {
        "billing_period": "First day of the billing period.",
        "billing_currency": "Currency of the money columns.",
        "tag_key": "Tag key, normalized as line_items.tags keys are (user:team → user_team).",
        "used_by": "What in the rules file reads the key: workload, owners.<dimension>, rule <id>.",
        "service": "Service of the lines (FOCUS ServiceName or x_ServiceCode, CUR product code); (none) for lines "
        "without one.",
        "account": "Usage (sub) account, else the billing account.",
        "lines": "Lines of line_items in the group.",
        "tagged_lines": "Of those, lines carrying the tag.",
        "effective_cost": f"Σ effective_cost of the lines, {_MONEY}.",
        "tagged_effective_cost": f"Σ effective_cost of the lines carrying the tag, {_MONEY}.",
        "tagged_share": "tagged_effective_cost / effective_cost; NULL when effective_cost is 0.",
    },
}


TABLES["gpu_cost_by_pod_daily"] = {
    "description": "A Kubernetes GPU node's GPU cost per UTC day split by the GPU time each pod held (DCGM pod labels, "
    "MLCOST_POD_WORKLOADS); time no pod held and billed time without samples are rows of their own (pod NULL, "
    "workload __idle__ / __unobserved__), so a node's rows add up to its gpu_cost. Nodes whose logs name no pod "
    "that day have no row.",
    "columns": {
        "usage_date": "UTC day.",
        "resource_id": "Billed GPU resource (the node's instance id).",
        "namespace": "Kubernetes namespace of the pod; NULL on the __idle__ and __unobserved__ rows.",
        "pod": "Kubernetes pod; NULL on the __idle__ and __unobserved__ rows.",
        "workload": "Workload of the pod: the first matching line of MLCOST_POD_WORKLOADS, else its namespace "
        "(else its pod name); __idle__ or __unobserved__ on the rows no pod holds.",
        "gpu_hours": "GPU hours the pod held: observed time while it held a GPU × its GPU fraction × MIG share; on "
        "__idle__ the observed GPU hours no pod held, on __unobserved__ the billed GPU hours without samples.",
        "active_gpu_hours": "gpu_hours × the GPU's activity over them (DCGM measures the GPU, not the pod); NULL on "
        "__unobserved__.",
        "eta": "active_gpu_hours / gpu_hours; NULL where gpu_hours is 0 or nothing was observed.",
        "cost_share": "gpu_hours / the node's GPU hours (billed, or observed where the logs claim more).",
        "gpu_cost": f"The node's gpu_cost × cost_share, {_MONEY}; a node's rows add up to node_gpu_cost.",
        "idle_cost": f"gpu_cost × (1 − eta), {_MONEY}; NULL where eta is NULL.",
        "node_gpu_cost": f"Effective cost of the node's GPU compute lines that day (gpu_efficiency_daily.gpu_cost), "
        f"{_MONEY}.",
        "node_allocated_gpu_hours": "The node's billed GPU hours that day (gpu_efficiency_daily.allocated_gpu_hours).",
        "workload_rule": "What named the workload: line N of MLCOST_POD_WORKLOADS, or the default rule (namespace, "
        "else pod); NULL on the __idle__ and __unobserved__ rows.",
    },
}


TABLES["cost_anomalies"] = {
    "description": "Days whose cost (per workload × category), cost per prediction (per workload) or η (per GPU "
    "resource) departs from the same series' trailing 28 days: median baseline, MAD spread, robust z ≥ 3.5 and a "
    "$ impact of at least 50 in the billing currency (pipelines/decisions/anomalies.py). One row per flagged "
    "usage_date × metric × scope; partitioned by usage_date.",
    "columns": {
        "usage_date": "UTC day flagged.",
        "metric": "effective_cost, cost_per_prediction or eta.",
        "scope_kind": "What scope names: workload × category, workload, or resource.",
        "scope": "The series: 'workload / category', the workload, or the GPU resource id.",
        "workload": "Workload of the series.",
        "category": "Category of the series (inference for cost per prediction).",
        "resource_id": "GPU resource for eta rows; NULL otherwise.",
        "billing_currency": "Currency of the money figures; NULL for eta rows (gpu_efficiency_daily has none: "
        "the bill's currency).",
        "value": "The day's value (cost, cost per prediction, or η).",
        "baseline": "Median of the series over the trailing days (the day excluded).",
        "mad": "Median absolute deviation of the trailing days from the baseline.",
        "history_days": "Trailing days with a value (at least 7 to be judged).",
        "deviation": "value − baseline, in the metric's unit.",
        "deviation_pct": "deviation / |baseline| (1.0 = +100 %); NULL when the baseline is 0.",
        "dollar_impact": "What the change cost that day: the cost deviation; (value − baseline) × predictions; or "
        f"(baseline − value) × GPU cost for eta, {_MONEY}.",
        "robust_z": "deviation / max(1.4826 × MAD, 5 % of |baseline|); NULL when that scale is 0.",
        "direction": "up or down.",
        "top_contributors": "Cost rows: the three rules (service) whose day cost moved most against their trailing "
        "mean; cost per prediction: predictions and inference cost against their baselines; eta: instance type, "
        "GPU cost and active GPU hours against their baselines.",
    },
}

TABLES["month_end_forecast"] = {
    "description": "Per billing period, category, workload and currency: month-to-date cost and where the month "
    "will end: MTD + mean of the last 7 days × days remaining, with a 95 % interval from the daily spread "
    "(docs/decisions.md has the method and its back-test). Partitioned by billing_period.",
    "columns": {
        "billing_period": "First day of the month forecast.",
        "as_of": "Last day counted in the month to date (the month's last day with cost).",
        "category": "Category.",
        "workload": "Workload.",
        "billing_currency": "Currency of the money columns.",
        "days_in_month": "Days in the month.",
        "days_elapsed": "Days of the month up to as_of.",
        "days_remaining": "days_in_month − days_elapsed.",
        "trailing_days": "Days the daily rate is the mean of (7, fewer in the first week).",
        "mtd_cost": f"Effective cost from the first of the month to as_of, {_MONEY}.",
        "daily_rate": f"Mean daily cost of the trailing days (a day without cost counts 0), {_MONEY}.",
        "daily_stddev": "Sample standard deviation of those days' cost; NULL with one day.",
        "forecast_cost": f"mtd_cost + daily_rate × days_remaining, {_MONEY}.",
        "forecast_low": "forecast_cost − 1.96 × daily_stddev × √(R + R²/n) (R days remaining, n trailing days); "
        "NULL when daily_stddev is.",
        "forecast_high": "forecast_cost + the same half-width.",
    },
}
TABLES["budget_status"] = {
    "description": "Per billing period and budget of the MLCOST_BUDGETS file: cost so far and forecast month end "
    "against the monthly amount, and the highest threshold each reached. Partitioned by billing_period (empty "
    "when no budgets file is set).",
    "columns": {
        "billing_period": "First day of the month.",
        "budget": "Budget name from the file.",
        "scope": "category=…, workload=… as the budget names them; whole bill when it names neither.",
        "category": "Category the budget covers; NULL for all.",
        "workload": "Workload (or model) the budget covers; NULL for all.",
        "billing_currency": "Currency of the amount and the costs.",
        "amount": f"Monthly budget, {_MONEY}.",
        "thresholds": "Shares of amount that warn (0.8 = 80 %).",
        "as_of": "Last day of the month to date the forecast counted.",
        "actual_cost": f"Effective cost of the scope in the month so far, {_MONEY}.",
        "forecast_cost": f"Σ month_end_forecast.forecast_cost of the scope (actual_cost when none), {_MONEY}.",
        "actual_share": "actual_cost / amount.",
        "forecast_share": "forecast_cost / amount.",
        "crossed_actual": "Highest threshold actual_cost reached; NULL if none.",
        "crossed_forecast": "Highest threshold forecast_cost reached; NULL if none.",
        "status": "within, forecast crosses N %, or actual crossed N %.",
    },
}

TABLES["recommendations"] = {
    "description": "Per billing period: actions with the monthly saving each would bring, one row per kind and "
    "resource, workload or path: idle GPUs, multi-GPU hosts using few GPUs, inference batching within a latency "
    "budget, S3 lifecycle, egress paths, a Savings Plan at the on-demand GPU floor, unused commitments "
    "(docs/recommendations.md has each formula). Partitioned by billing_period.",
    "columns": {
        "billing_period": "First day of the month.",
        "as_of": "Last day of the window (GPU kinds: the period's last day in gpu_efficiency_daily; others: the "
        "period's last day with cost).",
        "kind": "idle_gpu, multi_gpu, batching, storage_lifecycle, egress_path, commitment, unused_commitment.",
        "resource_id": "Resource (instance id, SageMaker ARN, bucket, commitment ARN; batching: the workload's "
        "inference resources); NULL for commitment.",
        "workload": "Workload(s) of the resource in the window.",
        "category": "Category(ies) of the resource's cost in the window.",
        "instance_type": "Instance type (GPU kinds).",
        "window_days": "Days of the GPU window (7); NULL for the bill kinds.",
        "days_billed": "Days of the window the resource had cost.",
        "eta": "Σ active / Σ observed GPU hours over the window (GPU kinds).",
        "coverage": "Σ observed / Σ allocated GPU hours over the window, clipped at 1 (GPU kinds).",
        "gpu_cost": f"GPU cost over the window, {_MONEY} (GPU kinds).",
        "idle_cost": f"Σ idle_cost over the window (days with an η), {_MONEY} (GPU kinds).",
        "monthly_cost": f"What the resource, workload or path costs a month now, {_MONEY}.",
        "monthly_saving": f"The saving a month of the action, {_MONEY}; computed_as has the formula.",
        "action": "What to do, with the figures it needs (the batch size, the smaller type, the commitment).",
        "confidence": "high, medium or low (docs/recommendations.md says why for each kind).",
        "evidence": "The measured figures the recommendation rests on, in words.",
        "computed_as": "The saving's formula with its figures.",
    },
}


def table_schema(table: str) -> TableSchema:
    """The column schema shown in the Dagster UI: these descriptions with the types of pipelines/column_types.py.

    (An empty type string, as before, made the UI's column tables show no types.)
    """
    from pipelines.column_types import COLUMN_TYPES

    types = COLUMN_TYPES.get(table, {})
    return TableSchema(
        columns=[
            TableColumn(name, types.get(name, ""), description=text)
            for name, text in TABLES[table]["columns"].items()
        ]
    )
