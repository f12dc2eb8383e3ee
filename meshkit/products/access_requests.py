"""Access requests: Amazon DataZone's subscription workflow, built from the mesh's own parts.

In Amazon DataZone a consumer finds a published asset in the catalog and subscribes to it: the
subscription request says why the data is needed, the asset's owner approves or rejects it, and an
approved request on a Glue table is fulfilled with Lake Formation grants on that table; for
assets it does not manage, DataZone publishes events on EventBridge (a request approved, ...)
for the owner's own fulfilment
(https://docs.aws.amazon.com/datazone/latest/userguide/discover-subscribe-consume-data.html,
https://docs.aws.amazon.com/datazone/latest/userguide/subscribe-to-data-assets-managed-by-datazone.html,
https://docs.aws.amazon.com/datazone/latest/userguide/approve-reject-subscription-request.html,
https://docs.aws.amazon.com/datazone/latest/userguide/grant-access-to-glue-asset.html).

This module is that workflow made of what the mesh already has, so it runs offline too (the
embedded AWS has no DataZone):

=========================================  ===============================================
DataZone                                   here
=========================================  ===============================================
the catalog a consumer searches            the Glue Data Catalog (``list_data_products``)
a subscription request, with its reason    ``DataProductAccessRequested`` on the governance
                                           bus (``request_access``)
the owner approves or rejects              the producing domain's handler applies its
                                           ``AccessPolicy`` (``access_request_handler``)
fulfilment through Lake Formation          a named Lake Formation grant on the product's
                                           table, of the columns asked for or all of them
the subscriber learns the outcome          ``DataProductAccessGranted`` or
                                           ``DataProductAccessDenied``, with the reason
=========================================  ===============================================

The governance domain owns the protocol: the three events have the source ``governance.domain``
and travel on its bus, ``GovernanceEventBus``; who asks is in the data (``requester_domain``).
A producing domain subscribes its handler with ``request_pattern(domain)`` (the requests for its
own products), a requesting domain its reader of answers with ``answer_pattern(domain)``.

A policy grants what needs no person: ``public`` and ``internal`` products to any domain,
``confidential`` ones to the domains their owner listed, ``restricted`` ones never (the answer
names the owner to ask, who can grant by hand: ``mk.products.grant``). EventBridge and SQS deliver
at least once, so a request may be answered twice: the grant is made once (Lake Formation holds a
permission once, and meshkit's grant leaves one that exists alone), and every answer carries the
idempotency key ``<request_id>/answer``, so the requester counts one answer per request however
often it arrives. An error that may pass (AWS unreachable, throttled) is not answered but reported
as a failure of that message, which SQS delivers again and, in the end, moves to the DLQ.

On real AWS, Lake Formation enforces the grant when the principal queries (Athena, Glue, EMR); the
embedded AWS stores it and enforces nothing, so offline ``mk.products.who_can_read`` shows what
the grant allows, with meshkit's evaluator.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

import boto3
from botocore.exceptions import ClientError

from .. import contracts, events
from .._shared import error_code
from ..buses import bus_name, domain_key
from ..exceptions import ValidationError
from . import descriptor, lakeformation
from .descriptor import DataProduct, DataProductNotFoundError

__all__ = [
    "ACCESS_DENIED",
    "ACCESS_GRANTED",
    "ACCESS_REQUESTED",
    "GOVERNANCE_BUS",
    "GOVERNANCE_SOURCE",
    "AccessAnswer",
    "AccessPolicy",
    "AccessRequest",
    "MalformedRequestError",
    "PolicyDecision",
    "access_request_handler",
    "answer_pattern",
    "answer_request",
    "request_access",
    "request_pattern",
]

_logger = logging.getLogger(__name__)

GOVERNANCE_SOURCE = "governance.domain"
GOVERNANCE_BUS = bus_name("governance")  # "GovernanceEventBus"
ACCESS_REQUESTED = "DataProductAccessRequested"
ACCESS_GRANTED = "DataProductAccessGranted"
ACCESS_DENIED = "DataProductAccessDenied"
_SCHEMA_VERSION = "1.0"
_GRANT = "lakeformation"  # the Granted event's "grant": how access was given

# As the contracts (meshkit/contract_files/governance.domain/...) say, checked whole here.
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_PRODUCT = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*\.[a-z0-9][a-z0-9._-]*")
_PRODUCT_MAX = 512
_ROLE_ARN = re.compile(r"arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9_+=,.@/-]{1,512}")
_COLUMN = re.compile(r"[a-z_][a-z0-9_]{0,254}")
_PURPOSE_MAX = 1024
_REASON_MAX = 2048
_ROLE_EXAMPLE = "arn:aws:iam::123456789012:role/marketing-analyst"
# What a policy may grant to every domain without a person: confidential goes to listed domains,
# restricted to none.
_OPEN_CLASSIFICATIONS = ("public", "internal")
# Lake Formation's TableWithColumnsResource "is only used when granting a SELECT permission"
# (https://docs.aws.amazon.com/lake-formation/latest/APIReference/API_TableWithColumnsResource.html).
_TABLE_PERMISSIONS = ("SELECT", "DESCRIBE")
_COLUMN_PERMISSIONS = ("SELECT",)
# Lake Formation's answers that no retry changes (a principal or table it does not know): they
# are answered Denied; any other error is a failure of the message, delivered again later.
_PERMANENT_GRANT_ERRORS = frozenset({"InvalidInputException", "EntityNotFoundException"})
# What names a request; its answer repeats them, so the requester can match the two.
_REQUEST_KEYS = ("request_id", "product", "requester_domain", "principal")

Handler = Callable[[dict[str, Any], Any], Any]


class MalformedRequestError(ValidationError):
    """A message is not a ``DataProductAccessRequested`` meshkit can read: not JSON, another kind
    of event, or data that breaks the request's contract. It cannot be answered (who would be
    told?), so the handler reports it failed and SQS moves it to the DLQ in the end."""


# -- checks -----------------------------------------------------------------------------------


def _kind(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def _check_request_id(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _REQUEST_ID.fullmatch(value):
        raise ValidationError(
            f"{field} {value!r:.60} is not a request id: 1 to 100 letters, digits, '_', '.' or "
            "'-', starting with a letter or digit, e.g. 'marketing-42' (leave it out for a new "
            "UUID)"
        )
    return value


def _check_product_name(value: Any, field: str) -> str:
    if not isinstance(value, str) or len(value) > _PRODUCT_MAX or not _PRODUCT.fullmatch(value):
        raise ValidationError(
            f"{field} {value!r:.80} is not a data product's name: '<domain>.<detail-type in "
            f"kebab case>' of at most {_PRODUCT_MAX} characters, e.g. 'sales.sale-recorded' "
            "(mk.products.list_data_products() lists them)"
        )
    return value


def _check_principal(value: Any, field: str) -> str:
    if not isinstance(value, str) or not _ROLE_ARN.fullmatch(value):
        raise ValidationError(
            f"{field} {value!r:.100} is not an IAM role ARN: the role that will read the data, "
            f"e.g. '{_ROLE_EXAMPLE}' (mk.iam.create_domain_role returns one)"
        )
    return value


def _check_text(value: Any, field: str, limit: int, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(
            f"{field} must be a non-empty string, e.g. {field}={example!r}, not {value!r:.40}"
        )
    if len(value) > limit:
        raise ValidationError(
            f"{field} is {len(value)} characters; the contract allows at most {limit}: shorten it"
        )
    return value


def _check_columns(value: Any, field: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    how = f"give a list of column names, e.g. {field}=['sale_id', 'amount'], or None for all"
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise ValidationError(f"{field} is {_kind(value)} ({value!r:.40}): {how}")
    columns = tuple(value)
    if not columns:
        raise ValidationError(f"{field} is empty: {how}")
    for column in columns:
        if not isinstance(column, str) or not _COLUMN.fullmatch(column):
            raise ValidationError(
                f"{field} holds {column!r:.40}, which is not a Glue column name (lower-case "
                f"letters, digits and '_', starting with a letter or '_'): {how}"
            )
    if len(set(columns)) != len(columns):
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        raise ValidationError(f"{field} names {', '.join(repeated)} more than once: {how}")
    return columns


# -- the protocol -----------------------------------------------------------------------------


@dataclass(frozen=True)
class AccessRequest:
    """One ``DataProductAccessRequested``: who asks for which product, for whom, and why.

    Attributes
    ----------
    request_id : str
        The requester's id of the request; the answer carries it.
    product : str
        The product asked for, e.g. ``"sales.sale-recorded"``.
    requester_domain : str
        The domain asking, e.g. ``"marketing"`` (canonical spelling, ``mk.buses.domain_key``).
    principal : str
        The IAM role that will read the data.
    purpose : str
        Why: what the owner reads before deciding.
    columns : tuple of str, optional
        The columns asked for; None asks for the whole table.

    Examples
    --------
    >>> import meshkit as mk
    >>> request = mk.products.AccessRequest(
    ...     "req-1", "sales.sale-recorded", "marketing",
    ...     "arn:aws:iam::123456789012:role/marketing-analyst", "campaign attribution",
    ... )
    >>> request.product_domain
    'sales'
    """

    request_id: str
    product: str
    requester_domain: str
    principal: str
    purpose: str
    columns: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        _check_request_id(self.request_id, "request_id")
        _check_product_name(self.product, "product")
        object.__setattr__(
            self, "requester_domain", domain_key(self.requester_domain, field="requester_domain")
        )
        _check_principal(self.principal, "principal")
        _check_text(self.purpose, "purpose", _PURPOSE_MAX, "campaign attribution")
        object.__setattr__(self, "columns", _check_columns(self.columns, "columns"))

    @property
    def product_domain(self) -> str:
        """The domain that owns the product asked for: the part of its name before the dot."""
        return self.product.split(".", 1)[0]

    def data(self) -> dict[str, Any]:
        """The event's ``data``, as the ``DataProductAccessRequested`` contract describes it.

        Examples
        --------
        >>> import meshkit as mk
        >>> request = mk.products.AccessRequest(
        ...     "req-1", "sales.sale-recorded", "marketing",
        ...     "arn:aws:iam::123456789012:role/marketing-analyst", "campaign attribution",
        ...     columns=("sale_id", "amount"),
        ... )
        >>> request.data()["columns"]
        ['sale_id', 'amount']
        """
        data = {**_request_keys(self), "purpose": self.purpose}
        if self.columns is not None:
            data["columns"] = list(self.columns)
        return data

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> AccessRequest:
        """Read a request from an EventBridge event (an SQS message's body, parsed).

        Raises
        ------
        MalformedRequestError
            When the event is not a ``DataProductAccessRequested`` of the governance domain in
            meshkit's envelope, or its data breaks the contract.

        Examples
        --------
        >>> import meshkit as mk
        >>> data = {
        ...     "request_id": "req-1", "product": "sales.sale-recorded",
        ...     "requester_domain": "marketing", "purpose": "campaign attribution",
        ...     "principal": "arn:aws:iam::123456789012:role/marketing-analyst",
        ... }
        >>> event = {
        ...     "source": "governance.domain", "detail-type": "DataProductAccessRequested",
        ...     "detail": {"metadata": {"schema_version": "1.0"}, "data": data},
        ... }
        >>> mk.products.AccessRequest.from_event(event).requester_domain
        'marketing'
        """
        data = _event_data(event, (ACCESS_REQUESTED,))
        try:
            return cls(
                **{key: data[key] for key in _REQUEST_KEYS},
                purpose=data["purpose"],
                columns=data.get("columns"),
            )
        except ValidationError as err:
            raise MalformedRequestError(f"the access request cannot be read: {err}") from None


def _request_keys(item: AccessRequest | AccessAnswer) -> dict[str, Any]:
    """The fields that name the request, as its events' ``data`` spells them, in their order."""
    return {key: getattr(item, key) for key in _REQUEST_KEYS}


def _event_data(event: Any, detail_types: tuple[str, ...]) -> dict[str, Any]:
    """An event's ``data``, once it is a governance event of one of ``detail_types`` and its data
    satisfies the contract of its schema version."""
    if not isinstance(event, Mapping):
        raise MalformedRequestError(
            f"the event is {_kind(event)}, not an EventBridge event (a dict with source, "
            "detail-type and detail)"
        )
    source, detail_type = event.get("source"), event.get("detail-type")
    if source != GOVERNANCE_SOURCE or detail_type not in detail_types:
        raise MalformedRequestError(
            f"the event is {source!r:.60} / {detail_type!r:.60}, not {GOVERNANCE_SOURCE} / "
            f"{' or '.join(detail_types)}: check the subscription's pattern (request_pattern, "
            "answer_pattern)"
        )
    detail = event.get("detail")
    if (
        not isinstance(detail, Mapping)
        or not isinstance(detail.get("metadata"), Mapping)
        or not isinstance(detail.get("data"), Mapping)
    ):
        raise MalformedRequestError(
            f"the {detail_type} event's detail is not the mesh's envelope "
            '{"metadata": {...}, "data": {...}}: publish it with mk.events.publish'
        )
    version = detail["metadata"].get("schema_version", _SCHEMA_VERSION)
    try:
        contract = contracts.get(GOVERNANCE_SOURCE, str(detail_type), str(version))
        data = dict(detail["data"])
        contract.validate(data)
    except ValidationError as err:  # an unknown version, or data that breaks the contract
        raise MalformedRequestError(f"the {detail_type} event cannot be read: {err}") from None
    return data


class PolicyDecision(NamedTuple):
    """What an ``AccessPolicy`` decided, and why (the answer's reason).

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.products.PolicyDecision(granted=False, reason="restricted")
    PolicyDecision(granted=False, reason='restricted')
    """

    granted: bool
    reason: str


@dataclass(frozen=True)
class AccessPolicy:
    """What a producing domain grants without a person, by the product's classification.

    ``public`` and ``internal`` products go to any domain that asks (those in ``open_to_all``),
    ``confidential`` ones to the domains listed in ``confidential_domains``, ``restricted`` ones
    never: a person decides those (the answer says whom to ask: the product's owner).

    Parameters
    ----------
    open_to_all : tuple of str, default ("public", "internal")
        The classifications granted to every requesting domain; only ``public`` and
        ``internal`` may be listed. Leave ``internal`` out to have a person decide those too.
    confidential_domains : tuple of str, default ()
        The domains that may read this domain's confidential products (any spelling
        ``mk.buses.domain_key`` accepts).

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a classification that cannot be open to all, or a bad domain name.

    Examples
    --------
    >>> import meshkit as mk
    >>> policy = mk.products.AccessPolicy(confidential_domains=["Fraud"])
    >>> policy.confidential_domains
    ('fraud',)
    """

    open_to_all: tuple[str, ...] = _OPEN_CLASSIFICATIONS
    confidential_domains: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        open_to_all: Any = self.open_to_all
        if isinstance(open_to_all, str) or not isinstance(open_to_all, Iterable):
            raise ValidationError(
                f"open_to_all is {_kind(open_to_all)} ({open_to_all!r:.40}): give a tuple of "
                "classifications, e.g. open_to_all=('public', 'internal')"
            )
        open_to_all = tuple(open_to_all)
        for classification in open_to_all:
            if classification not in _OPEN_CLASSIFICATIONS:
                raise ValidationError(
                    f"open_to_all holds {classification!r:.40}; only 'public' and 'internal' "
                    "products may be granted to every domain: confidential ones go to the "
                    "domains in confidential_domains, restricted ones are decided by a person"
                )
        domains: Any = self.confidential_domains
        if isinstance(domains, str) or not isinstance(domains, Iterable):
            raise ValidationError(
                f"confidential_domains is {_kind(domains)} ({domains!r:.40}): give a tuple of "
                "domain names, e.g. confidential_domains=('fraud',)"
            )
        keys = tuple(domain_key(d, field="confidential_domains") for d in domains)
        object.__setattr__(self, "open_to_all", open_to_all)
        object.__setattr__(self, "confidential_domains", tuple(dict.fromkeys(keys)))

    def decide(self, product: DataProduct, request: AccessRequest) -> PolicyDecision:
        """Whether ``request`` is granted without a person, and why.

        The classification decides first; then every column asked for must be one of the
        product's (its columns and partition keys).

        Parameters
        ----------
        product : DataProduct
            The product asked for (its descriptor, as ``get_data_product`` reads it).
        request : AccessRequest

        Returns
        -------
        PolicyDecision

        Examples
        --------
        >>> import meshkit as mk
        >>> product = mk.products.define_data_product(
        ...     "sales", "SaleRecorded", description="Every sale", classification="restricted"
        ... )
        >>> request = mk.products.AccessRequest(
        ...     "req-1", "sales.sale-recorded", "marketing",
        ...     "arn:aws:iam::123456789012:role/marketing-analyst", "campaign attribution",
        ... )
        >>> decision = mk.products.AccessPolicy().decide(product, request)
        >>> decision.granted, decision.reason.split(":")[0]
        (False, 'sales.sale-recorded is restricted')
        """
        if not isinstance(product, DataProduct):
            raise ValidationError(
                f"product is {_kind(product)}; give the DataProduct asked for "
                "(mk.products.get_data_product(request.product))"
            )
        if not isinstance(request, AccessRequest):
            raise ValidationError(
                f"request is {_kind(request)}; give an mk.products.AccessRequest "
                "(AccessRequest.from_event reads one from an event)"
            )
        name, level, owner = product.name, product.classification, product.owner
        asker = request.requester_domain
        if level in self.open_to_all:
            decision = PolicyDecision(True, f"{name} is {level}: granted to any domain that asks")
        elif level == "confidential" and asker in self.confidential_domains:
            decision = PolicyDecision(
                True,
                f"{name} is confidential: granted to {asker}, a domain its owner ({owner}) "
                "listed in its access policy",
            )
        elif level == "confidential":
            listed = ", ".join(self.confidential_domains) or "none yet"
            decision = PolicyDecision(
                False,
                f"{name} is confidential: granted only to the domains its owner listed "
                f"({listed}), and {asker} is not one of them: ask {owner} to add {asker} to the "
                "domain's AccessPolicy(confidential_domains=...)",
            )
        elif level == "restricted":
            decision = PolicyDecision(
                False,
                f"{name} is restricted: never granted automatically. Ask its owner, {owner}: a "
                "person decides, and grants it with Lake Formation if they agree",
            )
        else:  # public or internal left out of open_to_all
            decision = PolicyDecision(
                False,
                f"{name} is {level}, and the {product.domain} domain grants {level} products "
                f"only by a person's decision: ask its owner, {owner}",
            )
        if decision.granted and request.columns is not None:
            known = [c.name for c in product.columns] + list(product.dataset.partition_keys)
            unknown = [c for c in request.columns if c not in known]
            if unknown:
                decision = PolicyDecision(
                    False,
                    f"{name} has no column {', '.join(unknown)}: ask again for columns among "
                    f"{', '.join(known)}, or for the whole table (columns=None)",
                )
        return decision


@dataclass(frozen=True)
class AccessAnswer:
    """A ``DataProductAccessGranted`` or ``DataProductAccessDenied``, as the requester reads it.

    Attributes
    ----------
    request_id, product, requester_domain, principal : str
        As in the request.
    granted : bool
    reason : str
        Why (for a denial: what to do, whom to ask).
    database, table : str or None
        Where to read the product (granted answers only).
    columns : tuple of str or None
        The columns granted; None: the whole table (or a denial).
    permissions : tuple of str
        The Lake Formation permissions granted (empty for a denial).
    idempotency_key : str
        ``<request_id>/answer``: the same for every delivery of one request's answer.

    Examples
    --------
    >>> import meshkit as mk
    >>> answer = mk.products.AccessAnswer(
    ...     "req-1", "sales.sale-recorded", "marketing",
    ...     "arn:aws:iam::123456789012:role/marketing-analyst", granted=False, reason="restricted",
    ... )
    >>> answer.idempotency_key
    'req-1/answer'
    """

    request_id: str
    product: str
    requester_domain: str
    principal: str
    granted: bool
    reason: str
    database: str | None = None
    table: str | None = None
    columns: tuple[str, ...] | None = None
    permissions: tuple[str, ...] = ()

    @property
    def idempotency_key(self) -> str:
        """The key every delivery of this answer carries: ``<request_id>/answer``."""
        return f"{self.request_id}/answer"

    def data(self) -> dict[str, Any]:
        """The event's ``data``, as the Granted or Denied contract describes it.

        Examples
        --------
        >>> import meshkit as mk
        >>> answer = mk.products.AccessAnswer(
        ...     "req-1", "sales.sale-recorded", "marketing",
        ...     "arn:aws:iam::123456789012:role/marketing-analyst", granted=False,
        ...     reason="restricted",
        ... )
        >>> sorted(answer.data())
        ['principal', 'product', 'reason', 'request_id', 'requester_domain']
        """
        data = _request_keys(self)
        if self.granted:
            data.update(
                database=self.database,
                table=self.table,
                columns=list(self.columns) if self.columns is not None else None,
                permissions=list(self.permissions),
                grant=_GRANT,
            )
        data["reason"] = self.reason[:_REASON_MAX]
        return data

    @property
    def detail_type(self) -> str:
        """``DataProductAccessGranted`` or ``DataProductAccessDenied``."""
        return ACCESS_GRANTED if self.granted else ACCESS_DENIED

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> AccessAnswer:
        """Read an answer from an EventBridge event (an SQS message's body, parsed).

        Raises
        ------
        MalformedRequestError
            When the event is not a Granted or Denied answer whose data satisfies its contract.

        Examples
        --------
        >>> import meshkit as mk
        >>> data = {
        ...     "request_id": "req-1", "product": "sales.sale-recorded",
        ...     "requester_domain": "marketing", "reason": "sales.sale-recorded is restricted",
        ...     "principal": "arn:aws:iam::123456789012:role/marketing-analyst",
        ... }
        >>> event = {
        ...     "source": "governance.domain", "detail-type": "DataProductAccessDenied",
        ...     "detail": {"metadata": {"schema_version": "1.0"}, "data": data},
        ... }
        >>> mk.products.AccessAnswer.from_event(event).granted
        False
        """
        data = _event_data(event, (ACCESS_GRANTED, ACCESS_DENIED))
        granted = event["detail-type"] == ACCESS_GRANTED
        columns = data.get("columns")
        return cls(
            **{key: data[key] for key in _REQUEST_KEYS},
            granted=granted,
            reason=data["reason"],
            database=data.get("database"),
            table=data.get("table"),
            columns=tuple(columns) if columns is not None else None,
            permissions=tuple(data.get("permissions", ())),
        )


# -- patterns ---------------------------------------------------------------------------------


def request_pattern(domain: str) -> dict[str, Any]:
    """The event pattern a producing domain subscribes with: requests for its own products.

    Parameters
    ----------
    domain : str
        The producing domain, e.g. ``"sales"``: requests whose product starts with ``"sales."``.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.products.request_pattern("sales")  # doctest: +NORMALIZE_WHITESPACE
    {'source': ['governance.domain'], 'detail-type': ['DataProductAccessRequested'],
     'detail': {'data': {'product': [{'prefix': 'sales.'}]}}}
    """
    key = domain_key(domain)
    return {
        "source": [GOVERNANCE_SOURCE],
        "detail-type": [ACCESS_REQUESTED],
        "detail": {"data": {"product": [{"prefix": f"{key}."}]}},
    }


def answer_pattern(requester_domain: str) -> dict[str, Any]:
    """The event pattern a requesting domain subscribes with: the answers to its requests.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.products.answer_pattern("marketing")  # doctest: +NORMALIZE_WHITESPACE
    {'source': ['governance.domain'],
     'detail-type': ['DataProductAccessGranted', 'DataProductAccessDenied'],
     'detail': {'data': {'requester_domain': ['marketing']}}}
    """
    key = domain_key(requester_domain, field="requester_domain")
    return {
        "source": [GOVERNANCE_SOURCE],
        "detail-type": [ACCESS_GRANTED, ACCESS_DENIED],
        "detail": {"data": {"requester_domain": [key]}},
    }


# -- the requester's side ---------------------------------------------------------------------


def request_access(
    product_name: str,
    *,
    requester_domain: str,
    principal: str,
    purpose: str,
    columns: Iterable[str] | None = None,
    request_id: str | None = None,
    boto3_session: boto3.Session | None = None,
) -> str:
    """Ask for read access to a data product: publish ``DataProductAccessRequested``.

    The request goes on the governance bus (``GovernanceEventBus``, which must exist); the
    product's domain answers with ``DataProductAccessGranted`` or ``DataProductAccessDenied``
    (subscribe to them with ``answer_pattern(requester_domain)``). Nothing is granted here.

    Parameters
    ----------
    product_name : str
        The product, e.g. ``"sales.sale-recorded"`` (``mk.products.list_data_products``).
    requester_domain : str
        The domain asking, e.g. ``"marketing"``.
    principal : str
        The IAM role ARN that will read the data, e.g.
        ``"arn:aws:iam::123456789012:role/marketing-analyst"``.
    purpose : str
        Why the data is needed (at most 1,024 characters): the owner reads it.
    columns : list of str, optional
        The columns needed; default the whole table.
    request_id : str, optional
        Your id of the request (1 to 100 letters, digits, ``_``, ``.``, ``-``); default a new
        UUID. Asking again with the same id is the same request: it is answered (and granted)
        once more, with the same answer key.
    boto3_session : boto3.Session, optional

    Returns
    -------
    str
        The request id; the answer carries it, and its idempotency key is ``<id>/answer``.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad argument, named with its rule; nothing was sent.
    meshkit.events.UnknownBusError
        When the governance bus does not exist: ``mk.buses.create_domain_bus("governance")``.
    meshkit.events.PublishError
        When EventBridge did not take the request.

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("governance")
    >>> mk.products.request_access(
    ...     "sales.sale-recorded", requester_domain="marketing",
    ...     principal="arn:aws:iam::123456789012:role/marketing-analyst",
    ...     purpose="campaign attribution", request_id="marketing-1",
    ... )
    'marketing-1'
    >>> mk.buses.delete_domain_bus("governance")
    True
    """
    _check_product_name(product_name, "product_name")
    requester = domain_key(requester_domain, field="requester_domain")
    _check_principal(principal, "principal")
    _check_text(purpose, "purpose", _PURPOSE_MAX, "campaign attribution")
    checked_columns = _check_columns(columns, "columns")
    request_id = (
        str(uuid.uuid4()) if request_id is None else _check_request_id(request_id, "request_id")
    )
    request = AccessRequest(
        request_id, product_name, requester, principal, purpose, checked_columns
    )
    event = events.DomainEvent(
        GOVERNANCE_SOURCE,
        ACCESS_REQUESTED,
        request.data(),
        idempotency_key=request_id,
        correlation_id=request_id,
        schema_version=_SCHEMA_VERSION,
    )
    events.publish(GOVERNANCE_BUS, [event], raise_on_failure=True, boto3_session=boto3_session)
    _logger.info("%s asked for %s (request %s)", requester, product_name, request_id)
    return request_id


# -- the producer's side ----------------------------------------------------------------------


def _check_policy(policy: Any) -> AccessPolicy:
    if policy is None:
        return AccessPolicy()
    if not isinstance(policy, AccessPolicy):
        raise ValidationError(
            f"policy is {_kind(policy)}; give an mk.products.AccessPolicy (e.g. "
            "AccessPolicy(confidential_domains=('fraud',))), or None for the default one"
        )
    return policy


def answer_request(
    domain: str,
    event: Mapping[str, Any],
    *,
    policy: AccessPolicy | None = None,
    boto3_session: boto3.Session | None = None,
) -> AccessAnswer:
    """Answer one access request as the producing ``domain``: decide, grant, publish the answer.

    What ``access_request_handler`` does for each message. A request for another domain's product
    is answered Denied ("not this domain's product"), one for a product the domain's catalog
    does not hold Denied too; otherwise ``policy`` decides, a granted request is fulfilled with a
    named Lake Formation grant on the product's table (the columns asked for, or the whole
    table), and the answer is published on the governance bus with the idempotency key
    ``<request_id>/answer``. Answering the same request again grants nothing new (Lake Formation
    holds the permission once) and publishes the same answer again, under the same key.

    Parameters
    ----------
    domain : str
        The producing domain, e.g. ``"sales"``.
    event : dict
        The EventBridge event (an SQS message's body, parsed).
    policy : AccessPolicy, optional
        Default ``AccessPolicy()``.
    boto3_session : boto3.Session, optional

    Returns
    -------
    AccessAnswer
        The answer published.

    Raises
    ------
    MalformedRequestError
        When ``event`` is not a request that can be answered; nothing was published.
    botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError
        When Glue or Lake Formation fails in a way a retry may fix (nothing was answered).
    meshkit.events.PublishError
        When EventBridge did not take the answer (the grant, if any, stays: answering again
        completes the request).

    Examples
    --------
    >>> import meshkit as mk
    >>> arn = mk.buses.create_domain_bus("governance")
    >>> request = mk.products.AccessRequest(
    ...     "req-1", "sales.no-such-product", "marketing",
    ...     "arn:aws:iam::123456789012:role/marketing-analyst", "campaign attribution",
    ... )
    >>> event = {
    ...     "source": "governance.domain", "detail-type": "DataProductAccessRequested",
    ...     "detail": {"metadata": {"schema_version": "1.0"}, "data": request.data()},
    ... }
    >>> answer = mk.products.answer_request("sales", event)
    >>> answer.granted, answer.reason.split(":")[0]
    (False, "no data product 'sales.no-such-product' in the sales domain's catalog")
    >>> mk.buses.delete_domain_bus("governance")
    True
    """
    key = domain_key(domain)
    policy = _check_policy(policy)
    request = AccessRequest.from_event(event)
    metadata = event["detail"]["metadata"]
    correlation_id = metadata.get("correlation_id") or request.request_id
    answer = _decide_and_grant(key, request, policy, boto3_session)
    answer_event = events.DomainEvent(
        GOVERNANCE_SOURCE,
        answer.detail_type,
        answer.data(),
        idempotency_key=answer.idempotency_key,
        correlation_id=str(correlation_id),
        schema_version=_SCHEMA_VERSION,
    )
    events.publish(
        GOVERNANCE_BUS, [answer_event], raise_on_failure=True, boto3_session=boto3_session
    )
    _logger.info(
        "%s answered request %s of %s for %s: %s (%s)",
        key,
        request.request_id,
        request.requester_domain,
        request.product,
        "granted" if answer.granted else "denied",
        answer.reason,
    )
    return answer


def _decide_and_grant(
    domain: str,
    request: AccessRequest,
    policy: AccessPolicy,
    boto3_session: boto3.Session | None,
) -> AccessAnswer:
    def denied(reason: str) -> AccessAnswer:
        return AccessAnswer(**_request_keys(request), granted=False, reason=reason)

    if request.product_domain != domain:
        return denied(
            f"not this domain's product: {request.product} belongs to the "
            f"{request.product_domain} domain, and {domain} answers only for its own; the "
            f"request reached {domain} by mistake (check its subscription's pattern)"
        )
    try:
        product = descriptor.get_data_product(request.product, boto3_session=boto3_session)
    except DataProductNotFoundError:
        return denied(
            f"no data product {request.product!r} in the {domain} domain's catalog: find the "
            f"products it offers with mk.products.list_data_products(domain={domain!r})"
        )
    decision = policy.decide(product, request)
    if not decision.granted:
        return denied(decision.reason)
    permissions = _COLUMN_PERMISSIONS if request.columns is not None else _TABLE_PERMISSIONS
    try:
        added = lakeformation.grant(
            request.principal,
            database=product.dataset.database,
            table=product.dataset.table,
            columns=list(request.columns) if request.columns is not None else None,
            permissions=permissions,
            boto3_session=boto3_session,
        )
    except (
        ValidationError,  # meshkit refused what Lake Formation would refuse: asking again fails too
        lakeformation.CatalogResourceNotFoundError,  # the table or a column is gone
        lakeformation.AwsOnlyError,  # offline, a principal of another account (AWS RAM)
    ) as err:
        return denied(f"the grant was refused: {err}; ask {product.owner}")
    except ClientError as err:
        if error_code(err) not in _PERMANENT_GRANT_ERRORS:
            raise  # may pass: the message fails and comes back
        message = err.response.get("Error", {}).get("Message", "")
        return denied(
            f"Lake Formation refused the grant ({error_code(err)}: {message}); ask {product.owner}"
        )
    if not added:
        _logger.info("%s already held %s on %s", request.principal, permissions, request.product)
    return AccessAnswer(
        **_request_keys(request),
        granted=True,
        reason=decision.reason,
        database=product.dataset.database,
        table=product.dataset.table,
        columns=request.columns,
        permissions=permissions,
    )


def access_request_handler(
    domain: str,
    *,
    policy: AccessPolicy | None = None,
    boto3_session: boto3.Session | None = None,
) -> Handler:
    """The producing domain's Lambda handler for its access-request queue (SQS event shape).

    Each message is answered with ``answer_request``; the handler answers with a partial batch
    response (Powertools' ``BatchProcessor``): a message whose answer could not be completed
    (AWS unreachable, throttled, the answer not published) is listed in ``batchItemFailures``,
    so SQS delivers it again, and after the queue's ``maxReceiveCount`` moves it to the DLQ; so
    is a message that is no request at all (``MalformedRequestError``). Every failure is logged.
    Enable ``ReportBatchItemFailures`` on the event source mapping on AWS.

    Parameters
    ----------
    domain : str
        The producing domain, e.g. ``"sales"``.
    policy : AccessPolicy, optional
        Default ``AccessPolicy()``: public and internal products to every domain, confidential
        ones to nobody until listed, restricted ones never.
    boto3_session : boto3.Session, optional

    Returns
    -------
    callable
        ``handler(event, context) -> {"batchItemFailures": [...]}``.

    Raises
    ------
    meshkit.exceptions.ValidationError
        For a bad domain or policy; nothing was sent.

    Examples
    --------
    >>> import meshkit as mk
    >>> import json
    >>> _ = mk.buses.create_domain_bus("governance")
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal"
    ... )
    >>> _ = mk.products.create_data_product(product)
    >>> requests = mk.subscriptions.subscribe(
    ...     "sales", bus="GovernanceEventBus", pattern=mk.products.request_pattern("sales")
    ... )
    >>> answers = mk.subscriptions.subscribe(
    ...     "marketing", bus="GovernanceEventBus", pattern=mk.products.answer_pattern("marketing")
    ... )
    >>> analyst = "arn:aws:iam::123456789012:role/doctest-analyst"
    >>> request_id = mk.products.request_access(
    ...     "sales.sale-recorded", requester_domain="marketing", principal=analyst,
    ...     purpose="campaign attribution",
    ... )
    >>> handler = mk.products.access_request_handler("sales")
    >>> mk.consumers.run(handler, requests.queue_url)
    RunSummary(processed=1, failed=0, dead_lettered=0, batches=1, stopped='drained')
    >>> received = []
    >>> def read_answers(event, context):
    ...     for record in event["Records"]:
    ...         received.append(mk.products.AccessAnswer.from_event(json.loads(record["body"])))
    >>> _ = mk.consumers.run(read_answers, answers.queue_url)
    >>> [(a.granted, a.table, a.permissions) for a in received]
    [(True, 'sale_recorded', ('SELECT', 'DESCRIBE'))]
    >>> mk.products.revoke(analyst, database="sales", table="sale_recorded")
    True
    >>> [mk.subscriptions.unsubscribe(d, bus="GovernanceEventBus") for d in ("sales", "marketing")]
    [True, True]
    >>> mk.products.delete_data_product("sales.sale-recorded")
    True
    >>> mk.buses.delete_domain_bus("governance")
    True
    """
    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )

    key = domain_key(domain)
    checked_policy = _check_policy(policy)
    # Every failed message is reported, also when all of a batch failed (no BatchProcessingError).
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)

    def record_handler(record: Any) -> None:
        try:
            try:
                event = json.loads(record.body)
            except (TypeError, ValueError) as err:
                raise MalformedRequestError(f"the message body is not JSON: {err}") from None
            answer_request(key, event, policy=checked_policy, boto3_session=boto3_session)
        except Exception:
            _logger.exception(
                "%s could not answer message %s; it stays in the queue to be delivered again",
                key,
                record.message_id,
            )
            raise

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        response: dict[str, Any] = dict(
            process_partial_response(
                event=event, record_handler=record_handler, processor=processor, context=context
            )
        )
        return response

    handler.__name__ = f"{key.replace('-', '_')}_access_request_handler"
    return handler
