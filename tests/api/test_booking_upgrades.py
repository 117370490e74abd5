"""Upgrading a paid booking: the rules decide, the customer pays the difference through a new
Checkout Session, and the booking moves to the new tier only when that payment succeeds."""

from __future__ import annotations

import uuid

from storage import models as m
from tests.support.rules import DOWNGRADE_ANYTIME, default_document, publish
from tests.support.storefront import (
    SOON,
    deliver,
    paid_booking,
    quote,
    set_capacity,
    start,
    upgrade,
)


def capacity(client, tenant, tier):
    days = client.get(
        f"/v1/admin/tiers/{tier.id}/capacity", headers=tenant.admin, query_string={"from": SOON}
    )
    return days.get_json()["days"][0]["units"]


def test_the_booking_moves_only_when_the_difference_is_paid(
    stripe_client, tenant_a, fake_stripe, db
):
    body, _ = paid_booking(stripe_client, tenant_a, fake_stripe, "base")  # tier level 2
    booking_id = body["booking_id"]
    before = stripe_client.get(
        f"/v1/admin/bookings/{booking_id}", headers=tenant_a.admin
    ).get_json()
    target = tenant_a.tiers[2]
    started = upgrade(stripe_client, tenant_a, booking_id, target, key="up-1")
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    assert body["upgrades_booking_id"] == booking_id and body["tier_id"] == target.id
    assert body["total"] > 0 and body["checkout_url"]
    request = fake_stripe.requests[-1]
    assert request.params["line_items"][0]["price_data"]["unit_amount"] == body["total"]
    assert 0 <= request.params["payment_intent_data"]["application_fee_amount"] <= body["total"]
    # not paid yet: the booking is still in its tier
    unchanged = stripe_client.get(
        f"/v1/admin/bookings/{booking_id}", headers=tenant_a.admin
    ).get_json()
    assert unchanged["tier_id"] == before["tier_id"]

    session = fake_stripe.complete_session(body["checkout_session_id"])
    outcome = deliver(
        stripe_client, fake_stripe.event("checkout.session.completed", session["id"])
    ).get_json()
    assert outcome["outcome"].startswith("paid; booking")
    moved = stripe_client.get(f"/v1/admin/bookings/{booking_id}", headers=tenant_a.admin).get_json()
    assert moved["tier_id"] == target.id and moved["total"] == before["total"] + body["total"]
    with db.transaction() as s:
        tenant = uuid.UUID(tenant_a.tenant.id)
        paid = s.query(m.Booking).filter_by(tenant_id=tenant, status="paid", kind="booking").all()
        assert [str(b.tier_id) for b in paid] == [target.id]  # one unit, now in the new tier


def test_the_rules_deny_a_downgrade_after_booking(stripe_client, tenant_a, fake_stripe):
    booking_id = paid_booking(stripe_client, tenant_a, fake_stripe, "base")[0]["booking_id"]
    response = upgrade(stripe_client, tenant_a, booking_id, tenant_a.tiers[0], key="down")
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "upgrade_not_allowed"
    assert error["details"][0]["message"] == "downgrade_after_booking"
    assert len(fake_stripe.of_type("checkout.session")) == 1  # only the original one


def test_only_paid_bookings_upgrade_and_the_new_tier_must_have_a_unit(
    stripe_client, tenant_a, fake_stripe
):
    pending = start(
        stripe_client, tenant_a, quote(stripe_client, tenant_a)["token"], key="pending"
    ).get_json()
    refused = upgrade(stripe_client, tenant_a, pending["booking_id"], tenant_a.tiers[2], key="p")
    assert (
        refused.status_code == 409
        and refused.get_json()["error"]["code"] == "booking_not_upgradable"
    )

    booking_id = paid_booking(stripe_client, tenant_a, fake_stripe, "base")[0]["booking_id"]
    set_capacity(stripe_client, tenant_a, 0, tier=2)
    sold_out = upgrade(stripe_client, tenant_a, booking_id, tenant_a.tiers[2], key="full")
    assert sold_out.status_code == 409
    error = sold_out.get_json()["error"]
    assert (error["code"], error["details"][0]["message"]) == (
        "upgrade_not_allowed",
        "tier_sold_out",
    )


def test_an_expired_upgrade_payment_changes_nothing(stripe_client, tenant_a, fake_stripe):
    booking_id = paid_booking(stripe_client, tenant_a, fake_stripe, "base")[0]["booking_id"]
    before = stripe_client.get(
        f"/v1/admin/bookings/{booking_id}", headers=tenant_a.admin
    ).get_json()
    body = upgrade(stripe_client, tenant_a, booking_id, tenant_a.tiers[2], key="up-1").get_json()
    taken = capacity(stripe_client, tenant_a, tenant_a.tiers[2])
    expired = stripe_client.post(
        f"/v1/admin/bookings/{body['booking_id']}/cancel", headers=tenant_a.admin
    )
    assert expired.status_code == 200
    after = stripe_client.get(f"/v1/admin/bookings/{booking_id}", headers=tenant_a.admin).get_json()
    (change,) = after.pop("changes")
    assert (change["booking_id"], change["status"]) == (body["booking_id"], "cancelled")
    assert before.pop("changes") == []
    assert after == before  # the booking itself is as it was
    assert capacity(stripe_client, tenant_a, tenant_a.tiers[2]) == taken


def test_a_downgrade_the_rules_allow_switches_at_once_and_refunds_the_difference(
    stripe_client, tenant_a, fake_stripe, db
):
    document = default_document(DOWNGRADE_ANYTIME, examples=False)
    publish(stripe_client.application, tenant_a.tenant.id, document)

    body, session = paid_booking(stripe_client, tenant_a, fake_stripe, "base")  # level 2
    booking_id = body["booking_id"]
    before = stripe_client.get(
        f"/v1/admin/bookings/{booking_id}", headers=tenant_a.admin
    ).get_json()
    response = upgrade(stripe_client, tenant_a, booking_id, tenant_a.tiers[0], key="down-ok")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["booking_id"] == booking_id and body["status"] == "paid"
    assert body["tier_id"] == tenant_a.tiers[0].id
    assert body["refund"] > 0 and body["total"] == before["total"] - body["refund"]
    assert len(fake_stripe.of_type("checkout.session")) == 1  # nothing to pay
    refund_request = [r for r in fake_stripe.requests if r.path == "/v1/refunds"][-1]
    assert refund_request.params["amount"] == body["refund"]
    assert refund_request.params["payment_intent"] == session["payment_intent"]
    assert refund_request.params["reverse_transfer"] is True

    refund = fake_stripe.of_type("refund")[-1]
    outcome = deliver(stripe_client, fake_stripe.event("charge.refunded", refund["id"])).get_json()
    assert outcome["outcome"] == "no change: partial refund"
    after = stripe_client.get(f"/v1/admin/bookings/{booking_id}", headers=tenant_a.admin).get_json()
    assert (after["status"], after["tier_id"]) == ("paid", tenant_a.tiers[0].id)
    with db.transaction() as s:
        tenant = uuid.UUID(tenant_a.tenant.id)
        paid = s.query(m.Booking).filter_by(tenant_id=tenant, status="paid", kind="booking").all()
        assert [str(b.tier_id) for b in paid] == [tenant_a.tiers[0].id]
        owed = s.query(m.Payment).filter_by(tenant_id=tenant, kind="refund").one()
        assert (owed.amount_minor, owed.provider_ref, owed.reason) == (
            body["refund"],
            refund["id"],
            "downgrade",
        )
        assert owed.status == "succeeded"
    listed = stripe_client.get("/v1/admin/bookings", headers=tenant_a.admin).get_json()
    assert [b["booking_id"] for b in listed] == [booking_id]  # no refund record as a booking
    assert after["money"]["net"] == after["total"] == before["total"] - body["refund"]
