"""What every analyst-facing table and column means. Stored in the catalog (COMMENT ON) and rendered to
docs/tables.md by `mlcost docs tables`; a test fails when a published column has no description here."""

from __future__ import annotations

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
            "delivery_id": "Delivery (CUR 2.0 executionId, legacy assemblyId, or file hash) the line came from.",
            "source_format": "Export flavour: cur2, cur1 or focus.",
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
        "One row per usage_date × category × workload × currency.",
        "columns": {
            "usage_date": "UTC day.",
            "category": "training, inference, storage, egress, other or shared.",
            "workload": "Model / team / project, or unattributed.",
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
        },
    },
}
