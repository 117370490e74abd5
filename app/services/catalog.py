"""Catalog use cases. Each owns exactly one transaction and returns domain values."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pricing import catalog as domain
from pricing.errors import InvalidInput, NotFound
from storage.catalog import CatalogRepository
from storage.db import Database
from storage.inventory import InventoryRepository
from storage.repository import Page

STATUSES = ("active", "archived")
MAX_POSITION = 10_000  # as the segment schemas validate it


def _days(start: dt.date, end: dt.date) -> list[dt.date]:
    return [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]


def _minor(tenant: domain.Tenant, money: dict[str, Any], field: str) -> int:
    """A Money input -> minor units, refusing a currency other than the tenant's."""
    if money["currency"] != tenant.currency:
        raise InvalidInput(
            f"Prices are in the tenant's currency {tenant.currency}.",
            code="currency_mismatch",
            details=[{"field": f"{field}/currency", "message": f"Must be {tenant.currency}."}],
        )
    return int(money["amount"])


def _tier_columns(tenant: domain.Tenant, data: dict[str, Any]) -> dict[str, Any]:
    columns = dict(data)
    for name in ("base_price", "per_guest_price"):
        if name in columns:
            columns[f"{name}_minor"] = _minor(tenant, columns.pop(name), name)
    for name in ("price_floor", "price_ceiling"):
        if name in columns:
            money = columns.pop(name)
            columns[f"{name}_minor"] = None if money is None else _minor(tenant, money, name)
    if "features" in columns:
        columns["features"] = [dict(f) for f in columns["features"]]
    if "upsell_target_ids" in columns:
        columns["upsell_target_ids"] = [str(t) for t in dict.fromkeys(columns["upsell_target_ids"])]
    return columns


def _check_bounds(floor: int | None, ceiling: int | None) -> None:
    if floor is not None and ceiling is not None and ceiling < floor:
        raise InvalidInput(
            "The price ceiling is below the price floor.",
            code="price_bounds_invalid",
            details=[
                {"field": "price_ceiling/amount", "message": "Must not be below price_floor."}
            ],
        )


def _check_upsell_targets(
    repo: CatalogRepository, ids: list[str], tier_id: str | None = None
) -> None:
    missing = set(ids) - repo.existing_tier_ids(ids)
    if missing:
        raise NotFound("An upsell target tier was not found.", code="tier_not_found")
    if tier_id and tier_id in ids:
        raise InvalidInput("A tier cannot be its own upsell target.", code="invalid_upsell_target")


# ---- segments ---------------------------------------------------------------------------------


def list_segments(
    db: Database, tenant: domain.Tenant, status: str | None, offset: int, limit: int
) -> Page[domain.Segment]:
    with db.transaction() as s:
        return CatalogRepository(s, tenant).list_segments(status=status, offset=offset, limit=limit)


def get_segment(db: Database, tenant: domain.Tenant, segment_id: str) -> domain.Segment:
    with db.transaction() as s:
        return CatalogRepository(s, tenant).segment(segment_id)


def create_segment(db: Database, tenant: domain.Tenant, data: dict[str, Any]) -> domain.Segment:
    with db.transaction() as s:
        return CatalogRepository(s, tenant).create_segment(**data)


def update_segment(
    db: Database, tenant: domain.Tenant, segment_id: str, version: int | None, data: dict[str, Any]
) -> domain.Segment:
    with db.transaction() as s:
        return CatalogRepository(s, tenant).update_segment(segment_id, version, data)


def set_segment_status(
    db: Database, tenant: domain.Tenant, segment_id: str, status: str
) -> domain.Segment:
    assert status in STATUSES
    with db.transaction() as s:
        return CatalogRepository(s, tenant).update_segment(segment_id, None, {"status": status})


def clone_segment(
    db: Database, tenant: domain.Tenant, segment_id: str, data: dict[str, Any]
) -> domain.Segment:
    """A new segment with copies of the source's active tiers (new ids), their add-on limits,
    and upsell targets re-pointed at the copies where they pointed inside the source segment.
    Without a ``position`` the clone goes after the last segment (archived ones included)."""
    with db.transaction() as s:
        repo = CatalogRepository(s, tenant)
        source = repo.segment(segment_id)
        tiers = repo.tiers_of_segment(source.id, active_only=True)
        if data.get("position") is None:
            data = {**data, "position": min(repo.last_segment_position() + 1, MAX_POSITION)}
        clone = repo.create_segment(**data)
        new_ids: dict[str, str] = {}
        for tier in tiers:
            copy = repo.create_tier(
                segment_id=clone.id,
                level=tier.level,
                name=tier.name,
                description=tier.description,
                base_price_minor=tier.base_price.amount,
                per_guest_price_minor=tier.per_guest_price.amount,
                max_guests=tier.max_guests,
                features=[
                    {"key": f.key, "label": f.label, "value": f.value} for f in tier.features
                ],
                popular=tier.popular,
                photos=list(tier.photos),
            )
            new_ids[tier.id] = copy.id
        for tier in tiers:
            targets = [new_ids.get(t, t) for t in tier.upsell_target_ids]
            repo.update_tier(new_ids[tier.id], None, {"upsell_target_ids": targets})
        for add_on in repo.active_add_ons():
            if add_on.tier_ids and any(t in new_ids for t in add_on.tier_ids):
                extra = [new_ids[t] for t in add_on.tier_ids if t in new_ids]
                repo.update_add_on(add_on.id, None, {"tier_ids": [*add_on.tier_ids, *extra]})
        return clone


# ---- tiers ------------------------------------------------------------------------------------


def list_tiers(
    db: Database,
    tenant: domain.Tenant,
    segment_id: str | None,
    status: str | None,
    offset: int,
    limit: int,
) -> Page[domain.Tier]:
    with db.transaction() as s:
        return CatalogRepository(s, tenant).list_tiers(
            segment_id=segment_id, status=status, offset=offset, limit=limit
        )


def get_tier(db: Database, tenant: domain.Tenant, tier_id: str) -> domain.Tier:
    with db.transaction() as s:
        return CatalogRepository(s, tenant).tier(tier_id)


def create_tier(db: Database, tenant: domain.Tenant, data: dict[str, Any]) -> domain.Tier:
    columns = _tier_columns(tenant, data)
    segment_id = str(columns.pop("segment_id"))
    _check_bounds(columns.get("price_floor_minor"), columns.get("price_ceiling_minor"))
    with db.transaction() as s:
        repo = CatalogRepository(s, tenant)
        _check_upsell_targets(repo, columns.get("upsell_target_ids", []))
        return repo.create_tier(segment_id=segment_id, **columns)


def update_tier(
    db: Database, tenant: domain.Tenant, tier_id: str, version: int | None, data: dict[str, Any]
) -> domain.Tier:
    columns = _tier_columns(tenant, data)
    with db.transaction() as s:
        repo = CatalogRepository(s, tenant)
        if "upsell_target_ids" in columns:
            _check_upsell_targets(repo, columns["upsell_target_ids"], tier_id)
        current = repo.tier(tier_id)
        _check_bounds(
            columns.get("price_floor_minor", current.price_floor),
            columns.get("price_ceiling_minor", current.price_ceiling),
        )
        return repo.update_tier(tier_id, version, columns)


def set_tier_status(db: Database, tenant: domain.Tenant, tier_id: str, status: str) -> domain.Tier:
    assert status in STATUSES
    with db.transaction() as s:
        return CatalogRepository(s, tenant).update_tier(tier_id, None, {"status": status})


# ---- add-ons ----------------------------------------------------------------------------------


def _add_on_columns(tenant: domain.Tenant, data: dict[str, Any]) -> dict[str, Any]:
    columns = dict(data)
    if "price" in columns:
        columns["price_minor"] = _minor(tenant, columns.pop("price"), "price")
    if "tier_ids" in columns:
        columns["tier_ids"] = [str(t) for t in columns["tier_ids"]]
    return columns


def list_add_ons(
    db: Database, tenant: domain.Tenant, status: str | None, offset: int, limit: int
) -> Page[domain.AddOn]:
    with db.transaction() as s:
        return CatalogRepository(s, tenant).list_add_ons(status=status, offset=offset, limit=limit)


def get_add_on(db: Database, tenant: domain.Tenant, add_on_id: str) -> domain.AddOn:
    with db.transaction() as s:
        return CatalogRepository(s, tenant).add_on(add_on_id)


def create_add_on(db: Database, tenant: domain.Tenant, data: dict[str, Any]) -> domain.AddOn:
    columns = _add_on_columns(tenant, data)
    with db.transaction() as s:
        return CatalogRepository(s, tenant).create_add_on(**columns)


def update_add_on(
    db: Database, tenant: domain.Tenant, add_on_id: str, version: int | None, data: dict[str, Any]
) -> domain.AddOn:
    columns = _add_on_columns(tenant, data)
    with db.transaction() as s:
        return CatalogRepository(s, tenant).update_add_on(add_on_id, version, columns)


def set_add_on_status(
    db: Database, tenant: domain.Tenant, add_on_id: str, status: str
) -> domain.AddOn:
    assert status in STATUSES
    with db.transaction() as s:
        return CatalogRepository(s, tenant).update_add_on(add_on_id, None, {"status": status})


# ---- capacity ---------------------------------------------------------------------------------


def capacity(
    db: Database, tenant: domain.Tenant, tier_id: str, start: dt.date, end: dt.date
) -> dict[str, Any]:
    """Effective capacity per day: the day's own units, else the tenant default."""
    with db.transaction() as s:
        explicit = InventoryRepository(s, tenant).capacity(tier_id, start, end)
    days = [
        {"date": d, "units": explicit[d], "source": "date"}
        if d in explicit
        else {"date": d, "units": tenant.default_capacity, "source": "default"}
        for d in _days(start, end)
    ]
    return {"tier_id": tier_id, "days": days}


def set_capacity(
    db: Database, tenant: domain.Tenant, tier_id: str, start: dt.date, end: dt.date, units: int
) -> dict[str, Any]:
    with db.transaction() as s:
        InventoryRepository(s, tenant).set_capacity(tier_id, _days(start, end), units)
    return capacity(db, tenant, tier_id, start, end)


def clear_capacity(
    db: Database, tenant: domain.Tenant, tier_id: str, start: dt.date, end: dt.date
) -> None:
    with db.transaction() as s:
        InventoryRepository(s, tenant).clear_capacity(tier_id, start, end)


# ---- blackouts --------------------------------------------------------------------------------


def list_blackouts(
    db: Database,
    tenant: domain.Tenant,
    start: dt.date | None,
    end: dt.date | None,
    tier_id: str | None,
    offset: int,
    limit: int,
) -> Page[dict[str, Any]]:
    with db.transaction() as s:
        return InventoryRepository(s, tenant).list_blackouts(
            start=start, end=end, tier_id=tier_id, offset=offset, limit=limit
        )


def add_blackouts(
    db: Database,
    tenant: domain.Tenant,
    start: dt.date,
    end: dt.date,
    tier_id: str | None,
    reason: str,
) -> list[dict[str, Any]]:
    with db.transaction() as s:
        return InventoryRepository(s, tenant).add_blackouts(_days(start, end), tier_id, reason)


def delete_blackout(db: Database, tenant: domain.Tenant, blackout_id: str) -> None:
    with db.transaction() as s:
        InventoryRepository(s, tenant).delete_blackout(blackout_id)


# ---- storefront -------------------------------------------------------------------------------


def storefront_segments(db: Database, tenant: domain.Tenant) -> list[domain.Segment]:
    with db.transaction() as s:
        return (
            CatalogRepository(s, tenant).list_segments(status="active", offset=0, limit=1000).items
        )


def tier_comparison(db: Database, tenant: domain.Tenant, segment_ref: str) -> domain.TierComparison:
    """The comparison of an active segment's active tiers (prices not yet rule-adjusted)."""
    with db.transaction() as s:
        repo = CatalogRepository(s, tenant)
        segment = repo.find_segment(segment_ref)
        if not segment.active:
            raise NotFound("segment not found.", code="segment_not_found")
        tiers = repo.tiers_of_segment(segment.id, active_only=True)
        add_ons = repo.active_add_ons()
    return domain.compare_tiers(segment, tenant.currency, tiers, add_ons)
