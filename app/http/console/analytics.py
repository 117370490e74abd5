"""The console's analytics page: segment selection, tier conversion, upsell take rate and revenue
over time as server-rendered SVG charts, each beside its table; the tier conversion as CSV. The
figures come from the same use cases as ``/v1/admin/analytics/…``."""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from flask import Response, request

from app.http.common import services
from app.http.common import utc_now as _now
from app.http.console.core import Reply, _below, _page, _render, console
from app.services import analytics, catalog
from pricing import catalog as domain
from storage.accounts import SignedIn
from storage.db import Database

#: The revenue chart has at most this many points: longer ranges are summed by weeks or more.
MAX_POINTS = 31
CHART_WIDTH = 520
CHART_HEIGHT = 180
PLOT_LEFT = 64  # room for the amount labels
PLOT_TOP = 12
PLOT_BOTTOM = 28  # room for the date labels


def _range() -> tuple[dt.date, dt.date]:
    """The page's date range: ``from`` and ``to`` (ISO dates), the last 30 days by default."""
    today = _now().date()
    try:
        start = dt.date.fromisoformat(request.args.get("from") or "")
    except ValueError:
        start = today - dt.timedelta(days=29)
    try:
        end = dt.date.fromisoformat(request.args.get("to") or "")
    except ValueError:
        end = today
    return start, end


@dataclass(frozen=True)
class Point:
    """One bucket of the revenue chart: its first and last day, the revenue and paid bookings,
    and where it is drawn."""

    start: dt.date
    end: dt.date
    revenue_minor: int
    bookings: int
    x: float
    y: float


def buckets(start: dt.date, end: dt.date, most: int = MAX_POINTS) -> list[tuple[dt.date, dt.date]]:
    """``start``..``end`` cut into at most ``most`` consecutive runs of whole days (days, or as
    many days a run as it takes), the last run ending on ``end``."""
    days = (end - start).days + 1
    size = max(1, -(-days // most))
    runs = []
    first = start
    while first <= end:
        last = min(end, first + dt.timedelta(days=size - 1))
        runs.append((first, last))
        first = last + dt.timedelta(days=1)
    return runs


def revenue_series(
    db: Database, tenant: domain.Tenant, start: dt.date, end: dt.date
) -> list[Point]:
    """Revenue per bucket (the revenue use case's totals over the bucket's days, one query for
    all), placed on the chart (x by order, y by amount; zero at the bottom)."""
    if end < start:
        return []
    runs = buckets(start, end)
    totals = analytics.revenue_runs(db, tenant, runs)
    top = max([t["revenue_minor"] for t in totals] + [0])
    width = CHART_WIDTH - PLOT_LEFT - 8
    height = CHART_HEIGHT - PLOT_TOP - PLOT_BOTTOM
    step = width / max(1, len(runs) - 1)
    points = []
    for i, ((a, b), total) in enumerate(zip(runs, totals, strict=True)):
        share = total["revenue_minor"] / top if top > 0 else 0.0
        points.append(
            Point(
                a,
                b,
                total["revenue_minor"],
                total["bookings"],
                round(PLOT_LEFT + i * step, 1),
                round(PLOT_TOP + height * (1 - max(0.0, share)), 1),
            )
        )
    return points


def _take_rates(
    db: Database, tenant: domain.Tenant, report: dict[str, Any]
) -> list[dict[str, Any]]:
    """The upsell report's groups with the tier's name, for the take-rate chart."""
    tiers = {t.id: t.name for t in catalog.list_tiers(db, tenant, None, None, 0, 300).items}
    return [
        {
            "label": f"{g['segment_key']} {tiers.get(g['tier_id'], '')}".strip(),
            "take_rate": g["take_rate"] or 0.0,
            **g,
        }
        for g in report["groups"]
    ]


@_page("analytics")
def analytics_page(signed_in: SignedIn, tenant: domain.Tenant) -> Reply:
    db = services().db
    start, end = _range()
    upsell = analytics.upsell(db, tenant, start, end)
    return _render(
        "analytics",
        signed_in,
        tenant,
        start=start,
        end=end,
        selection=analytics.segment_selection(db, tenant, start, end),
        conversion=analytics.tier_conversion(db, tenant, start, end),
        upsell=upsell,
        take_rates=_take_rates(db, tenant, upsell),
        revenue=analytics.revenue(db, tenant, start, end),
        series=revenue_series(db, tenant, start, end),
        chart={
            "width": CHART_WIDTH,
            "height": CHART_HEIGHT,
            "left": PLOT_LEFT,
            "top": PLOT_TOP,
            "bottom": CHART_HEIGHT - PLOT_BOTTOM,
        },
    )


@console.get("/analytics/tier-conversion.csv")
@_below("analytics")
def tier_conversion_csv(signed_in: SignedIn, tenant: domain.Tenant) -> Reply:
    start, end = _range()
    report = analytics.tier_conversion(services().db, tenant, start, end)
    out = io.StringIO()
    columns = ["segment_key", "tier_name", "level", "viewers", "bookers", "bookings", "conversion"]
    writer = csv.writer(out)
    writer.writerow(columns)
    for row in report["tiers"]:
        writer.writerow([row[c] for c in columns])
    name = f"tier-conversion-{tenant.slug}-{start}-{end}.csv"
    return Response(
        out.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
