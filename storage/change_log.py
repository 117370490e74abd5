"""Change log: every change to the catalog, rulesets, experiments, API keys and tenant settings
becomes an ``AuditChange`` row (who, when, what it was before and after) in the transaction of the
change.

* **Who** is a context variable (:func:`acting_as`, :func:`set_who`): the HTTP app sets
  ``"<role>:<subject>"`` and the request id once the caller is authenticated, the CLI sets
  ``"cli"``; anything else writes as ``"system"``.
* **What** is recorded by a ``before_flush`` listener on the ``Session`` class (every session of
  the process, whichever factory made it, so no write path can forget to opt in; registered when
  this module is imported, which ``storage.db`` does). It turns each new, changed and deleted
  instance of an :data:`AUDITED` model into a row, inserted by its ``after_flush`` partner on the
  flush's connection (see :func:`_write` for why not earlier): a create carries ``after`` (every
  column), a delete ``before``, an update the changed columns only, before and after. Secrets
  (columns named like ``*secret*`` / ``*hash*``, e.g. ``api_keys.key_hash``, but not a ruleset
  version's ``content_hash``) are never copied;
  bookkeeping that moves on every write (``version``, ``updated_at``) is left out of update
  diffs, and an update that changed nothing else is not recorded.
* Core statements bypass ORM events: repositories change loged rows through the ORM, or call
  :func:`record_change` next to the statement (``tenants.catalog_version``, bumped by a plain
  UPDATE on every catalog change, is bookkeeping and not audited).

Bookings, holds, decisions, events, assignments, idempotency keys and payment events are
operational data, not configuration, and are not audited.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, and_, event, func, insert, inspect, or_, select
from sqlalchemy.orm import Session

from storage import models as m

SYSTEM = "system"

#: Model -> the entity type its changes are recorded under.
AUDITED: dict[type[m.Base], str] = {
    m.Tenant: "tenant",
    m.ApiKey: "api_key",
    m.Segment: "segment",
    m.Tier: "tier",
    m.AddOn: "add_on",
    m.AddOnTier: "add_on_tier",
    m.Capacity: "capacity",
    m.Blackout: "blackout",
    m.RulesetDraft: "ruleset_draft",
    m.RulesetVersion: "ruleset_version",
    m.RulesetActivation: "ruleset_activation",
    m.Experiment: "experiment",
}
ENTITY_TYPES = tuple(sorted(AUDITED.values()))
ACTIONS = ("create", "update", "delete")
#: Columns that change on every write: not a change of their own, left out of update diffs.
BOOKKEEPING = frozenset({"version", "updated_at"})
#: Columns never recorded: the tenant is the row's own ``tenant_id``; the catalog version is a
#: cache key bumped by every catalog change.
OMITTED = frozenset({"tenant_id", "catalog_version"})


#: Hashes that identify content, not secrets: recorded like any other column.
PUBLIC_HASHES = frozenset({"content_hash"})


def is_secret(column: str) -> bool:
    """Secrets and their hashes (``api_keys.key_hash``) are never copied into the audit."""
    return "secret" in column or ("hash" in column and column not in PUBLIC_HASHES)


# ---- who --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    actor: str = SYSTEM
    request_id: str = ""


#: Who changes are recorded as when nobody said (frozen, so safe as the context default).
UNATTRIBUTED = Who()
_who: ContextVar[Who] = ContextVar("tierwise_audit_who", default=UNATTRIBUTED)


def current_who() -> Who:
    return _who.get()


def set_who(actor: str, request_id: str = "") -> Token[Who]:
    """Record changes made from now on in this context as ``actor`` (column limits applied)."""
    return _who.set(Who(actor[:200] or SYSTEM, request_id[:64]))


def reset_who(token: Token[Who]) -> None:
    try:
        _who.reset(token)
    except ValueError:  # the token is of another context (a response streamed elsewhere)
        _who.set(UNATTRIBUTED)


@contextmanager
def acting_as(actor: str, request_id: str = "") -> Iterator[None]:
    token = set_who(actor, request_id)
    try:
        yield
    finally:
        reset_who(token)


# ---- what -------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """A column value as JSON: UUIDs and decimals as strings, instants and dates in ISO 8601."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, uuid.UUID | Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return str(value)


def _recorded(obj: Any) -> list[str]:
    """The attribute names of ``obj``'s columns that an audit row may carry."""
    return [
        prop.key
        for prop in inspect(obj).mapper.column_attrs
        if prop.key not in OMITTED and not is_secret(prop.key)
    ]


def _entity(obj: Any) -> tuple[uuid.UUID, str]:
    """The tenant and the entity id (primary key without the tenant, ``:``-joined)."""
    if isinstance(obj, m.Tenant):
        return obj.id, str(obj.id)
    mapper = inspect(obj).mapper
    parts = [
        jsonable(getattr(obj, mapper.get_property_by_column(column).key))
        for column in mapper.primary_key
        if column.key != "tenant_id"
    ]
    return obj.tenant_id, ":".join(str(p) for p in parts)


def _apply_defaults(obj: Any) -> None:
    """Give a new row its Python-side column defaults now (ids included), as its INSERT would,
    so that the audit row names it and shows what it was created with."""
    state = inspect(obj)
    for prop in state.mapper.column_attrs:
        default = prop.columns[0].default
        if default is None or state.dict.get(prop.key) is not None:
            continue
        if default.is_scalar:
            setattr(obj, prop.key, default.arg)
        elif default.is_callable:
            setattr(obj, prop.key, default.arg(None))


def _diff(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for key in _recorded(obj):
        if key in BOOKKEEPING:
            continue
        history = state.attrs[key].history
        if not history.added:
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0]
        if old != new:
            before[key], after[key] = jsonable(old), jsonable(new)
    return before, after


def _values(obj: Any) -> dict[str, Any]:
    return {key: jsonable(getattr(obj, key)) for key in _recorded(obj)}


def change_row(
    tenant_id: uuid.UUID,
    entity_type: str,
    entity_id: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> dict[str, Any]:
    """The ``audit_changes`` row of a change, made by the current :func:`current_who`."""
    who = current_who()
    return {
        "tenant_id": tenant_id,
        "id": uuid.uuid4(),
        "entity_type": entity_type,
        "entity_id": entity_id,
        "action": action,
        "actor": who.actor,
        "request_id": who.request_id,
        "before": before,
        "after": after,
        "created_at": m.utcnow(),
    }


def record_change(
    session: Session,
    tenant_id: uuid.UUID,
    entity_type: str,
    entity_id: str,
    action: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Record a change made by a Core statement (which ORM events never see)."""
    row = change_row(tenant_id, entity_type, entity_id, action, jsonable(before), jsonable(after))
    session.add(m.AuditChange(**row))


_PENDING = "tierwise_audit_pending"


def _collect(session: Session, _flush_context: Any, _instances: Any) -> None:
    """before_flush: the audit rows of what this flush will write (kept until it has)."""
    rows: list[dict[str, Any]] = []
    for obj in list(session.new):
        entity_type = AUDITED.get(type(obj))
        if entity_type:
            _apply_defaults(obj)
            tenant_id, entity_id = _entity(obj)
            rows.append(change_row(tenant_id, entity_type, entity_id, "create", None, _values(obj)))
    for obj in list(session.dirty):
        entity_type = AUDITED.get(type(obj))
        if entity_type and obj not in session.deleted:
            before, after = _diff(obj)
            if after:
                tenant_id, entity_id = _entity(obj)
                rows.append(change_row(tenant_id, entity_type, entity_id, "update", before, after))
    for obj in list(session.deleted):
        entity_type = AUDITED.get(type(obj))
        if entity_type:
            tenant_id, entity_id = _entity(obj)
            rows.append(change_row(tenant_id, entity_type, entity_id, "delete", _values(obj), None))
    session.info[_PENDING] = rows


def _write(session: Session, _flush_context: Any) -> None:
    """after_flush: insert the collected rows on the flush's connection (same transaction).

    Not ``session.add`` in before_flush: the unit of work orders the INSERTs of unrelated
    mappers by ``relationship()`` only, and ``AuditChange`` has none, so a new tenant's "create"
    row could be inserted before the tenant it references. After the flush it never is."""
    rows = session.info.pop(_PENDING, None)
    if rows:
        session.connection().execute(insert(m.AuditChange), rows)


def install() -> None:
    """Register the listeners on the Session class (once per process; idempotent)."""
    for name, listener in (("before_flush", _collect), ("after_flush", _write)):
        if not event.contains(Session, name, listener):
            event.listen(Session, name, listener)


install()


# ---- search -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChangeQuery:
    """Filters of a search; ``tenant_id`` None means every tenant (platform operators only).
    ``start`` is included, ``end`` excluded."""

    tenant_id: uuid.UUID | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    action: str | None = None
    actor: str | None = None
    request_id: str | None = None
    start: dt.datetime | None = None
    end: dt.datetime | None = None


@dataclass(frozen=True)
class Change:
    id: str
    tenant_id: str
    entity_type: str
    entity_id: str
    action: str
    actor: str
    request_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: dt.datetime


def _change(row: m.AuditChange) -> Change:
    created = row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=dt.UTC)
    return Change(
        str(row.id),
        str(row.tenant_id),
        row.entity_type,
        row.entity_id,
        row.action,
        row.actor,
        row.request_id,
        row.before,
        row.after,
        created,
    )


def _where(query: ChangeQuery) -> list[ColumnElement[bool]]:
    c = m.AuditChange
    where: list[ColumnElement[bool]] = []
    if query.tenant_id is not None:
        where.append(c.tenant_id == query.tenant_id)
    for column, value in (
        (c.entity_type, query.entity_type),
        (c.entity_id, query.entity_id),
        (c.action, query.action),
        (c.actor, query.actor),
        (c.request_id, query.request_id),
    ):
        if value is not None:
            where.append(column == value)
    # Bound as UTC: SQLite stores instants as UTC wall-clock text.
    if query.start is not None:
        where.append(c.created_at >= query.start.astimezone(dt.UTC))
    if query.end is not None:
        where.append(c.created_at < query.end.astimezone(dt.UTC))
    return where


def search(
    session: Session, query: ChangeQuery, offset: int, limit: int
) -> tuple[list[Change], int]:
    """Matching changes, newest first, and how many match in all."""
    c = m.AuditChange
    where = _where(query)
    total = session.scalar(select(func.count()).select_from(c).where(*where)) or 0
    rows = session.scalars(
        select(c)
        .where(*where)
        .order_by(c.created_at.desc(), c.id.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    return [_change(r) for r in rows], int(total)


def batch_after(
    session: Session, query: ChangeQuery, after: Change | None, size: int
) -> list[Change]:
    """The next ``size`` matching changes in (created_at, id) order after ``after`` (keyset
    pagination: an export reads a range in batches without holding a cursor open)."""
    c = m.AuditChange
    where = _where(query)
    if after is not None:
        last_id = uuid.UUID(after.id)
        where.append(
            or_(
                c.created_at > after.created_at,
                and_(c.created_at == after.created_at, c.id > last_id),
            )
        )
    rows = session.scalars(select(c).where(*where).order_by(c.created_at, c.id).limit(size)).all()
    return [_change(r) for r in rows]
