"""Checkout state across provider events (any order, duplicated, forged, foreign), the sweeper,
Connect onboarding and the checkout preconditions, against the fake Stripe on PostgreSQL.
Every test asserts the HTTP answers and the stored rows (bookings, holds, payment events)."""

from __future__ import annotations

import copy
import datetime as dt
import uuid

import requests
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from app.adapters.quotes import SALT
from app.services import sweeper
from storage import models as m
from tests.support.fake_stripe import build_event
from tests.support.rows import count
from tests.support.storefront import (
    SOON,
    applied,
    checkout,
    deliver,
    onboard,
    outside_refund,
    pay_at_fake,
    quote,
    set_capacity,
    start,
)

# ---- helpers ----------------------------------------------------------------------------------


def ctx_of(client):
    return client.application.extensions["tierwise"].checkout


def session_event(fake, event_type, session_id, **overrides):
    """An event about the fake's session as it is now, with fields of the object overridden
    (for states the fake would not produce in this order)."""
    obj = {**copy.deepcopy(fake.objects[session_id]), **overrides}
    return build_event(event_type, obj, fake.api_version)


def expire_at_fake(fake, session_id):
    """Expire an open session at the fake through its API, as Stripe does at ``expires_at``."""
    answer = requests.post(
        f"{fake.url}/v1/checkout/sessions/{session_id}/expire",
        headers={"Authorization": "Bearer sk_test_tierwise", "Stripe-Version": fake.api_version},
        timeout=5,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def stored(db, tenant, booking_id):
    """(booking row, its hold row) as stored."""
    with db.transaction() as s:
        booking = s.get(m.Booking, (uuid.UUID(tenant.tenant.id), uuid.UUID(booking_id)))
        assert booking is not None
        hold = s.get(m.Hold, (booking.tenant_id, booking.hold_id)) if booking.hold_id else None
        return booking, hold


def state(db, tenant, booking_id):
    booking, hold = stored(db, tenant, booking_id)
    return booking.status, hold.status if hold else None


def ledger(db, tenant, booking_id):
    """The booking's payment records (captures and refunds), oldest first."""
    with db.transaction() as s:
        return (
            s.query(m.Payment)
            .filter_by(tenant_id=uuid.UUID(tenant.tenant.id), booking_id=uuid.UUID(booking_id))
            .order_by(m.Payment.created_at, m.Payment.kind)
            .all()
        )


def money(db, tenant, booking_id):
    return [(e.kind, e.status, e.amount_minor) for e in ledger(db, tenant, booking_id)]


def payment_events(db, event_id):
    with db.transaction() as s:
        return list(s.scalars(select(m.PaymentEvent).where(m.PaymentEvent.id == event_id)))


def refund_requests(fake):
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v1/refunds"]


def session_requests(fake):
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v1/checkout/sessions"]


# ---- expiry -----------------------------------------------------------------------------------


def test_session_expired_expires_the_booking_and_frees_its_unit(
    stripe_client, tenant_a, fake_stripe, db
):
    set_capacity(stripe_client, tenant_a, 1)
    token, other = quote(stripe_client, tenant_a)["token"], quote(stripe_client, tenant_a)["token"]
    body = checkout(stripe_client, tenant_a, token)
    assert state(db, tenant_a, body["booking_id"]) == ("pending", "active")
    blocked = start(stripe_client, tenant_a, other)
    assert blocked.status_code == 409 and blocked.get_json()["error"]["code"] == "sold_out"

    expire_at_fake(fake_stripe, body["checkout_session_id"])
    event = fake_stripe.event("checkout.session.expired", body["checkout_session_id"])
    applied(stripe_client, event, "expired")
    assert state(db, tenant_a, body["booking_id"]) == ("expired", "released")
    (record,) = payment_events(db, event["id"])
    assert record.outcome == "expired" and str(record.booking_id) == body["booking_id"]
    assert str(record.tenant_id) == tenant_a.tenant.id
    shown = stripe_client.get(
        f"/v1/storefront/bookings/{body['booking_id']}", headers=tenant_a.storefront
    )
    assert shown.status_code == 200 and shown.get_json()["status"] == "expired"

    again = start(stripe_client, tenant_a, quote(stripe_client, tenant_a)["token"])
    assert again.status_code == 201, again.get_json()  # and it is quotable again, too
    assert state(db, tenant_a, again.get_json()["booking_id"]) == ("pending", "active")
    assert len(fake_stripe.of_type("checkout.session")) == 2


# ---- events out of order ----------------------------------------------------------------------


def test_completed_after_expired_pays_when_a_unit_is_still_free(
    stripe_client, tenant_a, fake_stripe, db
):
    body = checkout(stripe_client, tenant_a)
    paid = pay_at_fake(fake_stripe, body)
    expired = session_event(
        fake_stripe,
        "checkout.session.expired",
        paid["id"],
        status="expired",
        payment_status="unpaid",
        payment_intent=None,
    )
    applied(stripe_client, expired, "expired")
    assert state(db, tenant_a, body["booking_id"]) == ("expired", "released")

    completed = fake_stripe.event("checkout.session.completed", paid["id"])
    applied(stripe_client, completed, "paid (after its hold lapsed; a unit was still free)")
    booking, hold = stored(db, tenant_a, body["booking_id"])
    assert booking.status == "paid" and booking.payment_intent_id == paid["payment_intent"]
    assert hold.status != "active"
    assert money(db, tenant_a, body["booking_id"]) == [("capture", "captured", body["total"])]
    assert refund_requests(fake_stripe) == []


def sold_meanwhile(client, tenant, fake):
    """Capacity 1: booking A's hold lapses (expired event) while its customer pays; B takes the
    unit and pays. Returns (A's body, A's completed session, B's body, the quote token); A's
    completion is not delivered yet."""
    set_capacity(client, tenant, 1)
    token = quote(client, tenant)["token"]
    first = checkout(client, tenant, token)
    paid_first = pay_at_fake(fake, first)
    expired = session_event(
        fake,
        "checkout.session.expired",
        paid_first["id"],
        status="expired",
        payment_status="unpaid",
        payment_intent=None,
    )
    applied(client, expired, "expired")
    second = checkout(client, tenant, token)
    paid_second = pay_at_fake(fake, second)
    applied(client, fake.event("checkout.session.completed", paid_second["id"]), "paid")
    return first, paid_first, second, token


def test_completed_after_expired_when_the_unit_was_sold_cancels_and_refunds(
    stripe_client, tenant_a, fake_stripe, db
):
    first, paid_first, second, token = sold_meanwhile(stripe_client, tenant_a, fake_stripe)

    late = fake_stripe.event("checkout.session.completed", paid_first["id"])
    applied(stripe_client, late, "cancelled and refunded:")
    booking, _ = stored(db, tenant_a, first["booking_id"])
    assert booking.status == "refunded"  # the provider's refund succeeded at once
    assert booking.payment_intent_id == paid_first["payment_intent"]
    (refund,) = fake_stripe.of_type("refund")
    assert refund["payment_intent"] == paid_first["payment_intent"]
    assert refund["amount"] == first["total"] and refund["transfer_reversal"]
    entries = ledger(db, tenant_a, first["booking_id"])
    assert [(e.kind, e.status, e.amount_minor, e.reason) for e in entries] == [
        ("capture", "captured", first["total"], "checkout"),
        ("refund", "succeeded", first["total"], "sold_out"),
    ]
    assert entries[1].provider_ref == refund["id"]
    (request,) = refund_requests(fake_stripe)
    assert request.params["reverse_transfer"] is True
    assert request.params["refund_application_fee"] is True
    assert request.idempotency_key == f"tierwise-refund-{entries[1].id}"
    assert len(fake_stripe.fee_refunds) == 1
    assert state(db, tenant_a, second["booking_id"])[0] == "paid"

    applied(
        stripe_client,
        fake_stripe.event("charge.refunded", refund["id"]),
        "no change: booking is refunded",
    )
    assert state(db, tenant_a, first["booking_id"])[0] == "refunded"
    assert state(db, tenant_a, second["booking_id"])[0] == "paid"
    # never oversold: B still holds the only unit (and the quote, booked and paid, is used)
    full = start(stripe_client, tenant_a, token)
    assert full.status_code == 409 and full.get_json()["error"]["code"] == "quote_used"


def test_refund_before_completion_ends_refunded_and_frees_the_unit(
    stripe_client, tenant_a, fake_stripe, db
):
    set_capacity(stripe_client, tenant_a, 1)
    token = quote(stripe_client, tenant_a)["token"]
    body = checkout(stripe_client, tenant_a, token)
    paid = pay_at_fake(fake_stripe, body)
    refund_id = outside_refund(stripe_client, paid, "dashboard-refund")
    refunded = fake_stripe.event("charge.refunded", refund_id)
    applied(stripe_client, refunded, "unmatched")
    (record,) = payment_events(db, refunded["id"])
    assert record.booking_id is None
    assert state(db, tenant_a, body["booking_id"]) == ("pending", "active")

    applied(
        stripe_client,
        fake_stripe.event("checkout.session.completed", paid["id"]),
        "refunded (the refund arrived first)",
    )
    booking, hold = stored(db, tenant_a, body["booking_id"])
    assert booking.status == "refunded" and hold.status == "converted"  # the unit is free again:
    assert money(db, tenant_a, body["booking_id"]) == [
        ("capture", "captured", body["total"]),
        ("refund", "succeeded", body["total"]),
    ]
    assert booking.payment_intent_id == paid["payment_intent"]
    assert len(refund_requests(fake_stripe)) == 1  # only the test's own: tierwise asked none
    again = start(stripe_client, tenant_a, token)
    assert again.status_code == 201, again.get_json()


# ---- duplicates, unsettled payments, forged or foreign events -----------------------------------


def test_every_event_type_delivered_twice_is_applied_once(stripe_client, tenant_a, fake_stripe, db):
    paid_body = checkout(stripe_client, tenant_a)
    expired_body = checkout(stripe_client, tenant_a)
    async_body = checkout(stripe_client, tenant_a)

    paid = pay_at_fake(fake_stripe, paid_body)
    completed = fake_stripe.event("checkout.session.completed", paid["id"])
    expire_at_fake(fake_stripe, expired_body["checkout_session_id"])
    expired = fake_stripe.event("checkout.session.expired", expired_body["checkout_session_id"])
    unpaid = session_event(
        fake_stripe,
        "checkout.session.completed",
        async_body["checkout_session_id"],
        status="complete",
    )
    settled = pay_at_fake(fake_stripe, async_body)
    succeeded = build_event("checkout.session.async_payment_succeeded", settled)
    unknown = build_event("customer.created", {"id": "cus_123", "object": "customer"})

    plan = [
        (completed, "paid", paid_body, "paid"),
        (expired, "expired", expired_body, "expired"),
        (unpaid, "no change: payment not settled yet", async_body, "pending"),
        (succeeded, "paid", async_body, "paid"),
        (unknown, "ignored: event type not handled", None, None),
    ]
    for event, outcome, body, status in plan:
        applied(stripe_client, event, outcome)
        again = deliver(stripe_client, event)
        assert again.status_code == 200
        assert again.get_json() == {"received": True, "applied": False, "outcome": "duplicate"}
        (record,) = payment_events(db, event["id"])
        assert record.outcome == outcome and record.type == event["type"]
        if body is not None:
            assert state(db, tenant_a, body["booking_id"])[0] == status

    refund_id = outside_refund(stripe_client, paid, "support-refund")
    refunded = fake_stripe.event("charge.refunded", refund_id)
    applied(stripe_client, refunded, "refunded")
    assert deliver(stripe_client, refunded).get_json()["outcome"] == "duplicate"
    # a late duplicate of the completion must not make the refunded booking paid again
    assert deliver(stripe_client, completed).get_json()["outcome"] == "duplicate"
    assert state(db, tenant_a, paid_body["booking_id"])[0] == "refunded"
    assert len(payment_events(db, refunded["id"])) == 1
    with db.transaction() as s:
        ids = [e["id"] for e, *_ in plan] + [refunded["id"]]
        assert (
            s.scalar(
                select(func.count()).select_from(m.PaymentEvent).where(m.PaymentEvent.id.in_(ids))
            )
            == 6
        )


def test_unpaid_completion_changes_nothing(stripe_client, tenant_a, fake_stripe, db):
    body = checkout(stripe_client, tenant_a)
    unpaid = session_event(
        fake_stripe,
        "checkout.session.completed",
        body["checkout_session_id"],
        status="complete",
        payment_status="unpaid",
    )
    result = applied(stripe_client, unpaid, "no change: payment not settled yet")
    assert result["applied"] is True
    booking, hold = stored(db, tenant_a, body["booking_id"])
    assert (booking.status, hold.status, booking.payment_intent_id) == ("pending", "active", None)


def test_tampered_amount_is_ignored(stripe_client, tenant_a, fake_stripe, db):
    body = checkout(stripe_client, tenant_a)
    paid = pay_at_fake(fake_stripe, body)
    for field, value in (("amount_total", paid["amount_total"] - 1), ("currency", "usd")):
        event = fake_stripe.event("checkout.session.completed", paid["id"])
        event["data"]["object"][field] = value
        result = applied(stripe_client, event, "ignored:")
        assert result["applied"] is False
        (record,) = payment_events(db, event["id"])
        assert record.outcome.startswith("ignored") and "amount" in record.outcome
        booking, hold = stored(db, tenant_a, body["booking_id"])
        assert (booking.status, hold.status, booking.payment_intent_id) == (
            "pending",
            "active",
            None,
        )
    applied(stripe_client, fake_stripe.event("checkout.session.completed", paid["id"]), "paid")


def test_events_naming_another_tenants_booking_or_none_are_ignored(
    stripe_client, tenant_a, tenant_b, platform_headers, fake_stripe, db
):
    onboard(stripe_client, tenant_b, platform_headers)
    mine = checkout(stripe_client, tenant_a)
    theirs = checkout(stripe_client, tenant_b)
    paid = pay_at_fake(fake_stripe, mine)

    def forged(tenant_id, booking_id):
        return session_event(
            fake_stripe,
            "checkout.session.completed",
            paid["id"],
            client_reference_id=booking_id,
            metadata={"tenant_id": tenant_id, "booking_id": booking_id},
        )

    cases = [
        (forged(tenant_a.tenant.id, theirs["booking_id"]), "ignored: no such booking"),
        (
            forged(tenant_b.tenant.id, theirs["booking_id"]),
            "ignored: session does not match the booking",
        ),
        (forged(tenant_a.tenant.id, str(uuid.uuid4())), "ignored: no such booking"),
        (forged(str(uuid.uuid4()), str(uuid.uuid4())), "ignored: no such booking"),
        (forged("not-a-uuid", "also-not"), "ignored: no such booking"),
    ]
    for event, outcome in cases:
        result = applied(stripe_client, event, outcome)
        assert result["applied"] is False
        (record,) = payment_events(db, event["id"])
        assert record.outcome == outcome
    assert state(db, tenant_a, mine["booking_id"]) == ("pending", "active")
    assert state(db, tenant_b, theirs["booking_id"]) == ("pending", "active")


def test_event_of_another_connected_account_is_ignored(
    stripe_client, tenant_a, tenant_b, platform_headers, fake_stripe, db
):
    other_account = onboard(stripe_client, tenant_b, platform_headers)["account_id"]
    body = checkout(stripe_client, tenant_a)
    paid = pay_at_fake(fake_stripe, body)
    for account in (other_account, "acct_unknown123456"):
        event = fake_stripe.event("checkout.session.completed", paid["id"])
        event["account"] = account
        assert (
            applied(stripe_client, event, "ignored: event of another account")["applied"] is False
        )
        assert state(db, tenant_a, body["booking_id"]) == ("pending", "active")
    own = onboard(stripe_client, tenant_a, platform_headers)["account_id"]
    event = fake_stripe.event("checkout.session.completed", paid["id"])
    event["account"] = own
    applied(stripe_client, event, "paid")
    assert state(db, tenant_a, body["booking_id"]) == ("paid", "converted")


def test_unknown_event_type_has_no_effect(stripe_client, tenant_a, fake_stripe, db):
    body = checkout(stripe_client, tenant_a)
    paid = pay_at_fake(fake_stripe, body)
    event = session_event(fake_stripe, "checkout.session.completed", paid["id"])
    event["type"] = "payment_intent.succeeded"
    result = applied(stripe_client, event, "ignored: event type not handled")
    assert result == {
        "received": True,
        "applied": False,
        "outcome": "ignored: event type not handled",
    }
    (record,) = payment_events(db, event["id"])
    assert record.type == "payment_intent.succeeded" and record.booking_id is None
    assert state(db, tenant_a, body["booking_id"]) == ("pending", "active")


# ---- the sweeper ------------------------------------------------------------------------------


def test_sweeper_expires_lapsed_holds_and_their_pending_bookings(
    stripe_client, tenant_a, fake_stripe, db
):
    set_capacity(stripe_client, tenant_a, 1)
    token = quote(stripe_client, tenant_a)["token"]
    body = checkout(stripe_client, tenant_a, token)
    expiry = dt.datetime.fromisoformat(body["hold_expires_at"])
    ctx = ctx_of(stripe_client)

    sweeper.sweep(ctx, expiry - dt.timedelta(seconds=1))
    assert state(db, tenant_a, body["booking_id"]) == ("pending", "active")

    result = sweeper.sweep(ctx, expiry + dt.timedelta(seconds=1))
    assert result["holds_released"] >= 1
    assert state(db, tenant_a, body["booking_id"]) == ("expired", "expired")
    again = start(stripe_client, tenant_a, token)
    assert again.status_code == 201, again.get_json()

    # a paid booking's hold is converted: later sweeps leave it alone
    paid = pay_at_fake(fake_stripe, again.get_json())
    applied(stripe_client, fake_stripe.event("checkout.session.completed", paid["id"]), "paid")
    sweeper.sweep(ctx, expiry + dt.timedelta(hours=2))
    assert state(db, tenant_a, again.get_json()["booking_id"]) == ("paid", "converted")


def test_sweeper_retries_a_postponed_refund(stripe_client, tenant_a, fake_stripe, db):
    first, paid_first, _, _ = sold_meanwhile(stripe_client, tenant_a, fake_stripe)
    fake_stripe.fail_next(3, status=500)  # the library retries twice, then gives up
    late = fake_stripe.event("checkout.session.completed", paid_first["id"])
    applied(stripe_client, late, "cancelled and refunded:")
    booking, _ = stored(db, tenant_a, first["booking_id"])
    assert booking.status == "cancelled"
    total = first["total"]
    assert money(db, tenant_a, first["booking_id"]) == [
        ("capture", "captured", total),
        ("refund", "queued", total),
    ]  # owed from the moment the payment arrived, in the same transaction
    assert fake_stripe.of_type("refund") == []
    assert len(refund_requests(fake_stripe)) == 3

    ctx = ctx_of(stripe_client)
    result = sweeper.sweep(ctx, dt.datetime.now(dt.UTC))
    assert result["refunds_requested"] >= 1
    (refund,) = fake_stripe.of_type("refund")
    booking, _ = stored(db, tenant_a, first["booking_id"])
    assert booking.status == "refunded"
    owed = ledger(db, tenant_a, first["booking_id"])[1]
    assert (owed.status, owed.provider_ref) == ("succeeded", refund["id"])
    assert refund["payment_intent"] == paid_first["payment_intent"]
    last = refund_requests(fake_stripe)[-1]
    assert last.params["reverse_transfer"] is True and last.params["refund_application_fee"] is True
    assert last.idempotency_key == f"tierwise-refund-{owed.id}"
    assert {r.idempotency_key for r in refund_requests(fake_stripe)} == {last.idempotency_key}

    sweeper.sweep(ctx, dt.datetime.now(dt.UTC))
    assert len(fake_stripe.of_type("refund")) == 1  # not owed any more: never refunded twice


# ---- onboarding -------------------------------------------------------------------------------


def test_onboarding_creates_one_account_and_a_fresh_link_each_time(
    stripe_app, tenant_a, platform_headers, fake_stripe, db
):
    client = stripe_app.test_client()
    first = onboard(client, tenant_a, platform_headers)
    second = onboard(client, tenant_a, platform_headers)
    assert first["account_id"] == second["account_id"] and first["account_id"].startswith("acct_")
    assert first["onboarding_url"] != second["onboarding_url"]
    (account,) = fake_stripe.of_type("account")
    assert account["id"] == first["account_id"] and account["type"] == "express"
    assert account["metadata"] == {"tenant_id": tenant_a.tenant.id}
    assert [link["url"] for link in fake_stripe.account_links] == [
        first["onboarding_url"],
        second["onboarding_url"],
    ]
    assert all(
        link["request"]["account"] == first["account_id"] for link in fake_stripe.account_links
    )
    (created,) = [r for r in fake_stripe.requests if r.path == "/v1/accounts"]
    assert created.idempotency_key == f"tierwise-account-{tenant_a.tenant.id}"
    with db.transaction() as s:
        assert (
            s.get(m.Tenant, uuid.UUID(tenant_a.tenant.id)).stripe_account_id == first["account_id"]
        )


def test_onboarding_is_for_the_platform_only(
    stripe_app, tenant_a, platform_headers, fake_stripe, db
):
    client = stripe_app.test_client()
    url = f"/v1/platform/tenants/{tenant_a.tenant.id}/payments-onboarding"
    denied = client.post(url, headers=tenant_a.admin, json={})
    assert denied.status_code == 403, denied.get_json()
    storefront = client.post(url, headers=tenant_a.storefront, json={})
    assert storefront.status_code in (401, 403)
    unknown = client.post(
        f"/v1/platform/tenants/{uuid.uuid4()}/payments-onboarding",
        headers=platform_headers,
        json={},
    )
    assert unknown.status_code == 404, unknown.get_json()
    assert fake_stripe.requests == []
    with db.transaction() as s:
        assert s.get(m.Tenant, uuid.UUID(tenant_a.tenant.id)).stripe_account_id is None


# ---- checkout preconditions -------------------------------------------------------------------


def resign(token, settings, secret=None, **changes):
    """The token's claims with ``changes``, signed with ``secret`` (the real one by default)."""
    claims = URLSafeSerializer(settings.quote_secret, salt=SALT).loads(token)
    return URLSafeSerializer(secret or settings.quote_secret, salt=SALT).dumps(
        {**claims, **changes}
    )


def assert_nothing_stored(db, tenant, fake):
    assert count(db, m.Booking, tenant.tenant.id) == 0
    assert count(db, m.Hold, tenant.tenant.id) == 0
    assert session_requests(fake) == []


def test_expired_or_tampered_quote_tokens_are_refused(
    stripe_client, tenant_a, tenant_b, settings, fake_stripe, db
):
    token = quote(stripe_client, tenant_a)["token"]
    past = int(dt.datetime.now(dt.UTC).timestamp()) - 1
    cases = [
        (resign(token, settings, expires_at=past), "quote_expired"),
        (resign(token, settings, "another-secret-" + "z" * 40, total=1), "quote_invalid"),
        (token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "quote_invalid"),
        (quote(stripe_client, tenant_b)["token"], "quote_invalid"),
        ("not-a-token", "quote_invalid"),
    ]
    for bad, code in cases:
        answer = start(stripe_client, tenant_a, bad)
        assert answer.status_code == 422, answer.get_json()
        assert answer.get_json()["error"]["code"] == code
    assert_nothing_stored(db, tenant_a, fake_stripe)


def test_tenant_without_payments_onboarding_cannot_check_out(stripe_app, tenant_a, fake_stripe, db):
    client = stripe_app.test_client()
    answer = start(client, tenant_a, quote(client, tenant_a)["token"])
    assert answer.status_code == 409, answer.get_json()
    assert answer.get_json()["error"]["code"] == "payments_not_set_up"
    assert_nothing_stored(db, tenant_a, fake_stripe)


def test_blacked_out_date_refuses_checkout(stripe_client, tenant_a, fake_stripe, db):
    token = quote(stripe_client, tenant_a)["token"]
    closed = stripe_client.post(
        "/v1/admin/blackouts",
        headers=tenant_a.admin,
        json={"from": SOON, "tier_id": tenant_a.tiers[1].id, "reason": "storm"},
    )
    assert closed.status_code == 201, closed.get_json()
    answer = start(stripe_client, tenant_a, token)
    assert answer.status_code == 409, answer.get_json()
    assert answer.get_json()["error"]["code"] == "tier_blacked_out"
    assert_nothing_stored(db, tenant_a, fake_stripe)


def test_session_request_carries_the_hold_expiry_and_a_booking_idempotency_key(
    stripe_client, tenant_a, fake_stripe, db
):
    before = dt.datetime.now(dt.UTC)
    body = checkout(stripe_client, tenant_a)
    (request,) = session_requests(fake_stripe)
    expiry = dt.datetime.fromisoformat(body["hold_expires_at"])
    assert request.params["expires_at"] == int(expiry.timestamp())
    assert expiry >= before + dt.timedelta(minutes=30)
    assert request.params["expires_at"] >= int(before.timestamp()) + 30 * 60
    assert request.idempotency_key == f"tierwise-checkout-{body['booking_id']}"
    assert request.params["client_reference_id"] == body["booking_id"]
    assert request.params["metadata"] == {
        "booking_id": body["booking_id"],
        "tenant_id": tenant_a.tenant.id,
    }
    session = fake_stripe.objects[body["checkout_session_id"]]
    assert session["expires_at"] == request.params["expires_at"]
    booking, hold = stored(db, tenant_a, body["booking_id"])
    assert booking.checkout_session_id == body["checkout_session_id"]
    held = hold.expires_at if hold.expires_at.tzinfo else hold.expires_at.replace(tzinfo=dt.UTC)
    assert abs((held - expiry).total_seconds()) < 1
