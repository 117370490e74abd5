"""Offers, quotes and moves between tiers, priced: the pure core of the storefront's use cases.

One call per use case — :func:`price_offers`, :func:`price_quote`, :func:`price_move` — over values
the caller gathered (:class:`Inputs`: the catalog snapshot, the availability counts around the
date, the tenant's today, the ruleset in force and the visitor's experiment variant). Decisions
come from ``evaluate(purpose, facts, kinds)``, a callback the caller passes (the tenant's compiled
rules program): one evaluation per priced selection. Each evaluation is reported back in the
result as an :class:`Evaluation` (its id and what a decision record keeps of the pricing side:
what was priced, and the price it fed), so that the caller can write the decision log.

Errors are domain errors whose details name the input ``field`` they are about; the HTTP layer
turns a field into a pointer into the request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Protocol

from pricing import catalog as domain
from pricing.availability import (
    AVAILABLE,
    Availability,
    DayCounts,
    availability_of,
    fallback_candidates,
)
from pricing.errors import InvalidInput, NotFound
from pricing.experiment_design import Experiment
from pricing.facts import date_facts
from pricing.money import round_minor
from pricing.price import (
    Adjustments,
    Bounds,
    Commission,
    Price,
    items_of,
    price_selection,
    subtotal_lines,
)

PRICE_KINDS = ("season", "last_minute", "commission")
OFFER_KINDS = (*PRICE_KINDS, "upsell")
#: The selling horizon: service dates from the tenant's today to this many days ahead.
MAX_LEAD_DAYS = 3 * 366
#: Availability is read for this many days around the date asked for (nearby-date fallbacks).
NEARBY_WINDOW = 14

Decisions = Mapping[str, Mapping[str, Any]]


class Decided(Protocol):
    """What an evaluation answers: its id (the decision record's) and the decision per kind."""

    @property
    def id(self) -> str: ...
    @property
    def decisions(self) -> Decisions: ...


Evaluate = Callable[[str, dict[str, Any], Sequence[str]], Decided]


@dataclass(frozen=True)
class Selection:
    segment_ref: str
    service_date: dt.date
    guests: int
    add_on_refs: tuple[str, ...] = ()
    tier_id: str | None = None
    visitor_id: str = ""  # the storefront's visitor: experiment assignment (sticky once exposed)
    upsell_from: str | None = None  # quote: accepting the upsell offered on this tier (its id)
    customer: dict[str, str] | None = None  # quote: e-mail, name, phone (stored masked)
    booking_id: str | None = None  # the booking a move is about (kept in its records)
    preview_variant: tuple[str, str] | None = None  # admin preview: (experiment key, variant)


@dataclass(frozen=True)
class Assignment:
    """The experiment variant a request is priced under: the first live experiment that targets
    the selection and includes the visitor (sticky once stored), or an admin preview's choice."""

    key: str
    variant: str
    experiment: Experiment | None  # None for an admin preview
    visitor_id: str = ""
    sticky: bool = False  # read from an earlier exposure, rather than assigned by this request

    def covers(self, segment_key: str, tier_id: str, day: dt.date) -> bool:
        e = self.experiment
        return e is None or (
            e.targeting.covers(segment_key, day) and e.targeting.covers_tier(tier_id)
        )

    def record(self) -> dict[str, Any]:
        """What a decision record keeps of the assignment."""
        e = self.experiment
        if e is None:
            return {"experiment": self.key, "variant": self.variant, "preview": True}
        return {
            "experiment": self.key,
            "experiment_id": e.id,
            "variant": self.variant,
            "bucket_version": e.bucket_version,
            "visitor_id": self.visitor_id,
            "hash_version": 2,
            "sticky": self.sticky,
        }


def experiments_for(
    snapshot: domain.CatalogSnapshot, selection: Selection, segment: domain.Segment,
    tiers: Sequence[domain.Tier],
) -> list[Experiment]:  # fmt: skip
    """The live experiments whose targeting covers the segment, the date and one of ``tiers``
    (the tiers the request prices), in order: the visitor is assigned in the first one that has
    (or gives) them a variant."""
    if not selection.visitor_id:
        return []
    day = selection.service_date
    return [
        e
        for e in snapshot.experiments
        if e.targeting.covers(segment.key, day)
        and any(e.targeting.covers_tier(t.id) for t in tiers)
    ]


@dataclass(frozen=True)
class Scope:
    """What a use case will price, known before anything is priced: the segment and the tiers
    (for the visitor's experiment assignment)."""

    segment: domain.Segment
    tiers: tuple[domain.Tier, ...]


@dataclass(frozen=True)
class RulesetRef:
    version: int
    content_hash: str


@dataclass(frozen=True)
class Inputs:
    """Everything a use case prices with, gathered by the caller in one place."""

    snapshot: domain.CatalogSnapshot
    counts: DayCounts
    today: dt.date  # in the tenant's time zone
    ruleset: RulesetRef
    assignment: Assignment | None = None

    @property
    def tenant(self) -> domain.Tenant:
        return self.snapshot.tenant


@dataclass
class Evaluation:
    """One evaluation of a use case, for its decision record: ``context`` holds what was priced
    (tier, date, party, add-ons, the pricing inputs), an accepted upsell and the price it fed."""

    id: str
    purpose: str
    facts: dict[str, Any]
    kinds: tuple[str, ...]
    context: dict[str, Any]


# ---- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class TierUpsell:
    tier: domain.Tier
    source: domain.Tier
    message_key: str
    percent_off: Decimal
    total: int  # the target's price with the upsell's discount, as a quote accepting it gets
    difference: int  # total - the source tier's total
    rules: tuple[str, ...]


@dataclass(frozen=True)
class AddOnUpsell:
    add_on: domain.AddOn
    message_key: str
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


# ---- the pricing of one use case ----------------------------------------------------------------


def adjustments(decisions: Decisions) -> Adjustments:
    """The price terms the rules decided: season, last-minute discount, commission."""
    season, last_minute, commission = (
        decisions["season"],
        decisions["last_minute"],
        decisions["commission"],
    )
    return Adjustments(
        multiplier=season["multiplier"],
        season_rules=tuple(season["rules"]),
        discount_percent=last_minute["percent_off"],
        discount_rules=tuple(last_minute["rules"]),
        max_total_discount_percent=last_minute["max_total_discount_percent"],
        commission=Commission(
            commission["rate_percent"],
            commission["fixed"],
            commission["min"],
            commission["max"],
            tuple(commission["rules"]),
        ),
    )


def price_record(price: Price) -> dict[str, Any]:
    """The price a decision fed, as its record keeps it (explain shows it; replay compares it)."""
    return {
        "currency": price.currency,
        "subtotal": price.subtotal,
        "total": price.total,
        "platform_fee": price.platform_fee,
        "lines": [[line.code, str(line.amount), list(line.rules)] for line in price.lines],
    }


@dataclass
class _Pricer:
    """Prices selections of one use case against its inputs, keeping each evaluation."""

    inputs: Inputs
    selection: Selection
    add_ons: list[domain.AddOn]
    evaluate: Evaluate
    evaluations: list[Evaluation] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.segments = self.inputs.snapshot.segments_by_id()

    def availability(self, tier: domain.Tier, day: dt.date) -> Availability:
        counts = self.inputs.counts
        return availability_of(
            counts.capacity_of(tier.id, day, self.inputs.tenant.default_capacity),
            counts.taken_of(tier.id, day),
            counts.blacked_out(tier.id, day),
            self.selection.guests,
            tier.max_guests,
        )

    def add_ons_for(self, tier: domain.Tier) -> list[domain.AddOn]:
        return [a for a in self.add_ons if a.available_for(tier.id)]

    def facts(
        self, tier: domain.Tier, day: dt.date, add_ons: Sequence[domain.AddOn],
        availability: Availability,
    ) -> dict[str, Any]:  # fmt: skip
        segment = self.segments[tier.segment_id]
        guests = self.selection.guests
        subtotal = sum((line.amount for line in subtotal_lines(tier, guests, add_ons)), Decimal(0))
        assigned = self.inputs.assignment
        experiment, variant = (
            (assigned.key, assigned.variant)
            if assigned is not None and assigned.covers(segment.key, tier.id, day)
            else ("", "")
        )
        return {
            "segment": segment.key,
            "segment_id": segment.id,
            "tier_id": tier.id,
            "tier_level": tier.level,
            "guests": guests,
            "amount": round_minor(subtotal),
            "add_on_count": len(add_ons),
            "units_left": min(availability.units_left, 100_000),
            "availability": availability.status,
            "currency": self.inputs.tenant.currency,
            "variant": variant,
            "experiment": experiment,
            **date_facts(day, self.inputs.today),
        }

    def price(
        self,
        purpose: str,
        tier: domain.Tier,
        day: dt.date,
        kinds: Sequence[str],
        extra: Mapping[str, Any] | None = None,
        upsell: Mapping[str, Any] | None = None,
    ) -> tuple[str, Decisions, Price, Availability]:
        """Evaluate and price ``tier`` on ``day``; ``upsell``: an accepted upsell decision whose
        discount applies (its percent_off and rules)."""
        availability = self.availability(tier, day)
        add_ons = self.add_ons_for(tier)
        facts = self.facts(tier, day, add_ons, availability)
        facts.update(extra or {})
        context: dict[str, Any] = {
            "tier_id": tier.id,
            "service_date": day,
            "guests": self.selection.guests,
            "add_on_ids": [a.id for a in add_ons],
            "pricing": items_of(tier, self.selection.guests, add_ons).as_json(),
        }
        if upsell is not None:
            context["upsell_accepted"] = {
                "percent_off": upsell.get("percent_off", "0"),
                "rules": list(upsell["rules"]),
            }
        decided = self.evaluate(purpose, facts, tuple(kinds))
        price = self.priced(tier, decided.decisions, upsell)
        context["price"] = price_record(price)
        self.evaluations.append(Evaluation(decided.id, purpose, facts, tuple(kinds), context))
        return decided.id, decided.decisions, price, availability

    def priced(
        self, tier: domain.Tier, decisions: Decisions, upsell: Mapping[str, Any] | None = None
    ) -> Price:
        terms = adjustments(decisions)
        if upsell is not None:
            terms = replace(
                terms,
                upsell_percent=Decimal(upsell.get("percent_off", 0)),
                upsell_rules=tuple(upsell["rules"]),
            )
        bounds = Bounds(tier.price_floor, tier.price_ceiling)
        return price_selection(tier, self.selection.guests, self.add_ons_for(tier), terms, bounds)


def check_date(today: dt.date, day: dt.date, field: str = "date") -> None:
    """The selling horizon: from the tenant's today to ``MAX_LEAD_DAYS`` ahead (``field``: the
    input the date came from)."""
    if day < today:
        raise InvalidInput(
            "The service date is in the past.",
            code="date_in_past",
            details=[{"field": field, "message": f"Must be {today} or later."}],
        )
    if (day - today).days > MAX_LEAD_DAYS:
        raise InvalidInput(
            "The service date is too far ahead.",
            code="date_too_far",
            details=[{"field": field, "message": f"At most {MAX_LEAD_DAYS} days ahead."}],
        )


def resolve_add_ons(snapshot: domain.CatalogSnapshot, refs: Sequence[str]) -> list[domain.AddOn]:
    """The add-ons named by id or key, in the order given, each once."""
    found: list[domain.AddOn] = []
    for i, ref in enumerate(refs):
        add_on = next((a for a in snapshot.add_ons if ref in (a.id, a.key)), None)
        if add_on is None:
            raise InvalidInput(
                f"Unknown add-on {ref!r}.",
                code="unknown_add_on",
                details=[
                    {"field": f"add_ons/{i}", "message": "Not an active add-on of this tenant."}
                ],
            )
        if add_on not in found:
            found.append(add_on)
    return found


def segment_of(snapshot: domain.CatalogSnapshot, ref: str) -> domain.Segment:
    segment = snapshot.segment(ref)
    if segment is None:
        raise NotFound("segment not found.", code="segment_not_found")
    return segment


def tier_of(snapshot: domain.CatalogSnapshot, tier_id: str | None) -> domain.Tier:
    tier = snapshot.tier(tier_id or "")
    if tier is None:
        raise NotFound("tier not found.", code="tier_not_found")
    return tier


# ---- offers ---------------------------------------------------------------------------------------


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
    if tiers and selection.guests > max(t.max_guests for t in tiers):
        most = max(t.max_guests for t in tiers)
        raise InvalidInput(
            "The party is larger than any tier of this segment allows.",
            code="party_too_large",
            details=[{"field": "guests", "message": f"At most {most}."}],
        )
    pricer = _Pricer(inputs, selection, add_ons, evaluate)
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
    pricer: _Pricer, tier: domain.Tier, decisions: Decisions, price: Price,
    tiers: list[domain.Tier], priced: Mapping[str, tuple[str, Decisions, Price, Availability]],
) -> TierUpsell | AddOnUpsell | None:  # fmt: skip
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
            percent_off=percent,
            price=full,
            total=round_minor(Decimal(full) * (1 - percent / 100)),
            rules=tuple(decision["rules"]),
        )
    return None


def _fallbacks(
    pricer: _Pricer, tier: domain.Tier, decision: Mapping[str, Any]
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
    pricer = _Pricer(inputs, selection, add_ons, evaluate)
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


def _accepted_upsell(pricer: _Pricer, tier: domain.Tier) -> Mapping[str, Any]:
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
    snapshot: domain.CatalogSnapshot, today: dt.date, selection: Selection, to_tier_id: str,
    booking: PaidBooking | None,
) -> Scope:  # fmt: skip
    """The two tiers of a move (from, to), once the request is checked."""
    source, target = tier_of(snapshot, selection.tier_id), tier_of(snapshot, to_tier_id)
    if source.id == target.id:
        raise InvalidInput("The selection is already in this tier.", code="same_tier")
    check_date(today, selection.service_date, "booking_id" if booking is not None else "date")
    resolve_add_ons(snapshot, selection.add_on_refs)
    return Scope(snapshot.segments_by_id()[source.segment_id], (source, target))


def price_move(
    inputs: Inputs, selection: Selection, to_tier_id: str, booking: PaidBooking | None,
    evaluate: Evaluate,
) -> MoveQuote:  # fmt: skip
    """Is moving ``selection`` (its tier) to ``to_tier_id`` allowed (the ``upgrade`` rules), and
    what does it cost? For a booking the difference is the target's price now less what the
    customer paid for the booking (its platform fee likewise), never today's price of its current
    tier; for a selection, the difference of today's two prices."""
    snapshot = inputs.snapshot
    source, target = move_scope(snapshot, inputs.today, selection, to_tier_id, booking).tiers
    add_ons = resolve_add_ons(snapshot, selection.add_on_refs)
    pricer = _Pricer(inputs, selection, add_ons, evaluate)
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
