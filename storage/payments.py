"""The payment ledger (``payments``): captures and refunds per booking. Callers hold the booking's
row lock (``storage.checkout.lock_booking``) while they read and change a booking's entries."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import and_, case, func, select, update
from sqlalchemy.orm import Session

from storage import models as m
from storage.db import insert_new

CAPTURE, REFUND = "capture", "refund"
#: Refund states that count as money given back (or owed back): all but ``failed``.
GIVING_BACK = ("queued", "requested", "succeeded")


@dataclass(frozen=True)
class Entry:
    id: str
    tenant_id: str
    booking_id: str
    change_id: str | None
    kind: str
    status: str
    payment_intent_id: str
    provider_ref: str | None
    idempotency_key: str | None
    amount: int
    fee: int
    currency: str
    refund_fee: bool
    reason: str
    detail: str
    created_at: dt.datetime

    @property
    def gives_back(self) -> bool:
        return self.kind == REFUND and self.status in GIVING_BACK


def _entry(row: m.Payment) -> Entry:
    return Entry(
        id=str(row.id),
        tenant_id=str(row.tenant_id),
        booking_id=str(row.booking_id),
        change_id=str(row.change_id) if row.change_id else None,
        kind=row.kind,
        status=row.status,
        payment_intent_id=row.payment_intent_id,
        provider_ref=row.provider_ref,
        idempotency_key=row.idempotency_key,
        amount=row.amount_minor,
        fee=row.fee_minor,
        currency=row.currency,
        refund_fee=row.refund_fee,
        reason=row.reason,
        detail=row.detail,
        created_at=row.created_at,
    )


@dataclass(frozen=True)
class Balance:
    """A booking's money: captured, and refunded or owed back (queued, requested, succeeded)."""

    captured: int = 0
    refunded: int = 0
    fee_captured: int = 0
    fee_refunded: int = 0
    settling: int = 0  # refunds not yet succeeded (queued or requested)
    failed: int = 0  # refunds the provider refused

    @property
    def net(self) -> int:
        return self.captured - self.refunded


def balance(entries: Iterable[Entry]) -> Balance:
    captured = refunded = fee_captured = fee_refunded = settling = failed = 0
    for e in entries:
        if e.kind == CAPTURE:
            captured += e.amount
            fee_captured += e.fee
        elif e.gives_back:
            refunded += e.amount
            fee_refunded += e.fee
            settling += e.status != "succeeded"
        else:
            failed += 1
    return Balance(captured, refunded, fee_captured, fee_refunded, settling, failed)


def remaining_by_capture(entries: list[Entry]) -> list[tuple[Entry, int]]:
    """Each capture with what is left of it after the refunds made or owed on its payment,
    newest capture first (refunds take the latest payments first: an upgrade's before the
    booking's own)."""
    given: dict[str, int] = {}
    for e in entries:
        if e.gives_back:
            given[e.payment_intent_id] = given.get(e.payment_intent_id, 0) + e.amount
    captures = sorted(
        (e for e in entries if e.kind == CAPTURE), key=lambda e: e.created_at, reverse=True
    )
    return [(c, c.amount - given.get(c.payment_intent_id, 0)) for c in captures]


def of_booking(session: Session, tenant_id: str, booking_id: str) -> list[Entry]:
    rows = session.scalars(
        select(m.Payment)
        .where(
            m.Payment.tenant_id == uuid.UUID(tenant_id),
            m.Payment.booking_id == uuid.UUID(booking_id),
        )
        .order_by(m.Payment.created_at, m.Payment.id)
    )
    return [_entry(r) for r in rows]


def capture_of(session: Session, payment_intent_id: str) -> Entry | None:
    row = session.scalars(
        select(m.Payment).where(
            m.Payment.kind == CAPTURE, m.Payment.payment_intent_id == payment_intent_id
        )
    ).first()
    return _entry(row) if row else None


def record_capture(
    session: Session,
    *,
    tenant_id: str,
    booking_id: str,
    change_id: str | None,
    payment_intent_id: str,
    amount: int,
    fee: int,
    currency: str,
    reason: str,
    now: dt.datetime,
) -> Entry | None:
    """Record money taken; None if this payment was recorded before (one capture per payment)."""
    entry_id = uuid.uuid4()
    inserted = insert_new(
        session,
        m.Payment,
        {
            "tenant_id": uuid.UUID(tenant_id),
            "id": entry_id,
            "booking_id": uuid.UUID(booking_id),
            "change_id": uuid.UUID(change_id) if change_id else None,
            "kind": CAPTURE,
            "status": "captured",
            "payment_intent_id": payment_intent_id,
            "amount_minor": amount,
            "fee_minor": min(fee, amount),
            "currency": currency,
            "refund_fee": False,
            "reason": reason,
            "detail": "",
            "created_at": now,
            "updated_at": now,
        },
        ["payment_intent_id"],
        where="kind = 'capture'",
    )
    if not inserted:
        return None
    row = session.get(m.Payment, (uuid.UUID(tenant_id), entry_id))
    assert row is not None
    return _entry(row)


def add_refund(
    session: Session,
    capture: Entry,
    *,
    amount: int,
    fee: int,
    refund_fee: bool,
    reason: str,
    now: dt.datetime,
    status: str = "queued",
    provider_ref: str | None = None,
    detail: str = "",
) -> Entry:
    """A refund of ``amount`` of ``capture``'s payment: owed (``queued``) unless the provider
    already made it (``provider_ref`` and its status)."""
    row = m.Payment(
        tenant_id=uuid.UUID(capture.tenant_id),
        id=uuid.uuid4(),
        booking_id=uuid.UUID(capture.booking_id),
        change_id=uuid.UUID(capture.change_id) if capture.change_id else None,
        kind=REFUND,
        status=status,
        payment_intent_id=capture.payment_intent_id,
        provider_ref=provider_ref,
        amount_minor=amount,
        fee_minor=min(fee, amount),
        currency=capture.currency,
        refund_fee=refund_fee,
        reason=reason,
        detail=detail[:500],
        created_at=now,
        updated_at=now,
    )
    row.idempotency_key = f"tierwise-refund-{row.id}"
    session.add(row)
    session.flush()
    return _entry(row)


def mark_refund(
    session: Session, entry: Entry, status: str, provider_ref: str | None, detail: str = ""
) -> None:
    values: dict[str, object] = {"status": status, "updated_at": m.utcnow()}
    if provider_ref:
        values["provider_ref"] = provider_ref
    if detail:
        values["detail"] = detail[:500]
    session.execute(
        update(m.Payment)
        .where(
            m.Payment.tenant_id == uuid.UUID(entry.tenant_id), m.Payment.id == uuid.UUID(entry.id)
        )
        .values(**values)
    )


def queued(session: Session, limit: int = 100) -> list[Entry]:
    """Refunds owed and not yet accepted by the provider, oldest first (the sweeper asks again)."""
    rows = session.scalars(
        select(m.Payment)
        .where(m.Payment.status == "queued")
        .order_by(m.Payment.created_at)
        .limit(limit)
    )
    return [_entry(r) for r in rows]


def disagreeing(session: Session, limit: int = 500) -> list[tuple[str, str]]:
    """(tenant id, booking id) of bookings whose status and payment records disagree (see
    ``pricing.booking_states.ledger_agrees``), or that are cancelled with every refund settled
    (they are refunded), for the sweeper to repair."""
    p, b = m.Payment, m.Booking
    gives_back = and_(p.kind == REFUND, p.status.in_(GIVING_BACK))
    money = (
        select(
            p.tenant_id,
            p.booking_id,
            func.sum(case((p.kind == CAPTURE, p.amount_minor), else_=0)).label("captured"),
            func.sum(case((gives_back, p.amount_minor), else_=0)).label("refunded"),
            func.sum(case((p.status.in_(("queued", "requested")), 1), else_=0)).label("open"),
        )
        .group_by(p.tenant_id, p.booking_id)
        .subquery()
    )
    net = money.c.captured - money.c.refunded
    rows = session.execute(
        select(b.tenant_id, b.id)
        .join(money, and_(money.c.tenant_id == b.tenant_id, money.c.booking_id == b.id))
        .where(
            b.kind == "booking",
            ((b.status == "paid") & (net != b.total_minor))
            | ((b.status != "paid") & (net != 0))
            | ((b.status == "cancelled") & (money.c.captured > 0) & (money.c.open == 0)),
        )
        .limit(limit)
    )
    return [(str(t), str(i)) for t, i in rows]


def net_by_booking(session: Session, tenant_id: str, booking_ids: list[str]) -> dict[str, Balance]:
    """The balance of each of some bookings of a tenant."""
    if not booking_ids:
        return {}
    rows = session.scalars(
        select(m.Payment).where(
            m.Payment.tenant_id == uuid.UUID(tenant_id),
            m.Payment.booking_id.in_([uuid.UUID(b) for b in booking_ids]),
        )
    )
    grouped: dict[str, list[Entry]] = {}
    for row in rows:
        grouped.setdefault(str(row.booking_id), []).append(_entry(row))
    return {booking: balance(entries) for booking, entries in grouped.items()}
