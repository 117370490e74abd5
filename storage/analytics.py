"""Read-only analytics queries over storefront events and bookings.

Portable SQLAlchemy (the same statements run on PostgreSQL and on SQLite in embedded mode); the
tenant leads every WHERE. Times are half-open UTC ranges ``start <= t < end``: events by
``occurred_at``, bookings by ``created_at``. Events are already unique per client event id (a
repeat is never stored), so every count here counts an event once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, case, distinct, func, select
from sqlalchemy.orm import Session

from storage import models as m
from storage.payments import GIVING_BACK

SEGMENT_SELECTED = "segment_selected"
TIER_COMPARISON_VIEWED = "tier_comparison_viewed"
UPSELL_EVENTS = ("upsell_shown", "upsell_accepted", "upsell_declined")
PAID = "paid"


@dataclass(frozen=True)
class Window:
    """One tenant's events and bookings between two UTC instants (end excluded)."""

    tenant_id: str
    start: dt.datetime
    end: dt.datetime

    @property
    def tenant(self) -> uuid.UUID:
        return uuid.UUID(self.tenant_id)


@dataclass(frozen=True)
class SegmentRef:
    id: str
    key: str
    name: str
    position: int
    status: str


@dataclass(frozen=True)
class TierRef:
    id: str
    name: str
    level: int
    status: str
    segment: SegmentRef


@dataclass(frozen=True)
class SegmentSelections:
    segment_key: str
    selections: int
    visitors: int


@dataclass(frozen=True)
class TierBookers:
    tier_id: str
    bookers: int
    bookings: int


@dataclass(frozen=True)
class UpsellCount:
    segment_key: str
    tier_id: str
    type: str
    events: int


@dataclass(frozen=True)
class Revenue:
    segment_id: str
    tier_id: str
    bookings: int
    revenue_minor: int
    platform_fee_minor: int


def _events(window: Window, types: Iterable[str]) -> list[ColumnElement[bool]]:
    e = m.StorefrontEvent
    return [
        e.tenant_id == window.tenant,
        e.type.in_(list(types)),
        e.occurred_at >= window.start,
        e.occurred_at < window.end,
    ]


def _paid_bookings(window: Window, kinds: Iterable[str]) -> list[ColumnElement[bool]]:
    b = m.Booking
    return [
        b.tenant_id == window.tenant,
        b.status == PAID,
        b.kind.in_(list(kinds)),
        b.created_at >= window.start,
        b.created_at < window.end,
    ]


def segments(session: Session, tenant_id: str) -> list[SegmentRef]:
    """Every segment of the tenant, archived ones included, in display order."""
    s = m.Segment
    rows = session.execute(
        select(s.id, s.key, s.name, s.position, s.status)
        .where(s.tenant_id == uuid.UUID(tenant_id))
        .order_by(s.position, s.key)
    )
    return [SegmentRef(str(r.id), r.key, r.name, r.position, r.status) for r in rows]


def tiers(session: Session, tenant_id: str) -> list[TierRef]:
    """Every tier of the tenant with its segment, archived ones included, in display order."""
    t, s = m.Tier, m.Segment
    rows = session.execute(
        select(
            t.id,
            t.name,
            t.level,
            t.status,
            s.id.label("segment_id"),
            s.key,
            s.name.label("segment_name"),
            s.position,
            s.status.label("segment_status"),
        )
        .join(s, and_(s.tenant_id == t.tenant_id, s.id == t.segment_id))
        .where(t.tenant_id == uuid.UUID(tenant_id))
        .order_by(s.position, s.key, t.level, t.status, t.name, t.id)
    )
    return [
        TierRef(
            str(r.id),
            r.name,
            r.level,
            r.status,
            SegmentRef(str(r.segment_id), r.key, r.segment_name, r.position, r.segment_status),
        )
        for r in rows
    ]


def segment_selection_visitors(session: Session, window: Window) -> int:
    """Distinct visitors who selected any segment."""
    e = m.StorefrontEvent
    query = select(func.count(distinct(e.visitor_id))).where(*_events(window, [SEGMENT_SELECTED]))
    return int(session.scalar(query) or 0)


def segment_selections(session: Session, window: Window) -> list[SegmentSelections]:
    """Per segment key: ``segment_selected`` events and distinct visitors."""
    e = m.StorefrontEvent
    rows = session.execute(
        select(e.segment_key, func.count(), func.count(distinct(e.visitor_id)))
        .where(*_events(window, [SEGMENT_SELECTED]))
        .group_by(e.segment_key)
        .order_by(e.segment_key)
    )
    return [SegmentSelections(key, int(n), int(visitors)) for key, n, visitors in rows]


def comparison_viewers(session: Session, window: Window) -> dict[str, int]:
    """Segment key -> distinct visitors who viewed its tier comparison."""
    e = m.StorefrontEvent
    rows = session.execute(
        select(e.segment_key, func.count(distinct(e.visitor_id)))
        .where(*_events(window, [TIER_COMPARISON_VIEWED]))
        .group_by(e.segment_key)
    )
    return {key: int(n) for key, n in rows}


def tier_bookers(session: Session, window: Window) -> list[TierBookers]:
    """Per tier: distinct visitors who viewed the comparison of the tier's segment and have a paid
    booking (not an upgrade payment) of the tier, and how many such bookings, both in the window.
    Bookings with an unknown visitor (``''``) never match a view."""
    e, b, t, s = m.StorefrontEvent, m.Booking, m.Tier, m.Segment
    viewers = (
        select(e.segment_key, e.visitor_id)
        .where(*_events(window, [TIER_COMPARISON_VIEWED]))
        .distinct()
        .subquery()
    )
    rows = session.execute(
        select(b.tier_id, func.count(distinct(b.visitor_id)), func.count())
        .select_from(b)
        .join(t, and_(t.tenant_id == b.tenant_id, t.id == b.tier_id))
        .join(s, and_(s.tenant_id == t.tenant_id, s.id == t.segment_id))
        .join(
            viewers,
            and_(viewers.c.segment_key == s.key, viewers.c.visitor_id == b.visitor_id),
        )
        .where(*_paid_bookings(window, ["booking"]))
        .group_by(b.tier_id)
    )
    return [TierBookers(str(tier_id), int(n), int(bookings)) for tier_id, n, bookings in rows]


def upsell_counts(session: Session, window: Window) -> list[UpsellCount]:
    """Upsell events (shown, accepted, declined) per (segment key, tier id, type)."""
    e = m.StorefrontEvent
    rows = session.execute(
        select(e.segment_key, e.tier_id, e.type, func.count())
        .where(*_events(window, UPSELL_EVENTS))
        .group_by(e.segment_key, e.tier_id, e.type)
        .order_by(e.segment_key, e.tier_id, e.type)
    )
    return [UpsellCount(key, tier_id, type_, int(n)) for key, tier_id, type_, n in rows]


def _booking_money(tenant: uuid.UUID) -> Any:
    """Per booking: net captured (captures less refunds given or owed back) and the platform fee
    likewise, in integer minor units."""
    p = m.Payment
    gives_back = and_(p.kind == "refund", p.status.in_(GIVING_BACK))
    return (
        select(
            p.booking_id,
            func.sum(
                case((p.kind == "capture", p.amount_minor), (gives_back, -p.amount_minor), else_=0)
            ).label("net"),
            func.sum(
                case((p.kind == "capture", p.fee_minor), (gives_back, -p.fee_minor), else_=0)
            ).label("fee"),
        )
        .where(p.tenant_id == tenant)
        .group_by(p.booking_id)
        .subquery()
    )


def _counted_bookings(
    tenant: uuid.UUID, start: dt.datetime, end: dt.datetime, money: Any, *columns: Any
) -> Any:
    """``columns`` over the bookings created in [start, end) that are paid or moved money: a
    booking with its money (``money``: ``_booking_money``), upgrade payments not bookings."""
    b = m.Booking
    return (
        select(*columns)
        .outerjoin(money, money.c.booking_id == b.id)
        .where(
            b.tenant_id == tenant,
            b.kind == "booking",
            b.created_at >= start,
            b.created_at < end,
            (b.status == PAID) | (money.c.net != 0) | (money.c.fee != 0),
        )
    )


def revenue(session: Session, window: Window) -> list[Revenue]:
    """Money per (segment, tier) of the bookings created in the window, counted once, from the
    payment records: net captured (captures less refunds given or owed back) and the platform
    fee likewise, in integer minor units; and how many of those bookings are paid. A booking
    counts under the tier it is in now (an upgraded one under its new tier, its upgrade payments
    included); its upgrade payments are not bookings."""
    b = m.Booking
    money = _booking_money(window.tenant)
    rows = session.execute(
        _counted_bookings(
            window.tenant,
            window.start,
            window.end,
            money,
            b.segment_id,
            b.tier_id,
            func.sum(case((b.status == PAID, 1), else_=0)),
            func.coalesce(func.sum(money.c.net), 0),
            func.coalesce(func.sum(money.c.fee), 0),
        ).group_by(b.segment_id, b.tier_id)
    )
    return [
        Revenue(str(segment_id), str(tier_id), int(n), int(total), int(fee))
        for segment_id, tier_id, n, total, fee in rows
    ]


def revenue_by_run(
    session: Session, tenant_id: str, bounds: list[dt.datetime]
) -> list[tuple[int, int]]:
    """(paid bookings, net revenue) of the bookings created in each run between consecutive
    ``bounds`` (UTC instants, ascending), counted as ``revenue`` counts them, in one query."""
    b = m.Booking
    tenant = uuid.UUID(tenant_id)
    money = _booking_money(tenant)
    run = case(
        *((b.created_at < bound, i) for i, bound in enumerate(bounds[1:-1])),
        else_=len(bounds) - 2,
    ).label("run")
    rows = session.execute(
        _counted_bookings(
            tenant,
            bounds[0],
            bounds[-1],
            money,
            run,
            func.sum(case((b.status == PAID, 1), else_=0)),
            func.coalesce(func.sum(money.c.net), 0),
        ).group_by(run)
    )
    found = {int(i): (int(n), int(total)) for i, n, total in rows}
    return [found.get(i, (0, 0)) for i in range(len(bounds) - 1)]
