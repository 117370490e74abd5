"""Which browser origins storefront keys allow (CORS): the one query that looks across tenants,
because a preflight carries no key (``app/http/cors.py``)."""

from __future__ import annotations

from sqlalchemy import String, cast, select
from sqlalchemy.orm import Session

from storage import models as m


def _like(origin: str) -> str:
    escaped = origin.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f'%"{escaped}"%'


def allowed_by_an_active_key(session: Session, origin: str) -> bool:
    """Does some unrevoked key of an active tenant list ``origin``? The JSON column is narrowed
    as text (LIKE, on PostgreSQL and SQLite alike), then each candidate's list is checked exactly."""
    rows = session.scalars(
        select(m.ApiKey.allowed_origins)
        .join(m.Tenant, m.Tenant.id == m.ApiKey.tenant_id)
        .where(
            m.ApiKey.revoked_at.is_(None),
            m.Tenant.status == "active",
            cast(m.ApiKey.allowed_origins, String).like(_like(origin), escape="\\"),
        )
        .limit(20)
    ).all()
    return any(origin in (origins or []) for origins in rows)
