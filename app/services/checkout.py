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

from app.adapters.payments import CheckoutRequest, Payments
from app.adapters.quotes import QuoteSigner
from app.services import bookings, offers
from app.services.bookings import Busy
from pricing import booking_states as states
from pricing import catalog as domain
from pricing import offers as priced
from pricing.errors import Conflict, InvalidInput, NotFound
from pricing.price import recorded_price_json
from storage import checkout as store
from storage import payments as ledger
from storage.db import Database

log = logging.getLogger(__name__)

__all__ = ["Busy", "CheckoutContext"]


@dataclass
class CheckoutContext:
    db: Database
    payments: Payments
    signer: QuoteSigner
    public_base_url: str
    hold_minutes: int


def _view(booking: store.BookingRow, hold_expires: dt.datetime | None = None) -> dict[str, Any]:
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
            capacity, taken, closed = store.units(session, tenant.id, claims.tier_id, day, now)
            if closed:
                raise Conflict("The tier is closed on this date.", code="tier_blacked_out")
            if taken >= capacity:
                raise Conflict("The last unit was just taken.", code="sold_out")
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
        return _view(booking)
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
    return _view(booking, hold_expires)


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
    quote: priced.MoveQuote,
    hold_expires: dt.datetime,
    now: dt.datetime,
    effects: bookings.Effects,
) -> store.BookingRow:
    """Under the booking's lock: the upgrade payment (a pending row holding a unit of the new
    tier), or for a move that costs nothing more, the move itself and its refund."""
    store.lock_unit(session, root.tenant_id, to_tier_id, root.service_date)
    capacity, taken, closed = store.units(
        session, root.tenant_id, to_tier_id, root.service_date, now
    )
    if closed or taken >= capacity:
        raise Conflict("The new tier has no unit left on this date.", code="sold_out")
    difference, fee_difference = quote.difference, quote.platform_fee_difference
    segment_id = uuid.UUID(store.tier_segment(session, root.tenant_id, to_tier_id))
    if difference > 0:
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
            return {**_view(row), "upgrades_booking_id": root.id, "refund": refunded}
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
    return _view(booking, expires)


# ---- events -----------------------------------------------------------------------------------


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


# ---- the sweeper --------------------------------------------------------------------------------


def sweep(ctx: CheckoutContext, now: dt.datetime) -> dict[str, Any]:
    """Expire lapsed holds (their pending bookings expire), ask again for refunds the provider
    has not accepted yet, and reconcile: every booking whose state and payment records disagree
    is repaired (money captured for a booking that is not paid is refunded; a booking whose money
    all went back is refunded) or, where no safe repair exists, reported."""
    expired = 0
    for tenant_id, hold_id, booking_id in _lapsed(ctx, now):
        try:
            with bookings.unit_of_work(ctx.db) as session:
                # The booking's lock before its hold's row, as every other change takes them.
                root, row = (
                    bookings.lock_family(session, tenant_id, booking_id)
                    if booking_id
                    else (None, None)
                )
                store.set_hold_status(session, tenant_id, hold_id, "expired")
                if root is not None and row is not None and row.status == "pending":
                    bookings.change(session, root, row, "expire", now, bookings.Effects())
        except Busy:  # the booking is being changed right now: the next sweep looks again
            log.info("sweep: booking %s busy, left for the next sweep", booking_id)
            continue
        expired += 1
    repaired, attention = reconcile(ctx, now)
    with ctx.db.read() as session:
        owed = ledger.queued(session)
    requested = bookings.request_refunds(ctx.db, ctx.payments, owed, now)
    return {
        "holds_released": expired,
        "refunds_requested": requested,
        "repaired": repaired,
        "attention": attention,
    }


def _lapsed(ctx: CheckoutContext, now: dt.datetime) -> list[tuple[str, str, str | None]]:
    with ctx.db.read() as session:
        return store.expired_holds(session, now)


def reconcile(ctx: CheckoutContext, now: dt.datetime) -> tuple[list[str], list[str]]:
    """(repairs made, disagreements left for a person), each in words naming the booking."""
    repaired: list[str] = []
    attention: list[str] = []
    with ctx.db.read() as session:
        suspects = ledger.disagreeing(session)
    for tenant_id, booking_id in suspects:
        try:
            _reconcile_one(ctx, tenant_id, booking_id, now, repaired, attention)
        except Busy:  # being changed right now: the next sweep looks again
            log.info("reconcile: booking %s busy, left for the next sweep", booking_id)
    for line in attention:
        log.error("payment records disagree: %s", line)
    return repaired, attention


def _reconcile_one(
    ctx: CheckoutContext,
    tenant_id: str,
    booking_id: str,
    now: dt.datetime,
    repaired: list[str],
    attention: list[str],
) -> None:
    effects = bookings.Effects()
    with bookings.unit_of_work(ctx.db) as session:
        root = store.lock_booking(session, tenant_id, booking_id)
        entries = ledger.of_booking(session, tenant_id, booking_id)
        money = ledger.balance(entries)
        if root.status != "paid" and money.net > 0 and not money.failed:
            bookings.queue_refunds(session, root, money.net, now, effects, reason="reconciled")
            repaired.append(
                f"booking {root.id}: {root.status} with {money.net} captured and not refunded: refund queued"
            )
        elif bookings.settle(session, root, now, effects):
            repaired.append(f"booking {root.id}: every payment refunded: now refunded")
        elif not states.ledger_agrees(root.status, root.total, money.captured, money.refunded):
            attention.append(
                f"booking {root.id}: {root.status}, total {root.total}, captured {money.captured}, "
                f"refunded {money.refunded}{' (a refund failed)' if money.failed else ''}"
            )
    bookings.finish(ctx.db, ctx.payments, effects, now)


# ---- cancellation ---------------------------------------------------------------------------------


def cancel_booking(
    ctx: CheckoutContext, tenant: domain.Tenant, booking_id: str, now: dt.datetime
) -> dict[str, Any]:
    """Cancel per the tenant's policy (``pricing.booking_states``: a pending booking releases its
    hold and its session is closed; a paid one, if cancelled at least ``refund_window_hours``
    before the service date, frees its unit at once and every payment of it, its upgrades'
    included, is refunded). A 2xx answer means the booking is cancelled or refunded."""
    effects = bookings.Effects()
    policy = bookings.Policy(
        tenant.time_zone, tenant.refund_window_hours, tenant.refund_application_fee
    )
    with bookings.unit_of_work(ctx.db) as session:
        root, row = bookings.lock_family(session, tenant.id, booking_id)
        if states.transition(row.status, "cancel") is None:
            raise Conflict(
                f"A {row.status} booking can't be cancelled.", code="booking_not_cancellable"
            )
        bookings.change(session, root, row, "cancel", now, effects, policy=policy)
    bookings.finish(ctx.db, ctx.payments, effects, now)
    return admin_view(ctx.db, tenant, booking_id)


def list_bookings(
    db: Database,
    tenant: domain.Tenant,
    status: str | None,
    day: dt.date | None,
    offset: int,
    limit: int,
) -> Any:
    """Bookings (not their upgrade payments: those are in each booking's view), newest first."""
    with db.read() as session:
        page = store.list_bookings(session, tenant.id, status, day, offset, limit)
        money = ledger.net_by_booking(session, tenant.id, [b.id for b in page.items])
    items = [_admin_summary(b, money.get(b.id, ledger.Balance())) for b in page.items]
    return type(page)(items, page.total)


def _admin_summary(
    booking: store.BookingRow, money: ledger.Balance, hold_expires: dt.datetime | None = None
) -> dict[str, Any]:
    return {
        **_view(booking, hold_expires),
        "kind": booking.kind,
        "segment_id": booking.segment_id,
        "platform_fee": booking.platform_fee,
        "customer": {"email": booking.customer_email, "name": booking.customer_name},
        "add_on_ids": booking.add_on_ids,
        "upgrades_booking_id": booking.parent_booking_id,
        "paid": money.net,
        "created_at": booking.created_at,
        "updated_at": booking.updated_at,
    }


def admin_view(db: Database, tenant: domain.Tenant, booking_id: str) -> dict[str, Any]:
    """A booking as its tenant's admins see it: customer, add-ons, amounts and platform fee, its
    payments and refunds (the ledger), and its upgrade payments."""
    with db.read() as session:
        booking = store.booking_row(session, tenant.id, booking_id)
        expires = store.hold_expiry(session, tenant.id, booking.hold_id)
        entries = ledger.of_booking(session, tenant.id, booking.root_id)
        changes = (
            store.changes_of(session, tenant.id, booking.id) if booking.kind == "booking" else []
        )
        add_ons = store.add_on_names(session, tenant.id, booking.add_on_ids)
        quoted = store.quoted_price(session, tenant.id, booking.quote_id)
    money = ledger.balance(
        e for e in entries if booking.kind == "booking" or e.change_id == booking.id
    )
    return {
        **_admin_summary(booking, money, expires),
        "add_ons": [{"id": a, "name": add_ons.get(a, "")} for a in booking.add_on_ids],
        "price": recorded_price_json(quoted),
        "payments": [
            _entry_view(e)
            for e in entries
            if booking.kind == "booking" or e.change_id == booking.id
        ],
        "changes": [
            {
                "booking_id": c.id,
                "status": c.status,
                "from_tier_id": c.from_tier_id,
                "to_tier_id": c.tier_id,
                "amount": c.total,
                "platform_fee": c.platform_fee,
                "created_at": c.created_at,
            }
            for c in changes
        ],
        "money": {
            "captured": money.captured,
            "refunded": money.refunded,
            "net": money.net,
            "platform_fee_captured": money.fee_captured,
            "platform_fee_refunded": money.fee_refunded,
        },
    }


def _entry_view(entry: ledger.Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "status": entry.status,
        "amount": entry.amount,
        "platform_fee": entry.fee,
        "currency": entry.currency,
        "reason": entry.reason,
        "payment_intent_id": entry.payment_intent_id,
        "refund_id": entry.provider_ref,
        "upgrade_booking_id": entry.change_id,
        "created_at": entry.created_at,
    }


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
