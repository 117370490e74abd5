"""The console's settings beyond keys and users: the tenant's notification email, segment themes
with a live preview of the storefront widget, and webhook endpoints (create with the secret shown
once, rotate, test send, delete, deliveries and their retry). The same schemas and use cases as
``PATCH /v1/admin/tenant``, ``PATCH /v1/admin/segments/{id}`` and
``/v1/admin/webhook-endpoints``.

The preview is the real widget script on the console's page. It reads the tenant's segments
from ``/admin/preview/v1/storefront/segments`` (the storefront's answer, for the signed-in
session, not an API key), and the page's script swaps the edited theme into the widget before
it is saved."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import jsonify, redirect, request

from app.http.common import services
from app.http.common import utc_now as _now
from app.http.console.core import (
    LIST_LIMIT,
    Reply,
    _below,
    _render,
    _settings_with,
    _signed_in,
    _tenant,
    _validated,
    _writable_tenant,
    console,
)
from app.http.schemas.catalog import SegmentUpdateSchema
from app.http.schemas.storefront import PublicSegmentSchema
from app.http.schemas.tenants import TenantUpdateSchema
from app.http.schemas.webhooks import EndpointCreateSchema, RotateSchema
from app.services import catalog, events_out, tenants
from pricing import catalog as domain
from pricing.errors import InvalidInput
from storage.accounts import SignedIn

THEME_FIELDS = ("primary_color", "accent_color", "font_family", "radius")
#: Delivery statuses the endpoint's page offers a retry for (delivered ones are done).
RETRYABLE = ("failed", "pending")


# ---- the tenant ------------------------------------------------------------------------------


@console.post("/settings/tenant")
def save_tenant() -> Reply:
    """The tenant's notification email (empty: none), as ``PATCH /v1/admin/tenant`` takes it; the
    version read goes back (a stale form is 412)."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    email = request.form.get("notification_email", "").strip()
    data = _validated(TenantUpdateSchema(), {"notification_email": email})
    version = int(request.form.get("version") or 0) or None
    tenants.update_tenant(services().db, tenant, version, data)
    return redirect("/admin/settings?done=notification+email+saved#tenant-title", 303)


# ---- segment themes ---------------------------------------------------------------------------


@console.get("/settings/themes/<uuid:segment_id>")
@_below("settings")
def theme_page(signed_in: SignedIn, tenant: domain.Tenant, segment_id: Any) -> Reply:
    segment = catalog.get_segment(services().db, tenant, str(segment_id))
    return _render("theme", signed_in, tenant, segment=segment, page_name="settings")


@console.post("/settings/themes/<uuid:segment_id>")
def save_theme(segment_id: Any) -> Reply:
    """The segment's theme replaced by the form's (an empty field: the widget's default); the
    version read goes back (a stale form is 412)."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    theme = {name: (request.form.get(name, "").strip() or None) for name in THEME_FIELDS}
    data = _validated(SegmentUpdateSchema(), {"theme": theme})
    version = int(request.form.get("version") or 0) or None
    catalog.update_segment(services().db, tenant, str(segment_id), version, data)
    return redirect(f"/admin/settings/themes/{segment_id}?done=saved", 303)


@console.get("/preview/v1/storefront/segments")
def preview_segments() -> Any:
    """The storefront's segments answer for the signed-in session: what the preview widget reads
    (it sends no key the console could know; the session names the tenant)."""
    signed_in = _signed_in()
    tenant = _tenant(signed_in)
    if tenant is None:
        raise InvalidInput("Choose a tenant first.", code="tenant_required")
    segments = catalog.storefront_segments(services().db, tenant)
    return jsonify(PublicSegmentSchema(many=True).dump(segments))


# ---- webhook endpoints ------------------------------------------------------------------------


def _events(text: str) -> list[str]:
    """Event types typed one per line or separated by commas."""
    return [e.strip() for e in text.replace(",", "\n").splitlines() if e.strip()]


@console.post("/webhooks")
def create_webhook() -> Reply:
    """A new endpoint; its signing secret is shown on the answer only."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    data = _validated(
        EndpointCreateSchema(),
        {
            "url": request.form.get("url", "").strip(),
            "events": _events(request.form.get("events", "")),
            "description": request.form.get("description", ""),
        },
    )
    created = events_out.create_endpoint(services().events, tenant.id, data, _now())
    return _settings_with(signed_in, tenant, new_secret=(created["url"], created["secret"]))


@console.post("/webhooks/<uuid:endpoint_id>/rotate")
def rotate_webhook(endpoint_id: Any) -> Reply:
    """A new secret (shown once); the old one also signs for the overlap the form gives."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    hours = request.form.get("overlap_hours", "").strip()
    data = _validated(RotateSchema(), {"overlap_hours": int(hours) if hours.isdigit() else 24})
    rotated = events_out.rotate_secret(
        services().db, tenant.id, str(endpoint_id), data["overlap_hours"], _now()
    )
    return _settings_with(signed_in, tenant, new_secret=(rotated["url"], rotated["secret"]))


@console.post("/webhooks/<uuid:endpoint_id>/test")
def test_webhook(endpoint_id: Any) -> Reply:
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    events_out.send_test(services().db, tenant.id, str(endpoint_id), _now())
    return redirect(f"/admin/webhooks/{endpoint_id}?done=test+queued", 303)


@console.post("/webhooks/<uuid:endpoint_id>/delete")
def delete_webhook(endpoint_id: Any) -> Reply:
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    events_out.delete_endpoint(services().db, tenant.id, str(endpoint_id))
    return redirect("/admin/settings?done=endpoint+deleted#webhooks-title", 303)


@console.post("/webhooks/<uuid:endpoint_id>/deliveries/<uuid:delivery_id>/retry")
def retry_webhook_delivery(endpoint_id: Any, delivery_id: Any) -> Reply:
    """Deliver again now, as ``POST /v1/admin/webhook-endpoints/{id}/deliveries/{delivery_id}/
    retry`` does (the worker sends it on its next round)."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    events_out.retry_delivery(services().db, tenant.id, str(endpoint_id), str(delivery_id), _now())
    return redirect(f"/admin/webhooks/{endpoint_id}?done=retry+queued#deliveries-title", 303)


@console.get("/webhooks/<uuid:endpoint_id>")
@_below("settings")
def webhook_page(signed_in: SignedIn, tenant: domain.Tenant, endpoint_id: Any) -> Reply:
    """One endpoint and its delivery attempts, newest first."""
    db = services().db
    endpoint = events_out.get_endpoint(db, tenant.id, str(endpoint_id))
    attempts = events_out.deliveries(db, tenant.id, str(endpoint_id), 0, LIST_LIMIT).items
    seen: set[str] = set()
    for attempt in attempts:  # the newest row of each delivery not delivered offers a retry
        attempt["retryable"] = (
            attempt["delivery_id"] not in seen and attempt["delivery_status"] in RETRYABLE
        )
        seen.add(attempt["delivery_id"])
    return _render(
        "webhook", signed_in, tenant, endpoint=endpoint, attempts=attempts, page_name="settings"
    )


def _when(moment: dt.datetime | None) -> str:
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


@console.app_template_filter("when")
def _when_filter(moment: dt.datetime | None) -> str:
    return _when(moment)
