"""Catalog repository: the tenant's settings and storefront keys, segments, tiers and add-ons,
every method scoped to the tenant, returning domain values (inventory: ``storage.inventory``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import func, select

from pricing import catalog as domain
from pricing.errors import NotFound
from pricing.money import Money
from storage import models as m
from storage.repository import Page, TenantRepository, as_uuid, flush

# ---- row -> domain ---------------------------------------------------------------------------


def tenant_value(row: m.Tenant) -> domain.Tenant:
    return domain.Tenant(
        id=str(row.id),
        slug=row.slug,
        name=row.name,
        currency=row.currency,
        time_zone=row.time_zone,
        status=row.status,
        default_capacity=row.default_capacity,
        version=row.version,
        catalog_version=row.catalog_version,
        refund_window_hours=row.refund_window_hours,
        refund_application_fee=row.refund_application_fee,
        decision_retention_days=row.decision_retention_days,
        notification_email=row.notification_email,
        rate_limit_storefront=row.rate_limit_storefront,
        rate_limit_admin=row.rate_limit_admin,
    )


def segment_value(row: m.Segment) -> domain.Segment:
    return domain.Segment(
        id=str(row.id),
        key=row.key,
        name=row.name,
        position=row.position,
        status=row.status,
        version=row.version,
        theme=domain.SegmentTheme(**(row.theme or {})),
    )


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
        id=str(row.id),
        key=row.key,
        name=row.name,
        pricing=row.pricing,
        price=Money(row.price_minor, currency),
        tier_ids=tuple(sorted(str(t) for t in tier_ids)),
        status=row.status,
        version=row.version,
    )


# ---- repository ------------------------------------------------------------------------------


TIER_COLUMNS = {
    "level",
    "name",
    "description",
    "base_price_minor",
    "per_guest_price_minor",
    "max_guests",
    "features",
    "popular",
    "upsell_target_ids",
    "photos",
    "price_floor_minor",
    "price_ceiling_minor",
}


class CatalogRepository(TenantRepository):
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
            tenant_id=self.tenant_id,
            name=name,
            prefix=prefix,
            key_hash=key_hash,
            allowed_origins=list(allowed_origins),
        )
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
