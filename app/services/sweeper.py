"""The sweeper (``tierwise sweep``): lapsed holds expire their pending bookings, refunds the
provider has not accepted are asked for again, and bookings whose state and payment records
disagree are repaired or reported."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from app.services import bookings
from app.services.bookings import Busy
from app.services.checkout import CheckoutContext
from pricing import booking_states as states
from storage import checkout as store
from storage import payments as ledger

log = logging.getLogger(__name__)


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
