"""One use case's pricing, the part every priced thing shares: the selection asked for, the
inputs the caller gathered in one place (:class:`Inputs`), the decisions asked of the rules
through ``evaluate`` (a callback: the tenant's compiled rules program), and the evaluations kept
for the decision log (:class:`Evaluation`). ``pricing.offers`` and ``pricing.quotes`` price with it.

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
    Availability,
    DayCounts,
    availability_of,
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
    labelled,
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
    snapshot: domain.CatalogSnapshot,
    selection: Selection,
    segment: domain.Segment,
    tiers: Sequence[domain.Tier],
) -> list[Experiment]:
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
    #: The customer-facing labels of the version's rules, by rule id: the words of the price
    #: lines they made.
    labels: Mapping[str, str] = field(default_factory=dict)


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
class Pricer:
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
        self,
        tier: domain.Tier,
        day: dt.date,
        add_ons: Sequence[domain.AddOn],
        availability: Availability,
    ) -> dict[str, Any]:
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
        price = price_selection(tier, self.selection.guests, self.add_ons_for(tier), terms, bounds)
        return labelled(price, self.inputs.ruleset.labels)


def check_party(tiers: Sequence[domain.Tier], guests: int) -> None:
    """A party no tier of the segment can take is refused (an empty segment refuses nothing)."""
    if tiers and guests > (most := max(t.max_guests for t in tiers)):
        raise InvalidInput(
            "The party is larger than any tier of this segment allows.",
            code="party_too_large",
            details=[{"field": "guests", "message": f"At most {most}."}],
        )


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
