"""Read-only analytics for tenant admins and analysts over a range of dates.

``from`` and ``to`` are calendar dates in the tenant's time zone, both included: the window runs
from local midnight of ``from`` to local midnight after ``to`` (converted to UTC, so a day with a
DST change has 23 or 25 hours). Rates are floats rounded to 6 decimal places, 0 when nothing was
counted; money stays integer minor units in the tenant's currency.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import Any

from pricing import catalog as domain
from pricing.errors import InvalidInput
from storage import analytics as q
from storage.db import Database

MAX_RANGE_DAYS = 366
STATUS_ACTIVE = "active"


def window(tenant: domain.Tenant, start: dt.date, end: dt.date) -> q.Window:
    """The UTC window of ``start``..``end`` (inclusive local dates); 422 ``validation_error`` when
    ``to`` is before ``from`` or the range spans more than 366 days."""
    problem = None
    if end < start:
        problem = "'to' must not be before 'from'."
    elif (end - start).days >= MAX_RANGE_DAYS:
        problem = f"A range spans at most {MAX_RANGE_DAYS} days."
    if problem:
        raise InvalidInput(
            "The request did not validate.",
            code="validation_error",
            details=[{"field": "to", "message": problem}],
        )
    return q.Window(tenant.id, _midnight(tenant, start), _midnight(tenant, end + ONE_DAY))


ONE_DAY = dt.timedelta(days=1)


def _midnight(tenant: domain.Tenant, day: dt.date) -> dt.datetime:
    """The instant (UTC) the tenant's ``day`` starts."""
    return dt.datetime.combine(day, dt.time(), zoneinfo.ZoneInfo(tenant.time_zone)).astimezone(
        dt.UTC
    )


def rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _period(tenant: domain.Tenant, start: dt.date, end: dt.date) -> dict[str, Any]:
    return {"from": start, "to": end, "time_zone": tenant.time_zone}


def segment_selection(
    db: Database, tenant: domain.Tenant, start: dt.date, end: dt.date
) -> dict[str, Any]:
    """Distinct visitors who selected a segment, and per segment key the selections, distinct
    visitors and their share of all those visitors. Active segments are listed even with no
    selections; archived or unknown keys only when they were selected."""
    w = window(tenant, start, end)
    with db.read() as session:
        segments = q.segments(session, tenant.id)
        total = q.segment_selection_visitors(session, w)
        counted = {row.segment_key: row for row in q.segment_selections(session, w)}
    keys = [s.key for s in segments if s.status == STATUS_ACTIVE or s.key in counted]
    keys += sorted(set(counted) - set(keys))
    rows = []
    for key in keys:
        row = counted.get(key) or q.SegmentSelections(key, 0, 0)
        rows.append(
            {
                "segment_key": key,
                "selections": row.selections,
                "visitors": row.visitors,
                "selection_rate": rate(row.visitors, total),
            }
        )
    return {**_period(tenant, start, end), "visitors": total, "segments": rows}


def tier_conversion(
    db: Database, tenant: domain.Tenant, start: dt.date, end: dt.date
) -> dict[str, Any]:
    """Per tier: visitors who viewed its segment's tier comparison, those of them with a paid
    booking of the tier, their bookings, and bookers / viewers. Tiers of the storefront (active,
    in an active segment) are always listed; others only with bookings counted here."""
    w = window(tenant, start, end)
    with db.read() as session:
        tiers = q.tiers(session, tenant.id)
        viewers = q.comparison_viewers(session, w)
        booked = {row.tier_id: row for row in q.tier_bookers(session, w)}
    rows = []
    for tier in tiers:
        on_sale = tier.status == STATUS_ACTIVE and tier.segment.status == STATUS_ACTIVE
        if not on_sale and tier.id not in booked:
            continue
        seen = viewers.get(tier.segment.key, 0)
        row = booked.get(tier.id) or q.TierBookers(tier.id, 0, 0)
        rows.append(
            {
                "tier_id": tier.id,
                "tier_name": tier.name,
                "level": tier.level,
                "status": tier.status,
                "segment_key": tier.segment.key,
                "viewers": seen,
                "bookers": row.bookers,
                "bookings": row.bookings,
                "conversion": rate(row.bookers, seen),
            }
        )
    return {**_period(tenant, start, end), "tiers": rows}


def _upsell_figures(shown: int, accepted: int, declined: int) -> dict[str, Any]:
    return {
        "shown": shown,
        "accepted": accepted,
        "declined": declined,
        "take_rate": rate(accepted, shown),
    }


def upsell(db: Database, tenant: domain.Tenant, start: dt.date, end: dt.date) -> dict[str, Any]:
    """Upsell events shown / accepted / declined per (segment key, tier id) as the storefront sent
    them, and in total; take rate = accepted / shown."""
    w = window(tenant, start, end)
    with db.read() as session:
        counts = q.upsell_counts(session, w)
    groups: dict[tuple[str, str], dict[str, int]] = {}
    for row in counts:
        groups.setdefault((row.segment_key, row.tier_id), {})[row.type] = row.events

    def figures(by_type: dict[str, int]) -> dict[str, Any]:
        return _upsell_figures(*(by_type.get(t, 0) for t in q.UPSELL_EVENTS))

    total = {t: sum(row.events for row in counts if row.type == t) for t in q.UPSELL_EVENTS}
    return {
        **_period(tenant, start, end),
        "total": figures(total),
        "groups": [
            {"segment_key": key, "tier_id": tier_id, **figures(by_type)}
            for (key, tier_id), by_type in sorted(groups.items())
        ],
    }


def revenue_runs(
    db: Database, tenant: domain.Tenant, runs: list[tuple[dt.date, dt.date]]
) -> list[dict[str, int]]:
    """``revenue``'s total (``bookings``, ``revenue_minor``) of each run of consecutive days
    (``(first, last)``, inclusive, back to back), read in one query."""
    window(tenant, runs[0][0], runs[-1][1])  # the same bounds as one range
    bounds = [_midnight(tenant, first) for first, _ in runs]
    bounds.append(_midnight(tenant, runs[-1][1] + ONE_DAY))
    with db.read() as session:
        totals = q.revenue_by_run(session, tenant.id, bounds)
    return [{"bookings": n, "revenue_minor": total} for n, total in totals]


def revenue(db: Database, tenant: domain.Tenant, start: dt.date, end: dt.date) -> dict[str, Any]:
    """Money of the bookings created in the range per (segment, tier), counted once from the
    payment records: ``revenue_minor`` = captured - refunded (given or owed back), the platform
    fee likewise, in integer minor units of the tenant's currency; ``bookings`` = how many of them
    are paid. A booking counts under the tier it is in now (an upgraded booking under its new
    tier, its upgrade payments with it)."""
    w = window(tenant, start, end)
    with db.read() as session:
        tiers = {tier.id: tier for tier in q.tiers(session, tenant.id)}
        segments = {segment.id: segment for segment in q.segments(session, tenant.id)}
        rows = q.revenue(session, w)
    order = {tier_id: i for i, tier_id in enumerate(tiers)}
    rows.sort(key=lambda r: (order.get(r.tier_id, len(order)), r.segment_id, r.tier_id))
    currency = tenant.currency
    groups = []
    for row in rows:
        tier, segment = tiers.get(row.tier_id), segments.get(row.segment_id)
        groups.append(
            {
                "segment_id": row.segment_id,
                "segment_key": segment.key if segment else None,
                "tier_id": row.tier_id,
                "tier_name": tier.name if tier else None,
                "level": tier.level if tier else None,
                "bookings": row.bookings,
                "revenue_minor": row.revenue_minor,
                "platform_fee_minor": row.platform_fee_minor,
                "currency": currency,
            }
        )
    total = {
        "bookings": sum(r.bookings for r in rows),
        "revenue_minor": sum(r.revenue_minor for r in rows),
        "platform_fee_minor": sum(r.platform_fee_minor for r in rows),
        "currency": currency,
    }
    return {**_period(tenant, start, end), "currency": currency, "total": total, "groups": groups}
