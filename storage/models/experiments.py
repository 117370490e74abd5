"""Upsell experiments, their revisions and the visitors' sticky variants."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    JSON,
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

from storage.models.base import Base, utcnow


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
