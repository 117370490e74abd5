"""Bookings as their tenant's admins see them — customer, add-ons, the price quoted, platform fee,
payments and refunds, upgrade payments — and cancelling one per the tenant's policy."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from app.services import bookings
from app.services.checkout import CheckoutContext, booking_view
from pricing import booking_states as states
from pricing import catalog as domain
from pricing.errors import Conflict
from pricing.price import recorded_price_json
from storage import checkout as store
from storage import payments as ledger
from storage.db import Database
from storage.repository import Page

log = logging.getLogger(__name__)


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
) -> Page[dict[str, Any]]:
    """Bookings (not their upgrade payments: those are in each booking's view), newest first."""
    with db.read() as session:
        page = store.list_bookings(session, tenant.id, status, day, offset, limit)
        money = ledger.net_by_booking(session, tenant.id, [b.id for b in page.items])
    items = [_admin_summary(b, money.get(b.id, ledger.Balance())) for b in page.items]
    return Page(items, page.total)


def _admin_summary(
    booking: store.BookingRow, money: ledger.Balance, hold_expires: dt.datetime | None = None
) -> dict[str, Any]:
    return {
        **booking_view(booking, hold_expires),
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
