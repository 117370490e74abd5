"""The console's writes other than rules: users, catalog (bulk, segments, tiers), experiments, API keys."""

from __future__ import annotations

import secrets
from decimal import Decimal, InvalidOperation
from typing import Any

import marshmallow as ma
from flask import g, redirect, request

from app.http.common import services
from app.http.common import utc_now as _now
from app.http.console.catalog_edit import features_from_form
from app.http.console.core import (
    LIST_LIMIT,
    Reply,
    _below,
    _minor_units,
    _render,
    _settings_with,
    _signed_in,
    _validated,
    _writable_tenant,
    console,
)
from app.http.cors import forget_origins
from app.http.schemas.catalog import SegmentCreateSchema, TierUpdateSchema
from app.http.schemas.tenants import ApiKeyCreateSchema
from app.services import (
    accounts,
    catalog,
    experiments,
    tenants,
)
from app.services import catalog_bulk as catalog_bulk_service
from pricing import catalog as domain
from pricing.errors import (
    InvalidInput,
)
from pricing.money import exponent, round_minor
from storage.accounts import SignedIn


@console.post("/users")
def invite_user() -> Reply:
    """A new user of the tenant, with a generated password shown once."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    role = request.form.get("role", "")
    if role not in accounts.TENANT_ROLES:
        raise InvalidInput("Pick a role.", code="validation_error")
    user, password = accounts.create_user(
        services().db,
        tenant.id,
        request.form.get("email", ""),
        role,
        request.form.get("name", ""),
    )
    return _settings_with(signed_in, tenant, new_password=(user.email, password))


@console.post("/users/<uuid:user_id>/reset-password")
def reset_user_password(user_id: Any) -> Reply:
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    user, password = accounts.reset_tenant_user_password(services().db, tenant.id, str(user_id))
    return _settings_with(signed_in, tenant, new_password=(user.email, password))


@console.post("/users/<uuid:user_id>/remove")
def remove_user(user_id: Any) -> Reply:
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    accounts.remove_tenant_user(services().db, tenant.id, str(user_id), signed_in.user.id)
    return redirect("/admin/settings", 303)


# ---- catalog actions --------------------------------------------------------------------------


def _bulk_change() -> tuple[list[str], Decimal | None, int | None]:
    """The selection and the price change the catalog form asks for (percent, or an amount in
    major units of the tenant's currency, converted to minor units)."""
    tier_ids = request.form.getlist("tier_id")
    percent_text = request.form.get("percent", "").strip()
    amount_text = request.form.get("amount", "").strip()
    try:
        percent = Decimal(percent_text) if percent_text else None
        amount = Decimal(amount_text) if amount_text else None
    except InvalidOperation:
        raise InvalidInput("The percent or amount is not a number.") from None
    if percent is not None and not percent.is_finite():
        raise InvalidInput("The percent is not a number.")
    minor = None
    if amount is not None:
        if not amount.is_finite():
            raise InvalidInput("The amount is not a number.")
        currency = _tenant_currency()
        minor = round_minor(amount * (Decimal(10) ** exponent(currency)))
    return tier_ids, percent, minor


def _tenant_currency() -> str:
    tenant: domain.Tenant | None = g.get("console_tenant")
    assert tenant is not None
    return tenant.currency


def _catalog_with(signed_in: SignedIn, tenant: domain.Tenant, **context: Any) -> Reply:
    db = services().db
    return _render(
        "catalog",
        signed_in,
        tenant,
        segments=catalog.list_segments(db, tenant, None, 0, LIST_LIMIT).items,
        tiers=catalog.list_tiers(db, tenant, None, None, 0, LIST_LIMIT * 3).items,
        add_ons=catalog.list_add_ons(db, tenant, None, 0, LIST_LIMIT).items,
        page_name="catalog",
        **context,
    )


@console.post("/catalog/bulk")
def catalog_bulk() -> Reply:
    """preview / apply a price change, archive / restore: on the selected tiers."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    g.console_tenant = tenant
    action = request.form.get("action", "")
    db = services().db
    if action in ("archive", "restore"):
        status = "archived" if action == "archive" else "active"
        count = catalog_bulk_service.set_tiers_status(
            db, tenant, request.form.getlist("tier_id"), status
        )
        return redirect(f"/admin/catalog?done={action}d+{count}", 303)
    tier_ids, percent, amount = _bulk_change()
    if action == "preview":
        preview = catalog_bulk_service.preview_price_change(db, tenant, tier_ids, percent, amount)
        return _catalog_with(
            signed_in,
            tenant,
            preview=preview,
            selected=set(tier_ids),
            percent=request.form.get("percent", ""),
            amount=request.form.get("amount", ""),
        )
    if action == "apply":
        changed = catalog_bulk_service.apply_price_change(db, tenant, tier_ids, percent, amount)
        return redirect(f"/admin/catalog?done=repriced+{len(changed)}", 303)
    raise InvalidInput("Unknown action.", code="validation_error")


@console.post("/catalog/segments/<uuid:segment_id>/<any(archive,restore,clone):action>")
def segment_action(segment_id: Any, action: str) -> Reply:
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    db = services().db
    if action == "clone":
        source = catalog.get_segment(db, tenant, str(segment_id))
        suffix = secrets.token_hex(2)
        catalog.clone_segment(
            db,
            tenant,
            str(segment_id),
            {"key": f"{source.key}-copy-{suffix}"[:64], "name": f"{source.name} (copy)"},
        )
    else:
        status = "archived" if action == "archive" else "active"
        catalog.set_segment_status(db, tenant, str(segment_id), status)
    return redirect(f"/admin/catalog?done={action}", 303)


# ---- versions and experiments -----------------------------------------------------------------


@console.post("/experiments/<uuid:experiment_id>/<any(start,pause,resume,stop):action>")
def experiment_action(experiment_id: Any, action: str) -> Reply:
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    author = f"{g.principal.role}:{g.principal.subject}"
    experiments.transition(services().db, tenant, str(experiment_id), action, author, _now())
    return redirect(f"/admin/experiments?done={action}", 303)


# ---- API keys ---------------------------------------------------------------------------------


@console.post("/api-keys")
def create_api_key() -> Reply:
    """A storefront key (shown once) allowing the origins given one per line, validated by the
    JSON API's own schema."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    origins = [o.strip() for o in request.form.get("allowed_origins", "").splitlines() if o.strip()]
    try:
        data = ApiKeyCreateSchema().load(
            {"name": request.form.get("name", ""), "allowed_origins": origins}
        )
    except ma.ValidationError as error:
        raise InvalidInput(f"The key is not valid: {error.messages}.") from None
    svc = services()
    created = tenants.create_api_key(
        svc.db, svc.settings.api_key_pepper, tenant, data["name"], data["allowed_origins"]
    )
    forget_origins()
    return _settings_with(signed_in, tenant, new_key=created["key"])


@console.post("/api-keys/<uuid:key_id>/revoke")
def revoke_api_key(key_id: Any) -> Reply:
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    svc = services()
    tenants.revoke_api_key(svc.db, tenant, str(key_id), svc.api_keys)
    forget_origins()
    return redirect("/admin/settings", 303)


# ---- editing the catalog ----------------------------------------------------------------------


@console.post("/catalog/segments")
def create_segment() -> Reply:
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    data = _validated(
        SegmentCreateSchema(),
        {
            "key": request.form.get("key", ""),
            "name": request.form.get("name", ""),
            "position": int(request.form.get("position") or 0),
        },
    )
    catalog.create_segment(services().db, tenant, data)
    return redirect("/admin/catalog?done=created", 303)


@console.get("/catalog/tiers/<uuid:tier_id>")
@_below("catalog")
def tier_page(signed_in: SignedIn, tenant: domain.Tenant, tier_id: Any) -> Reply:
    tier = catalog.get_tier(services().db, tenant, str(tier_id))
    return _render("tier", signed_in, tenant, tier=tier, page_name="catalog")


@console.post("/catalog/tiers/<uuid:tier_id>")
def update_tier(tier_id: Any) -> Reply:
    """Name, description, prices, guests, features and the popular badge, through the API's schema and
    use case; the version read goes back as the expected one (a stale form is 412)."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    currency = tenant.currency
    form = request.form
    fields: dict[str, Any] = {
        "name": form.get("name", ""),
        "description": form.get("description", ""),
        "base_price": {
            "amount": _minor_units(form.get("base_price", ""), currency, "base_price"),
            "currency": currency,
        },
        "per_guest_price": {
            "amount": _minor_units(form.get("per_guest_price", ""), currency, "per_guest"),
            "currency": currency,
        },
        "max_guests": int(form.get("max_guests") or 0),
        "popular": form.get("popular") == "on",
    }
    if "feature_key" in form:  # the form's feature rows (a form without them keeps the features)
        fields["features"] = features_from_form(form)
    data = _validated(TierUpdateSchema(), fields)
    version = int(form.get("version") or 0) or None
    catalog.update_tier(services().db, tenant, str(tier_id), version, data)
    return redirect("/admin/catalog?done=saved", 303)
