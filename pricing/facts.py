"""Facts derived from dates, as the rules see them (the rule vocabulary, ``rules/vocabulary.py``,
names them; pricing computes them)."""

from __future__ import annotations

import datetime as dt


def date_number(value: dt.date) -> int:
    """A date as the integer YYYYMMDD: comparable with the rule language's date values."""
    return value.year * 10000 + value.month * 100 + value.day


def date_facts(service_date: dt.date, today: dt.date) -> dict[str, int]:
    """The facts derived from a service date and "today" (both in the tenant's time zone)."""
    iso = service_date.isocalendar()
    return {
        "service_date": date_number(service_date),
        "service_year": service_date.year,
        "service_month": service_date.month,
        "service_day": service_date.day,
        "service_weekday": iso.weekday,
        "service_week": iso.week,
        "lead_days": (service_date - today).days,
    }
