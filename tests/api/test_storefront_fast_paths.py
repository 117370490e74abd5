"""The storefront's fast paths against the plain ones (issue 22): the segments list and the tier
comparison served from the catalog snapshot answer what the catalog tables and the schemas'
dumps answer, through the process cache and through Redis; ETags, Cache-Control and 304 on the
storefront's GETs; a 304 for offers prices and records nothing."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, select

from app.http import catalog_views
from app.http.schemas import quotes as q
from app.http.schemas import storefront as s
from app.services import catalog, storefront_catalog
from storage import models as m
from tests.support.http import error_of
from tests.support.storefront import SOON, get_offers, set_capacity

SEGMENTS = "/v1/storefront/segments"
THEME = {
    "primary_color": "#123abc",
    "accent_color": "#ff8800",
    "font_family": "Inter, sans-serif",
    "radius": "6px",
}


def admin_post(client, fx, path: str, body: dict) -> dict:
    response = client.post(path, headers=fx.admin, json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def patch_segment(client, fx, segment_id: str, changes: dict) -> dict:
    url = f"/v1/admin/segments/{segment_id}"
    etag = client.get(url, headers=fx.admin).headers["ETag"]
    response = client.patch(url, headers={**fx.admin, "If-Match": etag}, json=changes)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


@pytest.fixture
def catalog_a(client, tenant_a):
    """tenant_a with a themed segment, a second one before it, an archived one, an archived
    tier, and add-ons limited to some tiers: every branch the storefront's catalog reads have."""
    fx = tenant_a
    patch_segment(client, fx, fx.segment.id, {"theme": THEME})
    first = admin_post(client, fx, "/v1/admin/segments", {"key": "aaa", "name": "A", "position": 0})
    gone = admin_post(
        client, fx, "/v1/admin/segments", {"key": "old", "name": "Old", "position": 9}
    )
    archived = client.post(f"/v1/admin/segments/{gone['id']}/archive", headers=fx.admin)
    assert archived.status_code == 200, archived.get_json()
    tier = admin_post(
        client,
        fx,
        "/v1/admin/tiers",
        {
            "segment_id": first["id"],
            "level": 1,
            "name": "Only",
            "base_price": {"amount": 5000, "currency": fx.tenant.currency},
            "max_guests": 4,
            "features": [{"key": "wifi", "label": "Wi-Fi", "value": True}],
        },
    )
    admin_post(
        client,
        fx,
        "/v1/admin/add-ons",
        {
            "key": "late",
            "name": "Late check-out",
            "pricing": "flat",
            "price": {"amount": 900, "currency": fx.tenant.currency},
            "tier_ids": [tier["id"], fx.tiers[2].id],
        },
    )
    return fx, first, gone


def plain_segments(db, fx) -> list:
    return s.PublicSegmentSchema(many=True).dump(catalog.storefront_segments(db, fx.tenant))


def plain_comparison(db, fx, ref: str) -> dict:
    return s.TierComparisonSchema().dump(catalog.tier_comparison(db, fx.tenant, ref))


def test_segments_and_comparisons_equal_the_plain_paths(client, db, app, catalog_a):
    fx, first, gone = catalog_a
    refs = [fx.segment.id, fx.segment.key, first["id"], first["key"]]
    for served_from in ("database", "process", "redis"):
        if served_from == "redis":  # a fresh process: the snapshot comes back from Redis
            app.extensions["tierwise"].offers.snapshots._local.clear()
        listed = client.get(SEGMENTS, headers=fx.storefront)
        assert listed.status_code == 200
        assert listed.get_json() == plain_segments(db, fx), served_from
        assert [x["key"] for x in listed.get_json()] == ["aaa", fx.segment.key]
        assert listed.get_json()[1]["theme"] == THEME
        for ref in refs:
            compared = client.get(f"{SEGMENTS}/{ref}/comparison", headers=fx.storefront)
            assert compared.status_code == 200, (served_from, ref)
            assert compared.get_json() == plain_comparison(db, fx, ref), (served_from, ref)
    for ref in (gone["id"], gone["key"], str(uuid.uuid4()), "nope"):
        answer = client.get(f"{SEGMENTS}/{ref}/comparison", headers=fx.storefront)
        error_of(answer, 404, "segment_not_found")


def test_the_builders_equal_the_schemas_dumps(db, app, catalog_a):
    fx, first, _ = catalog_a
    ctx = app.extensions["tierwise"].offers
    snapshot = storefront_catalog.current_snapshot(ctx, fx.tenant)
    segments = storefront_catalog.segments(snapshot)
    assert segments == catalog.storefront_segments(db, fx.tenant)
    dumped = s.PublicSegmentSchema(many=True).dump(segments)
    assert catalog_views.segments_body(segments) == dumped
    for ref in (fx.segment.id, first["key"]):
        compared = storefront_catalog.comparison(snapshot, ref)
        assert compared == catalog.tier_comparison(db, fx.tenant, ref)
        assert catalog_views.comparison_body(compared) == s.TierComparisonSchema().dump(compared)


@pytest.mark.parametrize("path", [SEGMENTS, "{segments}/{key}/comparison"])
def test_catalog_reads_are_tagged_by_catalog_version_and_answer_304(client, tenant_a, path):
    fx = tenant_a
    url = path.format(segments=SEGMENTS, key=fx.segment.key)
    first = client.get(url, headers=fx.storefront)
    assert first.status_code == 200
    tag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, no-cache"
    assert "X-Api-Key" in first.headers["Vary"]
    for held in (tag, f"W/{tag}", f'"x", {tag}', "*"):
        again = client.get(url, headers={**fx.storefront, "If-None-Match": held})
        assert again.status_code == 304, held
        assert again.data == b""
        assert again.headers["ETag"] == tag
        assert again.headers["Cache-Control"] == "public, no-cache"
    stale = client.get(url, headers={**fx.storefront, "If-None-Match": '"c0"'})
    assert stale.status_code == 200 and stale.get_json() == first.get_json()
    patch_segment(client, fx, fx.segment.id, {"name": "Renamed"})
    changed = client.get(url, headers={**fx.storefront, "If-None-Match": tag})
    assert changed.status_code == 200
    assert changed.headers["ETag"] != tag
    assert "Renamed" in changed.get_data(as_text=True)


def decisions(db, tenant_id: str) -> int:
    with db.transaction() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(m.Decision)
                .where(m.Decision.tenant_id == uuid.UUID(tenant_id))
            )
            or 0
        )


def without_ids(body: dict) -> dict:
    body = dict(body, decision_ids=None)
    body["offers"] = [dict(o, decision_id=None) for o in body["offers"]]
    return body


def test_offers_are_tagged_by_their_inputs_and_a_304_prices_nothing(client, db, tenant_a):
    fx = tenant_a
    first = get_offers(client, fx, SOON)
    assert first.status_code == 200
    tag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    again = get_offers(client, fx, SOON)  # no If-None-Match: priced and recorded again
    assert again.headers["ETag"] == tag
    assert without_ids(again.get_json()) == without_ids(first.get_json())
    assert again.get_json()["decision_ids"] != first.get_json()["decision_ids"]
    recorded = decisions(db, fx.tenant.id)
    held = {"If-None-Match": tag}
    cached = client.get(
        f"{SEGMENTS}/{fx.segment.key}/offers",
        headers={**fx.storefront, **held},
        query_string={"date": SOON, "guests": 2},
    )
    assert cached.status_code == 304 and cached.data == b""
    assert cached.headers["ETag"] == tag
    assert decisions(db, fx.tenant.id) == recorded  # nothing priced, nothing recorded
    assert get_offers(client, fx, SOON, guests=1).headers["ETag"] != tag
    set_capacity(client, fx, 1, tier=0, date=SOON, to=SOON)  # availability changed
    changed = client.get(
        f"{SEGMENTS}/{fx.segment.key}/offers",
        headers={**fx.storefront, **held},
        query_string={"date": SOON, "guests": 2},
    )
    assert changed.status_code == 200 and changed.headers["ETag"] != tag
    assert decisions(db, fx.tenant.id) > recorded


def test_a_refused_offer_request_is_refused_whatever_it_holds(client, tenant_a):
    fx = tenant_a
    tag = get_offers(client, fx, SOON).headers["ETag"]
    answer = client.get(
        f"{SEGMENTS}/{fx.segment.key}/offers",
        headers={**fx.storefront, "If-None-Match": "*"},
        query_string={"date": "2000-01-01", "guests": 2},
    )
    error_of(answer, 422, "date_in_past")
    other = client.get(SEGMENTS, headers={"X-Api-Key": "tw_pk_" + "0" * 40, "If-None-Match": tag})
    assert other.status_code == 401


def test_a_verified_key_is_remembered_for_that_key_only_and_revocation_still_holds(
    client, app, tenant_a
):
    fx = tenant_a
    made = client.post("/v1/admin/api-keys", headers=fx.admin, json={"name": "shop"})
    assert made.status_code == 201, made.get_json()
    key, key_id = made.get_json()["key"], made.get_json()["id"]
    prefix = key[: len("tw_pk_") + 8]
    forged = key[:-6] + ("000000" if not key.endswith("000000") else "111111")
    cache = app.extensions["tierwise"].api_keys
    error_of(client.get(SEGMENTS, headers={"X-Api-Key": forged}), 401, "invalid_api_key")
    assert cache.lookup(prefix) is not None and cache.lookup(prefix)[1] is None
    assert client.get(SEGMENTS, headers={"X-Api-Key": key}).status_code == 200
    assert cache.lookup(prefix)[1] == key  # the next request skips the HMAC
    assert client.get(SEGMENTS, headers={"X-Api-Key": key}).status_code == 200
    error_of(client.get(SEGMENTS, headers={"X-Api-Key": forged}), 401, "invalid_api_key")
    revoked = client.post(f"/v1/admin/api-keys/{key_id}/revoke", headers=fx.admin)
    assert revoked.status_code == 200, revoked.get_json()
    error_of(client.get(SEGMENTS, headers={"X-Api-Key": key}), 401, "api_key_revoked")


def test_a_quote_is_answered_as_the_schema_dumps_it(client, app, tenant_a):
    """The quotes route answers ``quote_json`` without QuoteSchema's dump: the same JSON the
    schema makes of ``quote_body``."""
    from app.http import pricing_views
    from app.services import offers
    from pricing.pricer import Selection

    fx = tenant_a
    answer = client.post(
        "/v1/storefront/quotes",
        headers=fx.storefront,
        json={
            "tier_id": fx.tiers[2].id,
            "date": SOON,
            "guests": 2,
            "add_ons": ["breakfast"],
        },
    )
    assert answer.status_code == 201, answer.get_json()
    served = answer.get_json()
    assert set(served) == set(q.QuoteSchema().fields)
    with app.test_request_context():
        signed = offers.quote_selection(
            app.extensions["tierwise"].offers,
            fx.tenant,
            Selection("", dt.date.fromisoformat(SOON), 2, ("breakfast",), tier_id=fx.tiers[2].id),
            dt.datetime.now(dt.UTC),
            "test",
        )
        built = pricing_views.quote_json(signed)
        assert built == q.QuoteSchema().dump(pricing_views.quote_body(signed))
        assert app.json.loads(app.json.dumps(built)) == built  # plain JSON already
    assert {
        k: v
        for k, v in served.items()
        if k not in ("quote_id", "token", "decision_ids", "expires_at")
    } == {
        k: v
        for k, v in built.items()
        if k not in ("quote_id", "token", "decision_ids", "expires_at")
    }


def test_the_month_calendar_is_tagged_by_its_content_and_answers_304(client, tenant_a):
    fx = tenant_a
    url = f"{SEGMENTS}/{fx.segment.key}/availability"
    month = {"month": SOON[:7], "guests": 2}
    first = client.get(url, headers=fx.storefront, query_string=month)
    assert first.status_code == 200, first.get_json()
    tag = first.headers["ETag"]
    assert first.headers["Cache-Control"] == "private, no-cache"
    assert "X-Api-Key" in first.headers["Vary"]
    again = client.get(url, headers={**fx.storefront, "If-None-Match": tag}, query_string=month)
    assert again.status_code == 304 and again.data == b"" and again.headers["ETag"] == tag
    other = client.get(
        url,
        headers={**fx.storefront, "If-None-Match": tag},
        query_string={**month, "guests": 1},
    )
    assert other.status_code == 200 and other.headers["ETag"] != tag
