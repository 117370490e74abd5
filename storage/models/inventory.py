"""What can be sold on a date: capacity and blackouts."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, partial_where, utcnow


class Capacity(Base):
    """Units of a tier on one service date; dates without a row use the tenant default."""

    __tablename__ = "capacity"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "tier_id"], ["tiers.tenant_id", "tiers.id"]),
        CheckConstraint("units >= 0", name="units_non_negative"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    tier_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    service_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    units: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Blackout(Base):
    """A closed service date, tenant-wide (``tier_id`` null) or for one tier."""

    __tablename__ = "blackouts"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "tier_id"], ["tiers.tenant_id", "tiers.id"]),
        Index(
            "uq_blackouts_tenant_wide",
            "tenant_id",
            "service_date",
            unique=True,
            **partial_where("tier_id IS NULL"),
        ),
        Index(
            "uq_blackouts_tier",
            "tenant_id",
            "tier_id",
            "service_date",
            unique=True,
            **partial_where("tier_id IS NOT NULL"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tier_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    service_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
