"""Money as integer minor units plus an ISO 4217 currency.

Amounts are ``int`` minor units at every edge (API, database). Arithmetic that needs fractions
happens in ``Decimal`` and is rounded back to minor units exactly once, by :func:`round_minor`,
with ROUND_HALF_UP ("half away from zero" for the non-negative amounts we price).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

#: ISO 4217 currencies we accept, by their minor-unit exponent (digits after the point).
_CURRENCIES_BY_EXPONENT = {
    0: "CLP ISK JPY KRW UGX VND XAF XOF",
    2: "AED AUD BGN BRL CAD CHF CNY COP CZK DKK EUR GBP HKD HUF IDR ILS INR MXN MYR NOK NZD PHP "
    "PLN RON SAR SEK SGD THB TRY TWD USD ZAR",
    3: "BHD JOD KWD OMR TND",
}
CURRENCY_EXPONENTS: dict[str, int] = {
    code: digits for digits, codes in _CURRENCIES_BY_EXPONENT.items() for code in codes.split()
}


class CurrencyError(ValueError):
    pass


def exponent(currency: str) -> int:
    """Minor-unit digits of ``currency``; CurrencyError if we don't support it."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise CurrencyError(f"unsupported currency {currency!r}") from None


def round_minor(amount: Decimal) -> int:
    """The one rounding rule: Decimal minor units -> int, ROUND_HALF_UP."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def plain_decimal(value: Decimal) -> str:
    """A rate as people write it: ``Decimal("15.00")`` -> ``"15"``, ``"1.320"`` -> ``"1.32"``."""
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


@dataclass(frozen=True, slots=True)
class Money:
    amount: int  # minor units
    currency: str

    def __post_init__(self) -> None:
        if isinstance(self.amount, bool) or not isinstance(self.amount, int):
            raise TypeError("Money.amount must be int minor units")
        exponent(self.currency)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount - other.amount, self.currency)

    def times(self, count: int) -> Money:
        return Money(self.amount * count, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise CurrencyError(f"cannot combine {self.currency} and {other.currency}")

    def format(self) -> str:
        """Human-readable decimal string, e.g. ``12.50 EUR`` or ``1200 JPY``."""
        digits = exponent(self.currency)
        value = Decimal(self.amount).scaleb(-digits)
        return f"{value:.{digits}f} {self.currency}"
