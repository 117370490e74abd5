"""The price of one selection (tier, party, add-ons) under the decisions the rules made.

Order of operations, each recorded as a line of the breakdown::

    subtotal = base + per-guest × guests + add-ons (flat, or per guest × guests)
    × season multiplier                       (rules: season; already clamped to the guardrails)
    × (1 − last-minute discount %)             (rules: last_minute; stacking policy applied)
    × (1 − upsell discount %)                  (rules: upsell; only when an upsell is accepted)
    guardrails: the discount never exceeds max_total_discount_percent of the seasonal price,
                then the tier's floor and ceiling (totals for the booking), never below zero
    rounding:   once, to integer minor units, ROUND_HALF_UP (pricing.money.round_minor)

Every intermediate amount is an exact ``Decimal`` of minor units; the breakdown lines sum exactly
to the total (the last line is the rounding). ``breakdown`` shows the same lines in integer minor
units (what API responses carry), still summing exactly to the total. The platform fee is on the
rounded total (the commission): ``rate % × total + fixed``, clamped to ``[min, max]``, rounded
with the same rule, and never more than the total.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from pricing.catalog import AddOn, Tier
from pricing.money import Money, plain_decimal, round_minor

ZERO = Decimal(0)
ONE = Decimal(1)
HUNDRED = Decimal(100)


@dataclass(frozen=True, slots=True)
class PriceLine:
    code: str  # base | guests | add_on | season | last_minute | upsell | max_discount | floor | ceiling | not_negative | rounding
    label: str
    amount: Decimal  # change in minor units, exact: positive raises the price, negative lowers it
    rules: tuple[str, ...] = ()
    #: season: the multiplier; last_minute, upsell: the percentage off; max_discount: the cap (%)
    rate: Decimal | None = None
    #: the exact price (minor units) ``rate`` applied to: the subtotal for season, the seasonal
    #: price for last_minute and max_discount, the price after last-minute for upsell
    base: Decimal | None = None


@dataclass(frozen=True, slots=True)
class BreakdownLine:
    """A line of the breakdown as shown (API responses): integer minor units."""

    code: str
    label: str
    amount: int  # minor units: positive raises the price, negative (a discount) lowers it
    rules: tuple[str, ...]
    rate: Decimal | None  # as PriceLine.rate
    base: int | None  # PriceLine.base rounded with the one rule


@dataclass(frozen=True, slots=True)
class Commission:
    rate_percent: Decimal = ZERO
    fixed: int = 0
    minimum: int = 0
    maximum: int | None = None
    rules: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Adjustments:
    """What the rules decided for one selection."""

    multiplier: Decimal = ONE
    season_rules: tuple[str, ...] = ()
    discount_percent: Decimal = ZERO
    discount_rules: tuple[str, ...] = ()
    max_total_discount_percent: Decimal = HUNDRED
    commission: Commission = Commission()
    upsell_percent: Decimal = ZERO  # the accepted upsell's discount (its rules decided it)
    upsell_rules: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Bounds:
    """A tier's guardrails on the booking total, in minor units (None: no bound)."""

    floor: int | None = None
    ceiling: int | None = None


@dataclass(frozen=True, slots=True)
class Price:
    currency: str
    subtotal: int  # before rules
    total: int  # what the customer pays
    platform_fee: int  # the commission, taken as the Stripe application fee
    tenant_net: int
    lines: tuple[PriceLine, ...]
    commission_rules: tuple[str, ...] = ()

    @property
    def discount(self) -> int:
        """How much less than the subtotal the customer pays (negative when surcharged)."""
        return self.subtotal - self.total


def labelled(price: Price, labels: Mapping[str, str]) -> Price:
    """``price`` with each line a rule made worded as the tenant worded that rule for customers
    (its ``label``; several rules: their labels joined, each once); lines no labelled rule made
    keep their own words."""
    if not labels:
        return price
    lines = []
    for line in price.lines:
        words = list(dict.fromkeys(labels[r] for r in line.rules if r in labels))
        lines.append(replace(line, label=" · ".join(words)) if words else line)
    return replace(price, lines=tuple(lines))


def subtotal_lines(tier: Tier, guests: int, add_ons: Sequence[AddOn]) -> list[PriceLine]:
    lines = [PriceLine("base", f"{tier.name} base price", Decimal(tier.base_price.amount))]
    if guests and tier.per_guest_price.amount:
        lines.append(
            PriceLine(
                "guests",
                f"{guests} guest{'' if guests == 1 else 's'} × per-guest price",
                Decimal(tier.per_guest_price.amount * guests),
            )
        )
    for add_on in add_ons:
        count = guests if add_on.pricing == "per_guest" else 1
        label = f"{add_on.name} × {count}" if add_on.pricing == "per_guest" else add_on.name
        lines.append(PriceLine("add_on", label, Decimal(add_on.price.amount * count)))
    return lines


def breakdown(price: Price) -> tuple[BreakdownLine, ...]:
    """The lines of ``price`` in integer minor units, summing exactly to ``price.total``: each is
    the running price after the line minus the running price before it, both rounded with the
    one rule (ROUND_HALF_UP). The total is still rounded once, from the exact amounts; this only
    says where its minor units went, so the exact lines' ``rounding`` line is always 0 here and
    left out."""
    out = breakdown_lines(price.lines)
    if sum(line.amount for line in out) != price.total:
        raise AssertionError("breakdown does not add up to the total")
    return out


def breakdown_lines(lines: Sequence[PriceLine]) -> tuple[BreakdownLine, ...]:
    """``breakdown`` of exact lines (those of a price, or as a decision record kept them)."""
    out = []
    running, shown = ZERO, 0
    for line in lines:
        running += line.amount
        after = round_minor(running)
        if line.code != "rounding":
            base = None if line.base is None else round_minor(line.base)
            out.append(
                BreakdownLine(line.code, line.label, after - shown, line.rules, line.rate, base)
            )
        shown = after
    return tuple(out)


def commission_fee(total: int, terms: Commission) -> int:
    """The platform fee on ``total``: rate and fixed part, clamped, rounded once, ≤ total."""
    fee = round_minor(Decimal(total) * terms.rate_percent / HUNDRED + terms.fixed)
    fee = max(fee, terms.minimum)
    if terms.maximum is not None:
        fee = min(fee, terms.maximum)
    return max(0, min(fee, total))


def price_selection(
    tier: Tier,
    guests: int,
    add_ons: Sequence[AddOn],
    adjustments: Adjustments,
    bounds: Bounds = Bounds(),
) -> Price:
    """Price ``tier`` for ``guests`` with ``add_ons`` (see the module docstring for the steps)."""
    currency = tier.base_price.currency
    for add_on in add_ons:
        if add_on.price.currency != currency:
            raise ValueError("add-on priced in another currency")
    lines = subtotal_lines(tier, guests, add_ons)
    subtotal = sum((line.amount for line in lines), ZERO)
    amount = subtotal

    seasonal = amount * adjustments.multiplier
    if seasonal != amount:
        lines.append(
            PriceLine(
                "season",
                f"season: price × {plain_decimal(adjustments.multiplier)}",
                seasonal - amount,
                adjustments.season_rules,
                adjustments.multiplier,
                amount,
            )
        )
    amount = seasonal

    discounted = amount * (ONE - adjustments.discount_percent / HUNDRED)
    if discounted != amount:
        lines.append(
            PriceLine(
                "last_minute",
                f"last-minute discount: {plain_decimal(adjustments.discount_percent)} % off",
                discounted - amount,
                adjustments.discount_rules,
                adjustments.discount_percent,
                amount,
            )
        )
    if adjustments.upsell_percent:
        upsold = discounted * (ONE - adjustments.upsell_percent / HUNDRED)
        lines.append(
            PriceLine(
                "upsell",
                f"upsell discount: {plain_decimal(adjustments.upsell_percent)} % off",
                upsold - discounted,
                adjustments.upsell_rules,
                adjustments.upsell_percent,
                discounted,
            )
        )
        discounted = upsold
    lowest = seasonal * (ONE - adjustments.max_total_discount_percent / HUNDRED)
    if discounted < lowest:
        lines.append(
            PriceLine(
                "max_discount",
                f"discounts capped at {plain_decimal(adjustments.max_total_discount_percent)} % of the seasonal price",
                lowest - discounted,
                rate=adjustments.max_total_discount_percent,
                base=seasonal,
            )
        )
        discounted = lowest
    amount = discounted

    if bounds.floor is not None and amount < bounds.floor:
        lines.append(PriceLine("floor", "tier price floor", Decimal(bounds.floor) - amount))
        amount = Decimal(bounds.floor)
    if bounds.ceiling is not None and amount > bounds.ceiling:
        lines.append(PriceLine("ceiling", "tier price ceiling", Decimal(bounds.ceiling) - amount))
        amount = Decimal(bounds.ceiling)
    if amount < ZERO:
        lines.append(PriceLine("not_negative", "never below zero", -amount))
        amount = ZERO

    total = round_minor(amount)
    if total != amount:
        lines.append(PriceLine("rounding", "rounding to minor units", Decimal(total) - amount))
    fee = commission_fee(total, adjustments.commission)
    return Price(
        currency,
        round_minor(subtotal),
        total,
        fee,
        total - fee,
        tuple(lines),
        adjustments.commission.rules,
    )


# ---- priced items as a decision record keeps them (replay, backtest) ---------------------------


@dataclass(frozen=True, slots=True)
class PricedItems:
    """What a price was computed from, apart from the rules' adjustments: enough to price the
    same selection again under other decisions (a replay, a backtest of a draft ruleset)."""

    currency: str
    tier_name: str
    base: int
    per_guest: int
    guests: int
    add_ons: tuple[tuple[str, str, int], ...]  # (name, "flat" | "per_guest", price)
    floor: int | None = None
    ceiling: int | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "currency": self.currency,
            "tier_name": self.tier_name,
            "base": self.base,
            "per_guest": self.per_guest,
            "guests": self.guests,
            "add_ons": [list(a) for a in self.add_ons],
            "floor": self.floor,
            "ceiling": self.ceiling,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> PricedItems:
        add_ons = data["add_ons"]
        assert isinstance(add_ons, list)
        return cls(
            str(data["currency"]),
            str(data["tier_name"]),
            int(str(data["base"])),
            int(str(data["per_guest"])),
            int(str(data["guests"])),
            tuple((str(n), str(p), int(a)) for n, p, a in add_ons),
            None if data.get("floor") is None else int(str(data["floor"])),
            None if data.get("ceiling") is None else int(str(data["ceiling"])),
        )


def items_of(tier: Tier, guests: int, add_ons: Sequence[AddOn]) -> PricedItems:
    return PricedItems(
        tier.base_price.currency,
        tier.name,
        tier.base_price.amount,
        tier.per_guest_price.amount,
        guests,
        tuple((a.name, a.pricing, a.price.amount) for a in add_ons),
        tier.price_floor,
        tier.price_ceiling,
    )


def price_items(items: PricedItems, adjustments: Adjustments) -> Price:
    """``price_selection`` of recorded items (the same steps, lines and rounding)."""
    tier = Tier(
        id="",
        segment_id="",
        level=1,
        name=items.tier_name,
        description="",
        base_price=Money(items.base, items.currency),
        per_guest_price=Money(items.per_guest, items.currency),
        max_guests=max(items.guests, 1),
    )
    add_ons = [
        AddOn(str(i), str(i), name, pricing, Money(amount, items.currency))
        for i, (name, pricing, amount) in enumerate(items.add_ons)
    ]
    return price_selection(
        tier, items.guests, add_ons, adjustments, Bounds(items.floor, items.ceiling)
    )


def recorded_price_json(recorded: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A decision record's price (``pricing.offers.price_record``: exact decimal lines, kept as
    recorded, the record being hash-chained) in the one money format of the API: integer minor
    units, lines adding up to the total. The record keeps no labels or rates, so its lines show
    code, amount and rules."""
    if recorded is None:
        return None
    exact = [
        PriceLine(code, "", Decimal(amount), tuple(rules))
        for code, amount, rules in recorded["lines"]
    ]
    return {
        "currency": recorded["currency"],
        "subtotal": recorded["subtotal"],
        "total": recorded["total"],
        "discount": recorded["subtotal"] - recorded["total"],
        "platform_fee": recorded["platform_fee"],
        "lines": [
            {"code": line.code, "amount": line.amount, "rules": list(line.rules)}
            for line in breakdown_lines(exact)
        ],
    }
