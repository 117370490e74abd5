"""Bulk price changes: percent (rounded once, half up) or amount, never below zero."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.services.catalog_bulk import planned_prices
from pricing import catalog as domain
from pricing.errors import InvalidInput
from pricing.money import Money


def tier(amount: int, currency: str = "EUR") -> domain.Tier:
    return domain.Tier(
        id=f"t{amount}",
        segment_id="s",
        level=1,
        name=f"T{amount}",
        description="",
        base_price=Money(amount, currency),
        per_guest_price=Money(0, currency),
        max_guests=2,
    )


@pytest.mark.parametrize(
    ("before", "percent", "after"),
    [(12900, "10", 14190), (999, "-10", 899), (5, "10", 6), (15, "-10", 14), (100, "-100", 0)],
)
def test_percent_rounds_once_half_up(before, percent, after):
    assert planned_prices([tier(before)], Decimal(percent), None)[0].after == after


def test_amount_is_added_in_minor_units():
    change = planned_prices([tier(4900), tier(6900)], None, -900)
    assert [(c.before, c.after) for c in change] == [(4900, 4000), (6900, 6000)]


def test_never_below_zero_and_exactly_one_kind_of_change():
    with pytest.raises(InvalidInput) as error:
        planned_prices([tier(500)], None, -501)
    assert error.value.code == "price_negative"
    with pytest.raises(InvalidInput):
        planned_prices([tier(500)], Decimal(1), 1)
    with pytest.raises(InvalidInput):
        planned_prices([tier(500)], None, None)
