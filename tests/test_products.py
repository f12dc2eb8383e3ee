"""The data product descriptor: stored in Glue where AWS users look, read back the same, found.

Glue's table parameters and tags: https://docs.aws.amazon.com/glue/latest/webapi/API_TableInput.html
and https://docs.aws.amazon.com/glue/latest/dg/monitor-tags.html.
"""

from __future__ import annotations

import json

import pytest

import meshkit as mk
from meshkit.exceptions import NotMeshkitResourceError, ValidationError


def sales_product(**changes):
    fields = {
        "description": "Every sale recorded in the Sales domain",
        "classification": "internal",
    }
    return mk.products.define_data_product("sales", "SaleRecorded", **{**fields, **changes})


def glue(mesh):
    return mesh.session().client("glue", endpoint_url=mesh.endpoint_url)


def test_the_descriptor_is_stored_as_the_tables_parameters_and_tags_and_reads_back_equal(mesh):
    # Given the Sales domain's product of SaleRecorded events
    product = sales_product(lineage=("dynamodb:sales",), freshness_slo_minutes=5)
    # When it is created
    arn = mk.products.create_data_product(product)
    # Then a Glue table holds it, where any Glue client sees it
    assert arn == f"arn:aws:glue:us-west-2:{mesh.account_id}:table/sales/sale_recorded"
    table = glue(mesh).get_table(DatabaseName="sales", Name="sale_recorded")["Table"]
    assert table["Description"] == "Every sale recorded in the Sales domain"
    parameters = table["Parameters"]
    assert parameters["classification"] == "parquet"  # Glue's format convention, not sensitivity
    assert parameters["data_product.classification"] == "internal"
    assert parameters["data_product.owner"] == "sales-team"
    assert json.loads(parameters["data_product.events"])["bus"] == "SalesEventBus"
    assert [key["Name"] for key in table["PartitionKeys"]] == ["event_date"]
    tags = glue(mesh).get_tags(ResourceArn=arn)["Tags"]
    assert tags["meshkit:workbook"] == "true"
    assert tags["data-classification"] == "internal"
    # And reads back as the same descriptor
    assert mk.products.get_data_product("sales.sale-recorded") == product


def test_columns_are_the_envelope_then_every_contract_versions_data(mesh):
    product = sales_product()
    names = [column.name for column in product.columns]
    assert names[:6] == [
        "event_id", "idempotency_key", "event_time", "detail_type", "schema_version",
        "correlation_id",
    ]  # fmt: skip
    assert names[6:] == ["sale_id", "amount", "timestamp", "currency"]  # currency from 1.1
    types = {column.name: column.type for column in product.columns}
    assert (types["amount"], types["event_time"], types["sale_id"]) == (
        "double",
        "timestamp",
        "string",
    )


def test_create_is_idempotent_and_updates_a_changed_product(mesh):
    product = sales_product()
    arn = mk.products.create_data_product(product)
    assert mk.products.create_data_product(product) == arn
    versions = glue(mesh).get_table_versions(DatabaseName="sales", TableName="sale_recorded")
    before = len(versions["TableVersions"])
    changed = sales_product(owner="sales-data-team", classification="confidential")
    mk.products.create_data_product(changed)
    assert mk.products.get_data_product("sales.sale-recorded") == changed
    versions = glue(mesh).get_table_versions(DatabaseName="sales", TableName="sale_recorded")
    assert len(versions["TableVersions"]) == before + 1


def test_a_table_meshkit_did_not_make_is_left_alone(mesh):
    # Given a Glue table of that name that someone else made in the domain's database
    product = sales_product()
    mk.products.create_data_product(product)
    mk.products.delete_data_product(product.name)
    glue(mesh).create_table(DatabaseName="sales", TableInput={"Name": "sale_recorded"})
    # Then meshkit neither takes it over nor deletes it
    with pytest.raises(NotMeshkitResourceError, match="did not create it"):
        mk.products.create_data_product(product)
    assert mk.products.delete_data_product(product.name) is False
    assert glue(mesh).get_table(DatabaseName="sales", Name="sale_recorded")["Table"]


def test_delete_removes_the_table_and_on_request_its_files(mesh):
    product = sales_product()
    mk.products.create_data_product(product)
    s3 = mesh.session().client("s3", endpoint_url=mesh.endpoint_url)
    bucket = mk.products.product_bucket("sales")
    s3.put_object(Bucket=bucket, Key="sale_recorded/event_date=2026-01-29/a.parquet", Body=b"x")
    s3.put_object(Bucket=bucket, Key="other/keep.txt", Body=b"x")
    assert mk.products.delete_data_product(product.name, delete_data=True) is True
    keys = [item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    assert keys == ["other/keep.txt"]
    assert mk.products.delete_data_product(product.name) is False


def test_discovery_filters_by_domain_classification_owner_column_and_text(mesh):
    mk.products.create_data_product(sales_product())
    mk.products.create_data_product(
        mk.products.define_data_product(
            "sales",
            "SaleDeleted",
            description="Sales that were cancelled",
            classification="confidential",
            owner="sales-ops",
        )
    )

    def names(**filters):
        return mk.products.list_data_products(**filters).name.tolist()

    assert names() == ["sales.sale-deleted", "sales.sale-recorded"]
    assert names(classification="confidential") == ["sales.sale-deleted"]
    assert names(owner="sales-ops") == ["sales.sale-deleted"]
    assert names(column="amount") == ["sales.sale-recorded"]
    assert names(text="cancelled sales") == ["sales.sale-deleted"]
    assert names(domain="Sales") == names()
    assert names(domain="marketing") == []
    frame = mk.products.list_data_products()
    assert frame.attrs["searched_with"] == "GetTables + meshkit's filter"
    assert set(frame.columns) >= {"name", "owner", "classification", "columns", "location"}


def test_an_empty_catalog_gives_an_empty_frame_with_the_columns(mesh):
    frame = mk.products.list_data_products()
    assert frame.empty
    assert "classification" in frame.columns


def test_a_long_domain_gets_a_bucket_name_s3_accepts(mesh):
    bucket = mk.products.product_bucket("a-very-long-domain-name-for-the-workbook-tests")
    assert len(bucket) <= 63
    assert bucket.startswith("meshkit-a-very-long-domain")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"classification": "secret"}, "classification"),
        ({"classification": None}, "classification"),
        ({"owner": ""}, "owner"),
        ({"description": "x" * 2049}, "description"),
        ({"freshness_slo_minutes": 0}, "freshness_slo_minutes"),
        ({"freshness_slo_minutes": 1.5}, "freshness_slo_minutes"),
        ({"lineage": [3]}, "lineage"),
    ],
)
def test_bad_input_to_define_is_refused_before_anything_is_made(mesh, sent, changes, field):
    with pytest.raises(ValidationError, match=field):
        sales_product(**changes)
    assert not [s for s in sent if s.operation.startswith("AWSGlue")]


def test_bad_input_an_unknown_detail_type_names_the_contract_to_register(mesh):
    with pytest.raises(mk.products.UnknownDetailTypeError, match=r"mk\.contracts\.register"):
        mk.products.define_data_product(
            "sales", "SaleShipped", description="x", classification="public"
        )


@pytest.mark.parametrize("name", ["salesrecorded", 7, None, "9sales.x"])
def test_bad_input_a_product_name_without_its_domain_is_refused(mesh, sent, name):
    with pytest.raises(ValidationError, match="name"):
        mk.products.get_data_product(name)
    assert sent == []


def test_bad_input_create_takes_a_data_product(mesh, sent):
    with pytest.raises(ValidationError, match="DataProduct"):
        mk.products.create_data_product({"name": "sales.sale-recorded"})
    assert sent == []


def test_a_missing_product_is_not_found(mesh):
    with pytest.raises(mk.products.DataProductNotFoundError, match="list_data_products"):
        mk.products.get_data_product("sales.sale-recorded")
    with pytest.raises(LookupError):
        mk.products.get_data_product("nobody.nothing")
