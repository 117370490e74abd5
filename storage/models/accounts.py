"""Console accounts: people who sign in to the admin console, and their server-side sessions."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class User(Base):
    """A tenant's user (``tenant_admin`` | ``analyst``) or a platform admin (no tenant). The email
    is stored lowercased and is unique across tenants: it names the account at sign-in, before
    the tenant is known. Only an argon2id hash of the password is kept."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('platform_admin', 'tenant_admin', 'analyst')", name="role"),
        CheckConstraint(
            "(role = 'platform_admin') = (tenant_id IS NULL)", name="tenant_matches_role"
        ),
        Index("ix_users_tenant", "tenant_id", "email"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id"), default=None)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ConsoleSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored, so a
    copy of the table signs nobody in. Ending a session (sign-out) or removing its user makes the
    cookie worthless at once."""

    __tablename__ = "console_sessions"
    __table_args__ = (Index("ix_console_sessions_user", "user_id"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column()
