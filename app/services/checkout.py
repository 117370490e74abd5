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
from dataclasses import dataclass
from typing import Any

from app.adapters import metrics
from app.adapters.payments import CheckoutRequest, Payments
from app.adapters.quotes import QuoteSigner
from app.services import bookings, events_out, offers
from app.services.bookings import Busy
from pricing import catalog as domain
from pricing import quotes
from pricing.errors import Conflict, InvalidInput
from storage import checkout as store
from storage import payments as ledger
from storage.db import Database

log = logging.getLogger(__name__)

__all__ = ["Busy", "CheckoutContext"]


#: What checkout answers when no unit can be taken (``storage.checkout.no_unit``).
REFUSALS = {
    "tier_blacked_out": "The tier is closed on this date.",
    "sold_out": "The last unit was just taken.",
}


@dataclass
class CheckoutContext:
    db: Database
    payments: Payments
    signer: QuoteSigner
    public_base_url: str
    hold_minutes: int


def booking_view(
    booking: store.BookingRow, hold_expires: dt.datetime | None = None
) -> dict[str, Any]:
    """A booking as the storefront sees it: a pending one with where to pay and until when."""
    pending = booking.status == "pending"
    return {
        "booking_id": booking.id,
        "status": booking.status,
        "checkout_url": booking.checkout_url if pending else None,
        "checkout_session_id": booking.checkout_session_id,
        "hold_expires_at": hold_expires.isoformat() if pending and hold_expires else None,
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
    idempotency key, so never a second session. A quote holds one unit at a time: while a booking
    made from it is pending, checking it out again (with any key) continues that booking; once
    one is paid the quote is used. ``on_booking(session, booking_id)`` runs in the booking's
    transaction (the idempotency record notes the booking there)."""
    claims = ctx.signer.verify(token, tenant.id, now)
    with ctx.db.read() as session:
        account = store.stripe_account(session, tenant.id)
    if ctx.payments.name == "stripe" and not account:
        raise Conflict(
            "The tenant has not finished payment onboarding.", code="payments_not_set_up"
        )
    day = dt.date.fromisoformat(claims.service_date)
    hold_expires = now + dt.timedelta(minutes=ctx.hold_minutes)
    with bookings.unit_of_work(ctx.db) as session:
        booking = _booking_of_quote(session, tenant.id, claims.quote_id, resume_booking_id)
        if booking is None:
            store.lock_unit(session, tenant.id, claims.tier_id, day)
            booking = _booking_of_quote(session, tenant.id, claims.quote_id, None)
        if booking is None:
            refused = store.no_unit(session, tenant.id, claims.tier_id, day, now)
            if refused is not None:
                raise Conflict(REFUSALS[refused], code=refused)
            booking = store.create_booking(
                session,
                tenant_id=tenant.id,
                expires_at=hold_expires,
                segment_id=uuid.UUID(claims.segment_id),
                tier_id=uuid.UUID(claims.tier_id),
                service_date=day,
                guests=claims.guests,
                add_on_ids=claims.add_on_ids,
                currency=claims.currency,
                total_minor=claims.total,
                platform_fee_minor=claims.platform_fee,
                quote_id=claims.quote_id,
                ruleset_version=claims.ruleset_version,
                customer_email=customer.get("email", ""),
                customer_name=customer.get("name", ""),
                visitor_id=claims.visitor_id,
                experiment=claims.experiment,
                variant=claims.variant,
            )
            metrics.count_on_commit(session, metrics.hold("placed"))
            events_out.emit(
                session, tenant.id, "booking.created", events_out.booking_data(booking), now
            )
        else:
            # The same session parameters as the first attempt: the provider replays its key
            # only for an identical request.
            hold_expires = store.hold_expiry(session, tenant.id, booking.hold_id) or hold_expires
        if on_booking is not None:
            on_booking(session, booking.id)
    what = f"booking {booking.id[:8]} on {booking.service_date.isoformat()}"
    return _open_session(
        ctx, tenant, account, booking, hold_expires, customer.get("email", ""), what
    )


def _booking_of_quote(
    session: Any, tenant_id: str, quote_id: str, resume_id: str | None
) -> store.BookingRow | None:
    """The booking to continue: the one being resumed, or the pending one made from this quote
    (a second hold is never taken for it); Conflict if the quote was booked and paid."""
    if resume_id:
        return store.booking_row(session, tenant_id, resume_id)
    for booking in store.pending_for_quote(session, tenant_id, quote_id):
        if booking.status == "paid":
            raise Conflict("This quote was booked already; ask for a new quote.", code="quote_used")
        return booking
    return None


def _open_session(
    ctx: CheckoutContext,
    tenant: domain.Tenant,
    account: str | None,
    booking: store.BookingRow,
    hold_expires: dt.datetime,
    email: str,
    what: str,
) -> dict[str, Any]:
    """The provider's Checkout Session for a pending booking (or upgrade payment), keyed by its id."""
    if booking.status != "pending":
        return booking_view(booking)
    request = CheckoutRequest(
        booking_id=booking.id,
        tenant_id=tenant.id,
        destination_account=account or "",
        currency=booking.currency,
        amount=booking.total,
        application_fee=booking.platform_fee,
        description=f"{tenant.name}: {what}",
        expires_at=int(hold_expires.timestamp()),
        customer_email=email,
        success_url=f"{ctx.public_base_url}/checkout/done?booking={booking.id}",
        cancel_url=f"{ctx.public_base_url}/checkout/cancelled?booking={booking.id}",
    )
    checkout = ctx.payments.create_checkout_session(
        request, idempotency_key=f"tierwise-checkout-{booking.id}"
    )
    with bookings.unit_of_work(ctx.db) as session:
        booking = store.lock_booking(session, tenant.id, booking.id)
        if (booking.checkout_session_id, booking.checkout_url) != (checkout.id, checkout.url):
            booking = store.update_booking(
                session,
                tenant.id,
                booking.id,
                checkout_session_id=checkout.id,
                checkout_url=checkout.url,
            )
    return booking_view(booking, hold_expires)


def start_upgrade(
    ctx: CheckoutContext,
    offers_ctx: Any,
    tenant: domain.Tenant,
    booking_id: str,
    to_tier_id: str,
    now: dt.datetime,
    request_id: str,
    resume_id: str | None = None,
    on_booking: Any = None,
) -> dict[str, Any]:
    """Move a paid booking to another tier. The ``upgrade`` rules decide; the price difference is
    the target's price now less what the customer paid. More: the customer pays it through a new
    Checkout Session, a unit of the new tier held meanwhile, and the booking moves only when that
    payment succeeds (``bookings._claim_unit``). Less or the same: the booking moves at once and
    the difference is refunded from its payments. One move at a time: while an upgrade payment
    of the booking is open, asking again continues it (the same target) or is refused."""
    with ctx.db.read() as session:
        account = store.stripe_account(session, tenant.id)
        booking = store.booking_row(session, tenant.id, booking_id)
        resumed = store.booking_row(session, tenant.id, resume_id) if resume_id else None
    if resumed is not None and (resumed.kind == "upgrade" or resumed.tier_id == to_tier_id):
        return _upgrade_view(ctx, tenant, account, booking, resumed, now)  # done before a crash
    if booking.kind != "booking" or booking.status != "paid":
        raise Conflict(
            f"Only a paid booking can be upgraded (this one is {booking.status}).",
            code="booking_not_upgradable",
        )
    if ctx.payments.name == "stripe" and not account:
        raise Conflict(
            "The tenant has not finished payment onboarding.", code="payments_not_set_up"
        )
    selection, paid = offers.booking_selection(offers_ctx, tenant, booking_id)
    quote = offers.quote_upgrade(offers_ctx, tenant, selection, to_tier_id, paid, now, request_id)
    if not quote.allowed:
        raise Conflict(
            f"The upgrade is not allowed ({quote.reason}).",
            code="upgrade_not_allowed",
            details=[{"field": "to_tier_id", "message": quote.reason}],
        )
    effects = bookings.Effects()
    hold_expires = now + dt.timedelta(minutes=ctx.hold_minutes)
    with bookings.unit_of_work(ctx.db) as session:
        root = store.lock_booking(session, tenant.id, booking_id)
        if (
            root.status != "paid"
            or root.tier_id != quote.source.id
            or root.total != quote.amount_paid
        ):
            raise Conflict(
                "The booking changed meanwhile; quote the upgrade again.", code="booking_changed"
            )
        for change in store.changes_of(session, tenant.id, root.id):
            if change.status == "pending" and store.hold_is_live(
                session, tenant.id, change.hold_id, now
            ):
                if change.tier_id != to_tier_id:
                    raise Conflict(
                        "Another upgrade of this booking is waiting for its payment.",
                        code="upgrade_in_progress",
                    )
                if on_booking is not None:
                    on_booking(session, change.id)
                resumed = change
        if resumed is None:
            resumed = _open_move(session, root, to_tier_id, quote, hold_expires, now, effects)
            if on_booking is not None:
                on_booking(session, resumed.id)
    bookings.finish(ctx.db, ctx.payments, effects, now)
    view = _upgrade_view(ctx, tenant, account, root, resumed, now)
    return {**view, "decision_ids": [e.id for e in quote.evaluations]}


def _open_move(
    session: Any,
    root: store.BookingRow,
    to_tier_id: str,
    quote: quotes.MoveQuote,
    hold_expires: dt.datetime,
    now: dt.datetime,
    effects: bookings.Effects,
) -> store.BookingRow:
    """Under the booking's lock: the upgrade payment (a pending row holding a unit of the new
    tier), or for a move that costs nothing more, the move itself and its refund."""
    if store.no_unit(session, root.tenant_id, to_tier_id, root.service_date, now) is not None:
        raise Conflict("The new tier has no unit left on this date.", code="sold_out")
    difference, fee_difference = quote.difference, quote.platform_fee_difference
    segment_id = uuid.UUID(store.tier_segment(session, root.tenant_id, to_tier_id))
    if difference > 0:
        metrics.count_on_commit(session, metrics.hold("placed"))
        return store.create_booking(
            session,
            tenant_id=root.tenant_id,
            expires_at=hold_expires,
            kind="upgrade",
            parent_booking_id=uuid.UUID(root.id),
            from_tier_id=uuid.UUID(root.tier_id),
            segment_id=segment_id,
            tier_id=uuid.UUID(to_tier_id),
            service_date=root.service_date,
            guests=root.guests,
            add_on_ids=root.add_on_ids,
            currency=root.currency,
            total_minor=difference,
            platform_fee_minor=max(0, min(difference, fee_difference)),
            customer_email=root.customer_email,
            customer_name=root.customer_name,
        )
    refund = -difference
    fee_back = (
        bookings.queue_refunds(session, root, refund, now, effects, reason="downgrade")
        if refund
        else 0
    )
    total = root.total - refund
    return store.update_booking(
        session,
        root.tenant_id,
        root.id,
        tier_id=uuid.UUID(to_tier_id),
        segment_id=segment_id,
        total_minor=total,
        platform_fee_minor=max(0, min(total, root.platform_fee - fee_back)),
    )


def _upgrade_view(
    ctx: CheckoutContext,
    tenant: domain.Tenant,
    account: str | None,
    root: store.BookingRow,
    row: store.BookingRow,
    now: dt.datetime,
) -> dict[str, Any]:
    """The answer of an upgrade request: the payment to make (its session opened, or reopened
    with the same key), or the moved booking and what it gets back."""
    with ctx.db.read() as session:
        row = store.booking_row(session, tenant.id, row.id)
        if row.id == root.id:  # moved at once
            refunded = sum(
                e.amount
                for e in ledger.of_booking(session, tenant.id, root.id)
                if e.gives_back and e.reason == "downgrade"
            )
            return {**booking_view(row), "upgrades_booking_id": root.id, "refund": refunded}
        expires = store.hold_expiry(session, tenant.id, row.hold_id)
    view = _open_session(
        ctx,
        tenant,
        account,
        row,
        expires or now + dt.timedelta(minutes=ctx.hold_minutes),
        row.customer_email,
        f"upgrade of booking {root.id[:8]}",
    )
    return {**view, "upgrades_booking_id": root.id}


def get_booking(db: Database, tenant: domain.Tenant, booking_id: str) -> dict[str, Any]:
    """A booking as the storefront sees it (a pending one: where to pay, and until when)."""
    with db.read() as session:
        booking = store.booking_row(session, tenant.id, booking_id)
        expires = store.hold_expiry(session, tenant.id, booking.hold_id)
    return booking_view(booking, expires)


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
