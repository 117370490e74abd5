"""pricing.availability: availability_of precedence and fallback_candidates ordering (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from pricing.availability import (
    AVAILABLE,
    BLACKED_OUT,
    PARTY_TOO_LARGE,
    SOLD_OUT,
    Availability,
    availability_of,
    fallback_candidates,
)
from pricing.catalog import Segment, Tier
from pricing.money import Money

TODAY = dt.date(2030, 3, 10)
DAY = dt.date(2030, 3, 20)
PREMIUM = Segment(id="seg-p", key="premium", name="Premium", position=1)
BUDGET = Segment(id="seg-b", key="budget", name="Budget", position=2)
LUXURY = Segment(id="seg-l", key="luxury", name="Luxury", position=0)
ALPHA = Segment(id="seg-a", key="alpha", name="Alpha", position=2)  # same position as budget
SEGMENTS = {s.id: s for s in (PREMIUM, BUDGET, LUXURY, ALPHA)}


def tier(segment: Segment, level: int, max_guests: int = 6) -> Tier:
    return Tier(
        id=f"{segment.key}-{level}",
        segment_id=segment.id,
        level=level,
        name=f"{segment.name} {level}",
        description="",
        base_price=Money(10000 * level, "EUR"),
        per_guest_price=Money(1000, "EUR"),
        max_guests=max_guests,
    )


P1, P2, P3 = (tier(PREMIUM, n) for n in (1, 2, 3))
B1, B2 = tier(BUDGET, 1), tier(BUDGET, 2)
L1, L2 = tier(LUXURY, 1), tier(LUXURY, 2)
A1 = tier(ALPHA, 1)
ALL = [P3, B1, P1, L2, A1, P2, B2, L1]  # deliberately not in any useful order


def lookup(closed: set[tuple[str, dt.date]] = frozenset(), closed_tiers: set[str] = frozenset()):
    def availability(t: Tier, day: dt.date) -> Availability:
        shut = (t.id, day) in closed or t.id in closed_tiers
        return availability_of(5, 0, shut, 2, t.max_guests)

    return availability


def run(source: Tier, strategies, max_results: int = 10, day: dt.date = DAY, **kw):
    found = fallback_candidates(
        source, day, kw.pop("today", TODAY), strategies, max_results, SEGMENTS, ALL, lookup(**kw)
    )
    return [(c.tier.id, c.service_date, c.strategy) for c in found]


def d(offset: int) -> dt.date:
    return DAY + dt.timedelta(days=offset)


# ---- availability_of ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("capacity", "taken", "blacked_out", "guests", "max_guests", "status", "units_left"),
    [
        (5, 0, False, 2, 6, AVAILABLE, 5),
        (5, 4, False, 2, 6, AVAILABLE, 1),
        (5, 5, False, 2, 6, SOLD_OUT, 0),
        (5, 7, False, 2, 6, SOLD_OUT, 0),  # oversold never goes negative
        (0, 0, False, 2, 6, SOLD_OUT, 0),
        (5, 0, False, 7, 6, PARTY_TOO_LARGE, 5),
        (5, 0, False, 6, 6, AVAILABLE, 5),  # max_guests is inclusive
        (5, 0, True, 2, 6, BLACKED_OUT, 0),
        # precedence: blackout > party too large > sold out
        (0, 0, True, 9, 6, BLACKED_OUT, 0),
        (5, 5, True, 2, 6, BLACKED_OUT, 0),
        (5, 5, False, 9, 6, PARTY_TOO_LARGE, 0),
        (0, 3, False, 9, 6, PARTY_TOO_LARGE, 0),
    ],
)
def test_availability_of(capacity, taken, blacked_out, guests, max_guests, status, units_left):
    result = availability_of(capacity, taken, blacked_out, guests, max_guests)
    assert (result.status, result.units_left) == (status, units_left)
    assert result.bookable is (status == AVAILABLE)
    assert (result.capacity, result.taken) == (capacity, taken)


# ---- other_tier ---------------------------------------------------------------------------------


def test_other_tier_up_is_ascending_levels_of_the_same_segment():
    up = [{"type": "other_tier", "direction": "up"}]
    assert run(P1, up) == [("premium-2", DAY, "other_tier"), ("premium-3", DAY, "other_tier")]
    assert run(P2, up) == [("premium-3", DAY, "other_tier")]
    assert run(P3, up) == []


def test_other_tier_direction_defaults_to_up():
    assert run(P1, [{"type": "other_tier"}]) == run(P1, [{"type": "other_tier", "direction": "up"}])


def test_other_tier_down_is_descending_levels():
    down = [{"type": "other_tier", "direction": "down"}]
    assert run(P3, down) == [("premium-2", DAY, "other_tier"), ("premium-1", DAY, "other_tier")]
    assert run(P1, down) == []


def test_other_tier_nearest_by_distance_higher_first_on_ties():
    nearest = [{"type": "other_tier", "direction": "nearest"}]
    assert [t for t, _, _ in run(P2, nearest)] == ["premium-3", "premium-1"]
    assert [t for t, _, _ in run(P1, nearest)] == ["premium-2", "premium-3"]
    assert [t for t, _, _ in run(P3, nearest)] == ["premium-2", "premium-1"]


def test_other_tier_skips_unavailable_tiers():
    up = [{"type": "other_tier", "direction": "up"}]
    assert [t for t, _, _ in run(P1, up, closed={("premium-2", DAY)})] == ["premium-3"]
    # ... and only on that date: the other tier is checked on the service date.
    assert [t for t, _, _ in run(P1, up, closed={("premium-2", d(1))})] == [
        "premium-2",
        "premium-3",
    ]


# ---- nearby_dates -------------------------------------------------------------------------------


def test_nearby_dates_nearest_first_later_first_on_ties():
    found = run(P1, [{"type": "nearby_dates", "days": 3}])
    assert found == [("premium-1", d(n), "nearby_dates") for n in (1, -1, 2, -2, 3, -3)]


def test_nearby_dates_default_window_is_three_days():
    assert len(run(P1, [{"type": "nearby_dates"}])) == 6


def test_nearby_dates_are_never_before_today():
    found = run(P1, [{"type": "nearby_dates", "days": 3}], day=TODAY + dt.timedelta(days=1))
    assert [day for _, day, _ in found] == [TODAY + dt.timedelta(days=n) for n in (2, 0, 3, 4)]
    on_today = run(P1, [{"type": "nearby_dates", "days": 2}], day=TODAY)
    assert [day for _, day, _ in on_today] == [TODAY + dt.timedelta(days=n) for n in (1, 2)]


def test_nearby_dates_are_never_after_the_last_bookable_day():
    found = fallback_candidates(
        P1,
        DAY,
        TODAY,
        [{"type": "nearby_dates", "days": 2}],
        10,
        SEGMENTS,
        ALL,
        lookup(),
        latest=d(1),
    )
    assert [c.service_date for c in found] == [d(1), d(-1), d(-2)]
    on_last = fallback_candidates(
        P1,
        DAY,
        TODAY,
        [{"type": "nearby_dates", "days": 2}],
        10,
        SEGMENTS,
        ALL,
        lookup(),
        latest=DAY,
    )
    assert [c.service_date for c in on_last] == [d(-1), d(-2)]


def test_nearby_dates_skip_closed_days():
    found = run(P1, [{"type": "nearby_dates", "days": 2}], closed={("premium-1", d(1))})
    assert [day for _, day, _ in found] == [d(-1), d(2), d(-2)]


def test_nearby_dates_reasons():
    found = fallback_candidates(
        P1, DAY, TODAY, [{"type": "nearby_dates", "days": 1}], 10, SEGMENTS, ALL, lookup()
    )
    assert [c.reason for c in found] == [
        "the same tier 1 day(s) later",
        "the same tier 1 day(s) earlier",
    ]
    assert all(c.segment == PREMIUM for c in found)


# ---- other_segment ------------------------------------------------------------------------------


def test_other_segment_same_level_by_position_then_key():
    found = run(P1, [{"type": "other_segment"}])
    # luxury (position 0), then alpha and budget (both position 2, by key)
    assert found == [
        ("luxury-1", DAY, "other_segment"),
        ("alpha-1", DAY, "other_segment"),
        ("budget-1", DAY, "other_segment"),
    ]
    assert [t for t, _, _ in run(P3, [{"type": "other_segment"}])] == []
    assert [t for t, _, _ in run(B2, [{"type": "other_segment"}])] == ["luxury-2", "premium-2"]


def test_other_segment_reason_names_the_segment():
    found = fallback_candidates(
        P1, DAY, TODAY, [{"type": "other_segment"}], 1, SEGMENTS, ALL, lookup()
    )
    assert [(c.segment, c.reason) for c in found] == [(LUXURY, "the same level in Luxury")]


# ---- combination, de-duplication, limits --------------------------------------------------------


def test_strategies_in_decision_order_and_max_results():
    strategies = [
        {"type": "other_segment"},
        {"type": "other_tier", "direction": "up"},
        {"type": "nearby_dates", "days": 1},
    ]
    assert run(P1, strategies, max_results=10) == [
        ("luxury-1", DAY, "other_segment"),
        ("alpha-1", DAY, "other_segment"),
        ("budget-1", DAY, "other_segment"),
        ("premium-2", DAY, "other_tier"),
        ("premium-3", DAY, "other_tier"),
        ("premium-1", d(1), "nearby_dates"),
        ("premium-1", d(-1), "nearby_dates"),
    ]
    assert run(P1, strategies, max_results=4) == run(P1, strategies, max_results=10)[:4]
    assert run(P1, strategies, max_results=1) == [("luxury-1", DAY, "other_segment")]


def test_the_same_tier_and_date_is_offered_once():
    strategies = [
        {"type": "other_tier", "direction": "up"},
        {"type": "other_tier", "direction": "nearest"},
        {"type": "nearby_dates", "days": 1},
        {"type": "nearby_dates", "days": 2},
    ]
    found = run(P2, strategies)
    assert found == [
        ("premium-3", DAY, "other_tier"),
        ("premium-1", DAY, "other_tier"),
        ("premium-2", d(1), "nearby_dates"),
        ("premium-2", d(-1), "nearby_dates"),
        ("premium-2", d(2), "nearby_dates"),
        ("premium-2", d(-2), "nearby_dates"),
    ]
    assert len(set((t, day) for t, day, _ in found)) == len(found)


def test_an_unavailable_candidate_does_not_use_a_slot():
    strategies = [{"type": "other_tier", "direction": "up"}, {"type": "nearby_dates", "days": 1}]
    found = run(P1, strategies, max_results=2, closed={("premium-2", DAY)})
    assert found == [("premium-3", DAY, "other_tier"), ("premium-1", d(1), "nearby_dates")]


def test_nothing_available_gives_no_candidates():
    strategies = [
        {"type": "other_tier", "direction": "nearest"},
        {"type": "nearby_dates", "days": 14},
        {"type": "other_segment"},
    ]
    closed = {t.id for t in ALL}
    assert run(P1, strategies, closed_tiers=closed) == []
    assert run(P1, [], max_results=3) == []


def test_party_too_large_candidates_are_not_offered():
    small = tier(PREMIUM, 2, max_guests=1)
    tiers = [P1, small, P3]
    found = fallback_candidates(
        P1,
        DAY,
        TODAY,
        [{"type": "other_tier", "direction": "up"}],
        3,
        SEGMENTS,
        tiers,
        lambda t, day: availability_of(5, 0, False, 2, t.max_guests),
    )
    assert [c.tier.id for c in found] == ["premium-3"]
