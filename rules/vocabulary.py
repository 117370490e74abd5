"""The typed fact vocabulary rules may test. Every fact is always present when a ruleset is
evaluated: facts the caller does not know take the documented default, so a condition never
depends on whether a fact was supplied, and ``not`` can be pushed down to the leaves exactly."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pricing.errors import InvalidInput

INT = "int"
STR = "str"
DATE = "date"  # written in rules as "YYYY-MM-DD", evaluated as the integer YYYYMMDD

BOOKING_STATUSES = ("none", "pending", "paid", "cancelled", "refunded")
AVAILABILITY = ("available", "sold_out", "blacked_out", "party_too_large")


@dataclass(frozen=True, slots=True)
class FactType:
    name: str
    type: str
    description: str
    low: int = 0
    high: int = 0
    choices: tuple[str, ...] = ()
    default: int | str = 0


def _int(name: str, low: int, high: int, description: str, default: int = 0) -> FactType:
    return FactType(name, INT, description, low, high, default=default)


def _str(name: str, description: str, choices: tuple[str, ...] = (), default: str = "") -> FactType:
    return FactType(name, STR, description, choices=choices, default=default)


MAX_AMOUNT = 10**12

FACTS: dict[str, FactType] = {
    f.name: f
    for f in (
        _str("segment", "segment key of the tier being priced"),
        _str("segment_id", "segment id"),
        _str("tier_id", "tier id"),
        _int("tier_level", 0, 3, "tier level 1..3 (0 when not about a tier)"),
        _str("from_segment", "upgrade: segment key of the current tier"),
        _str("from_tier_id", "upgrade: id of the current tier"),
        _int("from_tier_level", 0, 3, "upgrade: level of the current tier"),
        _int("level_delta", -3, 3, "upgrade: target level minus current level"),
        _int(
            "cross_segment",
            0,
            1,
            "upgrade: 1 when the target tier is in another segment than the current one "
            "(derived from from_segment and segment unless given)",
        ),
        # default 0: no date, below every date a rule can name (docs/rules.md, tested against it)
        FactType(
            "service_date", DATE, "service date (tenant time zone)", 19000101, 99991231, default=0
        ),
        _int("service_year", 0, 9999, "year of the service date"),
        _int("service_month", 0, 12, "month of the service date, 1..12"),
        _int("service_day", 0, 31, "day of month of the service date"),
        _int("service_weekday", 0, 7, "ISO weekday of the service date, 1 = Monday .. 7 = Sunday"),
        _int("service_week", 0, 53, "ISO week number of the service date"),
        _int("lead_days", -1, 3650, "days from today (tenant time zone) to the service date", -1),
        _int("guests", 0, 1000, "party size"),
        _int(
            "amount",
            0,
            MAX_AMOUNT,
            "subtotal in minor units before rules (base + guests + add-ons)",
        ),
        _int("add_on_count", 0, 100, "number of add-ons selected"),
        _int("units_left", 0, 100_000, "capacity left for the tier on the date"),
        _str("availability", "tier availability on the date", AVAILABILITY, "available"),
        _str(
            "booking_status",
            "status of the booking the question is about",
            BOOKING_STATUSES,
            "none",
        ),
        _str("experiment", "key of the experiment the visitor is in ('' if none)"),
        _str("variant", "experiment variant of the visitor ('' if none)"),
        _str("currency", "tenant currency, ISO 4217"),
    )
}


#: Every fact's default, in vocabulary order, and its Python type.
_DEFAULTS: dict[str, int | str] = {f.name: f.default for f in FACTS.values()}
_KINDS = {f.name: str if f.type == STR else int for f in FACTS.values()}


def _of_kind(value: object, kind: type) -> bool:
    if kind is str:
        return isinstance(value, str)
    return isinstance(value, int) and not isinstance(value, bool)


class UnrepresentableFacts(InvalidInput):
    """Facts of the right types that no engine can hold: an integer outside 64 bits (durable-rules
    and its JSON take no more), text with NUL or a lone surrogate (no UTF-8). ``details`` point at
    them (``/facts/<name>``)."""

    code = "invalid_facts"


#: The integers an engine holds (durable-rules: a signed 64-bit integer).
MIN_INTEGER, MAX_INTEGER = -(2**63), 2**63 - 1


def _problem(value: int | str) -> str | None:
    if isinstance(value, int):
        return None if MIN_INTEGER <= value <= MAX_INTEGER else "Beyond a 64-bit integer."
    if "\x00" in value:
        return "NUL characters are not allowed."
    try:
        value.encode()
    except UnicodeEncodeError:
        return "Lone surrogates (half of a UTF-16 pair) are not allowed."
    return None


def _refuse_unrepresentable(facts: dict[str, int | str]) -> None:
    """UnrepresentableFacts naming every fact no engine can hold, if there is one (the slow path
    of ``complete_facts``: non-ASCII text is fine when it has UTF-8)."""
    refused = [
        {"path": f"/facts/{name}", "message": problem}
        for name, value in facts.items()
        if (problem := _problem(value))
    ]
    if refused:
        raise UnrepresentableFacts(
            "The facts hold values no rules engine can take.", details=refused
        )


def complete_facts(facts: Mapping[str, Any]) -> dict[str, int | str]:
    """``facts`` with every vocabulary fact present (defaults filled in; ``cross_segment``
    derived from ``from_segment`` and ``segment`` unless given). Unknown names or values of the
    wrong type raise ValueError: the caller, not a tenant, made that mistake. Values no engine
    can hold raise UnrepresentableFacts (422 ``invalid_facts``), on every path that evaluates:
    offers, quotes, evaluate, simulate, backtest, replay (the defaults all can)."""
    out = dict(_DEFAULTS)
    kinds = _KINDS
    low, high, suspect = MIN_INTEGER, MAX_INTEGER, False
    for name, value in facts.items():
        kind = kinds.get(name)
        if kind is None:
            raise ValueError(f"unknown facts {sorted(facts.keys() - FACTS.keys())}")
        if type(value) is not kind and not _of_kind(value, kind):  # exact type: the fast path
            raise ValueError(f"fact {name} must be {'a string' if kind is str else 'an integer'}")
        if kind is int:
            suspect = suspect or not low <= value <= high
        else:
            suspect = suspect or not value.isascii() or "\x00" in value
        out[name] = value
    if suspect:
        _refuse_unrepresentable(out)
    if out["from_segment"] and "cross_segment" not in facts:
        out["cross_segment"] = int(out["from_segment"] != out["segment"])
    return out
