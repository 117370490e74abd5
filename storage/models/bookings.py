"""Checkout: holds, bookings, the payment ledger and the payment provider's events."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from storage.models.base import Base, partial_present, partial_where, utcnow


class Hold(Base):
    """Capacity reserved for a checkout until it completes or expires."""

    __tablename__ = "holds"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "tier_id"], ["tiers.tenant_id", "tiers.id"]),
        CheckConstraint("units >= 1", name="units_positive"),
        CheckConstraint("status IN ('active', 'converted', 'released', 'expired')", name="status"),
        Index("ix_holds_tenant_tier_date", "tenant_id", "tier_id", "service_date", "status"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tier_id: Mapped[uuid.UUID] = mapped_column()
    service_date: Mapped[dt.date] = mapped_column(Date)
    units: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="active")
    expires_at: Mapped[dt.datetime] = mapped_column()
    booking_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Booking(Base):
    """A reservation made from a quote: pending until paid; a paid booking holds one unit."""

    __tablename__ = "bookings"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "tier_id"], ["tiers.tenant_id", "tiers.id"]),
        CheckConstraint(
            "status IN ('pending', 'paid', 'cancelled', 'refunded', 'expired')", name="status"
        ),
        CheckConstraint(
            "total_minor >= 0 AND platform_fee_minor >= 0", name="amounts_non_negative"
        ),
        CheckConstraint("platform_fee_minor <= total_minor", name="fee_within_total"),
        CheckConstraint("kind IN ('booking', 'upgrade')", name="kind"),
        Index("ix_bookings_tenant_tier_date", "tenant_id", "tier_id", "service_date", "status"),
        Index("ix_bookings_tenant_experiment", "tenant_id", "experiment", "visitor_id"),
        Index(
            "ix_bookings_tenant_parent",
            "tenant_id",
            "parent_booking_id",
            **partial_present("parent_booking_id"),
        ),
        # One quote token holds at most one unit at a time: one pending booking per quote.
        Index(
            "uq_bookings_pending_quote",
            "tenant_id",
            "quote_id",
            unique=True,
            **partial_where("kind = 'booking' AND status = 'pending' AND quote_id <> ''"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    segment_id: Mapped[uuid.UUID] = mapped_column()
    tier_id: Mapped[uuid.UUID] = mapped_column()
    service_date: Mapped[dt.date] = mapped_column(Date)
    guests: Mapped[int] = mapped_column(Integer)
    add_on_ids: Mapped[list[Any]] = mapped_column(default=list)
    currency: Mapped[str] = mapped_column(String(3))
    total_minor: Mapped[int] = mapped_column(BigInteger)
    platform_fee_minor: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    quote_id: Mapped[str] = mapped_column(String(64), default="")
    ruleset_version: Mapped[int] = mapped_column(Integer, default=0)
    customer_email: Mapped[str] = mapped_column(String(254), default="", server_default="")
    customer_name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    hold_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    checkout_session_id: Mapped[str | None] = mapped_column(String(255), default=None)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), default=None)
    #: Where the customer pays (the provider's Checkout Session URL) while the booking is pending.
    checkout_url: Mapped[str | None] = mapped_column(String(2048), default=None)
    #: ``booking``: a reservation (a paid one occupies a unit); ``upgrade``: the payment of a
    #: move of ``parent_booking_id`` from ``from_tier_id`` to ``tier_id`` (occupies nothing
    #: itself: on payment the parent moves to the new tier and the upgrade's hold is converted).
    #: The money of both is in ``payments``.
    kind: Mapped[str] = mapped_column(String(16), default="booking", server_default="booking")
    from_tier_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    #: The visitor and experiment variant the quote was made for (from the signed quote).
    visitor_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    experiment: Mapped[str] = mapped_column(String(64), default="", server_default="")
    variant: Mapped[str] = mapped_column(String(64), default="", server_default="")
    parent_booking_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Payment(Base):
    """The payment ledger: every amount captured from a customer and every refund of it, per
    booking. ``booking_id`` is the booking (kind ``booking``) the money belongs to; ``change_id``
    the upgrade payment row it came through, if any. A capture is recorded once per provider
    payment (``payment_intent_id``); a refund is owed from the moment it is ``queued`` (in the
    transaction of the change that owes it) and is requested from the provider after the commit,
    retried by the sweeper, with ``idempotency_key`` so that it is never made twice.

    The ledger and the booking agree when, for a paid booking, captured - refunded = its total,
    and for any other booking captured - refunded = 0 (``pricing.booking_states.ledger_agrees``).
    """

    __tablename__ = "payments"
    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "booking_id"], ["bookings.tenant_id", "bookings.id"]),
        CheckConstraint("kind IN ('capture', 'refund')", name="kind"),
        CheckConstraint(
            "status IN ('captured', 'queued', 'requested', 'succeeded', 'failed')", name="status"
        ),
        CheckConstraint("amount_minor > 0", name="amount_positive"),
        CheckConstraint("fee_minor >= 0 AND fee_minor <= amount_minor", name="fee_within_amount"),
        Index("ix_payments_tenant_booking", "tenant_id", "booking_id"),
        Index(
            "uq_payments_capture",
            "payment_intent_id",
            unique=True,
            **partial_where("kind = 'capture'"),
        ),
        Index(
            "uq_payments_refund",
            "provider_ref",
            unique=True,
            **partial_where("kind = 'refund' AND provider_ref IS NOT NULL"),
        ),
        Index("ix_payments_queued", "status", **partial_where("status = 'queued'")),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    booking_id: Mapped[uuid.UUID] = mapped_column()
    change_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    #: ``capture``: money taken (status ``captured``); ``refund``: money given back, ``queued``
    #: (owed) → ``requested`` (the provider accepted it, pending) → ``succeeded`` (or ``failed``).
    kind: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    payment_intent_id: Mapped[str] = mapped_column(String(255))
    #: The provider's id of a refund (set once the provider accepted it).
    provider_ref: Mapped[str | None] = mapped_column(String(255), default=None)
    idempotency_key: Mapped[str | None] = mapped_column(String(255), default=None)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    #: The platform fee (Stripe application fee) captured, or given back with a refund.
    fee_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(String(3))
    #: A refund: whether the application fee is refunded with it (proportionally).
    refund_fee: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Why: ``checkout``, ``upgrade``, ``cancelled``, ``downgrade``, ``sold_out``, ``duplicate``,
    #: ``stale_upgrade``, ``outside`` (refunded at the provider, not by us), ...
    reason: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(String(500), default="", server_default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class PaymentEvent(Base):
    """A payment provider event (Stripe webhook), stored once by its id and applied once."""

    __tablename__ = "payment_events"
    __table_args__ = (Index("ix_payment_events_payment_intent", "payment_intent_id", "type"),)

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    #: The payment the event is about, when it names one (refunds arriving before their payment's
    #: completion are found by it).
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), default=None)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    outcome: Mapped[str] = mapped_column(String(200), default="")
    payload: Mapped[dict[str, Any]] = mapped_column()
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
