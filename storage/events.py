"""Storefront events, stored once per (tenant, client event id)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from storage import models as m


def add_events(session: Session, tenant_id: str, events: list[dict[str, Any]]) -> int:
    """Insert events, ignoring client event ids already stored; return how many were new."""
    if not events:
        return 0
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    rows = [{"tenant_id": uuid.UUID(tenant_id), "id": uuid.uuid4(), **event} for event in events]
    stmt = (
        dialect.insert(m.StorefrontEvent)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["tenant_id", "client_event_id"])
        # SQLAlchemy only guarantees rowcount for UPDATE/DELETE; for this INSERT it answered -1.
        .execution_options(preserve_rowcount=True)
    )
    return int(session.execute(stmt).rowcount or 0)  # type: ignore[attr-defined]
