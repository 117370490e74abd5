"""POST /v1/storefront/upgrade-quotes: moving a selection or a booking to another tier, decided by
the tenant's upgrade rules (default ruleset: up allowed, down allowed before booking, refused after
a pending or paid booking), with both prices, the difference and the features gained."""

from __future__ import annotations

import datetime as dt
import uuid

from storage import models as m
from tests.support.dates import tenant_today, weekday_ahead
from tests.support.http import error_of
from tests.support.rows import add_booking, count

URL = "/v1/storefront/upgrade-quotes"


def selection(fx, from_tier, to_tier, day: dt.date, guests: int = 2, **extra) -> dict:
    return {
        "tier_id": from_tier.id,
        "to_tier_id": to_tier.id,
        "date": day.isoformat(),
        "guests": guests,
        **extra,
    }


def post(client, fx, body: dict):
    return client.post(URL, headers=fx.storefront, json=body)


def ok(client, fx, body: dict) -> dict:
    response = post(client, fx, body)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_upgrade_of_a_selection_is_allowed_with_difference_and_features(client, db, tenant_a):
    fx = tenant_a
    one, _, three = fx.tiers
    day = weekday_ahead()
    before = count(db, m.Decision, fx.tenant.id)
    body = ok(client, fx, selection(fx, one, three, day, 2))
    assert (body["allowed"], body["reason"], body["rules"]) == (
        True,
        "upgrade_allowed",
        ["upgrade-up"],
    )
    assert (body["from_tier_id"], body["to_tier_id"]) == (one.id, three.id)
    assert body["from_price"]["total"] == 12000  # 10000 + 2 × 1000
    assert body["to_price"]["total"] == 32000  # 30000 + 2 × 1000
    assert body["difference"] == body["to_price"]["total"] - body["from_price"]["total"] == 20000
    assert body["currency"] == "EUR"
    assert body["features_gained"] == [
        {"key": "lunch", "label": "Lunch", "from": False, "to": True}
    ]
    assert body["availability"] == {"status": "available", "units_left": 5}

    # Two evaluations (the current tier's price, the target's price and the upgrade decision).
    assert len(body["decision_ids"]) == 2
    assert body["decision_id"] == body["decision_ids"][1]
    assert count(db, m.Decision, fx.tenant.id) == before + 2
    decision = client.get(f"/v1/admin/decisions/{body['decision_id']}", headers=fx.admin).get_json()
    assert decision["purpose"] == "upgrade"
    assert "upgrade" in decision["kinds"]
    assert {
        k: decision["facts"][k]
        for k in ("from_tier_id", "from_tier_level", "level_delta", "booking_status", "tier_level")
    } == {
        "from_tier_id": one.id,
        "from_tier_level": 1,
        "level_delta": 2,
        "booking_status": "none",
        "tier_level": 3,
    }
    assert decision["outputs"]["upgrade"]["allow"] is True
    assert "upgrade-up" in decision["fired"]
    considered = {c["rule_id"]: c for c in decision["considered"]}
    assert considered["no-downgrade-after-booking"]["matched"] is False
    assert considered["no-downgrade-after-booking"]["why_not"]


def test_upgrade_prices_follow_the_rules_on_the_date(client, db, tenant_a):
    fx = tenant_a
    one, two, _ = fx.tiers
    day = weekday_ahead()
    while day.isoweekday() != 6 or day.month in (7, 8):  # a Saturday: weekend uplift 1.1
        day += dt.timedelta(days=1)
    body = ok(client, fx, selection(fx, one, two, day, 3))
    assert body["from_price"]["total"] == 14300  # 13000 × 1.1
    assert body["to_price"]["total"] == 25300  # 23000 × 1.1
    assert body["difference"] == 11000
    assert body["features_gained"] == [
        {"key": "lunch", "label": "Lunch", "from": False, "to": True}
    ]


def test_upgrade_with_an_add_on_only_the_target_takes(client, db, tenant_a):
    fx = tenant_a
    one, _, three = fx.tiers
    body = ok(client, fx, selection(fx, one, three, weekday_ahead(), 2, add_ons=["breakfast"]))
    assert body["from_price"]["total"] == 12000
    assert body["to_price"]["total"] == 33800  # with 2 × 900 breakfast
    assert body["difference"] == 21800


def test_downgrade_of_a_selection_is_allowed_before_booking(client, db, tenant_a):
    fx = tenant_a
    one, _, three = fx.tiers
    body = ok(client, fx, selection(fx, three, one, weekday_ahead(), 2))
    assert body["allowed"] is True
    # The default ruleset's rule "downgrade-before-booking" gives the reason "downgrade_allowed".
    assert (body["reason"], body["rules"]) == ("downgrade_allowed", ["downgrade-before-booking"])
    assert body["difference"] == 12000 - 32000
    assert body["features_gained"] == []


def test_downgrade_of_a_paid_or_pending_booking_is_refused(client, db, tenant_a):
    fx = tenant_a
    one, _, three = fx.tiers
    day = weekday_ahead()
    for status in ("paid", "pending"):
        booking = add_booking(db, fx, three, day, status)
        body = ok(client, fx, {"booking_id": booking, "to_tier_id": one.id})
        assert body["allowed"] is False, status
        assert (body["reason"], body["rules"]) == (
            "downgrade_after_booking",
            ["no-downgrade-after-booking"],
        )
        assert (body["from_tier_id"], body["to_tier_id"]) == (three.id, one.id)
        assert body["amount_paid"] == 30000  # what the booking recorded, not today's 32000
        assert body["difference"] == 12000 - 30000
        decision = client.get(
            f"/v1/admin/decisions/{body['decision_id']}", headers=fx.admin
        ).get_json()
        assert decision["facts"]["booking_status"] == status
        assert decision["outputs"]["upgrade"]["allow"] is False


def test_downgrade_of_a_cancelled_booking_is_allowed(client, db, tenant_a):
    fx = tenant_a
    one, _, three = fx.tiers
    booking = add_booking(db, fx, three, weekday_ahead(), "cancelled")
    body = ok(client, fx, {"booking_id": booking, "to_tier_id": one.id})
    assert (body["allowed"], body["reason"]) == (True, "downgrade_allowed")


def test_upgrade_of_a_paid_booking_is_allowed(client, db, tenant_a):
    fx = tenant_a
    one, two, _ = fx.tiers
    # paid 11000 for a tier that costs 14000 today (it was booked with a discount)
    booking = add_booking(db, fx, one, weekday_ahead(), "paid", guests=4, total=11000, fee=1100)
    body = ok(client, fx, {"booking_id": booking, "to_tier_id": two.id})
    assert (body["allowed"], body["reason"]) == (True, "upgrade_allowed")
    assert (body["from_price"]["total"], body["to_price"]["total"]) == (14000, 24000)
    # the difference is the target's price now less what was paid, never less today's price
    assert (body["amount_paid"], body["difference"]) == (11000, 24000 - 11000)
    fee = body["to_price"]["total"] // 10  # the default commission: 10 %
    assert (body["platform_fee_paid"], body["platform_fee_difference"]) == (1100, fee - 1100)


def test_upgrade_of_a_selection_has_no_amount_paid(client, db, tenant_a):
    fx = tenant_a
    one, two, _ = fx.tiers
    body = ok(client, fx, selection(fx, one, two, weekday_ahead(), 4))
    assert body["amount_paid"] is None and body["platform_fee_paid"] is None
    assert body["difference"] == body["to_price"]["total"] - body["from_price"]["total"]


def test_upgrade_to_an_unbookable_tier_is_not_allowed(client, db, tenant_a):
    fx = tenant_a
    one, _, three = fx.tiers
    day = weekday_ahead()
    response = client.post(
        "/v1/admin/blackouts",
        headers=fx.admin,
        json={"from": day.isoformat(), "tier_id": three.id, "reason": "closed"},
    )
    assert response.status_code == 201
    body = ok(client, fx, selection(fx, one, three, day, 2))
    assert (body["allowed"], body["reason"]) == (False, "tier_blacked_out")
    assert body["availability"] == {"status": "blacked_out", "units_left": 0}


def test_unknown_or_foreign_tiers_and_bookings_are_404(client, db, tenant_a, tenant_b):
    fx = tenant_a
    one, two, _ = fx.tiers
    day = weekday_ahead()
    before = count(db, m.Decision, fx.tenant.id)
    error_of(
        post(client, fx, selection(fx, one, one, day) | {"to_tier_id": str(uuid.uuid4())}),
        404,
        "tier_not_found",
    )
    error_of(
        post(client, fx, selection(fx, one, two, day) | {"tier_id": str(uuid.uuid4())}),
        404,
        "tier_not_found",
    )
    error_of(post(client, fx, selection(fx, one, tenant_b.tiers[2], day)), 404, "tier_not_found")
    error_of(
        post(client, fx, {"booking_id": str(uuid.uuid4()), "to_tier_id": two.id}),
        404,
        "booking_not_found",
    )
    booking_b = add_booking(db, tenant_b, tenant_b.tiers[0], day, "paid")
    error_of(
        post(client, fx, {"booking_id": booking_b, "to_tier_id": two.id}), 404, "booking_not_found"
    )
    assert count(db, m.Decision, fx.tenant.id) == before
    # Tenant B itself can quote its booking.
    assert (
        post(
            client, tenant_b, {"booking_id": booking_b, "to_tier_id": tenant_b.tiers[1].id}
        ).status_code
        == 200
    )


def test_same_tier_and_bad_bodies_are_422(client, db, tenant_a):
    fx = tenant_a
    one, two, _ = fx.tiers
    day = weekday_ahead()
    before = count(db, m.Decision, fx.tenant.id)
    error_of(post(client, fx, selection(fx, one, one, day)), 422, "same_tier")
    booking = add_booking(db, fx, two, day, "paid")
    error_of(post(client, fx, {"booking_id": booking, "to_tier_id": two.id}), 422, "same_tier")
    # A booking or a full selection, not both, not a partial one.
    error_of(
        post(client, fx, {"booking_id": booking, "to_tier_id": one.id, "tier_id": two.id}),
        422,
        "validation_error",
    )
    error_of(
        post(client, fx, {"to_tier_id": one.id, "tier_id": two.id, "date": day.isoformat()}),
        422,
        "validation_error",
    )
    error_of(post(client, fx, selection(fx, one, two, day, 0)), 422, "validation_error")
    past = tenant_today() - dt.timedelta(days=1)
    error_of(post(client, fx, selection(fx, one, two, past)), 422, "date_in_past")
    assert count(db, m.Decision, fx.tenant.id) == before


def test_default_rules_refuse_a_move_to_another_segment_as_an_upgrade(client, db, settings):
    """The demo tenant (default ruleset): premium Essential -> budget Ultimate is level +2, but a
    change of segment, not an upgrade; the same move inside the segment stays allowed."""
    from app.services import tenants
    from app.services.demo import seed_demo

    tenant = seed_demo(db, tenant_today())
    key = tenants.create_api_key(db, settings.api_key_pepper, tenant, "t")["key"]
    headers = {"X-Api-Key": key}
    tiers = client.get("/v1/admin/tiers", headers=admin_of(settings, tenant.id)).get_json()
    segments = {
        s["key"]: s["id"] for s in client.get("/v1/storefront/segments", headers=headers).get_json()
    }
    tier = {
        (seg, t["level"]): t["id"]
        for seg, sid in segments.items()
        for t in tiers
        if t["segment_id"] == sid
    }
    day = weekday_ahead().isoformat()

    def quote(from_tier: str, to_tier: str) -> dict:
        response = client.post(
            URL,
            headers=headers,
            json={"tier_id": from_tier, "to_tier_id": to_tier, "date": day, "guests": 2},
        )
        assert response.status_code == 200, response.get_json()
        return response.get_json()

    across = quote(tier[("premium", 1)], tier[("budget", 3)])
    assert (across["allowed"], across["reason"], across["rules"]) == (
        False,
        "cross_segment",
        ["no-cross-segment"],
    )
    down_across = quote(tier[("luxury", 3)], tier[("premium", 1)])
    assert (down_across["allowed"], down_across["reason"]) == (False, "cross_segment")
    within = quote(tier[("premium", 1)], tier[("premium", 3)])
    assert (within["allowed"], within["reason"], within["rules"]) == (
        True,
        "upgrade_allowed",
        ["upgrade-up"],
    )


def admin_of(settings, tenant_id: str) -> dict:
    from tests.conftest import token_for

    return {"Authorization": f"Bearer {token_for(settings, 'tenant_admin', tenant_id)}"}
