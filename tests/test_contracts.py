"""Data contracts: validation names the failing field; versions evolve by documented rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

import meshkit as mk
from meshkit.contracts import Contract, ContractRegistry, ContractViolation, UnknownContractError
from meshkit.exceptions import ValidationError

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


def evolve(**changes):
    schema = {
        **SCHEMA,
        "properties": {**SCHEMA["properties"]},
        "required": list(SCHEMA["required"]),
    }
    for name, spec in changes.get("add", {}).items():
        schema["properties"][name] = spec
    schema["required"] += changes.get("require", [])
    for name in changes.get("remove", []):
        schema["properties"].pop(name)
        schema["required"] = [r for r in schema["required"] if r != name]
    for name, kind in changes.get("retype", {}).items():
        schema["properties"][name] = {"type": kind}
    return schema


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


@pytest.mark.parametrize(
    ("changes", "compatible", "change"),
    [
        ({"add": {"currency": {"type": "string"}}}, True, "added optional data.currency"),
        (
            {"add": {"channel": {"type": "string"}}, "require": ["channel"]},
            False,
            "added required data.channel",
        ),
        ({"remove": ["amount"]}, False, "removed data.amount"),
        ({"remove": ["note"]}, True, "removed data.note"),
        ({"retype": {"amount": "string"}}, False, "retyped data.amount from number to string"),
        ({"require": ["note"]}, False, "made data.note required"),
    ],
)
def test_compatibility_rules(changes, compatible, change):
    report = mk.contracts.check_compatibility(SCHEMA, evolve(**changes))

    assert report.is_compatible is compatible
    assert change in (report.compatible + report.breaking)


@pytest.mark.parametrize(
    ("spec", "compatible", "change"),
    [
        ({"type": "string", "maxLength": 5}, False, "tightened data.sale_id: maxLength None -> 5"),
        ({"type": "number", "minimum": 10}, False, "tightened data.amount: minimum None -> 10"),
        (
            {"type": "string", "pattern": "^S-"},
            False,
            "tightened data.sale_id: pattern None -> ^S-",
        ),
    ],
)
def test_tightening_a_constraint_is_breaking(spec, compatible, change):
    name = "sale_id" if spec["type"] == "string" else "amount"
    new = evolve()
    new["properties"][name] = spec

    report = mk.contracts.check_compatibility(SCHEMA, new)

    assert not report.is_compatible
    assert change in report.breaking


def test_loosening_a_constraint_is_compatible():
    old, new = evolve(), evolve()
    old["properties"]["amount"] = {"type": "number", "minimum": 10, "maximum": 100}
    new["properties"]["amount"] = {"type": "number", "minimum": 0}

    report = mk.contracts.check_compatibility(old, new)

    assert report.is_compatible
    assert set(report.compatible) == {
        "loosened data.amount: minimum 10 -> 0",
        "dropped maximum of data.amount",
    }


def test_closed_objects_make_additions_breaking():
    closed = {**evolve(), "additionalProperties": False}

    assert "closed data (additionalProperties: false)" in (
        mk.contracts.check_compatibility(SCHEMA, closed).breaking
    )
    grown = {**evolve(add={"currency": {"type": "string"}}), "additionalProperties": False}
    assert mk.contracts.check_compatibility(closed, grown).breaking == (
        "added data.currency to a closed object",
    )


def test_compatibility_looks_into_nested_objects():
    new = evolve()
    new["properties"]["customer"] = {
        "type": "object",
        "required": ["id"],
        "properties": {"id": {"type": "integer"}},
    }

    report = mk.contracts.check_compatibility(SCHEMA, new)

    assert report.breaking == ("retyped data.customer.id from string to integer",)
    assert report.compatible == ("removed data.customer.tier",)
    assert report.to_frame().breaking.tolist() == [True, False]


def test_the_shipped_sale_recorded_versions_are_compatible():
    old, new = (mk.contracts.get("sales.domain", "SaleRecorded", v) for v in ("1.0", "1.1"))

    assert mk.contracts.check_compatibility(old, new).is_compatible


def test_a_published_version_cannot_change():
    registry = ContractRegistry([Contract("s.domain", "X", "1.0", SCHEMA)])
    registry.register(Contract("s.domain", "X", "1.0", SCHEMA))  # the same again is fine

    with pytest.raises(ValidationError, match="publish a new version"):
        registry.register(Contract("s.domain", "X", "1.0", evolve(remove=["note"])))


def test_unknown_contracts_and_bad_versions_are_clear_errors():
    with pytest.raises(UnknownContractError, match=r"no contract .*'Nope'.*register one"):
        ContractRegistry().get("s.domain", "Nope")
    with pytest.raises(ValidationError, match=r"MAJOR\.MINOR"):
        Contract("s.domain", "X", "v1", SCHEMA)
    with pytest.raises(ValidationError, match="not a valid JSON Schema"):
        Contract("s.domain", "X", "1.0", {"type": "nonsense"})


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


def test_widening_a_type_is_compatible_and_narrowing_it_is_not():
    narrow, wide = evolve(), evolve()
    narrow["properties"]["amount"] = {"type": "integer"}
    wide["properties"]["amount"] = {"type": "number"}

    assert mk.contracts.check_compatibility(narrow, wide).compatible == (
        "widened data.amount from integer to number",
    )
    assert not mk.contracts.check_compatibility(wide, narrow).is_compatible


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
