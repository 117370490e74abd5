"""The admin console (``/admin/``): server-rendered pages for people, not part of the JSON API.

Signed-in browsers hold a session cookie (``tw_console``: HttpOnly, SameSite=Lax, Secure when
tierwise is served over https); the session lives in the database, so signing out ends it at
once. Every state-changing request must come from tierwise's own origin (``Origin``, else
``Referer``) and carry the page's CSRF token (``csrf_token`` form field or ``X-CSRF-Token``).
Views call the same use cases as the JSON API, with the session's principal.

This module: the blueprint, sessions and CSRF, rendering, the page decorator, template filters."""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlsplit

import marshmallow as ma
from flask import Blueprint, Response, g, redirect, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from app.adapters.credentials import WRITE_ROLES
from app.http.common import services
from app.http.common import utc_now as _now
from app.services import (
    accounts,
    catalog,
    events_out,
    tenants,
)
from pricing import catalog as domain
from pricing.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
)
from pricing.money import Money, exponent, round_minor
from storage import change_log
from storage.accounts import SignedIn

console = Blueprint(
    "console",
    __name__,
    url_prefix="/admin",
    template_folder="../../web/console/templates",
    static_folder="../../web/console/static",
    static_url_path="/static",
)

COOKIE = "tw_console"
#: A platform admin's chosen tenant (not a credential: they may act on any tenant).
TENANT_COOKIE = "tw_console_tenant"
#: The sign-in form's CSRF token before there is a session (double submit: cookie and field).
SIGN_IN_COOKIE = "tw_console_signin"
PAGES = (
    ("catalog", "Catalog"),
    ("availability", "Availability"),
    ("rules", "Rules"),
    ("experiments", "Experiments"),
    ("analytics", "Analytics"),
    ("decisions", "Decisions"),
    ("bookings", "Bookings"),
    ("settings", "Settings"),
)
LIST_LIMIT = 50
ERROR_STATUS = (
    (NotFound, 404),
    (Forbidden, 403),
    (Conflict, 409),
    (PreconditionFailed, 412),
    (InvalidInput, 422),
)

Reply = str | BaseResponse | tuple[str, int]


def _secure() -> bool:
    return services().settings.public_base_url.startswith("https://")


def _same_origin() -> bool:
    """The request came from a page of tierwise's own origin: ``Origin`` (else ``Referer``) is
    the origin the request was sent to, or the configured public one."""
    sent = request.headers.get("Origin") or request.headers.get("Referer")
    if not sent or sent == "null":
        return False
    parts = urlsplit(sent)
    origin = f"{parts.scheme}://{parts.netloc}"
    public = urlsplit(services().settings.public_base_url)
    return origin in (request.host_url.rstrip("/"), f"{public.scheme}://{public.netloc}")


def _csrf_sent() -> str | None:
    return request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")


#: The console's own stylesheet and script: kept by browsers this long (not versioned by path).
STATIC_MAX_AGE = 300


@console.after_request
def _cache_static(response: Response) -> Response:
    if request.endpoint == "console.static":
        response.headers["Cache-Control"] = f"public, max-age={STATIC_MAX_AGE}"
    return response


@console.before_request
def _load_session() -> Reply | None:
    if request.endpoint == "console.static":
        return None
    g.console_session = accounts.current_session(services().db, request.cookies.get(COOKIE), _now())
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    if not _same_origin():
        return _refused("The request did not come from the console's own pages.")
    signed_in: SignedIn | None = g.console_session
    if request.endpoint == "console.sign_in":
        pre = request.cookies.get(SIGN_IN_COOKIE) or ""
        if not pre or not secrets.compare_digest(pre, request.form.get("csrf_token", "")):
            return _refused("The sign-in form expired. Reload the page and try again.")
        return None
    if signed_in is None:
        return redirect("/admin/")
    if not accounts.csrf_matches(signed_in, _csrf_sent()):
        return _refused("The request's CSRF token is missing or not this session's.")
    return None


def _refused(message: str) -> tuple[str, int]:
    return render_template("error.html", title="Refused", message=message, csrf=""), 403


@console.errorhandler(DomainError)
def _domain_error(error: DomainError) -> tuple[str, int]:
    status = next((code for cls, code in ERROR_STATUS if isinstance(error, cls)), 400)
    return _page_error(error.message, status)


@console.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> tuple[str, int]:
    return _page_error(error.description or "Error", error.code or 500)


def _page_error(message: str, status: int) -> tuple[str, int]:
    signed_in = g.get("console_session")
    return render_template(
        "error.html",
        title="Error",
        message=message,
        csrf=signed_in.csrf_token if signed_in else "",
        user=signed_in.user if signed_in else None,
        pages=PAGES,
    ), status


# ---- signing in and out -----------------------------------------------------------------------


@console.get("/")
def home() -> Reply:
    if g.console_session is not None:
        return redirect("/admin/catalog")
    return _sign_in_page(None, 200)


def _sign_in_page(error: str | None, status: int, email: str = "") -> Reply:
    token = secrets.token_urlsafe(32)
    response = Response(
        render_template("sign_in.html", csrf=token, error=error, email=email), status
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        httponly=True,
        samesite="Strict",
        secure=_secure(),
        path="/admin/",
        max_age=3600,
    )
    return response


@console.post("/sign-in")
def sign_in() -> Reply:
    email = request.form.get("email", "")
    try:
        new = accounts.sign_in(
            services().db,
            services().cache,
            email,
            request.form.get("password", ""),
            request.remote_addr or "",
            _now(),
        )
    except accounts.SignInThrottled as error:
        return _sign_in_page(error.message, 429, email)
    except DomainError as error:
        return _sign_in_page(error.message, 401, email)
    response = redirect("/admin/catalog", 303)
    response.set_cookie(
        COOKIE,
        new.token,
        httponly=True,
        samesite="Lax",
        secure=_secure(),
        path="/admin/",
        max_age=accounts.SESSION_HOURS * 3600,
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/admin/")
    return response


@console.post("/sign-out")
def sign_out() -> Reply:
    token = request.cookies.get(COOKIE)
    if token:
        accounts.sign_out(services().db, token)
    response = redirect("/admin/", 303)
    response.delete_cookie(COOKIE, path="/admin/", httponly=True, samesite="Lax")
    return response


# ---- the signed-in pages ----------------------------------------------------------------------


def _signed_in() -> SignedIn:
    signed_in: SignedIn | None = g.console_session
    if signed_in is None:
        raise _SignInFirst()
    principal = accounts.principal_of(signed_in)
    g.principal = principal
    if "audit_token" not in g:
        g.audit_token = change_log.set_who(
            f"{principal.role}:{principal.subject}", g.get("request_id", "")
        )
    return signed_in


class _SignInFirst(Exception):
    pass


@console.errorhandler(_SignInFirst)
def _sign_in_first(_error: _SignInFirst) -> BaseResponse:
    return redirect("/admin/")


def _tenant(signed_in: SignedIn) -> domain.Tenant | None:
    """The tenant the pages show: the user's, or the one a platform admin chose."""
    if signed_in.tenant is not None:
        return signed_in.tenant
    chosen = request.args.get("tenant") or request.cookies.get(TENANT_COOKIE)
    if not chosen:
        return None
    try:
        return tenants.get_tenant(services().db, chosen)
    except NotFound:
        return None


def _require_write(signed_in: SignedIn, tenant: domain.Tenant) -> None:
    if signed_in.user.role not in WRITE_ROLES:
        raise Forbidden("Analysts may only read.", code="role_forbidden")
    if signed_in.user.role != "platform_admin" and not tenant.active:
        raise Forbidden("The tenant is suspended: read-only.", code="tenant_suspended")


def _render(name: str, signed_in: SignedIn, tenant: domain.Tenant | None, **context: Any) -> Reply:
    body = render_template(
        f"{name}.html",
        page=name,
        pages=PAGES,
        user=signed_in.user,
        tenant=tenant,
        csrf=signed_in.csrf_token,
        can_write=signed_in.user.role in WRITE_ROLES,
        **context,
    )
    response = Response(body)
    if signed_in.tenant is None and tenant is not None and request.args.get("tenant"):
        response.set_cookie(
            TENANT_COOKIE,
            tenant.slug,
            httponly=True,
            samesite="Lax",
            secure=_secure(),
            path="/admin/",
        )
    return response


def _below(page: str) -> Callable[[Callable[..., Reply]], Callable[..., Reply]]:
    """A route below ``page`` (a booking, a tier, a form): signed in, with a tenant, both passed
    before the route's own arguments; without a tenant (a platform admin who has not picked one)
    back to ``page``, where one is picked."""

    def decorate(view: Callable[..., Reply]) -> Callable[..., Reply]:
        @functools.wraps(view)
        def endpoint(**kwargs: Any) -> Reply:
            signed_in = _signed_in()
            tenant = _tenant(signed_in)
            if tenant is None:
                return redirect(f"/admin/{page}")
            return view(signed_in, tenant, **kwargs)

        return endpoint

    return decorate


def _page(name: str) -> Callable[[Callable[[SignedIn, domain.Tenant], Reply]], Any]:
    """A GET page: signed in, with a tenant (platform admins pick one first)."""

    def decorate(view: Callable[[SignedIn, domain.Tenant], Reply]) -> Any:
        def endpoint() -> Reply:
            signed_in = _signed_in()
            tenant = _tenant(signed_in)
            if tenant is None:
                tenant_list = tenants.list_tenants(services().db, 0, 200).items
                return _render(
                    "choose_tenant", signed_in, None, tenants=tenant_list, next_page=name
                )
            return view(signed_in, tenant)

        endpoint.__name__ = f"page_{name}"
        console.add_url_rule(f"/{name}", endpoint=name, view_func=endpoint, methods=["GET"])
        return view

    return decorate


@console.app_template_filter("money")
def _money(amount: int | None, currency: str) -> str:
    return "" if amount is None else Money(int(amount), currency).format()


@console.app_template_filter("major")
def _major(money: Money) -> str:
    """Minor units as the plain decimal a form field shows (12900 EUR -> "129.00")."""
    digits = exponent(money.currency)
    return str(Decimal(money.amount).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))


def _writable_tenant(signed_in: SignedIn) -> domain.Tenant:
    tenant = _tenant(signed_in)
    if tenant is None:
        raise Forbidden("Choose a tenant first.", code="tenant_required")
    _require_write(signed_in, tenant)
    return tenant


def _settings_with(signed_in: SignedIn, tenant: domain.Tenant, **context: Any) -> Reply:
    db = services().db
    keys = tenants.list_api_keys(db, tenant, 0, LIST_LIMIT).items
    users = accounts.list_users(db, tenant.id)
    return _render(
        "settings",
        signed_in,
        tenant,
        api_keys=keys,
        users=users,
        endpoints=events_out.list_endpoints(db, tenant.id, 0, LIST_LIMIT).items,
        theme_segments=catalog.list_segments(db, tenant, None, 0, LIST_LIMIT).items,
        page_name="settings",
        **context,
    )


def _validated(schema: ma.Schema, data: dict[str, Any]) -> dict[str, Any]:
    """The form's data through the JSON API's own schema, or 422 with its messages."""
    try:
        loaded: dict[str, Any] = schema.load(data)
    except ma.ValidationError as error:
        raise InvalidInput(f"Not valid: {error.messages}.", code="validation_error") from None
    return loaded


def _minor_units(text: str, currency: str, field: str) -> int:
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise InvalidInput(f"{field} is not an amount.", code="validation_error") from None
    if not amount.is_finite():
        raise InvalidInput(f"{field} is not an amount.", code="validation_error")
    return round_minor(amount * (Decimal(10) ** exponent(currency)))
