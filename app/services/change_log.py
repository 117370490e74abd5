"""The change log (who changed which configuration, when, before and after): search and export.
Changes are recorded by ``storage.change_log`` in the transaction of each change."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Iterator
from typing import Any

from pricing.errors import InvalidInput
from storage import change_log as store
from storage.db import Database, json_dumps
from storage.repository import Page

MAX_EXPORT_DAYS = 31
EXPORT_BATCH = 500


def change_query(tenant_id: str | None, args: dict[str, Any]) -> store.ChangeQuery:
    """Query arguments -> filters; ``tenant_id`` None: every tenant, or ``args["tenant_id"]``."""
    tenant = tenant_id or args.get("tenant_id")
    return store.ChangeQuery(
        tenant_id=uuid.UUID(str(tenant)) if tenant else None,
        entity_type=args.get("entity_type"),
        entity_id=args.get("entity_id"),
        action=args.get("action"),
        actor=args.get("actor"),
        request_id=args.get("request_id"),
        start=args.get("from"),
        end=args.get("to"),
    )


def _invalid(message: str, detail: str) -> InvalidInput:
    return InvalidInput(
        message, code="validation_error", details=[{"field": "to", "message": detail}]
    )


def view(change: store.Change) -> dict[str, Any]:
    return dataclasses.asdict(change)


def search(db: Database, query: store.ChangeQuery, offset: int, limit: int) -> Page[dict[str, Any]]:
    """Matching changes, newest first (422 when ``to`` is not after ``from``)."""
    if query.start and query.end and query.end <= query.start:
        raise _invalid("'to' must be after 'from'.", "Must be after from.")
    with db.read() as session:
        changes, total = store.search(session, query, offset, limit)
    return Page([view(c) for c in changes], total)


def export(db: Database, query: store.ChangeQuery) -> Iterator[str]:
    """NDJSON lines of every matching change, oldest first. The range is checked before the first
    line (422: ``from`` and ``to`` required, ``to`` after ``from``, at most 31 days); rows are read
    in batches, each in its own short read."""
    if query.start is None or query.end is None or query.end <= query.start:
        raise _invalid("An export needs from < to.", "Give from and to, to after from.")
    if query.end - query.start > dt.timedelta(days=MAX_EXPORT_DAYS):
        raise _invalid(
            f"An export spans at most {MAX_EXPORT_DAYS} days.",
            f"At most {MAX_EXPORT_DAYS} days after from.",
        )

    def lines() -> Iterator[str]:
        last = None
        while True:
            with db.read() as session:
                batch = store.batch_after(session, query, last, EXPORT_BATCH)
            for change in batch:
                yield json_dumps(view(change)) + "\n"
            if len(batch) < EXPORT_BATCH:
                return
            last = batch[-1]

    return lines()
