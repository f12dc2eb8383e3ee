"""The Sales sample domain: its table, the article's Lambda handler, and change data capture.

Two ways the Sales domain turns what happens into events:

- ``lambda_handler``: the article's producer, invoked with a sale, publishing ``SaleRecorded``;
- ``stream_handler``: change data capture. The Sales table's DynamoDB stream feeds a Lambda
  function that turns each INSERT, MODIFY and REMOVE into ``SaleRecorded``, ``SaleUpdated`` and
  ``SaleDeleted`` events.

``create_sales_table`` and ``delete_sales_table`` make and remove the table. What is not specific
to Sales, the local DynamoDB Streams event source mapping (``StreamRunner``), lives in
``meshkit.producers``, which also re-exports these names: a Lambda function may be configured
with the handler ``meshkit.producers.lambda_handler`` or ``meshkit.sales.lambda_handler``.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import boto3
from aws_lambda_powertools.utilities.data_classes import DynamoDBStreamEvent
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    DynamoDBRecord,
    DynamoDBRecordEventName,
)

from . import _aws, contracts, events
from ._lambda import ensure_target
from ._shared import DOMAIN_TAG, WORKBOOK_TAG, create_domain_table, delete_domain_table
from .buses import bus_name
from .exceptions import NotMeshkitResourceError, ValidationError

__all__ = [
    "SALES_SOURCE",
    "SALES_TABLE",
    "create_sales_table",
    "delete_sales_table",
    "lambda_handler",
    "sale_event_from_record",
    "stream_handler",
]

_logger = logging.getLogger(__name__)

SALES_SOURCE = "sales.domain"
SALES_TABLE = "Sales"
_BUS_ENV = "SALES_EVENT_BUS"  # the Lambda functions' configuration: which bus to publish on


def create_sales_table(
    *, name: str = SALES_TABLE, boto3_session: boto3.Session | None = None
) -> str:
    """Create the Sales domain's table with a NEW_AND_OLD_IMAGES stream; return the table ARN.

    Idempotent. The table is keyed by ``sale_id`` and billed per request, and tagged like the
    domain's bus. ``meshkit.producers.StreamRunner`` takes the table's name or ARN and reads its
    latest stream; ``describe_table(...)["Table"]["LatestStreamArn"]`` names that stream (for
    Lambda's ``create_event_source_mapping``).

    Parameters
    ----------
    name : str, default "Sales"
        The table's name.
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Returns
    -------
    str
        The table's ARN.

    Raises
    ------
    meshkit.exceptions.ValidationError
        When a table of that name exists without a NEW_AND_OLD_IMAGES stream.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.sales.create_sales_table(name="SalesCreateExample")
    'arn:aws:dynamodb:us-west-2:123456789012:table/SalesCreateExample'
    >>> mk.sales.delete_sales_table(name="SalesCreateExample")
    True
    """

    def check(table: Mapping[str, Any]) -> None:
        stream = table.get("StreamSpecification", {})
        if not stream.get("StreamEnabled") or stream.get("StreamViewType") != "NEW_AND_OLD_IMAGES":
            raise ValidationError(
                f"table {name} exists without a NEW_AND_OLD_IMAGES stream: enable one with "
                "update_table(StreamSpecification=...), or choose another name"
            )

    return create_domain_table(
        _aws.client("dynamodb", boto3_session),
        name=name,
        domain="sales",
        keys=[("sale_id", "S")],
        check=check,
        stream_view_type="NEW_AND_OLD_IMAGES",
    )


def delete_sales_table(
    *, name: str = SALES_TABLE, boto3_session: boto3.Session | None = None
) -> bool:
    """Delete the Sales domain's table, if meshkit created it; wait until it is gone.

    For a fresh start: a new table's stream holds only the changes made after it was created.
    The old table's stream records stay readable (for 24 hours on AWS) but belong to the old
    stream ARN, which a new event source mapping does not read.

    Parameters
    ----------
    name : str, default "Sales"
        The table's name.
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Returns
    -------
    bool
        True when a table was deleted, False when there was none.

    Raises
    ------
    meshkit.exceptions.NotMeshkitResourceError
        When the table exists without the Sales domain's ``meshkit:`` tags (someone else's).

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.sales.create_sales_table(name="SalesDeleteExample")
    >>> mk.sales.delete_sales_table(name="SalesDeleteExample")
    True
    >>> mk.sales.delete_sales_table(name="SalesDeleteExample")
    False
    """

    def check(tags: Mapping[str, str]) -> None:
        if tags.get(WORKBOOK_TAG) != "true" or tags.get(DOMAIN_TAG) != "sales":
            raise NotMeshkitResourceError(
                f"table {name} exists but meshkit did not create it for the sales domain (no "
                f"{WORKBOOK_TAG} and {DOMAIN_TAG}=sales tags): delete it yourself if it is yours, "
                "or use another name"
            )

    if not delete_domain_table(_aws.client("dynamodb", boto3_session), name=name, check=check):
        return False
    _logger.info("deleted table %s", name)
    return True


# -- the article's producer ---------------------------------------------------------------------


def lambda_handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """The article's producer: publish ``SaleRecorded`` for ``{"sale_id", "amount"}``.

    Unlike the article's version it checks the result of PutEvents: an event that was not
    delivered raises ``PublishError``, so Lambda retries the invocation (and, once retries are
    exhausted, hands it to the function's dead-letter queue or on-failure destination) instead of
    answering 200 over a lost event. The bus comes from ``SALES_EVENT_BUS`` (default
    ``SalesEventBus``).

    Parameters
    ----------
    event : mapping
        The invocation event: ``sale_id``, ``amount`` and, optionally, ``timestamp`` (default:
        now, in UTC).
    context : object
        Lambda's context object (unused; ``None`` will do).

    Returns
    -------
    dict
        The article's answer: ``{"statusCode": 200, "body": '"Event published successfully!"'}``.

    Raises
    ------
    meshkit.exceptions.ValidationError
        When the event lacks ``sale_id`` or ``amount``, or the sale breaks its contract.
    meshkit.events.UnknownBusError
        When the bus does not exist (EventBridge would drop the event silently).
    meshkit.events.PublishError
        When the event was not delivered (after ``publish``'s retries).

    Examples
    --------
    >>> import os, meshkit as mk
    >>> bus = mk.buses.create_domain_bus("sales", name="SalesHandlerExampleBus")
    >>> os.environ["SALES_EVENT_BUS"] = "SalesHandlerExampleBus"  # the function's configuration
    >>> mk.sales.lambda_handler({"sale_id": "S-1", "amount": 12.5}, None)
    {'statusCode': 200, 'body': '"Event published successfully!"'}
    >>> del os.environ["SALES_EVENT_BUS"]
    >>> mk.buses.delete_domain_bus("sales", name="SalesHandlerExampleBus")
    True
    """
    ensure_target()
    missing = [key for key in ("sale_id", "amount") if key not in event]
    if missing:
        raise ValidationError(
            f"the invocation event lacks {', '.join(missing)}: invoke with "
            '{"sale_id": "S-1", "amount": 12.5}'
        )
    sale_id, amount = event["sale_id"], event["amount"]
    timestamp = event.get("timestamp") or datetime.now(timezone.utc).isoformat()
    sale = events.DomainEvent(
        source=SALES_SOURCE,
        detail_type="SaleRecorded",
        detail={"sale_id": sale_id, "amount": amount, "timestamp": timestamp},
        idempotency_key=f"sale-recorded/{sale_id}",  # the same sale twice is the same fact
    )
    events.publish(os.environ.get(_BUS_ENV, bus_name("sales")), [sale], raise_on_failure=True)
    return {"statusCode": 200, "body": json.dumps("Event published successfully!")}


# -- change data capture ------------------------------------------------------------------------

_DETAIL_TYPES = {
    DynamoDBRecordEventName.INSERT: "SaleRecorded",
    DynamoDBRecordEventName.MODIFY: "SaleUpdated",
    DynamoDBRecordEventName.REMOVE: "SaleDeleted",
}
_CONTRACT_FIELDS = {
    "SaleRecorded": ("sale_id", "amount", "timestamp", "currency"),
    "SaleUpdated": ("sale_id", "amount", "timestamp", "currency"),
    "SaleDeleted": ("sale_id",),
}


def sale_event_from_record(record: DynamoDBRecord) -> events.DomainEvent:
    """The domain event for one stream record of the Sales table.

    INSERT -> ``SaleRecorded``, MODIFY -> ``SaleUpdated`` (with the names of the ``changed``
    fields), REMOVE -> ``SaleDeleted``. The idempotency key is the table, item and stream sequence
    number: the same change delivered twice (Lambda retries batches) has the same key.

    Parameters
    ----------
    record : aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event.DynamoDBRecord
        One record of a DynamoDB Streams event, as Lambda delivers it.

    Returns
    -------
    meshkit.events.DomainEvent
        Not yet checked against its contract (``stream_handler`` checks it).

    Raises
    ------
    meshkit.exceptions.ValidationError
        When the record has no ``eventName`` or no ``dynamodb`` section.

    Examples
    --------
    >>> import meshkit as mk
    >>> from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import (
    ...     DynamoDBRecord)
    >>> image = {"sale_id": {"S": "S-1"}, "amount": {"N": "12.5"}}
    >>> record = DynamoDBRecord(
    ...     {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "111", "NewImage": image}})
    >>> event = mk.sales.sale_event_from_record(record)
    >>> event.detail_type, event.detail, event.idempotency_key
    ('SaleRecorded', {'sale_id': 'S-1', 'amount': 12.5}, 'sales/S-1/111')
    """
    event_name, stream = record.event_name, record.dynamodb
    if event_name is None or stream is None:
        raise ValidationError(
            f"stream record {record.event_id} has no eventName or no dynamodb section: pass a "
            "record of a DynamoDB Streams event, as Lambda delivers it"
        )
    detail_type = _DETAIL_TYPES[event_name]
    image = stream.old_image if detail_type == "SaleDeleted" else stream.new_image
    item = {key: _plain(value) for key, value in image.items()}
    detail = {key: item[key] for key in _CONTRACT_FIELDS[detail_type] if key in item}
    version = "1.1" if detail_type == "SaleRecorded" and "currency" in detail else "1.0"
    if detail_type == "SaleUpdated":
        old = {key: _plain(value) for key, value in stream.old_image.items()}
        detail["changed"] = sorted(
            key for key in item.keys() | old.keys() if item.get(key) != old.get(key)
        )
    created = stream.approximate_creation_date_time
    return events.DomainEvent(
        source=SALES_SOURCE,
        detail_type=detail_type,
        detail=detail,
        idempotency_key=f"sales/{item.get('sale_id')}/{stream.sequence_number}",
        correlation_id=str(item.get("correlation_id") or record.event_id),
        schema_version=version,
        time=datetime.fromtimestamp(created, timezone.utc) if created else None,
    )


def stream_handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
    """Lambda handler for the Sales table's stream: publish one event per change, in one go.

    Records are converted and checked against their contracts one by one, then published
    together (``publish`` batches them by 10), which costs a tenth of the requests that a
    record-at-a-time handler makes. Records that could not be converted or delivered are reported
    in a partial batch response, so Lambda (or ``meshkit.producers.StreamRunner``) retries from
    the first of them; retried records keep their idempotency keys. Enable
    ``ReportBatchItemFailures`` on the event source mapping when you deploy it. The bus comes from
    ``SALES_EVENT_BUS`` (default ``SalesEventBus``).

    Parameters
    ----------
    event : mapping
        A DynamoDB Streams event: ``{"Records": [...]}``.
    context : object
        Lambda's context object (unused; ``None`` will do).

    Returns
    -------
    dict
        ``{"batchItemFailures": [{"itemIdentifier": <sequence number>}, ...]}``

    Raises
    ------
    meshkit.exceptions.ValidationError
        When a record has no sequence number to report it by (not a DynamoDB Streams record);
        Lambda then retries the whole batch.

    Examples
    --------
    A record that breaks its contract (a ``SaleDeleted`` needs a ``sale_id``) is reported by its
    sequence number, for Lambda to retry, and is not published:

    >>> import meshkit as mk
    >>> record = {"eventName": "REMOVE", "dynamodb": {"SequenceNumber": "111", "OldImage": {}}}
    >>> mk.sales.stream_handler({"Records": [record]}, None)
    {'batchItemFailures': [{'itemIdentifier': '111'}]}
    """
    ensure_target()
    registry = contracts.default_registry()
    bus = os.environ.get(_BUS_ENV, bus_name("sales"))
    failed: list[str] = []
    ready: list[tuple[str, events.DomainEvent]] = []
    for record in DynamoDBStreamEvent(dict(event)).records:
        sequence = _sequence_number(record)
        try:
            domain_event = sale_event_from_record(record)
            registry.get(
                domain_event.source, domain_event.detail_type, domain_event.schema_version
            ).validate(domain_event.detail)
        except (ValidationError, KeyError) as err:
            _logger.warning("record %s cannot become an event: %s", sequence, err)
            failed.append(sequence)
            continue
        ready.append((sequence, domain_event))
    if ready:
        result = events.publish(bus, [e for _, e in ready], validate=False)
        undelivered = {id(f.event) for f in result.failed}
        failed.extend(sequence for sequence, e in ready if id(e) in undelivered)
    return {"batchItemFailures": [{"itemIdentifier": sequence} for sequence in failed]}


def _sequence_number(record: DynamoDBRecord) -> str:
    """The identifier a partial batch response reports a record by."""
    sequence = record.dynamodb.sequence_number if record.dynamodb is not None else None
    if not sequence:
        # It cannot be reported alone: failing the handler fails (and retries) the whole batch.
        raise ValidationError(
            f"stream record {record.event_id} has no dynamodb.SequenceNumber, so it cannot be "
            "reported in batchItemFailures: pass the records of a DynamoDB Streams event as "
            "Lambda delivers them"
        )
    return sequence


def _plain(value: Any) -> Any:
    """DynamoDB numbers arrive as Decimal; events carry JSON numbers."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
