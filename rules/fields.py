"""Reading one value of a ruleset document: each reader checks it, records an error located by
its JSON pointer in ``Errors`` and returns None when it is not valid, so that a document reports
all its errors at once (``rules.parsing``, ``rules.actions``)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any

from pricing.facts import date_number
from rules.language import MAX_STRING
from rules.vocabulary import DATE, FACTS, INT


class Errors:
    def __init__(self) -> None:
        self.items: list[dict[str, str]] = []

    def add(self, path: str, message: str) -> None:
        self.items.append({"path": path or "/", "message": message})


def parse_decimal(
    value: Any, path: str, errors: Errors, low: Decimal, high: Decimal, places: int
) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        errors.add(path, "Must be a number or a decimal string.")
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        errors.add(path, "Not a decimal number.")
        return None
    if not number.is_finite() or not low <= number <= high:
        errors.add(path, f"Must be between {low} and {high}.")
        return None
    if number != number.quantize(Decimal(1).scaleb(-places)):
        errors.add(path, f"At most {places} decimal places.")
        return None
    # normalize() alone turns 10 into 1E+1, which would reach API responses as "1E+1"
    return Decimal(format(number.normalize(), "f"))


def parse_int(value: Any, path: str, errors: Errors, low: int, high: int) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.add(path, "Must be an integer.")
        return None
    if not low <= value <= high:
        errors.add(path, f"Must be between {low} and {high}.")
        return None
    return value


def parse_str(value: Any, path: str, errors: Errors, max_length: int = MAX_STRING) -> str | None:
    if not isinstance(value, str):
        errors.add(path, "Must be a string.")
        return None
    if len(value) > max_length:
        errors.add(path, f"At most {max_length} characters.")
        return None
    return value


def check_object(
    value: Any,
    path: str,
    errors: Errors,
    allowed: set[str],
    required: frozenset[str] | set[str] = frozenset(),
) -> bool:
    if not isinstance(value, dict):
        errors.add(path, "Must be an object.")
        return False
    for key in sorted(set(value) - allowed):
        errors.add(f"{path}/{key}", "Unknown field.")
    for key in sorted(required - set(value)):
        errors.add(f"{path}/{key}", "Missing required field.")
    return not (set(value) - allowed) and not (required - set(value))


def parse_fact_value(fact: str, value: Any, path: str, errors: Errors) -> int | str | None:
    spec = FACTS[fact]
    if spec.type == DATE:
        if not isinstance(value, str):
            errors.add(path, "Must be a date string YYYY-MM-DD.")
            return None
        try:
            return date_number(dt.date.fromisoformat(value))
        except ValueError:
            errors.add(path, "Must be a date string YYYY-MM-DD.")
            return None
    if spec.type == INT:
        return parse_int(value, path, errors, spec.low, spec.high)
    text = parse_str(value, path, errors)
    if text is not None and spec.choices and text not in spec.choices:
        errors.add(path, f"Must be one of {', '.join(spec.choices)}.")
        return None
    return text
