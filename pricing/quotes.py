"""Quotes and moves between tiers: the price of one bookable selection (``price_quote``), and
whether a selection or a booking may move to another tier and what that costs (``price_move``;
for a booking, from what was paid). Pure calls over the inputs the caller gathered
(``pricing.pricer``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pricing import catalog as domain
from pricing.availability import Availability
from pricing.errors import InvalidInput
from pricing.price import Price
from pricing.pricer import (
    OFFER_KINDS,
    PRICE_KINDS,
    Assignment,
    Evaluate,
    Evaluation,
    Inputs,
    Pricer,
    RulesetRef,
    Scope,
    Selection,
    check_date,
    resolve_add_ons,
    tier_of,
)


@dataclass(frozen=True)
class PricedQuote:
    tier: domain.Tier
    add_ons: tuple[domain.AddOn, ...]
    price: Price
    ruleset: RulesetRef
    assignment: Assignment | None
    decision_id: str
    evaluations: tuple[Evaluation, ...]


@dataclass(frozen=True)
class PaidBooking:
    """What a move of a booking is priced against: the booking as paid."""

    id: str
    status: str
    total: int
    platform_fee: int


@dataclass(frozen=True)
class MoveQuote:
    """Is moving a selection or booking from its tier to another allowed, and what does it cost?
    For a booking the difference is the target's price now less what was paid for it."""

    allowed: bool
    reason: str
    rules: tuple[str, ...]
    source: domain.Tier
    target: domain.Tier
    from_price: Price  # the current tier's price now (for comparison)
    to_price: Price
    amount_paid: int | None
    platform_fee_paid: int | None
    difference: int
    platform_fee_difference: int
    features_gained: tuple[tuple[str, str, Any, Any], ...]  # key, label, from, to
    availability: Availability
    decision_id: str
    evaluations: tuple[Evaluation, ...]


# ---- quotes ---------------------------------------------------------------------------------------


def quote_scope(snapshot: domain.CatalogSnapshot, today: dt.date, selection: Selection) -> Scope:
    """The tier quoted, once the request is checked (tier, date, add-ons and their tier)."""
    tier = tier_of(snapshot, selection.tier_id)
    check_date(today, selection.service_date)
    add_ons = resolve_add_ons(snapshot, selection.add_on_refs)
    unavailable = [a.key for a in add_ons if not a.available_for(tier.id)]
    if unavailable:
        raise InvalidInput(
            f"Add-ons not available with this tier: {', '.join(unavailable)}.",
            code="add_on_not_available",
        )
    return Scope(snapshot.segments_by_id()[tier.segment_id], (tier,))


def price_quote(inputs: Inputs, selection: Selection, evaluate: Evaluate) -> PricedQuote:
    """The price of one bookable selection (accepting an upsell's discount when
    ``selection.upsell_from`` names the tier whose upsell offered it)."""
    snapshot = inputs.snapshot
    (tier,) = quote_scope(snapshot, inputs.today, selection).tiers
    add_ons = resolve_add_ons(snapshot, selection.add_on_refs)
    pricer = Pricer(inputs, selection, add_ons, evaluate)
    upsell = _accepted_upsell(pricer, tier) if selection.upsell_from else None
    decision_id, _, price, availability = pricer.price(
        "quote", tier, selection.service_date, PRICE_KINDS, upsell=upsell
    )
    if not availability.bookable:
        raise InvalidInput(
            f"The tier is not bookable on this date ({availability.status}).",
            code=f"tier_{availability.status}",
        )
    return PricedQuote(
        tier=tier,
        add_ons=tuple(add_ons),
        price=price,
        ruleset=inputs.ruleset,
        assignment=inputs.assignment,
        decision_id=decision_id,
        evaluations=tuple(pricer.evaluations),
    )


def _accepted_upsell(pricer: Pricer, tier: domain.Tier) -> Mapping[str, Any]:
    """The upsell decision of the tier the customer came from, if it offers ``tier`` (else 422):
    a quote accepting it gets its discount, as the offer showed (the same target choice,
    ``pricing.catalog.upsell_target``, the source's upsell targets included)."""
    snapshot = pricer.inputs.snapshot
    source = tier_of(snapshot, pricer.selection.upsell_from)
    _, decisions, _, _ = pricer.price(
        "upsell_source", source, pricer.selection.service_date, OFFER_KINDS
    )
    decision = decisions["upsell"]
    offered = decision["offer"] == "tier" and domain.upsell_target(
        source, snapshot.tiers_of(source.segment_id), decision["target_level"]
    )
    if not offered or offered.id != tier.id:
        raise InvalidInput(
            "The rules do not offer this tier as an upsell of upsell_from_tier_id.",
            code="upsell_not_offered",
            details=[{"field": "upsell_from_tier_id", "message": "No such upsell offer."}],
        )
    return decision


# ---- moves between tiers --------------------------------------------------------------------------


def move_scope(
    snapshot: domain.CatalogSnapshot,
    today: dt.date,
    selection: Selection,
    to_tier_id: str,
    booking: PaidBooking | None,
) -> Scope:
    """The two tiers of a move (from, to), once the request is checked."""
    source, target = tier_of(snapshot, selection.tier_id), tier_of(snapshot, to_tier_id)
    if source.id == target.id:
        raise InvalidInput("The selection is already in this tier.", code="same_tier")
    check_date(today, selection.service_date, "booking_id" if booking is not None else "date")
    resolve_add_ons(snapshot, selection.add_on_refs)
    return Scope(snapshot.segments_by_id()[source.segment_id], (source, target))


def price_move(
    inputs: Inputs,
    selection: Selection,
    to_tier_id: str,
    booking: PaidBooking | None,
    evaluate: Evaluate,
) -> MoveQuote:
    """Is moving ``selection`` (its tier) to ``to_tier_id`` allowed (the ``upgrade`` rules), and
    what does it cost? For a booking the difference is the target's price now less what the
    customer paid for the booking (its platform fee likewise), never today's price of its current
    tier; for a selection, the difference of today's two prices."""
    snapshot = inputs.snapshot
    source, target = move_scope(snapshot, inputs.today, selection, to_tier_id, booking).tiers
    add_ons = resolve_add_ons(snapshot, selection.add_on_refs)
    pricer = Pricer(inputs, selection, add_ons, evaluate)
    segments = pricer.segments
    move_facts = {
        "from_segment": segments[source.segment_id].key,
        "from_tier_id": source.id,
        "from_tier_level": source.level,
        "level_delta": target.level - source.level,
        "booking_status": booking.status if booking is not None else "none",
    }
    day = selection.service_date
    _, _, before, _ = pricer.price("upgrade", source, day, PRICE_KINDS)
    decision_id, decisions, after, availability = pricer.price(
        "upgrade", target, day, (*PRICE_KINDS, "upgrade"), move_facts
    )
    decision = decisions["upgrade"]
    allowed = bool(decision["allow"]) and availability.bookable
    reason = (
        decision["reason"]
        if not decision["allow"] or availability.bookable
        else f"tier_{availability.status}"
    )
    paid_total = booking.total if booking is not None else before.total
    paid_fee = booking.platform_fee if booking is not None else before.platform_fee
    return MoveQuote(
        allowed=allowed,
        reason=reason,
        rules=tuple(decision["rules"]),
        source=source,
        target=target,
        from_price=before,
        to_price=after,
        amount_paid=booking.total if booking is not None else None,
        platform_fee_paid=booking.platform_fee if booking is not None else None,
        difference=after.total - paid_total,
        platform_fee_difference=after.platform_fee - paid_fee,
        features_gained=features_gained(source, target),
        availability=availability,
        decision_id=decision_id,
        evaluations=tuple(pricer.evaluations),
    )


def features_gained(
    source: domain.Tier, target: domain.Tier
) -> tuple[tuple[str, str, Any, Any], ...]:
    """(key, label, from, to) of each feature the target has that the source has less of."""
    before = {f.key: f.value for f in source.features}
    return tuple(
        (f.key, f.label, before.get(f.key), f.value)
        for f in target.features
        if before.get(f.key) != f.value and f.value not in (False, 0, "", "-")
    )
