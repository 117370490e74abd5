"""Checkout through the HTTP API against the fake Stripe server (requests validated against
Stripe's own schemas), on PostgreSQL."""

from __future__ import annotations

import datetime as dt
import uuid

from app.http import checkout as checkout_http
from storage import models as m
from tests.support.storefront import deliver, quote, set_capacity, start


def test_checkout_creates_a_destination_charge_session_and_the_webhook_confirms_it(
    stripe_client, tenant_a, fake_stripe, db
):
    q = quote(stripe_client, tenant_a)
    response = start(stripe_client, tenant_a, q["token"], key="k1")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "pending" and body["total"] == q["price"]["total"]
    session = fake_stripe.objects[body["checkout_session_id"]]
    params = fake_stripe.requests[-1].params
    assert params["mode"] == "payment"
    assert params["client_reference_id"] == body["booking_id"]
    assert params["payment_intent_data"]["transfer_data"]["destination"].startswith("acct_")
    fee = params["payment_intent_data"]["application_fee_amount"]
    assert 0 < fee <= q["price"]["total"]
    assert session["url"] == body["checkout_url"]

    paid = fake_stripe.complete_session(body["checkout_session_id"])
    answer = deliver(stripe_client, fake_stripe.event("checkout.session.completed", paid["id"]))
    assert answer.status_code == 200 and answer.get_json()["outcome"] == "paid"
    booking = stripe_client.get(
        f"/v1/storefront/bookings/{body['booking_id']}", headers=tenant_a.storefront
    )
    assert booking.get_json()["status"] == "paid"
    with db.transaction() as s:
        hold = s.get(
            m.Hold,
            (
                uuid.UUID(tenant_a.tenant.id),
                uuid.UUID(
                    s.get(
                        m.Booking,
                        (uuid.UUID(tenant_a.tenant.id), uuid.UUID(body["booking_id"])),
                    ).hold_id.hex
                ),
            ),
        )
        assert hold.status == "converted"


def test_same_key_replays_and_another_body_is_refused(stripe_client, tenant_a, fake_stripe):
    q = quote(stripe_client, tenant_a)
    first = start(stripe_client, tenant_a, q["token"], key="same")
    again = start(stripe_client, tenant_a, q["token"], key="same")
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    assert len(fake_stripe.of_type("checkout.session")) == 1
    other = start(stripe_client, tenant_a, q["token"], key="same", email="bob@example.com")
    assert (
        other.status_code == 422 and other.get_json()["error"]["code"] == "idempotency_key_reused"
    )
    missing = stripe_client.post(
        "/v1/storefront/checkouts",
        headers=tenant_a.storefront,
        json={"quote_token": q["token"], "customer": {"email": "ana@example.com"}},
    )
    assert (
        missing.status_code == 422
        and missing.get_json()["error"]["code"] == "idempotency_key_required"
    )


def test_the_last_unit_is_sold_once(stripe_client, tenant_a, fake_stripe):
    set_capacity(stripe_client, tenant_a, 1)
    first, other = quote(stripe_client, tenant_a), quote(stripe_client, tenant_a)
    assert start(stripe_client, tenant_a, first["token"], key="a").status_code == 201
    second = start(stripe_client, tenant_a, other["token"], key="b")
    assert second.status_code == 409 and second.get_json()["error"]["code"] == "sold_out"
    assert len(fake_stripe.of_type("checkout.session")) == 1


def test_stripe_down_gives_503_and_a_retry_with_the_same_key_resumes(
    stripe_client, tenant_a, fake_stripe, db
):
    q = quote(stripe_client, tenant_a)
    fake_stripe.fail_next(3, status=500)  # the library retries twice, then gives up
    failed = start(stripe_client, tenant_a, q["token"], key="retry-me")
    assert failed.status_code == 503 and failed.headers["Retry-After"]
    with db.transaction() as s:
        assert s.query(m.Booking).filter_by(tenant_id=uuid.UUID(tenant_a.tenant.id)).count() == 1
    retried = start(stripe_client, tenant_a, q["token"], key="retry-me")
    assert retried.status_code == 201, retried.get_json()
    with db.transaction() as s:
        assert s.query(m.Booking).filter_by(tenant_id=uuid.UUID(tenant_a.tenant.id)).count() == 1
    assert len(fake_stripe.of_type("checkout.session")) == 1


def test_bad_signatures_change_nothing(stripe_client, tenant_a, fake_stripe):
    q = quote(stripe_client, tenant_a)
    body = start(stripe_client, tenant_a, q["token"], key="k1").get_json()
    paid = fake_stripe.complete_session(body["checkout_session_id"])
    event = fake_stripe.event("checkout.session.completed", paid["id"])
    forged = deliver(stripe_client, event, secret="whsec_wrong_" + "x" * 20)
    assert forged.status_code == 400 and forged.get_json()["error"]["code"] == "invalid_signature"
    future = deliver(
        stripe_client, event, timestamp=int(dt.datetime.now(dt.UTC).timestamp()) + 3600
    )
    assert future.status_code == 400
    stale = deliver(stripe_client, event, timestamp=int(dt.datetime.now(dt.UTC).timestamp()) - 3600)
    assert stale.status_code == 400
    booking = stripe_client.get(
        f"/v1/storefront/bookings/{body['booking_id']}", headers=tenant_a.storefront
    )
    assert booking.get_json()["status"] == "pending"
    assert deliver(stripe_client, event).get_json()["outcome"] == "paid"
    assert deliver(stripe_client, event).get_json()["outcome"] == "duplicate"


def test_transient_stripe_failures_are_retried_by_the_client(stripe_client, tenant_a, fake_stripe):
    q = quote(stripe_client, tenant_a)
    fake_stripe.fail_next(2, status=500)  # two failures: the library's retries absorb them
    response = start(stripe_client, tenant_a, q["token"], key="flaky")
    assert response.status_code == 201, response.get_json()
    keys = {r.idempotency_key for r in fake_stripe.requests if r.path == "/v1/checkout/sessions"}
    assert keys == {f"tierwise-checkout-{response.get_json()['booking_id']}"}
    assert len(fake_stripe.of_type("checkout.session")) == 1


def test_a_retry_after_a_crash_resumes_the_same_booking_and_session(
    stripe_client, tenant_a, fake_stripe, db, monkeypatch
):
    """The process died after the booking was committed but before its session was stored: the
    key is still 'running' with the booking noted. A retry once its lease lapsed resumes it."""
    import datetime as dt_

    q = quote(stripe_client, tenant_a)
    first = start(stripe_client, tenant_a, q["token"], key="crashy")
    booking_id = first.get_json()["booking_id"]
    with db.transaction() as s:  # rewind the record to how the crash left it
        record = s.get(m.IdempotencyRecord, (uuid.UUID(tenant_a.tenant.id), "crashy"))
        record.state, record.response_status, record.response_body = "running", None, None
        record.lease_expires_at = dt_.datetime.now(dt_.UTC) - dt_.timedelta(seconds=1)
    # a later second on the API's clock: the resumed session request must still be identical
    later = dt_.datetime.now(dt_.UTC) + dt_.timedelta(seconds=1.05)
    monkeypatch.setattr(checkout_http, "_now", lambda: later)
    again = start(stripe_client, tenant_a, q["token"], key="crashy")
    assert again.status_code == 201, again.get_json()
    assert again.get_json()["booking_id"] == booking_id
    assert len(fake_stripe.of_type("checkout.session")) == 1  # Stripe replayed our key
    with db.transaction() as s:
        assert s.query(m.Booking).filter_by(tenant_id=uuid.UUID(tenant_a.tenant.id)).count() == 1
