"""Rules of the house (issue 15): suspension is read-only, one validation path for rulesets, the
local payment page only where it belongs, storefront events checked against the catalog, and an
OpenAPI that tells the truth (X-Pagination, If-Match and 428, YAML bodies)."""

from __future__ import annotations

import json
import uuid

import jsonschema
import pytest

from app import create_app
from app.adapters.payments import LocalPayments
from rules.defaults import DEFAULT_RULESET
from storage import models as m
from tests.conftest import WEBHOOK_SECRET
from tests.support.dates import days_ahead
from tests.support.rows import count
from tests.support.rules import WINTER_YAML, default_document
from tests.support.storefront import checkout, quote

DAY = days_ahead(12)


def error_of(response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert body["error"]["code"] == code, body
    assert set(body) <= {"error", "request_id"}
    return body["error"]


def suspend(client, fx, platform_headers) -> None:
    url = f"/v1/platform/tenants/{fx.tenant.id}"
    etag = client.get(url, headers=platform_headers).headers["ETag"]
    response = client.patch(
        url, headers={**platform_headers, "If-Match": etag}, json={"status": "suspended"}
    )
    assert response.status_code == 200, response.get_json()


# ---- suspension -------------------------------------------------------------------------------


def test_a_suspended_tenants_admins_may_read_but_not_write(client, db, tenant_a, platform_headers):
    fx = tenant_a
    suspend(client, fx, platform_headers)
    keys_before = count(db, m.ApiKey, fx.tenant.id)

    created = client.post("/v1/admin/api-keys", headers=fx.admin, json={"name": "sneaky"})
    error_of(created, 403, "tenant_suspended")
    assert count(db, m.ApiKey, fx.tenant.id) == keys_before

    tenant = client.get("/v1/admin/tenant", headers=fx.admin)
    assert tenant.status_code == 200
    renamed = client.patch(
        "/v1/admin/tenant",
        headers={**fx.admin, "If-Match": tenant.headers["ETag"]},
        json={"name": "Renamed while suspended"},
    )
    error_of(renamed, 403, "tenant_suspended")
    assert client.get("/v1/admin/tenant", headers=fx.admin).get_json()["name"] == fx.tenant.name

    segment = client.post(
        "/v1/admin/segments", headers=fx.admin, json={"key": "late", "name": "Late", "position": 9}
    )
    error_of(segment, 403, "tenant_suspended")
    assert client.get("/v1/admin/api-keys", headers=fx.admin).status_code == 200
    assert client.get("/v1/admin/segments", headers=fx.analyst).status_code == 200
    # ... and its storefront is closed.
    error_of(client.get("/v1/storefront/segments", headers=fx.storefront), 403, "tenant_suspended")


def test_a_platform_admin_may_still_act_on_a_suspended_tenant(
    client, db, tenant_a, platform_headers
):
    """Operators keep their hands on a suspended tenant: revoking a leaked key, say."""
    fx = tenant_a
    suspend(client, fx, platform_headers)
    as_operator = {**platform_headers, "X-Tenant-Id": fx.tenant.id}
    keys = client.get("/v1/admin/api-keys", headers=as_operator).get_json()
    revoked = client.post(f"/v1/admin/api-keys/{keys[0]['id']}/revoke", headers=as_operator)
    assert revoked.status_code == 200, revoked.get_json()
    assert revoked.get_json()["revoked_at"] is not None


def test_reactivation_gives_the_admins_their_writes_back(client, tenant_a, platform_headers):
    fx = tenant_a
    suspend(client, fx, platform_headers)
    url = f"/v1/platform/tenants/{fx.tenant.id}"
    etag = client.get(url, headers=platform_headers).headers["ETag"]
    client.patch(url, headers={**platform_headers, "If-Match": etag}, json={"status": "active"})
    created = client.post("/v1/admin/api-keys", headers=fx.admin, json={"name": "after"})
    assert created.status_code == 201, created.get_json()


# ---- one validation path for ruleset documents ------------------------------------------------

UNKNOWN_EXPERIMENT = {
    "id": "ghost-upsell",
    "kind": "upsell",
    "priority": 20,
    "when": {"fact": "experiment", "op": "eq", "value": "no-such-experiment"},
    "then": {"offer": "tier", "target_level": 3, "percent_off": "10", "message_key": "upsell.x"},
}


def test_validate_refuses_what_draft_create_refuses(client, tenant_a):
    fx = tenant_a
    document = default_document(UNKNOWN_EXPERIMENT)
    position = len(DEFAULT_RULESET["rules"])
    created = error_of(
        client.post(
            "/v1/admin/rulesets/drafts", headers=fx.admin, json={"name": "x", "document": document}
        ),
        422,
        "unknown_variant",
    )
    validated = error_of(
        client.post("/v1/admin/rulesets/validate", headers=fx.admin, json={"document": document}),
        422,
        "unknown_variant",
    )
    assert validated["details"] == created["details"]
    assert [d["path"] for d in validated["details"]] == [f"/rules/{position}/when"]


def test_validating_a_stored_draft_checks_its_experiments_too(client, db, tenant_a):
    """A draft stored before its experiment was deleted, say: validate says what publish will."""
    fx = tenant_a
    created = client.post(
        "/v1/admin/rulesets/drafts",
        headers=fx.admin,
        json={"name": "ok", "document": default_document()},
    )
    assert created.status_code == 201
    draft_id = created.get_json()["id"]
    with db.transaction() as s:
        row = s.get(m.RulesetDraft, (uuid.UUID(fx.tenant.id), uuid.UUID(draft_id)))
        row.document = default_document(UNKNOWN_EXPERIMENT)
    response = client.post(f"/v1/admin/rulesets/drafts/{draft_id}/validate", headers=fx.admin)
    error_of(response, 422, "unknown_variant")


# ---- the local payment page -------------------------------------------------------------------


def test_server_mode_does_not_serve_the_local_payment_page(settings, db, cache, tenant_a):
    """PAYMENTS_BACKEND=local under TIERWISE_MODE=server: the unauthenticated page that marks a
    booking paid is the embedded demo's, never a server's."""
    assert settings.mode == "server"
    local = settings.replace(payments_backend="local")
    payments = LocalPayments(WEBHOOK_SECRET, local.public_base_url)
    client = create_app(local, db=db, cache=cache, payments=payments).test_client()
    fx = tenant_a
    booking = checkout(client, fx, quote(client, fx, 1, DAY)["token"], key="house-1")
    booking_id = booking["booking_id"]
    session_id = booking["checkout_session_id"]
    assert session_id.startswith("lcs_")

    for method, path in (
        ("post", f"/local-pay/{session_id}/pay"),
        ("get", f"/local-pay/{session_id}"),
    ):
        error_of(getattr(client, method)(path), 404, "not_found")
    again = client.get(f"/v1/storefront/bookings/{booking_id}", headers=fx.storefront)
    assert again.get_json()["status"] == "pending"
    assert not [p for p in client.get("/openapi.json").get_json()["paths"] if "local-pay" in p]


# ---- storefront events against the catalog ----------------------------------------------------


def event(cid: str, **extra) -> dict:
    return {
        "client_event_id": cid,
        "type": "tier_comparison_viewed",
        "visitor_id": "v-1",
        "occurred_at": "2026-11-20T10:15:00+00:00",
        **extra,
    }


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"segment": "junk-segment"}, "/json/events/1/segment"),
        ({"tier_id": str(uuid.uuid4())}, "/json/events/1/tier_id"),
        ({"tier_id": "not-a-uuid"}, "/json/events/1/tier_id"),
    ],
)
def test_events_naming_what_the_catalog_lacks_are_refused(client, db, tenant_a, fields, path):
    fx = tenant_a
    batch = [event("ok", segment=fx.segment.key, tier_id=fx.tiers[0].id), event("bad", **fields)]
    error = error_of(
        client.post("/v1/storefront/events", headers=fx.storefront, json={"events": batch}),
        422,
        "validation_error",
    )
    assert [d["path"] for d in error["details"]] == [path]
    assert count(db, m.StorefrontEvent, fx.tenant.id) == 0


def test_another_tenants_segments_and_tiers_are_unknown_to_events(client, db, tenant_a, tenant_b):
    fx = tenant_a
    batch = [
        event("b-seg", segment=tenant_b.segment.key),
        event("b-tier", tier_id=tenant_b.tiers[0].id),
    ]
    error = error_of(
        client.post("/v1/storefront/events", headers=fx.storefront, json={"events": batch}),
        422,
        "validation_error",
    )
    assert [d["path"] for d in error["details"]] == [
        "/json/events/0/segment",
        "/json/events/1/tier_id",
    ]
    assert count(db, m.StorefrontEvent, fx.tenant.id) == 0


def test_a_tier_must_belong_to_the_events_segment(client, db, settings, tenant_a):
    fx = tenant_a
    other = client.post(
        "/v1/admin/segments",
        headers=fx.admin,
        json={"key": "other", "name": "Other", "position": 2},
    )
    assert other.status_code == 201
    batch = [event("mixed", segment="other", tier_id=fx.tiers[0].id)]
    error = error_of(
        client.post("/v1/storefront/events", headers=fx.storefront, json={"events": batch}),
        422,
        "validation_error",
    )
    assert [d["path"] for d in error["details"]] == ["/json/events/0/tier_id"]


def test_archived_tiers_and_segments_still_take_events(client, db, tenant_a):
    """An event can arrive after what it is about was archived: still the tenant's catalog."""
    fx = tenant_a
    archived = client.post(f"/v1/admin/tiers/{fx.tiers[0].id}/archive", headers=fx.admin)
    assert archived.status_code == 200, archived.get_json()
    batch = [event("late", segment=fx.segment.key, tier_id=fx.tiers[0].id)]
    response = client.post("/v1/storefront/events", headers=fx.storefront, json={"events": batch})
    assert response.status_code == 202, response.get_json()
    assert count(db, m.StorefrontEvent, fx.tenant.id) == 1


# ---- truthful OpenAPI -------------------------------------------------------------------------


def spec(client) -> dict:
    return client.get("/openapi.json").get_json()


def resolve(document: dict, node: dict) -> dict:
    while "$ref" in node:
        target = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def test_x_pagination_is_documented_as_the_json_it_is(client, tenant_a):
    document = spec(client)
    response = client.get("/v1/admin/api-keys?page_size=1", headers=tenant_a.admin)
    assert response.status_code == 200
    documented = document["paths"]["/v1/admin/api-keys"]["get"]["responses"]["200"]["headers"]
    header = resolve(document, documented["X-Pagination"])
    # An object-typed header schema means the `simple` style (total,1,page,1); what is sent is JSON.
    assert "schema" not in header
    schema = resolve(document, header["content"]["application/json"]["schema"])
    sent = json.loads(response.headers["X-Pagination"])
    jsonschema.validate(sent, {**schema, "components": document["components"]})
    assert sent["total"] == 1
    assert set(sent) <= set(schema["properties"])


PATCHES = [
    ("/v1/admin/tenant", "/v1/admin/tenant", lambda fx: "/v1/admin/tenant"),
    ("/v1/admin/segments/{segment_id}", None, lambda fx: f"/v1/admin/segments/{fx.segment.id}"),
    ("/v1/admin/tiers/{tier_id}", None, lambda fx: f"/v1/admin/tiers/{fx.tiers[0].id}"),
    ("/v1/admin/add-ons/{add_on_id}", None, lambda fx: f"/v1/admin/add-ons/{fx.add_on.id}"),
    ("/v1/platform/tenants/{tenant_id}", None, lambda fx: f"/v1/platform/tenants/{fx.tenant.id}"),
]


def test_every_operation_answering_428_documents_it_and_the_if_match_header(
    client, tenant_a, platform_headers
):
    document = spec(client)
    fx = tenant_a
    draft = client.post(
        "/v1/admin/rulesets/drafts", headers=fx.admin, json={"name": "d", "from_version": 1}
    ).get_json()
    experiment = client.post(
        "/v1/admin/experiments",
        headers=fx.admin,
        json={
            "key": "e",
            "primary_metric": "upsell_acceptance",
            "variants": [
                {"key": "a", "weight": "0.5", "control": True},
                {"key": "b", "weight": "0.5"},
            ],
        },
    ).get_json()
    key = client.get("/v1/admin/api-keys", headers=fx.admin).get_json()[0]
    endpoint = client.post(
        "/v1/admin/webhook-endpoints",
        headers=fx.admin,
        json={"url": "https://93.184.216.34/hook", "events": ["*"]},
    ).get_json()
    targets = [(template, make(fx)) for template, _, make in PATCHES] + [
        ("/v1/admin/api-keys/{key_id}", f"/v1/admin/api-keys/{key['id']}"),
        ("/v1/admin/rulesets/drafts/{draft_id}", f"/v1/admin/rulesets/drafts/{draft['id']}"),
        ("/v1/admin/experiments/{experiment_id}", f"/v1/admin/experiments/{experiment['id']}"),
        (
            "/v1/admin/webhook-endpoints/{endpoint_id}",
            f"/v1/admin/webhook-endpoints/{endpoint['id']}",
        ),
    ]
    answering = {
        (path, method)
        for path, operations in document["paths"].items()
        for method in operations
        if method == "patch"
    }
    assert {(template, "patch") for template, _ in targets} == answering
    for template, url in targets:
        headers = platform_headers if url.startswith("/v1/platform") else fx.admin
        error_of(client.patch(url, headers=headers, json={}), 428, "if_match_required")
        operation = document["paths"][template]["patch"]
        assert "428" in operation["responses"], template
        assert "412" in operation["responses"], template
        parameters = [resolve(document, p) for p in operation.get("parameters", [])]
        if_match = [p for p in parameters if p["in"] == "header" and p["name"] == "If-Match"]
        assert len(if_match) == 1 and if_match[0]["required"] is True, template


def test_read_responses_document_their_etag(client, tenant_a):
    document = spec(client)
    response = client.get(f"/v1/admin/tiers/{tenant_a.tiers[0].id}", headers=tenant_a.admin)
    assert response.headers["ETag"] == '"1"'
    headers = document["paths"]["/v1/admin/tiers/{tier_id}"]["get"]["responses"]["200"]["headers"]
    assert "ETag" in headers


def test_application_yaml_bodies_are_accepted_as_documented(client, tenant_a):
    fx = tenant_a
    body = "document:" + WINTER_YAML.replace("\n", "\n  ")
    headers = {**fx.admin, "Content-Type": "application/yaml"}
    validated = client.post("/v1/admin/rulesets/validate", headers=headers, data=body)
    assert validated.status_code == 200, validated.get_json()
    assert validated.get_json()["rule_count"] == 1

    created = client.post(
        "/v1/admin/rulesets/drafts", headers=headers, data="name: from yaml\n" + body
    )
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["document"]["rules"][0]["then"] == {"multiplier": "1.3"}

    operation = spec(client)["paths"]["/v1/admin/rulesets/validate"]["post"]
    assert set(operation["requestBody"]["content"]) == {"application/json", "application/yaml"}


@pytest.mark.parametrize(
    ("body", "status", "code", "path"),
    [
        # Like a body that is not JSON: 400 at /json.
        ("document: {rules: [ {id: a", 400, "bad_request", "/json"),
        ("a: &x 1\nb: *x\n", 400, "bad_request", "/json"),
        # Like a JSON body of the wrong shape: 422 where it is wrong.
        ("- a list", 422, "validation_error", "/json/_schema"),
        ("document: {rules: []}\nsurprise: 1\n", 422, "validation_error", "/json/surprise"),
    ],
)
def test_bad_yaml_bodies_answer_as_bad_json_ones_do(client, tenant_a, body, status, code, path):
    headers = {**tenant_a.admin, "Content-Type": "application/yaml"}
    response = client.post("/v1/admin/rulesets/validate", headers=headers, data=body)
    error = error_of(response, status, code)
    assert [d["path"] for d in error["details"]] == [path]


def test_a_body_in_an_undocumented_media_type_is_415(client, db, tenant_a):
    fx = tenant_a
    before = count(db, m.ApiKey, fx.tenant.id)
    response = client.post(
        "/v1/admin/api-keys",
        headers={**fx.admin, "Content-Type": "application/yaml"},
        data="name: yaml key\n",
    )
    error_of(response, 415, "unsupported_media_type")
    assert count(db, m.ApiKey, fx.tenant.id) == before
