"""``Idempotency-Key`` for our POSTs, like Stripe's. The promise:

* one key never does the work twice: it yields at most one booking or payment session;
* same key, same body → the first response is replayed exactly (status and body, an error's too)
  for 24 h, marked ``Idempotent-Replayed``;
* same key, another body → 422 ``idempotency_key_reused``;
* while a request with the key runs, others get 409 ``request_in_progress`` with ``Retry-After``.
  The running request holds the key under a lease (``LEASE``) it renews as it goes; a record whose
  lease lapsed (its owner died) is taken over by exactly one retry (the claim reads the record
  under a row lock and renews the lease before the next claimer sees it), which resumes the same
  work through the resource the first attempt created (``resource_id``), so nothing is done twice;
* a request that failed in a retryable way (5xx) leaves the key open for a retry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any

from app.http.errors import error_body, status_of
from pricing.errors import Conflict, DomainError, InvalidInput
from storage import idempotency as store
from storage.db import Database, as_utc

REPLAY_FOR = dt.timedelta(hours=24)
#: How long a running request owns its key without renewing: longer than any one step of the
#: work (a provider call: 10 s timeout, 2 retries).
LEASE = dt.timedelta(seconds=60)

#: ``note_resource(session, id)``: records what the work created (see ``run_once``).
NoteResource = Callable[[Any, str], None]
Work = Callable[[str | None, NoteResource], tuple[int, dict[str, Any]]]


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def _holds_lease(record: store.IdempotencyRow, now: dt.datetime) -> bool:
    """Is the record's owner still at work? Records from before leases: 60 s from creation."""
    until = record.lease_expires_at or as_utc(record.created_at) + LEASE
    return record.state == "running" and now < until


def run_once(
    db: Database, tenant_id: str, key: str, request_fingerprint: str, now: dt.datetime, work: Work
) -> tuple[int, dict[str, Any], bool]:
    """(status, body, replayed). ``work(resume_id, note_resource)`` does the request;
    ``note_resource(session, id)`` records what it created, in that creation's transaction, and
    renews the lease."""
    owner = str(uuid.uuid4())
    with db.transaction() as session:
        existing = store.claim_key(session, tenant_id, key, request_fingerprint, owner, now + LEASE)
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
            if _holds_lease(existing, now):
                raise Conflict(
                    "A request with this Idempotency-Key is in progress.",
                    code="request_in_progress",
                )
            store.update_key(
                session, tenant_id, key, state="running", owner=owner, lease_expires_at=now + LEASE
            )
            resume = existing.resource_id

    def note_resource(session: Any, resource_id: str) -> None:
        lease = dt.datetime.now(dt.UTC) + LEASE
        store.update_key(
            session, tenant_id, key, held_by=owner, resource_id=resource_id, lease_expires_at=lease
        )

    def settle(**changes: Any) -> None:
        with db.transaction() as session:
            store.update_key(session, tenant_id, key, held_by=owner, **changes)

    try:
        status, body = work(resume, note_resource)
    except DomainError as error:
        status = status_of(error)
        if status >= 500:  # retryable: keep the key open for a retry
            settle(state="retry", lease_expires_at=None)
        else:
            settle(state="done", response_status=status, response_body=error_body(error))
        raise
    except BaseException:
        settle(state="retry", lease_expires_at=None)
        raise
    settle(state="done", response_status=status, response_body=body, lease_expires_at=None)
    return status, body, False
