"""Contracts in the Glue Schema Registry: draft-07 schemas, versions checked before they are sent.

Glue reads JSON Schema draft-04, -06 and -07 and checks each new version against the schema's
compatibility mode: https://docs.aws.amazon.com/glue/latest/dg/schema-registry.html and
https://docs.aws.amazon.com/glue/latest/webapi/API_RegisterSchemaVersion.html. What changed
between draft-07 and 2020-12: https://json-schema.org/draft/2020-12/release-notes.
"""

from __future__ import annotations

import copy
import json
import re

import pandas as pd
import pytest
from jsonschema import Draft7Validator, Draft202012Validator

import meshkit as mk
from meshkit.exceptions import (
    ConflictError,
    NotFoundError,
    NotMeshkitResourceError,
    ValidationError,
)
from meshkit.products import schema_registry

SALES = "sales.domain"
SCHEMA_ID = {"RegistryName": "sales-contracts", "SchemaName": "SaleRecorded"}


def glue(mesh):
    return mesh.session().client("glue", endpoint_url=mesh.endpoint_url)


def sale(version: str) -> mk.contracts.Contract:
    return mk.contracts.get(SALES, "SaleRecorded", version)


def changed(version: str, change, base: str = "1.1") -> mk.contracts.Contract:
    """SaleRecorded ``base``'s schema, changed in place by ``change``, as ``version``."""
    schema = copy.deepcopy(sale(base).schema)
    change(schema)
    return mk.contracts.Contract(SALES, "SaleRecorded", version, schema)


def ping(version: str, properties: dict, **schema) -> mk.contracts.Contract:
    body = {"type": "object", "properties": properties, **schema}
    return mk.contracts.Contract(SALES, "Ping", version, body)


def latest_version(mesh, schema_name: str = "SaleRecorded") -> int:
    schema_id = {"RegistryName": "sales-contracts", "SchemaName": schema_name}
    return glue(mesh).get_schema(SchemaId=schema_id)["LatestSchemaVersion"]


# -- draft 2020-12 -> draft-07 -----------------------------------------------------------------


def test_a_contract_becomes_draft_07_with_only_its_dialect_changed():
    """Given SaleRecorded 1.1 (draft 2020-12), when converted, then it says draft-07 and keeps
    every other keyword, and it is a valid draft-07 schema (Glue validates definitions)."""
    contract = sale("1.1")

    converted = schema_registry.to_draft_07(contract)

    assert converted["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert {k: v for k, v in converted.items() if k != "$schema"} == {
        k: v for k, v in contract.schema.items() if k != "$schema"
    }
    Draft7Validator.check_schema(converted)


def test_defs_become_definitions_and_local_refs_follow():
    """$defs is 2019-09's name for draft-07's definitions; pointers into it are rewritten, a
    property that happens to be named "$defs" is not, and nested $defs follow too."""
    schema = {
        "type": "object",
        "properties": {
            "price": {"$ref": "#/$defs/money"},
            "$defs": {"type": "string"},  # a property named "$defs", not the keyword
            "label": {"$ref": "#/properties/$defs"},
            "line": {"$ref": "#/$defs/line/$defs/qty"},
        },
        "$defs": {
            "money": {"type": "number", "minimum": 0},
            "line": {"$defs": {"qty": {"type": "integer"}}},
        },
    }

    converted = schema_registry.to_draft_07(schema)

    assert "$defs" not in converted
    assert converted["definitions"]["money"] == {"type": "number", "minimum": 0}
    assert converted["definitions"]["line"] == {"definitions": {"qty": {"type": "integer"}}}
    properties = converted["properties"]
    assert properties["price"] == {"$ref": "#/definitions/money"}
    assert properties["label"] == {"$ref": "#/properties/$defs"}
    assert properties["line"] == {"$ref": "#/definitions/line/definitions/qty"}
    assert schema["$defs"]  # the input is left as it was


def test_a_ref_with_siblings_is_wrapped_so_that_draft_07_still_applies_them():
    """Draft-07 ignores every keyword beside a $ref; 2020-12 applies them. Wrapped in allOf, the
    converted schema accepts and refuses what the contract does."""
    schema = {
        "$ref": "#/$defs/code",
        "$defs": {"code": {"type": "string"}},
        "properties": {"name": {"$ref": "#/$defs/code", "maxLength": 3}},
    }

    converted = schema_registry.to_draft_07(schema)

    assert converted["allOf"] == [{"$ref": "#/definitions/code"}]
    assert converted["properties"]["name"] == {
        "allOf": [{"$ref": "#/definitions/code"}],
        "maxLength": 3,
    }
    draft_07, draft_2020 = Draft7Validator(converted), Draft202012Validator(schema)
    for data in ("ab", 7, {"name": "abc"}, {"name": "abcd"}, {"name": 1}):
        assert draft_07.is_valid(data) == draft_2020.is_valid(data), data


def test_dependent_required_and_schemas_become_dependencies():
    schema = {
        "type": "object",
        "dependentRequired": {"card": ["billing_address"]},
        "dependentSchemas": {"coupon": {"$ref": "#/$defs/coupon"}},
        "$defs": {"coupon": {"required": ["campaign"]}},
    }

    converted = schema_registry.to_draft_07(schema)

    assert converted["dependencies"] == {
        "card": ["billing_address"],
        "coupon": {"$ref": "#/definitions/coupon"},
    }
    draft_07, draft_2020 = Draft7Validator(converted), Draft202012Validator(schema)
    for data in ({"card": 1}, {"card": 1, "billing_address": 2}, {"coupon": 1}, {}):
        assert draft_07.is_valid(data) == draft_2020.is_valid(data), data


def test_boolean_schemas_become_objects_that_can_say_their_dialect():
    draft_07 = "http://json-schema.org/draft-07/schema#"
    assert schema_registry.to_draft_07(True) == {"$schema": draft_07}
    assert schema_registry.to_draft_07(False) == {"$schema": draft_07, "not": {}}


REFUSED = [
    ({"type": "array", "prefixItems": [{"type": "string"}]}, "prefixItems", "$.prefixItems"),
    (
        {"properties": {"tags": {"unevaluatedItems": False}}},
        "unevaluatedItems",
        "$.properties.tags.unevaluatedItems",
    ),
    ({"unevaluatedProperties": False}, "unevaluatedProperties", "$.unevaluatedProperties"),
    ({"$dynamicAnchor": "node", "type": "object"}, "$dynamicAnchor", "$['$dynamicAnchor']"),
    (
        {"$defs": {"tree": {"$dynamicRef": "#node"}}},
        "$dynamicRef",
        "$['$defs'].tree['$dynamicRef']",
    ),
    ({"contains": {"type": "string"}, "minContains": 2}, "minContains", "$.minContains"),
    ({"contains": {"type": "string"}, "maxContains": 2}, "maxContains", "$.maxContains"),
    ({"$defs": {"a": {"$anchor": "a"}}}, "$anchor", "$['$defs'].a['$anchor']"),
    ({"dependencies": {"a": ["b"]}}, "dependencies", "$.dependencies"),
    ({"allOf": [{"$ref": "https://example.com/money.json"}]}, "$ref", "$.allOf[0]['$ref']"),
    (
        {"dependentRequired": {"a": ["b"]}, "dependentSchemas": {"a": {}}},
        "dependentRequired",
        "$.dependentRequired.a",
    ),
]


@pytest.mark.parametrize(("schema", "keyword", "path"), REFUSED, ids=[r[1] for r in REFUSED])
def test_what_draft_07_cannot_say_is_refused_naming_the_keyword_its_path_and_the_fix(
    schema, keyword, path
):
    """Each keyword 2019-09 or 2020-12 introduced without a draft-07 equivalent (release notes),
    a $ref Glue cannot resolve, and 'dependencies', which 2020-12 ignores and draft-07 applies."""
    with pytest.raises(schema_registry.Draft07ConversionError) as refused:
        schema_registry.to_draft_07(schema)

    assert (refused.value.keyword, refused.value.path) == (keyword, path)
    message = str(refused.value)
    assert repr(keyword) in message and path in message
    assert "draft-07" in message and ": " in message.split("draft-07", 1)[1]  # the fix follows
    assert isinstance(refused.value, ValidationError)


@pytest.mark.parametrize(
    ("schema", "field"),
    [
        ("{}", "schema is a str"),
        ({"$schema": "http://json-schema.org/draft-07/schema#"}, r"\$schema"),
        ({"type": 12}, "not a valid JSON Schema 2020-12"),
    ],
)
def test_bad_input_to_draft_07_takes_a_draft_2020_12_schema(schema, field, sent):
    with pytest.raises(ValidationError, match=field):
        schema_registry.to_draft_07(schema)
    assert sent == []


# -- registries --------------------------------------------------------------------------------


def test_a_domain_registry_is_created_once_tagged_and_deleted(mesh):
    """Glue resource tags: https://docs.aws.amazon.com/glue/latest/dg/monitor-tags.html."""
    arn = schema_registry.create_schema_registry("sales")

    assert arn == f"arn:aws:glue:us-west-2:{mesh.account_id}:registry/sales-contracts"
    assert schema_registry.create_schema_registry("sales") == arn
    tags = glue(mesh).get_tags(ResourceArn=arn)["Tags"]
    assert tags == {"meshkit:workbook": "true", "meshkit:domain": "sales",
                    "meshkit:owner": "sales-team"}  # fmt: skip
    assert schema_registry.delete_schema_registry("sales") is True
    assert schema_registry.delete_schema_registry("sales") is False


def test_a_registry_meshkit_did_not_create_is_left_alone(mesh):
    glue(mesh).create_registry(RegistryName="sales-contracts")

    with pytest.raises(NotMeshkitResourceError, match="sales-contracts"):
        schema_registry.create_schema_registry("sales")
    with pytest.raises(NotMeshkitResourceError):
        schema_registry.delete_schema_registry("sales")
    with pytest.raises(NotMeshkitResourceError):
        schema_registry.register_contract(sale("1.0"))
    assert glue(mesh).get_registry(RegistryId={"RegistryName": "sales-contracts"})


# -- registering contracts ---------------------------------------------------------------------


def test_two_compatible_versions_register_as_two_schema_versions_with_their_contract_versions(
    mesh,
):
    """Given SaleRecorded 1.0 then 1.1 under FULL, then the schema holds two versions, each
    readable back with its contract version, as JSON Schema draft-07 with DataFormat JSON."""
    first = schema_registry.register_contract(sale("1.0"))
    second = schema_registry.register_contract(sale("1.1"))

    schema_arn = f"arn:aws:glue:us-west-2:{mesh.account_id}:schema/sales-contracts/SaleRecorded"
    assert first == schema_registry.SchemaVersion(
        schema_arn, "SaleRecorded", 1, first.version_id, "1.0", "AVAILABLE", "FULL"
    )
    assert (second.version_number, second.contract_version, second.status) == (
        2,
        "1.1",
        "AVAILABLE",
    )
    schema = glue(mesh).get_schema(SchemaId=SCHEMA_ID)
    assert (schema["DataFormat"], schema["Compatibility"]) == ("JSON", "FULL")
    versions = schema_registry.list_schema_versions("sales", "SaleRecorded")
    assert versions[["version_number", "contract_version", "status"]].to_numpy().tolist() == [
        [1, "1.0", "AVAILABLE"],
        [2, "1.1", "AVAILABLE"],
    ]
    assert isinstance(versions["created"].dtype, pd.DatetimeTZDtype)
    assert str(versions["created"].dtype.tz) == "UTC"
    assert versions["created"].notna().all()


def test_the_contract_version_is_in_the_stored_definition_any_glue_client_reads(mesh):
    """What any Glue client sees (GetSchemaVersion), offline and on AWS: the draft-07 schema
    with the contract's key, which is where meshkit reads the contract version from."""
    version = schema_registry.register_contract(sale("1.1"))

    stored = glue(mesh).get_schema_version(SchemaVersionId=version.version_id)
    definition = json.loads(stored["SchemaDefinition"])
    assert definition["$schema"] == "http://json-schema.org/draft-07/schema#"
    assert definition[schema_registry.CONTRACT_KEYWORD] == "sales.domain/SaleRecorded/1.1"
    assert schema_registry.get_schema_definition("sales", "SaleRecorded") == definition
    assert schema_registry.get_schema_definition("sales", "SaleRecorded", 1) == definition


def test_registering_the_same_contract_version_again_returns_the_existing_version(mesh):
    """RegisterSchemaVersion: "If the same schema definition is already stored in Schema
    Registry as a version, the schema ID of the existing schema is returned"."""
    first = schema_registry.register_contract(sale("1.0"))
    second = schema_registry.register_contract(sale("1.1"))

    assert schema_registry.register_contract(sale("1.1")) == second
    assert schema_registry.register_contract(sale("1.0")) == first
    assert latest_version(mesh) == 2


def test_a_retyped_field_is_refused_under_full_and_nothing_is_registered(mesh):
    schema_registry.register_contract(sale("1.0"))
    schema_registry.register_contract(sale("1.1"))
    retyped = changed("1.2", lambda s: s["properties"].update(amount={"type": "string"}))

    with pytest.raises(mk.contracts.IncompatibleContractError) as refused:
        schema_registry.register_contract(retyped)

    message = str(refused.value)
    assert "retyped data.amount from number to string" in message
    assert "new major version" in message and "compatibility=" in message
    assert "Nothing was registered" in message
    [report] = refused.value.reports
    assert (report.old, report.new) == ("sales.domain/SaleRecorded/1.1", retyped.key)
    assert latest_version(mesh) == 2


def test_a_required_field_removed_is_refused_under_forward_and_accepted_under_backward(mesh):
    """Glue's modes: FORWARD, consumers on the old version read data written with the new one,
    so a required field may not go; BACKWARD lets it go ("removes the required email field,
    this would successfully register"): schema-registry.html#schema-registry-compatibility."""

    def drop_amount(schema):
        schema["required"].remove("amount")
        del schema["properties"]["amount"]

    dropped = changed("1.1", drop_amount, base="1.0")
    schema_registry.register_contract(sale("1.0"), compatibility="FORWARD")

    with pytest.raises(
        mk.contracts.IncompatibleContractError, match=r"removed required data\.amount"
    ):
        schema_registry.register_contract(dropped, compatibility="FORWARD")
    assert latest_version(mesh) == 1

    backward = [mk.contracts.Contract(SALES, "SaleRecordedB", c.version, c.schema)
                for c in (sale("1.0"), dropped)]  # fmt: skip
    schema_registry.register_contract(backward[0], compatibility="BACKWARD")
    assert schema_registry.register_contract(backward[1], compatibility="BACKWARD").status == (
        "AVAILABLE"
    )
    assert latest_version(mesh, "SaleRecordedB") == 2


def test_versions_are_compared_through_their_refs_as_registered(mesh):
    """What Glue holds is draft-07 ($ref wrapped, definitions); meshkit reads it back as 2020-12
    and compares it with the new version put through the same round trip: a version that only
    adds an optional field passes, one that retypes what a $ref points to does not."""

    def money(version: str, money_type: str, **more) -> mk.contracts.Contract:
        properties = {"price": {"$ref": "#/$defs/money", "description": "the price"}, **more}
        return ping(version, properties, **{"$defs": {"money": {"type": money_type}}})

    schema_registry.register_contract(money("1.0", "number"))
    stored = schema_registry.get_schema_definition("sales", "Ping")
    assert stored["properties"]["price"]["allOf"] == [{"$ref": "#/definitions/money"}]

    added = money("1.1", "number", note={"type": "string"})
    assert schema_registry.register_contract(added).version_number == 2
    with pytest.raises(mk.contracts.IncompatibleContractError, match="price"):
        schema_registry.register_contract(money("1.2", "string", note={"type": "string"}))
    assert latest_version(mesh, "Ping") == 2


def test_backward_all_checks_every_earlier_version_where_backward_checks_the_latest(mesh):
    """Given versions {a: string}, then without a, then {a: integer}: the last is BACKWARD-
    compatible with the one before it (an optional property added) but not with the first
    (a retyped), so BACKWARD accepts it and BACKWARD_ALL refuses it."""
    versions = [
        ping("1.0", {"a": {"type": "string"}}),
        ping("1.1", {}),
        ping("1.2", {"a": {"type": "integer"}}),
    ]
    for contract in versions[:2]:
        schema_registry.register_contract(contract, compatibility="BACKWARD_ALL")

    with pytest.raises(mk.contracts.IncompatibleContractError) as refused:
        schema_registry.register_contract(versions[2], compatibility="BACKWARD_ALL")
    assert [report.old for report in refused.value.reports] == ["sales.domain/Ping/1.0"]
    assert latest_version(mesh, "Ping") == 2

    backward = [mk.contracts.Contract(SALES, "Pong", c.version, c.schema) for c in versions]
    for contract in backward:
        schema_registry.register_contract(contract, compatibility="BACKWARD")
    assert latest_version(mesh, "Pong") == 3


def test_the_strict_policy_refuses_an_optional_field_added_to_an_open_object(mesh):
    """mk.contracts' strict policy (Confluent's default rules): under FULL, 1.1's optional
    currency may hold anything in events 1.0 allowed, so new-schema consumers may break. Users
    report Glue refusing such a version too (awslabs/aws-glue-schema-registry issue 172)."""
    schema_registry.register_contract(sale("1.0"), policy="strict")

    with pytest.raises(mk.contracts.IncompatibleContractError) as refused:
        schema_registry.register_contract(sale("1.1"), policy="strict")

    assert "added optional data.currency" in str(refused.value)
    assert "(strict policy)" in str(refused.value)
    assert latest_version(mesh) == 1


def test_none_accepts_a_breaking_version(mesh):
    schema_registry.register_contract(sale("1.0"), compatibility="NONE")
    retyped = changed("1.1", lambda s: s["properties"].update(amount={"type": "string"}))

    assert schema_registry.register_contract(retyped, compatibility="NONE").version_number == 2


def test_disabled_refuses_any_new_version_but_returns_the_one_it_has(mesh):
    """DISABLED: "This compatibility choice prevents versioning for a particular schema"."""
    first = schema_registry.register_contract(sale("1.0"), compatibility="DISABLED")

    with pytest.raises(mk.contracts.IncompatibleContractError, match="DISABLED"):
        schema_registry.register_contract(sale("1.1"), compatibility="DISABLED")
    assert latest_version(mesh) == 1
    assert schema_registry.register_contract(sale("1.0"), compatibility="DISABLED") == first


def test_a_schema_keeps_the_mode_it_was_created_with(mesh):
    """Glue sets Compatibility in CreateSchema; UpdateSchema changes it."""
    schema_registry.register_contract(sale("1.0"))

    with pytest.raises(schema_registry.CompatibilityModeConflictError) as refused:
        schema_registry.register_contract(sale("1.1"), compatibility="BACKWARD")

    message = str(refused.value)
    assert "FULL" in message and "compatibility='FULL'" in message and "update_schema" in message
    assert isinstance(refused.value, ConflictError)
    assert latest_version(mesh) == 1


def test_a_published_version_never_changes_and_versions_come_in_order(mesh):
    schema_registry.register_contract(sale("1.0"))
    schema_registry.register_contract(sale("1.1"))
    other_1_1 = changed("1.1", lambda s: s.update(title="another 1.1"))
    older = changed("1.0", lambda s: s.update(title="another 1.0"))

    with pytest.raises(schema_registry.ContractVersionConflictError, match=r"'1\.2'"):
        schema_registry.register_contract(other_1_1)
    with pytest.raises(schema_registry.ContractVersionConflictError, match="in order"):
        schema_registry.register_contract(mk.contracts.Contract(SALES, "SaleRecorded", "0.9",
                                                                older.schema))  # fmt: skip
    assert latest_version(mesh) == 2


def test_check_false_leaves_the_answer_to_glue_which_moto_never_gives(mesh):
    """With check=False meshkit sends the version as it is: on AWS Glue answers (FAILURE for a
    breaking version); moto stores it AVAILABLE (see the parity ledger)."""
    schema_registry.register_contract(sale("1.0"))
    retyped = changed("1.1", lambda s: s["properties"].update(amount={"type": "string"}))

    version = schema_registry.register_contract(retyped, check=False)

    assert (version.version_number, version.status) == (2, "AVAILABLE")


def test_on_aws_the_version_glue_is_still_checking_is_awaited(mesh, monkeypatch):
    """RegisterSchemaVersion "has the potential to run longer than other operations due to
    compatibility modes. You can call the GetSchemaVersion API with the SchemaVersionId to check"
    (Status PENDING, then AVAILABLE or FAILURE). A Glue that answers PENDING, then FAILURE."""
    real = glue(mesh)
    answers = iter(["PENDING", "FAILURE"])
    calls: list[str] = []

    class CheckingGlue:
        def __getattr__(self, name):
            return getattr(real, name)

        def register_schema_version(self, **kwargs):
            return {**real.register_schema_version(**kwargs), "Status": "PENDING"}

        def get_schema_version(self, **kwargs):
            got = real.get_schema_version(**kwargs)
            return {**got, "Status": next(answers)} if "SchemaVersionId" in kwargs else got

        def put_schema_version_metadata(self, **kwargs):
            calls.append("metadata")
            return real.put_schema_version_metadata(**kwargs)

    schema_registry.register_contract(sale("1.0"))
    monkeypatch.setattr(schema_registry._aws, "client", lambda *args, **kwargs: CheckingGlue())
    monkeypatch.setattr(schema_registry, "_POLL_S", 0)

    version = schema_registry.register_contract(sale("1.1"))

    assert (version.version_number, version.status) == (2, "FAILURE")
    assert calls == []  # a refused version gets no contract_version metadata


def test_a_schema_meshkit_did_not_create_is_left_alone(mesh):
    schema_registry.create_schema_registry("sales")
    glue(mesh).create_schema(RegistryId={"RegistryName": "sales-contracts"},
                             SchemaName="SaleRecorded", DataFormat="JSON", Compatibility="FULL",
                             SchemaDefinition='{"type": "object"}')  # fmt: skip

    with pytest.raises(NotMeshkitResourceError, match="SaleRecorded"):
        schema_registry.register_contract(sale("1.0"))


def test_a_stored_version_meshkit_cannot_read_as_a_schema_is_named(mesh):
    schema_registry.create_schema_registry("sales")
    glue(mesh).create_schema(RegistryId={"RegistryName": "sales-contracts"},
                             SchemaName="SaleRecorded", DataFormat="JSON", Compatibility="FULL",
                             SchemaDefinition='{"items": [{"type": "string"}]}',
                             Tags={"meshkit:workbook": "true",
                                   "meshkit:domain": "sales"})  # fmt: skip

    with pytest.raises(schema_registry.UncomparableSchemaVersionError, match="version 1"):
        schema_registry.register_contract(sale("1.0"))
    assert latest_version(mesh) == 1


def test_reading_a_schema_or_version_that_is_not_there_says_how_to_make_it(mesh):
    with pytest.raises(schema_registry.SchemaNotFoundError, match="register_contract"):
        schema_registry.list_schema_versions("sales", "SaleRecorded")
    schema_registry.register_contract(sale("1.0"))
    with pytest.raises(NotFoundError, match="version 9"):
        schema_registry.get_schema_definition("sales", "SaleRecorded", 9)
    assert isinstance(schema_registry.list_schema_versions("sales", "SaleRecorded"), pd.DataFrame)


# -- bad input ---------------------------------------------------------------------------------


def contract(source=SALES, detail_type="SaleRecorded", schema=None):
    return mk.contracts.Contract(source, detail_type, "1.0", schema or {})


BAD_INPUT = {
    "not a contract": (
        lambda: schema_registry.register_contract({"type": "object"}),
        ValidationError, "contract must be a Contract", r"mk\.contracts\.get",
    ),
    "unknown mode": (
        lambda: schema_registry.register_contract(sale("1.0"), compatibility="SOMETIMES"),
        ValidationError, "compatibility mode 'SOMETIMES'", "FULL",
    ),
    "unknown policy": (
        lambda: schema_registry.register_contract(sale("1.0"), policy="loose"),
        ValidationError, "policy 'loose'", "policy='lenient'",
    ),
    "check not a bool": (
        lambda: schema_registry.register_contract(sale("1.0"), check="yes"),
        ValidationError, "check is 'yes'", "pass True",
    ),
    "source without .domain": (
        lambda: schema_registry.register_contract(contract(source="sales")),
        ValidationError, "source 'sales'", "'<domain>.domain'",
    ),
    "detail-type Glue cannot name": (
        lambda: schema_registry.register_contract(contract(detail_type="Sale Recorded")),
        ValidationError, "contract.detail_type 'Sale Recorded'", "no spaces",
    ),
    "a schema draft-07 cannot say": (
        lambda: schema_registry.register_contract(contract(schema={"prefixItems": [{}]})),
        schema_registry.Draft07ConversionError, "prefixItems", "named properties",
    ),
    "domain not a string": (
        lambda: schema_registry.create_schema_registry(7),
        ValidationError, "domain", "'sales'",
    ),
    "domain not a name": (
        lambda: schema_registry.delete_schema_registry("9 lives"),
        ValidationError, "domain", "'sales'",
    ),
    "domain too long": (
        lambda: schema_registry.registry_name("s" * 248),
        ValidationError, "domain .* 255", "shorten it",
    ),
    "detail-type not a string": (
        lambda: schema_registry.list_schema_versions("sales", 7),
        ValidationError, "detail_type is a int", "'SaleRecorded'",
    ),
    "version number 0": (
        lambda: schema_registry.get_schema_definition("sales", "SaleRecorded", 0),
        ValidationError, "version_number 0", "pass 1 or more",
    ),
    "version number a bool": (
        lambda: schema_registry.get_schema_definition("sales", "SaleRecorded", True),
        ValidationError, "version_number is a bool", "pass an int",
    ),
    "version number a string": (
        lambda: schema_registry.get_schema_definition("sales", "SaleRecorded", "1"),
        ValidationError, "version_number is a str", "pass an int",
    ),
}  # fmt: skip


@pytest.mark.parametrize(("call", "error", "field", "fix"), BAD_INPUT.values(), ids=BAD_INPUT)
def test_bad_input_is_refused_naming_the_field_and_the_fix_before_anything_is_sent(
    mesh, sent, call, error, field, fix
):
    with pytest.raises(error, match=field) as refused:
        call()

    assert re.search(fix, str(refused.value))
    assert sent == []


def test_bad_input_an_oversized_schema_is_refused_before_anything_is_sent(mesh, sent):
    """RegisterSchemaVersion's SchemaDefinition: at most 170,000 characters."""
    huge = {"properties": {f"field_{i}": {"type": "string"} for i in range(9000)}}

    with pytest.raises(ValidationError, match="170000"):
        schema_registry.register_contract(mk.contracts.Contract(SALES, "Huge", "1.0", huge))
    assert sent == []
