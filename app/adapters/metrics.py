"""Prometheus metrics: every series the service exports, defined once (names in
docs/operations.md, "Metrics").

prometheus-client chooses its storage when it is first imported: in-process values, or, when
``PROMETHEUS_MULTIPROC_DIR`` names a directory, one memory-mapped file per process there, summed
at scrape time so every gunicorn worker counts (``tierwise serve`` sets the directory up;
``exposition`` reads whichever is in use).

Counts of what a transaction did (holds, booking transitions, payments, refunds) are kept with
the transaction and added only once it commits (``count_on_commit``): a rolled-back attempt
counts nothing.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

#: Request and decision durations, seconds: from a cached /healthz (~0.5 ms) to a slow checkout.
REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DECISION_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0)

REQUEST_DURATION = Histogram(
    "tierwise_http_request_duration_seconds",
    "HTTP requests by method, route template (never an id) and status, and how long they took.",
    ("method", "route", "status"),
    buckets=REQUEST_BUCKETS,
)
DECISION_DURATION = Histogram(
    "tierwise_rule_decision_duration_seconds",
    "Rule evaluations by purpose (offer, fallback, quote, upsell_source, upgrade, replay) and "
    "how long each took: one evaluation decides all its kinds (season, upsell, ...) at once.",
    ("purpose",),
    buckets=DECISION_BUCKETS,
)
CACHE_HITS = Counter(
    "tierwise_cache_hits_total",
    "Lookups a cache answered: catalog_process (the worker's LRU), catalog_shared (Redis), "
    "rules_program (compiled rulesets), offer_sheets (priced offer sheets reused).",
    ("cache",),
)
CACHE_MISSES = Counter(
    "tierwise_cache_misses_total",
    "Lookups a cache could not answer (read from below it, or compiled).",
    ("cache",),
)
HOLDS = Counter(
    "tierwise_holds_total",
    "Checkout holds on a unit: placed, released (the booking moved on) or expired.",
    ("outcome",),
)
BOOKINGS = Counter(
    "tierwise_booking_transitions_total",
    "Booking (and upgrade payment) state changes, by the status entered.",
    ("status",),
)
PAYMENTS = Counter(
    "tierwise_payments_total",
    "Payments captured by the provider and recorded in the ledger, by reason.",
    ("reason",),
)
REFUNDS = Counter(
    "tierwise_refunds_total",
    "Refunds: queued by tierwise (owed: cancellation, downgrade, ...) or found at the provider.",
    ("origin",),
)
WEBHOOK_DELIVERIES = Counter(
    "tierwise_webhook_deliveries_total",
    "Webhook delivery attempts by outcome: delivered (a 2xx answer) or failed.",
    ("outcome",),
)
DECISION_RECORDS_SPOOLED = Counter(
    "tierwise_decision_records_spooled_total",
    "Browsed offers' decision records appended by a worker's writer thread, in batches.",
)
DECISION_RECORDS_LOST = Counter(
    "tierwise_decision_records_lost_total",
    "Spooled decision records the database rejected (each one logged with its id).",
)
DB_POOL_CHECKED_OUT = Gauge(
    "tierwise_db_pool_connections_in_use",
    "Database connections handed out by the pools, summed over live workers, by pool.",
    ("pool",),
    multiprocess_mode="livesum",
)
DB_POOL_SIZE = Gauge(
    "tierwise_db_pool_size",
    "Connections each pool keeps open (pool_size), summed over live workers, by pool.",
    ("pool",),
    multiprocess_mode="livesum",
)

_PENDING = "tierwise_metrics_pending"


def count_on_commit(session: Session, counter: Any) -> None:
    """Add one to ``counter`` (a labelled child) when ``session``'s transaction commits."""
    session.info.setdefault(_PENDING, []).append(counter)


@event.listens_for(Session, "after_commit")
def _committed(session: Session) -> None:
    for counter in session.info.pop(_PENDING, ()):
        counter.inc()


@event.listens_for(Session, "after_rollback")
def _rolled_back(session: Session) -> None:
    session.info.pop(_PENDING, None)


_watched: weakref.WeakSet[Engine] = weakref.WeakSet()


def watch_pool(engine: Engine, name: str) -> None:
    """Keep ``tierwise_db_pool_*{pool=name}`` in step with ``engine``'s pool (once per engine:
    tests build many apps on one)."""
    if engine in _watched:
        return
    _watched.add(engine)
    in_use = DB_POOL_CHECKED_OUT.labels(name)
    size = getattr(engine.pool, "size", None)
    if callable(size):
        DB_POOL_SIZE.labels(name).set(size())

    @event.listens_for(engine, "checkout")
    def _out(*_args: Any) -> None:
        in_use.inc()

    @event.listens_for(engine, "checkin")
    def _in(*_args: Any) -> None:
        in_use.dec()


class Timer:
    """``with timed(child):`` observes the block's duration in seconds on a histogram child."""

    __slots__ = ("_child", "_started")

    def __init__(self, child: Any) -> None:
        self._child = child
        self._started = 0.0

    def __enter__(self) -> None:
        self._started = time.perf_counter()

    def __exit__(self, *_exc: object) -> None:
        self._child.observe(time.perf_counter() - self._started)


def labelled(metric: Any) -> Callable[[str], Any]:
    """``metric.labels`` for one label, made on first use and remembered: a dict lookup per use,
    not prometheus-client's label validation and lock."""
    children: dict[str, Any] = {}

    def child(value: str) -> Any:
        found = children.get(value)
        if found is None:
            found = children[value] = metric.labels(value)
        return found

    return child


decision_timer = labelled(DECISION_DURATION)
cache_hit = labelled(CACHE_HITS)
cache_miss = labelled(CACHE_MISSES)
hold = labelled(HOLDS)
booking = labelled(BOOKINGS)
payment = labelled(PAYMENTS)
refund = labelled(REFUNDS)
webhook_delivery = labelled(WEBHOOK_DELIVERIES)


def use_directory(path: str) -> None:
    """Keep this process's metrics (and its children's) in files under ``path``, summed at scrape
    time. Called before any series is made (``tierwise serve``, before its workers start):
    series are made on first use, never at import, so the switch applies to all of them."""
    from prometheus_client import values

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def exposition() -> tuple[bytes, str]:
    """The text exposition of every metric (all workers' when multiprocess) and its type."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, directory)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
