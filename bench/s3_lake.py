"""The S3 lake's figures on moto's server: `python -m bench.s3_lake` (after `make fixtures`; about 6 minutes).

Runs `mlcost run` of the demo's fixtures with `MLCOST_LAKE` on a moto S3 server in this process, then prints the
objects pushed, the time to push them all again to an empty bucket, and `mlcost sql` of the monthly line totals
from an empty MLCOST_HOME (S3) and from the pipeline's own warehouse (local), each in a fresh process, with
their results (which must be equal). The figures in docs/architecture.md ("The lake on S3") come from it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
from moto.server import ThreadedMotoServer

from pipelines.config import Settings
from pipelines.storage import generations, object_lake

REPO = Path(__file__).resolve().parent.parent
QUERY = (
    "SELECT billing_period, count(*) AS lines, round(fsum(effective_cost), 2) AS effective "
    "FROM line_items GROUP BY 1 ORDER BY 1"
)


def main() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        os.environ.pop(name, None)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    for bucket in ("lake-bench", "lake-bench-again"):
        client.create_bucket(Bucket=bucket)
    mlcost = str(REPO / ".venv" / "bin" / "mlcost")
    fixtures = REPO / "fixtures" / "generated"
    with tempfile.TemporaryDirectory() as tmp:
        home, laptop = Path(tmp) / "pipeline", Path(tmp) / "laptop"
        (home / "dagster").mkdir(parents=True)
        laptop.mkdir()
        env = {k: v for k, v in os.environ.items() if not k.startswith("MLCOST_")}
        env.update(
            MLCOST_HOME=str(home),
            DAGSTER_HOME=str(home / "dagster"),
            MLCOST_S3_ENDPOINT_URL=endpoint,
            MLCOST_LAKE="s3://lake-bench/mlcost",
            MLCOST_CUR_SOURCE=str(fixtures / "cur2"),
            MLCOST_GPU_SOURCE=str(fixtures / "gpu"),
            MLCOST_PREDICTIONS_SOURCE=str(fixtures / "predictions"),
        )
        t0 = time.monotonic()
        run = subprocess.run([mlcost, "run"], env=env, capture_output=True, text=True, cwd=REPO)
        print(f"mlcost run (S3 lake): exit {run.returncode}, {time.monotonic() - t0:.1f} s")
        pages = client.get_paginator("list_objects_v2").paginate(Bucket="lake-bench", Prefix="mlcost/")
        objects = [o for page in pages for o in page.get("Contents", [])]
        data = [o for o in objects if o["Key"].endswith(".parquet")]
        print(
            f"objects: {len(data)} data, {len(objects)} in all, {sum(o['Size'] for o in data):,} data bytes"
        )

        settings = Settings(home=home, lake_uri="s3://lake-bench-again/mlcost", s3_endpoint_url=endpoint)
        catalog = generations.read_catalog(settings)
        t0 = time.monotonic()
        object_lake.publish_generation(settings, catalog, catalog["periods"])
        print(f"push every period to an empty bucket: {time.monotonic() - t0:.1f} s")

        for label, where in (("S3, empty MLCOST_HOME", {"MLCOST_HOME": str(laptop)}), ("local", {})):
            reader = {**env, **where}
            if label == "local":
                reader.pop("MLCOST_LAKE")
            t0 = time.monotonic()
            out = subprocess.run(
                [mlcost, "sql", "--format", "csv", QUERY],
                env=reader,
                capture_output=True,
                text=True,
                cwd=REPO,
            )
            rows = " | ".join(out.stdout.split())
            print(f"mlcost sql ({label}): {time.monotonic() - t0:.1f} s: {rows}{out.stderr[-300:]}")
    server.stop()


if __name__ == "__main__":
    main()
