"""Idempotency keys of tenants' POSTs."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class IdempotencyRecord(Base):
    """An ``Idempotency-Key`` of a tenant's POST: the request's fingerprint and, once done, the
    response to replay for 24 h. ``resource_id`` lets a retry after a crash resume the same work."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        CheckConstraint("state IN ('running', 'retry', 'done')", name="state"),
        Index("ix_idempotency_keys_tenant_created", "tenant_id", "created_at"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="running")
    resource_id: Mapped[str | None] = mapped_column(String(64), default=None)
    response_status: Mapped[int | None] = mapped_column(Integer, default=None)
    response_body: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    #: The current owner's token and how long its claim lasts: a ``running`` record is taken
    #: over only when its lease has lapsed (its owner died), by exactly one retry.
    owner: Mapped[str | None] = mapped_column(String(36), default=None)
    lease_expires_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
