"""Storefront analytics events."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, utcnow


class StorefrontEvent(Base):
    """Analytics events from storefronts, de-duplicated by the client's event id."""

    __tablename__ = "storefront_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "client_event_id"),
        CheckConstraint(
            "type IN ('segment_selected', 'tier_comparison_viewed', 'upsell_shown', "
            "'upsell_accepted', 'upsell_declined')",
            name="type",
        ),
        Index("ix_storefront_events_tenant_type_time", "tenant_id", "type", "occurred_at"),
        Index("ix_storefront_events_tenant_experiment", "tenant_id", "experiment", "type"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    client_event_id: Mapped[str] = mapped_column(String(64))
    type: Mapped[str] = mapped_column(String(32))
    visitor_id: Mapped[str] = mapped_column(String(64))
    segment_key: Mapped[str] = mapped_column(String(64), default="")
    tier_id: Mapped[str] = mapped_column(String(64), default="")
    experiment: Mapped[str] = mapped_column(String(64), default="")
    variant: Mapped[str] = mapped_column(String(64), default="")
    properties: Mapped[dict[str, Any]] = mapped_column(default=dict)
    occurred_at: Mapped[dt.datetime] = mapped_column()
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
