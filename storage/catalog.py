"""Catalog repository: every method is scoped to one tenant and returns domain values.

A row of another tenant is indistinguishable from a missing row: both raise ``NotFound``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from pricing import catalog as domain
from pricing.errors import Conflict, NotFound, PreconditionFailed
from pricing.money import Money
from storage import models as m

T = TypeVar("T")

#: Database constraint -> (machine code, message) for the conflicts a caller can cause.
CONSTRAINT_CONFLICTS = {
    "uq_tiers_active_level": (
        "tier_level_taken",
        "The segment already has an active tier at this level.",
    ),
    "uq_tiers_one_popular": (
        "popular_tier_taken",
        "Another tier of the segment was flagged popular at the same time; try again.",
    ),
    "uq_segments_tenant_id_key": ("segment_key_taken", "Another segment already uses this key."),
    "uq_add_ons_tenant_id_key": ("add_on_key_taken", "Another add-on already uses this key."),
    "uq_tenants_slug": ("tenant_slug_taken", "Another tenant already uses this slug."),
}
#: SQLite names no constraint in its messages; it names the columns instead.
SQLITE_COLUMNS = {
    "tiers.tenant_id, tiers.segment_id, tiers.level": "uq_tiers_active_level",
    "tiers.tenant_id, tiers.segment_id": "uq_tiers_one_popular",  # after its longer prefix above
    "segments.tenant_id, segments.key": "uq_segments_tenant_id_key",
    "add_ons.tenant_id, add_ons.key": "uq_add_ons_tenant_id_key",
    "tenants.slug": "uq_tenants_slug",
}


def as_uuid(value: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def conflict_from(error: IntegrityError) -> Conflict:
    """Translate a unique-constraint violation into a Conflict with a stable code."""
    orig = error.orig
    name = getattr(getattr(orig, "diag", None), "constraint_name", None)
    if name is None:
        text = str(orig)
        name = next((c for cols, c in SQLITE_COLUMNS.items() if cols in text), None)
    code, message = CONSTRAINT_CONFLICTS.get(
        name or "", ("conflict", "The change conflicts with existing data.")
    )
    return Conflict(message, code=code)


def flush(session: Session) -> None:
    """Flush, turning constraint violations and stale versions into domain errors."""
    try:
        session.flush()
    except IntegrityError as error:
        session.rollback()
        raise conflict_from(error) from None
    except StaleDataError:
        session.rollback()
        raise PreconditionFailed(
            "The resource changed since it was read.", code="version_mismatch"
        ) from None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int


def bump_catalog_version(session: Session, tenant_id: uuid.UUID) -> None:
    """Bump the tenant's catalog version in this transaction (cached snapshots key on it)."""
    session.execute(
        update(m.Tenant)
        .where(m.Tenant.id == tenant_id)
        .values(catalog_version=m.Tenant.catalog_version + 1)
        .execution_options(synchronize_session=False)
    )


# ---- row -> domain ---------------------------------------------------------------------------


def tenant_value(row: m.Tenant) -> domain.Tenant:
    return domain.Tenant(
        id=str(row.id), slug=row.slug, name=row.name, currency=row.currency,
        time_zone=row.time_zone, status=row.status, default_capacity=row.default_capacity,
        version=row.version, catalog_version=row.catalog_version,
        refund_window_hours=row.refund_window_hours, refund_application_fee=row.refund_application_fee,
        decision_retention_days=row.decision_retention_days,
    )  # fmt: skip


def segment_value(row: m.Segment) -> domain.Segment:
    return domain.Segment(
        id=str(row.id), key=row.key, name=row.name, position=row.position,
        status=row.status, version=row.version, theme=domain.SegmentTheme(**(row.theme or {})),
    )  # fmt: skip


def tier_value(row: m.Tier, currency: str) -> domain.Tier:
    return domain.Tier(
        id=str(row.id),
        segment_id=str(row.segment_id),
        level=row.level,
        name=row.name,
        description=row.description,
        base_price=Money(row.base_price_minor, currency),
        per_guest_price=Money(row.per_guest_price_minor, currency),
        max_guests=row.max_guests,
        features=tuple(domain.Feature(f["key"], f["label"], f["value"]) for f in row.features),
        popular=row.popular,
        upsell_target_ids=tuple(row.upsell_target_ids),
        photos=tuple(row.photos),
        status=row.status,
        version=row.version,
        price_floor=row.price_floor_minor,
        price_ceiling=row.price_ceiling_minor,
    )


def add_on_value(row: m.AddOn, tier_ids: Iterable[uuid.UUID], currency: str) -> domain.AddOn:
    return domain.AddOn(
        id=str(row.id), key=row.key, name=row.name, pricing=row.pricing,
        price=Money(row.price_minor, currency), tier_ids=tuple(sorted(str(t) for t in tier_ids)),
        status=row.status, version=row.version,
    )  # fmt: skip


# ---- repository ------------------------------------------------------------------------------


TIER_COLUMNS = {
    "level", "name", "description", "base_price_minor", "per_guest_price_minor", "max_guests",
    "features", "popular", "upsell_target_ids", "photos", "price_floor_minor", "price_ceiling_minor",
}  # fmt: skip


class CatalogRepository:
    def __init__(self, session: Session, tenant: domain.Tenant):
        self.session = session
        self.tenant = tenant
        self.tenant_id = uuid.UUID(tenant.id)

    # -- generic helpers
    def _row(self, model: type[Any], ref: str | uuid.UUID, what: str, *, lock: bool = False) -> Any:
        key = as_uuid(ref)
        row = self.session.get(model, (self.tenant_id, key), with_for_update=lock) if key else None
        if row is None:
            raise NotFound(
                f"{what} not found.", code=f"{what.replace(' ', '_').replace('-', '_')}_not_found"
            )
        return row

    def _page(self, stmt: Select[Any], offset: int, limit: int) -> tuple[Sequence[Any], int]:
        total = self.session.scalar(
            select(func.count()).select_from(stmt.order_by(None).subquery())
        )
        rows = self.session.scalars(stmt.offset(offset).limit(limit)).all()
        return rows, int(total or 0)

    def _changed(self) -> None:
        bump_catalog_version(self.session, self.tenant_id)

    @staticmethod
    def _check_version(row: Any, expected_version: int | None) -> None:
        if expected_version is not None and row.version != expected_version:
            raise PreconditionFailed(
                "The resource changed since it was read; fetch it again.", code="version_mismatch"
            )

    def _update(self, row: Any, expected_version: int | None, changes: dict[str, Any]) -> None:
        self._check_version(row, expected_version)
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_at = m.utcnow()
        flush(self.session)
        self._changed()

    # -- tenant
    def update_tenant(self, expected_version: int | None, changes: dict[str, Any]) -> domain.Tenant:
        row = self.session.get(m.Tenant, self.tenant_id)
        if row is None:
            raise NotFound("Tenant not found.", code="tenant_not_found")
        self._update(row, expected_version, changes)
        return tenant_value(row)

    # -- segments
    def list_segments(self, *, status: str | None, offset: int, limit: int) -> Page[domain.Segment]:
        stmt = select(m.Segment).where(m.Segment.tenant_id == self.tenant_id)
        if status:
            stmt = stmt.where(m.Segment.status == status)
        stmt = stmt.order_by(m.Segment.position, m.Segment.key)
        rows, total = self._page(stmt, offset, limit)
        return Page([segment_value(r) for r in rows], total)

    def segment(self, segment_id: str) -> domain.Segment:
        return segment_value(self._row(m.Segment, segment_id, "segment"))

    def find_segment(self, ref: str) -> domain.Segment:
        """A segment by id or key (a key may itself parse as a UUID: the id is tried first)."""
        key = as_uuid(ref)
        row = self.session.get(m.Segment, (self.tenant_id, key)) if key else None
        if row is None:
            row = self.session.scalars(
                select(m.Segment).where(m.Segment.tenant_id == self.tenant_id, m.Segment.key == ref)
            ).first()
        if row is None:
            raise NotFound("segment not found.", code="segment_not_found")
        return segment_value(row)

    def last_segment_position(self) -> int:
        """The highest position of the tenant's segments, archived ones included (-1: none)."""
        found = self.session.scalar(
            select(func.max(m.Segment.position)).where(m.Segment.tenant_id == self.tenant_id)
        )
        return -1 if found is None else int(found)

    def create_segment(self, *, key: str, name: str, position: int) -> domain.Segment:
        row = m.Segment(tenant_id=self.tenant_id, key=key, name=name, position=position)
        self.session.add(row)
        flush(self.session)
        self._changed()
        return segment_value(row)

    def update_segment(
        self, segment_id: str, expected_version: int | None, changes: dict[str, Any]
    ) -> domain.Segment:
        row = self._row(m.Segment, segment_id, "segment", lock=True)
        self._update(row, expected_version, changes)
        return segment_value(row)

    # -- tiers
    def list_tiers(
        self, *, segment_id: str | None, status: str | None, offset: int, limit: int
    ) -> Page[domain.Tier]:
        stmt = select(m.Tier).where(m.Tier.tenant_id == self.tenant_id)
        if segment_id:
            stmt = stmt.where(m.Tier.segment_id == self._row(m.Segment, segment_id, "segment").id)
        if status:
            stmt = stmt.where(m.Tier.status == status)
        stmt = stmt.order_by(m.Tier.segment_id, m.Tier.level, m.Tier.created_at)
        rows, total = self._page(stmt, offset, limit)
        return Page([tier_value(r, self.tenant.currency) for r in rows], total)

    def tier(self, tier_id: str) -> domain.Tier:
        return tier_value(self._row(m.Tier, tier_id, "tier"), self.tenant.currency)

    def tiers_of_segment(self, segment_id: str, *, active_only: bool) -> list[domain.Tier]:
        stmt = select(m.Tier).where(
            m.Tier.tenant_id == self.tenant_id, m.Tier.segment_id == uuid.UUID(segment_id)
        )
        if active_only:
            stmt = stmt.where(m.Tier.status == m.STATUS_ACTIVE)
        rows = self.session.scalars(stmt.order_by(m.Tier.level, m.Tier.created_at)).all()
        return [tier_value(r, self.tenant.currency) for r in rows]

    def existing_tier_ids(self, ids: Iterable[str]) -> set[str]:
        keys = [k for k in (as_uuid(i) for i in ids) if k]
        if not keys:
            return set()
        found = self.session.scalars(
            select(m.Tier.id).where(m.Tier.tenant_id == self.tenant_id, m.Tier.id.in_(keys))
        ).all()
        return {str(f) for f in found}

    def create_tier(self, *, segment_id: str, **fields: Any) -> domain.Tier:
        segment = self._row(m.Segment, segment_id, "segment")
        if fields.get("popular"):
            self._unflag_popular(segment.id, keep=None)
        row = m.Tier(tenant_id=self.tenant_id, segment_id=segment.id, **_only(fields, TIER_COLUMNS))
        self.session.add(row)
        flush(self.session)
        self._changed()
        return tier_value(row, self.tenant.currency)

    def update_tier(
        self, tier_id: str, expected_version: int | None, changes: dict[str, Any]
    ) -> domain.Tier:
        row = self._row(m.Tier, tier_id, "tier", lock=True)
        changes = _only(changes, TIER_COLUMNS | {"status"})
        if changes.get("popular") and not row.popular:
            self._check_version(row, expected_version)
            self._unflag_popular(row.segment_id, keep=row.id)
        self._update(row, expected_version, changes)
        return tier_value(row, self.tenant.currency)

    def _unflag_popular(self, segment_id: uuid.UUID, keep: uuid.UUID | None) -> None:
        """Take the popular badge off the segment's other tiers (archived ones too), through the
        ORM so that each is versioned (stale ETags) and audited, and flushed before the badge is
        set: ``uq_tiers_one_popular`` allows one flagged tier per segment."""
        holders = self.session.scalars(
            select(m.Tier)
            .where(
                m.Tier.tenant_id == self.tenant_id,
                m.Tier.segment_id == segment_id,
                m.Tier.popular.is_(True),
            )
            .with_for_update()
        ).all()
        for holder in holders:
            if holder.id != keep:
                holder.popular = False
                holder.updated_at = m.utcnow()
        flush(self.session)

    # -- add-ons
    def _add_on_tiers(self, add_on_ids: list[uuid.UUID]) -> dict[uuid.UUID, list[uuid.UUID]]:
        links: dict[uuid.UUID, list[uuid.UUID]] = {i: [] for i in add_on_ids}
        if add_on_ids:
            rows = self.session.execute(
                select(m.AddOnTier.add_on_id, m.AddOnTier.tier_id).where(
                    m.AddOnTier.tenant_id == self.tenant_id, m.AddOnTier.add_on_id.in_(add_on_ids)
                )
            ).all()
            for add_on_id, tier_id in rows:
                links[add_on_id].append(tier_id)
        return links

    def _add_on_values(self, rows: Sequence[m.AddOn]) -> list[domain.AddOn]:
        links = self._add_on_tiers([r.id for r in rows])
        return [add_on_value(r, links[r.id], self.tenant.currency) for r in rows]

    def list_add_ons(self, *, status: str | None, offset: int, limit: int) -> Page[domain.AddOn]:
        stmt = select(m.AddOn).where(m.AddOn.tenant_id == self.tenant_id)
        if status:
            stmt = stmt.where(m.AddOn.status == status)
        rows, total = self._page(stmt.order_by(m.AddOn.key), offset, limit)
        return Page(self._add_on_values(rows), total)

    def active_add_ons(self) -> list[domain.AddOn]:
        rows = self.session.scalars(
            select(m.AddOn)
            .where(m.AddOn.tenant_id == self.tenant_id, m.AddOn.status == m.STATUS_ACTIVE)
            .order_by(m.AddOn.key)
        ).all()
        return self._add_on_values(rows)

    def add_on(self, add_on_id: str) -> domain.AddOn:
        return self._add_on_values([self._row(m.AddOn, add_on_id, "add-on")])[0]

    def _set_add_on_tiers(self, add_on_id: uuid.UUID, tier_ids: list[str]) -> None:
        """Limit the add-on to exactly these tiers (through the ORM, so that each link added or
        removed is in the change log)."""
        wanted = dict.fromkeys(self._row(m.Tier, tier_id, "tier").id for tier_id in tier_ids)
        links = self.session.scalars(
            select(m.AddOnTier).where(
                m.AddOnTier.tenant_id == self.tenant_id, m.AddOnTier.add_on_id == add_on_id
            )
        ).all()
        for link in links:
            if link.tier_id not in wanted:
                self.session.delete(link)
        kept = {link.tier_id for link in links}
        for tier_key in wanted:
            if tier_key not in kept:
                self.session.add(
                    m.AddOnTier(tenant_id=self.tenant_id, add_on_id=add_on_id, tier_id=tier_key)
                )

    def create_add_on(self, *, tier_ids: list[str], **fields: Any) -> domain.AddOn:
        row = m.AddOn(tenant_id=self.tenant_id, **fields)
        self.session.add(row)
        flush(self.session)
        self._changed()
        self._set_add_on_tiers(row.id, tier_ids)
        flush(self.session)
        self._changed()
        return self.add_on(str(row.id))

    def update_add_on(
        self, add_on_id: str, expected_version: int | None, changes: dict[str, Any]
    ) -> domain.AddOn:
        row = self._row(m.AddOn, add_on_id, "add-on", lock=True)
        self._check_version(row, expected_version)
        tier_ids = changes.pop("tier_ids", None)
        if tier_ids is not None:
            self._set_add_on_tiers(row.id, tier_ids)
        self._update(row, None, changes)
        return self.add_on(add_on_id)

    # -- capacity
    def capacity(self, tier_id: str, start: dt.date, end: dt.date) -> dict[dt.date, int]:
        """Explicit capacity rows of a tier between two dates (inclusive)."""
        tier = self._row(m.Tier, tier_id, "tier")
        rows = self.session.execute(
            select(m.Capacity.service_date, m.Capacity.units).where(
                m.Capacity.tenant_id == self.tenant_id,
                m.Capacity.tier_id == tier.id,
                m.Capacity.service_date.between(start, end),
            )
        ).all()
        return {d: u for d, u in rows}

    def set_capacity(self, tier_id: str, dates: list[dt.date], units: int) -> None:
        tier = self._row(m.Tier, tier_id, "tier", lock=True)
        existing = {
            r.service_date: r
            for r in self.session.scalars(
                select(m.Capacity).where(
                    m.Capacity.tenant_id == self.tenant_id,
                    m.Capacity.tier_id == tier.id,
                    m.Capacity.service_date.in_(dates),
                )
            )
        }
        for day in dates:
            row = existing.get(day)
            if row is None:
                self.session.add(
                    m.Capacity(
                        tenant_id=self.tenant_id, tier_id=tier.id, service_date=day, units=units
                    )
                )
            else:
                row.units = units
                row.updated_at = m.utcnow()
        flush(self.session)
        self._changed()

    def clear_capacity(self, tier_id: str, start: dt.date, end: dt.date) -> int:
        """Remove the explicit capacity of these dates (through the ORM, so that each removed day
        is in the change log); how many there were."""
        tier = self._row(m.Tier, tier_id, "tier", lock=True)
        rows = self.session.scalars(
            select(m.Capacity).where(
                m.Capacity.tenant_id == self.tenant_id,
                m.Capacity.tier_id == tier.id,
                m.Capacity.service_date.between(start, end),
            )
        ).all()
        for row in rows:
            self.session.delete(row)
        flush(self.session)
        self._changed()
        return len(rows)

    # -- blackouts
    def list_blackouts(
        self,
        *,
        start: dt.date | None,
        end: dt.date | None,
        tier_id: str | None,
        offset: int,
        limit: int,
    ) -> Page[dict[str, Any]]:
        stmt = select(m.Blackout).where(m.Blackout.tenant_id == self.tenant_id)
        if start:
            stmt = stmt.where(m.Blackout.service_date >= start)
        if end:
            stmt = stmt.where(m.Blackout.service_date <= end)
        if tier_id:
            stmt = stmt.where(m.Blackout.tier_id == self._row(m.Tier, tier_id, "tier").id)
        rows, total = self._page(
            stmt.order_by(m.Blackout.service_date, m.Blackout.id), offset, limit
        )
        return Page([_blackout(r) for r in rows], total)

    def add_blackouts(
        self, dates: list[dt.date], tier_id: str | None, reason: str
    ) -> list[dict[str, Any]]:
        """Close ``dates`` (idempotent: dates already closed the same way are kept as they are)."""
        tier_key = self._row(m.Tier, tier_id, "tier").id if tier_id else None
        cond = m.Blackout.tier_id == tier_key if tier_key else m.Blackout.tier_id.is_(None)
        existing = {
            r.service_date: r
            for r in self.session.scalars(
                select(m.Blackout).where(
                    m.Blackout.tenant_id == self.tenant_id, cond, m.Blackout.service_date.in_(dates)
                )
            )
        }
        rows = []
        for day in dates:
            row = existing.get(day)
            if row is None:
                row = m.Blackout(
                    tenant_id=self.tenant_id, tier_id=tier_key, service_date=day, reason=reason
                )
                self.session.add(row)
            rows.append(row)
        flush(self.session)
        self._changed()
        return [_blackout(r) for r in rows]

    def delete_blackout(self, blackout_id: str) -> None:
        row = self._row(m.Blackout, blackout_id, "blackout")
        self.session.delete(row)
        flush(self.session)
        self._changed()

    # -- storefront API keys
    def list_api_keys(self, *, offset: int, limit: int) -> Page[dict[str, Any]]:
        stmt = (
            select(m.ApiKey)
            .where(m.ApiKey.tenant_id == self.tenant_id)
            .order_by(m.ApiKey.created_at)
        )
        rows, total = self._page(stmt, offset, limit)
        return Page([_api_key(r) for r in rows], total)

    def create_api_key(
        self, *, name: str, prefix: str, key_hash: str, allowed_origins: Sequence[str] = ()
    ) -> dict[str, Any]:
        row = m.ApiKey(
            tenant_id=self.tenant_id, name=name, prefix=prefix, key_hash=key_hash,
            allowed_origins=list(allowed_origins),
        )  # fmt: skip
        self.session.add(row)
        flush(self.session)
        return _api_key(row)

    def api_key(self, key_id: str) -> dict[str, Any]:
        return _api_key(self._row(m.ApiKey, key_id, "api key"))

    def update_api_key(
        self, key_id: str, expected_version: int | None, changes: dict[str, Any]
    ) -> dict[str, Any]:
        """A key's name or allowed origins (the catalog is not touched: no version bump)."""
        row = self._row(m.ApiKey, key_id, "api key", lock=True)
        self._check_version(row, expected_version)
        for name, value in changes.items():
            setattr(row, name, value)
        flush(self.session)
        return _api_key(row)

    def revoke_api_key(self, key_id: str) -> dict[str, Any]:
        row = self._row(m.ApiKey, key_id, "api key", lock=True)
        if row.revoked_at is None:
            row.revoked_at = m.utcnow()
            flush(self.session)
        return _api_key(row)


def _only(fields: dict[str, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = set(fields) - allowed
    if unknown:
        raise TypeError(f"unexpected fields {sorted(unknown)}")
    return fields


def _blackout(row: m.Blackout) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "tier_id": str(row.tier_id) if row.tier_id else None,
        "date": row.service_date,
        "reason": row.reason,
    }


def _api_key(row: m.ApiKey) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "name": row.name,
        "prefix": row.prefix,
        "created_at": row.created_at,
        "revoked_at": row.revoked_at,
        "active": row.revoked_at is None,
        "allowed_origins": list(row.allowed_origins),
        "version": row.version,
    }
