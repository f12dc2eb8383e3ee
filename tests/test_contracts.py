"""Data contracts: validation names the failing field; versions evolve by documented rules.

Compatibility modes are those of the AWS Glue Schema Registry
(https://docs.aws.amazon.com/glue/latest/dg/schema-registry.html#schema-registry-compatibility)
and Confluent Schema Registry
(https://docs.confluent.io/platform/current/schema-registry/fundamentals/schema-evolution.html):
BACKWARD, consumers using the new schema read data written with the old one; FORWARD, consumers
using the old schema read data written with the new one; FULL, both.
"""

from __future__ import annotations

import copy
import http.server
import json
import pickle
import re
import threading
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import meshkit as mk
from meshkit.contracts import (
    Contract,
    ContractConflictError,
    ContractRegistry,
    ContractSchemaError,
    ContractViolation,
    IncompatibleContractError,
    InvalidContractError,
    ReadOnlySchemaError,
    UnknownContractError,
    UnresolvableReferenceError,
    _compiled_is_valid,
    _fast_is_valid,
    _plain_json,
)
from meshkit.exceptions import MeshkitError, ValidationError

CONFLUENT_JSON_RULES = (
    "https://docs.confluent.io/platform/current/schema-registry/fundamentals/serdes-develop/"
    "serdes-json.html"
)

SCHEMA = {
    "type": "object",
    "required": ["sale_id", "amount", "customer"],
    "properties": {
        "sale_id": {"type": "string"},
        "amount": {"type": "number"},
        "note": {"type": "string"},
        "customer": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": {"type": "string"}, "tier": {"type": "string"}},
        },
    },
}

TREE = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string"},
        "children": {"type": "array", "items": {"$ref": "#"}},
    },
}


@pytest.fixture
def http_recorder():
    """An HTTP server on 127.0.0.1 that records every request it receives and answers a schema."""
    requests: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # the name http.server calls
            requests.append(self.path)
            body = b'{"type": "string"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):  # keep pytest's output clean
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield SimpleNamespace(url=f"http://127.0.0.1:{server.server_port}", requests=requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def evolve(**changes):
    schema = copy.deepcopy(SCHEMA)
    for name, spec in changes.get("add", {}).items():
        schema["properties"][name] = spec
    schema["required"] += changes.get("require", [])
    for name in changes.get("remove", []):
        schema["properties"].pop(name)
        schema["required"] = [r for r in schema["required"] if r != name]
    for name in changes.get("optional", []):
        schema["required"].remove(name)
    for name, kind in changes.get("retype", {}).items():
        schema["properties"][name] = {"type": kind}
    return schema


def with_property(spec, *, name="x", **top):
    """An object schema with one optional property ``name`` of schema ``spec``."""
    return {"type": "object", "properties": {name: spec}, **top}


def only_change(report):
    (change,) = report.changes
    return change.change, change.breaks_old, change.breaks_new


# -- validation --------------------------------------------------------------------------------


def test_the_workbook_ships_the_sales_contracts():
    frame = mk.contracts.list_contracts()

    assert {"SaleRecorded", "SaleUpdated", "SaleDeleted"} <= set(frame.detail_type)
    assert mk.contracts.get("sales.domain", "SaleRecorded").version == "1.1", "latest by default"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"amount": 1, "customer": {"id": "c"}},
            "data.sale_id",
            "'sale_id' is a required property",
        ),
        ({"sale_id": "s", "amount": "1", "customer": {"id": "c"}}, "data.amount", "is not of type"),
        ({"sale_id": "s", "amount": 1, "customer": {}}, "data.customer.id", "'id' is a required"),
        ({"sale_id": "s", "amount": 1, "customer": {"id": 7}}, "data.customer.id", "not of type"),
    ],
)
def test_a_violation_names_the_failing_field(data, field, message):
    contract = Contract("sales.domain", "Test", "1.0", SCHEMA)

    with pytest.raises(ContractViolation, match=message) as raised:
        contract.validate(data)

    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")
    assert "sales.domain/Test/1.0" in str(raised.value)


def test_annotations_are_ignored_but_properties_named_like_them_are_checked():
    schema = {
        "title": "Note",
        "description": "a note",
        "type": "object",
        "required": ["title"],
        "properties": {
            "title": {"type": "string", "description": "its title"},
            "kind": {"const": {"title": "fixed"}},
        },
    }
    contract = Contract("s.domain", "Note", "1.0", schema)

    contract.validate({"title": "hello", "kind": {"title": "fixed"}})
    with pytest.raises(ContractViolation, match=r"data\.kind"):
        contract.validate({"title": "hello", "kind": {}})
    with pytest.raises(ContractViolation, match=r"data\.title: 7 is not of type 'string'"):
        contract.validate({"title": 7})
    with pytest.raises(ContractViolation, match="'title' is a required property"):
        contract.validate({})


def test_ref_to_the_root_validates_a_tree_as_jsonschema_does():
    """Given a recursive contract ({"$ref": "#"}), when a valid tree is checked, then it passes.

    Today the fast path compiles each property alone, so '#' meant the property, not the root.
    """
    contract = Contract("s.domain", "Tree", "1.0", TREE)
    good = {"name": "root", "children": [{"name": "leaf", "children": []}]}

    assert Draft202012Validator(TREE).is_valid(good)
    contract.validate(good)
    with pytest.raises(ContractViolation, match=r"data\.children\[0\]\.name"):
        contract.validate({"name": "root", "children": [{"children": []}]})


def test_boolean_schemas_are_contracts():
    """JSON Schema 2020-12 section 4.3.2: ``true`` accepts every instance, ``false`` none."""
    Contract("s.domain", "Anything", "1.0", True).validate({"x": 1})
    with pytest.raises(ContractViolation, match="False schema"):
        Contract("s.domain", "Nothing", "1.0", False).validate({})
    closed = Contract("s.domain", "NoX", "1.0", with_property(False))
    closed.validate({"y": 1})
    with pytest.raises(ContractViolation, match="False schema does not allow 1"):
        closed.validate({"x": 1})  # jsonschema gives no path for a false subschema


# (schema, instance): every case the fast path must decide as jsonschema does.
AGREEMENT = [
    (TREE, {"name": "a", "children": [{"name": "b"}]}),
    (TREE, {"name": "a", "children": [{"children": []}]}),
    (TREE, {"name": "a", "children": [{"name": 1}]}),
    (TREE, {"children": []}),
    (True, None),
    (False, {}),
    (with_property(True), {"x": [1]}),
    (with_property(False), {"x": None}),
    (with_property(False), {"y": None}),
    ({"type": "object", "required": ["x"], "properties": {"x": False}}, {}),
    (
        {
            "type": "object",
            "$defs": {"money": {"type": "number", "minimum": 0}},
            "properties": {"amount": {"$ref": "#/$defs/money"}},
        },
        {"amount": -1},
    ),
    (
        {
            "type": "object",
            "$defs": {"money": {"type": "number", "minimum": 0}},
            "properties": {"amount": {"$ref": "#/$defs/money"}},
        },
        {"amount": 3},
    ),
    (
        {"type": "object", "properties": {"next": {"$ref": "#"}, "v": {"type": "integer"}}},
        {"next": {"next": {"v": "deep"}}},
    ),
    (
        {"type": "object", "properties": {"next": {"$ref": "#"}, "v": {"type": "integer"}}},
        {"next": {"next": {"v": 3}}},
    ),
    ({"type": "object", "minProperties": 1, "properties": {"x": True}}, {}),
    ({"type": "object", "properties": {"x": {"type": ["string", "null"]}}}, {"x": None}),
]


@pytest.mark.parametrize(("schema", "data"), AGREEMENT)
def test_the_fast_path_agrees_with_jsonschema(schema, data):
    """Given $ref or boolean subschemas, the fast check and validate agree with jsonschema."""
    expected = Draft202012Validator(schema).is_valid(data)

    assert _fast_is_valid(schema)(data) is expected
    contract = Contract("s.domain", "Agree", "1.0", schema)
    if expected:
        contract.validate(data)
    else:
        with pytest.raises(ContractViolation):
            contract.validate(data)


values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-5, 5) | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=8,
)
instances = values | st.fixed_dictionaries(
    {},
    optional={
        "sale_id": values | st.text(max_size=70),
        "amount": values,
        "timestamp": values | st.text(min_size=8, max_size=12),
        "currency": values | st.sampled_from(["EUR", "eur", "EURO"]),
        "extra": values,
    },
)


@settings(max_examples=400, deadline=None)
@given(data=instances)
def test_the_fast_check_agrees_with_jsonschema(data):
    """The per-property fast path must accept exactly what jsonschema itself accepts."""
    for contract in mk.contracts.default_registry():
        expected = Draft202012Validator(contract.schema).is_valid(data)
        try:
            contract.validate(data)
            accepted = True
        except ContractViolation:
            accepted = False
        assert accepted is expected, (contract.key, data)


# -- the compiled check (jsonschema-rs) agrees with jsonschema -----------------------------------

NAMES = ["a", "b", "c"]
TYPES = ["null", "boolean", "integer", "number", "string", "array", "object"]
# Where Python's re and Rust's regex differ: $ before a final newline, \s, \d and \w in Unicode.
PATTERNS = ["^[A-Z]{3}$", r"^\s$", r"\d", r"^\w+$", "é", "^a", "b$", "(?i)^e", "^.{2}$"]
TEXTS = ["", "a", "b", "ab", "EUR", "EUR\n", "eur", "\ufeff", "\x1c", "٣", "é", "e\u0301", "😀",
         "2026-01-29", "x@y.z", "%%"]  # fmt: skip
NUMBERS = [0, 1, -1, 3, 1.0, 0.5, 0.3, 0.1, -2.5, 1e300, 2**53 + 1, 2.0**53, 10**20, 10**400]
scalars = (
    st.none()
    | st.booleans()
    | st.sampled_from(NUMBERS)
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(TEXTS)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.lists(inner, max_size=3).map(tuple)  # jsonschema takes no tuple for an array
        | st.dictionaries(st.sampled_from(NAMES), inner, max_size=3)
    ),
    max_leaves=8,
)
# What a schema may hold: JSON (finite numbers, lists).
schema_values = st.recursive(
    st.none() | st.booleans() | st.sampled_from(NUMBERS[:-1]) | st.sampled_from(TEXTS),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(NAMES), inner),
    max_leaves=4,
)
bounds = st.sampled_from([0, 1, 2, -1, 0.5, 2.5, 2.0**53, 10**20])
counts = st.integers(0, 3)
leaf_schemas = st.booleans() | st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(TYPES) | st.lists(st.sampled_from(TYPES), min_size=1, unique=True),
        "minimum": bounds,
        "maximum": bounds,
        "exclusiveMinimum": bounds,
        "exclusiveMaximum": bounds,
        "multipleOf": st.sampled_from([0.1, 0.01, 0.5, 2, 3, 1.5, 1e-300]),
        "minLength": counts,
        "maxLength": counts,
        "pattern": st.sampled_from(PATTERNS),
        "format": st.sampled_from(["date", "email", "uuid", "ipv4", "date-time", "regex"]),
        "enum": st.lists(schema_values, min_size=1, max_size=3),
        "const": schema_values,
        "required": st.lists(st.sampled_from(NAMES), max_size=2, unique=True),
        "minProperties": counts,
        "maxProperties": counts,
        "minItems": counts,
        "maxItems": counts,
        "uniqueItems": st.booleans(),
        "dependentRequired": st.dictionaries(
            st.sampled_from(NAMES), st.lists(st.sampled_from(NAMES), max_size=2, unique=True)
        ),
        "contentMediaType": st.just("application/json"),
        "contentEncoding": st.just("base64"),
        "title": st.just("annotations change nothing"),
    },
)


def _compound(inner):
    return st.fixed_dictionaries(
        {},
        optional={
            "properties": st.dictionaries(st.sampled_from(NAMES), inner, max_size=3),
            "additionalProperties": inner,
            "propertyNames": inner,
            "dependentSchemas": st.dictionaries(st.sampled_from(NAMES), inner, max_size=2),
            "unevaluatedProperties": inner,
            "items": inner,
            "prefixItems": st.lists(inner, min_size=1, max_size=2),
            "contains": inner,
            "minContains": counts,
            "maxContains": counts,
            "unevaluatedItems": inner,
            "allOf": st.lists(inner, min_size=1, max_size=2),
            "anyOf": st.lists(inner, min_size=1, max_size=2),
            "oneOf": st.lists(inner, min_size=1, max_size=2),
            "not": inner,
            "if": inner,
            "then": inner,
            "else": inner,
            "$defs": st.fixed_dictionaries({"d": inner}),
            "$ref": st.sampled_from(["#", "#/$defs/d"]),
        },
    )


def _usable(schema):
    """A valid 2020-12 schema whose $refs have targets."""
    try:
        Draft202012Validator.check_schema(schema)
    except Exception:
        return False
    text = json.dumps(schema)
    return '"#/$defs/d"' not in text or (isinstance(schema, dict) and "$defs" in schema)


schemas = st.recursive(leaf_schemas, _compound, max_leaves=6).filter(_usable)


def jsonschema_verdict(schema, data):
    try:
        return Draft202012Validator(schema).is_valid(data)
    except (ValueError, OverflowError, RecursionError):  # see the violations tested below
        return None


@settings(max_examples=500, deadline=None)
@given(schema=schemas, data=json_values)
def test_the_compiled_check_agrees_with_jsonschema(schema, data):
    """Given any schema and data, the compiled verdict (when it gives one) is jsonschema's, and
    validate accepts exactly what jsonschema accepts."""
    expected = jsonschema_verdict(schema, data)
    compiled = _compiled_is_valid(schema)

    if compiled is not None and _plain_json(data) and expected is not None:
        assert compiled(data) is expected, (schema, data)
    if expected is not None:
        contract = Contract("s.domain", "Generated", "1.0", schema)
        try:
            contract.validate(data)
            accepted = True
        except ContractViolation:
            accepted = False
        assert accepted is expected, (schema, data)


@pytest.mark.parametrize(
    ("schema", "data", "valid"),
    [
        ({"type": "integer"}, 1.0, True),  # 1.0 is an integer in JSON Schema
        ({"type": "integer"}, 1.5, False),
        ({"enum": [1]}, True, False),  # booleans are not numbers
        ({"uniqueItems": True}, [1, 1.0], False),
        ({"multipleOf": 0.1}, 0.3, False),  # jsonschema divides floats; Rust would say yes
        ({"pattern": "^[A-Z]{3}$"}, "EUR\n", True),  # Python's $ matches before a newline
        ({"not": {"pattern": "^[A-Z]{3}$"}}, "EUR\n", False),
        ({"pattern": r"^\s$"}, "\ufeff", False),
        ({"pattern": "^a{,3}$"}, "aa", True),  # Python's re takes it, Rust's regex does not
        ({"maxLength": 1}, "😀", True),  # code points, not UTF-8 bytes
        ({"maxLength": 1}, "e\u0301", False),
        ({"format": "email"}, "not an email", True),  # formats are annotations
        ({"format": "date"}, "2026-13-45", True),
        ({"maximum": 2.0**53}, 2**53 + 1, False),  # compared exactly, not as floats
        ({"const": 10**20}, 10**20 + 1, False),
    ],
)
def test_the_compiled_check_keeps_jsonschemas_rules(schema, data, valid):
    compiled = _compiled_is_valid(schema)

    assert compiled is not None
    assert compiled(data) is valid
    assert Draft202012Validator(schema).is_valid(data) is valid


def nested(levels):
    data: list = []
    for _ in range(levels):
        data = [data]
    return data


@pytest.mark.parametrize(
    "data",
    [
        {"x": (1, 2)},  # a tuple: jsonschema says it is not an array, jsonschema-rs that it is
        {"x": -(10**5000)},  # jsonschema-rs takes it for any number
        {"x": 10**400},  # beyond a float
        {"x": float("inf")},
        {"x": {"y": 1.5}.keys()},
        nested(70),  # jsonschema-rs recursion has no limit (the process would crash)
    ],
    ids=["tuple", "huge int", "beyond a float", "infinity", "other type", "deep"],
)
def test_data_the_compiled_check_may_misjudge_goes_to_jsonschema(data):
    assert not _plain_json(data)
    assert _plain_json({"a": [1, 2.5, "é", None, True, {"b": 2**1000}], "c": nested(60)})


@pytest.mark.parametrize(
    ("schema", "data"),
    [
        ({"type": "object"}, {1: "an int key"}),  # jsonschema-rs cannot convert it
        ({"properties": {"1": {"type": "string"}}}, {1: 2}),
        ({"type": "string"}, "\ud800"),  # nor a lone surrogate
        ({"type": "array"}, (1, 2)),
        ({"maximum": 1}, float("inf")),
        ({"properties": {"x": {"type": "array"}}}, {"x": ()}),
    ],
)
def test_validate_judges_what_the_compiled_check_cannot_as_jsonschema_does(schema, data):
    contract = Contract("s.domain", "X", "1.0", schema)
    expected = Draft202012Validator(schema).is_valid(data)

    if expected:
        contract.validate(data)
    else:
        with pytest.raises(ContractViolation):
            contract.validate(data)


@pytest.mark.parametrize(
    "schema",
    [
        {"patternProperties": {"^a$": {"type": "string"}}},  # keys matched by Rust's regex
        {"$ref": "other.json"},  # outside the contract: never fetched
        {"$ref": "#/$defs/nope"},
    ],
)
def test_schemas_the_compiled_check_cannot_take_fall_back_to_jsonschema(schema, http_recorder):
    """Given a schema jsonschema-rs cannot take (or is not trusted with), the contract is checked
    by jsonschema, as before, and nothing is fetched."""
    assert _compiled_is_valid(schema) is None
    remote = {"$ref": f"{http_recorder.url}/x.json"}
    assert _compiled_is_valid(remote) is None
    assert http_recorder.requests == []

    contract = Contract("s.domain", "Fallback", "1.0", with_property(schema, name="a"))
    if "$ref" in schema:
        with pytest.raises(UnresolvableReferenceError):
            contract.validate({"a": "aa"})
    else:
        contract.validate({"a": "aa"})
        with pytest.raises(ContractViolation):
            contract.validate({"a": {"a": 1}})


def test_the_shipped_contracts_use_the_compiled_check():
    for contract in mk.contracts.default_registry():
        assert contract._compiled is not None, contract.key


# -- remote references -----------------------------------------------------------------------


def test_a_remote_ref_is_never_fetched(http_recorder):
    """Given a contract whose property refers to a schema on an HTTP server, when data reaches
    that $ref, then meshkit raises an error naming it and the server receives no request.

    Today jsonschema fetched it (and validated against what the server answered).
    """
    ref = f"{http_recorder.url}/a.json"
    contract = Contract("s.domain", "Remote", "1.0", with_property({"$ref": ref}, name="a"))

    with pytest.raises(UnresolvableReferenceError, match="never fetches") as raised:
        contract.validate({"a": 1})

    assert raised.value.ref == ref
    assert ref in str(raised.value) and "$defs" in str(raised.value)
    assert http_recorder.requests == []


@pytest.mark.parametrize(
    "where",
    ["root", "defs", "items", "anyOf", "relative"],
)
def test_bad_input_refs_outside_the_contract_are_refused_not_fetched(http_recorder, where):
    """Wherever a $ref hides, validate raises UnresolvableReferenceError and fetches nothing."""
    ref = f"{http_recorder.url}/{where}.json" if where != "relative" else "other.json"
    schema = {
        "root": {"$ref": ref},
        "defs": {"$defs": {"m": {"$ref": ref}}, **with_property({"$ref": "#/$defs/m"})},
        "items": with_property({"type": "array", "items": {"$ref": ref}}),
        "anyOf": with_property({"anyOf": [{"type": "null"}, {"$ref": ref}]}),
        "relative": with_property({"$ref": ref}),
    }[where]
    contract = Contract("s.domain", "Remote", "1.0", schema)

    with pytest.raises(UnresolvableReferenceError, match="copy the referenced schema"):
        contract.validate({"x": [1]} if where == "items" else {"x": 1})
    assert http_recorder.requests == []


def test_a_ref_to_nowhere_in_the_contract_is_a_clear_error():
    contract = Contract("s.domain", "Missing", "1.0", with_property({"$ref": "#/$defs/nope"}))

    with pytest.raises(UnresolvableReferenceError, match=r"#/\$defs/nope"):
        contract.validate({"x": 1})


# -- compatibility: each change, and whom it breaks ------------------------------------------


@pytest.mark.parametrize(
    ("changes", "text", "breaks_old", "breaks_new"),
    [
        ({"add": {"currency": {"type": "string"}}}, "added optional data.currency", False, False),
        (
            {"add": {"channel": {"type": "string"}}, "require": ["channel"]},
            "added required data.channel",
            False,
            True,
        ),
        ({"remove": ["amount"]}, "removed required data.amount", True, False),
        ({"remove": ["note"]}, "removed data.note", False, False),
        (
            {"retype": {"amount": "string"}},
            "retyped data.amount from number to string",
            True,
            True,
        ),
        ({"require": ["note"]}, "made data.note required", False, True),
        ({"optional": ["amount"]}, "made data.amount optional", True, False),
    ],
)
def test_each_change_says_which_consumers_it_breaks(changes, text, breaks_old, breaks_new):
    """Confluent: BACKWARD allows adding optional and removing fields, FORWARD allows adding
    fields and removing optional ones (schema-evolution page): so a new required field breaks
    new-schema consumers reading old data, a removed required one breaks old-schema consumers.
    """
    report = mk.contracts.check_compatibility(SCHEMA, evolve(**changes))

    assert only_change(report) == (text, breaks_old, breaks_new)
    assert report.is_compatible is not (breaks_old or breaks_new), "FULL by default"


def test_required_made_optional_breaks_old_consumers_under_the_default_mode():
    """Given a required field made optional, when checked with the default mode (FULL), then it
    is breaking: an old-schema consumer reading new data that lacks the field fails.

    In BACKWARD alone it is fine (new consumers read old data, which always has it).
    """
    new = evolve(optional=["amount"])

    report = mk.contracts.check_compatibility(SCHEMA, new)

    assert not report.is_compatible
    assert report.to_frame().to_dict("records") == [
        {"change": "made data.amount optional", "breaking": True, "breaks": "old-schema consumers"}
    ]
    assert mk.contracts.check_compatibility(SCHEMA, new, mode="BACKWARD").is_compatible


@pytest.mark.parametrize(
    ("mode", "compatible"),
    [
        ("BACKWARD", True),
        ("BACKWARD_ALL", True),
        ("FORWARD", False),
        ("FORWARD_TRANSITIVE", False),
        ("FULL", False),
        ("full_all", False),
        ("NONE", True),
        ("DISABLED", False),
    ],
)
def test_the_mode_decides_which_consumers_count(mode, compatible):
    """Glue's modes (NONE accepts everything, DISABLED no new version) on one FORWARD break."""
    report = mk.contracts.check_compatibility(SCHEMA, evolve(remove=["amount"]), mode=mode)

    assert report.is_compatible is compatible
    assert report.mode == mode.upper().replace("_TRANSITIVE", "_ALL")


def test_array_items_are_compared_recursively():
    """Given an array whose items are retyped, then it breaks both sides (today: compatible)."""
    old = with_property({"type": "array", "items": {"type": "string"}}, name="tags")
    new = with_property({"type": "array", "items": {"type": "integer"}}, name="tags")

    report = mk.contracts.check_compatibility(old, new)

    assert only_change(report) == ("retyped data.tags[] from string to integer", True, True)
    assert not report.is_compatible


def test_compatibility_looks_into_nested_objects_and_arrays_of_objects():
    new = evolve()
    new["properties"]["customer"] = {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "integer"}},
    }
    new["properties"]["lines"] = {
        "type": "array",
        "items": {"type": "object", "required": ["sku"], "properties": {"sku": {"type": "string"}}},
    }
    old = evolve(add={"lines": {"type": "array", "items": {"type": "object"}}})

    report = mk.contracts.check_compatibility(old, new)

    assert report.breaking == (
        "retyped data.customer.id from string to integer",
        "added required data.lines[].sku",
    )
    assert report.compatible == ("removed data.customer.tier",)


@pytest.mark.parametrize(
    ("old", "new", "text", "breaks_old", "breaks_new"),
    [
        ({"type": "string"}, {"type": ["string", "null"]}, "made data.x nullable", True, False),
        ({"type": ["string", "null"]}, {"type": "string"}, "made data.x non-nullable", False, True),
        (
            {"type": "string"},
            {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "made data.x nullable",
            True,
            False,
        ),
        (
            {"type": "integer"},
            {"type": "number"},
            "widened data.x from integer to number",
            True,
            False,
        ),
        (
            {"type": "number"},
            {"type": "integer"},
            "narrowed data.x from number to integer",
            False,
            True,
        ),
        (
            {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            {"oneOf": [{"type": "string"}, {"type": "boolean"}]},
            "retyped data.x from [integer, string] to [boolean, string]",
            True,
            True,
        ),
        (
            {"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}]},
            {"type": ["string", "null"], "maxLength": 3},
            "tightened data.x: maxLength 5 -> maxLength 3",
            False,
            True,
        ),
        ({}, {"type": "string"}, "narrowed data.x from any type to string", False, True),
        (False, {"type": "string"}, "allowed data.x, which was false (no value)", True, False),
        (True, False, "made data.x false (no value allowed)", False, True),
    ],
)
def test_nullable_union_and_boolean_types(old, new, text, breaks_old, breaks_new):
    """A value of a type the other side lacks breaks whoever reads it (null for old consumers)."""
    report = mk.contracts.check_compatibility(with_property(old), with_property(new))

    assert only_change(report) == (text, breaks_old, breaks_new)


def test_a_type_list_and_the_same_anyof_are_the_same_schema():
    listed = with_property({"type": ["string", "null"], "maxLength": 5})
    union = with_property({"anyOf": [{"type": "string", "maxLength": 5}, {"type": "null"}]})

    assert mk.contracts.check_compatibility(listed, union).changes == ()
    assert mk.contracts.check_compatibility(union, listed).changes == ()


@pytest.mark.parametrize(
    ("old", "new", "text", "breaks_old", "breaks_new"),
    [
        (
            {"enum": ["web", "store"]},
            {"enum": ["web", "store", "phone"]},
            "added ['phone'] to the enum of data.x",
            True,
            False,
        ),
        (
            {"enum": ["web", "store", "phone"]},
            {"enum": ["web", "store"]},
            "removed ['phone'] from the enum of data.x",
            False,
            True,
        ),
        (
            {"type": "string"},
            {"type": "string", "enum": ["web"]},
            "restricted data.x to enum ['web']",
            False,
            True,
        ),
        (
            {"type": "string", "enum": ["web", "store"]},
            {"type": "string"},
            "dropped the enum ['store', 'web'] of data.x",
            True,
            False,
        ),
        ({"const": 1}, {"const": 1.0}, None, False, False),
    ],
)
def test_enums_in_the_right_direction(old, new, text, breaks_old, breaks_new):
    """BACKWARD: the new enum must hold every old value; FORWARD: the reverse (Confluent's
    ENUM_ARRAY_EXTENDED is backward compatible only). JSON Schema counts 1 and 1.0 as equal.
    """
    report = mk.contracts.check_compatibility(with_property(old), with_property(new))

    if text is None:
        assert report.changes == ()
    else:
        assert only_change(report) == (text, breaks_old, breaks_new)
    backward = mk.contracts.check_compatibility(
        with_property(old), with_property(new), mode="BACKWARD"
    )
    assert backward.is_compatible is not breaks_new


def test_a_changed_const_breaks_both_sides():
    report = mk.contracts.check_compatibility(
        with_property({"const": "v1"}), with_property({"const": "v2"})
    )

    assert [(c.change, c.breaks_old, c.breaks_new) for c in report.changes] == [
        ("removed ['v1'] from the const of data.x", False, True),
        ("added ['v2'] to the const of data.x", True, False),
    ]


def test_true_and_1_are_different_values():
    """JSON Schema keeps booleans and numbers apart, though Python says True == 1."""
    report = mk.contracts.check_compatibility(
        with_property({"enum": [True]}), with_property({"enum": [1]})
    )

    assert not report.is_compatible


@pytest.mark.parametrize(
    ("old", "new", "text", "breaks_old", "breaks_new"),
    [
        (
            {"minimum": 0},
            {"minimum": 10},
            "tightened data.x: minimum 0 -> minimum 10",
            False,
            True,
        ),
        (
            {"maximum": 100},
            {"maximum": 200},
            "loosened data.x: maximum 100 -> maximum 200",
            True,
            False,
        ),
        (
            {"minimum": 0},
            {"exclusiveMinimum": 0},
            "tightened data.x: minimum 0 -> exclusiveMinimum 0",
            False,
            True,
        ),
        ({"minimum": 0, "exclusiveMinimum": 0}, {"exclusiveMinimum": 0}, None, False, False),
        ({}, {"maximum": 5}, "added maximum 5 to data.x", False, True),
        ({"maximum": 5}, {}, "dropped maximum 5 of data.x", True, False),
        (
            {"multipleOf": 0.5},
            {"multipleOf": 0.25},
            "changed multipleOf of data.x: 0.5 -> 0.25",
            True,
            False,
        ),
        (
            {"multipleOf": 0.1},
            {"multipleOf": 0.3},
            "changed multipleOf of data.x: 0.1 -> 0.3",
            False,
            True,
        ),
    ],
)
def test_numeric_constraints_in_the_right_direction(old, new, text, breaks_old, breaks_new):
    """A tighter bound rejects old data (new-schema consumers break); a looser one lets new data
    through that old-schema consumers reject."""
    report = mk.contracts.check_compatibility(
        with_property({"type": "number", **old}), with_property({"type": "number", **new})
    )

    if text is None:
        assert report.changes == ()
    else:
        assert only_change(report) == (text, breaks_old, breaks_new)


@pytest.mark.parametrize(
    ("old", "new", "text", "breaks_old", "breaks_new"),
    [
        (
            {"type": "string", "minLength": 1},
            {"type": "string", "minLength": 0},
            "loosened data.x: minLength 1 -> minLength 0",
            True,
            False,
        ),
        (
            {"type": "string"},
            {"type": "string", "maxLength": 5},
            "added maxLength 5 to data.x",
            False,
            True,
        ),
        (
            {"type": "string"},
            {"type": "string", "pattern": "^S-"},
            "added pattern '^S-' to data.x",
            False,
            True,
        ),
        (
            {"type": "string", "pattern": "^S-"},
            {"type": "string"},
            "dropped pattern '^S-' of data.x",
            True,
            False,
        ),
        (
            {"type": "string", "pattern": "^S-"},
            {"type": "string", "pattern": "^S-[0-9]+$"},
            "changed pattern of data.x: '^S-' -> '^S-[0-9]+$'",
            True,
            True,
        ),
        (
            {"type": "string"},
            {"type": "string", "format": "date-time"},
            "added format 'date-time' to data.x",
            False,
            True,
        ),
        (
            {"type": "array", "maxItems": 3},
            {"type": "array", "maxItems": 2},
            "tightened data.x: maxItems 3 -> maxItems 2",
            False,
            True,
        ),
        (
            {"type": "array"},
            {"type": "array", "uniqueItems": True},
            "added uniqueItems to data.x",
            False,
            True,
        ),
        (
            {"type": "object", "minProperties": 2},
            {"type": "object"},
            "dropped minProperties 2 of data.x",
            True,
            False,
        ),
    ],
)
def test_string_array_and_object_constraints(old, new, text, breaks_old, breaks_new):
    report = mk.contracts.check_compatibility(with_property(old), with_property(new))

    assert only_change(report) == (text, breaks_old, breaks_new)


@pytest.mark.parametrize(
    ("old", "new", "keyword"),
    [
        ({"type": "string"}, {"type": "string", "not": {"const": ""}}, "not"),
        ({"allOf": [{"type": "string"}]}, {"allOf": [{"type": "integer"}]}, "allOf"),
        ({"type": "object"}, {"type": "object", "if": {"required": ["a"]}, "then": {}}, "if"),
        (
            {"type": "object", "patternProperties": {"^a": {"type": "string"}}},
            {"type": "object", "patternProperties": {"^a": {"type": "integer"}}},
            "patternProperties",
        ),
        (
            {"type": "object"},
            {"type": "object", "propertyNames": {"maxLength": 3}},
            "propertyNames",
        ),
        (
            {"type": "object"},
            {"type": "object", "dependentRequired": {"a": ["b"]}},
            "dependentRequired",
        ),
        ({"$ref": "https://example.com/a.json"}, {"type": "string"}, "https://example.com/a.json"),
        ({"type": "string", "x-rule": 1}, {"type": "string", "x-rule": 2}, "x-rule"),
        (
            {"anyOf": [{"type": "object", "required": ["a"]}, {"type": "object"}]},
            {"anyOf": [{"type": "object", "required": ["b"]}, {"type": "object"}]},
            "anyOf/oneOf",
        ),
    ],
)
def test_keywords_not_compared_are_unchecked_and_fail_closed(old, new, keyword):
    """Every keyword meshkit does not compare is reported, and makes the result not compatible
    in every mode that checks anything."""
    report = mk.contracts.check_compatibility(with_property(old), with_property(new))

    assert any(keyword in change for change in report.unchecked), report.changes
    for mode in ("BACKWARD", "FORWARD", "FULL"):
        checked = mk.contracts.check_compatibility(
            with_property(old), with_property(new), mode=mode
        )
        assert not checked.is_compatible
    assert "unknown (not compared)" in set(report.to_frame().breaks)


def test_an_unchanged_keyword_that_is_not_compared_does_not_block_a_compatible_change():
    """Keywords of one schema are a conjunction: the same extra constraint on both sides keeps
    an inclusion true, so an unchanged ``not`` needs no comparison."""
    old = {**SCHEMA, "not": {"required": ["forbidden"]}}
    new = {**evolve(add={"currency": {"type": "string"}}), "not": {"required": ["forbidden"]}}

    assert mk.contracts.check_compatibility(old, new).is_compatible


def test_local_refs_are_followed_and_recursion_ends():
    money = {"$defs": {"money": {"type": "number"}}}
    old = {**money, **with_property({"$ref": "#/$defs/money"}, name="amount")}
    new = copy.deepcopy(old)
    new["$defs"]["money"] = {"type": "string"}
    tree_2 = copy.deepcopy(TREE)
    tree_2["properties"]["note"] = {"type": "string"}
    tree_3 = copy.deepcopy(TREE)
    tree_3["properties"]["name"] = {"type": "integer"}

    assert mk.contracts.check_compatibility(old, new).breaking == (
        "retyped data.amount from number to string",
    )
    assert mk.contracts.check_compatibility(TREE, tree_2).compatible == (
        "added optional data.note",
    )
    assert mk.contracts.check_compatibility(TREE, tree_3).breaking == (
        "retyped data.name from string to integer",
    )


@pytest.mark.parametrize(
    ("policy", "old", "new", "text", "breaks_old", "breaks_new"),
    [
        ("lenient", {}, {"x": {"type": "string"}}, "added optional data.x", False, False),
        ("strict", {}, {"x": {"type": "string"}}, "added optional data.x", False, True),
        ("lenient", {"x": {"type": "string"}}, {}, "removed data.x", False, False),
        ("strict", {"x": {"type": "string"}}, {}, "removed data.x", True, False),
        (
            "lenient",
            {"additionalProperties": False},
            {"x": {"type": "string"}, "additionalProperties": False},
            "added optional data.x",
            True,
            False,
        ),
        (
            "strict",
            {"x": {"type": "string"}, "additionalProperties": False},
            {"additionalProperties": False},
            "removed data.x",
            False,
            True,
        ),
        (
            "lenient",
            {},
            {"additionalProperties": False},
            "closed data (additionalProperties: false)",
            False,
            False,
        ),
        (
            "strict",
            {},
            {"additionalProperties": False},
            "closed data (additionalProperties: false)",
            False,
            True,
        ),
        (
            "strict",
            {"additionalProperties": False},
            {},
            "opened data (additionalProperties was false)",
            True,
            False,
        ),
        (
            "strict",
            {"additionalProperties": {"type": "string"}},
            {"x": {"type": "string"}, "additionalProperties": {"type": "string"}},
            "added optional data.x",
            False,
            False,
        ),
        (
            "lenient",
            {"additionalProperties": {"type": "string"}},
            {"x": {"type": "integer"}, "additionalProperties": {"type": "string"}},
            "added optional data.x",
            True,
            True,
        ),
    ],
)
def test_open_closed_and_partially_open_content_models(
    policy, old, new, text, breaks_old, breaks_new
):
    """Confluent's JSON Schema rules (serdes-json page, "JSON Schema compatibility rules"): in an
    open model old data may hold any property (strict: adding one breaks BACKWARD); lenient
    assumes producers write only declared properties; closed and partially open models are
    judged by what their additionalProperties admits.
    """
    old_schema = {"type": "object", **{k: v for k, v in old.items() if k != "x"}}
    new_schema = {"type": "object", **{k: v for k, v in new.items() if k != "x"}}
    for schema, spec in ((old_schema, old), (new_schema, new)):
        if "x" in spec:
            schema["properties"] = {"x": spec["x"]}

    report = mk.contracts.check_compatibility(old_schema, new_schema, policy=policy)

    assert only_change(report) == (text, breaks_old, breaks_new), CONFLUENT_JSON_RULES


def test_the_shipped_sale_recorded_versions_are_compatible():
    old, new = (mk.contracts.get("sales.domain", "SaleRecorded", v) for v in ("1.0", "1.1"))

    report = mk.contracts.check_compatibility(old, new)

    assert report.is_compatible
    assert report.to_frame().to_dict("records") == [
        {"change": "added optional data.currency", "breaking": False, "breaks": "none"}
    ]
    assert not mk.contracts.check_compatibility(old, new, policy="strict").is_compatible


# -- the registry ----------------------------------------------------------------------------


def test_register_refuses_a_version_that_drops_a_required_field():
    """Given 1.0, when 1.1 drops the required ``amount``, then register refuses it (FULL mode):
    old-schema consumers would read events without it. Today 1.1 became the latest."""
    registry = ContractRegistry([Contract("s.domain", "X", "1.0", SCHEMA)])

    with pytest.raises(IncompatibleContractError) as raised:
        registry.register(Contract("s.domain", "X", "1.1", evolve(remove=["amount"])))

    message = str(raised.value)
    assert "removed required data.amount (breaks old-schema consumers)" in message
    assert "'2.0'" in message and "mode=" in message
    assert raised.value.reports[0].new == "s.domain/X/1.1"
    assert registry.get("s.domain", "X").version == "1.0"


def test_a_new_major_version_starts_a_new_line():
    registry = ContractRegistry([Contract("s.domain", "X", "1.0", SCHEMA)])

    registry.register(Contract("s.domain", "X", "2.0", evolve(remove=["amount"])))
    registry.register(Contract("s.domain", "X", "1.1", evolve(add={"c": {"type": "string"}})))

    assert registry.get("s.domain", "X").version == "2.0"
    with pytest.raises(IncompatibleContractError, match=r"'3\.0'"):
        registry.register(Contract("s.domain", "X", "2.1", SCHEMA | {"required": ["sale_id"]}))


def test_a_version_inserted_between_two_is_checked_against_the_next_one_too():
    registry = ContractRegistry(
        [
            Contract("s.domain", "X", "1.0", SCHEMA),
            Contract("s.domain", "X", "1.2", evolve(add={"currency": {"type": "string"}})),
        ]
    )

    between = Contract("s.domain", "X", "1.1", evolve(add={"currency": {"type": "integer"}}))

    assert mk.contracts.check_compatibility(
        registry.get("s.domain", "X", "1.0"), between
    ).is_compatible
    with pytest.raises(IncompatibleContractError) as raised:
        registry.register(between)
    assert str(raised.value).count(" -> ") == 1
    assert "s.domain/X/1.1 -> s.domain/X/1.2: retyped data.currency" in str(raised.value)


def test_transitive_modes_check_every_earlier_version():
    """Glue's FULL_ALL: compatible with all previous versions, not just the last one."""
    v10 = Contract("s.domain", "X", "1.0", evolve(add={"tier": {"type": "integer"}}))
    v11 = Contract("s.domain", "X", "1.1", evolve())
    v12 = Contract("s.domain", "X", "1.2", evolve(add={"tier": {"type": "string"}}))

    ContractRegistry([v10, v11, v12], mode="FULL")  # each step alone is compatible
    with pytest.raises(IncompatibleContractError, match=r"1\.0 -> s\.domain/X/1\.2"):
        ContractRegistry([v10, v11, v12], mode="FULL_ALL")


def test_modes_none_and_disabled():
    v10 = Contract("s.domain", "X", "1.0", SCHEMA)
    breaking = Contract("s.domain", "X", "1.1", evolve(remove=["amount"]))
    harmless = Contract("s.domain", "X", "1.1", evolve(add={"c": {"type": "string"}}))

    assert ContractRegistry([v10, breaking], mode="NONE").get("s.domain", "X").version == "1.1"
    with pytest.raises(IncompatibleContractError, match="DISABLED accepts no new version"):
        ContractRegistry([v10, harmless], mode="DISABLED")


def test_the_registry_mode_is_a_constructor_argument_with_a_documented_default():
    assert ContractRegistry().mode == "FULL"
    assert ContractRegistry(mode="backward_transitive").mode == "BACKWARD_ALL"
    assert mk.contracts.default_registry().mode == "FULL"
    registry = ContractRegistry([Contract("s.domain", "X", "1.0", SCHEMA)], mode="BACKWARD")
    registry.register(Contract("s.domain", "X", "1.1", evolve(remove=["amount"])))


def test_a_published_version_cannot_change():
    registry = ContractRegistry([Contract("s.domain", "X", "1.0", SCHEMA)])
    again = registry.register(Contract("s.domain", "X", "1.0", copy.deepcopy(SCHEMA)))

    assert again is registry.get("s.domain", "X", "1.0"), "the same again is a no-op"
    with pytest.raises(ContractConflictError, match="publish a new version"):
        registry.register(Contract("s.domain", "X", "1.0", evolve(remove=["note"])))


def test_unknown_contracts_are_clear_errors():
    with pytest.raises(UnknownContractError, match=r"no contract .*'Nope'.*register one"):
        ContractRegistry().get("s.domain", "Nope")


# -- immutability ----------------------------------------------------------------------------


def test_a_shallow_copy_cannot_change_a_registered_contract():
    """Given a registered contract, when a learner edits ``dict(contract.schema)``'s nested
    properties (a shallow copy), then it is refused and the contract is unchanged.
    Today the edit went through to the registered schema while its validator kept the old one."""
    registry = ContractRegistry([Contract("s.domain", "X", "1.0", SCHEMA)])
    shallow = dict(registry.get("s.domain", "X").schema)

    with pytest.raises(ReadOnlySchemaError, match=r"copy\.deepcopy"):
        shallow["properties"]["grafted"] = {"type": "string"}
    assert "grafted" not in registry.get("s.domain", "X").schema["properties"]


def test_the_contract_keeps_its_own_copy_of_the_schema():
    schema = copy.deepcopy(SCHEMA)
    contract = Contract("s.domain", "X", "1.0", schema)

    schema["properties"]["amount"]["type"] = "string"

    assert contract.schema["properties"]["amount"] == {"type": "number"}
    contract.validate({"sale_id": "s", "amount": 1, "customer": {"id": "c"}})


def test_a_deep_copy_is_editable_and_the_schema_reads_like_json():
    contract = Contract("s.domain", "X", "1.0", SCHEMA)

    editable = copy.deepcopy(dict(contract.schema))  # notebook 02's idiom
    editable["properties"]["channel"] = {"type": "string"}
    editable["required"].remove("customer")

    assert contract.schema == SCHEMA and json.loads(json.dumps(contract.schema)) == SCHEMA
    assert "channel" not in contract.schema["properties"]
    assert pickle.loads(pickle.dumps(contract)) == contract
    assert copy.deepcopy(contract).schema == SCHEMA
    assert hash(contract) == hash(Contract("s.domain", "X", "1.0", SCHEMA))


@pytest.mark.parametrize(
    "change",
    [
        lambda s: s.__setitem__("type", "array"),
        lambda s: s.__delitem__("type"),
        lambda s: s.update(type="array"),
        lambda s: s.pop("type"),
        lambda s: s.popitem(),
        lambda s: s.setdefault("minProperties", 1),
        lambda s: s.clear(),
        lambda s: s.__ior__({"type": "array"}),
        lambda s: s["required"].append("note"),
        lambda s: s["required"].remove("amount"),
        lambda s: s["required"].__setitem__(0, "note"),
        lambda s: s["required"].sort(),
        lambda s: s["required"].__iadd__(["note"]),
        lambda s: s["properties"]["customer"]["properties"]["id"].__setitem__("type", "integer"),
    ],
)
def test_bad_input_changing_a_registered_schema_in_place(change):
    contract = Contract("s.domain", "X", "1.0", SCHEMA)

    with pytest.raises(ReadOnlySchemaError, match=r"read-only.*copy\.deepcopy\(contract\.schema\)"):
        change(contract.schema)
    assert contract.schema == SCHEMA
    assert isinstance(ReadOnlySchemaError("x"), MeshkitError)


# -- bad inputs ------------------------------------------------------------------------------


def _cyclic():
    schema = {"type": "object", "properties": {}}
    schema["properties"]["self"] = schema
    return schema


def _deep(levels):
    schema = {"type": "string"}
    for _ in range(levels):
        schema = {"type": "array", "items": schema}
    return schema


@pytest.mark.parametrize(
    ("fields", "error", "words"),
    [
        ({"schema": [{"type": "object"}]}, ContractSchemaError, ["is a list", "is a dict"]),
        ({"schema": '{"type": "object"}'}, ContractSchemaError, ["is a str", "is a dict"]),
        ({"schema": None}, ContractSchemaError, ["is a NoneType", "pass e.g."]),
        ({"schema": {"type": "nonsense"}}, ContractSchemaError, [r"at \$\.type", "fix that"]),
        (
            {"schema": with_property({"minimum": "0"})},
            ContractSchemaError,
            [r"\$\.properties\.x\.minimum", "fix that keyword"],
        ),
        (
            {"schema": with_property({"type": "string", "pattern": "["})},
            ContractSchemaError,
            [r"\$\.properties\.x\.pattern", "regex"],
        ),
        (
            {"schema": {"type": "object", "properties": {1: {"type": "string"}}}},
            ContractSchemaError,
            ["key 1", "keys are strings", "write '1'"],
        ),
        (
            {"schema": with_property({"type": "number", "maximum": float("nan")})},
            ContractSchemaError,
            [r"\$\.properties\.x\.maximum is nan", "finite number"],
        ),
        (
            {"schema": with_property({"enum": {"a", "b"}})},
            ContractSchemaError,
            [r"\$\.properties\.x\.enum holds a set", "sorted list"],
        ),
        ({"schema": _cyclic()}, ContractSchemaError, ["contains itself", r"\$ref"]),
        ({"schema": _deep(70)}, ContractSchemaError, ["deeper than 64 levels", r"\$defs"]),
        (
            {"schema": {"$schema": "http://json-schema.org/draft-07/schema#"}},
            ContractSchemaError,
            ["draft-07", "draft 2020-12", "leave it out"],
        ),
        ({"version": 1.1}, InvalidContractError, ["is a float", "'1.1'"]),
        ({"version": 1}, InvalidContractError, ["is a int", "'MAJOR.MINOR'"]),
        ({"version": "v1.0"}, InvalidContractError, [r"MAJOR\.MINOR", "no 'v'"]),
        ({"version": "1.0.0"}, InvalidContractError, [r"MAJOR\.MINOR", "'1.1'"]),
        ({"version": "01.0"}, InvalidContractError, ["leading zeros"]),
        ({"version": "\u0661.\u0660"}, InvalidContractError, [r"MAJOR\.MINOR", "digits"]),
        ({"version": ""}, InvalidContractError, [r"MAJOR\.MINOR"]),
        ({"source": ""}, InvalidContractError, ["source", "non-empty", "sales.domain"]),
        ({"source": None}, InvalidContractError, ["source", "non-empty"]),
        ({"detail_type": "   "}, InvalidContractError, ["detail_type", "SaleRecorded"]),
        ({"detail_type": " SaleRecorded"}, InvalidContractError, ["detail_type", "spaces"]),
    ],
)
def test_bad_input_contract_fields(fields, error, words):
    """Each bad field is refused at construction with the field, the rule and the fix."""
    arguments = {"source": "s.domain", "detail_type": "X", "version": "1.0", "schema": SCHEMA}

    with pytest.raises(error) as raised:
        Contract(**(arguments | fields))

    assert isinstance(raised.value, ValidationError)
    for word in words:
        assert re.search(word, str(raised.value)), (word, raised.value)


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (
            lambda: mk.contracts.check_compatibility(SCHEMA, SCHEMA, mode="SIDEWAYS"),
            ValidationError,
            ["'SIDEWAYS'", "mode='FULL'"],
        ),
        (
            lambda: mk.contracts.check_compatibility(SCHEMA, SCHEMA, mode=None),
            ValidationError,
            ["mode None", "BACKWARD"],
        ),
        (
            lambda: mk.contracts.check_compatibility(SCHEMA, SCHEMA, policy="loose"),
            ValidationError,
            ["policy 'loose'", "policy='strict'"],
        ),
        (
            lambda: mk.contracts.check_compatibility([SCHEMA], SCHEMA),
            ContractSchemaError,
            ["old schema", "is a list"],
        ),
        (
            lambda: mk.contracts.check_compatibility(SCHEMA, {"type": "objekt"}),
            ContractSchemaError,
            ["new schema", r"\$\.type"],
        ),
        (lambda: ContractRegistry(mode="BACK"), ValidationError, ["'BACK'", "FULL_ALL"]),
        (
            lambda: ContractRegistry().register(SCHEMA),
            InvalidContractError,
            ["not a dict", "mk.contracts.Contract"],
        ),
        (
            lambda: mk.contracts.default_registry().get("sales.domain", "SaleRecorded", 1.0),
            InvalidContractError,
            ["version 1.0 is a float", "'1.0'"],
        ),
        (
            lambda: ContractRegistry(
                [
                    Contract("s.domain", "X", "1.0", SCHEMA),
                    Contract("s.domain", "X", "1.0", evolve(remove=["note"])),
                ]
            ),
            ContractConflictError,
            ["s.domain/X/1.0", "publish a new version"],
        ),
    ],
)
def test_bad_input_compatibility_and_registry_arguments(call, error, words):
    with pytest.raises(error) as raised:
        call()

    assert isinstance(raised.value, MeshkitError)
    for word in words:
        assert re.search(word, str(raised.value)), (word, raised.value)


def test_deeply_nested_data_is_a_violation_not_a_recursion_error():
    contract = Contract("s.domain", "Tree", "1.0", TREE)
    data: dict = {"name": "leaf"}
    for _ in range(2000):
        data = {"name": "n", "children": [data]}

    with pytest.raises(ContractViolation, match="nests too deeply"):
        contract.validate(data)


# -- $ref beside other keywords (draft 2020-12) --------------------------------------------------


def with_defs(defs, spec, *, required=()):
    """``with_property(spec)`` with ``$defs``; ``x`` required when asked."""
    return {"$defs": defs, **with_property(spec, required=list(required))}


@pytest.mark.parametrize(
    ("old", "new", "sample", "text"),
    [
        (  # the tester's repro: the target is retyped, the $ref string is not
            with_defs(
                {"t": {"type": "string"}}, {"$ref": "#/$defs/t", "minLength": 1}, required="x"
            ),
            with_defs(
                {"t": {"type": "integer"}}, {"$ref": "#/$defs/t", "minLength": 1}, required="x"
            ),
            {"x": "abc"},
            "retyped data.x from string to integer",
        ),
        (  # the same under array items
            with_defs(
                {"t": {"type": "string"}},
                {"type": "array", "items": {"$ref": "#/$defs/t", "maxLength": 9}},
            ),
            with_defs(
                {"t": {"type": "integer"}},
                {"type": "array", "items": {"$ref": "#/$defs/t", "maxLength": 9}},
            ),
            {"x": ["abc"]},
            "retyped data.x[] from string to integer",
        ),
        (  # the keyword beside the $ref changes, the target does not
            with_defs({"t": {"type": "string"}}, {"$ref": "#/$defs/t", "minLength": 1}),
            with_defs({"t": {"type": "string"}}, {"$ref": "#/$defs/t", "minLength": 2}),
            {"x": "a"},
            "tightened data.x: minLength 1 -> minLength 2",
        ),
        (  # a chain: the target is itself a $ref beside a keyword
            with_defs(
                {"t": {"$ref": "#/$defs/u", "maxLength": 5}, "u": {"type": "string"}},
                {"$ref": "#/$defs/t", "minLength": 1},
            ),
            with_defs(
                {"t": {"$ref": "#/$defs/u", "maxLength": 3}, "u": {"type": "string"}},
                {"$ref": "#/$defs/t", "minLength": 1},
            ),
            {"x": "abcd"},
            "tightened data.x: maxLength 5 -> maxLength 3",
        ),
        (  # an object target beside "required"
            with_defs(
                {"t": {"type": "object", "properties": {"id": {"type": "string"}}}},
                {"$ref": "#/$defs/t", "required": ["id"]},
            ),
            with_defs(
                {"t": {"type": "object", "properties": {"id": {"type": "integer"}}}},
                {"$ref": "#/$defs/t", "required": ["id"]},
            ),
            {"x": {"id": "a"}},
            "retyped data.x.id from string to integer",
        ),
    ],
)
def test_a_ref_beside_other_keywords_compares_its_target(old, new, sample, text):
    """In draft 2020-12 a ``$ref`` beside other keywords applies both, like ``allOf``
    (JSON Schema Core, "Direct References with $ref":
    https://json-schema.org/draft/2020-12/json-schema-core#section-8.2.3.1); its target is
    compared, not the ``$ref`` string."""
    report = mk.contracts.check_compatibility(old, new)

    assert not Draft202012Validator(new).is_valid(sample)  # new-schema consumers reject it
    assert Draft202012Validator(old).is_valid(sample)
    assert text in report.breaking, report.changes
    registry = ContractRegistry([Contract("s.domain", "X", "1.0", old)])
    with pytest.raises(IncompatibleContractError, match=re.escape(text)):
        registry.register(Contract("s.domain", "X", "1.1", new))


@pytest.mark.parametrize(
    "spec",
    [
        {"$ref": "#/$defs/t", "minLength": 1},
        # not combined (additionalProperties beside a $ref), but unchanged with its target
        {"$ref": "#/$defs/o", "additionalProperties": False},
    ],
)
def test_a_ref_beside_other_keywords_with_nothing_changed_is_compatible(spec):
    defs = {"t": {"type": "string"}, "o": {"type": "object", "properties": {"a": {}}}}
    old = with_defs(defs, spec)
    new = {**copy.deepcopy(old), "title": "renamed"}
    new["properties"]["y"] = {"type": "string"}

    report = mk.contracts.check_compatibility(old, new)

    assert report.is_compatible, report.changes


def test_a_ref_under_additional_properties_compares_its_target():
    old = with_defs(
        {"t": {"type": "string"}}, {"type": "object", "additionalProperties": {"$ref": "#/$defs/t"}}
    )
    new = with_defs(
        {"t": {"type": "integer"}},
        {"type": "object", "additionalProperties": {"$ref": "#/$defs/t"}},
    )

    report = mk.contracts.check_compatibility(old, new)

    assert report.breaking == ("retyped data.x.* from string to integer",), report.changes


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        (  # additionalProperties beside a $ref sees only its own properties: not merged
            with_defs(
                {"t": {"type": "object", "properties": {"id": {"type": "string"}}}},
                {"$ref": "#/$defs/t", "additionalProperties": False},
            ),
            with_defs(
                {"t": {"type": "object", "properties": {"id": {"type": "integer"}}}},
                {"$ref": "#/$defs/t", "additionalProperties": False},
            ),
            [r"\$ref '#/\$defs/t' at data\.x", "additionalProperties"],
        ),
        (  # the same keyword with other values on both sides of the $ref
            with_defs({"t": {"type": "string"}}, {"$ref": "#/$defs/t", "type": ["string", "null"]}),
            with_defs(
                {"t": {"type": "integer"}}, {"$ref": "#/$defs/t", "type": ["string", "null"]}
            ),
            [r"\$ref '#/\$defs/t' at data\.x", "type"],
        ),
        (  # $dynamicRef: the same string, another target
            with_defs({"t": {"type": "string"}}, {"$dynamicRef": "#/$defs/t"}),
            with_defs({"t": {"type": "integer"}}, {"$dynamicRef": "#/$defs/t"}),
            [r"\$dynamicRef", "data.x"],
        ),
    ],
)
def test_a_ref_whose_target_cannot_be_compared_is_unchecked(old, new, words):
    """Where meshkit cannot combine a ``$ref``'s target with its siblings, it fails closed."""
    report = mk.contracts.check_compatibility(old, new)

    assert not report.is_compatible
    assert report.unchecked, report.changes
    for word in words:
        assert re.search(word, " ".join(report.unchecked)), (word, report.unchecked)


# -- integers: exact bounds, no false alarms, no raw errors ---------------------------------------


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ({"type": "integer"}, {"type": "number", "multipleOf": 1}),
        ({"type": "integer"}, {"type": "integer", "multipleOf": 0.5}),
        ({"type": "integer", "multipleOf": 3}, {"type": "integer", "multipleOf": 1.5}),
        ({"type": "integer", "multipleOf": 2}, {"type": "number", "multipleOf": 2.0}),
        ({"type": "integer", "minimum": 0.5}, {"type": "integer", "minimum": 1}),
        ({"type": "integer", "exclusiveMinimum": 0}, {"type": "integer", "minimum": 1}),
        ({"type": "integer", "maximum": 9.9}, {"type": "integer", "exclusiveMaximum": 10}),
        ({"type": "integer", "exclusiveMaximum": 2.5}, {"type": "integer", "maximum": 2}),
    ],
)
def test_integer_schemas_that_accept_the_same_integers_are_the_same(old, new):
    """JSON Schema counts 1.0 as an integer, so ``number`` with ``multipleOf: 1`` is
    ``integer``, and integers >= 0.5 are the integers >= 1
    (https://json-schema.org/draft/2020-12/json-schema-validation#section-6.2)."""
    values = [n / 2 for n in range(-40, 41)]  # halves, to catch a non-integer that one accepts
    assert [Draft202012Validator(old).is_valid(v) for v in values] == [
        Draft202012Validator(new).is_valid(v) for v in values
    ]

    for a, b in ((old, new), (new, old)):
        report = mk.contracts.check_compatibility(with_property(a), with_property(b))
        assert report.changes == (), report.changes


@pytest.mark.parametrize(
    ("old", "new", "breaks_old", "breaks_new"),
    [
        ({"type": "integer", "minimum": 0.5}, {"type": "integer", "minimum": 2}, False, True),
        ({"type": "integer", "maximum": 9.5}, {"type": "integer", "maximum": 10}, True, False),
        ({"type": "integer", "multipleOf": 1.5}, {"type": "integer", "multipleOf": 6}, False, True),
        ({"type": "integer"}, {"type": "number", "multipleOf": 0.5}, True, False),
    ],
)
def test_integer_bounds_that_differ_still_say_who_breaks(old, new, breaks_old, breaks_new):
    report = mk.contracts.check_compatibility(with_property(old), with_property(new))

    assert any(c.breaks_old for c in report.changes) == breaks_old, report.changes
    assert any(c.breaks_new for c in report.changes) == breaks_new, report.changes


HUGE = 10**5000  # more digits than Python turns into text (sys.get_int_max_str_digits)


@pytest.mark.parametrize(
    ("schema", "path"),
    [
        ({"type": "integer", "maximum": HUGE}, r"\$\.properties\.x\.maximum"),
        ({"type": "integer", "exclusiveMinimum": -HUGE}, r"\$\.properties\.x\.exclusiveMinimum"),
        ({"type": "number", "multipleOf": HUGE}, r"\$\.properties\.x\.multipleOf"),
        ({"type": "string", "maxLength": HUGE}, r"\$\.properties\.x\.maxLength"),
        ({"enum": [1, HUGE]}, r"\$\.properties\.x\.enum\[1\]"),
        ({"const": {"n": HUGE}}, r"\$\.properties\.x\.const\.n"),
        ({"type": HUGE}, r"\$\.properties\.x\.type"),
    ],
    ids=["maximum", "exclusiveMinimum", "multipleOf", "maxLength", "enum", "const", "type"],
)
def test_bad_input_integers_too_long_to_write_as_json(schema, path):
    """A number Python cannot write as text cannot be a JSON contract: refused, never a raw
    ValueError, from ``Contract`` and from ``check_compatibility`` alike."""
    calls = (
        lambda: Contract("s.domain", "X", "1.0", with_property(schema)),
        lambda: mk.contracts.check_compatibility(with_property(schema), with_property({})),
        lambda: mk.contracts.check_compatibility(SCHEMA, with_property(schema)),
    )
    for call in calls:
        with pytest.raises(ContractSchemaError) as raised:
            call()
        message = str(raised.value)
        assert re.search(path, message), message
        assert "5001 digits" in message and "smaller number" in message, message


@pytest.mark.parametrize(
    ("schema", "data", "field"),
    [
        ({"type": "string"}, HUGE, "data.x"),
        ({"type": "integer", "maximum": 5}, HUGE, "data.x"),
        ({"enum": [1, 2]}, HUGE, "data.x"),
        ({"type": "array", "items": {"type": "string"}}, ["a", -HUGE], "data.x[1]"),
    ],
    ids=["type", "maximum", "enum", "items"],
)
def test_bad_input_data_with_an_integer_too_long_to_write_as_json(schema, data, field):
    contract = Contract("s.domain", "X", "1.0", with_property(schema))

    with pytest.raises(ContractViolation) as raised:
        contract.validate({"x": data})

    assert raised.value.field == field
    assert "5001 digits" in str(raised.value) and "smaller number" in str(raised.value)


def test_bad_input_data_beyond_a_float_under_a_float_multiple_of():
    """jsonschema divides by a float ``multipleOf``; an integer with no float is a violation
    naming the field, not a raw OverflowError."""
    contract = Contract("s.domain", "X", "1.0", with_property({"multipleOf": 0.5}))

    with pytest.raises(ContractViolation) as raised:
        contract.validate({"x": 10**400})

    assert raised.value.field == "data.x"
    assert "beyond a float's range" in str(raised.value) and "smaller number" in str(raised.value)
