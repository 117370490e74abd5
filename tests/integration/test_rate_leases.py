"""Leased fixed windows (app/http/rate_leases.py) against real Redis: two limiters sharing one
Redis stand for two workers, threads for gunicorn's ``--threads``."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from limits import RateLimitItemPerMinute, RateLimitItemPerSecond
from limits.storage import RedisStorage

from app.http.rate_leases import Lease, LeasedFixedWindow, absorb, granted, lease_size
from tests.support.databases import TEST_REDIS_URL


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


def worker() -> LeasedFixedWindow:
    return LeasedFixedWindow(RedisStorage(TEST_REDIS_URL))


def counter(client: redis.Redis, limiter: LeasedFixedWindow, item, key: str) -> int:
    return int(client.get(limiter.redis_storage.prefixed_key(item.key_for(key))) or 0)


def test_lease_sizes_and_grants():
    assert [lease_size(n) for n in (1, 5, 999, 1000, 2000, 60000, 10**6)] == [
        1,
        1,
        1,
        10,
        20,
        100,
        100,
    ]
    # a lease of 20 that took the counter to 2,010 holds requests 1,991..2,010: ten are within
    assert granted(2010, 20, 2000) == 10
    assert granted(40, 20, 2000) == 20
    assert granted(2020, 20, 2000) == 0 and granted(5000, 20, 2000) == 0


def test_requests_within_a_lease_do_not_ask_redis(client):
    limiter, item, key = worker(), RateLimitItemPerMinute(2000), f"k-{uuid.uuid4()}"
    assert limiter.hit(item, key)
    assert counter(client, limiter, item, key) == 20  # one lease of 20
    for _ in range(19):
        assert limiter.hit(item, key)
    assert counter(client, limiter, item, key) == 20  # spent from memory: no INCRBY
    assert limiter.hit(item, key)
    assert counter(client, limiter, item, key) == 40
    # the counter expires with the window, as limits' own fixed window does
    ttl = client.ttl(limiter.redis_storage.prefixed_key(item.key_for(key)))
    assert 0 < ttl <= 60


def test_small_limits_are_counted_exactly_per_request(client):
    first, second = worker(), worker()
    item, key = RateLimitItemPerMinute(5), f"k-{uuid.uuid4()}"
    answers = [limiter.hit(item, key) for limiter in (first, second) * 3]
    assert answers == [True] * 5 + [False]
    assert counter(client, first, item, key) == 6


def test_two_workers_with_threads_never_admit_more_than_the_limit(client):
    workers = [worker(), worker()]
    item, key, other = RateLimitItemPerMinute(2000), f"k-{uuid.uuid4()}", f"k-{uuid.uuid4()}"
    admitted = [0] * 8
    start = threading.Barrier(8)

    def flood(number: int) -> None:
        limiter = workers[number % 2]
        start.wait()
        admitted[number] = sum(limiter.hit(item, key) for _ in range(300))  # 2,400 in all

    threads = [threading.Thread(target=flood, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # never more than the limit; short of it by at most the unspent leased tokens: n − 1 per
    # lease in flight at once, one per thread (two workers of four threads)
    assert 2000 - 2 * 4 * 19 <= sum(admitted) <= 2000
    assert all(not limiter.hit(item, key) for limiter in workers)
    # another key's window is its own
    assert all(limiter.hit(item, other) for limiter in workers)


def test_a_used_up_window_is_refused_from_memory_until_it_ends(client):
    limiter, item, key = worker(), RateLimitItemPerSecond(1000, 3), f"k-{uuid.uuid4()}"
    admitted = 0
    while limiter.hit(item, key):
        admitted += 1
    assert admitted == 1000  # one worker spends every token it leased
    assert counter(client, limiter, item, key) == 1000
    # refused without asking Redis: the counter stays put, and the 429's figures come from memory
    assert not limiter.hit(item, key)
    assert counter(client, limiter, item, key) == 1000
    stats = limiter.get_window_stats(item, key)
    assert stats.remaining == 0 and time.time() < stats.reset_time <= time.time() + 3
    # the next window starts fresh: admitted again once Redis's counter expired
    deadline = time.monotonic() + 10
    while not limiter.hit(item, key):
        assert time.monotonic() < deadline, "the window never ended"
        time.sleep(0.05)
    assert counter(client, limiter, item, key) == 10  # a new window's first lease


def test_a_lease_ends_no_later_than_its_window_in_redis(client):
    limiter, item, key = worker(), RateLimitItemPerMinute(2000), f"k-{uuid.uuid4()}"
    assert limiter.hit(item, key)
    left_ms = client.pttl(limiter.redis_storage.prefixed_key(item.key_for(key)))
    now = time.monotonic()
    lease = limiter.leases[item.key_for(key)]
    # the lease's deadline counts Redis' time to live from before the request was sent
    assert now < lease.ends <= now + left_ms / 1000 + 0.002  # Redis rounds to the millisecond


def test_a_late_answer_from_the_previous_window_is_not_spent_in_the_next():
    """Thread A asks for a lease just before window 1 ends and is answered late; meanwhile
    thread B leased window 2 (ends at 120). A's answer (window 1, ended at 60, used up) must
    neither add its requests to window 2 nor refuse window 2 from memory."""
    window_2 = Lease(left=99, ends=120.0, resets_at=1120.0, used_up=False)
    late = Lease(left=42, ends=60.0, resets_at=1060.0, used_up=True)

    kept = absorb(window_2, late, sent=59.9)

    assert kept.ends <= 60.0  # ended with A's window: at 60.1 the next request leases afresh
    assert kept.resets_at <= 1060.0


def test_answers_of_one_window_add_up_and_a_new_window_replaces_an_ended_one():
    stored = Lease(left=10, ends=60.0, resets_at=1060.0, used_up=False)
    same = Lease(left=5, ends=60.01, resets_at=1060.01, used_up=True)
    kept = absorb(stored, same, sent=30.0)
    assert (kept.left, kept.used_up, kept.ends) == (15, True, 60.0)

    fresh = Lease(left=7, ends=125.0, resets_at=1125.0, used_up=False)
    assert absorb(kept, fresh, sent=65.0) is fresh  # sent after the stored window ended
    assert absorb(None, fresh, sent=65.0) is fresh
