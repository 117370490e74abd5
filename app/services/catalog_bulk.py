"""Bulk catalog actions on a selection of tiers: archive or restore them, change their base
prices by a percent or an amount (previewed first). Each apply is one transaction: all of the
selection changes, or none of it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from pricing import catalog as domain
from pricing.errors import InvalidInput
from pricing.money import round_minor
from storage.catalog import CatalogRepository
from storage.db import Database

STATUSES = ("active", "archived")


@dataclass(frozen=True)
class PriceChange:
    """One tier's base price before and after, in minor units of the tenant's currency."""

    tier_id: str
    tier_name: str
    segment_id: str
    before: int
    after: int


def planned_prices(
    tiers: Sequence[domain.Tier], percent: Decimal | None, amount: int | None
) -> list[PriceChange]:
    """New base prices: ``percent`` (``"-10"``: ten percent less; rounded once, ROUND_HALF_UP)
    or ``amount`` (minor units added, negative to lower). InvalidInput ``price_negative`` if a
    price would fall below zero; exactly one of the two must be given."""
    if (percent is None) == (amount is None):
        raise InvalidInput(
            "Give a percent or an amount.",
            code="validation_error",
            details=[{"field": "percent", "message": "Exactly one of percent and amount."}],
        )
    changes = []
    for tier in tiers:
        before = tier.base_price.amount
        after = (
            round_minor(Decimal(before) * (Decimal(100) + percent) / Decimal(100))
            if percent is not None
            else before + (amount or 0)
        )
        if after < 0:
            raise InvalidInput(
                f"{tier.name}'s price would fall below zero.",
                code="price_negative",
                details=[{"field": "tier_ids", "message": f"{tier.id} would cost {after}."}],
            )
        changes.append(PriceChange(tier.id, tier.name, tier.segment_id, before, after))
    return changes


def _selected(repo: CatalogRepository, tier_ids: Sequence[str]) -> list[domain.Tier]:
    if not tier_ids:
        raise InvalidInput(
            "Select at least one tier.",
            code="validation_error",
            details=[{"field": "tier_ids", "message": "Nothing selected."}],
        )
    return [repo.tier(t) for t in dict.fromkeys(tier_ids)]


def preview_price_change(
    db: Database,
    tenant: domain.Tenant,
    tier_ids: Sequence[str],
    percent: Decimal | None,
    amount: int | None,
) -> list[PriceChange]:
    with db.read() as s:
        return planned_prices(_selected(CatalogRepository(s, tenant), tier_ids), percent, amount)


def apply_price_change(
    db: Database,
    tenant: domain.Tenant,
    tier_ids: Sequence[str],
    percent: Decimal | None,
    amount: int | None,
) -> list[PriceChange]:
    with db.transaction() as s:
        repo = CatalogRepository(s, tenant)
        changes = planned_prices(_selected(repo, tier_ids), percent, amount)
        for change in changes:
            repo.update_tier(change.tier_id, None, {"base_price_minor": change.after})
    return changes


def set_tiers_status(
    db: Database, tenant: domain.Tenant, tier_ids: Sequence[str], status: str
) -> int:
    """Archive or restore every selected tier; how many."""
    if status not in STATUSES:
        raise InvalidInput(f"status is one of {STATUSES}.", code="validation_error")
    with db.transaction() as s:
        repo = CatalogRepository(s, tenant)
        tiers = _selected(repo, tier_ids)
        for tier in tiers:
            repo.update_tier(tier.id, None, {"status": status})
    return len(tiers)


def reorder_segments(db: Database, tenant: domain.Tenant, segment_ids: Sequence[str]) -> int:
    """The segments in the order given (positions 0, 10, 20, ...; the storefront lists them so),
    in one transaction; every id must be one of the tenant's segments. How many moved."""
    ordered = list(dict.fromkeys(segment_ids))
    if not ordered:
        raise InvalidInput(
            "Give the segments in their new order.",
            code="validation_error",
            details=[{"field": "segment_ids", "message": "Nothing to order."}],
        )
    with db.transaction() as s:
        repo = CatalogRepository(s, tenant)
        moved = 0
        for index, segment_id in enumerate(ordered):
            segment = repo.segment(segment_id)
            if segment.position != index * 10:
                repo.update_segment(segment_id, None, {"position": index * 10})
                moved += 1
    return moved
