"""Webhook endpoints (issue 19): the admin API, and deliveries to a real HTTP receiver, signed per
Standard Webhooks and verified with the ``standardwebhooks`` library; retries driven by a clock the
test moves (no sleeping)."""

from __future__ import annotations

import datetime as dt
import json
import socket
import uuid

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from app import create_app
from app.services import events_out
from storage import models as m
from tests.support.http import error_of, ok
from tests.support.storefront import paid_booking
from tests.support.webhook_receiver import receiver

URL = "/v1/admin/webhook-endpoints"


PUBLIC_ADDRESS = "93.184.216.34"


@pytest.fixture(autouse=True)
def example_dns(monkeypatch):
    """*.example.com resolves to a public address (no DNS in the tests); other names as usual."""
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if isinstance(host, str) and host.endswith("example.com"):
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (PUBLIC_ADDRESS, port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


class Clock:
    """The worker's clock, from 5 s past the real now (what the API stamps events with)."""

    def __init__(self) -> None:
        self.start = self.now = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(
            seconds=5
        )

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture
def local_settings(settings):
    """A server that may deliver to this machine's receiver (http, loopback)."""
    return settings.replace(webhook_allow_http=True, webhook_allow_private_urls=True)


@pytest.fixture
def local_app(local_settings, db, cache):
    return create_app(local_settings, db=db, cache=cache)


@pytest.fixture
def local_client(local_app):
    return local_app.test_client()


def events_ctx(app) -> events_out.EventsContext:
    ctx: events_out.EventsContext = app.extensions["tierwise"].events
    ctx.jitter = lambda: 0.5  # no jitter: the delays as documented
    return ctx


def add_endpoint(client, fx, url: str, events: list[str] | None = None) -> dict:
    return ok(
        client.post(
            URL,
            headers=fx.admin,
            json={"url": url, "events": events or ["*"], "description": "ours"},
        ),
        201,
    )


def deliver_all(app, clock: Clock) -> int:
    total = 0
    while n := events_out.deliver_due(events_ctx(app), clock):
        total += n
    return total


def test_an_endpoint_is_created_with_a_secret_shown_once(client, db, tenant_a, tenant_b):
    created = add_endpoint(client, tenant_a, "https://hooks.example.com/tierwise")
    assert created["secret"].startswith("whsec_")
    assert (created["url"], created["events"], created["status"]) == (
        "https://hooks.example.com/tierwise",
        ["*"],
        "active",
    )
    endpoint = f"{URL}/{created['id']}"
    read = ok(client.get(endpoint, headers=tenant_a.admin))
    assert "secret" not in read and read["id"] == created["id"]
    assert [e["id"] for e in ok(client.get(URL, headers=tenant_a.admin))] == [created["id"]]
    # another tenant's endpoint is not found, for every operation
    for method, path in (
        ("get", endpoint),
        ("delete", endpoint),
        ("post", f"{endpoint}/rotate-secret"),
        ("post", f"{endpoint}/test"),
        ("get", f"{endpoint}/deliveries"),
    ):
        error_of(
            getattr(client, method)(
                path, headers=tenant_b.admin, json={} if method == "post" else None
            ),
            404,
            "webhook_endpoint_not_found",
        )
    assert ok(client.get(URL, headers=tenant_b.admin)) == []
    with db.transaction() as s:
        row = s.scalars(select(m.WebhookEndpoint)).one()
        assert row.secret == created["secret"]


def test_patch_needs_if_match_and_delete_removes(client, tenant_a):
    created = add_endpoint(client, tenant_a, "https://hooks.example.com/a")
    endpoint = f"{URL}/{created['id']}"
    error_of(
        client.patch(endpoint, headers=tenant_a.admin, json={"description": "x"}),
        428,
        "if_match_required",
    )
    changed = client.patch(
        endpoint,
        headers={**tenant_a.admin, "If-Match": '"1"'},
        json={"events": ["booking.*"], "description": "bookings only"},
    )
    assert ok(changed)["events"] == ["booking.*"] and changed.headers["ETag"] == '"2"'
    error_of(
        client.patch(endpoint, headers={**tenant_a.admin, "If-Match": '"1"'}, json={}),
        412,
        "version_mismatch",
    )
    error_of(
        client.post(
            URL,
            headers=tenant_a.admin,
            json={"url": "https://hooks.example.com/b", "events": ["booking.paid"]},
        ),
        422,
        "unknown_event_type",
    )
    assert client.delete(endpoint, headers=tenant_a.admin).status_code == 204
    error_of(client.get(endpoint, headers=tenant_a.admin), 404, "webhook_endpoint_not_found")


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("http://hooks.example.com/x", "webhook_url_not_https"),
        ("https://127.0.0.1/x", "webhook_url_private"),
        ("https://localhost/x", "webhook_url_private"),
        ("https://10.1.2.3/x", "webhook_url_private"),
        ("https://192.168.0.10/x", "webhook_url_private"),
        ("https://169.254.169.254/latest/meta-data", "webhook_url_private"),
        ("https://[::1]/x", "webhook_url_private"),
        ("https://[::ffff:127.0.0.1]/x", "webhook_url_private"),
        ("https://[fe80::1]/x", "webhook_url_private"),
        ("ftp://hooks.example.com/x", "webhook_url_invalid"),
        ("https://user:pw@hooks.example.com/x", "webhook_url_invalid"),
    ],
)
def test_server_mode_refuses_http_and_private_addresses(client, tenant_a, url, code):
    error_of(
        client.post(URL, headers=tenant_a.admin, json={"url": url, "events": ["*"]}), 422, code
    )


def test_deliveries_are_signed_and_verify_with_standardwebhooks(local_app, local_client, tenant_a):
    clock = Clock()
    with receiver() as hooks:
        created = add_endpoint(local_client, tenant_a, hooks.url)
        sent = ok(local_client.post(f"{URL}/{created['id']}/test", headers=tenant_a.admin), 202)
        assert deliver_all(local_app, clock) == 1
        (request,) = hooks.requests
    assert request.headers["webhook-id"] == sent["event_id"]
    assert request.headers["webhook-timestamp"] == str(int(clock.start.timestamp()))
    payload = Webhook(created["secret"]).verify(request.body, request.headers)
    assert payload["type"] == "webhook.test"
    assert set(payload) == {"type", "timestamp", "data"}
    assert payload["data"]["endpoint_id"] == created["id"]
    with pytest.raises(Exception):  # noqa: B017 - any verification failure
        Webhook("whsec_" + "A" * 44).verify(request.body, request.headers)


def test_a_500_is_retried_with_the_same_webhook_id(local_app, local_client, tenant_a):
    clock = Clock()
    with receiver() as hooks:
        hooks.statuses = [500]
        created = add_endpoint(local_client, tenant_a, hooks.url)
        ok(local_client.post(f"{URL}/{created['id']}/test", headers=tenant_a.admin), 202)
        assert deliver_all(local_app, clock) == 1
        attempts = ok(local_client.get(f"{URL}/{created['id']}/deliveries", headers=tenant_a.admin))
        (failed,) = attempts
        assert failed["status_code"] == 500 and failed["delivery_status"] == "pending"
        retry_at = dt.datetime.fromisoformat(failed["next_retry_at"])
        assert (
            dt.timedelta(0) < retry_at - clock.start <= dt.timedelta(seconds=60)
        )  # the first within 60 s
        assert deliver_all(local_app, clock) == 0  # not due yet
        clock.advance(seconds=60)
        assert deliver_all(local_app, clock) == 1
        first, second = hooks.requests
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert first.body == second.body
    Webhook(created["secret"]).verify(second.body, second.headers)
    attempts = ok(local_client.get(f"{URL}/{created['id']}/deliveries", headers=tenant_a.admin))
    assert [(a["status_code"], a["delivery_status"]) for a in attempts] == [
        (200, "delivered"),
        (500, "delivered"),
    ]
    assert attempts[0]["event_id"] == first.headers["webhook-id"]
    assert attempts[0]["event_type"] == "webhook.test"
    assert attempts[0]["duration_ms"] >= 0 and attempts[0]["next_retry_at"] is None


def test_a_delivery_is_retried_on_demand(local_app, local_client, tenant_a):
    clock = Clock()
    with receiver() as hooks:
        created = add_endpoint(local_client, tenant_a, hooks.url)
        ok(local_client.post(f"{URL}/{created['id']}/test", headers=tenant_a.admin), 202)
        deliver_all(local_app, clock)
        (attempt,) = ok(
            local_client.get(f"{URL}/{created['id']}/deliveries", headers=tenant_a.admin)
        )
        retried = local_client.post(
            f"{URL}/{created['id']}/deliveries/{attempt['delivery_id']}/retry",
            headers=tenant_a.admin,
        )
        assert ok(retried, 202)["status"] == "pending"
        assert deliver_all(local_app, clock) == 1
        assert len({r.headers["webhook-id"] for r in hooks.requests}) == 1
        assert len(hooks.requests) == 2
    error_of(
        local_client.post(
            f"{URL}/{created['id']}/deliveries/{uuid.uuid4()}/retry", headers=tenant_a.admin
        ),
        404,
        "delivery_not_found",
    )


def test_rotation_signs_with_both_secrets_during_the_overlap(local_app, local_client, tenant_a):
    clock = Clock()
    with receiver() as hooks:
        created = add_endpoint(local_client, tenant_a, hooks.url)
        rotated = ok(
            local_client.post(
                f"{URL}/{created['id']}/rotate-secret",
                headers=tenant_a.admin,
                json={"overlap_hours": 24},
            )
        )
        assert rotated["secret"].startswith("whsec_") and rotated["secret"] != created["secret"]
        ok(local_client.post(f"{URL}/{created['id']}/test", headers=tenant_a.admin), 202)
        deliver_all(local_app, clock)
        (request,) = hooks.requests
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    Webhook(created["secret"]).verify(request.body, request.headers)
    Webhook(rotated["secret"]).verify(request.body, request.headers)


def test_an_endpoint_failing_throughout_is_disabled(local_app, local_client, tenant_a, caplog):
    clock = Clock()
    with receiver() as hooks:
        hooks.always = 503
        created = add_endpoint(local_client, tenant_a, hooks.url)
        ok(local_client.post(f"{URL}/{created['id']}/test", headers=tenant_a.admin), 202)
        tries = 0
        while clock.now - clock.start < dt.timedelta(days=4):
            tries += deliver_all(local_app, clock)
            clock.advance(minutes=30)
        assert 8 <= tries <= 20, tries
        seen = len(hooks.requests)
    assert seen == tries
    endpoint = ok(local_client.get(f"{URL}/{created['id']}", headers=tenant_a.admin))
    assert endpoint["status"] == "disabled"
    assert endpoint["disabled_reason"].startswith("every delivery failed since")
    attempts = ok(
        local_client.get(
            f"{URL}/{created['id']}/deliveries",
            headers=tenant_a.admin,
            query_string={"page_size": 100},
        )
    )
    assert {a["delivery_status"] for a in attempts} == {"failed"}
    last = dt.datetime.fromisoformat(attempts[0]["attempted_at"])
    assert dt.timedelta(days=2, hours=12) <= last - clock.start <= dt.timedelta(days=3)
    assert "disabled" in caplog.text
    # re-enabled by its admin
    enabled = local_client.patch(
        f"{URL}/{created['id']}",
        headers={**tenant_a.admin, "If-Match": f'"{endpoint["version"]}"'},
        json={"status": "active"},
    )
    assert ok(enabled)["status"] == "active" and enabled.get_json()["disabled_reason"] is None


def test_private_addresses_are_checked_again_at_send_time(client, app, tenant_a, db):
    """DNS rebinding: the name resolved to a public address when the endpoint was saved, to a
    loopback one when the event is sent: nothing is sent, the attempt records why."""
    answers = {"hooks.example.com": [PUBLIC_ADDRESS]}
    ctx = events_ctx(app)
    policy = ctx.policy.__class__(resolver=lambda host, port: answers[host])
    ctx.policy = policy
    ctx.sender.policy = policy
    created = add_endpoint(client, tenant_a, "https://hooks.example.com/x")
    ok(client.post(f"{URL}/{created['id']}/test", headers=tenant_a.admin), 202)
    answers["hooks.example.com"] = ["127.0.0.1"]
    assert events_out.deliver_due(ctx, Clock()) == 1
    (attempt,) = ok(client.get(f"{URL}/{created['id']}/deliveries", headers=tenant_a.admin))
    assert attempt["status_code"] is None
    assert attempt["error"].startswith("webhook_url_private")
    assert attempt["delivery_status"] == "pending"


def test_booking_events_reach_the_endpoint(stripe_app, stripe_client, tenant_a, fake_stripe, db):
    """A booking's life through the checkout and the fake Stripe: created, confirmed, then
    cancelled and refunded by its admin, each an event in the outbox, delivered signed."""
    services = stripe_app.extensions["tierwise"]
    ctx = services.events
    policy = ctx.policy.__class__(allow_http=True, allow_private=True)
    ctx.policy = ctx.sender.policy = policy
    ctx.jitter = lambda: 0.5
    with receiver() as hooks:
        created = add_endpoint(stripe_client, tenant_a, hooks.url, ["booking.*"])
        body, _session = paid_booking(stripe_client, tenant_a, fake_stripe, "w1")
        cancelled = stripe_client.post(
            f"/v1/admin/bookings/{body['booking_id']}/cancel", headers=tenant_a.admin
        )
        assert cancelled.status_code == 200, cancelled.get_json()
        clock = Clock()
        while events_out.deliver_due(ctx, clock):
            pass
        received = [Webhook(created["secret"]).verify(r.body, r.headers) for r in hooks.requests]
    assert [p["type"] for p in received] == [
        "booking.created",
        "booking.confirmed",
        "booking.cancelled",
        "booking.refunded",
    ]
    assert {p["data"]["booking_id"] for p in received} == {body["booking_id"]}
    assert received[1]["data"]["status"] == "paid"
    assert received[1]["data"]["tier_id"] == tenant_a.tiers[1].id
    assert json.dumps(received)  # plain JSON
    with db.transaction() as s:
        assert s.scalar(select(func.count()).select_from(m.OutboxEvent)) >= 4
