"""Storefront events and decision look-ups."""

from __future__ import annotations

from typing import Any

from pricing import catalog as domain
from storage.db import Database
from storage.decisions import DecisionRecord, get_decision
from storage.events import add_events


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


def decision(db: Database, tenant: domain.Tenant, decision_id: str) -> DecisionRecord:
    with db.transaction() as session:
        return get_decision(session, tenant.id, decision_id)
