"""Cancelling bookings per the tenant's refund policy, through the admin API and the fake Stripe."""

from __future__ import annotations

import uuid

from storage import models as m
from tests.support.storefront import deliver, paid_booking, quote, start


def test_a_paid_booking_cancelled_in_time_is_refunded_per_policy(
    stripe_client, tenant_a, fake_stripe
):
    policy = stripe_client.patch(
        "/v1/admin/tenant",
        headers={**tenant_a.admin, "If-Match": '"1"'},
        json={"refund_window_hours": 24, "refund_application_fee": False},
    )
    assert policy.status_code == 200, policy.get_json()
    body, session = paid_booking(stripe_client, tenant_a, fake_stripe, "p1")
    booking_id = body["booking_id"]
    cancelled = stripe_client.post(
        f"/v1/admin/bookings/{booking_id}/cancel", headers=tenant_a.admin
    )
    # the provider accepted the refund and it succeeded: the booking is refunded at once
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "refunded"
    refund_request = [r for r in fake_stripe.requests if r.path == "/v1/refunds"][-1]
    assert refund_request.params["payment_intent"] == session["payment_intent"]
    assert refund_request.params["reverse_transfer"] is True
    assert refund_request.params["refund_application_fee"] is False  # the tenant's policy
    refund = fake_stripe.of_type("refund")[-1]
    assert refund["amount"] == session["amount_total"]
    outcome = deliver(stripe_client, fake_stripe.event("charge.refunded", refund["id"])).get_json()
    assert outcome["outcome"] == "no change: booking is refunded"
    (taken, given) = cancelled.get_json()["payments"]
    assert (taken["kind"], given["kind"], given["refund_id"]) == ("capture", "refund", refund["id"])
    assert given["platform_fee"] == 0  # the policy keeps the fee
    listed = stripe_client.get(
        "/v1/admin/bookings", headers=tenant_a.admin, query_string={"status": "refunded"}
    )
    assert [b["booking_id"] for b in listed.get_json()] == [booking_id]


def test_after_the_refund_window_a_paid_booking_cannot_be_cancelled(
    stripe_client, tenant_a, fake_stripe, db
):
    policy = stripe_client.patch(
        "/v1/admin/tenant",
        headers={**tenant_a.admin, "If-Match": '"1"'},
        json={"refund_window_hours": 24 * 60},
    )
    assert policy.status_code == 200
    booking_id = paid_booking(stripe_client, tenant_a, fake_stripe, "p2")[0]["booking_id"]
    refused = stripe_client.post(f"/v1/admin/bookings/{booking_id}/cancel", headers=tenant_a.admin)
    assert (
        refused.status_code == 409 and refused.get_json()["error"]["code"] == "refund_window_passed"
    )
    assert (
        stripe_client.get(f"/v1/admin/bookings/{booking_id}", headers=tenant_a.admin).get_json()[
            "status"
        ]
        == "paid"
    )
    assert not fake_stripe.of_type("refund")


def test_cancelling_a_pending_booking_frees_the_unit_and_expires_the_session(
    stripe_client, tenant_a, fake_stripe, db
):
    q = quote(stripe_client, tenant_a)
    body = start(stripe_client, tenant_a, q["token"], key="pend").get_json()
    cancelled = stripe_client.post(
        f"/v1/admin/bookings/{body['booking_id']}/cancel", headers=tenant_a.admin
    )
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "cancelled"
    assert fake_stripe.objects[body["checkout_session_id"]]["status"] == "expired"
    with db.transaction() as s:
        holds = s.query(m.Hold).filter_by(tenant_id=uuid.UUID(tenant_a.tenant.id)).all()
        assert [h.status for h in holds] == ["released"]
    again = stripe_client.post(
        f"/v1/admin/bookings/{body['booking_id']}/cancel", headers=tenant_a.admin
    )
    assert (
        again.status_code == 409 and again.get_json()["error"]["code"] == "booking_not_cancellable"
    )


def test_a_payment_for_a_cancelled_booking_is_given_back(stripe_client, tenant_a, fake_stripe):
    q = quote(stripe_client, tenant_a)
    body = start(stripe_client, tenant_a, q["token"], key="late").get_json()
    session = fake_stripe.complete_session(body["checkout_session_id"])  # the customer pays ...
    stripe_client.post(
        f"/v1/admin/bookings/{body['booking_id']}/cancel", headers=tenant_a.admin
    )  # ... as it's cancelled
    fake_stripe.take_violations()  # expiring the completed session was refused, as Stripe would
    outcome = deliver(
        stripe_client, fake_stripe.event("checkout.session.completed", session["id"])
    ).get_json()
    assert outcome["outcome"] == "refunded: the booking had been cancelled"
    assert fake_stripe.of_type("refund")[-1]["payment_intent"] == session["payment_intent"]
    shown = stripe_client.get(
        f"/v1/admin/bookings/{body['booking_id']}", headers=tenant_a.admin
    ).get_json()
    assert shown["status"] == "refunded"  # the provider's refund succeeded
    assert shown["money"]["captured"] == shown["money"]["refunded"] == body["total"]


def test_analysts_cannot_cancel(stripe_client, tenant_a):
    response = stripe_client.post(
        f"/v1/admin/bookings/{uuid.uuid4()}/cancel", headers=tenant_a.analyst
    )
    assert response.status_code == 403
