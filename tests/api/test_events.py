"""POST /v1/storefront/events: batches of storefront analytics events, stored once per
(tenant, client_event_id); a batch that does not validate stores nothing."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from storage import models as m
from tests.support.rows import count

URL = "/v1/storefront/events"
WHEN = "2026-11-20T10:15:00+00:00"


def event(client_event_id: str, type_: str = "upsell_shown", **extra) -> dict:
    return {
        "client_event_id": client_event_id,
        "type": type_,
        "visitor_id": "visitor-1",
        "occurred_at": WHEN,
        **extra,
    }


def post(client, fx, events: list[dict]):
    return client.post(URL, headers=fx.storefront, json={"events": events})


def rows(db, tenant_id: str) -> list[m.StorefrontEvent]:
    with db.transaction() as s:
        return list(
            s.scalars(
                select(m.StorefrontEvent)
                .where(m.StorefrontEvent.tenant_id == uuid.UUID(tenant_id))
                .order_by(m.StorefrontEvent.client_event_id)
            )
        )


def error_paths(response) -> list[str]:
    assert response.status_code == 422, response.get_json()
    assert response.get_json()["error"]["code"] == "validation_error"
    return [d["path"] for d in response.get_json()["error"]["details"]]


def test_a_batch_is_stored_with_every_field(client, db, tenant_a):
    fx = tenant_a
    batch = [
        event("e-1", "segment_selected", segment=fx.segment.key),
        event("e-2", "tier_comparison_viewed", segment=fx.segment.key, tier_id=fx.tiers[1].id),
        event(
            "e-3",
            "upsell_shown",
            tier_id=fx.tiers[0].id,
            experiment="exp-1",
            variant="b",
            properties={"target": fx.tiers[2].id, "difference": 21800},
        ),
    ]
    response = post(client, fx, batch)
    assert response.status_code == 202, response.get_json()
    assert response.get_json() == {"received": 3, "stored": 3}
    stored = rows(db, fx.tenant.id)
    assert [(r.client_event_id, r.type, r.visitor_id) for r in stored] == [
        ("e-1", "segment_selected", "visitor-1"),
        ("e-2", "tier_comparison_viewed", "visitor-1"),
        ("e-3", "upsell_shown", "visitor-1"),
    ]
    assert (stored[0].segment_key, stored[0].tier_id, stored[0].properties) == (
        fx.segment.key,
        "",
        {},
    )
    assert stored[1].tier_id == fx.tiers[1].id
    assert (stored[2].experiment, stored[2].variant) == ("exp-1", "b")
    assert stored[2].properties == {"target": fx.tiers[2].id, "difference": 21800}
    assert stored[2].occurred_at == dt.datetime(2026, 11, 20, 10, 15, tzinfo=dt.UTC)


def test_resending_the_same_client_event_ids_stores_nothing_new(client, db, tenant_a, tenant_b):
    fx = tenant_a
    batch = [event("dup-1"), event("dup-2", "upsell_accepted")]
    assert post(client, fx, batch).get_json() == {"received": 2, "stored": 2}
    again = post(client, fx, batch)
    assert again.status_code == 202
    assert again.get_json() == {"received": 2, "stored": 0}
    assert count(db, m.StorefrontEvent, fx.tenant.id) == 2

    # A partly new batch stores only the new one; the first stored version is kept.
    mixed = post(client, fx, [event("dup-1", "upsell_declined"), event("new-1")])
    assert mixed.get_json() == {"received": 2, "stored": 1}
    assert count(db, m.StorefrontEvent, fx.tenant.id) == 3
    assert {r.client_event_id: r.type for r in rows(db, fx.tenant.id)}["dup-1"] == "upsell_shown"

    # The same id twice in one batch is stored once.
    twice = post(client, fx, [event("twin"), event("twin")])
    assert twice.get_json() == {"received": 2, "stored": 1}
    assert count(db, m.StorefrontEvent, fx.tenant.id) == 4

    # Client event ids are per tenant: tenant B's own "dup-1" is new.
    assert post(client, tenant_b, [event("dup-1")]).get_json() == {"received": 1, "stored": 1}
    assert count(db, m.StorefrontEvent, tenant_b.tenant.id) == 1
    assert count(db, m.StorefrontEvent, fx.tenant.id) == 4


def test_an_invalid_event_rejects_the_whole_batch(client, db, tenant_a):
    fx = tenant_a
    bad_type = post(client, fx, [event("ok-1"), event("bad-1", "purchase_completed")])
    assert error_paths(bad_type) == ["/json/events/1/type"]
    naive = post(client, fx, [event("ok-1", occurred_at="2026-11-20T10:15:00")])
    assert error_paths(naive) == ["/json/events/0/occurred_at"]
    missing = post(client, fx, [{"client_event_id": "m-1", "type": "upsell_shown"}])
    assert sorted(error_paths(missing)) == [
        "/json/events/0/occurred_at",
        "/json/events/0/visitor_id",
    ]
    unknown = post(client, fx, [event("u-1", surprise=True)])
    assert error_paths(unknown) == ["/json/events/0/surprise"]
    too_long_id = post(client, fx, [event("x" * 65)])
    assert error_paths(too_long_id) == ["/json/events/0/client_event_id"]
    assert error_paths(post(client, fx, [])) == ["/json/events"]
    assert count(db, m.StorefrontEvent, fx.tenant.id) == 0


def test_at_most_100_events_per_batch(client, db, tenant_a):
    fx = tenant_a
    too_many = post(client, fx, [event(f"e-{i}") for i in range(101)])
    assert error_paths(too_many) == ["/json/events"]
    assert count(db, m.StorefrontEvent, fx.tenant.id) == 0
    hundred = post(client, fx, [event(f"e-{i}") for i in range(100)])
    assert hundred.status_code == 202, hundred.get_json()
    assert hundred.get_json() == {"received": 100, "stored": 100}
    assert count(db, m.StorefrontEvent, fx.tenant.id) == 100


def test_events_need_a_storefront_key(client, db, tenant_a):
    assert client.post(URL, json={"events": [event("a")]}).status_code == 401
    assert (
        client.post(URL, headers=tenant_a.admin, json={"events": [event("a")]}).status_code == 401
    )
    assert count(db, m.StorefrontEvent, tenant_a.tenant.id) == 0
