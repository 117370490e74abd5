"""Browsed offers' decision records, appended to the decision log by a writer thread in batches.

A priced offer records its rules evaluations (~3 records). Appended in the request, each offer
pays a ``tw_append_decisions`` round trip: the chain head locked, moved and committed once per
offer, the largest part of an offer's PostgreSQL time (docs/benchmarks.md). Spooled, the request
hands its records to this process's writer and answers; the writer appends whatever has gathered
— for each tenant, one ``tw_append_decisions`` call (one lock, one head move, one commit) per
batch — so the records of many offers share a round trip.

What it keeps and what it gives up:

* the records reach the log in the order their process made them, through the same atomic append
  (the hash chain is built by the same function, so it is the same chain), in calls of at most
  ``CHUNK`` records;
* they wait in the process for ``linger`` (20 ms by default; up to ``IDLE_NAP``, 50 ms, after a
  quiet spell: the writer looks for records every nap, so that no request has to wake it, which
  would hand it the GIL) before their batch is written. Offers already answered before their
  records were durable (``synchronous_commit = off``: ~0.6 s may be lost in a crash of the
  database, ``Database.browsing``); now also a killed process (SIGKILL, the OOM killer, a
  worker timeout) loses what it had not written: normally that window, but while the database
  is away everything waiting (up to ``limit`` records). A normal exit (``atexit``: gunicorn's
  graceful stop, a recycled worker) writes them, waiting up to 5 s for the database;
* the database away: the writer keeps what is left and tries again (0.1 s, doubling to 2 s)
  while up to ``limit`` records wait; past it, ``submit`` refuses and the request appends its
  own records in its own round trip (as before: 503 while the database is down), so nothing is
  dropped for want of room. A call the database rejects for another reason is retried record by
  record: a record already stored (a call that committed just before its connection was lost,
  tried again) is not written twice; one it still rejects is logged with its id and counted
  (``tierwise_decision_records_lost_total``), never retried for ever;
* reading right after writing: ``flush()`` waits for everything a spool of this process was
  given; the decision log's readers call ``flush_all()`` first, so a process reads its own
  records (another worker's may still be a nap away).

Quotes, holds, bookings and payments never come here: their records are written in their own
transaction, durable when the answer leaves.

One spool per process: the thread starts on the first ``submit`` in the process that makes it
(after gunicorn's fork), and a child of a fork starts its own.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import weakref
from collections import deque

import psycopg

from app.adapters import metrics
from storage.db import Database, unavailable
from storage.decisions import DecisionRecord, add_decisions

log = logging.getLogger(__name__)

#: The process's spools, for ``flush_all``.
_LIVE: weakref.WeakSet[DecisionSpool] = weakref.WeakSet()
#: The writer's naps while nothing comes, from MIN_NAP doubling to IDLE_NAP: how late a record
#: after a quiet spell may be.
MIN_NAP, IDLE_NAP = 0.001, 0.05
#: Records per append call at most.
CHUNK = 500
#: Batches tried again after a failed append: 0.1 s, doubling, at most 2 s apart.
RETRY_FIRST, RETRY_MOST = 0.1, 2.0


class DecisionSpool:
    """The process's writer of browsed offers' decision records (see the module)."""

    def __init__(self, db: Database, linger: float = 0.02, limit: int = 10_000) -> None:
        self.db, self.linger, self.limit = db, linger, limit
        self._pid = -1
        self._start_lock = threading.Lock()
        _LIVE.add(self)

    @property
    def enabled(self) -> bool:
        """Only where offers browse on their own autocommit connections (PostgreSQL server): a
        test's shared connection, or SQLite, appends in the request's transaction."""
        return self.db.browsing_apart

    # ---- the request's side --------------------------------------------------------------------

    def submit(self, records: list[DecisionRecord]) -> bool:
        """Hand ``records`` (of one tenant, in order) to the writer; False when the spool is off or
        full: the caller appends them itself."""
        if not records:
            return True
        if not self.enabled:
            return False
        self._started()
        with self._changed:
            if self._closing or self._waiting + len(records) > self.limit:
                return False
            self._pending.append(records)
            self._waiting += len(records)
            self._submitted += (
                1  # no call to the writer: it looks every nap (a call hands it the GIL)
            )
        return True

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every batch submitted so far in this process is written (or given up);
        False if ``timeout`` passed first."""
        if not self.enabled or self._pid != os.getpid():
            return True
        deadline = time.monotonic() + timeout
        with self._changed:
            target = self._submitted
            self._hurry = True  # no lingering for this batch
            self._changed.notify_all()
            while self._done < target:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Write what is pending and stop the writer (``atexit``)."""
        if self._pid != os.getpid():
            return
        self.flush(timeout)
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join(timeout)

    # ---- the writer's side ---------------------------------------------------------------------

    def _started(self) -> None:
        if self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid == os.getpid():
                return
            # New in this process (or inherited through a fork, where the parent's thread is gone).
            self._changed = threading.Condition()
            self._pending: deque[list[DecisionRecord]] = deque()
            self._waiting = 0  # records submitted and not yet written (or given up)
            self._submitted = self._done = 0  # submit() calls, and those written or given up
            self._closing = self._hurry = False
            self._thread = threading.Thread(target=self._run, name="decision-spool", daemon=True)
            self._thread.start()
            atexit.register(self.close)
            self._pid = os.getpid()

    def _run(self) -> None:
        nap = self.linger
        while True:
            with self._changed:
                # a look every nap (longer while nothing comes, up to IDLE_NAP); a flush or the
                # exit wakes it at once
                self._changed.wait_for(lambda: self._hurry or self._closing, nap)
                batch = list(self._pending)
                self._pending.clear()
                self._hurry = False
                if not batch and self._closing:
                    return
            if not batch:
                nap = min(max(nap * 2, MIN_NAP), IDLE_NAP)
                continue
            nap = self.linger
            try:
                self._write(batch)
            except Exception as error:  # a bug: never a writer that stops for good
                log.exception("decision spool failed on a batch")
                self._lose([r for records in batch for r in records], error)
            with self._changed:
                self._done += len(batch)
                self._waiting -= sum(len(records) for records in batch)
                self._changed.notify_all()

    def _write(self, batch: list[list[DecisionRecord]]) -> None:
        """Append the batch: per tenant, in calls of at most ``CHUNK`` records (one call holds its
        tenant's chain head for its whole run), trying again while the database is away."""
        by_tenant: dict[str, list[DecisionRecord]] = {}
        for records in batch:
            by_tenant.setdefault(records[0].tenant_id, []).extend(records)
        chunks = deque(
            records[start : start + CHUNK]
            for records in by_tenant.values()
            for start in range(0, len(records), CHUNK)
        )
        wait = RETRY_FIRST
        while chunks:
            try:
                self._settle(chunks[0])
            except Exception as error:  # the database away: chunks[0] holds what is left of it
                if self._closing:  # exiting with the database away: what is left is lost
                    self._lose(chunks.popleft(), error)
                    continue
                log.warning("decision log unavailable, retrying in %.1f s: %s", wait, error)
                with self._changed:  # the exit cuts the wait short
                    self._changed.wait_for(lambda: self._closing, wait)
                wait = min(wait * 2, RETRY_MOST)
                continue
            chunks.popleft()
            wait = RETRY_FIRST

    def _settle(self, records: list[DecisionRecord]) -> None:
        """Append ``records`` in one call; if the database rejects that, one by one, giving up each
        it rejects. Raises when the database is unavailable, ``records`` then holding what is
        not written yet. A record already stored (its id taken: a call that committed before
        its connection was lost, tried again) is not written twice, nor counted lost."""
        try:
            self._append(records)
            return
        except Exception as error:
            if unavailable(error):
                raise
        while records:
            try:
                self._append(records[:1])
            except Exception as error:
                if unavailable(error):
                    raise
                if _already_stored(error):
                    log.info("decision record %s was stored already", records[0].id)
                else:
                    self._lose(records[:1], error)
            del records[0]

    def _append(self, records: list[DecisionRecord]) -> None:
        with self.db.browsing() as connection:
            add_decisions(connection, records)
        metrics.DECISION_RECORDS_SPOOLED.inc(len(records))

    @staticmethod
    def _lose(records: list[DecisionRecord], error: BaseException) -> None:
        metrics.DECISION_RECORDS_LOST.inc(len(records))
        for record in records:
            log.error("decision record %s not written: %s", record.id, error)


def flush_all(timeout: float = 5.0) -> None:
    """Wait until every record spooled so far in this process is written (a reader's first step)."""
    for spool in list(_LIVE):
        spool.flush(timeout)


def _already_stored(error: BaseException) -> bool:
    """A unique violation: the record's key (tenant, random id, time) is in the log already."""
    orig = getattr(error, "orig", None)
    return isinstance(orig, psycopg.errors.UniqueViolation)
