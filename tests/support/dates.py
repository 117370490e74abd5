"""Service dates for tests, relative to today, chosen so the default ruleset's effect on them is
known. The test tenants keep time in Europe/Berlin (tests/conftest.py ``build_tenant``)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def days_ahead(days: int) -> str:
    """Today (the machine's) plus ``days``, ISO."""
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()


def tenant_today() -> dt.date:
    return dt.datetime.now(BERLIN).date()


def weekday_ahead(min_lead: int = 10) -> dt.date:
    """A Monday–Friday outside July/August at least ``min_lead`` days ahead of the tenant's today:
    no default rule changes its price (multiplier 1, no discount; commission 10 %)."""
    day = tenant_today() + dt.timedelta(days=min_lead)
    while day.isoweekday() >= 6 or day.month in (7, 8):
        day += dt.timedelta(days=1)
    return day


def find_day(
    min_lead: int, *, weekday: int | None = None, weekend: bool = False, summer: bool = False
) -> dt.date:
    """The first day at least ``min_lead`` days ahead with the given ISO weekday (or any weekday /
    weekend day) and in / outside July and August; outside, so are the three days either side
    (fallbacks on nearby dates are priced for their own date)."""
    start = tenant_today() + dt.timedelta(days=min_lead)
    for offset in range(0, 800):
        day = start + dt.timedelta(days=offset)
        around = [day + dt.timedelta(days=n) for n in range(-3, 4)] if not summer else [day]
        if any((d.month in (7, 8)) != summer for d in around):
            continue
        if weekday is not None:
            if day.isoweekday() == weekday:
                return day
        elif (day.isoweekday() >= 6) == weekend:
            return day
    raise AssertionError("no such day")
