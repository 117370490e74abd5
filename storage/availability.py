"""Capacity, blackouts, holds and bookings of a tenant's tiers over a date range: the raw counts
``pricing.availability`` turns into availability."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import (
    BigInteger,
    BindParameter,
    CompoundSelect,
    bindparam,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy import extract as sql_extract

from pricing.availability import DayCounts
from storage import models as m
from storage.db import Executor
from storage.driver import HotStatement

#: Booking states that occupy a unit (of kind "booking"; an upgrade payment occupies nothing
#: itself). A pending booking occupies its unit through its hold.
OCCUPYING_BOOKINGS = ("paid",)


def _counts_statement() -> CompoundSelect[*tuple[Any, ...]]:
    """Built once: capacity rows, held units, paid bookings and blackouts of some tiers over a
    date range, the catalog version, and when the first of the held units is let go (microseconds
    since the epoch), as (source, tier_id, service_date, number) rows."""
    tenant: BindParameter[uuid.UUID] = bindparam("tenant")
    start: BindParameter[dt.date] = bindparam("start")
    end: BindParameter[dt.date] = bindparam("end")
    now: BindParameter[dt.datetime] = bindparam("now")
    capacity = select(
        literal("capacity").label("source"),
        m.Capacity.tier_id,
        m.Capacity.service_date,
        m.Capacity.units,
    ).where(
        m.Capacity.tenant_id == tenant,
        m.Capacity.service_date.between(start, end),
    )
    held = (
        select(literal("taken"), m.Hold.tier_id, m.Hold.service_date, func.sum(m.Hold.units))
        .where(
            m.Hold.tenant_id == tenant,
            m.Hold.service_date.between(start, end),
            m.Hold.status == "active",
            m.Hold.expires_at > now,
        )
        .group_by(m.Hold.tier_id, m.Hold.service_date)
    )
    booked = (
        select(literal("taken"), m.Booking.tier_id, m.Booking.service_date, func.count())
        .where(
            m.Booking.tenant_id == tenant,
            m.Booking.service_date.between(start, end),
            m.Booking.status.in_(OCCUPYING_BOOKINGS),
            m.Booking.kind == "booking",
        )
        .group_by(m.Booking.tier_id, m.Booking.service_date)
    )
    closed = select(
        literal("blackout"), m.Blackout.tier_id, m.Blackout.service_date, literal(0)
    ).where(
        m.Blackout.tenant_id == tenant,
        m.Blackout.service_date.between(start, end),
    )
    catalog = select(literal("catalog"), null(), null(), m.Tenant.catalog_version).where(
        m.Tenant.id == tenant
    )
    first_expiry = func.min(m.Hold.expires_at)
    expiry = select(
        literal("expiry"),
        null(),
        null(),
        (sql_extract("epoch", first_expiry) * 1_000_000).cast(BigInteger),
    ).where(
        m.Hold.tenant_id == tenant,
        m.Hold.service_date.between(start, end),
        m.Hold.status == "active",
        m.Hold.expires_at > now,
    )
    return union_all(capacity, held, booked, closed, catalog, expiry)


COUNTS = HotStatement(_counts_statement(), ("tenant", "start", "end", "now"))


EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def day_counts(
    session: Executor, tenant_id: str, start: dt.date, end: dt.date, now: dt.datetime
) -> DayCounts:
    """Everything availability needs for a tenant's tiers between two dates, and the tenant's
    current catalog version (which snapshot to price with), in one round trip."""
    return counts_until(session, tenant_id, start, end, now)[0]


def counts_until(
    session: Executor, tenant_id: str, start: dt.date, end: dt.date, now: dt.datetime
) -> tuple[DayCounts, dt.datetime | None]:
    """``day_counts``, and the moment they change by themselves: the first of the counted holds
    to expire (None: no hold counted). Until then, only a write changes them."""
    params = {
        "tenant": uuid.UUID(tenant_id),
        "start": start,
        "end": end,
        "now": now,
    }
    counts = DayCounts({}, {}, set(), set())
    until = None
    for source, tier, day, number in COUNTS.rows(session, params):
        key = (str(tier), day)
        if source == "expiry":
            if number is not None:
                until = EPOCH + dt.timedelta(microseconds=int(number))
        elif source == "catalog":
            counts.catalog_version = int(number)
        elif source == "capacity":
            counts.capacity[key] = int(number)
        elif source == "taken":
            counts.taken[key] = counts.taken.get(key, 0) + int(number)
        elif tier is None:
            counts.blackout_tenant.add(day)
        else:
            counts.blackout_tier.add(key)
    return counts, until
