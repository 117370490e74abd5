"""Every change of a booking's state or money, through one transition function.

``change(...)`` runs inside the caller's transaction. It first locks the booking's row
(``storage.checkout.lock_booking``, ``SELECT … FOR UPDATE``; for an upgrade payment its booking's
row, then its own), reads the status under that lock, asks ``pricing.booking_states.transition``
what the event does from there, and carries out the effects the table names. So a payment's
completion, a session's expiry, the sweeper, a refund, an admin's cancel, an upgrade's payment and
a downgrade of one booking happen one after the other, each seeing what the last one did.

Money is in the ledger (``storage.payments``): a capture is recorded with the ``pay`` event that
brings it; a refund the change owes is queued there in the same transaction (so it is never lost)
and collected in :class:`Effects`; the caller asks the provider for it after the commit
(:func:`finish`), and the sweeper again if the provider was unreachable.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from app.adapters import metrics
from app.adapters.payments import PaymentRefused, Payments, PaymentsUnavailable
from app.services.events_out import emit_booking_change
from pricing import booking_states as states
from pricing.errors import Conflict, DomainError
from storage import checkout as store
from storage import payments as ledger
from storage.checkout import BookingRow
from storage.db import Database

log = logging.getLogger(__name__)


class Busy(DomainError):
    """Another change holds the booking's or the unit's lock longer than we wait (or PostgreSQL
    broke a deadlock); nothing was changed: retry shortly."""

    code = "busy"


#: PostgreSQL's lock_not_available (our lock_timeout) and deadlock_detected.
_RETRYABLE_LOCK_STATES = ("55P03", "40P01")


@contextmanager
def unit_of_work(db: Database) -> Iterator[Session]:
    """``db.transaction()`` for changes that take row and unit locks: a lock not granted in time
    answers :class:`Busy` (503, retry) instead of an error."""
    try:
        with db.transaction() as session:
            yield session
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) in _RETRYABLE_LOCK_STATES:
            raise Busy(
                "Too many changes of this booking or unit at once; retry in a second."
            ) from None
        raise


#: A refund's provider status → the ledger's.
PROVIDER_REFUND_STATUS = {
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "failed",
    "pending": "requested",
    "requires_action": "requested",
}


@dataclass
class Effects:
    """What a transaction's changes ask of the payment provider once it has committed."""

    refunds: list[ledger.Entry] = field(default_factory=list)
    sessions: list[tuple[str, str]] = field(default_factory=list)  # (session id, booking id)


@dataclass
class Policy:
    """The tenant's cancellation policy (the REFUND_WINDOW guard and the fee of refunds)."""

    time_zone: str
    refund_window_hours: int
    refund_application_fee: bool


@dataclass
class _Change:
    session: Session
    root: BookingRow  # locked
    now: dt.datetime
    effects: Effects
    policy: Policy | None = None
    words: str = ""
    reason: str = "cancelled"  # why a refund this change queues is owed


def lock_family(session: Session, tenant_id: str, booking_id: str) -> tuple[BookingRow, BookingRow]:
    """(the booking, the row): both locked, the booking first. The row is the booking itself or
    one of its upgrade payments."""
    row = store.booking_row(session, tenant_id, booking_id)
    root = store.lock_booking(session, tenant_id, row.root_id)
    return root, (root if row.id == root.id else store.lock_booking(session, tenant_id, row.id))


def change(
    session: Session,
    root: BookingRow,
    row: BookingRow,
    event: str,
    now: dt.datetime,
    effects: Effects,
    *,
    policy: Policy | None = None,
    capture: ledger.Entry | None = None,
) -> tuple[BookingRow, str]:
    """Apply ``event`` to ``row`` (locked, with its booking ``root``): the new row and what
    happened, in words. An event the table has no transition for changes nothing."""
    step = states.transition(row.status, event)
    if step is None:
        return row, f"no change: booking is {row.status}"
    ctx = _Change(session, root, now, effects, policy)
    for guard in step.guards:
        _check(ctx, guard, row)
    if states.CLAIM_UNIT in step.effects and not _claim_unit(ctx, row):
        assert step.otherwise is not None
        step = step.otherwise
    for effect in step.effects:
        _EFFECTS[effect](ctx, row, capture)
    updated = store.update_booking(session, row.tenant_id, row.id, status=step.to)
    metrics.count_on_commit(session, metrics.booking(step.to))
    if row.id == root.id:
        ctx.root = updated
    emit_booking_change(session, row, updated, ctx.root, now)  # the outbox, in this transaction
    return updated, ctx.words or step.to


# ---- guards -------------------------------------------------------------------------------------


def _check(ctx: _Change, guard: str, row: BookingRow) -> None:
    if guard == states.NOT_A_CHANGE and row.kind != "booking":
        raise Conflict(
            "A paid upgrade is refunded by cancelling its booking.", code="booking_not_cancellable"
        )
    if guard == states.REFUND_WINDOW and ctx.policy is not None:
        policy = ctx.policy
        starts = dt.datetime.combine(
            row.service_date, dt.time(), zoneinfo.ZoneInfo(policy.time_zone)
        )
        if starts - ctx.now < dt.timedelta(hours=policy.refund_window_hours):
            raise Conflict(
                f"Refunds end {policy.refund_window_hours} h before the service date.",
                code="refund_window_passed",
            )


# ---- effects ------------------------------------------------------------------------------------


def _release_hold(ctx: _Change, row: BookingRow, _capture: ledger.Entry | None) -> None:
    if not row.hold_id:
        return
    store.lock_unit(ctx.session, row.tenant_id, row.tier_id, row.service_date)
    lapsed = not store.hold_is_live(ctx.session, row.tenant_id, row.hold_id, ctx.now)
    outcome = "expired" if lapsed else "released"
    store.set_hold_status(ctx.session, row.tenant_id, row.hold_id, outcome)
    metrics.count_on_commit(ctx.session, metrics.hold(outcome))


def _claim_unit(ctx: _Change, row: BookingRow) -> bool:
    """Take the row's unit: convert its live hold, else a unit still free. An upgrade payment
    also needs its booking to be paid and still in the tier it was moving from; then the booking
    moves to the new tier (its old unit is free at once, the new one taken). False: no unit (the
    transition's ``otherwise`` applies)."""
    session, root = ctx.session, ctx.root
    if row.kind == "upgrade" and (
        root.status != states.PAID
        or root.tier_id == row.tier_id
        or (row.from_tier_id is not None and root.tier_id != row.from_tier_id)
    ):
        store.set_hold_status(session, row.tenant_id, row.hold_id, "released")
        ctx.words = "cancelled and refunded: the booking changed before this upgrade was paid"
        ctx.reason = "stale_upgrade"
        return False
    store.lock_unit(session, row.tenant_id, row.tier_id, row.service_date)
    if store.hold_is_live(session, row.tenant_id, row.hold_id, ctx.now):
        store.set_hold_status(session, row.tenant_id, row.hold_id, "converted")
        ctx.words = "paid"
    else:
        store.set_hold_status(session, row.tenant_id, row.hold_id, "expired")
        if store.no_unit(session, row.tenant_id, row.tier_id, row.service_date, ctx.now):
            ctx.words = "cancelled and refunded: paid after its hold lapsed and the unit was sold"
            ctx.reason = "sold_out"
            return False
        ctx.words = "paid (after its hold lapsed; a unit was still free)"
    if row.kind == "upgrade":
        ctx.root = store.update_booking(
            session,
            root.tenant_id,
            root.id,
            tier_id=uuid.UUID(row.tier_id),
            segment_id=uuid.UUID(row.segment_id),
            total_minor=root.total + row.total,
            platform_fee_minor=root.platform_fee + row.platform_fee,
        )
        ctx.words += f"; booking {root.id} moved to tier {row.tier_id}"
    return True


def _refund_capture(ctx: _Change, row: BookingRow, capture: ledger.Entry | None) -> None:
    """Give back the payment this event brought (the platform's fee with it)."""
    assert capture is not None
    if row.status == states.CANCELLED:
        ctx.words = "refunded: the booking had been cancelled"
    elif row.status in (states.PAID, states.REFUNDED):
        ctx.words = f"refunded: a second payment of a {row.status} booking"
        ctx.reason = "duplicate"
    entries = ledger.of_booking(ctx.session, ctx.root.tenant_id, ctx.root.id)
    for entry, remaining in ledger.remaining_by_capture(entries):
        if entry.id == capture.id and remaining > 0:
            _queue(ctx, entry, remaining, refund_fee=True, reason=ctx.reason)


def _refund_all(ctx: _Change, row: BookingRow, _capture: ledger.Entry | None) -> None:
    """Give back everything captured for the booking (its upgrades' payments included) and not
    refunded yet; the platform fee per the tenant's policy."""
    refund_fee = ctx.policy.refund_application_fee if ctx.policy else True
    entries = ledger.of_booking(ctx.session, ctx.root.tenant_id, ctx.root.id)
    for entry, remaining in ledger.remaining_by_capture(entries):
        if remaining > 0:
            _queue(ctx, entry, remaining, refund_fee=refund_fee, reason="cancelled")


def _close_changes(ctx: _Change, row: BookingRow, _capture: ledger.Entry | None) -> None:
    """Open upgrade payments of a booking that is no longer paid are cancelled."""
    for child in store.changes_of(ctx.session, ctx.root.tenant_id, ctx.root.id):
        if child.status == states.PENDING:
            locked = store.lock_booking(ctx.session, child.tenant_id, child.id)
            change(ctx.session, ctx.root, locked, "cancel", ctx.now, ctx.effects)


def _expire_session(ctx: _Change, row: BookingRow, _capture: ledger.Entry | None) -> None:
    if row.checkout_session_id:
        ctx.effects.sessions.append((row.checkout_session_id, row.id))


_EFFECTS: dict[str, Callable[[_Change, BookingRow, ledger.Entry | None], None]] = {
    states.RELEASE_HOLD: _release_hold,
    states.CLAIM_UNIT: lambda ctx, row, capture: None,  # done before the others, see change()
    states.REFUND_CAPTURE: _refund_capture,
    states.REFUND_ALL: _refund_all,
    states.CLOSE_CHANGES: _close_changes,
    states.EXPIRE_SESSION: _expire_session,
}


def _queue(
    ctx: _Change, capture: ledger.Entry, amount: int, *, refund_fee: bool, reason: str
) -> None:
    fee = states.proportional_fee(capture.fee, amount, capture.amount) if refund_fee else 0
    ctx.effects.refunds.append(
        ledger.add_refund(
            ctx.session,
            capture,
            amount=amount,
            fee=fee,
            refund_fee=refund_fee,
            reason=reason,
            now=ctx.now,
        )
    )
    metrics.count_on_commit(ctx.session, metrics.refund("tierwise"))


def queue_refunds(
    session: Session,
    root: BookingRow,
    amount: int,
    now: dt.datetime,
    effects: Effects,
    *,
    reason: str,
    refund_fee: bool = True,
) -> int:
    """Owe the customer ``amount`` of a booking's payments, the latest payments first (a
    downgrade); the platform fee given back with it. Conflict if the booking's payments hold
    less than that (never refund more than was paid)."""
    ctx = _Change(session, root, now, effects)
    entries = ledger.of_booking(session, root.tenant_id, root.id)
    plan, left = [], amount
    for capture, remaining in ledger.remaining_by_capture(entries):
        take = min(remaining, left)
        if take > 0:
            plan.append((capture, take))
            left -= take
    if left > 0:
        raise Conflict(
            "The booking's payments hold less than this refund; nothing was changed.",
            code="refund_exceeds_payment",
        )
    fee_back = 0
    for capture, take in plan:
        _queue(ctx, capture, take, refund_fee=refund_fee, reason=reason)
        fee_back += ctx.effects.refunds[-1].fee
    return fee_back


# ---- payments the provider reports ------------------------------------------------------------


def pay(
    session: Session, row: BookingRow, payment_intent_id: str, now: dt.datetime, effects: Effects
) -> str:
    """The provider captured ``row``'s checkout amount as ``payment_intent_id`` (the caller holds
    ``store.lock_payment`` on it): record the capture once, then the ``pay`` transition. Refunds
    of this payment that arrived before it are applied now."""
    root, row = lock_family(session, row.tenant_id, row.id)
    capture = ledger.record_capture(
        session,
        tenant_id=root.tenant_id,
        booking_id=root.id,
        change_id=row.id if row.id != root.id else None,
        payment_intent_id=payment_intent_id,
        amount=row.total,
        fee=row.platform_fee,
        currency=row.currency,
        reason="checkout" if row.kind == "booking" else "upgrade",
        now=now,
    )
    if capture is None:
        return f"no change: payment already recorded (booking is {row.status})"
    metrics.count_on_commit(session, metrics.payment(capture.reason))
    row = store.update_booking(session, row.tenant_id, row.id, payment_intent_id=payment_intent_id)
    if row.id == root.id:
        root = row
    row, words = change(session, root, row, "pay", now, effects, capture=capture)
    root = store.booking_row(session, root.tenant_id, root.id)
    early = store.early_refunds(session, payment_intent_id)
    for event_id, charge in early:
        record_provider_refunds(session, capture, charge, now)
        store.note_event(
            session,
            event_id,
            "refunded (matched when its payment arrived)",
            root.tenant_id,
            root.id,
        )
    settled = settle(session, root, now, effects)
    if early and settled:
        return "refunded (the refund arrived first)"
    return words


def record_provider_refunds(
    session: Session, capture: ledger.Entry, charge: dict[str, Any], now: dt.datetime
) -> None:
    """Bring the ledger's refunds of ``capture``'s payment in line with what the provider's
    charge says: ours (found by id or by the reference in their metadata) take the provider's
    status; others were made outside tierwise (the provider's dashboard) and are recorded."""
    entries = [
        e
        for e in ledger.of_booking(session, capture.tenant_id, capture.booking_id)
        if e.payment_intent_id == capture.payment_intent_id and e.kind == ledger.REFUND
    ]
    by_ref = {e.provider_ref: e for e in entries if e.provider_ref}
    by_id = {e.id: e for e in entries}
    listed = (charge.get("refunds") or {}).get("data")
    if isinstance(listed, list):
        for refund in listed:
            if not isinstance(refund, dict) or not refund.get("id"):
                continue
            status = PROVIDER_REFUND_STATUS.get(str(refund.get("status")), "requested")
            reference = str((refund.get("metadata") or {}).get("tierwise_refund", ""))
            mine = by_ref.get(refund["id"]) or by_id.get(reference)
            if mine is not None:
                if mine.status != status and mine.status != "succeeded":
                    ledger.mark_refund(session, mine, status, refund["id"])
            elif status != "failed" and int(refund.get("amount") or 0) > 0:
                ledger.add_refund(
                    session,
                    capture,
                    amount=int(refund["amount"]),
                    fee=0,
                    refund_fee=False,
                    reason="outside",
                    now=now,
                    status=status,
                    provider_ref=refund["id"],
                    detail="refunded at the provider, not by tierwise",
                )
                metrics.count_on_commit(session, metrics.refund("provider"))
        return
    given = sum(e.amount for e in entries if e.gives_back)
    extra = int(charge.get("amount_refunded") or 0) - given
    if extra > 0:
        ledger.add_refund(
            session,
            capture,
            amount=min(extra, capture.amount),
            fee=0,
            refund_fee=False,
            reason="outside",
            now=now,
            status="succeeded",
            detail="refunded at the provider, not by tierwise",
        )
        metrics.count_on_commit(session, metrics.refund("provider"))


def settle(session: Session, root: BookingRow, now: dt.datetime, effects: Effects) -> bool:
    """Follow the money: a paid booking whose own payment was refunded in full at the provider
    (or all of whose money went back) is over — what else it holds is refunded; a cancelled
    booking whose refunds all succeeded is refunded. True if it moved."""
    entries = ledger.of_booking(session, root.tenant_id, root.id)
    money = ledger.balance(entries)
    if money.captured == 0:
        return False
    moved = False
    if root.status == states.PAID and (money.net == 0 or _own_payment_refunded(entries)):
        root, _ = change(session, root, root, "refunded_outside", now, effects)
        money = ledger.balance(ledger.of_booking(session, root.tenant_id, root.id))
        moved = True
    if root.status == states.CANCELLED and money.net == 0 and money.settling == 0:
        change(session, root, root, "refunds_settled", now, effects)
        moved = True
    return moved


def _own_payment_refunded(entries: list[ledger.Entry]) -> bool:
    """Is the booking's checkout payment (not an upgrade's) refunded in full?"""
    return any(
        capture.change_id is None and remaining <= 0
        for capture, remaining in ledger.remaining_by_capture(entries)
    )


# ---- after the commit ---------------------------------------------------------------------------


def finish(db: Database, payments: Payments, effects: Effects, now: dt.datetime) -> int:
    """Ask the provider for what committed changes owe: close checkout sessions, request the
    queued refunds. Failures are left to the sweeper. The number of refunds it accepted."""
    for session_id, booking_id in effects.sessions:
        try:
            payments.expire_session(session_id, f"tierwise-expire-{booking_id}")
        except PaymentsUnavailable as error:  # it expires by itself at expires_at
            log.warning("could not expire the session of booking %s: %s", booking_id, error)
        except PaymentRefused as error:  # completed or expired meanwhile: its event tells us
            log.info("session of booking %s not expired: %s", booking_id, error)
    return request_refunds(db, payments, effects.refunds, now)


def request_refunds(
    db: Database, payments: Payments, entries: list[ledger.Entry], now: dt.datetime
) -> int:
    accepted = 0
    for entry in entries:
        try:
            refund = payments.refund(
                entry.payment_intent_id,
                amount=entry.amount,
                reverse_transfer=True,
                refund_application_fee=entry.refund_fee,
                idempotency_key=entry.idempotency_key or f"tierwise-refund-{entry.id}",
                reference=entry.id,
            )
            status, ref, detail = (
                PROVIDER_REFUND_STATUS.get(refund.status, "requested"),
                refund.id,
                "",
            )
        except PaymentsUnavailable:
            log.warning("refund %s postponed: the provider is unreachable", entry.id)
            continue
        except PaymentRefused as error:
            log.error("refund %s refused by the provider: %s", entry.id, error.message)
            status, ref, detail = "failed", None, error.message
        try:
            with unit_of_work(db) as session:
                root = store.lock_booking(session, entry.tenant_id, entry.booking_id)
                current = {e.id: e for e in ledger.of_booking(session, root.tenant_id, root.id)}
                if current[entry.id].status == "queued":
                    ledger.mark_refund(session, entry, status, ref, detail)
                    settle(session, root, now, Effects())
        except Busy:  # still queued: the sweeper asks again (the same key: the same refund)
            log.warning("refund %s accepted but not recorded yet: booking busy", entry.id)
            continue
        accepted += status != "failed"
    return accepted
