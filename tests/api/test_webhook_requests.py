"""One event per request (issue 19): high-volume storefront events could have been batched per
endpoint, but are not (docs/events.md says why); booking events never are. Every request a real
HTTP receiver gets is one Standard Webhooks message — verified with the ``standardwebhooks``
library — whose ``webhook-id`` is its event's id."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select
from standardwebhooks.webhooks import Webhook

from app import create_app
from app.services import events_out
from storage import models as m
from tests.api.test_events import event
from tests.support.http import ok
from tests.support.storefront import paid_booking
from tests.support.webhook_receiver import receiver

ENDPOINTS = "/v1/admin/webhook-endpoints"


@pytest.fixture
def local_app(settings, db, cache):
    """A server that may deliver to this machine's receiver (http, loopback)."""
    return create_app(
        settings.replace(webhook_allow_http=True, webhook_allow_private_urls=True),
        db=db,
        cache=cache,
    )


def test_booking_events_are_never_batched(stripe_app, stripe_client, tenant_a, fake_stripe, db):
    fx = tenant_a
    ctx = stripe_app.extensions["tierwise"].events
    ctx.policy = ctx.sender.policy = ctx.policy.__class__(allow_http=True, allow_private=True)
    with receiver() as hooks:
        created = ok(
            stripe_client.post(
                ENDPOINTS, headers=fx.admin, json={"url": hooks.url, "events": ["*"]}
            ),
            201,
        )
        # storefront events in bulk, bookings in between: everything due at once for one endpoint
        storefront = [
            event(f"s-{i}", "upsell_shown" if i % 2 else "segment_selected", segment=fx.segment.key)
            for i in range(30)
        ]
        ok(
            stripe_client.post(
                "/v1/storefront/events", headers=fx.storefront, json={"events": storefront}
            ),
            202,
        )
        bookings = [paid_booking(stripe_client, fx, fake_stripe, f"b{i}")[0] for i in range(2)]
        cancelled = stripe_client.post(
            f"/v1/admin/bookings/{bookings[0]['booking_id']}/cancel", headers=fx.admin
        )
        assert cancelled.status_code == 200, cancelled.get_json()
        clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)  # noqa: E731
        while events_out.deliver_due(ctx, clock, limit=100):
            pass
        received = [
            (r.headers["webhook-id"], Webhook(created["secret"]).verify(r.body, r.headers))
            for r in hooks.requests
        ]
    with db.transaction() as s:
        queued = dict(
            s.execute(
                select(m.OutboxEvent.id, m.OutboxEvent.type)
                .join(
                    m.WebhookDelivery,
                    (m.WebhookDelivery.tenant_id == m.OutboxEvent.tenant_id)
                    & (m.WebhookDelivery.event_id == m.OutboxEvent.id),
                )
                .where(m.WebhookDelivery.endpoint_id == uuid.UUID(created["id"]))
            ).all()
        )
    # one request per event, each a single message: its id is the event's, its type the event's
    assert len(received) == len(queued) == 30 + 2 * 2 + 2
    assert {webhook_id for webhook_id, _ in received} == {str(i) for i in queued}
    for webhook_id, payload in received:
        assert set(payload) == {"type", "timestamp", "data"}
        assert payload["type"] == queued[uuid.UUID(webhook_id)]
        assert isinstance(payload["data"], dict)
    booking_requests = [p for _, p in received if p["type"].startswith("booking.")]
    assert sorted((p["data"]["booking_id"], p["type"]) for p in booking_requests) == sorted(
        [(b["booking_id"], t) for b in bookings for t in ("booking.created", "booking.confirmed")]
        + [(bookings[0]["booking_id"], t) for t in ("booking.cancelled", "booking.refunded")]
    )


def test_a_disabled_endpoint_gets_nothing_until_re_enabled(local_app, tenant_a):
    """Disabled by its admin with events pending: none is sent to it; re-enabled, they are."""
    client = local_app.test_client()
    ctx = local_app.extensions["tierwise"].events
    clock = lambda: dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)  # noqa: E731
    with receiver() as hooks:
        created = ok(
            client.post(
                ENDPOINTS, headers=tenant_a.admin, json={"url": hooks.url, "events": ["*"]}
            ),
            201,
        )
        endpoint = f"{ENDPOINTS}/{created['id']}"
        sent = ok(client.post(f"{endpoint}/test", headers=tenant_a.admin), 202)
        disabled = client.patch(
            endpoint, headers={**tenant_a.admin, "If-Match": '"1"'}, json={"status": "disabled"}
        )
        assert ok(disabled)["status"] == "disabled"
        assert events_out.deliver_due(ctx, clock) == 0
        assert hooks.requests == []
        enabled = client.patch(
            endpoint, headers={**tenant_a.admin, "If-Match": '"2"'}, json={"status": "active"}
        )
        assert ok(enabled)["status"] == "active"
        assert events_out.deliver_due(ctx, clock) == 1
        (request,) = hooks.requests
    assert request.headers["webhook-id"] == sent["event_id"]
