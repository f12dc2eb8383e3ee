"""Landing a data product's events as partitioned Parquet, and querying them back.

The round trip goes through the real path: the Sales bus, a landing subscription, the local event
source mapping feeding ``landing_handler``, Parquet files in S3 under Hive partitions, Glue
partitions, and ``query`` (DuckDB over a pyarrow dataset offline). An independent reader (boto3
and pyarrow only) checks the files hold exactly the published rows.

AWS pages the behaviour is checked against:
EventBridge events: https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html
Lambda and SQS: https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html
Athena partitions: https://docs.aws.amazon.com/athena/latest/ug/partitions.html
"""

from __future__ import annotations

import dataclasses
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest

import meshkit as mk
from meshkit.exceptions import MeshkitError, ValidationError
from meshkit.products.landing import (
    LandingError,
    LandingFailure,
    LandingResult,
    land_events,
    landing_handler,
)
from meshkit.products.query import InvalidQueryError, NotADataProductError, QueryError, query

EVENTS = Path(__file__).resolve().parent / "events"
LANDING_PATTERN = {"source": ["sales.domain"], "detail-type": ["SaleRecorded"]}


# -- helpers ------------------------------------------------------------------------------------


def read_dataset_independently(location: str) -> list[dict]:
    """Every row under an S3 prefix, read with boto3 and pyarrow only: no meshkit.

    The Hive partition (``event_date=YYYY-MM-DD/``) in each file's key becomes a column, as any
    Hive-aware reader makes it. The endpoint and the fake credentials come from the environment
    (``mk.sandbox.start()`` exported them), as for any boto3 program.
    """
    import boto3
    import pyarrow as pa
    import pyarrow.parquet as pq

    bucket, _, prefix = location.removeprefix("s3://").partition("/")
    s3 = boto3.client("s3")
    rows: list[dict] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            partition = dict(part.split("=", 1) for part in item["Key"].split("/") if "=" in part)
            for row in pq.read_table(pa.BufferReader(body)).to_pylist():
                rows.append({**row, **partition})
    return rows


def sale(
    number: int,
    *,
    day: int = 29,
    version: str = "1.0",
    currency: str | None = None,
    key: str | None = None,
) -> mk.events.DomainEvent:
    detail = {"sale_id": f"S-{number}", "amount": 10.0 + number, "timestamp": f"2026-01-{day}"}
    if currency is not None:
        detail["currency"] = currency
    return mk.events.DomainEvent(
        "sales.domain",
        "SaleRecorded",
        detail,
        idempotency_key=key or f"sale-recorded/S-{number}",
        correlation_id=f"checkout-{number}",
        schema_version=version,
        time=datetime(2026, 1, day, 10, number % 60, tzinfo=timezone.utc),
    )


def event_dict(
    key: str | None = "sale-recorded/S-1",
    *,
    time: str = "2026-01-29T10:00:00Z",
    event_id: str = "e-1",
    data: dict | None = None,
    **fields,
) -> dict:
    """An EventBridge event as an SQS body holds it (the shape of the EventBridge reference)."""
    metadata = {"schema_version": "1.0", "correlation_id": "checkout-1"}
    if key is not None:
        metadata["idempotency_key"] = key
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "SaleRecorded",
        "source": "sales.domain",
        "time": time,
        "region": "us-west-2",
        "resources": [],
        "detail": {
            "metadata": metadata,
            "data": data
            if data is not None
            else {"sale_id": "S-1", "amount": 12.5, "timestamp": "2026-01-29"},
        },
        **fields,
    }


def sqs_event(*bodies: object) -> dict:
    """Lambda's SQS event around message bodies (from the canonical sample's first record)."""
    [template, *_] = json.loads((EVENTS / "sqs_event.json").read_text())["Records"]
    return {
        "Records": [
            {
                **template,
                "messageId": f"m-{index}",
                "body": body if isinstance(body, str) else json.dumps(body),
            }
            for index, body in enumerate(bodies)
        ]
    }


def count(sql_table: str = "sales.sale_recorded") -> int:
    return int(query(f"SELECT count(*) AS n FROM {sql_table}")["n"][0])


@pytest.fixture
def product(mesh) -> mk.products.DataProduct:
    """The Sales domain's SaleRecorded product, created (bucket, Glue database and table)."""
    defined = mk.products.define_data_product(
        "sales",
        "SaleRecorded",
        description="Every sale recorded in the Sales domain",
        classification="internal",
    )
    mk.products.create_data_product(defined)
    return defined


@pytest.fixture
def landing(product) -> mk.subscriptions.Subscription:
    """The Sales bus, and the landing queue subscribed to its SaleRecorded events."""
    mk.buses.create_domain_bus("sales")
    return mk.subscriptions.subscribe(
        "sales", bus="SalesEventBus", pattern=LANDING_PATTERN, name="sales-landing"
    )


def glue(mesh):
    return mesh.session().client("glue", endpoint_url=mesh.endpoint_url)


# -- the round trip ------------------------------------------------------------------------------


def test_published_events_are_the_rows_queried(mesh, product, landing):
    """Given N sales published on the Sales bus over two days, when the landing handler runs on
    the landing queue, then a query counts N rows, Glue has one partition per day (Hive style,
    https://docs.aws.amazon.com/athena/latest/ug/partitions.html) and the descriptor is intact."""
    sales = [sale(n, day=29) for n in range(1, 8)] + [sale(n, day=30) for n in range(8, 13)]
    assert mk.events.publish("SalesEventBus", sales).failed == []

    summary = mk.consumers.run(landing_handler(product), landing.queue_url)

    assert (summary.processed, summary.failed, summary.stopped) == (12, 0, "drained")
    assert count() == 12
    partitions = glue(mesh).get_partitions(DatabaseName="sales", TableName="sale_recorded")
    found = {p["Values"][0]: p["StorageDescriptor"]["Location"] for p in partitions["Partitions"]}
    assert found == {
        "2026-01-29": f"{product.dataset.location}event_date=2026-01-29/",
        "2026-01-30": f"{product.dataset.location}event_date=2026-01-30/",
    }
    assert mk.products.get_data_product("sales.sale-recorded") == product


def test_an_independent_reader_gets_exactly_the_published_rows(mesh, product, landing):
    """Given sales published and landed, when a reader that knows only boto3 and pyarrow reads
    the product's S3 location, then it gets one row per published sale with its values, envelope
    and partition, and nothing else."""
    sales = [sale(1), sale(2, day=30), sale(3, version="1.1", currency="EUR")]
    mk.events.publish("SalesEventBus", sales)
    mk.consumers.run(landing_handler(product), landing.queue_url)

    rows = read_dataset_independently(product.dataset.location)

    got = sorted(
        (
            r["idempotency_key"],
            r["sale_id"],
            r["amount"],
            r["timestamp"],
            r["currency"],
            r["schema_version"],
            r["correlation_id"],
            r["detail_type"],
            r["event_time"],
            r["event_date"],
        )
        for r in rows
    )
    wanted = sorted(
        (
            s.idempotency_key,
            s.detail["sale_id"],
            s.detail["amount"],
            s.detail["timestamp"],
            s.detail.get("currency"),
            s.schema_version,
            s.correlation_id,
            "SaleRecorded",
            s.time.replace(tzinfo=None),  # Athena's timestamp: UTC, without a zone
            s.time.date().isoformat(),
        )
        for s in sales
    )
    assert got == wanted
    assert all(r["event_id"] for r in rows)
    assert sorted(rows[0]) == sorted([c.name for c in product.columns] + ["event_date"])


def test_republished_facts_and_redelivered_messages_land_once(mesh, product, landing):
    """Given six sales, three of them published again by a retrying producer (new event ids,
    the same idempotency keys), when they land, and then the very same messages are delivered
    again (SQS delivers at least once), then each sale is one row."""
    mk.events.publish("SalesEventBus", [sale(n) for n in range(1, 7)])
    mk.events.publish("SalesEventBus", [sale(n) for n in range(1, 4)])
    bodies: list[str] = []
    handler = landing_handler(product)

    def recording(event, context):
        bodies.extend(record["body"] for record in event["Records"])
        return handler(event, context)

    first = mk.consumers.run(recording, landing.queue_url)
    sqs = mesh.session().client("sqs", endpoint_url=mesh.endpoint_url)
    sqs.send_message_batch(
        QueueUrl=landing.queue_url,
        Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)],
    )
    again = mk.consumers.run(handler, landing.queue_url)

    assert len(bodies) == 9 and len({json.loads(b)["id"] for b in bodies}) == 9
    assert (first.processed, first.failed, again.processed, again.failed) == (9, 0, 9, 0)
    assert count() == 6
    keys = query("SELECT count(DISTINCT idempotency_key) AS n FROM sales.sale_recorded")
    assert keys["n"][0] == 6


def test_a_crash_between_writing_and_acknowledging_adds_nothing_on_redelivery(product):
    """Given a batch in Lambda's SQS event shape that was landed but never acknowledged (the
    function crashed after writing), when Lambda invokes the handler with it again, then it
    succeeds and adds no row (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html: a
    message may be processed more than once)."""
    event = json.loads((EVENTS / "sqs_event.json").read_text())
    handler = landing_handler(product)

    assert handler(event, None) == {"batchItemFailures": []}
    assert handler(event, None) == {"batchItemFailures": []}

    assert count() == 2
    again = land_events(product, [json.loads(r["body"]) for r in event["Records"]])
    assert (again.written, again.duplicates, again.partitions) == (0, 2, ())


def test_a_retry_across_midnight_is_found_in_the_day_before(product):
    """Given a sale landed at 23:59:59, when the producer's retry arrives with a time after
    midnight (EventBridge sets time on arrival when the producer does not), then it is a
    duplicate; a copy two days later is not looked for (the documented limit)."""
    land_events(product, [event_dict(time="2026-01-29T23:59:59Z", event_id="e-1")])

    retry = land_events(product, [event_dict(time="2026-01-30T00:00:02Z", event_id="e-2")])
    late = land_events(product, [event_dict(time="2026-01-31T00:00:02Z", event_id="e-3")])

    assert (retry.written, retry.duplicates) == (0, 1)
    assert (late.written, late.duplicates) == (1, 0)


def test_duplicates_inside_one_batch_keep_the_first(product):
    result = land_events(
        product,
        [
            event_dict(event_id="e-1", data={"sale_id": "S-1", "amount": 1, "timestamp": "t" * 10}),
            event_dict(event_id="e-2", data={"sale_id": "S-1", "amount": 2, "timestamp": "t" * 10}),
        ],
    )

    assert (result.written, result.duplicates) == (1, 1)
    assert query("SELECT event_id, amount FROM sales.sale_recorded").to_dict("records") == [
        {"event_id": "e-1", "amount": 1.0}
    ]


def test_versions_1_0_and_1_1_land_in_one_table(mesh, product, landing):
    """Given SaleRecorded 1.0 (no currency) and 1.1 (with currency) on the bus, when they land,
    then one table holds both, currency null for 1.0."""
    mk.events.publish("SalesEventBus", [sale(1), sale(2, version="1.1", currency="EUR")])
    mk.consumers.run(landing_handler(product), landing.queue_url)

    frame = query(
        "SELECT sale_id, schema_version, currency FROM sales.sale_recorded ORDER BY sale_id"
    )

    assert frame["schema_version"].tolist() == ["1.0", "1.1"]
    assert frame["currency"].isna().tolist() == [True, False]
    assert frame["currency"][1] == "EUR"


def test_landing_keeps_the_descriptor_and_the_table_version(mesh, product):
    """awswrangler appends without rewriting the table (schema_evolution=False): the table
    version count and the descriptor stay as create_data_product left them."""
    versions = glue(mesh).get_table_versions(DatabaseName="sales", TableName="sale_recorded")

    land_events(product, [event_dict()])

    after = glue(mesh).get_table_versions(DatabaseName="sales", TableName="sale_recorded")
    assert len(after["TableVersions"]) == len(versions["TableVersions"])
    assert mk.products.get_data_product("sales.sale-recorded") == product


# -- failures: reported, never dropped -------------------------------------------------------------


def test_a_foreign_or_broken_event_fails_alone(product):
    """Given a batch with two good events and several bad ones, when the handler lands it, then
    exactly the bad records are reported in batchItemFailures (Lambda retries only those:
    https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html) and the good
    ones are rows."""
    good_1 = event_dict("k-1", event_id="e-1")
    good_2 = event_dict("k-2", event_id="e-2", data={"sale_id": "S-2", "amount": 3})
    event = sqs_event(
        good_1,
        {**event_dict("k-3", event_id="e-3"), "detail-type": "SaleUpdated"},
        {**event_dict("k-4", event_id="e-4"), "source": "marketing.domain"},
        event_dict(None, event_id="e-5"),
        "not json",
        event_dict("k-6", event_id="e-6", data={"sale_id": "S-6", "amount": "12,50"}),
        event_dict("k-7", event_id="e-7", data={"sale_id": "S-7", "discount": 0.1}),
        good_2,
    )

    response = landing_handler(product)(event, None)

    assert response == {
        "batchItemFailures": [{"itemIdentifier": f"m-{i}"} for i in (1, 2, 3, 4, 5, 6)]
    }
    assert sorted(query("SELECT sale_id FROM sales.sale_recorded")["sale_id"]) == ["S-1", "S-2"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"detail-type": "SaleUpdated"}, "is not this product's"),
        ({"source": "marketing.domain"}, "is not this product's"),
        ({"detail": {"data": {}}}, "envelope"),
        ({"time": "yesterday"}, "ISO 8601"),
        ({"detail": {"metadata": {"idempotency_key": ""}, "data": {}}}, "no idempotency key"),
        (
            {"detail": {"metadata": {"idempotency_key": "k", "data_product": "x.y"}, "data": {}}},
            "another product",
        ),
        ({"detail": {"metadata": {"idempotency_key": "k"}, "data": {"amount": True}}}, "number"),
        ({"detail": {"metadata": {"idempotency_key": "k"}, "data": {"vat": 1}}}, "no column"),
    ],
)
def test_each_refused_event_is_reported_with_its_id_and_reason(product, change, says):
    result = land_events(product, [{**event_dict(event_id="e-9"), **change}])

    assert result.written == 0
    assert [failure.event_id for failure in result.failed] == ["e-9"]
    assert says in result.failed[0].reason
    assert result.failures_frame().columns.tolist() == ["event_id", "reason"]


def test_an_event_that_is_not_a_dict_fails_without_an_id(product):
    result = land_events(product, [["not", "an", "event"]])

    assert result.failed == [LandingFailure(None, "not an EventBridge event (a dict), but list")]


def test_values_take_the_columns_types_and_objects_become_compact_json(mesh):
    """Given the SaleUpdated product (its contract has an array, changed), when an event lands,
    then an integer amount is a double, the array is its compact JSON text, and event_time is
    the event's UTC time."""
    product = mk.products.define_data_product(
        "sales", "SaleUpdated", description="Every change of a sale", classification="internal"
    )
    mk.products.create_data_product(product)
    event = {
        **event_dict(data={"sale_id": "S-1", "amount": 12, "changed": ["amount", "currency"]}),
        "detail-type": "SaleUpdated",
        "time": "2026-01-29T11:00:00+01:00",
    }

    land_events(product, [event])

    [row] = read_dataset_independently(product.dataset.location)
    assert row["amount"] == 12.0 and isinstance(row["amount"], float)
    assert row["changed"] == '["amount","currency"]'
    assert row["event_time"] == datetime(2026, 1, 29, 10, 0)
    assert row["event_date"] == "2026-01-29"


def test_integers_booleans_and_objects_keep_their_values_next_to_nulls(mesh):
    """Given a product whose contract has an integer, a boolean and an object, when events land
    with a 64-bit integer beside a missing one, then the integer keeps every digit (no float
    detour), the boolean stays a boolean, the object is compact JSON and the gaps are null."""
    registry = mk.contracts.ContractRegistry()
    schema = {
        "type": "object",
        "properties": {
            "points": {"type": "integer"},
            "vip": {"type": "boolean"},
            "tier": {"type": "object"},
        },
    }
    registry.register(mk.contracts.Contract("loyalty.domain", "PointsAwarded", "1.0", schema))
    product = mk.products.define_data_product(
        "loyalty",
        "PointsAwarded",
        description="Points",
        classification="internal",
        registry=registry,
    )
    mk.products.create_data_product(product)
    events = [
        {
            **event_dict(f"k-{n}", event_id=f"e-{n}", data=data),
            "source": "loyalty.domain",
            "detail-type": "PointsAwarded",
        }
        for n, data in enumerate(
            [{"points": 2**60 + 1, "vip": True, "tier": {"level": 2, "name": "Gold"}}, {}]
        )
    ]

    result = land_events(product, events)

    rows = sorted(read_dataset_independently(product.dataset.location), key=lambda r: r["event_id"])
    assert result.written == 2
    assert [(r["points"], r["vip"], r["tier"]) for r in rows] == [
        (2**60 + 1, True, '{"level":2,"name":"Gold"}'),
        (None, None, None),
    ]
    assert [c.type for c in product.columns[6:]] == ["bigint", "boolean", "string"]


def test_a_product_without_its_table_fails_every_record(mesh):
    """Given a product defined but never created, then land_events names create_data_product,
    and the handler reports every record, so that none is lost."""
    product = mk.products.define_data_product(
        "sales", "SaleRecorded", description="Every sale", classification="internal"
    )

    with pytest.raises(mk.products.DataProductNotFoundError, match="create_data_product"):
        land_events(product, [event_dict()])
    response = landing_handler(product)(sqs_event(event_dict("k-1"), event_dict("k-2")), None)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-0"}, {"itemIdentifier": "m-1"}]}


def test_a_failed_write_reports_every_record_and_landing_again_is_safe(product, monkeypatch):
    """Given a write that fails, then the handler reports the whole batch and land_events raises
    LandingError with what it knew; once S3 answers again, the batch lands once."""
    import awswrangler as wr

    event = sqs_event(event_dict("k-1"), event_dict("k-2"), {"source": "x"})
    original = wr.s3.to_parquet

    def broken(*args, **kwargs):
        raise OSError("connection reset")

    monkeypatch.setattr(wr.s3, "to_parquet", broken)
    response = landing_handler(product)(event, None)
    with pytest.raises(LandingError, match="landing the batch again is safe") as raised:
        land_events(product, [json.loads(r["body"]) for r in event["Records"]])
    monkeypatch.setattr(wr.s3, "to_parquet", original)

    assert response == {"batchItemFailures": [{"itemIdentifier": f"m-{i}"} for i in (0, 1, 2)]}
    assert raised.value.result.written == 0 and len(raised.value.result.failed) == 1
    assert landing_handler(product)(event, None) == {
        "batchItemFailures": [{"itemIdentifier": "m-2"}]
    }
    assert count() == 2


def test_a_partition_lost_after_its_files_were_written_comes_back(mesh, product):
    """Given rows whose Glue partition is missing (a write that failed between the files and
    the partition), when the same events are landed again, then nothing is written twice and
    the partition is registered: Athena reads only registered partitions."""
    land_events(product, [event_dict()])
    glue(mesh).delete_partition(
        DatabaseName="sales", TableName="sale_recorded", PartitionValues=["2026-01-29"]
    )

    again = land_events(product, [event_dict()])

    assert (again.written, again.duplicates) == (0, 1)
    partitions = glue(mesh).get_partitions(DatabaseName="sales", TableName="sale_recorded")
    assert [p["Values"] for p in partitions["Partitions"]] == [["2026-01-29"]]


def test_a_partition_glue_will_not_register_stops_the_batch(mesh, product, monkeypatch):
    """Given rows in S3 whose partition Glue refuses to register, then landing them again
    raises LandingError naming Glue's error (the batch is retried) rather than answering
    success over rows Athena cannot see."""
    import meshkit._aws

    land_events(product, [event_dict()])
    glue(mesh).delete_partition(
        DatabaseName="sales", TableName="sale_recorded", PartitionValues=["2026-01-29"]
    )
    client = meshkit._aws.client("glue")
    refused = {
        "PartitionValues": ["2026-01-29"],
        "ErrorDetail": {"ErrorCode": "ResourceNumberLimitExceededException"},
    }
    monkeypatch.setattr(client, "batch_create_partition", lambda **kwargs: {"Errors": [refused]})

    with pytest.raises(LandingError, match="ResourceNumberLimitExceededException") as raised:
        land_events(product, [event_dict()])

    assert (raised.value.result.written, raised.value.result.duplicates) == (0, 1)


def test_landing_result_is_a_record_of_what_happened():
    result = LandingResult(written=1, files=("s3://b/x.parquet",))

    assert repr(result) == "LandingResult(written=1, duplicates=0, failed=[], partitions=())"
    assert result.failures_frame().empty


# -- query -----------------------------------------------------------------------------------------


def test_an_empty_product_gives_an_empty_frame_with_its_columns(product):
    frame = query("SELECT * FROM sales.sale_recorded")

    assert frame.empty
    assert frame.columns.tolist() == [c.name for c in product.columns] + ["event_date"]
    assert frame.attrs["engine"] == "duckdb"


def test_query_filters_groups_and_reads_the_partition_column(product):
    land_events(
        product,
        [
            event_dict(f"k-{n}", event_id=f"e-{n}", time=f"2026-01-{day}T10:00:00Z")
            for n, day in [(1, 29), (2, 29), (3, 30)]
        ],
    )

    frame = query(
        "WITH days AS (SELECT event_date, count(*) AS n FROM sales.sale_recorded "
        "WHERE amount > 1 GROUP BY event_date) SELECT * FROM days ORDER BY event_date"
    )

    assert frame.to_dict("records") == [
        {"event_date": "2026-01-29", "n": 2},
        {"event_date": "2026-01-30", "n": 1},
    ]


def test_database_names_the_database_of_unqualified_tables(product):
    """As Athena's database parameter: tables named without a database are in it."""
    land_events(product, [event_dict()])

    frame = query("SELECT count(*) AS n FROM sale_recorded", database="sales")

    assert frame["n"].tolist() == [1]


def test_a_table_that_is_not_a_data_product_is_named_with_the_fix(mesh, product):
    glue(mesh).create_table(DatabaseName="sales", TableInput={"Name": "raw_sales"})

    with pytest.raises(NotADataProductError) as raised:
        query("SELECT * FROM sales.raw_sales")
    with pytest.raises(NotADataProductError) as missing:
        query("SELECT * FROM sales.sale_recorded JOIN sales.nothing USING (sale_id)")

    assert "sales.raw_sales" in str(raised.value) and "no descriptor" in str(raised.value)
    assert "sales.nothing" in str(missing.value) and "no such Glue table" in str(missing.value)
    for error in (raised.value, missing.value):
        assert "mk.products.list_data_products()" in str(error)
        assert isinstance(error, mk.products.DataProductNotFoundError)


def test_an_engine_error_is_a_query_error_naming_the_engine(product):
    with pytest.raises(QueryError) as raised:
        query("SELECT no_such_column FROM sales.sale_recorded")

    assert raised.value.engine == "duckdb"
    assert "no_such_column" in str(raised.value) and "Athena" in str(raised.value)


def test_on_aws_the_same_call_runs_athena_without_ctas(mesh, product, monkeypatch):
    """On the aws target, query() hands the SQL to awswrangler's Athena reader with
    ctas_approach=False (the offline server cannot run Athena: see the parity ledger), with the
    first table's database and the caller's options."""
    import awswrangler as wr
    import pandas as pd

    import meshkit._aws

    calls: list[tuple[str, dict]] = []

    def read_sql_query(sql, **kwargs):
        calls.append((sql, kwargs))
        return pd.DataFrame({"n": [3]})

    aws = dataclasses.replace(mesh, mode="aws")
    monkeypatch.setattr(meshkit._aws, "target", lambda: aws)
    monkeypatch.setattr(wr.athena, "read_sql_query", read_sql_query)
    sql = "SELECT count(*) AS n FROM sales.sale_recorded"

    frame = query(sql, workgroup="primary")
    monkeypatch.setitem(sys.modules, "duckdb", None)  # DuckDB is optional on AWS
    without_duckdb = query(sql)

    assert frame["n"].tolist() == [3] and frame.attrs["engine"] == "athena"
    assert without_duckdb.attrs["engine"] == "athena"
    assert calls[0][0] == sql
    assert {k: v for k, v in calls[0][1].items() if k != "boto3_session"} == {
        "database": "sales",
        "ctas_approach": False,
        "workgroup": "primary",
    }
    with pytest.raises(NotADataProductError, match=r"sales\.nothing"):
        query("SELECT * FROM sales.nothing")


def test_offline_without_duckdb_the_error_names_the_extra(product, monkeypatch):
    monkeypatch.setitem(sys.modules, "duckdb", None)

    with pytest.raises(MeshkitError, match=r"meshkit\[embedded\]"):
        query("SELECT count(*) FROM sales.sale_recorded")


# -- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("product_arg", "says"),
    [
        ("sales.sale-recorded", "product must be a DataProduct"),
        (None, "product must be a DataProduct"),
    ],
)
def test_bad_input_land_events_takes_a_data_product(mesh, sent, product_arg, says):
    sent.clear()
    with pytest.raises(ValidationError, match=says):
        land_events(product_arg, [event_dict()])
    with pytest.raises(ValidationError, match=says):
        landing_handler(product_arg)
    assert sent == []


@pytest.mark.parametrize("events", [event_dict(), "events", 7, None])
def test_bad_input_events_must_be_a_list_of_events(product, sent, events):
    sent.clear()
    with pytest.raises(ValidationError, match=r"events must be a list.*pass \[event\]"):
        land_events(product, events)
    assert sent == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"partition_keys": ("day",)}, "product.dataset.partition_keys"),
    ],
)
def test_bad_input_a_product_landing_cannot_write(product, sent, change, field):
    odd = dataclasses.replace(product, dataset=dataclasses.replace(product.dataset, **change))
    sent.clear()
    with pytest.raises(ValidationError, match=field):
        land_events(odd, [event_dict()])
    assert sent == []


def test_bad_input_a_product_without_the_envelope_or_with_an_unwritable_type(product, sent):
    no_envelope = dataclasses.replace(product, columns=product.columns[6:])
    map_column = dataclasses.replace(
        product, columns=(*product.columns, mk.products.Column("extras", "map<string,string>"))
    )
    sent.clear()
    with pytest.raises(ValidationError, match=r"product\.columns must start with the envelope"):
        land_events(no_envelope, [])
    with pytest.raises(ValidationError, match=r"product\.columns: column 'extras'"):
        land_events(map_column, [])
    assert sent == []


def test_bad_input_the_handler_takes_lambdas_sqs_event(product, sent):
    handler = landing_handler(product)
    sent.clear()
    with pytest.raises(ValidationError, match="'Records'"):
        handler({"detail": {}}, None)
    assert sent == []


@pytest.mark.parametrize("database", ["Sales", "sales; DROP", 7, ""])
def test_bad_input_database_must_be_a_glue_database_name(mesh, sent, database):
    sent.clear()
    with pytest.raises(InvalidQueryError, match="database must be a Glue database name"):
        query("SELECT * FROM sale_recorded", database=database)
    assert sent == []


@pytest.mark.parametrize(
    ("sql", "says"),
    [
        (None, "sql must be a SELECT statement as a string"),
        ("   ", "sql must be a SELECT statement as a string"),
        ("SELEC count(*) FROM sales.sale_recorded", "sql is not valid SQL"),
        ("DELETE FROM sales.sale_recorded", "sql must be one SELECT statement"),
        ("SELECT 1; SELECT 2", "sql holds 2 statements"),
        ("SELECT * FROM sale_recorded", "name each data product as <database>.<table>"),
        ("SELECT * FROM awsdatacatalog.sales.sale_recorded", "<database>.<table>"),
    ],
)
def test_bad_input_sql_is_refused_before_anything_is_sent(mesh, sent, sql, says):
    sent.clear()
    with pytest.raises(InvalidQueryError) as raised:
        query(sql)

    assert says in str(raised.value)
    assert isinstance(raised.value, ValidationError)
    assert sent == []
