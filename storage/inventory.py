"""Inventory repository: the capacity and blackouts of one tenant's tiers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select

from storage import models as m
from storage.repository import Page, TenantRepository, flush


class InventoryRepository(TenantRepository):
    # -- capacity
    def capacity(self, tier_id: str, start: dt.date, end: dt.date) -> dict[dt.date, int]:
        """Explicit capacity rows of a tier between two dates (inclusive)."""
        tier = self._row(m.Tier, tier_id, "tier")
        rows = self.session.execute(
            select(m.Capacity.service_date, m.Capacity.units).where(
                m.Capacity.tenant_id == self.tenant_id,
                m.Capacity.tier_id == tier.id,
                m.Capacity.service_date.between(start, end),
            )
        ).all()
        return {d: u for d, u in rows}

    def set_capacity(self, tier_id: str, dates: list[dt.date], units: int) -> None:
        tier = self._row(m.Tier, tier_id, "tier", lock=True)
        existing = {
            r.service_date: r
            for r in self.session.scalars(
                select(m.Capacity).where(
                    m.Capacity.tenant_id == self.tenant_id,
                    m.Capacity.tier_id == tier.id,
                    m.Capacity.service_date.in_(dates),
                )
            )
        }
        for day in dates:
            row = existing.get(day)
            if row is None:
                self.session.add(
                    m.Capacity(
                        tenant_id=self.tenant_id, tier_id=tier.id, service_date=day, units=units
                    )
                )
            else:
                row.units = units
                row.updated_at = m.utcnow()
        flush(self.session)
        self._changed()

    def clear_capacity(self, tier_id: str, start: dt.date, end: dt.date) -> int:
        """Remove the explicit capacity of these dates (through the ORM, so that each removed day
        is in the change log); how many there were."""
        tier = self._row(m.Tier, tier_id, "tier", lock=True)
        rows = self.session.scalars(
            select(m.Capacity).where(
                m.Capacity.tenant_id == self.tenant_id,
                m.Capacity.tier_id == tier.id,
                m.Capacity.service_date.between(start, end),
            )
        ).all()
        for row in rows:
            self.session.delete(row)
        flush(self.session)
        self._changed()
        return len(rows)

    # -- blackouts
    def list_blackouts(
        self,
        *,
        start: dt.date | None,
        end: dt.date | None,
        tier_id: str | None,
        offset: int,
        limit: int,
    ) -> Page[dict[str, Any]]:
        stmt = select(m.Blackout).where(m.Blackout.tenant_id == self.tenant_id)
        if start:
            stmt = stmt.where(m.Blackout.service_date >= start)
        if end:
            stmt = stmt.where(m.Blackout.service_date <= end)
        if tier_id:
            stmt = stmt.where(m.Blackout.tier_id == self._row(m.Tier, tier_id, "tier").id)
        rows, total = self._page(
            stmt.order_by(m.Blackout.service_date, m.Blackout.id), offset, limit
        )
        return Page([_blackout(r) for r in rows], total)

    def add_blackouts(
        self, dates: list[dt.date], tier_id: str | None, reason: str
    ) -> list[dict[str, Any]]:
        """Close ``dates`` (idempotent: dates already closed the same way are kept as they are)."""
        tier_key = self._row(m.Tier, tier_id, "tier").id if tier_id else None
        cond = m.Blackout.tier_id == tier_key if tier_key else m.Blackout.tier_id.is_(None)
        existing = {
            r.service_date: r
            for r in self.session.scalars(
                select(m.Blackout).where(
                    m.Blackout.tenant_id == self.tenant_id, cond, m.Blackout.service_date.in_(dates)
                )
            )
        }
        rows = []
        for day in dates:
            row = existing.get(day)
            if row is None:
                row = m.Blackout(
                    tenant_id=self.tenant_id, tier_id=tier_key, service_date=day, reason=reason
                )
                self.session.add(row)
            rows.append(row)
        flush(self.session)
        self._changed()
        return [_blackout(r) for r in rows]

    def delete_blackout(self, blackout_id: str) -> None:
        row = self._row(m.Blackout, blackout_id, "blackout")
        self.session.delete(row)
        flush(self.session)
        self._changed()


def _blackout(row: m.Blackout) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "tier_id": str(row.tier_id) if row.tier_id else None,
        "date": row.service_date,
        "reason": row.reason,
    }
