"""Catalog value types as the domain sees them, and the tier comparison built from them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pricing.experiment_design import Experiment
from pricing.money import Money

TIER_LEVELS = (1, 2, 3)
TIER_LEVEL_NAMES = {1: "Essential", 2: "Preferred", 3: "Ultimate"}


@dataclass(frozen=True, slots=True)
class Feature:
    key: str
    label: str
    value: bool | int | str


@dataclass(frozen=True, slots=True)
class SegmentTheme:
    """How the storefront widget shows a segment; None: the widget's default."""

    primary_color: str | None = None  # "#rrggbb"
    accent_color: str | None = None
    font_family: str | None = None  # a CSS font-family list
    radius: str | None = None  # a CSS length, "8px"


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    key: str
    name: str
    position: int
    status: str = "active"
    version: int = 1
    theme: SegmentTheme = SegmentTheme()

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class Tier:
    id: str
    segment_id: str
    level: int
    name: str
    description: str
    base_price: Money
    per_guest_price: Money
    max_guests: int
    features: tuple[Feature, ...] = ()
    popular: bool = False
    upsell_target_ids: tuple[str, ...] = ()
    photos: tuple[str, ...] = ()
    status: str = "active"
    version: int = 1
    price_floor: int | None = None  # minor units, bounds on a booking's total
    price_ceiling: int | None = None

    @property
    def active(self) -> bool:
        return self.status == "active"


def upsell_target(source: Tier, tiers: Sequence[Tier], target_level: int) -> Tier | None:
    """The tier a tier upsell of ``source`` offers when the rules name ``target_level``: the tier
    of ``source``'s segment at that level among ``tiers`` (the tiers on sale), above ``source``;
    and when ``source`` lists ``upsell_target_ids``, one of them (the list narrows what the rules
    may offer from that tier; empty: no limit). None: no tier upsell."""
    if target_level <= source.level:
        return None
    target = next(
        (t for t in tiers if t.segment_id == source.segment_id and t.level == target_level), None
    )
    if target is None or (source.upsell_target_ids and target.id not in source.upsell_target_ids):
        return None
    return target


@dataclass(frozen=True, slots=True)
class AddOn:
    id: str
    key: str
    name: str
    pricing: str  # "flat" | "per_guest"
    price: Money
    tier_ids: tuple[str, ...] = ()  # empty: every tier
    status: str = "active"
    version: int = 1

    @property
    def active(self) -> bool:
        return self.status == "active"

    def available_for(self, tier_id: str) -> bool:
        return not self.tier_ids or tier_id in self.tier_ids


@dataclass(frozen=True, slots=True)
class FeatureRow:
    key: str
    label: str
    values: tuple[bool | int | str | None, ...]  # one per tier, in level order


@dataclass(frozen=True, slots=True)
class TierComparison:
    segment: Segment
    currency: str
    tiers: tuple[Tier, ...]
    feature_matrix: tuple[FeatureRow, ...]
    add_ons: tuple[AddOn, ...] = field(default_factory=tuple)


def compare_tiers(
    segment: Segment, currency: str, tiers: list[Tier], add_ons: list[AddOn]
) -> TierComparison:
    """Active tiers of ``segment`` in level order, with their features as a matrix.

    Matrix rows follow the first appearance of each feature key walking the tiers in level order;
    a tier without a feature has ``None`` in that row. Add-ons listed are the active ones available
    to at least one of the shown tiers, their tier limits narrowed to the shown tiers.
    """
    shown = sorted((t for t in tiers if t.active), key=lambda t: t.level)
    labels: dict[str, str] = {}
    for tier in shown:
        for feature in tier.features:
            labels.setdefault(feature.key, feature.label)
    by_tier: list[dict[str, Any]] = [{f.key: f.value for f in t.features} for t in shown]
    matrix = tuple(
        FeatureRow(key, label, tuple(values.get(key) for values in by_tier))
        for key, label in labels.items()
    )
    tier_ids = {t.id for t in shown}
    offered = tuple(
        replace(a, tier_ids=tuple(t for t in a.tier_ids if t in tier_ids))
        for a in add_ons
        if a.active and (not a.tier_ids or tier_ids.intersection(a.tier_ids))
    )
    return TierComparison(segment, currency, tuple(shown), matrix, offered)


@dataclass(frozen=True, slots=True)
class Tenant:
    id: str
    slug: str
    name: str
    currency: str
    time_zone: str
    status: str = "active"
    default_capacity: int = 0
    version: int = 1
    catalog_version: int = 1
    refund_window_hours: int = 48
    refund_application_fee: bool = True
    decision_retention_days: int | None = None  # None: decision records are kept
    notification_email: str = ""  # new bookings are announced there ("": nowhere)
    rate_limit_storefront: str | None = None  # None: the service's RATE_LIMIT_STOREFRONT
    rate_limit_admin: str | None = None  # None: the service's RATE_LIMIT_ADMIN

    @property
    def active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True, slots=True)
class CatalogSnapshot:
    """Everything an offer needs of a tenant's catalog: the tenant's settings, active segments,
    their active tiers, the active add-ons and the live experiments (oldest started first), as of
    one ``catalog_version``."""

    tenant: Tenant  # as of catalog_version: default capacity, time zone, currency
    catalog_version: int
    segments: tuple[Segment, ...]
    tiers: tuple[Tier, ...]
    add_ons: tuple[AddOn, ...]
    experiments: tuple[Experiment, ...] = ()

    def segment(self, ref: str) -> Segment | None:
        return next((s for s in self.segments if ref in (s.id, s.key)), None)

    def tiers_of(self, segment_id: str) -> list[Tier]:
        return sorted((t for t in self.tiers if t.segment_id == segment_id), key=lambda t: t.level)

    def tier(self, tier_id: str) -> Tier | None:
        return next((t for t in self.tiers if t.id == tier_id), None)

    def segments_by_id(self) -> dict[str, Segment]:
        return {s.id: s for s in self.segments}
