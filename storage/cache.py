"""Cache backends chosen by configuration: Redis, or an in-process dict for the embedded default.

Both have the same small interface; callers treat a cache failure as a miss (the database stays the
source of truth), so the service keeps answering correctly when Redis is down.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class Cache(Protocol):
    def get(self, key: str) -> bytes | None: ...
    def set(self, key: str, value: bytes, ttl_seconds: int) -> None: ...
    def delete(self, key: str) -> None: ...
    def incr(self, key: str) -> int: ...
    def ping(self) -> None: ...


class MemoryCache:
    """Thread-safe in-process cache with per-key expiry (embedded mode, tests of the contract)."""

    def __init__(self, clock=time.monotonic) -> None:
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


class RedisCache:
    def __init__(self, url: str, *, timeout_seconds: float = 0.25) -> None:
        import redis

        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout_seconds, socket_connect_timeout=timeout_seconds
        )

    def get(self, key: str) -> bytes | None:
        return self._client.get(key)  # type: ignore[return-value]

    def set(self, key: str, value: bytes, ttl_seconds: int) -> None:
        self._client.set(key, value, ex=ttl_seconds)

    def delete(self, key: str) -> None:
        self._client.delete(key)

    def incr(self, key: str) -> int:
        return int(self._client.incr(key))  # type: ignore[arg-type]

    def ping(self) -> None:
        self._client.ping()


def make_cache(backend: str, redis_url: str = "") -> Cache:
    if backend == "redis":
        return RedisCache(redis_url)
    if backend == "memory":
        return MemoryCache()
    raise ValueError(f"unknown cache backend {backend!r}")
