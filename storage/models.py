"""SQLAlchemy 2 models. Every tenant-owned table has ``tenant_id`` leading its keys and indexes,
and foreign keys between tenant-owned rows include ``tenant_id``, so the database itself refuses a
row that points into another tenant."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

STATUS_ACTIVE = "active"
STATUS_ARCHIVED = "archived"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _where(condition: str) -> dict[str, Any]:
    """A partial index over the rows where ``condition`` holds (PostgreSQL and SQLite alike)."""
    where = text(condition)
    return {"postgresql_where": where, "sqlite_where": where}


def _present(column: str) -> dict[str, Any]:
    """A partial index over the rows where ``column`` is set."""
    return _where(f"{column} IS NOT NULL")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        dict[str, Any]: JSON,
        list[Any]: JSON,
        dt.datetime: DateTime(timezone=True),
    }


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
            postgresql_where=text("status = 'active'"),
            sqlite_where=text("status = 'active'"),
        ),
        # One popular tier per segment, archived ones included: flagging a tier moves the badge
        # (storage.catalog unflags the others first), so restoring a tier never makes two.
        Index(
            "uq_tiers_one_popular",
            "tenant_id",
            "segment_id",
            unique=True,
            postgresql_where=text("popular"),
            sqlite_where=text("popular"),
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
            postgresql_where=text("tier_id IS NULL"),
            sqlite_where=text("tier_id IS NULL"),
        ),
        Index(
            "uq_blackouts_tier",
            "tenant_id",
            "tier_id",
            "service_date",
            unique=True,
            postgresql_where=text("tier_id IS NOT NULL"),
            sqlite_where=text("tier_id IS NOT NULL"),
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    tier_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    service_date: Mapped[dt.date] = mapped_column(Date)
    reason: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


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


class Experiment(Base):
    """An upsell experiment: variants with weights, targeting, and a lifecycle
    (draft -> running <-> paused -> stopped). Assignment is GrowthBook hash v2 of ``seed`` and the
    visitor id; changing weights while live bumps ``bucket_version`` (see ExperimentRevision)."""

    __tablename__ = "experiments"
    __table_args__ = (
        UniqueConstraint("tenant_id", "key"),
        CheckConstraint("status IN ('draft', 'running', 'paused', 'stopped')", name="status"),
        CheckConstraint("bucket_version >= 1", name="bucket_version_positive"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    key: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), default="")
    hypothesis: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="draft")
    seed: Mapped[str] = mapped_column(String(64))
    coverage: Mapped[str] = mapped_column(String(16), default="1")  # a decimal in [0, 1]
    #: [{"key", "name", "weight" (decimal string), "control"}]
    variants: Mapped[list[Any]] = mapped_column()
    #: {"segments": [keys], "tiers": [ids], "date_from": iso | null, "date_to": iso | null}
    targeting: Mapped[dict[str, Any]] = mapped_column(default=dict)
    #: {"id", "start", "end"} (decimal strings) or null: mutually exclusive experiments
    namespace: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    primary_metric: Mapped[str] = mapped_column(String(32))
    guardrail_metrics: Mapped[list[Any]] = mapped_column(default=list)
    bucket_version: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(default=None)
    created_by: Mapped[str] = mapped_column(String(200), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)
    __mapper_args__ = {"version_id_col": version}
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ExperimentRevision(Base):
    """Every lifecycle step and every change of an experiment: who, when, what it was after."""

    __tablename__ = "experiment_revisions"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "experiment_id"], ["experiments.tenant_id", "experiments.id"]
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    experiment_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    action: Mapped[str] = mapped_column(String(32))  # create | update | start | pause | ...
    bucket_version: Mapped[int] = mapped_column(Integer)
    changes: Mapped[dict[str, Any]] = mapped_column()  # field -> [before, after]
    actor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ExperimentAssignment(Base):
    """A visitor's variant, persisted when first exposed: sticky for the bucket version."""

    __tablename__ = "experiment_assignments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "experiment_id"], ["experiments.tenant_id", "experiments.id"]
        ),
        Index("ix_experiment_assignments_tenant_visitor", "tenant_id", "visitor_id"),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    experiment_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    bucket_version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    visitor_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    variant: Mapped[str] = mapped_column(String(64))
    assigned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


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
            **_present("parent_booking_id"),
        ),
        # One quote token holds at most one unit at a time: one pending booking per quote.
        Index(
            "uq_bookings_pending_quote",
            "tenant_id",
            "quote_id",
            unique=True,
            **_where("kind = 'booking' AND status = 'pending' AND quote_id <> ''"),
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
            "uq_payments_capture", "payment_intent_id", unique=True, **_where("kind = 'capture'")
        ),
        Index(
            "uq_payments_refund",
            "provider_ref",
            unique=True,
            **_where("kind = 'refund' AND provider_ref IS NOT NULL"),
        ),
        Index("ix_payments_queued", "status", **_where("status = 'queued'")),
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


class Decision(Base):
    """One evaluation of a ruleset, written in the transaction of the response it served, and a
    link of its tenant's hash chain: ``hash = sha256(canonical record incl. seq and prev_hash)``.
    Every index leads with ``tenant_id`` (docs: how it is partitioned by month in production)."""

    __tablename__ = "decisions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "seq"),
        Index("ix_decisions_tenant_created", "tenant_id", "created_at"),
        Index("ix_decisions_tenant_request", "tenant_id", "request_id"),
        # Partial: most records (browsed offers) have none of these, and skip the index writes.
        Index("ix_decisions_tenant_quote", "tenant_id", "quote_id", **_present("quote_id")),
        Index("ix_decisions_tenant_booking", "tenant_id", "booking_id", **_present("booking_id")),
        Index(
            "ix_decisions_tenant_customer", "tenant_id", "customer_ref", **_present("customer_ref")
        ),
    )

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    purpose: Mapped[str] = mapped_column(String(32))  # offer | quote | upgrade | fallback
    kinds: Mapped[list[Any]] = mapped_column()
    ruleset_version: Mapped[int] = mapped_column(Integer)
    ruleset_hash: Mapped[str] = mapped_column(String(64))
    engine: Mapped[str] = mapped_column(String(16))
    facts: Mapped[dict[str, Any]] = mapped_column()
    considered: Mapped[list[Any]] = mapped_column()  # [[rule_id, matched, fired], ...]
    fired: Mapped[list[Any]] = mapped_column()
    outputs: Mapped[dict[str, Any]] = mapped_column()
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    quote_id: Mapped[str | None] = mapped_column(String(64), default=None)
    booking_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    #: JSON pointers of personal data replaced by keyed hashes before the record was stored.
    masked_fields: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
    #: The keyed hash of the customer's e-mail, when one was given (search without clear text).
    customer_ref: Mapped[str | None] = mapped_column(String(64), default=None)
    #: Position in the tenant's hash chain (1, 2, ...), the previous link's hash, this link's hash.
    #: Null only for records written before migration 0009 (outside the chain).
    seq: Mapped[int | None] = mapped_column(BigInteger, default=None)
    prev_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    hash: Mapped[str | None] = mapped_column(String(64), default=None)


class DecisionChain(Base):
    """The head of a tenant's decision chain (locked while links are appended), and where a purge
    left its start: verification begins after ``purged_through_seq`` from ``purged_last_hash``."""

    __tablename__ = "decision_chains"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    purged_through_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    purged_last_hash: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class DecisionPurge(Base):
    """One retention purge of a tenant's decisions: the range removed and its last link's hash."""

    __tablename__ = "decision_purges"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id"), primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    from_seq: Mapped[int] = mapped_column(BigInteger)
    through_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    removed: Mapped[int] = mapped_column(Integer)
    cutoff: Mapped[dt.datetime] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


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
