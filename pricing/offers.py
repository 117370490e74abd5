"""Offers: every tier of a segment priced for a date and party, with availability, the upsell
the rules offer and, for an unavailable tier, ranked priced fallbacks (``price_offers``, one pure
call over the inputs the caller gathered; ``pricing.pricer``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pricing import catalog as domain
from pricing.availability import AVAILABLE, Availability, fallback_candidates
from pricing.money import round_minor
from pricing.price import Price
from pricing.pricer import (
    MAX_LEAD_DAYS,
    OFFER_KINDS,
    PRICE_KINDS,
    Assignment,
    Decisions,
    Evaluate,
    Evaluation,
    Inputs,
    Pricer,
    RulesetRef,
    Scope,
    Selection,
    check_date,
    check_party,
    resolve_add_ons,
    segment_of,
)


@dataclass(frozen=True)
class TierUpsell:
    tier: domain.Tier
    source: domain.Tier
    message_key: str
    placement: str  # "step", or "banner": also on the tier card (rules/language.PLACEMENTS)
    percent_off: Decimal
    total: int  # the target's price with the upsell's discount, as a quote accepting it gets
    difference: int  # total - the source tier's total
    rules: tuple[str, ...]


@dataclass(frozen=True)
class AddOnUpsell:
    add_on: domain.AddOn
    message_key: str
    placement: str  # "step", or "banner": also on the tier card (rules/language.PLACEMENTS)
    percent_off: Decimal
    price: int  # the add-on's price for the party
    total: int  # with the upsell's discount
    rules: tuple[str, ...]


@dataclass(frozen=True)
class Fallback:
    rank: int
    strategy: str
    reason: str
    segment: domain.Segment
    tier: domain.Tier
    service_date: dt.date
    price: Price
    units_left: int
    decision_id: str


@dataclass(frozen=True)
class PricedTier:
    tier: domain.Tier
    price: Price
    availability: Availability
    add_ons_applied: tuple[str, ...]
    add_ons_unavailable: tuple[str, ...]
    upsell: TierUpsell | AddOnUpsell | None
    fallbacks: tuple[Fallback, ...]
    decision_id: str


@dataclass(frozen=True)
class OfferSheet:
    """Every active tier of a segment priced for a date and party."""

    segment: domain.Segment
    selection: Selection
    currency: str
    ruleset: RulesetRef
    assignment: Assignment | None
    tiers: tuple[PricedTier, ...]
    evaluations: tuple[Evaluation, ...]


def offers_scope(snapshot: domain.CatalogSnapshot, today: dt.date, selection: Selection) -> Scope:
    """The segment's tiers, once the request is checked (segment, date, add-ons)."""
    segment = segment_of(snapshot, selection.segment_ref)
    check_date(today, selection.service_date)
    resolve_add_ons(snapshot, selection.add_on_refs)
    return Scope(segment, tuple(snapshot.tiers_of(segment.id)))


def price_offers(inputs: Inputs, selection: Selection, evaluate: Evaluate) -> OfferSheet:
    """Every active tier of the segment, priced for the date and party, with availability,
    features, the upsell offer and, for an unavailable tier, ranked priced fallbacks."""
    snapshot = inputs.snapshot
    segment = offers_scope(snapshot, inputs.today, selection).segment
    add_ons = resolve_add_ons(snapshot, selection.add_on_refs)
    tiers = snapshot.tiers_of(segment.id)
    check_party(tiers, selection.guests)
    pricer = Pricer(inputs, selection, add_ons, evaluate)
    priced: dict[str, tuple[str, Decisions, Price, Availability]] = {}
    for tier in tiers:
        availability = pricer.availability(tier, selection.service_date)
        kinds = OFFER_KINDS if availability.bookable else (*OFFER_KINDS, "fallback")
        priced[tier.id] = pricer.price("offer", tier, selection.service_date, kinds)
    shown = []
    for tier in tiers:
        decision_id, decisions, price, availability = priced[tier.id]
        shown.append(
            PricedTier(
                tier=tier,
                price=price,
                availability=availability,
                add_ons_applied=tuple(a.id for a in pricer.add_ons_for(tier)),
                add_ons_unavailable=tuple(a.id for a in add_ons if not a.available_for(tier.id)),
                upsell=_upsell(pricer, tier, decisions, price, tiers, priced),
                fallbacks=()
                if availability.bookable
                else _fallbacks(pricer, tier, decisions["fallback"]),
                decision_id=decision_id,
            )
        )
    return OfferSheet(
        segment=segment,
        selection=selection,
        currency=inputs.tenant.currency,
        ruleset=inputs.ruleset,
        assignment=inputs.assignment,
        tiers=tuple(shown),
        evaluations=tuple(pricer.evaluations),
    )


def _upsell(
    pricer: Pricer,
    tier: domain.Tier,
    decisions: Decisions,
    price: Price,
    tiers: list[domain.Tier],
    priced: Mapping[str, tuple[str, Decisions, Price, Availability]],
) -> TierUpsell | AddOnUpsell | None:
    decision = decisions["upsell"]
    percent = Decimal(decision.get("percent_off", 0))
    if decision["offer"] == "tier":
        target = domain.upsell_target(tier, tiers, decision["target_level"])
        if target is None or not priced[target.id][3].bookable:
            return None
        # The target priced as a quote accepting this upsell would be (guardrails included).
        total = (
            pricer.priced(target, priced[target.id][1], decision).total
            if percent
            else priced[target.id][2].total
        )
        return TierUpsell(
            tier=target,
            source=tier,
            message_key=decision["message_key"],
            placement=decision.get("placement", "step"),
            percent_off=percent,
            total=total,
            difference=total - price.total,
            rules=tuple(decision["rules"]),
        )
    if decision["offer"] == "add_on":
        snapshot = pricer.inputs.snapshot
        add_on = next((a for a in snapshot.add_ons if a.key == decision["add_on"]), None)
        if add_on is None or not add_on.available_for(tier.id) or add_on in pricer.add_ons:
            return None
        count = pricer.selection.guests if add_on.pricing == "per_guest" else 1
        full = add_on.price.amount * count
        return AddOnUpsell(
            add_on=add_on,
            message_key=decision["message_key"],
            placement=decision.get("placement", "step"),
            percent_off=percent,
            price=full,
            total=round_minor(Decimal(full) * (1 - percent / 100)),
            rules=tuple(decision["rules"]),
        )
    return None


def _fallbacks(
    pricer: Pricer, tier: domain.Tier, decision: Mapping[str, Any]
) -> tuple[Fallback, ...]:
    inputs = pricer.inputs
    candidates = fallback_candidates(
        tier,
        pricer.selection.service_date,
        inputs.today,
        decision["strategies"],
        decision["max_results"],
        pricer.segments,
        list(inputs.snapshot.tiers),
        pricer.availability,
        latest=inputs.today + dt.timedelta(days=MAX_LEAD_DAYS),
    )
    out = []
    for rank, candidate in enumerate(candidates, start=1):
        decision_id, _, price, availability = pricer.price(
            "fallback", candidate.tier, candidate.service_date, PRICE_KINDS
        )
        assert availability.status == AVAILABLE
        out.append(
            Fallback(
                rank=rank,
                strategy=candidate.strategy,
                reason=candidate.reason,
                segment=candidate.segment,
                tier=candidate.tier,
                service_date=candidate.service_date,
                price=price,
                units_left=availability.units_left,
                decision_id=decision_id,
            )
        )
    return tuple(out)
