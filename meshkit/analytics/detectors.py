"""Fraud detection as sales flow: four rules over rolling windows per card and per customer.

The Fraud domain reads ``SaleRecorded`` events (from an SQS subscription or a Kinesis stream),
applies the rules that ``FRAUD_THRESHOLDS`` defines (the same ones ``simulate_sales`` injects
fraud by), and publishes each suspicion as a ``FraudSuspected`` 1.0 event on its own bus.

Why the state lives in a table
------------------------------
A rule such as "five sales of one card within ten minutes" needs the card's recent sales, and
they arrive in many invocations: Lambda hands a function a batch at a time, starts instances as
traffic grows and stops them when it falls, and any instance may get the next batch of a card.
What one instance keeps in memory is gone when it stops, and unseen by the others. So the
per-card and per-customer state lives in a DynamoDB table (``create_detector_table``), read once
per batch (BatchGetItem) and written once per batch (BatchWriteItem), after the suspicions were
published: a batch that fails is retried against the state it first saw, and finds the same
suspicions under the same ids. ``MemoryState`` keeps the same items in a dict, for notebooks,
tests and the plain-pandas comparisons (``detect_fraud``, ``threshold_sweep``).

Old entries expire: every item carries ``expires_at`` (epoch seconds), the table's TTL
attribute, set from the sale's time plus a retention. DynamoDB deletes expired items some time
after they expire (typically within days) and returns them until then; moto never deletes them.
Either way the detector prunes on read: an item whose ``expires_at`` is before the batch's
newest sale is treated as absent.

Rules (a sale's time is its ``timestamp``; "within" includes the limit)
-------------------------------------------------------------------------
``card_testing``
    ``testing_sales`` sales of one card under ``tiny_amount`` within ``testing_window``; and
    the first sale of the card of at least ``followup_amount`` within ``followup_window`` after
    the last tiny one (the thief cashing in on a card that works).
``card_burst``
    ``burst_sales`` sales of one card within ``burst_window``, not counting sales already
    suspected of card testing (a card test is a burst of a kind of its own).
``new_customer_high_amount``
    The first sale of a customer not seen before is at least ``high_amount``.
``impossible_travel``
    Two sales of one card at stores at least ``travel_min_km`` apart, faster than
    ``travel_speed_kmh`` apart. The later sale is suspected, compared with the card's last
    trusted sale; unless the sale before that trusted one lies near the new sale and far from
    the trusted one: then the trusted one was the outlier and is suspected instead.

Each suspicion names its sales; its ``suspicion_id`` is derived from the kind, the card and the
first sale suspected, and its ``detected_at`` is the time of the sale that tripped the rule, so
running the detector again over the same sales gives the same suspicions.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import dataclasses
import hashlib
import json
import logging
import math
import numbers
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, NamedTuple, Protocol

import boto3
import pandas as pd

from .. import _aws, events
from .._lambda import ensure_target
from .._shared import check_owner, create_domain_table, delete_domain_table
from ..buses import bus_name
from ..exceptions import MeshkitError, ValidationError
from .simulator import FRAUD_KINDS, FRAUD_THRESHOLDS, FraudThresholds, SalesSimulation, distance_km

__all__ = [
    "DETECTOR_TABLE",
    "FRAUD_SOURCE",
    "DetectorState",
    "DynamoDBState",
    "FraudDetector",
    "MemoryState",
    "StateError",
    "Suspicion",
    "create_detector_table",
    "delete_detector_table",
    "detect_fraud",
    "fraud_handler",
    "score_detections",
    "threshold_sweep",
]

_logger = logging.getLogger(__name__)

FRAUD_SOURCE = "fraud.domain"
DETECTOR_TABLE = "FraudDetectorState"
_BUS_ENV = "FRAUD_EVENT_BUS"
_TABLE_ENV = "FRAUD_DETECTOR_TABLE"
_GET_LIMIT = 100  # BatchGetItem keys per request
_WRITE_LIMIT = 25  # BatchWriteItem requests per call
_BATCH_ATTEMPTS = 8
_BURST, _TESTING = 1, 2  # flags of a window entry: suspected in a burst, in a card test


# -- suspicions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suspicion:
    """One suspicion of fraud: a kind, a card, the sales suspected and what the rule saw.

    Attributes
    ----------
    suspicion_id : str
        ``<kind>/<card_id>/<12 hex digits>``, the digits from the kind, the card and the first
        sale suspected: the same sales give the same id.
    kind : str
        One of ``FRAUD_KINDS``.
    card_id : str
    sale_ids : tuple of str
        The sales suspected, in time order (at least one).
    evidence : dict
        What the rule saw and the limit it compared with (``sales``, ``window_s``,
        ``distance_km``, ``speed_kmh``, ``amount``, ...).
    detected_at : datetime
        The time of the sale that tripped the rule (UTC).
    customer_id : str or None
    score : float
        0.5 at the rule's limit, towards 1 as what was seen goes beyond it.

    Examples
    --------
    >>> import meshkit as mk
    >>> from datetime import datetime, timezone
    >>> suspicion = mk.analytics.Suspicion.make(
    ...     "card_burst", "card-1", ["S-1", "S-2"], {"sales": 2},
    ...     datetime(2026, 6, 1, tzinfo=timezone.utc), score=0.5)
    >>> suspicion.suspicion_id
    'card_burst/card-1/6814aab4b5b4'
    >>> suspicion.to_event().detail_type
    'FraudSuspected'
    """

    suspicion_id: str
    kind: str
    card_id: str
    sale_ids: tuple[str, ...]
    evidence: Mapping[str, Any] = field(hash=False)
    detected_at: datetime
    customer_id: str | None = None
    score: float = 0.5

    @classmethod
    def make(
        cls,
        kind: str,
        card_id: str,
        sale_ids: Sequence[str],
        evidence: Mapping[str, Any],
        detected_at: datetime,
        *,
        customer_id: str | None = None,
        score: float = 0.5,
    ) -> Suspicion:
        """A suspicion with its deterministic ``suspicion_id``.

        Parameters
        ----------
        kind, card_id : str
        sale_ids : sequence of str
            At least one.
        evidence : mapping
        detected_at : datetime
        customer_id : str, optional
        score : float, default 0.5

        Returns
        -------
        Suspicion

        Examples
        --------
        >>> import meshkit as mk
        >>> from datetime import datetime, timezone
        >>> at = datetime(2026, 6, 1, tzinfo=timezone.utc)
        >>> one = mk.analytics.Suspicion.make("card_testing", "c", ["S-1"], {}, at)
        >>> one == mk.analytics.Suspicion.make("card_testing", "c", ["S-1"], {}, at)
        True
        """
        digest = hashlib.blake2b(
            json.dumps([kind, card_id, sale_ids[0]]).encode(), digest_size=6
        ).hexdigest()
        return cls(
            f"{kind}/{card_id}/{digest}",
            kind,
            card_id,
            tuple(sale_ids),
            dict(evidence),
            detected_at,
            customer_id,
            round(float(score), 4),
        )

    @property
    def detail(self) -> dict[str, Any]:
        """The ``FraudSuspected`` 1.0 detail.

        Examples
        --------
        >>> import meshkit as mk
        >>> from datetime import datetime, timezone
        >>> at = datetime(2026, 6, 1, tzinfo=timezone.utc)
        >>> mk.analytics.Suspicion.make("card_testing", "c", ["S-1"], {}, at).detail[
        ...     "detected_at"]
        '2026-06-01T00:00:00Z'
        """
        detail: dict[str, Any] = {
            "suspicion_id": self.suspicion_id,
            "kind": self.kind,
            "card_id": self.card_id,
            "sale_ids": list(self.sale_ids),
            "evidence": dict(self.evidence),
            "detected_at": self.detected_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "score": self.score,
        }
        if self.customer_id is not None:
            detail["customer_id"] = self.customer_id
        return detail

    def to_event(self) -> events.DomainEvent:
        """The ``FraudSuspected`` 1.0 event of ``fraud.domain``; idempotency key: the id.

        Returns
        -------
        meshkit.events.DomainEvent

        Examples
        --------
        >>> import meshkit as mk
        >>> from datetime import datetime, timezone
        >>> at = datetime(2026, 6, 1, tzinfo=timezone.utc)
        >>> event = mk.analytics.Suspicion.make("card_testing", "c", ["S-1"], {}, at).to_event()
        >>> event.idempotency_key == event.detail["suspicion_id"]
        True
        """
        return events.DomainEvent(
            source=FRAUD_SOURCE,
            detail_type="FraudSuspected",
            detail=self.detail,
            idempotency_key=self.suspicion_id,
            correlation_id=f"card/{self.card_id}",
            schema_version="1.0",
            time=self.detected_at,
        )


# -- state --------------------------------------------------------------------------------------


class DetectorState(Protocol):
    """Where a ``FraudDetector`` keeps its items between batches: ``MemoryState``,
    ``DynamoDBState``, or anything with these two methods.

    Items are JSON-able dicts keyed ``card#<card_id>`` and ``customer#<customer_id>``, each with
    ``expires_at`` (epoch seconds).

    Examples
    --------
    >>> import meshkit as mk
    >>> state: mk.analytics.DetectorState = mk.analytics.MemoryState()
    >>> state.load(["card#c"])
    {}
    """

    def load(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The items of these keys that exist (expired ones too: the detector prunes).

        Examples
        --------
        >>> import meshkit as mk
        >>> mk.analytics.MemoryState().load(["customer#u"])
        {}
        """

    def save(self, items: Mapping[str, dict[str, Any]]) -> None:
        """Write these items, replacing what was there.

        Examples
        --------
        >>> import meshkit as mk
        >>> mk.analytics.MemoryState().save({"customer#u": {"expires_at": 1}})
        """


class MemoryState:
    """Detector state in a dict: for one process (a notebook, a test, a pandas comparison).

    Examples
    --------
    >>> import meshkit as mk
    >>> state = mk.analytics.MemoryState()
    >>> state.save({"customer#c": {"first": 0, "expires_at": 10}})
    >>> state.load(["customer#c", "card#x"])
    {'customer#c': {'first': 0, 'expires_at': 10}}
    >>> len(state)
    1
    """

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self.items)

    def load(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The items of these keys that exist (copies: a batch changes them only by ``save``).

        Examples
        --------
        >>> import meshkit as mk
        >>> mk.analytics.MemoryState().load(["card#c"])
        {}
        """
        found = {}
        for key in keys:
            item = self.items.get(key)
            if item is not None:
                found[key] = json.loads(json.dumps(item))
        return found

    def save(self, items: Mapping[str, dict[str, Any]]) -> None:
        """Write these items.

        Examples
        --------
        >>> import meshkit as mk
        >>> state = mk.analytics.MemoryState()
        >>> state.save({"card#c": {"expires_at": 1}})
        >>> list(state.items)
        ['card#c']
        """
        self.items.update(items)


class DynamoDBState:
    """Detector state in a DynamoDB table made by ``create_detector_table``.

    One BatchGetItem per 100 keys to load, one BatchWriteItem per 25 items to save, unprocessed
    keys and items retried with backoff. Items are ``pk`` (S), ``state`` (S, the item as JSON)
    and ``expires_at`` (N, the TTL attribute).

    Parameters
    ----------
    table_name : str, default "FraudDetectorState"
    boto3_session : boto3.Session, optional

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.analytics.create_detector_table(name="DetectorStateExample")
    >>> state = mk.analytics.DynamoDBState("DetectorStateExample")
    >>> state.save({"card#c": {"window": [], "expires_at": 10}})
    >>> state.load(["card#c", "card#d"])
    {'card#c': {'window': [], 'expires_at': 10}}
    >>> mk.analytics.delete_detector_table(name="DetectorStateExample")
    True
    """

    def __init__(
        self, table_name: str = DETECTOR_TABLE, *, boto3_session: boto3.Session | None = None
    ) -> None:
        self.table_name = table_name
        self.boto3_session = boto3_session

    def load(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The items of these keys that exist.

        Examples
        --------
        >>> import meshkit as mk
        >>> arn = mk.analytics.create_detector_table(name="DetectorLoadExample")
        >>> mk.analytics.DynamoDBState("DetectorLoadExample").load(["card#c"])
        {}
        >>> mk.analytics.delete_detector_table(name="DetectorLoadExample")
        True
        """
        dynamodb = _aws.client("dynamodb", self.boto3_session)
        wanted = sorted(set(keys))
        found: dict[str, dict[str, Any]] = {}
        for begin in range(0, len(wanted), _GET_LIMIT):
            request: dict[str, Any] = {
                self.table_name: {
                    "Keys": [{"pk": {"S": key}} for key in wanted[begin : begin + _GET_LIMIT]],
                    "ConsistentRead": True,
                }
            }
            for attempt in range(_BATCH_ATTEMPTS):
                answer = dynamodb.batch_get_item(RequestItems=request)
                for item in answer.get("Responses", {}).get(self.table_name, []):
                    found[item["pk"]["S"]] = json.loads(item["state"]["S"])
                request = answer.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 2.0))
            if request:
                raise StateError(
                    f"table {self.table_name}: BatchGetItem left keys unprocessed after "
                    f"{_BATCH_ATTEMPTS} attempts (throttled); raise the table's capacity or "
                    "send smaller batches. Nothing was detected"
                )
        return found

    def save(self, items: Mapping[str, dict[str, Any]]) -> None:
        """Write these items (BatchWriteItem, 25 at a time).

        Examples
        --------
        >>> import meshkit as mk
        >>> arn = mk.analytics.create_detector_table(name="DetectorSaveExample")
        >>> mk.analytics.DynamoDBState("DetectorSaveExample").save({"card#c": {"expires_at": 1}})
        >>> mk.analytics.delete_detector_table(name="DetectorSaveExample")
        True
        """
        dynamodb = _aws.client("dynamodb", self.boto3_session)
        puts = [
            {
                "PutRequest": {
                    "Item": {
                        "pk": {"S": key},
                        "state": {"S": json.dumps(item, separators=(",", ":"))},
                        "expires_at": {"N": str(int(item.get("expires_at", 0)))},
                    }
                }
            }
            for key, item in items.items()
        ]
        for begin in range(0, len(puts), _WRITE_LIMIT):
            request: dict[str, Any] = {self.table_name: puts[begin : begin + _WRITE_LIMIT]}
            for attempt in range(_BATCH_ATTEMPTS):
                request = (
                    dynamodb.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                )
                if not request:
                    break
                time.sleep(min(0.05 * 2**attempt, 2.0))
            if request:
                raise StateError(
                    f"table {self.table_name}: BatchWriteItem left items unprocessed after "
                    f"{_BATCH_ATTEMPTS} attempts (throttled); raise the table's capacity. The "
                    "batch fails and is retried: its suspicions keep their ids"
                )


class StateError(MeshkitError):
    """The detector's table refused to read or write the state of a batch after retries."""


def create_detector_table(
    *, name: str = DETECTOR_TABLE, boto3_session: boto3.Session | None = None
) -> str:
    """Create the Fraud domain's detector table, with TTL on ``expires_at``; return its ARN.

    Idempotent. Keyed by ``pk`` (``card#<id>`` or ``customer#<id>``), billed per request,
    tagged for the ``fraud`` domain like its bus. TTL is enabled only when it is not already.

    Parameters
    ----------
    name : str, default "FraudDetectorState"
    boto3_session : boto3.Session, optional
        Session to use; default: the one for ``mk.sandbox.start()``'s target.

    Returns
    -------
    str
        The table's ARN.

    Raises
    ------
    meshkit.exceptions.ValidationError
        When a table of that name exists with another key schema.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.analytics.create_detector_table(name="DetectorCreateExample")
    'arn:aws:dynamodb:us-west-2:123456789012:table/DetectorCreateExample'
    >>> mk.analytics.create_detector_table(name="DetectorCreateExample")  # idempotent
    'arn:aws:dynamodb:us-west-2:123456789012:table/DetectorCreateExample'
    >>> mk.analytics.delete_detector_table(name="DetectorCreateExample")
    True
    """

    def check(table: Mapping[str, Any]) -> None:
        if table.get("KeySchema") != [{"AttributeName": "pk", "KeyType": "HASH"}]:
            raise ValidationError(
                f"table {name} exists with the key schema {table.get('KeySchema')}, not pk (S) "
                "alone: choose another name= for the detector's table"
            )

    return create_domain_table(
        _aws.client("dynamodb", boto3_session),
        name=name,
        domain="fraud",
        keys=[("pk", "S")],
        check=check,
        ttl_attribute="expires_at",
    )


def delete_detector_table(
    *, name: str = DETECTOR_TABLE, boto3_session: boto3.Session | None = None
) -> bool:
    """Delete the detector table, if meshkit created it for the Fraud domain.

    Parameters
    ----------
    name : str, default "FraudDetectorState"
    boto3_session : boto3.Session, optional

    Returns
    -------
    bool
        True when a table was deleted, False when there was none.

    Raises
    ------
    meshkit.exceptions.NotMeshkitResourceError
        When the table lacks the Fraud domain's ``meshkit:`` tags.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.analytics.create_detector_table(name="DetectorDeleteExample")
    >>> mk.analytics.delete_detector_table(name="DetectorDeleteExample")
    True
    >>> mk.analytics.delete_detector_table(name="DetectorDeleteExample")
    False
    """
    return delete_domain_table(
        _aws.client("dynamodb", boto3_session),
        name=name,
        check=lambda tags: check_owner(
            tags, what=f"table {name}", domain="fraud", fix="delete it yourself if it is yours"
        ),
    )


# -- the detector -------------------------------------------------------------------------------


class _Sale(NamedTuple):
    t: float  # epoch seconds
    sale_id: str
    amount: float
    card_id: str
    customer_id: str
    store_id: str


_FIELDS = ("sale_id", "amount", "card_id", "customer_id", "store_id")


def _epoch(value: Any, where: str) -> float:
    if isinstance(value, pd.Timestamp):
        if value.tzinfo is None:
            raise ValidationError(f"{where}: time {value} is naive; give UTC times")
        return float(value.value) / 1e9
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValidationError(f"{where}: time {value} is naive; give UTC times")
        return value.timestamp()
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return parsed.timestamp()
    raise ValidationError(
        f"{where}: timestamp is {value!r:.60}; give an ISO 8601 time with its zone, e.g. "
        "'2026-06-01T12:00:00Z'"
    )


def _sale(raw: Any, where: str) -> _Sale:
    if isinstance(raw, events.DomainEvent):
        raw = raw.detail
    if not isinstance(raw, Mapping):
        raise ValidationError(
            f"{where} is {type(raw).__name__}; give a SaleRecorded detail (a dict with "
            f"{', '.join(_FIELDS)} and timestamp), a DomainEvent or a DataFrame of sales"
        )
    missing = [name for name in (*_FIELDS, "timestamp") if raw.get(name) is None]
    if missing and not (missing == ["timestamp"] and raw.get("time") is not None):
        raise ValidationError(
            f"{where} lacks {', '.join(missing)}: the detector needs {', '.join(_FIELDS)} and "
            "timestamp (SalesSimulation.events() gives them all)"
        )
    amount = raw["amount"]
    if (
        isinstance(amount, bool)
        or not isinstance(amount, numbers.Real)
        or not math.isfinite(float(amount))
    ):
        raise ValidationError(f"{where}: amount is {amount!r:.40}; give a finite number")
    texts = [raw[name] for name in ("sale_id", "card_id", "customer_id", "store_id")]
    for name, text in zip(("sale_id", "card_id", "customer_id", "store_id"), texts, strict=True):
        if not isinstance(text, str) or not text:
            raise ValidationError(f"{where}: {name} is {text!r:.40}; give a non-empty string")
    stamp = raw.get("timestamp", raw.get("time"))
    return _Sale(_epoch(stamp, where), texts[0], float(amount), texts[1], texts[2], texts[3])


def _sales_of(sales: Any) -> list[_Sale]:
    if isinstance(sales, SalesSimulation):
        sales = sales.sales
    if isinstance(sales, pd.DataFrame):
        time_column = "time" if "time" in sales.columns else "timestamp"
        missing = [c for c in (*_FIELDS, time_column) if c not in sales.columns]
        if missing:
            raise ValidationError(
                f"the sales frame lacks the column(s) {', '.join(missing)}; give "
                "SalesSimulation.sales or a frame with its columns"
            )
        stamps = pd.to_datetime(sales[time_column], utc=True)
        seconds = (stamps.astype("int64") / 1e9).tolist()
        columns = [sales[name].astype(str).tolist() for name in ("sale_id",)]
        return [
            _Sale(t, sale_id, float(amount), str(card), str(customer), str(store))
            for t, sale_id, amount, card, customer, store in zip(
                seconds,
                columns[0],
                sales["amount"].tolist(),
                sales["card_id"].tolist(),
                sales["customer_id"].tolist(),
                sales["store_id"].tolist(),
                strict=True,
            )
        ]
    if isinstance(sales, (str, bytes, Mapping)) or not isinstance(sales, Iterable):
        raise ValidationError(
            f"sales is {type(sales).__name__}; give an iterable of SaleRecorded details or "
            "DomainEvents, a DataFrame of sales, or a SalesSimulation"
        )
    return [_sale(raw, f"sale {index}") for index, raw in enumerate(sales)]


def _store_map(stores: Any) -> dict[str, tuple[float, float]]:
    if isinstance(stores, SalesSimulation):
        stores = stores.stores
    if isinstance(stores, pd.DataFrame):
        missing = [c for c in ("store_id", "latitude", "longitude") if c not in stores.columns]
        if missing:
            raise ValidationError(
                f"stores lacks the column(s) {', '.join(missing)}; give SalesSimulation.stores"
            )
        return {
            str(s): (float(lat), float(lon))
            for s, lat, lon in zip(
                stores["store_id"], stores["latitude"], stores["longitude"], strict=True
            )
        }
    if isinstance(stores, Mapping):
        return {str(k): (float(v[0]), float(v[1])) for k, v in stores.items()}
    raise ValidationError(
        f"stores is {type(stores).__name__}; give SalesSimulation.stores (store_id, latitude, "
        "longitude), a SalesSimulation, or a dict store_id -> (latitude, longitude)"
    )


def _seconds(name: str, value: Any) -> float:
    if not isinstance(value, timedelta) or value.total_seconds() < 0:
        raise ValidationError(f"{name} is {value!r:.40}; give a timedelta of 0 or more")
    return value.total_seconds()


def _ratio_score(ratio: float) -> float:
    """0.5 at the limit, approaching 1 beyond it."""
    return 1.0 if math.isinf(ratio) else max(0.5, 1.0 - 0.5 / max(ratio, 1e-9))


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class FraudDetector:
    """Apply the four rules to sales in time order, with the state in ``state``.

    Parameters
    ----------
    stores : pandas.DataFrame, SalesSimulation or dict
        Where each store is: ``SalesSimulation.stores`` (``store_id``, ``latitude``,
        ``longitude``), or ``{store_id: (latitude, longitude)}``.
    thresholds : FraudThresholds, default FRAUD_THRESHOLDS
        The rules' limits; the default is the simulator's, so detector and simulator agree.
    state : DetectorState, optional
        Default: a new ``MemoryState``. ``DynamoDBState(...)`` in a Lambda function.
    kinds : iterable of str, default FRAUD_KINDS
        The rules to apply.
    followup_window : timedelta, default 30 minutes
        ``card_testing``: how long after the last tiny sale a large one is suspected ...
    followup_amount : float, default 250.0
        ... from this amount.
    card_retention : timedelta, default 1 day
        A card's item expires this long after its last sale.
    customer_retention : timedelta, default 365 days
        A customer's item expires this long after its last sale (then the customer is new).

    Examples
    --------
    Five sales of one card within ten minutes are a burst:

    >>> import meshkit as mk
    >>> detector = mk.analytics.FraudDetector({"st-1": (48.85, 2.35)})
    >>> sales = [{"sale_id": f"S-{i}", "amount": 30.0, "card_id": "c-1", "customer_id": "u-1",
    ...           "store_id": "st-1", "timestamp": f"2026-06-01T12:0{2 * i}:00Z"}
    ...          for i in range(5)]
    >>> [s.sale_ids for s in detector.process(sales)]
    [('S-0', 'S-1', 'S-2', 'S-3', 'S-4')]
    """

    def __init__(
        self,
        stores: Any,
        *,
        thresholds: FraudThresholds = FRAUD_THRESHOLDS,
        state: DetectorState | None = None,
        kinds: Iterable[str] = FRAUD_KINDS,
        followup_window: timedelta = timedelta(minutes=30),
        followup_amount: float = 250.0,
        card_retention: timedelta = timedelta(days=1),
        customer_retention: timedelta = timedelta(days=365),
    ) -> None:
        if not isinstance(thresholds, FraudThresholds):
            raise ValidationError(
                f"thresholds is {type(thresholds).__name__}; give a FraudThresholds, e.g. "
                "dataclasses.replace(mk.analytics.FRAUD_THRESHOLDS, burst_sales=4)"
            )
        if isinstance(kinds, str):
            kinds = (kinds,)
        self.kinds = tuple(kinds)
        unknown = [k for k in self.kinds if k not in FRAUD_KINDS]
        if unknown:
            raise ValidationError(
                f"kinds holds {unknown[0]!r}; give kinds from FRAUD_KINDS: {', '.join(FRAUD_KINDS)}"
            )
        self.stores = _store_map(stores)
        self.thresholds = thresholds
        self.state: DetectorState = MemoryState() if state is None else state
        self._burst_window = _seconds("thresholds.burst_window", thresholds.burst_window)
        self._testing_window = _seconds("thresholds.testing_window", thresholds.testing_window)
        self._followup = _seconds("followup_window", followup_window)
        self._followup_amount = float(followup_amount)
        self._card_keep = _seconds("card_retention", card_retention)
        self._customer_keep = _seconds("customer_retention", customer_retention)
        self._window = max(self._burst_window, self._testing_window)

    def __repr__(self) -> str:
        return (
            f"FraudDetector(stores={len(self.stores)}, kinds={len(self.kinds)}, "
            f"state={type(self.state).__name__})"
        )

    def process(self, sales: Any) -> list[Suspicion]:
        """Detect in one batch: load its cards' and customers' state, apply the rules, save.

        Parameters
        ----------
        sales : iterable, pandas.DataFrame or SalesSimulation
            SaleRecorded details (dicts) or DomainEvents, or a frame like
            ``SalesSimulation.sales``. Sorted by time here; sales seen before (the same
            ``sale_id`` in a card's window) are skipped, so a redelivered batch finds nothing.

        Returns
        -------
        list of Suspicion
            In the order they were found.

        Raises
        ------
        meshkit.exceptions.ValidationError
            For a bad sale or an unknown store, before any state changed.

        Examples
        --------
        >>> import meshkit as mk
        >>> detector = mk.analytics.FraudDetector({"st-1": (48.85, 2.35)})
        >>> sale = {"sale_id": "S-1", "amount": 1500.0, "card_id": "c-1", "customer_id": "u-1",
        ...         "store_id": "st-1", "timestamp": "2026-06-01T12:00:00Z"}
        >>> [s.kind for s in detector.process([sale])]
        ['new_customer_high_amount']
        >>> detector.process([sale])  # seen before: nothing new
        []
        """
        found, items = self._detect(_sales_of(sales))
        self.state.save(items)
        return found

    def _detect(self, sales: list[_Sale]) -> tuple[list[Suspicion], dict[str, dict[str, Any]]]:
        for index, sale in enumerate(sales):
            if sale.store_id not in self.stores:
                raise ValidationError(
                    f"sale {index} ({sale.sale_id}): store_id {sale.store_id!r:.40} is not in "
                    "stores; give the detector every store's place (SalesSimulation.stores)"
                )
        if not sales:
            return [], {}
        sales = sorted(sales, key=lambda s: (s.t, s.sale_id))
        newest = sales[-1].t
        keys = {f"card#{s.card_id}" for s in sales} | {f"customer#{s.customer_id}" for s in sales}
        items = {
            key: item
            for key, item in self.state.load(keys).items()
            if float(item.get("expires_at", 0)) >= newest  # prune on read: TTL is lazy
        }
        found: list[Suspicion] = []
        for sale in sales:
            card = items.setdefault(
                f"card#{sale.card_id}", {"window": [], "trusted": [], "test_end": None}
            )
            if any(entry[1] == sale.sale_id for entry in card["window"]):
                continue  # seen before: a redelivered record
            customer = items.get(f"customer#{sale.customer_id}")
            found.extend(self._rules(sale, card, customer))
            last = max(sale.t, float(card.get("last", sale.t)))
            card["last"] = last
            card["window"] = [e for e in card["window"] if e[0] >= last - self._keep_window()]
            card["expires_at"] = int(last + self._card_keep)
            seen = max(sale.t, float(customer["last"])) if customer else sale.t
            items[f"customer#{sale.customer_id}"] = {
                "first": customer["first"] if customer else sale.t,
                "last": seen,
                "expires_at": int(seen + self._customer_keep),
            }
        return found, items

    def _keep_window(self) -> float:
        return max(self._window, self._followup)

    def _rules(
        self, sale: _Sale, card: dict[str, Any], customer: dict[str, Any] | None
    ) -> list[Suspicion]:
        rules, found = self.thresholds, []
        window: list[list[Any]] = card["window"]
        entry: list[Any] = [sale.t, sale.sale_id, sale.amount, 0]
        bisect.insort(window, entry, key=lambda e: (e[0], e[1]))
        at = datetime.fromtimestamp(sale.t, timezone.utc)

        def suspect(kind: str, ids: list[str], evidence: dict[str, Any], ratio: float) -> None:
            found.append(
                Suspicion.make(
                    kind,
                    sale.card_id,
                    ids,
                    evidence,
                    at,
                    customer_id=sale.customer_id,
                    score=_ratio_score(ratio),
                )
            )

        if "card_testing" in self.kinds:
            if sale.amount < rules.tiny_amount:
                tiny = [
                    e for e in window
                    if e[2] < rules.tiny_amount and 0 <= sale.t - e[0] <= self._testing_window
                ]  # fmt: skip
                if len(tiny) >= rules.testing_sales:
                    new = [e for e in tiny if not e[3] & _TESTING]
                    for e in new:
                        e[3] |= _TESTING
                    test_end = card.get("test_end")
                    if test_end is None or sale.t - test_end > self._followup:
                        card["followed"] = False
                    card["test_end"] = sale.t
                    if new:
                        suspect(
                            "card_testing", [e[1] for e in new],
                            {"sales": len(tiny), "window_s": sale.t - tiny[0][0],
                             "amounts": [e[2] for e in tiny],
                             "limit_sales": rules.testing_sales,
                             "limit_window_s": self._testing_window,
                             "tiny_amount": rules.tiny_amount},
                            len(tiny) / rules.testing_sales,
                        )  # fmt: skip
            elif (
                card.get("test_end") is not None
                and not card.get("followed")
                and 0 <= sale.t - card["test_end"] <= self._followup
                and sale.amount >= self._followup_amount
            ):
                entry[3] |= _TESTING
                card["followed"] = True
                suspect(
                    "card_testing", [sale.sale_id],
                    {"amount": sale.amount, "after_test_s": sale.t - card["test_end"],
                     "limit_amount": self._followup_amount, "limit_after_s": self._followup},
                    sale.amount / self._followup_amount,
                )  # fmt: skip

        if "card_burst" in self.kinds and not entry[3] & _TESTING:
            burst = [
                e for e in window
                if not e[3] & _TESTING and 0 <= sale.t - e[0] <= self._burst_window
            ]  # fmt: skip
            if len(burst) >= rules.burst_sales:
                new = [e for e in burst if not e[3] & _BURST]
                for e in new:
                    e[3] |= _BURST
                suspect(
                    "card_burst", [e[1] for e in new],
                    {"sales": len(burst), "window_s": sale.t - burst[0][0],
                     "limit_sales": rules.burst_sales, "limit_window_s": self._burst_window},
                    len(burst) / rules.burst_sales,
                )  # fmt: skip

        if (
            "new_customer_high_amount" in self.kinds
            and customer is None
            and sale.amount >= rules.high_amount
        ):
            suspect(
                "new_customer_high_amount", [sale.sale_id],
                {"amount": sale.amount, "first_sale": True, "limit_amount": rules.high_amount},
                sale.amount / rules.high_amount,
            )  # fmt: skip

        if "impossible_travel" in self.kinds:
            self._travel(sale, card, suspect)
        return found

    def _travel(self, sale: _Sale, card: dict[str, Any], suspect: Callable[..., None]) -> None:
        rules = self.thresholds
        lat, lon = self.stores[sale.store_id]
        trusted: list[list[Any]] = card["trusted"]
        here = [sale.t, sale.sale_id, lat, lon]

        def conflict(a: list[Any], b: list[Any]) -> tuple[bool, float, float]:
            km = float(distance_km(a[2], a[3], b[2], b[3]))
            hours = abs(b[0] - a[0]) / 3600
            speed = math.inf if hours == 0 else km / hours
            return km >= rules.travel_min_km and speed > rules.travel_speed_kmh, km, speed

        if not trusted:
            card["trusted"] = [here]
            return
        last = trusted[-1]
        clash, km, speed = conflict(last, here)
        if not clash:
            card["trusted"] = [last, here]
            return
        before = trusted[0] if len(trusted) == 2 else None
        if before is not None:
            near = float(distance_km(before[2], before[3], lat, lon)) < rules.travel_min_km
            far = float(distance_km(before[2], before[3], last[2], last[3]))
            if near and far >= rules.travel_min_km:  # the trusted one was the outlier
                card["trusted"] = [before, here]
                suspect(
                    "impossible_travel", [last[1]],
                    {"distance_km": round(km, 1), "speed_kmh": _speed(speed),
                     "gap_s": abs(here[0] - last[0]), "compared_with": here[1],
                     "limit_speed_kmh": rules.travel_speed_kmh,
                     "limit_km": rules.travel_min_km},
                    speed / rules.travel_speed_kmh,
                )  # fmt: skip
                return
        suspect(
            "impossible_travel", [sale.sale_id],
            {"distance_km": round(km, 1), "speed_kmh": _speed(speed),
             "gap_s": abs(here[0] - last[0]), "compared_with": last[1],
             "limit_speed_kmh": rules.travel_speed_kmh, "limit_km": rules.travel_min_km},
            speed / rules.travel_speed_kmh,
        )  # fmt: skip


def _speed(speed: float) -> float | None:
    """JSON has no infinity: two sales at one instant have no speed (None)."""
    return None if math.isinf(speed) else round(speed, 1)


def detect_fraud(
    sales: Any,
    stores: Any = None,
    *,
    thresholds: FraudThresholds = FRAUD_THRESHOLDS,
    kinds: Iterable[str] = FRAUD_KINDS,
) -> pd.DataFrame:
    """Run a ``FraudDetector`` with in-memory state over all the sales; one row per suspicion.

    Parameters
    ----------
    sales : SalesSimulation, pandas.DataFrame or iterable
        A simulation (its stores are used when ``stores`` is None), or sales as
        ``FraudDetector.process`` takes them.
    stores : optional
        As ``FraudDetector`` takes them; required unless ``sales`` is a ``SalesSimulation``.
    thresholds : FraudThresholds, default FRAUD_THRESHOLDS
    kinds : iterable of str, default FRAUD_KINDS

    Returns
    -------
    pandas.DataFrame
        ``suspicion_id``, ``kind``, ``card_id``, ``customer_id``, ``sale_ids`` (a tuple),
        ``detected_at``, ``score``, ``evidence``.

    Examples
    --------
    >>> import meshkit as mk
    >>> simulation = mk.analytics.simulate_sales(2_000, seed=3)
    >>> found = mk.analytics.detect_fraud(simulation)
    >>> found["kind"].value_counts().sort_index()
    kind
    card_burst                  1
    card_testing                3
    impossible_travel           5
    new_customer_high_amount    5
    Name: count, dtype: int64
    """
    if stores is None:
        if not isinstance(sales, SalesSimulation):
            raise ValidationError(
                "stores is None and sales is not a SalesSimulation; give stores= "
                "(SalesSimulation.stores) for the impossible_travel rule"
            )
        stores = sales.stores
    detector = FraudDetector(stores, thresholds=thresholds, kinds=kinds)
    return _suspicions_frame(detector.process(sales))


_FRAME_COLUMNS = [
    "suspicion_id", "kind", "card_id", "customer_id", "sale_ids", "detected_at", "score",
    "evidence",
]  # fmt: skip


def _suspicions_frame(suspicions: Iterable[Suspicion]) -> pd.DataFrame:
    rows = [
        {
            "suspicion_id": s.suspicion_id,
            "kind": s.kind,
            "card_id": s.card_id,
            "customer_id": s.customer_id,
            "sale_ids": s.sale_ids,
            "detected_at": pd.Timestamp(s.detected_at),
            "score": s.score,
            "evidence": dict(s.evidence),
        }
        for s in suspicions
    ]
    return pd.DataFrame(rows, columns=_FRAME_COLUMNS)


# -- scoring ------------------------------------------------------------------------------------


def _suspected_pairs(suspicions: Any) -> pd.DataFrame:
    """(kind, sale_id) of everything suspected, from Suspicions, a frame or FraudSuspected
    details."""
    if isinstance(suspicions, pd.DataFrame):
        if not {"kind", "sale_ids"} <= set(suspicions.columns):
            raise ValidationError(
                "the suspicions frame lacks kind or sale_ids; give detect_fraud(...)'s frame"
            )
        rows = list(zip(suspicions["kind"], suspicions["sale_ids"], strict=True))
    elif isinstance(suspicions, Iterable) and not isinstance(suspicions, (str, Mapping)):
        rows = []
        for item in suspicions:
            if isinstance(item, Suspicion):
                rows.append((item.kind, item.sale_ids))
            elif isinstance(item, Mapping) and "kind" in item and "sale_ids" in item:
                rows.append((item["kind"], item["sale_ids"]))
            else:
                raise ValidationError(
                    f"suspicions holds {type(item).__name__}; give Suspicions, FraudSuspected "
                    "details or detect_fraud(...)'s frame"
                )
    else:
        raise ValidationError(
            f"suspicions is {type(suspicions).__name__}; give a list of Suspicions or "
            "detect_fraud(...)'s frame"
        )
    pairs = [(kind, sale_id) for kind, ids in rows for sale_id in ids]
    return pd.DataFrame(pairs, columns=["kind", "sale_id"]).drop_duplicates()


def score_detections(suspicions: Any, truth: Any, *, level: str = "sale") -> pd.DataFrame:
    """Precision, recall and F1 per kind of fraud, and over all kinds.

    At the sale level (the default) a suspected sale is a true positive when the truth has it
    as fraud of that kind: it is sales that are blocked, refunded or reviewed, and a detector
    that finds five sales of a twelve-sale burst has missed seven. At the incident level, an
    incident is found when any of its sales is suspected of its kind, and a suspicion is right
    when any of its sales is fraud of its kind (kinder to rules that fire once per incident).

    Parameters
    ----------
    suspicions : list of Suspicion, or pandas.DataFrame
        ``FraudDetector.process``'s result, or ``detect_fraud``'s frame.
    truth : pandas.DataFrame or SalesSimulation
        ``SalesSimulation.truth`` (``sale_id``, ``fraud_kind``, ``incident_id``).
    level : {"sale", "incident"}, default "sale"

    Returns
    -------
    pandas.DataFrame
        Indexed by ``kind`` (each of ``FRAUD_KINDS``, then ``all``): ``suspected``,
        ``fraudulent``, ``true_positives``, ``precision``, ``recall``, ``f1``. Precision is NaN
        when nothing was suspected, recall when nothing was fraud.

    Examples
    --------
    >>> import meshkit as mk
    >>> simulation = mk.analytics.simulate_sales(2_000, seed=3)
    >>> scores = mk.analytics.score_detections(mk.analytics.detect_fraud(simulation), simulation)
    >>> scores[["precision", "recall"]].loc["all"].tolist()
    [1.0, 1.0]
    """
    if isinstance(truth, SalesSimulation):
        truth = truth.truth
    if not isinstance(truth, pd.DataFrame) or not {"sale_id", "fraud_kind"} <= set(truth.columns):
        raise ValidationError(
            "truth must be SalesSimulation.truth (a frame with sale_id, fraud_kind and "
            "incident_id) or the SalesSimulation"
        )
    if level not in ("sale", "incident"):
        raise ValidationError(f"level is {level!r:.40}; give 'sale' or 'incident'")
    pairs = _suspected_pairs(suspicions)
    rows = []
    for kind in (*FRAUD_KINDS, "all"):
        mine = pairs if kind == "all" else pairs[pairs["kind"] == kind]
        fraud = truth if kind == "all" else truth[truth["fraud_kind"] == kind]
        if level == "sale":
            suspected = set(mine["sale_id"])
            actual = set(fraud["sale_id"])
            hits = len(suspected & actual)
            rows.append((kind, len(suspected), len(actual), hits, hits, hits))
        else:
            if "incident_id" not in truth.columns:
                raise ValidationError("truth lacks incident_id: level='incident' needs it")
            found = fraud[fraud["sale_id"].isin(set(mine["sale_id"]))]["incident_id"].nunique()
            suspicion_sets = _suspicion_sets(suspicions, kind)
            fraud_ids = set(fraud["sale_id"])
            right = sum(1 for ids in suspicion_sets if fraud_ids & set(ids))
            rows.append(
                (kind, len(suspicion_sets), fraud["incident_id"].nunique(), right, right, found)
            )
    frame = pd.DataFrame(
        rows,
        columns=["kind", "suspected", "fraudulent", "true_positives", "_right", "_found"],
    ).set_index("kind")
    frame["precision"] = frame["_right"] / frame["suspected"].where(frame["suspected"] > 0)
    frame["recall"] = frame["_found"] / frame["fraudulent"].where(frame["fraudulent"] > 0)
    frame["f1"] = 2 * frame["precision"] * frame["recall"] / (frame["precision"] + frame["recall"])
    if level == "incident":
        frame["true_positives"] = frame["_found"]
    return frame.drop(columns=["_right", "_found"])


def _suspicion_sets(suspicions: Any, kind: str) -> list[Sequence[str]]:
    rows: Iterable[tuple[Any, Any]]
    if isinstance(suspicions, pd.DataFrame):
        rows = zip(suspicions["kind"], suspicions["sale_ids"], strict=True)
    else:
        rows = (
            (s.kind, s.sale_ids) if isinstance(s, Suspicion) else (s["kind"], s["sale_ids"])
            for s in suspicions
        )
    return [ids for k, ids in rows if kind == "all" or k == kind]


def threshold_sweep(
    sales: Any,
    truth: Any,
    kind: str,
    parameter: str,
    values: Iterable[Any],
    *,
    stores: Any = None,
    thresholds: FraudThresholds = FRAUD_THRESHOLDS,
) -> pd.DataFrame:
    """How precision and recall of one kind move as one threshold moves (sale level).

    Runs the in-memory detector with only ``kind``'s rule once per value.

    Parameters
    ----------
    sales : SalesSimulation or pandas.DataFrame
    truth : pandas.DataFrame, optional
        None takes the simulation's.
    kind : str
        One of ``FRAUD_KINDS``.
    parameter : str
        A field of ``FraudThresholds`` (``burst_sales``, ``travel_speed_kmh``, ...).
    values : iterable
        Values of that field (timedeltas for the windows).
    stores : optional
        None takes the simulation's.
    thresholds : FraudThresholds, default FRAUD_THRESHOLDS
        The other limits.

    Returns
    -------
    pandas.DataFrame
        Indexed by the value: ``suspected``, ``true_positives``, ``precision``, ``recall``,
        ``f1``.

    Examples
    --------
    >>> import meshkit as mk
    >>> simulation = mk.analytics.simulate_sales(5_000, seed=3)
    >>> sweep = mk.analytics.threshold_sweep(
    ...     simulation, None, "card_burst", "burst_sales", [3, 5, 7])
    >>> sweep["recall"].round(2).tolist()
    [1.0, 1.0, 0.54]
    """
    fields = {f.name for f in dataclasses.fields(FraudThresholds)}
    if parameter not in fields:
        raise ValidationError(
            f"parameter is {parameter!r:.40}; give a field of FraudThresholds: "
            f"{', '.join(sorted(fields))}"
        )
    if kind not in FRAUD_KINDS:
        raise ValidationError(f"kind is {kind!r:.40}; give one of {', '.join(FRAUD_KINDS)}")
    if truth is None:
        if not isinstance(sales, SalesSimulation):
            raise ValidationError("truth is None and sales is not a SalesSimulation; give truth=")
        truth = sales.truth
    if stores is None and isinstance(sales, SalesSimulation):
        stores = sales.stores
    rows = []
    parsed = _sales_of(sales)
    for value in values:
        detector = FraudDetector(
            stores, thresholds=dataclasses.replace(thresholds, **{parameter: value}), kinds=(kind,)
        )
        found, _ = detector._detect(parsed)
        score = score_detections(found, truth).loc[kind]
        rows.append({parameter: value, **score.drop("fraudulent").to_dict()})
    return pd.DataFrame(rows).set_index(parameter)


# -- Lambda handlers ----------------------------------------------------------------------------


def _record_sale(record: Mapping[str, Any], event_source: str) -> dict[str, Any] | None:
    """The SaleRecorded detail inside one record, or None for an event of another type."""
    if event_source == "sqs":
        envelope = json.loads(record["body"])
    else:
        envelope = json.loads(base64.b64decode(record["kinesis"]["data"], validate=True))
    if not isinstance(envelope, Mapping) or not isinstance(envelope.get("detail"), Mapping):
        raise ValidationError("the record holds no EventBridge event with a detail")
    if envelope.get("detail-type", "SaleRecorded") != "SaleRecorded":
        return None
    detail = envelope["detail"]
    data = detail["data"] if "data" in detail and "metadata" in detail else detail
    return dict(data)


def _identifier(record: Any, event_source: str) -> str:
    key = "messageId" if event_source == "sqs" else "sequenceNumber"
    holder = record.get("kinesis", {}) if event_source == "kinesis" else record
    value = holder.get(key) if isinstance(holder, Mapping) else None
    if not isinstance(value, str) or not value:
        raise ValidationError(
            f"a record has no {key}, so it cannot be reported in batchItemFailures: pass the "
            f"records of an {event_source.upper()} event as Lambda delivers them"
        )
    return value


def fraud_handler(
    stores: Any,
    *,
    event_source: str = "sqs",
    table_name: str | None = None,
    bus: str | None = None,
    thresholds: FraudThresholds = FRAUD_THRESHOLDS,
    boto3_session: boto3.Session | None = None,
) -> Callable[[Mapping[str, Any], Any], dict[str, list[dict[str, str]]]]:
    """A Lambda handler that detects fraud in a batch of sales and publishes ``FraudSuspected``.

    Per invocation: parse every record (a bad one is reported, the others go on), load the
    state of the batch's cards and customers from the table, apply the rules, publish each
    suspicion on the Fraud bus with ``suspicion_id`` as its idempotency key, then save the
    state. When a suspicion is not delivered, every record is reported failed and no state is
    saved: the retried batch finds the same suspicions under the same ids (consumers that
    de-duplicate by key see each once). A batch delivered again after it succeeded finds its
    sales in the state and publishes nothing. Enable ``ReportBatchItemFailures`` on the event
    source mapping; for Kinesis, partition by ``card_id`` so one card's sales stay in order on
    one shard (on SQS two instances may hold one card's sales at once: a last write wins).

    Parameters
    ----------
    stores : pandas.DataFrame, SalesSimulation or dict
        Where each store is (see ``FraudDetector``).
    event_source : {"sqs", "kinesis"}, default "sqs"
        SQS records carry the EventBridge event in ``body``; Kinesis records carry it base64
        encoded in ``kinesis.data`` (as ``record_events`` and a Kinesis rule target write it).
    table_name : str, optional
        Default: ``FRAUD_DETECTOR_TABLE`` from the environment, else ``FraudDetectorState``.
    bus : str, optional
        Default: ``FRAUD_EVENT_BUS`` from the environment, else ``FraudEventBus``.
    thresholds : FraudThresholds, default FRAUD_THRESHOLDS
    boto3_session : boto3.Session, optional

    Returns
    -------
    callable
        ``handler(event, context) -> {"batchItemFailures": [{"itemIdentifier": ...}, ...]}``
        (message ids for SQS, sequence numbers for Kinesis).

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad argument (here), or from the handler for a record without an identifier.

    Examples
    --------
    >>> import json, meshkit as mk
    >>> bus = mk.buses.create_domain_bus("fraud")
    >>> table = mk.analytics.create_detector_table()
    >>> handler = mk.analytics.fraud_handler({"st-1": (48.85, 2.35)})
    >>> sale = {"sale_id": "S-1", "amount": 1500.0, "card_id": "c-1", "customer_id": "u-1",
    ...         "store_id": "st-1", "timestamp": "2026-06-01T12:00:00Z"}
    >>> body = {"detail-type": "SaleRecorded", "detail": {"metadata": {}, "data": sale}}
    >>> handler({"Records": [{"messageId": "m-1", "body": json.dumps(body)},
    ...                      {"messageId": "m-2", "body": "not json"}]}, None)
    {'batchItemFailures': [{'itemIdentifier': 'm-2'}]}
    >>> mk.analytics.delete_detector_table()
    True
    >>> mk.buses.delete_domain_bus("fraud")
    True
    """
    if event_source not in ("sqs", "kinesis"):
        raise ValidationError(f"event_source is {event_source!r:.40}; give 'sqs' or 'kinesis'")
    store_places = _store_map(stores)

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, list[dict[str, str]]]:
        ensure_target()
        if not isinstance(event, Mapping) or not isinstance(event.get("Records"), list):
            raise ValidationError(
                'the invocation event has no "Records" list: pass an SQS or Kinesis event as '
                "Lambda delivers it"
            )
        detector = FraudDetector(
            store_places,
            thresholds=thresholds,
            state=DynamoDBState(
                table_name or os.environ.get(_TABLE_ENV, DETECTOR_TABLE),
                boto3_session=boto3_session,
            ),
        )
        failed: list[str] = []
        ready: list[tuple[str, _Sale]] = []
        for record in event["Records"]:
            identifier = _identifier(record, event_source)
            try:
                raw = _record_sale(record, event_source)
                if raw is None:
                    continue
                sale = _sale(raw, f"record {identifier}")
                if sale.store_id not in store_places:
                    raise ValidationError(f"store_id {sale.store_id!r:.40} is not in stores")
            except (ValidationError, ValueError, KeyError, TypeError, binascii.Error) as err:
                _logger.warning(
                    "record %s is not a sale the detector can read: %s", identifier, err
                )
                failed.append(identifier)
                continue
            ready.append((identifier, sale))
        if ready:
            found, items = detector._detect([sale for _, sale in ready])
            if found:
                result = events.publish(
                    bus or os.environ.get(_BUS_ENV, bus_name("fraud")),
                    [s.to_event() for s in found],
                    boto3_session=boto3_session,
                )
                if not result.ok:
                    _logger.warning(
                        "%d suspicion(s) not delivered: the batch is retried whole",
                        len(result.failed) + len(result.unsent),
                    )
                    return {
                        "batchItemFailures": [
                            {"itemIdentifier": i} for i in [*failed, *(i for i, _ in ready)]
                        ]
                    }
            detector.state.save(items)
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failed]}

    return handler
