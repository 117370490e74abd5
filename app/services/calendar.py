"""A month of a segment's availability for the storefront's date step (``pricing.calendar``):
read with the same counts offers use (``storage.availability.day_counts``), priced by the rules
in force, cached briefly per tenant, segment, month and party."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from typing import Any

from app.adapters.cache import Cache
from app.services.offers import Decider, OfferContext, inputs_at
from pricing import calendar, pricer
from pricing import catalog as domain
from storage.availability import day_counts
from storage.decisions import add_decisions

#: How long a month's answer is reused, seconds. Availability can change meanwhile (a booking);
#: the offers and the quote asked for the chosen day count again, exactly.
CACHE_SECONDS = 30


def _key(tenant_id: str, segment: str, first: dt.date, guests: int) -> str:
    return f"tw:calendar:{tenant_id}:{segment}:{first.isoformat()}:{guests}"


def month_availability(
    ctx: OfferContext,
    cache: Cache,
    tenant: domain.Tenant,
    segment_ref: str,
    first: dt.date,
    guests: int,
    now: dt.datetime,
    request_id: str,
) -> dict[str, Any]:
    """Per day of the month: bookable, its status, each tier's availability, the lowest price."""
    key = _key(tenant.id, segment_ref, first, guests)
    try:
        cached = cache.get(key)
    except Exception:  # a cache that is down only costs the computation
        cached = None
    if cached is not None:
        found: dict[str, Any] = json.loads(cached)
        return found
    body = _compute(ctx, tenant, segment_ref, first, guests, now, request_id)
    with contextlib.suppress(Exception):  # as above
        cache.set(key, json.dumps(body, separators=(",", ":")).encode(), CACHE_SECONDS)
    return body


def _compute(
    ctx: OfferContext,
    tenant: domain.Tenant,
    segment_ref: str,
    first: dt.date,
    guests: int,
    now: dt.datetime,
    request_id: str,
) -> dict[str, Any]:
    days = calendar.month_days(first)
    with ctx.db.browsing() as session:
        counts = day_counts(session, tenant.id, days[0], days[-1], now)
        inputs = inputs_at(ctx, tenant, counts, now)
        segment = pricer.segment_of(inputs.snapshot, segment_ref)
        tiers = inputs.snapshot.tiers_of(segment.id)
        pricer.check_party(tiers, guests)
        decide = Decider(ctx, tenant.id, inputs)
        month = calendar.price_month(inputs, segment, first, guests, decide)
        add_decisions(session, decide.records(month.evaluations, now, request_id))
    return _body(month)


def _body(month: calendar.MonthAvailability) -> dict[str, Any]:
    return {
        "segment": {"id": month.segment.id, "key": month.segment.key, "name": month.segment.name},
        "month": month.month.isoformat()[:7],
        "guests": month.guests,
        "currency": month.currency,
        "days": [
            {
                "date": d.date.isoformat(),
                "bookable": d.bookable,
                "status": d.status,
                "sold_out": d.status == "sold_out",
                "blackout": d.status == "blacked_out",
                "lowest_price": d.lowest_price,
                "tiers": [
                    {
                        "tier_id": t.tier_id,
                        "level": t.level,
                        "status": t.status,
                        "units_left": t.units_left,
                    }
                    for t in d.tiers
                ],
            }
            for d in month.days
        ],
    }
