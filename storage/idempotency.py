"""The idempotency store: ``Idempotency-Key`` records of a tenant's POSTs (the promise they keep is
``app/http/idempotency.py``'s)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import update
from sqlalchemy.orm import Session

from storage import models as m
from storage.db import as_utc, insert_new, rows_written


@dataclass(frozen=True)
class IdempotencyRow:
    fingerprint: str
    state: str
    resource_id: str | None
    response_status: int | None
    response_body: dict[str, Any] | None
    created_at: dt.datetime
    owner: str | None
    lease_expires_at: dt.datetime | None


def claim_key(
    session: Session, tenant_id: str, key: str, fingerprint: str, owner: str, lease: dt.datetime
) -> IdempotencyRow | None:
    """Insert a running record owned by ``owner`` until ``lease``; None if we own it now, else the
    existing record, locked until the transaction ends (concurrent claims queue behind it and
    see what the first one made of it)."""
    record = {
        "tenant_id": uuid.UUID(tenant_id),
        "key": key,
        "fingerprint": fingerprint,
        "state": "running",
        "owner": owner,
        "lease_expires_at": lease,
    }
    if insert_new(session, m.IdempotencyRecord, record, ["tenant_id", "key"]) == 1:
        return None
    row = session.get(
        m.IdempotencyRecord,
        (uuid.UUID(tenant_id), key),
        with_for_update=True,
        populate_existing=True,
    )
    assert row is not None
    return IdempotencyRow(
        row.fingerprint,
        row.state,
        row.resource_id,
        row.response_status,
        row.response_body,
        as_utc(row.created_at),
        row.owner,
        as_utc(row.lease_expires_at) if row.lease_expires_at else None,
    )


def update_key(
    session: Session, tenant_id: str, key: str, held_by: str | None = None, **changes: Any
) -> bool:
    """Change a record (only while ``held_by`` owns it, if given); False if it did not."""
    statement = update(m.IdempotencyRecord).where(
        m.IdempotencyRecord.tenant_id == uuid.UUID(tenant_id), m.IdempotencyRecord.key == key
    )
    if held_by is not None:
        statement = statement.where(m.IdempotencyRecord.owner == held_by)
    result = session.execute(
        statement.values(updated_at=m.utcnow(), **changes).execution_options(preserve_rowcount=True)
    )
    return rows_written(result) != 0
