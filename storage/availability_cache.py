"""A worker's availability counts for browsed offers (and its tenants' catalog versions for the
storefront's catalog reads), kept until PostgreSQL says they changed.

With its decision records spooled and its sheet reused, a browsed offer's one round trip left was
its availability read (``storage.availability.counts_until``): with it an offer cost 1.21 ms of
worker CPU and 0.32 ms of PostgreSQL's, without it 0.72 ms and 0.14 ms (docs/benchmarks.md).
Between two offers of the same tenant's days the counts are the same unless something wrote
capacity, a hold, a booking, a blackout or the catalog version, or a counted hold expired. So a
worker keeps the counts it read (per tenant and window of days) and uses them again while:

* **nothing was written**: every such write, whoever makes it (the API, the outbox worker, the
  sweeper, psql), announces the tenant on the channel ``tw_availability`` as it commits (the
  triggers of migration 0023); the worker listens on a connection of its own and, before an offer
  looks, reads what arrived (a non-blocking read of the socket) and forgets the tenants named.
  What is left is the delivery, from the writer's commit to the announcement in the worker's
  socket (PostgreSQL wakes the listening backend at the commit). A transaction committed by this
  process forgets everything at once, without waiting for it;
* **no counted hold has expired**: kept counts serve only ``now`` from when they were read to the
  first expiry of a hold they count;
* **they are younger than** ``MAX_AGE`` (1 s): the backstop for an announcement lost with a
  connection that died silently.

Counts read while an announcement for their tenant arrived are not kept (a generation per
tenant, and one for everyone), so counts read before a write never outlive its announcement. The
listening connection lost: everything is forgotten and nothing kept until it listens again (tried
at most every ``RETRY`` s; meanwhile every offer reads, as before). Only a server on PostgreSQL
whose offers browse on their own connections keeps counts; a test's shared connection (whose
writes are never committed, so never announced) and SQLite read every time.

The segments list and the tier comparison read only the tenant's catalog version (then the
snapshot of that version); a worker keeps it by the same rules (``catalog_version``): without it
the segments list cost 0.69 ms of worker CPU and 0.054 ms of PostgreSQL's, with it 0.53 ms and
none (docs/benchmarks.md).

Quotes, holds and bookings never use kept counts: they read in their own transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar, cast

import psycopg
from psycopg import pq

from pricing.availability import DayCounts
from storage.availability import counts_until
from storage.db import Database, Executor
from storage.tenants import catalog_version

log = logging.getLogger(__name__)

CHANNEL = "tw_availability"
#: Kept counts are read again past this age (s), announced or not.
MAX_AGE = 1.0
#: A lost listening connection is made again at most this often (s).
RETRY = 1.0
#: Windows of days kept per worker, least recently used dropped first (~1 kB each).
SIZE = 4096

_Mark = tuple[int, int]


#: Counts of a window of days (tenant, start, end); a catalog version (tenant, None, None).
_Key = tuple[str, dt.date | None, dt.date | None]
_V = TypeVar("_V")


@dataclass(frozen=True)
class _Kept:
    value: object  # DayCounts, or a catalog version
    read_at: dt.datetime | None  # the offer's now when read (None: a catalog version)
    until: dt.datetime | None  # the first counted hold's expiry
    filled: float  # monotonic, before the read
    mark: _Mark  # (everyone's generation, the tenant's) before the read


class CountsCache:
    """The counts of browsed offers and the tenants' catalog versions (see the module):
    ``counts`` is ``counts_until``'s first half and ``catalog_version`` the tenant's, from the
    worker when they may be."""

    def __init__(
        self,
        db: Database,
        max_age: float = MAX_AGE,
        size: int = SIZE,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db, self.max_age, self.size, self._clock = db, max_age, size, clock
        self.enabled = db.browsing_apart  # the database's units of work never change
        self._lock = threading.Lock()  # the kept counts and generations
        self._listen_lock = threading.Lock()  # the listening connection
        self._kept: OrderedDict[_Key, _Kept] = OrderedDict()
        self._everyone = 0
        self._tenants: dict[str, int] = {}
        self._listener: psycopg.Connection[tuple[object, ...]] | None = None
        self._pid = os.getpid()
        self._inherited: list[object] = []  # a forked parent's connection: never closed here
        self._retry_at = 0.0
        if self.enabled:
            db.after_commit.append(self.forget_all)
            db.on_dispose.append(self.close)

    def counts(
        self, session: Executor, tenant_id: str, start: dt.date, end: dt.date, now: dt.datetime
    ) -> DayCounts:
        return self._kept_or_read(
            (tenant_id, start, end),
            now,
            lambda: counts_until(session, tenant_id, start, end, now),
        )

    def catalog_version(self, tenant_id: str) -> int:
        """The tenant's catalog version (``storage.tenants.catalog_version``, on a browsing
        connection), kept as counts are: the storefront's catalog reads (segments, comparison)
        make no round trip while nothing announced a change."""

        def read() -> tuple[int, None]:
            with self.db.browsing() as connection:
                return catalog_version(connection, tenant_id), None

        return self._kept_or_read((tenant_id, None, None), None, read)

    def _kept_or_read(
        self,
        key: _Key,
        now: dt.datetime | None,
        read: Callable[[], tuple[_V, dt.datetime | None]],
    ) -> _V:
        """``key``'s kept value while it may serve ``now`` (None: any), else ``read()``'s (the
        value, and until when it may serve), kept unless an announcement came meanwhile; always
        ``read()``'s while nothing may be kept (not enabled, or not listening)."""
        if not self.enabled or not self._heard():
            return read()[0]
        tenant_id = key[0]
        filled = self._clock()
        with self._lock:
            mark = (self._everyone, self._tenants.get(tenant_id, 0))
            kept = self._kept.get(key)
            if (
                kept is not None
                and kept.mark == mark
                and (now is None or kept.read_at is None or kept.read_at <= now)
                and (now is None or kept.until is None or now < kept.until)
                and filled - kept.filled < self.max_age
            ):
                self._kept.move_to_end(key)
                return cast(_V, kept.value)
        value, until = read()
        with self._lock:
            if (self._everyone, self._tenants.get(tenant_id, 0)) == mark:
                self._kept[key] = _Kept(value, now, until, filled, mark)
                self._kept.move_to_end(key)
                while len(self._kept) > self.size:
                    self._kept.popitem(last=False)
        return value

    def forget(self, tenant_id: str) -> None:
        with self._lock:
            self._tenants[tenant_id] = self._tenants.get(tenant_id, 0) + 1

    def forget_all(self) -> None:
        with self._lock:
            self._everyone += 1
            self._kept.clear()

    # ---- the listening connection ---------------------------------------------------------------

    def _heard(self) -> bool:
        """Forget what the announcements that arrived name; False when not listening (nothing
        may be kept or used)."""
        with self._listen_lock:
            if self._pid != os.getpid():  # a forked child: its own connection, its own counts
                if self._listener is not None:
                    self._inherited.append(self._listener)
                self._listener, self._pid, self._retry_at = None, os.getpid(), 0.0
                self.forget_all()
            listener = self._listener or self._listen()
            if listener is None:
                return False
            try:
                pgconn = listener.pgconn
                pgconn.consume_input()
                if pgconn.status != pq.ConnStatus.OK:
                    raise psycopg.OperationalError("the connection is closed")
                while (note := pgconn.notifies()) is not None:
                    tenant_id = note.extra.decode()
                    if tenant_id:
                        self.forget(tenant_id)
                    else:
                        self.forget_all()
            except psycopg.Error as error:
                log.warning("availability announcements lost (%s): reading every offer's", error)
                self._listener = None
                self._retry_at = self._clock() + RETRY
                self.forget_all()
                return False
            return True

    def _listen(self) -> psycopg.Connection[tuple[object, ...]] | None:
        if self._clock() < self._retry_at:
            return None
        url = self.db.engine.url.set(drivername="postgresql")
        try:
            listener = psycopg.connect(
                url.render_as_string(hide_password=False), autocommit=True, connect_timeout=2
            )
            listener.execute(f"LISTEN {CHANNEL}")
        except psycopg.Error as error:
            log.warning("cannot listen for availability announcements (%s)", error)
            self._retry_at = self._clock() + RETRY
            return None
        self.forget_all()  # deaf until now
        self._listener = listener
        return listener

    def close(self) -> None:
        """Stop listening (``Database.dispose``); the next offer listens again."""
        with self._listen_lock:
            if self._listener is not None and self._pid == os.getpid():
                self._listener.close()
            self._listener = None
        self.forget_all()
