"""The admin console (``/admin/``): server-rendered pages for people, not part of the JSON API.

Signed-in browsers hold a session cookie (``tw_console``: HttpOnly, SameSite=Lax, Secure when
tierwise is served over https); the session lives in the database, so signing out ends it at
once. Every state-changing request must come from tierwise's own origin (``Origin``, else
``Referer``) and carry the page's CSRF token (``csrf_token`` form field or ``X-CSRF-Token``).
Views call the same use cases as the JSON API, with the session's principal."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
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
from app.http.cors import forget_origins
from app.http.schemas.catalog import SegmentCreateSchema, TierUpdateSchema
from app.http.schemas.tenants import ApiKeyCreateSchema
from app.services import (
    accounts,
    activity,
    analytics,
    booking_admin,
    calendar,
    catalog,
    decision_log,
    experiments,
    rulesets,
    tenants,
)
from app.services import catalog_bulk as catalog_bulk_service
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
from rules.documents import load_document
from rules.language import RulesetInvalid
from storage import change_log
from storage.accounts import SignedIn

console = Blueprint(
    "console",
    __name__,
    url_prefix="/admin",
    template_folder="../web/console/templates",
    static_folder="../web/console/static",
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


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


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


@_page("analytics")
def analytics_page(signed_in: SignedIn, tenant: domain.Tenant) -> Reply:
    db = services().db
    start, end = _range()
    return _render(
        "analytics",
        signed_in,
        tenant,
        start=start,
        end=end,
        selection=analytics.segment_selection(db, tenant, start, end),
        conversion=analytics.tier_conversion(db, tenant, start, end),
        upsell=analytics.upsell(db, tenant, start, end),
        revenue=analytics.revenue(db, tenant, start, end),
    )


@console.get("/analytics/tier-conversion.csv")
def tier_conversion_csv() -> Reply:
    signed_in = _signed_in()
    tenant = _tenant(signed_in)
    if tenant is None:
        return redirect("/admin/analytics")
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
def decision_page(decision_id: Any) -> Reply:
    signed_in = _signed_in()
    tenant = _tenant(signed_in)
    if tenant is None:
        return redirect("/admin/decisions")
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


def _sample_facts(today: dt.date) -> str:
    """Fact sets the simulation starts with: a summer Saturday, a winter weekday a few days out."""
    year = today.year + 1
    return json.dumps(
        [
            {"service_date": f"{year}-07-10", "lead_days": 60, "tier_level": 1},
            {"service_date": f"{year}-01-13", "lead_days": 5, "tier_level": 2},
        ],
        indent=2,
    )


def _active_document(tenant: domain.Tenant) -> tuple[str, int | None, list[Any]]:
    db = services().db
    state = rulesets.activation_state(db, tenant, _now())
    versions = rulesets.list_versions(db, tenant, 0, LIST_LIMIT).items
    g.console_schedule = state["scheduled"]
    number = state["active_version"]
    if number is None:
        return "", None, versions
    document = rulesets.get_version(db, tenant, number).document
    return json.dumps(document, indent=2, ensure_ascii=False), number, versions


def _parse_editor(text: str) -> Any:
    """The editor's text, JSON or YAML (YAML reads JSON too), or RulesetInvalid at ``/``."""
    return load_document(text.encode(), "application/yaml")


@_page("rules")
def rules_page(signed_in: SignedIn, tenant: domain.Tenant) -> Reply:
    document, active, versions = _active_document(tenant)
    diff = None
    if request.args.get("old") and request.args.get("new"):
        diff = rulesets.diff_versions(services().db, tenant, _int_arg("old"), _int_arg("new"))
    return _render(
        "rules",
        signed_in,
        tenant,
        document=document,
        facts=_sample_facts(_now().date()),
        active=active,
        versions=versions,
        diff=diff,
    )


def _int_arg(name: str) -> int:
    try:
        return int(request.args.get(name, ""))
    except ValueError:
        raise InvalidInput(f"{name} is a version number.", code="validation_error") from None


@console.post("/rules")
def rules_action() -> Reply:
    """validate (anyone), simulate and publish (admins): the editor's document through the same
    ruleset use cases as the JSON API; the page shows the result."""
    signed_in = _signed_in()
    tenant = _tenant(signed_in)
    if tenant is None:
        return redirect("/admin/rules")
    action = request.form.get("action", "")
    text = request.form.get("document", "")
    facts_text = request.form.get("facts", "") or _sample_facts(_now().date())
    _, active, versions = _active_document(tenant)
    context: dict[str, Any] = {
        "document": text,
        "facts": facts_text,
        "active": active,
        "versions": versions,
        "diff": None,
    }
    if action != "validate":
        _require_write(signed_in, tenant)
    try:
        document = _parse_editor(text)
        if action == "validate":
            context["report"] = rulesets.validate_document(services().db, tenant, document)
        elif action == "simulate":
            context["simulation"] = _simulate(tenant, document, facts_text)
        elif action == "backtest":
            context["backtest"] = _backtest(tenant, document)
        elif action == "publish":
            published = _publish(signed_in, tenant, document)
            return redirect(f"/admin/rules?published={published}", 303)
        else:
            raise InvalidInput("Unknown action.", code="validation_error")
    except RulesetInvalid as error:
        context["problems"] = error.errors
    except InvalidInput as error:
        context["problems"] = _problems(error)
    return _render("rules", signed_in, tenant, **context)


def _problems(error: InvalidInput) -> list[dict[str, str]]:
    details = error.details if isinstance(error.details, list) else []
    found = [
        {
            "path": str(d.get("path") or d.get("field") or "/"),
            "message": str(d.get("message", "")),
        }
        for d in details
        if isinstance(d, dict)
    ]
    return found or [{"path": "/", "message": error.message}]


def _facts(text: str) -> list[Any]:
    try:
        facts = json.loads(text)
    except ValueError:
        raise InvalidInput(
            "The facts are not JSON.",
            code="invalid_facts",
            details=[{"path": "/facts", "message": "Not a JSON list of fact sets."}],
        ) from None
    if not isinstance(facts, list):
        facts = [facts]
    return facts


def _simulate(tenant: domain.Tenant, document: Any, facts_text: str) -> list[dict[str, Any]]:
    """Draft and active side by side: through a scratch draft, as the API's simulate does."""
    svc = services()
    author = f"{g.principal.role}:{g.principal.subject}"
    draft = rulesets.create_draft(svc.db, tenant, author, "console simulation", document, None)
    try:
        return rulesets.simulate(
            svc.db, svc.rules, tenant, draft.id, _facts(facts_text), None, _now()
        )
    finally:
        rulesets.delete_draft(svc.db, tenant, draft.id)


def _backtest(tenant: domain.Tenant, document: Any) -> dict[str, Any]:
    """The editor's document over the recorded decisions of the form's date range (UTC days,
    the last 7 by default): through a scratch draft, as the API's backtest does."""
    today = _now().date()
    try:
        first = dt.date.fromisoformat(request.form.get("bt_from") or "")
    except ValueError:
        first = today - dt.timedelta(days=6)
    try:
        last = dt.date.fromisoformat(request.form.get("bt_to") or "")
    except ValueError:
        last = today
    start = dt.datetime.combine(first, dt.time(), dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC)
    svc = services()
    author = f"{g.principal.role}:{g.principal.subject}"
    draft = rulesets.create_draft(svc.db, tenant, author, "console backtest", document, None)
    try:
        return decision_log.backtest(svc.db, tenant, draft.id, start, end)
    finally:
        rulesets.delete_draft(svc.db, tenant, draft.id)


def _publish(signed_in: SignedIn, tenant: domain.Tenant, document: Any) -> int:
    """Publish as the API does it (a draft, then its publish: validated and its examples run)."""
    svc = services()
    author = f"{g.principal.role}:{g.principal.subject}"
    note = request.form.get("note", "") or "published from the console"
    draft = rulesets.create_draft(svc.db, tenant, author, "console", document, None)
    try:
        published = rulesets.publish_draft(
            svc.db, svc.rules, tenant, draft.id, author, note, None, _now()
        )
    finally:
        rulesets.delete_draft(svc.db, tenant, draft.id)
    return published.version.number


# ---- bookings and users -----------------------------------------------------------------------


@console.app_template_filter("money")
def _money(amount: int | None, currency: str) -> str:
    return "" if amount is None else Money(int(amount), currency).format()


@console.app_template_filter("major")
def _major(money: Money) -> str:
    """Minor units as the plain decimal a form field shows (12900 EUR -> "129.00")."""
    digits = exponent(money.currency)
    return str(Decimal(money.amount).scaleb(-digits).quantize(Decimal(1).scaleb(-digits)))


@console.get("/bookings/<uuid:booking_id>")
def booking_page(booking_id: Any) -> Reply:
    signed_in = _signed_in()
    tenant = _tenant(signed_in)
    if tenant is None:
        return redirect("/admin/bookings")
    found = booking_admin.admin_view(services().db, tenant, str(booking_id))
    return _render("booking", signed_in, tenant, booking=found, page_name="bookings")


@console.post("/bookings/<uuid:booking_id>/cancel")
def cancel_booking(booking_id: Any) -> Reply:
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    booking_admin.cancel_booking(services().checkout, tenant, str(booking_id), _now())
    return redirect(f"/admin/bookings/{booking_id}", 303)


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
        "settings", signed_in, tenant, api_keys=keys, users=users, page_name="settings", **context
    )


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


@console.post("/rules/versions/<int:number>/activate")
def activate_version(number: int) -> Reply:
    """Activate a published version now: ``rollback`` when older than the one in force."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    svc = services()
    author = f"{g.principal.role}:{g.principal.subject}"
    rulesets.activate_version(svc.db, svc.rules, tenant, number, author, _now())
    return redirect(f"/admin/rules?activated={number}", 303)


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
def tier_page(tier_id: Any) -> Reply:
    signed_in = _signed_in()
    tenant = _tenant(signed_in)
    if tenant is None:
        return redirect("/admin/catalog")
    tier = catalog.get_tier(services().db, tenant, str(tier_id))
    return _render("tier", signed_in, tenant, tier=tier, page_name="catalog")


@console.post("/catalog/tiers/<uuid:tier_id>")
def update_tier(tier_id: Any) -> Reply:
    """Name, description, prices, guests and the popular badge, through the API's schema and
    use case; the version read goes back as the expected one (a stale form is 412)."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    currency = tenant.currency
    form = request.form
    data = _validated(
        TierUpdateSchema(),
        {
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
        },
    )
    version = int(form.get("version") or 0) or None
    catalog.update_tier(services().db, tenant, str(tier_id), version, data)
    return redirect("/admin/catalog?done=saved", 303)
