"""A browsable catalog of the mesh's data products, generated from live state.

Like a small EventCatalog: ``write_catalog`` reads what is deployed (the product descriptors in the
Glue Data Catalog, their contracts, the Glue Schema Registry, Lake Formation's grants, the
EventBridge rules on each product's bus) and writes a static site to a folder: ``index.html``
listing every product, and one page per product with its descriptor, its contract versions and
what changed between them, who may read it, its subscribers and its lineage drawn as a picture.

The site is self-contained: HTML with inline CSS and inline SVG, no JavaScript and nothing fetched
from the network, so it works offline, opened as a file, and inline in Jupyter (``Catalog`` has a
``_repr_html_``; ``Catalog.page_html`` gives a product page for ``IPython.display.HTML``). The same
state always gives the same bytes (everything is sorted, nothing is timestamped), so a notebook's
stored output stays stable.

A rule is listed as a subscriber of a product when its event pattern can match the product's
events. meshkit decides that locally, from what the descriptor fixes about every event of the
product (``source``, ``detail-type``, ``detail.metadata.data_product`` and ``schema_version``):
a pattern that only filters on those matches *all* of its events; one that also filters on fields
the descriptor cannot know (``detail.data.amount``, ``time``, ...) matches *some*, and the page
names those fields; one that contradicts the descriptor (another source, another detail-type) is
not a subscriber. EventBridge's own matcher is not asked: ``TestEventPattern`` needs a whole event,
and answers nothing on the embedded AWS.
"""

from __future__ import annotations

import difflib
import html
import itertools
import json
import logging
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pandas as pd
from botocore.exceptions import ClientError

from .. import _aws
from .._shared import DOMAIN_TAG, WORKBOOK_TAG, error_code, eventbridge_tags
from ..buses import domain_key
from ..contracts import (
    Contract,
    ContractRegistry,
    UnknownContractError,
    check_compatibility,
    default_registry,
)
from ..exceptions import ValidationError
from .descriptor import DataProduct, get_data_product, list_data_products
from .lakeformation import list_grants, who_can_read
from .schema_registry import SchemaNotFoundError, list_schema_versions, registry_name

__all__ = ["Catalog", "lineage_svg", "write_catalog"]

_logger = logging.getLogger(__name__)

INDEX = "index.html"
_GENERATOR = '<meta name="generator" content="meshkit catalog">'
_START, _END = "<!-- mk-catalog:start -->", "<!-- mk-catalog:end -->"
_PAGE_LINK = 'class="mk-page" href="'
_UNSAFE_FILE_CHARS = re.compile(r"[^A-Za-z0-9._-]")

# Scoped to .mk-catalog, so that shown inline in Jupyter it styles the catalog and nothing else.
_CSS = """
.mk-catalog{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;
  line-height:1.45;max-width:1250px}
.mk-catalog h1{font-size:1.6em;margin:.2em 0 .1em}
.mk-catalog h2{font-size:1.2em;border-bottom:1px solid #d9e2ec;padding-bottom:.2em;
  margin:1.4em 0 .5em}
.mk-catalog h3{font-size:1em;margin:1em 0 .3em}
.mk-catalog table{border-collapse:collapse;margin:.4em 0}
.mk-catalog th,.mk-catalog td{border:1px solid #d9e2ec;padding:.25em .6em;text-align:left;
  vertical-align:top}
.mk-catalog th{background:#f0f4f8;font-weight:600}
.mk-catalog dl{display:grid;grid-template-columns:max-content auto;gap:.2em 1em;margin:.4em 0}
.mk-catalog dt{font-weight:600}
.mk-catalog dd{margin:0}
.mk-catalog code,.mk-catalog pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
  font-size:.9em}
.mk-catalog pre{background:#f7f9fb;border:1px solid #d9e2ec;padding:.6em;overflow-x:auto;
  margin:.4em 0}
.mk-catalog .badge{display:inline-block;padding:0 .55em;border-radius:.8em;font-size:.85em;
  color:#fff;background:#627d98}
.mk-catalog .public{background:#2f855a}
.mk-catalog .internal{background:#2b6cb0}
.mk-catalog .confidential{background:#c05621}
.mk-catalog .restricted{background:#c53030}
.mk-catalog .add{color:#22543d;background:#e6ffed}
.mk-catalog .del{color:#742a2a;background:#ffeef0}
.mk-catalog .hunk{color:#6b46c1}
.mk-catalog .muted{color:#627d98}
.mk-catalog .yes{color:#c53030;font-weight:600}
.mk-catalog svg{max-width:100%;height:auto}
""".strip()


@dataclass
class Catalog:
    """What ``write_catalog`` wrote: the folder, its index page and one page per product.

    Shown in Jupyter, a ``Catalog`` displays its index inline; ``page_html(name)`` gives a
    product's page for ``IPython.display.HTML``. Open ``index`` in a browser for the whole site.

    Attributes
    ----------
    folder : pathlib.Path
        Where the site is.
    index : pathlib.Path
        ``<folder>/index.html``, the list of every product.
    pages : dict of str to pathlib.Path
        Product name -> its page, sorted by name.

    Examples
    --------
    >>> import tempfile
    >>> import meshkit as mk
    >>> catalog = mk.products.write_catalog(tempfile.mkdtemp(), products=[])
    >>> catalog.index.name, catalog.pages
    ('index.html', {})
    """

    folder: Path
    index: Path
    pages: dict[str, Path] = field(default_factory=dict)

    def _repr_html_(self) -> str:
        fragment = _fragment(self.index.read_text(encoding="utf-8"))
        prefix = _link_prefix(self.folder)
        return fragment.replace(_PAGE_LINK, _PAGE_LINK + prefix) if prefix else fragment

    def page_html(self, name: str) -> str:
        """The HTML of a product's page (its styled body), for ``IPython.display.HTML``.

        Parameters
        ----------
        name : str
            The product's name, a key of ``pages``.

        Raises
        ------
        meshkit.exceptions.ValidationError
            The catalog has no page of that name; the message lists the ones it has.

        Examples
        --------
        >>> import tempfile
        >>> import meshkit as mk
        >>> _ = mk.buses.create_domain_bus("sales")
        >>> product = mk.products.define_data_product(
        ...     "sales", "SaleRecorded", description="Every sale", classification="internal"
        ... )
        >>> _ = mk.products.create_data_product(product)
        >>> catalog = mk.products.write_catalog(tempfile.mkdtemp())
        >>> page = catalog.page_html("sales.sale-recorded")
        >>> "<svg" in page and "sales.sale_recorded" in page
        True
        >>> mk.products.delete_data_product("sales.sale-recorded")
        True
        >>> mk.buses.delete_domain_bus("sales")
        True
        """
        if not isinstance(name, str) or name not in self.pages:
            known = ", ".join(self.pages) or "none"
            raise ValidationError(
                f"name {name!r:.120} is not a product of this catalog (its pages: {known}): pass "
                "one of catalog.pages, or write the catalog again after creating the product"
            )
        return _fragment(self.pages[name].read_text(encoding="utf-8"))


# -- what is read from AWS ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Subscriber:
    """A rule on the product's bus whose pattern can match the product's events."""

    rule: str
    consumer: str  # the rule's meshkit:domain tag; "" for a rule meshkit did not make
    pattern: str  # compact JSON, keys sorted
    scope: str  # "all" or "some"
    filters: tuple[str, ...]  # fields the pattern filters on that the descriptor does not fix
    targets: tuple[str, ...]  # target ARNs, sorted
    landing: bool  # the producing domain's own subscription: it lands the events in the table


@dataclass(frozen=True)
class _Facts:
    """Everything a product's page shows, read once."""

    product: DataProduct
    contracts: tuple[tuple[str, Contract | None], ...]  # (key, contract or None if unknown)
    mode: str  # the compatibility mode consecutive versions are judged under
    policy: str
    registry_versions: tuple[tuple[str, pd.DataFrame], ...]  # (detail-type, Glue versions)
    readers: tuple[tuple[str, str], ...]  # (principal, columns)
    subscribers: tuple[_Subscriber, ...]
    bus_found: bool


class _Reader:
    """Reads live state, caching what several products share (a bus's rules)."""

    def __init__(self, boto3_session: boto3.Session | None) -> None:
        self.session = boto3_session
        self.events = _aws.client("events", boto3_session)
        self._rules: dict[str, list[tuple[dict[str, Any], dict[str, str], tuple[str, ...]]]] = {}

    def rules(self, bus: str) -> list[tuple[dict[str, Any], dict[str, str], tuple[str, ...]]]:
        """(rule, its tags, its target ARNs) for every rule on ``bus``, sorted by name."""
        if bus not in self._rules:
            found = []
            for page in self.events.get_paginator("list_rules").paginate(EventBusName=bus):
                for rule in page["Rules"]:
                    if not rule.get("EventPattern"):
                        continue  # a scheduled rule subscribes to nothing
                    targets = tuple(
                        sorted(
                            target["Arn"]
                            for target_page in self.events.get_paginator(
                                "list_targets_by_rule"
                            ).paginate(Rule=rule["Name"], EventBusName=bus)
                            for target in target_page["Targets"]
                        )
                    )
                    found.append((rule, eventbridge_tags(self.events, rule["Arn"]), targets))
            self._rules[bus] = sorted(found, key=lambda item: str(item[0]["Name"]))
        return self._rules[bus]

    def subscribers(self, product: DataProduct) -> tuple[tuple[_Subscriber, ...], bool]:
        """The rules on the product's bus that match its events; and whether the bus exists."""
        try:
            rules = self.rules(product.events.bus)
        except ClientError as err:
            if error_code(err) != "ResourceNotFoundException":
                raise
            return (), False
        envelopes = _envelopes(product)
        found = []
        for rule, tags, targets in rules:
            try:
                pattern = json.loads(rule["EventPattern"])
            except ValueError:
                pattern = None
            scope, filters = _scope(pattern, envelopes)
            if scope is None:
                continue
            consumer = tags.get(DOMAIN_TAG, "") if tags.get(WORKBOOK_TAG) == "true" else ""
            shown = (
                json.dumps(pattern, sort_keys=True, separators=(",", ":"))
                if pattern is not None
                else str(rule["EventPattern"])
            )
            found.append(
                _Subscriber(
                    rule=str(rule["Name"]),
                    consumer=consumer,
                    pattern=shown,
                    scope=scope,
                    filters=filters,
                    targets=targets,
                    landing=consumer == product.domain,
                )
            )
        return tuple(found), True


def _contracts(
    product: DataProduct, registry: ContractRegistry
) -> tuple[tuple[str, Contract | None], ...]:
    found: list[tuple[str, Contract | None]] = []
    for key in product.events.contracts:
        source, detail_type, version = [*key.rsplit("/", 2), "", "", ""][:3]
        try:
            found.append((key, registry.get(source, detail_type, version)))
        except (UnknownContractError, ValidationError):
            found.append((key, None))
    return tuple(found)


def _facts(
    product: DataProduct,
    reader: _Reader,
    registry: ContractRegistry,
    readers: Mapping[str, tuple[tuple[str, str], ...]],
) -> _Facts:
    subscribers, bus_found = reader.subscribers(product)
    return _Facts(
        product=product,
        contracts=_contracts(product, registry),
        mode=registry.mode,
        policy=registry.policy,
        registry_versions=_registry_versions(product, reader.session),
        readers=readers.get(product.name, ()),
        subscribers=subscribers,
        bus_found=bus_found,
    )


def _registry_versions(
    product: DataProduct, boto3_session: boto3.Session | None
) -> tuple[tuple[str, pd.DataFrame], ...]:
    """(detail-type, its versions in the Glue Schema Registry) for each registered detail-type."""
    found = []
    for detail_type in sorted(product.events.detail_types):
        try:
            frame = list_schema_versions(product.domain, detail_type, boto3_session=boto3_session)
        except SchemaNotFoundError:
            continue  # not registered: the page says nothing about the registry
        found.append((detail_type, frame))
    return tuple(found)


def _who_can_read(
    products: list[DataProduct], boto3_session: boto3.Session | None
) -> dict[str, tuple[tuple[str, str], ...]]:
    """Product name -> (principal, what it may read), from Lake Formation's stored grants."""
    if list_grants(boto3_session=boto3_session).empty:
        return {}  # no grant, no reader: who_can_read's grid would have no row
    grid = who_can_read(products=products, boto3_session=boto3_session)
    readers: dict[str, tuple[tuple[str, str], ...]] = {}
    for product in products:
        if product.name not in grid.columns:
            continue
        cells = grid[product.name]
        readers[product.name] = tuple(
            sorted((str(principal), str(cell)) for principal, cell in cells.items() if cell)
        )
    return readers


# -- does a pattern match a product's events? ----------------------------------------------------

_NO, _SOME, _YES = 0, 1, 2
_Envelope = dict[tuple[str, ...], str]


def _envelopes(product: DataProduct) -> list[_Envelope]:
    """What the descriptor fixes about the product's events: one envelope per (detail-type,
    contract version)."""
    versions: dict[str, list[str]] = {}
    for key in product.events.contracts:
        parts = key.rsplit("/", 2)
        if len(parts) == 3:
            versions.setdefault(parts[1], []).append(parts[2])
    envelopes = []
    for detail_type in product.events.detail_types:
        for version in versions.get(detail_type) or [""]:
            envelope = {
                ("version",): "0",
                ("source",): product.events.source,
                ("detail-type",): detail_type,
                ("detail", "metadata", "data_product"): product.name,
            }
            if version:
                envelope["detail", "metadata", "schema_version"] = version
            envelopes.append(envelope)
    return envelopes


def _scope(pattern: Any, envelopes: list[_Envelope]) -> tuple[str | None, tuple[str, ...]]:
    """("all" | "some" | None, the fields that decide which of the product's events match)."""
    asked: set[tuple[str, ...]] = set()
    results = [_match_object(pattern, (), envelope, asked) for envelope in envelopes]
    if not results or max(results) == _NO:
        return None, ()
    if min(results) == _YES:
        return "all", ()
    # The fields the descriptor leaves open (data, time, ...) or that differ between the
    # product's events (one detail-type or contract version of several).
    deciding = {path for path in asked if len({e.get(path) for e in envelopes} - {None}) != 1}
    deciding |= {path for path in asked if any(path not in e for e in envelopes)}
    return "some", tuple(sorted(".".join(path) or "(the pattern)" for path in deciding))


def _match_object(
    pattern: Any, path: tuple[str, ...], envelope: _Envelope, asked: set[tuple[str, ...]]
) -> int:
    if not isinstance(pattern, Mapping) or not pattern:
        asked.add(path)
        return _SOME
    result = _YES
    for key, value in pattern.items():
        if key == "$or" and isinstance(value, list) and value:
            branch = max(_match_object(item, path, envelope, asked) for item in value)
        elif isinstance(value, Mapping):
            branch = _match_object(value, (*path, str(key)), envelope, asked)
        else:
            branch = _match_field((*path, str(key)), value, envelope, asked)
        result = min(result, branch)
    return result


def _match_field(
    path: tuple[str, ...], matchers: Any, envelope: _Envelope, asked: set[tuple[str, ...]]
) -> int:
    asked.add(path)
    value = envelope.get(path)
    if value is None or not isinstance(matchers, list) or not matchers:
        return _SOME
    return max(_match_value(matcher, value) for matcher in matchers)


def _match_value(matcher: Any, value: str) -> int:
    """Whether one matcher of a pattern's list accepts a string value (EventBridge's rules)."""
    if isinstance(matcher, str):
        return _YES if matcher == value else _NO
    if matcher is None or isinstance(matcher, (bool, int, float)):
        return _NO  # a string is never null, a boolean or a number
    if not isinstance(matcher, Mapping) or len(matcher) != 1:
        return _SOME
    [(operator, argument)] = matcher.items()
    if operator in ("prefix", "suffix", "wildcard", "equals-ignore-case"):
        test = _string_test(operator, argument)
        return _SOME if test is None else _YES if test(value) else _NO
    if operator == "anything-but":
        return _anything_but(argument, value)
    if operator == "exists":
        return _YES if argument is True else _NO if argument is False else _SOME
    if operator in ("numeric", "cidr"):
        return _NO  # the fields the descriptor fixes are strings, never numbers or addresses
    return _SOME  # an operator meshkit does not know: let the reader judge


def _string_test(operator: str, argument: Any) -> Any:
    """A predicate on strings for prefix/suffix/wildcard/equals-ignore-case, None if unreadable."""
    ignore_case = False
    if isinstance(argument, Mapping) and list(argument) == ["equals-ignore-case"]:
        ignore_case, argument = True, argument["equals-ignore-case"]
    if not isinstance(argument, str):
        return None
    if operator == "equals-ignore-case":
        return lambda value: value.casefold() == argument.casefold()
    if operator == "wildcard":
        return _wildcard(argument).fullmatch

    def fold(text: str) -> str:
        return text.casefold() if ignore_case else text

    if operator == "prefix":
        return lambda value: fold(value).startswith(fold(argument))
    return lambda value: fold(value).endswith(fold(argument))


def _wildcard(pattern: str) -> re.Pattern[str]:
    """EventBridge's wildcard: ``*`` any characters, ``\\*`` a star, ``\\\\`` a backslash."""
    parts, escaped = [], False
    for char in pattern:
        if escaped:
            parts.append(re.escape(char))
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            parts.append(".*" if char == "*" else re.escape(char))
    return re.compile("".join(parts), re.DOTALL)


def _anything_but(argument: Any, value: str) -> int:
    if isinstance(argument, str):
        return _NO if argument == value else _YES
    if isinstance(argument, (int, float)) and not isinstance(argument, bool):
        return _YES
    if isinstance(argument, list):
        return _NO if value in [item for item in argument if isinstance(item, str)] else _YES
    if isinstance(argument, Mapping) and len(argument) == 1:
        [(operator, inner)] = argument.items()
        values = inner if isinstance(inner, list) else [inner]
        tests = [_string_test(operator, item) for item in values]
        if operator in ("prefix", "suffix", "wildcard", "equals-ignore-case") and all(tests):
            return _NO if any(test(value) for test in tests if test) else _YES
    return _SOME


# -- HTML ------------------------------------------------------------------------------------------


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _page_file(name: str) -> str:
    return _UNSAFE_FILE_CHARS.sub("_", name) + ".html"


def _document(title: str, body: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"{_GENERATOR}\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n</head>\n<body>\n"
        f"{_START}\n<style>\n{_CSS}\n</style>\n"
        f'<div class="mk-catalog">\n{body}</div>\n{_END}\n'
        "</body>\n</html>\n"
    )


def _fragment(document: str) -> str:
    start, end = document.find(_START), document.find(_END)
    if start < 0 or end < 0:
        return document
    return document[start + len(_START) : end].strip() + "\n"


def _link_prefix(folder: Path) -> str:
    """How the notebook's folder reaches the site's pages (links shown inline resolve there)."""
    try:
        relative = folder.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return ""
    text = relative.as_posix()
    return "" if text == "." else f"{text}/"


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]]) -> str:
    """A table of already-escaped cells."""
    head = "".join(f"<th>{header}</th>" for header in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>\n" for row in rows)
    return f"<table>\n<thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody>\n</table>\n"


def _badge(classification: str) -> str:
    return f'<span class="badge {_e(classification)}">{_e(classification)}</span>'


def _code(value: Any) -> str:
    return f"<code>{_e(value)}</code>"


def _index_html(products: list[DataProduct]) -> str:
    rows = [
        (
            f'<a {_PAGE_LINK}{_e(_page_file(p.name))}">{_e(p.name)}</a>',
            _e(p.domain),
            _e(p.owner),
            _badge(p.classification),
            _e(p.description),
        )
        for p in products
    ]
    count = f"{len(products)} data product{'' if len(products) == 1 else 's'}"
    body = (
        "<h1>Data product catalog</h1>\n"
        f'<p class="muted">{count}, read from the live Glue Data Catalog, contract registry, '
        "Lake Formation grants and EventBridge rules.</p>\n"
    )
    if rows:
        body += _table(("product", "domain", "owner", "classification", "description"), rows)
    else:
        body += (
            "<p>No data product in this catalog: create one with "
            "mk.products.create_data_product.</p>\n"
        )
    return _document("Data product catalog", body)


def _page_html(facts: _Facts, svg: str) -> str:
    p = facts.product
    sections = [
        f'<p><a href="{INDEX}">&larr; all data products</a></p>\n',
        f"<h1>{_e(p.name)} {_badge(p.classification)}</h1>\n<p>{_e(p.description)}</p>\n",
        _descriptor_html(p),
        _contracts_html(facts),
        _registry_html(facts),
        _readers_html(facts),
        _subscribers_html(facts),
        f"<h2>Lineage</h2>\n{svg}\n",
    ]
    return _document(f"{p.name}: data product", "".join(sections))


def _descriptor_html(p: DataProduct) -> str:
    lineage = ", ".join(_code(item) for item in p.lineage) or '<span class="muted">none</span>'
    descriptor = (
        "<h2>Descriptor</h2>\n<dl>\n"
        f"<dt>domain</dt><dd>{_e(p.domain)}</dd>\n"
        f"<dt>owner</dt><dd>{_e(p.owner)}</dd>\n"
        f"<dt>classification</dt><dd>{_badge(p.classification)}</dd>\n"
        f"<dt>freshness SLO</dt><dd>{_e(p.freshness_slo_minutes)} minutes</dd>\n"
        f"<dt>lineage (inputs)</dt><dd>{lineage}</dd>\n</dl>\n"
    )
    events = (
        "<h3>Output port: events</h3>\n<dl>\n"
        f"<dt>bus</dt><dd>{_code(p.events.bus)}</dd>\n"
        f"<dt>source</dt><dd>{_code(p.events.source)}</dd>\n"
        f"<dt>detail-types</dt><dd>{', '.join(_code(d) for d in p.events.detail_types)}</dd>\n"
        f"<dt>contracts</dt><dd>{', '.join(_code(c) for c in p.events.contracts)}</dd>\n</dl>\n"
    )
    d = p.dataset
    partitioning = ", ".join(
        f"{_code(key)} (Hive style {_e(key)}=&hellip;/)" for key in d.partition_keys
    )
    dataset = (
        "<h3>Output port: dataset</h3>\n<dl>\n"
        f"<dt>Glue table</dt><dd>{_code(f'{d.database}.{d.table}')}</dd>\n"
        f"<dt>S3 location</dt><dd>{_code(d.location)}</dd>\n"
        f"<dt>format</dt><dd>{_e(d.format)}</dd>\n"
        f"<dt>partitioned by</dt><dd>{partitioning or 'nothing'}</dd>\n</dl>\n"
    )
    rows = [(_code(c.name), _code(c.type), _e(c.comment)) for c in p.columns]
    rows += [(_code(key), _code("string"), "partition key") for key in d.partition_keys]
    return descriptor + events + dataset + _table(("column", "type", "comment"), rows)


def _contracts_html(facts: _Facts) -> str:
    out = ["<h2>Contract versions</h2>\n"]
    if not facts.contracts:
        return out[0] + '<p class="muted">The descriptor names no contract.</p>\n'
    for key, contract in facts.contracts:
        if contract is None:
            out.append(
                f'<h3>{_e(key)}</h3>\n<p class="muted">Not in the contract registry of this '
                "process: register it with mk.contracts.register to see its schema.</p>\n"
            )
            continue
        out.append(
            f"<h3>{_e(key)}</h3>\n<details><summary>JSON Schema of <code>data</code></summary>\n"
            f"<pre>{_e(_schema_text(contract))}</pre></details>\n"
        )
    known = [(key, c) for key, c in facts.contracts if c is not None]
    for (old_key, old), (new_key, new) in itertools.pairwise(known):
        if (old.source, old.detail_type) != (new.source, new.detail_type):
            continue
        report = check_compatibility(old, new, mode=facts.mode, policy=facts.policy)
        out.append(f"<h3>{_e(old.version)} &rarr; {_e(new.version)}</h3>\n")
        frame = report.to_frame()
        verdict = "compatible" if report.is_compatible else "NOT compatible"
        out.append(
            f"<p>Under {_e(report.mode)} ({_e(report.policy)}): <strong>{verdict}</strong>.</p>\n"
        )
        if frame.empty:
            out.append('<p class="muted">No change to the schema.</p>\n')
        else:
            rows = [
                (_e(r.change), '<span class="yes">yes</span>' if r.breaking else "no", _e(r.breaks))
                for r in frame.itertuples(index=False)
            ]
            out.append(_table(("change", "breaking", "breaks"), rows))
        out.append(_diff_html(old_key, _schema_text(old), new_key, _schema_text(new)))
    return "".join(out)


def _schema_text(contract: Contract) -> str:
    return json.dumps(contract.schema, indent=2, sort_keys=True)


def _diff_html(old_name: str, old: str, new_name: str, new: str) -> str:
    lines = list(
        difflib.unified_diff(
            old.splitlines(), new.splitlines(), fromfile=old_name, tofile=new_name, lineterm=""
        )
    )
    if not lines:
        return ""
    shown = []
    for line in lines:
        if line.startswith(("+++", "---")):
            css = "muted"
        elif line.startswith("@@"):
            css = "hunk"
        elif line.startswith("+"):
            css = "add"
        elif line.startswith("-"):
            css = "del"
        else:
            css = ""
        shown.append(f'<span class="{css}">{_e(line)}</span>' if css else _e(line))
    return "<p>Unified diff of the two schemas:</p>\n<pre>" + "\n".join(shown) + "</pre>\n"


def _registry_html(facts: _Facts) -> str:
    if not facts.registry_versions:
        return ""  # not registered in the Glue Schema Registry: nothing to show
    out = [
        "<h2>Glue Schema Registry</h2>\n",
        f"<p>Registry {_code(registry_name(facts.product.domain))}: one schema per detail-type "
        "(JSON Schema draft-07).</p>\n",
    ]
    columns = ["version_number", "contract_version", "status"]  # creation times vary: left out
    for detail_type, frame in facts.registry_versions:
        shown = [c for c in columns if c in frame.columns]
        rows = [tuple(_e(value) for value in row) for row in frame[shown].itertuples(index=False)]
        out.append(f"<h3>{_e(detail_type)}</h3>\n" + _table(shown, rows))
    return "".join(out)


def _readers_html(facts: _Facts) -> str:
    out = (
        "<h2>Who may read it</h2>\n<p>SELECT on its Glue table, as Lake Formation&#x27;s stored "
        "grants and LF-tags allow (evaluated by meshkit: mk.products.who_can_read).</p>\n"
    )
    if not facts.readers:
        return out + "<p>No Lake Formation grant lets any principal read it.</p>\n"
    rows = [(_code(principal), _e(columns)) for principal, columns in facts.readers]
    return out + _table(("principal", "may read"), rows)


def _subscribers_html(facts: _Facts) -> str:
    out = "<h2>Subscribers</h2>\n"
    bus = _code(facts.product.events.bus)
    if not facts.bus_found:
        return out + f"<p>The bus {bus} does not exist.</p>\n"
    if not facts.subscribers:
        return out + f"<p>No rule on {bus} matches its events.</p>\n"
    rows = []
    for s in facts.subscribers:
        scope = (
            "all its events"
            if s.scope == "all"
            else "some: filters on " + ", ".join(_code(f) for f in s.filters)
        )
        consumer = _e(s.consumer) if s.consumer else '<span class="muted">not meshkit&#x27;s</span>'
        if s.landing:
            consumer += " (lands the dataset)"
        targets = "<br>".join(_code(t) for t in s.targets) or '<span class="muted">none</span>'
        rows.append((_code(s.rule), consumer, _code(s.pattern), scope, targets))
    return (
        out
        + f"<p>Rules on {bus} whose event pattern matches the product's events.</p>\n"
        + _table(("rule", "consumer", "pattern", "matches", "targets"), rows)
    )


# -- the lineage picture -------------------------------------------------------------------------

_BOX_W, _BOX_H, _GAP_X, _GAP_Y, _MARGIN, _HEADER = 168, 46, 40, 18, 16, 26
_LABEL_MAX = 24
_STAGE_COLOURS = {
    "inputs": ("#f0f4f8", "#627d98"),
    "producer": ("#e6fffa", "#2c7a7b"),
    "bus": ("#ebf8ff", "#2b6cb0"),
    "rules": ("#faf5ff", "#6b46c1"),
    "targets": ("#fffaf0", "#c05621"),
    "consumers": ("#f0fff4", "#2f855a"),
}


@dataclass(frozen=True)
class _Node:
    key: str
    kind: str  # the small label above the name
    name: str
    full: str  # the tooltip


def _short(text: str) -> str:
    return text if len(text) <= _LABEL_MAX else text[: _LABEL_MAX - 1] + "\u2026"


def _target_node(arn: str) -> _Node:
    parts = arn.split(":")
    service = parts[2] if len(parts) > 5 else ""
    resource = parts[-1] if parts else arn
    if service == "sqs":
        return _Node(arn, "SQS queue", resource, arn)
    if service == "events":
        return _Node(arn, "event bus", resource.rsplit("/", 1)[-1], arn)
    return _Node(arn, service or "target", resource.rsplit("/", 1)[-1], arn)


def _graph(
    product: DataProduct, subscribers: tuple[_Subscriber, ...]
) -> tuple[list[tuple[str, list[_Node]]], list[tuple[str, str]]]:
    """The picture's columns (stage, nodes) and edges (from key, to key)."""
    producer = _Node("producer", "producer", product.events.source, product.events.source)
    bus = _Node("bus", "event bus", product.events.bus, product.events.bus)
    inputs = [_Node(f"in:{item}", "input", item, item) for item in product.lineage]
    rules: list[_Node] = []
    targets: dict[str, _Node] = {}
    sinks: dict[str, _Node] = {}
    edges = [(node.key, producer.key) for node in inputs] + [(producer.key, bus.key)]
    table = f"{product.dataset.database}.{product.dataset.table}"
    for s in subscribers:
        rule = _Node(f"rule:{s.rule}", "rule", s.rule, f"{s.rule}: {s.pattern}")
        rules.append(rule)
        edges.append((bus.key, rule.key))
        for arn in s.targets:
            target = targets.setdefault(arn, _target_node(arn))
            edges.append((rule.key, target.key))
            if s.landing:
                sink = _Node(f"table:{table}", "Glue table", table, product.dataset.location)
            elif s.consumer:
                sink = _Node(f"domain:{s.consumer}", "consumer domain", s.consumer, s.consumer)
            else:
                continue
            sinks.setdefault(sink.key, sink)
            edges.append((target.key, sink.key))
    columns = [
        ("inputs", inputs),
        ("producer", [producer]),
        ("bus", [bus]),
        ("rules", rules),
        ("targets", sorted(targets.values(), key=lambda n: n.key)),
        ("consumers", sorted(sinks.values(), key=lambda n: n.key)),
    ]
    unique_edges = sorted(set(edges))
    return [(stage, nodes) for stage, nodes in columns if nodes], unique_edges


def _svg(product: DataProduct, subscribers: tuple[_Subscriber, ...]) -> str:
    columns, edges = _graph(product, subscribers)
    tallest = max(len(nodes) for _, nodes in columns)
    width = 2 * _MARGIN + len(columns) * _BOX_W + (len(columns) - 1) * _GAP_X
    height = 2 * _MARGIN + _HEADER + tallest * _BOX_H + (tallest - 1) * _GAP_Y
    marker = "mk-arrow-" + _UNSAFE_FILE_CHARS.sub("_", product.name)
    where: dict[str, tuple[int, int]] = {}  # node key -> (x, y) of its box's top-left corner
    boxes, headers = [], []
    for column, (stage, nodes) in enumerate(columns):
        x = _MARGIN + column * (_BOX_W + _GAP_X)
        headers.append(
            f'<text x="{x + _BOX_W // 2}" y="{_MARGIN + 14}" text-anchor="middle" '
            f'font-weight="600" fill="#334e68">{_e(stage)}</text>'
        )
        offset = (tallest - len(nodes)) * (_BOX_H + _GAP_Y) // 2
        fill, stroke = _STAGE_COLOURS[stage]
        for row, node in enumerate(nodes):
            y = _MARGIN + _HEADER + offset + row * (_BOX_H + _GAP_Y)
            where[node.key] = (x, y)
            boxes.append(
                f"<g><title>{_e(node.full)}</title>"
                f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="{_BOX_H}" rx="6" '
                f'fill="{fill}" stroke="{stroke}"/>'
                f'<text x="{x + _BOX_W // 2}" y="{y + 17}" text-anchor="middle" font-size="10" '
                f'fill="{stroke}">{_e(node.kind)}</text>'
                f'<text x="{x + _BOX_W // 2}" y="{y + 34}" text-anchor="middle">'
                f"{_e(_short(node.name))}</text></g>"
            )
    lines = []
    for start, end in edges:
        (x1, y1), (x2, y2) = where[start], where[end]
        x1, y1, x2, y2 = x1 + _BOX_W, y1 + _BOX_H // 2, x2, y2 + _BOX_H // 2
        bend = _GAP_X // 2
        lines.append(
            f'<path d="M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2 - 2},{y2}" '
            f'fill="none" stroke="#829ab1" stroke-width="1.5" marker-end="url(#{marker})"/>'
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" font-family="system-ui, sans-serif" '
        f'font-size="12" fill="#1f2933" aria-label="Lineage of {_e(product.name)}">\n'
        f"<title>Lineage of {_e(product.name)}</title>\n"
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'fill="#829ab1"/></marker></defs>\n' + "\n".join(headers + lines + boxes) + "\n</svg>"
    )


# -- public functions ------------------------------------------------------------------------------


def _checked_folder(folder: Any) -> Path:
    if not isinstance(folder, (str, os.PathLike)) or not os.fspath(folder):
        raise ValidationError(
            f"folder must be a path to write the catalog to, e.g. 'catalog', not {folder!r:.80}"
        )
    path = Path(os.fspath(folder))
    if path.exists() and not path.is_dir():
        raise ValidationError(
            f"folder {str(path)!r} is a file, not a folder: pass a folder to write the catalog in"
        )
    return path


def _checked_products(products: Any) -> list[str | DataProduct] | None:
    if products is None:
        return None
    if isinstance(products, (str, bytes, DataProduct, Mapping)) or not isinstance(
        products, Iterable
    ):
        raise ValidationError(
            f"products must be a list of data product names or DataProducts, not a "
            f"{type(products).__name__}: write [product] for one"
        )
    listed = list(products)
    for index, item in enumerate(listed):
        if isinstance(item, DataProduct):
            continue
        if not isinstance(item, str):
            raise ValidationError(
                f"products[{index}] is a {type(item).__name__}: pass a data product's name, "
                "e.g. 'sales.sale-recorded', or a DataProduct"
            )
        _check_name(item, f"products[{index}]")
    return listed


def _check_name(name: str, field_name: str) -> None:
    domain, dot, rest = name.partition(".")
    if not dot or not rest:
        raise ValidationError(
            f"{field_name} {name!r:.80} is not a data product's name: '<domain>.<detail-type in "
            "kebab case>', e.g. 'sales.sale-recorded' (mk.products.list_data_products() lists them)"
        )
    domain_key(domain, field=field_name)


def _resolve(item: str | DataProduct, boto3_session: boto3.Session | None) -> DataProduct:
    if isinstance(item, DataProduct):
        return item
    return get_data_product(item, boto3_session=boto3_session)


def lineage_svg(product: DataProduct | str, *, boto3_session: boto3.Session | None = None) -> str:
    """The product's lineage as an SVG picture: inputs -> producer -> bus -> subscribers.

    From left to right: the product's inputs (its descriptor's ``lineage``), the producer (its
    events' source), its bus, each rule on the bus whose pattern matches its events, each rule's
    targets (queues), and where those lead: the product's Glue table for the producing domain's
    own (landing) subscription, the consuming domain for the others. The rules are read live
    from EventBridge.

    Parameters
    ----------
    product : DataProduct or str
        A descriptor, drawn as given, or a product's name, read from the live Glue catalog.
    boto3_session : boto3.Session, optional
        The session for every call.

    Returns
    -------
    str
        A standalone ``<svg>`` element (well-formed XML), for a web page or
        ``IPython.display.SVG``.

    Raises
    ------
    meshkit.products.DataProductNotFoundError
        ``product`` is a name no Glue table holds.
    meshkit.exceptions.ValidationError
        ``product`` is neither a ``DataProduct`` nor a product's name.

    Examples
    --------
    >>> import meshkit as mk
    >>> _ = mk.buses.create_domain_bus("sales")
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal",
    ...     lineage=["dynamodb:sales"],
    ... )
    >>> sub = mk.subscriptions.subscribe(
    ...     "marketing", bus="SalesEventBus", pattern={"detail-type": ["SaleRecorded"]}
    ... )
    >>> svg = mk.products.lineage_svg(product)
    >>> svg.startswith("<svg"), "dynamodb:sales" in svg, "marketing-sales" in svg
    (True, True, True)
    >>> mk.subscriptions.unsubscribe("marketing", bus="SalesEventBus")
    True
    >>> mk.buses.delete_domain_bus("sales")
    True
    """
    if isinstance(product, str):
        _check_name(product, "product")
    elif not isinstance(product, DataProduct):
        raise ValidationError(
            f"product must be a DataProduct or a data product's name, e.g. "
            f"'sales.sale-recorded', not a {type(product).__name__}"
        )
    resolved = _resolve(product, boto3_session)
    subscribers, _ = _Reader(boto3_session).subscribers(resolved)
    return _svg(resolved, subscribers)


def write_catalog(
    folder: str | os.PathLike[str],
    *,
    products: Iterable[str | DataProduct] | None = None,
    registry: ContractRegistry | None = None,
    boto3_session: boto3.Session | None = None,
) -> Catalog:
    """Write a browsable catalog of the data products, from live state, to ``folder``.

    ``index.html`` lists every product (name, domain, owner, classification, description); each
    product's page shows its descriptor (owner, domain, classification, freshness SLO, the event
    port and the dataset with its columns), its contract versions with the compatibility of each
    version with the one before (``mk.contracts.check_compatibility(...).to_frame()``) and a
    unified diff of their JSON Schemas, its versions in the Glue Schema Registry (when
    registered), who may read it (Lake Formation's grants, evaluated by
    ``mk.products.who_can_read``), its subscribers (the rules on its bus whose pattern matches
    its events, with their targets) and its lineage as an SVG picture (``lineage_svg``).

    The site is static and self-contained (inline CSS and SVG, no JavaScript, nothing fetched),
    so it opens from disk and offline. Every text is HTML-escaped. The same live state gives
    the same files: sorted, without timestamps (creation times of schema versions are left
    out). Pages meshkit wrote earlier for products that no longer exist are removed; other
    files in ``folder`` are left alone.

    Parameters
    ----------
    folder : str or os.PathLike
        Where to write the site; created if missing.
    products : iterable of str or DataProduct, optional
        The products to catalog: names are read from the live Glue catalog, descriptors are
        taken as given. Default: every product ``mk.products.list_data_products()`` finds.
    registry : ContractRegistry, optional
        Where the contracts' schemas are; default ``mk.contracts.default_registry()``.
        Consecutive versions are judged under its compatibility mode and policy.
    boto3_session : boto3.Session, optional
        The session for every call.

    Returns
    -------
    Catalog
        The folder, the index page and each product's page.

    Raises
    ------
    meshkit.products.DataProductNotFoundError
        A product named in ``products`` is not in the Glue catalog.
    meshkit.exceptions.ValidationError
        ``folder`` is not a folder path, or ``products`` is not a list of names or
        descriptors; nothing was read or written.

    Examples
    --------
    >>> import tempfile
    >>> import meshkit as mk
    >>> _ = mk.buses.create_domain_bus("sales")
    >>> product = mk.products.define_data_product(
    ...     "sales", "SaleRecorded", description="Every sale", classification="internal"
    ... )
    >>> _ = mk.products.create_data_product(product)
    >>> catalog = mk.products.write_catalog(tempfile.mkdtemp())
    >>> sorted(path.name for path in catalog.folder.iterdir())
    ['index.html', 'sales.sale-recorded.html']
    >>> "currency" in catalog.page_html("sales.sale-recorded")
    True
    >>> mk.products.delete_data_product("sales.sale-recorded")
    True
    >>> mk.buses.delete_domain_bus("sales")
    True
    """
    path = _checked_folder(folder)
    wanted = _checked_products(products)
    if registry is not None and not isinstance(registry, ContractRegistry):
        raise ValidationError(
            f"registry must be a mk.contracts.ContractRegistry or None, not "
            f"{type(registry).__name__}"
        )
    contracts = registry if registry is not None else default_registry()
    if wanted is None:
        names = list_data_products(boto3_session=boto3_session)["name"].tolist()
        wanted = list(names)
    resolved: dict[str, DataProduct] = {}
    for item in wanted:
        product = _resolve(item, boto3_session)
        resolved.setdefault(product.name, product)
    ordered = [resolved[name] for name in sorted(resolved)]
    reader = _Reader(boto3_session)
    readers = _who_can_read(ordered, boto3_session) if ordered else {}
    pages_html = {}
    for product in ordered:
        facts = _facts(product, reader, contracts, readers)
        pages_html[product.name] = _page_html(facts, _svg(product, facts.subscribers))
    path.mkdir(parents=True, exist_ok=True)
    pages: dict[str, Path] = {}
    for name, text in pages_html.items():
        pages[name] = path / _page_file(name)
        pages[name].write_text(text, encoding="utf-8", newline="\n")
    index = path / INDEX
    index.write_text(_index_html(ordered), encoding="utf-8", newline="\n")
    written = {index, *pages.values()}
    for stale in sorted(path.glob("*.html")):
        if stale not in written and _GENERATOR in stale.read_text(
            encoding="utf-8", errors="replace"
        ):
            stale.unlink()
            _logger.info("removed the page of a product that is gone: %s", stale.name)
    _logger.info("wrote the catalog of %d data products to %s", len(pages), path)
    return Catalog(folder=path, index=index, pages=pages)
