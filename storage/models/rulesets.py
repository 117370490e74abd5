"""Rulesets: drafts, published versions and when each is active."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, ForeignKeyConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class RulesetDraft(Base):
    """An editable ruleset document of a tenant (not evaluated for customers)."""

    __tablename__ = "ruleset_drafts"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    document: Mapped[dict[str, Any]] = mapped_column()
    based_on_version: Mapped[int | None] = mapped_column(Integer, default=None)
    created_by: Mapped[str] = mapped_column(String(200))
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RulesetVersion(Base):
    """A published ruleset: immutable, numbered per tenant, identified by its content hash."""

    __tablename__ = "ruleset_versions"
    __table_args__ = (
        CheckConstraint("number >= 1", name="number_positive"),
        Index("ix_ruleset_versions_tenant_hash", "tenant_id", "content_hash"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    content_hash: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, Any]] = mapped_column()
    author: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class RulesetActivation(Base):
    """Which version is active from when: the active version at time t is the activation not
    cancelled with the latest ``activates_at`` <= t (ties: the later one created). Publishing,
    activating and rolling back append a row (``action``: ``publish``; ``activate`` for a version
    at least as new as the one in force, ``rollback`` for an older one). The only update is the
    cancellation of a pending activation (``cancelled_at`` before its ``activates_at``, and who),
    so a cancelled activation never was in force and the history stays the audit trail."""

    __tablename__ = "ruleset_activations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "version_number"],
            ["ruleset_versions.tenant_id", "ruleset_versions.number"],
        ),
        CheckConstraint("action IN ('publish', 'activate', 'rollback')", name="action"),
        CheckConstraint(
            "(cancelled_at IS NULL AND cancelled_by IS NULL) OR (cancelled_at IS NOT NULL"
            " AND cancelled_by IS NOT NULL AND cancelled_at < activates_at)",
            name="cancelled_before_activation",
        ),
        Index("ix_ruleset_activations_tenant_time", "tenant_id", "activates_at", "sequence"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version_number: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    activates_at: Mapped[dt.datetime] = mapped_column()
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    cancelled_by: Mapped[str | None] = mapped_column(String(200), default=None)
