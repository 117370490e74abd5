"""The offers route answers the use case's output without a schema dump; the documented
OffersSchema must therefore be an identity on that output (every key declared, every value
already plain JSON)."""

from __future__ import annotations

import datetime as dt
import json

from app.http.schemas.storefront import OffersSchema, PreviewOffersSchema


def test_offers_schema_is_an_identity_on_the_served_offers(client, tenant_a):
    tier = tenant_a.tiers[0]
    day = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    closed = client.post(
        "/v1/admin/blackouts", headers=tenant_a.admin, json={"from": day, "tier_id": tier.id}
    )
    assert closed.status_code == 201
    response = client.get(
        f"/v1/storefront/segments/{tenant_a.segment.key}/offers",
        headers=tenant_a.storefront,
        query_string={"date": day, "guests": 2, "add_ons": "breakfast"},
    )
    assert response.status_code == 200
    served = response.get_json()
    first, second, third = served["offers"]
    assert first["availability"]["status"] == "blacked_out" and first["fallback"], (
        "fallbacks are covered"
    )
    assert first["upsell"]["features_gained"] and second["upsell"], "upsells are covered"
    assert third["add_ons_applied"], "add-ons are covered"
    assert json.loads(json.dumps(OffersSchema().dump(served))) == served


def test_preview_shows_each_price_with_its_platform_fee_and_the_storefront_does_not(
    client, tenant_a
):
    """The admin preview: every price (offers and fallbacks) carries the platform fee, the
    default 10 % commission on the total; the documented PreviewOffersSchema is an identity on
    it. The storefront's offers never show it."""
    tier = tenant_a.tiers[0]
    day = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    closed = client.post(
        "/v1/admin/blackouts", headers=tenant_a.admin, json={"from": day, "tier_id": tier.id}
    )
    assert closed.status_code == 201
    query = {"date": day, "guests": 2, "add_ons": "breakfast"}
    preview = client.get(
        f"/v1/admin/segments/{tenant_a.segment.key}/offers-preview",
        headers=tenant_a.admin,
        query_string=query,
    )
    assert preview.status_code == 200, preview.get_json()
    shown = preview.get_json()
    prices = [o["price"] for o in shown["offers"]]
    prices += [f["price"] for o in shown["offers"] for f in o["fallback"]]
    assert len(prices) > 3, "fallbacks are covered"
    for price in prices:
        assert price["platform_fee"] == (price["total"] + 5) // 10, price  # half up
    assert json.loads(json.dumps(PreviewOffersSchema().dump(shown))) == shown

    storefront = client.get(
        f"/v1/storefront/segments/{tenant_a.segment.key}/offers",
        headers=tenant_a.storefront,
        query_string=query,
    ).get_json()
    assert "platform_fee" not in json.dumps(storefront)
    assert [o["price"]["total"] for o in storefront["offers"]] == [p["total"] for p in prices[:3]]
