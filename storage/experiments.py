"""Experiments: rows and their revisions, sticky assignments, and the per-variant counts that
results are computed from (exposures, acceptances, declines, bookings, revenue)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy import Numeric, and_, case, cast, exists, func, literal, select
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.exc import StaleDataError

from pricing.errors import Conflict, NotFound, PreconditionFailed
from pricing.experiment_design import Experiment, Namespace, Targeting, Variant
from pricing.experiment_results import VariantCounts
from storage import models as m
from storage.db import Executor, insert_new
from storage.repository import Page, as_uuid, bump_catalog_version

#: The row fields an experiment's design consists of (what snapshots and revisions carry).
DESIGN_FIELDS = (
    "key",
    "name",
    "hypothesis",
    "coverage",
    "variants",
    "targeting",
    "namespace",
    "primary_metric",
    "guardrail_metrics",
)


# ---- row <-> domain ----------------------------------------------------------------------------


def record(row: m.Experiment) -> dict[str, Any]:
    """The plain-JSON form of an experiment as offers need it (snapshots cache this)."""
    return {
        "id": str(row.id),
        "key": row.key,
        "status": row.status,
        "seed": row.seed,
        "coverage": row.coverage,
        "variants": row.variants,
        "targeting": row.targeting,
        "namespace": row.namespace,
        "bucket_version": row.bucket_version,
    }


def from_record(data: dict[str, Any]) -> Experiment:
    targeting = data.get("targeting") or {}
    ns = data.get("namespace")
    namespace = (
        Namespace(ns["id"], Decimal(str(ns["start"])), Decimal(str(ns["end"]))) if ns else None
    )
    return Experiment(
        id=data["id"],
        key=data["key"],
        status=data["status"],
        seed=data["seed"],
        coverage=Decimal(str(data["coverage"])),
        variants=tuple(
            Variant(v["key"], v.get("name", ""), Decimal(str(v["weight"])), bool(v.get("control")))
            for v in data["variants"]
        ),
        targeting=Targeting(
            segments=tuple(targeting.get("segments") or ()),
            tiers=tuple(str(t) for t in targeting.get("tiers") or ()),
            date_from=_date(targeting.get("date_from")),
            date_to=_date(targeting.get("date_to")),
        ),
        namespace=namespace,
        bucket_version=data["bucket_version"],
    )


def to_record(e: Experiment) -> dict[str, Any]:
    """The inverse of :func:`from_record` (what cached catalog snapshots keep)."""
    t, ns = e.targeting, e.namespace
    return {
        "id": e.id,
        "key": e.key,
        "status": e.status,
        "seed": e.seed,
        "coverage": str(e.coverage),
        "variants": [
            {"key": v.key, "name": v.name, "weight": str(v.weight), "control": v.control}
            for v in e.variants
        ],
        "targeting": {
            "segments": list(t.segments),
            "tiers": list(t.tiers),
            "date_from": t.date_from and t.date_from.isoformat(),
            "date_to": t.date_to and t.date_to.isoformat(),
        },
        "namespace": ns and {"id": ns.id, "start": str(ns.start), "end": str(ns.end)},
        "bucket_version": e.bucket_version,
    }


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


# ---- repository --------------------------------------------------------------------------------


class ExperimentRepository:
    def __init__(self, session: Session, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = uuid.UUID(tenant_id)

    def page(self, status: str | None, offset: int, limit: int) -> Page[m.Experiment]:
        where = [m.Experiment.tenant_id == self.tenant_id]
        if status:
            where.append(m.Experiment.status == status)
        total = self.session.scalar(select(func.count()).select_from(m.Experiment).where(*where))
        rows = self.session.scalars(
            select(m.Experiment)
            .where(*where)
            .order_by(m.Experiment.created_at.desc(), m.Experiment.id)
            .offset(offset)
            .limit(limit)
        ).all()
        return Page(list(rows), int(total or 0))

    def row(self, experiment_id: str, *, lock: bool = False) -> m.Experiment:
        key = as_uuid(experiment_id)
        row = (
            self.session.get(m.Experiment, (self.tenant_id, key), with_for_update=lock)
            if key
            else None
        )
        if row is None:
            raise NotFound("experiment not found.", code="experiment_not_found")
        return row

    def by_key(self, key: str) -> m.Experiment | None:
        return self.session.scalar(
            select(m.Experiment).where(
                m.Experiment.tenant_id == self.tenant_id, m.Experiment.key == key
            )
        )

    def create(self, fields: dict[str, Any], actor: str, now: dt.datetime) -> m.Experiment:
        if self.by_key(fields["key"]) is not None:
            raise Conflict(
                f"An experiment with key {fields['key']!r} exists.", code="experiment_key_taken"
            )
        row = m.Experiment(
            tenant_id=self.tenant_id,
            id=uuid.uuid4(),
            status="draft",
            bucket_version=1,
            created_by=actor,
            created_at=now,
            updated_at=now,
            **fields,
        )
        self.session.add(row)
        self.session.flush()
        self._revise(row, "create", {k: [None, getattr(row, k)] for k in DESIGN_FIELDS}, actor, now)
        return row

    def change(
        self,
        row: m.Experiment,
        expected_version: int | None,
        changes: dict[str, Any],
        action: str,
        actor: str,
        now: dt.datetime,
    ) -> m.Experiment:
        """Apply ``changes`` to the row and record the revision (fields that really changed,
        as [before, after]); every change bumps the tenant's catalog version."""
        if expected_version is not None and row.version != expected_version:
            raise PreconditionFailed(
                "The resource changed since it was read; fetch it again.", code="version_mismatch"
            )
        diff = {
            name: [getattr(row, name), value]
            for name, value in changes.items()
            if getattr(row, name) != value
        }
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_at = now
        try:
            self.session.flush()
        except StaleDataError:
            raise PreconditionFailed(
                "The resource changed since it was read; fetch it again.", code="version_mismatch"
            ) from None
        self._revise(row, action, diff, actor, now)
        return row

    def _revise(
        self, row: m.Experiment, action: str, diff: dict[str, Any], actor: str, now: dt.datetime
    ) -> None:
        sequence = self.session.scalar(
            select(func.coalesce(func.max(m.ExperimentRevision.sequence), 0)).where(
                m.ExperimentRevision.tenant_id == self.tenant_id,
                m.ExperimentRevision.experiment_id == row.id,
            )
        )
        self.session.add(
            m.ExperimentRevision(
                tenant_id=self.tenant_id,
                experiment_id=row.id,
                sequence=int(sequence or 0) + 1,
                action=action,
                bucket_version=row.bucket_version,
                changes=diff,
                actor=actor,
                created_at=now,
            )
        )
        self.session.flush()
        bump_catalog_version(self.session, self.tenant_id)

    def revisions(self, row: m.Experiment) -> list[m.ExperimentRevision]:
        return list(
            self.session.scalars(
                select(m.ExperimentRevision)
                .where(
                    m.ExperimentRevision.tenant_id == self.tenant_id,
                    m.ExperimentRevision.experiment_id == row.id,
                )
                .order_by(m.ExperimentRevision.sequence)
            )
        )

    def live(self) -> list[Experiment]:
        """Running and paused experiments, the earliest started first (offers take the first
        that targets a selection and includes the visitor)."""
        rows = self.session.scalars(
            select(m.Experiment)
            .where(
                m.Experiment.tenant_id == self.tenant_id,
                m.Experiment.status.in_(("running", "paused")),
            )
            .order_by(m.Experiment.started_at, m.Experiment.created_at, m.Experiment.id)
        )
        return [from_record(record(row)) for row in rows]

    def variant_keys(self) -> dict[str, set[str]]:
        """Experiment key -> its variant keys, for every experiment of the tenant."""
        rows = self.session.execute(
            select(m.Experiment.key, m.Experiment.variants).where(
                m.Experiment.tenant_id == self.tenant_id
            )
        )
        return {key: {v["key"] for v in variants} for key, variants in rows}


# ---- assignments -------------------------------------------------------------------------------


def sticky_variant(
    session: Executor, tenant_id: str, experiment: Experiment, visitor_id: str
) -> str | None:
    """The variant stored for the visitor under the experiment's current bucket version."""
    return session.scalar(
        select(m.ExperimentAssignment.variant).where(
            m.ExperimentAssignment.tenant_id == uuid.UUID(tenant_id),
            m.ExperimentAssignment.experiment_id == uuid.UUID(experiment.id),
            m.ExperimentAssignment.bucket_version == experiment.bucket_version,
            m.ExperimentAssignment.visitor_id == visitor_id,
        )
    )


def assign(
    session: Executor,
    tenant_id: str,
    experiment: Experiment,
    visitor_id: str,
    variant: str,
    now: dt.datetime,
) -> str:
    """Persist the visitor's variant unless one is stored already; the stored variant."""
    row = {
        "tenant_id": uuid.UUID(tenant_id),
        "experiment_id": uuid.UUID(experiment.id),
        "bucket_version": experiment.bucket_version,
        "visitor_id": visitor_id,
        "variant": variant,
        "assigned_at": now,
    }
    key = ["tenant_id", "experiment_id", "bucket_version", "visitor_id"]
    inserted = insert_new(session, m.ExperimentAssignment, row, key)
    if inserted:
        return variant
    return sticky_variant(session, tenant_id, experiment, visitor_id) or variant


# ---- measurement -------------------------------------------------------------------------------


def variant_counts(
    session: Session, tenant_id: str, experiment_id: str, key: str, bucket_version: int
) -> dict[str, VariantCounts]:
    """Per variant counts, each visitor counted once (events are already de-duplicated by client
    event id; bookings are the paid ones the visitor's quotes made under this experiment)."""
    tenant = uuid.UUID(tenant_id)
    a = m.ExperimentAssignment
    e = m.StorefrontEvent
    b = m.Booking

    later = aliased(m.ExperimentAssignment)

    def under_this_assignment(moment: Any) -> Any:
        """``moment`` falls while this assignment held: not before it, and not once the visitor
        was re-bucketed under a later bucket version."""
        rebucketed = exists().where(
            later.tenant_id == tenant,
            later.experiment_id == a.experiment_id,
            later.visitor_id == a.visitor_id,
            later.bucket_version > a.bucket_version,
            later.assigned_at <= moment,
        )
        # ``a`` is two levels up: correlate it explicitly.
        return and_(moment >= a.assigned_at, ~rebucketed.correlate_except(later))

    def did(event_type: str) -> Any:
        return exists().where(
            e.tenant_id == tenant,
            e.experiment == key,
            e.type == event_type,
            e.visitor_id == a.visitor_id,
            under_this_assignment(e.received_at),
        )

    paid = (
        select(b.visitor_id, b.variant, b.total_minor, b.created_at)
        .where(b.tenant_id == tenant, b.experiment == key, b.status == "paid", b.visitor_id != "")
        .subquery()
    )
    bought = (
        select(
            a.visitor_id.label("visitor_id"),
            func.count().label("bookings"),
            func.sum(paid.c.total_minor).label("revenue"),
        )
        .join(
            paid,
            and_(
                paid.c.visitor_id == a.visitor_id,
                paid.c.variant == a.variant,
                under_this_assignment(paid.c.created_at),
            ),
        )
        .where(
            a.tenant_id == tenant,
            a.experiment_id == uuid.UUID(experiment_id),
            a.bucket_version == bucket_version,
        )
        .group_by(a.visitor_id)
        .subquery()
    )
    visitors = (
        select(
            a.variant.label("variant"),
            case((did("upsell_shown"), 1), else_=0).label("exposed"),
            case((did("upsell_accepted"), 1), else_=0).label("accepted"),
            case((did("upsell_declined"), 1), else_=0).label("declined"),
            func.coalesce(bought.c.bookings, 0).label("bookings"),
            func.coalesce(bought.c.revenue, 0).label("revenue"),
        )
        .select_from(a)
        .outerjoin(bought, bought.c.visitor_id == a.visitor_id)
        .where(
            a.tenant_id == tenant,
            a.experiment_id == uuid.UUID(experiment_id),
            a.bucket_version == bucket_version,
        )
        .subquery()
    )
    v = visitors.c
    exposed = v.exposed == 1
    revenue = cast(v.revenue, Numeric)
    rows = session.execute(
        select(
            v.variant,
            func.count(),
            func.sum(v.exposed),
            func.sum(case((and_(exposed, v.accepted == 1), 1), else_=0)),
            func.sum(case((and_(exposed, v.declined == 1), 1), else_=0)),
            func.sum(case((and_(exposed, v.bookings > 0), 1), else_=0)),
            func.sum(case((exposed, v.bookings), else_=0)),
            func.sum(case((exposed, revenue), else_=literal(0))),
            func.sum(case((exposed, revenue * revenue), else_=literal(0))),
        ).group_by(v.variant)
    )
    return {variant: VariantCounts(*(int(x or 0) for x in numbers)) for variant, *numbers in rows}


def view(row: m.Experiment) -> dict[str, Any]:
    """The experiment as the API shows it."""
    return {
        **record(row),
        "name": row.name,
        "hypothesis": row.hypothesis,
        "hash_version": 2,
        "primary_metric": row.primary_metric,
        "guardrail_metrics": list(row.guardrail_metrics),
        "started_at": row.started_at,
        "stopped_at": row.stopped_at,
        "created_by": row.created_by,
        "version": row.version,
        "created_at": row.created_at,
        "updated_at": row.updated_at,
    }


def revision_view(row: m.ExperimentRevision) -> dict[str, Any]:
    return {
        "sequence": row.sequence,
        "action": row.action,
        "bucket_version": row.bucket_version,
        "changes": row.changes,
        "actor": row.actor,
        "created_at": row.created_at,
    }
