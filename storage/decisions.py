"""Decision records: one row per rules evaluation, written in the transaction it served."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from pricing.errors import NotFound
from storage import models as m
from storage.catalog import as_uuid


@dataclass(frozen=True)
class DecisionRecord:
    id: str
    tenant_id: str
    purpose: str
    kinds: list[str]
    ruleset_version: int
    ruleset_hash: str
    engine: str
    facts: dict[str, Any]
    considered: list[dict[str, Any]]
    fired: list[str]
    outputs: dict[str, Any]
    context: dict[str, Any]
    request_id: str
    quote_id: str | None
    booking_id: str | None
    created_at: dt.datetime


def add_decisions(session: Session, records: list[DecisionRecord]) -> None:
    if not records:
        return
    # Core executemany (psycopg pipelines it): no ORM bookkeeping for an append-only log.
    session.execute(
        insert(m.Decision.__table__),
        [
            {
                "tenant_id": uuid.UUID(r.tenant_id), "id": uuid.UUID(r.id), "purpose": r.purpose,
                "kinds": r.kinds, "ruleset_version": r.ruleset_version, "ruleset_hash": r.ruleset_hash,
                "engine": r.engine, "facts": r.facts, "considered": r.considered, "fired": r.fired,
                "outputs": r.outputs, "context": r.context, "request_id": r.request_id,
                "quote_id": r.quote_id, "booking_id": uuid.UUID(r.booking_id) if r.booking_id else None,
                "created_at": r.created_at,
            }
            for r in records
        ],
    )  # fmt: skip


def get_decision(session: Session, tenant_id: str, decision_id: str) -> DecisionRecord:
    key = as_uuid(decision_id)
    row = session.get(m.Decision, (uuid.UUID(tenant_id), key)) if key else None
    if row is None:
        raise NotFound("decision not found.", code="decision_not_found")
    return DecisionRecord(
        str(row.id), str(row.tenant_id), row.purpose, row.kinds, row.ruleset_version, row.ruleset_hash,
        row.engine, row.facts, row.considered, row.fired, row.outputs, row.context, row.request_id,
        row.quote_id, str(row.booking_id) if row.booking_id else None, row.created_at,
    )  # fmt: skip
