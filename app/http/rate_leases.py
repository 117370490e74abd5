"""Leased fixed windows: a high rate limit counted in Redis without a round trip per request.

``limits``' fixed window counts a key's requests in one Redis counter that the first hit of the
window creates with the window's expiry (the window starts at that hit, not on the clock's
minute). Counting each request is one ``EVALSHA`` round trip. For a limit of ``LEASE_FROM`` or
more per window, a worker instead takes a *lease*: one ``INCRBY n`` on the same counter (same key,
same expiry) reserves ``n`` requests of the window, which the worker then admits from memory.
The counter only ever counts admitted or leased requests, and a lease admits only the part of it
at or below the limit, so all workers together **never admit more than the limit** per window.

The price is over-counting: tokens a worker leased but did not spend before the window ends are
lost to the other workers, so a key can be refused up to ``workers × threads × (n − 1)``
requests before it reached the limit (``n`` ≤ 1 % of the limit and at most ``LEASE_MAX``; the
threads of a worker that find its lease spent at once each take one; e.g. 60000/minute, two
workers of one thread: n = 100, refused at the earliest after 59,802). Below ``LEASE_FROM`` a lease is one
request: today's exact per-request check.

A lease ends with its window: its deadline is taken from the counter's remaining time to live
as Redis reports it, counted from the moment the request was sent, so it never outlives the
window in Redis. Once a lease took the counter to the limit (the window is used up), the worker
refuses the key from memory until the window ends, and answers the 429's ``RateLimit-*`` figures
from memory too.
A Redis error propagates as before: flask-limiter falls back to its in-process counters.

Worker state is guarded by one lock (gunicorn's ``--threads``); Redis is asked outside it.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from limits import RateLimitItem
from limits.storage import RedisStorage
from limits.strategies import FixedWindowRateLimiter
from limits.util import WindowStats

#: Limits of this many requests per window or more are leased; smaller ones are counted exactly.
LEASE_FROM = 1000
#: The most requests one lease reserves (a hundredth of the limit, up to this).
LEASE_MAX = 100
#: Forget ended windows once this many keys are held (then at twice the live count).
PRUNE_FROM = 1024

#: ``INCRBY`` the window's counter; give it the window's expiry if it has none (the first hit of
#: the window, as ``limits``' own script does); answer the count and the milliseconds left.
LEASE_SCRIPT = b"""
local count = redis.call("incrby", KEYS[1], ARGV[2])
local left = redis.call("pttl", KEYS[1])
if left < 0 then
    redis.call("expire", KEYS[1], ARGV[1])
    left = tonumber(ARGV[1]) * 1000
end
return {count, left}
"""


def lease_size(limit: int) -> int:
    """How many requests one lease reserves for a limit of ``limit`` per window."""
    if limit < LEASE_FROM:
        return 1
    return max(1, min(limit // 100, LEASE_MAX))


def granted(count: int, size: int, limit: int) -> int:
    """How many of a lease's ``size`` requests, which took the counter to ``count``, are within
    ``limit``: the lease holds the requests numbered ``count - size + 1`` .. ``count``."""
    return max(0, min(size, limit - (count - size)))


@dataclass
class Lease:
    """A worker's unspent requests of one key's window."""

    left: int
    ends: float  # time.monotonic() when the window ends in Redis (or before)
    resets_at: float  # the same, as time.time()
    used_up: bool  # the window's counter reached the limit: refuse until it ends


def absorb(stored: Lease | None, answer: Lease, sent: float) -> Lease:
    """The lease to keep once Redis answered a lease asked for at ``sent`` (``answer``: the
    requests it granted beyond the one asking, its window's end, whether it used the window up).

    With no live lease it is the answer. Else another thread leased meanwhile and both are
    counted in Redis, so their requests add up — but the answer may come from an *older* window
    (sent just before that window ended, answered after another thread leased the next one): the
    earlier end wins, so a late answer's requests and its used-up flag end with its own window
    instead of being spent in (or refusing) the next one."""
    if stored is None or sent >= stored.ends:
        return answer
    stored.ends = min(stored.ends, answer.ends)
    stored.resets_at = min(stored.resets_at, answer.resets_at)
    stored.left += answer.left
    stored.used_up = stored.used_up or answer.used_up
    return stored


class LeasedFixedWindow(FixedWindowRateLimiter):
    """``limits``' fixed window on Redis, leasing high limits in batches (module docstring)."""

    def __init__(self, storage: RedisStorage) -> None:
        super().__init__(storage)
        self.redis_storage = storage
        self.script = storage.get_connection().register_script(LEASE_SCRIPT)
        self.lock = threading.Lock()
        self.leases: dict[str, Lease] = {}
        self.prune_at = PRUNE_FROM

    def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        size = lease_size(item.amount)
        if size == 1 or cost != 1:
            return super().hit(item, *identifiers, cost=cost)
        key = item.key_for(*identifiers)
        now = time.monotonic()
        with self.lock:
            lease = self.leases.get(key)
            if lease is not None and now < lease.ends:
                if lease.left > 0:
                    lease.left -= 1
                    return True
                if lease.used_up:
                    return False
        return self._lease(key, item, size)

    def _lease(self, key: str, item: RateLimitItem, size: int) -> bool:
        sent, sent_at = time.monotonic(), time.time()
        reply: Any = self.script([self.redis_storage.prefixed_key(key)], [item.get_expiry(), size])
        count, left_ms = int(reply[0]), int(reply[1])
        admitted = granted(count, size, item.amount)
        answer = Lease(max(0, admitted - 1), sent + left_ms / 1000, sent_at + left_ms / 1000, False)
        answer.used_up = count >= item.amount
        with self.lock:
            stored = self.leases.get(key)
            kept = absorb(stored, answer, sent)
            if kept is not stored:
                self._keep(key, kept, sent)
        return admitted > 0

    def _keep(self, key: str, lease: Lease, now: float) -> None:
        self.leases[key] = lease
        if len(self.leases) >= self.prune_at:
            self.leases = {k: v for k, v in self.leases.items() if now < v.ends}
            self.prune_at = max(PRUNE_FROM, 2 * len(self.leases))

    def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        """A used-up leased window's figures from memory (a 429's headers); else Redis's."""
        if lease_size(item.amount) > 1:
            with self.lock:
                lease = self.leases.get(item.key_for(*identifiers))
                if lease is not None and lease.used_up and time.monotonic() < lease.ends:
                    return WindowStats(lease.resets_at, 0)
        return super().get_window_stats(item, *identifiers)

    def clear(self, item: RateLimitItem, *identifiers: str) -> None:
        with self.lock:
            self.leases.pop(item.key_for(*identifiers), None)
        super().clear(item, *identifiers)
