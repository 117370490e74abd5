"""Storefront events and decision look-ups."""

from __future__ import annotations

import dataclasses
from typing import Any

from app.services.offers import recorded_price_view
from pricing import catalog as domain
from rules.language import parse_ruleset
from rules.outcome import RuleIndex
from rules.vocabulary import complete_facts
from storage.db import Database
from storage.decisions import get_decision
from storage.events import add_events
from storage.rulesets import RulesetRepository


def record_events(
    db: Database, tenant: domain.Tenant, events: list[dict[str, Any]]
) -> dict[str, int]:
    rows = [
        {
            "client_event_id": e["client_event_id"], "type": e["type"], "visitor_id": e["visitor_id"],
            "segment_key": e["segment"], "tier_id": e["tier_id"], "experiment": e["experiment"],
            "variant": e["variant"], "properties": e["properties"], "occurred_at": e["occurred_at"],
        }
        for e in events
    ]  # fmt: skip
    with db.transaction() as session:
        stored = add_events(session, tenant.id, rows)
    return {"received": len(events), "stored": stored}


def decision(db: Database, tenant: domain.Tenant, decision_id: str) -> dict[str, Any]:
    """A decision with every rule considered explained: kind, priority, matched, fired, and why
    it did not match — recomputed from the stored facts against the stored ruleset version (the
    reference evaluator gives the engine's answers: see the differential tests)."""
    with db.read() as session:
        record = get_decision(session, tenant.id, decision_id)
        version = RulesetRepository(session, tenant.id).version(record.ruleset_version)
    ruleset = parse_ruleset(version.document)
    rules = {rule.id: rule for rule in ruleset.rules}
    explain = RuleIndex(ruleset).explain
    facts = complete_facts(record.facts)
    considered = []
    for rule_id, matched, fired in record.considered:
        rule = rules[rule_id]
        considered.append({
            "rule_id": rule_id, "kind": rule.kind, "priority": rule.priority, "matched": matched,
            "fired": fired, "why_not": None if matched else explain[rule_id](facts),
        })  # fmt: skip
    price = recorded_price_view(record.context.get("price"))
    return {**dataclasses.asdict(record), "considered": considered, "price": price}
