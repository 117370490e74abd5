"""Browser origins allowed to call the storefront API (CORS).

A preflight carries no API key, so it is answered for an origin that *some* active key allows
(``allowed_somewhere``); the actual request then gets the CORS headers only when its own key
allows the origin (the HTTP layer reads that off the request's principal)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

from storage import origins as store
from storage.db import Database

#: Most origins one key may list.
MAX_ORIGINS = 20
MAX_ORIGIN_LENGTH = 255


def normalized_origin(text: str) -> str | None:
    """``text`` as a browser sends it in ``Origin`` (``scheme://host[:port]``, lower case, no
    default port, no path), or None when it is not one."""
    raw = text.strip()
    if not raw or len(raw) > MAX_ORIGIN_LENGTH or any(c.isspace() for c in raw):
        return None
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "")
    if scheme not in ("http", "https") or not host or parts.username or parts.password:
        return None
    if parts.path not in ("", "/") or parts.query or parts.fragment or raw.endswith("?"):
        return None
    if not all(c.isalnum() or c in "-._:[]" for c in host):
        return None
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[scheme]
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default else "")


def origin_of(url: str) -> str:
    """The origin of an absolute URL (the demo page's, from PUBLIC_BASE_URL)."""
    parts = urlsplit(url)
    return normalized_origin(f"{parts.scheme}://{parts.netloc}") or ""


class OriginCache:
    """Answers to "does some active key allow this origin?", kept ``ttl_seconds`` in this
    process (preflights repeat per page view; browsers cache them only ``Access-Control-Max-Age``)."""

    def __init__(
        self,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self._clock = clock
        self._max = max_entries
        self._entries: dict[str, tuple[float, bool]] = {}
        self._lock = threading.Lock()

    def get(self, origin: str) -> bool | None:
        with self._lock:
            found = self._entries.get(origin)
        if found is None or found[0] <= self._clock():
            return None
        return found[1]

    def put(self, origin: str, allowed: bool) -> None:
        if self.ttl_seconds <= 0:
            return
        with self._lock:
            if len(self._entries) >= self._max:
                self._entries.clear()
            self._entries[origin] = (self._clock() + self.ttl_seconds, allowed)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def allowed_somewhere(db: Database, cache: OriginCache, origin: str) -> bool:
    """Does an unrevoked key of an active tenant list ``origin`` (as the browser sent it)?"""
    normal = normalized_origin(origin)
    if normal is None or normal != origin:
        return False
    known = cache.get(origin)
    if known is not None:
        return known
    with db.read() as session:
        allowed = store.allowed_by_an_active_key(session, origin)
    cache.put(origin, allowed)
    return allowed
