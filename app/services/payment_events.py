"""Provider events (Stripe webhooks): verified on the raw body, stored once by id, applied in any
order under the payment's lock, then the booking's (``app.services.bookings``); what the change
owes the customer is requested from the provider after the commit."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from app.services import bookings
from app.services.checkout import CheckoutContext
from pricing.errors import NotFound
from storage import checkout as store
from storage import payments as ledger

log = logging.getLogger(__name__)


def handle_event(
    ctx: CheckoutContext, payload: bytes, signature: str, now: dt.datetime
) -> dict[str, Any]:
    """Verify, store once, apply (under the payment's lock, then the booking's). What the change
    owes the customer is requested from the provider after the commit."""
    event = ctx.payments.verify_event(payload, signature, now.timestamp())
    effects = bookings.Effects()
    with bookings.unit_of_work(ctx.db) as session:
        if not store.record_event(session, str(event.get("id")), str(event.get("type")), event):
            return {"received": True, "applied": False, "outcome": "duplicate"}
        payment_intent = store.payment_intent_of(event)
        if payment_intent:
            store.lock_payment(session, payment_intent)
        outcome, tenant_id, booking_id = _apply(session, event, now, effects)
        store.note_event(session, str(event["id"]), outcome, tenant_id, booking_id)
    bookings.finish(ctx.db, ctx.payments, effects, now)
    if outcome.startswith("ignored:"):
        log.warning(
            "payment event %s (%s) changed nothing: %s", event.get("id"), event.get("type"), outcome
        )
    return {"received": True, "applied": not outcome.startswith("ignored"), "outcome": outcome}


def _apply(
    session: Any, event: dict[str, Any], now: dt.datetime, effects: bookings.Effects
) -> tuple[str, str | None, str | None]:
    kind = event.get("type")
    obj = event.get("data", {}).get("object", {})
    if kind == "charge.refunded":
        return _refunded(session, obj, now, effects)
    if kind not in (
        "checkout.session.completed",
        "checkout.session.async_payment_succeeded",
        "checkout.session.expired",
    ):
        return "ignored: event type not handled", None, None
    metadata = obj.get("metadata") or {}
    tenant_id, booking_id = (
        metadata.get("tenant_id"),
        obj.get("client_reference_id") or metadata.get("booking_id"),
    )
    try:
        booking = store.booking_row(session, tenant_id or "", booking_id or "")
    except NotFound:
        return "ignored: no such booking", None, None
    account = event.get("account")
    if account and store.tenant_by_account(session, account) != booking.tenant_id:
        return "ignored: event of another account", booking.tenant_id, booking.id
    if booking.checkout_session_id and obj.get("id") != booking.checkout_session_id:
        return "ignored: session does not match the booking", booking.tenant_id, booking.id
    where = booking.tenant_id, booking.root_id
    if kind == "checkout.session.expired":
        root, row = bookings.lock_family(session, booking.tenant_id, booking.id)
        return bookings.change(session, root, row, "expire", now, effects)[1], *where
    if obj.get("payment_status") != "paid":
        return "no change: payment not settled yet", *where
    if (
        obj.get("amount_total") != booking.total
        or str(obj.get("currency", "")).upper() != booking.currency
    ):
        return "ignored: amount or currency does not match the booking", *where
    payment_intent = obj.get("payment_intent")
    if not isinstance(payment_intent, str) or not payment_intent:
        return "ignored: the session names no payment", *where
    return bookings.pay(session, booking, payment_intent, now, effects), *where


def _refunded(
    session: Any, charge: dict[str, Any], now: dt.datetime, effects: bookings.Effects
) -> tuple[str, str | None, str | None]:
    """A refund of a payment, ours or made at the provider: the ledger follows the provider; a
    booking whose money has all gone back is refunded."""
    payment_intent = charge.get("payment_intent")
    capture = (
        ledger.capture_of(session, payment_intent) if isinstance(payment_intent, str) else None
    )
    if capture is None:
        return "unmatched", None, None  # applied when the payment's completion arrives
    root = store.lock_booking(session, capture.tenant_id, capture.booking_id)
    where = root.tenant_id, root.id
    before = root.status
    bookings.record_provider_refunds(session, capture, charge, now)
    if bookings.settle(session, root, now, effects):
        after = store.booking_row(session, root.tenant_id, root.id).status
        if after == "cancelled":
            return "cancelled: its payment was refunded; the rest is being refunded", *where
        return "refunded", *where
    if before == "paid":
        return "no change: partial refund", *where
    return f"no change: booking is {before}", *where
