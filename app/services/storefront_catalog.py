"""The storefront's catalog reads (segments list, tier comparison) served from the tenant's catalog
snapshot: the tenant's current ``catalog_version`` (kept by the worker until PostgreSQL announces a
change, ``storage.availability_cache``; else one short round trip), then the snapshot of that
version from the process LRU (``app/adapters/snapshots.py``), where offers find it too.

They answer what ``catalog.storefront_segments`` and ``catalog.tier_comparison`` read from the
catalog tables (tests hold the two paths equal), without the ORM session, the page count and the
row mapping of every request. The version they are served at is the response's ETag: every
catalog change bumps it in its own transaction, so a read after an acknowledged change never
answers the snapshot it replaced.
"""

from __future__ import annotations

from app.services.offers import OfferContext
from pricing import catalog as domain
from pricing.errors import NotFound
from storage.repository import as_uuid


def current_snapshot(ctx: OfferContext, tenant: domain.Tenant) -> domain.CatalogSnapshot:
    """The catalog as of the tenant's current version (or newer: a snapshot loaded on a miss
    carries the version it was read at, ``snapshot.catalog_version``)."""
    return ctx.snapshots.get(tenant.id, ctx.counts.catalog_version(tenant.id))


def segments(snapshot: domain.CatalogSnapshot) -> list[domain.Segment]:
    """Active segments in display order (position, then key), as the snapshot keeps them."""
    return list(snapshot.segments)


def comparison(snapshot: domain.CatalogSnapshot, segment_ref: str) -> domain.TierComparison:
    """The comparison of an active segment (by id, else by key) of the snapshot: its active tiers
    and the active add-ons, prices not yet rule-adjusted. 404 ``segment_not_found`` for a segment
    that is not active or not there."""
    key = as_uuid(segment_ref)
    segment = next((s for s in snapshot.segments if key and s.id == str(key)), None)
    if segment is None:
        segment = next((s for s in snapshot.segments if s.key == segment_ref), None)
    if segment is None:
        raise NotFound("segment not found.", code="segment_not_found")
    tiers = snapshot.tiers_of(segment.id)
    return domain.compare_tiers(segment, snapshot.tenant.currency, tiers, list(snapshot.add_ons))
