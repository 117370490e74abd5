"""The outbox and the webhook deliveries it fans out to.

``emit`` writes an event in the caller's transaction, with one pending delivery per active endpoint
of the tenant subscribed to its type: committed with the change that caused it, or rolled back
with it. Workers claim due deliveries (``claim_due``: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several run side by side) under a lease: a claimed delivery's ``next_attempt_at`` moves past the
longest attempt, so one whose worker died is due again then, and is delivered again (at least
once)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from pricing.errors import NotFound
from storage import models as m
from storage.db import as_utc, on_postgresql
from storage.repository import as_uuid


@dataclass(frozen=True)
class Endpoint:
    id: str
    tenant_id: str
    url: str
    events: list[str]
    description: str
    status: str
    disabled_reason: str
    secrets: list[str]  # the current one first, then the previous one during an overlap
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime
    failing_since: dt.datetime | None


@dataclass(frozen=True)
class Due:
    """A claimed delivery, with what sending it needs."""

    tenant_id: str
    id: str
    attempts: int
    created_at: dt.datetime
    event_id: str
    event_type: str
    data: dict[str, Any]
    occurred_at: dt.datetime
    endpoint: Endpoint


@dataclass(frozen=True)
class Attempt:
    delivery_id: str
    event_id: str
    event_type: str
    status: str  # the delivery's: pending | delivered | failed
    status_code: int | None
    duration_ms: int
    error: str
    attempted_at: dt.datetime
    next_retry_at: dt.datetime | None


def _endpoint(row: m.WebhookEndpoint, now: dt.datetime | None = None) -> Endpoint:
    secrets = [row.secret]
    until = as_utc(row.previous_secret_until) if row.previous_secret_until else None
    if row.previous_secret and until is not None and (now is None or until > now):
        secrets.append(row.previous_secret)
    return Endpoint(
        id=str(row.id),
        tenant_id=str(row.tenant_id),
        url=row.url,
        events=list(row.events),
        description=row.description,
        status=row.status,
        disabled_reason=row.disabled_reason,
        secrets=secrets,
        version=row.version,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        failing_since=as_utc(row.failing_since) if row.failing_since else None,
    )


def subscribed(events: list[str], event_type: str) -> bool:
    """``"*"`` takes every type; ``"booking.*"`` every booking type."""
    return any(
        e in ("*", event_type) or (e.endswith(".*") and event_type.startswith(e[:-1]))
        for e in events
    )


# ---- the outbox ---------------------------------------------------------------------------------


def emit(
    session: Session,
    tenant_id: str,
    event_type: str,
    data: dict[str, Any],
    now: dt.datetime,
    *,
    only_endpoint: str | None = None,
) -> str:
    """Write the event and its pending deliveries in the caller's transaction; the event's id.
    ``only_endpoint``: to that endpoint alone, subscribed or not (a test event)."""
    return emit_many(session, tenant_id, [(event_type, data)], now, only_endpoint=only_endpoint)[0]


def emit_many(
    session: Session,
    tenant_id: str,
    events: list[tuple[str, dict[str, Any]]],
    now: dt.datetime,
    *,
    only_endpoint: str | None = None,
) -> list[str]:
    """:func:`emit` for several events of one tenant: the endpoints are read once."""
    if not events:
        return []
    tenant = uuid.UUID(tenant_id)
    query = select(m.WebhookEndpoint.id, m.WebhookEndpoint.events).where(
        m.WebhookEndpoint.tenant_id == tenant, m.WebhookEndpoint.status == "active"
    )
    if only_endpoint is not None:
        query = query.where(m.WebhookEndpoint.id == uuid.UUID(only_endpoint))
    endpoints = session.execute(query).all()
    ids: list[str] = []
    for event_type, data in events:
        event = m.OutboxEvent(
            tenant_id=tenant, id=uuid.uuid4(), type=event_type, data=data, occurred_at=now
        )
        session.add(event)
        ids.append(str(event.id))
        for endpoint_id, subscriptions in endpoints:
            if only_endpoint is None and not subscribed(list(subscriptions), event_type):
                continue
            session.add(
                m.WebhookDelivery(
                    tenant_id=tenant,
                    id=uuid.uuid4(),
                    endpoint_id=endpoint_id,
                    event_id=event.id,
                    status="pending",
                    attempts=0,
                    next_attempt_at=now,
                    created_at=now,
                )
            )
    session.flush()
    return ids


def events_of(session: Session, tenant_id: str) -> list[tuple[str, dict[str, Any]]]:
    """The tenant's events, oldest first: (type, data)."""
    rows = session.execute(
        select(m.OutboxEvent.type, m.OutboxEvent.data)
        .where(m.OutboxEvent.tenant_id == uuid.UUID(tenant_id))
        .order_by(m.OutboxEvent.occurred_at)
    ).all()
    return [(row.type, dict(row.data)) for row in rows]


# ---- endpoints ----------------------------------------------------------------------------------


def _endpoint_row(
    session: Session, tenant_id: str, endpoint_id: str, *, lock: bool = False
) -> m.WebhookEndpoint:
    key = as_uuid(endpoint_id)
    row = (
        session.get(m.WebhookEndpoint, (uuid.UUID(tenant_id), key), with_for_update=lock)
        if key
        else None
    )
    if row is None:
        raise NotFound("Webhook endpoint not found.", code="webhook_endpoint_not_found")
    return row


def add_endpoint(
    session: Session,
    tenant_id: str,
    *,
    url: str,
    events: list[str],
    description: str,
    secret: str,
    now: dt.datetime,
) -> Endpoint:
    row = m.WebhookEndpoint(
        tenant_id=uuid.UUID(tenant_id),
        id=uuid.uuid4(),
        url=url,
        events=events,
        description=description,
        secret=secret,
        status="active",
        disabled_reason="",
        version=1,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    return _endpoint(row, now)


def get_endpoint(
    session: Session, tenant_id: str, endpoint_id: str, now: dt.datetime | None = None
) -> Endpoint:
    return _endpoint(_endpoint_row(session, tenant_id, endpoint_id), now)


def list_endpoints(
    session: Session, tenant_id: str, offset: int, limit: int
) -> tuple[list[Endpoint], int]:
    where = m.WebhookEndpoint.tenant_id == uuid.UUID(tenant_id)
    total = session.scalar(select(func.count()).select_from(m.WebhookEndpoint).where(where))
    rows = session.scalars(
        select(m.WebhookEndpoint)
        .where(where)
        .order_by(m.WebhookEndpoint.created_at.desc(), m.WebhookEndpoint.id)
        .offset(offset)
        .limit(limit)
    ).all()
    return [_endpoint(row) for row in rows], int(total or 0)


def update_endpoint(
    session: Session,
    tenant_id: str,
    endpoint_id: str,
    expected_version: int | None,
    changes: dict[str, Any],
    now: dt.datetime,
) -> Endpoint:
    """Change url, events, description or status (``active`` re-enables a disabled endpoint)."""
    from pricing.errors import PreconditionFailed

    row = _endpoint_row(session, tenant_id, endpoint_id, lock=True)
    if expected_version is not None and row.version != expected_version:
        raise PreconditionFailed(
            "The resource changed since it was read; fetch it again.", code="version_mismatch"
        )
    for name, value in changes.items():
        setattr(row, name, value)
    if changes.get("status") == "active":
        row.disabled_reason = ""
        row.failing_since = None
    row.version += 1
    row.updated_at = now
    session.flush()
    return _endpoint(row, now)


def rotate_secret(
    session: Session, tenant_id: str, endpoint_id: str, secret: str, overlap_until: dt.datetime
) -> Endpoint:
    row = _endpoint_row(session, tenant_id, endpoint_id, lock=True)
    row.previous_secret, row.previous_secret_until = row.secret, overlap_until
    row.secret = secret
    row.version += 1
    session.flush()
    return _endpoint(row)


def remove_endpoint(session: Session, tenant_id: str, endpoint_id: str) -> None:
    row = _endpoint_row(session, tenant_id, endpoint_id)
    session.execute(
        delete(m.WebhookDelivery).where(
            m.WebhookDelivery.tenant_id == row.tenant_id,
            m.WebhookDelivery.endpoint_id == row.id,
        )
    )
    session.delete(row)
    session.flush()


def disable_endpoint(
    session: Session, tenant_id: str, endpoint_id: str, reason: str, now: dt.datetime
) -> bool:
    """Disable it, its pending deliveries failed; False if it was disabled already."""
    row = _endpoint_row(session, tenant_id, endpoint_id, lock=True)
    if row.status == "disabled":
        return False
    row.status, row.disabled_reason = "disabled", reason
    row.version += 1
    row.updated_at = now
    session.execute(
        update(m.WebhookDelivery)
        .where(
            m.WebhookDelivery.tenant_id == row.tenant_id,
            m.WebhookDelivery.endpoint_id == row.id,
            m.WebhookDelivery.status == "pending",
        )
        .values(status="failed", next_attempt_at=None)
    )
    return True


# ---- deliveries ---------------------------------------------------------------------------------


def claim_due(
    session: Session, now: dt.datetime, lease_until: dt.datetime, limit: int
) -> list[Due]:
    """Take up to ``limit`` deliveries due at ``now`` for this worker until ``lease_until``,
    oldest first; rows another worker has locked are skipped, and those of a disabled endpoint
    wait for it to be enabled again. Commit to hand them out."""
    d, e, w = m.WebhookDelivery, m.OutboxEvent, m.WebhookEndpoint
    query = (
        select(d, e, w)
        .join(e, (e.tenant_id == d.tenant_id) & (e.id == d.event_id))
        .join(w, (w.tenant_id == d.tenant_id) & (w.id == d.endpoint_id))
        .where(d.status == "pending", d.next_attempt_at <= now, w.status == "active")
        .order_by(d.next_attempt_at)
        .limit(limit)
    )
    if on_postgresql(session):
        query = query.with_for_update(of=d, skip_locked=True)
    rows = session.execute(query).all()
    claimed: list[Due] = []
    for delivery, event, endpoint in rows:
        claimed.append(
            Due(
                tenant_id=str(delivery.tenant_id),
                id=str(delivery.id),
                attempts=delivery.attempts,
                created_at=as_utc(delivery.created_at),
                event_id=str(event.id),
                event_type=event.type,
                data=dict(event.data),
                occurred_at=as_utc(event.occurred_at),
                endpoint=_endpoint(endpoint, now),
            )
        )
    if rows:
        session.execute(
            update(d)
            .where(
                d.tenant_id.in_({delivery.tenant_id for delivery, _, _ in rows}),
                d.id.in_([delivery.id for delivery, _, _ in rows]),
            )
            .values(next_attempt_at=lease_until)
            .execution_options(synchronize_session=False)
        )
    return claimed


def record_attempt(
    session: Session,
    due: Due,
    *,
    attempted_at: dt.datetime,
    status_code: int | None,
    duration_ms: int,
    error: str,
    delivered: bool,
    next_retry_at: dt.datetime | None,
) -> None:
    """The attempt's outcome: delivered, due again at ``next_retry_at``, or given up (neither).
    The endpoint's ``failing_since`` is set by its first failure and cleared by a success."""
    tenant = uuid.UUID(due.tenant_id)
    status = "delivered" if delivered else ("pending" if next_retry_at else "failed")
    quick = {"synchronize_session": False}
    # the endpoint's row first, as disabling it does (then its deliveries): one lock order
    endpoint = m.WebhookEndpoint
    where = (endpoint.tenant_id == tenant, endpoint.id == uuid.UUID(due.endpoint.id))
    # the endpoint's streak changes only on its first failure, or its first success after some
    if delivered and due.endpoint.failing_since is not None:
        session.execute(
            update(endpoint).where(*where).values(failing_since=None).execution_options(**quick)
        )
    elif not delivered:
        session.execute(
            update(endpoint)
            .where(*where, endpoint.failing_since.is_(None))
            .values(failing_since=attempted_at)
            .execution_options(**quick)
        )
    session.execute(
        update(m.WebhookDelivery)
        .where(m.WebhookDelivery.tenant_id == tenant, m.WebhookDelivery.id == uuid.UUID(due.id))
        .values(
            status=status,
            attempts=m.WebhookDelivery.attempts + 1,
            next_attempt_at=next_retry_at,
        )
        .execution_options(**quick)
    )
    session.execute(
        insert(m.WebhookAttempt).values(
            tenant_id=tenant,
            id=uuid.uuid4(),
            delivery_id=uuid.UUID(due.id),
            attempted_at=attempted_at,
            status_code=status_code,
            duration_ms=duration_ms,
            error=error[:1000],
            next_retry_at=next_retry_at,
        )
    )


def failing_since(session: Session, tenant_id: str, endpoint_id: str) -> dt.datetime | None:
    value = session.scalar(
        select(m.WebhookEndpoint.failing_since).where(
            m.WebhookEndpoint.tenant_id == uuid.UUID(tenant_id),
            m.WebhookEndpoint.id == uuid.UUID(endpoint_id),
        )
    )
    return as_utc(value) if value else None


def first_attempt(session: Session, tenant_id: str, delivery_id: str) -> dt.datetime | None:
    value = session.scalar(
        select(func.min(m.WebhookAttempt.attempted_at)).where(
            m.WebhookAttempt.tenant_id == uuid.UUID(tenant_id),
            m.WebhookAttempt.delivery_id == uuid.UUID(delivery_id),
        )
    )
    return as_utc(value) if value else None


def attempts_of(
    session: Session, tenant_id: str, endpoint_id: str, offset: int, limit: int
) -> tuple[list[Attempt], int]:
    """Every attempt at the endpoint, newest first; a delivery not yet tried is listed as one
    attempt without a time."""
    tenant = uuid.UUID(tenant_id)
    d, a, e = m.WebhookDelivery, m.WebhookAttempt, m.OutboxEvent
    base = (
        select(d, a, e.type)
        .join(e, (e.tenant_id == d.tenant_id) & (e.id == d.event_id))
        .outerjoin(a, (a.tenant_id == d.tenant_id) & (a.delivery_id == d.id))
        .where(d.tenant_id == tenant, d.endpoint_id == uuid.UUID(endpoint_id))
    )
    total = session.scalar(select(func.count()).select_from(base.subquery()))
    rows = session.execute(
        base.order_by(
            func.coalesce(a.attempted_at, d.created_at).desc(), d.id, a.attempted_at.desc()
        )
        .offset(offset)
        .limit(limit)
    ).all()
    attempts = []
    for delivery, attempt, event_type in rows:
        attempts.append(
            Attempt(
                delivery_id=str(delivery.id),
                event_id=str(delivery.event_id),
                event_type=event_type,
                status=delivery.status,
                status_code=attempt.status_code if attempt else None,
                duration_ms=attempt.duration_ms if attempt else 0,
                error=attempt.error if attempt else "",
                attempted_at=as_utc(attempt.attempted_at if attempt else delivery.created_at),
                next_retry_at=(
                    as_utc(attempt.next_retry_at)
                    if attempt and attempt.next_retry_at
                    else (
                        as_utc(delivery.next_attempt_at)
                        if attempt is None and delivery.next_attempt_at
                        else None
                    )
                ),
            )
        )
    return attempts, int(total or 0)


def retry_delivery(
    session: Session, tenant_id: str, endpoint_id: str, delivery_id: str, now: dt.datetime
) -> None:
    """Make the delivery due now again, whatever became of it."""
    key = as_uuid(delivery_id)
    row = session.get(m.WebhookDelivery, (uuid.UUID(tenant_id), key)) if key else None
    if row is None or str(row.endpoint_id) != str(as_uuid(endpoint_id)):
        raise NotFound("Delivery not found.", code="delivery_not_found")
    row.status, row.next_attempt_at = "pending", now
    session.flush()


def pending_count(session: Session) -> int:
    return int(
        session.scalar(
            select(func.count())
            .select_from(m.WebhookDelivery)
            .where(m.WebhookDelivery.status == "pending")
        )
        or 0
    )
