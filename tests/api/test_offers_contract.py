"""The offers route answers the use case's output without a schema dump; the documented
OffersSchema must therefore be an identity on that output (every key declared, every value
already plain JSON)."""

from __future__ import annotations

import datetime as dt
import json

from app.schemas import OffersSchema


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
