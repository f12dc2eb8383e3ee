"""Notebook 05's data products outlive meshkit: any Parquet reader finds and reads them.

Run headless against an embedded AWS it did not start (as under ``make lab``), notebook 05 leaves
Glue tables whose data an independent reader reads back: this file's reader uses boto3 and
pyarrow only, never meshkit, and follows what an AWS user would: the table's parameters say it is
a data product, its ``StorageDescriptor`` says where the data lives and in which format, and its
partitions list the folders. The rows it reads are compared with the events the notebook
published (the notebook's own ``sales``, printed by one cell appended to a copy of it).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import nbformat
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from nbclient import NotebookClient

from meshkit.sandbox import EmbeddedServer, embedded_environment

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "05_publish_data_products.ipynb"
# Appended to the notebook: what it published, as the envelope each event carried.
PUBLISHED = "print(json.dumps([json.loads(s.to_entry('SalesEventBus')['Detail']) for s in sales]))"


@pytest.fixture(scope="module")
def published_and_aws(tmp_path_factory) -> Iterator[tuple[list[dict[str, Any]], Callable]]:
    """Notebook 05 run to its end on a server of this test's: the envelopes of the sales it
    published, and a boto3 client factory for that server (fake credentials, no meshkit)."""
    with EmbeddedServer() as server:
        env = embedded_environment(server.url)
        nb = nbformat.read(NOTEBOOK, as_version=4)
        nb.cells.append(nbformat.v4.new_code_cell(PUBLISHED))
        workdir = tmp_path_factory.mktemp("notebook")  # where write_catalog writes its folder
        NotebookClient(
            nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": workdir}}
        ).execute(env=env)
        printed = "".join(out.get("text", "") for out in nb.cells[-1].outputs)
        session = boto3.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=env["AWS_DEFAULT_REGION"],
        )
        yield json.loads(printed), lambda service: session.client(service, endpoint_url=server.url)


def data_product_tables(glue: Any) -> dict[str, dict[str, Any]]:
    """Every Glue table whose parameters describe a data product (``data_product.*``), by
    ``<database>.<table>``."""
    tables = {}
    for page in glue.get_paginator("get_databases").paginate():
        for database in page["DatabaseList"]:
            pages = glue.get_paginator("get_tables").paginate(DatabaseName=database["Name"])
            for table in (table for listed in pages for table in listed["TableList"]):
                if any(key.startswith("data_product.") for key in table.get("Parameters", {})):
                    tables[f"{database['Name']}.{table['Name']}"] = table
    return tables


def read_table(client: Callable, table: dict[str, Any]) -> pa.Table:
    """A Glue table's rows, read from S3 partition by partition with pyarrow, with the
    partitions' values as columns (Hive partitioning keeps them out of the files)."""
    glue, s3 = client("glue"), client("s3")
    keys = [key["Name"] for key in table["PartitionKeys"]]
    partitions = glue.get_paginator("get_partitions").paginate(
        DatabaseName=table["DatabaseName"], TableName=table["Name"]
    )
    pieces = []
    for partition in (partition for page in partitions for partition in page["Partitions"]):
        bucket, prefix = (
            partition["StorageDescriptor"]["Location"].removeprefix("s3://").split("/", 1)
        )
        listing = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in (item for page in listing for item in page.get("Contents", [])):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            piece = pq.read_table(io.BytesIO(body))
            for key, value in zip(keys, partition["Values"], strict=True):
                piece = piece.append_column(key, pa.array([value] * piece.num_rows))
            pieces.append(piece)
    return pa.concat_tables(pieces, promote_options="default")


def test_notebook_05_leaves_a_glue_table_per_data_product_it_described(published_and_aws):
    _, client = published_and_aws

    tables = data_product_tables(client("glue"))

    assert sorted(tables) == [
        "fraud.fraud_case_opened",
        "sales.sale_recorded",
        "sales.sale_updated",
    ]
    for table in tables.values():
        assert table["Parameters"]["classification"] == "parquet"
        assert table["StorageDescriptor"]["Location"].startswith("s3://")


def test_pyarrow_reads_back_from_s3_exactly_the_sales_the_notebook_published(published_and_aws):
    published, client = published_and_aws
    table = data_product_tables(client("glue"))["sales.sale_recorded"]

    rows = read_table(client, table).to_pylist()

    by_key = {row["idempotency_key"]: row for row in rows}
    assert len(rows) == len(by_key) == len(published) == 240, "each sale once, redeliveries too"
    for envelope in published:
        row, data = by_key[envelope["metadata"]["idempotency_key"]], envelope["data"]
        assert {name: row[name] for name in data} == data
        assert row["schema_version"] == envelope["metadata"]["schema_version"]
        assert row["correlation_id"] == envelope["metadata"]["correlation_id"]
        assert row["event_date"] == data["timestamp"][:10]
        if "currency" not in data:  # contract 1.0, on the first day: the column is empty
            assert row["currency"] is None


def test_the_glue_schema_names_every_column_the_files_hold(published_and_aws):
    _, client = published_and_aws
    table = data_product_tables(client("glue"))["sales.sale_recorded"]

    files = read_table(client, table)

    declared = [c["Name"] for c in table["StorageDescriptor"]["Columns"] + table["PartitionKeys"]]
    assert sorted(files.column_names) == sorted(declared)
