"""Ruleset drafts, published versions and activations, scoped to one tenant."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from pricing.errors import Conflict, NotFound
from storage import models as m
from storage.db import as_utc
from storage.repository import Page, as_uuid, flush

#: ruleset_activations.sequence and ruleset_versions.number are 32-bit INTEGERs: larger numbers
#: (a path may carry any) name no activation or version, and are never sent to the database.
MAX_SEQUENCE = 2**31 - 1


@dataclass(frozen=True)
class Draft:
    id: str
    name: str
    document: dict[str, Any]
    based_on_version: int | None
    created_by: str
    version: int
    updated_at: dt.datetime


@dataclass(frozen=True)
class Version:
    number: int
    content_hash: str
    document: dict[str, Any]
    author: str
    note: str
    created_at: dt.datetime


@dataclass(frozen=True)
class Activation:
    """One row of the activation history; instants are UTC.

    ``action``: ``publish``; ``activate`` (a version at least as new as the one in force) or
    ``rollback`` (an older one). A cancelled activation (``cancelled_at``, ``cancelled_by``) was
    cancelled while pending and never took effect."""

    sequence: int
    version_number: int
    action: str
    activates_at: dt.datetime
    created_by: str
    created_at: dt.datetime
    cancelled_at: dt.datetime | None = None
    cancelled_by: str | None = None

    def takes_effect_by(self, moment: dt.datetime) -> bool:
        """Whether it is (or was) in force from ``moment`` on, unless something later replaced it."""
        return self.cancelled_at is None and self.activates_at <= moment

    def pending_at(self, moment: dt.datetime) -> bool:
        """Scheduled for after ``moment`` and not cancelled."""
        return self.cancelled_at is None and self.activates_at > moment


def _draft(row: m.RulesetDraft) -> Draft:
    return Draft(
        str(row.id),
        row.name,
        row.document,
        row.based_on_version,
        row.created_by,
        row.version,
        row.updated_at,
    )


def _version(row: m.RulesetVersion) -> Version:
    return Version(row.number, row.content_hash, row.document, row.author, row.note, row.created_at)


def _utc(value: dt.datetime) -> dt.datetime:
    return as_utc(value).astimezone(dt.UTC)


def _activation(row: m.RulesetActivation) -> Activation:
    return Activation(
        row.sequence,
        row.version_number,
        row.action,
        _utc(row.activates_at),
        row.created_by,
        _utc(row.created_at),
        _utc(row.cancelled_at) if row.cancelled_at is not None else None,
        row.cancelled_by,
    )


class RulesetRepository:
    def __init__(self, session: Session, tenant_id: str | uuid.UUID) -> None:
        self.session = session
        self.tenant_id = uuid.UUID(str(tenant_id))

    # -- drafts
    def _draft_row(self, draft_id: str, *, lock: bool = False) -> m.RulesetDraft:
        key = as_uuid(draft_id)
        row = (
            self.session.get(m.RulesetDraft, (self.tenant_id, key), with_for_update=lock)
            if key
            else None
        )
        if row is None:
            raise NotFound("ruleset draft not found.", code="draft_not_found")
        return row

    def list_drafts(self, offset: int, limit: int) -> Page[Draft]:
        stmt = select(m.RulesetDraft).where(m.RulesetDraft.tenant_id == self.tenant_id)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self.session.scalars(
            stmt.order_by(m.RulesetDraft.created_at).offset(offset).limit(limit)
        ).all()
        return Page([_draft(r) for r in rows], int(total))

    def draft(self, draft_id: str) -> Draft:
        return _draft(self._draft_row(draft_id))

    def create_draft(
        self, *, name: str, document: dict[str, Any], based_on_version: int | None, created_by: str
    ) -> Draft:
        row = m.RulesetDraft(
            tenant_id=self.tenant_id,
            name=name,
            document=document,
            based_on_version=based_on_version,
            created_by=created_by,
        )
        self.session.add(row)
        flush(self.session)
        return _draft(row)

    def update_draft(self, draft_id: str, expected_version: int, changes: dict[str, Any]) -> Draft:
        from pricing.errors import PreconditionFailed

        row = self._draft_row(draft_id, lock=True)
        if row.version != expected_version:
            raise PreconditionFailed(
                "The draft changed since it was read; fetch it again.", code="version_mismatch"
            )
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_at = m.utcnow()
        flush(self.session)
        return _draft(row)

    def delete_draft(self, draft_id: str) -> None:
        self.session.delete(self._draft_row(draft_id))
        flush(self.session)

    # -- versions
    def lock_tenant(self) -> None:
        """Serialise publishes of one tenant (version numbers and activation sequences)."""
        self.session.get(m.Tenant, self.tenant_id, with_for_update=True)

    def next_version_number(self) -> int:
        latest = self.session.scalar(
            select(func.max(m.RulesetVersion.number)).where(
                m.RulesetVersion.tenant_id == self.tenant_id
            )
        )
        return int(latest or 0) + 1

    def add_version(
        self, *, document: dict[str, Any], content_hash: str, author: str, note: str
    ) -> Version:
        row = m.RulesetVersion(
            tenant_id=self.tenant_id,
            number=self.next_version_number(),
            document=document,
            content_hash=content_hash,
            author=author,
            note=note,
        )
        self.session.add(row)
        flush(self.session)
        return _version(row)

    def version(self, number: int) -> Version:
        row = (
            self.session.get(m.RulesetVersion, (self.tenant_id, number))
            if 1 <= number <= MAX_SEQUENCE
            else None
        )
        if row is None:
            raise NotFound("ruleset version not found.", code="version_not_found")
        return _version(row)

    def list_versions(self, offset: int, limit: int) -> Page[Version]:
        stmt = select(m.RulesetVersion).where(m.RulesetVersion.tenant_id == self.tenant_id)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self.session.scalars(
            stmt.order_by(m.RulesetVersion.number.desc()).offset(offset).limit(limit)
        ).all()
        return Page([_version(r) for r in rows], int(total))

    def version_hashes(self) -> dict[int, str]:
        rows = self.session.execute(
            select(m.RulesetVersion.number, m.RulesetVersion.content_hash).where(
                m.RulesetVersion.tenant_id == self.tenant_id
            )
        ).all()
        return {number: content_hash for number, content_hash in rows}

    # -- activations
    def activate(
        self, *, version_number: int, action: str, activates_at: dt.datetime, created_by: str
    ) -> Activation:
        """Append an activation (call :meth:`lock_tenant` first: sequences follow that order)."""
        self.version(version_number)
        sequence = (
            self.session.scalar(
                select(func.max(m.RulesetActivation.sequence)).where(
                    m.RulesetActivation.tenant_id == self.tenant_id
                )
            )
            or 0
        ) + 1
        row = m.RulesetActivation(
            tenant_id=self.tenant_id,
            sequence=sequence,
            version_number=version_number,
            action=action,
            activates_at=_utc(activates_at),
            created_by=created_by,
        )
        self.session.add(row)
        flush(self.session)
        return _activation(row)

    def activations(self) -> list[Activation]:
        """The whole history, cancelled activations included, oldest first."""
        rows = self.session.scalars(
            select(m.RulesetActivation)
            .where(m.RulesetActivation.tenant_id == self.tenant_id)
            .order_by(m.RulesetActivation.sequence)
        ).all()
        return [_activation(r) for r in rows]

    def _pending(self, now: dt.datetime) -> Select[m.RulesetActivation]:
        return (
            select(m.RulesetActivation)
            .where(
                m.RulesetActivation.tenant_id == self.tenant_id,
                m.RulesetActivation.activates_at > _utc(now),
                m.RulesetActivation.cancelled_at.is_(None),
            )
            .order_by(m.RulesetActivation.activates_at, m.RulesetActivation.sequence)
        )

    def pending(self, now: dt.datetime, offset: int, limit: int) -> Page[Activation]:
        """Activations scheduled after ``now`` and not cancelled, in the order they take effect."""
        stmt = self._pending(now)
        total = self.session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = self.session.scalars(stmt.offset(offset).limit(limit)).all()
        return Page([_activation(r) for r in rows], int(total))

    def _cancel(self, row: m.RulesetActivation, now: dt.datetime, by: str) -> Activation:
        """Through the ORM, so the change log records it (an ``update`` of the activation)."""
        row.cancelled_at = _utc(now)
        row.cancelled_by = by
        return _activation(row)

    def cancel(self, sequence: int, *, now: dt.datetime, by: str) -> Activation:
        """Cancel one pending activation: 404 ``activation_not_found`` (also for another tenant's
        sequence), 409 ``activation_cancelled`` or ``activation_took_effect``."""
        row = (
            self.session.get(m.RulesetActivation, (self.tenant_id, sequence), with_for_update=True)
            if 1 <= sequence <= MAX_SEQUENCE
            else None
        )
        if row is None:
            raise NotFound("ruleset activation not found.", code="activation_not_found")
        if row.cancelled_at is not None:
            raise Conflict("The activation was already cancelled.", code="activation_cancelled")
        if _utc(row.activates_at) <= now:
            raise Conflict(
                "The activation already took effect; activate another version instead.",
                code="activation_took_effect",
            )
        cancelled = self._cancel(row, now, by)
        flush(self.session)
        return cancelled

    def supersede(self, activation: Activation, *, now: dt.datetime, by: str) -> list[Activation]:
        """What "an activation that takes effect now supersedes the schedule" means, in one place:
        when ``activation`` takes effect by ``now``, every activation still pending at ``now`` is
        cancelled (they all have a lower sequence: sequences are handed out under the tenant
        lock). An activation for later supersedes nothing. The cancelled ones, in the order they
        would have taken effect."""
        if not activation.takes_effect_by(now):
            return []
        rows = self.session.scalars(
            self._pending(now)
            .where(m.RulesetActivation.sequence < activation.sequence)
            .with_for_update()
        ).all()
        cancelled = [self._cancel(row, now, by) for row in rows]
        flush(self.session)
        return cancelled


def active_at(activations: list[Activation], moment: dt.datetime) -> Activation | None:
    """The activation in force at ``moment``: of those not cancelled, latest ``activates_at`` <=
    moment, then latest sequence. A cancelled activation is ignored at every moment: it was
    cancelled before its time, so it never was in force."""
    due = [a for a in activations if a.takes_effect_by(moment)]
    return max(due, key=lambda a: (a.activates_at, a.sequence)) if due else None
