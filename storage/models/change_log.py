"""The change log: who changed what, before and after."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class AuditChange(Base):
    """A change to the catalog, rulesets, experiments, keys or tenant settings: who, when, what
    it was before and after (written in the transaction of the change)."""

    __tablename__ = "audit_changes"
    __table_args__ = (
        Index("ix_audit_changes_tenant_created", "tenant_id", "created_at"),
        Index("ix_audit_changes_tenant_entity", "tenant_id", "entity_type", "entity_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    entity_type: Mapped[str] = mapped_column(String(32))  # segment, tier, ruleset_draft, ...
    entity_id: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(16))  # create | update | delete
    actor: Mapped[str] = mapped_column(String(200), default="")
    request_id: Mapped[str] = mapped_column(String(64), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
