"""Holds, bookings, idempotency keys and payment events: the rows checkout and webhooks change."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.orm import Session

from pricing.errors import NotFound
from storage import audit
from storage import models as m
from storage.availability import OCCUPYING_BOOKINGS
from storage.catalog import Page, as_uuid
from storage.db import as_utc, insert_new, on_postgresql

LOCK_TIMEOUT = "5s"


def lock_unit(session: Session, tenant_id: str, tier_id: str, day: dt.date) -> None:
    """Serialise everyone taking or releasing units of one tier on one date (PostgreSQL advisory
    transaction lock, waited for at most LOCK_TIMEOUT; SQLite has one writer anyway)."""
    if not on_postgresql(session):
        return
    digest = hashlib.sha256(f"{tenant_id}:{tier_id}:{day.isoformat()}".encode()).digest()
    key = int.from_bytes(digest[:8], "big", signed=True)
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    session.execute(select(func.pg_advisory_xact_lock(key)))


def units(
    session: Session, tenant_id: str, tier_id: str, day: dt.date, now: dt.datetime
) -> tuple[int, int, bool]:
    """(capacity, taken, blacked out) of a tier on a date, read under ``lock_unit``."""
    t, tier = uuid.UUID(tenant_id), uuid.UUID(tier_id)
    default = session.scalar(select(m.Tenant.default_capacity).where(m.Tenant.id == t))
    capacity = session.scalar(
        select(m.Capacity.units).where(
            m.Capacity.tenant_id == t, m.Capacity.tier_id == tier, m.Capacity.service_date == day
        )
    )
    held = session.scalar(
        select(func.coalesce(func.sum(m.Hold.units), 0)).where(
            m.Hold.tenant_id == t, m.Hold.tier_id == tier, m.Hold.service_date == day,
            m.Hold.status == "active", m.Hold.expires_at > now,
        )
    )  # fmt: skip
    booked = session.scalar(
        select(func.count()).where(
            m.Booking.tenant_id == t, m.Booking.tier_id == tier, m.Booking.service_date == day,
            m.Booking.status.in_(OCCUPYING_BOOKINGS),
            m.Booking.kind == "booking",
        )
    )  # fmt: skip
    closed = session.scalar(
        select(func.count()).where(
            m.Blackout.tenant_id == t, m.Blackout.service_date == day,
            (m.Blackout.tier_id.is_(None)) | (m.Blackout.tier_id == tier),
        )
    )  # fmt: skip
    return (
        (int(default or 0) if capacity is None else int(capacity)),
        int(held or 0) + int(booked or 0),
        bool(closed),
    )


@dataclass(frozen=True)
class BookingRow:
    id: str
    tenant_id: str
    segment_id: str
    tier_id: str
    service_date: dt.date
    guests: int
    add_on_ids: list[str]
    currency: str
    total: int
    platform_fee: int
    status: str
    hold_id: str | None
    checkout_session_id: str | None
    payment_intent_id: str | None
    customer_email: str
    kind: str = "booking"
    parent_booking_id: str | None = None


def _booking(row: m.Booking) -> BookingRow:
    return BookingRow(
        str(row.id), str(row.tenant_id), str(row.segment_id), str(row.tier_id), row.service_date,
        row.guests, list(row.add_on_ids), row.currency, row.total_minor, row.platform_fee_minor,
        row.status, str(row.hold_id) if row.hold_id else None, row.checkout_session_id,
        row.payment_intent_id, row.customer_email, row.kind,
        str(row.parent_booking_id) if row.parent_booking_id else None,
    )  # fmt: skip


def create_booking(
    session: Session, *, tenant_id: str, expires_at: dt.datetime, **fields: Any
) -> BookingRow:
    """A pending booking and the active hold on its unit."""
    booking = m.Booking(tenant_id=uuid.UUID(tenant_id), id=uuid.uuid4(), status="pending", **fields)
    hold = m.Hold(
        tenant_id=booking.tenant_id, id=uuid.uuid4(), tier_id=booking.tier_id,
        service_date=booking.service_date, units=1, status="active", expires_at=expires_at,
        booking_id=booking.id,
    )  # fmt: skip
    booking.hold_id = hold.id
    session.add_all([booking, hold])
    session.flush()
    return _booking(booking)


def booking_row(
    session: Session, tenant_id: str, booking_id: str, *, lock: bool = False
) -> BookingRow:
    row = _booking_orm(session, tenant_id, booking_id, lock=lock)
    return _booking(row)


def _booking_orm(
    session: Session, tenant_id: str, booking_id: str, *, lock: bool = False
) -> m.Booking:
    key = as_uuid(booking_id)
    tenant = as_uuid(tenant_id)
    row = session.get(m.Booking, (tenant, key), with_for_update=lock) if key and tenant else None
    if row is None:
        raise NotFound("booking not found.", code="booking_not_found")
    return row


def list_bookings(
    session: Session,
    tenant_id: str,
    status: str | None,
    day: dt.date | None,
    offset: int,
    limit: int,
) -> Page[BookingRow]:
    stmt = select(m.Booking).where(m.Booking.tenant_id == uuid.UUID(tenant_id))
    if status:
        stmt = stmt.where(m.Booking.status == status)
    if day:
        stmt = stmt.where(m.Booking.service_date == day)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(m.Booking.created_at.desc()).offset(offset).limit(limit)
    ).all()
    return Page([_booking(r) for r in rows], int(total))


def tier_segment(session: Session, tenant_id: str, tier_id: str) -> str:
    row = session.get(m.Tier, (uuid.UUID(tenant_id), as_uuid(tier_id)))
    if row is None:
        raise NotFound("tier not found.", code="tier_not_found")
    return str(row.segment_id)


def find_booking_by_session(session: Session, checkout_session_id: str) -> BookingRow | None:
    row = session.scalars(
        select(m.Booking).where(m.Booking.checkout_session_id == checkout_session_id)
    ).first()
    return _booking(row) if row else None


def create_refund_record(
    session: Session, parent: BookingRow, amount: int, fee: int, tier_id: str
) -> BookingRow:
    """A partial refund owed on ``parent``'s payment (kind ``downgrade``): no hold, no unit; the
    refund is requested from it (and retried by the sweeper until the provider accepts it)."""
    row = m.Booking(
        tenant_id=uuid.UUID(parent.tenant_id), id=uuid.uuid4(), kind="downgrade",
        parent_booking_id=uuid.UUID(parent.id), segment_id=uuid.UUID(parent.segment_id),
        tier_id=uuid.UUID(tier_id), service_date=parent.service_date, guests=parent.guests,
        add_on_ids=parent.add_on_ids, currency=parent.currency, total_minor=amount,
        platform_fee_minor=fee, status="cancelled", payment_intent_id=parent.payment_intent_id,
        customer_email=parent.customer_email,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return _booking(row)


def find_booking_by_payment_intent(session: Session, payment_intent_id: str) -> BookingRow | None:
    """The booking (or upgrade payment) a payment belongs to; partial-refund records are not it."""
    row = session.scalars(
        select(m.Booking).where(
            m.Booking.payment_intent_id == payment_intent_id, m.Booking.kind != "downgrade"
        )
    ).first()
    return _booking(row) if row else None


def update_booking(session: Session, tenant_id: str, booking_id: str, **changes: Any) -> BookingRow:
    row = _booking_orm(session, tenant_id, booking_id)
    for name, value in changes.items():
        setattr(row, name, value)
    row.updated_at = m.utcnow()
    session.flush()
    return _booking(row)


def set_hold_status(session: Session, tenant_id: str, hold_id: str | None, status: str) -> None:
    if hold_id:
        session.execute(
            update(m.Hold)
            .where(
                m.Hold.tenant_id == uuid.UUID(tenant_id),
                m.Hold.id == uuid.UUID(hold_id),
                m.Hold.status == "active",
            )
            .values(status=status)
        )


def hold_is_live(session: Session, tenant_id: str, hold_id: str | None, now: dt.datetime) -> bool:
    if not hold_id:
        return False
    row = session.get(m.Hold, (uuid.UUID(tenant_id), uuid.UUID(hold_id)))
    if row is None or row.status != "active":
        return False
    return as_utc(row.expires_at) > now


def hold_expiry(session: Session, tenant_id: str, hold_id: str | None) -> dt.datetime | None:
    row = session.get(m.Hold, (uuid.UUID(tenant_id), uuid.UUID(hold_id))) if hold_id else None
    return as_utc(row.expires_at) if row is not None else None


def refunds_owed(session: Session, limit: int = 100) -> list[BookingRow]:
    """Cancelled bookings that were paid and whose refund the provider has not accepted yet."""
    rows = session.scalars(
        select(m.Booking)
        .where(
            m.Booking.status == "cancelled",
            m.Booking.payment_intent_id.is_not(None),
            m.Booking.refund_id.is_(None),
        )
        .limit(limit)
    ).all()
    return [_booking(r) for r in rows]


def expired_holds(
    session: Session, now: dt.datetime, limit: int = 500
) -> list[tuple[str, str, str | None]]:
    """(tenant id, hold id, booking id) of active holds past their expiry."""
    rows = session.execute(
        select(m.Hold.tenant_id, m.Hold.id, m.Hold.booking_id)
        .where(m.Hold.status == "active", m.Hold.expires_at <= now)
        .limit(limit)
    ).all()
    return [(str(t), str(h), str(b) if b else None) for t, h, b in rows]


# ---- idempotency keys ----------------------------------------------------------------------------


@dataclass(frozen=True)
class IdempotencyRow:
    fingerprint: str
    state: str
    resource_id: str | None
    response_status: int | None
    response_body: dict[str, Any] | None
    created_at: dt.datetime


def claim_key(
    session: Session, tenant_id: str, key: str, fingerprint: str
) -> IdempotencyRow | None:
    """Insert a running record; None if we own it now, else the existing record."""
    record = {
        "tenant_id": uuid.UUID(tenant_id),
        "key": key,
        "fingerprint": fingerprint,
        "state": "running",
    }
    if insert_new(session, m.IdempotencyRecord, record, ["tenant_id", "key"]) == 1:
        return None
    row = session.get(m.IdempotencyRecord, (uuid.UUID(tenant_id), key), with_for_update=True)
    assert row is not None
    return IdempotencyRow(
        row.fingerprint,
        row.state,
        row.resource_id,
        row.response_status,
        row.response_body,
        row.created_at,
    )


def update_key(session: Session, tenant_id: str, key: str, **changes: Any) -> None:
    session.execute(
        update(m.IdempotencyRecord)
        .where(
            m.IdempotencyRecord.tenant_id == uuid.UUID(tenant_id), m.IdempotencyRecord.key == key
        )
        .values(updated_at=m.utcnow(), **changes)
    )


def release_key(session: Session, tenant_id: str, key: str) -> None:
    """Forget a key whose request failed in a retryable way, so a retry runs again."""
    row = session.get(m.IdempotencyRecord, (uuid.UUID(tenant_id), key))
    if row is not None and row.state == "running":
        session.delete(row)
        session.flush()


# ---- payment events -----------------------------------------------------------------------------


def record_event(session: Session, event_id: str, event_type: str, payload: dict[str, Any]) -> bool:
    """Store an event; False if it was stored before (then it must not be applied again)."""
    event = {
        "id": event_id,
        "type": event_type,
        "payload": payload,
        "payment_intent_id": _payment_intent(payload),
    }
    return insert_new(session, m.PaymentEvent, event, ["id"]) == 1


def note_event(
    session: Session,
    event_id: str,
    outcome: str,
    tenant_id: str | None = None,
    booking_id: str | None = None,
) -> None:
    session.execute(
        update(m.PaymentEvent)
        .where(m.PaymentEvent.id == event_id)
        .values(
            outcome=outcome[:200],
            tenant_id=uuid.UUID(tenant_id) if tenant_id else None,
            booking_id=uuid.UUID(booking_id) if booking_id else None,
        )
    )


def _payment_intent(payload: dict[str, Any]) -> str | None:
    found = (payload.get("data") or {}).get("object", {}).get("payment_intent")
    return found if isinstance(found, str) else None


def pending_refund_for(session: Session, payment_intent_id: str) -> bool:
    """A refund event arrived for this payment before we knew the payment (out of order)."""
    found = session.scalar(
        select(func.count()).where(
            m.PaymentEvent.payment_intent_id == payment_intent_id,
            m.PaymentEvent.type == "charge.refunded",
            m.PaymentEvent.outcome == "unmatched",
        )
    )
    return bool(found)


def tenant_by_account(session: Session, account_id: str) -> str | None:
    found = session.scalar(select(m.Tenant.id).where(m.Tenant.stripe_account_id == account_id))
    return str(found) if found else None


def set_stripe_account(session: Session, tenant_id: str, account_id: str) -> None:
    """Set the tenant's connected account (a plain UPDATE: the tenant's ETag stays), recorded in
    the change audit explicitly."""
    tenant = uuid.UUID(tenant_id)
    before = stripe_account(session, tenant_id)
    session.execute(
        update(m.Tenant).where(m.Tenant.id == tenant).values(stripe_account_id=account_id)
    )
    if before != account_id:
        audit.record_change(
            session, tenant, "tenant", str(tenant), "update",
            {"stripe_account_id": before}, {"stripe_account_id": account_id},
        )  # fmt: skip


def stripe_account(session: Session, tenant_id: str) -> str | None:
    return session.scalar(
        select(m.Tenant.stripe_account_id).where(m.Tenant.id == uuid.UUID(tenant_id))
    )
