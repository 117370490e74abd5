"""Tenants, their storefront keys and their catalog: segments, tiers, add-ons."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import STATUS_ACTIVE, Base, partial_where, utcnow


class Tenant(Base):
    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended')", name="status"),
        CheckConstraint("default_capacity >= 0", name="default_capacity_non_negative"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    time_zone: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="active")
    default_capacity: Mapped[int] = mapped_column(Integer, default=0)
    #: Bumped (by a plain UPDATE, not the ORM) in the transaction of every catalog change; catalog
    #: snapshots are cached under it, so an acknowledged edit is never served stale.
    catalog_version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    stripe_account_id: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Cancellation policy: paid bookings cancelled at least this many hours before the service
    #: date are refunded (transfer reversed; the platform fee too if refund_application_fee).
    refund_window_hours: Mapped[int] = mapped_column(Integer, default=48, server_default="48")
    refund_application_fee: Mapped[bool] = mapped_column(Boolean, default=True, server_default="1")
    #: Decisions older than this many days are purged by ``tierwise purge-decisions`` (None: kept).
    decision_retention_days: Mapped[int | None] = mapped_column(Integer, default=None)
    #: Where new bookings and disabled webhook endpoints are announced ("": nobody but the
    #: tenant's admins, who hear of disabled endpoints).
    notification_email: Mapped[str] = mapped_column(String(254), default="")
    #: Rate-limit overrides set by platform admins (flask-limiter notation or "off"; None: the
    #: RATE_LIMIT_STOREFRONT / RATE_LIMIT_ADMIN setting applies).
    rate_limit_storefront: Mapped[str | None] = mapped_column(String(100), default=None)
    rate_limit_admin: Mapped[str | None] = mapped_column(String(100), default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # optimistic locking; the ETag is this version
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """Storefront publishable keys. Only a keyed hash is stored; ``prefix`` is shown to admins
    and is globally unique because a key must be found before its tenant is known."""

    __tablename__ = "api_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    #: Browser origins (``https://shop.example``) whose pages may call the storefront API with
    #: this key (CORS); empty: none.
    allowed_origins: Mapped[list[Any]] = mapped_column(default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # optimistic locking; the ETag is this version


class Segment(Base):
    __tablename__ = "segments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        CheckConstraint("status IN ('active', 'archived')", name="status"),
        Index("ix_segments_tenant_position", "tenant_id", "status", "position"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default=STATUS_ACTIVE)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # optimistic locking; the ETag is this version
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: The storefront widget's look for the segment: primary_color, accent_color, font_family,
    #: radius (each optional; validated by the admin API).
    theme: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Tier(Base):
    __tablename__ = "tiers"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "segment_id"], ["segments.tenant_id", "segments.id"]),
        CheckConstraint("level BETWEEN 1 AND 3", name="level_range"),
        CheckConstraint("base_price_minor >= 0", name="base_price_non_negative"),
        CheckConstraint("per_guest_price_minor >= 0", name="per_guest_price_non_negative"),
        CheckConstraint("max_guests >= 1", name="max_guests_positive"),
        CheckConstraint("price_floor_minor >= 0", name="price_floor_non_negative"),
        CheckConstraint(
            "price_ceiling_minor IS NULL OR price_floor_minor IS NULL OR price_ceiling_minor >= price_floor_minor",
            name="price_ceiling_above_floor",
        ),
        CheckConstraint("status IN ('active', 'archived')", name="status"),
        # One active tier per (segment, level): archived tiers may share a level.
        Index(
            "uq_tiers_active_level",
            "tenant_id",
            "segment_id",
            "level",
            unique=True,
            **partial_where("status = 'active'"),
        ),
        # One popular tier per segment, archived ones included: flagging a tier moves the badge
        # (storage.catalog unflags the others first), so restoring a tier never makes two.
        Index(
            "uq_tiers_one_popular",
            "tenant_id",
            "segment_id",
            unique=True,
            **partial_where("popular"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    segment_id: Mapped[uuid.UUID] = mapped_column()
    level: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    base_price_minor: Mapped[int] = mapped_column(BigInteger)
    per_guest_price_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    max_guests: Mapped[int] = mapped_column(Integer)
    price_floor_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    price_ceiling_minor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    features: Mapped[list[Any]] = mapped_column(default=list)
    popular: Mapped[bool] = mapped_column(Boolean, default=False)
    upsell_target_ids: Mapped[list[Any]] = mapped_column(default=list)
    photos: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(16), default=STATUS_ACTIVE)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # optimistic locking; the ETag is this version
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AddOn(Base):
    __tablename__ = "add_ons"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        CheckConstraint("pricing IN ('flat', 'per_guest')", name="pricing"),
        CheckConstraint("price_minor >= 0", name="price_non_negative"),
        CheckConstraint("status IN ('active', 'archived')", name="status"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    pricing: Mapped[str] = mapped_column(String(16))
    price_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=STATUS_ACTIVE)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}  # optimistic locking; the ETag is this version
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AddOnTier(Base):
    """Limits an add-on to some tiers; an add-on with no rows here is available to every tier."""

    __tablename__ = "add_on_tiers"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "add_on_id"], ["add_ons.tenant_id", "add_ons.id"], ondelete="CASCADE"
        ),
        ForeignKeyConstraint(["tenant_id", "tier_id"], ["tiers.tenant_id", "tiers.id"]),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    add_on_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tier_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
