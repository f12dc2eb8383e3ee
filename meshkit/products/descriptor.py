"""The data product descriptor: what a domain offers, where it lives, and who answers for it.

A data product has two output ports: the event stream on its domain's bus (the contracts its
events follow) and a dataset in S3, catalogued in Glue, that consumers query. The descriptor is
kept where AWS users look for a table's facts: in the Glue table itself, as its description,
its ``Parameters`` (``data_product.*``) and its tags, so ``get_data_product`` reads back the same
``DataProduct`` that ``create_data_product`` stored, and any Glue client can see it.

Discovery (``list_data_products``) reads the live catalog. On real AWS it asks Glue's
``SearchTables`` for free text; the embedded AWS (moto) does not implement ``SearchTables``, so
offline meshkit lists every table with ``GetTables`` and matches the text itself. The filters by
domain, classification, owner and column are meshkit's on both.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from .. import _aws
from .._shared import (
    check_owner,
    error_code,
    session_account,
    tag_map,
)
from ..buses import bus_name, domain_key
from ..contracts import ContractRegistry, default_registry
from ..events import data_product_name
from ..exceptions import NotFoundError, ValidationError

__all__ = [
    "CLASSIFICATIONS",
    "Column",
    "DataProduct",
    "DataProductNotFoundError",
    "DatasetPort",
    "EventPort",
    "UnknownDetailTypeError",
    "create_data_product",
    "define_data_product",
    "delete_data_product",
    "get_data_product",
    "list_data_products",
    "product_bucket",
]

_logger = logging.getLogger(__name__)

#: Sensitivity levels, least to most sensitive (the ``classification`` LF-tag's values).
CLASSIFICATIONS = ("public", "internal", "confidential", "restricted")

#: The columns every product's dataset starts with: the envelope of each event.
ENVELOPE_COLUMNS = (
    ("event_id", "string", "EventBridge's id of the event"),
    ("idempotency_key", "string", "the producer's key for the business fact (unique per row)"),
    ("event_time", "timestamp", "when it happened (the event's time, UTC)"),
    ("detail_type", "string", "the kind of event"),
    ("schema_version", "string", "the version of the contract the event follows"),
    ("correlation_id", "string", "ties together the events of one business flow"),
)
PARTITION_KEY = "event_date"  # YYYY-MM-DD, the UTC date of event_time

_PARAMETER = "data_product."  # the prefix of the descriptor's Glue table parameters
_CLASSIFICATION_TAG = "data-classification"
# JSON Schema type -> Glue (Hive) type; anything else is kept as its JSON text.
_GLUE_TYPES = {"string": "string", "number": "double", "integer": "bigint", "boolean": "boolean"}
_COLUMN = re.compile(r"[a-z_][a-z0-9_]{0,254}")
_DESCRIPTION_MAX = 2048  # Glue's TableInput.Description
_OWNER_MAX = 256  # a tag value
_BUCKET_DOMAIN_MAX = 27  # so that meshkit-<domain>-<account>-<region> fits S3's 63 characters


class DataProductNotFoundError(NotFoundError):
    """No Glue table carries that data product's descriptor."""


class UnknownDetailTypeError(ValidationError):
    """No contract describes the detail-type a product was defined for."""


@dataclass(frozen=True)
class Column:
    """One column of a product's dataset, typed as Glue and Athena type it.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.products.Column("amount", "double", "the sale's amount")
    Column(name='amount', type='double', comment="the sale's amount")
    """

    name: str
    type: str
    comment: str = ""


@dataclass(frozen=True)
class EventPort:
    """The product's event stream: which bus, which events, under which contracts.

    Examples
    --------
    >>> import meshkit as mk
    >>> port = mk.products.EventPort(
    ...     "SalesEventBus", "sales.domain", ("SaleRecorded",),
    ...     ("sales.domain/SaleRecorded/1.0",),
    ... )
    >>> port.bus
    'SalesEventBus'
    """

    bus: str
    source: str
    detail_types: tuple[str, ...]
    contracts: tuple[str, ...]


@dataclass(frozen=True)
class DatasetPort:
    """The product's dataset: a Glue table over Parquet files in S3, partitioned by day.

    Examples
    --------
    >>> import meshkit as mk
    >>> port = mk.products.DatasetPort("sales", "sale_recorded", "s3://bucket/sale_recorded/")
    >>> port.format, port.partition_keys
    ('parquet', ('event_date',))
    """

    database: str
    table: str
    location: str
    format: str = "parquet"
    partition_keys: tuple[str, ...] = (PARTITION_KEY,)


@dataclass(frozen=True)
class DataProduct:
    """A domain's data product: who owns it, what it holds, how sensitive, where to read it.

    Attributes
    ----------
    name : str
        ``<domain>.<detail-type in kebab case>``, e.g. ``"sales.sale-recorded"``: the name every
        event of it carries in ``detail.metadata.data_product``.
    domain, owner, description : str
        The owning domain, the team that answers for it, and what it holds.
    classification : str
        One of ``CLASSIFICATIONS``: ``public``, ``internal``, ``confidential``, ``restricted``.
    events : EventPort
        The event stream: bus, source, detail-types, contract keys.
    dataset : DatasetPort
        The Glue database and table, the S3 location, format and partition keys.
    columns : tuple of Column
        The dataset's columns (the partition key ``event_date`` aside): the envelope's, then one
        per property of the contracts' ``data``.
    freshness_slo_minutes : int
        How old the newest row may be, at most, while events flow: the landing promise.
    lineage : tuple of str
        What the product is made from: other products' names, or sources such as
        ``"dynamodb:sales"``.

    Examples
    --------
    >>> import meshkit as mk
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal"
    ... )
    >>> product.name, product.dataset.table
    ('sales.sale-recorded', 'sale_recorded')
    >>> [column.name for column in product.columns][-4:]
    ['sale_id', 'amount', 'timestamp', 'currency']
    """

    name: str
    domain: str
    owner: str
    description: str
    classification: str
    events: EventPort
    dataset: DatasetPort
    columns: tuple[Column, ...]
    freshness_slo_minutes: int = 15
    lineage: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_classification(self.classification)
        _check_text("owner", self.owner, _OWNER_MAX, "'sales-team'")
        _check_text("description", self.description, _DESCRIPTION_MAX, "'Every sale recorded'")
        _check_slo(self.freshness_slo_minutes)
        if not self.dataset.location.startswith("s3://") or not self.dataset.location.endswith("/"):
            raise ValidationError(
                f"dataset.location {self.dataset.location!r} must be an S3 prefix "
                "'s3://<bucket>/<table>/' (ending with '/')"
            )
        for column in self.columns:
            if not _COLUMN.fullmatch(column.name):
                raise ValidationError(
                    f"column name {column.name!r} is not a Glue column name: lower-case letters, "
                    "digits and '_', starting with a letter or '_' (e.g. 'sale_id')"
                )

    def table_input(self) -> dict[str, Any]:
        """The Glue ``TableInput`` that stores this product: schema, location and descriptor.

        Examples
        --------
        >>> import meshkit as mk
        >>> product = mk.products.define_data_product(
        ...     "sales", "SaleRecorded", description="Every sale", classification="internal"
        ... )
        >>> product.table_input()["Parameters"]["data_product.classification"]
        'internal'
        """
        events = {
            "bus": self.events.bus,
            "source": self.events.source,
            "detail_types": list(self.events.detail_types),
            "contracts": list(self.events.contracts),
        }
        return {
            "Name": self.dataset.table,
            "Description": self.description,
            "TableType": "EXTERNAL_TABLE",
            "Parameters": {
                "classification": self.dataset.format,  # Glue's format convention
                "EXTERNAL": "TRUE",
                f"{_PARAMETER}name": self.name,
                f"{_PARAMETER}domain": self.domain,
                f"{_PARAMETER}owner": self.owner,
                f"{_PARAMETER}classification": self.classification,
                f"{_PARAMETER}freshness_slo_minutes": str(self.freshness_slo_minutes),
                f"{_PARAMETER}events": json.dumps(events, separators=(",", ":")),
                f"{_PARAMETER}lineage": json.dumps(list(self.lineage)),
            },
            "PartitionKeys": [
                {"Name": key, "Type": "string", "Comment": "UTC date of event_time"}
                for key in self.dataset.partition_keys
            ],
            "StorageDescriptor": {
                "Columns": [
                    {"Name": c.name, "Type": c.type, "Comment": c.comment} for c in self.columns
                ],
                "Location": self.dataset.location,
                "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
                "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
                "SerdeInfo": {
                    "SerializationLibrary": (
                        "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
                    ),
                    "Parameters": {"serialization.format": "1"},
                },
            },
        }

    def tags(self) -> dict[str, str]:
        """The Glue resource tags of the product's table (meshkit's, plus its classification).

        Examples
        --------
        >>> import meshkit as mk
        >>> product = mk.products.define_data_product(
        ...     "sales", "SaleRecorded", description="Every sale", classification="internal"
        ... )
        >>> product.tags()["data-classification"]
        'internal'
        """
        return {**tag_map(self.domain, self.owner), _CLASSIFICATION_TAG: self.classification}

    @classmethod
    def from_glue_table(cls, table: Mapping[str, Any]) -> DataProduct:
        """Read a product back from a Glue table (as ``GetTable`` returns it).

        Raises ``DataProductNotFoundError`` for a table without meshkit's descriptor.

        Examples
        --------
        >>> import meshkit as mk
        >>> product = mk.products.define_data_product(
        ...     "sales", "SaleRecorded", description="Every sale", classification="internal"
        ... )
        >>> table = {**product.table_input(), "DatabaseName": "sales"}
        >>> mk.products.DataProduct.from_glue_table(table) == product
        True
        """
        parameters = table.get("Parameters") or {}
        if f"{_PARAMETER}name" not in parameters:
            raise DataProductNotFoundError(
                f"Glue table {table.get('DatabaseName')}.{table.get('Name')} holds no data "
                "product descriptor (no data_product.name parameter): create it with "
                "mk.products.create_data_product"
            )
        events = json.loads(parameters[f"{_PARAMETER}events"])
        storage = table.get("StorageDescriptor") or {}
        return cls(
            name=parameters[f"{_PARAMETER}name"],
            domain=parameters[f"{_PARAMETER}domain"],
            owner=parameters[f"{_PARAMETER}owner"],
            description=table.get("Description", ""),
            classification=parameters[f"{_PARAMETER}classification"],
            events=EventPort(
                bus=events["bus"],
                source=events["source"],
                detail_types=tuple(events["detail_types"]),
                contracts=tuple(events["contracts"]),
            ),
            dataset=DatasetPort(
                database=str(table.get("DatabaseName")),
                table=str(table.get("Name")),
                location=storage.get("Location", ""),
                format=parameters.get("classification", "parquet"),
                partition_keys=tuple(key["Name"] for key in table.get("PartitionKeys", [])),
            ),
            columns=tuple(
                Column(c["Name"], c["Type"], c.get("Comment", "")) for c in storage["Columns"]
            ),
            freshness_slo_minutes=int(parameters[f"{_PARAMETER}freshness_slo_minutes"]),
            lineage=tuple(json.loads(parameters.get(f"{_PARAMETER}lineage", "[]"))),
        )

    def table_arn(self, account: str, region: str, partition: str = "aws") -> str:
        """The ARN of the product's Glue table.

        Examples
        --------
        >>> import meshkit as mk
        >>> product = mk.products.define_data_product(
        ...     "sales", "SaleRecorded", description="Every sale", classification="internal"
        ... )
        >>> product.table_arn("123456789012", "us-west-2")
        'arn:aws:glue:us-west-2:123456789012:table/sales/sale_recorded'
        """
        return (
            f"arn:{partition}:glue:{region}:{account}:table/"
            f"{self.dataset.database}/{self.dataset.table}"
        )


# -- checks -----------------------------------------------------------------------------------


def _check_classification(classification: Any) -> str:
    if classification not in CLASSIFICATIONS:
        raise ValidationError(
            f"classification {classification!r} is not one of {', '.join(CLASSIFICATIONS)}: "
            "choose how sensitive the product is, e.g. classification='internal'"
        )
    return str(classification)


def _check_text(field: str, value: Any, limit: int, example: str) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must be a non-empty string, e.g. {example}, not {value!r}")
    if len(value) > limit:
        raise ValidationError(
            f"{field} is {len(value)} characters; Glue allows {limit}: shorten it"
        )


def _check_slo(minutes: Any) -> None:
    if isinstance(minutes, bool) or not isinstance(minutes, int) or minutes < 1:
        raise ValidationError(
            f"freshness_slo_minutes must be a whole number of minutes, 1 or more (e.g. 15), "
            f"not {minutes!r}"
        )


def _snake(name: str) -> str:
    """``SaleRecorded`` -> ``sale_recorded``; ``customer-support`` -> ``customer_support``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return re.sub(r"[^a-z0-9_]+", "_", spaced.lower()).strip("_")


def _database_name(domain: str) -> str:
    return _snake(domain)


def _glue_type(schema: Any) -> str:
    kind = schema.get("type") if isinstance(schema, Mapping) else None
    if isinstance(kind, list):  # ["string", "null"]: the one non-null type, if there is one
        kinds = [k for k in kind if k != "null"]
        kind = kinds[0] if len(kinds) == 1 else None
    return _GLUE_TYPES.get(kind, "string") if isinstance(kind, str) else "string"


def _contract_columns(contracts: Iterable[Any]) -> list[Column]:
    """One column per property of the contracts' ``data``, in order of first appearance."""
    columns: dict[str, Column] = {}
    for contract in contracts:
        schema = contract.schema if isinstance(contract.schema, Mapping) else {}
        for prop, sub in (schema.get("properties") or {}).items():
            name = _snake(prop)
            if name not in columns and name not in {n for n, _, _ in ENVELOPE_COLUMNS}:
                description = sub.get("description", "") if isinstance(sub, Mapping) else ""
                columns[name] = Column(name, _glue_type(sub), str(description)[:255])
    return list(columns.values())


# -- AWS --------------------------------------------------------------------------------------


def product_bucket(domain: str, *, boto3_session: boto3.Session | None = None) -> str:
    """The S3 bucket of a domain's data products: ``meshkit-<domain>-<account>-<region>``.

    Bucket names are global across AWS, so the account and region are part of it; a domain
    longer than 27 characters is shortened with a hash, to stay within S3's 63.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.products.product_bucket("sales")
    'meshkit-sales-123456789012-us-west-2'
    """
    key = domain_key(domain)
    if len(key) > _BUCKET_DOMAIN_MAX:
        digest = hashlib.sha256(key.encode()).hexdigest()[:8]
        key = f"{key[: _BUCKET_DOMAIN_MAX - 9].rstrip('-')}-{digest}"
    region = _aws.client("s3", boto3_session).meta.region_name
    return f"meshkit-{key}-{session_account(boto3_session)}-{region}"


def define_data_product(
    domain: str,
    detail_type: str,
    *,
    description: str,
    classification: str,
    owner: str | None = None,
    freshness_slo_minutes: int = 15,
    lineage: Iterable[str] = (),
    registry: ContractRegistry | None = None,
    boto3_session: boto3.Session | None = None,
) -> DataProduct:
    """Describe the data product of one kind of a domain's events (nothing is created yet).

    The event port is the domain's bus and every contract version of ``detail_type``; the dataset
    is a table named after the detail-type in the domain's Glue database, in the domain's bucket;
    its columns are the envelope's and the contracts' ``data`` properties.

    Parameters
    ----------
    domain : str
        The owning domain, e.g. ``"sales"``.
    detail_type : str
        The kind of event the product holds, e.g. ``"SaleRecorded"``; its contracts must be in
        ``registry``.
    description : str
        What the product holds, for people searching the catalog.
    classification : str
        One of ``CLASSIFICATIONS``.
    owner : str, optional
        The team that answers for it; default ``"<domain>-team"``.
    freshness_slo_minutes : int, default 15
        How stale the dataset may become while events flow.
    lineage : iterable of str
        What the product is made from (other products, or sources such as ``"dynamodb:sales"``).
    registry : ContractRegistry, optional
        Where its contracts are; default ``mk.contracts.default_registry()``.
    boto3_session : boto3.Session, optional
        Used only to learn the account and region (for the bucket name).

    Returns
    -------
    DataProduct

    Raises
    ------
    UnknownDetailTypeError
        No contract of ``<domain>.domain`` / ``detail_type`` is registered.
    meshkit.exceptions.ValidationError
        A classification, owner, description or SLO AWS or meshkit would refuse.

    Examples
    --------
    >>> import meshkit as mk
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal"
    ... )
    >>> product.events.contracts
    ('sales.domain/SaleRecorded/1.0', 'sales.domain/SaleRecorded/1.1')
    >>> product.dataset.location
    's3://meshkit-sales-123456789012-us-west-2/sale_recorded/'
    """
    key = domain_key(domain)
    if not isinstance(detail_type, str) or not detail_type:
        raise ValidationError(
            f"detail_type must be the kind of event, e.g. 'SaleRecorded', not {detail_type!r}"
        )
    _check_classification(classification)
    owner = owner if owner is not None else f"{key}-team"
    source = f"{key}.domain"
    wanted = (source, detail_type)
    contracts = sorted(
        (c for c in registry or default_registry() if (c.source, c.detail_type) == wanted),
        key=lambda c: tuple(int(part) for part in c.version.split(".")),
    )
    if not contracts:
        raise UnknownDetailTypeError(
            f"no contract describes {source} / {detail_type}: register one first "
            "(mk.contracts.register) so the product's columns and contract versions are known"
        )
    lineage = tuple(lineage)
    if not all(isinstance(item, str) and item for item in lineage):
        raise ValidationError(
            f"lineage must be names of inputs, e.g. ['dynamodb:sales'], not {lineage!r}"
        )
    table = _snake(detail_type)
    bucket = product_bucket(key, boto3_session=boto3_session)
    columns = [Column(*column) for column in ENVELOPE_COLUMNS] + _contract_columns(contracts)
    return DataProduct(
        name=data_product_name(key, detail_type),
        domain=key,
        owner=owner,
        description=description,
        classification=classification,
        events=EventPort(
            bus=bus_name(key),
            source=source,
            detail_types=(detail_type,),
            contracts=tuple(c.key for c in contracts),
        ),
        dataset=DatasetPort(
            database=_database_name(key), table=table, location=f"s3://{bucket}/{table}/"
        ),
        columns=tuple(columns),
        freshness_slo_minutes=freshness_slo_minutes,
        lineage=lineage,
    )


def _bucket_of(location: str) -> str:
    return location.removeprefix("s3://").split("/", 1)[0]


def _ensure_bucket(product: DataProduct, boto3_session: boto3.Session | None) -> None:
    s3 = _aws.client("s3", boto3_session)
    bucket = _bucket_of(product.dataset.location)
    try:
        if s3.meta.region_name == "us-east-1":
            s3.create_bucket(Bucket=bucket)
        else:
            s3.create_bucket(
                Bucket=bucket,
                CreateBucketConfiguration={"LocationConstraint": s3.meta.region_name},
            )
        _logger.info("created bucket %s", bucket)
    except ClientError as err:
        if error_code(err) != "BucketAlreadyOwnedByYou":
            raise
    tags = s3.get_bucket_tagging(Bucket=bucket).get("TagSet", []) if _has_tags(s3, bucket) else []
    existing = {tag["Key"]: tag["Value"] for tag in tags}
    if not existing:
        wanted = tag_map(product.domain)
        s3.put_bucket_tagging(
            Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in wanted.items()]}
        )
    else:
        check_owner(
            existing, what=f"bucket {bucket}", domain=product.domain, fix="delete or rename it"
        )


def _has_tags(s3: Any, bucket: str) -> bool:
    try:
        s3.get_bucket_tagging(Bucket=bucket)
    except ClientError as err:
        if error_code(err) == "NoSuchTagSet":
            return False
        raise
    return True


def _ensure_database(product: DataProduct, glue: Any, arn_prefix: str) -> None:
    database = product.dataset.database
    try:
        glue.create_database(
            DatabaseInput={
                "Name": database,
                "Description": f"Data products of the {product.domain} domain",
                "LocationUri": f"s3://{_bucket_of(product.dataset.location)}/",
            },
            Tags=tag_map(product.domain),
        )
        _logger.info("created Glue database %s", database)
    except ClientError as err:
        if error_code(err) != "AlreadyExistsException":
            raise
        tags = glue.get_tags(ResourceArn=f"{arn_prefix}:database/{database}").get("Tags", {})
        check_owner(
            tags,
            what=f"Glue database {database}",
            domain=product.domain,
            fix="give the domain another name",
        )


def create_data_product(product: DataProduct, *, boto3_session: boto3.Session | None = None) -> str:
    """Create (or update) the product's bucket, Glue database and table; return the table's ARN.

    Idempotent: a second call with the same product changes nothing; with a changed product (a
    new contract version, a new owner) it updates the table meshkit made. A table of that name
    that meshkit did not make is refused.

    Raises
    ------
    meshkit.exceptions.NotMeshkitResourceError
        The bucket, database or table exists without meshkit's tags, or belongs to another domain.

    Examples
    --------
    >>> import meshkit as mk
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal"
    ... )
    >>> mk.products.create_data_product(product)
    'arn:aws:glue:us-west-2:123456789012:table/sales/sale_recorded'
    >>> mk.products.delete_data_product("sales.sale-recorded")
    True
    """
    if not isinstance(product, DataProduct):
        raise ValidationError(
            f"product must be a DataProduct (from mk.products.define_data_product), not "
            f"{type(product).__name__}"
        )
    glue = _aws.client("glue", boto3_session)
    account = session_account(boto3_session)
    arn_prefix = f"arn:{glue.meta.partition}:glue:{glue.meta.region_name}:{account}"
    arn = product.table_arn(account, glue.meta.region_name, glue.meta.partition)
    _ensure_bucket(product, boto3_session)
    _ensure_database(product, glue, arn_prefix)
    database, table_input = product.dataset.database, product.table_input()
    try:
        glue.create_table(DatabaseName=database, TableInput=table_input)
        _logger.info("created data product %s as %s", product.name, arn)
    except ClientError as err:
        if error_code(err) != "AlreadyExistsException":
            raise
        check_owner(
            glue.get_tags(ResourceArn=arn).get("Tags", {}),
            what=f"Glue table {database}.{product.dataset.table}",
            domain=product.domain,
            fix="name the product's detail-type differently",
        )
        current = glue.get_table(DatabaseName=database, Name=product.dataset.table)["Table"]
        if _stored(current) != _stored(table_input):
            glue.update_table(DatabaseName=database, TableInput=table_input)
            _logger.info("updated data product %s", product.name)
    glue.tag_resource(ResourceArn=arn, TagsToAdd=product.tags())
    return arn


def _stored(table: Mapping[str, Any]) -> tuple[Any, ...]:
    """What create_data_product writes, to tell whether a table needs an update."""
    storage = table.get("StorageDescriptor") or {}
    return (
        table.get("Description"),
        dict(table.get("Parameters") or {}),
        [(c["Name"], c["Type"]) for c in storage.get("Columns", [])],
        storage.get("Location"),
        [(k["Name"], k["Type"]) for k in table.get("PartitionKeys", [])],
    )


def _descriptor_tables(glue: Any, database: str | None = None) -> Iterator[Mapping[str, Any]]:
    """Every Glue table holding a product descriptor (in one database, or in all)."""
    if database is None:
        databases = [
            d["Name"]
            for page in glue.get_paginator("get_databases").paginate()
            for d in page["DatabaseList"]
        ]
    else:
        databases = [database]
    for name in databases:
        try:
            pages = list(glue.get_paginator("get_tables").paginate(DatabaseName=name))
        except ClientError as err:
            if error_code(err) == "EntityNotFoundException":
                continue
            raise
        for page in pages:
            for table in page["TableList"]:
                if f"{_PARAMETER}name" in (table.get("Parameters") or {}):
                    yield table


def _split_name(name: Any) -> tuple[str, str]:
    if not isinstance(name, str) or "." not in name:
        raise ValidationError(
            f"a data product's name is '<domain>.<detail-type in kebab case>', e.g. "
            f"'sales.sale-recorded', not {name!r}"
        )
    domain, _, rest = name.partition(".")
    return domain_key(domain, field="name"), rest


def get_data_product(name: str, *, boto3_session: boto3.Session | None = None) -> DataProduct:
    """Read a product's descriptor back from the live Glue catalog.

    Raises
    ------
    DataProductNotFoundError
        No Glue table in the domain's database holds that product.

    Examples
    --------
    >>> import meshkit as mk
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal"
    ... )
    >>> _ = mk.products.create_data_product(product)
    >>> mk.products.get_data_product("sales.sale-recorded") == product
    True
    >>> mk.products.delete_data_product("sales.sale-recorded")
    True
    """
    domain, _ = _split_name(name)
    glue = _aws.client("glue", boto3_session)
    for table in _descriptor_tables(glue, _database_name(domain)):
        if table["Parameters"][f"{_PARAMETER}name"] == name:
            return DataProduct.from_glue_table(table)
    raise DataProductNotFoundError(
        f"no data product {name!r} in the Glue database {_database_name(domain)!r}: "
        "mk.products.list_data_products() shows what exists; create_data_product makes one"
    )


def delete_data_product(
    name: str, *, delete_data: bool = False, boto3_session: boto3.Session | None = None
) -> bool:
    """Delete a product's Glue table (and, with ``delete_data=True``, its files); return whether
    there was one. Only a table meshkit made is deleted; the database and bucket stay.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.products.delete_data_product("sales.no-such-product")
    False
    """
    if not isinstance(delete_data, bool):
        raise ValidationError(f"delete_data must be True or False, not {delete_data!r}")
    try:
        product = get_data_product(name, boto3_session=boto3_session)
    except DataProductNotFoundError:
        return False
    glue = _aws.client("glue", boto3_session)
    account = session_account(boto3_session)
    arn = product.table_arn(account, glue.meta.region_name, glue.meta.partition)
    check_owner(
        glue.get_tags(ResourceArn=arn).get("Tags", {}),
        what=f"Glue table {product.dataset.database}.{product.dataset.table}",
        domain=product.domain,
        fix="delete it yourself if it is no longer needed",
    )
    if delete_data:
        s3 = _aws.client("s3", boto3_session)
        bucket = _bucket_of(product.dataset.location)
        prefix = product.dataset.location.removeprefix(f"s3://{bucket}/")
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": item["Key"]} for item in page.get("Contents", [])]
            if keys:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
    # Untag first: the embedded AWS keeps a deleted table's tags for the next table of that name.
    glue.untag_resource(ResourceArn=arn, TagsToRemove=list(product.tags()))
    glue.delete_table(DatabaseName=product.dataset.database, Name=product.dataset.table)
    _logger.info("deleted data product %s", name)
    return True


# -- discovery --------------------------------------------------------------------------------


def _matches(
    product: DataProduct,
    *,
    domain: str | None,
    classification: str | None,
    owner: str | None,
    column: str | None,
    text: str | None,
) -> bool:
    if domain is not None and product.domain != domain:
        return False
    if classification is not None and product.classification != classification:
        return False
    if owner is not None and product.owner != owner:
        return False
    if column is not None and column.lower() not in {c.name for c in product.columns}:
        return False
    if text is not None:
        haystack = " ".join(
            [product.name, product.description, product.owner, product.domain]
            + [c.name for c in product.columns]
            + [c.comment for c in product.columns]
            + list(product.events.detail_types)
        ).lower()
        return all(word in haystack for word in text.lower().split())
    return True


def list_data_products(
    *,
    domain: str | None = None,
    classification: str | None = None,
    owner: str | None = None,
    column: str | None = None,
    text: str | None = None,
    boto3_session: boto3.Session | None = None,
) -> pd.DataFrame:
    """Find data products in the live Glue catalog; one row per product.

    Parameters
    ----------
    domain, classification, owner : str, optional
        Exact matches (``domain`` in any spelling ``mk.buses.domain_key`` accepts).
    column : str, optional
        Products whose dataset has a column of that name.
    text : str, optional
        Free text. On real AWS Glue's ``SearchTables`` answers it (its own relevance rules); on
        the embedded AWS, which has no ``SearchTables``, meshkit keeps the products whose name,
        description, owner, domain, detail-types or column names and comments hold every word.
    boto3_session : boto3.Session, optional

    Returns
    -------
    pandas.DataFrame
        Columns ``name``, ``domain``, ``owner``, ``classification``, ``description``,
        ``database``, ``table``, ``location``, ``columns`` (comma-separated) and
        ``freshness_slo_minutes``, sorted by name. ``frame.attrs["searched_with"]`` says how the
        catalog was read: ``"SearchTables"`` or ``"GetTables + meshkit's filter"``.

    Examples
    --------
    >>> import meshkit as mk
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal"
    ... )
    >>> _ = mk.products.create_data_product(product)
    >>> mk.products.list_data_products(column="amount").name.tolist()
    ['sales.sale-recorded']
    >>> mk.products.list_data_products(classification="public").empty
    True
    >>> mk.products.delete_data_product("sales.sale-recorded")
    True
    """
    for field, value in (("owner", owner), ("column", column), ("text", text)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise ValidationError(f"{field} must be a non-empty string or None, not {value!r}")
    if classification is not None:
        _check_classification(classification)
    wanted_domain = domain_key(domain) if domain is not None else None
    glue = _aws.client("glue", boto3_session)
    real_aws = _aws.target().is_real_aws
    if real_aws:
        search: dict[str, Any] = {"SearchText": text} if text else {}
        tables: Iterable[Mapping[str, Any]] = (
            table
            for page in glue.get_paginator("search_tables").paginate(**search)
            for table in page["TableList"]
            if f"{_PARAMETER}name" in (table.get("Parameters") or {})
        )
    else:
        tables = _descriptor_tables(glue)
    rows = []
    for table in tables:
        product = DataProduct.from_glue_table(table)
        if _matches(
            product,
            domain=wanted_domain,
            classification=classification,
            owner=owner,
            column=column,
            text=None if real_aws else text,
        ):
            rows.append(
                {
                    "name": product.name,
                    "domain": product.domain,
                    "owner": product.owner,
                    "classification": product.classification,
                    "description": product.description,
                    "database": product.dataset.database,
                    "table": product.dataset.table,
                    "location": product.dataset.location,
                    "columns": ", ".join(c.name for c in product.columns),
                    "freshness_slo_minutes": product.freshness_slo_minutes,
                }
            )
    columns = [
        "name", "domain", "owner", "classification", "description", "database", "table",
        "location", "columns", "freshness_slo_minutes",
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=columns).sort_values("name", ignore_index=True)
    frame.attrs["searched_with"] = "SearchTables" if real_aws else "GetTables + meshkit's filter"
    return frame
