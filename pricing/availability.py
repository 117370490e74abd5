"""Availability of a tier on a service date, and the ranked fallback candidates when it has none."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from pricing.catalog import Segment, Tier

AVAILABLE = "available"
SOLD_OUT = "sold_out"
BLACKED_OUT = "blacked_out"
PARTY_TOO_LARGE = "party_too_large"


@dataclass(frozen=True, slots=True)
class Availability:
    status: str
    capacity: int
    taken: int

    @property
    def units_left(self) -> int:
        return max(0, self.capacity - self.taken) if self.status != BLACKED_OUT else 0

    @property
    def bookable(self) -> bool:
        return self.status == AVAILABLE


def availability_of(
    capacity: int, taken: int, blacked_out: bool, guests: int, max_guests: int
) -> Availability:
    """Blackout wins over everything, then the party size, then capacity (holds + bookings)."""
    if blacked_out:
        status = BLACKED_OUT
    elif guests > max_guests:
        status = PARTY_TOO_LARGE
    elif taken >= capacity:
        status = SOLD_OUT
    else:
        status = AVAILABLE
    return Availability(status, capacity, taken)


@dataclass(frozen=True, slots=True)
class Candidate:
    """A bookable alternative to an unavailable tier, with why it is suggested."""

    tier: Tier
    segment: Segment
    service_date: dt.date
    strategy: str  # other_tier | nearby_dates | other_segment
    reason: str


Lookup = Callable[[Tier, dt.date], Availability]


@dataclass
class DayCounts:
    capacity: dict[tuple[str, dt.date], int]  # explicit per tier and day; missing: tenant default
    taken: dict[tuple[str, dt.date], int]
    blackout_tenant: set[dt.date]
    blackout_tier: set[tuple[str, dt.date]]
    catalog_version: int = 0

    def capacity_of(self, tier_id: str, day: dt.date, default: int) -> int:
        return self.capacity.get((tier_id, day), default)

    def taken_of(self, tier_id: str, day: dt.date) -> int:
        return self.taken.get((tier_id, day), 0)

    def blacked_out(self, tier_id: str, day: dt.date) -> bool:
        return day in self.blackout_tenant or (tier_id, day) in self.blackout_tier

    @cached_property
    def text(self) -> str:
        """The counts as one text, in a stable order (an offer sheet's key holds it), made on
        first reading: counts are complete before anyone reads them, and kept counts
        (``storage.availability_cache``) serve many offers."""
        return repr(
            (
                sorted(self.capacity.items()),
                sorted(self.taken.items()),
                sorted(self.blackout_tenant),
                sorted(self.blackout_tier),
            )
        )


def fallback_candidates(
    tier: Tier,
    service_date: dt.date,
    today: dt.date,
    strategies: Sequence[Mapping[str, Any]],
    max_results: int,
    segments: Mapping[str, Segment],
    tiers: Sequence[Tier],
    availability: Lookup,
    latest: dt.date | None = None,
) -> list[Candidate]:
    """Alternatives in the order of the ``fallback`` decision's strategies, each strategy's own
    candidates best first, without duplicates, at most ``max_results``:

    * ``other_tier`` — same segment and date; ``up``: next levels up, ``down``: next levels down,
      ``nearest``: by distance, higher first on ties;
    * ``nearby_dates`` — same tier within ±``days``, nearest first, later first on ties, never
      before ``today`` nor after ``latest`` (the last bookable day, when given);
    * ``other_segment`` — the same level in the other active segments, in display order.
    """
    found: list[Candidate] = []
    seen: set[tuple[str, dt.date]] = set()
    segment = segments[tier.segment_id]

    def offer(candidate_tier: Tier, day: dt.date, strategy: str, reason: str) -> None:
        key = (candidate_tier.id, day)
        if key in seen or len(found) >= max_results:
            return
        if availability(candidate_tier, day).bookable:
            seen.add(key)
            found.append(
                Candidate(
                    candidate_tier, segments[candidate_tier.segment_id], day, strategy, reason
                )
            )

    for strategy in strategies:
        kind = strategy["type"]
        if kind == "other_tier":
            siblings = [t for t in tiers if t.segment_id == tier.segment_id and t.id != tier.id]
            direction = strategy.get("direction", "up")
            if direction == "up":
                ordered = sorted(
                    (t for t in siblings if t.level > tier.level), key=lambda t: t.level
                )
            elif direction == "down":
                ordered = sorted(
                    (t for t in siblings if t.level < tier.level), key=lambda t: -t.level
                )
            else:
                ordered = sorted(siblings, key=lambda t: (abs(t.level - tier.level), -t.level))
            for t in ordered:
                offer(t, service_date, kind, f"{t.name} of {segment.name} on the same date")
        elif kind == "nearby_dates":
            days = int(strategy.get("days", 3))
            for distance in range(1, days + 1):
                for day in (
                    service_date + dt.timedelta(days=distance),
                    service_date - dt.timedelta(days=distance),
                ):
                    if day >= today and (latest is None or day <= latest):
                        offer(
                            tier,
                            day,
                            kind,
                            f"the same tier {distance} day(s) {'later' if day > service_date else 'earlier'}",
                        )
        elif kind == "other_segment":
            others = sorted(
                (t for t in tiers if t.segment_id != tier.segment_id and t.level == tier.level),
                key=lambda t: (segments[t.segment_id].position, segments[t.segment_id].key),
            )
            for t in others:
                offer(t, service_date, kind, f"the same level in {segments[t.segment_id].name}")
    return found
