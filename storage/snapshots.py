"""Catalog snapshots: loaded from the database, serialised for the cache."""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Any

from sqlalchemy.orm import Session

from pricing import catalog as domain
from pricing.errors import NotFound
from pricing.money import Money
from storage import models as m
from storage.catalog import CatalogRepository, tenant_value
from storage.experiments import ExperimentRepository, from_record, to_record


def load_snapshot(session: Session, tenant_id: str) -> domain.CatalogSnapshot:
    """The catalog as of now, labelled with the catalog version read in the same transaction."""
    row = session.get(m.Tenant, uuid.UUID(tenant_id))
    if row is None:
        raise NotFound("tenant not found.", code="tenant_not_found")
    tenant = tenant_value(row)
    repo = CatalogRepository(session, tenant)
    segments = repo.list_segments(status="active", offset=0, limit=10_000).items
    tiers = [t for s in segments for t in repo.tiers_of_segment(s.id, active_only=True)]
    return domain.CatalogSnapshot(
        tenant,
        tenant.catalog_version,
        tuple(segments),
        tuple(tiers),
        tuple(repo.active_add_ons()),
        tuple(ExperimentRepository(session, tenant_id).live()),
    )


def _money(m: Money) -> list[Any]:
    return [m.amount, m.currency]


def dumps(snapshot: domain.CatalogSnapshot) -> bytes:
    data = {
        "tenant": dataclasses.asdict(snapshot.tenant),
        "catalog_version": snapshot.catalog_version,
        "segments": [
            [s.id, s.key, s.name, s.position, s.status, s.version, dataclasses.asdict(s.theme)]
            for s in snapshot.segments
        ],
        "tiers": [
            {
                "id": t.id,
                "segment_id": t.segment_id,
                "level": t.level,
                "name": t.name,
                "description": t.description,
                "base_price": _money(t.base_price),
                "per_guest_price": _money(t.per_guest_price),
                "max_guests": t.max_guests,
                "features": [[f.key, f.label, f.value] for f in t.features],
                "popular": t.popular,
                "upsell_target_ids": list(t.upsell_target_ids),
                "photos": list(t.photos),
                "status": t.status,
                "version": t.version,
                "price_floor": t.price_floor,
                "price_ceiling": t.price_ceiling,
            }
            for t in snapshot.tiers
        ],
        "add_ons": [
            [a.id, a.key, a.name, a.pricing, _money(a.price), list(a.tier_ids), a.status, a.version]
            for a in snapshot.add_ons
        ],
        "experiments": [to_record(e) for e in snapshot.experiments],
    }
    return json.dumps(data, separators=(",", ":")).encode()


def loads(raw: bytes) -> domain.CatalogSnapshot:
    data = json.loads(raw)
    tiers = tuple(
        domain.Tier(
            id=t["id"],
            segment_id=t["segment_id"],
            level=t["level"],
            name=t["name"],
            description=t["description"],
            base_price=Money(*t["base_price"]),
            per_guest_price=Money(*t["per_guest_price"]),
            max_guests=t["max_guests"],
            features=tuple(domain.Feature(*f) for f in t["features"]),
            popular=t["popular"],
            upsell_target_ids=tuple(t["upsell_target_ids"]),
            photos=tuple(t["photos"]),
            status=t["status"],
            version=t["version"],
            price_floor=t["price_floor"],
            price_ceiling=t["price_ceiling"],
        )
        for t in data["tiers"]
    )
    return domain.CatalogSnapshot(
        domain.Tenant(**data["tenant"]),
        data["catalog_version"],
        tuple(
            domain.Segment(s[0], s[1], s[2], s[3], s[4], s[5], domain.SegmentTheme(**s[6]))
            for s in data["segments"]
        ),
        tiers,
        tuple(
            domain.AddOn(i, k, n, p, Money(*price), tuple(tids), st, v)
            for i, k, n, p, price, tids, st, v in data["add_ons"]
        ),
        tuple(from_record(e) for e in data["experiments"]),
    )
