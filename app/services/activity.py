"""Storefront events and decision look-ups."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.adapters import decision_spool
from app.services.events_out import emit_storefront_events
from pricing import catalog as domain
from pricing.errors import InvalidInput, NotFound
from pricing.price import recorded_price_json
from rules.outcome import RuleIndex
from rules.parsing import parse_ruleset
from rules.vocabulary import complete_facts
from storage.catalog import CatalogRepository
from storage.db import Database
from storage.decision_text import as_dict
from storage.decisions import get_decision
from storage.events import add_events, known_client_ids
from storage.rulesets import RulesetRepository


def record_events(
    db: Database,
    tenant: domain.Tenant,
    events: list[dict[str, Any]],
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """Store a batch of storefront events, or none of it: 422 ``validation_error`` locating every
    event whose segment or tier the tenant's catalog does not have (archived ones count: an event
    may arrive after what it is about was archived), or whose tier is not of its segment. A
    segment may be named by key or id; its key is stored. Events stored for the first time go
    to the outbox (segment.selected, upsell.*) in the same transaction."""
    with db.transaction() as session:
        segment_keys, tier_segments = _catalog_refs(CatalogRepository(session, tenant), events)
        rows = [
            {
                "client_event_id": e["client_event_id"],
                "type": e["type"],
                "visitor_id": e["visitor_id"],
                "segment_key": segment_keys.get(e["segment"], ""),
                "tier_id": e["tier_id"] and tier_segments[e["tier_id"]][0],
                "experiment": e["experiment"],
                "variant": e["variant"],
                "properties": e["properties"],
                "occurred_at": e["occurred_at"],
            }
            for e in events
        ]
        known = known_client_ids(session, tenant.id, [r["client_event_id"] for r in rows])
        stored = add_events(session, tenant.id, rows)
        fresh = {r["client_event_id"]: r for r in rows if r["client_event_id"] not in known}
        emit_storefront_events(
            session, tenant.id, list(fresh.values()), now or dt.datetime.now(dt.UTC)
        )
    return {"received": len(events), "stored": stored}


def _catalog_refs(
    catalog: CatalogRepository, events: list[dict[str, Any]]
) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    """Each segment reference of the batch -> its key, each tier id -> (its id, its segment's
    key); InvalidInput listing every reference the catalog lacks."""
    segments: dict[str, domain.Segment | None] = {}
    tiers: dict[str, tuple[str, str] | None] = {}
    for ref in {e["segment"] for e in events if e["segment"]}:
        try:
            segments[ref] = catalog.find_segment(ref)
        except NotFound:
            segments[ref] = None
    for ref in {e["tier_id"] for e in events if e["tier_id"]}:
        try:
            found = catalog.tier(ref)
        except NotFound:
            tiers[ref] = None
            continue
        tiers[ref] = (found.id, catalog.segment(found.segment_id).key)
    problems = []
    for i, e in enumerate(events):
        segment, tier = segments.get(e["segment"]), tiers.get(e["tier_id"])
        if e["segment"] and segment is None:
            problems.append((i, "segment", "No segment of this tenant has this key."))
        if e["tier_id"] and tier is None:
            problems.append((i, "tier_id", "No tier of this tenant has this id."))
        elif tier is not None and segment is not None and tier[1] != segment.key:
            problems.append((i, "tier_id", "The tier is not of the event's segment."))
    if problems:
        raise InvalidInput(
            "The request did not validate.",
            code="validation_error",
            details=[
                {"field": f"events/{i}/{field}", "message": message}
                for i, field, message in problems
            ],
        )
    keys = {ref: segment.key for ref, segment in segments.items() if segment is not None}
    return keys, {ref: tier for ref, tier in tiers.items() if tier is not None}


def decision(db: Database, tenant: domain.Tenant, decision_id: str) -> dict[str, Any]:
    """A decision with every rule considered explained: kind, priority, matched, fired, and why
    it did not match — recomputed from the stored facts against the stored ruleset version (the
    reference evaluator gives the engine's answers: see the differential tests)."""
    decision_spool.flush_all()  # this process's browsed offers' records first
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
        considered.append(
            {
                "rule_id": rule_id,
                "kind": rule.kind,
                "priority": rule.priority,
                "matched": matched,
                "fired": fired,
                "why_not": None if matched else explain[rule_id](facts),
            }
        )
    price = recorded_price_json(record.context.get("price"))
    return {**as_dict(record), "considered": considered, "price": price}
