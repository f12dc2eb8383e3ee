"""Access requests as events: DataProductAccessRequested -> Granted / Denied on the governance bus.

The workflow follows Amazon DataZone's subscription requests
(https://docs.aws.amazon.com/datazone/latest/userguide/discover-subscribe-consume-data.html):
a consumer asks for a published asset with a reason, its owner approves or rejects, and an
approved request on a Glue table is fulfilled with Lake Formation grants
(https://docs.aws.amazon.com/datazone/latest/userguide/grant-access-to-glue-asset.html).
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from queues import drain

import meshkit as mk
from meshkit.exceptions import ValidationError
from meshkit.products import access_requests as ar
from meshkit.products import lakeformation

ANALYST = "arn:aws:iam::123456789012:role/marketing-analyst"
FRAUD_ROLE = "arn:aws:iam::123456789012:role/fraud-investigator"
DATAZONE = "https://docs.aws.amazon.com/datazone/latest/userguide/"


# -- fixtures and helpers ---------------------------------------------------------------------


@pytest.fixture
def mesh_with_products(mesh):
    """The governance bus, Sales' three products (internal, restricted, confidential), Sales
    subscribed to the requests for its products, Marketing and Fraud to their answers."""
    mk.buses.create_domain_bus("governance")
    products = {}
    for detail_type, classification in (
        ("SaleRecorded", "internal"),
        ("SaleUpdated", "restricted"),
        ("SaleDeleted", "confidential"),
    ):
        product = mk.products.define_data_product(
            "sales",
            detail_type,
            description=f"Every {detail_type} event of the Sales domain",
            classification=classification,
        )
        mk.products.create_data_product(product)
        products[classification] = product
    requests = mk.subscriptions.subscribe(
        "sales",
        bus="GovernanceEventBus",
        pattern=ar.request_pattern("sales"),
        # Also the handler's function timeout: long enough for a loaded machine, short enough
        # for the tests that wait for a failed request to come back.
        visibility_timeout_s=5,
        max_receive_count=2,
    )
    answers = {
        domain: mk.subscriptions.subscribe(
            domain, bus="GovernanceEventBus", pattern=ar.answer_pattern(domain)
        )
        for domain in ("marketing", "fraud")
    }
    return SimpleNamespace(
        target=mesh, products=products, requests=requests, answers=answers, sqs=_sqs(mesh)
    )


def _sqs(mesh):
    return mesh.session().client("sqs", endpoint_url=mesh.endpoint_url)


def _answers(world, domain="marketing") -> list[tuple[ar.AccessAnswer, dict]]:
    """The answers waiting for ``domain``: (the answer, the envelope's metadata)."""
    return [
        (ar.AccessAnswer.from_event(body), body["detail"]["metadata"])
        for body in drain(world.sqs, world.answers[domain].queue_url)
    ]


def _serve(world, policy=None) -> mk.consumers.RunSummary:
    """Sales answers the requests waiting on its queue."""
    handler = ar.access_request_handler("sales", policy=policy)
    return mk.consumers.run(handler, world.requests.queue_url, time_budget_s=30)


def _answer_to(world, product, *, domain="marketing", principal=ANALYST, policy=None, **asking):
    """Ask for ``product`` as ``domain``, let Sales serve it, and return the one answer
    ``domain`` got, with its envelope's metadata: answered at the first delivery, unfailed."""
    ar.request_access(product, requester_domain=domain, principal=principal, purpose="p", **asking)
    summary = _serve(world, policy=policy)
    assert (summary.processed, summary.failed) == (1, 0)
    [(answer, metadata)] = _answers(world, domain)
    return answer, metadata


def _grants(mesh, principal: str) -> list[dict]:
    """What Lake Formation stores for ``principal``: every ListPermissions entry, filtered here
    (ListPermissions takes a Principal only with a Resource)."""
    lf = mesh.session().client("lakeformation", endpoint_url=mesh.endpoint_url)
    found = lf.list_permissions()["PrincipalResourcePermissions"]
    return [e for e in found if e["Principal"]["DataLakePrincipalIdentifier"] == principal]


def _sqs_event(*bodies: str) -> dict:
    """A Lambda SQS event holding ``bodies``, in the shape AWS documents
    (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html)."""
    return {
        "Records": [
            {
                "messageId": f"m-{index}",
                "receiptHandle": f"h-{index}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-west-2:123456789012:sales-governance",
                "awsRegion": "us-west-2",
            }
            for index, body in enumerate(bodies)
        ]
    }


def _request_event(request: ar.AccessRequest) -> dict:
    """The EventBridge event of a request, as the subscription's queue would carry it."""
    return {
        "version": "0",
        "id": "e-1",
        "source": "governance.domain",
        "detail-type": "DataProductAccessRequested",
        "time": "2026-01-29T10:00:00Z",
        "region": "us-west-2",
        "resources": [],
        "detail": {
            "metadata": {
                "idempotency_key": request.request_id,
                "correlation_id": request.request_id,
                "schema_version": "1.0",
                "data_product": "governance.data-product-access-requested",
            },
            "data": request.data(),
        },
    }


# -- the protocol -----------------------------------------------------------------------------


def test_the_governance_contracts_are_packaged_in_the_default_registry():
    """The default registry loads every packaged contract file, the governance domain's too."""
    keys = {contract.key for contract in mk.contracts.default_registry()}

    assert {
        "governance.domain/DataProductAccessRequested/1.0",
        "governance.domain/DataProductAccessGranted/1.0",
        "governance.domain/DataProductAccessDenied/1.0",
    } <= keys


def test_a_request_is_published_on_the_governance_bus_in_the_envelope(mesh_with_products):
    """Given Sales subscribed to requests for its products, when Marketing asks for one, then
    the request arrives with governance.domain as its source, the requester in the data and the
    request id as its idempotency and correlation key."""
    world = mesh_with_products

    request_id = ar.request_access(
        "sales.sale-recorded",
        requester_domain="Marketing",
        principal=ANALYST,
        purpose="campaign attribution",
        columns=["sale_id", "amount"],
    )

    [body] = drain(world.sqs, world.requests.queue_url)
    assert body["source"] == "governance.domain"
    assert body["detail-type"] == "DataProductAccessRequested"
    assert body["detail"]["metadata"]["idempotency_key"] == request_id
    assert body["detail"]["metadata"]["correlation_id"] == request_id
    assert body["detail"]["data"] == {
        "request_id": request_id,
        "product": "sales.sale-recorded",
        "requester_domain": "marketing",
        "principal": ANALYST,
        "purpose": "campaign attribution",
        "columns": ["sale_id", "amount"],
    }
    assert ar.AccessRequest.from_event(body).columns == ("sale_id", "amount")


def test_the_request_pattern_routes_only_the_domains_own_products(mesh_with_products):
    """EventBridge's prefix matching
    (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-prefix-matching):
    ``sales.`` matches the Sales domain's products and not those of ``sales-ops`` or
    ``salesforce``, whose names merely start with the same letters."""
    world = mesh_with_products
    for product in ("sales-ops.report-filed", "salesforce.lead-won", "sales.sale-recorded"):
        ar.request_access(product, requester_domain="marketing", principal=ANALYST, purpose="p")

    routed = [
        body["detail"]["data"]["product"] for body in drain(world.sqs, world.requests.queue_url)
    ]

    assert routed == ["sales.sale-recorded"]


# -- granted ----------------------------------------------------------------------------------


def test_an_internal_product_is_granted_and_lake_formation_holds_the_grant(mesh_with_products):
    """Given Sales' internal product, when Marketing asks for it, then Sales grants the whole
    table through Lake Formation and answers Granted: like a DataZone subscription approved with
    full access, "all the rows and columns"
    (https://docs.aws.amazon.com/datazone/latest/userguide/approve-reject-subscription-request.html)."""
    world = mesh_with_products
    request_id = ar.request_access(
        "sales.sale-recorded",
        requester_domain="marketing",
        principal=ANALYST,
        purpose="campaign attribution",
    )

    summary = _serve(world)

    assert (summary.processed, summary.failed) == (1, 0)
    [(answer, metadata)] = _answers(world)
    assert answer.granted
    assert (answer.request_id, answer.product, answer.principal) == (
        request_id,
        "sales.sale-recorded",
        ANALYST,
    )
    assert (answer.database, answer.table, answer.columns) == ("sales", "sale_recorded", None)
    assert answer.permissions == ("SELECT", "DESCRIBE")
    assert "internal" in answer.reason
    assert metadata["idempotency_key"] == f"{request_id}/answer"
    assert metadata["correlation_id"] == request_id
    [stored] = _grants(world.target, ANALYST)
    assert stored["Resource"] == {"Table": {"DatabaseName": "sales", "Name": "sale_recorded"}}
    assert sorted(stored["Permissions"]) == ["DESCRIBE", "SELECT"]


def test_who_can_read_shows_the_grant_an_answer_made(mesh_with_products):
    """meshkit's evaluator (moto evaluates nothing) sees the principal the handler granted."""
    world = mesh_with_products
    ar.request_access(
        "sales.sale-recorded", requester_domain="marketing", principal=ANALYST, purpose="p"
    )
    before = _can_read(ANALYST, "sales.sale-recorded")

    _serve(world)

    assert (before, _can_read(ANALYST, "sales.sale-recorded")) == ("", "all columns")
    assert _can_read(ANALYST, "sales.sale-updated") == "", "nothing else was granted"


def _can_read(principal: str, product: str) -> str:
    """The who-can-read grid's cell for one principal and product."""
    grid = lakeformation.who_can_read(principals=[principal], products=[product])
    return str(grid.loc[principal, product])


def test_a_request_for_columns_grants_only_those_columns(mesh_with_products):
    """A column-level grant is a TableWithColumns resource, which Lake Formation uses only for
    SELECT (https://docs.aws.amazon.com/lake-formation/latest/APIReference/API_TableWithColumnsResource.html)."""
    world = mesh_with_products

    answer, _ = _answer_to(
        world, "sales.sale-recorded", columns=["sale_id", "amount", "event_date"]
    )

    assert answer.granted
    assert answer.columns == ("sale_id", "amount", "event_date")
    assert answer.permissions == ("SELECT",)
    [stored] = _grants(world.target, ANALYST)
    resource = stored["Resource"]["TableWithColumns"]
    assert (resource["DatabaseName"], resource["Name"]) == ("sales", "sale_recorded")
    assert resource["ColumnNames"] == ["sale_id", "amount", "event_date"]
    assert stored["Permissions"] == ["SELECT"]
    assert _can_read(ANALYST, "sales.sale-recorded") == "sale_id, amount, event_date"


def test_the_same_request_delivered_twice_grants_once_and_answers_under_one_key(
    mesh_with_products,
):
    """At-least-once delivery: the same request twice makes one Lake Formation grant, and both
    answers carry the same idempotency key, so the requester counts one."""
    world = mesh_with_products
    for _ in range(2):
        ar.request_access(
            "sales.sale-recorded",
            requester_domain="marketing",
            principal=ANALYST,
            purpose="p",
            request_id="marketing-7",
        )

    summary = _serve(world)

    assert (summary.processed, summary.failed) == (2, 0)
    answers = _answers(world)
    assert [answer.granted for answer, _ in answers] == [True, True]
    assert {metadata["idempotency_key"] for _, metadata in answers} == {"marketing-7/answer"}
    assert len(_grants(world.target, ANALYST)) == 1


# -- denied -----------------------------------------------------------------------------------


def test_a_restricted_product_is_denied_with_whom_to_ask(mesh_with_products):
    """Restricted products are never granted by the policy: a person decides, as a DataZone
    asset's owner reviews a request "and reason for access"
    (https://docs.aws.amazon.com/datazone/latest/userguide/approve-reject-subscription-request.html)."""
    world = mesh_with_products

    answer, metadata = _answer_to(world, "sales.sale-updated", request_id="marketing-3")

    assert not answer.granted
    assert "restricted" in answer.reason
    assert "sales-team" in answer.reason, "the reason names the owner to ask"
    assert metadata["idempotency_key"] == "marketing-3/answer"
    assert _grants(world.target, ANALYST) == []


def test_a_confidential_product_goes_only_to_the_domains_the_owner_listed(mesh_with_products):
    world = mesh_with_products
    policy = ar.AccessPolicy(confidential_domains=("fraud",))
    for domain, role in (("fraud", FRAUD_ROLE), ("marketing", ANALYST)):
        ar.request_access(
            "sales.sale-deleted", requester_domain=domain, principal=role, purpose="p"
        )

    _serve(world, policy=policy)

    [(fraud, _)] = _answers(world, "fraud")
    [(marketing, _)] = _answers(world, "marketing")
    assert fraud.granted and "confidential" in fraud.reason
    assert not marketing.granted
    assert "fraud" in marketing.reason and "marketing" in marketing.reason
    assert "confidential_domains" in marketing.reason, "the reason says what would change it"
    assert len(_grants(world.target, FRAUD_ROLE)) == 1
    assert _grants(world.target, ANALYST) == []


def test_a_confidential_product_is_denied_to_all_by_default(mesh_with_products):
    world = mesh_with_products

    answer, _ = _answer_to(world, "sales.sale-deleted", domain="fraud", principal=FRAUD_ROLE)

    assert not answer.granted
    assert "none yet" in answer.reason


def test_an_unknown_product_is_denied(mesh_with_products):
    world = mesh_with_products

    answer, _ = _answer_to(world, "sales.sale-refunded")

    assert not answer.granted
    assert "no data product 'sales.sale-refunded'" in answer.reason
    assert "list_data_products" in answer.reason


def test_an_unknown_column_is_denied(mesh_with_products):
    world = mesh_with_products

    answer, _ = _answer_to(world, "sales.sale-recorded", columns=["sale_id", "customer_email"])

    assert not answer.granted
    assert "no column customer_email" in answer.reason
    assert _grants(world.target, ANALYST) == []


def test_a_stray_request_for_another_domains_product_is_denied(mesh_with_products):
    """A request the pattern would not route (another domain's product) reaching the handler
    anyway is answered Denied, never granted from the wrong domain's catalog."""
    world = mesh_with_products
    stray = ar.AccessRequest("r-9", "marketing.campaign-launched", "fraud", FRAUD_ROLE, "p")

    answer = ar.answer_request("sales", _request_event(stray))

    assert not answer.granted
    assert "not this domain's product" in answer.reason
    [(published, _)] = _answers(world, "fraud")
    assert published == answer


def test_internal_products_wait_for_a_person_when_the_policy_says_so(mesh_with_products):
    world = mesh_with_products

    answer, _ = _answer_to(
        world, "sales.sale-recorded", policy=ar.AccessPolicy(open_to_all=("public",))
    )

    assert not answer.granted
    assert "person" in answer.reason and "sales-team" in answer.reason


def test_the_policy_decides_by_classification():
    product = mk.products.define_data_product(
        "sales", "SaleRecorded", description="Every sale", classification="public"
    )
    request = ar.AccessRequest("r-1", "sales.sale-recorded", "marketing", ANALYST, "p")

    assert ar.AccessPolicy().decide(product, request).granted
    assert ar.AccessPolicy(open_to_all=()).decide(product, request) == (
        False,
        "sales.sale-recorded is public, and the sales domain grants public products only by "
        "a person's decision: ask its owner, sales-team",
    )


# -- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "error",
    [
        ClientError(
            {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"}},
            "GrantPermissions",
        ),
        EndpointConnectionError(endpoint_url="https://lakeformation.us-west-2.amazonaws.com"),
    ],
    ids=["throttled", "unreachable"],
)
def test_an_aws_failure_fails_the_message_and_answers_nothing(
    mesh_with_products, monkeypatch, error
):
    """An error a retry may fix is a partial batch failure
    (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html#services-sqs-batchfailurereporting):
    the message is delivered again; no answer is published meanwhile."""
    world = mesh_with_products

    def failing_grant(*args, **kwargs):
        raise error

    monkeypatch.setattr(lakeformation, "grant", failing_grant)
    good = ar.AccessRequest("r-1", "sales.sale-recorded", "marketing", ANALYST, "p")
    denied = ar.AccessRequest("r-2", "sales.sale-updated", "marketing", ANALYST, "p")
    event = _sqs_event(json.dumps(_request_event(good)), json.dumps(_request_event(denied)))

    response = ar.access_request_handler("sales")(event, None)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert [answer.request_id for answer, _ in _answers(world)] == ["r-2"]


def test_a_failed_message_is_answered_when_it_comes_back(mesh_with_products, monkeypatch):
    """Given Lake Formation failing once, when the runner delivers the request again after its
    visibility timeout, then it is granted and answered once."""
    world = mesh_with_products
    calls = []
    real_grant = lakeformation.grant

    def flaky_grant(*args, **kwargs):
        calls.append(args)
        if len(calls) == 1:
            raise ClientError({"Error": {"Code": "InternalServiceException"}}, "GrantPermissions")
        return real_grant(*args, **kwargs)

    monkeypatch.setattr(lakeformation, "grant", flaky_grant)
    ar.request_access(
        "sales.sale-recorded", requester_domain="marketing", principal=ANALYST, purpose="p"
    )

    summary = _serve(world)

    assert (summary.processed, summary.failed, summary.dead_lettered) == (1, 1, 0)
    [(answer, _)] = _answers(world)
    assert answer.granted
    assert len(_grants(world.target, ANALYST)) == 1


def test_a_refusal_from_lake_formation_is_answered_denied(mesh_with_products, monkeypatch):
    """InvalidInputException (https://docs.aws.amazon.com/lake-formation/latest/APIReference/API_GrantPermissions.html#API_GrantPermissions_Errors)
    does not pass with time: the requester is told, rather than the message retried."""
    world = mesh_with_products

    def refusing_grant(*args, **kwargs):
        raise ClientError(
            {"Error": {"Code": "InvalidInputException", "Message": "No such principal"}},
            "GrantPermissions",
        )

    monkeypatch.setattr(lakeformation, "grant", refusing_grant)

    answer, _ = _answer_to(world, "sales.sale-recorded")

    assert not answer.granted
    assert "InvalidInputException: No such principal" in answer.reason


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ("not json", "not JSON"),
        (json.dumps({"source": "sales.domain", "detail-type": "SaleRecorded"}), "not governance"),
        (
            json.dumps(
                {
                    "source": "governance.domain",
                    "detail-type": "DataProductAccessRequested",
                    "detail": {"request_id": "r-1"},
                }
            ),
            "envelope",
        ),
        (
            json.dumps(
                {
                    "source": "governance.domain",
                    "detail-type": "DataProductAccessRequested",
                    "detail": {
                        "metadata": {"schema_version": "1.0"},
                        "data": {"request_id": "r-1", "product": "sales.sale-recorded"},
                    },
                }
            ),
            "'requester_domain' is a required property",
        ),
    ],
    ids=["not-json", "another-event", "no-envelope", "breaks-contract"],
)
def test_a_message_that_is_no_request_fails_and_is_logged(mesh_with_products, caplog, body, words):
    """It cannot be answered (who would be told?): it is reported failed, so SQS moves it to the
    DLQ in the end, and the log says why."""
    world = mesh_with_products

    response = ar.access_request_handler("sales")(_sqs_event(body), None)

    assert response == {"batchItemFailures": [{"itemIdentifier": "m-0"}]}
    assert words in caplog.text
    assert _answers(world) == []


def test_a_malformed_event_is_refused_with_its_own_error():
    with pytest.raises(ar.MalformedRequestError, match=r"not governance\.domain"):
        ar.AccessRequest.from_event({"source": "sales.domain", "detail-type": "SaleRecorded"})


# -- bad input --------------------------------------------------------------------------------


def _assert_refused_unsent(call, words, sent):
    """``call`` raises a ValidationError whose message holds each of ``words``; nothing was sent."""
    with pytest.raises(ValidationError) as refused:
        call()

    for word in words:
        assert word in str(refused.value)
    assert sent == []


def _ask(**changes):
    arguments = {
        "requester_domain": "marketing",
        "principal": ANALYST,
        "purpose": "campaign attribution",
    }
    product = changes.pop("product_name", "sales.sale-recorded")
    return lambda: ar.request_access(product, **{**arguments, **changes})


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (_ask(product_name="sale-recorded"), ["product_name", "'sales.sale-recorded'"]),
        (_ask(product_name="Sales.Sale"), ["product_name", "kebab case"]),
        (_ask(product_name=None), ["product_name", "list_data_products"]),
        (_ask(requester_domain="9lives"), ["requester_domain", "start with a letter"]),
        (_ask(principal="marketing-analyst"), ["principal", "IAM role ARN", "create_domain_role"]),
        (_ask(principal="arn:aws:iam::123456789012:user/bob"), ["principal", "role"]),
        (_ask(purpose=""), ["purpose", "non-empty"]),
        (_ask(purpose="x" * 1025), ["purpose", "1024"]),
        (_ask(columns="sale_id"), ["columns", "list of column names"]),
        (_ask(columns=[]), ["columns", "empty"]),
        (_ask(columns=["Sale ID"]), ["columns", "Glue column name"]),
        (_ask(columns=["amount", "amount"]), ["columns", "more than once"]),
        (_ask(request_id="no spaces"), ["request_id", "100 letters"]),
        (_ask(request_id=""), ["request_id", "leave it out"]),
    ],
)
def test_bad_input_to_request_access_is_refused_before_any_call(mesh, sent, call, words):
    _assert_refused_unsent(call, words, sent)


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: ar.AccessPolicy(open_to_all=("restricted",)), ["open_to_all", "person"]),
        (
            lambda: ar.AccessPolicy(open_to_all=("confidential",)),
            ["open_to_all", "confidential_domains"],
        ),
        (lambda: ar.AccessPolicy(open_to_all="internal"), ["open_to_all", "tuple"]),
        (
            lambda: ar.AccessPolicy(confidential_domains="fraud"),
            ["confidential_domains", "('fraud',)"],
        ),
        (lambda: ar.AccessPolicy(confidential_domains=["9"]), ["confidential_domains"]),
        (
            lambda: ar.access_request_handler("sales", policy={"fraud": True}),
            ["policy", "AccessPolicy"],
        ),
        (lambda: ar.access_request_handler(""), ["domain"]),
        (lambda: ar.request_pattern(None), ["domain"]),
        (lambda: ar.answer_pattern("9"), ["requester_domain"]),
        (
            lambda: ar.AccessPolicy().decide("sales.sale-recorded", None),
            ["product", "get_data_product"],
        ),
    ],
)
def test_bad_input_to_the_policy_and_handler_is_refused_before_any_call(mesh, sent, call, words):
    _assert_refused_unsent(call, words, sent)


def test_a_request_without_the_governance_bus_is_refused_unsent(mesh, sent):
    """EventBridge accepts events for a bus that does not exist and drops them; publish checks
    the bus first (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html)."""
    with pytest.raises(mk.events.UnknownBusError, match="GovernanceEventBus"):
        ar.request_access(
            "sales.sale-recorded", requester_domain="marketing", principal=ANALYST, purpose="p"
        )

    assert "AWSEvents.PutEvents" not in [request.operation for request in sent]
