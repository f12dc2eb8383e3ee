"""Data products: the data half of the mesh, catalogued in Glue and governed by Lake Formation.

A domain's data product has two output ports: its events on the domain's bus, and a dataset that
a landing consumer writes as Parquet to S3 and keeps current in the Glue Data Catalog. Every name
below is imported from ``meshkit.products`` (``mk.products.create_data_product``); the modules say
where each concern lives:

=======================================  =======================================================
``meshkit.products.descriptor``          the ``DataProduct`` descriptor, stored as its Glue table's
                                         parameters and tags; create, read, delete; discovery
                                         (``list_data_products``)
``meshkit.products.schema_registry``     contracts as JSON Schema versions in the Glue Schema
                                         Registry, checked before Glue is asked
``meshkit.products.landing``             the landing handler: events to partitioned Parquet in S3,
                                         once per idempotency key, Glue partitions kept current
``meshkit.products.query``               SQL over products: DuckDB offline, Athena on AWS
``meshkit.products.lakeformation``       LF-tags with inheritance, grants, revocation, and who may
                                         read what (``who_can_read``, ``explain_access``)
``meshkit.products.access_requests``     access requested, granted or denied as events on the
                                         governance bus (DataZone's subscribe workflow)
``meshkit.products.catalog``             a browsable catalog written from live state, with lineage
=======================================  =======================================================
"""

from __future__ import annotations

from .access_requests import (
    ACCESS_DENIED,
    ACCESS_GRANTED,
    ACCESS_REQUESTED,
    GOVERNANCE_BUS,
    GOVERNANCE_SOURCE,
    AccessAnswer,
    AccessPolicy,
    AccessRequest,
    MalformedRequestError,
    PolicyDecision,
    access_request_handler,
    answer_pattern,
    answer_request,
    request_access,
    request_pattern,
)
from .catalog import (
    Catalog,
    lineage_svg,
    write_catalog,
)
from .descriptor import (
    CLASSIFICATIONS,
    Column,
    DataProduct,
    DataProductNotFoundError,
    DatasetPort,
    EventPort,
    UnknownDetailTypeError,
    create_data_product,
    define_data_product,
    delete_data_product,
    get_data_product,
    list_data_products,
    product_bucket,
)
from .lakeformation import (
    CLASSIFICATION_LF_TAG,
    DOMAIN_LF_TAG,
    IAM_ALLOWED_PRINCIPALS,
    AwsOnlyError,
    CatalogResourceNotFoundError,
    LFAccessDecision,
    LFGrant,
    LFTableTags,
    LFTagAssignmentError,
    LFTagValue,
    UndefinedLFTagError,
    assign_lf_tags,
    create_lf_tags,
    effective_lf_tags,
    evaluate_database_access,
    evaluate_table_access,
    explain_access,
    expression_text,
    grant,
    list_grants,
    remove_lf_tags,
    revoke,
    tag_data_product,
    who_can_read,
)
from .landing import (
    LandingError,
    LandingFailure,
    LandingResult,
    land_events,
    landing_handler,
)
from .query import (
    InvalidQueryError,
    NotADataProductError,
    QueryError,
    query,
)
from .schema_registry import (
    CONTRACT_KEYWORD,
    DRAFT_07,
    METADATA_KEY,
    CompatibilityModeConflictError,
    ContractVersionConflictError,
    Draft07ConversionError,
    RegistryDeletingError,
    SchemaNotFoundError,
    SchemaVersion,
    UncomparableSchemaVersionError,
    create_schema_registry,
    delete_schema_registry,
    get_schema_definition,
    list_schema_versions,
    register_contract,
    registry_name,
    to_draft_07,
)

__all__ = [
    "ACCESS_DENIED",
    "ACCESS_GRANTED",
    "ACCESS_REQUESTED",
    "CLASSIFICATIONS",
    "CLASSIFICATION_LF_TAG",
    "CONTRACT_KEYWORD",
    "DOMAIN_LF_TAG",
    "DRAFT_07",
    "GOVERNANCE_BUS",
    "GOVERNANCE_SOURCE",
    "IAM_ALLOWED_PRINCIPALS",
    "METADATA_KEY",
    "AccessAnswer",
    "AccessPolicy",
    "AccessRequest",
    "AwsOnlyError",
    "Catalog",
    "CatalogResourceNotFoundError",
    "Column",
    "CompatibilityModeConflictError",
    "ContractVersionConflictError",
    "DataProduct",
    "DataProductNotFoundError",
    "DatasetPort",
    "Draft07ConversionError",
    "EventPort",
    "InvalidQueryError",
    "LFAccessDecision",
    "LFGrant",
    "LFTableTags",
    "LFTagAssignmentError",
    "LFTagValue",
    "LandingError",
    "LandingFailure",
    "LandingResult",
    "MalformedRequestError",
    "NotADataProductError",
    "PolicyDecision",
    "QueryError",
    "RegistryDeletingError",
    "SchemaNotFoundError",
    "SchemaVersion",
    "UncomparableSchemaVersionError",
    "UndefinedLFTagError",
    "UnknownDetailTypeError",
    "access_request_handler",
    "answer_pattern",
    "answer_request",
    "assign_lf_tags",
    "create_data_product",
    "create_lf_tags",
    "create_schema_registry",
    "define_data_product",
    "delete_data_product",
    "delete_schema_registry",
    "effective_lf_tags",
    "evaluate_database_access",
    "evaluate_table_access",
    "explain_access",
    "expression_text",
    "get_data_product",
    "get_schema_definition",
    "grant",
    "land_events",
    "landing_handler",
    "lineage_svg",
    "list_data_products",
    "list_grants",
    "list_schema_versions",
    "product_bucket",
    "query",
    "register_contract",
    "registry_name",
    "remove_lf_tags",
    "request_access",
    "request_pattern",
    "revoke",
    "tag_data_product",
    "to_draft_07",
    "who_can_read",
    "write_catalog",
]
