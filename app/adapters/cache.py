"""Cache backends chosen by configuration: Redis, or an in-process dict for the embedded default.

Both have the same small interface; callers treat a cache failure as a miss (the database stays the
source of truth), so the service keeps answering correctly when Redis is down, and, thanks to the
circuit breaker in front of Redis (``Breaker``), about as fast when Redis hangs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

log = logging.getLogger(__name__)


class Cache(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes, ttl_seconds: int) -> None: ...
    def delete(self, key: str) -> None: ...
    def incr(self, key: str) -> int: ...
    def ping(self) -> None: ...


class MemoryCache:
    """Thread-safe in-process cache with per-key expiry (embedded mode, tests of the contract)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._data: dict[str, tuple[float, bytes]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def get(self, key: str) -> bytes | None:
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            expires, value = item
            if expires <= self._clock():
                del self._data[key]
                return None
            return value

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        with self._lock:
            self._data[key] = (self._clock() + ttl_seconds, value)

    def delete(self, key: str) -> None:
        with self._lock:
            self._data.pop(key, None)

    def incr(self, key: str) -> int:
        with self._lock:
            _, value = self._data.get(key, (0.0, b"0"))
            new = int(value) + 1
            self._data[key] = (float("inf"), str(new).encode())
            return new

    def ping(self) -> None:
        return None


#: After a Redis timeout or connection error, for how long every cache call skips Redis (fails at
#: once with CacheUnavailable, which callers treat as a miss: the database serves) before one trial
#: call tries it again. A frozen Redis then costs one socket timeout per cool-down instead of one
#: per call, and a recovered one is used again within this.
BREAKER_COOL_DOWN_SECONDS = 2.0

T = TypeVar("T")


class CacheUnavailable(Exception):
    """The cache is skipped for a while after a failure (its breaker is open): a miss."""


class Breaker:
    """A circuit breaker in front of one cache server, shared by every thread of the process.

    * ``closed``: calls go through; a call failing with one of ``trips`` (a timeout, a refused
      or broken connection) opens it.
    * ``open``: for ``cool_down_seconds`` every call raises :class:`CacheUnavailable` at once,
      without touching the socket.
    * ``half_open``: the first call after the cool-down goes through as the trial, the others
      still fail at once; an answer (even an error reply) closes the breaker, another failure
      opens it for another cool-down.

    Logged once per outage, not per call: a warning when it opens from ``closed``, an info line
    when it closes again. ``failures`` and ``skipped`` count the calls that met a failure
    and the calls that were not made."""

    CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"

    def __init__(
        self,
        name: str,
        trips: tuple[type[BaseException], ...],
        cool_down_seconds: float = BREAKER_COOL_DOWN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.trips = trips
        self.cool_down_seconds = cool_down_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._opened_at = 0.0
        self.state = self.CLOSED
        self.failures = 0
        self.skipped = 0

    def call(self, operation: Callable[[], T]) -> T:
        """``operation()``, unless the breaker is open (then CacheUnavailable)."""
        self._admit()
        try:
            result = operation()
        except self.trips as error:
            self._failed(error)
            raise
        finally:
            if self.state == self.HALF_OPEN:  # (read without the lock: the common case is closed)
                self._answered()
        return result

    def _admit(self) -> None:
        if self.state == self.CLOSED:
            return
        with self._lock:
            if self.state == self.CLOSED:
                return
            if (
                self.state == self.OPEN
                and self._clock() - self._opened_at >= self.cool_down_seconds
            ):
                self.state = self.HALF_OPEN  # this call is the trial
                return
            self.skipped += 1
        raise CacheUnavailable(f"{self.name} is skipped after a failure")

    def _failed(self, error: BaseException) -> None:
        with self._lock:
            self.failures += 1
            was = self.state
            self.state = self.OPEN
            self._opened_at = self._clock()
        if was == self.CLOSED:
            log.warning(
                "%s unreachable (%s): skipped for %.1f s at a time until it answers a trial call",
                self.name,
                type(error).__name__,
                self.cool_down_seconds,
            )

    def _answered(self) -> None:
        with self._lock:
            if self.state != self.HALF_OPEN:
                return
            self.state = self.CLOSED
        log.info("%s answers again: back in use", self.name)


class RedisCache:
    """Redis with short socket timeouts (0.25 s), behind a :class:`Breaker`: after a timeout or a
    connection error, calls fail at once with :class:`CacheUnavailable` for
    ``cool_down_seconds`` instead of each waiting for its own timeout."""

    def __init__(
        self,
        url: str,
        *,
        timeout_seconds: float = 0.25,
        cool_down_seconds: float = BREAKER_COOL_DOWN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        import redis

        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
        )
        self.breaker = Breaker(
            "redis cache", (redis.ConnectionError, redis.TimeoutError), cool_down_seconds, clock
        )

    def get(self, key: str) -> bytes | None:
        # redis-py types every reply as "sync or async" (ResponseT); this client is sync.
        return self.breaker.call(lambda: self._client.get(key))  # type: ignore[return-value]

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        self.breaker.call(lambda: self._client.set(key, value, ex=ttl_seconds))

    def delete(self, key: str) -> None:
        self.breaker.call(lambda: self._client.delete(key))

    def incr(self, key: str) -> int:
        return int(self.breaker.call(lambda: self._client.incr(key)))

    def ping(self) -> None:
        self.breaker.call(self._client.ping)


def make_cache(backend: str, redis_url: str = "") -> Cache:
    if backend == "redis":
        return RedisCache(redis_url)
    if backend == "memory":
        return MemoryCache()
    raise ValueError(f"unknown cache backend {backend!r}")
