"""Storefront events, stored once per (tenant, client event id)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.orm import Session

from storage import models as m
from storage.db import insert_new


def add_events(session: Session, tenant_id: str, events: list[dict[str, Any]]) -> int:
    """Insert events, ignoring client event ids already stored; return how many were new."""
    if not events:
        return 0
    rows = [{"tenant_id": uuid.UUID(tenant_id), "id": uuid.uuid4(), **event} for event in events]
    return insert_new(session, m.StorefrontEvent, rows, ["tenant_id", "client_event_id"])
