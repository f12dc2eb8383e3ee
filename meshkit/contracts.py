"""Data contracts: a JSON Schema per (source, detail-type, version), and how versions may evolve.

A domain's events are its data product's interface. Each kind of event has a contract that says
what its ``data`` holds; producers are checked against it before publishing, and a new version of a
contract is checked against the ones before it so that consumers are not broken by surprise.

The workbook's contracts ship as files named
``meshkit/contract_files/<source>/<DetailType>/<version>.json``;
teams register their own with ``register`` (or keep a ``ContractRegistry`` of their own).

Compatibility follows the modes of the AWS Glue Schema Registry
(https://docs.aws.amazon.com/glue/latest/dg/schema-registry.html#schema-registry-compatibility)
and Confluent Schema Registry
(https://docs.confluent.io/platform/current/schema-registry/fundamentals/schema-evolution.html):
BACKWARD, consumers using the new schema can read data written with the old one; FORWARD,
consumers using the old schema can read data written with the new one; FULL, both. A contract is
stored read-only and validated offline: a ``$ref`` to anything outside the contract is never
fetched.

Data is checked by jsonschema-rs, a compiled validator (about 1 us an event), wherever its
verdict is the same as jsonschema's, the reference implementation; jsonschema checks the rest and
words every violation, so a ``ContractViolation`` reads the same whichever checked first.
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from importlib import resources
from typing import Any

import jsonschema_rs
import pandas as pd
from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from referencing import Registry
from referencing.exceptions import NoSuchResource, Unresolvable

from .exceptions import MeshkitError, ValidationError

__all__ = [
    "COMPATIBILITY_MODES",
    "CompatibilityReport",
    "Contract",
    "ContractConflictError",
    "ContractRegistry",
    "ContractSchemaError",
    "ContractViolation",
    "IncompatibleContractError",
    "InvalidContractError",
    "ReadOnlySchemaError",
    "SchemaChange",
    "UnknownContractError",
    "UnresolvableReferenceError",
    "check_compatibility",
    "default_registry",
    "get",
    "list_contracts",
    "register",
]

_logger = logging.getLogger(__name__)

# Semantic-versioning style: digits only, no leading zeros (so '1.01' cannot shadow '1.1').
_VERSION = re.compile(r"(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)")
_DIALECT = "https://json-schema.org/draft/2020-12/schema"
# A schema nested deeper than this would exhaust Python's stack inside jsonschema.
_MAX_DEPTH = 64

#: The modes of the AWS Glue Schema Registry (Confluent's ``*_TRANSITIVE`` names are accepted too).
COMPATIBILITY_MODES = (
    "NONE",
    "DISABLED",
    "BACKWARD",
    "BACKWARD_ALL",
    "FORWARD",
    "FORWARD_ALL",
    "FULL",
    "FULL_ALL",
)
_POLICIES = ("lenient", "strict")


# -- errors ---------------------------------------------------------------------------------------


class ContractViolation(ValidationError):
    """An event's data breaks its contract; ``field`` is the JSON path of the first problem."""

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field


class UnknownContractError(ValidationError):
    """No contract is registered for an event's (source, detail-type, version)."""


class InvalidContractError(ValidationError):
    """A contract's source, detail-type, version or schema is not usable; nothing was registered."""


class ContractSchemaError(InvalidContractError):
    """A contract's schema is not JSON, not JSON Schema 2020-12, or too deep.

    ``path`` is the JSON path of the problem in the schema, e.g. ``$.properties.amount``.
    """

    def __init__(self, message: str, *, path: str = "$") -> None:
        super().__init__(message)
        self.path = path


class UnresolvableReferenceError(ContractSchemaError):
    """A ``$ref`` points outside the contract (meshkit never fetches it) or to nothing in it."""

    def __init__(self, message: str, *, ref: str) -> None:
        super().__init__(message)
        self.ref = ref


class ContractConflictError(ValidationError):
    """A version is registered already with another schema; a published version never changes."""


class IncompatibleContractError(ValidationError):
    """A new version breaks consumers under the registry's compatibility mode.

    ``reports`` holds the ``CompatibilityReport`` of each failed comparison.
    """

    def __init__(self, message: str, *, reports: tuple[CompatibilityReport, ...]) -> None:
        super().__init__(message)
        self.reports = reports


class ReadOnlySchemaError(MeshkitError, TypeError):
    """Someone tried to change a contract's schema in place; contracts are read-only."""


# -- read-only JSON ------------------------------------------------------------------------------

_READ_ONLY = (
    "a contract's schema is read-only, so that what a registry holds cannot change behind its "
    "back: edit a copy, copy.deepcopy(contract.schema), and register it as a new version"
)


def _refuse_change(self: Any, *args: Any, **kwargs: Any) -> Any:
    raise ReadOnlySchemaError(_READ_ONLY)


class _FrozenDict(dict[str, Any]):
    """A JSON object that refuses changes; ``copy.deepcopy`` gives an editable plain copy.

    A ``dict`` subclass, so ``json.dumps``, ``dict(...)`` and ``==`` work as on the original.
    """

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse_change
    clear = pop = popitem = setdefault = update = _refuse_change

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return _thaw(self)

    def __reduce__(self) -> tuple[type[_FrozenDict], tuple[dict[str, Any]]]:
        return (_FrozenDict, (dict(self),))


class _FrozenList(list[Any]):
    """A JSON array that refuses changes; ``copy.deepcopy`` gives an editable plain copy."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse_change
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse_change

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return _thaw(self)

    def __reduce__(self) -> tuple[type[_FrozenList], tuple[list[Any]]]:
        return (_FrozenList, (list(self),))


def _thaw(value: Any) -> Any:
    """A plain, editable deep copy of a (frozen) JSON value."""
    if isinstance(value, Mapping):
        return {key: _thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_thaw(item) for item in value]
    return value


def _json_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"


def _too_long(value: Any) -> int | None:
    """The digits of an integer too long for Python to write as text (so as JSON), else None."""
    limit = sys.get_int_max_str_digits()
    # 3 bits per digit is fewer than log2(10): such an integer has fewer than `limit` digits.
    if not isinstance(value, int) or not limit or value.bit_length() <= 3 * limit:
        return None
    try:
        str(value)
    except ValueError:
        return int(math.log10(abs(value))) + 1
    return None


def _too_long_text(digits: int) -> str:
    return (
        f"an integer of {digits} digits, more than Python writes as text "
        f"({sys.get_int_max_str_digits()} digits, sys.get_int_max_str_digits()), so it cannot "
        "be written as JSON"
    )


def _freeze(value: Any, path: str, depth: int, inside: tuple[int, ...], label: str) -> Any:
    """A read-only deep copy of ``value``, refusing anything that is not JSON."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        if digits := _too_long(value):
            raise ContractSchemaError(
                f"{label}: {path} is {_too_long_text(digits)}: use a smaller number (a float "
                "such as 1e300 for a bound) or leave the keyword out",
                path=path,
            )
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ContractSchemaError(
                f"{label}: {path} is {value}, which JSON cannot hold: use a finite number",
                path=path,
            )
        return value
    if depth >= _MAX_DEPTH:
        raise ContractSchemaError(
            f"{label}: {path} nests deeper than {_MAX_DEPTH} levels, more than meshkit can "
            'check: flatten it, or move repeated parts to "$defs" and use "$ref"',
            path=path,
        )
    if id(value) in inside:
        raise ContractSchemaError(
            f"{label}: {path} contains itself, which JSON cannot: for a recursive structure "
            'write {"$ref": "#"} (or "#/$defs/<name>") where it repeats',
            path=path,
        )
    inside = (*inside, id(value))
    if isinstance(value, Mapping):
        frozen = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ContractSchemaError(
                    f"{label}: key {key!r} at {path} is a {type(key).__name__}; JSON object "
                    f"keys are strings: write {str(key)!r}",
                    path=path,
                )
            where = _json_path(path, key)
            frozen[key] = _freeze(item, where, depth + 1, inside, label)
        return _FrozenDict(frozen)
    if isinstance(value, (list, tuple)):
        return _FrozenList(
            _freeze(item, _json_path(path, i), depth + 1, inside, label)
            for i, item in enumerate(value)
        )
    raise ContractSchemaError(
        f"{label}: {path} holds a {type(value).__name__}; a schema is JSON (dict, list, str, "
        "int, float, bool, None): convert it, e.g. a set to a sorted list",
        path=path,
    )


def _checked_schema(schema: Any, label: str) -> Any:
    """``schema`` as a read-only copy, once it is known to be a JSON Schema 2020-12."""
    if not isinstance(schema, (Mapping, bool)):
        raise ContractSchemaError(
            f"{label}: the schema is a {type(schema).__name__}; a JSON Schema is a dict (or "
            'True/False): pass e.g. {"type": "object", "properties": {...}}',
        )
    frozen = _freeze(schema, "$", 0, (), label)
    if isinstance(frozen, Mapping) and "$schema" in frozen:
        dialect = frozen["$schema"]
        if not isinstance(dialect, str) or dialect.rstrip("#") != _DIALECT:
            raise ContractSchemaError(
                f"{label}: $schema is {dialect!r}, but meshkit checks contracts as JSON Schema "
                f'draft 2020-12: write "$schema": "{_DIALECT}" or leave it out (and use '
                "$defs, not definitions; prefixItems, not an items array)",
                path="$.$schema",
            )
    try:
        Draft202012Validator.check_schema(frozen)
    except SchemaError as err:
        where = err.json_path
        raise ContractSchemaError(
            f"{label}: the schema is not a valid JSON Schema at {where}: {err.message}; fix "
            "that keyword (https://json-schema.org/draft/2020-12/json-schema-validation)",
            path=where,
        ) from None
    return frozen


def _json_key(value: Any) -> Any:
    """A hashable key under which two JSON values are equal exactly when JSON Schema says so.

    Python's ``True == 1`` and ``1 == 1.0``: JSON Schema keeps booleans apart from numbers, and
    counts 1 and 1.0 as the same number.
    """
    if isinstance(value, bool) or value is None or value is _NOTHING:
        return ("literal", value)
    if isinstance(value, (int, float)):
        return ("number", value)
    if isinstance(value, str):
        return ("string", value)
    if isinstance(value, Mapping):
        return ("object", frozenset((key, _json_key(item)) for key, item in value.items()))
    return ("array", tuple(_json_key(item) for item in value))


def _same(a: Any, b: Any) -> bool:
    return bool(_json_key(a) == _json_key(b))


# -- offline references --------------------------------------------------------------------------


def _refuse_retrieval(uri: str) -> Any:
    """``referencing`` calls this for a ``$ref`` outside the schema: never fetch it."""
    # referencing's exceptions are attrs classes; its type hints do not show the attrs __init__.
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


# jsonschema adds the JSON Schema meta-schemas to this registry itself, without fetching them.
_OFFLINE = Registry(retrieve=_refuse_retrieval)  # type: ignore[call-arg]
_REF_KEYWORDS = ("$ref", "$dynamicRef")


def _refs(schema: Any) -> list[Any]:
    """The values of every ``$ref`` and ``$dynamicRef`` in ``schema``."""
    if isinstance(schema, Mapping):
        found = [schema[k] for k in _REF_KEYWORDS if k in schema]
        return found + [ref for value in schema.values() for ref in _refs(value)]
    if isinstance(schema, list):
        return [ref for value in schema for ref in _refs(value)]
    return []


def _has_ref(schema: Any) -> bool:
    if isinstance(schema, Mapping):
        return any(k in schema for k in _REF_KEYWORDS) or any(map(_has_ref, schema.values()))
    if isinstance(schema, list):
        return any(map(_has_ref, schema))
    return False


# -- contracts -----------------------------------------------------------------------------------


def _check_name(value: Any, name: str, example: str) -> None:
    if not isinstance(value, str) or not value.strip() or value != value.strip():
        raise InvalidContractError(
            f"contract {name} {value!r} must be a non-empty string without surrounding "
            f"spaces, e.g. {example!r}"
        )


def _check_version(version: Any, what: str = "contract version") -> None:
    if isinstance(version, float):
        raise InvalidContractError(
            f"{what} {version!r} is a float: write it as a string, '{version!r}' (a float "
            "cannot tell '1.10' from '1.1')"
        )
    if not isinstance(version, str):
        raise InvalidContractError(
            f"{what} {version!r} is a {type(version).__name__}: write it as a string "
            "'MAJOR.MINOR', e.g. '1.0'"
        )
    if not _VERSION.fullmatch(version):
        raise InvalidContractError(
            f"{what} {version!r} must be MAJOR.MINOR, e.g. '1.0' or '1.1' (digits without "
            "leading zeros, no 'v')"
        )


@dataclass(frozen=True)
class Contract:
    """The JSON Schema that one version of one kind of event must satisfy.

    Attributes
    ----------
    source, detail_type : str
        The kind of event, e.g. ``"sales.domain"`` and ``"SaleRecorded"``.
    version : str
        ``"MAJOR.MINOR"``: a minor version must be compatible with the earlier minors of its
        major (see ``ContractRegistry``); a new major starts a new line and may break.
    schema : Mapping or bool
        A JSON Schema (draft 2020-12) for the event's ``data``. The contract keeps a read-only
        deep copy: changing it in place raises ``ReadOnlySchemaError``, and
        ``copy.deepcopy(contract.schema)`` gives an editable copy for the next version.
        ``$ref`` may point inside the schema (``"#"``, ``"#/$defs/..."``); anything else is
        never fetched, and ``validate`` raises ``UnresolvableReferenceError`` when it meets it.

    Examples
    --------
    >>> import meshkit as mk
    >>> contract = mk.contracts.Contract(
    ...     "marketing.domain", "CampaignLaunched", "1.0",
    ...     {"type": "object", "required": ["campaign_id"],
    ...      "properties": {"campaign_id": {"type": "string"}}},
    ... )
    >>> contract.key
    'marketing.domain/CampaignLaunched/1.0'
    """

    source: str
    detail_type: str
    version: str
    schema: Mapping[str, Any] | bool = field(repr=False, hash=False)
    # Built from the schema in __post_init__: jsonschema (the reference, and the wording of
    # errors), its per-property fast check, and the compiled check (None where it cannot serve).
    _validator: Draft202012Validator = field(init=False, repr=False, compare=False)
    _is_valid: Callable[[Any], bool] = field(init=False, repr=False, compare=False)
    _compiled: Callable[[Any], bool] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        _check_name(self.source, "source", "sales.domain")
        _check_name(self.detail_type, "detail_type", "SaleRecorded")
        _check_version(self.version)
        frozen = _checked_schema(self.schema, f"contract {self.key}")
        object.__setattr__(self, "schema", frozen)
        plain = _thaw(frozen)
        # Annotations never change validity; leaving them out makes each check ~15% faster.
        # With a $ref they stay, since a JSON pointer may lead through them.
        lean = plain if _has_ref(plain) else _without_annotations(plain)
        object.__setattr__(self, "_validator", Draft202012Validator(lean, registry=_OFFLINE))
        object.__setattr__(self, "_is_valid", _fast_is_valid(lean))
        object.__setattr__(self, "_compiled", _compiled_is_valid(plain))

    def __reduce__(self) -> tuple[type[Contract], tuple[str, str, str, Any]]:
        # Copies and pickles are rebuilt (and re-checked) from a plain copy of the schema.
        return (Contract, (self.source, self.detail_type, self.version, _thaw(self.schema)))

    @property
    def key(self) -> str:
        """``source/DetailType/version``, the contract's name in registries and messages."""
        return f"{self.source}/{self.detail_type}/{self.version}"

    def validate(self, data: Any) -> None:
        """Raise ``ContractViolation``, naming the first failing field, if ``data`` breaks it.

        Raises ``UnresolvableReferenceError`` when the data leads to a ``$ref`` that is not in
        the contract: meshkit makes no network request for it.

        Examples
        --------
        >>> import meshkit as mk
        >>> contract = mk.contracts.get("sales.domain", "SaleRecorded", "1.0")
        >>> contract.validate({"sale_id": "S-1", "amount": 12.5, "timestamp": "2026-01-29"})
        """
        # The compiled check decides what it may (valid: done); jsonschema decides the rest,
        # and words the error, so that a violation reads the same whichever checked first.
        compiled = self._compiled
        verdict = compiled(data) if compiled is not None and _plain_json(data) else None
        if verdict:
            return
        try:
            if verdict is None and self._is_valid(data):  # errors only for bad data
                return
            error = min(
                self._validator.iter_errors(data),
                key=lambda e: (len(e.path), str(list(e.path))),
                default=None,
            )
        except Unresolvable as err:
            ref = str(getattr(err, "ref", err))
            if getattr(err, "resource", None) is not None:  # a JSON pointer inside the contract
                ref = f"#{ref}"
            raise UnresolvableReferenceError(
                f"contract {self.key} has a $ref to {ref!r}, which is not in the contract; "
                "meshkit never fetches schemas from elsewhere: copy the referenced schema into "
                'the contract\'s "$defs" and refer to it as "#/$defs/<name>"',
                ref=ref,
            ) from None
        except RecursionError:
            raise ContractViolation(
                f"data: nests too deeply to be checked against contract {self.key}; flatten "
                "the event's data",
                field="data",
            ) from None
        except ValueError:
            # jsonschema writes the failing value into its message, and Python refuses to
            # write an integer that long.
            found = _first(data, _too_long)
            digits = None if found is None else _too_long(found[1])
            if found is None or digits is None:
                raise
            path = found[0]
            raise ContractViolation(
                f"{path} is {_too_long_text(digits)} (contract {self.key}): use a "
                "smaller number, or send it as a string",
                field=path,
            ) from None
        except OverflowError:
            # jsonschema divides by a float multipleOf, and this integer has no float.
            found = _first(data, _beyond_float)
            if found is None:
                raise
            path = found[0]
            raise ContractViolation(
                f"{path} is an integer beyond a float's range (+-{sys.float_info.max:.4g}), "
                f"which contract {self.key}'s multipleOf cannot be checked on: use a smaller "
                "number, or send it as a string",
                field=path,
            ) from None
        if error is None:  # a fast check and jsonschema disagree: jsonschema decides
            if verdict is None:  # the compiled check may: see _compiled_is_valid
                _logger.warning("fast check rejected data that %s accepts", self.key)
            return
        path = "data" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
        missing = re.match(r"'(.+)' is a required property", error.message)
        if missing:
            path = f"{path}.{missing[1]}"
        raise ContractViolation(
            f"{path}: {error.message} (contract {self.key}); fix the event's data, or publish "
            "it under a contract version that allows this",
            field=path,
        )


# -- the compiled check --------------------------------------------------------------------------

# jsonschema-rs ("jsonschema_rs") checks a typical event in about 1 us, against 35 us for
# jsonschema. It serves only where its verdict is jsonschema's (tests/test_contracts.py
# compares them on generated schemas and data): for plain JSON data (see _plain_json), with
# jsonschema's own rules for "pattern" (Python's re, not Rust's regex) and "multipleOf"
# (float division), formats as annotations, and no network. A "false" sends the data to
# jsonschema, which words the error, or accepts it where the two differ.
_RS_OPTIONS: dict[str, Any] = {"validate_formats": False, "offline": True}
# patternProperties matches keys with Rust's regex, which differs from Python's re (Python's $
# also matches before a final newline; \d, \s, \w are wider): jsonschema keeps those schemas.
_NOT_COMPILED = frozenset({"patternProperties"})
# Ints beyond a float's range and data nested deeper than this go to jsonschema, as today:
# jsonschema-rs mishandles ints of more than ~4,300 digits, and its recursion has no limit.
_PLAIN_INT_BITS = 1023
_PLAIN_DEPTH = _MAX_DEPTH


class _Pattern:
    """``pattern`` as jsonschema checks it: ``re.search`` on strings."""

    def __init__(self, parent: Mapping[str, Any], value: str, path: list[str | int]) -> None:
        self.search = re.compile(value).search

    def validate(self, instance: Any) -> None:
        if isinstance(instance, str) and not self.search(instance):
            raise ValueError(f"{instance!r} does not match")


class _MultipleOf:
    """``multipleOf`` as jsonschema checks it (by float division for a float ``multipleOf``)."""

    def __init__(self, parent: Mapping[str, Any], value: float, path: list[str | int]) -> None:
        self.is_valid = Draft202012Validator({"multipleOf": value}).is_valid

    def validate(self, instance: Any) -> None:
        if not self.is_valid(instance):
            raise ValueError(f"{instance!r} is not a multiple")


_KEYWORDS: dict[str, type[jsonschema_rs.KeywordValidator]] = {
    "pattern": _Pattern,
    "multipleOf": _MultipleOf,
}


def _compiled_is_valid(schema: Any) -> Callable[[Any], bool] | None:
    """jsonschema-rs's ``is_valid`` for ``schema``, or None where jsonschema must judge.

    None for a schema that uses a keyword of ``_NOT_COMPILED``, and for one jsonschema-rs
    cannot compile: a ``$ref`` outside the schema (never fetched: ``offline``), a regex Rust
    does not take. jsonschema then checks that contract, as it did before jsonschema-rs.
    """
    if _uses(schema, _NOT_COMPILED):
        return None
    try:
        validator = jsonschema_rs.Draft202012Validator(schema, keywords=_KEYWORDS, **_RS_OPTIONS)
    except Exception as err:  # its errors vary (ValidationError, ReferencingError, ValueError)
        _logger.debug("jsonschema checks this contract: jsonschema-rs refused it (%s)", err)
        return None
    check = validator.is_valid

    def is_valid(data: Any) -> bool:
        try:
            return check(data)
        except Exception:  # data it cannot convert (a lone surrogate, an int key): jsonschema
            return False

    return is_valid


def _uses(schema: Any, keywords: frozenset[str]) -> bool:
    """Whether any object in ``schema`` has one of ``keywords`` (property names count too)."""
    if isinstance(schema, Mapping):
        return not keywords.isdisjoint(schema) or any(_uses(v, keywords) for v in schema.values())
    if isinstance(schema, list):
        return any(_uses(v, keywords) for v in schema)
    return False


def _plain_json(data: Any) -> bool:
    """Whether the compiled check judges ``data`` as jsonschema does.

    Plain JSON: dicts, lists, str, bool, None, finite floats and ints within a float's range,
    nested at most ``_PLAIN_DEPTH`` levels. Anything else (a tuple, which jsonschema does not
    take for an array; a subclass; a Decimal; NaN) is for jsonschema. Iterative, and about 1 us
    for a typical event.
    """
    pending: list[tuple[Iterable[Any], int]] = [((data,), 0)]
    while pending:
        values, depth = pending.pop()
        for value in values:
            kind = type(value)
            if kind is str or kind is bool or value is None:
                continue
            if kind is int:
                if value.bit_length() > _PLAIN_INT_BITS:
                    return False
            elif kind is float:
                if value - value:  # NaN and infinities
                    return False
            elif kind is dict:
                if depth >= _PLAIN_DEPTH:
                    return False
                pending.append((value.values(), depth + 1))
            elif kind is list:
                if depth >= _PLAIN_DEPTH:
                    return False
                pending.append((value, depth + 1))
            else:
                return False
    return True


def _beyond_float(value: Any) -> bool:
    return (
        isinstance(value, int) and not isinstance(value, bool) and (abs(value) > sys.float_info.max)
    )


def _first(data: Any, test: Callable[[Any], Any]) -> tuple[str, Any] | None:
    """The path (``data.x[1]``) and value of the first value in ``data`` passing ``test``."""
    pending = [("data", data)]  # a stack, not recursion: data may nest deeply
    while pending:
        path, value = pending.pop()
        if test(value):
            return path, value
        if isinstance(value, Mapping):
            items = [(f"{path}.{key}", item) for key, item in value.items()]
        elif isinstance(value, (list, tuple)):
            items = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
        else:
            continue
        pending += reversed(items)
    return None


_ANNOTATIONS = frozenset(
    {"$schema", "$comment", "title", "description", "examples", "default", "deprecated"}
)
_SUBSCHEMA_MAPS = frozenset({"properties", "patternProperties", "$defs", "dependentSchemas"})
_SUBSCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf", "prefixItems"})
_SUBSCHEMAS = frozenset(
    {"items", "additionalProperties", "not", "if", "then", "else", "contains", "propertyNames",
     "unevaluatedItems", "unevaluatedProperties"}
)  # fmt: skip


def _without_annotations(schema: Any) -> Any:
    """``schema`` without annotation keywords; data (``enum``, ``const``) and names are kept."""
    if not isinstance(schema, Mapping):
        return schema
    stripped: dict[str, Any] = {}
    for keyword, value in schema.items():
        if keyword in _ANNOTATIONS:
            continue
        if keyword in _SUBSCHEMA_MAPS and isinstance(value, Mapping):
            value = {name: _without_annotations(sub) for name, sub in value.items()}
        elif keyword in _SUBSCHEMA_LISTS and isinstance(value, list):
            value = [_without_annotations(sub) for sub in value]
        elif keyword in _SUBSCHEMAS:
            value = _without_annotations(value)
        stripped[keyword] = value
    return stripped


_SPLITTABLE = frozenset({"type", "required", "properties", "minProperties", "maxProperties"})


def _fast_is_valid(schema: Any) -> Callable[[Any], bool]:
    """``is_valid`` for ``schema``, about twice as fast for the usual contract shape.

    For an object schema made only of ``type``, ``required``, ``properties`` and property
    counts, JSON Schema's meaning is exactly: the object passes the top-level keywords, and each
    property present passes its own subschema. Checking each property with its own validator
    skips jsonschema's per-property bookkeeping. A ``$ref`` is resolved against the whole
    schema, so a schema with one (and any other shape, boolean schemas included) uses the
    plain validator.
    """
    whole = Draft202012Validator(schema, registry=_OFFLINE).is_valid
    if (
        not isinstance(schema, Mapping)
        or schema.get("type") != "object"
        or not schema.keys() <= _SPLITTABLE
        or _has_ref(schema)
    ):
        return whole
    top = Draft202012Validator(
        {k: v for k, v in schema.items() if k != "properties"}, registry=_OFFLINE
    ).is_valid
    fields = [
        (name, Draft202012Validator(sub, registry=_OFFLINE).is_valid)
        for name, sub in schema.get("properties", {}).items()
    ]

    def is_valid(data: Any) -> bool:
        if not isinstance(data, Mapping) or not top(data):
            return False
        return all(check(data[name]) for name, check in fields if name in data)

    return is_valid


# -- compatibility -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SchemaChange:
    """One difference between two versions, and which consumers it breaks.

    Attributes
    ----------
    change : str
        What changed, e.g. ``"removed required data.amount"``.
    breaks_old : bool
        Consumers using the OLD schema may reject data written with the new one (FORWARD).
    breaks_new : bool
        Consumers using the NEW schema may reject data written with the old one (BACKWARD),
        events replayed from an archive included.
    unchecked : bool
        meshkit does not compare this keyword, so it cannot say; counted as breaking.

    Examples
    --------
    >>> import meshkit as mk
    >>> change = mk.contracts.SchemaChange("removed required data.amount", breaks_old=True)
    >>> change.breaks
    'old-schema consumers'
    """

    change: str
    breaks_old: bool = False
    breaks_new: bool = False
    unchecked: bool = False

    @property
    def breaks(self) -> str:
        """Who may break: old-schema consumers, new-schema consumers, both, or none."""
        if self.unchecked:
            return "unknown (not compared)"
        if self.breaks_old and self.breaks_new:
            return "old- and new-schema consumers"
        if self.breaks_old:
            return "old-schema consumers"
        return "new-schema consumers" if self.breaks_new else "none"


def _base_mode(mode: str) -> str:
    return mode[: -len("_ALL")] if mode.endswith("_ALL") else mode


@dataclass(frozen=True)
class CompatibilityReport:
    """What changed between two versions of a contract, and whether consumers survive it.

    ``breaking`` and ``compatible`` are judged under ``mode``; every row of ``changes`` says
    which consumers it breaks whatever the mode.

    Examples
    --------
    >>> import meshkit as mk
    >>> old = {"type": "object", "properties": {"n": {"type": "integer"}}}
    >>> report = mk.contracts.check_compatibility(old, {"type": "object"}, mode="FULL")
    >>> report.is_compatible, report.changes[0].change
    (True, 'removed data.n')
    """

    old: str
    new: str
    mode: str
    changes: tuple[SchemaChange, ...]
    policy: str = "lenient"

    def is_breaking(self, change: SchemaChange) -> bool:
        """Whether ``change`` breaks the consumers that ``mode`` protects.

        Examples
        --------
        >>> import meshkit as mk
        >>> old = {"type": "object", "required": ["id"], "properties": {"id": {}}}
        >>> report = mk.contracts.check_compatibility(old, {"type": "object"}, mode="BACKWARD")
        >>> [(c.change, report.is_breaking(c), c.breaks) for c in report.changes]
        [('removed required data.id', False, 'old-schema consumers')]
        """
        base = _base_mode(self.mode)
        if base in ("NONE", "DISABLED"):
            return base == "DISABLED"
        if change.unchecked:
            return True
        return (change.breaks_new and base in ("BACKWARD", "FULL")) or (
            change.breaks_old and base in ("FORWARD", "FULL")
        )

    @property
    def breaking(self) -> tuple[str, ...]:
        """The changes that break a consumer protected by ``mode`` (unchecked ones included)."""
        return tuple(c.change for c in self.changes if self.is_breaking(c))

    @property
    def compatible(self) -> tuple[str, ...]:
        """The changes that break no consumer protected by ``mode``."""
        return tuple(c.change for c in self.changes if not self.is_breaking(c))

    @property
    def unchecked(self) -> tuple[str, ...]:
        """The keywords meshkit did not compare (each makes the result not compatible)."""
        return tuple(c.change for c in self.changes if c.unchecked)

    @property
    def is_compatible(self) -> bool:
        """True when no change breaks the consumers that ``mode`` protects.

        Always False under ``DISABLED``, always True under ``NONE``.
        """
        if _base_mode(self.mode) == "DISABLED":
            return False
        return not self.breaking

    def to_frame(self) -> pd.DataFrame:
        """One row per change: ``change``, ``breaking`` (under ``mode``), ``breaks`` (whom).

        Examples
        --------
        >>> import meshkit as mk
        >>> old = {"type": "object", "properties": {"n": {"type": "integer"}}}
        >>> new = {"type": "object", "properties": {"n": {"type": "number"}}}
        >>> mk.contracts.check_compatibility(old, new).to_frame().breaks.tolist()
        ['old-schema consumers']
        """
        rows = [(c.change, self.is_breaking(c), c.breaks) for c in self.changes]
        return pd.DataFrame(rows, columns=["change", "breaking", "breaks"])


def _check_mode(mode: Any) -> str:
    if isinstance(mode, str):
        name = mode.strip().upper().replace("_TRANSITIVE", "_ALL")
        if name in COMPATIBILITY_MODES:
            return name
    raise ValidationError(
        f"compatibility mode {mode!r} is not one of {', '.join(COMPATIBILITY_MODES)} (the Glue "
        "Schema Registry's; Confluent's *_TRANSITIVE names work too): pass e.g. mode='FULL'"
    )


def _check_policy(policy: Any) -> str:
    if not isinstance(policy, str) or policy not in _POLICIES:
        raise ValidationError(
            f"compatibility policy {policy!r} is not 'lenient' or 'strict': pass "
            "policy='lenient' (producers write only declared properties) or policy='strict' "
            "(Confluent's default, strict rules for open content models)"
        )
    return policy


def check_compatibility(
    old: Contract | Mapping[str, Any] | bool,
    new: Contract | Mapping[str, Any] | bool,
    *,
    mode: str = "FULL",
    policy: str = "lenient",
) -> CompatibilityReport:
    """Compare two versions of a contract and say which consumers each change breaks.

    Modes, as the AWS Glue Schema Registry and Confluent define them: ``BACKWARD``, consumers
    using the new schema can read data written with the old one (events already published,
    replayed from an archive, or sent by producers not yet upgraded); ``FORWARD``, consumers
    using the old schema can read data written with the new one (consumers upgrade after the
    producer); ``FULL``, both; ``NONE``, anything goes; ``DISABLED``, no new version at all. The
    ``*_ALL`` variants mean the same for two schemas; a ``ContractRegistry`` checks them against
    every earlier version. The default, ``FULL``, is what a mesh needs: its consumers upgrade on
    their own schedules and its events are replayed, so a change must break neither side.

    Compared, recursively through nested objects, array ``items`` and local ``$ref`` (with the
    keywords beside a ``$ref`` applied too, as draft 2020-12 does; where they cannot be combined
    into one schema, the ``$ref`` is unchecked): ``type``
    (``["string", "null"]`` and ``anyOf``/``oneOf`` unions of different types included),
    properties added and removed, ``required``, ``additionalProperties``, ``enum`` and
    ``const`` (a value removed breaks new-schema consumers, a value added breaks old-schema
    consumers), ``minimum``/``maximum`` (exclusive too), ``multipleOf``,
    ``minLength``/``maxLength``, ``pattern``, ``format``, ``minItems``/``maxItems``,
    ``uniqueItems`` and ``minProperties``/``maxProperties``. Integer bounds and ``multipleOf``
    are compared by the integers they allow (``minimum: 0.5`` and ``minimum: 1`` are the same,
    as are ``integer`` and ``number`` with ``multipleOf: 1``). Annotations (``title``,
    ``description``, ``default``, ...) never change validity and are skipped. Any other keyword
    that differs between the versions (``allOf``, ``not``, ``if``, ``patternProperties``, a
    remote ``$ref``, a ``$ref`` to an anchor, ``$dynamicRef``, ...) is reported as unchecked,
    and an unchecked change is breaking.

    Open content models (``additionalProperties`` absent or true) are judged by default as the
    lenient rule set of Confluent's JSON Schema checker does (``policy="lenient"``, the
    robustness principle): producers write only the properties their schema declares, and
    consumers ignore the ones they do not know. So adding or removing an optional property is
    compatible both ways. meshkit's validation does not enforce that premise: under
    an open 1.0, a producer may already have sent a ``currency`` that 1.1 then constrains.
    ``policy="strict"`` follows Confluent's default rules instead: a property added to an open
    model breaks new-schema consumers (old data may hold it, with any value), one removed from
    an open model breaks old-schema consumers, and closing or opening a model breaks one side.

    Parameters
    ----------
    old, new : Contract, Mapping or bool
        The two versions, as contracts or JSON Schemas.
    mode : str, default "FULL"
        One of ``COMPATIBILITY_MODES``; Confluent's ``*_TRANSITIVE`` names are accepted.
    policy : {"lenient", "strict"}, default "lenient"
        How undeclared properties of open objects are treated (see above).

    Returns
    -------
    CompatibilityReport
        ``is_compatible``, ``breaking``, ``compatible``, ``unchecked``, and ``to_frame()`` with
        one row per change saying which consumers it breaks.

    Examples
    --------
    >>> import meshkit as mk
    >>> old = mk.contracts.get("sales.domain", "SaleRecorded", "1.0")
    >>> new = mk.contracts.get("sales.domain", "SaleRecorded", "1.1")
    >>> mk.contracts.check_compatibility(old, new).is_compatible
    True
    >>> dropped = {"type": "object", "properties": {"sale_id": {"type": "string"}}}
    >>> report = mk.contracts.check_compatibility(old, dropped)
    >>> report.breaking[0]
    'removed required data.amount'
    >>> mk.contracts.check_compatibility(old, dropped, mode="BACKWARD").is_compatible
    True
    """
    mode, policy = _check_mode(mode), _check_policy(policy)
    old_schema = old.schema if isinstance(old, Contract) else _checked_schema(old, "old schema")
    new_schema = new.schema if isinstance(new, Contract) else _checked_schema(new, "new schema")
    differ = _Differ(old_schema, new_schema, strict=policy == "strict", in_progress=set())
    if _base_mode(mode) == "DISABLED":
        differ.add("mode DISABLED accepts no new version", old=True, new=True)
    if not _same(old_schema, new_schema):  # with every $ref target equal too
        differ.diff("data", old_schema, new_schema)
    return CompatibilityReport(
        old=old.key if isinstance(old, Contract) else "old",
        new=new.key if isinstance(new, Contract) else "new",
        mode=mode,
        changes=differ.changes(),
        policy=policy,
    )


# Keywords that never change validity, or only matter as targets of a $ref (resolved there).
_IGNORED = frozenset(
    {*_ANNOTATIONS, "readOnly", "writeOnly", "$id", "$anchor", "$dynamicAnchor", "$defs",
     "definitions", "$vocabulary", "contentEncoding", "contentMediaType", "contentSchema"}
)  # fmt: skip
_FOR_TYPE = {
    "string": frozenset({"minLength", "maxLength", "pattern"}),
    "number": frozenset(
        {"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}
    ),
    "array": frozenset(
        {"items", "prefixItems", "minItems", "maxItems", "uniqueItems", "contains",
         "minContains", "maxContains", "unevaluatedItems"}
    ),
    "object": frozenset(
        {"properties", "required", "additionalProperties", "patternProperties",
         "minProperties", "maxProperties", "propertyNames", "dependentRequired",
         "dependentSchemas", "unevaluatedProperties"}
    ),
}  # fmt: skip
_FOR_TYPE["integer"] = _FOR_TYPE["number"]
_TYPED = frozenset().union(*_FOR_TYPE.values())
# Keywords whose meaning depends on others of the same schema object (JSON Schema Core 10.2-10.3).
_READS_SIBLINGS = {
    "additionalProperties": ("properties", "patternProperties"),
    "items": ("prefixItems",),
    "minContains": ("contains",),
    "maxContains": ("contains",),
    "then": ("if",),
    "else": ("if",),
    "unevaluatedProperties": ("properties", "patternProperties", "additionalProperties"),
    "unevaluatedItems": ("prefixItems", "items", "contains"),
}
_ANY = "*"  # a branch of a schema without "type": every JSON type
# (lower bound keyword, its exclusive form, upper bound keyword, its exclusive form)
_BOUNDS = (
    ("minimum", "exclusiveMinimum", "maximum", "exclusiveMaximum"),
    ("minLength", None, "maxLength", None),
    ("minItems", None, "maxItems", None),
    ("minProperties", None, "maxProperties", None),
)
_COMPARED = frozenset(
    {"type", "enum", "const", "multipleOf", "pattern", "format", "uniqueItems", "items",
     "properties", "required", "additionalProperties"}
    | {keyword for bounds in _BOUNDS for keyword in bounds if keyword}
)  # fmt: skip


def _json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "object" if isinstance(value, Mapping) else "array"


def _covers(types: Iterable[str], kind: str) -> bool:
    """Whether a value of JSON type ``kind`` is of one of ``types``."""
    types = set(types)
    return kind in types or _ANY in types or (kind == "integer" and "number" in types)


def _overlap(a: str, b: str) -> str | None:
    """The JSON type two branches share, if any."""
    if a == b or b == _ANY:
        return a
    if a == _ANY:
        return b
    if {a, b} == {"integer", "number"}:
        return "integer"
    return None


def _describe_types(types: list[str]) -> str:
    names = sorted("any type" if t == _ANY else t for t in types)
    return names[0] if len(names) == 1 else "[" + ", ".join(names) + "]"


class _Differ:
    """Walks two schemas side by side and records each change with the consumers it breaks.

    A change breaks new-schema consumers when data valid under the old schema may be invalid
    under the new one, and old-schema consumers in the reverse case. Where an answer would need
    more than these rules (regex inclusion, overlapping union branches), it is conservative.
    """

    def __init__(
        self,
        old_root: Any,
        new_root: Any,
        *,
        strict: bool,
        in_progress: set[tuple[int, int]],
        combined: dict[tuple[int, int], Any] | None = None,
    ) -> None:
        self.roots = (old_root, new_root)
        self.strict = strict
        # Pairs being compared; meeting one again (a recursive $ref) adds nothing new.
        self.in_progress = in_progress
        # (side, id of a $ref beside keywords) -> the combined schema, built once, so that
        # a recursive $ref meets the same object again and the walk ends.
        self.combined = {} if combined is None else combined
        self._rows: dict[str, SchemaChange] = {}

    def add(
        self, text: str, *, old: bool = False, new: bool = False, unchecked: bool = False
    ) -> None:
        seen = self._rows.get(text, SchemaChange(text))
        self._rows[text] = SchemaChange(
            text, seen.breaks_old or old, seen.breaks_new or new, seen.unchecked or unchecked
        )

    def changes(self) -> tuple[SchemaChange, ...]:
        return tuple(self._rows.values())

    # -- navigation

    def deref(self, path: str, node: Any, side: int) -> Any:
        """``node`` with a local ``$ref`` replaced by its target; None when unresolvable.

        Draft 2020-12 applies a ``$ref`` and the keywords beside it both, like ``allOf``: the
        target and those keywords are combined into one schema where that is exact.
        """
        for _ in range(_MAX_DEPTH):
            if not isinstance(node, Mapping) or "$ref" not in node:
                return node
            ref, target = node["$ref"], self._pointer(node["$ref"], side)
            if target is None:
                self.add(
                    f"unchecked: $ref {ref!r} at {path} (only '#...' pointers inside the "
                    "schema are compared)",
                    unchecked=True,
                )
                return None
            beside = {k: v for k, v in node.items() if k != "$ref" and k not in _IGNORED}
            if beside:
                key = (side, id(node))
                if key not in self.combined:
                    self.combined[key] = self._combine(path, ref, target, beside)
                target = self.combined[key]
                if target is None:
                    return None
            node = target
        self.add(f"unchecked: a chain of $ref at {path}", unchecked=True)
        return None

    def _combine(self, path: str, ref: str, target: Any, beside: dict[str, Any]) -> Any:
        """A ``$ref``'s ``target`` and the keywords ``beside`` it as one schema; None if inexact."""
        if not isinstance(target, Mapping):
            return beside if target is True else False
        own = {k: v for k, v in target.items() if k not in _IGNORED}
        combined, clashes = dict(own), set()
        for keyword, value in beside.items():
            if keyword not in own or _same(own[keyword], value):
                combined[keyword] = value
            elif keyword == "required":  # both apply: every name of either is required
                combined[keyword] = list(dict.fromkeys([*own[keyword], *value]))
            elif keyword == "properties" and not any(
                not _same(own[keyword][name], value[name]) for name in own[keyword].keys() & value
            ):
                combined[keyword] = {**own[keyword], **value}
            else:
                clashes.add(keyword)
        # A keyword that reads others of its schema object sees only its own side of the $ref.
        for reader, read in _READS_SIBLINGS.items():
            for one, other in ((own, beside), (beside, own)):
                if reader in one and any(
                    k in other and not (k in one and _same(one[k], other[k])) for k in read
                ):
                    clashes.add(reader)
        if clashes:
            self.add(
                f"unchecked: $ref {ref!r} at {path} beside {', '.join(sorted(clashes))} (a "
                "$ref's target and the keywords beside it are compared only when they combine "
                "into one schema)",
                unchecked=True,
            )
            return None
        return combined

    def unchanged(self, old: Any, new: Any) -> bool:
        """Whether two schemas are equal, every local ``$ref`` they lead to included."""
        if not _same(old, new):
            return False
        pending, seen = list(_refs(old)), set()
        while pending:
            ref = pending.pop()
            if ref in seen:
                continue
            seen.add(ref)
            before, after = self._pointer(ref, 0), self._pointer(ref, 1)
            if before is None or after is None or not _same(before, after):
                return False
            pending += _refs(before)
        return True

    def _pointer(self, ref: Any, side: int) -> Any:
        root = self.roots[side]
        # A nested $id changes what '#' means below it; such schemas are not compared.
        # '#name' is an anchor, not a pointer: not followed either.
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
            return None
        if _nested_id(root, top=True):
            return None
        node = root
        for token in filter(None, ref[1:].split("/")) if ref != "#" else ():
            token = token.replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and token in node:
                node = node[token]
            elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
                node = node[int(token)]
            else:
                return None
        return node if isinstance(node, (Mapping, bool)) else None

    def branches(
        self, path: str, node: Any, side: int
    ) -> list[tuple[str, Mapping[str, Any]]] | None:
        """``node`` as a union of branches, one JSON type each (``[]`` for ``false``)."""
        node = self.deref(path, node, side)
        if node is None:
            return None
        if node is True:
            return [(_ANY, {})]
        if node is False:
            return []
        keywords = {k: v for k, v in node.items() if k not in _IGNORED}
        if len(keywords) == 1 and keywords.keys() <= {"anyOf", "oneOf"}:
            ((kind, members),) = keywords.items()
            union: list[tuple[str, Mapping[str, Any]]] = []
            for member in members:
                branches = self.branches(path, member, side)
                if branches is None:
                    return None
                union += branches
            kinds = [t for t, _ in union]
            # oneOf is anyOf when no value can match two branches.
            if kind == "anyOf" or all(
                _overlap(a, b) is None for i, a in enumerate(kinds) for b in kinds[i + 1 :]
            ):
                return union
        declared = keywords.get("type")
        if declared is None and ("enum" in keywords or "const" in keywords):
            values = [keywords["const"]] if "const" in keywords else list(keywords["enum"])
            declared = sorted({_json_type(v) for v in values})
        types: set[str] = {declared} if isinstance(declared, str) else set(declared or [_ANY])
        if "number" in types:
            types.discard("integer")
            step = keywords.get("multipleOf")
            if step is not None and _fraction(step).denominator == 1:
                # Multiples of a whole number are integers (1.0 is one in JSON Schema).
                types = (types - {"number"}) | {"integer"}
        return [(t, self._restrict(keywords, t)) for t in sorted(types)]

    @staticmethod
    def _restrict(keywords: Mapping[str, Any], kind: str) -> dict[str, Any]:
        """The keywords that apply to values of type ``kind``; enum values of that type."""
        if kind == _ANY:
            return dict(keywords)
        own = _FOR_TYPE.get(kind, frozenset())
        kept = {k: v for k, v in keywords.items() if k in own or k not in _TYPED}
        kept.pop("type", None)
        if kind == "integer":
            kept = _on_integers(kept)
        if "const" in kept and not _covers([kind], _json_type(kept["const"])):
            kept["const"] = _NOTHING
        if "enum" in kept:
            kept["enum"] = [v for v in kept["enum"] if _covers([kind], _json_type(v))]
        return kept

    # -- comparison

    def diff(self, path: str, old: Any, new: Any) -> None:
        if self.unchanged(old, new):
            return
        old, new = self.deref(path, old, 0), self.deref(path, new, 1)
        if old is None or new is None:
            return
        pair = (id(old), id(new))
        if pair in self.in_progress or self.unchanged(old, new):
            return
        self.in_progress.add(pair)
        try:
            self._diff(path, old, new)
        finally:
            self.in_progress.discard(pair)

    def _diff(self, path: str, old: Any, new: Any) -> None:
        old_branches = self.branches(path, old, 0)
        new_branches = self.branches(path, new, 1)
        if old_branches is None or new_branches is None:
            return
        old_types = [t for t, _ in old_branches]
        new_types = [t for t, _ in new_branches]
        self._compare_types(path, old_types, new_types)
        ambiguous = [
            side
            for side in (old_types, new_types)
            if any(_overlap(a, b) for i, a in enumerate(side) for b in side[i + 1 :])
        ]
        if ambiguous:
            self.add(
                f"unchecked: anyOf/oneOf at {path} has branches of the same type, which are "
                "not paired",
                unchecked=True,
            )
            return
        for old_type, old_keywords in old_branches:
            for new_type, new_keywords in new_branches:
                kind = _overlap(old_type, new_type)
                if kind is not None:
                    self._compare_keywords(
                        path,
                        kind,
                        self._restrict(old_keywords, kind),
                        self._restrict(new_keywords, kind),
                    )

    def _compare_types(self, path: str, old: list[str], new: list[str]) -> None:
        breaks_new = not all(_covers(new, t) for t in old)
        breaks_old = not all(_covers(old, t) for t in new)
        if not (breaks_new or breaks_old):
            return
        if set(new) == set(old) | {"null"}:
            text = f"made {path} nullable"
        elif set(old) == set(new) | {"null"}:
            text = f"made {path} non-nullable"
        elif not old:
            text = f"allowed {path}, which was false (no value)"
        elif not new:
            text = f"made {path} false (no value allowed)"
        else:
            verb = "widened" if not breaks_new else "narrowed" if not breaks_old else "retyped"
            text = f"{verb} {path} from {_describe_types(old)} to {_describe_types(new)}"
        self.add(text, old=breaks_old, new=breaks_new)

    def _compare_keywords(
        self, path: str, kind: str, old: Mapping[str, Any], new: Mapping[str, Any]
    ) -> None:
        self._compare_values(path, old, new)
        for bounds in _BOUNDS:
            self._compare_bounds(path, old, new, *bounds)
        self._compare_multiple(path, old.get("multipleOf"), new.get("multipleOf"))
        for keyword in ("pattern", "format"):
            self._compare_exact(path, keyword, old.get(keyword), new.get(keyword))
        if old.get("uniqueItems", False) != new.get("uniqueItems", False):
            added = bool(new.get("uniqueItems"))
            verb = "added uniqueItems to" if added else "dropped uniqueItems of"
            self.add(f"{verb} {path}", new=added, old=not added)
        if kind in ("array", _ANY):
            self.diff(f"{path}[]", old.get("items", True), new.get("items", True))
        if kind in ("object", _ANY):
            self._compare_object(path, old, new)
        for keyword in sorted((old.keys() | new.keys()) - _COMPARED):
            before, after = old.get(keyword), new.get(keyword)
            if keyword == "$dynamicRef":  # its target may depend on where it is reached from
                self.add(
                    f"unchecked: $dynamicRef at {path} (its target is not compared)",
                    unchecked=True,
                )
            elif not self.unchanged(before, after) or keyword.startswith("unevaluated"):
                self.add(
                    f"unchecked: {keyword} at {path} differs and is not compared",
                    unchecked=True,
                )

    def _compare_values(self, path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        """``enum`` and ``const``: the set of values allowed, if either restricts it."""
        before, after = _allowed(old), _allowed(new)
        if before is None and after is None:
            return
        used = sorted({k for k in ("enum", "const") if k in old or k in new})
        name = used[0] if len(used) == 1 else "allowed values"
        if before is None and after is not None:
            self.add(f"restricted {path} to {name} {_show(after)}", new=True)
        elif after is None and before is not None:
            self.add(f"dropped the {name} {_show(before)} of {path}", old=True)
        elif before is not None and after is not None:
            if removed := {k: v for k, v in before.items() if k not in after}:
                self.add(f"removed {_show(removed)} from the {name} of {path}", new=True)
            if added := {k: v for k, v in after.items() if k not in before}:
                self.add(f"added {_show(added)} to the {name} of {path}", old=True)

    def _compare_bounds(
        self,
        path: str,
        old: Mapping[str, Any],
        new: Mapping[str, Any],
        lower: str,
        exclusive_lower: str | None,
        upper: str,
        exclusive_upper: str | None,
    ) -> None:
        for inclusive, exclusive, is_lower in (
            (lower, exclusive_lower, True),
            (upper, exclusive_upper, False),
        ):
            before = _bound(old, inclusive, exclusive, is_lower)
            after = _bound(new, inclusive, exclusive, is_lower)
            if before == after:
                continue
            name = {False: inclusive, True: exclusive}
            if before is None and after is not None:
                self.add(f"added {name[after[1]]} {after[0]} to {path}", new=True)
            elif after is None and before is not None:
                self.add(f"dropped {name[before[1]]} {before[0]} of {path}", old=True)
            elif before is not None and after is not None:
                tighter = _tighter(after, before, is_lower)
                self.add(
                    f"{'tightened' if tighter else 'loosened'} {path}: {name[before[1]]} "
                    f"{before[0]} -> {name[after[1]]} {after[0]}",
                    new=tighter,
                    old=not tighter,
                )

    def _compare_multiple(self, path: str, before: Any, after: Any) -> None:
        if before == after:
            return
        if before is None:
            self.add(f"added multipleOf {after} to {path}", new=True)
        elif after is None:
            self.add(f"dropped multipleOf {before} of {path}", old=True)
        else:
            self.add(
                f"changed multipleOf of {path}: {before} -> {after}",
                new=not _is_multiple(before, after),
                old=not _is_multiple(after, before),
            )

    def _compare_exact(self, path: str, keyword: str, before: Any, after: Any) -> None:
        if before == after:
            return
        if before is None:
            self.add(f"added {keyword} {after!r} to {path}", new=True)
        elif after is None:
            self.add(f"dropped {keyword} {before!r} of {path}", old=True)
        else:  # whether one pattern's strings all match the other is not decided here
            self.add(f"changed {keyword} of {path}: {before!r} -> {after!r}", new=True, old=True)

    def _compare_object(self, path: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        old_props, new_props = old.get("properties", {}), new.get("properties", {})
        old_required, new_required = set(old.get("required", ())), set(new.get("required", ()))
        old_extra = old.get("additionalProperties", True)
        new_extra = new.get("additionalProperties", True)
        patterns = "patternProperties" in old or "patternProperties" in new
        if patterns and not (
            self.unchanged(old.get("patternProperties"), new.get("patternProperties"))
            and old_props.keys() == new_props.keys()
        ):
            self.add(
                f"unchecked: patternProperties at {path} (properties added, removed or matched "
                "by a pattern are not compared)",
                unchecked=True,
            )
        reported: set[str] = set()
        for name in sorted(old_props.keys() | new_props.keys()):
            where = _json_path(path, name)
            if name in old_props and name in new_props:
                self.diff(where, old_props[name], new_props[name])
                continue
            if patterns:
                continue
            reported.add(name)
            if name in old_props:
                dropped = name in old_required - new_required
                self.add(
                    f"removed {'required ' if dropped else ''}{where}",
                    # old data may hold it: an additional property to new consumers
                    new=self._rejects(where, old_props[name], new_extra, 0, declared=True),
                    # new data lacks it, or may hold it as an additional property
                    old=dropped
                    or self._rejects(where, new_extra, old_props[name], 1, declared=False),
                )
            else:
                added = name in new_required - old_required
                self.add(
                    f"added {'required' if added else 'optional'} {where}",
                    new=added
                    or self._rejects(where, old_extra, new_props[name], 0, declared=False),
                    old=self._rejects(where, new_props[name], old_extra, 1, declared=True),
                )
        for name in sorted((new_required - old_required) - reported):
            self.add(f"made {_json_path(path, name)} required", new=True)
        for name in sorted((old_required - new_required) - reported):
            self.add(f"made {_json_path(path, name)} optional", old=True)
        if not self.unchanged(old_extra, new_extra):
            self._compare_content_model(path, old_extra, new_extra)

    def _compare_content_model(self, path: str, old: Any, new: Any) -> None:
        """``additionalProperties``: open (true/absent), closed (false) or a schema."""
        old_open, new_open = _is_true(old), _is_true(new)
        if old_open and new is False:
            # Under the lenient policy old producers wrote no undeclared property.
            self.add(f"closed {path} (additionalProperties: false)", new=self.strict)
        elif old is False and new_open:
            self.add(f"opened {path} (additionalProperties was false)", old=self.strict)
        elif (old_open or new_open) and not self.strict:
            self.add(f"changed additionalProperties of {path}")
        else:
            self.diff(f"{path}.*", old, new)

    def _rejects(
        self, where: str, value: Any, consumer: Any, producer: int, *, declared: bool
    ) -> bool:
        """Whether ``consumer`` may reject what ``value`` lets side ``producer`` (0: old) write.

        ``value`` is the property's schema when the producer declares it, else the producer's
        ``additionalProperties``: then, by the lenient policy, an open producer writes nothing.
        """
        if value is False or (not declared and not self.strict and _is_true(value)):
            return False
        old, new = (value, consumer) if producer == 0 else (consumer, value)
        probe = _Differ(
            *self.roots,
            strict=self.strict,
            in_progress=self.in_progress,
            combined=self.combined,
        )
        probe.diff(where, old, new)
        return any(
            c.unchecked or (c.breaks_new if producer == 0 else c.breaks_old)
            for c in probe.changes()
        )


class _Nothing:
    """A ``const`` whose value is not of the branch's type: no value of that type matches."""

    def __repr__(self) -> str:
        return "nothing"


_NOTHING = _Nothing()


def _allowed(keywords: Mapping[str, Any]) -> dict[Any, Any] | None:
    """The values ``enum``/``const`` allow, by JSON key; None when they do not restrict."""
    allowed: dict[Any, Any] | None = None
    if "const" in keywords:
        const = keywords["const"]
        allowed = {} if const is _NOTHING else {_json_key(const): const}
    if "enum" in keywords:
        values = {_json_key(v): v for v in keywords["enum"]}
        allowed = values if allowed is None else {k: allowed[k] for k in allowed if k in values}
    return allowed


def _show(values: Mapping[Any, Any]) -> str:
    return "[" + ", ".join(sorted(repr(_thaw(v)) for v in values.values())) + "]"


def _bound(
    keywords: Mapping[str, Any], inclusive: str, exclusive: str | None, lower: bool
) -> tuple[Any, bool] | None:
    """The tighter of a keyword and its exclusive form, as ``(value, is_exclusive)``."""
    found = [(keywords[inclusive], False)] if inclusive in keywords else []
    if exclusive and exclusive in keywords:
        found.append((keywords[exclusive], True))
    if not found:
        return None
    tightest = found[0]
    for candidate in found[1:]:
        if _tighter(candidate, tightest, lower):
            tightest = candidate
    return tightest


def _tighter(a: tuple[Any, bool], b: tuple[Any, bool], lower: bool) -> bool:
    """Whether bound ``a`` admits strictly fewer values than bound ``b``."""
    if a[0] != b[0]:
        return bool(a[0] > b[0] if lower else a[0] < b[0])
    return a[1] and not b[1]


def _fraction(number: int | float) -> Fraction:
    """``number`` exactly as written: 0.1 is 1/10, not the binary float nearest to it."""
    return Fraction(number) if isinstance(number, int) else Fraction(str(number))


def _is_multiple(value: Any, of: Any) -> bool:
    """Whether every multiple of ``value`` is a multiple of ``of``."""
    return (_fraction(value) / _fraction(of)).denominator == 1


def _on_integers(keywords: dict[str, Any]) -> dict[str, Any]:
    """Numeric keywords as they act on integers, so that equal sets of integers compare equal.

    The integers >= 0.5 are the integers >= 1, those > 0 too; an integer is a multiple of p/q
    (in lowest terms) exactly when it is a multiple of p.
    """
    plain = {k: v for k, v in keywords.items() if k not in _FOR_TYPE["integer"]}
    low = _bound(keywords, "minimum", "exclusiveMinimum", True)
    if low is not None:
        plain["minimum"] = math.floor(low[0]) + 1 if low[1] else math.ceil(low[0])
    high = _bound(keywords, "maximum", "exclusiveMaximum", False)
    if high is not None:
        plain["maximum"] = math.ceil(high[0]) - 1 if high[1] else math.floor(high[0])
    if "multipleOf" in keywords:
        step = _fraction(keywords["multipleOf"]).numerator
        if step != 1:
            plain["multipleOf"] = step
    return plain


def _is_true(schema: Any) -> bool:
    """A schema every value passes (``true`` or only annotations)."""
    return schema is True or (isinstance(schema, Mapping) and not (set(schema) - _IGNORED))


def _nested_id(node: Any, *, top: bool = False) -> bool:
    if isinstance(node, Mapping):
        if "$id" in node and not top:
            return True
        return any(_nested_id(v) for v in node.values())
    if isinstance(node, list):
        return any(_nested_id(v) for v in node)
    return False


# -- registries ----------------------------------------------------------------------------------


def _version_key(contract: Contract) -> tuple[int, int]:
    major, minor = contract.version.split(".")
    return int(major), int(minor)


class ContractRegistry:
    """Contracts by (source, detail-type, version), each new version checked against its line.

    Versions are ``MAJOR.MINOR``: the minors of one major form a line, and a new minor must be
    compatible, in the registry's ``mode``, with the version before it and the one after it
    (with every version of the line for the ``*_ALL`` modes). A new major (``2.0``) starts a new
    line and is not checked against ``1.x``: that is how a producer publishes a breaking change,
    ideally alongside the old line until its consumers have moved. ``DISABLED`` refuses every
    new minor (a new major still starts a line); ``NONE`` checks nothing.

    Parameters
    ----------
    contracts : iterable of Contract, optional
        Registered in order (each one checked).
    mode : str, default "FULL"
        A mode of ``COMPATIBILITY_MODES``. FULL, because a mesh's consumers upgrade on their own
        schedules (old consumers read new events) and events are replayed from archives (new
        consumers read old events). The Glue and Confluent registries default to BACKWARD,
        which would let a version drop a field that old consumers still read.
    policy : {"lenient", "strict"}, default "lenient"
        Passed to ``check_compatibility``.

    Examples
    --------
    >>> import meshkit as mk
    >>> registry = mk.contracts.ContractRegistry(mode="FULL")
    >>> schema = {"type": "object", "required": ["id"], "properties": {"id": {"type": "string"}}}
    >>> registry.register(mk.contracts.Contract("s.domain", "X", "1.0", schema)).key
    's.domain/X/1.0'
    """

    def __init__(
        self,
        contracts: Iterable[Contract] = (),
        *,
        mode: str = "FULL",
        policy: str = "lenient",
    ) -> None:
        self.mode = _check_mode(mode)
        self.policy = _check_policy(policy)
        self._contracts: dict[tuple[str, str, str], Contract] = {}
        for contract in contracts:
            self.register(contract)

    def register(self, contract: Contract) -> Contract:
        """Add ``contract`` once it is compatible with its line; the same contract again is a no-op.

        Raises
        ------
        ContractConflictError
            The version is registered already with another schema.
        IncompatibleContractError
            The version breaks consumers under the registry's mode; its message lists the
            changes and the fixes.

        Examples
        --------
        >>> import meshkit as mk
        >>> registry = mk.contracts.ContractRegistry()
        >>> v1 = mk.contracts.Contract("s.domain", "X", "1.0", {"type": "object"})
        >>> registry.register(v1) is registry.register(v1)
        True
        """
        if not isinstance(contract, Contract):
            raise InvalidContractError(
                f"register() takes a Contract, not a {type(contract).__name__}: wrap the schema "
                "with mk.contracts.Contract(source, detail_type, version, schema)"
            )
        key = (contract.source, contract.detail_type, contract.version)
        existing = self._contracts.get(key)
        if existing is not None:
            if _same(existing.schema, contract.schema):
                return existing
            raise ContractConflictError(
                f"contract {contract.key} is registered already with another schema: publish a "
                "new version instead of changing a published one"
            )
        failed = [report for report in self._reports(contract) if not report.is_compatible]
        if failed:
            raise IncompatibleContractError(self._refusal(contract, failed), reports=tuple(failed))
        self._contracts[key] = contract
        return contract

    def _reports(self, contract: Contract) -> list[CompatibilityReport]:
        """The comparisons the registry's mode asks of ``contract`` within its line."""
        major, minor = _version_key(contract)
        kind = (contract.source, contract.detail_type)
        line = sorted(
            (
                c
                for (source, detail_type, _), c in self._contracts.items()
                if (source, detail_type) == kind and _version_key(c)[0] == major
            ),
            key=_version_key,
        )
        base = _base_mode(self.mode)
        if base == "NONE" or not line:
            return []
        if base == "DISABLED":
            return [check_compatibility(line[-1], contract, mode="DISABLED")]
        earlier = [c for c in line if _version_key(c)[1] < minor]
        later = [c for c in line if _version_key(c)[1] > minor]
        if not self.mode.endswith("_ALL"):
            earlier, later = earlier[-1:], later[:1]
        options = {"mode": self.mode, "policy": self.policy}
        return [check_compatibility(c, contract, **options) for c in earlier] + [
            check_compatibility(contract, c, **options) for c in later
        ]

    def _refusal(self, contract: Contract, failed: list[CompatibilityReport]) -> str:
        problems = "; ".join(
            f"{report.old} -> {report.new}: "
            + ", ".join(
                f"{c.change} (breaks {c.breaks})" for c in report.changes if report.is_breaking(c)
            )
            for report in failed
        )
        major = _version_key(contract)[0]
        return (
            f"contract {contract.key} is not {self.mode}-compatible ({self.policy} policy): "
            f"{problems}. Fix: keep the change compatible (add only optional fields, keep "
            f"existing fields, types and constraints), or publish it as a new major version, "
            f"'{major + 1}.0', which starts a new line and is not checked against {major}.x, or "
            "use a registry with another mode, e.g. ContractRegistry(mode='BACKWARD')"
        )

    def get(self, source: str, detail_type: str, version: str | None = None) -> Contract:
        """The contract of that version, or the latest one when ``version`` is None.

        Examples
        --------
        >>> import meshkit as mk
        >>> mk.contracts.default_registry().get("sales.domain", "SaleRecorded", "1.0").version
        '1.0'
        """
        if version is not None:
            _check_version(version, "version")
            contract = self._contracts.get((source, detail_type, version))
        else:
            versions = [
                c for (s, d, _), c in self._contracts.items() if (s, d) == (source, detail_type)
            ]
            contract = max(versions, key=_version_key, default=None)
        if contract is None:
            known = ", ".join(sorted(c.key for c in self._contracts.values())) or "none"
            raise UnknownContractError(
                f"no contract for source {source!r}, detail-type {detail_type!r}, version "
                f"{version or 'any'} (known: {known}): register one with mk.contracts.register()"
            )
        return contract

    def __iter__(self) -> Iterator[Contract]:
        return iter(
            sorted(
                self._contracts.values(), key=lambda c: (c.source, c.detail_type, _version_key(c))
            )
        )

    def to_frame(self) -> pd.DataFrame:
        """One row per contract: source, detail_type, version, required fields.

        Examples
        --------
        >>> import meshkit as mk
        >>> contract = mk.contracts.Contract("s.domain", "X", "1.0", {"required": ["id"]})
        >>> mk.contracts.ContractRegistry([contract]).to_frame()
             source detail_type version required
        0  s.domain           X     1.0       id
        """
        rows = [
            (
                c.source,
                c.detail_type,
                c.version,
                ", ".join(c.schema.get("required", [])) if isinstance(c.schema, Mapping) else "",
            )
            for c in self
        ]
        return pd.DataFrame(rows, columns=["source", "detail_type", "version", "required"])


def _packaged_contracts() -> Iterator[Contract]:
    root = resources.files(__package__) / "contract_files"
    for source_dir in root.iterdir():
        if not source_dir.is_dir():
            continue
        for type_dir in source_dir.iterdir():
            if not type_dir.is_dir():
                continue
            for file in type_dir.iterdir():
                if file.name.endswith(".json"):
                    schema = json.loads(file.read_text(encoding="utf-8"))
                    yield Contract(
                        source_dir.name, type_dir.name, file.name[: -len(".json")], schema
                    )


_default: ContractRegistry | None = None


def default_registry() -> ContractRegistry:
    """The registry ``mk.events.publish`` checks by default: the packaged contracts plus yours.

    Its mode is FULL (see ``ContractRegistry``).

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.contracts.default_registry().mode
    'FULL'
    """
    global _default
    if _default is None:
        # Sorted, so that each version is checked against the one before it as it arrives.
        _default = ContractRegistry(sorted(_packaged_contracts(), key=_version_key))
    return _default


def register(contract: Contract) -> Contract:
    """Register ``contract`` in the default registry (mode FULL), refusing breaking versions.

    Examples
    --------
    Not run as a doctest: it would change the registry the tests share.

    >>> import meshkit as mk
    >>> mk.contracts.register(mk.contracts.Contract(
    ...     "marketing.domain", "CampaignLaunched", "1.0",
    ...     {"type": "object", "required": ["campaign_id"],
    ...      "properties": {"campaign_id": {"type": "string"}}},
    ... ))  # doctest: +SKIP
    """
    return default_registry().register(contract)


def get(source: str, detail_type: str, version: str | None = None) -> Contract:
    """A contract from the default registry (the latest version when ``version`` is None).

    Raises
    ------
    UnknownContractError
        No contract of that source, detail-type (and version) is registered.

    Examples
    --------
    >>> import meshkit as mk
    >>> mk.contracts.get("sales.domain", "SaleRecorded").key
    'sales.domain/SaleRecorded/1.1'
    """
    return default_registry().get(source, detail_type, version)


def list_contracts() -> pd.DataFrame:
    """The default registry's contracts as a DataFrame (see ``ContractRegistry.to_frame``).

    Examples
    --------
    >>> import meshkit as mk
    >>> frame = mk.contracts.list_contracts()
    >>> frame[frame.detail_type == "SaleDeleted"][["version", "required"]].to_numpy().tolist()
    [['1.0', 'sale_id']]
    """
    return default_registry().to_frame()
