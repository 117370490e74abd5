"""Catalog snapshots for offers: a small in-process LRU, then the shared cache (Redis), then the
database. Keys carry the tenant's ``catalog_version``, which every catalog change bumps in its own
transaction, so a snapshot is never served after the edit that replaced it was acknowledged. A
cache failure is a miss: with Redis down, offers are still correct (from the database)."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import OrderedDict

from app.adapters import metrics
from app.adapters.cache import Cache, CacheUnavailable
from pricing import catalog as domain
from storage import snapshots
from storage.db import Database

log = logging.getLogger(__name__)
TTL_SECONDS = 3600


#: The layout of a cached snapshot (``storage.snapshots.dumps``); part of the key, so that a
#: process never reads another layout's entry (2: segments carry their theme).
LAYOUT = 2


def snapshot_key(tenant_id: str, catalog_version: int) -> str:
    return f"tw:catalog:{tenant_id}:{catalog_version}:{LAYOUT}"


class SnapshotCache:
    def __init__(self, db: Database, cache: Cache, capacity: int = 512) -> None:
        self.db = db
        self.cache = cache
        self.capacity = capacity
        self._local: OrderedDict[tuple[str, int], domain.CatalogSnapshot] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tenant_id: str, catalog_version: int) -> domain.CatalogSnapshot:
        """The snapshot of ``catalog_version`` (read in the caller's transaction), or newer."""
        key = (tenant_id, catalog_version)
        with self._lock:
            found = self._local.get(key)
            if found is not None:
                self._local.move_to_end(key)
                metrics.cache_hit("catalog_process").inc()
                return found
        metrics.cache_miss("catalog_process").inc()
        snapshot = self._shared(tenant_id, catalog_version)
        with self._lock:
            self._local[key] = snapshot
            while len(self._local) > self.capacity:
                self._local.popitem(last=False)
        return snapshot

    def _shared(self, tenant_id: str, catalog_version: int) -> domain.CatalogSnapshot:
        key = snapshot_key(tenant_id, catalog_version)
        try:
            raw = self.cache.get(key)
        except CacheUnavailable:  # skipped while its breaker is open (which logged the outage)
            raw = None
        except Exception as error:  # the cache is an optimisation; the database is the truth
            log.warning("catalog cache unavailable: %s", type(error).__name__)
            raw = None
        if raw is not None:
            metrics.cache_hit("catalog_shared").inc()
            return snapshots.loads(raw)
        metrics.cache_miss("catalog_shared").inc()
        with self.db.transaction() as session:
            snapshot = snapshots.load_snapshot(session, tenant_id)
        with contextlib.suppress(Exception):  # under the version it really is
            self.cache.set(
                snapshot_key(tenant_id, snapshot.catalog_version),
                snapshots.dumps(snapshot),
                TTL_SECONDS,
            )
        return snapshot
