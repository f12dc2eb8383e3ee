"""Landing: a data product's events written as partitioned Parquet, catalogued in Glue.

The landing consumer is the bridge from a product's event port to its dataset port. It reads the
product's events from a subscription queue (``landing_handler``: a Lambda SQS handler; offline
``mk.consumers.run`` plays Lambda's event source mapping), turns each event into one row (the
envelope's columns, then the contract's ``data`` properties, typed as the product's Glue
columns; objects and arrays as compact JSON), and appends the rows as Parquet files to the
product's S3 location under Hive partitions ``event_date=YYYY-MM-DD/`` (the UTC date of the
event's ``time``), keeping the Glue table's partitions current so that Athena sees the new day.

Why awswrangler (AWS SDK for pandas) writes the files
-----------------------------------------------------
``wr.s3.to_parquet(dataset=True, database=, table=, partition_cols=, mode="append")`` does in one
call what pyarrow plus Glue calls would take a page to do: it casts the rows to the table's
Glue types, writes one file per partition, returns the files' paths and registers new
partitions with the table's storage descriptor. The question was whether it keeps the table
meshkit stores the product's descriptor in. Measured against the embedded AWS: appending to the
existing table leaves it untouched (its ``data_product.*`` parameters, columns, comments and
version count stay the same, and ``get_data_product`` reads back the same ``DataProduct``), but
with *schema evolution* (a column the table lacks) awswrangler rewrites the table: a new table
version, the new column without a comment, and a ``projection.enabled`` parameter added. So
landing passes ``schema_evolution=False`` and refuses, event by event, a property the product has
no column for: a new contract version changes the product through
``mk.products.create_data_product``, never as a side effect of landing. The files are plain
Parquet that any reader opens (pyarrow, Spark, Athena); ``event_time`` is stored as awswrangler
writes an Athena ``timestamp``, in UTC without a zone (INT96, read by pyarrow as
``timestamp[ns]``).

Idempotency
-----------
Rows are unique on ``idempotency_key`` (``detail.metadata.idempotency_key``: the producer's key
for the business fact). Not on the event's ``id``: when a producer retries ``PutEvents``,
EventBridge gives the same fact a new ``id``, and SQS delivers it in a new message. Before
writing, ``land_events`` reads the key column of every partition the batch touches, and of the
day before each (a retried event whose ``time`` was set on arrival can cross midnight), and
drops the keys already there and the repeats inside the batch. So a crash between writing the
files and deleting the messages adds nothing when SQS delivers them again. The check looks one
day back: a copy that arrives two days after the first lands again.

Limits, honestly: the check reads, then writes, with nothing in between to stop a second
writer. Two invocations landing the same key at the same moment (Lambda runs up to several
batches of a queue at once; a producer's retry can land in another batch) can both write it;
a reserved concurrency of 1 on the function serialises landing, at the cost of throughput.
Reading each touched partition costs time that grows with the partition. Exactly-once at scale
needs a transactional table: Apache Iceberg, with Amazon Data Firehose delivering to Iceberg
tables with unique keys (updates and deletes on the key), or an Athena ``MERGE INTO`` from a
staging table. Both are AWS-only: the embedded AWS runs neither Firehose's Iceberg destination
nor Athena's queries.

An event that is not this product's (its source or detail-type is not the product's event port)
or has no idempotency key is reported as failed, never dropped silently: ``landing_handler``
answers with its message in ``batchItemFailures``, so it is retried and then moved to the
subscription's dead-letter queue, where ``mk.consumers.peek`` shows it.
"""

from __future__ import annotations

import json
import logging
import math
import re
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any, NamedTuple

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from .. import _aws
from .._lambda import ensure_target
from .._shared import error_code
from ..exceptions import MeshkitError, ValidationError
from .descriptor import (
    ENVELOPE_COLUMNS,
    PARTITION_KEY,
    DataProduct,
    DataProductNotFoundError,
)

__all__ = [
    "LandingError",
    "LandingFailure",
    "LandingResult",
    "land_events",
    "landing_handler",
]

_logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

# The Glue types a product's columns may have, as landing writes them.
_WRITABLE_TYPES = ("string", "double", "bigint", "boolean", "timestamp")
_ENVELOPE = tuple(name for name, _, _ in ENVELOPE_COLUMNS)
_BIGINT_MIN, _BIGINT_MAX = -(2**63), 2**63 - 1
_NULLABLE: dict[str, Any] = {"bigint": "Int64", "boolean": "boolean"}  # pandas dtypes
_FAILURE_COLUMNS = ["event_id", "reason"]


class LandingError(MeshkitError):
    """Writing a batch's rows (or reading the keys already landed) failed; nothing is lost.

    ``result`` is the ``LandingResult`` as far as it got: ``written == 0``, the events that
    failed on their own, and how many were duplicates. The files of a write that failed part-way
    hold keys that a second try finds and drops, so landing the batch again is safe.
    """

    def __init__(self, message: str, *, result: LandingResult) -> None:
        super().__init__(message)
        self.result = result


class LandingFailure(NamedTuple):
    """One event that was not landed, and why.

    Examples
    --------
    >>> import meshkit as mk
    >>> failure = mk.products.LandingFailure("6a7e8feb", "no idempotency key")
    >>> event_id, reason = failure
    >>> event_id
    '6a7e8feb'
    """

    event_id: str | None
    reason: str


@dataclass
class LandingResult:
    """What one ``land_events`` call did.

    Attributes
    ----------
    written : int
        Rows written (one per event landed).
    duplicates : int
        Events dropped because their idempotency key was already landed, or came earlier in the
        same batch.
    failed : list of LandingFailure
        ``(event id, reason)`` per event refused: not this product's, no idempotency key, a
        value the column's type cannot hold, a property the product has no column for.
    partitions : tuple of str
        The partitions rows were written to, e.g. ``("event_date=2026-01-29",)``.
    files : tuple of str
        The Parquet files written, as ``s3://`` paths.

    Examples
    --------
    >>> import meshkit as mk
    >>> result = mk.products.LandingResult(
    ...     written=2, duplicates=1, partitions=("event_date=2026-01-29",)
    ... )
    >>> result
    LandingResult(written=2, duplicates=1, failed=[], partitions=('event_date=2026-01-29',))
    """

    written: int = 0
    duplicates: int = 0
    failed: list[LandingFailure] = field(default_factory=list)
    partitions: tuple[str, ...] = ()
    files: tuple[str, ...] = field(default=(), repr=False)

    def failures_frame(self) -> pd.DataFrame:
        """``failed`` as a DataFrame: ``event_id``, ``reason``.

        Examples
        --------
        >>> import meshkit as mk
        >>> failure = mk.products.LandingFailure("e-1", "no idempotency key")
        >>> mk.products.LandingResult(failed=[failure]).failures_frame()
          event_id              reason
        0      e-1  no idempotency key
        """
        return pd.DataFrame([tuple(f) for f in self.failed], columns=_FAILURE_COLUMNS)


# -- checks -------------------------------------------------------------------------------------


def _check_product(product: Any) -> DataProduct:
    if not isinstance(product, DataProduct):
        raise ValidationError(
            f"product must be a DataProduct (mk.products.get_data_product('sales.sale-recorded') "
            f"or define_data_product), not {type(product).__name__}"
        )
    if product.dataset.partition_keys != (PARTITION_KEY,):
        raise ValidationError(
            f"product.dataset.partition_keys is {product.dataset.partition_keys!r}; landing "
            f"writes one partition key, ({PARTITION_KEY!r},): define the product with "
            "mk.products.define_data_product"
        )
    names = [column.name for column in product.columns]
    if tuple(names[: len(_ENVELOPE)]) != _ENVELOPE:
        raise ValidationError(
            f"product.columns must start with the envelope's columns {', '.join(_ENVELOPE)}; "
            f"they start with {', '.join(names[: len(_ENVELOPE)]) or 'nothing'}: define the "
            "product with mk.products.define_data_product"
        )
    for column in product.columns:
        if column.type not in _WRITABLE_TYPES:
            raise ValidationError(
                f"product.columns: column {column.name!r} has the type {column.type!r}; landing "
                f"writes {', '.join(_WRITABLE_TYPES)}: give the column one of them"
            )
    return product


def _check_events(events: Any) -> list[Any]:
    if isinstance(events, (str, bytes, Mapping)) or not isinstance(events, Iterable):
        raise ValidationError(
            f"events must be a list of EventBridge events (dicts, as SQS message bodies hold "
            f"them), not {type(events).__name__}: for one event pass [event]"
        )
    return list(events)


# -- events to rows -----------------------------------------------------------------------------


def _snake(name: str) -> str:
    """A property's column name, as the descriptor derives it: ``saleId`` -> ``sale_id``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^a-z0-9_]+", "_", spaced.lower()).strip("_")


def _parse_time(value: Any) -> datetime | None:
    """An event's ``time`` (ISO 8601, ``Z`` for UTC, as EventBridge writes it) in UTC."""
    if not isinstance(value, str):
        return None
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:  # EventBridge always says Z; a bare time is taken as UTC
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _cell(value: Any, kind: str) -> tuple[Any, str | None]:
    """A JSON value as a column of Glue type ``kind`` holds it, or the reason it cannot."""
    if value is None:
        return None, None
    if kind == "string":
        if isinstance(value, str):
            return value, None
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False), None
    if kind == "double":
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        if number and math.isfinite(value):
            return float(value), None
        return None, f"a number, not {value!r}"
    if kind == "bigint":
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON Schema counts 3.0 as an integer
        if isinstance(value, int) and not isinstance(value, bool):
            if _BIGINT_MIN <= value <= _BIGINT_MAX:
                return value, None
            return None, f"a whole number within 64 bits, not {value}"
        return None, f"a whole number, not {value!r}"
    if kind == "boolean":
        if isinstance(value, bool):
            return value, None
        return None, f"true or false, not {value!r}"
    moment = _parse_time(value)  # timestamp
    if moment is None:
        return None, f"an ISO 8601 time, not {value!r}"
    return moment.replace(tzinfo=None), None  # Athena's timestamp: UTC, without a zone


def _event_id(event: Any) -> str | None:
    if isinstance(event, Mapping) and isinstance(event.get("id"), str):
        return str(event["id"])
    return None


def _row(product: DataProduct, event: Any) -> tuple[dict[str, Any] | None, str | None]:
    """One event as one row (with its ``event_date``), or the reason it is not landed."""
    if not isinstance(event, Mapping):
        return None, f"not an EventBridge event (a dict), but {type(event).__name__}"
    source, detail_type = event.get("source"), event.get("detail-type")
    port = product.events
    if source != port.source or detail_type not in port.detail_types:
        return None, (
            f"source / detail-type {source!r} / {detail_type!r} is not this product's "
            f"({port.source} / {', '.join(port.detail_types)}): subscribe the landing queue "
            f"with the pattern {{'source': [{port.source!r}], 'detail-type': "
            f"{list(port.detail_types)!r}}}"
        )
    detail = event.get("detail")
    metadata = detail.get("metadata") if isinstance(detail, Mapping) else None
    data = detail.get("data") if isinstance(detail, Mapping) else None
    if not isinstance(metadata, Mapping) or not isinstance(data, Mapping):
        return None, (
            "detail is not meshkit's envelope {'metadata': {...}, 'data': {...}}: publish with "
            "mk.events.publish"
        )
    key = metadata.get("idempotency_key")
    if not isinstance(key, str) or not key:
        return None, (
            "no idempotency key (detail.metadata.idempotency_key): without it a redelivered "
            "event would land twice; publish with mk.events.DomainEvent(idempotency_key=...)"
        )
    declared = metadata.get("data_product")
    if declared is not None and declared != product.name:
        return None, (
            f"detail.metadata.data_product is {declared!r}, not {product.name!r}: it belongs to "
            "another product's landing"
        )
    moment = _parse_time(event.get("time"))
    if moment is None:
        return (
            None,
            f"time {event.get('time')!r} is not an ISO 8601 time such as 2026-01-29T10:00:00Z",
        )
    row: dict[str, Any] = {
        "event_id": _event_id(event),
        "idempotency_key": key,
        "event_time": moment,
        "detail_type": detail_type,
        "schema_version": metadata.get("schema_version"),
        "correlation_id": metadata.get("correlation_id"),
    }
    for name in ("schema_version", "correlation_id"):
        if row[name] is not None and not isinstance(row[name], str):
            return None, f"detail.metadata.{name} must be a string, not {row[name]!r}"
    types = {column.name: column.type for column in product.columns}
    for prop, value in data.items():
        name = _snake(str(prop))
        if name not in types or name in _ENVELOPE:
            return None, (
                f"data.{prop} has no column in {product.name} (a contract version the product "
                "does not know yet): update the product with define_data_product and "
                "create_data_product, then land the event again"
            )
        cell, problem = _cell(value, types[name])
        if problem is not None:
            return None, f"data.{prop} must be {problem} (column {name} is {types[name]})"
        row[name] = cell
    for column in product.columns[len(_ENVELOPE) :]:
        row.setdefault(column.name, None)  # an optional property this event leaves out
    row[PARTITION_KEY] = moment.date().isoformat()
    return row, None


# -- S3 and Glue --------------------------------------------------------------------------------


def _partition_path(product: DataProduct, day: str) -> str:
    return f"{product.dataset.location}{PARTITION_KEY}={day}/"


def _check_table(product: DataProduct, boto3_session: boto3.Session | None) -> dict[str, Any]:
    """The product's Glue table: it must exist and hold this product's descriptor."""
    glue = _aws.client("glue", boto3_session)
    database, table = product.dataset.database, product.dataset.table
    try:
        stored: dict[str, Any] = glue.get_table(DatabaseName=database, Name=table)["Table"]
    except ClientError as err:
        if error_code(err) != "EntityNotFoundException":
            raise
        raise DataProductNotFoundError(
            f"the Glue table {database}.{table} of {product.name} does not exist: create it with "
            "mk.products.create_data_product(product) before landing events"
        ) from err
    name = (stored.get("Parameters") or {}).get("data_product.name")
    if name != product.name:
        raise DataProductNotFoundError(
            f"the Glue table {database}.{table} holds {name or 'no data product'}, not "
            f"{product.name}: land events into the product the table describes "
            "(mk.products.get_data_product)"
        )
    return stored


def _landed_keys(
    product: DataProduct, days: Iterable[str], boto3_session: boto3.Session | None
) -> set[str]:
    """The idempotency keys already in the partitions of ``days``."""
    import awswrangler as wr

    session = _aws.session(boto3_session)
    keys: set[str] = set()
    for day in sorted(days):
        try:
            frame = wr.s3.read_parquet(
                path=_partition_path(product, day),
                columns=["idempotency_key"],
                path_suffix=".parquet",
                boto3_session=session,
            )
        except wr.exceptions.NoFilesFound:
            continue
        keys.update(str(key) for key in frame["idempotency_key"].dropna())
    return keys


def _register_partitions(
    product: DataProduct,
    stored: Mapping[str, Any],
    days: Iterable[str],
    boto3_session: boto3.Session | None,
) -> list[str]:
    """Make sure Glue knows the partitions of ``days`` (a write that failed between its files
    and its partitions leaves files a retry drops as duplicates: their partition comes here).
    The errors Glue answered with, other than "it exists already"."""
    glue = _aws.client("glue", boto3_session)
    storage = dict(stored.get("StorageDescriptor") or {})
    entries = [
        {
            "Values": [day],
            "StorageDescriptor": {**storage, "Location": _partition_path(product, day)},
        }
        for day in sorted(days)
    ]
    problems: list[str] = []
    for start in range(0, len(entries), 100):  # BatchCreatePartition: 100 partitions a request
        response = glue.batch_create_partition(
            DatabaseName=product.dataset.database,
            TableName=product.dataset.table,
            PartitionInputList=entries[start : start + 100],
        )
        for error in response.get("Errors", []):
            detail = error.get("ErrorDetail", {})
            if detail.get("ErrorCode") != "AlreadyExistsException":
                problems.append(
                    f"{error.get('PartitionValues')}: {detail.get('ErrorCode')} "
                    f"{detail.get('ErrorMessage', '')}".strip()
                )
    return problems


def _write(
    product: DataProduct, rows: list[dict[str, Any]], boto3_session: boto3.Session | None
) -> list[str]:
    """Append the rows as Parquet under Hive partitions; Glue partitions follow. The files."""
    import awswrangler as wr

    # Column by column, with pandas' nullable types where a null would otherwise turn the
    # column into float64 (a bigint of 2**53 and up would lose digits on the way).
    frame = pd.DataFrame(
        {
            name: pd.array([row[name] for row in rows], dtype=_NULLABLE.get(kind, "object"))
            for name, kind in [(c.name, c.type) for c in product.columns] + [(PARTITION_KEY, "")]
        }
    )
    # Athena's timestamp has no time zone: UTC, by the envelope's convention.
    frame["event_time"] = pd.to_datetime(frame["event_time"], utc=True).dt.tz_localize(None)
    dtype = {column.name: column.type for column in product.columns}
    dtype[PARTITION_KEY] = "string"
    with warnings.catch_warnings():  # pandas' deprecations of calls inside awswrangler
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"awswrangler\.")
        written = wr.s3.to_parquet(
            frame,
            path=product.dataset.location,
            dataset=True,
            database=product.dataset.database,
            table=product.dataset.table,
            partition_cols=[PARTITION_KEY],
            mode="append",
            dtype=dtype,
            schema_evolution=False,  # never rewrite the table that holds the descriptor
            boto3_session=_aws.session(boto3_session),
        )
    return [str(path) for path in written["paths"]]


# -- landing ------------------------------------------------------------------------------------


def _land(
    product: DataProduct, events: list[Any], boto3_session: boto3.Session | None
) -> tuple[LandingResult, set[int]]:
    """Land ``events``; the result and the positions of the events that failed."""
    result = LandingResult()
    failed_at: set[int] = set()
    fresh: list[tuple[int, dict[str, Any]]] = []
    seen: set[str] = set()
    for position, event in enumerate(events):
        row, problem = _row(product, event)
        if row is None:
            result.failed.append(LandingFailure(_event_id(event), str(problem)))
            failed_at.add(position)
        elif row["idempotency_key"] in seen:
            result.duplicates += 1
        else:
            seen.add(row["idempotency_key"])
            fresh.append((position, row))
    if not fresh:
        return result, failed_at
    stored = _check_table(product, boto3_session)
    days = {row[PARTITION_KEY] for _, row in fresh}
    before = {(date.fromisoformat(day) - timedelta(days=1)).isoformat() for day in days}
    try:
        landed = _landed_keys(product, days | before, boto3_session)
    except Exception as err:
        raise LandingError(
            f"could not read the idempotency keys already landed in {product.name} ({err}): "
            "nothing was written; land the batch again",
            result=result,
        ) from err
    rows = [row for _, row in fresh if row["idempotency_key"] not in landed]
    result.duplicates += len(fresh) - len(rows)
    again = {row[PARTITION_KEY] for _, row in fresh if row["idempotency_key"] in landed}
    problems = _register_partitions(product, stored, again, boto3_session) if again else []
    if problems:
        raise LandingError(
            f"Glue did not register partitions of {product.name} whose rows are in S3 "
            f"({'; '.join(problems)}): nothing was written; land the batch again",
            result=result,
        )
    if not rows:
        return result, failed_at
    try:
        files = _write(product, rows, boto3_session)
    except Exception as err:
        raise LandingError(
            f"could not write {len(rows)} row(s) of {product.name} to "
            f"{product.dataset.location} ({type(err).__name__}: {err}); landing the batch "
            "again is safe: rows already written are found by their keys",
            result=result,
        ) from err
    result.written = len(rows)
    result.partitions = tuple(sorted({f"{PARTITION_KEY}={row[PARTITION_KEY]}" for row in rows}))
    result.files = tuple(files)
    _logger.info(
        "landed %d row(s) of %s in %s (%d duplicate(s), %d failed)",
        result.written,
        product.name,
        ", ".join(result.partitions),
        result.duplicates,
        len(result.failed),
    )
    return result, failed_at


def land_events(
    product: DataProduct,
    events: Iterable[Mapping[str, Any]],
    *,
    boto3_session: boto3.Session | None = None,
) -> LandingResult:
    """Land EventBridge events as rows of the product's dataset: Parquet in S3, Glue partitions.

    Each event (an EventBridge event as an SQS message body holds it) becomes one row: the
    envelope's columns (``event_id``, ``idempotency_key``, ``event_time``, ``detail_type``,
    ``schema_version``, ``correlation_id``), then one column per property of ``data``, typed as
    the product's columns (objects and arrays as compact JSON; a property the event leaves out
    is null). Rows go to the Hive partition ``event_date=YYYY-MM-DD/`` of the event's UTC date
    under ``product.dataset.location``, in one write; the Glue table gets any new partition.

    Idempotent on ``detail.metadata.idempotency_key``: keys already landed in the partitions the
    batch touches (or the day before each) and repeats within the batch are dropped and counted
    as ``duplicates``. See the module's notes for the limits (concurrent writers) and the
    AWS-only alternative (Firehose to Apache Iceberg).

    Parameters
    ----------
    product : DataProduct
        The product, as ``define_data_product`` or ``get_data_product`` gives it; its Glue table
        must exist (``create_data_product``).
    events : iterable of dict
        EventBridge events: ``id``, ``source``, ``detail-type``, ``time``, and ``detail`` holding
        meshkit's envelope ``{"metadata": {...}, "data": {...}}``.
    boto3_session : boto3.Session, optional

    Returns
    -------
    LandingResult
        ``written``, ``duplicates``, ``failed`` (event id and reason per event refused: not this
        product's source or detail-type, no idempotency key, a value its column cannot hold, a
        property with no column), ``partitions`` and ``files``.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad ``product`` or ``events``; nothing was sent.
    meshkit.products.DataProductNotFoundError
        When the product's Glue table does not exist or describes another product.
    LandingError
        When reading the landed keys or writing the files failed; ``result`` says how far it
        got. Landing the same events again is safe.

    Examples
    --------
    >>> import meshkit as mk
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal"
    ... )
    >>> _ = mk.products.create_data_product(product)
    >>> event = {
    ...     "id": "6a7e8feb", "source": "sales.domain", "detail-type": "SaleRecorded",
    ...     "time": "2026-01-29T10:00:00Z",
    ...     "detail": {
    ...         "metadata": {"idempotency_key": "sale-S-1", "schema_version": "1.0"},
    ...         "data": {"sale_id": "S-1", "amount": 12.5, "timestamp": "2026-01-29T10:00:00Z"},
    ...     },
    ... }
    >>> mk.products.land_events(product, [event, event])
    LandingResult(written=1, duplicates=1, failed=[], partitions=('event_date=2026-01-29',))
    >>> mk.products.land_events(product, [event])  # delivered again: nothing new
    LandingResult(written=0, duplicates=1, failed=[], partitions=())
    >>> mk.products.delete_data_product("sales.sale-recorded", delete_data=True)
    True
    """
    _check_product(product)
    batch = _check_events(events)
    result, _ = _land(product, batch, boto3_session)
    return result


def landing_handler(product: DataProduct, *, boto3_session: boto3.Session | None = None) -> Handler:
    """A Lambda SQS handler that lands a subscription's events into ``product``'s dataset.

    The handler parses each record's body (the EventBridge event), lands the whole batch with
    one ``land_events`` call (one write, not one per record: that is why it is not built on
    Powertools' ``BatchProcessor``, which handles records one at a time) and answers with a
    partial batch response: the records whose events failed (a body that is not JSON, an
    event that is not this product's, one without an idempotency key, ...), or every record
    when the write itself failed. Enable ``ReportBatchItemFailures`` on the event source
    mapping. Redelivered records are absorbed by ``land_events``'s idempotency.

    On Lambda: build the handler at import, e.g. ``handler = landing_handler(
    mk.products.get_data_product("sales.sale-recorded"))`` in the function's module, with the
    function's role allowed to read and write the product's S3 prefix and to call Glue's
    ``GetTable``, ``GetPartitions`` and ``BatchCreatePartition`` on its table (and Lake
    Formation permissions when Lake Formation governs it); awswrangler comes with the managed
    AWS SDK for pandas Lambda layer. Offline,
    ``mk.consumers.run(handler, sub.queue_url)`` feeds it the queue.

    Parameters
    ----------
    product : DataProduct
        The product the events land in.
    boto3_session : boto3.Session, optional

    Returns
    -------
    callable
        ``handler(event, context) -> {"batchItemFailures": [{"itemIdentifier": ...}, ...]}``.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad ``product``; nothing was sent.

    Examples
    --------
    >>> import meshkit as mk
    >>> from datetime import datetime, timezone
    >>> _ = mk.buses.create_domain_bus("sales")
    >>> _ = mk.products.delete_data_product("sales.sale-recorded", delete_data=True)  # from zero
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal"
    ... )
    >>> _ = mk.products.create_data_product(product)
    >>> sub = mk.subscriptions.subscribe(
    ...     "sales", bus="SalesEventBus", name="sales-landing",
    ...     pattern={"source": ["sales.domain"], "detail-type": ["SaleRecorded"]},
    ... )
    >>> sale = {"sale_id": "S-1", "amount": 12.5, "timestamp": "2026-01-29T10:00:00Z"}
    >>> event = mk.events.DomainEvent(
    ...     "sales.domain", "SaleRecorded", sale, idempotency_key="sale-S-1",
    ...     time=datetime(2026, 1, 29, 10, tzinfo=timezone.utc),
    ... )
    >>> _ = mk.events.publish("SalesEventBus", [event, event])  # the producer sent it twice
    >>> handler = mk.products.landing_handler(product)
    >>> mk.consumers.run(handler, sub.queue_url)
    RunSummary(processed=2, failed=0, dead_lettered=0, batches=1, stopped='drained')
    >>> mk.products.query("SELECT sale_id, amount FROM sales.sale_recorded")
      sale_id  amount
    0     S-1    12.5
    >>> mk.subscriptions.unsubscribe("sales", bus="SalesEventBus", name="sales-landing")
    True
    >>> mk.products.delete_data_product("sales.sale-recorded", delete_data=True)
    True
    >>> mk.buses.delete_domain_bus("sales")
    True
    """
    _check_product(product)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        ensure_target()  # on Lambda, the first invocation decides where AWS is
        records = event.get("Records") if isinstance(event, Mapping) else None
        if not isinstance(records, list):
            raise ValidationError(
                "the invocation event has no 'Records' list: this handler takes the SQS event "
                "Lambda's event source mapping sends (mk.consumers.run sends the same)"
            )
        order: list[str] = []  # every record's messageId, in the batch's order
        failed: set[str] = set()
        bodies: list[Any] = []
        ids: list[str] = []
        for record in records:
            message_id = str(record.get("messageId", "")) if isinstance(record, Mapping) else ""
            order.append(message_id)
            try:
                body = json.loads(record["body"])
            except (KeyError, TypeError, ValueError) as err:
                _logger.warning(
                    "message %s: the body is not an EventBridge event (%s)", message_id, err
                )
                failed.add(message_id)
                continue
            bodies.append(body)
            ids.append(message_id)
        try:
            result, failed_at = _land(product, bodies, boto3_session)
        except Exception:
            _logger.exception("landing a batch of %d failed: every record is retried", len(records))
            failed.update(ids)
        else:
            for failure in result.failed:
                _logger.warning("event %s not landed: %s", failure.event_id, failure.reason)
            failed.update(ids[position] for position in failed_at)
        return {
            "batchItemFailures": [
                {"itemIdentifier": message_id} for message_id in order if message_id in failed
            ]
        }

    handler.__name__ = f"land_{product.dataset.table}"
    return handler
