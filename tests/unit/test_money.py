"""pricing.money: the one rounding rule, integer minor units, currencies and formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pricing.money import CURRENCY_EXPONENTS, CurrencyError, Money, exponent, round_minor

# Realistic minor-unit amounts (well inside Decimal's default 28-digit context).
amounts = st.integers(min_value=-(10**15), max_value=10**15)
currencies = st.sampled_from(sorted(CURRENCY_EXPONENTS))

# ---- round_minor -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.5", 1),
        ("1.5", 2),
        ("2.5", 3),  # half-up, not banker's rounding (which would give 2)
        ("12344.5", 12345),
        ("0.49", 0),
        ("2.4999999", 2),
        ("2.5000001", 3),
        ("2.51", 3),
        ("0", 0),
        ("7", 7),
        ("7.00", 7),
        ("-0.4", 0),
        ("-2.5", -3),  # ROUND_HALF_UP is "half away from zero"
        ("-1.5", -2),
        ("-2.4", -2),
        ("1E+3", 1000),
    ],
)
def test_round_minor_is_round_half_up(value: str, expected: int) -> None:
    result = round_minor(Decimal(value))
    assert result == expected
    assert type(result) is int


def test_round_minor_of_a_typical_fraction_calculation() -> None:
    # 19900 minor units with 12.5 % off: 17412.5 -> 17413
    assert round_minor(Decimal(19900) * Decimal("0.875")) == 17413
    # 4999 split in three: 1666.333.. -> 1666
    assert round_minor(Decimal(4999) / Decimal(3)) == 1666
    # 5000 / 3 * 2 = 3333.333.. -> 3333
    assert round_minor(Decimal(5000) * 2 / 3) == 3333


@given(amounts)
def test_round_minor_of_an_integer_is_that_integer(n: int) -> None:
    assert round_minor(Decimal(n)) == n


@given(amounts)
def test_round_minor_of_a_half_rounds_away_from_zero(n: int) -> None:
    half = Decimal(n) + Decimal("0.5") if n >= 0 else Decimal(n) - Decimal("0.5")
    assert round_minor(half) == (n + 1 if n >= 0 else n - 1)


@given(st.integers(min_value=0, max_value=10**15), st.integers(min_value=1, max_value=9999))
def test_round_minor_splits_at_exactly_one_half(n: int, ten_thousandths: int) -> None:
    fraction = Decimal(ten_thousandths) / Decimal(10000)  # 0.0001 .. 0.9999
    expected = n + 1 if fraction >= Decimal("0.5") else n
    assert round_minor(Decimal(n) + fraction) == expected
    assert round_minor(-(Decimal(n) + fraction)) == -expected


# ---- currencies --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "digits"),
    [("EUR", 2), ("USD", 2), ("JPY", 0), ("KRW", 0), ("CLP", 0), ("BHD", 3), ("KWD", 3)],
)
def test_exponent(currency: str, digits: int) -> None:
    assert exponent(currency) == digits


@pytest.mark.parametrize("currency", ["XXX", "eur", "", "EURO", " EUR"])
def test_exponent_of_an_unsupported_currency(currency: str) -> None:
    with pytest.raises(CurrencyError, match="unsupported currency"):
        exponent(currency)


def test_currency_error_is_a_value_error() -> None:
    assert issubclass(CurrencyError, ValueError)


# ---- Money construction ------------------------------------------------------------------------


def test_money_holds_int_minor_units() -> None:
    money = Money(1250, "EUR")
    assert money.amount == 1250
    assert money.currency == "EUR"
    assert money == Money(1250, "EUR")
    assert money != Money(1250, "USD")
    assert money != Money(1251, "EUR")
    assert hash(money) == hash(Money(1250, "EUR"))


@pytest.mark.parametrize("amount", [12.5, 12.0, Decimal("12"), Decimal("12.50"), "1250", None])
def test_money_rejects_non_int_amounts(amount: object) -> None:
    with pytest.raises(TypeError, match="int minor units"):
        Money(amount, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize("amount", [True, False])
def test_money_rejects_bool_amounts(amount: bool) -> None:
    with pytest.raises(TypeError, match="int minor units"):
        Money(amount, "EUR")


def test_money_rejects_an_unsupported_currency() -> None:
    with pytest.raises(CurrencyError, match="'ABC'"):
        Money(100, "ABC")


def test_money_is_immutable() -> None:
    money = Money(100, "EUR")
    with pytest.raises(AttributeError):
        money.amount = 200  # type: ignore[misc]


# ---- arithmetic ---------------------------------------------------------------------------------


def test_add_and_sub() -> None:
    assert Money(1250, "EUR") + Money(750, "EUR") == Money(2000, "EUR")
    assert Money(1250, "EUR") - Money(750, "EUR") == Money(500, "EUR")
    assert Money(750, "EUR") - Money(1250, "EUR") == Money(-500, "EUR")
    assert Money(0, "JPY") + Money(1200, "JPY") == Money(1200, "JPY")


def test_times() -> None:
    assert Money(2500, "EUR").times(3) == Money(7500, "EUR")
    assert Money(2500, "EUR").times(0) == Money(0, "EUR")
    assert Money(1234, "BHD").times(2) == Money(2468, "BHD")


def test_times_with_a_fraction_is_refused() -> None:
    # fractions go through Decimal and round_minor, never through float multiplication
    with pytest.raises(TypeError, match="int minor units"):
        Money(2500, "EUR").times(1.5)  # type: ignore[arg-type]


@pytest.mark.parametrize("op", ["add", "sub"])
def test_arithmetic_across_currencies_is_refused(op: str) -> None:
    eur, usd = Money(100, "EUR"), Money(100, "USD")
    with pytest.raises(CurrencyError, match="cannot combine EUR and USD"):
        eur + usd if op == "add" else eur - usd


def test_arithmetic_across_exponents_is_refused() -> None:
    with pytest.raises(CurrencyError, match="cannot combine JPY and BHD"):
        Money(100, "JPY") + Money(100, "BHD")


@given(amounts, amounts, currencies)
def test_add_then_sub_is_the_identity(a: int, b: int, currency: str) -> None:
    x, y = Money(a, currency), Money(b, currency)
    assert (x + y) - y == x
    assert (x - y) + y == x
    assert x + y == y + x
    assert (x + y).currency == currency


@given(amounts, st.integers(min_value=0, max_value=1000), currencies)
def test_times_is_repeated_addition(a: int, count: int, currency: str) -> None:
    total = Money(0, currency)
    for _ in range(min(count, 20)):
        total = total + Money(a, currency)
    assert Money(a, currency).times(min(count, 20)) == total
    assert Money(a, currency).times(count).amount == a * count


# ---- format --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("money", "text"),
    [
        (Money(1250, "EUR"), "12.50 EUR"),
        (Money(5, "EUR"), "0.05 EUR"),
        (Money(0, "EUR"), "0.00 EUR"),
        (Money(100, "USD"), "1.00 USD"),
        (Money(123456789, "GBP"), "1234567.89 GBP"),
        (Money(-5, "EUR"), "-0.05 EUR"),
        (Money(1200, "JPY"), "1200 JPY"),
        (Money(0, "JPY"), "0 JPY"),
        (Money(1234, "BHD"), "1.234 BHD"),
        (Money(5, "BHD"), "0.005 BHD"),
        (Money(1000, "KWD"), "1.000 KWD"),
    ],
)
def test_format(money: Money, text: str) -> None:
    assert money.format() == text


@given(st.integers(min_value=0, max_value=10**12), currencies)
def test_format_round_trips_to_the_minor_amount(amount: int, currency: str) -> None:
    number, code = Money(amount, currency).format().split(" ")
    assert code == currency
    digits = exponent(currency)
    if digits:
        assert len(number.split(".")[1]) == digits
    else:
        assert "." not in number
    assert Decimal(number).scaleb(digits) == amount
