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
from storage import change_log
from storage import models as m
from storage.availability import day_counts
from storage.db import as_utc, insert_new, on_postgresql
from storage.repository import Page, as_uuid

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
    """(capacity, taken, blacked out) of a tier on a date, read under ``lock_unit``: the counts
    offers price with (``storage.availability.day_counts``), for one day."""
    counts = day_counts(session, tenant_id, day, day, now)
    default = session.scalar(
        select(m.Tenant.default_capacity).where(m.Tenant.id == uuid.UUID(tenant_id))
    )
    return (
        counts.capacity_of(tier_id, day, int(default or 0)),
        counts.taken_of(tier_id, day),
        counts.blacked_out(tier_id, day),
    )


def no_unit(
    session: Session, tenant_id: str, tier_id: str, day: dt.date, now: dt.datetime
) -> str | None:
    """Why no unit of a tier on a date can be taken now (``tier_blacked_out``, ``sold_out``), or
    None: a unit is free. Takes ``lock_unit`` first, so what it counts stays true until the
    transaction ends (every taking of a unit goes through here: never oversold)."""
    lock_unit(session, tenant_id, tier_id, day)
    capacity, taken, closed = units(session, tenant_id, tier_id, day, now)
    if closed:
        return "tier_blacked_out"
    return "sold_out" if taken >= capacity else None


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
    from_tier_id: str | None = None
    checkout_url: str | None = None
    customer_name: str = ""
    quote_id: str = ""
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None

    @property
    def root_id(self) -> str:
        """The booking this row's money and state belong to (itself, or an upgrade's booking)."""
        return self.parent_booking_id or self.id


def _booking(row: m.Booking) -> BookingRow:
    return BookingRow(
        id=str(row.id),
        tenant_id=str(row.tenant_id),
        segment_id=str(row.segment_id),
        tier_id=str(row.tier_id),
        service_date=row.service_date,
        guests=row.guests,
        add_on_ids=list(row.add_on_ids),
        currency=row.currency,
        total=row.total_minor,
        platform_fee=row.platform_fee_minor,
        status=row.status,
        hold_id=str(row.hold_id) if row.hold_id else None,
        checkout_session_id=row.checkout_session_id,
        payment_intent_id=row.payment_intent_id,
        customer_email=row.customer_email,
        kind=row.kind,
        parent_booking_id=str(row.parent_booking_id) if row.parent_booking_id else None,
        from_tier_id=str(row.from_tier_id) if row.from_tier_id else None,
        checkout_url=row.checkout_url,
        customer_name=row.customer_name,
        quote_id=row.quote_id,
        created_at=as_utc(row.created_at) if row.created_at else None,
        updated_at=as_utc(row.updated_at) if row.updated_at else None,
    )


def create_booking(
    session: Session, *, tenant_id: str, expires_at: dt.datetime, **fields: Any
) -> BookingRow:
    """A pending booking and the active hold on its unit."""
    booking = m.Booking(tenant_id=uuid.UUID(tenant_id), id=uuid.uuid4(), status="pending", **fields)
    hold = m.Hold(
        tenant_id=booking.tenant_id,
        id=uuid.uuid4(),
        tier_id=booking.tier_id,
        service_date=booking.service_date,
        units=1,
        status="active",
        expires_at=expires_at,
        booking_id=booking.id,
    )
    booking.hold_id = hold.id
    session.add_all([booking, hold])
    session.flush()
    return _booking(booking)


def booking_row(
    session: Session, tenant_id: str, booking_id: str, *, lock: bool = False
) -> BookingRow:
    row = _booking_orm(session, tenant_id, booking_id, lock=lock)
    return _booking(row)


def lock_booking(session: Session, tenant_id: str, booking_id: str) -> BookingRow:
    """The booking row, locked (``SELECT … FOR UPDATE``, waited for at most LOCK_TIMEOUT) until
    the transaction ends, and read after the lock was granted: every change of a booking's state
    or money holds it. Lock order: a payment's lock (``lock_payment``), then the booking, then its
    upgrade rows, then units (``lock_unit``)."""
    if on_postgresql(session):
        session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    return _booking(_booking_orm(session, tenant_id, booking_id, lock=True))


def lock_payment(session: Session, payment_intent_id: str) -> None:
    """Serialise everything that happens to one provider payment (its completion, its refunds),
    even before we know which booking it belongs to (a refund can arrive first)."""
    if not on_postgresql(session):
        return
    digest = hashlib.sha256(f"payment:{payment_intent_id}".encode()).digest()
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    session.execute(
        select(func.pg_advisory_xact_lock(int.from_bytes(digest[:8], "big", signed=True)))
    )


def changes_of(session: Session, tenant_id: str, booking_id: str) -> list[BookingRow]:
    """The upgrade payments of a booking, oldest first."""
    rows = session.scalars(
        select(m.Booking)
        .where(
            m.Booking.tenant_id == uuid.UUID(tenant_id),
            m.Booking.parent_booking_id == uuid.UUID(booking_id),
        )
        .order_by(m.Booking.created_at)
    )
    return [_booking(r) for r in rows]


def pending_for_quote(session: Session, tenant_id: str, quote_id: str) -> list[BookingRow]:
    """Bookings made from one quote that are pending or paid (a quote is booked once)."""
    if not quote_id:
        return []
    rows = session.scalars(
        select(m.Booking).where(
            m.Booking.tenant_id == uuid.UUID(tenant_id),
            m.Booking.kind == "booking",
            m.Booking.quote_id == quote_id,
            m.Booking.status.in_(("pending", "paid")),
        )
    )
    return [_booking(r) for r in rows]


def _booking_orm(
    session: Session, tenant_id: str, booking_id: str, *, lock: bool = False
) -> m.Booking:
    key = as_uuid(booking_id)
    tenant = as_uuid(tenant_id)
    row = (
        session.get(m.Booking, (tenant, key), with_for_update=lock, populate_existing=lock)
        if key and tenant
        else None
    )
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
    stmt = select(m.Booking).where(
        m.Booking.tenant_id == uuid.UUID(tenant_id), m.Booking.kind == "booking"
    )
    if status:
        stmt = stmt.where(m.Booking.status == status)
    if day:
        stmt = stmt.where(m.Booking.service_date == day)
    total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
    rows = session.scalars(
        stmt.order_by(m.Booking.created_at.desc()).offset(offset).limit(limit)
    ).all()
    return Page([_booking(r) for r in rows], int(total))


def add_on_names(session: Session, tenant_id: str, add_on_ids: list[str]) -> dict[str, str]:
    """Add-on id -> name, for the ids that still exist."""
    keys = [k for k in (as_uuid(a) for a in add_on_ids) if k is not None]
    if not keys:
        return {}
    rows = session.execute(
        select(m.AddOn.id, m.AddOn.name).where(
            m.AddOn.tenant_id == uuid.UUID(tenant_id), m.AddOn.id.in_(keys)
        )
    )
    return {str(i): name for i, name in rows}


def quoted_price(session: Session, tenant_id: str, quote_id: str) -> dict[str, Any] | None:
    """The price a quote was made at, as its decision record keeps it (``context.price``)."""
    if not quote_id:
        return None
    context = session.scalars(
        select(m.Decision.context).where(
            m.Decision.tenant_id == uuid.UUID(tenant_id),
            m.Decision.quote_id == quote_id,
            m.Decision.purpose == "quote",
        )
    ).first()
    price = (context or {}).get("price")
    return price if isinstance(price, dict) else None


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


def payment_intent_of(payload: dict[str, Any]) -> str | None:
    """The provider payment an event is about, if it names one."""
    return _payment_intent(payload)


def _payment_intent(payload: dict[str, Any]) -> str | None:
    found = (payload.get("data") or {}).get("object", {}).get("payment_intent")
    return found if isinstance(found, str) else None


def early_refunds(session: Session, payment_intent_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(event id, charge) of refund events that arrived for this payment before we knew the
    payment (out of order), not yet applied."""
    rows = session.execute(
        select(m.PaymentEvent.id, m.PaymentEvent.payload).where(
            m.PaymentEvent.payment_intent_id == payment_intent_id,
            m.PaymentEvent.type == "charge.refunded",
            m.PaymentEvent.outcome == "unmatched",
        )
    ).all()
    return [
        (event_id, (payload.get("data") or {}).get("object") or {}) for event_id, payload in rows
    ]


def tenant_by_account(session: Session, account_id: str) -> str | None:
    found = session.scalar(select(m.Tenant.id).where(m.Tenant.stripe_account_id == account_id))
    return str(found) if found else None


def set_stripe_account(session: Session, tenant_id: str, account_id: str) -> None:
    """Set the tenant's connected account (a plain UPDATE: the tenant's ETag stays), recorded in
    the change log explicitly."""
    tenant = uuid.UUID(tenant_id)
    before = stripe_account(session, tenant_id)
    session.execute(
        update(m.Tenant).where(m.Tenant.id == tenant).values(stripe_account_id=account_id)
    )
    if before != account_id:
        change_log.record_change(
            session,
            tenant,
            "tenant",
            str(tenant),
            "update",
            {"stripe_account_id": before},
            {"stripe_account_id": account_id},
        )


def stripe_account(session: Session, tenant_id: str) -> str | None:
    return session.scalar(
        select(m.Tenant.stripe_account_id).where(m.Tenant.id == uuid.UUID(tenant_id))
    )
