"""The per-process cache of storefront keys: expiry, forgetting, disabled with ttl 0."""

from __future__ import annotations

from app.adapters.credentials import ApiKeyCache
from pricing.catalog import Tenant
from storage.tenants import StoredApiKey
from tests.support.timing import Clock


def stored(tenant_id: str) -> StoredApiKey:
    return StoredApiKey(Tenant(tenant_id, tenant_id, tenant_id, "EUR", "UTC"), "hash", False)


def test_entries_expire_after_the_ttl():
    clock = Clock()
    cache = ApiKeyCache(2, clock)
    cache.put("tw_pk_1", stored("t1"))
    clock.now += 1.99
    assert cache.get("tw_pk_1") == stored("t1")
    clock.now += 0.02
    assert cache.get("tw_pk_1") is None


def test_forget_by_prefix_and_by_tenant():
    cache = ApiKeyCache(60, Clock())
    cache.put("a", stored("t1"))
    cache.put("b", stored("t1"))
    cache.put("c", stored("t2"))
    cache.forget(prefix="a")
    assert (cache.get("a"), cache.get("b") is not None) == (None, True)
    cache.forget(tenant_id="t1")
    assert cache.get("b") is None
    assert cache.get("c") == stored("t2")


def test_a_zero_ttl_caches_nothing_and_the_size_is_bounded():
    disabled = ApiKeyCache(0, Clock())
    disabled.put("a", stored("t1"))
    assert disabled.get("a") is None
    small = ApiKeyCache(60, Clock(), max_entries=2)
    for prefix in ("a", "b", "c"):
        small.put(prefix, stored("t1"))
    assert len(small._entries) <= 2 and small.get("c") is not None
