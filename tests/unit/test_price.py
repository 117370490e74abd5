"""Pricing of one selection: golden cases with exact amounts (tests/golden/pricing.json) and
property-based invariants."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricing.catalog import AddOn, Tier
from pricing.money import Money
from pricing.price import (
    Adjustments,
    Bounds,
    Commission,
    breakdown,
    commission_fee,
    price_selection,
)

GOLDEN = json.loads((Path(__file__).parent.parent / "golden" / "pricing.json").read_text())


def tier(currency: str, base: int, per_guest: int) -> Tier:
    return Tier(
        "t1", "s1", 1, "Essential", "", Money(base, currency), Money(per_guest, currency), 10
    )


def add_on(currency: str, pricing: str, price: int, n: int = 0) -> AddOn:
    return AddOn(f"a{n}", f"a{n}", f"Add-on {n}", pricing, Money(price, currency))


def commission(spec: dict) -> Commission:
    return Commission(
        Decimal(spec["rate_percent"]), spec.get("fixed", 0), spec.get("min", 0), spec.get("max")
    )


@pytest.mark.parametrize("case", GOLDEN, ids=[c["name"] for c in GOLDEN])
def test_golden_case(case):
    currency = case["currency"]
    price = price_selection(
        tier(currency, case["base"], case["per_guest"]),
        case["guests"],
        [
            add_on(currency, a["pricing"], a["price"], i)
            for i, a in enumerate(case.get("add_ons", []))
        ],
        Adjustments(
            multiplier=Decimal(case["multiplier"]),
            discount_percent=Decimal(case["discount_percent"]),
            max_total_discount_percent=Decimal(case.get("max_total_discount_percent", "100")),
            commission=commission(case["commission"]),
            upsell_percent=Decimal(case.get("upsell_percent", "0")),
        ),
        Bounds(case.get("floor"), case.get("ceiling")),
    )
    expect = case["expect"]
    assert (price.subtotal, price.total, price.platform_fee, price.tenant_net) == (
        expect["subtotal"],
        expect["total"],
        expect["platform_fee"],
        expect["tenant_net"],
    )
    assert price.currency == currency
    if "lines" in expect:
        assert [(line.code, line.amount) for line in price.lines] == [
            (code, Decimal(amount)) for code, amount in expect["lines"]
        ]
    assert sum(line.amount for line in price.lines) == price.total
    if "breakdown" in expect:  # as the API shows the lines: integer minor units
        assert [[line.code, line.amount] for line in breakdown(price)] == expect["breakdown"]


def test_lines_name_the_rules_that_changed_them():
    price = price_selection(
        tier("EUR", 10000, 0),
        1,
        [],
        Adjustments(
            Decimal("1.1"),
            ("weekend",),
            Decimal("5"),
            ("week-ahead",),
            commission=Commission(rules=("std",)),
        ),
    )
    assert {line.code: line.rules for line in price.lines} == {
        "base": (),
        "season": ("weekend",),
        "last_minute": ("week-ahead",),
    }
    assert price.commission_rules == ("std",)


def test_add_on_in_another_currency_is_refused():
    with pytest.raises(ValueError, match="currency"):
        price_selection(tier("EUR", 100, 0), 1, [add_on("USD", "flat", 100)], Adjustments())


amounts = st.integers(min_value=0, max_value=10**9)
percents = st.decimals(min_value=0, max_value=100, places=2)
multipliers = st.decimals(min_value=Decimal("0.1"), max_value=10, places=4)


@given(
    base=amounts,
    per_guest=st.integers(0, 10**6),
    guests=st.integers(0, 50),
    add_on_prices=st.lists(
        st.tuples(st.sampled_from(["flat", "per_guest"]), st.integers(0, 10**6)), max_size=4
    ),
    multiplier=multipliers,
    discount=percents,
    cap=percents,
    upsell=percents,
    rate=percents,
    fixed=st.integers(0, 10**5),
    minimum=st.integers(0, 10**5),
    maximum=st.one_of(st.none(), st.integers(0, 10**7)),
    floor=st.one_of(st.none(), amounts),
    ceiling=st.one_of(st.none(), amounts),
    currency=st.sampled_from(["EUR", "JPY", "BHD"]),
)
def test_invariants(
    base,
    per_guest,
    guests,
    add_on_prices,
    multiplier,
    discount,
    cap,
    upsell,
    rate,
    fixed,
    minimum,
    maximum,
    floor,
    ceiling,
    currency,
):
    adjustments = Adjustments(
        multiplier=multiplier,
        discount_percent=discount,
        max_total_discount_percent=cap,
        commission=Commission(rate, fixed, minimum, maximum),
        upsell_percent=upsell,
    )
    add_ons = [add_on(currency, p, a, i) for i, (p, a) in enumerate(add_on_prices)]
    price = price_selection(
        tier(currency, base, per_guest), guests, add_ons, adjustments, Bounds(floor, ceiling)
    )
    assert isinstance(price.total, int) and isinstance(price.platform_fee, int)
    assert price.total >= 0
    assert 0 <= price.platform_fee <= price.total
    assert price.tenant_net == price.total - price.platform_fee >= 0
    assert sum(line.amount for line in price.lines) == price.total  # the breakdown adds up exactly
    shown = breakdown(price)  # ... and so do its integer lines, each signed as its exact line
    assert all(type(line.amount) is int for line in shown)
    assert sum(line.amount for line in shown) == price.total
    exact = [line for line in price.lines if line.code != "rounding"]
    assert [line.code for line in shown] == [line.code for line in exact]
    for line, of in zip(shown, exact, strict=True):
        assert abs(line.amount - of.amount) < 1  # within a minor unit of its exact amount
        assert line.amount * of.amount >= 0  # a discount stays negative, a surcharge positive
    seasonal = Decimal(price.subtotal) * multiplier
    if ceiling is None and (floor is None or floor <= seasonal * (1 - cap / 100)):
        # the discount never exceeds the cap (up to the one rounding step)
        assert price.total >= seasonal * (1 - cap / 100) - Decimal("0.5")
    if ceiling is not None and (floor is None or floor <= ceiling):
        assert price.total <= ceiling
    if floor is not None and (ceiling is None or floor <= ceiling):
        assert price.total >= floor


@given(total=amounts, rate=percents, fixed=st.integers(0, 10**6), minimum=st.integers(0, 10**6))
def test_fee_never_exceeds_total(total, rate, fixed, minimum):
    fee = commission_fee(total, Commission(rate, fixed, minimum))
    assert 0 <= fee <= total
