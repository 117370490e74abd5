"""Decision records: one row per rules evaluation, written in the transaction it served, each a link
of its tenant's hash chain.

Chain: records get ``seq`` 1, 2, ... per tenant, ``prev_hash`` (the previous link's hash; 64 zeros
before the first) and ``hash = sha256("<seq>|<prev_hash>|" + canonical(record))`` (``chain_hash``)
where the canonical record is every other stored field as JSON with sorted keys, no whitespace and
``created_at`` in UTC. The canonical bodies are written here, before the chain is locked (the
costly part); linking them needs the head (last seq and hash, in ``decision_chains``), locked for
the rest of the writing transaction so that links never interleave:

* on PostgreSQL, one statement, ``tw_append_decision_lines(tenant, lines)`` (migration 0024),
  locks the head (``SELECT ... FOR UPDATE``, created on first use), links each body with the
  same hash in PL/pgSQL, inserts the rows in one INSERT (each line carries its columns' texts
  beside the body, so the JSON is not parsed again) and moves the head. A batch whose plain texts
  hold a line's separator goes to ``tw_append_decisions(tenant, bodies)`` (migration 0022; the
  bodies are the rows), which does the same from the bodies alone;
* elsewhere (SQLite), ``_claim`` locks the head and claims the seqs (``UPDATE ... RETURNING``),
  ``_link`` links with ``chain_hash``, and the rows and the new head are written here.

The two definitions of the hash are held equal by tests/integration/test_decision_chain_hash.py.
Editing, deleting or swapping any row breaks a link that ``verify`` finds (``link_hash``
recomputes it from the stored row); a retention purge removes a prefix of the chain and records
the last removed hash, from where verification continues.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    Select,
    Text,
    cast,
    delete,
    func,
    insert,
    literal,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.orm import Session

from pricing.errors import NotFound
from storage import models as m
from storage.db import Executor, as_utc, insert_new, on_postgresql, rows_written
from storage.decision_text import DecisionRecord as DecisionRecord
from storage.decision_text import canonical, chain_hash, line
from storage.driver import driver_cursor
from storage.repository import as_uuid

GENESIS = "0" * 64


def _claim_statement(tenant: uuid.UUID, count: int) -> Any:
    """Claim ``count`` seqs: returns the head's new seq and (still) the previous hash, and locks the
    head until the transaction ends."""
    return (
        update(m.DecisionChain)
        .where(m.DecisionChain.tenant_id == tenant)
        .values(seq=m.DecisionChain.seq + count)
        .returning(m.DecisionChain.seq, m.DecisionChain.hash)
    )


def _new_head(tenant: uuid.UUID) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "seq": 0,
        "hash": GENESIS,
        "purged_through_seq": 0,
        "purged_last_hash": GENESIS,
        "updated_at": m.utcnow(),
    }


def _head_statement(tenant: uuid.UUID, last_hash: str) -> Any:
    return (
        update(m.DecisionChain)
        .where(m.DecisionChain.tenant_id == tenant)
        .values(hash=last_hash, updated_at=m.utcnow())
    )


def _claim(session: Executor, tenant: uuid.UUID, count: int) -> tuple[int, str]:
    """(the last seq before the claimed ones, its hash), the head locked (created on first use)."""
    found = session.execute(_claim_statement(tenant, count)).first()
    if found is None:
        insert_new(session, m.DecisionChain, _new_head(tenant), ["tenant_id"])
        found = session.execute(_claim_statement(tenant, count)).first()
    assert found is not None
    return int(found[0]) - count, str(found[1])


def _link(
    records: list[DecisionRecord], bodies: list[bytes], seq: int, previous: str
) -> list[DecisionRecord]:
    linked = []
    for record, body in zip(records, bodies, strict=True):
        seq += 1
        link = chain_hash(seq, previous, body)
        linked.append(replace(record, seq=seq, prev_hash=previous, hash=link))
        previous = link
    return linked


def add_decisions(session: Executor, records: list[DecisionRecord]) -> None:
    """Append records (of one tenant) to its chain, atomically, in the session's transaction:
    claim seqs (locking the head), link, insert, move the head. On PostgreSQL all of it is one
    statement, ``tw_append_decisions`` (migration 0022): one round trip, and atomic even when the
    session autocommits; elsewhere (SQLite) the same steps run here."""
    if not records:
        return
    tenant = uuid.UUID(records[0].tenant_id)
    assert all(r.tenant_id == records[0].tenant_id for r in records)
    # The bodies are written here, outside the lock: the costly part.
    if on_postgresql(session):
        lines = [text for text in map(line, records) if text is not None]
        if len(lines) == len(records):  # each record's columns beside its body (migration 0024)
            text = b"\n".join(lines).decode()
            statement, arguments = _APPEND_LINES, {"tenant": tenant, "lines": text}
        else:
            # The canonical bodies are the rows themselves (every column but the chain's own),
            # one per line (JSON text has no raw newline).
            rows = "\n".join(canonical(r).decode() for r in records)
            statement, arguments = _APPEND, {"tenant": tenant, "rows": rows}
        with driver_cursor(session, statement) as cursor:
            cursor.execute(statement, arguments)
        return
    bodies = [canonical(r) for r in records]
    linked = _link(records, bodies, *_claim(session, tenant, len(records)))
    session.execute(insert(DECISIONS), [_row(r) for r in linked])
    session.execute(
        _head_statement(tenant, str(linked[-1].hash)).execution_options(synchronize_session=False)
    )


#: The table itself: rows inserted with Core, not as ORM objects.
DECISIONS = m.Base.metadata.tables[m.Decision.__tablename__]

_APPEND = "SELECT tw_append_decisions(%(tenant)s, %(rows)s)"  # psycopg's own parameters
_APPEND_LINES = "SELECT tw_append_decision_lines(%(tenant)s, %(lines)s)"


def _row(r: DecisionRecord) -> dict[str, Any]:
    return {
        "tenant_id": uuid.UUID(r.tenant_id),
        "id": uuid.UUID(r.id),
        "purpose": r.purpose,
        "kinds": r.kinds,
        "ruleset_version": r.ruleset_version,
        "ruleset_hash": r.ruleset_hash,
        "engine": r.engine,
        "facts": r.facts,
        "considered": r.considered,
        "fired": r.fired,
        "outputs": r.outputs,
        "context": r.context,
        "request_id": r.request_id,
        "quote_id": r.quote_id,
        "booking_id": uuid.UUID(r.booking_id) if r.booking_id else None,
        "created_at": r.created_at,
        "masked_fields": r.masked_fields,
        "customer_ref": r.customer_ref,
        "seq": r.seq,
        "prev_hash": r.prev_hash,
        "hash": r.hash,
    }


def record_of(row: m.Decision) -> DecisionRecord:
    return DecisionRecord(
        id=str(row.id),
        tenant_id=str(row.tenant_id),
        purpose=row.purpose,
        kinds=row.kinds,
        ruleset_version=row.ruleset_version,
        ruleset_hash=row.ruleset_hash,
        engine=row.engine,
        facts=row.facts,
        considered=row.considered,
        fired=row.fired,
        outputs=row.outputs,
        context=row.context,
        request_id=row.request_id,
        quote_id=row.quote_id,
        booking_id=str(row.booking_id) if row.booking_id else None,
        created_at=as_utc(row.created_at),
        masked_fields=list(row.masked_fields or []),
        customer_ref=row.customer_ref,
        seq=row.seq,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def get_decision(session: Session, tenant_id: str, decision_id: str) -> DecisionRecord:
    key = as_uuid(decision_id)
    d = m.Decision  # by (tenant, id): the key's prefix, probed in each monthly partition
    found = select(d).where(d.tenant_id == uuid.UUID(tenant_id), d.id == key)
    row = session.scalars(found).first() if key else None
    if row is None:
        raise NotFound("decision not found.", code="decision_not_found")
    return record_of(row)


# ---- search ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DecisionFilter:
    """Search criteria; every one optional (tenant None: all tenants, for operators)."""

    tenant_id: str | None = None
    purpose: str | None = None
    kind: str | None = None  # evaluated this decision kind
    start: dt.datetime | None = None  # created_at >= start
    end: dt.datetime | None = None  # created_at < end
    rule_id: str | None = None  # fired this rule
    outcome: tuple[str, str, Any] | None = None  # (decision kind, output field, value)
    booking: tuple[str, str] | None = None  # (booking id, its quote id)
    quote_id: str | None = None
    request_id: str | None = None
    customer_ref: str | None = None


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _filtered(f: DecisionFilter, dialect: str = "postgresql") -> Select[Any]:
    d = m.Decision
    stmt = select(d)
    if f.tenant_id:
        stmt = stmt.where(d.tenant_id == uuid.UUID(f.tenant_id))
    if f.purpose:
        stmt = stmt.where(d.purpose == f.purpose)
    if f.start:
        stmt = stmt.where(d.created_at >= f.start)
    if f.end:
        stmt = stmt.where(d.created_at < f.end)
    if f.kind:
        stmt = stmt.where(cast(d.kinds, Text).like(f'%"{_like_literal(f.kind)}"%', escape="\\"))
    if f.rule_id:
        stmt = stmt.where(cast(d.fired, Text).like(f'%"{_like_literal(f.rule_id)}"%', escape="\\"))
    if f.outcome:
        # Compared as text, whatever the output's type (a mismatch finds nothing, never fails):
        # PostgreSQL gives JSON scalars as text ('true', '3', 'tier'); SQLite gives booleans as 1/0.
        kind, name, value = f.outcome
        text_value = str(value).lower() if isinstance(value, bool) else str(value)
        if dialect == "sqlite" and isinstance(value, bool):
            text_value = str(int(value))
        stmt = stmt.where(cast(d.outputs[kind][name].as_string(), Text) == text_value)
    if f.booking:
        booking_id, quote_id = f.booking
        either = [d.booking_id == uuid.UUID(booking_id)]
        if quote_id:
            either.append(d.quote_id == quote_id)
        stmt = stmt.where(or_(*either))
    if f.quote_id:
        stmt = stmt.where(d.quote_id == f.quote_id)
    if f.request_id:
        stmt = stmt.where(d.request_id == f.request_id)
    if f.customer_ref:
        stmt = stmt.where(d.customer_ref == f.customer_ref)
    return stmt


def search(
    session: Session, f: DecisionFilter, offset: int, limit: int
) -> tuple[list[DecisionRecord], int]:
    """A page of matching records, newest first, and the number matching."""
    stmt = _filtered(f, session.get_bind().dialect.name)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = session.scalars(
        stmt.order_by(m.Decision.created_at.desc(), m.Decision.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return [record_of(r) for r in rows], int(total or 0)


def stream(session: Session, f: DecisionFilter, batch: int = 500) -> Iterator[DecisionRecord]:
    """Every matching record, oldest first, read in batches (keyset on (created_at, id))."""
    d = m.Decision
    after: tuple[dt.datetime, uuid.UUID] | None = None
    while True:
        stmt = _filtered(f, session.get_bind().dialect.name)
        if after is not None:
            stmt = stmt.where(
                or_(d.created_at > after[0], (d.created_at == after[0]) & (d.id > after[1]))
            )
        rows = list(session.scalars(stmt.order_by(d.created_at, d.id).limit(batch)))
        for row in rows:
            yield record_of(row)
        if len(rows) < batch:
            return
        after = (rows[-1].created_at, rows[-1].id)


# ---- the chain: verification and retention -----------------------------------------------------


def chain_head(session: Session, tenant_id: str) -> m.DecisionChain | None:
    return session.get(m.DecisionChain, uuid.UUID(tenant_id))


def chain(session: Session, tenant_id: str, batch: int = 1000) -> Iterator[DecisionRecord]:
    """The tenant's linked records in chain order (seq), read in batches keyed on (seq, id): a
    duplicate seq on a page's edge is read too, so verification sees it."""
    d = m.Decision
    after = tuple_(d.seq, d.id) > tuple_(
        literal(0, d.seq.type), literal(uuid.UUID(int=0), d.id.type)
    )
    while True:
        rows = list(
            session.scalars(
                select(d)
                .where(d.tenant_id == uuid.UUID(tenant_id), d.seq.is_not(None), after)
                .order_by(d.seq, d.id)
                .limit(batch)
            )
        )
        for row in rows:
            yield record_of(row)
        if len(rows) < batch:
            return
        after = tuple_(d.seq, d.id) > tuple_(
            literal(rows[-1].seq, d.seq.type), literal(rows[-1].id, d.id.type)
        )


@dataclass(frozen=True)
class Purge:
    from_seq: int
    through_seq: int
    last_hash: str
    removed: int


def purge_before(
    session: Session, tenant_id: str, cutoff: dt.datetime, now: dt.datetime
) -> Purge | None:
    """Delete the tenant's chain prefix created before ``cutoff`` (up to the first link that is
    not, so the rest stays one unbroken chain) and record where it ends."""
    tenant = uuid.UUID(tenant_id)
    _claim(session, tenant, 0)  # locks the head (and creates it if need be)
    head = session.get(m.DecisionChain, tenant, populate_existing=True)
    assert head is not None
    d = m.Decision
    first_kept = session.scalar(
        select(func.min(d.seq)).where(
            d.tenant_id == tenant, d.seq.is_not(None), d.created_at >= cutoff
        )
    )
    through = (first_kept - 1) if first_kept is not None else head.seq
    if through <= head.purged_through_seq:
        return None
    last_hash = session.scalar(select(d.hash).where(d.tenant_id == tenant, d.seq == through))
    assert last_hash is not None, "the chain has a gap; verify it before purging"
    removed = rows_written(
        session.execute(
            delete(d).where(d.tenant_id == tenant, d.seq.is_not(None), d.seq <= through)
        )
    )
    purge = Purge(head.purged_through_seq + 1, through, last_hash, removed)
    head.purged_through_seq, head.purged_last_hash = through, last_hash
    session.add(
        m.DecisionPurge(
            tenant_id=tenant,
            id=uuid.uuid4(),
            from_seq=purge.from_seq,
            through_seq=through,
            last_hash=last_hash,
            removed=purge.removed,
            cutoff=cutoff,
            created_at=now,
        )
    )
    session.flush()
    return purge


def booking_quote(session: Session, tenant_id: str | None, booking_id: str) -> tuple[str, str]:
    """(booking id, the quote it was made from) of a booking of the tenant (any tenant: None)."""
    key = as_uuid(booking_id)
    stmt = select(m.Booking.id, m.Booking.quote_id).where(m.Booking.id == key)
    if tenant_id:
        stmt = stmt.where(m.Booking.tenant_id == uuid.UUID(tenant_id))
    found = session.execute(stmt).first() if key else None
    if found is None:
        raise NotFound("booking not found.", code="booking_not_found")
    return str(found[0]), found[1]


def outside_chain(session: Session, tenant_id: str) -> tuple[str | None, int]:
    """A record of the tenant with no link, or one past the chain's head as of the same statement
    (concurrent appends commit their rows and head together): (its id, its seq or 0)."""
    d = m.Decision
    tenant = uuid.UUID(tenant_id)
    head = select(m.DecisionChain.seq).where(m.DecisionChain.tenant_id == tenant).scalar_subquery()
    found = session.execute(
        select(d.id, d.seq)
        .where(d.tenant_id == tenant, or_(d.seq.is_(None), d.seq > func.coalesce(head, 0)))
        .order_by(d.seq.nulls_first())
        .limit(1)
    ).first()
    return (str(found[0]), int(found[1] or 0)) if found else (None, 0)
