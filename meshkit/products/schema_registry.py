"""Contracts in the AWS Glue Schema Registry: each version a JSON Schema draft-07 schema version.

A data product's event port promises its contracts; the Glue Schema Registry is where AWS users
look for them, and where Glue's serializers for Kafka, Kinesis and Lambda fetch them. Each domain
gets one registry, ``<domain>-contracts``; each detail-type one schema in it, named after the
detail-type (``SaleRecorded``), with data format ``JSON``; each contract version one schema
version.

meshkit writes contracts in JSON Schema draft 2020-12; Glue reads draft-04, -06 and -07 only
(https://docs.aws.amazon.com/glue/latest/dg/schema-registry.html), so ``to_draft_07`` rewrites a
contract as draft-07 (``$defs`` becomes ``definitions``) and refuses, by name, what draft-07
cannot say (https://json-schema.org/draft/2020-12/release-notes).

Glue checks each new schema version against the schema's compatibility mode and marks it
``FAILURE`` when it breaks it. The embedded AWS (moto) stores every version as ``AVAILABLE``, so
``register_contract`` checks first, with ``mk.contracts.check_compatibility`` and the same modes
as ``mk.contracts``, and registers nothing when the check fails: offline and on AWS a breaking
version is refused the same way. On AWS Glue checks again, with its own checker, whose rules
for JSON Schema AWS does not spell out: users report that it refuses an optional property added
under FULL, as ``policy="strict"`` does (meshkit's default, ``"lenient"``, accepts it).

Where each version's contract version is kept: in the schema definition itself, under the
top-level keyword ``x-meshkit-contract`` (``"sales.domain/SaleRecorded/1.1"``; JSON Schema
ignores keywords it does not know), and, for the Glue console, as the schema version's metadata
``contract_version``. meshkit reads it from the definition, because moto does not implement
``QuerySchemaVersionMetadata``, nor ``ListSchemaVersions``: ``list_schema_versions`` reads
versions 1 to the latest with ``GetSchemaVersion``, one code path on every target.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import boto3
import pandas as pd
from botocore.exceptions import ClientError
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from .. import _aws
from .._shared import check_owner, error_code, tag_map
from ..buses import domain_key
from ..contracts import (
    CompatibilityReport,
    Contract,
    ContractRegistry,
    IncompatibleContractError,
    InvalidContractError,
    SchemaChange,
    check_compatibility,
)
from ..exceptions import ConflictError, NotFoundError, ValidationError

__all__ = [
    "CONTRACT_KEYWORD",
    "DRAFT_07",
    "METADATA_KEY",
    "CompatibilityModeConflictError",
    "ContractVersionConflictError",
    "Draft07ConversionError",
    "RegistryDeletingError",
    "SchemaNotFoundError",
    "SchemaVersion",
    "UncomparableSchemaVersionError",
    "create_schema_registry",
    "delete_schema_registry",
    "get_schema_definition",
    "list_schema_versions",
    "register_contract",
    "registry_name",
    "to_draft_07",
]

_logger = logging.getLogger(__name__)

#: The ``$schema`` of what meshkit registers (Glue reads draft-04, -06 and -07).
DRAFT_07 = "http://json-schema.org/draft-07/schema#"
#: The top-level keyword of a registered definition that names its contract (key).
CONTRACT_KEYWORD = "x-meshkit-contract"
#: The schema version metadata key that holds the contract version, for the Glue console.
METADATA_KEY = "contract_version"

_DIALECT_2020 = "https://json-schema.org/draft/2020-12/schema"
_REGISTRY_SUFFIX = "-contracts"
# Glue's names of registries and schemas: 1 to 255 of these characters (API Reference, Schema
# Registry data types, "Custom string pattern #45").
_GLUE_NAME = re.compile(r"[a-zA-Z0-9\-_$#.]{1,255}")
_DEFINITION_MAX = 170_000  # RegisterSchemaVersion's SchemaDefinition, in characters
_PENDING_WAIT_S = 120  # how long register_contract waits for Glue's check of a version
_POLL_S = 1.0

# -- draft 2020-12 -> draft-07 -----------------------------------------------------------------

# Keywords whose value is a schema, a map of schemas or a list of schemas (draft 2020-12 and 07).
_ONE_SCHEMA = frozenset(
    {"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames"}
)
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})

_RELEASE_NOTES = "https://json-schema.org/draft/2020-12/release-notes"
# What draft-07 cannot say, and how to say it without the keyword.
_REFUSED = {
    "prefixItems": (
        "draft-07 writes a tuple as an array-valued 'items' plus 'additionalItems', which meshkit "
        "does not produce: describe the array with one 'items' schema, or the tuple as an object "
        "with named properties"
    ),
    "unevaluatedProperties": (
        "draft-07 has no 'unevaluated*': use 'additionalProperties': false next to the "
        "'properties' it applies to (move the allOf/$ref branches' properties there)"
    ),
    "unevaluatedItems": (
        "draft-07 has no 'unevaluated*': describe every item with one 'items' schema"
    ),
    "$dynamicRef": ("draft-07 has no dynamic references: write a plain '$ref' to '#/$defs/<name>'"),
    "$dynamicAnchor": (
        "draft-07 has no dynamic references: remove it and refer with '$ref' to '#/$defs/<name>'"
    ),
    "$recursiveRef": "draft-07 has no recursive references: write '$ref' to '#' or '#/$defs/...'",
    "$recursiveAnchor": "draft-07 has no recursive references: remove it",
    "minContains": (
        "draft-07's 'contains' asks for at least one matching item and cannot count them: remove "
        "'minContains'/'maxContains', or check the count in the consumer"
    ),
    "maxContains": (
        "draft-07's 'contains' asks for at least one matching item and cannot count them: remove "
        "'minContains'/'maxContains', or check the count in the consumer"
    ),
    "$anchor": (
        "draft-07 names a subschema with '$id': '#name', which meshkit does not produce: move the "
        "subschema to '$defs' and refer to it as '#/$defs/<name>'"
    ),
    "$vocabulary": "draft-07 has no vocabularies (they belong in meta-schemas): remove it",
    "dependencies": (
        "draft 2020-12 does not know 'dependencies' (the contract ignores it) while draft-07 "
        "applies it, so the converted schema would accept less: write 'dependentRequired' "
        "(property lists) or 'dependentSchemas' (schemas) instead, or remove it"
    ),
}


class Draft07ConversionError(ValidationError):
    """A contract's schema says something draft-07 cannot; nothing was sent to AWS.

    ``keyword`` is the keyword, ``path`` its JSON path in the schema (``$.properties.tags``).
    """

    def __init__(self, message: str, *, keyword: str, path: str) -> None:
        super().__init__(message)
        self.keyword = keyword
        self.path = path


class SchemaNotFoundError(NotFoundError):
    """No such schema (or schema version) in the domain's registry: register a contract first."""


class CompatibilityModeConflictError(ConflictError):
    """The schema exists with another compatibility mode (Glue keeps the one it had at first)."""


class ContractVersionConflictError(ConflictError):
    """The contract version is registered with another schema, or is older than the latest."""


class UncomparableSchemaVersionError(ConflictError):
    """A version in the schema is not a draft-07 schema meshkit can compare with the new one."""


class RegistryDeletingError(ConflictError):
    """The registry is being deleted (Glue deletes asynchronously): wait, then try again."""


def _json_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"


def _plain(value: Any) -> Any:
    """An editable deep copy of a JSON value (a contract's schema is read-only)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def _refuse(keyword: str, path: str, why: str) -> Draft07ConversionError:
    return Draft07ConversionError(
        f"{keyword!r} at {path} cannot be written in JSON Schema draft-07, the newest draft the "
        f"Glue Schema Registry reads: {why} ({_RELEASE_NOTES})",
        keyword=keyword,
        path=path,
    )


def _pointer_tokens(fragment: str) -> list[tuple[str, str]]:
    """A JSON pointer fragment (``/$defs/a``) as (as written, decoded) tokens."""
    return [
        (raw, unquote(raw).replace("~1", "/").replace("~0", "~")) for raw in fragment.split("/")[1:]
    ]


def _rewrite_pointer(ref: str, root: Any, renames: Mapping[str, str]) -> str:
    """``ref`` with each keyword token of ``renames`` renamed, following ``root``'s structure.

    Only tokens in keyword position are renamed: a property named ``$defs`` stays.
    """
    if not ref.startswith("#/"):
        return ref
    out: list[str] = []
    node: Any = root
    expect = "schema"  # what the next token names: a keyword, a map key, a list index, nothing
    for raw, token in _pointer_tokens(ref[1:]):
        if expect == "schema" and isinstance(node, Mapping):
            out.append(renames.get(token, raw))
            node = node.get(token)
            if token in _SCHEMA_MAPS or token in ("dependentSchemas", "dependencies"):
                expect = "map"
            elif token in _SCHEMA_LISTS:
                expect = "list"
            elif token in _ONE_SCHEMA:
                expect = "schema"
            else:
                expect = "value"
        elif expect == "map" and isinstance(node, Mapping):
            out.append(raw)
            node, expect = node.get(token), "schema"
        elif expect == "list" and isinstance(node, list) and token.isdigit():
            out.append(raw)
            index = int(token)
            node, expect = (node[index] if index < len(node) else None), "schema"
        else:
            out.append(raw)
            node, expect = None, "value"
    return "#/" + "/".join(out)


def _convert(node: Any, path: str, root: Any) -> Any:
    """``node`` (at JSON path ``path``) as draft-07; ``root`` is the resource its pointers read."""
    if not isinstance(node, Mapping):
        return _plain(node)  # a boolean schema: draft-07 has them too
    if "$id" in node and path != "$":
        root = node  # a nested resource: its "#/..." pointers start here
    for keyword, why in _REFUSED.items():
        if keyword in node:
            raise _refuse(keyword, _json_path(path, keyword), why)
    if "$schema" in node and path != "$":
        raise _refuse(
            "$schema",
            _json_path(path, "$schema"),
            "draft-07 allows '$schema' only at the root: remove it from the subschema",
        )
    if "$defs" in node and "definitions" in node:
        raise _refuse(
            "definitions",
            _json_path(path, "definitions"),
            "it holds subschemas next to '$defs', and draft-07 has only 'definitions' for "
            "both: move its entries into '$defs' (and their $ref to '#/$defs/...')",
        )
    out: dict[str, Any] = {}
    for keyword, value in node.items():
        where = _json_path(path, keyword)
        if keyword == "$schema":
            continue  # the root's is written first, below
        if keyword in _SCHEMA_MAPS and isinstance(value, Mapping):
            name = "definitions" if keyword == "$defs" else keyword
            out[name] = {
                key: _convert(sub, _json_path(where, key), root) for key, sub in value.items()
            }
        elif keyword in _SCHEMA_LISTS and isinstance(value, list):
            out[keyword] = [
                _convert(sub, _json_path(where, i), root) for i, sub in enumerate(value)
            ]
        elif keyword in _ONE_SCHEMA:
            out[keyword] = _convert(value, where, root)
        elif keyword in ("dependentRequired", "dependentSchemas"):
            _dependencies(node, keyword, where, root, out.setdefault("dependencies", {}))
        elif keyword == "$ref" and isinstance(value, str):
            out[keyword] = _ref(value, where, root)
        else:
            out[keyword] = _plain(value)
    # At the root, $schema comes next to it: draft-07 would ignore that too.
    if "$ref" in out and (len(out) > 1 or path == "$"):
        out = _wrap_ref(out)
    if path == "$":
        out = {"$schema": DRAFT_07, **out}
    return out


def _dependencies(
    node: Mapping[str, Any], keyword: str, where: str, root: Any, dependencies: dict[str, Any]
) -> None:
    """``dependentRequired``/``dependentSchemas`` added to draft-07's ``dependencies``."""
    value = node[keyword]
    other = "dependentSchemas" if keyword == "dependentRequired" else "dependentRequired"
    both = sorted(set(value) & set(node.get(other, {})))
    if both:
        raise _refuse(
            keyword,
            _json_path(where, both[0]),
            f"property {both[0]!r} is in both 'dependentRequired' and 'dependentSchemas', and "
            "draft-07's 'dependencies' holds one of them per property: move the list into the "
            f"dependentSchemas entry as its 'required' ({both[0]!r}: "
            '{"required": [...], ...})',
        )
    for name, item in value.items():
        if keyword == "dependentRequired":
            dependencies[name] = _plain(item)
        else:
            dependencies[name] = _convert(item, _json_path(where, name), root)


def _ref(ref: str, where: str, root: Any) -> str:
    """A ``$ref`` as draft-07 reads it: pointers renamed, anything else refused."""
    if ref != "#" and not ref.startswith("#/"):
        raise _refuse(
            "$ref",
            where,
            f"{ref!r} is not a JSON pointer into the schema ('#/...'), and the Glue Schema "
            "Registry resolves nothing else: copy the schema it names into '$defs' and refer "
            "to it as '#/$defs/<name>'",
        )
    return _rewrite_pointer(ref, root, {"$defs": "definitions", "dependentSchemas": "dependencies"})


def _wrap_ref(node: dict[str, Any]) -> dict[str, Any]:
    """A ``$ref`` with siblings, as draft-07 reads it: ``allOf: [{"$ref": ...}]`` plus the rest.

    Draft-07 ignores every keyword next to ``$ref``; draft 2019-09 and 2020-12 apply them.
    """
    ref = node["$ref"]
    wrapped: dict[str, Any] = {}
    for keyword, value in node.items():
        if keyword == "$ref":
            # Last, so that pointers to the allOf branches beside it stay right.
            wrapped["allOf"] = [*node.get("allOf", []), {"$ref": ref}]
        elif keyword != "allOf":
            wrapped[keyword] = value
    return wrapped


def _check_2020_12(schema: Any) -> Mapping[str, Any] | bool:
    """``schema`` (a Contract's, or a JSON Schema), once it is a valid draft 2020-12 schema."""
    if isinstance(schema, Contract):
        return schema.schema
    if not isinstance(schema, (Mapping, bool)):
        raise ValidationError(
            f"schema is a {type(schema).__name__}: to_draft_07 takes a contract "
            "(mk.contracts.get(...)) or a JSON Schema 2020-12 as a dict, e.g. "
            '{"type": "object", "properties": {...}}'
        )
    if isinstance(schema, Mapping) and "$schema" in schema:
        dialect = schema["$schema"]
        if not isinstance(dialect, str) or dialect.rstrip("#") != _DIALECT_2020:
            raise Draft07ConversionError(
                f"$schema is {dialect!r}: to_draft_07 converts a JSON Schema draft 2020-12 "
                f'(meshkit\'s contracts): write "$schema": "{_DIALECT_2020}" or leave it out',
                keyword="$schema",
                path="$.$schema",
            )
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as err:
        raise ValidationError(
            f"schema is not a valid JSON Schema 2020-12 at {err.json_path}: {err.message}; fix "
            "that keyword (https://json-schema.org/draft/2020-12/json-schema-validation)"
        ) from None
    return schema


def to_draft_07(schema: Contract | Mapping[str, Any] | bool) -> dict[str, Any]:
    """A contract's JSON Schema draft 2020-12, rewritten as draft-07 for the Glue Schema Registry.

    The Glue Schema Registry reads JSON Schema draft-04, -06 and -07 (validated with the Everit
    library: https://docs.aws.amazon.com/glue/latest/dg/schema-registry.html); meshkit's
    contracts are draft 2020-12. What changed between them
    (https://json-schema.org/draft/2020-12/release-notes, and 2019-09's before it) is rewritten:

    - ``$schema`` becomes ``http://json-schema.org/draft-07/schema#``;
    - ``$defs`` becomes ``definitions``, and each ``$ref`` pointer into it follows;
    - ``dependentRequired`` and ``dependentSchemas`` become ``dependencies``;
    - a ``$ref`` with other keywords beside it becomes ``allOf: [{"$ref": ...}]`` beside them,
      because draft-07 ignores a ``$ref``'s siblings while 2020-12 applies them.

    What draft-07 cannot say is refused with ``Draft07ConversionError``, naming the keyword, its
    path and the fix: ``prefixItems``, ``unevaluatedProperties``/``unevaluatedItems``,
    ``$dynamicRef``/``$dynamicAnchor`` (and 2019-09's ``$recursive*``), ``minContains``/
    ``maxContains``, ``$anchor``, ``$vocabulary``, a ``$ref`` that is not a pointer into the
    schema, and ``dependencies`` (not a 2020-12 keyword, so the contract ignores it; draft-07
    would apply it).

    Parameters
    ----------
    schema : Contract, Mapping or bool
        A contract, or a JSON Schema draft 2020-12.

    Returns
    -------
    dict
        A new draft-07 schema (the input is not changed). A boolean schema becomes ``{}``
        (true) or ``{"not": {}}`` (false), so that it can carry ``$schema``.

    Raises
    ------
    Draft07ConversionError
        A keyword draft-07 cannot say, or ``$schema`` names another draft.
    meshkit.exceptions.ValidationError
        ``schema`` is not a JSON Schema 2020-12.

    Notes
    -----
    ``format`` is an annotation for meshkit (draft 2020-12's default) but Everit, which Glue's
    serializers validate with, checks the formats it knows (``date-time``, ``email``, ...): an
    event meshkit accepts may then be refused by a Glue serializer.

    Examples
    --------
    >>> import meshkit as mk
    >>> schema = {
    ...     "type": "object",
    ...     "properties": {"money": {"$ref": "#/$defs/money"}},
    ...     "$defs": {"money": {"type": "number", "exclusiveMinimum": 0}},
    ... }
    >>> mk.products.to_draft_07(schema)
    {'$schema': 'http://json-schema.org/draft-07/schema#', 'type': 'object', \
'properties': {'money': {'$ref': '#/definitions/money'}}, \
'definitions': {'money': {'type': 'number', 'exclusiveMinimum': 0}}}
    >>> mk.products.to_draft_07({"type": "array", "prefixItems": [{"type": "string"}]})
    Traceback (most recent call last):
    ...
    meshkit.products.schema_registry.Draft07ConversionError: 'prefixItems' at $.prefixItems \
cannot be written in JSON Schema draft-07, ...
    """
    checked = _check_2020_12(schema)
    if checked is True:
        checked = {}
    elif checked is False:
        checked = {"not": {}}
    assert isinstance(checked, Mapping)
    converted = _convert(checked, "$", checked)
    assert isinstance(converted, dict)
    return converted


# -- draft-07 -> draft 2020-12, to compare stored versions -------------------------------------


def _from_draft_07(node: Any, root: Any, *, top: bool = True) -> Any:
    """A definition meshkit registered, back in draft 2020-12, for ``check_compatibility``.

    The inverse of ``to_draft_07`` up to meaning: ``allOf: [{"$ref": r}]`` becomes ``$ref: r``
    (the same in 2020-12), so that both sides of a comparison take the same shape.
    """
    if not isinstance(node, Mapping):
        return node
    if "$id" in node and not top:
        root = node
    out: dict[str, Any] = {}
    for keyword, value in node.items():
        if top and keyword in ("$schema", CONTRACT_KEYWORD):
            continue
        if keyword in _SCHEMA_MAPS and isinstance(value, Mapping):
            name = "$defs" if keyword == "definitions" else keyword
            out[name] = {k: _from_draft_07(v, root, top=False) for k, v in value.items()}
        elif keyword in _SCHEMA_LISTS and isinstance(value, list):
            out[keyword] = [_from_draft_07(v, root, top=False) for v in value]
        elif keyword in _ONE_SCHEMA:
            out[keyword] = _from_draft_07(value, root, top=False)
        elif keyword == "dependencies" and isinstance(value, Mapping):
            for name, item in value.items():
                if isinstance(item, list):
                    out.setdefault("dependentRequired", {})[name] = item
                else:
                    out.setdefault("dependentSchemas", {})[name] = _from_draft_07(
                        item, root, top=False
                    )
        elif keyword == "$ref" and isinstance(value, str):
            renames = {"definitions": "$defs", "dependencies": "dependentSchemas"}
            out[keyword] = _rewrite_pointer(value, root, renames)
        else:
            out[keyword] = value
    branches = out.get("allOf")
    if isinstance(branches, list) and len(branches) == 1:
        only = branches[0]
        if isinstance(only, Mapping) and set(only) == {"$ref"} and "$ref" not in out:
            out = {("$ref" if k == "allOf" else k): (only["$ref"] if k == "allOf" else v)
                   for k, v in out.items()}  # fmt: skip
    return out


def _normalized(schema: Mapping[str, Any]) -> Any:
    """A draft-07 definition in the draft 2020-12 shape meshkit compares."""
    return _from_draft_07(schema, schema)


# -- names ---------------------------------------------------------------------------------------


def registry_name(domain: str) -> str:
    """The name of a domain's registry of contracts: ``<domain>-contracts``.

    Parameters
    ----------
    domain : str
        A domain, spelled any way ``mk.buses.domain_key`` takes it.

    Returns
    -------
    str
        ``<domain key>-contracts``.

    Raises
    ------
    meshkit.exceptions.ValidationError
        ``domain`` is not a domain name, or is too long for a registry name (255 characters).

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.products.registry_name("CustomerSupport")
    'customer-support-contracts'
    """
    key = domain_key(domain)
    name = f"{key}{_REGISTRY_SUFFIX}"
    if len(name) > 255:
        raise ValidationError(
            f"domain {domain[:20]!r}... makes a registry name of {len(name)} characters; Glue "
            "allows 255 for RegistryName, so a domain may have at most "
            f"{255 - len(_REGISTRY_SUFFIX)}: shorten it"
        )
    return name


def _schema_name(detail_type: Any, field: str = "detail_type") -> str:
    if not isinstance(detail_type, str):
        raise ValidationError(
            f"{field} is a {type(detail_type).__name__}: pass the detail-type as a string, "
            "e.g. 'SaleRecorded'"
        )
    if not _GLUE_NAME.fullmatch(detail_type):
        raise ValidationError(
            f"{field} {detail_type!r:.80} cannot name a Glue schema: SchemaName takes 1 to 255 "
            "letters, digits, '-', '_', '$', '#' or '.' (no spaces): name the detail-type so, "
            "e.g. 'SaleRecorded'"
        )
    return detail_type


def _contract_domain(contract: Contract) -> str:
    """The domain whose registry holds ``contract``: ``sales`` for source ``sales.domain``."""
    if not contract.source.endswith(".domain"):
        raise InvalidContractError(
            f"contract {contract.key} has source {contract.source!r}; register_contract finds "
            "the domain's registry from a source '<domain>.domain', e.g. 'sales.domain': "
            "publish the contract under such a source"
        )
    return domain_key(contract.source.removesuffix(".domain"), field="contract.source's domain")


def _check_version_number(version_number: Any) -> int | None:
    if version_number is None:
        return None
    if isinstance(version_number, bool) or not isinstance(version_number, int):
        raise ValidationError(
            f"version_number is a {type(version_number).__name__}: pass an int, 1 for the "
            "first version (Glue's numbers), or None for the latest"
        )
    if version_number < 1:
        raise ValidationError(
            f"version_number {version_number} is below 1: Glue numbers a schema's versions from "
            "1; pass 1 or more, or None for the latest"
        )
    return int(version_number)


# -- registries ----------------------------------------------------------------------------------


def _tags(glue: Any, arn: str) -> dict[str, str]:
    return dict(glue.get_tags(ResourceArn=arn)["Tags"])


def _get_registry(glue: Any, name: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = glue.get_registry(RegistryId={"RegistryName": name})
    except ClientError as err:
        if error_code(err) != "EntityNotFoundException":
            raise
        return None
    return found


def _owned_registry(glue: Any, domain: str, name: str) -> str | None:
    """The ARN of the domain's registry when meshkit made it; None when there is none."""
    found = _get_registry(glue, name)
    if found is None:
        return None
    arn = str(found["RegistryArn"])
    if found.get("Status") == "DELETING":
        raise RegistryDeletingError(
            f"registry {name!r} is being deleted (Glue deletes a registry and its schemas "
            "asynchronously): wait a minute and try again"
        )
    check_owner(
        _tags(glue, arn),
        what=f"schema registry {name!r}",
        domain=domain,
        fix="delete it or rename it, since meshkit keeps a domain's contracts in "
        "'<domain>-contracts'",
    )
    return arn


def create_schema_registry(domain: str, *, boto3_session: boto3.Session | None = None) -> str:
    """Create the domain's registry of contracts, ``<domain>-contracts``, tagged; idempotent.

    Parameters
    ----------
    domain : str
        The owning domain, e.g. ``"sales"``.
    boto3_session : boto3.Session, optional
        The session to act with (default: the target of ``mk.sandbox.start()``).

    Returns
    -------
    str
        The registry's ARN.

    Raises
    ------
    meshkit.exceptions.ValidationError
        ``domain`` is not a domain name.
    meshkit.exceptions.NotMeshkitResourceError
        A registry of that name exists and meshkit did not create it for this domain.
    RegistryDeletingError
        The registry is being deleted.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.products.create_schema_registry("doctest-registry")
    'arn:aws:glue:us-west-2:123456789012:registry/doctest-registry-contracts'
    >>> mk.products.delete_schema_registry("doctest-registry")
    True
    """
    key = domain_key(domain)
    name = registry_name(key)
    glue = _aws.client("glue", boto3_session)
    arn = _owned_registry(glue, key, name)
    if arn is not None:
        return arn
    tags = tag_map(key)
    try:
        created = glue.create_registry(
            RegistryName=name,
            Description=f"Contracts of the {key} domain's events, as JSON Schema draft-07 "
            "(meshkit)",
            Tags=tags,
        )
    except ClientError as err:
        if error_code(err) != "AlreadyExistsException":
            raise
        arn = _owned_registry(glue, key, name)  # created meanwhile: by meshkit?
        if arn is None:
            raise
        return arn
    arn = str(created["RegistryArn"])
    # moto's CreateRegistry drops its Tags (GetTags answers {}); on AWS this sets them again.
    glue.tag_resource(ResourceArn=arn, TagsToAdd=tags)
    _logger.info("created schema registry %s", name)
    return arn


def delete_schema_registry(domain: str, *, boto3_session: boto3.Session | None = None) -> bool:
    """Delete the domain's registry of contracts, and every schema in it, if meshkit made it.

    Parameters
    ----------
    domain : str
        The owning domain, e.g. ``"sales"``.
    boto3_session : boto3.Session, optional
        The session to act with (default: the target of ``mk.sandbox.start()``).

    Returns
    -------
    bool
        Whether a registry was deleted (False: there was none, or it is being deleted).

    Raises
    ------
    meshkit.exceptions.NotMeshkitResourceError
        The registry exists and meshkit did not create it for this domain; it is left alone.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.products.delete_schema_registry("doctest-nothing-here")
    False
    """
    key = domain_key(domain)
    name = registry_name(key)
    glue = _aws.client("glue", boto3_session)
    try:
        arn = _owned_registry(glue, key, name)
    except RegistryDeletingError:
        return False
    if arn is None:
        return False
    try:
        glue.delete_registry(RegistryId={"RegistryName": name})
    except ClientError as err:
        if error_code(err) != "EntityNotFoundException":
            raise
        return False
    _logger.info("deleted schema registry %s", name)
    return True


# -- schema versions -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaVersion:
    """One version of a contract's schema in the Glue Schema Registry.

    Attributes
    ----------
    schema_arn, schema_name : str
        The Glue schema: one per detail-type, named after it (``SaleRecorded``).
    version_number : int
        Glue's number of the version (1, 2, ...), not the contract's.
    version_id : str
        Glue's ``SchemaVersionId``, what Glue's serializers put in each record.
    contract_version : str or None
        The contract's version (``"1.1"``); None for a version meshkit did not register.
    status : str
        ``AVAILABLE``; on AWS ``FAILURE`` when Glue found it incompatible, ``PENDING`` while
        it checks, ``DELETING``.
    compatibility : str
        The schema's compatibility mode, e.g. ``FULL``.

    Examples
    --------
    >>> import meshkit as mk
    >>> contract = mk.contracts.Contract(
    ...     "doctest-registry.domain", "Ping", "1.0",
    ...     {"type": "object", "properties": {"n": {"type": "integer"}}},
    ... )
    >>> version = mk.products.register_contract(contract)
    >>> version.schema_name, version.version_number, version.contract_version, version.status
    ('Ping', 1, '1.0', 'AVAILABLE')
    >>> mk.products.delete_schema_registry("doctest-registry")
    True
    """

    schema_arn: str
    schema_name: str
    version_number: int
    version_id: str
    contract_version: str | None
    status: str
    compatibility: str


@dataclass(frozen=True)
class _Stored:
    """A version as ``GetSchemaVersion`` returned it, its definition parsed."""

    number: int
    version_id: str
    status: str
    created: str
    definition: Any
    text: str

    @property
    def contract_key(self) -> str | None:
        key = self.definition.get(CONTRACT_KEYWORD) if isinstance(self.definition, dict) else None
        return key if isinstance(key, str) else None

    @property
    def contract_version(self) -> str | None:
        key = self.contract_key
        return key.rsplit("/", 1)[-1] if key and "/" in key else None


def _canonical(definition: Any) -> str:
    """One text per JSON value, so that equal definitions compare equal (True is not 1)."""
    return json.dumps(definition, sort_keys=True, ensure_ascii=False)


def _schema_id(registry: str, schema: str) -> dict[str, str]:
    return {"RegistryName": registry, "SchemaName": schema}


def _get_schema(glue: Any, registry: str, schema: str) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = glue.get_schema(SchemaId=_schema_id(registry, schema))
    except ClientError as err:
        if error_code(err) != "EntityNotFoundException":
            raise
        return None
    return found


def _read_version(glue: Any, **where: Any) -> _Stored | None:
    try:
        got = glue.get_schema_version(**where)
    except ClientError as err:
        if error_code(err) != "EntityNotFoundException":
            raise
        return None  # deleted
    text = str(got.get("SchemaDefinition", ""))
    try:
        definition = json.loads(text)
    except ValueError:
        definition = None
    return _Stored(
        number=int(got["VersionNumber"]),
        version_id=str(got["SchemaVersionId"]),
        status=str(got["Status"]),
        created=str(got.get("CreatedTime", "")),
        definition=definition,
        text=text,
    )


def _read_versions(glue: Any, registry: str, schema: Mapping[str, Any]) -> list[_Stored]:
    """Versions 1 to the latest, by GetSchemaVersion (moto has no ListSchemaVersions)."""
    latest = int(schema.get("LatestSchemaVersion") or 0)
    schema_id = _schema_id(registry, str(schema["SchemaName"]))
    found = [
        _read_version(glue, SchemaId=schema_id, SchemaVersionNumber={"VersionNumber": number})
        for number in range(1, latest + 1)
    ]
    return [version for version in found if version is not None]


def _not_found(domain: str, registry: str, schema: str, what: str = "") -> SchemaNotFoundError:
    return SchemaNotFoundError(
        f"no schema {schema!r}{what} in registry {registry!r} (domain {domain!r}): register "
        f"a contract first, e.g. mk.products.register_contract(mk.contracts.get("
        f"'{domain}.domain', '{schema}'))"
    )


def _await_check(glue: Any, version_id: str, status: str) -> str:
    """The version's status once Glue's compatibility check is done (or the wait is over)."""
    deadline = time.monotonic() + _PENDING_WAIT_S
    while status == "PENDING" and time.monotonic() < deadline:
        time.sleep(_POLL_S)
        status = str(glue.get_schema_version(SchemaVersionId=version_id)["Status"])
    if status == "PENDING":
        _logger.warning(
            "schema version %s is still PENDING after %ss: read it later with "
            "get_schema_version(SchemaVersionId=...)",
            version_id,
            _PENDING_WAIT_S,
        )
    return status


def _record_contract_version(glue: Any, version_id: str, contract_version: str) -> None:
    """The contract version as schema version metadata, for the Glue console and its API."""
    try:
        glue.put_schema_version_metadata(
            SchemaVersionId=version_id,
            MetadataKeyValue={"MetadataKey": METADATA_KEY, "MetadataValue": contract_version},
        )
    except ClientError as err:
        if error_code(err) != "AlreadyExistsException":
            raise


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def _stored_contract(stored: _Stored, contract: Contract) -> Contract | dict[str, Any]:
    """A stored version as the checker reads it: a Contract when meshkit registered it."""
    if not isinstance(stored.definition, dict):
        raise ValueError("its definition is not a JSON object")
    schema = _normalized(stored.definition)
    key = stored.contract_key
    if key is not None and key.count("/") >= 2:
        source, detail_type, version = key.rsplit("/", 2)
        return Contract(source, detail_type, version, schema)
    return dict(schema)


def _compare(
    stored: _Stored, new: Contract, rules: ContractRegistry, registry: str
) -> CompatibilityReport:
    """``check_compatibility`` of a stored version and the new contract, under ``rules``."""
    try:
        old = _stored_contract(stored, new)
        return check_compatibility(old, new, mode=rules.mode, policy=rules.policy)
    except ValueError as err:  # meshkit's ValidationError is a ValueError too
        raise UncomparableSchemaVersionError(
            f"version {stored.number} of Glue schema {registry}/{new.detail_type} is not a "
            f"draft-07 schema meshkit can compare with contract {new.key} ({err}): register "
            "with check=False (Glue checks on AWS) or compatibility='NONE'"
        ) from None


def _with_suffix(mode: str, base: str) -> str:
    return f"{base}_ALL" if mode.endswith("_ALL") else base


def _other_mode(mode: str, failed: list[CompatibilityReport]) -> str | None:
    """A mode that would accept the breaking changes, if one protects anyone."""
    changes: list[SchemaChange] = [c for r in failed for c in r.changes if r.is_breaking(c)]
    if mode == "DISABLED" or any(c.unchecked for c in changes):
        return None
    if mode.startswith(("FORWARD", "FULL")) and not any(c.breaks_new for c in changes):
        return _with_suffix(mode, "BACKWARD")
    if mode.startswith(("BACKWARD", "FULL")) and not any(c.breaks_old for c in changes):
        return _with_suffix(mode, "FORWARD")
    return None


def _refusal(
    contract: Contract, rules: ContractRegistry, registry: str, failed: list[CompatibilityReport]
) -> str:
    mode, schema = rules.mode, contract.detail_type
    if mode == "DISABLED":
        return (
            f"contract {contract.key} cannot be registered: Glue schema {registry}/{schema} has "
            "compatibility DISABLED, which accepts no new version. Nothing was registered. Fix: "
            f"change the schema's mode, glue.update_schema(SchemaId={_schema_id(registry, schema)}"
            ", Compatibility='FULL'), then register with compatibility='FULL'"
        )
    problems = "; ".join(
        f"{report.old} -> {report.new}: "
        + ", ".join(
            f"{c.change} (breaks {c.breaks})" for c in report.changes if report.is_breaking(c)
        )
        for report in failed
    )
    major = int(contract.version.split(".")[0]) + 1
    other = _other_mode(mode, failed) or "NONE"
    how = (
        "add only optional fields, keep existing fields, types and constraints"
        if rules.policy == "lenient"
        else "each change above says whose reading it breaks"
    )
    return (
        f"contract {contract.key} is not {mode}-compatible ({rules.policy} policy) with Glue "
        f"schema {registry}/{schema}: {problems}. Nothing was registered. Fix: keep the change "
        f"compatible ({how}); or publish it as a new major "
        f"version in a schema of its own, e.g. detail-type '{schema}V{major}' version "
        f"'{major}.0' (Glue checks every new version of a schema against the schema's versions, "
        f"whatever their numbers); or use another mode: compatibility={other!r} accepts it "
        "(Glue keeps the mode a schema was created with: change it with glue.update_schema("
        f"SchemaId={_schema_id(registry, schema)}, Compatibility={other!r}))"
    )


def _check(
    contract: Contract,
    rules: ContractRegistry,
    registry: str,
    versions: list[_Stored],
    new_definition: Any,
) -> None:
    """Raise IncompatibleContractError when ``contract`` breaks the registered versions."""
    mode = rules.mode
    available = [v for v in versions if v.status == "AVAILABLE"]
    if mode == "NONE" or not available:
        return
    compared = available if mode.endswith("_ALL") else available[-1:]
    new = Contract(
        contract.source, contract.detail_type, contract.version, _normalized(new_definition)
    )
    reports = [_compare(stored, new, rules, registry) for stored in compared]
    failed = [report for report in reports if not report.is_compatible]
    if failed:
        raise IncompatibleContractError(
            _refusal(contract, rules, registry, failed), reports=tuple(failed)
        )


def _check_order(contract: Contract, registry: str, versions: list[_Stored]) -> None:
    """Refuse a version registered already with another schema, or older than the latest."""
    mine = [v for v in versions if v.status != "FAILURE" and v.contract_version is not None]
    where = f"Glue schema {registry}/{contract.detail_type}"
    for stored in mine:
        if stored.contract_version == contract.version:
            raise ContractVersionConflictError(
                f"contract {contract.key} is registered already in {where} (version "
                f"{stored.number}) with another schema; a published version never changes: "
                "publish the change as a new version, e.g. "
                f"'{contract.version.split('.')[0]}.{int(contract.version.split('.')[1]) + 1}'"
            )
    newest = max(
        (v for v in mine if v.contract_version and re.fullmatch(r"\d+\.\d+", v.contract_version)),
        key=lambda v: _version_key(str(v.contract_version)),
        default=None,
    )
    if newest is not None and _version_key(str(newest.contract_version)) > _version_key(
        contract.version
    ):
        raise ContractVersionConflictError(
            f"contract {contract.key} is older than contract version {newest.contract_version}, "
            f"which {where} holds already (version {newest.number}); Glue checks each new version "
            "against those before it, so versions are registered in order: register a version "
            f"after {newest.contract_version}"
        )


def _glue_version(schema: Mapping[str, Any], stored: _Stored) -> SchemaVersion:
    return SchemaVersion(
        schema_arn=str(schema["SchemaArn"]),
        schema_name=str(schema["SchemaName"]),
        version_number=stored.number,
        version_id=stored.version_id,
        contract_version=stored.contract_version,
        status=stored.status,
        compatibility=str(schema["Compatibility"]),
    )


def _definition(contract: Contract) -> tuple[dict[str, Any], str]:
    """What register_contract sends: the draft-07 schema, stamped with the contract's key."""
    converted = to_draft_07(contract)
    definition = {"$schema": converted.pop("$schema"), CONTRACT_KEYWORD: contract.key}
    definition.update(converted)
    text = json.dumps(definition, ensure_ascii=False)
    if len(text) > _DEFINITION_MAX:
        raise ValidationError(
            f"contract {contract.key}'s schema is {len(text)} characters as draft-07 JSON; Glue's "
            f"SchemaDefinition takes at most {_DEFINITION_MAX}: shorten it (move repeated parts "
            "to $defs and refer to them)"
        )
    return definition, text


def register_contract(
    contract: Contract,
    *,
    compatibility: str = "FULL",
    policy: str = "lenient",
    check: bool = True,
    boto3_session: boto3.Session | None = None,
) -> SchemaVersion:
    """Register a contract version in its domain's registry, refusing one that breaks consumers.

    The schema is the contract's detail-type in the registry of its source's domain (source
    ``sales.domain``: registry ``sales-contracts``, created if missing), with data format
    ``JSON``, the contract's schema as draft-07 (``to_draft_07``), and the contract's key under
    ``x-meshkit-contract``; the contract version is also set as the version's metadata
    ``contract_version``.

    Before sending, meshkit compares the new version with the schema's ``AVAILABLE`` versions
    using ``mk.contracts.check_compatibility`` in ``compatibility`` mode: with the latest for
    ``BACKWARD``, ``FORWARD`` and ``FULL``, with every one for the ``*_ALL`` modes, with none
    for ``NONE``; ``DISABLED`` refuses any new version. Like Glue, meshkit checks a version
    against the schema's versions whatever their numbers: a new major version of a contract is
    a new version of the same schema.

    Parameters
    ----------
    contract : Contract
        The contract version, e.g. ``mk.contracts.get("sales.domain", "SaleRecorded", "1.1")``.
    compatibility : str, default "FULL"
        One of ``mk.contracts.COMPATIBILITY_MODES``, as in ``mk.contracts``: FULL, because a
        mesh's consumers upgrade on their own schedules and its events are replayed. Glue sets
        a schema's mode when it creates the schema; a different mode later is refused.
    policy : {"lenient", "strict"}, default "lenient"
        How ``check_compatibility`` judges properties added to or removed from open objects
        (see there). Glue's own checker is not documented in that detail; users report that it
        refuses an optional property added under FULL, as ``"strict"`` does
        (https://github.com/awslabs/aws-glue-schema-registry/issues/172).
    check : bool, default True
        False skips meshkit's check and lets Glue answer (on AWS; moto accepts anything).
    boto3_session : boto3.Session, optional
        The session to act with (default: the target of ``mk.sandbox.start()``).

    Returns
    -------
    SchemaVersion
        The registered version (the existing one when this contract version, with this schema,
        is registered already). On AWS meshkit waits while Glue checks it (``PENDING``), and
        returns it ``AVAILABLE`` or ``FAILURE``.

    Raises
    ------
    mk.contracts.IncompatibleContractError
        The version breaks consumers under the mode; its message lists the changes and the
        fixes, and ``reports`` holds the comparisons. Nothing was registered.
    Draft07ConversionError
        The contract's schema says what draft-07 cannot; nothing was sent.
    CompatibilityModeConflictError
        The schema exists with another compatibility mode.
    ContractVersionConflictError
        The contract version is registered with another schema, or is older than the latest.
    UncomparableSchemaVersionError
        A registered version is not a schema meshkit can compare (registered by other tools).
    meshkit.exceptions.NotMeshkitResourceError
        The registry or the schema exists and meshkit did not create it.
    mk.contracts.InvalidContractError, meshkit.exceptions.ValidationError
        ``contract`` is not a Contract, its source is not ``<domain>.domain``, its detail-type
        cannot name a Glue schema, or ``compatibility``, ``policy`` or ``check`` is not one
        meshkit takes.

    Examples
    --------
    >>> import meshkit as mk
    >>> schema = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
    >>> v1 = mk.contracts.Contract("doctest-registry.domain", "Ping", "1.0", schema)
    >>> mk.products.register_contract(v1).version_number
    1
    >>> dropped = mk.contracts.Contract(
    ...     "doctest-registry.domain", "Ping", "1.1", {"type": "object"}
    ... )
    >>> mk.products.register_contract(dropped)
    Traceback (most recent call last):
    ...
    meshkit.contracts.IncompatibleContractError: contract doctest-registry.domain/Ping/1.1 is not \
FULL-compatible (lenient policy) with Glue schema doctest-registry-contracts/Ping: ... -> ...: \
removed required data.id (breaks old-schema consumers). Nothing was registered. ...
    >>> mk.products.delete_schema_registry("doctest-registry")
    True
    """
    if not isinstance(contract, Contract):
        raise InvalidContractError(
            f"contract must be a Contract, not a {type(contract).__name__}: pass e.g. "
            "mk.contracts.get('sales.domain', 'SaleRecorded', '1.1'), or wrap a schema with "
            "mk.contracts.Contract(source, detail_type, version, schema)"
        )
    rules = ContractRegistry(mode=compatibility, policy=policy)  # mk.contracts' own checks
    mode = rules.mode
    if not isinstance(check, bool):
        raise ValidationError(
            f"check is {check!r:.40}: pass True (meshkit checks compatibility first) or False "
            "(only Glue checks, on AWS)"
        )
    domain = _contract_domain(contract)
    registry = registry_name(domain)
    schema_name = _schema_name(contract.detail_type, "contract.detail_type")
    definition, text = _definition(contract)

    glue = _aws.client("glue", boto3_session)
    create_schema_registry(domain, boto3_session=boto3_session)
    schema = _get_schema(glue, registry, schema_name)
    if schema is None:
        created = glue.create_schema(
            RegistryId={"RegistryName": registry},
            SchemaName=schema_name,
            DataFormat="JSON",
            Compatibility=mode,
            Description=f"Contract of {contract.source} {contract.detail_type} events (meshkit)",
            SchemaDefinition=text,
            Tags=tag_map(domain),
        )
        version_id = str(created["SchemaVersionId"])
        status = _await_check(glue, version_id, str(created["SchemaVersionStatus"]))
        if status == "AVAILABLE":
            _record_contract_version(glue, version_id, contract.version)
        _logger.info("registered %s as version 1 of %s/%s", contract.key, registry, schema_name)
        first = _Stored(1, version_id, status, "", definition, text)
        return _glue_version(created, first)

    check_owner(
        _tags(glue, str(schema["SchemaArn"])),
        what=f"Glue schema {registry}/{schema_name}",
        domain=domain,
        fix="register the contract under another detail-type, or delete that schema",
    )
    if schema.get("DataFormat") != "JSON":
        raise ConflictError(
            f"Glue schema {registry}/{schema_name} holds {schema.get('DataFormat')} schemas, and "
            "a contract is JSON Schema (Glue never changes a schema's DataFormat): delete that "
            "schema, or register the contract under another detail-type"
        )
    if schema["Compatibility"] != mode:
        raise CompatibilityModeConflictError(
            f"Glue schema {registry}/{schema_name} has compatibility {schema['Compatibility']}, "
            f"set when it was created, and compatibility={mode!r} was asked for: pass "
            f"compatibility={schema['Compatibility']!r}, or change the schema's mode first with "
            f"glue.update_schema(SchemaId={_schema_id(registry, schema_name)}, "
            f"Compatibility={mode!r}) (Glue then checks new versions under {mode})"
        )
    versions = _read_versions(glue, registry, schema)
    canonical = _canonical(definition)
    for stored in versions:
        if stored.definition is not None and _canonical(stored.definition) == canonical:
            return _glue_version(schema, stored)  # registered already: Glue would say the same
    _check_order(contract, registry, versions)
    if check:
        _check(contract, rules, registry, versions, definition)

    registered = glue.register_schema_version(
        SchemaId=_schema_id(registry, schema_name), SchemaDefinition=text
    )
    version_id = str(registered["SchemaVersionId"])
    status = _await_check(glue, version_id, str(registered["Status"]))
    if status == "AVAILABLE":
        _record_contract_version(glue, version_id, contract.version)
    elif status == "FAILURE":
        _logger.warning(
            "Glue refused %s (FAILURE) under %s%s", contract.key, mode,
            "" if not check else ", though meshkit's check accepted it",
        )  # fmt: skip
    number = int(registered.get("VersionNumber") or 0)
    if not number:  # Glue returns the number "for sync flow only"
        read = _read_version(glue, SchemaVersionId=version_id)
        number = read.number if read else 0
    _logger.info(
        "registered %s as version %s of %s/%s", contract.key, number, registry, schema_name
    )
    return _glue_version(schema, _Stored(number, version_id, status, "", definition, text))


def _found_schema(domain: str, detail_type: str, glue: Any) -> tuple[str, dict[str, Any]]:
    key = domain_key(domain)
    registry = registry_name(key)
    name = _schema_name(detail_type)
    schema = _get_schema(glue, registry, name)
    if schema is None:
        raise _not_found(key, registry, name)
    return registry, schema


def list_schema_versions(
    domain: str, detail_type: str, *, boto3_session: boto3.Session | None = None
) -> pd.DataFrame:
    """The versions of a detail-type's schema in the domain's registry, oldest first.

    Read one by one with ``GetSchemaVersion`` (versions 1 to the latest; deleted ones are
    skipped), on every target: moto does not implement ``ListSchemaVersions``.

    Parameters
    ----------
    domain : str
        The owning domain, e.g. ``"sales"``.
    detail_type : str
        The detail-type, which names the schema, e.g. ``"SaleRecorded"``.
    boto3_session : boto3.Session, optional
        The session to act with (default: the target of ``mk.sandbox.start()``).

    Returns
    -------
    pandas.DataFrame
        One row per version: ``version_number`` (Glue's), ``contract_version`` (None for a
        version meshkit did not register), ``status``, ``created`` (UTC timestamp).

    Raises
    ------
    SchemaNotFoundError
        The domain's registry holds no schema of that name.

    Examples
    --------
    >>> import meshkit as mk
    >>> schema = {"type": "object", "properties": {"n": {"type": "integer"}}}
    >>> for version in ("1.0", "1.1"):
    ...     contract = mk.contracts.Contract("doctest-registry.domain", "Ping", version, schema)
    ...     _ = mk.products.register_contract(contract)
    >>> mk.products.list_schema_versions("doctest-registry", "Ping")[
    ...     ["version_number", "contract_version", "status"]]
       version_number contract_version     status
    0               1              1.0  AVAILABLE
    1               2              1.1  AVAILABLE
    >>> mk.products.delete_schema_registry("doctest-registry")
    True
    """
    glue = _aws.client("glue", boto3_session)
    registry, schema = _found_schema(domain, detail_type, glue)
    rows = [
        (v.number, v.contract_version, v.status, v.created)
        for v in _read_versions(glue, registry, schema)
    ]
    frame = pd.DataFrame(rows, columns=["version_number", "contract_version", "status", "created"])
    frame["version_number"] = frame["version_number"].astype("int64")
    frame["created"] = pd.to_datetime(frame["created"], utc=True, format="ISO8601", errors="coerce")
    return frame


def get_schema_definition(
    domain: str,
    detail_type: str,
    version_number: int | None = None,
    *,
    boto3_session: boto3.Session | None = None,
) -> dict[str, Any]:
    """A version's schema definition as stored in Glue (the latest by default).

    Parameters
    ----------
    domain : str
        The owning domain, e.g. ``"sales"``.
    detail_type : str
        The detail-type, which names the schema, e.g. ``"SaleRecorded"``.
    version_number : int, optional
        Glue's version number (1 is the first); None for the latest.
    boto3_session : boto3.Session, optional
        The session to act with (default: the target of ``mk.sandbox.start()``).

    Returns
    -------
    dict
        The draft-07 definition, with ``x-meshkit-contract`` when meshkit registered it.

    Raises
    ------
    SchemaNotFoundError
        No such schema, or no such version of it.
    meshkit.exceptions.ValidationError
        ``version_number`` is not an int of 1 or more.

    Examples
    --------
    >>> import meshkit as mk
    >>> contract = mk.contracts.Contract(
    ...     "doctest-registry.domain", "Ping", "1.0", {"type": "object", "$defs": {"n": {}}}
    ... )
    >>> _ = mk.products.register_contract(contract)
    >>> mk.products.get_schema_definition("doctest-registry", "Ping")
    {'$schema': 'http://json-schema.org/draft-07/schema#', \
'x-meshkit-contract': 'doctest-registry.domain/Ping/1.0', 'type': 'object', \
'definitions': {'n': {}}}
    >>> mk.products.delete_schema_registry("doctest-registry")
    True
    """
    number = _check_version_number(version_number)
    glue = _aws.client("glue", boto3_session)
    registry, schema = _found_schema(domain, detail_type, glue)
    name = str(schema["SchemaName"])
    which = {"LatestVersion": True} if number is None else {"VersionNumber": number}
    stored = _read_version(glue, SchemaId=_schema_id(registry, name), SchemaVersionNumber=which)
    if stored is None:
        latest = schema.get("LatestSchemaVersion")
        raise _not_found(
            domain_key(domain), registry, name, f" version {number} (latest: {latest})"
        )
    if not isinstance(stored.definition, dict):
        raise UncomparableSchemaVersionError(
            f"version {stored.number} of Glue schema {registry}/{name} is not a JSON object: "
            "read it with glue.get_schema_version(...)['SchemaDefinition']"
        )
    return dict(stored.definition)
