"""The decision log's monthly partitions (PostgreSQL; SQLite keeps one plain table).

``decisions`` is partitioned by range of ``created_at`` (migration 0020): ``decisions_yYYYYmMM``
holds the calendar month (UTC) ``[YYYY-MM-01, next month's first)``, and ``decisions_default``
catches a row no month holds, so that an append never fails for want of a partition.

* ``ensure_months`` creates the current month and ``AHEAD_MONTHS`` after it where missing (run
  by ``tierwise migrate``, ``tierwise sweep`` and ``tierwise partitions``). A month is built as a
  table of its own, the default partition's rows of that month moved into it, then attached: the
  default partition is locked meanwhile (appends of other months go on), the parent is not.
* ``drop_month`` removes a month whose every record lies past its tenant's retention: for each
  tenant in it, the chain's purge point moves to the month's last link (a few links the month
  shares with the next one, appended around midnight out of ``created_at`` order, are deleted
  with it, so that what remains is still one unbroken chain), and the partition is dropped:
  no row-by-row delete, no dead tuples, the space back at once.

Table names in these statements come from ``month_of`` (integers), never from input: hence the
S608 waivers.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from storage import models as m
from storage.db import rows_written

AHEAD_MONTHS = 3
DEFAULT = "decisions_default"
_NAME = re.compile(r"^decisions_y(\d{4})m(\d{2})$")
_LOCK = 0x7477_6465_6370_6172  # pg_advisory_xact_lock key: one partition change at a time


@dataclass(frozen=True)
class Month:
    """One monthly partition: ``[start, end)`` in UTC."""

    name: str
    start: dt.datetime
    end: dt.datetime


def month_of(day: dt.date) -> Month:
    first = day.replace(day=1)
    following = dt.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return Month(
        f"decisions_y{first.year:04d}m{first.month:02d}",
        dt.datetime.combine(first, dt.time(), dt.UTC),
        dt.datetime.combine(following, dt.time(), dt.UTC),
    )


def months(session: Session) -> list[Month]:
    """The monthly partitions attached to ``decisions``, oldest first."""
    names = session.scalars(
        text(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'decisions'::regclass"
        )
    )
    found = [match for match in map(_NAME.match, names) if match]
    return sorted(
        (month_of(dt.date(int(g[1]), int(g[2]), 1)) for g in found), key=lambda x: x.start
    )


def _locked(session: Session) -> None:
    session.execute(select(func.pg_advisory_xact_lock(_LOCK)))


def _literal(moment: dt.datetime) -> str:
    return f"'{moment.isoformat()}'"


def create_month(session: Session, month: Month) -> int:
    """Attach ``month`` (absent so far), moving the default partition's rows of it in; how many
    rows moved."""
    lo, hi = _literal(month.start), _literal(month.end)
    # ATTACH locks the default partition exclusively: behind a long reader of the whole log it
    # would queue every later read, so past CREATE_LOCK_TIMEOUT_MS it gives up (55P03).
    session.execute(text(f"SET LOCAL lock_timeout = {int(CREATE_LOCK_TIMEOUT_MS)}"))
    session.execute(text(f"LOCK TABLE {DEFAULT} IN SHARE ROW EXCLUSIVE MODE"))
    session.execute(text(f"CREATE TABLE {month.name} (LIKE decisions INCLUDING DEFAULTS)"))
    moved = rows_written(
        session.execute(
            text(
                f"WITH moved AS (DELETE FROM {DEFAULT} WHERE created_at >= :lo AND created_at < :hi"  # noqa: S608
                f" RETURNING *) INSERT INTO {month.name} SELECT * FROM moved"
            ),
            {"lo": month.start, "hi": month.end},
        )
    )
    session.execute(
        text(
            f"ALTER TABLE decisions ATTACH PARTITION {month.name} FOR VALUES FROM ({lo}) TO ({hi})"
        )
    )
    return moved


#: How long creating a month may wait for its locks (milliseconds); past it the month is left
#: for the next run (months are created ``AHEAD_MONTHS`` ahead).
CREATE_LOCK_TIMEOUT_MS = 2000


def ensure_months(session: Session, now: dt.datetime, ahead: int = AHEAD_MONTHS) -> list[str]:
    """Create the month of ``now`` and ``ahead`` months after it where missing; their names (a
    month whose locks were not granted within ``CREATE_LOCK_TIMEOUT_MS`` is left out, unmade)."""
    _locked(session)
    present = {x.name for x in months(session)}
    created = []
    month = month_of(now.astimezone(dt.UTC).date())
    for _ in range(ahead + 1):
        if month.name not in present:
            try:
                with session.begin_nested():
                    create_month(session, month)
            except OperationalError as error:
                if getattr(error.orig, "sqlstate", None) != LOCK_NOT_AVAILABLE:
                    raise
            else:
                created.append(month.name)
        month = month_of(month.end.date())
    return created


#: How long dropping a month may wait for its lock on ``decisions`` (milliseconds).
DROP_LOCK_TIMEOUT_MS = 2000
LOCK_NOT_AVAILABLE = "55P03"


class MonthBusy(Exception):
    """A month's partition could not be dropped within ``DROP_LOCK_TIMEOUT_MS`` (nothing changed)."""


@dataclass(frozen=True)
class Dropped:
    """What dropping a month did to one tenant's chain."""

    tenant_id: str
    from_seq: int
    through_seq: int
    last_hash: str
    removed: int


def expired_cutoffs(
    session: Session, month: Month, now: dt.datetime
) -> dict[str, dt.datetime] | None:
    """Lock ``month`` against appends, then: the retention cutoff of every tenant with records in
    it when each one's cutoff is at or past the month's end (the whole month expired), else None.
    A tenant without retention keeps its records, and so the month. Two purges at once take
    turns (the advisory lock first, as ``drop_month`` takes it: else they deadlock); the second
    finds the month gone and keeps nothing to drop (None)."""
    _locked(session)
    if month.name not in {x.name for x in months(session)}:
        return None
    session.execute(text(f"LOCK TABLE {month.name} IN SHARE MODE"))
    probe = text(f"SELECT 1 FROM {month.name} WHERE tenant_id = :tenant LIMIT 1")  # noqa: S608
    cutoffs = {}
    for tenant, days in session.execute(select(m.Tenant.id, m.Tenant.decision_retention_days)):
        if session.scalar(probe, {"tenant": tenant}) is None:
            continue
        cutoff = None if days is None else now - dt.timedelta(days=days)
        if cutoff is None or cutoff < month.end or _linked_within(session, month, tenant, cutoff):
            return None
        cutoffs[str(tenant)] = cutoff
    return cutoffs


def _linked_within(session: Session, month: Month, tenant: Any, cutoff: dt.datetime) -> bool:
    """Whether a record of ``tenant`` still within retention (at or after ``cutoff``) holds a seq
    at or below the month's last: records are linked in the order they are appended, not by
    their times (a slow request, a skewed clock), and dropping the month deletes every link up to
    its last (``drop_month``)."""
    d = m.Decision
    last = session.scalar(
        text(f"SELECT max(seq) FROM {month.name} WHERE tenant_id = :tenant"),  # noqa: S608
        {"tenant": tenant},
    )
    if last is None:
        return False
    found = session.scalar(
        select(d.seq).where(d.tenant_id == tenant, d.seq <= last, d.created_at >= cutoff).limit(1)
    )
    return found is not None


def drop_month(
    session: Session, month: Month, cutoffs: dict[str, dt.datetime], now: dt.datetime
) -> list[Dropped]:
    """Drop ``month`` (``expired_cutoffs`` of it: every tenant in it and its cutoff), moving each
    tenant's purge point to its last link in the month, recorded as a purge."""
    _locked(session)
    d = m.Decision
    done = []
    for tenant_id, cutoff in cutoffs.items():
        tenant = uuid.UUID(tenant_id)
        session.execute(  # the head, locked: no append links past what is being removed
            select(m.DecisionChain).where(m.DecisionChain.tenant_id == tenant).with_for_update()
        )
        head = session.get(m.DecisionChain, tenant, populate_existing=True)
        last = session.execute(
            text(
                f"SELECT seq, hash FROM {month.name} WHERE tenant_id = :tenant"  # noqa: S608
                " AND seq IS NOT NULL ORDER BY seq DESC LIMIT 1"
            ),
            {"tenant": tenant},
        ).first()
        if head is None or last is None or int(last[0]) <= head.purged_through_seq:
            continue  # records outside the chain only (before migration 0009), or purged
        through, last_hash = int(last[0]), str(last[1])
        session.execute(  # links up to there outside the month (appended around midnight)
            delete(d)
            .where(d.tenant_id == tenant, d.seq <= through)
            .where((d.created_at < month.start) | (d.created_at >= month.end))
            .execution_options(synchronize_session=False)
        )
        first = head.purged_through_seq + 1
        dropped = Dropped(tenant_id, first, through, last_hash, through - first + 1)
        head.purged_through_seq, head.purged_last_hash = through, last_hash
        session.add(
            m.DecisionPurge(
                tenant_id=tenant,
                id=uuid.uuid4(),
                from_seq=first,
                through_seq=through,
                last_hash=last_hash,
                removed=dropped.removed,
                cutoff=cutoff,
                created_at=now,
            )
        )
        done.append(dropped)
    session.flush()
    # Dropping a partition locks all of ``decisions``: it waits for every transaction reading or
    # writing the log (an export may take minutes), and every append queues behind it meanwhile.
    # Past DROP_LOCK_TIMEOUT_MS it gives up instead, and the month waits for the next run.
    session.execute(text(f"SET LOCAL lock_timeout = {int(DROP_LOCK_TIMEOUT_MS)}"))
    try:
        session.execute(text(f"DROP TABLE {month.name}"))
    except OperationalError as error:
        if getattr(error.orig, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise MonthBusy(month.name) from error
        raise
    return done
