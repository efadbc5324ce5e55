-- line_items: every billing line of the current delivery of each billing period, one schema for all flavours.
-- Grain: one row per source line. Reads `staged_lines` (staging/cur_lines.sql or staging/focus_lines.sql).
-- Parameters: $delivery_id (which delivery the rows came from), $source_format (cur2 | cur1 | focus).
with staged as (
    select * from staged_lines
),

final as (
    select
        billing_period,
        charge_period_start,
        charge_period_end,
        usage_date,
        provider,
        billing_account_id,
        sub_account_id,
        service_code,
        usage_type,
        operation,
        resource_id,
        region,
        availability_zone,
        instance_type,
        product_family,
        line_item_type,
        charge_category,
        charge_class,
        commitment_status,
        commitment_id,
        charge_description,
        usage_quantity,
        pricing_unit,
        billed_cost,
        effective_cost,
        list_cost,
        billing_currency,
        invoice_id,
        product_gpu_count,
        coalesce(tags, map()) as tags,
        source_file,
        source_row,
        $delivery_id as delivery_id,
        $source_format as source_format,
        -- FOCUS columns the attribution rules match on (NULL for CUR, except service_name).
        service_category,
        service_subcategory,
        service_name,
        sku_meter,
        sku_price_details,
        pricing_category,
        resource_type,
        -- Commitments (sql/commitment_utilization.sql).
        commitment_type,
        commitment_cost,
        commitment_unused_quantity,
        -- Who invoices and who sells the line (the FOCUS export's InvoiceIssuerName and PublisherName).
        invoice_issuer,
        publisher
    from staged
)

select * from final
