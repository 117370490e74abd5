"""``Idempotency-Key`` for our POSTs, like Stripe's:

* same key, same body → the first response is replayed (for 24 h), marked ``Idempotent-Replayed``;
* same key, another body → 422 ``idempotency_key_reused``;
* concurrent duplicates → the record is claimed by one insert; the others get 409
  ``request_in_progress`` with ``Retry-After``;
* a request that failed in a retryable way (503) leaves the key open; a retry, or a retry after a
  crash (a record still ``running`` after ``STALE_AFTER``), resumes the same work through the
  resource it already created (``resource_id``), so nothing is done twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

from app.errors import status_of
from pricing.errors import Conflict, DomainError, InvalidInput
from storage import checkout as store
from storage.db import Database, as_utc

REPLAY_FOR = dt.timedelta(hours=24)
STALE_AFTER = dt.timedelta(seconds=60)

Work = Callable[[str | None, Callable[[Any, str], None]], tuple[int, dict[str, Any]]]


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def run_once(
    db: Database, tenant_id: str, key: str, request_fingerprint: str, now: dt.datetime, work: Work
) -> tuple[int, dict[str, Any], bool]:
    """(status, body, replayed). ``work(resume_id, note_resource)`` does the request;
    ``note_resource(session, id)`` records what it created, in that creation's transaction."""
    with db.transaction() as session:
        existing = store.claim_key(session, tenant_id, key, request_fingerprint)
        resume = None
        if existing is not None:
            if existing.fingerprint != request_fingerprint:
                raise InvalidInput(
                    "This Idempotency-Key was used with another request.",
                    code="idempotency_key_reused",
                )
            fresh = now - as_utc(existing.created_at) < REPLAY_FOR
            if existing.state == "done" and fresh and existing.response_status:
                return existing.response_status, existing.response_body or {}, True
            if existing.state == "running" and now - as_utc(existing.created_at) < STALE_AFTER:
                raise Conflict(
                    "A request with this Idempotency-Key is in progress.",
                    code="request_in_progress",
                )
            store.update_key(session, tenant_id, key, state="running")
            resume = existing.resource_id

    def note_resource(session: Any, resource_id: str) -> None:
        store.update_key(session, tenant_id, key, resource_id=resource_id)

    try:
        status, body = work(resume, note_resource)
    except DomainError as error:
        status = status_of(error)
        with db.transaction() as session:
            if status >= 500:  # retryable: keep the key open for a retry
                store.update_key(session, tenant_id, key, state="retry")
            else:
                body = {"error": {"code": error.code, "message": error.message}}
                store.update_key(
                    session,
                    tenant_id,
                    key,
                    state="done",
                    response_status=status,
                    response_body=body,
                )
        raise
    except BaseException:
        with db.transaction() as session:
            store.update_key(session, tenant_id, key, state="retry")
        raise
    with db.transaction() as session:
        store.update_key(
            session, tenant_id, key, state="done", response_status=status, response_body=body
        )
    return status, body, False
