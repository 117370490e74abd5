"""Storefront events, stored once per (tenant, client event id)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from storage import models as m
from storage.db import as_utc, insert_new


def add_events(session: Session, tenant_id: str, events: list[dict[str, Any]]) -> int:
    """Insert events, ignoring client event ids already stored; return how many were new.
    ``occurred_at`` is stored in UTC: SQLite keeps a datetime's wall clock and drops its offset,
    so only UTC values compare correctly there (analytics ranges)."""
    if not events:
        return 0
    rows = [
        {
            "tenant_id": uuid.UUID(tenant_id),
            "id": uuid.uuid4(),
            **event,
            "occurred_at": as_utc(event["occurred_at"]).astimezone(dt.UTC),
        }
        for event in events
    ]
    return insert_new(session, m.StorefrontEvent, rows, ["tenant_id", "client_event_id"])


def known_client_ids(session: Session, tenant_id: str, client_event_ids: list[str]) -> set[str]:
    """Which of these client event ids the tenant's events already have."""
    if not client_event_ids:
        return set()
    return set(
        session.scalars(
            select(m.StorefrontEvent.client_event_id).where(
                m.StorefrontEvent.tenant_id == uuid.UUID(tenant_id),
                m.StorefrontEvent.client_event_id.in_(client_event_ids),
            )
        )
    )
