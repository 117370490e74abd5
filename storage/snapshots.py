"""Catalog snapshots: loaded from the database, serialised for the cache."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from pricing import catalog as domain
from pricing.money import Money
from storage import models as m
from storage.catalog import CatalogRepository


def load_snapshot(session: Session, tenant: domain.Tenant) -> domain.CatalogSnapshot:
    """The catalog as of now, labelled with the catalog version read in the same transaction."""
    version = session.scalar(
        select(m.Tenant.catalog_version).where(m.Tenant.id == uuid.UUID(tenant.id))
    )
    repo = CatalogRepository(session, tenant)
    segments = repo.list_segments(status="active", offset=0, limit=10_000).items
    tiers = [t for s in segments for t in repo.tiers_of_segment(s.id, active_only=True)]
    return domain.CatalogSnapshot(
        tenant.id, int(version or 0), tuple(segments), tuple(tiers), tuple(repo.active_add_ons())
    )


def _money(m: Money) -> list[Any]:
    return [m.amount, m.currency]


def dumps(snapshot: domain.CatalogSnapshot) -> bytes:
    data = {
        "tenant_id": snapshot.tenant_id,
        "catalog_version": snapshot.catalog_version,
        "segments": [[s.id, s.key, s.name, s.position, s.status, s.version] for s in snapshot.segments],
        "tiers": [
            {
                "id": t.id, "segment_id": t.segment_id, "level": t.level, "name": t.name,
                "description": t.description, "base_price": _money(t.base_price),
                "per_guest_price": _money(t.per_guest_price), "max_guests": t.max_guests,
                "features": [[f.key, f.label, f.value] for f in t.features], "popular": t.popular,
                "upsell_target_ids": list(t.upsell_target_ids), "photos": list(t.photos),
                "status": t.status, "version": t.version,
                "price_floor": t.price_floor, "price_ceiling": t.price_ceiling,
            }
            for t in snapshot.tiers
        ],
        "add_ons": [
            [a.id, a.key, a.name, a.pricing, _money(a.price), list(a.tier_ids), a.status, a.version]
            for a in snapshot.add_ons
        ],
    }  # fmt: skip
    return json.dumps(data, separators=(",", ":")).encode()


def loads(raw: bytes) -> domain.CatalogSnapshot:
    data = json.loads(raw)
    tiers = tuple(
        domain.Tier(
            id=t["id"], segment_id=t["segment_id"], level=t["level"], name=t["name"],
            description=t["description"], base_price=Money(*t["base_price"]),
            per_guest_price=Money(*t["per_guest_price"]), max_guests=t["max_guests"],
            features=tuple(domain.Feature(*f) for f in t["features"]), popular=t["popular"],
            upsell_target_ids=tuple(t["upsell_target_ids"]), photos=tuple(t["photos"]),
            status=t["status"], version=t["version"],
            price_floor=t["price_floor"], price_ceiling=t["price_ceiling"],
        )
        for t in data["tiers"]
    )  # fmt: skip
    return domain.CatalogSnapshot(
        data["tenant_id"],
        data["catalog_version"],
        tuple(domain.Segment(*s) for s in data["segments"]),
        tiers,
        tuple(
            domain.AddOn(i, k, n, p, Money(*price), tuple(tids), st, v)
            for i, k, n, p, price, tids, st, v in data["add_ons"]
        ),
    )
