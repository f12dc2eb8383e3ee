"""Governing data products with Lake Formation: LF-tags, grants, and who may read what.

The evaluator's rules are pinned by cases from the Lake Formation Developer Guide, each citing its
page; the API functions are tested on the embedded AWS, which stores tags and grants but applies
no inheritance and evaluates nothing (meshkit does both).
"""

from __future__ import annotations

import pytest
import urllib3.util

import meshkit as mk
from meshkit.exceptions import ValidationError
from meshkit.products import lakeformation as lf
from meshkit.products.lakeformation import (
    IAM_ALLOWED_PRINCIPALS,
    LFGrant,
    LFTableTags,
    LFTagValue,
    evaluate_database_access,
    evaluate_table_access,
)

ANALYST = "arn:aws:iam::123456789012:role/marketing-analyst"
AUDITOR = "arn:aws:iam::123456789012:role/auditor"
COLUMNS = ("sale_id", "amount", "currency", "event_date")


# -- the evaluator, case by case -------------------------------------------------------------


def entry(resource: dict, *permissions: str, principal: str = ANALYST) -> dict:
    """One ListPermissions entry (PrincipalResourcePermissions), as Lake Formation returns it."""
    return {
        "Principal": {"DataLakePrincipalIdentifier": principal},
        "Resource": resource,
        "Permissions": list(permissions),
        "PermissionsWithGrantOption": [],
    }


def on_table(database: str = "sales", name: str = "sale_recorded") -> dict:
    return {"Table": {"CatalogId": "123456789012", "DatabaseName": database, "Name": name}}


def on_columns(**selection) -> dict:
    """A TableWithColumns resource on sales.sale_recorded: ColumnNames or ColumnWildcard."""
    return {"TableWithColumns": {"DatabaseName": "sales", "Name": "sale_recorded", **selection}}


def tag_policy(resource_type: str = "TABLE", **expression) -> dict:
    return {
        "LFTagPolicy": {
            "CatalogId": "123456789012",
            "ResourceType": resource_type,
            "Expression": [{"TagKey": k, "TagValues": list(v)} for k, v in expression.items()],
        }
    }


def sales_table(**tags) -> LFTableTags:
    return LFTableTags("sales", "sale_recorded", COLUMNS, **tags)


def test_a_grant_on_a_table_covers_every_column():
    """A named grant on a table (TableResource with Name) holds on the whole table.
    https://docs.aws.amazon.com/lake-formation/latest/APIReference/API_TableResource.html"""
    decision = evaluate_table_access([entry(on_table(), "SELECT")], sales_table(), ANALYST)

    assert decision.allowed and decision.all_columns
    assert decision.columns == COLUMNS
    assert decision.cell == "all columns"
    assert [g.kind for g in decision.grants] == ["table"]


def test_a_grant_on_all_tables_covers_each_table_of_that_database_only():
    """TableWildcard: "A wildcard object representing every table under a database."
    https://docs.aws.amazon.com/lake-formation/latest/APIReference/API_TableResource.html"""
    grants = [entry({"Table": {"DatabaseName": "sales", "TableWildcard": {}}}, "SELECT")]

    assert evaluate_table_access(grants, sales_table(), ANALYST).all_columns
    other = LFTableTags("sales", "sale_updated", COLUMNS)
    assert evaluate_table_access(grants, other, ANALYST).all_columns
    elsewhere = LFTableTags("fraud", "sale_scored", COLUMNS)
    assert not evaluate_table_access(grants, elsewhere, ANALYST)


def test_a_grant_on_named_columns_reads_those_columns_only():
    """TableWithColumns with ColumnNames: SELECT on the listed columns.
    https://docs.aws.amazon.com/lake-formation/latest/APIReference/API_TableWithColumnsResource.html"""
    resource = on_columns(ColumnNames=["event_date", "sale_id"])

    decision = evaluate_table_access([entry(resource, "SELECT")], sales_table(), ANALYST)

    assert decision.allowed and not decision.all_columns
    assert decision.columns == ("sale_id", "event_date")  # in the table's order
    assert decision.cell == "sale_id, event_date"


def test_a_column_wildcard_reads_every_column_but_the_excluded_ones():
    """ColumnWildcard with ExcludedColumnNames: every column except those.
    https://docs.aws.amazon.com/lake-formation/latest/APIReference/API_ColumnWildcard.html"""
    resource = on_columns(ColumnWildcard={"ExcludedColumnNames": ["amount"]})

    decision = evaluate_table_access([entry(resource, "SELECT")], sales_table(), ANALYST)

    assert decision.columns == ("sale_id", "currency", "event_date")
    assert not decision.all_columns


def test_a_grant_on_columns_gives_select_only():
    """A table with a column filter takes SELECT only ("Lake Formation permissions per resource
    type"): it does not let the principal DESCRIBE or ALTER the table.
    https://docs.aws.amazon.com/lake-formation/latest/dg/lf-permissions-reference.html"""
    resource = on_columns(ColumnNames=COLUMNS)
    grants = [entry(resource, "SELECT")]

    assert evaluate_table_access(grants, sales_table(), ANALYST, "SELECT").all_columns
    describe = evaluate_table_access(grants, sales_table(), ANALYST, "DESCRIBE")
    assert not describe
    assert "gives SELECT only" in describe.reason


def test_an_expression_ands_its_keys():
    """ "Within a given LF-Tag expression, the tag keys are combined using the AND operation."
    https://docs.aws.amazon.com/lake-formation/latest/dg/managing-tag-expressions.html"""
    grants = [entry(tag_policy(domain=["sales"], classification=["internal"]), "SELECT")]
    both = sales_table(on_database={"domain": "sales"}, on_table={"classification": "internal"})
    one = sales_table(on_database={"domain": "sales"}, on_table={"classification": "restricted"})

    assert evaluate_table_access(grants, both, ANALYST).all_columns
    denied = evaluate_table_access(grants, one, ANALYST)
    assert not denied
    assert "classification=restricted (from the table)" in denied.reason


def test_an_expression_ors_the_values_of_a_key():
    """ "... while the values are combined using the OR operation": domain=(consumer OR
    commercial) matches either. https://docs.aws.amazon.com/lake-formation/latest/dg/lf-tag-considerations.html"""
    grants = [entry(tag_policy(classification=["public", "internal"]), "SELECT")]

    for value in ("public", "internal"):
        tags = sales_table(on_table={"classification": value})
        assert evaluate_table_access(grants, tags, ANALYST).all_columns
    confidential = sales_table(on_table={"classification": "confidential"})
    assert not evaluate_table_access(grants, confidential, ANALYST)


def test_a_table_inherits_its_databases_tags():
    """ "If a table inherits a LF-Tag from a database or a column inherits a LF-Tag from a table,
    you can override the inherited value": inheritance is the default.
    https://docs.aws.amazon.com/lake-formation/latest/dg/TBAC-assigning-tags.html"""
    grants = [entry(tag_policy(domain=["sales"]), "SELECT")]
    tags = sales_table(on_database={"domain": "sales"})  # nothing assigned to the table

    decision = evaluate_table_access(grants, tags, ANALYST)

    assert decision.all_columns
    assert tags.effective("amount")["domain"] == LFTagValue("sales", "database")
    assert "domain=sales (from the database)" in decision.reason


def test_a_value_assigned_to_the_table_overrides_the_databases():
    """ "... you can override the inherited value by assigning a new value to the LF-Tag key."
    https://docs.aws.amazon.com/lake-formation/latest/dg/TBAC-assigning-tags.html"""
    grants = [entry(tag_policy(classification=["public"]), "SELECT")]
    tags = sales_table(
        on_database={"classification": "public"}, on_table={"classification": "confidential"}
    )

    assert tags.effective()["classification"] == LFTagValue("confidential", "table")
    assert not evaluate_table_access(grants, tags, ANALYST)


def test_a_confidential_column_under_an_internal_table_is_left_out_of_an_internal_grant():
    """A column inherits its table's tags unless assigned its own value; a grant on
    classification=internal then covers every column but the one tagged confidential, and a
    grant on confidential covers that column only.
    https://docs.aws.amazon.com/lake-formation/latest/dg/TBAC-assigning-tags.html and
    https://docs.aws.amazon.com/lake-formation/latest/dg/tag-based-access-control.html"""
    tags = sales_table(
        on_table={"classification": "internal"},
        on_columns={"amount": {"classification": "confidential"}},
    )
    internal = [entry(tag_policy(classification=["internal"]), "SELECT")]
    confidential = [entry(tag_policy(classification=["confidential"]), "SELECT")]

    decision = evaluate_table_access(internal, tags, ANALYST)
    assert decision.columns == ("sale_id", "currency", "event_date")
    assert "not amount" in decision.reason
    assert "classification=confidential (from the column)" in decision.reason
    assert evaluate_table_access(confidential, tags, ANALYST).columns == ("amount",)


def test_on_part_of_a_table_all_gives_select_and_describe_and_alter_gives_nothing():
    """ "If a LF-Tag expression evaluation results in access to only a subset of table columns
    ... ALTER, DROP, INSERT, or DELETE, then none of those permissions is granted. Instead, only
    DESCRIBE is granted. If the granted permission is ALL (Super), then only SELECT and DESCRIBE
    are granted." https://docs.aws.amazon.com/lake-formation/latest/dg/TBAC-notes.html"""
    tags = sales_table(
        on_table={"classification": "internal"},
        on_columns={"amount": {"classification": "confidential"}},
    )
    all_of_it = [entry(tag_policy(classification=["internal"]), "ALL")]
    alter = [entry(tag_policy(classification=["internal"]), "ALTER")]

    assert evaluate_table_access(all_of_it, tags, ANALYST, "SELECT").allowed
    assert evaluate_table_access(all_of_it, tags, ANALYST, "DESCRIBE").allowed
    assert not evaluate_table_access(all_of_it, tags, ANALYST, "ALTER")
    assert not evaluate_table_access(alter, tags, ANALYST, "ALTER")
    assert evaluate_table_access(alter, tags, ANALYST, "DESCRIBE").allowed
    # on the whole table, ALL holds ALTER too
    whole = sales_table(on_table={"classification": "internal"})
    assert evaluate_table_access(all_of_it, whole, ANALYST, "ALTER").all_columns


def test_an_lf_tag_policy_on_databases_gives_database_permissions_not_table_ones():
    """ "LF-Tag policy - Database" grants ALL, ALTER, CREATE_TABLE, DESCRIBE, DROP on matching
    databases; only "LF-Tag policy - Table" grants SELECT.
    https://docs.aws.amazon.com/lake-formation/latest/dg/lf-permissions-reference.html"""
    grants = [entry(tag_policy("DATABASE", domain=["sales"]), "DESCRIBE", "CREATE_TABLE")]
    tags = sales_table(on_database={"domain": "sales"})

    table = evaluate_table_access(grants, tags, ANALYST)
    assert not table
    assert "ResourceType DATABASE" in table.reason
    assert evaluate_database_access(grants, "sales", {"domain": "sales"}, ANALYST).allowed
    assert not evaluate_database_access(grants, "fraud", {"domain": "fraud"}, ANALYST)


def test_describe_shows_a_table_without_reading_it_and_all_holds_both():
    """DESCRIBE and SELECT are separate table permissions; ALL (Super) holds every permission
    of its resource. https://docs.aws.amazon.com/lake-formation/latest/dg/lf-permissions-reference.html"""
    describe = [entry(on_table(), "DESCRIBE")]
    everything = [entry(on_table(), "ALL")]

    assert evaluate_table_access(describe, sales_table(), ANALYST, "DESCRIBE").allowed
    reading = evaluate_table_access(describe, sales_table(), ANALYST, "SELECT")
    assert not reading
    assert "grants DESCRIBE, not SELECT" in reading.reason
    for permission in ("SELECT", "DESCRIBE", "ALTER", "INSERT"):
        assert evaluate_table_access(everything, sales_table(), ANALYST, permission).all_columns


def test_named_and_tag_grants_add_up():
    """ "The permissions that a principal has on a resource is the union of the permissions
    granted by both the methods."
    https://docs.aws.amazon.com/lake-formation/latest/dg/access-control-metadata.html"""
    tags = sales_table(
        on_table={"classification": "internal"},
        on_columns={"amount": {"classification": "confidential"}},
    )
    amount = on_columns(ColumnNames=["amount"])
    grants = [
        entry(tag_policy(classification=["internal"]), "SELECT"),
        entry(amount, "SELECT"),
    ]

    decision = evaluate_table_access(grants, tags, ANALYST)

    assert decision.all_columns
    assert len(decision.grants) == 2


def test_iam_allowed_principals_lets_every_principal_iam_allows_read():
    """The IAMAllowedPrincipal group "includes all IAM principals who have access to Data
    Catalog resources through IAM principal policies ... If this permissions exists on a database
    or table, all principals will be granted access".
    https://docs.aws.amazon.com/lake-formation/latest/dg/metadata-permissions.html"""
    grants = [entry(on_table(), "ALL", principal=IAM_ALLOWED_PRINCIPALS)]

    for principal in (ANALYST, AUDITOR, IAM_ALLOWED_PRINCIPALS):
        decision = evaluate_table_access(grants, sales_table(), principal)
        assert decision.all_columns
        assert "leaves this resource to IAM" in decision.reason


def test_grants_to_others_do_not_count_and_no_grant_denies():
    """Lake Formation grants are per principal: "Only principals that are granted matching
    LF-Tags (and principals that are granted access with the named resource method) can access
    the resources." https://docs.aws.amazon.com/lake-formation/latest/dg/TBAC-assigning-tags.html"""
    grants = [entry(on_table(), "SELECT", principal=AUDITOR)]

    decision = evaluate_table_access(grants, sales_table(), ANALYST)

    assert not decision
    assert decision.cell == ""
    assert decision.grants == ()
    assert (
        decision.reason
        == f"no grant gives {ANALYST} SELECT on sales.sale_recorded (it holds none on it)"
    )


def test_a_grant_on_all_tables_implies_describe_on_the_database():
    """ "If you grant permissions on all tables in a database, you are implicitly granting the
    DESCRIBE permission on the database."
    https://docs.aws.amazon.com/lake-formation/latest/dg/granting-catalog-permissions.html"""
    grants = [entry({"Table": {"DatabaseName": "sales", "TableWildcard": {}}}, "SELECT")]

    assert evaluate_database_access(grants, "sales", {}, ANALYST, "DESCRIBE").allowed
    assert not evaluate_database_access(grants, "sales", {}, ANALYST, "CREATE_TABLE")
    assert not evaluate_database_access([entry(on_table(), "SELECT")], "sales", {}, ANALYST)


def test_tag_keys_and_values_compare_lower_cased():
    """ "Tags keys and values are converted to all lower case when they are stored."
    https://docs.aws.amazon.com/lake-formation/latest/dg/TBAC-notes.html"""
    grants = [entry(tag_policy(Classification=["Internal"]), "SELECT")]

    assert evaluate_table_access(
        grants, sales_table(on_table={"classification": "internal"}), ANALYST
    )


def test_a_grant_meshkit_cannot_evaluate_is_reported_not_guessed():
    """A data cells filter grant (row and column filters) is evaluated on AWS only: the decision
    says so rather than guess. https://docs.aws.amazon.com/lake-formation/latest/dg/data-filtering.html"""
    cells = {
        "DataCellsFilter": {"DatabaseName": "sales", "TableName": "sale_recorded", "Name": "eu"}
    }
    grants = [entry(cells, "SELECT")]

    decision = evaluate_table_access(grants, sales_table(), ANALYST)

    assert not decision
    assert "meshkit does not evaluate a grant on DataCellsFilter" in decision.reason


def test_a_grant_reads_back_from_its_listpermissions_entry():
    """ListPermissions returns each grant as Principal, Resource (CatalogId added), Permissions.
    https://docs.aws.amazon.com/lake-formation/latest/APIReference/API_PrincipalResourcePermissions.html"""
    found = LFGrant.from_permission(entry(tag_policy(domain=["sales", "hr"]), "SELECT", "DESCRIBE"))

    assert found.kind == "LF-tag policy"
    assert found.expression == (("domain", ("hr", "sales")),)
    assert found.describe() == "DESCRIBE, SELECT on tables matching domain=(hr OR sales)"
    assert found.resource() == {
        "LFTagPolicy": {
            "ResourceType": "TABLE",
            "Expression": [{"TagKey": "domain", "TagValues": ["hr", "sales"]}],
        }
    }


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: evaluate_table_access([], sales_table(), ANALYST, "FLY"), "permission"),
        (lambda: evaluate_table_access([], sales_table(), ANALYST, "CREATE_TABLE"), "permission"),
        (lambda: evaluate_table_access([], sales_table(), ""), "principal"),
        (lambda: evaluate_table_access([{"Resource": {}}], sales_table(), ANALYST), "Principal"),
        (lambda: evaluate_table_access({"x": 1}, sales_table(), ANALYST), "grants"),
        (lambda: evaluate_table_access([], {"database": "sales"}, ANALYST), "LFTableTags"),
        (lambda: evaluate_database_access([], "sales", {}, ANALYST, "SELECT"), "permission"),
    ],
)
def test_bad_input_to_the_evaluator_is_refused(sent, call, field):
    with pytest.raises(ValidationError, match=field):
        call()
    assert sent == []


# -- on the embedded AWS -------------------------------------------------------------------------


@pytest.fixture
def calls(monkeypatch) -> list[tuple[str, str]]:
    """(HTTP method, path) of every request botocore sends: Lake Formation's operations are
    paths (``/GrantPermissions``), not X-Amz-Target headers."""
    import botocore.httpsession

    found: list[tuple[str, str]] = []
    original = botocore.httpsession.URLLib3Session.send

    def send(self, request):
        found.append((request.method, urllib3.util.parse_url(request.url).path or "/"))
        return original(self, request)

    monkeypatch.setattr(botocore.httpsession.URLLib3Session, "send", send)
    return found


WRITES = (
    "/CreateLFTag", "/UpdateLFTag", "/AddLFTagsToResource", "/RemoveLFTagsFromResource",
    "/GrantPermissions", "/RevokePermissions", "/BatchGrantPermissions",
)  # fmt: skip


def writes(calls: list[tuple[str, str]]) -> list[str]:
    return [path for _, path in calls if path in WRITES]


def client(mesh, service: str):
    return mesh.session().client(service, endpoint_url=mesh.endpoint_url)


def sales_product(detail_type: str = "SaleRecorded", classification: str = "internal"):
    product = mk.products.define_data_product(
        "sales", detail_type, description=f"Every {detail_type}", classification=classification
    )
    mk.products.create_data_product(product)
    return product


@pytest.fixture
def governed(mesh):
    """Two Sales products, LF-tags defined, both tagged: sale-recorded internal, sale-updated
    confidential."""
    recorded = sales_product()
    updated = sales_product("SaleUpdated", "confidential")
    lf.create_lf_tags(["sales", "marketing"])
    lf.tag_data_product(recorded)
    lf.tag_data_product(updated)
    return recorded, updated


def test_create_lf_tags_is_idempotent_and_keeps_values_others_added(mesh, calls):
    """CreateLFTag defines a key and values; UpdateLFTag adds values. meshkit adds what is
    missing and never removes another's value.
    https://docs.aws.amazon.com/lake-formation/latest/dg/TBAC-creating-tags.html"""
    first = lf.create_lf_tags(["sales", "customer-support"])
    client(mesh, "lakeformation").update_lf_tag(TagKey="domain", TagValuesToAdd=["finance"])
    calls.clear()

    again = lf.create_lf_tags(["sales"])
    more = lf.create_lf_tags(["marketing"])

    assert first == {
        "domain": ["sales", "customer_support"],
        "classification": ["public", "internal", "confidential", "restricted"],
    }
    assert again["domain"] == ["sales", "customer_support", "finance"]
    assert more["domain"] == ["sales", "customer_support", "finance", "marketing"]
    assert writes(calls) == ["/UpdateLFTag"]  # only marketing was missing


def test_tag_data_product_tags_database_and_table_and_meshkit_applies_inheritance(governed, mesh):
    """The database gets domain, the table classification; the table inherits domain, which
    GetResourceLFTags on the embedded AWS does not show (the parity ledger pins it).
    https://docs.aws.amazon.com/lake-formation/latest/dg/TBAC-assigning-tags.html"""
    recorded, _ = governed

    assert lf.effective_lf_tags("sales", "sale_recorded") == {
        "classification": LFTagValue("internal", "table"),
        "domain": LFTagValue("sales", "database"),
    }
    assert lf.effective_lf_tags("sales", "sale_updated", "amount") == {
        "classification": LFTagValue("confidential", "table"),
        "domain": LFTagValue("sales", "database"),
    }
    assert lf.effective_lf_tags("sales") == {"domain": LFTagValue("sales", "database")}
    assert lf.tag_data_product(recorded)["classification"].value == "internal"  # idempotent


def test_a_column_override_is_assigned_and_reads_back_with_its_source(governed):
    """A value assigned to a column overrides the one it inherits from its table; removing it
    brings the inherited one back.
    https://docs.aws.amazon.com/lake-formation/latest/dg/TBAC-assigning-tags.html"""
    changed = lf.assign_lf_tags(
        database="sales", table="sale_recorded", columns=["amount"],
        tags={"classification": "confidential"},
    )  # fmt: skip
    unchanged = lf.assign_lf_tags(
        database="sales", table="sale_recorded", columns=["amount"],
        tags={"classification": "confidential"},
    )  # fmt: skip

    assert (changed, unchanged) == (True, False)
    assert lf.effective_lf_tags("sales", "sale_recorded", "amount")["classification"] == (
        LFTagValue("confidential", "column")
    )
    assert lf.effective_lf_tags("sales", "sale_recorded", "sale_id")["classification"] == (
        LFTagValue("internal", "table")
    )
    assert lf.remove_lf_tags(
        database="sales", table="sale_recorded", columns=["amount"], keys=["classification"]
    )
    assert lf.effective_lf_tags("sales", "sale_recorded", "amount")["classification"] == (
        LFTagValue("internal", "table")
    )


def test_assigning_a_second_key_keeps_the_first(governed, mesh):
    """AddLFTagsToResource adds to what a resource has (one value per key); meshkit sends the
    merged set because the embedded AWS replaces it.
    https://docs.aws.amazon.com/lake-formation/latest/APIReference/API_AddLFTagsToResource.html"""
    client(mesh, "lakeformation").create_lf_tag(TagKey="retention", TagValues=["1y", "7y"])

    lf.assign_lf_tags(database="sales", table="sale_recorded", tags={"retention": "7y"})

    assert lf.effective_lf_tags("sales", "sale_recorded") == {
        "classification": LFTagValue("internal", "table"),
        "domain": LFTagValue("sales", "database"),
        "retention": LFTagValue("7y", "table"),
    }


def test_a_tag_grant_shows_in_the_grid_and_revoke_empties_the_cell(governed):
    """A grant on an LF-tag expression covers every table whose tags match; a column tagged
    otherwise drops out of it; revoking the grant takes it all back.
    https://docs.aws.amazon.com/lake-formation/latest/dg/granting-catalog-perms-TBAC.html"""
    recorded, updated = governed
    everyday = {"domain": ["sales"], "classification": ["public", "internal"]}

    assert lf.grant(ANALYST, expression=everyday) is True
    grid = lf.who_can_read(principals=[ANALYST], products=[recorded, updated])
    assert grid.loc[ANALYST, "sales.sale-recorded"] == "all columns"
    assert grid.loc[ANALYST, "sales.sale-updated"] == ""

    lf.assign_lf_tags(
        database="sales", table="sale_recorded", columns=["amount"],
        tags={"classification": "confidential"},
    )  # fmt: skip
    grid = lf.who_can_read(principals=[ANALYST], products=[recorded])
    readable = grid.loc[ANALYST, "sales.sale-recorded"].split(", ")
    assert "amount" not in readable
    assert readable[0] == "event_id" and readable[-1] == "event_date"

    assert lf.revoke(ANALYST, expression=everyday) is True
    assert lf.who_can_read(principals=[ANALYST], products=[recorded]).iloc[0, 0] == ""


def test_a_double_grant_sends_one_grant_and_the_revoke_works(governed, calls):
    """Granting twice changes nothing the second time (nothing sent), so the revoke works: on
    the embedded AWS a revoke after two identical grants can fail with HTTP 500.
    https://docs.aws.amazon.com/lake-formation/latest/APIReference/API_GrantPermissions.html"""
    calls.clear()

    first = lf.grant(ANALYST, database="sales", table="sale_recorded")
    second = lf.grant(ANALYST, database="sales", table="sale_recorded")

    assert (first, second) == (True, False)
    assert writes(calls) == ["/GrantPermissions"]
    assert lf.revoke(ANALYST, database="sales", table="sale_recorded") is True
    assert lf.revoke(ANALYST, database="sales", table="sale_recorded") is False
    assert lf.list_grants(principal=ANALYST).empty


def test_adding_a_permission_to_a_held_grant_keeps_one_grant_that_revokes(governed, mesh):
    """Granting SELECT, then DESCRIBE, on one table leaves one grant holding both (as on AWS);
    revoking it then works, where the embedded AWS fails with HTTP 500 after two grants.
    https://docs.aws.amazon.com/lake-formation/latest/APIReference/API_RevokePermissions.html"""
    lf.grant(ANALYST, database="sales", table="sale_recorded", permissions=["SELECT"])
    lf.grant(ANALYST, database="sales", table="sale_recorded", permissions=["DESCRIBE"])

    grants = lf.list_grants(principal=ANALYST)
    assert grants["permissions"].tolist() == ["DESCRIBE, SELECT"]
    assert lf.revoke(ANALYST, database="sales", table="sale_recorded", permissions=["SELECT"])
    assert lf.list_grants(principal=ANALYST)["permissions"].tolist() == ["DESCRIBE"]
    assert lf.revoke(ANALYST, database="sales", table="sale_recorded")
    stored = client(mesh, "lakeformation").list_permissions()["PrincipalResourcePermissions"]
    assert stored == []


def test_named_grants_on_columns_and_on_all_tables_show_in_the_grid(governed):
    """Named-resource grants: columns of a table (SELECT), every table of a database.
    https://docs.aws.amazon.com/lake-formation/latest/dg/granting-cat-perms-named-resource.html"""
    recorded, updated = governed
    lf.grant(ANALYST, database="sales", table="sale_recorded", columns=["sale_id", "amount"])
    lf.grant(AUDITOR, database="sales")

    grid = lf.who_can_read(products=[recorded, updated])

    assert grid.index.tolist() == [AUDITOR, ANALYST]
    assert grid.loc[ANALYST].tolist() == ["sale_id, amount", ""]
    assert grid.loc[AUDITOR].tolist() == ["all columns", "all columns"]
    frame = lf.list_grants()
    assert frame[["resource", "columns", "permissions"]].values.tolist() == [
        ["all tables", "", "DESCRIBE, SELECT"],
        ["columns", "sale_id, amount", "SELECT"],
    ]


def test_who_can_read_defaults_to_every_grantee_and_every_product(governed):
    """The grid covers every principal holding a grant (IAM_ALLOWED_PRINCIPALS last) and every
    product of the catalog. https://docs.aws.amazon.com/lake-formation/latest/dg/metadata-permissions.html"""
    lf.grant(IAM_ALLOWED_PRINCIPALS, database="sales", table="sale_updated", permissions=["ALL"])
    lf.grant(ANALYST, expression={"classification": "internal"})

    grid = lf.who_can_read()

    assert grid.index.tolist() == [ANALYST, IAM_ALLOWED_PRINCIPALS]
    assert grid.columns.tolist() == ["sales.sale-recorded", "sales.sale-updated"]
    assert grid.loc[ANALYST].tolist() == ["all columns", "all columns"]  # IAM decides the second
    assert grid.loc[IAM_ALLOWED_PRINCIPALS].tolist() == ["", "all columns"]
    assert grid.attrs["evaluated_by"] == "meshkit evaluator"


def test_explain_access_names_the_grant_and_the_tags_that_decided(governed):
    """The decision behind a cell: the grant that matched and the tags it matched on.
    https://docs.aws.amazon.com/lake-formation/latest/dg/tag-based-access-control.html"""
    lf.grant(ANALYST, expression={"classification": ["public", "internal"]})

    allowed = lf.explain_access(ANALYST, "sales.sale-recorded")
    denied = lf.explain_access(ANALYST, "sales.sale-updated")

    assert allowed.allowed and allowed.all_columns
    assert "classification=internal (from the table)" in allowed.reason
    assert not denied
    assert "classification=confidential (from the table)" in denied.reason
    assert lf.explain_access(ANALYST, "sales.sale-recorded", permission="describe").allowed


def test_an_untagged_table_has_no_tags_and_matches_no_tag_grant(mesh):
    """A table nobody tagged has no LF-tags (the embedded AWS fails GetResourceLFTags on it with
    HTTP 500, which meshkit reads as none).
    https://docs.aws.amazon.com/lake-formation/latest/APIReference/API_GetResourceLFTags.html"""
    product = sales_product()
    lf.create_lf_tags(["sales"])
    lf.grant(ANALYST, expression={"domain": "sales"})

    assert lf.effective_lf_tags("sales", "sale_recorded") == {}
    assert lf.explain_access(ANALYST, product).cell == ""


def test_remove_lf_tags_leaves_inherited_and_other_tags(governed):
    """Only assigned tags can be removed; an inherited one stays.
    https://docs.aws.amazon.com/lake-formation/latest/dg/TBAC-assigning-tags.html"""
    assert lf.remove_lf_tags(database="sales", table="sale_recorded", keys=["domain"]) is False
    assert lf.remove_lf_tags(database="sales", table="sale_recorded", keys=["classification"])
    assert lf.effective_lf_tags("sales", "sale_recorded") == {
        "domain": LFTagValue("sales", "database")
    }


# -- bad input: refused before anything changes ---------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"expression": {"classification": "internal"}, "permissions": ["FLY"]}, "permissions"),
        ({"database": "sales", "table": "t", "permissions": ["CREATE_TABLE"]}, "permissions"),
        (
            {"database": "sales", "table": "t", "columns": ["a"], "permissions": ["DESCRIBE"]},
            "permissions",
        ),
        ({"database": "sales", "permissions": "SELECT"}, "permissions"),
        ({"database": "sales", "permissions": []}, "permissions"),
        ({"expression": {"domain": "sales"}, "database": "sales"}, "expression"),
        ({}, "expression"),
        ({"database": "sales", "columns": ["a"]}, "columns"),
        ({"database": "sales", "table": "t", "columns": []}, "columns"),
        ({"expression": {}}, "expression"),
        ({"expression": {"domain": []}}, "expression"),
        ({"expression": {"domain": ["sales!"]}}, "expression"),
        ({"expression": {"domain": {"sales": 1}}}, "expression"),
        ({"database": ""}, "database"),
    ],
)
def test_bad_input_to_grant_is_refused_before_anything_is_sent(mesh, sent, kwargs, field):
    with pytest.raises(ValidationError, match=field):
        lf.grant(ANALYST, **kwargs)
    assert sent == []


@pytest.mark.parametrize(
    "principal", ["", "marketing-analyst", "arn:aws:iam::123:role/x", "arn:aws:s3:::bucket", 7]
)
def test_bad_input_a_principal_lake_formation_does_not_take_is_refused(mesh, sent, principal):
    with pytest.raises(ValidationError, match="principal"):
        lf.grant(principal, database="sales")
    with pytest.raises(ValidationError, match="principal"):
        lf.revoke(principal, database="sales")
    assert sent == []


@pytest.mark.parametrize(
    "principal", ["210987654321", "arn:aws:iam::210987654321:role/marketing-analyst"]
)
def test_bad_input_another_account_is_refused_offline_as_aws_only(mesh, sent, principal):
    """Lake Formation shares with another account through AWS RAM, which moto lacks.
    https://docs.aws.amazon.com/lake-formation/latest/dg/cross-account-permissions.html"""
    with pytest.raises(lf.AwsOnlyError, match="RAM") as raised:
        lf.grant(principal, database="sales")
    assert "real AWS" in str(raised.value)
    assert isinstance(raised.value, mk.exceptions.TargetError)
    assert sent == []


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"database": "sales", "tags": {"classification": ["internal", "public"]}}, "one value"),
        ({"database": "sales", "tags": {}}, "tags"),
        ({"database": "sales", "tags": {f"k{i}": "v" for i in range(51)}}, "at most 50"),
        ({"database": "sales", "tags": {"domain": "a b!"}}, "tags"),
        ({"database": "sales", "columns": ["amount"], "tags": {"domain": "sales"}}, "columns"),
        ({"database": 3, "tags": {"domain": "sales"}}, "database"),
    ],
)
def test_bad_input_to_assign_lf_tags_is_refused_before_anything_is_sent(mesh, sent, kwargs, field):
    with pytest.raises(ValidationError, match=field):
        lf.assign_lf_tags(**kwargs)
    assert sent == []


@pytest.mark.parametrize("domains", ["sales", None, [""], ["9sales"]])
def test_bad_input_create_lf_tags_takes_a_list_of_domains(mesh, sent, domains):
    with pytest.raises(ValidationError, match="domains"):
        lf.create_lf_tags(domains)
    assert sent == []


def test_bad_input_an_undefined_tag_value_is_refused_before_any_grant(governed, calls):
    """ "All LF-Tags must be predefined before they can be assigned to Data Catalog resources or
    granted to principals"; moto would accept it (the parity ledger pins that).
    https://docs.aws.amazon.com/lake-formation/latest/dg/lf-tag-considerations.html"""
    calls.clear()

    with pytest.raises(lf.UndefinedLFTagError, match=r"'classification' has no value 'secret'"):
        lf.grant(ANALYST, expression={"classification": "secret"})
    with pytest.raises(lf.UndefinedLFTagError, match="create_lf_tags"):
        lf.assign_lf_tags(database="sales", tags={"owner": "sales-team"})
    with pytest.raises(mk.exceptions.NotFoundError):
        lf.assign_lf_tags(database="sales", tags={"domain": "finance"})

    assert writes(calls) == []


def test_bad_input_a_missing_table_or_column_is_refused_before_any_grant(governed, calls):
    """Lake Formation grants and tags only what exists; moto accepts a grant on a table that
    does not (the parity ledger pins it).
    https://docs.aws.amazon.com/lake-formation/latest/APIReference/API_GrantPermissions.html"""
    calls.clear()

    with pytest.raises(lf.CatalogResourceNotFoundError, match=r"no Glue table sales\.nope"):
        lf.grant(ANALYST, database="sales", table="nope")
    with pytest.raises(lf.CatalogResourceNotFoundError, match="no Glue database 'nowhere'"):
        lf.grant(ANALYST, database="nowhere")
    with pytest.raises(lf.CatalogResourceNotFoundError, match="no column price"):
        lf.grant(ANALYST, database="sales", table="sale_recorded", columns=["price"])
    with pytest.raises(lf.CatalogResourceNotFoundError, match="no column price"):
        lf.assign_lf_tags(
            database="sales", table="sale_recorded", columns=["price"], tags={"domain": "sales"}
        )

    assert writes(calls) == []


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: lf.who_can_read(products="sales.sale-recorded"), "products"),
        (lambda: lf.who_can_read(principals=ANALYST), "principals"),
        (lambda: lf.explain_access(ANALYST, 42), "product"),
        (lambda: lf.explain_access(ANALYST, "sales.sale-recorded", permission="FLY"), "permission"),
        (lambda: lf.effective_lf_tags("sales", column="amount"), "table"),
        (lambda: lf.remove_lf_tags(database="sales", keys="domain"), "keys"),
        (lambda: lf.list_grants(principal="nobody"), "principal"),
    ],
)
def test_bad_input_to_the_readers_is_refused_before_anything_is_sent(mesh, sent, call, field):
    with pytest.raises(ValidationError, match=field):
        call()
    assert sent == []
