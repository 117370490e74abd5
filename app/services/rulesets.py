"""Ruleset lifecycle use cases: drafts, validate, test, simulate, publish, activate (and roll back),
the activation schedule, versions, diff."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app.adapters.rules_runtime import RulesRuntime
from app.services import events_out
from pricing import catalog as domain
from pricing.errors import InvalidInput
from rules.checks import analyse, unknown_experiment_values
from rules.defaults import DEFAULT_RULESET
from rules.documents import canonical_json, content_hash
from rules.engine import compile_program, evaluate
from rules.language import KINDS, Ruleset, RulesetInvalid
from rules.outcome import Outcome
from rules.parsing import parse_facts, parse_ruleset
from rules.plan import cost_errors
from rules.verify import Verification, verify_in_subprocess
from storage.db import Database
from storage.experiments import ExperimentRepository
from storage.repository import Page
from storage.rulesets import Activation, Draft, RulesetRepository, Version, active_at

Verifier = Callable[[Any], Verification]


def parse_or_422(document: Any) -> Ruleset:
    """The ruleset, or 422 ``ruleset_invalid`` locating every error, the engine's cost limits
    included (rules/plan.py: a rule or ruleset the engine would pay too much for)."""
    try:
        ruleset = parse_ruleset(document)
    except RulesetInvalid as error:
        raise InvalidInput(
            "The ruleset is not valid.", code="ruleset_invalid", details=error.errors
        ) from None
    errors = cost_errors(ruleset)
    if errors:
        raise InvalidInput("The ruleset is not valid.", code="ruleset_invalid", details=errors)
    return ruleset


def checked_document(session: Session, tenant_id: str, document: Any) -> tuple[Any, Ruleset]:
    """The one validation path of a ruleset document, for validate, draft create and update,
    and publish alike: the document as stored (plain JSON) and its parsed ruleset, or 422 —
    ``ruleset_invalid`` with every error located, else ``unknown_variant``."""
    document = _json_safe(document)
    ruleset = parse_or_422(document)
    check_experiment_refs(session, tenant_id, ruleset)
    return document, ruleset


def check_experiment_refs(session: Session, tenant_id: str, ruleset: Ruleset) -> None:
    """422 ``unknown_variant`` if a rule conditions on an experiment or variant the tenant lacks."""
    errors = unknown_experiment_values(
        ruleset, ExperimentRepository(session, tenant_id).variant_keys()
    )
    if errors:
        raise InvalidInput(
            "The ruleset names experiments or variants that do not exist.",
            code="unknown_variant",
            details=errors,
        )


def _json_safe(document: Any) -> Any:
    """The document as stored: plain JSON (YAML dates and the like become strings)."""
    import json

    return json.loads(canonical_json(document))


# ---- drafts -------------------------------------------------------------------------------------


def list_drafts(db: Database, tenant: domain.Tenant, offset: int, limit: int) -> Page[Draft]:
    with db.transaction() as s:
        return RulesetRepository(s, tenant.id).list_drafts(offset, limit)


def get_draft(db: Database, tenant: domain.Tenant, draft_id: str) -> Draft:
    with db.transaction() as s:
        return RulesetRepository(s, tenant.id).draft(draft_id)


def create_draft(
    db: Database,
    tenant: domain.Tenant,
    author: str,
    name: str,
    document: Any | None,
    from_version: int | None,
) -> Draft:
    """A new draft from a document, or a copy of a published version (default: the newest)."""
    with db.transaction() as s:
        repo = RulesetRepository(s, tenant.id)
        if document is None:
            number = from_version or repo.next_version_number() - 1
            document = repo.version(number).document
            from_version = number
        else:
            document, _ = checked_document(s, tenant.id, document)
        return repo.create_draft(
            name=name, document=document, based_on_version=from_version, created_by=author
        )


def update_draft(
    db: Database,
    tenant: domain.Tenant,
    draft_id: str,
    expected_version: int,
    changes: dict[str, Any],
) -> Draft:
    with db.transaction() as s:
        if "document" in changes:
            changes["document"], _ = checked_document(s, tenant.id, changes["document"])
        return RulesetRepository(s, tenant.id).update_draft(draft_id, expected_version, changes)


def delete_draft(db: Database, tenant: domain.Tenant, draft_id: str) -> None:
    with db.transaction() as s:
        RulesetRepository(s, tenant.id).delete_draft(draft_id)


def validate_document(db: Database, tenant: domain.Tenant, document: Any) -> dict[str, Any]:
    """422 as draft create would answer it (``checked_document``), else the warnings."""
    with db.read() as s:
        _, ruleset = checked_document(s, tenant.id, document)
    warnings = analyse(ruleset)
    return {
        "valid": True,
        "rule_count": len(ruleset.rules),
        "warnings": [{"code": w.code, "path": w.path, "message": w.message} for w in warnings],
    }


def validate_draft(db: Database, tenant: domain.Tenant, draft_id: str) -> dict[str, Any]:
    return validate_document(db, tenant, get_draft(db, tenant, draft_id).document)


def test_draft(
    db: Database, tenant: domain.Tenant, draft_id: str, verifier: Verifier = verify_in_subprocess
) -> dict[str, Any]:
    """Compile with the serving engine and run the draft's example cases, in a separate process."""
    result = verifier(get_draft(db, tenant, draft_id).document)
    return {"passed": result.ok, "errors": result.errors, "cases": result.cases}


def facts_or_422(raw: Any, field: str) -> dict[str, Any]:
    """The facts of the request's ``field``, or 422 ``invalid_facts`` locating each problem."""
    try:
        return parse_facts(raw, f"/{field}")
    except RulesetInvalid as error:
        problems = [{"field": e["path"].lstrip("/"), "message": e["message"]} for e in error.errors]
        raise InvalidInput(
            "The facts are not valid.", code="invalid_facts", details=problems
        ) from None


def _explain(outcome: Outcome) -> dict[str, Any]:
    return {
        "decisions": outcome.decisions,
        "fired": list(outcome.fired),
        "considered": outcome.considered_records(),
    }


def simulate(
    db: Database,
    runtime: RulesRuntime,
    tenant: domain.Tenant,
    draft_id: str,
    fact_sets: list[Mapping[str, Any]],
    kinds: list[str] | None,
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """Draft (reference evaluator, a dry run) and active version side by side, explained."""
    draft = parse_or_422(get_draft(db, tenant, draft_id).document)
    program = compile_program(draft, engine="reference", name="simulation")
    wanted = kinds or list(KINDS)
    results = []
    parsed = [facts_or_422(raw, f"facts/{i}") for i, raw in enumerate(fact_sets)]
    for raw, facts in zip(fact_sets, parsed, strict=True):
        draft_outcome = evaluate(program, facts, wanted)
        active, active_outcome = runtime.evaluate(tenant.id, facts, now, wanted)
        results.append(
            {
                "facts": dict(raw),
                "draft": _explain(draft_outcome),
                "active": {"version": active.version, **_explain(active_outcome)},
                "changed": sorted(
                    k for k in wanted if draft_outcome.decisions[k] != active_outcome.decisions[k]
                ),
            }
        )
    return results


# ---- versions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activated:
    """A new activation and the pending activations it superseded (cancelled)."""

    activation: Activation
    cancelled: list[Activation]


@dataclass(frozen=True)
class Published:
    """A new version, its activation and the pending activations that activation superseded."""

    version: Version
    activation: Activation
    cancelled: list[Activation]


def _activate(
    repo: RulesetRepository,
    *,
    version_number: int,
    action: str,
    activates_at: dt.datetime,
    author: str,
    now: dt.datetime,
    keep_schedule: bool,
) -> tuple[Activation, list[Activation]]:
    """Append the activation; one that takes effect now supersedes the schedule unless the
    caller keeps it (``RulesetRepository.supersede`` says precisely what is cancelled)."""
    activation = repo.activate(
        version_number=version_number,
        action=action,
        activates_at=activates_at,
        created_by=author,
    )
    cancelled = [] if keep_schedule else repo.supersede(activation, now=now, by=author)
    return activation, cancelled


def publish_document(
    db: Database,
    runtime: RulesRuntime | None,
    tenant_id: str,
    document: Any,
    author: str,
    note: str = "",
    activates_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
    *,
    keep_schedule: bool = False,
) -> Published:
    """Store an immutable version and schedule its activation (now by default) in one transaction.

    Published for now, it cancels every pending activation unless ``keep_schedule``; published
    for later, it leaves the schedule as it is."""
    now = now or dt.datetime.now(dt.UTC)
    with db.transaction() as s:
        repo = RulesetRepository(s, tenant_id)
        repo.lock_tenant()
        version = repo.add_version(
            document=document, content_hash=content_hash(document), author=author, note=note
        )
        activation, cancelled = _activate(
            repo,
            version_number=version.number,
            action="publish",
            activates_at=activates_at or now,
            author=author,
            now=now,
            keep_schedule=keep_schedule,
        )
        events_out.emit(
            s,
            tenant_id,
            "ruleset.published",
            {
                "version": version.number,
                "content_hash": version.content_hash,
                "author": author,
                "note": note,
                "activates_at": (activates_at or now).isoformat(),
            },
            now,
        )
    if runtime is not None:
        runtime.announce(tenant_id)
    return Published(version, activation, cancelled)


def publish_draft(
    db: Database,
    runtime: RulesRuntime,
    tenant: domain.Tenant,
    draft_id: str,
    author: str,
    note: str,
    activates_at: dt.datetime | None,
    now: dt.datetime,
    verifier: Verifier = verify_in_subprocess,
    *,
    keep_schedule: bool = False,
) -> Published:
    if activates_at is not None and activates_at < now - dt.timedelta(minutes=1):
        raise InvalidInput(
            "activates_at is in the past.",
            code="activation_in_past",
            details=[{"field": "activates_at", "message": "Must be now or later."}],
        )
    draft = get_draft(db, tenant, draft_id)
    with db.read() as s:
        checked_document(s, tenant.id, draft.document)
    result = verifier(draft.document)
    if not result.ok:
        failed = [
            {"path": f"/tests/{i}", "message": f"{c['name']}: " + "; ".join(c["mismatches"])}
            for i, c in enumerate(result.cases)
            if not c["passed"]
        ]
        raise InvalidInput(
            "The ruleset failed its checks and was not published.",
            code="ruleset_tests_failed" if failed else "ruleset_engine_failed",
            details=failed or result.errors,
        )
    return publish_document(
        db,
        runtime,
        tenant.id,
        draft.document,
        author,
        note,
        activates_at,
        now,
        keep_schedule=keep_schedule,
    )


def publish_default(db: Database, tenant_id: str) -> Version:
    """Version 1 of every new tenant: the default ruleset, active at once."""
    return publish_document(
        db,
        None,
        tenant_id,
        _json_safe(DEFAULT_RULESET),
        "system",
        "default ruleset",
        dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
    ).version


def activate_version(
    db: Database,
    runtime: RulesRuntime,
    tenant: domain.Tenant,
    number: int,
    author: str,
    now: dt.datetime,
    *,
    keep_schedule: bool = False,
) -> Activated:
    """Make a published version active now (a new activation row; history is kept), labelled
    ``activate`` if it is at least as new as the version in force and ``rollback`` if older
    (re-activating the version in force is ``activate``: nothing goes back). It supersedes the
    pending activations unless ``keep_schedule``."""
    with db.transaction() as s:
        repo = RulesetRepository(s, tenant.id)
        repo.lock_tenant()
        in_force = active_at(repo.activations(), now)
        older = in_force is not None and number < in_force.version_number
        activation, cancelled = _activate(
            repo,
            version_number=number,
            action="rollback" if older else "activate",
            activates_at=now,
            author=author,
            now=now,
            keep_schedule=keep_schedule,
        )
    runtime.announce(tenant.id)
    return Activated(activation, cancelled)


def list_schedule(
    db: Database, tenant: domain.Tenant, now: dt.datetime, offset: int, limit: int
) -> Page[Activation]:
    """The pending activations: scheduled after ``now``, not cancelled, in the order they take
    effect."""
    with db.transaction() as s:
        return RulesetRepository(s, tenant.id).pending(now, offset, limit)


def cancel_activation(
    db: Database,
    runtime: RulesRuntime,
    tenant: domain.Tenant,
    sequence: int,
    author: str,
    now: dt.datetime,
) -> Activation:
    """Cancel a pending activation; every serving worker learns it as it learns a publish."""
    with db.transaction() as s:
        repo = RulesetRepository(s, tenant.id)
        repo.lock_tenant()
        cancelled = repo.cancel(sequence, now=now, by=author)
    runtime.announce(tenant.id)
    return cancelled


def list_versions(db: Database, tenant: domain.Tenant, offset: int, limit: int) -> Page[Version]:
    with db.transaction() as s:
        return RulesetRepository(s, tenant.id).list_versions(offset, limit)


def get_version(db: Database, tenant: domain.Tenant, number: int) -> Version:
    with db.transaction() as s:
        return RulesetRepository(s, tenant.id).version(number)


def activation_state(db: Database, tenant: domain.Tenant, now: dt.datetime) -> dict[str, Any]:
    with db.transaction() as s:
        activations = RulesetRepository(s, tenant.id).activations()
    current = active_at(activations, now)
    return {
        "active_version": current.version_number if current else None,
        "scheduled": [a for a in activations if a.pending_at(now)],
        "history": list(reversed(activations)),
    }


def _changed_fields(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))


def diff_versions(db: Database, tenant: domain.Tenant, old: int, new: int) -> dict[str, Any]:
    """Rule-by-rule difference between two versions (by rule id)."""
    with db.transaction() as s:
        repo = RulesetRepository(s, tenant.id)
        before, after = repo.version(old).document, repo.version(new).document
    old_rules = {r["id"]: r for r in before["rules"]}
    new_rules = {r["id"]: r for r in after["rules"]}
    settings = {
        key: {"before": before.get(key), "after": after.get(key)}
        for key in ("stacking", "guardrails")
        if before.get(key) != after.get(key)
    }
    return {
        "from": old,
        "to": new,
        "added": [new_rules[i] for i in new_rules if i not in old_rules],
        "removed": [old_rules[i] for i in old_rules if i not in new_rules],
        "changed": [
            {
                "id": i,
                "before": old_rules[i],
                "after": new_rules[i],
                "fields": _changed_fields(old_rules[i], new_rules[i]),
            }
            for i in old_rules
            if i in new_rules and old_rules[i] != new_rules[i]
        ],
        "settings": settings,
    }


def evaluate_active(
    runtime: RulesRuntime,
    tenant: domain.Tenant,
    facts: Mapping[str, Any],
    kinds: list[str] | None,
    at: dt.datetime,
) -> dict[str, Any]:
    active, outcome = runtime.evaluate(
        tenant.id, facts_or_422(facts, "facts"), at, kinds or list(KINDS)
    )
    return {"version": active.version, "content_hash": active.content_hash, **_explain(outcome)}
