"""Tenancy, walked over the app's URL map so that a new route cannot be forgotten.

For every admin and storefront route and method, tenant A calls it with tenant B's ids (in the path,
the query or the body) and must get 404, and B's data must be unchanged afterwards. Routes that take
no tenant-owned id are listed explicitly and must not leak any of B's ids.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest

from app.services import rulesets, tenants
from rules.defaults import DEFAULT_RULESET
from storage import checkout as checkout_store
from tests.support.dates import days_ahead
from tests.support.storefront import quote

TENANT_PREFIXES = ("/v1/admin", "/v1/storefront")
DAY = "2031-01-01"
SOON = days_ahead(30)
#: Analytics ranges around today, so that B's booking made by the walk falls inside them.
AROUND_TODAY = {
    "from": days_ahead(-2),
    "to": days_ahead(2),
}
ANALYTICS = ("SegmentSelection", "TierConversion", "Upsell", "Revenue")
#: A change-audit export range around now, so that A's own changes fall inside it.
RECENT_INSTANTS = {
    "from": (dt.datetime.now(dt.UTC) - dt.timedelta(days=1)).isoformat(),
    "to": (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).isoformat(),
}

#: Valid bodies/queries, so that a request passes validation and reaches the tenant check.
REQUESTS: dict[tuple[str, str], dict] = {
    ("admin-catalog.SegmentById", "PATCH"): {"json": {"name": "Hijacked"}, "if_match": True},
    ("admin-catalog.SegmentClone", "POST"): {"json": {"key": "stolen", "name": "Stolen"}},
    ("admin-catalog.TierById", "PATCH"): {"json": {"name": "Hijacked"}, "if_match": True},
    ("admin-catalog.AddOnById", "PATCH"): {"json": {"name": "Hijacked"}, "if_match": True},
    ("admin-account.ApiKeyById", "PATCH"): {"json": {"name": "Hijacked"}, "if_match": True},
    ("admin-inventory.TierCapacity", "GET"): {"query": {"from": DAY}},
    ("admin-inventory.TierCapacity", "PUT"): {"json": {"from": DAY, "units": 0}},
    ("admin-inventory.TierCapacity", "DELETE"): {"query": {"from": DAY}},
    ("admin-rulesets.DraftById", "PATCH"): {"json": {"name": "Hijacked"}, "if_match": True},
    ("admin-rulesets.SimulateDraft", "POST"): {"json": {"facts": [{}]}},
    ("admin-rulesets.PublishDraft", "POST"): {"json": {}},
    ("storefront.Offers", "GET"): {"query": {"date": SOON, "guests": 2}},
    ("storefront-calendar.MonthAvailability", "GET"): {"query": {"month": SOON[:7], "guests": 2}},
    ("checkout.BookingUpgrade", "POST"): {
        "json": {"to_tier_id": "00000000-0000-0000-0000-000000000000"},
        "headers": {"Idempotency-Key": "cross-tenant-upgrade"},
    },
    ("admin-decisions.OffersPreview", "GET"): {"query": {"date": SOON, "guests": 2}},
    ("admin-experiments.ExperimentById", "PATCH"): {"json": {"name": "Hijacked"}, "if_match": True},
    ("admin-webhooks.EndpointById", "PATCH"): {"json": {"description": "x"}, "if_match": True},
    ("admin-rulesets.BacktestDraft", "POST"): {"json": RECENT_INSTANTS},
}

#: Routes without a tenant-owned id in the path, and how B's ids are smuggled in instead.
FOREIGN_IN_BODY = {
    ("admin-catalog.Tiers", "GET"): lambda b: {"query": {"segment_id": b.segment.id}},
    ("admin-catalog.Tiers", "POST"): lambda b: {
        "json": {
            "segment_id": b.segment.id,
            "level": 1,
            "name": "X",
            "base_price": {"amount": 1, "currency": "EUR"},
            "max_guests": 1,
        }
    },
    ("admin-catalog.AddOns", "POST"): lambda b: {
        "json": {
            "key": "x",
            "name": "X",
            "pricing": "flat",
            "price": {"amount": 1, "currency": "EUR"},
            "tier_ids": [b.tiers[0].id],
        }
    },
    ("admin-inventory.Blackouts", "GET"): lambda b: {"query": {"tier_id": b.tiers[0].id}},
    ("admin-inventory.Blackouts", "POST"): lambda b: {
        "json": {"from": DAY, "tier_id": b.tiers[0].id}
    },
    ("admin-rulesets.Drafts", "POST"): lambda b: {
        "json": {"name": "copy", "from_version": B_ONLY_VERSION}
    },
    ("admin-rulesets.Diff", "GET"): lambda b: {"query": {"from": 1, "to": B_ONLY_VERSION}},
    ("storefront.Quotes", "POST"): lambda b: {
        "json": {"tier_id": b.tiers[1].id, "date": SOON, "guests": 2}
    },
    ("storefront.UpgradeQuotes", "POST"): lambda b: {
        "json": {"tier_id": b.tiers[0].id, "to_tier_id": b.tiers[1].id, "date": SOON, "guests": 2}
    },
    ("storefront.QuoteVerify", "POST"): lambda b: {"json": {"token": b.quote_token}, "status": 422},
    ("checkout.Checkouts", "POST"): lambda b: {
        "json": {"quote_token": b.quote_token, "customer": {"email": "x@example.com"}},
        "headers": {"Idempotency-Key": "cross-tenant"},
        "status": 422,
    },
    # B's booking is not A's: searching A's decisions by it answers 404
    ("admin-decisions.Decisions", "GET"): lambda b: {"query": {"booking_id": b.booking_id}},
    # B's segment and tier are unknown targets for A (422 unknown_target, nothing created)
    ("admin-experiments.Experiments", "POST"): lambda b: {
        "json": {
            **experiment_design("stolen"),
            "targeting": {"segments": [b.segment.key], "tiers": [b.tiers[0].id]},
        },
        "status": 422,
    },
}

#: Routes that take no tenant-owned id at all; their answers must not mention B.
ID_FREE = {
    ("admin-catalog.Segments", "GET"),
    ("admin-catalog.Segments", "POST"),
    ("admin-catalog.AddOns", "GET"),
    ("admin-inventory.Blackouts", "GET"),
    ("admin-account.OwnTenant", "GET"),
    ("admin-account.OwnTenant", "PATCH"),
    ("admin-account.ApiKeys", "GET"),
    ("admin-account.ApiKeys", "POST"),
    ("storefront.PublicSegments", "GET"),
    ("admin-catalog.Tiers", "GET"),
    ("admin-rulesets.Drafts", "GET"),
    ("admin-rulesets.Versions", "GET"),
    ("admin-rulesets.Active", "GET"),
    ("admin-rulesets.Schedule", "GET"),
    ("admin-rulesets.ValidateDocument", "POST"),
    ("admin-rulesets.Evaluate", "POST"),
    ("storefront.Events", "POST"),
    ("admin-bookings.Bookings", "GET"),
    ("admin-experiments.Experiments", "GET"),
    ("admin-webhooks.Endpoints", "GET"),
    ("admin-webhooks.Endpoints", "POST"),
    *((f"admin-analytics.{name}", "GET") for name in ANALYTICS),
    ("admin-change-log.Changes", "GET"),
    ("admin-change-log.ChangeExport", "GET"),
    ("admin-decisions.Decisions", "GET"),
    ("admin-decisions.DecisionExport", "GET"),
    ("admin-decisions.VerifyChain", "GET"),
}
ID_FREE_BODIES = {
    ("admin-catalog.Segments", "POST"): {"json": {"key": "own-new", "name": "Own"}},
    ("admin-account.OwnTenant", "PATCH"): {"json": {"name": "Renamed"}, "if_match": True},
    ("admin-account.ApiKeys", "POST"): {"json": {"name": "another"}},
    ("admin-webhooks.Endpoints", "POST"): {
        "json": {"url": "https://93.184.216.34/own", "events": ["*"]}
    },
    ("admin-rulesets.ValidateDocument", "POST"): {"json": {"document": {"rules": []}}},
    ("admin-rulesets.Evaluate", "POST"): {"json": {"facts": {"tier_level": 1}}},
    ("storefront.Events", "POST"): {
        "json": {
            "events": [
                {
                    "client_event_id": "e1",
                    "type": "upsell_shown",
                    "visitor_id": "v1",
                    "occurred_at": "2026-11-27T10:00:00+00:00",
                }
            ]
        }
    },
    **{(f"admin-analytics.{name}", "GET"): {"query": AROUND_TODAY} for name in ANALYTICS},
    ("admin-change-log.ChangeExport", "GET"): {"query": RECENT_INSTANTS},
    ("admin-decisions.DecisionExport", "GET"): {"query": RECENT_INSTANTS},
}
B_ONLY_VERSION = 4  # tenant B publishes versions 2..4; tenant A only has version 1


def experiment_design(key: str) -> dict:
    return {
        "key": key,
        "primary_metric": "upsell_acceptance",
        "variants": [
            {"key": "control", "weight": "0.5", "control": True},
            {"key": "b", "weight": "0.5"},
        ],
    }


def tenant_routes(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(TENANT_PREFIXES):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


def foreign_ids(client, b, db) -> dict[str, str]:
    key_id = tenants.list_api_keys(db, b.tenant, 0, 10).items[0]["id"]
    for n in range(2, B_ONLY_VERSION + 1):
        rulesets.publish_document(
            db, None, b.tenant.id, {**DEFAULT_RULESET, "description": f"v{n}"}, "test"
        )
    draft = rulesets.create_draft(db, b.tenant, "test", "b-draft", None, None)
    quoted = quote(client, b, 1, SOON)
    b.quote_token = quoted["token"]
    experiment = client.post(
        "/v1/admin/experiments", headers=b.admin, json=experiment_design("b-exp")
    )
    assert experiment.status_code == 201, experiment.get_json()
    started = client.post(
        f"/v1/admin/experiments/{experiment.get_json()['id']}/start", headers=b.admin
    )
    assert started.status_code == 200, started.get_json()
    with db.transaction() as session:
        booking = checkout_store.create_booking(
            session,
            tenant_id=b.tenant.id,
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=30),
            segment_id=uuid.UUID(b.segment.id),
            tier_id=uuid.UUID(b.tiers[1].id),
            service_date=dt.date.fromisoformat(SOON),
            guests=2,
            add_on_ids=[],
            currency="EUR",
            total_minor=1000,
            platform_fee_minor=100,
        )
    b.booking_id = booking.id
    endpoint = client.post(
        "/v1/admin/webhook-endpoints",
        headers=b.admin,
        json={"url": "https://93.184.216.34/b", "events": ["*"]},
    ).get_json()
    client.post(f"/v1/admin/webhook-endpoints/{endpoint['id']}/test", headers=b.admin)
    delivery = client.get(
        f"/v1/admin/webhook-endpoints/{endpoint['id']}/deliveries", headers=b.admin
    ).get_json()[0]
    return {
        "endpoint_id": endpoint["id"],
        "delivery_id": delivery["delivery_id"],
        "booking_id": booking.id,
        "decision_id": quoted["decision_ids"][0],
        "draft_id": draft.id,
        "number": str(B_ONLY_VERSION),
        "sequence": str(B_ONLY_VERSION),  # B published 2..4: activations 2..4; A has only 1
        "segment_id": b.segment.id,
        "segment": b.segment.id,
        "tier_id": b.tiers[0].id,
        "add_on_id": b.add_on.id,
        "blackout_id": b.blackout["id"],
        "key_id": key_id,
        "experiment_id": experiment.get_json()["id"],
    }


def snapshot(client, b) -> dict:
    """Everything B's admin can read, to prove A's calls changed nothing."""
    paths = [
        "/v1/admin/segments",
        "/v1/admin/tiers",
        "/v1/admin/add-ons",
        "/v1/admin/blackouts",
        "/v1/admin/api-keys",
        "/v1/admin/tenant",
        f"/v1/admin/tiers/{b.tiers[0].id}/capacity?from={DAY}",
        "/v1/admin/rulesets/drafts",
        "/v1/admin/rulesets/versions",
        "/v1/admin/rulesets/active",
        "/v1/admin/experiments",
        "/v1/admin/webhook-endpoints",
    ]
    return {p: client.get(p, headers=b.admin).get_json() for p in paths}


def call(client, method, path, headers, spec):
    headers = {**headers, **spec.get("headers", {})}
    if spec.get("if_match"):
        headers["If-Match"] = '"1"'
    return client.open(
        path, method=method, headers=headers, json=spec.get("json"), query_string=spec.get("query")
    )


def headers_for(a, rule):
    return a.storefront if rule.rule.startswith("/v1/storefront") else a.admin


def test_every_tenant_route_answers_404_for_another_tenants_ids(
    app, client, db, tenant_a, tenant_b
):
    ids = foreign_ids(client, tenant_b, db)
    before = snapshot(client, tenant_b)
    b_ids = set(ids.values()) | {t.id for t in tenant_b.tiers}
    uncovered, checked = [], 0
    for rule, method in tenant_routes(app):
        key = (rule.endpoint, method)
        if rule.arguments:
            path = rule.rule
            for name in rule.arguments:
                path = re.sub(rf"<(?:\w+:)?{name}>", ids[name], path)
            response = call(
                client, method, path, headers_for(tenant_a, rule), REQUESTS.get(key, {})
            )
            assert response.status_code == 404, (key, path, response.get_json())
            assert response.get_json()["error"]["code"].endswith("not_found"), key
            checked += 1
        elif key in FOREIGN_IN_BODY:
            spec = FOREIGN_IN_BODY[key](tenant_b)
            response = call(client, method, rule.rule, headers_for(tenant_a, rule), spec)
            assert response.status_code == spec.get("status", 404), (key, response.get_json())
            checked += 1
        if key in ID_FREE:
            response = call(
                client, method, rule.rule, headers_for(tenant_a, rule), ID_FREE_BODIES.get(key, {})
            )
            assert response.status_code in (200, 201, 202), (key, response.get_json())
            leaked = b_ids & set(re.findall(r"[0-9a-f-]{36}", response.get_data(as_text=True)))
            assert not leaked, (key, leaked)
            checked += 1
        elif not rule.arguments and key not in FOREIGN_IN_BODY:
            uncovered.append(key)
    assert not uncovered, f"routes missing from the cross-tenant walk: {uncovered}"
    assert checked >= 30
    assert snapshot(client, tenant_b) == before


def test_storefront_segment_key_of_another_tenant_is_404(client, tenant_a, tenant_b):
    response = client.get(
        f"/v1/storefront/segments/{tenant_b.segment.key}/comparison", headers=tenant_a.storefront
    )
    assert response.status_code == 404
    own = client.get(
        f"/v1/storefront/segments/{tenant_a.segment.key}/comparison", headers=tenant_a.storefront
    )
    assert own.status_code == 200


@pytest.mark.parametrize("credential", ["none", "storefront_key"])
def test_admin_routes_refuse_missing_or_storefront_credentials(app, client, tenant_a, credential):
    headers = {} if credential == "none" else tenant_a.storefront
    expected = 401 if credential == "none" else 403
    routes = [(r, m) for r, m in tenant_routes(app) if r.rule.startswith("/v1/admin")]
    routes += [
        (r, m)
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/v1/platform")
        for m in r.methods - {"HEAD", "OPTIONS"}
    ]
    assert len(routes) > 20
    for rule, method in routes:
        path = re.sub(r"<int:\w+>", "1", rule.rule)
        path = re.sub(r"<(?:\w+:)?\w+>", "00000000-0000-0000-0000-000000000000", path)
        response = client.open(path, method=method, headers=headers, json={})
        assert response.status_code == expected, (rule.rule, method, response.get_json())


def test_storefront_routes_refuse_missing_or_bad_keys(app, client, tenant_a):
    for rule, method in tenant_routes(app):
        if not rule.rule.startswith("/v1/storefront"):
            continue
        path = re.sub(r"<uuid:\w+>", "00000000-0000-0000-0000-000000000000", rule.rule)
        path = re.sub(r"<(?:\w+:)?\w+>", "x", path)
        assert client.open(path, method=method).status_code == 401
        bad = tenant_a.api_key[:-4] + "0000"
        assert client.open(path, method=method, headers={"X-Api-Key": bad}).status_code == 401
        admin_token = client.open(path, method=method, headers=tenant_a.admin)
        assert admin_token.status_code == 401


def test_platform_routes_are_for_platform_admins_only(client, tenant_a, platform_headers):
    assert client.get("/v1/platform/tenants", headers=tenant_a.admin).status_code == 403
    assert client.get("/v1/platform/tenants", headers=platform_headers).status_code == 200


def test_platform_admin_acting_on_a_tenant_is_scoped_to_it(
    client, tenant_a, tenant_b, platform_headers
):
    headers = {**platform_headers, "X-Tenant-Id": tenant_a.tenant.id}
    assert (
        client.get(f"/v1/admin/segments/{tenant_a.segment.id}", headers=headers).status_code == 200
    )
    assert (
        client.get(f"/v1/admin/segments/{tenant_b.segment.id}", headers=headers).status_code == 404
    )
    unknown = {**platform_headers, "X-Tenant-Id": "00000000-0000-0000-0000-000000000000"}
    assert client.get("/v1/admin/segments", headers=unknown).status_code == 404
    assert client.get("/v1/admin/segments", headers=platform_headers).status_code == 403


def test_a_revoked_key_stops_working(client, tenant_a):
    keys = client.get("/v1/admin/api-keys", headers=tenant_a.admin).get_json()
    assert client.get("/v1/storefront/segments", headers=tenant_a.storefront).status_code == 200
    revoked = client.post(f"/v1/admin/api-keys/{keys[0]['id']}/revoke", headers=tenant_a.admin)
    assert revoked.status_code == 200 and revoked.get_json()["active"] is False
    response = client.get("/v1/storefront/segments", headers=tenant_a.storefront)
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "api_key_revoked"


def test_expired_and_forged_tokens_are_refused(client, settings, tenant_a):
    from tests.conftest import token_for

    past = dt.datetime.now(dt.UTC) - dt.timedelta(hours=3)
    expired = token_for(settings, "tenant_admin", tenant_a.tenant.id, now=past, ttl_seconds=60)
    response = client.get("/v1/admin/segments", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "token_expired"
    forged = settings.replace(jwt_secret="another-secret-" + "z" * 40)
    token = token_for(forged, "tenant_admin", tenant_a.tenant.id)
    response = client.get("/v1/admin/segments", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and response.get_json()["error"]["code"] == "invalid_token"
    other_issuer = token_for(
        settings.replace(jwt_issuer="evil"), "tenant_admin", tenant_a.tenant.id
    )
    response = client.get("/v1/admin/segments", headers={"Authorization": f"Bearer {other_issuer}"})
    assert response.status_code == 401


def test_analysts_read_but_do_not_write(client, tenant_a):
    assert client.get("/v1/admin/segments", headers=tenant_a.analyst).status_code == 200
    response = client.post(
        "/v1/admin/segments", headers=tenant_a.analyst, json={"key": "x", "name": "X"}
    )
    assert response.status_code == 403
