"""What tests read back from the database: rows of a tenant, as stored."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import func, select

from storage import models as m


def count(db, model, tenant_id: str) -> int:
    """How many rows of ``model`` (a table with a ``tenant_id``) the tenant has."""
    with db.transaction() as s:
        return s.scalar(
            select(func.count()).select_from(model).where(model.tenant_id == uuid.UUID(tenant_id))
        )


def decision_row(db, decision_id: str) -> m.Decision:
    with db.transaction() as s:
        row = s.scalar(select(m.Decision).where(m.Decision.id == uuid.UUID(decision_id)))
        assert row is not None
        return row


def execute(db, statement) -> None:
    """Run ``statement`` (a change made behind the application's back) in a transaction."""
    with db.transaction() as s:
        s.execute(statement)


def add_booking(
    db,
    tenant,
    tier: Any,
    day: dt.date,
    status: str,
    guests: int = 2,
    total: int = 30000,
    fee: int = 3000,
) -> str:
    """A booking stored directly (no hold, no payment records) of ``tier`` (one of the tenant
    fixture's tiers, or its id) in ``status``: its id."""
    if isinstance(tier, str):
        tier = next(t for t in tenant.tiers if t.id == tier)
    booking_id = uuid.uuid4()
    with db.transaction() as s:
        s.add(
            m.Booking(
                tenant_id=uuid.UUID(tenant.tenant.id),
                id=booking_id,
                segment_id=uuid.UUID(tier.segment_id),
                tier_id=uuid.UUID(tier.id),
                service_date=day,
                guests=guests,
                add_on_ids=[],
                currency="EUR",
                total_minor=total,
                platform_fee_minor=fee,
                status=status,
            )
        )
    return str(booking_id)
