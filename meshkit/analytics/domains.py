"""Two domains that act on the flow: CustomerSupport opens cases, Marketing counts sales a minute.

Both are SQS consumers in the shape Lambda runs (``mk.subscriptions.subscribe`` makes their
queues, ``mk.consumers.run`` feeds them locally), built on Powertools' ``BatchProcessor``: each
record succeeds or fails on its own, and the handler answers with a partial batch response.
SQS delivers at least once, so each makes a redelivered event a no-op by a DynamoDB condition,
not by memory:

CustomerSupport (``case_handler``)
    Reads ``FraudSuspected`` from the Fraud bus and opens one case per suspicion in its table
    (``create_cases_table``). The case id is derived from ``suspicion_id``, and the case is
    written with ``attribute_not_exists(case_id)``: a suspicion delivered again finds its case
    and changes nothing. A new case is announced once as ``CaseOpened`` 1.0 on the
    CustomerSupport bus (``customer-support.domain``), the case remembering that it was, so a
    batch retried after the write but before the publish still announces it (under the same
    idempotency key).
Marketing (``minute_aggregate_handler``)
    Reads ``SaleRecorded`` from the Sales bus and keeps the count and the amount of sales per
    minute (and per city) with DynamoDB's atomic ``ADD``. Each row also holds the set of the
    sales it counted, and a sale is added by one UpdateItem conditioned on
    ``NOT contains(sale_ids, :sale_id)``: the count, the amount and the set change together or
    not at all, so a sale delivered again changes nothing. Each row is idempotent on its own,
    so a retry after a crash between a minute's row and its city's completes the second
    without touching the first. No transaction: half the write cost of TransactWriteItems, and
    none of moto's (it copies the table for every action of a transaction).
"""

from __future__ import annotations

import hashlib
import json
import logging
import numbers
import os
import re
from collections.abc import Callable, Mapping
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import boto3
import pandas as pd
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from .. import _aws, contracts, events
from .._lambda import ensure_target
from .._shared import (
    check_owner,
    create_domain_table,
    delete_domain_table,
    error_code,
    parse_bus,
    table_key_schema,
    table_tags,
)
from ..buses import bus_name
from ..exceptions import ValidationError
from .simulator import FRAUD_KINDS, SalesSimulation

__all__ = [
    "CASES_TABLE",
    "CASE_PRIORITIES",
    "CUSTOMER_SUPPORT_SOURCE",
    "SALES_MINUTES_TABLE",
    "case_handler",
    "case_priority",
    "create_cases_table",
    "create_sales_minutes_table",
    "delete_cases_table",
    "delete_sales_minutes_table",
    "list_cases",
    "minute_aggregate_handler",
    "sales_per_minute",
]

_logger = logging.getLogger(__name__)

CUSTOMER_SUPPORT_SOURCE = "customer-support.domain"
CASES_TABLE = "CustomerSupportCases"
SALES_MINUTES_TABLE = "MarketingSalesPerMinute"
CASE_PRIORITIES = ("low", "medium", "high", "urgent")
_KIND_PRIORITY = {  # what a reviewer should look at first, before the score's say
    "new_customer_high_amount": 0,  # a real new customer is the likelier story
    "card_burst": 1,
    "card_testing": 2,  # the card is known to work: the thief cashes in next
    "impossible_travel": 2,  # the card is cloned
}
_URGENT_SCORE = 0.8  # at or above: one priority up
_CASES_ENV = "CUSTOMER_SUPPORT_CASES_TABLE"
_BUS_ENV = "CUSTOMER_SUPPORT_EVENT_BUS"
_MINUTES_ENV = "MARKETING_SALES_MINUTES_TABLE"
_TABLE_NAME = re.compile(r"[A-Za-z0-9_.\-]{3,255}")
_SERIALIZE = TypeSerializer().serialize
_DESERIALIZE = TypeDeserializer().deserialize

_Handler = Callable[[Mapping[str, Any], Any], dict[str, list[dict[str, str]]]]


# -- shared checks ------------------------------------------------------------------------------


def _table_name(value: Any, field: str, default: str) -> str | None:
    """None (resolved per invocation from the environment) or a valid DynamoDB table name."""
    if value is None:
        return None
    if not isinstance(value, str) or not _TABLE_NAME.fullmatch(value):
        raise ValidationError(
            f"{field} {value!r:.80} is not a DynamoDB table name: give 3 to 255 letters, digits, "
            f"'_', '-' or '.', e.g. {field}={default!r}"
        )
    return value


def _event_data(body: str, detail_type: str) -> dict[str, Any] | None:
    """The data of the EventBridge event in an SQS body; None for an event of another type."""
    envelope = json.loads(body)
    if not isinstance(envelope, Mapping) or not isinstance(envelope.get("detail"), Mapping):
        raise ValidationError(
            "the message body is not an EventBridge event with a detail: subscribe the queue to "
            "the bus with mk.subscriptions.subscribe(...)"
        )
    if envelope.get("detail-type") != detail_type:
        _logger.info("skipped an event of type %r", envelope.get("detail-type"))
        return None
    detail = envelope["detail"]
    data = detail["data"] if "data" in detail and "metadata" in detail else detail
    if not isinstance(data, Mapping):
        raise ValidationError(f"the {detail_type} event's data is not an object")
    return dict(data)


def _check_records(event: Any) -> dict[str, Any]:
    if not isinstance(event, Mapping) or not isinstance(event.get("Records"), list):
        raise ValidationError(
            'the invocation event has no "Records" list: pass an SQS event as Lambda delivers '
            "it (mk.consumers.run does)"
        )
    return dict(event)


def _batch(
    event: Mapping[str, Any], context: Any, record_handler: Callable[[Any], Any]
) -> dict[str, list[dict[str, str]]]:
    """Powertools' batch processing: each record on its own, a partial batch response."""
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    # Every record failing is still a partial batch response (each reported), not an exception.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    answer = process_partial_response(
        event=_check_records(event),
        record_handler=record_handler,
        processor=processor,
        context=context,
    )
    return {
        "batchItemFailures": [
            {"itemIdentifier": str(f["itemIdentifier"])} for f in answer["batchItemFailures"]
        ]
    }


def _scan(dynamodb: Any, table: str, **filters: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    for page in dynamodb.get_paginator("scan").paginate(
        TableName=table, ConsistentRead=True, **filters
    ):
        items += [{k: _DESERIALIZE(v) for k, v in item.items()} for item in page["Items"]]
    return items


# -- CustomerSupport: cases ---------------------------------------------------------------------


def case_priority(kind: str, score: float = 0.5) -> str:
    """A case's priority: from the kind of fraud, one level up at a score of 0.8 or more.

    ``new_customer_high_amount`` starts ``low`` (a real new customer is the likelier story),
    ``card_burst`` ``medium``, ``card_testing`` and ``impossible_travel`` ``high`` (a card known
    to work, a cloned card).

    Parameters
    ----------
    kind : str
        One of ``FRAUD_KINDS``.
    score : float, default 0.5
        The suspicion's score, 0 to 1.

    Returns
    -------
    str
        One of ``CASE_PRIORITIES``.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For an unknown kind or a score outside 0 to 1.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.analytics.case_priority("card_burst"), mk.analytics.case_priority("card_testing", 0.9)
    ('medium', 'urgent')
    """
    if kind not in _KIND_PRIORITY:
        raise ValidationError(f"kind is {kind!r:.40}; give one of {', '.join(FRAUD_KINDS)}")
    value: Any = score  # checked as any caller's value: a bool or a string is refused
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= float(value) <= 1:
        raise ValidationError(f"score is {score!r:.40}; give a number from 0 to 1, e.g. 0.5")
    level = _KIND_PRIORITY[kind] + (1 if float(value) >= _URGENT_SCORE else 0)
    return CASE_PRIORITIES[level]


def _case_id(suspicion_id: str) -> str:
    return "case-" + hashlib.blake2b(suspicion_id.encode(), digest_size=8).hexdigest()


def create_cases_table(
    *, name: str = CASES_TABLE, boto3_session: boto3.Session | None = None
) -> str:
    """Create CustomerSupport's cases table, keyed by ``case_id``; return its ARN.

    Idempotent. Billed per request, tagged for the ``customer-support`` domain.

    Parameters
    ----------
    name : str, default "CustomerSupportCases"
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Returns
    -------
    str
        The table's ARN.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad name (nothing sent), or a table of that name with another key schema.
    meshkit.exceptions.NotMeshkitResourceError
        When a table of that name exists that meshkit did not make for CustomerSupport.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.analytics.create_cases_table(name="CasesCreateExample")
    'arn:aws:dynamodb:us-west-2:123456789012:table/CasesCreateExample'
    >>> mk.analytics.delete_cases_table(name="CasesCreateExample")
    True
    """
    return _create(name, "name", CASES_TABLE, "customer-support", "case_id", None, boto3_session)


def _create(
    name: Any,
    field: str,
    default: str,
    domain: str,
    key: str,
    ttl_attribute: str | None,
    boto3_session: boto3.Session | None,
) -> str:
    checked = _table_name(name, field, default)
    if checked is None:
        raise ValidationError(f"{field} is None; give a table name, e.g. {field}={default!r}")
    dynamodb = _aws.client("dynamodb", boto3_session)

    def check(table: Mapping[str, Any]) -> None:
        if table.get("KeySchema") != table_key_schema([(key, "S")]):
            raise ValidationError(
                f"table {checked} exists with the key schema {table.get('KeySchema')}, not "
                f"{key} (S) alone: choose another {field}="
            )
        check_owner(
            table_tags(dynamodb, table["TableArn"]),
            what=f"table {checked}",
            domain=domain,
            fix=f"choose another {field}=",
        )

    return create_domain_table(
        dynamodb,
        name=checked,
        domain=domain,
        keys=[(key, "S")],
        check=check,
        ttl_attribute=ttl_attribute,
    )


def _delete(name: Any, default: str, domain: str, boto3_session: boto3.Session | None) -> bool:
    checked = _table_name(name, "name", default)
    if checked is None:
        raise ValidationError(f"name is None; give a table name, e.g. name={default!r}")
    return delete_domain_table(
        _aws.client("dynamodb", boto3_session),
        name=checked,
        check=lambda tags: check_owner(
            tags, what=f"table {checked}", domain=domain, fix="delete it yourself if it is yours"
        ),
    )


def delete_cases_table(
    *, name: str = CASES_TABLE, boto3_session: boto3.Session | None = None
) -> bool:
    """Delete the cases table, if meshkit made it for CustomerSupport; wait until it is gone.

    Parameters
    ----------
    name : str, default "CustomerSupportCases"
    boto3_session : boto3.Session, optional

    Returns
    -------
    bool
        True when a table was deleted, False when there was none.

    Raises
    ------
    meshkit.exceptions.NotMeshkitResourceError
        When the table lacks CustomerSupport's ``meshkit:`` tags.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.analytics.create_cases_table(name="CasesDeleteExample")
    >>> mk.analytics.delete_cases_table(name="CasesDeleteExample")
    True
    >>> mk.analytics.delete_cases_table(name="CasesDeleteExample")
    False
    """
    return _delete(name, CASES_TABLE, "customer-support", boto3_session)


def case_handler(
    *,
    table_name: str | None = None,
    bus: str | None = None,
    publish_opened: bool = True,
    boto3_session: boto3.Session | None = None,
) -> _Handler:
    """A Lambda SQS handler that opens one case per ``FraudSuspected``, idempotently.

    Per record (Powertools' ``BatchProcessor``; enable ``ReportBatchItemFailures``): read the
    suspicion, check it against ``FraudSuspected`` 1.0 (a record that breaks it fails alone),
    and put the case with ``attribute_not_exists(case_id)``. A suspicion delivered again finds
    its case and changes nothing. A new case is published as ``CaseOpened`` 1.0 (idempotency key
    ``case-opened/<case_id>``) and then marked ``announced``; a case found unannounced (the
    publish failed last time) is announced on redelivery. Events of other types are skipped.

    The case: ``case_id`` (``case-`` and 16 hex digits of ``suspicion_id``), ``suspicion_id``,
    ``kind``, ``card_id``, ``customer_id`` (when known), ``sale_ids``, ``score``,
    ``priority`` (``case_priority``), ``status`` ``"open"``, ``opened_at`` (ISO 8601 UTC) and
    ``announced``.

    Parameters
    ----------
    table_name : str, optional
        Default: ``CUSTOMER_SUPPORT_CASES_TABLE`` from the environment, else
        ``CustomerSupportCases``.
    bus : str, optional
        Where ``CaseOpened`` goes. Default: ``CUSTOMER_SUPPORT_EVENT_BUS`` from the
        environment, else ``CustomerSupportEventBus``.
    publish_opened : bool, default True
        False: open cases without publishing.
    boto3_session : boto3.Session, optional

    Returns
    -------
    callable
        ``handler(event, context) -> {"batchItemFailures": [{"itemIdentifier": <messageId>}]}``

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad argument (here), or from the handler for an event without ``Records``.

    Examples
    --------
    >>> import json, meshkit as mk
    >>> table = mk.analytics.create_cases_table(name="CasesHandlerExample")
    >>> handler = mk.analytics.case_handler(table_name="CasesHandlerExample",
    ...                                     publish_opened=False)
    >>> suspicion = {"suspicion_id": "card_burst/card-1/6814aab4b5b4", "kind": "card_burst",
    ...              "card_id": "card-1", "sale_ids": ["S-1", "S-2"], "evidence": {},
    ...              "detected_at": "2026-06-01T12:00:00Z", "score": 0.5}
    >>> body = {"detail-type": "FraudSuspected", "source": "fraud.domain",
    ...         "detail": {"metadata": {}, "data": suspicion}}
    >>> records = [{"messageId": "m-1", "body": json.dumps(body)},
    ...            {"messageId": "m-2", "body": json.dumps(body)},  # delivered twice
    ...            {"messageId": "m-3", "body": "not json"}]
    >>> handler({"Records": records}, None)
    {'batchItemFailures': [{'itemIdentifier': 'm-3'}]}
    >>> mk.analytics.list_cases(table_name="CasesHandlerExample")[["case_id", "priority"]]
                     case_id priority
    0  case-4d457ff314cfa456   medium
    >>> mk.analytics.delete_cases_table(name="CasesHandlerExample")
    True
    """
    table_arg = _table_name(table_name, "table_name", CASES_TABLE)
    if bus is not None:
        parse_bus(bus)
    if not isinstance(publish_opened, bool):
        raise ValidationError(f"publish_opened must be True or False, not {publish_opened!r:.40}")
    suspected = contracts.get("fraud.domain", "FraudSuspected", "1.0")

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
        ensure_target()
        table = table_arg or os.environ.get(_CASES_ENV, CASES_TABLE)
        target_bus = bus or os.environ.get(_BUS_ENV, bus_name("customer-support"))
        dynamodb = _aws.client("dynamodb", boto3_session)

        def record_handler(record: Any) -> str | None:
            detail = _event_data(record.body, "FraudSuspected")
            if detail is None:
                return None
            suspected.validate(detail)
            case = _case_of(detail)
            stored = _open_case(dynamodb, table, case)
            if publish_opened and not stored.get("announced"):
                events.publish(
                    target_bus,
                    [_case_opened(stored)],
                    raise_on_failure=True,
                    boto3_session=boto3_session,
                )
                dynamodb.update_item(
                    TableName=table,
                    Key={"case_id": {"S": case["case_id"]}},
                    UpdateExpression="SET announced = :yes",
                    ExpressionAttributeValues={":yes": {"BOOL": True}},
                )
            return str(case["case_id"])

        return _batch(event, context, record_handler)

    return handler


def _case_of(detail: Mapping[str, Any]) -> dict[str, Any]:
    score = detail.get("score", 0.5)
    case = {
        "case_id": _case_id(detail["suspicion_id"]),
        "suspicion_id": detail["suspicion_id"],
        "kind": detail["kind"],
        "card_id": detail["card_id"],
        "sale_ids": list(detail["sale_ids"]),
        "score": Decimal(str(score)),
        "priority": case_priority(detail["kind"], score),
        "status": "open",
        "opened_at": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "announced": False,
    }
    if detail.get("customer_id") is not None:
        case["customer_id"] = detail["customer_id"]
    return case


def _open_case(dynamodb: Any, table: str, case: Mapping[str, Any]) -> dict[str, Any]:
    """Put the case unless it exists; the case as stored (new, or found)."""
    try:
        dynamodb.put_item(
            TableName=table,
            Item={k: _SERIALIZE(v) for k, v in case.items()},
            ConditionExpression="attribute_not_exists(case_id)",
        )
    except ClientError as err:
        if error_code(err) != "ConditionalCheckFailedException":
            raise
        found = dynamodb.get_item(
            TableName=table, Key={"case_id": {"S": case["case_id"]}}, ConsistentRead=True
        ).get("Item", {})
        _logger.info(
            "case %s exists: suspicion %s seen before", case["case_id"], case["suspicion_id"]
        )
        return {k: _DESERIALIZE(v) for k, v in found.items()}
    _logger.info("opened case %s for suspicion %s", case["case_id"], case["suspicion_id"])
    return dict(case)


def _case_opened(case: Mapping[str, Any]) -> events.DomainEvent:
    detail = {
        key: case[key]
        for key in ("case_id", "suspicion_id", "kind", "card_id", "priority", "opened_at")
    }
    detail["sale_ids"] = list(case["sale_ids"])
    if case.get("customer_id") is not None:
        detail["customer_id"] = case["customer_id"]
    return events.DomainEvent(
        source=CUSTOMER_SUPPORT_SOURCE,
        detail_type="CaseOpened",
        detail=detail,
        idempotency_key=f"case-opened/{case['case_id']}",
        correlation_id=f"card/{case['card_id']}",
        schema_version="1.0",
    )


_CASE_COLUMNS = [
    "case_id",
    "suspicion_id",
    "kind",
    "card_id",
    "customer_id",
    "sale_ids",
    "score",
    "priority",
    "status",
    "opened_at",
    "announced",
]


def list_cases(
    *,
    table_name: str | None = None,
    status: str | None = None,
    boto3_session: boto3.Session | None = None,
) -> pd.DataFrame:
    """CustomerSupport's cases, one row each, oldest first.

    Parameters
    ----------
    table_name : str, optional
        Default: ``CUSTOMER_SUPPORT_CASES_TABLE`` from the environment, else
        ``CustomerSupportCases``.
    status : str, optional
        Only the cases of this status (``"open"``).
    boto3_session : boto3.Session, optional

    Returns
    -------
    pandas.DataFrame
        ``case_id``, ``suspicion_id``, ``kind``, ``card_id``, ``customer_id``, ``sale_ids``
        (lists), ``score``, ``priority``, ``status``, ``opened_at`` (UTC timestamps),
        ``announced``.

    Examples
    --------
    >>> import meshkit as mk
    >>> table = mk.analytics.create_cases_table(name="CasesListExample")
    >>> len(mk.analytics.list_cases(table_name="CasesListExample", status="open"))
    0
    >>> mk.analytics.delete_cases_table(name="CasesListExample")
    True
    """
    table = _table_name(table_name, "table_name", CASES_TABLE) or os.environ.get(
        _CASES_ENV, CASES_TABLE
    )
    if status is not None and (not isinstance(status, str) or not status):
        raise ValidationError(f"status is {status!r:.40}; give a status such as 'open', or None")
    filters: dict[str, Any] = {}
    if status is not None:
        filters = {
            "FilterExpression": "#s = :s",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": status}},
        }
    items = _scan(_aws.client("dynamodb", boto3_session), table, **filters)
    frame = pd.DataFrame(items, columns=_CASE_COLUMNS)
    frame["score"] = frame["score"].astype(float)
    frame["opened_at"] = pd.to_datetime(frame["opened_at"], utc=True)
    frame["customer_id"] = (
        frame["customer_id"].astype(object).where(frame["customer_id"].notna(), None)
    )
    return frame.sort_values(["opened_at", "case_id"], ignore_index=True)


# -- Marketing: sales per minute ----------------------------------------------------------------


def create_sales_minutes_table(
    *, name: str = SALES_MINUTES_TABLE, boto3_session: boto3.Session | None = None
) -> str:
    """Create Marketing's sales-per-minute table, keyed by ``pk``; return its ARN.

    Idempotent. Items: ``minute#<YYYY-MM-DDTHH:MM>`` (all sales of a minute),
    ``minute#<minute>#city#<city>``, each with the set of the sales it counted (``sale_ids``),
    which makes a redelivered sale a no-op. Billed per request,
    tagged for the ``marketing`` domain.

    Parameters
    ----------
    name : str, default "MarketingSalesPerMinute"
    boto3_session : boto3.Session, optional

    Returns
    -------
    str
        The table's ARN.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad name (nothing sent), or a table of that name with another key schema.
    meshkit.exceptions.NotMeshkitResourceError
        When a table of that name exists that meshkit did not make for Marketing.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.analytics.create_sales_minutes_table(name="MinutesCreateExample")
    'arn:aws:dynamodb:us-west-2:123456789012:table/MinutesCreateExample'
    >>> mk.analytics.delete_sales_minutes_table(name="MinutesCreateExample")
    True
    """
    return _create(name, "name", SALES_MINUTES_TABLE, "marketing", "pk", None, boto3_session)


def delete_sales_minutes_table(
    *, name: str = SALES_MINUTES_TABLE, boto3_session: boto3.Session | None = None
) -> bool:
    """Delete the sales-per-minute table, if meshkit made it for Marketing.

    Parameters
    ----------
    name : str, default "MarketingSalesPerMinute"
    boto3_session : boto3.Session, optional

    Returns
    -------
    bool
        True when a table was deleted, False when there was none.

    Raises
    ------
    meshkit.exceptions.NotMeshkitResourceError
        When the table lacks Marketing's ``meshkit:`` tags.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.analytics.create_sales_minutes_table(name="MinutesDeleteExample")
    >>> mk.analytics.delete_sales_minutes_table(name="MinutesDeleteExample")
    True
    """
    return _delete(name, SALES_MINUTES_TABLE, "marketing", boto3_session)


def _store_cities(stores: Any) -> dict[str, str] | None:
    if stores is None:
        return None
    if isinstance(stores, SalesSimulation):
        stores = stores.stores
    if isinstance(stores, pd.DataFrame):
        if not {"store_id", "city"} <= set(stores.columns):
            raise ValidationError(
                "stores lacks store_id or city: give SalesSimulation.stores or {store_id: city}"
            )
        return {str(k): str(v) for k, v in zip(stores["store_id"], stores["city"], strict=True)}
    if isinstance(stores, Mapping) and all(
        isinstance(k, str) and isinstance(v, str) and v for k, v in stores.items()
    ):
        return dict(stores)
    raise ValidationError(
        f"stores is {type(stores).__name__}; give SalesSimulation.stores, the simulation, or a "
        "dict {store_id: city}, e.g. {'store-01': 'Paris'}"
    )


def _minute(timestamp: str, sale_id: str) -> str:
    try:
        when = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    except ValueError:
        raise ValidationError(
            f"sale {sale_id}: timestamp {timestamp!r:.40} is not ISO 8601; give e.g. "
            "'2026-06-01T12:03:00Z'"
        ) from None
    if when.tzinfo is None:  # the contract's examples are UTC
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M")


def minute_aggregate_handler(
    *,
    table_name: str | None = None,
    stores: Any = None,
    boto3_session: boto3.Session | None = None,
) -> _Handler:
    """A Lambda SQS handler that counts ``SaleRecorded`` events per minute, each sale once.

    Per record (Powertools' ``BatchProcessor``; enable ``ReportBatchItemFailures``): check the
    sale against ``SaleRecorded`` 1.1 (1.0 sales pass too), then ``ADD`` 1, the amount and the
    sale's id to its minute's row (UTC; a timestamp without a zone is taken as UTC) and, when
    the city is known, to the row of the minute and city, each with the condition
    ``NOT contains(sale_ids, :sale_id)``. A sale counted before fails the condition: the record
    succeeds and nothing changes. Any other failure fails the record, to be retried (rows
    already counted stay counted once). Amounts add up exactly (DynamoDB numbers are decimal).
    Events of other types are skipped.

    A row holds at most 400 KB: some 10,000 sales of 30-character ids a minute (and a minute's
    row is one partition key, which takes up to 1,000 writes a second). Past that, split the
    row by a hash of the sale id and add the parts when reading.

    Parameters
    ----------
    table_name : str, optional
        Default: ``MARKETING_SALES_MINUTES_TABLE`` from the environment, else
        ``MarketingSalesPerMinute``.
    stores : pandas.DataFrame, SalesSimulation or dict, optional
        Where each store is (``store_id`` -> ``city``), for the per-city counts; a sale's own
        ``city`` wins; a store not listed counts under ``"unknown"``. None: the sale's ``city``
        only.
    boto3_session : boto3.Session, optional

    Returns
    -------
    callable
        ``handler(event, context) -> {"batchItemFailures": [{"itemIdentifier": <messageId>}]}``

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad argument (here), or from the handler for an event without ``Records``.

    Examples
    --------
    >>> import json, meshkit as mk
    >>> table = mk.analytics.create_sales_minutes_table(name="MinutesHandlerExample")
    >>> handler = mk.analytics.minute_aggregate_handler(
    ...     table_name="MinutesHandlerExample", stores={"st-1": "Paris"})
    >>> def record(message_id, sale_id, amount):
    ...     sale = {"sale_id": sale_id, "amount": amount, "store_id": "st-1",
    ...             "timestamp": "2026-06-01T12:03:41Z"}
    ...     body = {"detail-type": "SaleRecorded", "detail": {"metadata": {}, "data": sale}}
    ...     return {"messageId": message_id, "body": json.dumps(body)}
    >>> handler({"Records": [record("m-1", "S-1", 10.5), record("m-2", "S-2", 2.25),
    ...                      record("m-3", "S-1", 10.5)]}, None)  # S-1 delivered twice
    {'batchItemFailures': []}
    >>> mk.analytics.sales_per_minute(table_name="MinutesHandlerExample", by_city=True)
                         minute   city  sales  amount
    0 2026-06-01 12:03:00+00:00  Paris      2   12.75
    >>> mk.analytics.delete_sales_minutes_table(name="MinutesHandlerExample")
    True
    """
    table_arg = _table_name(table_name, "table_name", SALES_MINUTES_TABLE)
    cities = _store_cities(stores)
    recorded = contracts.get("sales.domain", "SaleRecorded", "1.1")

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
        ensure_target()
        table = table_arg or os.environ.get(_MINUTES_ENV, SALES_MINUTES_TABLE)
        dynamodb = _aws.client("dynamodb", boto3_session)

        def record_handler(record: Any) -> bool:
            data = _event_data(record.body, "SaleRecorded")
            if data is None:
                return False
            recorded.validate(data)
            city = data.get("city")
            if not isinstance(city, str) or not city:
                city = None if cities is None else cities.get(str(data.get("store_id")), "unknown")
            sale_id = str(data["sale_id"])
            minute = _minute(str(data["timestamp"]), sale_id)
            amount = Decimal(str(data["amount"]))
            new = _add(dynamodb, table, f"minute#{minute}", sale_id, amount, {"minute": minute})
            if city is not None:
                place = {"minute": minute, "city": city}
                _add(dynamodb, table, f"minute#{minute}#city#{city}", sale_id, amount, place)
            if not new:
                _logger.info("sale %s was counted before: skipped", sale_id)
            return new

        return _batch(event, context, record_handler)

    return handler


def _add(
    dynamodb: Any, table: str, pk: str, sale_id: str, amount: Decimal, fields: Mapping[str, str]
) -> bool:
    """Add one sale to one row, unless the row counted it before; whether it was new."""
    names = {"#n": "sales", "#a": "amount", "#s": "sale_ids"}
    values: dict[str, Any] = {
        ":one": {"N": "1"},
        ":amount": {"N": str(amount)},
        ":ids": {"SS": [sale_id]},
        ":id": {"S": sale_id},
    }
    sets = []
    for i, (name, value) in enumerate(fields.items()):
        names[f"#f{i}"], values[f":f{i}"] = name, {"S": value}
        sets.append(f"#f{i} = :f{i}")
    try:
        dynamodb.update_item(
            TableName=table,
            Key={"pk": {"S": pk}},
            UpdateExpression=f"SET {', '.join(sets)} ADD #n :one, #a :amount, #s :ids",
            ConditionExpression="NOT contains(#s, :id)",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
    except ClientError as err:
        if error_code(err) != "ConditionalCheckFailedException":
            raise
        return False
    return True


def sales_per_minute(
    *,
    table_name: str | None = None,
    by_city: bool = False,
    boto3_session: boto3.Session | None = None,
) -> pd.DataFrame:
    """Marketing's count and amount of sales per minute, as ``minute_aggregate_handler`` keeps
    them.

    Parameters
    ----------
    table_name : str, optional
        Default: ``MARKETING_SALES_MINUTES_TABLE`` from the environment, else
        ``MarketingSalesPerMinute``.
    by_city : bool, default False
        One row per minute and city instead of per minute.
    boto3_session : boto3.Session, optional

    Returns
    -------
    pandas.DataFrame
        ``minute`` (UTC timestamps), ``city`` (with ``by_city``), ``sales`` (int), ``amount``
        (float), in time order.

    Examples
    --------
    >>> import meshkit as mk
    >>> table = mk.analytics.create_sales_minutes_table(name="MinutesReadExample")
    >>> mk.analytics.sales_per_minute(table_name="MinutesReadExample").columns.tolist()
    ['minute', 'sales', 'amount']
    >>> mk.analytics.delete_sales_minutes_table(name="MinutesReadExample")
    True
    """
    table = _table_name(table_name, "table_name", SALES_MINUTES_TABLE) or os.environ.get(
        _MINUTES_ENV, SALES_MINUTES_TABLE
    )
    if not isinstance(by_city, bool):
        raise ValidationError(f"by_city must be True or False, not {by_city!r:.40}")
    items = _scan(
        _aws.client("dynamodb", boto3_session),
        table,
        FilterExpression="begins_with(pk, :p)",
        ProjectionExpression="pk, #m, city, sales, amount",  # not the sets of sale ids
        ExpressionAttributeNames={"#m": "minute"},
        ExpressionAttributeValues={":p": {"S": "minute#"}},
    )
    rows = [item for item in items if ("#city#" in item["pk"]) == by_city]
    columns = ["minute", "city", "sales", "amount"] if by_city else ["minute", "sales", "amount"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["minute"] = pd.to_datetime(frame["minute"], utc=True)
    frame["sales"] = frame["sales"].astype("int64")
    frame["amount"] = frame["amount"].astype(float)
    return frame.sort_values(columns[:-2], ignore_index=True)
