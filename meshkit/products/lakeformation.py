"""Governing data products with AWS Lake Formation: LF-tags, grants, and who may read what.

The mesh uses two LF-tags: ``domain`` (the owning domain, spelled as its Glue database:
``sales``, ``customer_support``) and ``classification`` (``CLASSIFICATIONS``). A product's
database carries its ``domain``, its table its ``classification``; the table inherits the
database's tags and each column its table's, unless assigned another value for the same key.
Grants name a principal and permissions on a table, its columns, every table of a database, or an
LF-tag expression, which covers every table whose tags match, future ones included.

On real AWS Lake Formation validates and decides all of this itself. The embedded AWS (moto)
stores LF-tags and grants but validates and evaluates nothing: it accepts undefined tag values,
grants on tables that do not exist and permissions such as ``"FLY"``; it applies no inheritance;
it has no ``SearchTablesByLFTags``, data cells filters or effective permissions; and revoking
after two grants to one principal and resource fails with HTTP 500. So meshkit checks what Lake
Formation would refuse before sending, keeps one grant per principal and resource, applies
inheritance itself, and answers "who can read what" with its own evaluator
(``evaluate_table_access``), from the stored grants and tags, the same way on both targets.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from .. import _aws
from .._shared import error_code, session_account
from ..buses import domain_key
from ..exceptions import ConflictError, NotFoundError, TargetError, ValidationError
from ._lf_evaluator import (
    ALL_TABLES,
    COLUMN_PERMISSIONS,
    COLUMNS,
    IAM_ALLOWED_PRINCIPALS,
    TABLE,
    TABLE_PERMISSIONS,
    TAG_POLICY,
    LFAccessDecision,
    LFGrant,
    LFTableTags,
    LFTagValue,
    check_permission,
    evaluate_database_access,
    evaluate_table_access,
    expression_text,
)
from .descriptor import CLASSIFICATIONS, DataProduct, get_data_product, list_data_products

__all__ = [
    "CLASSIFICATION_LF_TAG",
    "DOMAIN_LF_TAG",
    "IAM_ALLOWED_PRINCIPALS",
    "AwsOnlyError",
    "CatalogResourceNotFoundError",
    "LFAccessDecision",
    "LFGrant",
    "LFTableTags",
    "LFTagAssignmentError",
    "LFTagValue",
    "UndefinedLFTagError",
    "assign_lf_tags",
    "create_lf_tags",
    "effective_lf_tags",
    "evaluate_database_access",
    "evaluate_table_access",
    "explain_access",
    "expression_text",
    "grant",
    "list_grants",
    "remove_lf_tags",
    "revoke",
    "tag_data_product",
    "who_can_read",
]

_logger = logging.getLogger(__name__)

#: The LF-tag naming a resource's owning domain (values: domains spelled as Glue databases).
DOMAIN_LF_TAG = "domain"
#: The LF-tag naming a resource's sensitivity (values: ``CLASSIFICATIONS``).
CLASSIFICATION_LF_TAG = "classification"

_PER_CALL = 50  # CreateLFTag, UpdateLFTag and AddLFTagsToResource take at most 50 values or tags
_MAX_TAGS_ON_A_RESOURCE = 50  # "The maximum number of LF-Tags that can be assigned ... is 50"
_MAX_EXPRESSION_KEYS = 50  # "You can add up to 50 keys per expression"
# LFTag's TagKey and TagValues patterns (Lake Formation API Reference, LFTag):
# letters, separators, numbers and _ . : / = + - @ % (a value may also hold *).
_TAG_CHARACTERS = re.compile(r"[\w\s.:/=+\-@%]+")
_PRINCIPAL_ARN = re.compile(r"arn:aws[\w-]*:iam::(?P<account>\d{12}):(?:role|user)/[\w+=,.@/-]+")
_ACCOUNT = re.compile(r"\d{12}")
_REAL_AWS_CELL = (
    "run it on real AWS (MESHKIT_TARGET=aws), as notebook 05's real-AWS cells in 'Finer grants, "
    "and other accounts (AWS only)' do"
)


class UndefinedLFTagError(NotFoundError):
    """An LF-tag key or value is not defined in Lake Formation (``create_lf_tags`` defines the
    mesh's). Lake Formation refuses it; the embedded AWS would accept it silently."""


class CatalogResourceNotFoundError(NotFoundError):
    """The Glue database, table or column named does not exist. Lake Formation refuses to tag or
    grant on it; the embedded AWS would accept it silently."""


class LFTagAssignmentError(ConflictError):
    """Lake Formation answered ``AddLFTagsToResource`` with failures (``failures`` has them)."""

    def __init__(self, message: str, failures: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.failures = failures


class AwsOnlyError(TargetError):
    """A Lake Formation feature the embedded AWS does not implement (cross-account sharing
    through AWS RAM, data cells filters, resource links): refused offline before any call."""


# -- checks ------------------------------------------------------------------------------------


def _real_aws() -> bool:
    return _aws.target().is_real_aws


def _lakeformation(boto3_session: boto3.Session | None) -> Any:
    """Lake Formation's client; offline with one attempt per call, because the embedded AWS's
    HTTP 500s (an untagged resource's tags, a revoke after merged grants) are not transient."""
    return _aws.client("lakeformation", boto3_session, retries=_real_aws())


def _name(value: Any, field: str, example: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must be a Glue name such as {example!r}, not {value!r:.80}")
    return value


def _database_and_table(database: Any, table: Any) -> tuple[str, str | None]:
    """The database's name, checked, and the table's when one is named."""
    checked = _name(database, "database", "sales")
    return checked, None if table is None else _name(table, "table", "sale_recorded")


def _strings(value: Any, field: str, example: str) -> list[str]:
    if isinstance(value, str) or not isinstance(value, Iterable) or isinstance(value, Mapping):
        raise ValidationError(
            f"{field} must be a list of strings such as {example}, not {value!r:.80}"
        )
    items = list(value)
    if not all(isinstance(item, str) and item for item in items):
        raise ValidationError(
            f"{field} must hold non-empty strings, e.g. {example}, not {items!r:.80}"
        )
    return items


def _tag_text(value: Any, field: str, *, limit: int) -> str:
    """A tag key or value, lower-cased as Lake Formation stores it."""
    if not isinstance(value, str) or not value:
        raise ValidationError(f"{field} must be a non-empty string, not {value!r:.80}")
    if len(value) > limit or not _TAG_CHARACTERS.fullmatch(value):
        raise ValidationError(
            f"{field} {value!r:.80} is not an LF-tag {('key', 'value')[limit > 128]}: 1 to "
            f"{limit} letters, digits, spaces or _ . : / = + - @ % (Lake Formation API "
            "Reference, LFTag)"
        )
    return value.lower()


def _tags(tags: Any) -> dict[str, str]:
    """``{key: value}``: one value per key, as Lake Formation allows on a resource."""
    if not isinstance(tags, Mapping) or not tags:
        raise ValidationError(
            f"tags must be a non-empty dict of LF-tag key -> value, e.g. "
            f"{{'classification': 'confidential'}}, not {tags!r:.80}"
        )
    if len(tags) > _MAX_TAGS_ON_A_RESOURCE:
        raise ValidationError(
            f"tags has {len(tags)} keys; Lake Formation assigns at most "
            f"{_MAX_TAGS_ON_A_RESOURCE} LF-tags to a resource"
        )
    found = {}
    for key, value in tags.items():
        if not isinstance(value, str):
            raise ValidationError(
                f"tags[{key!r:.40}] must be one value (a string): Lake Formation assigns only one "
                f"value of a key to a resource, not {value!r:.80}"
            )
        found[_tag_text(key, "tags key", limit=128)] = _tag_text(
            value, f"tags[{key!r:.40}]", limit=256
        )
    return found


def _expression(expression: Any) -> dict[str, list[str]]:
    if not isinstance(expression, Mapping) or not expression:
        raise ValidationError(
            "expression must be a non-empty dict of LF-tag key -> value or values, e.g. "
            f"{{'domain': ['sales'], 'classification': ['public', 'internal']}}, not "
            f"{expression!r:.80}"
        )
    if len(expression) > _MAX_EXPRESSION_KEYS:
        raise ValidationError(
            f"expression has {len(expression)} keys; an LF-tag expression takes at most "
            f"{_MAX_EXPRESSION_KEYS}: split it into several grants"
        )
    found: dict[str, list[str]] = {}
    for key, values in expression.items():
        field = f"expression[{key!r:.40}]"
        listed = [values] if isinstance(values, str) else values
        if isinstance(listed, Mapping) or not isinstance(listed, Iterable):
            raise ValidationError(
                f"{field} must be a value or a list of values, not {values!r:.80}"
            )
        listed = list(listed)
        if not 1 <= len(listed) <= _PER_CALL:
            raise ValidationError(
                f"{field} lists {len(listed)} values; a key of an expression takes 1 to "
                f"{_PER_CALL} (Lake Formation API Reference, LFTag)"
            )
        lowered = sorted({_tag_text(v, field, limit=256) for v in listed})
        found[_tag_text(key, "expression key", limit=128)] = lowered
    return dict(sorted(found.items()))


def _principal(principal: Any, boto3_session: boto3.Session | None, *, share: bool) -> str:
    """A principal Lake Formation takes. Another account (by id or by a role of it) is shared
    through AWS RAM: with ``share``, refused offline."""
    how = (
        "an IAM role or user ARN such as 'arn:aws:iam::123456789012:role/marketing-analyst', "
        "IAM_ALLOWED_PRINCIPALS, or (real AWS) a 12-digit account id"
    )
    if not isinstance(principal, str) or not principal:
        raise ValidationError(f"principal must be {how}, not {principal!r:.80}")
    if principal == IAM_ALLOWED_PRINCIPALS:
        return principal
    match = _PRINCIPAL_ARN.fullmatch(principal)
    if match is None and not _ACCOUNT.fullmatch(principal):
        raise ValidationError(f"principal {principal!r:.120} is not {how}")
    account = match["account"] if match else principal
    if share and not _real_aws() and account != session_account(boto3_session):
        raise AwsOnlyError(
            f"principal {principal!r:.120} is in account {account}, another account than this "
            "session's: Lake Formation shares with another account through AWS RAM, which the "
            f"embedded AWS (moto) does not implement, so meshkit refuses offline; {_REAL_AWS_CELL}"
        )
    return principal


def _permissions(permissions: Any, allowed: Sequence[str]) -> list[str]:
    if isinstance(permissions, str) or not isinstance(permissions, Iterable):
        raise ValidationError(
            f"permissions must be a list of permission names such as ['SELECT'], not "
            f"{permissions!r:.80}"
        )
    names = [check_permission(p, allowed, "permissions") for p in permissions]
    if not names:
        raise ValidationError("permissions is empty: name at least one, e.g. ['SELECT']")
    return sorted(set(names))


def _shape(
    principal: str,
    expression: Any,
    database: Any,
    table: Any,
    columns: Any,
) -> LFGrant:
    """The grant's resource, from the arguments (permissions filled in later)."""
    if expression is not None:
        if database is not None or table is not None or columns is not None:
            raise ValidationError(
                "pass expression= alone (a grant on every table whose LF-tags match) or "
                "database= with table= and columns= (a grant on named resources), not both"
            )
        pairs = tuple((k, tuple(v)) for k, v in _expression(expression).items())
        return LFGrant(principal, TAG_POLICY, (), resource_type="TABLE", expression=pairs)
    if database is None:
        raise ValidationError(
            "name what to grant: expression={'classification': ['internal']} (tables whose "
            "LF-tags match), database= (all its tables), database= and table= (one table), or "
            "those and columns= (some of its columns)"
        )
    database = _name(database, "database", "sales")
    if table is None:
        if columns is not None:
            raise ValidationError("columns= needs table=: name the table the columns are in")
        return LFGrant(principal, ALL_TABLES, (), database=database)
    table = _name(table, "table", "sale_recorded")
    if columns is None:
        return LFGrant(principal, TABLE, (), database=database, table=table)
    names = tuple(dict.fromkeys(_strings(columns, "columns", "['sale_id', 'amount']")))
    if not names:
        raise ValidationError("columns is empty: name at least one column, or leave it out")
    return LFGrant(principal, COLUMNS, (), database=database, table=table, column_names=names)


# -- reading the catalog and Lake Formation ------------------------------------------------------


def _glue_database(glue: Any, database: str) -> None:
    try:
        glue.get_database(Name=database)
    except ClientError as err:
        if error_code(err) == "EntityNotFoundException":
            raise CatalogResourceNotFoundError(
                f"no Glue database {database!r}: Lake Formation refuses to tag or grant on it "
                "(the embedded AWS would accept it); create it first "
                "(mk.products.create_data_product) or check the name"
            ) from None
        raise


def _glue_columns(glue: Any, database: str, table: str) -> tuple[str, ...]:
    """The table's columns, partition keys included; refused when it does not exist."""
    try:
        found = glue.get_table(DatabaseName=database, Name=table)["Table"]
    except ClientError as err:
        if error_code(err) == "EntityNotFoundException":
            raise CatalogResourceNotFoundError(
                f"no Glue table {database}.{table}: Lake Formation refuses to tag or grant on it "
                "(the embedded AWS would accept it); create it first "
                "(mk.products.create_data_product) or check the names"
            ) from None
        raise
    storage = found.get("StorageDescriptor") or {}
    return tuple(c["Name"] for c in storage.get("Columns", [])) + tuple(
        k["Name"] for k in found.get("PartitionKeys", [])
    )


def _check_columns(columns: Iterable[str], known: Sequence[str], where: str) -> None:
    missing = [c for c in columns if c not in known]
    if missing:
        raise CatalogResourceNotFoundError(
            f"{where} has no column {', '.join(missing)}: its columns are {', '.join(known)}"
        )


def _defined(lf: Any) -> dict[str, list[str]]:
    """Every LF-tag defined: key -> values (without the duplicates the embedded AWS keeps)."""
    found: dict[str, list[str]] = {}
    for page in lf.get_paginator("list_lf_tags").paginate():
        for tag in page.get("LFTags", []):
            values = found.setdefault(tag["TagKey"], [])
            values.extend(v for v in tag.get("TagValues", []) if v not in values)
    return found


def _check_defined(tags: Mapping[str, Sequence[str]], defined: Mapping[str, Sequence[str]]) -> None:
    for key, values in tags.items():
        if key not in defined:
            raise UndefinedLFTagError(
                f"no LF-tag {key!r} is defined (defined: {', '.join(sorted(defined)) or 'none'}): "
                "Lake Formation refuses it (the embedded AWS would accept it); define the mesh's "
                "with mk.products.create_lf_tags([<domains>])"
            )
        undefined = [v for v in values if v not in defined[key]]
        if undefined:
            raise UndefinedLFTagError(
                f"the LF-tag {key!r} has no value {', '.join(map(repr, undefined))} (its values: "
                f"{', '.join(defined[key])}): Lake Formation refuses it (the embedded AWS would "
                "accept it); add the domain with mk.products.create_lf_tags([<domain>]), or use "
                "a defined value"
            )


def _pairs(response_tags: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    found = {}
    for tag in response_tags:
        values = tag.get("TagValues") or []
        if values:
            if len(values) > 1:  # only the embedded AWS stores several; AWS refuses them
                _logger.warning("LF-tag %s has several values %s; using the first", tag, values)
            found[tag["TagKey"]] = values[0]
    return found


def _assigned(lf: Any, resource: Mapping[str, Any]) -> dict[str, Any]:
    """``GetResourceLFTags`` with the tags assigned at that level only (no inherited ones)."""
    try:
        response: dict[str, Any] = lf.get_resource_lf_tags(
            Resource=resource, ShowAssignedLFTags=True
        )
    except ClientError as err:
        status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if not _real_aws() and status == 500:
            # The embedded AWS fails for a database or table that was never tagged (AWS answers
            # with no tags): the parity ledger pins it.
            return {}
        raise
    return response


def _database_tags(lf: Any, database: str) -> dict[str, str]:
    return _pairs(_assigned(lf, {"Database": {"Name": database}}).get("LFTagOnDatabase", []))


def _table_tags(lf: Any, database: str, table: str) -> dict[str, str]:
    resource = {"Table": {"DatabaseName": database, "Name": table}}
    return _pairs(_assigned(lf, resource).get("LFTagsOnTable", []))


def _on_columns(database: str, table: str, columns: Iterable[str]) -> dict[str, Any]:
    """The Resource of some columns of a table."""
    names = list(columns)
    return {"TableWithColumns": {"DatabaseName": database, "Name": table, "ColumnNames": names}}


def _column_tags(
    lf: Any, database: str, table: str, columns: Sequence[str]
) -> dict[str, dict[str, str]]:
    if not columns:
        return {}
    found = _assigned(lf, _on_columns(database, table, columns)).get("LFTagsOnColumns", [])
    return {c["Name"]: _pairs(c.get("LFTags", [])) for c in found if c.get("Name") in columns}


def _read_table_tags(lf: Any, database: str, table: str, columns: Sequence[str]) -> LFTableTags:
    return LFTableTags(
        database,
        table,
        tuple(columns),
        on_database=_database_tags(lf, database),
        on_table=_table_tags(lf, database, table),
        on_columns=_column_tags(lf, database, table, columns),
    )


def _stored_grants(lf: Any) -> list[LFGrant]:
    """Every stored grant, read whole and filtered here: the embedded AWS fails ListPermissions
    with a Resource filter once a grant on all tables exists (HTTP 500), and AWS wants a Resource
    whenever a Principal is given."""
    entries: list[dict[str, Any]] = []
    queries: list[dict[str, Any]] = [{}]
    if _real_aws():  # list LF-tag policies explicitly too
        queries.append({"ResourceType": "LF_TAG_POLICY"})
    for query in queries:
        token: str | None = None
        while True:
            page = lf.list_permissions(**query, **({"NextToken": token} if token else {}))
            entries.extend(page.get("PrincipalResourcePermissions", []))
            token = page.get("NextToken")
            if not token:
                break
    grants: dict[tuple[Any, ...], LFGrant] = {}
    for entry in entries:
        found = LFGrant.from_permission(entry)
        grants.setdefault(found.key(), found)
    return list(grants.values())


def _allowed(shape: LFGrant) -> tuple[str, ...]:
    """The permissions Lake Formation grants on that resource: SELECT alone on columns."""
    return COLUMN_PERMISSIONS if shape.kind == COLUMNS else TABLE_PERMISSIONS


def _held(lf: Any, shape: LFGrant) -> LFGrant | None:
    """The grant the principal already holds on that resource (meshkit keeps one), if any."""
    return next((g for g in _stored_grants(lf) if g.key() == shape.key()), None)


def _product(product: Any, boto3_session: boto3.Session | None) -> DataProduct:
    if isinstance(product, DataProduct):
        return product
    if isinstance(product, str):
        return get_data_product(product, boto3_session=boto3_session)
    raise ValidationError(
        "product must be a DataProduct or its name, e.g. 'sales.sale-recorded', not "
        f"{type(product).__name__}"
    )


def _product_columns(product: DataProduct) -> tuple[str, ...]:
    return tuple(c.name for c in product.columns) + tuple(product.dataset.partition_keys)


def _domain_value(domain: str) -> str:
    """A domain as its LF-tag value: spelled as its Glue database (``customer_support``)."""
    return domain_key(domain, field="domains").replace("-", "_")


# -- LF-tags -----------------------------------------------------------------------------------


def create_lf_tags(
    domains: Iterable[str], *, boto3_session: boto3.Session | None = None
) -> dict[str, list[str]]:
    """Define the mesh's LF-tags: ``domain`` (these domains) and ``classification``.

    Idempotent: a missing LF-tag is created, a missing value added (``UpdateLFTag``); values
    defined by others are kept, never removed.

    Parameters
    ----------
    domains : iterable of str
        Domains to add as values of ``domain``, e.g. ``["sales", "customer-support"]``; each is
        spelled as its Glue database (``customer_support``). May be empty.
    boto3_session : boto3.Session, optional

    Returns
    -------
    dict of str -> list of str
        The values of ``domain`` and ``classification`` now defined.

    Raises
    ------
    meshkit.exceptions.ValidationError
        ``domains`` is a single string, or holds a name that is no domain.

    Examples
    --------
    >>> import meshkit as mk
    >>> tags = mk.products.create_lf_tags(["sales"])
    >>> "sales" in tags["domain"], tags["classification"]
    (True, ['public', 'internal', 'confidential', 'restricted'])
    """
    values = list(
        dict.fromkeys(_domain_value(d) for d in _strings(domains, "domains", "['sales']"))
    )
    wanted = {DOMAIN_LF_TAG: values, CLASSIFICATION_LF_TAG: list(CLASSIFICATIONS)}
    lf = _lakeformation(boto3_session)
    defined = _defined(lf)
    for key, listed in wanted.items():
        have = defined.get(key)
        missing = [v for v in listed if v not in (have or [])]
        if not missing:
            continue
        chunks = [missing[i : i + _PER_CALL] for i in range(0, len(missing), _PER_CALL)]
        if have is None:
            lf.create_lf_tag(TagKey=key, TagValues=chunks.pop(0))
            _logger.info("created LF-tag %s", key)
        for chunk in chunks:
            lf.update_lf_tag(TagKey=key, TagValuesToAdd=chunk)
        defined[key] = [*(have or []), *missing]
        _logger.info("LF-tag %s: added %s", key, ", ".join(missing))
    return {key: list(defined.get(key, [])) for key in wanted}


def assign_lf_tags(
    *,
    database: str,
    table: str | None = None,
    columns: Sequence[str] | None = None,
    tags: Mapping[str, str],
    boto3_session: boto3.Session | None = None,
) -> bool:
    """Assign LF-tags to a database, a table, or columns of a table; return whether any changed.

    A key already assigned there gets the new value (one value per key, as Lake Formation
    allows); other keys stay. Keys and values are lower-cased, as Lake Formation stores them.

    Parameters
    ----------
    database : str
    table : str, optional
        Tag the table (or its columns) rather than the database.
    columns : sequence of str, optional
        Tag these columns of ``table``.
    tags : dict of str -> str
        E.g. ``{"classification": "confidential"}``; keys and values must be defined LF-tags.
    boto3_session : boto3.Session, optional

    Returns
    -------
    bool
        False when every tag was already assigned with that value.

    Raises
    ------
    meshkit.exceptions.ValidationError
        Malformed arguments: several values for a key, columns without a table, ...
    UndefinedLFTagError
        A key or value that is not a defined LF-tag.
    CatalogResourceNotFoundError
        The database, table or a column does not exist.

    Examples
    --------
    >>> import meshkit as mk
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal")
    >>> _ = mk.products.create_data_product(product)
    >>> _ = mk.products.create_lf_tags(["sales"])
    >>> mk.products.assign_lf_tags(database="sales", table="sale_recorded", columns=["amount"],
    ...     tags={"classification": "confidential"})
    True
    >>> mk.products.effective_lf_tags("sales", "sale_recorded", "amount")["classification"]
    LFTagValue(value='confidential', source='column')
    >>> mk.products.remove_lf_tags(database="sales", table="sale_recorded", columns=["amount"],
    ...     keys=["classification"])
    True
    >>> mk.products.delete_data_product("sales.sale-recorded")
    True
    """
    database, table = _database_and_table(database, table)
    names = None
    if columns is not None:
        if table is None:
            raise ValidationError("columns= needs table=: name the table the columns are in")
        names = list(dict.fromkeys(_strings(columns, "columns", "['amount']")))
        if not names:
            raise ValidationError("columns is empty: name at least one column, or leave it out")
    wanted = _tags(tags)
    glue = _aws.client("glue", boto3_session)
    lf = _lakeformation(boto3_session)
    _glue_database(glue, database)
    if table is not None:
        known = _glue_columns(glue, database, table)
        if names is not None:
            _check_columns(names, known, f"Glue table {database}.{table}")
    _check_defined({k: [v] for k, v in wanted.items()}, _defined(lf))
    changed = False
    if names is not None and table is not None:
        current = _column_tags(lf, database, table, names)
        for column in names:
            resource = _on_columns(database, table, [column])
            changed |= _add(lf, resource, current.get(column, {}), wanted)
    elif table is not None:
        resource = {"Table": {"DatabaseName": database, "Name": table}}
        changed = _add(lf, resource, _table_tags(lf, database, table), wanted)
    else:
        resource = {"Database": {"Name": database}}
        changed = _add(lf, resource, _database_tags(lf, database), wanted)
    return changed


def _add(
    lf: Any, resource: Mapping[str, Any], had: Mapping[str, str], wanted: Mapping[str, str]
) -> bool:
    """Add ``wanted`` to a resource's assigned tags. Every tag is sent, the old with the new:
    AWS adds to what is assigned, but the embedded AWS replaces all of it, so sending the
    merged set is right on both."""
    merged = {**had, **wanted}
    if merged == dict(had):
        return False
    if len(merged) > _MAX_TAGS_ON_A_RESOURCE:
        raise ConflictError(
            f"{resource} would have {len(merged)} LF-tags; Lake Formation assigns at most "
            f"{_MAX_TAGS_ON_A_RESOURCE} to a resource (TBAC notes): remove some first "
            "(remove_lf_tags)"
        )
    pairs = [{"TagKey": k, "TagValues": [v]} for k, v in merged.items()]
    response = lf.add_lf_tags_to_resource(Resource=resource, LFTags=pairs)
    failures: list[dict[str, Any]] = response.get("Failures", [])
    if failures:
        raise LFTagAssignmentError(
            f"Lake Formation did not assign every LF-tag to {resource}: "
            + "; ".join(
                f"{f.get('LFTag', {}).get('TagKey')}: {f.get('Error', {}).get('ErrorMessage')}"
                for f in failures
            ),
            failures,
        )
    _logger.info("assigned LF-tags %s to %s", wanted, resource)
    return True


def remove_lf_tags(
    *,
    database: str,
    table: str | None = None,
    columns: Sequence[str] | None = None,
    keys: Iterable[str],
    boto3_session: boto3.Session | None = None,
) -> bool:
    """Remove the LF-tags of these keys assigned to a database, a table or columns; return
    whether any was. Inherited tags are not assigned there, so they stay.

    Parameters
    ----------
    database : str
    table : str, optional
    columns : sequence of str, optional
    keys : iterable of str
        E.g. ``["classification"]``.
    boto3_session : boto3.Session, optional

    Returns
    -------
    bool

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.products.remove_lf_tags(database="sales", keys=["no-such-key"])
    False
    """
    database, table = _database_and_table(database, table)
    if columns is not None and table is None:
        raise ValidationError("columns= needs table=: name the table the columns are in")
    names = None if columns is None else _strings(columns, "columns", "['amount']")
    wanted = {_tag_text(k, "keys", limit=128) for k in _strings(keys, "keys", "['classification']")}
    lf = _lakeformation(boto3_session)
    removals: list[tuple[dict[str, Any], dict[str, str]]] = []
    if names is not None and table is not None:
        for column, had in _column_tags(lf, database, table, names).items():
            removals.append((_on_columns(database, table, [column]), had))
    elif table is not None:
        removals.append(
            ({"Table": {"DatabaseName": database, "Name": table}}, _table_tags(lf, database, table))
        )
    else:
        removals.append(({"Database": {"Name": database}}, _database_tags(lf, database)))
    removed = False
    for resource, had in removals:
        pairs = [{"TagKey": k, "TagValues": [v]} for k, v in had.items() if k in wanted]
        if pairs:
            lf.remove_lf_tags_from_resource(Resource=resource, LFTags=pairs)
            _logger.info("removed LF-tags %s from %s", [p["TagKey"] for p in pairs], resource)
            removed = True
    return removed


def tag_data_product(
    product: DataProduct | str, *, boto3_session: boto3.Session | None = None
) -> dict[str, LFTagValue]:
    """Tag a product for Lake Formation: its database ``domain=<domain>``, its table
    ``classification=<classification>``; return the table's effective tags.

    The table inherits ``domain`` from its database. Columns can be tagged with
    ``assign_lf_tags`` (a confidential column in an internal table, say).

    Parameters
    ----------
    product : DataProduct or str
        The product or its name, e.g. ``"sales.sale-recorded"``.
    boto3_session : boto3.Session, optional

    Returns
    -------
    dict of str -> LFTagValue
        As ``effective_lf_tags`` returns for the table.

    Raises
    ------
    UndefinedLFTagError
        The LF-tags or their values are not defined yet: call ``create_lf_tags`` first.

    Examples
    --------
    >>> import meshkit as mk
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal")
    >>> _ = mk.products.create_data_product(product)
    >>> _ = mk.products.create_lf_tags(["sales"])
    >>> mk.products.tag_data_product(product)  # doctest: +NORMALIZE_WHITESPACE
    {'classification': LFTagValue(value='internal', source='table'),
     'domain': LFTagValue(value='sales', source='database')}
    >>> mk.products.remove_lf_tags(database="sales", table="sale_recorded",
    ...     keys=["classification"])
    True
    >>> mk.products.delete_data_product("sales.sale-recorded")
    True
    """
    found = _product(product, boto3_session)
    database, table = found.dataset.database, found.dataset.table
    assign_lf_tags(
        database=database,
        tags={DOMAIN_LF_TAG: _domain_value(found.domain)},
        boto3_session=boto3_session,
    )
    assign_lf_tags(
        database=database,
        table=table,
        tags={CLASSIFICATION_LF_TAG: found.classification},
        boto3_session=boto3_session,
    )
    return effective_lf_tags(database, table, boto3_session=boto3_session)


def effective_lf_tags(
    database: str,
    table: str | None = None,
    column: str | None = None,
    *,
    boto3_session: boto3.Session | None = None,
) -> dict[str, LFTagValue]:
    """The LF-tags of a database, table or column, inherited ones included, and where each
    comes from.

    Lake Formation applies inheritance itself: a table has its database's tags and a column its
    table's, unless assigned another value for the same key. The embedded AWS applies none, so
    meshkit reads what is assigned at each level (``GetResourceLFTags`` with
    ``ShowAssignedLFTags``) and applies inheritance itself, the same way on both targets.

    Parameters
    ----------
    database : str
    table : str, optional
    column : str, optional
        A column of ``table``.
    boto3_session : boto3.Session, optional

    Returns
    -------
    dict of str -> LFTagValue
        Key -> (value, source), sorted by key; source is ``"database"``, ``"table"`` or
        ``"column"``.

    Raises
    ------
    CatalogResourceNotFoundError
        The database, table or column does not exist.

    Examples
    --------
    >>> import meshkit as mk
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal")
    >>> _ = mk.products.create_data_product(product)
    >>> _ = mk.products.create_lf_tags(["sales"])
    >>> _ = mk.products.tag_data_product(product)
    >>> mk.products.effective_lf_tags("sales", "sale_recorded", "sale_id")["domain"]
    LFTagValue(value='sales', source='database')
    >>> mk.products.remove_lf_tags(database="sales", table="sale_recorded",
    ...     keys=["classification"])
    True
    >>> mk.products.delete_data_product("sales.sale-recorded")
    True
    """
    database, table = _database_and_table(database, table)
    if column is not None:
        if table is None:
            raise ValidationError("column= needs table=: name the table the column is in")
        column = _name(column, "column", "amount")
    glue = _aws.client("glue", boto3_session)
    lf = _lakeformation(boto3_session)
    _glue_database(glue, database)
    if table is None:
        tags = LFTableTags(database, "", on_database=_database_tags(lf, database))
        return dict(sorted(tags.effective().items()))
    known = _glue_columns(glue, database, table)
    if column is not None:
        _check_columns([column], known, f"Glue table {database}.{table}")
    tags = _read_table_tags(lf, database, table, [column] if column is not None else [])
    return dict(sorted(tags.effective(column).items()))


# -- grants ------------------------------------------------------------------------------------


def grant(
    principal: str,
    *,
    expression: Mapping[str, str | Sequence[str]] | None = None,
    database: str | None = None,
    table: str | None = None,
    columns: Sequence[str] | None = None,
    permissions: Sequence[str] | None = None,
    boto3_session: boto3.Session | None = None,
) -> bool:
    """Grant a principal Lake Formation permissions; return whether a grant was added.

    Four shapes: ``expression=`` (every table whose LF-tags match: an ``LFTagPolicy`` of
    ``ResourceType`` ``TABLE``; AND across keys, OR across the values of a key),
    ``database=`` (all its tables: ``TableWildcard``), ``database=`` and ``table=`` (one table),
    and those with ``columns=`` (``SELECT`` on those columns only).

    Idempotent: what the principal already holds on that resource is not granted again. Before
    sending, meshkit refuses what Lake Formation would: a permission it does not grant on that
    resource, an undefined LF-tag key or value, a database, table or column that does not exist.
    Offline, adding permissions to a grant the principal already holds on that resource revokes
    it and grants the union in one grant: the embedded AWS fails every later revoke (HTTP 500)
    once two grants to one principal and resource were merged.

    Parameters
    ----------
    principal : str
        An IAM role or user ARN, e.g. ``"arn:aws:iam::123456789012:role/marketing-analyst"``,
        or ``IAM_ALLOWED_PRINCIPALS``; on real AWS also another account's id or a role of
        another account (shared through AWS RAM; refused offline with ``AwsOnlyError``).
    expression : dict of str -> str or list of str, optional
        E.g. ``{"domain": ["sales"], "classification": ["public", "internal"]}``.
    database, table : str, optional
    columns : sequence of str, optional
    permissions : sequence of str, optional
        Default ``["SELECT", "DESCRIBE"]`` (``["SELECT"]`` with ``columns=``, the only
        permission Lake Formation grants on columns). On tables and tag expressions: ``ALL``,
        ``ALTER``, ``DELETE``, ``DESCRIBE``, ``DROP``, ``INSERT``, ``SELECT``.
    boto3_session : boto3.Session, optional

    Returns
    -------
    bool
        False when the principal already held every permission on that resource.

    Raises
    ------
    meshkit.exceptions.ValidationError
        A malformed principal, shape or permission (nothing sent).
    UndefinedLFTagError
        The expression names an LF-tag key or value that is not defined.
    CatalogResourceNotFoundError
        The named database, table or column does not exist.
    AwsOnlyError
        Offline, a principal of another account.

    Examples
    --------
    >>> import meshkit as mk
    >>> analyst = "arn:aws:iam::123456789012:role/doctest-analyst"
    >>> _ = mk.products.create_lf_tags(["sales"])
    >>> mk.products.grant(analyst, expression={"classification": ["public", "internal"]})
    True
    >>> mk.products.grant(analyst, expression={"classification": ["internal", "public"]})
    False
    >>> mk.products.revoke(analyst, expression={"classification": ["public", "internal"]})
    True
    """
    principal = _principal(principal, boto3_session, share=True)
    shape = _shape(principal, expression, database, table, columns)
    if permissions is None:
        permissions = COLUMN_PERMISSIONS if shape.kind == COLUMNS else ("SELECT", "DESCRIBE")
    wanted = _permissions(permissions, _allowed(shape))
    glue = _aws.client("glue", boto3_session)
    lf = _lakeformation(boto3_session)
    if shape.kind == TAG_POLICY:
        _check_defined(dict(shape.expression), _defined(lf))
    else:
        _glue_database(glue, str(shape.database))
        if shape.table is not None:
            known = _glue_columns(glue, str(shape.database), shape.table)
            if shape.column_names is not None:
                _check_columns(
                    shape.column_names, known, f"Glue table {shape.database}.{shape.table}"
                )
    held = _held(lf, shape)
    have = set(held.permissions) if held else set()
    missing = [p for p in wanted if p not in have]
    if not missing:
        return False
    who = {"DataLakePrincipalIdentifier": principal}
    if held is not None and not _real_aws():
        lf.revoke_permissions(
            Principal=who, Resource=held.raw_resource, Permissions=list(held.permissions)
        )
        lf.grant_permissions(
            Principal=who, Resource=shape.resource(), Permissions=sorted(have | set(wanted))
        )
    else:
        lf.grant_permissions(Principal=who, Resource=shape.resource(), Permissions=missing)
    _logger.info("granted %s %s on %s", principal, ", ".join(missing), shape.resource_text())
    return True


def revoke(
    principal: str,
    *,
    expression: Mapping[str, str | Sequence[str]] | None = None,
    database: str | None = None,
    table: str | None = None,
    columns: Sequence[str] | None = None,
    permissions: Sequence[str] | None = None,
    boto3_session: boto3.Session | None = None,
) -> bool:
    """Revoke a principal's permissions on a resource named as ``grant`` names it; return
    whether any was revoked.

    Parameters
    ----------
    principal : str
    expression, database, table, columns
        The resource, in the same shape the grant used.
    permissions : sequence of str, optional
        Default: every permission the principal holds on that resource.
    boto3_session : boto3.Session, optional

    Returns
    -------
    bool
        False when the principal held none of them there (nothing is sent).

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.products.revoke("arn:aws:iam::123456789012:role/doctest-analyst",
    ...     database="sales", table="sale_recorded")
    False
    """
    principal = _principal(principal, boto3_session, share=False)
    shape = _shape(principal, expression, database, table, columns)
    wanted = None if permissions is None else _permissions(permissions, _allowed(shape))
    lf = _lakeformation(boto3_session)
    held = _held(lf, shape)
    if held is None:
        return False
    dropping = [p for p in (wanted or held.permissions) if p in held.permissions]
    if not dropping:
        return False
    lf.revoke_permissions(
        Principal={"DataLakePrincipalIdentifier": principal},
        Resource=held.raw_resource,
        Permissions=dropping,
    )
    _logger.info("revoked %s %s on %s", principal, ", ".join(dropping), shape.resource_text())
    return True


_GRANT_COLUMNS = [
    "principal", "resource", "database", "table", "columns", "expression", "permissions",
    "grantable",
]  # fmt: skip


def list_grants(
    *, principal: str | None = None, boto3_session: boto3.Session | None = None
) -> pd.DataFrame:
    """Every stored Lake Formation grant (or a principal's), one row per principal and resource.

    Parameters
    ----------
    principal : str, optional
    boto3_session : boto3.Session, optional

    Returns
    -------
    pandas.DataFrame
        Columns ``principal``; ``resource`` (``"table"``, ``"columns"``, ``"all tables"``,
        ``"database"``, ``"LF-tag policy"`` or ``"other"``); ``database``, ``table``,
        ``columns`` (comma-separated; ``"all but x, y"`` for a column wildcard),
        ``expression`` (in words), ``permissions`` and ``grantable`` (comma-separated);
        sorted by principal, then resource.

    Examples
    --------
    >>> import meshkit as mk
    >>> analyst = "arn:aws:iam::123456789012:role/doctest-analyst"
    >>> _ = mk.products.create_lf_tags(["sales"])
    >>> _ = mk.products.grant(analyst, expression={"domain": "sales"})
    >>> mk.products.list_grants(principal=analyst)[["resource", "expression", "permissions"]]
            resource    expression       permissions
    0  LF-tag policy  domain=sales  DESCRIBE, SELECT
    >>> mk.products.revoke(analyst, expression={"domain": "sales"})
    True
    """
    if principal is not None:
        principal = _principal(principal, boto3_session, share=False)
    lf = _lakeformation(boto3_session)
    rows = []
    for found in _stored_grants(lf):
        if principal is not None and found.principal != principal:
            continue
        if found.column_names is not None:
            columns = ", ".join(found.column_names)
        elif found.kind == COLUMNS:
            columns = (
                "all but " + ", ".join(found.excluded_columns) if found.excluded_columns else ""
            )
        else:
            columns = ""
        rows.append(
            {
                "principal": found.principal,
                "resource": found.kind,
                "database": found.database or "",
                "table": found.table or "",
                "columns": columns,
                "expression": expression_text(found.expression)
                if found.expression
                else found.other,
                "permissions": ", ".join(found.permissions),
                "grantable": ", ".join(found.grantable),
            }
        )
    frame = pd.DataFrame(rows, columns=_GRANT_COLUMNS)
    return frame.sort_values(["principal", "resource", "database", "table"], ignore_index=True)


# -- who can read what -------------------------------------------------------------------------


def who_can_read(
    *,
    principals: Iterable[str] | None = None,
    products: Iterable[DataProduct | str] | None = None,
    boto3_session: boto3.Session | None = None,
) -> pd.DataFrame:
    """A grid of who may ``SELECT`` what: principals (rows) by data products (columns).

    Each cell is ``"all columns"``, the columns the principal may read (``"sale_id, amount"``),
    or ``""``. meshkit's evaluator answers from the live stored grants and LF-tags
    (``evaluate_table_access``: named and LF-tag grants, inheritance and override), the same
    way on both targets; the embedded AWS evaluates nothing itself. On real AWS, Lake Formation's
    own answer for one resource is ``GetEffectivePermissionsForPath`` (the embedded AWS has no
    such API); ``explain_access`` says why a cell is what it is.

    Parameters
    ----------
    principals : iterable of str, optional
        Default: every principal that holds a grant, ``IAM_ALLOWED_PRINCIPALS`` included.
    products : iterable of DataProduct or str, optional
        Default: every data product in the catalog (``list_data_products``).
    boto3_session : boto3.Session, optional

    Returns
    -------
    pandas.DataFrame
        Index ``principal``, one column per product name (in the order given, or sorted).

    Examples
    --------
    >>> import meshkit as mk
    >>> analyst = "arn:aws:iam::123456789012:role/doctest-analyst"
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal")
    >>> _ = mk.products.create_data_product(product)
    >>> _ = mk.products.create_lf_tags(["sales"])
    >>> _ = mk.products.tag_data_product(product)
    >>> _ = mk.products.grant(analyst, expression={"classification": ["public", "internal"]})
    >>> mk.products.who_can_read(principals=[analyst], products=[product]).iloc[0, 0]
    'all columns'
    >>> mk.products.revoke(analyst, expression={"classification": ["public", "internal"]})
    True
    >>> mk.products.who_can_read(principals=[analyst], products=[product]).iloc[0, 0]
    ''
    >>> mk.products.remove_lf_tags(database="sales", table="sale_recorded",
    ...     keys=["classification"])
    True
    >>> mk.products.delete_data_product("sales.sale-recorded")
    True
    """
    who = None
    if principals is not None:
        who = [
            _principal(p, boto3_session, share=False)
            for p in _strings(principals, "principals", "[<role ARN>]")
        ]
    if products is None:
        names = list_data_products(boto3_session=boto3_session)["name"].tolist()
        chosen = [get_data_product(n, boto3_session=boto3_session) for n in names]
    else:
        if isinstance(products, (str, DataProduct)) or not isinstance(products, Iterable):
            raise ValidationError(
                "products must be a list of DataProducts or product names, e.g. "
                f"['sales.sale-recorded'], not {products!r:.80}"
            )
        chosen = [_product(p, boto3_session) for p in products]
    lf = _lakeformation(boto3_session)
    grants = _stored_grants(lf)
    if who is None:
        who = sorted({g.principal for g in grants}, key=lambda p: (p == IAM_ALLOWED_PRINCIPALS, p))
    cells: dict[str, list[str]] = {}
    for found in chosen:
        tags = _read_table_tags(
            lf, found.dataset.database, found.dataset.table, _product_columns(found)
        )
        cells[found.name] = [evaluate_table_access(grants, tags, p).cell for p in who]
    grid = pd.DataFrame(cells, index=pd.Index(who, name="principal"), columns=list(cells))
    grid.columns.name = "data product"
    grid.attrs["evaluated_by"] = "meshkit evaluator"
    return grid


def explain_access(
    principal: str,
    product: DataProduct | str,
    *,
    permission: str = "SELECT",
    boto3_session: boto3.Session | None = None,
) -> LFAccessDecision:
    """Whether a principal holds a permission on a product's table, on which columns, and why.

    The decision ``who_can_read`` shows as a cell, with the grants that decided and a reason in
    words (which tags matched, what did not).

    Parameters
    ----------
    principal : str
    product : DataProduct or str
    permission : str, default "SELECT"
        A table permission (``"DESCRIBE"``: may it see the table?).
    boto3_session : boto3.Session, optional

    Returns
    -------
    LFAccessDecision

    Examples
    --------
    >>> import meshkit as mk
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal")
    >>> _ = mk.products.create_data_product(product)
    >>> decision = mk.products.explain_access(
    ...     "arn:aws:iam::123456789012:role/doctest-analyst", product)
    >>> decision.allowed, decision.reason  # doctest: +ELLIPSIS
    (False, 'no grant gives arn:aws:iam::123456789012:role/doctest-analyst SELECT on ...')
    >>> mk.products.delete_data_product("sales.sale-recorded")
    True
    """
    principal = _principal(principal, boto3_session, share=False)
    permission = check_permission(permission, TABLE_PERMISSIONS, "permission")
    found = _product(product, boto3_session)
    lf = _lakeformation(boto3_session)
    tags = _read_table_tags(
        lf, found.dataset.database, found.dataset.table, _product_columns(found)
    )
    return evaluate_table_access(_stored_grants(lf), tags, principal, permission)
