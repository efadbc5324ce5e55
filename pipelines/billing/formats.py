"""Tell billing export flavours apart from their header, and project each onto canonical column names.

Flavours (see docs/ingestion.md): `cur2` (Data Exports, Parquet, MAP columns), `cur1` (legacy CUR: CSV with
`lineItem/...` headers, or Parquet with Athena snake_case names), `focus` (FOCUS 1.0–1.3, CSV or Parquet).
The projection gives every column the staging SQL needs, present or not (missing → NULL), so that one SQL file per
flavour can be written against stable names while real exports gain and lose columns month to month.
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.parquet as pq

from pipelines.errors import InputError
from pipelines.file_reading.content import GZIP_MAGIC
from pipelines.storage.sqlfiles import quote_ident, quote_literal

# Canonical CUR column → DuckDB type. Names are the Athena/CUR 2.0 snake_case names.
CUR_COLUMNS: dict[str, str] = {
    "bill_billing_period_start_date": "TIMESTAMP",
    "bill_payer_account_id": "VARCHAR",
    "bill_invoice_id": "VARCHAR",
    "bill_invoicing_entity": "VARCHAR",
    "line_item_legal_entity": "VARCHAR",
    "line_item_usage_account_id": "VARCHAR",
    "line_item_line_item_type": "VARCHAR",
    "line_item_usage_start_date": "TIMESTAMP",
    "line_item_usage_end_date": "TIMESTAMP",
    "line_item_product_code": "VARCHAR",
    "line_item_usage_type": "VARCHAR",
    "line_item_operation": "VARCHAR",
    "line_item_resource_id": "VARCHAR",
    "line_item_availability_zone": "VARCHAR",
    "line_item_usage_amount": "DOUBLE",
    "line_item_unblended_cost": "DOUBLE",
    "line_item_currency_code": "VARCHAR",
    "line_item_line_item_description": "VARCHAR",
    "product_region_code": "VARCHAR",
    "product_region": "VARCHAR",
    "product_instance_type": "VARCHAR",
    "product_product_family": "VARCHAR",
    "product_servicecode": "VARCHAR",
    "product_gpu": "VARCHAR",
    "pricing_public_on_demand_cost": "DOUBLE",
    "pricing_unit": "VARCHAR",
    "reservation_reservation_a_r_n": "VARCHAR",
    "reservation_effective_cost": "DOUBLE",
    "reservation_unused_amortized_upfront_fee_for_billing_period": "DOUBLE",
    "reservation_unused_recurring_fee": "DOUBLE",
    # Commitment utilization (sql/commitment_utilization.sql): the RI's amortized upfront fee for the period and
    # its unused hours, both on its RIFee line.
    "reservation_amortized_upfront_fee_for_billing_period": "DOUBLE",
    "reservation_unused_quantity": "DOUBLE",
    "savings_plan_savings_plan_a_r_n": "VARCHAR",
    "savings_plan_savings_plan_effective_cost": "DOUBLE",
    "savings_plan_total_commitment_to_date": "DOUBLE",
    "savings_plan_used_commitment": "DOUBLE",
}
CUR_REQUIRED = (
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_unblended_cost",
)

FOCUS_COLUMNS: dict[str, str] = {
    "BillingPeriodStart": "TIMESTAMP",
    "ChargePeriodStart": "TIMESTAMP",
    "ChargePeriodEnd": "TIMESTAMP",
    "ProviderName": "VARCHAR",
    "BillingAccountId": "VARCHAR",
    "SubAccountId": "VARCHAR",
    "ServiceName": "VARCHAR",
    "ChargeCategory": "VARCHAR",
    "ChargeClass": "VARCHAR",
    "ChargeDescription": "VARCHAR",
    "CommitmentDiscountId": "VARCHAR",
    "CommitmentDiscountStatus": "VARCHAR",
    "CommitmentDiscountType": "VARCHAR",
    "ResourceId": "VARCHAR",
    "RegionId": "VARCHAR",
    "AvailabilityZone": "VARCHAR",
    "ConsumedQuantity": "DOUBLE",
    "PricingUnit": "VARCHAR",
    "BilledCost": "DOUBLE",
    "EffectiveCost": "DOUBLE",
    "ListCost": "DOUBLE",
    "BillingCurrency": "VARCHAR",
    "InvoiceId": "VARCHAR",
    "InvoiceIssuerName": "VARCHAR",
    "PublisherName": "VARCHAR",
    "SkuId": "VARCHAR",
    "x_ServiceCode": "VARCHAR",
    "x_UsageType": "VARCHAR",
    "x_Operation": "VARCHAR",
    "x_InstanceType": "VARCHAR",
    "x_LineItemType": "VARCHAR",
    "x_ProductFamily": "VARCHAR",
    # FOCUS columns the attribution rules match on (docs/attribution.md); FOCUS 1.0 has no subcategory or meter.
    "ServiceCategory": "VARCHAR",
    "ServiceSubcategory": "VARCHAR",
    "SkuMeter": "VARCHAR",
    "SkuPriceDetails": "VARCHAR",
    "PricingCategory": "VARCHAR",
    "ResourceType": "VARCHAR",
}
FOCUS_REQUIRED: tuple[str, ...] = (
    "BilledCost",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "BillingPeriodStart",
    "ChargeCategory",
)
# Columns whose absence means a FOCUS file is unusable even though it looks like FOCUS (EffectiveCost exists in
# every FOCUS version; we never invent amortization for FOCUS rows).
FOCUS_REQUIRED += ("EffectiveCost",)


def snake_case(name: str) -> str:
    """AWS's Athena rule: `/:-.` become `_`, each capital letter starts a word (`ARN` → `a_r_n`)."""
    name = re.sub(r"[/:\-.\s]", "_", name)
    name = re.sub(r"([A-Z])", r"_\1", name)
    return re.sub(r"_+", "_", name).strip("_").lower()


def tag_key(key: str) -> str:
    """Normalize a tag key the way CUR 2.0 writes it (`user:workload-type` → `user_workload_type`)."""
    return snake_case(key)


@dataclass(frozen=True)
class Detected:
    """What a billing file is: its flavour, container and original column names."""

    path: Path
    flavour: str  # cur2 | cur1 | focus
    container: str  # parquet | csv
    columns: tuple[str, ...]
    # Parquet only: each column's Arrow type (e.g. "double", "timestamp[ms, tz=UTC]"), aligned with `columns`.
    types: tuple[str, ...] = ()
    # Parquet only: the file's footer (row counts, each row group's min/max), read once here for the ingestion
    # step's size and order judgements (pipelines/billing/ingest.py) instead of once by each.
    footer: pq.FileMetaData | None = field(default=None, compare=False, repr=False)


def _csv_header(path: Path) -> list[str]:
    with open(path, "rb") as fh:
        head = fh.read(2)
    try:
        if head == GZIP_MAGIC:
            with gzip.open(path, "rb") as fh:
                raw = fh.readline(1 << 20)
        else:
            with open(path, "rb") as fh:
                raw = fh.readline(1 << 20)
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(path, f"cannot decompress the gzip file ({exc})") from None
    if b"\x00" in raw:
        raise InputError(path, "binary data (NUL bytes) where a CSV header was expected")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(path, "the first line is not UTF-8 text: not a CSV billing export") from None
    return next(csv.reader(io.StringIO(text)), [])


def detect(path: Path) -> Detected:
    """Read a file's schema or header and say which export flavour it is, or raise InputError."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "file not found")
    with open(path, "rb") as fh:
        magic = fh.read(4)
    if magic == b"PAR1" or path.name.endswith(".parquet"):
        try:
            with pq.ParquetFile(path) as parquet:
                schema, footer = parquet.schema_arrow, parquet.metadata
            names, types = tuple(schema.names), tuple(str(t) for t in schema.types)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise InputError(path, f"not a readable Parquet file ({exc})") from None
        container = "parquet"
    else:
        names, types, footer = tuple(c.strip() for c in _csv_header(path)), (), None
        container = "csv"
    _refuse_duplicate_columns(path, names)
    cols = set(names)
    if "BilledCost" in cols and "ChargePeriodStart" in cols:
        flavour = "focus"
    elif "bill_payer_account_name" in cols or ("product" in cols and "resource_tags" in cols):
        flavour = "cur2"
    elif "lineItem/UsageStartDate" in cols or "line_item_usage_start_date" in cols:
        flavour = "cur1"
    else:
        shown = ", ".join(list(names)[:6]) or "(empty)"
        raise InputError(
            path,
            "unknown billing export format: the header has none of lineItem/UsageStartDate, "
            f"line_item_usage_start_date, BilledCost+ChargePeriodStart (it starts: {shown})",
        )
    return Detected(
        path=path, flavour=flavour, container=container, columns=names, types=types, footer=footer
    )


def _refuse_duplicate_columns(path: Path, names: tuple[str, ...]) -> None:
    """Refuse a header naming one column twice, as written or once normalized (`lineItem/UnblendedCost` and
    `line_item_unblended_cost`): which of the two holds the bill cannot be known, and reading either would be a
    guess (DuckDB would silently rename the second)."""
    written: set[str] = set()
    normalized: dict[str, str] = {}
    for name in names:
        if name in written:
            raise InputError(path, "the header names this column twice; keep one", column=name)
        written.add(name)
        # Tag columns are left out: AWS tag keys are case-sensitive, so `resourceTags/user:Team` and
        # `resourceTags/user:team` are two real columns of one export (their values are merged like CUR 2.0's).
        key = name if name.startswith("resourceTags/") else _canonical_name(name)
        if key in normalized:
            raise InputError(
                path,
                f"the header has this column twice, as {normalized[key]!r} and {name!r}; keep one",
                column=name,
            )
        normalized[key] = name


# Parquet column types whose values DuckDB casts to the canonical type exactly, without going through text.
# (TIMESTAMPTZ → TIMESTAMP gives the UTC wall time: lake.connect sets the session zone to UTC.)
_TYPED_SOURCES = {
    "DOUBLE": re.compile(r"^(double|float|halffloat|u?int(8|16|32|64)|decimal\d*\(.*\))$"),
    "TIMESTAMP": re.compile(r"^(timestamp\[.*\]|date32\[day\]|date64\[ms\])$"),
}


def common_types(detected: list[Detected]) -> dict[str, str]:
    """Column → Arrow type, for the columns that every Parquet file of a delivery has with the same type."""
    found: dict[str, str] | None = None
    for det in detected:
        own = dict(zip(det.columns, det.types, strict=True)) if det.types else {}
        found = own if found is None else {c: t for c, t in found.items() if own.get(c) == t}
    return found or {}


# The text of the error a non-finite number raises inside the one COPY of a delivery: ingestion catches it and
# reads the files again to name the file, line and column (pipelines/billing/ingest.py).
NON_FINITE_ERROR = "mlcost: a number is not finite"


def _finite(number: str) -> str:
    """`number` (a DOUBLE expression), or a query error when it is NaN or ±Infinity.

    DuckDB reads `NaN`, `nan`, `inf`, `-Infinity` and `1e400` as such floats, and Parquet doubles can hold them;
    one in a cost would make every sum of its month NaN, so the delivery stops, like a value that does not cast.
    """
    return f"CASE WHEN isfinite({number}) IS FALSE THEN error('{NON_FINITE_ERROR}') ELSE {number} END"


def _cast(expr: str, duck_type: str, container: str, source_type: str | None = None) -> str:
    typed = _TYPED_SOURCES.get(duck_type)
    if container == "parquet" and source_type and typed and typed.match(source_type):
        # Already a number or a time: a plain cast (through text it cost ~4x the CPU of the whole projection).
        cast = f"CAST({expr} AS {duck_type})"
        return _finite(cast) if duck_type == "DOUBLE" else cast
    # Empty strings stand for missing values in CUR Parquet and CSV; FOCUS CSVs also write the word NULL.
    if container == "csv" or duck_type != "VARCHAR":
        text = f"NULLIF(NULLIF(trim(CAST({expr} AS VARCHAR)), ''), 'NULL')"
        if duck_type == "DOUBLE":
            return _finite(f"CAST({text} AS DOUBLE)")
        return f"CAST({text} AS {duck_type})" if duck_type != "VARCHAR" else text
    return f"NULLIF({expr}, '')"


def _normalized_names(det: Detected) -> dict[str, str]:
    """Canonical (snake_case) name → original column name, for CUR flavours."""
    out: dict[str, str] = {}
    for name in det.columns:
        out.setdefault(_canonical_name(name), name)
    return out


def _canonical_name(name: str) -> str:
    """A legacy CUR CSV header name in Athena snake_case (`lineItem/UnblendedCost` → `line_item_unblended_cost`)."""
    if "/" not in name:
        return name
    category, _, field = name.partition("/")
    if category == "resourceTags":
        return "resource_tags_" + tag_key(field)
    return snake_case(category) + "_" + snake_case(field)


# How the required CUR columns are spelled in a legacy CSV header, for messages a user can search their file for.
CUR1_CSV_NAMES = {
    "line_item_line_item_type": "lineItem/LineItemType",
    "line_item_usage_start_date": "lineItem/UsageStartDate",
    "line_item_usage_end_date": "lineItem/UsageEndDate",
    "line_item_product_code": "lineItem/ProductCode",
    "line_item_usage_type": "lineItem/UsageType",
    "line_item_unblended_cost": "lineItem/UnblendedCost",
}


def missing_required(det: Detected) -> list[str]:
    """Required columns that the file lacks, spelled as in the file's own header style."""
    if det.flavour == "focus":
        return [c for c in FOCUS_REQUIRED if c not in det.columns]
    names = _normalized_names(det)
    csv_style = any("/" in c for c in det.columns)
    return [CUR1_CSV_NAMES[c] if csv_style else c for c in CUR_REQUIRED if c not in names]


def projection(
    det: Detected,
    all_columns: tuple[str, ...] | None = None,
    types: dict[str, str] | None = None,
    *,
    csv_row_numbers: bool = False,
) -> str:
    """SELECT-list text mapping the file's columns onto the canonical ones (absent → typed NULL).

    `all_columns` is the union of columns over the files read together (union_by_name); `types` the Parquet
    types they share (common_types), so typed values are cast directly; any other column goes through text.
    `csv_row_numbers`: number a CSV's rows in `source_row` too (costly on a whole delivery: error paths only).
    """
    cols = all_columns or det.columns
    types = types if types is not None else common_types([det])
    merged = Detected(det.path, det.flavour, det.container, tuple(cols))
    parts: list[str] = []
    if det.flavour == "focus":
        present = set(cols)
        for name, duck_type in FOCUS_COLUMNS.items():
            expr = (
                _cast(quote_ident(name), duck_type, det.container, types.get(name))
                if name in present
                else f"NULL::{duck_type}"
            )
            parts.append(f"{expr} AS {quote_ident(name)}")
        parts.append(_focus_tags(present))
    else:
        names = _normalized_names(merged)
        for canon, duck_type in CUR_COLUMNS.items():
            if canon in names:
                expr = _cast(quote_ident(names[canon]), duck_type, det.container, types.get(names[canon]))
            elif canon == "product_gpu" and "product" in names:
                expr = f"NULLIF(CAST(element_at({quote_ident('product')}, 'gpu')[1] AS VARCHAR), '')"
            else:
                expr = f"NULL::{duck_type}"
            parts.append(f"{expr} AS {quote_ident(canon)}")
        parts.append(_cur_tags(names))
    parts.append("filename AS source_file")
    # Where each line came from, for messages and the repeated-lines check. The lines keep their file order
    # because the staging query only projects (docs/ingestion.md); CSV readers give no row number.
    if det.container == "parquet":
        parts.append("file_row_number + 1 AS source_row")
    elif (
        csv_row_numbers
    ):  # one file read again to name a bad line (a window over a single file keeps its order)
        parts.append("row_number() OVER () AS source_row")
    else:
        parts.append("NULL::BIGINT AS source_row")
    return ",\n       ".join(parts)


def _cur_tags(names: dict[str, str]) -> str:
    if "resource_tags" in names:
        # CUR 2.0 already writes normalized keys; drop empty values so a blank tag equals no tag. The map is
        # rebuilt only when it has a blank (most lines have none): rebuilding every line's map made the write of
        # a 10M-line month 54.0 s instead of 41.9 s (bench/analysis.md).
        tags = "CAST(resource_tags AS MAP(VARCHAR, VARCHAR))"
        return (
            f"CASE WHEN list_bool_or(list_transform(map_values({tags}), v -> v IS NULL OR v = '')) "
            f"THEN map_from_entries(list_filter(map_entries({tags}), e -> e.value IS NOT NULL AND e.value <> '')) "
            f"ELSE {tags} END AS tags"
        )
    tag_cols = [
        (canon[len("resource_tags_") :], orig)
        for canon, orig in names.items()
        if canon.startswith("resource_tags_")
    ]
    if not tag_cols:
        return "MAP(CAST([] AS VARCHAR[]), CAST([] AS VARCHAR[])) AS tags"
    # Keys come from the header and are quoted as literals, so any character survives; values are kept exactly
    # as written (spaces, quotes, newlines): only an empty value means "no tag".
    entries = ", ".join(
        f"{{'key': {quote_literal(key)}, 'value': NULLIF(CAST({quote_ident(orig)} AS VARCHAR), '')}}"
        for key, orig in sorted(tag_cols)
    )
    return f"map_from_entries(list_filter([{entries}], e -> e.value IS NOT NULL)) AS tags"


def _focus_tags(present: set[str]) -> str:
    if "Tags" not in present:
        return "CAST([] AS STRUCT(key VARCHAR, value VARCHAR)[]) AS tag_entries"
    # FOCUS Tags is a JSON object string (or a MAP in Parquet); keys are normalized like CUR 2.0's.
    return (
        'list_transform(list_filter(map_entries(CAST(CAST(NULLIF(NULLIF(trim(CAST("Tags" AS VARCHAR)),'
        " ''), 'NULL') AS JSON) AS MAP(VARCHAR, VARCHAR))), e -> e.value IS NOT NULL AND e.value <> ''), "
        "e -> {'key': trim(regexp_replace(regexp_replace(lower(regexp_replace(regexp_replace(e.key, "
        "'[/:.\\s-]', '_', 'g'), '([A-Z])', '_\\1', 'g')), '_+', '_', 'g'), '^_|_$', '', 'g')), "
        "'value': e.value}) AS tag_entries"
    )
