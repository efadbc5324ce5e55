"""Attribution of a real account's month (2018-10 legacy CUR): reconciles, and storage and egress totals equal
an independent query over the raw file by usage type and product family."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from pipelines.attribution.compute import attribute, reconcile, summarize_by_category
from pipelines.attribution.rules import load_rules
from pipelines.billing.ingest import ingest_deliveries
from pipelines.storage import lake
from tests.conftest import FileDelivery, realdata

# Written from BILLING.md, independently of the rules file: transfer is known by its usage type or its
# product family (it keeps the parent service's product code); storage by usage type, family or S3.
INDEPENDENT = """
SELECT
    CASE
        WHEN line_item_usage_type LIKE '%DataTransfer-Out-Bytes%'
          OR line_item_usage_type LIKE '%DataTransfer-Regional-Bytes%'
          OR regexp_matches(line_item_usage_type, '-AWS-(Out|In)-Bytes')
          OR line_item_usage_type LIKE '%NatGateway-Bytes%'
          OR product_product_family = 'Data Transfer' THEN 'egress'
        WHEN line_item_usage_type LIKE '%TimedStorage%'
          OR line_item_usage_type LIKE '%EBS:VolumeUsage%'
          OR line_item_usage_type LIKE '%EBS:SnapshotUsage%'
          OR product_product_family IN ('Storage', 'Storage Snapshot')
          OR line_item_product_code = 'AmazonS3' THEN 'storage'
    END AS category,
    sum(line_item_unblended_cost) AS cost
FROM read_parquet(?)
WHERE line_item_line_item_type = 'Usage'
GROUP BY 1
"""


def test_realdata_month_reconciles_and_matches_independent_totals(settings, con):
    path = realdata("cur1-parquet", "Oct2018-WorkshopCUR-00001.snappy.parquet")
    ingest_deliveries(con, settings, [FileDelivery(files=(path,))])
    attribute(con, settings, load_rules(), date(2018, 10, 1), date(2018, 10, 31))
    summarize_by_category(con, settings, date(2018, 10, 1), date(2018, 10, 31))
    (row,) = reconcile(con, settings, date(2018, 10, 1), date(2018, 10, 1))
    assert row["difference"] == pytest.approx(0, abs=0.005)
    assert row["source_effective_cost"] == pytest.approx(4195.9571, abs=0.0001)
    lake.register_views(con, settings, ["cost_by_category_daily"])
    got = dict(
        con.execute("SELECT category, sum(effective_cost) FROM cost_by_category_daily GROUP BY 1").fetchall()
    )
    expected = dict(duckdb.connect().execute(INDEPENDENT, [str(path)]).fetchall())
    assert got["storage"] == pytest.approx(expected["storage"], abs=0.0001)
    assert got["egress"] == pytest.approx(expected["egress"], abs=0.0001)
    # EBS gp2 42.6791 + RDS backup snapshot 0.2245 + S3 requests and other S3 charges 0.2795
    assert got["storage"] == pytest.approx(43.1831, abs=0.0001)
    assert sum(got.values()) == pytest.approx(4195.9571, abs=0.0001)
