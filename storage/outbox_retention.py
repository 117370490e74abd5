"""Outbox retention: events whose every webhook delivery was delivered and every email sent are
removed once they are older than the retention (``tierwise sweep``), with their deliveries,
attempts and emails. Events with a delivery or an email still pending or given up on (failed)
stay: they can be looked at and retried; they go with their endpoint when it is deleted. Not
tenant-scoped: a maintenance job over every tenant, like the decision purge."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from storage import models as m
from storage.db import rows_written


def purge_delivered(session: Session, before: dt.datetime, limit: int) -> int:
    """Remove up to ``limit`` events that happened before ``before`` and are done (every delivery
    ``delivered``, every email ``sent``; an event no endpoint took is done too), with their
    deliveries, attempts and emails; how many events were removed."""
    e, d, a, q = m.OutboxEvent, m.WebhookDelivery, m.WebhookAttempt, m.MailMessage
    open_delivery = (
        select(d.id)
        .where(d.tenant_id == e.tenant_id, d.event_id == e.id, d.status != "delivered")
        .exists()
    )
    open_mail = (
        select(q.id)
        .where(q.tenant_id == e.tenant_id, q.event_id == e.id, q.status != "sent")
        .exists()
    )
    ids = list(
        session.scalars(
            select(e.id)
            .where(e.occurred_at < before, ~open_delivery, ~open_mail)
            .order_by(e.occurred_at)
            .limit(limit)
        )
    )
    if not ids:
        return 0
    quick = {"synchronize_session": False}
    deliveries = select(d.id).where(d.event_id.in_(ids), d.status == "delivered")
    session.execute(delete(a).where(a.delivery_id.in_(deliveries)).execution_options(**quick))
    # a delivery made due again meanwhile (retried by its admin) stays, and so does its event
    session.execute(
        delete(d).where(d.event_id.in_(ids), d.status == "delivered").execution_options(**quick)
    )
    session.execute(
        delete(q).where(q.event_id.in_(ids), q.status == "sent").execution_options(**quick)
    )
    removed = session.execute(
        delete(e)
        .where(
            e.id.in_(ids),
            ~select(d.id).where(d.tenant_id == e.tenant_id, d.event_id == e.id).exists(),
            ~select(q.id).where(q.tenant_id == e.tenant_id, q.event_id == e.id).exists(),
        )
        .execution_options(**quick)
    )
    return rows_written(removed)
