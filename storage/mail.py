"""Customer emails queued with the events that cause them (``storage/outbox.py``), claimed and
recorded by the delivery loop."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from storage import models as m
from storage.db import as_utc, on_postgresql


@dataclass(frozen=True)
class MailDue:
    tenant_id: str
    id: str
    attempts: int
    created_at: dt.datetime
    template: str
    to_address: str
    data: dict[str, Any]
    tenant_name: str


def queue_mail(
    session: Session, tenant_id: str, event_id: str, template: str, to: str, now: dt.datetime
) -> None:
    session.add(
        m.MailMessage(
            tenant_id=uuid.UUID(tenant_id),
            id=uuid.uuid4(),
            event_id=uuid.UUID(event_id),
            template=template,
            to_address=to,
            status="pending",
            attempts=0,
            next_attempt_at=now,
            last_error="",
            created_at=now,
        )
    )
    session.flush()


def note(
    session: Session, tenant_id: str, event_type: str, data: dict[str, Any], now: dt.datetime
) -> str:
    """An outbox event that only emails carry (no webhook delivery): its id, for
    :func:`queue_mail`."""
    event = m.OutboxEvent(
        tenant_id=uuid.UUID(tenant_id), id=uuid.uuid4(), type=event_type, data=data, occurred_at=now
    )
    session.add(event)
    session.flush()
    return str(event.id)


def recipients(session: Session, tenant_id: str) -> tuple[str, list[str]]:
    """The tenant's notification address ("" if none) and its admins' emails."""
    tenant = uuid.UUID(tenant_id)
    address = session.scalar(select(m.Tenant.notification_email).where(m.Tenant.id == tenant))
    admins = session.scalars(
        select(m.User.email)
        .where(m.User.tenant_id == tenant, m.User.role == "tenant_admin")
        .order_by(m.User.email)
    ).all()
    return address or "", list(admins)


def claim_mail(
    session: Session, now: dt.datetime, lease_until: dt.datetime, limit: int
) -> list[MailDue]:
    """:func:`claim_due` for emails."""
    q, e, t = m.MailMessage, m.OutboxEvent, m.Tenant
    query = (
        select(q, e.data, t.name)
        .join(e, (e.tenant_id == q.tenant_id) & (e.id == q.event_id))
        .join(t, t.id == q.tenant_id)
        .where(q.status == "pending", q.next_attempt_at <= now)
        .order_by(q.next_attempt_at)
        .limit(limit)
    )
    if on_postgresql(session):
        query = query.with_for_update(of=q, skip_locked=True)
    rows = session.execute(query).all()
    for message, _, _ in rows:
        message.next_attempt_at = lease_until
    session.flush()
    return [
        MailDue(
            tenant_id=str(message.tenant_id),
            id=str(message.id),
            attempts=message.attempts,
            created_at=as_utc(message.created_at),
            template=message.template,
            to_address=message.to_address,
            data=dict(data),
            tenant_name=name,
        )
        for message, data, name in rows
    ]


def mail_context(session: Session, tenant_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """What a booking email shows besides its event's data: tier and add-on names, the segment's
    theme. Nothing for a message that is not about a booking."""
    if "tier_id" not in data:
        return {}
    tenant = uuid.UUID(tenant_id)
    tier = session.get(m.Tier, (tenant, uuid.UUID(data["tier_id"])))
    segment = session.get(m.Segment, (tenant, uuid.UUID(data["segment_id"])))
    add_ons = session.scalars(
        select(m.AddOn.name).where(
            m.AddOn.tenant_id == tenant,
            m.AddOn.id.in_([uuid.UUID(a) for a in data.get("add_on_ids", [])]),
        )
    ).all()
    return {
        "tier_name": tier.name if tier else "",
        "segment_name": segment.name if segment else "",
        "theme": dict(segment.theme) if segment and segment.theme else {},
        "add_on_names": list(add_ons),
    }


def record_mail(
    session: Session, due: MailDue, *, sent: bool, error: str, next_retry_at: dt.datetime | None
) -> None:
    status = "sent" if sent else ("pending" if next_retry_at else "failed")
    session.execute(
        update(m.MailMessage)
        .where(m.MailMessage.tenant_id == uuid.UUID(due.tenant_id))
        .where(m.MailMessage.id == uuid.UUID(due.id))
        .values(
            status=status,
            attempts=m.MailMessage.attempts + 1,
            next_attempt_at=next_retry_at,
            last_error=error[:1000],
        )
        .execution_options(synchronize_session=False)
    )
