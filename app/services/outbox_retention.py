"""Outbox retention (``tierwise sweep``): events delivered everywhere they were going, older
than ``OUTBOX_RETENTION_DAYS``, are removed (storage/outbox_retention.py says which)."""

from __future__ import annotations

import datetime as dt

from storage import outbox_retention as store
from storage.db import Database

#: Events removed per transaction: short transactions, no long lock on a large outbox.
BATCH = 1000


def purge_delivered(db: Database, now: dt.datetime, retention_days: int) -> int:
    """Remove the done events older than ``retention_days`` (and their deliveries, attempts and
    emails), a batch per transaction; how many events."""
    before = now - dt.timedelta(days=retention_days)
    removed = 0
    while True:
        with db.transaction() as session:
            done = store.purge_delivered(session, before, BATCH)
        removed += done
        if done < BATCH:
            return removed
