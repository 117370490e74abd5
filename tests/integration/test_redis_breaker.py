"""The circuit breaker in front of Redis (app/adapters/cache.py, issue 14), against a private
redis-server frozen with SIGSTOP: a frozen Redis costs one socket timeout, then calls are skipped
at once for the cool-down (callers treat that as a miss: the database serves), one trial call
goes through after it, and a thawed Redis is used again.

The cool-down runs on a clock the test moves (no waiting); what is asserted is behaviour (which
error, how many calls met the socket, the breaker's state), never elapsed time: timings belong in
bench/faults_bench.py."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator

import pytest
import redis

from app import create_app
from app.adapters.cache import BREAKER_COOL_DOWN_SECONDS, Breaker, CacheUnavailable, RedisCache
from tests.support.dates import find_day
from tests.support.private_servers import PrivateRedis, private_redis
from tests.support.storefront import ok_offers
from tests.support.timing import Clock


@pytest.fixture
def server() -> Iterator[PrivateRedis]:
    with private_redis() as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache(server, clock) -> Iterator[RedisCache]:
    """(Overrides the shared Redis of tests/conftest.py: this one may be frozen.)"""
    cache = RedisCache(server.url, clock=clock)
    yield cache
    cache._client.close()


def calls(cache: RedisCache) -> list:
    """One of each cache operation."""
    return [
        lambda: cache.get("k"),
        lambda: cache.set("k", b"v", 60),
        lambda: cache.delete("k"),
        lambda: cache.incr("n"),
        cache.ping,
    ]


def trip(cache: RedisCache, server: PrivateRedis) -> None:
    """Freeze Redis and meet it once: the one call that waits for its socket timeout."""
    server.freeze()
    with pytest.raises(redis.TimeoutError):
        cache.get("k")
    assert (cache.breaker.state, cache.breaker.failures) == (Breaker.OPEN, 1)


def test_a_frozen_redis_costs_one_timeout_then_every_call_is_skipped(cache, server):
    cache.set("k", b"v", 60)
    assert cache.get("k") == b"v"
    assert cache.breaker.state == Breaker.CLOSED

    trip(cache, server)
    for _ in range(10):
        for call in calls(cache):
            with pytest.raises(CacheUnavailable):
                call()

    assert cache.breaker.failures == 1  # no call but the first reached the socket
    assert cache.breaker.skipped == 10 * len(calls(cache))
    assert cache.breaker.state == Breaker.OPEN


def test_after_the_cool_down_one_trial_call_goes_through(cache, server, clock):
    """Still frozen: the trial times out and opens the breaker for another cool-down."""
    trip(cache, server)
    clock.now += BREAKER_COOL_DOWN_SECONDS - 0.001
    with pytest.raises(CacheUnavailable):
        cache.get("k")

    clock.now += 0.001
    with pytest.raises(redis.TimeoutError):
        cache.get("k")  # the trial
    assert (cache.breaker.state, cache.breaker.failures) == (Breaker.OPEN, 2)
    with pytest.raises(CacheUnavailable):
        cache.get("k")


def test_only_one_thread_makes_the_trial(cache, server, clock):
    """Threads arriving together after the cool-down: one trial meets the frozen socket, the
    others are skipped (they arrive while it waits, or after it reopened the breaker)."""
    trip(cache, server)
    clock.advance(BREAKER_COOL_DOWN_SECONDS)
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def one() -> None:
        barrier.wait(timeout=10)
        try:
            cache.get("k")
            outcomes.append("answered")
        except (redis.TimeoutError, CacheUnavailable) as error:
            outcomes.append(type(error).__name__)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)

    assert sorted(outcomes) == ["CacheUnavailable"] * 7 + ["TimeoutError"]
    assert cache.breaker.failures == 2


def test_a_thawed_redis_is_used_again_after_the_cool_down(cache, server, clock):
    cache.set("k", b"v", 60)
    trip(cache, server)
    server.thaw()
    with pytest.raises(CacheUnavailable):  # answering again, but not tried before the cool-down
        cache.get("k")

    clock.advance(BREAKER_COOL_DOWN_SECONDS)
    assert cache.get("k") == b"v"  # the trial, answered: closed
    assert cache.breaker.state == Breaker.CLOSED
    assert cache.incr("n") == 1 and cache.get("n") == b"1"
    assert cache.breaker.failures == 1


def test_an_outage_is_logged_once_and_so_is_the_recovery(cache, server, clock, caplog):
    with caplog.at_level(logging.INFO, logger="app.adapters.cache"):
        trip(cache, server)
        for _ in range(20):
            with pytest.raises(CacheUnavailable):
                cache.get("k")
        clock.advance(BREAKER_COOL_DOWN_SECONDS)
        with pytest.raises(redis.TimeoutError):
            cache.get("k")  # a failed trial: the same outage
        server.thaw()
        clock.advance(BREAKER_COOL_DOWN_SECONDS)
        cache.get("k")
        cache.get("k")

    messages = [r.getMessage() for r in caplog.records if r.name == "app.adapters.cache"]
    assert len(messages) == 2, messages
    assert "unreachable (TimeoutError)" in messages[0]
    assert "answers again" in messages[1]


def test_offers_keep_their_prices_while_redis_is_frozen(
    settings, db, tenant_a, cache, server, clock, caplog
):
    """Each app stands for a new worker process (an empty in-process snapshot and rules state),
    so every one of them asks the shared cache first. Frozen: the first meets the timeout, the
    next is skipped at once, both priced from the database; thawed, after the cool-down, the
    next is served from Redis again. Skipped calls are not logged one by one (the breaker logs
    the outage once)."""
    fx = tenant_a
    day = find_day(10, weekend=True)
    prices = [13200, 24200, 37180]  # tests/api/test_offers.py, the same tenant and query

    def offer_totals() -> list[int]:
        client = create_app(settings, db=db, cache=cache).test_client()
        body = ok_offers(client, fx, day, guests=2, add_ons="breakfast")
        return [o["price"]["total"] for o in body["offers"]]

    assert offer_totals() == prices  # Redis now holds the catalog snapshot
    server.freeze()
    with caplog.at_level(logging.INFO):
        assert offer_totals() == prices
        assert (cache.breaker.state, cache.breaker.failures) == (Breaker.OPEN, 1)
        skipped = cache.breaker.skipped
        assert offer_totals() == prices
    assert cache.breaker.failures == 1 and cache.breaker.skipped > skipped
    assert not [r.getMessage() for r in caplog.records if "CacheUnavailable" in r.getMessage()]

    server.thaw()
    clock.advance(BREAKER_COOL_DOWN_SECONDS)
    assert offer_totals() == prices
    assert cache.breaker.state == Breaker.CLOSED
    assert cache.breaker.failures == 1
