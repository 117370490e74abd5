"""The console's catalog edits beyond the bulk actions: a tier's features, add-ons (create, edit,
archive, restore) and the segments' order. Every form goes through the JSON API's own schema
and use case (``app/services/catalog``, ``catalog_bulk``)."""

from __future__ import annotations

import re
from typing import Any

from flask import redirect, request
from werkzeug.datastructures import MultiDict

from app.http.common import services
from app.http.console.core import (
    Reply,
    _below,
    _minor_units,
    _render,
    _signed_in,
    _validated,
    _writable_tenant,
    console,
)
from app.http.schemas.catalog import AddOnCreateSchema, AddOnUpdateSchema
from app.services import catalog
from app.services import catalog_bulk as catalog_bulk_service
from pricing import catalog as domain
from pricing.errors import InvalidInput
from storage.accounts import SignedIn

#: Empty feature rows the tier form offers for new features.
NEW_FEATURE_ROWS = 2
_INTEGER = re.compile(r"^-?[0-9]{1,9}$")


def feature_value(text: str) -> bool | int | str:
    """A feature cell as typed: ``true``/``false`` a yes/no, a whole number a count, else text."""
    cleaned = text.strip()
    if cleaned.lower() in ("true", "false"):
        return cleaned.lower() == "true"
    if _INTEGER.match(cleaned):
        return int(cleaned)
    return cleaned


def feature_text(value: bool | int | str) -> str:
    """The form field's text for a feature cell (the inverse of ``feature_value``)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def features_from_form(form: MultiDict[str, str]) -> list[dict[str, Any]]:
    """The tier form's feature rows (``feature_key``, ``feature_label``, ``feature_value``, one
    of each per row, in order); a row with an empty key is dropped (that removes a feature)."""
    keys = form.getlist("feature_key")
    labels = form.getlist("feature_label")
    values = form.getlist("feature_value")
    rows = []
    for i, key in enumerate(keys):
        if not key.strip():
            continue
        label = labels[i] if i < len(labels) else ""
        value = values[i] if i < len(values) else ""
        rows.append(
            {
                "key": key.strip(),
                "label": label.strip() or key.strip(),
                "value": feature_value(value),
            }
        )
    return rows


@console.app_template_filter("feature_text")
def _feature_text(value: bool | int | str) -> str:
    return feature_text(value)


# ---- add-ons ----------------------------------------------------------------------------------


def _add_on_data(currency: str, creating: bool) -> dict[str, Any]:
    form = request.form
    data: dict[str, Any] = {
        "name": form.get("name", ""),
        "pricing": form.get("pricing", ""),
        "price": {
            "amount": _minor_units(form.get("price", ""), currency, "price"),
            "currency": currency,
        },
        "tier_ids": [t for t in form.getlist("tier_ids") if t],
    }
    if creating:
        data["key"] = form.get("key", "")
    schema = AddOnCreateSchema() if creating else AddOnUpdateSchema()
    return _validated(schema, data)


@console.post("/catalog/add-ons")
def create_add_on() -> Reply:
    """A new add-on (key, name, flat or per-guest price, optionally limited to some tiers)."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    catalog.create_add_on(services().db, tenant, _add_on_data(tenant.currency, creating=True))
    return redirect("/admin/catalog?done=add-on+created#add-ons", 303)


@console.get("/catalog/add-ons/<uuid:add_on_id>")
@_below("catalog")
def add_on_page(signed_in: SignedIn, tenant: domain.Tenant, add_on_id: Any) -> Reply:
    db = services().db
    add_on = catalog.get_add_on(db, tenant, str(add_on_id))
    tiers = catalog.list_tiers(db, tenant, None, "active", 0, 300).items
    segments = {s.id: s.name for s in catalog.list_segments(db, tenant, None, 0, 200).items}
    return _render(
        "add_on",
        signed_in,
        tenant,
        add_on=add_on,
        tiers=tiers,
        segment_names=segments,
        page_name="catalog",
    )


@console.post("/catalog/add-ons/<uuid:add_on_id>")
def update_add_on(add_on_id: Any) -> Reply:
    """Name, pricing, price and tiers; the version read goes back (a stale form is 412)."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    version = int(request.form.get("version") or 0) or None
    data = _add_on_data(tenant.currency, creating=False)
    catalog.update_add_on(services().db, tenant, str(add_on_id), version, data)
    return redirect("/admin/catalog?done=add-on+saved#add-ons", 303)


@console.post("/catalog/add-ons/<uuid:add_on_id>/<any(archive,restore):action>")
def add_on_status(add_on_id: Any, action: str) -> Reply:
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    status = "archived" if action == "archive" else "active"
    catalog.set_add_on_status(services().db, tenant, str(add_on_id), status)
    return redirect(f"/admin/catalog?done=add-on+{action}d#add-ons", 303)


# ---- the segments' order ----------------------------------------------------------------------


def _ordered_segment_ids() -> list[str]:
    """The segments sorted by the order numbers typed (``order-<id>``); ties keep the page's
    order (the ``segment_id`` fields, as listed)."""
    listed = request.form.getlist("segment_id")
    numbered = []
    for index, segment_id in enumerate(listed):
        text = request.form.get(f"order-{segment_id}", "").strip()
        try:
            number = int(text)
        except ValueError:
            raise InvalidInput(
                "Each order is a whole number.",
                code="validation_error",
                details=[{"field": f"order-{segment_id}", "message": "Not a whole number."}],
            ) from None
        numbered.append((number, index, segment_id))
    return [segment_id for _, _, segment_id in sorted(numbered)]


@console.post("/catalog/reorder")
def reorder_segments() -> Reply:
    """The segments in a new order, in one transaction (the storefront lists them so)."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    moved = catalog_bulk_service.reorder_segments(services().db, tenant, _ordered_segment_ids())
    return redirect(f"/admin/catalog?done=reordered+{moved}", 303)
