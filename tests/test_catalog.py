"""The browsable catalog: pages from live state, subscribers from the rules, a lineage picture.

EventBridge's event patterns (what makes a rule a subscriber):
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html and
https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

import meshkit as mk
from meshkit.exceptions import ValidationError
from meshkit.products.catalog import Catalog, lineage_svg, write_catalog
from meshkit.products.lakeformation import create_lf_tags, grant, tag_data_product
from meshkit.products.schema_registry import register_contract

SVG = "{http://www.w3.org/2000/svg}"
MATCHING = {"source": ["sales.domain"], "detail-type": ["SaleRecorded"]}
NOT_MATCHING = {"source": ["sales.domain"], "detail-type": ["RefundIssued"]}
ANALYST = "arn:aws:iam::123456789012:role/marketing-analyst"


def sales_product(**changes) -> mk.products.DataProduct:
    fields = {
        "description": "Every sale recorded in the Sales domain",
        "classification": "internal",
        "lineage": ("dynamodb:sales",),
    }
    return mk.products.define_data_product("sales", "SaleRecorded", **{**fields, **changes})


@pytest.fixture
def sales(mesh) -> mk.products.DataProduct:
    """The Sales product, created, with Marketing subscribed twice: one pattern matches it."""
    mk.buses.create_domain_bus("sales")
    product = sales_product()
    mk.products.create_data_product(product)
    mk.subscriptions.subscribe("marketing", bus="SalesEventBus", pattern=MATCHING, name="mkt-sales")
    mk.subscriptions.subscribe(
        "marketing", bus="SalesEventBus", pattern=NOT_MATCHING, name="mkt-refunds"
    )
    return product


def put_rule(mesh, name: str, pattern: dict) -> None:
    """A rule on the Sales bus made with plain boto3 (not meshkit's), targeting nothing."""
    events = mesh.session().client("events", endpoint_url=mesh.endpoint_url)
    events.put_rule(Name=name, EventBusName="SalesEventBus", EventPattern=json.dumps(pattern))


def section(page: str, title: str) -> str:
    """The HTML of one <h2> section of a page."""
    start = page.index(f"<h2>{title}</h2>")
    end = page.find("<h2>", start + 1)
    return page[start : end if end > 0 else None]


def test_the_catalog_has_an_index_listing_each_product_and_a_page_for_each(sales, tmp_path):
    # Given the Sales product and a second one, from another domain
    mk.buses.create_domain_bus("marketing")
    campaign = mk.contracts.Contract(
        "marketing.domain",
        "CampaignLaunched",
        "1.0",
        {"type": "object", "properties": {"campaign_id": {"type": "string"}}},
    )
    registry = mk.contracts.ContractRegistry([*mk.contracts.default_registry(), campaign])
    campaigns = mk.products.define_data_product(
        "marketing",
        "CampaignLaunched",
        description="Campaigns",
        classification="public",
        registry=registry,
    )
    mk.products.create_data_product(campaigns)
    # When the catalog is written from live state
    catalog = write_catalog(tmp_path / "catalog", registry=registry)
    # Then there is an index and one page per product, sorted by name
    assert isinstance(catalog, Catalog)
    assert catalog.index == tmp_path / "catalog" / "index.html"
    assert list(catalog.pages) == ["marketing.campaign-launched", "sales.sale-recorded"]
    assert all(path.is_file() for path in catalog.pages.values())
    index = catalog.index.read_text(encoding="utf-8")
    for value in ("sales.sale-recorded", "sales-team", "internal", "Every sale recorded"):
        assert value in index
    assert 'href="sales.sale-recorded.html"' in index
    # And a product's page holds its descriptor
    page = catalog.pages["sales.sale-recorded"].read_text(encoding="utf-8")
    descriptor = section(page, "Descriptor")
    for value in (
        "sales-team",
        "15 minutes",
        "SalesEventBus",
        "sales.domain/SaleRecorded/1.1",
        "sales.sale_recorded",
        "s3://meshkit-sales-123456789012-us-west-2/sale_recorded/",
        "parquet",
        "event_date",
        "dynamodb:sales",
        "EventBridge&#x27;s id of the event",  # a column's comment, escaped
    ):
        assert value in descriptor, value


def test_a_rule_whose_pattern_matches_the_products_events_is_a_subscriber_and_another_is_not(
    sales, tmp_path
):
    """A rule receives an event when every field of its pattern matches (eb-event-patterns)."""
    catalog = write_catalog(tmp_path)
    subscribers = section(catalog.page_html("sales.sale-recorded"), "Subscribers")
    assert "mkt-sales" in subscribers
    assert "arn:aws:sqs:us-west-2:123456789012:mkt-sales" in subscribers  # its target queue
    assert "marketing" in subscribers
    assert "mkt-refunds" not in subscribers


@pytest.mark.parametrize(
    ("pattern", "matches"),
    [
        ({"source": [{"prefix": "sales."}]}, "all its events"),
        ({"detail-type": [{"anything-but": "SaleDeleted"}]}, "all its events"),
        ({"detail-type": [{"anything-but": {"prefix": "Sale"}}]}, None),
        ({"detail-type": [{"wildcard": "Sale*ed"}]}, "all its events"),
        ({"detail-type": [{"equals-ignore-case": "salerecorded"}]}, "all its events"),
        ({"source": [{"suffix": ".domain"}], "detail-type": ["SaleDeleted"]}, None),
        ({"detail": {"metadata": {"data_product": ["sales.sale-recorded"]}}}, "all its events"),
        ({"detail": {"metadata": {"data_product": ["sales.sale-deleted"]}}}, None),
        (
            {"detail": {"metadata": {"schema_version": ["1.1"]}}},
            "some: filters on <code>detail.metadata.schema_version</code>",
        ),
        (
            {"source": ["sales.domain"], "detail": {"data": {"amount": [{"numeric": [">", 5]}]}}},
            "some: filters on <code>detail.data.amount</code></td>",
        ),
        ({"source": [{"numeric": [">", 0]}]}, None),
        ({"source": [{"exists": False}]}, None),
        ({"$or": [{"source": ["support.domain"]}, {"detail-type": ["SaleRecorded"]}]}, "all"),
        ({"$or": [{"source": ["support.domain"]}, {"detail-type": ["Refund"]}]}, None),
    ],
)
def test_which_patterns_match_the_products_events(sales, tmp_path, mesh, pattern, matches):
    """Operators as documented in eb-create-pattern-operators: prefix, suffix, anything-but (with
    prefix), wildcard, equals-ignore-case, numeric (numbers only), exists, and $or."""
    put_rule(mesh, "probe", pattern)
    subscribers = section(write_catalog(tmp_path).page_html("sales.sale-recorded"), "Subscribers")
    row = re.search(r"<tr><td><code>probe</code></td>.*?</tr>", subscribers)
    if matches is None:
        assert row is None
    else:
        assert row is not None
        assert matches in row.group(0)
        assert "not meshkit&#x27;s" in row.group(0)  # made with boto3, not by subscribe


def test_a_content_filter_is_named_as_what_decides_which_events_match(sales, tmp_path, mesh):
    put_rule(mesh, "big-sales", {"detail": {"data": {"amount": [{"numeric": [">=", 500]}]}}})
    subscribers = section(write_catalog(tmp_path).page_html("sales.sale-recorded"), "Subscribers")
    assert "some: filters on <code>detail.data.amount</code>" in subscribers


def test_consecutive_contract_versions_show_their_compatibility_and_a_diff(sales, tmp_path):
    page = write_catalog(tmp_path).page_html("sales.sale-recorded")
    contracts = section(page, "Contract versions")
    assert "sales.domain/SaleRecorded/1.0" in contracts
    assert "1.0 &rarr; 1.1" in contracts
    # the compatibility table of check_compatibility(1.0, 1.1).to_frame()
    report = mk.contracts.check_compatibility(
        mk.contracts.get("sales.domain", "SaleRecorded", "1.0"),
        mk.contracts.get("sales.domain", "SaleRecorded", "1.1"),
    )
    for change in report.to_frame().change:
        assert f"<td>{change}</td>" in contracts
    assert "<strong>compatible</strong>" in contracts
    # the unified diff adds currency
    diff = contracts[contracts.index("--- sales.domain/SaleRecorded/1.0") :]
    added = re.findall(r'<span class="add">(.*?)</span>', diff)
    assert any("&quot;currency&quot;" in line for line in added)
    assert "+++ sales.domain/SaleRecorded/1.1" in diff


def test_a_contract_missing_from_the_registry_is_named_not_compared(sales, tmp_path):
    registry = mk.contracts.ContractRegistry([mk.contracts.get("sales.domain", "SaleRecorded")])
    page = write_catalog(tmp_path, registry=registry).page_html("sales.sale-recorded")
    contracts = section(page, "Contract versions")
    assert "Not in the contract registry of this process" in contracts
    assert "&rarr;" not in contracts


def test_the_lineage_is_an_svg_picture_from_inputs_to_consumers(sales, mesh):
    # Given Sales' own landing subscription besides Marketing's
    mk.subscriptions.subscribe("sales", bus="SalesEventBus", pattern=MATCHING, name="sales-landing")
    # When the lineage is drawn
    svg = lineage_svg("sales.sale-recorded")
    # Then it is well-formed XML, an SVG
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    labels = [text.text for text in root.iter(f"{SVG}text")]
    # with every stage, in order, and the landing subscription leading to the Glue table
    assert labels[:6] == ["inputs", "producer", "bus", "rules", "targets", "consumers"]
    for label in (
        "dynamodb:sales",
        "sales.domain",
        "SalesEventBus",
        "mkt-sales",
        "sales-landing",
        "sales.sale_recorded",
        "marketing",
    ):
        assert label in labels, label
    assert "mkt-refunds" not in labels
    arrows = list(root.iter(f"{SVG}path"))
    # input->producer, producer->bus, bus->2 rules, 2 rules->queues, 2 queues->sinks (+ marker)
    assert len(arrows) == 1 + 8


def test_the_lineage_of_a_product_without_subscribers_stops_at_its_bus(mesh):
    mk.buses.create_domain_bus("sales")
    svg = lineage_svg(sales_product(lineage=()))
    labels = [text.text for text in ET.fromstring(svg).iter(f"{SVG}text")]
    assert labels[:2] == ["producer", "bus"]
    assert "rules" not in labels


def test_a_product_whose_bus_is_gone_says_so(mesh, tmp_path):
    mk.products.create_data_product(sales_product())  # no bus created
    subscribers = section(write_catalog(tmp_path).page_html("sales.sale-recorded"), "Subscribers")
    assert "does not exist" in subscribers


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        self.scripts += tag == "script"
        self.urls += [value or "" for name, value in attrs if name in ("src", "href")]


def test_the_site_is_self_contained_no_external_url_no_script(sales, tmp_path):
    catalog = write_catalog(tmp_path)
    for path in (catalog.index, *catalog.pages.values()):
        parser = Links()
        parser.feed(path.read_text(encoding="utf-8"))
        assert parser.scripts == 0
        external = [url for url in parser.urls if re.match(r"(https?:)?//", url)]
        assert external == [], path.name
        for url in parser.urls:  # every link leads to a page of the site
            assert (tmp_path / url).is_file(), url


def test_special_characters_in_descriptions_are_escaped(mesh, tmp_path):
    mk.buses.create_domain_bus("sales")
    tricky = "<script>alert('x')</script> & \"quotes\""
    mk.products.create_data_product(sales_product(description=tricky, owner="a<b>team"))
    catalog = write_catalog(tmp_path)
    escaped = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quotes&quot;"
    for path in (catalog.index, catalog.pages["sales.sale-recorded"]):
        text = path.read_text(encoding="utf-8")
        assert "<script>" not in text
        assert "a<b>team" not in text
        assert escaped in text
        assert "a&lt;b&gt;team" in text


def test_the_same_state_gives_the_same_files(sales, tmp_path):
    first = write_catalog(tmp_path / "one")
    second = write_catalog(tmp_path / "two")
    assert first.index.read_bytes() == second.index.read_bytes()
    for name, path in first.pages.items():
        assert path.read_bytes() == second.pages[name].read_bytes()


def test_a_gone_products_page_is_removed_and_other_files_stay(sales, tmp_path):
    write_catalog(tmp_path)
    notes = tmp_path / "notes.html"
    notes.write_text("<p>mine</p>", encoding="utf-8")
    mk.products.delete_data_product("sales.sale-recorded")
    catalog = write_catalog(tmp_path)
    assert catalog.pages == {}
    assert sorted(path.name for path in tmp_path.iterdir()) == ["index.html", "notes.html"]


def test_the_catalog_shows_inline_in_jupyter(sales, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    catalog = write_catalog("site")
    shown = catalog._repr_html_()
    assert shown.startswith("<style>")
    assert "<html" not in shown and "<body" not in shown
    assert ".mk-catalog " in shown  # the CSS is scoped to the catalog's own elements
    assert 'href="site/sales.sale-recorded.html"' in shown  # from the notebook's folder
    page = catalog.page_html("sales.sale-recorded")
    assert page.startswith("<style>") and "<svg" in page and "<html" not in page


def test_products_can_be_chosen_by_name_or_descriptor(sales, tmp_path):
    by_name = write_catalog(tmp_path / "a", products=["sales.sale-recorded"])
    by_descriptor = write_catalog(tmp_path / "b", products=[sales, sales])
    assert list(by_name.pages) == list(by_descriptor.pages) == ["sales.sale-recorded"]


def test_a_missing_product_is_not_found(mesh, tmp_path):
    with pytest.raises(mk.products.DataProductNotFoundError):
        write_catalog(tmp_path, products=["sales.sale-recorded"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "field", "fix"),
    [
        ({"folder": 7}, "folder", "e.g. 'catalog'"),
        ({"folder": ""}, "folder", "e.g. 'catalog'"),
        ({"products": "sales.sale-recorded"}, "products", r"\[product\]"),
        ({"products": [7]}, r"products\[0\]", "sales.sale-recorded"),
        ({"products": ["salesrecorded"]}, r"products\[0\]", "list_data_products"),
        ({"products": ["9sales.x"]}, r"products\[0\]", "letter"),
        ({"registry": {}}, "registry", "ContractRegistry"),
    ],
)
def test_bad_input_to_write_catalog_is_refused_before_anything_is_sent(
    mesh, sent, tmp_path, kwargs, field, fix
):
    arguments = {"folder": tmp_path / "site", **kwargs}
    with pytest.raises(ValidationError, match=field) as refused:
        write_catalog(**arguments)
    assert re.search(fix, str(refused.value))
    assert sent == []
    assert not (tmp_path / "site").exists()


def test_bad_input_a_folder_that_is_a_file_is_refused(mesh, sent, tmp_path):
    afile = tmp_path / "catalog"
    afile.write_text("not a folder", encoding="utf-8")
    with pytest.raises(ValidationError, match="folder") as refused:
        write_catalog(afile)
    assert "pass a folder" in str(refused.value)
    assert sent == []
    assert afile.read_text(encoding="utf-8") == "not a folder"


@pytest.mark.parametrize("product", [7, {"name": "sales.sale-recorded"}, "salesrecorded"])
def test_bad_input_lineage_svg_takes_a_product_or_its_name(mesh, sent, product):
    with pytest.raises(ValidationError, match="product") as refused:
        lineage_svg(product)
    assert "sales.sale-recorded" in str(refused.value)
    assert sent == []


def test_bad_input_page_html_of_an_unknown_product_names_the_pages(sales, tmp_path):
    catalog = write_catalog(tmp_path)
    with pytest.raises(ValidationError, match="name") as refused:
        catalog.page_html("sales.nothing")
    assert "sales.sale-recorded" in str(refused.value)


def test_the_versions_in_the_glue_schema_registry_are_listed_when_registered(sales, tmp_path):
    """Glue keeps a schema's versions, numbered from 1:
    https://docs.aws.amazon.com/glue/latest/dg/schema-registry.html"""
    # Given no registry yet: the page says nothing about it
    page = write_catalog(tmp_path / "before").page_html("sales.sale-recorded")
    assert "Glue Schema Registry" not in page
    # When 1.0 and 1.1 are registered
    for version in ("1.0", "1.1"):
        register_contract(mk.contracts.get("sales.domain", "SaleRecorded", version))
    page = write_catalog(tmp_path / "after").page_html("sales.sale-recorded")
    # Then the page lists both versions, without their creation times
    registry = section(page, "Glue Schema Registry")
    assert "sales-contracts" in registry
    assert "<tr><td>1</td><td>1.0</td><td>AVAILABLE</td></tr>" in registry
    assert "<tr><td>2</td><td>1.1</td><td>AVAILABLE</td></tr>" in registry
    assert "created" not in registry


def test_who_may_read_it_comes_from_lake_formations_grants(sales, tmp_path):
    """A tag-based grant lets a principal read every table whose LF-tags match the expression:
    https://docs.aws.amazon.com/lake-formation/latest/dg/tag-based-access-control.html"""
    page = write_catalog(tmp_path / "before").page_html("sales.sale-recorded")
    assert "No Lake Formation grant" in section(page, "Who may read it")
    create_lf_tags(["sales"])
    tag_data_product(sales)
    grant(ANALYST, expression={"classification": ["internal"]})
    readers = section(
        write_catalog(tmp_path / "after").page_html("sales.sale-recorded"), "Who may read it"
    )
    assert f"<tr><td><code>{ANALYST}</code></td><td>all columns</td></tr>" in readers
