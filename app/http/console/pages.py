"""The console's pages: catalog, availability (capacity, blackouts), experiments, decisions, bookings,
settings (analytics: ``analytics.py``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from urllib.parse import quote

from flask import g, redirect, request

from app.http.common import services
from app.http.common import utc_now as _now
from app.http.console.actions import _catalog_with
from app.http.console.core import (
    LIST_LIMIT,
    Reply,
    _below,
    _page,
    _render,
    _settings_with,
    _signed_in,
    _validated,
    _writable_tenant,
    console,
)
from app.http.schemas import inventory as inventory_schemas
from app.services import (
    activity,
    booking_admin,
    calendar,
    catalog,
    decision_log,
    experiments,
)
from pricing import catalog as domain
from pricing.errors import (
    InvalidInput,
)
from storage.accounts import SignedIn


@_page("catalog")
def catalog_page(signed_in: SignedIn, tenant: domain.Tenant) -> Reply:
    return _catalog_with(signed_in, tenant)


@_page("availability")
def availability_page(signed_in: SignedIn, tenant: domain.Tenant) -> Reply:
    """A month of one segment: each tier's units left per day, the blackouts; blackout ranges
    are added and removed here."""
    svc = services()
    today = _now().date()
    segments = catalog.list_segments(svc.db, tenant, "active", 0, LIST_LIMIT).items
    chosen = request.args.get("segment") or (segments[0].key if segments else "")
    try:
        first = dt.date.fromisoformat((request.args.get("month") or "") + "-01")
    except ValueError:
        first = today.replace(day=1)
    month = (
        calendar.month_availability(
            svc.offers, svc.cache, tenant, chosen, first, 1, _now(), g.get("request_id", "")
        )
        if chosen
        else None
    )
    last = (first + dt.timedelta(days=31)).replace(day=1) - dt.timedelta(days=1)
    blackouts = catalog.list_blackouts(svc.db, tenant, first, last, None, 0, LIST_LIMIT).items
    tiers = catalog.list_tiers(svc.db, tenant, None, None, 0, LIST_LIMIT * 3).items
    chosen_ids = {s.id for s in segments if s.key == chosen}
    return _render(
        "availability",
        signed_in,
        tenant,
        segments=segments,
        chosen=chosen,
        month=month,
        first=first,
        blackouts=blackouts,
        tier_names={t.id: t.name for t in tiers},
        segment_tiers=[t for t in tiers if t.segment_id in chosen_ids],
    )


@console.post("/availability/blackouts")
def add_blackout() -> Reply:
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    try:
        start = dt.date.fromisoformat(request.form.get("start", ""))
        end = dt.date.fromisoformat(request.form.get("end", "") or request.form.get("start", ""))
    except ValueError:
        raise InvalidInput("Give the first and last dates.", code="validation_error") from None
    if end < start or (end - start).days > 366:
        raise InvalidInput("The range is backwards or longer than a year.", code="validation_error")
    catalog.add_blackouts(
        services().db,
        tenant,
        start,
        end,
        request.form.get("tier_id") or None,
        request.form.get("reason", "")[:200],
    )
    return redirect(f"/admin/availability?month={start.isoformat()[:7]}", 303)


@console.post("/availability/blackouts/<uuid:blackout_id>/remove")
def remove_blackout(blackout_id: Any) -> Reply:
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    catalog.delete_blackout(services().db, tenant, str(blackout_id))
    return redirect("/admin/availability", 303)


@console.post("/availability/capacity")
def set_capacity() -> Reply:
    """A tier's units for a date or a range (``action=clear``: back to the tenant's default),
    through the API's schema and the use cases of ``PUT``/``DELETE /v1/admin/tiers/{id}/capacity``."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    form = request.form
    clear = form.get("action") == "clear"
    raw: dict[str, Any] = {"from": form.get("start", ""), "to": form.get("end") or None}
    if raw["to"] is None:
        del raw["to"]
    if clear:
        data = _validated(inventory_schemas.DateRangeSchema(), raw)
    else:
        units = form.get("units", "").strip()
        raw["units"] = int(units) if units.isdigit() else units
        data = _validated(inventory_schemas.CapacitySetSchema(), raw)
    start, end = inventory_schemas.date_range(data)
    db = services().db
    tier = catalog.get_tier(db, tenant, _tier_id(form.get("tier_id", "")))
    if clear:
        catalog.clear_capacity(db, tenant, tier.id, start, end)
    else:
        catalog.set_capacity(db, tenant, tier.id, start, end, data["units"])
    segment = quote(form.get("segment", ""))
    return redirect(
        f"/admin/availability?segment={segment}&month={start.isoformat()[:7]}&done=capacity", 303
    )


def _tier_id(text: str) -> str:
    try:
        return str(uuid.UUID(text))
    except ValueError:
        raise InvalidInput("Pick a tier.", code="validation_error") from None


@_page("experiments")
def experiments_page(signed_in: SignedIn, tenant: domain.Tenant) -> Reply:
    db = services().db
    found = experiments.list_experiments(db, tenant, None, 0, LIST_LIMIT).items
    results = {
        e["id"]: experiments.experiment_results(db, tenant, e["id"], None)
        for e in found
        if e["status"] != "draft"
    }
    return _render("experiments", signed_in, tenant, experiments=found, results=results)


@_page("decisions")
def decisions_page(signed_in: SignedIn, tenant: domain.Tenant) -> Reply:
    svc = services()
    args = {k: v for k, v in request.args.items() if k in ("purpose", "kind", "rule_id") and v}
    found = decision_log.search(
        svc.db,
        decision_log.decision_filter(svc.db, svc.offers.masker, tenant.id, args),
        0,
        LIST_LIMIT,
    ).items
    chain = decision_log.verify(svc.db, tenant.id) if request.args.get("verify") else None
    return _render("decisions", signed_in, tenant, decisions=found, filters=args, chain=chain)


@console.get("/decisions/<uuid:decision_id>")
@_below("decisions")
def decision_page(signed_in: SignedIn, tenant: domain.Tenant, decision_id: Any) -> Reply:
    svc = services()
    found = activity.decision(svc.db, tenant, str(decision_id))
    replayed = (
        decision_log.replay(svc.db, svc.rules, tenant, str(decision_id))
        if request.args.get("replay")
        else None
    )
    return _render(
        "decision", signed_in, tenant, decision=found, replayed=replayed, page_name="decisions"
    )


@_page("bookings")
def bookings_page(signed_in: SignedIn, tenant: domain.Tenant) -> Reply:
    status = request.args.get("status") or None
    found = booking_admin.list_bookings(services().db, tenant, status, None, 0, LIST_LIMIT).items
    return _render("bookings", signed_in, tenant, bookings=found, status=status or "")


@_page("settings")
def settings_page(signed_in: SignedIn, tenant: domain.Tenant) -> Reply:
    return _settings_with(signed_in, tenant)


# ---- rules ------------------------------------------------------------------------------------


@console.get("/bookings/<uuid:booking_id>")
@_below("bookings")
def booking_page(signed_in: SignedIn, tenant: domain.Tenant, booking_id: Any) -> Reply:
    found = booking_admin.admin_view(services().db, tenant, str(booking_id))
    return _render("booking", signed_in, tenant, booking=found, page_name="bookings")


@console.post("/bookings/<uuid:booking_id>/cancel")
def cancel_booking(booking_id: Any) -> Reply:
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    booking_admin.cancel_booking(services().checkout, tenant, str(booking_id), _now())
    return redirect(f"/admin/bookings/{booking_id}", 303)
