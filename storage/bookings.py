"""Bookings, as the offers and checkout use cases read them."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy.orm import Session

from pricing.errors import NotFound
from storage import models as m
from storage.repository import as_uuid


@dataclass(frozen=True)
class BookingView:
    id: str
    segment_id: str
    tier_id: str
    service_date: dt.date
    guests: int
    add_on_ids: list[str]
    status: str
    total: int
    currency: str
    visitor_id: str = ""
    platform_fee: int = 0


def get_booking(session: Session, tenant_id: str, booking_id: str) -> BookingView:
    key = as_uuid(booking_id)
    row = session.get(m.Booking, (uuid.UUID(tenant_id), key)) if key else None
    if row is None:
        raise NotFound("booking not found.", code="booking_not_found")
    return BookingView(
        id=str(row.id),
        segment_id=str(row.segment_id),
        tier_id=str(row.tier_id),
        service_date=row.service_date,
        guests=row.guests,
        add_on_ids=list(row.add_on_ids),
        status=row.status,
        total=row.total_minor,
        currency=row.currency,
        visitor_id=row.visitor_id,
        platform_fee=row.platform_fee_minor,
    )
