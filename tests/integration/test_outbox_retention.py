"""Outbox retention (``tierwise sweep``): events delivered everywhere (every webhook delivery
delivered, every email sent) and older than the retention are removed with their deliveries,
attempts and emails; anything pending or failed, and anything recent, stays."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select, update

from app.services import outbox_retention
from storage import mail, outbox
from storage import models as m
from storage.db import Database
from tests.integration.test_reconcile import sweep_cli  # noqa: F401 - the CLI fixture
from tests.support.races import committed_tenant

NOW = dt.datetime(2027, 1, 31, 12, tzinfo=dt.UTC)
OLD = NOW - dt.timedelta(days=31)
RECENT = NOW - dt.timedelta(days=29)


def endpoint(s, fx) -> str:
    return outbox.add_endpoint(
        s,
        fx.tenant.id,
        url="https://h.example.com",
        events=["*"],
        description="",
        secret="whsec_x",
        now=OLD,
    ).id


def event(s, fx, when: dt.datetime, delivery: str | None, mail_status: str | None = None) -> str:
    """An event at ``when`` whose delivery (to the tenant's endpoint) is ``delivery`` (None: the
    event has no delivery), with an email of ``mail_status`` if given."""
    if delivery is None:
        event_id = mail.note(s, fx.tenant.id, "webhook.endpointDisabled", {}, when)
    else:
        event_id = outbox.emit(s, fx.tenant.id, "upsell.shown", {"event_id": "e"}, when)
        (delivery_id,) = s.scalars(
            select(m.WebhookDelivery.id).where(m.WebhookDelivery.event_id == uuid.UUID(event_id))
        ).all()
        s.execute(
            update(m.WebhookDelivery)
            .where(m.WebhookDelivery.id == delivery_id)
            .values(status=delivery, next_attempt_at=None)
        )
        s.add(
            m.WebhookAttempt(
                tenant_id=uuid.UUID(fx.tenant.id),
                id=uuid.uuid4(),
                delivery_id=delivery_id,
                attempted_at=when,
                status_code=200 if delivery == "delivered" else 503,
                duration_ms=3,
                error="",
            )
        )
    if mail_status is not None:
        mail.queue_mail(s, fx.tenant.id, event_id, "booking.confirmed", "ana@example.com", when)
        s.execute(
            update(m.MailMessage)
            .where(m.MailMessage.event_id == uuid.UUID(event_id))
            .values(status=mail_status)
        )
    s.flush()
    return event_id


def remaining(db, ids: dict[str, str]) -> set[str]:
    with db.transaction() as s:
        kept = {str(i) for i in s.scalars(select(m.OutboxEvent.id))}
        # nothing of a removed event is left behind
        for table in (m.WebhookDelivery, m.MailMessage):
            assert {str(i) for i in s.scalars(select(table.event_id))} <= kept
        deliveries = {i for i in s.scalars(select(m.WebhookDelivery.id))}
        assert set(s.scalars(select(m.WebhookAttempt.delivery_id))) <= deliveries
    return {name for name, event_id in ids.items() if event_id in kept}


def test_delivered_events_older_than_the_retention_are_removed(db, tenant_a, tenant_b, monkeypatch):
    monkeypatch.setattr(outbox_retention, "BATCH", 2)  # several batches
    with db.transaction() as s:
        endpoint(s, tenant_a)
        endpoint(s, tenant_b)
        ids = {
            "old delivered": event(s, tenant_a, OLD, "delivered"),
            "old delivered, other tenant": event(s, tenant_b, OLD, "delivered"),
            "old delivered and emailed": event(s, tenant_a, OLD, "delivered", "sent"),
            "old, no delivery": event(s, tenant_a, OLD, None),
            "old pending": event(s, tenant_a, OLD, "pending"),
            "old failed": event(s, tenant_a, OLD, "failed"),
            "old delivered, email pending": event(s, tenant_a, OLD, "delivered", "pending"),
            "old delivered, email failed": event(s, tenant_a, OLD, "delivered", "failed"),
            "recent delivered": event(s, tenant_a, RECENT, "delivered", "sent"),
        }
    removed = outbox_retention.purge_delivered(db, NOW, 30)
    assert remaining(db, ids) == {
        "old pending",
        "old failed",
        "old delivered, email pending",
        "old delivered, email failed",
        "recent delivered",
    }
    assert removed >= 4  # (and whatever an earlier run committed to this database)
    assert outbox_retention.purge_delivered(db, NOW, 30) == 0
    # a day later the recent one is old enough
    assert outbox_retention.purge_delivered(db, NOW + dt.timedelta(days=2), 30) == 1
    assert "recent delivered" not in remaining(db, ids)


def test_tierwise_sweep_removes_them(pg_url, settings, sweep_cli, monkeypatch):  # noqa: F811
    """Through the CLI on committed rows: the old delivered event goes, the old pending stays."""
    monkeypatch.setenv("OUTBOX_RETENTION_DAYS", "7")
    database = Database.from_url(pg_url)
    with committed_tenant(database, settings, "retention") as fx:
        long_ago = dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
        with database.transaction() as s:
            endpoint(s, fx)
            delivered = event(s, fx, long_ago, "delivered", "sent")
            pending = event(s, fx, long_ago, "pending")
        result = sweep_cli()
        assert result.exit_code == 0, result.output
        (line,) = [x for x in result.output.splitlines() if x.startswith("outbox events removed")]
        assert line.startswith("outbox events removed (delivered, older than 7 days): ")
        assert int(line.rsplit(" ", 1)[1]) >= 1
        with database.transaction() as s:
            kept = {str(i) for i in s.scalars(select(m.OutboxEvent.id))}
        assert pending in kept and delivered not in kept
