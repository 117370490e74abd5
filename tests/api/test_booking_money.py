"""What storefronts and admins see of a booking's money, and the promises around it: a pending
booking says where to pay and until when; the admin view shows customer, add-ons, platform fee,
kind and every payment; the list shows bookings only; one quote holds one unit; an error is
replayed as first sent; moves are priced from what the customer paid."""

from __future__ import annotations

import datetime as dt
import uuid

from storage import models as m
from tests.support.dates import weekday_ahead
from tests.support.rules import DOWNGRADE_ANYTIME, default_document, publish
from tests.support.storefront import (
    applied,
    checkout,
    deliver,
    paid_booking,
    pay_at_fake,
    quote,
    set_capacity,
    start,
    upgrade,
)


def test_a_pending_booking_shows_where_to_pay_and_until_when(stripe_client, tenant_a, fake_stripe):
    body = checkout(stripe_client, tenant_a)
    shown = stripe_client.get(
        f"/v1/storefront/bookings/{body['booking_id']}", headers=tenant_a.storefront
    ).get_json()
    assert shown["status"] == "pending"
    assert shown["checkout_url"] == body["checkout_url"] and shown["checkout_url"]
    assert shown["hold_expires_at"] == body["hold_expires_at"]
    expires = dt.datetime.fromisoformat(shown["hold_expires_at"])
    assert fake_stripe.objects[body["checkout_session_id"]]["expires_at"] == int(
        expires.timestamp()
    )

    paid = pay_at_fake(fake_stripe, body)
    applied(stripe_client, fake_stripe.event("checkout.session.completed", paid["id"]), "paid")
    shown = stripe_client.get(
        f"/v1/storefront/bookings/{body['booking_id']}", headers=tenant_a.storefront
    ).get_json()
    assert (shown["status"], shown["checkout_url"], shown["hold_expires_at"]) == (
        "paid",
        None,
        None,
    )


def test_the_admin_view_shows_customer_add_ons_fee_kind_and_payments(
    stripe_client, tenant_a, fake_stripe
):
    quoted = stripe_client.post(
        "/v1/storefront/quotes",
        headers=tenant_a.storefront,
        json={
            "tier_id": tenant_a.tiers[2].id,
            "date": quote(stripe_client, tenant_a)["service_date"],
            "guests": 2,
            "add_ons": ["breakfast"],
        },
    ).get_json()
    body = start(stripe_client, tenant_a, quoted["token"], email="eva@example.com").get_json()
    paid = pay_at_fake(fake_stripe, body)
    applied(stripe_client, fake_stripe.event("checkout.session.completed", paid["id"]), "paid")

    shown = stripe_client.get(
        f"/v1/admin/bookings/{body['booking_id']}", headers=tenant_a.admin
    ).get_json()
    assert shown["kind"] == "booking" and shown["status"] == "paid"
    assert shown["customer"] == {"email": "eva@example.com", "name": "Ana"}
    assert shown["add_ons"] == [{"id": tenant_a.add_on.id, "name": "Breakfast"}]
    assert shown["price"]["total"] == shown["total"]
    assert shown["price"]["platform_fee"] == shown["platform_fee"]
    assert [line["code"] for line in shown["price"]["lines"]][:3] == ["base", "guests", "add_on"]
    assert sum(line["amount"] for line in shown["price"]["lines"]) == shown["total"]
    assert shown["total"] == quoted["price"]["total"] == paid["amount_total"]
    assert shown["platform_fee"] == fake_stripe.of_type("charge")[-1]["application_fee_amount"] > 0
    (capture,) = shown["payments"]
    assert capture == {
        "id": capture["id"],
        "kind": "capture",
        "status": "captured",
        "amount": shown["total"],
        "platform_fee": shown["platform_fee"],
        "currency": "EUR",
        "reason": "checkout",
        "payment_intent_id": paid["payment_intent"],
        "refund_id": None,
        "upgrade_booking_id": None,
        "created_at": capture["created_at"],
    }
    assert shown["money"] == {
        "captured": shown["total"],
        "refunded": 0,
        "net": shown["total"],
        "platform_fee_captured": shown["platform_fee"],
        "platform_fee_refunded": 0,
    }


def test_the_bookings_list_shows_bookings_and_their_upgrades_under_them(
    stripe_client, tenant_a, fake_stripe
):
    body = checkout(stripe_client, tenant_a)
    paid = pay_at_fake(fake_stripe, body)
    applied(stripe_client, fake_stripe.event("checkout.session.completed", paid["id"]), "paid")
    upgrade = stripe_client.post(
        f"/v1/storefront/bookings/{body['booking_id']}/upgrade",
        headers={**tenant_a.storefront, "Idempotency-Key": "up"},
        json={"to_tier_id": tenant_a.tiers[2].id},
    ).get_json()
    extra = fake_stripe.complete_session(upgrade["checkout_session_id"])
    moved = deliver(stripe_client, fake_stripe.event("checkout.session.completed", extra["id"]))
    assert moved.get_json()["outcome"].startswith("paid; booking")

    listed = stripe_client.get("/v1/admin/bookings", headers=tenant_a.admin).get_json()
    assert [(b["booking_id"], b["kind"]) for b in listed] == [(body["booking_id"], "booking")]
    (only,) = listed
    assert only["total"] == body["total"] + upgrade["total"] == only["paid"]
    shown = stripe_client.get(
        f"/v1/admin/bookings/{body['booking_id']}", headers=tenant_a.admin
    ).get_json()
    assert [(c["booking_id"], c["status"], c["amount"]) for c in shown["changes"]] == [
        (upgrade["booking_id"], "paid", upgrade["total"])
    ]
    assert [(p["kind"], p["reason"], p["amount"]) for p in shown["payments"]] == [
        ("capture", "checkout", body["total"]),
        ("capture", "upgrade", upgrade["total"]),
    ]


def test_a_failed_checkout_replays_its_error_exactly(stripe_client, tenant_a, fake_stripe):
    set_capacity(stripe_client, tenant_a, 1)
    first, second = quote(stripe_client, tenant_a), quote(stripe_client, tenant_a)
    checkout(stripe_client, tenant_a, first["token"])
    refused = start(stripe_client, tenant_a, second["token"], key="sold-out-key")
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "sold_out"
    again = start(stripe_client, tenant_a, second["token"], key="sold-out-key")
    assert again.status_code == 409
    assert again.get_json() == refused.get_json()  # status and body, as first sent
    assert again.headers["Idempotent-Replayed"] == "true"


def test_one_quote_holds_one_unit_whatever_the_key(stripe_client, tenant_a, fake_stripe, db):
    token = quote(stripe_client, tenant_a)["token"]
    first = start(stripe_client, tenant_a, token, key="k1").get_json()
    second = start(stripe_client, tenant_a, token, key="k2")
    assert second.status_code == 201
    assert second.get_json()["booking_id"] == first["booking_id"]
    assert second.get_json()["checkout_session_id"] == first["checkout_session_id"]
    with db.transaction() as s:
        holds = s.query(m.Hold).filter_by(tenant_id=uuid.UUID(tenant_a.tenant.id)).all()
    assert [h.status for h in holds] == ["active"]
    assert len(fake_stripe.of_type("checkout.session")) == 1

    paid = pay_at_fake(fake_stripe, first)
    applied(stripe_client, fake_stripe.event("checkout.session.completed", paid["id"]), "paid")
    used = start(stripe_client, tenant_a, token, key="k3")
    assert used.status_code == 409 and used.get_json()["error"]["code"] == "quote_used"


def publish_discount(client, tenant, *, percent_off: str | None, max_discount: str = "80"):
    """The default rules, downgrades allowed after booking, and (if given) a discount on every
    booking up to 400 days ahead."""
    document = default_document(DOWNGRADE_ANYTIME, examples=False)
    document["guardrails"]["max_total_discount_percent"] = max_discount
    document["rules"] = [r for r in document["rules"] if r["kind"] != "last_minute"]
    if percent_off is not None:
        document["rules"].append(
            {
                "id": "early-bird",
                "kind": "last_minute",
                "priority": 10,
                "when": {"fact": "lead_days", "op": "between", "value": [0, 400]},
                "then": {"percent_off": percent_off},
            }
        )
    publish(client.application, tenant.tenant.id, document)


def paid_booking_of(client, tenant, fake, tier_index):
    """A paid booking of a weekday outside the summer peak, 20 days or a little more ahead (no
    season rule): (the checkout's body, the paid session)."""
    return paid_booking(client, tenant, fake, tier=tier_index, date=weekday_ahead(20))


def test_a_downgrade_refunds_what_was_paid_less_the_new_price(
    stripe_client, tenant_a, fake_stripe, db
):
    publish_discount(stripe_client, tenant_a, percent_off="30")
    body, paid = paid_booking_of(stripe_client, tenant_a, fake_stripe, 2)  # 32000 - 30 %
    assert body["total"] == 22400
    # the offer is over: level 1 is 12000
    publish_discount(stripe_client, tenant_a, percent_off=None)
    moved = upgrade(stripe_client, tenant_a, body["booking_id"], tenant_a.tiers[0])
    assert moved.status_code == 201, moved.get_json()
    # what was paid less the new tier's price now, not today's 32000 less 12000
    assert moved.get_json()["refund"] == 22400 - 12000
    (refund,) = fake_stripe.of_type("refund")
    assert (refund["amount"], refund["payment_intent"]) == (10400, paid["payment_intent"])
    shown = stripe_client.get(
        f"/v1/admin/bookings/{body['booking_id']}", headers=tenant_a.admin
    ).get_json()
    assert (shown["total"], shown["money"]["net"]) == (12000, 12000)


def test_a_move_down_that_would_refund_more_than_was_paid_never_does(
    stripe_client, tenant_a, fake_stripe, db
):
    """Booked at 70 % off (9600 for a tier that costs 32000 today): moving to the 12000 tier would
    have refunded 20000 of a 9600 payment (a database error, 500). The move costs 2400 more."""
    publish_discount(stripe_client, tenant_a, percent_off="70")
    body, _ = paid_booking_of(stripe_client, tenant_a, fake_stripe, 2)
    assert body["total"] == 9600
    publish_discount(stripe_client, tenant_a, percent_off=None)
    quoted = stripe_client.post(
        "/v1/storefront/upgrade-quotes",
        headers=tenant_a.storefront,
        json={"booking_id": body["booking_id"], "to_tier_id": tenant_a.tiers[0].id},
    ).get_json()
    assert (quoted["amount_paid"], quoted["to_price"]["total"]) == (9600, 12000)
    assert quoted["difference"] == 2400
    moved = upgrade(stripe_client, tenant_a, body["booking_id"], tenant_a.tiers[0])
    assert moved.status_code == 201, moved.get_json()
    assert moved.get_json()["total"] == 2400 and moved.get_json()["checkout_url"]
    assert fake_stripe.of_type("refund") == []
    extra = fake_stripe.complete_session(moved.get_json()["checkout_session_id"])
    deliver(stripe_client, fake_stripe.event("checkout.session.completed", extra["id"]))
    shown = stripe_client.get(
        f"/v1/admin/bookings/{body['booking_id']}", headers=tenant_a.admin
    ).get_json()
    assert (shown["tier_id"], shown["total"], shown["money"]["net"]) == (
        tenant_a.tiers[0].id,
        12000,
        12000,
    )


def test_a_refund_the_provider_refuses_is_reported_not_asked_again_and_again(
    stripe_client, tenant_a, fake_stripe, db
):
    from app.services.sweeper import sweep

    body, _ = paid_booking_of(stripe_client, tenant_a, fake_stripe, 1)
    fake_stripe.fail_next(1, status=400)  # e.g. the charge was disputed meanwhile
    cancelled = stripe_client.post(
        f"/v1/admin/bookings/{body['booking_id']}/cancel", headers=tenant_a.admin
    ).get_json()
    assert cancelled["status"] == "cancelled"
    assert [(p["kind"], p["status"]) for p in cancelled["payments"]] == [
        ("capture", "captured"),
        ("refund", "failed"),
    ]
    ctx = stripe_client.application.extensions["tierwise"].checkout
    for _ in range(2):  # reported each time, never queued again (a person decides)
        result = sweep(ctx, dt.datetime.now(dt.UTC))
        assert result["repaired"] == []
        assert result["attention"] == [
            f"booking {body['booking_id']}: cancelled, total {body['total']}, captured "
            f"{body['total']}, refunded 0 (a refund failed)"
        ]
    shown = stripe_client.get(
        f"/v1/admin/bookings/{body['booking_id']}", headers=tenant_a.admin
    ).get_json()
    assert len(shown["payments"]) == 2 and fake_stripe.of_type("refund") == []
