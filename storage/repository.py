"""What the repositories share: ids from text, pages, flushes that turn constraint violations
and stale versions into domain errors, and the base of the repositories scoped to one tenant.

A row of another tenant is indistinguishable from a missing row: both raise ``NotFound``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from pricing import catalog as domain
from pricing.errors import Conflict, NotFound, PreconditionFailed
from storage import models as m

T = TypeVar("T")

#: Database constraint -> (machine code, message) for the conflicts a caller can cause.
CONSTRAINT_CONFLICTS = {
    "uq_tiers_active_level": (
        "tier_level_taken",
        "The segment already has an active tier at this level.",
    ),
    "uq_tiers_one_popular": (
        "popular_tier_taken",
        "Another tier of the segment was flagged popular at the same time; try again.",
    ),
    "uq_segments_tenant_id_key": ("segment_key_taken", "Another segment already uses this key."),
    "uq_add_ons_tenant_id_key": ("add_on_key_taken", "Another add-on already uses this key."),
    "uq_tenants_slug": ("tenant_slug_taken", "Another tenant already uses this slug."),
}
#: SQLite names no constraint in its messages; it names the columns instead.
SQLITE_COLUMNS = {
    "tiers.tenant_id, tiers.segment_id, tiers.level": "uq_tiers_active_level",
    "tiers.tenant_id, tiers.segment_id": "uq_tiers_one_popular",  # after its longer prefix above
    "segments.tenant_id, segments.key": "uq_segments_tenant_id_key",
    "add_ons.tenant_id, add_ons.key": "uq_add_ons_tenant_id_key",
    "tenants.slug": "uq_tenants_slug",
}


def as_uuid(value: str | uuid.UUID) -> uuid.UUID | None:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def conflict_from(error: IntegrityError) -> Conflict:
    """Translate a unique-constraint violation into a Conflict with a stable code."""
    orig = error.orig
    name = getattr(getattr(orig, "diag", None), "constraint_name", None)
    if name is None:
        text = str(orig)
        name = next((c for cols, c in SQLITE_COLUMNS.items() if cols in text), None)
    code, message = CONSTRAINT_CONFLICTS.get(
        name or "", ("conflict", "The change conflicts with existing data.")
    )
    return Conflict(message, code=code)


def flush(session: Session) -> None:
    """Flush, turning constraint violations and stale versions into domain errors."""
    try:
        session.flush()
    except IntegrityError as error:
        session.rollback()
        raise conflict_from(error) from None
    except StaleDataError:
        session.rollback()
        raise PreconditionFailed(
            "The resource changed since it was read.", code="version_mismatch"
        ) from None


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int


def bump_catalog_version(session: Session, tenant_id: uuid.UUID) -> None:
    """Bump the tenant's catalog version in this transaction (cached snapshots key on it)."""
    session.execute(
        update(m.Tenant)
        .where(m.Tenant.id == tenant_id)
        .values(catalog_version=m.Tenant.catalog_version + 1)
        .execution_options(synchronize_session=False)
    )


class TenantRepository:
    """The base of a repository whose every method is scoped to one tenant."""

    def __init__(self, session: Session, tenant: domain.Tenant):
        self.session = session
        self.tenant = tenant
        self.tenant_id = uuid.UUID(tenant.id)

    def _row(self, model: type[Any], ref: str | uuid.UUID, what: str, *, lock: bool = False) -> Any:
        key = as_uuid(ref)
        row = self.session.get(model, (self.tenant_id, key), with_for_update=lock) if key else None
        if row is None:
            raise NotFound(
                f"{what} not found.", code=f"{what.replace(' ', '_').replace('-', '_')}_not_found"
            )
        return row

    def _page(self, stmt: Select[Any], offset: int, limit: int) -> tuple[Sequence[Any], int]:
        total = self.session.scalar(
            select(func.count()).select_from(stmt.order_by(None).subquery())
        )
        rows = self.session.scalars(stmt.offset(offset).limit(limit)).all()
        return rows, int(total or 0)

    def _changed(self) -> None:
        """What offers are priced with changed: cached catalog snapshots are stale."""
        bump_catalog_version(self.session, self.tenant_id)

    @staticmethod
    def _check_version(row: Any, expected_version: int | None) -> None:
        if expected_version is not None and row.version != expected_version:
            raise PreconditionFailed(
                "The resource changed since it was read; fetch it again.", code="version_mismatch"
            )

    def _update(self, row: Any, expected_version: int | None, changes: dict[str, Any]) -> None:
        self._check_version(row, expected_version)
        for name, value in changes.items():
            setattr(row, name, value)
        row.updated_at = m.utcnow()
        flush(self.session)
        self._changed()
