"""The console's rules page: the editor, validate, simulate, backtest, diff, publish, versions."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from flask import g, redirect, request

from app.http.common import services
from app.http.common import utc_now as _now
from app.http.console.core import (
    LIST_LIMIT,
    Reply,
    _below,
    _page,
    _render,
    _require_write,
    _signed_in,
    _validated,
    _writable_tenant,
    console,
)
from app.http.schemas.ruleset_versions import PublishSchema
from app.services import (
    decision_log,
    rulesets,
)
from pricing import catalog as domain
from pricing.errors import (
    InvalidInput,
)
from rules.documents import load_document
from rules.language import RulesetInvalid
from storage.accounts import SignedIn


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
@_below("rules")
def rules_action(signed_in: SignedIn, tenant: domain.Tenant) -> Reply:
    """validate (anyone), simulate, backtest, publish (now) and schedule (published now, active
    at the form's ``activates_at``) (admins): the editor's document through the same ruleset use
    cases as the JSON API; the page shows the result."""
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
            published = _publish(signed_in, tenant, document, None)
            return redirect(f"/admin/rules?published={published}", 303)
        elif action == "schedule":
            published = _publish(signed_in, tenant, document, _activates_at())
            return redirect(f"/admin/rules?scheduled={published}#schedule-title", 303)
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


def _activates_at() -> str:
    """The form's ``activates_at`` (a ``datetime-local`` value, read as UTC; an offset may be
    given) as the ISO instant ``PublishSchema`` reads, or a problem at ``/activates_at``."""
    text = request.form.get("activates_at", "").strip()
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(
            "Choose when the version becomes active.",
            code="validation_error",
            details=[{"path": "/activates_at", "message": "A date and time (UTC) is required."}],
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.isoformat()


def _publish(
    signed_in: SignedIn, tenant: domain.Tenant, document: Any, activates_at: str | None
) -> int:
    """Publish as the API does it (a draft, then its publish: validated and its examples run),
    active now or at ``activates_at`` (read by the API's ``PublishSchema``: a publish for later
    cancels nothing; the service refuses a moment in the past)."""
    svc = services()
    author = f"{g.principal.role}:{g.principal.subject}"
    data = _validated(
        PublishSchema(),
        {
            "note": request.form.get("note", "") or "published from the console",
            "activates_at": activates_at,
        },
    )
    draft = rulesets.create_draft(svc.db, tenant, author, "console", document, None)
    try:
        published = rulesets.publish_draft(
            svc.db, svc.rules, tenant, draft.id, author, data["note"], data["activates_at"], _now()
        )
    finally:
        rulesets.delete_draft(svc.db, tenant, draft.id)
    return published.version.number


# ---- bookings and users -----------------------------------------------------------------------


@console.post("/rules/versions/<int:number>/activate")
def activate_version(number: int) -> Reply:
    """Activate a published version now: ``rollback`` when older than the one in force."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    svc = services()
    author = f"{g.principal.role}:{g.principal.subject}"
    rulesets.activate_version(svc.db, svc.rules, tenant, number, author, _now())
    return redirect(f"/admin/rules?activated={number}", 303)


@console.post("/rules/schedule/<int:sequence>/cancel")
def cancel_activation(sequence: int) -> Reply:
    """Cancel a pending activation, as ``DELETE /v1/admin/rulesets/schedule/{sequence}`` does."""
    signed_in = _signed_in()
    tenant = _writable_tenant(signed_in)
    svc = services()
    author = f"{g.principal.role}:{g.principal.subject}"
    rulesets.cancel_activation(svc.db, svc.rules, tenant, sequence, author, _now())
    return redirect(f"/admin/rules?cancelled={sequence}", 303)
