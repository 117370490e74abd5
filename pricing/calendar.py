"""A month of a segment's availability for a party: per day, each tier's availability (from the
same counts offers use) and the lowest price the rules give a bookable tier that day."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from pricing import catalog as domain
from pricing.availability import AVAILABLE, BLACKED_OUT, SOLD_OUT, Availability
from pricing.pricer import (
    MAX_LEAD_DAYS,
    PRICE_KINDS,
    Evaluate,
    Evaluation,
    Inputs,
    Pricer,
    Selection,
)

PAST = "past"
TOO_FAR = "too_far"


@dataclass(frozen=True)
class TierDay:
    tier_id: str
    level: int
    status: str  # available, sold_out, blacked_out, party_too_large, past, too_far
    units_left: int


@dataclass(frozen=True)
class CalendarDay:
    date: dt.date
    status: (
        str  # available (some tier bookable), sold_out, blacked_out, party_too_large, past, too_far
    )
    tiers: tuple[TierDay, ...]
    lowest_price: int | None  # minor units: the cheapest bookable tier as the rules price it

    @property
    def bookable(self) -> bool:
        return self.status == AVAILABLE


@dataclass(frozen=True)
class MonthAvailability:
    segment: domain.Segment
    month: dt.date  # its first day
    guests: int
    currency: str
    days: tuple[CalendarDay, ...]
    evaluations: tuple[Evaluation, ...]  # of the prices shown, for their decision records


def month_days(first: dt.date) -> list[dt.date]:
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return [first + dt.timedelta(days=n) for n in range((following - first).days)]


def _day_status(statuses: list[str]) -> str:
    """The day as a whole: bookable if any tier is; else blacked out when every tier is, sold
    out when any is, else the first tier's reason."""
    if AVAILABLE in statuses:
        return AVAILABLE
    if statuses and all(s == BLACKED_OUT for s in statuses):
        return BLACKED_OUT
    if SOLD_OUT in statuses:
        return SOLD_OUT
    return statuses[0] if statuses else SOLD_OUT


def price_month(
    inputs: Inputs, segment: domain.Segment, first: dt.date, guests: int, evaluate: Evaluate
) -> MonthAvailability:
    """Every day of the month starting ``first``: past days and days beyond the selling horizon
    are not bookable; on the others each tier's availability, and the price of the bookable tier
    with the lowest subtotal (base and guests, no add-ons), evaluated by the rules as an offer."""
    tiers = inputs.snapshot.tiers_of(segment.id)
    horizon = inputs.today + dt.timedelta(days=MAX_LEAD_DAYS)
    days = []
    evaluations: list[Evaluation] = []
    for day in month_days(first):
        selection = Selection(segment_ref=segment.id, service_date=day, guests=guests)
        pricer = Pricer(inputs, selection, [], evaluate)
        if day < inputs.today or day > horizon:
            status = PAST if day < inputs.today else TOO_FAR
            days.append(
                CalendarDay(
                    day, status, tuple(TierDay(t.id, t.level, status, 0) for t in tiers), None
                )
            )
            continue
        found: list[tuple[domain.Tier, Availability]] = [
            (t, pricer.availability(t, day)) for t in tiers
        ]
        bookable = [t for t, a in found if a.bookable]
        lowest = None
        if bookable:
            cheapest = min(
                bookable,
                key=lambda t: (t.base_price.amount + t.per_guest_price.amount * guests, t.level),
            )
            lowest = pricer.price("offer", cheapest, day, PRICE_KINDS)[2].total
            evaluations.extend(pricer.evaluations)
        days.append(
            CalendarDay(
                day,
                _day_status([a.status for _, a in found]),
                tuple(TierDay(t.id, t.level, a.status, a.units_left) for t, a in found),
                lowest,
            )
        )
    return MonthAvailability(
        segment, first, guests, inputs.tenant.currency, tuple(days), tuple(evaluations)
    )
