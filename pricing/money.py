"""Money as integer minor units plus an ISO 4217 currency.

Amounts are ``int`` minor units at every edge (API, database). Arithmetic that needs fractions
happens in ``Decimal`` and is rounded back to minor units exactly once, by :func:`round_minor`,
with ROUND_HALF_UP ("half away from zero" for the non-negative amounts we price).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

#: ISO 4217 currencies we accept, with their minor-unit exponent (digits after the point).
CURRENCY_EXPONENTS: dict[str, int] = {
    "AED": 2, "AUD": 2, "BGN": 2, "BHD": 3, "BRL": 2, "CAD": 2, "CHF": 2, "CLP": 0,
    "CNY": 2, "COP": 2, "CZK": 2, "DKK": 2, "EUR": 2, "GBP": 2, "HKD": 2, "HUF": 2,
    "IDR": 2, "ILS": 2, "INR": 2, "ISK": 0, "JOD": 3, "JPY": 0, "KRW": 0, "KWD": 3,
    "MXN": 2, "MYR": 2, "NOK": 2, "NZD": 2, "OMR": 3, "PHP": 2, "PLN": 2, "RON": 2,
    "SAR": 2, "SEK": 2, "SGD": 2, "THB": 2, "TND": 3, "TRY": 2, "TWD": 2, "UGX": 0,
    "USD": 2, "VND": 0, "XAF": 0, "XOF": 0, "ZAR": 2,
}  # fmt: skip


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
