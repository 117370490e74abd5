"""The ``Cache`` contract (app/adapters/cache.py): the in-process cache of the embedded default and Redis
(behind its circuit breaker, closed while Redis answers) behave the same for every operation the
callers use."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from app.adapters.cache import Cache, MemoryCache, RedisCache
from tests.conftest import TEST_REDIS_URL


@pytest.fixture(params=["memory", "redis"])
def backend(request) -> Iterator[Cache]:
    if request.param == "memory":
        yield MemoryCache()
        return
    cache = RedisCache(TEST_REDIS_URL)
    cache._client.flushdb()
    yield cache
    cache._client.flushdb()
    cache._client.close()


def test_a_value_is_read_back_as_written_until_replaced_or_deleted(backend):
    assert backend.get("tw:k") is None
    backend.set("tw:k", b"\x00one", 60)
    assert backend.get("tw:k") == b"\x00one"
    backend.set("tw:k", b"two", 60)
    assert backend.get("tw:k") == b"two"
    backend.delete("tw:k")
    assert backend.get("tw:k") is None
    backend.delete("tw:k")  # deleting a missing key is no error


def test_incr_counts_from_zero_or_from_a_stored_number(backend):
    assert [backend.incr("tw:n"), backend.incr("tw:n")] == [1, 2]
    assert backend.get("tw:n") == b"2"
    backend.set("tw:m", b"41", 60)
    assert backend.incr("tw:m") == 42


def test_ping_answers(backend):
    assert backend.ping() is None
