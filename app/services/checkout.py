"""Checkout: quote token → hold + pending booking → Checkout Session; provider events → booking
state; the hold sweeper; Connect onboarding.

Invariants:
* a unit is taken (hold or paid booking) only under ``storage.checkout.lock_unit`` after counting
  what is left, so concurrent checkouts can't oversell;
* every provider POST carries an idempotency key derived from our own ids;
* every event is applied once (stored by id first) and in any order; an event that doesn't match
  our booking (tenant, amount, currency, session) changes nothing and is recorded with why.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zoneinfo
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import OperationalError

from app.payments import CheckoutRequest, Payments, PaymentsUnavailable
from app.quotes import QuoteSigner
from pricing import catalog as domain
from pricing.errors import Conflict, DomainError, InvalidInput, NotFound
from storage import checkout as store
from storage.db import Database

log = logging.getLogger(__name__)


class Busy(DomainError):
    """Another checkout holds the unit's lock longer than we wait; retry shortly."""

    code = "busy"


@dataclass
class CheckoutContext:
    db: Database
    payments: Payments
    signer: QuoteSigner
    public_base_url: str
    hold_minutes: int


def _view(
    booking: store.BookingRow, url: str | None, hold_expires: dt.datetime | None
) -> dict[str, Any]:
    return {
        "booking_id": booking.id,
        "status": booking.status,
        "checkout_url": url,
        "checkout_session_id": booking.checkout_session_id,
        "hold_expires_at": hold_expires.isoformat() if hold_expires else None,
        "total": booking.total,
        "currency": booking.currency,
        "tier_id": booking.tier_id,
        "service_date": booking.service_date.isoformat(),
        "guests": booking.guests,
    }


def start_checkout(
    ctx: CheckoutContext,
    tenant: domain.Tenant,
    token: str,
    customer: dict[str, str],
    now: dt.datetime,
    resume_booking_id: str | None = None,
    on_booking: Any = None,
) -> dict[str, Any]:
    """Verify the quote, take a hold on its unit and create the pending booking (one
    transaction), then the provider's Checkout Session. ``resume_booking_id`` continues a checkout
    whose earlier attempt died after the booking was made: the same booking, the same provider
    idempotency key, so never a second session. ``on_booking(session, booking_id)`` runs in the
    booking's transaction (the idempotency record notes the booking there)."""
    claims = ctx.signer.verify(token, tenant.id, now)
    with ctx.db.read() as session:
        account = store.stripe_account(session, tenant.id)
    if ctx.payments.name == "stripe" and not account:
        raise Conflict(
            "The tenant has not finished payment onboarding.", code="payments_not_set_up"
        )
    day = dt.date.fromisoformat(claims.service_date)
    hold_expires = now + dt.timedelta(minutes=ctx.hold_minutes)
    if resume_booking_id:
        with ctx.db.read() as session:
            booking = store.booking_row(session, tenant.id, resume_booking_id)
            # The same session parameters as the first attempt: the provider replays its key
            # only for an identical request.
            hold_expires = store.hold_expiry(session, tenant.id, booking.hold_id) or hold_expires
    else:
        try:
            with ctx.db.transaction() as session:
                store.lock_unit(session, tenant.id, claims.tier_id, day)
                capacity, taken, closed = store.units(session, tenant.id, claims.tier_id, day, now)
                if closed:
                    raise Conflict("The tier is closed on this date.", code="tier_blacked_out")
                if taken >= capacity:
                    raise Conflict("The last unit was just taken.", code="sold_out")
                booking = store.create_booking(
                    session, tenant_id=tenant.id, expires_at=hold_expires,
                    segment_id=uuid.UUID(claims.segment_id), tier_id=uuid.UUID(claims.tier_id), service_date=day,
                    guests=claims.guests, add_on_ids=claims.add_on_ids, currency=claims.currency,
                    total_minor=claims.total, platform_fee_minor=claims.platform_fee, quote_id=claims.quote_id,
                    ruleset_version=claims.ruleset_version, customer_email=customer.get("email", ""),
                    customer_name=customer.get("name", ""), visitor_id=claims.visitor_id,
                    experiment=claims.experiment, variant=claims.variant,
                )  # fmt: skip
                if on_booking is not None:
                    on_booking(session, booking.id)
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) == "55P03":  # lock_not_available
                raise Busy("Too many checkouts for this unit at once; retry in a second.") from None
            raise
    what = f"booking {booking.id[:8]} on {booking.service_date.isoformat()}"
    return _open_session(
        ctx, tenant, account, booking, hold_expires, customer.get("email", ""), what
    )


def _open_session(
    ctx: CheckoutContext, tenant: domain.Tenant, account: str | None, booking: store.BookingRow,
    hold_expires: dt.datetime, email: str, what: str,
) -> dict[str, Any]:  # fmt: skip
    """The provider's Checkout Session for a pending booking (or upgrade payment), keyed by its id."""
    request = CheckoutRequest(
        booking_id=booking.id, tenant_id=tenant.id, destination_account=account or "",
        currency=booking.currency, amount=booking.total, application_fee=booking.platform_fee,
        description=f"{tenant.name}: {what}", expires_at=int(hold_expires.timestamp()),
        customer_email=email, success_url=f"{ctx.public_base_url}/checkout/done?booking={booking.id}",
        cancel_url=f"{ctx.public_base_url}/checkout/cancelled?booking={booking.id}",
    )  # fmt: skip
    checkout = ctx.payments.create_checkout_session(
        request, idempotency_key=f"tierwise-checkout-{booking.id}"
    )
    with ctx.db.transaction() as session:
        booking = store.update_booking(
            session, tenant.id, booking.id, checkout_session_id=checkout.id
        )
    return _view(booking, checkout.url, hold_expires)


def start_upgrade(
    ctx: CheckoutContext, offers_ctx: Any, tenant: domain.Tenant, booking_id: str, to_tier_id: str,
    now: dt.datetime, request_id: str, resume_id: str | None = None, on_booking: Any = None,
) -> dict[str, Any]:  # fmt: skip
    """Upgrade a paid booking: the ``upgrade`` rules decide; the customer pays the difference
    through a new Checkout Session, holding a unit of the new tier meanwhile; the booking moves
    to the new tier only when that payment succeeds (``_mark_paid``)."""
    from app.services import offers

    with ctx.db.read() as session:
        account = store.stripe_account(session, tenant.id)
        if resume_id:
            upgrade = store.booking_row(session, tenant.id, resume_id)
            if upgrade.kind == "downgrade":  # the move happened; make sure the refund was asked for
                request_refund(ctx, upgrade)
                parent = store.booking_row(session, tenant.id, booking_id)
                return {
                    **_view(parent, None, None),
                    "upgrades_booking_id": parent.id,
                    "refund": upgrade.total,
                }
            return _open_session(
                ctx,
                tenant,
                account,
                upgrade,
                now + dt.timedelta(minutes=ctx.hold_minutes),
                "",
                "upgrade",
            )
        booking = store.booking_row(session, tenant.id, booking_id)
    if booking.kind != "booking" or booking.status != "paid":
        raise Conflict(
            f"Only a paid booking can be upgraded (this one is {booking.status}).",
            code="booking_not_upgradable",
        )
    if ctx.payments.name == "stripe" and not account:
        raise Conflict(
            "The tenant has not finished payment onboarding.", code="payments_not_set_up"
        )
    selection, status = offers.booking_selection(offers_ctx, tenant, booking_id)
    quote = offers.quote_upgrade(offers_ctx, tenant, selection, to_tier_id, status, now, request_id)
    if not quote["allowed"]:
        raise Conflict(f"The upgrade is not allowed ({quote['reason']}).", code="upgrade_not_allowed",
                       details=[{"path": "/json/to_tier_id", "message": quote["reason"]}])  # fmt: skip
    difference = quote["difference"]
    if difference <= 0:
        refund = -difference
        fee_back = max(0, min(refund, -quote["platform_fee_difference"]))
        return _move_down(ctx, tenant, booking, to_tier_id, refund, fee_back, now, on_booking)
    fee = max(0, min(difference, quote["platform_fee_difference"]))
    hold_expires = now + dt.timedelta(minutes=ctx.hold_minutes)
    with ctx.db.transaction() as session:
        store.lock_unit(session, tenant.id, to_tier_id, booking.service_date)
        capacity, taken, closed = store.units(
            session, tenant.id, to_tier_id, booking.service_date, now
        )
        if closed or taken >= capacity:
            raise Conflict("The new tier has no unit left on this date.", code="sold_out")
        upgrade = store.create_booking(
            session, tenant_id=tenant.id, expires_at=hold_expires, kind="upgrade",
            parent_booking_id=uuid.UUID(booking.id),
            segment_id=uuid.UUID(store.tier_segment(session, tenant.id, to_tier_id)),
            tier_id=uuid.UUID(to_tier_id), service_date=booking.service_date, guests=booking.guests,
            add_on_ids=booking.add_on_ids, currency=booking.currency, total_minor=difference,
            platform_fee_minor=fee, customer_email=booking.customer_email,
        )  # fmt: skip
        if on_booking is not None:
            on_booking(session, upgrade.id)
    view = _open_session(
        ctx,
        tenant,
        account,
        upgrade,
        hold_expires,
        booking.customer_email,
        f"upgrade of booking {booking.id[:8]}",
    )
    return {**view, "upgrades_booking_id": booking.id, "decision_ids": quote["decision_ids"]}


def get_booking(db: Database, tenant: domain.Tenant, booking_id: str) -> dict[str, Any]:
    with db.read() as session:
        return _view(store.booking_row(session, tenant.id, booking_id), None, None)


# ---- events -----------------------------------------------------------------------------------


def handle_event(
    ctx: CheckoutContext, payload: bytes, signature: str, now: dt.datetime
) -> dict[str, Any]:
    """Verify, store once, apply. Refunds the state calls for are requested after the commit."""
    event = ctx.payments.verify_event(payload, signature, now.timestamp())
    refunds: list[store.BookingRow] = []
    with ctx.db.transaction() as session:
        if not store.record_event(session, str(event.get("id")), str(event.get("type")), event):
            return {"received": True, "applied": False, "outcome": "duplicate"}
        outcome, tenant_id, booking_id = _apply(session, event, now, refunds)
        store.note_event(session, str(event["id"]), outcome, tenant_id, booking_id)
    for booking in refunds:
        request_refund(ctx, booking)
    if outcome.startswith("ignored:"):
        log.warning(
            "payment event %s (%s) changed nothing: %s", event.get("id"), event.get("type"), outcome
        )
    return {"received": True, "applied": not outcome.startswith("ignored"), "outcome": outcome}


def _apply(
    session: Any, event: dict[str, Any], now: dt.datetime, refunds: list[store.BookingRow]
) -> tuple[str, str | None, str | None]:
    kind = event.get("type")
    obj = event.get("data", {}).get("object", {})
    if kind == "charge.refunded":
        return _refunded(session, obj)
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
    if kind == "checkout.session.expired":
        if booking.status != "pending":
            return f"no change: booking is {booking.status}", booking.tenant_id, booking.id
        store.lock_unit(session, booking.tenant_id, booking.tier_id, booking.service_date)
        store.set_hold_status(session, booking.tenant_id, booking.hold_id, "released")
        store.update_booking(session, booking.tenant_id, booking.id, status="expired")
        return "expired", booking.tenant_id, booking.id
    if obj.get("payment_status") != "paid":
        return "no change: payment not settled yet", booking.tenant_id, booking.id
    if (
        obj.get("amount_total") != booking.total
        or str(obj.get("currency", "")).upper() != booking.currency
    ):
        return (
            "ignored: amount or currency does not match the booking",
            booking.tenant_id,
            booking.id,
        )
    return _paid(session, booking, obj, now, refunds), booking.tenant_id, booking.id


def _paid(
    session: Any,
    booking: store.BookingRow,
    obj: dict[str, Any],
    now: dt.datetime,
    refunds: list[store.BookingRow],
) -> str:
    if booking.status in ("paid", "refunded") or (
        booking.status == "cancelled" and booking.payment_intent_id
    ):
        return f"no change: booking is {booking.status}"
    payment_intent = obj.get("payment_intent")
    if booking.status == "cancelled":  # cancelled while the customer was paying: give it back
        refunds.append(
            store.update_booking(
                session, booking.tenant_id, booking.id, payment_intent_id=payment_intent
            )
        )
        return "refunded: the booking had been cancelled"
    store.lock_unit(session, booking.tenant_id, booking.tier_id, booking.service_date)
    if payment_intent and store.pending_refund_for(session, payment_intent):
        store.set_hold_status(session, booking.tenant_id, booking.hold_id, "released")
        store.update_booking(
            session,
            booking.tenant_id,
            booking.id,
            status="refunded",
            payment_intent_id=payment_intent,
        )
        return "refunded (the refund arrived first)"
    if store.hold_is_live(session, booking.tenant_id, booking.hold_id, now):
        store.set_hold_status(session, booking.tenant_id, booking.hold_id, "converted")
        return _mark_paid(session, booking, payment_intent, "paid")
    # The hold lapsed: take a unit now if one is left, else refund, never oversell.
    store.set_hold_status(session, booking.tenant_id, booking.hold_id, "expired")
    capacity, taken, closed = store.units(
        session, booking.tenant_id, booking.tier_id, booking.service_date, now
    )
    if not closed and taken < capacity:
        return _mark_paid(
            session, booking, payment_intent, "paid (after its hold lapsed; a unit was still free)"
        )
    cancelled = store.update_booking(
        session, booking.tenant_id, booking.id, status="cancelled", payment_intent_id=payment_intent
    )
    refunds.append(cancelled)
    return "cancelled and refunded: paid after its hold lapsed and the unit was sold"


def _mark_paid(
    session: Any, booking: store.BookingRow, payment_intent: str | None, outcome: str
) -> str:
    """The booking is paid. For an upgrade payment, its parent booking moves to the upgrade's
    tier in the same transaction: the old unit is free and the new one taken at once."""
    store.update_booking(
        session, booking.tenant_id, booking.id, status="paid", payment_intent_id=payment_intent
    )
    if booking.kind == "upgrade" and booking.parent_booking_id:
        parent = store.booking_row(session, booking.tenant_id, booking.parent_booking_id)
        store.update_booking(
            session, booking.tenant_id, parent.id, tier_id=uuid.UUID(booking.tier_id),
            total_minor=parent.total + booking.total, platform_fee_minor=parent.platform_fee + booking.platform_fee,
        )  # fmt: skip
        return f"{outcome}; booking {parent.id} moved to tier {booking.tier_id}"
    return outcome


def _refunded(session: Any, charge: dict[str, Any]) -> tuple[str, str | None, str | None]:
    payment_intent = charge.get("payment_intent")
    booking = (
        store.find_booking_by_payment_intent(session, payment_intent) if payment_intent else None
    )
    if booking is None:
        return "unmatched", None, None  # applied when the payment's completion arrives
    if charge.get("refunded") is False:  # a partial refund (a downgrade): the booking stands
        return "no change: partial refund", booking.tenant_id, booking.id
    if booking.status == "refunded":
        return "no change: booking is refunded", booking.tenant_id, booking.id
    store.lock_unit(session, booking.tenant_id, booking.tier_id, booking.service_date)
    store.set_hold_status(session, booking.tenant_id, booking.hold_id, "released")
    store.update_booking(session, booking.tenant_id, booking.id, status="refunded")
    return "refunded", booking.tenant_id, booking.id


def request_refund(
    ctx: CheckoutContext, booking: store.BookingRow, refund_fee: bool = True
) -> bool:
    """Ask the provider to refund a cancelled paid booking (the transfer reversed; the platform
    fee too unless the tenant's policy keeps it). Safe to repeat: the idempotency key is the
    booking's. False if the provider is unreachable (the sweeper retries)."""
    if not booking.payment_intent_id:
        return False
    partial = booking.total if booking.kind == "downgrade" else None  # else: the whole payment
    try:
        refund_id = ctx.payments.refund(
            booking.payment_intent_id, reverse_transfer=True, refund_application_fee=refund_fee,
            idempotency_key=f"tierwise-refund-{booking.id}", amount=partial,
        )  # fmt: skip
    except PaymentsUnavailable:
        log.warning("refund of booking %s postponed: provider unreachable", booking.id)
        return False
    with ctx.db.transaction() as session:
        store.update_booking(session, booking.tenant_id, booking.id, refund_id=refund_id)
    return True


def sweep(ctx: CheckoutContext, now: dt.datetime) -> dict[str, int]:
    """Release lapsed holds (their pending bookings expire) and retry postponed refunds."""
    released = 0
    with ctx.db.transaction() as session:
        for tenant_id, hold_id, booking_id in store.expired_holds(session, now):
            store.set_hold_status(session, tenant_id, hold_id, "expired")
            if booking_id:
                booking = store.booking_row(session, tenant_id, booking_id)
                if booking.status == "pending":
                    store.update_booking(session, tenant_id, booking_id, status="expired")
            released += 1
        owed = store.refunds_owed(session)
    retried = sum(request_refund(ctx, booking) for booking in owed)
    return {"holds_released": released, "refunds_requested": retried}


def _move_down(
    ctx: CheckoutContext, tenant: domain.Tenant, booking: store.BookingRow, to_tier_id: str,
    refund: int, fee_back: int, now: dt.datetime, on_booking: Any,
) -> dict[str, Any]:  # fmt: skip
    """A move the rules allow to a tier that costs the same or less: the booking switches at once
    (under the new unit's lock) and the difference is refunded from its payment."""
    with ctx.db.transaction() as session:
        store.lock_unit(session, tenant.id, to_tier_id, booking.service_date)
        capacity, taken, closed = store.units(
            session, tenant.id, to_tier_id, booking.service_date, now
        )
        if closed or taken >= capacity:
            raise Conflict("The new tier has no unit left on this date.", code="sold_out")
        total = booking.total - refund
        moved = store.update_booking(
            session, tenant.id, booking.id, tier_id=uuid.UUID(to_tier_id), total_minor=total,
            platform_fee_minor=max(0, min(total, booking.platform_fee - fee_back)),
        )  # fmt: skip
        owed = (
            store.create_refund_record(session, booking, refund, fee_back, to_tier_id)
            if refund
            else None
        )
        if on_booking is not None and owed is not None:
            on_booking(session, owed.id)
    if owed is not None:
        request_refund(ctx, owed)
    return {**_view(moved, None, None), "upgrades_booking_id": booking.id, "refund": refund}


# ---- cancellation ---------------------------------------------------------------------------------


def cancel_booking(
    ctx: CheckoutContext, tenant: domain.Tenant, booking_id: str, now: dt.datetime
) -> dict[str, Any]:
    """Cancel per the tenant's policy. A pending booking releases its hold and its session is
    expired; a paid one is refunded if cancelled at least ``refund_window_hours`` before the
    service date (its unit is freed at once; the refund event then marks it refunded)."""
    with ctx.db.transaction() as session:
        booking = store.booking_row(session, tenant.id, booking_id)
        if booking.status not in ("pending", "paid"):
            raise Conflict(
                f"A {booking.status} booking can't be cancelled.", code="booking_not_cancellable"
            )
        if booking.status == "paid":
            starts = dt.datetime.combine(
                booking.service_date, dt.time(), zoneinfo.ZoneInfo(tenant.time_zone)
            )
            if starts - now < dt.timedelta(hours=tenant.refund_window_hours):
                raise Conflict(
                    f"Refunds end {tenant.refund_window_hours} h before the service date.",
                    code="refund_window_passed",
                )
        store.lock_unit(session, tenant.id, booking.tier_id, booking.service_date)
        store.set_hold_status(session, tenant.id, booking.hold_id, "released")
        cancelled = store.update_booking(session, tenant.id, booking.id, status="cancelled")
    if booking.status == "paid":
        request_refund(ctx, cancelled, refund_fee=tenant.refund_application_fee)
    elif booking.checkout_session_id:
        try:
            ctx.payments.expire_session(
                booking.checkout_session_id, f"tierwise-expire-{booking.id}"
            )
        except DomainError as error:  # it expires by itself at expires_at
            log.warning("could not expire the session of booking %s: %s", booking.id, error)
    with ctx.db.read() as session:
        return _view(store.booking_row(session, tenant.id, booking.id), None, None)


def list_bookings(
    db: Database,
    tenant: domain.Tenant,
    status: str | None,
    day: dt.date | None,
    offset: int,
    limit: int,
) -> Any:
    with db.read() as session:
        page = store.list_bookings(session, tenant.id, status, day, offset, limit)
    return type(page)([_view(b, None, None) for b in page.items], page.total)


# ---- Connect onboarding ------------------------------------------------------------------------


def onboard(ctx: CheckoutContext, tenant: domain.Tenant, email: str) -> dict[str, str]:
    """The tenant's Express account (created once) and a fresh onboarding link."""
    with ctx.db.read() as session:
        account = store.stripe_account(session, tenant.id)
    if not account:
        account = ctx.payments.create_account(
            tenant.id, email, idempotency_key=f"tierwise-account-{tenant.id}"
        )
        with ctx.db.transaction() as session:
            store.set_stripe_account(session, tenant.id, account)
    url = ctx.payments.create_account_link(
        account,
        f"{ctx.public_base_url}/connect/refresh?tenant={tenant.id}",
        f"{ctx.public_base_url}/connect/done?tenant={tenant.id}",
    )
    return {"account_id": account, "onboarding_url": url}


def require_key(key: str | None) -> str:
    if not key or len(key) > 255:
        raise InvalidInput(
            "Send an Idempotency-Key header (1-255 characters) with this request.",
            code="idempotency_key_required",
        )
    return key
