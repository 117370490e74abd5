"""Outbound events: what each event says, the webhook endpoints' use cases, and delivery.

Events are written to the outbox by the use cases that cause them, in their own transaction
(:func:`emit`), so an event exists exactly when its change committed. Delivery runs apart: a worker
(``tierwise worker``, or the in-process thread of the embedded default) claims due deliveries,
posts each signed (Standard Webhooks) and records the attempt. At least once: a receiver may see
an event again (after a timeout, or a worker killed mid-send) under the same ``webhook-id``.

Retries: a failed attempt (no answer within 10 s, or not 2xx) is tried again after
``RETRY_BASE`` × 3^(attempt − 1), at most ``RETRY_CAP``, each ±20 % (jitter): 30 s, 1.5 min,
4.5 min, 13.5 min, 40 min, 2 h, 6 h, then every 12 h, until the delivery is ``RETRY_FOR`` (3 days)
old; then it has failed. An endpoint that answered no attempt well throughout such a
delivery's 3 days is disabled, and the tenant is told (a warning logged, the reason on the
endpoint)."""

from __future__ import annotations

import datetime as dt
import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from app.adapters.mail import SUBJECTS, Mailer, render
from app.adapters.webhooks import Message, UrlPolicy, UrlRefused, WebhookSender, new_secret
from pricing.errors import InvalidInput
from storage import mail as mail_store
from storage import outbox as store
from storage.checkout import BookingRow
from storage.db import Database
from storage.repository import Page

log = logging.getLogger(__name__)

EVENT_TYPES = (
    "booking.created",
    "booking.confirmed",
    "booking.tierUpgraded",
    "booking.cancelled",
    "booking.refunded",
    "upsell.shown",
    "upsell.accepted",
    "upsell.declined",
    "segment.selected",
    "ruleset.published",
    "experiment.started",
    "experiment.stopped",
)
#: The test event ``POST …/{id}/test`` sends.
TEST_EVENT = "webhook.test"

RETRY_BASE = dt.timedelta(seconds=30)
RETRY_CAP = dt.timedelta(hours=12)
RETRY_FOR = dt.timedelta(days=3)
JITTER = 0.2
#: How long a worker holds a delivery it claimed: past the longest attempt.
LEASE = dt.timedelta(seconds=60)
#: A rotated-out secret still signs for this long by default.
DEFAULT_OVERLAP_HOURS = 24


def next_retry(
    attempts: int, first_at: dt.datetime, now: dt.datetime, jitter: Callable[[], float]
) -> dt.datetime | None:
    """When to try again after ``attempts`` failed attempts (``jitter()`` in [0, 1)); None: the
    delivery is ``RETRY_FOR`` old, give up."""
    delay = min(RETRY_BASE * int(3 ** min(attempts - 1, 20)), RETRY_CAP)
    delay *= 1 + JITTER * (2 * jitter() - 1)
    if now + delay - first_at > RETRY_FOR:
        return None
    return now + delay


# ---- what events say ----------------------------------------------------------------------------


def booking_data(row: BookingRow, **extra: Any) -> dict[str, Any]:
    """A booking as its events carry it (money in minor units)."""
    return {
        "booking_id": row.id,
        "status": row.status,
        "segment_id": row.segment_id,
        "tier_id": row.tier_id,
        "service_date": row.service_date.isoformat(),
        "guests": row.guests,
        "add_on_ids": list(row.add_on_ids),
        "currency": row.currency,
        "total": row.total,
        "customer": {"email": row.customer_email, "name": row.customer_name},
        **extra,
    }


#: A booking's new status → its event.
BOOKING_EVENTS = {
    "paid": "booking.confirmed",
    "cancelled": "booking.cancelled",
    "refunded": "booking.refunded",
}

#: The booking events the customer gets an email about (app/adapters/mail_templates/).
CUSTOMER_EMAILS = frozenset(SUBJECTS)

#: Storefront event types (as stored) → outbound events.
STOREFRONT_EVENTS = {
    "segment_selected": "segment.selected",
    "upsell_shown": "upsell.shown",
    "upsell_accepted": "upsell.accepted",
    "upsell_declined": "upsell.declined",
}


def emit(
    session: Session, tenant_id: str, event_type: str, data: dict[str, Any], now: dt.datetime
) -> str:
    """Put an event in the outbox in the caller's transaction; its id. A booking event the
    customer is emailed about (``CUSTOMER_EMAILS``) queues that email too."""
    assert event_type in EVENT_TYPES, event_type
    event_id = store.emit(session, tenant_id, event_type, data, now)
    to = (data.get("customer") or {}).get("email")
    if event_type in CUSTOMER_EMAILS and to:
        mail_store.queue_mail(session, tenant_id, event_id, event_type, to, now)
    return event_id


def emit_booking_change(
    session: Session, before: BookingRow, after: BookingRow, root: BookingRow, now: dt.datetime
) -> None:
    """The event of a booking's state change, if it has one: an upgrade payment that was paid
    moved its booking (``root``) to another tier."""
    if before.status == after.status:
        return
    if after.kind == "upgrade":
        if after.status == "paid" and root.tier_id == after.tier_id:
            emit(
                session,
                root.tenant_id,
                "booking.tierUpgraded",
                booking_data(
                    root,
                    from_tier_id=after.from_tier_id,
                    upgrade_id=after.id,
                    upgrade_total=after.total,
                ),
                now,
            )
        return
    event_type = BOOKING_EVENTS.get(after.status)
    if event_type is not None:
        emit(session, after.tenant_id, event_type, booking_data(after), now)


def emit_storefront_events(
    session: Session, tenant_id: str, rows: list[dict[str, Any]], now: dt.datetime
) -> None:
    """The outbound events of newly stored storefront events."""
    events = [
        (
            STOREFRONT_EVENTS[row["type"]],
            {
                "event_id": row["client_event_id"],
                "visitor_id": row["visitor_id"],
                "segment": row["segment_key"],
                "tier_id": row["tier_id"] or None,
                "experiment": row["experiment"] or None,
                "variant": row["variant"] or None,
                "properties": row["properties"],
                "occurred_at": row["occurred_at"].isoformat(),
            },
        )
        for row in rows
        if row["type"] in STOREFRONT_EVENTS
    ]
    store.emit_many(session, tenant_id, events, now)


# ---- endpoints ----------------------------------------------------------------------------------


@dataclass
class EventsContext:
    db: Database
    policy: UrlPolicy
    sender: WebhookSender
    mailer: Mailer | None = None
    mail_from: str = "tierwise@localhost"
    jitter: Callable[[], float] = field(default=random.random)


def _check_url(ctx: EventsContext, url: str) -> None:
    try:
        ctx.policy.check(url)
    except UrlRefused as refused:
        raise InvalidInput(
            "The webhook URL was refused.",
            code=refused.code,
            details=[{"field": "url", "message": str(refused)}],
        ) from None


def _check_events(events: list[str]) -> None:
    for i, name in enumerate(events):
        if name == "*" or name in EVENT_TYPES:
            continue
        if name.endswith(".*") and any(t.startswith(name[:-1]) for t in EVENT_TYPES):
            continue
        raise InvalidInput(
            "Unknown event type.",
            code="unknown_event_type",
            details=[{"field": f"events/{i}", "message": f"{name!r} is not an event type."}],
        )


def endpoint_view(endpoint: store.Endpoint) -> dict[str, Any]:
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": endpoint.events,
        "description": endpoint.description,
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason or None,
        "failing_since": endpoint.failing_since,
        "version": endpoint.version,
        "created_at": endpoint.created_at,
        "updated_at": endpoint.updated_at,
    }


def create_endpoint(
    ctx: EventsContext, tenant_id: str, data: dict[str, Any], now: dt.datetime
) -> dict[str, Any]:
    """A new endpoint, with its secret (shown this once)."""
    _check_url(ctx, data["url"])
    _check_events(data["events"])
    secret = new_secret()
    with ctx.db.transaction() as session:
        endpoint = store.add_endpoint(
            session,
            tenant_id,
            url=data["url"],
            events=data["events"],
            description=data.get("description", ""),
            secret=secret,
            now=now,
        )
    return {**endpoint_view(endpoint), "secret": secret}


def list_endpoints(db: Database, tenant_id: str, offset: int, limit: int) -> Page[dict[str, Any]]:
    with db.read() as session:
        endpoints, total = store.list_endpoints(session, tenant_id, offset, limit)
    return Page([endpoint_view(e) for e in endpoints], total)


def get_endpoint(db: Database, tenant_id: str, endpoint_id: str) -> dict[str, Any]:
    with db.read() as session:
        return endpoint_view(store.get_endpoint(session, tenant_id, endpoint_id))


def update_endpoint(
    ctx: EventsContext,
    tenant_id: str,
    endpoint_id: str,
    expected_version: int,
    changes: dict[str, Any],
    now: dt.datetime,
) -> dict[str, Any]:
    if "url" in changes:
        _check_url(ctx, changes["url"])
    if "events" in changes:
        _check_events(changes["events"])
    with ctx.db.transaction() as session:
        endpoint = store.update_endpoint(
            session, tenant_id, endpoint_id, expected_version, changes, now
        )
    return endpoint_view(endpoint)


def delete_endpoint(db: Database, tenant_id: str, endpoint_id: str) -> None:
    with db.transaction() as session:
        store.remove_endpoint(session, tenant_id, endpoint_id)


def rotate_secret(
    db: Database, tenant_id: str, endpoint_id: str, overlap_hours: int, now: dt.datetime
) -> dict[str, Any]:
    """A new secret (shown once); the old one also signs for ``overlap_hours`` more."""
    secret = new_secret()
    until = now + dt.timedelta(hours=overlap_hours)
    with db.transaction() as session:
        endpoint = store.rotate_secret(session, tenant_id, endpoint_id, secret, until)
    return {**endpoint_view(endpoint), "secret": secret, "previous_secret_expires_at": until}


def deliveries(
    db: Database, tenant_id: str, endpoint_id: str, offset: int, limit: int
) -> Page[dict[str, Any]]:
    with db.read() as session:
        store.get_endpoint(session, tenant_id, endpoint_id)
        attempts, total = store.attempts_of(session, tenant_id, endpoint_id, offset, limit)
    return Page(
        [
            {
                "delivery_id": a.delivery_id,
                "event_id": a.event_id,
                "event_type": a.event_type,
                "delivery_status": a.status,
                "status_code": a.status_code,
                "duration_ms": a.duration_ms,
                "error": a.error or None,
                "attempted_at": a.attempted_at,
                "next_retry_at": a.next_retry_at,
            }
            for a in attempts
        ],
        total,
    )


def retry_delivery(
    db: Database, tenant_id: str, endpoint_id: str, delivery_id: str, now: dt.datetime
) -> dict[str, Any]:
    with db.transaction() as session:
        store.get_endpoint(session, tenant_id, endpoint_id)
        store.retry_delivery(session, tenant_id, endpoint_id, delivery_id, now)
    return {"delivery_id": delivery_id, "status": "pending", "next_attempt_at": now}


def send_test(db: Database, tenant_id: str, endpoint_id: str, now: dt.datetime) -> dict[str, Any]:
    """Queue a ``webhook.test`` event to this endpoint alone."""
    with db.transaction() as session:
        store.get_endpoint(session, tenant_id, endpoint_id)
        event_id = store.emit(
            session,
            tenant_id,
            TEST_EVENT,
            {"endpoint_id": endpoint_id, "message": "A test event from tierwise."},
            now,
            only_endpoint=endpoint_id,
        )
    return {"event_id": event_id, "type": TEST_EVENT}


# ---- delivery -----------------------------------------------------------------------------------


def deliver_due(
    ctx: EventsContext,
    now: Callable[[], dt.datetime],
    limit: int = 50,
    lease: dt.timedelta = LEASE,
    pool: ThreadPoolExecutor | None = None,
) -> int:
    """Claim up to ``limit`` due deliveries for ``lease``, attempt each, record the outcomes; how
    many were attempted. ``now``: the clock (tests drive it). With a ``pool``, its threads send
    side by side, each recording its own outcome (receivers take their time; each thread uses a
    pooled connection of its own)."""
    claimed_at = now()
    with ctx.db.transaction() as session:
        due = store.claim_due(session, claimed_at, claimed_at + lease, limit)
    if pool is None:
        for delivery in due:
            _attempt(ctx, now, delivery)
    else:
        for done in [pool.submit(_attempt, ctx, now, delivery) for delivery in due]:
            done.result()
    return len(due)


def deliver_mail_due(
    ctx: EventsContext, now: Callable[[], dt.datetime], limit: int = 50, lease: dt.timedelta = LEASE
) -> int:
    """Send up to ``limit`` due customer emails (retried like webhooks); how many were tried."""
    if ctx.mailer is None:
        return 0
    claimed_at = now()
    with ctx.db.transaction() as session:
        due = mail_store.claim_mail(session, claimed_at, claimed_at + lease, limit)
        contexts = [mail_store.mail_context(session, d.tenant_id, d.data) for d in due]
    for mail, extra in zip(due, contexts, strict=True):
        error = ""
        try:
            message = render(
                mail.template,
                ctx.mail_from,
                mail.to_address,
                mail.tenant_name,
                {**mail.data, **extra, "booking": mail.data},
            )
            ctx.mailer.send(message)
        except Exception as failure:  # SMTP refusals, network errors: retried
            error = f"{type(failure).__name__}: {failure}"
        attempted_at = now()
        retry_at = (
            next_retry(mail.attempts + 1, mail.created_at, attempted_at, ctx.jitter)
            if error
            else None
        )
        with ctx.db.transaction() as session:
            mail_store.record_mail(
                session, mail, sent=not error, error=error, next_retry_at=retry_at
            )
    return len(due)


def _attempt(ctx: EventsContext, now: Callable[[], dt.datetime], delivery: store.Due) -> None:
    attempted_at = now()
    message = Message(
        id=delivery.event_id,
        type=delivery.event_type,
        timestamp=delivery.occurred_at,
        data=delivery.data,
    )
    outcome = ctx.sender.send(
        delivery.endpoint.url, delivery.endpoint.secrets, message, attempted_at
    )
    retry_at = None
    if not outcome.delivered:
        retry_at = next_retry(delivery.attempts + 1, delivery.created_at, attempted_at, ctx.jitter)
    with ctx.db.transaction() as session:
        store.record_attempt(
            session,
            delivery,
            attempted_at=attempted_at,
            status_code=outcome.status_code,
            duration_ms=outcome.duration_ms,
            error=outcome.error,
            delivered=outcome.delivered,
            next_retry_at=retry_at,
        )
        if not outcome.delivered and retry_at is None:
            _disable_if_failing_throughout(session, delivery, attempted_at)


def _disable_if_failing_throughout(session: Session, delivery: store.Due, now: dt.datetime) -> None:
    """The delivery gave up after ~``RETRY_FOR``: if the endpoint has answered nothing well since
    this delivery's first attempt, it failed throughout; disable it."""
    since = store.failing_since(session, delivery.tenant_id, delivery.endpoint.id)
    first = store.first_attempt(session, delivery.tenant_id, delivery.id)
    if since is None or first is None or since > first:
        return
    reason = f"every delivery failed since {since.isoformat()}"
    store.disable_endpoint(session, delivery.tenant_id, delivery.endpoint.id, reason, now)
    log.warning(
        "webhook endpoint %s of tenant %s disabled: %s (%s)",
        delivery.endpoint.id,
        delivery.tenant_id,
        reason,
        delivery.endpoint.url,
    )


class Worker:
    """Delivers until stopped: ``run`` in the foreground (``tierwise worker``) or ``start`` as a
    daemon thread (the embedded default). Idle, it looks again every ``idle_seconds``."""

    def __init__(
        self,
        ctx: EventsContext,
        clock: Callable[[], dt.datetime] | None = None,
        idle_seconds: float = 1.0,
        batch: int = 50,
        lease_seconds: float = LEASE.total_seconds(),
        concurrency: int = 1,
    ) -> None:
        self.ctx = ctx
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self.idle_seconds = idle_seconds
        self.batch = batch
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.pool = ThreadPoolExecutor(concurrency) if concurrency > 1 else None
        self.stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                busy = deliver_due(self.ctx, self.clock, self.batch, self.lease, self.pool) > 0
                busy |= deliver_mail_due(self.ctx, self.clock, self.batch, self.lease) > 0
            except Exception:  # the database away for a moment: try again shortly
                log.exception("delivering webhooks failed; trying again")
                busy = False
            if not busy:
                self.stopping.wait(self.idle_seconds)

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run, name="webhook-worker", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        self.stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self.pool is not None:
            self.pool.shutdown(wait=False)
