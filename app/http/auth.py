"""The request's principal: before_request hooks of the storefront, tenant admin and platform
blueprints check the request's credentials (``app/adapters/credentials.py``) and keep who is
asking for the view and the change log."""

from __future__ import annotations

from flask import current_app, g, request

from app.adapters.credentials import (
    API_KEY_HEADER,
    TENANT_HEADER,
    WRITE_ROLES,
    Principal,
    admin_principal,
    storefront_principal,
)
from config import Settings
from pricing import catalog as domain
from pricing.errors import Forbidden, Unauthenticated
from storage import change_log

# ---- request hooks ----------------------------------------------------------------------------


def _settings() -> Settings:
    settings: Settings = current_app.extensions["tierwise"].settings
    return settings


def require_storefront() -> None:
    """before_request hook of storefront blueprints."""
    if request.method == "OPTIONS":
        return
    if request.headers.get("Authorization", "").startswith("Bearer ") and not request.headers.get(
        API_KEY_HEADER
    ):
        raise Unauthenticated(f"Storefront routes take an API key in {API_KEY_HEADER}.")
    services = current_app.extensions["tierwise"]
    key = request.headers.get(API_KEY_HEADER)
    _authenticated(storefront_principal(services.settings, services.db, services.api_keys, key))


def require_tenant_admin() -> None:
    """before_request hook of tenant admin blueprints: analysts may read, admins may write.

    A suspended tenant is read-only for its own admins (403 ``tenant_suspended`` on anything but
    GET/HEAD, before the view runs, so nothing changes); platform admins acting on it with
    ``X-Tenant-Id`` may still write (revoking a leaked key, say)."""
    if request.method == "OPTIONS":
        return
    principal = _admin()
    if principal.tenant is None:
        raise Forbidden(
            f"Platform admins pick a tenant with the {TENANT_HEADER} header.",
            code="tenant_required",
        )
    if request.method not in ("GET", "HEAD"):
        if principal.role not in WRITE_ROLES:
            raise Forbidden("This role may only read.", code="role_forbidden")
        if principal.role != "platform_admin" and not principal.tenant.active:
            raise Forbidden(
                "The tenant is suspended: its admin API is read-only until a platform admin "
                "reactivates it.",
                code="tenant_suspended",
            )
    _authenticated(principal)


def require_platform_admin() -> None:
    if request.method == "OPTIONS":
        return
    principal = _admin()
    if principal.role != "platform_admin":
        raise Forbidden("Only platform admins may do this.", code="role_forbidden")
    _authenticated(principal)


def _authenticated(principal: Principal) -> None:
    """The request's principal, and the actor its changes are audited under (``<role>:<subject>``,
    with the request id) until the request is torn down (``create_app``)."""
    g.principal = principal
    if "audit_token" not in g:
        g.audit_token = change_log.set_who(
            f"{principal.role}:{principal.subject}", g.get("request_id", "")
        )


def _admin() -> Principal:
    if request.headers.get(API_KEY_HEADER) and not request.headers.get("Authorization"):
        raise Forbidden(
            "A storefront API key cannot call the admin API.", code="storefront_key_on_admin"
        )
    services = current_app.extensions["tierwise"]
    return admin_principal(
        services.settings,
        services.db,
        request.headers.get("Authorization"),
        request.headers.get(TENANT_HEADER),
    )


def current_tenant() -> domain.Tenant:
    tenant: domain.Tenant | None = g.principal.tenant
    assert tenant is not None  # guaranteed by the blueprint's hook
    return tenant
