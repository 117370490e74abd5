"""Metrics, rate limits and JSON log records in one process (the Flask test client, real
PostgreSQL and Redis); tests/api/test_operable_server.py has the same across two gunicorn
workers."""

from __future__ import annotations

import datetime as dt
import http.server
import io
import json
import logging
import threading
import uuid

import pytest
from prometheus_client import REGISTRY

from app import create_app
from app.adapters import metrics
from app.adapters.webhooks import Message, UrlPolicy, WebhookSender, new_secret
from app.logs import JsonFormatter
from tests.api.test_accounts import sign_in
from tests.conftest import UNREACHABLE_REDIS, token_for
from tests.support.dates import find_day
from tests.support.private_servers import free_port
from tests.support.storefront import deliver, ok_offers, quote, start

TOKEN = "metrics-token-" + "t" * 20


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def app_with(settings, db, cache, **changes):
    return create_app(settings.replace(**changes), db=db, cache=cache).test_client()


# ---- metrics ----------------------------------------------------------------------------------


def test_metrics_need_the_token_when_one_is_set(settings, db, cache):
    client = app_with(settings, db, cache, metrics_token=TOKEN)
    refused = client.get("/metrics")
    assert refused.status_code == 401
    assert refused.get_json()["error"]["code"] == "unauthenticated"
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    answered = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answered.status_code == 200
    assert answered.content_type.startswith("text/plain")
    assert b"# TYPE tierwise_http_request_duration_seconds histogram" in answered.data
    # without a token /metrics is open
    assert app_with(settings, db, cache).get("/metrics").status_code == 200


def test_requests_are_counted_by_route_template_never_by_id(client, tenant_a):
    tier_id = str(uuid.uuid4())
    route = "/v1/admin/tiers/<uuid:tier_id>"
    before = sample(
        "tierwise_http_request_duration_seconds_count", method="GET", route=route, status="404"
    )
    assert client.get(f"/v1/admin/tiers/{tier_id}", headers=tenant_a.admin).status_code == 404
    assert client.get("/no/such/thing").status_code == 404
    text = client.get("/metrics").get_data(as_text=True)
    assert tier_id not in text and "/no/such/thing" not in text
    after = sample(
        "tierwise_http_request_duration_seconds_count", method="GET", route=route, status="404"
    )
    assert after == before + 1
    assert 'route="unmatched",status="404"' in text


def test_an_offer_counts_its_decisions_and_cache_lookups(client, tenant_a):
    decisions = sample("tierwise_rule_decision_duration_seconds_count", purpose="offer")
    lookups = sum(
        sample(f"tierwise_cache_{kind}_total", cache="catalog_process")
        for kind in ("hits", "misses")
    )
    programs = sum(
        sample(f"tierwise_cache_{kind}_total", cache="rules_program") for kind in ("hits", "misses")
    )
    ok_offers(client, tenant_a, find_day(10, weekend=False), guests=2)
    # one evaluation per tier (three), one catalog snapshot, the compiled program for each
    # evaluation and once for the rules' labels on the price lines
    assert sample("tierwise_rule_decision_duration_seconds_count", purpose="offer") == decisions + 3
    assert (
        sum(
            sample(f"tierwise_cache_{kind}_total", cache="catalog_process")
            for kind in ("hits", "misses")
        )
        == lookups + 1
    )
    assert (
        sum(
            sample(f"tierwise_cache_{kind}_total", cache="rules_program")
            for kind in ("hits", "misses")
        )
        == programs + 4
    )


def test_domain_counts_are_added_when_the_transaction_commits_only(db):
    label = f"test-{uuid.uuid4().hex[:8]}"
    with db.transaction() as session:
        metrics.count_on_commit(session, metrics.hold(label))
        assert sample("tierwise_holds_total", outcome=label) == 0
    assert sample("tierwise_holds_total", outcome=label) == 1
    with pytest.raises(RuntimeError), db.transaction() as session:
        metrics.count_on_commit(session, metrics.hold(label))
        raise RuntimeError("rolled back")
    assert sample("tierwise_holds_total", outcome=label) == 1
    with db.transaction():  # a later commit of the same session factory adds nothing stale
        pass
    assert sample("tierwise_holds_total", outcome=label) == 1


def test_a_paid_checkout_counts_its_hold_booking_and_payment(stripe_client, tenant_a, fake_stripe):
    def counts() -> tuple[float, ...]:
        return (
            sample("tierwise_holds_total", outcome="placed"),
            sample("tierwise_booking_transitions_total", status="paid"),
            sample("tierwise_payments_total", reason="checkout"),
        )

    before = counts()
    q = quote(stripe_client, tenant_a)
    body = start(stripe_client, tenant_a, q["token"], key="k1").get_json()
    assert counts() == (before[0] + 1, before[1], before[2])
    paid = fake_stripe.complete_session(body["checkout_session_id"])
    deliver(stripe_client, fake_stripe.event("checkout.session.completed", paid["id"]))
    assert counts() == (before[0] + 1, before[1] + 1, before[2] + 1)
    # the same event again changes nothing, and counts nothing
    deliver(stripe_client, fake_stripe.event("checkout.session.completed", paid["id"]))
    assert counts() == (before[0] + 1, before[1] + 1, before[2] + 1)


def test_webhook_attempts_are_counted_by_outcome():
    received = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    sender = WebhookSender(UrlPolicy(allow_http=True, allow_private=True))
    message = Message("evt_1", "webhook.test", dt.datetime.now(dt.UTC), {"ok": True})
    before = [
        sample("tierwise_webhook_deliveries_total", outcome=o) for o in ("delivered", "failed")
    ]
    try:
        port = server.server_address[1]
        sent = sender.send(f"http://127.0.0.1:{port}/", [new_secret()], message, message.timestamp)
        assert sent.delivered
        unreachable = f"http://127.0.0.1:{free_port()}/"
        assert not sender.send(unreachable, [new_secret()], message, message.timestamp).delivered
    finally:
        server.shutdown()
        server.server_close()
    after = [
        sample("tierwise_webhook_deliveries_total", outcome=o) for o in ("delivered", "failed")
    ]
    assert len(received) == 1 and after == [before[0] + 1, before[1] + 1]


def test_database_pool_use_is_a_gauge(client, db, tenant_a):
    in_use = sample("tierwise_db_pool_connections_in_use", pool="durable")
    with db.engine.connect():
        assert sample("tierwise_db_pool_connections_in_use", pool="durable") == in_use + 1
    assert sample("tierwise_db_pool_connections_in_use", pool="durable") == in_use


# ---- rate limits ------------------------------------------------------------------------------


def assert_limited(response) -> None:
    assert response.status_code == 429, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"]["code"] == "rate_limited" and body["error"]["message"]
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert 1 <= int(response.headers["Retry-After"]) <= 61  # whole seconds, rounded up
    assert response.headers["RateLimit-Remaining"] == "0"
    assert 0 <= int(response.headers["RateLimit-Reset"]) <= 61  # whole seconds, rounded up


def test_storefront_limit_per_api_key(settings, db, cache, tenant_a, tenant_b):
    client = app_with(settings, db, cache, rate_limit_storefront="3/minute")
    answers = [client.get("/v1/storefront/segments", headers=tenant_a.storefront) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    # within the limit no headers (they would cost two Redis round trips per request)
    assert all("Retry-After" not in a.headers for a in answers)
    assert all("RateLimit-Limit" not in a.headers for a in answers)
    limited = client.get("/v1/storefront/segments", headers=tenant_a.storefront)
    assert_limited(limited)
    assert limited.headers["RateLimit-Limit"] == "3"
    # another tenant's key, and routes without a limit, are not affected
    assert client.get("/v1/storefront/segments", headers=tenant_b.storefront).status_code == 200
    assert client.get("/healthz").status_code == 200


def test_within_the_limit_storefront_requests_skip_flask_limiter_s_own_pass(
    settings, db, cache, tenant_a, monkeypatch
):
    """Counted first on flask-limiter's counter (app/http/rate_limits.py, ``_counted_first``):
    within the limit straight to the view; over it, flask-limiter's pass answers the 429 (the
    test above: the counter is the one it reads)."""
    client = app_with(settings, db, cache, rate_limit_storefront="3/minute")
    (limiter,) = client.application.extensions["limiter"]
    passes = []
    own_pass = limiter._check_request_limit
    monkeypatch.setattr(
        limiter, "_check_request_limit", lambda *a, **k: passes.append(1) or own_pass(*a, **k)
    )
    for _ in range(3):
        assert client.get("/v1/storefront/segments", headers=tenant_a.storefront).status_code == 200
    assert passes == []
    assert_limited(client.get("/v1/storefront/segments", headers=tenant_a.storefront))
    assert passes == [1]


def test_a_high_storefront_limit_is_leased_in_batches(settings, db, cache, tenant_a, tenant_b):
    """1000/minute: leases of ten requests (app/http/rate_leases.py); the window's counter is
    moved near the limit in Redis, as other workers' requests would have."""
    client = app_with(settings, db, cache, rate_limit_storefront="1000/minute")
    assert client.get("/v1/storefront/segments", headers=tenant_a.storefront).status_code == 200
    (key,) = cache._client.keys(f"*key:{tenant_a.tenant.id}:*")
    assert int(cache._client.get(key)) == 10  # one round trip leased ten requests
    cache._client.set(key, 995, keepttl=True)
    statuses = [
        client.get("/v1/storefront/segments", headers=tenant_a.storefront).status_code
        for _ in range(15)
    ]
    # the nine leased requests, then five of the next lease (996..1,000), then refused
    assert statuses == [200] * 14 + [429]
    assert int(cache._client.get(key)) == 1005
    limited = client.get("/v1/storefront/segments", headers=tenant_a.storefront)
    assert_limited(limited)
    assert limited.headers["RateLimit-Limit"] == "1000"
    assert int(cache._client.get(key)) == 1005  # refused from memory until the window ends
    assert client.get("/v1/storefront/segments", headers=tenant_b.storefront).status_code == 200


def test_with_redis_unreachable_limits_are_kept_in_the_process(settings, db, cache, tenant_a):
    client = app_with(
        settings, db, cache, redis_url=UNREACHABLE_REDIS, rate_limit_storefront="2/minute"
    )
    statuses = [
        client.get("/v1/storefront/segments", headers=tenant_a.storefront).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]


def test_admin_limit_per_token_subject(settings, db, cache, tenant_a):
    client = app_with(settings, db, cache, rate_limit_admin="2/minute")
    for _ in range(2):
        assert client.get("/v1/admin/tiers", headers=tenant_a.admin).status_code == 200
    assert_limited(client.get("/v1/admin/tiers", headers=tenant_a.admin))
    assert client.get("/v1/admin/tiers", headers=tenant_a.analyst).status_code == 200


def test_one_tenants_admin_flood_never_limits_another_tenants_same_subject(
    settings, db, cache, tenant_a, tenant_b
):
    """Token subjects are not unique across tenants (`tierwise token` defaults to "cli", the
    tests use "test-tenant_admin"): the counter is per tenant and subject."""
    client = app_with(settings, db, cache, rate_limit_admin="2/minute")
    for _ in range(2):
        assert client.get("/v1/admin/tiers", headers=tenant_a.admin).status_code == 200
    assert_limited(client.get("/v1/admin/tiers", headers=tenant_a.admin))
    assert client.get("/v1/admin/tiers", headers=tenant_b.admin).status_code == 200


def test_off_means_no_limit(settings, db, cache, tenant_a):
    client = app_with(settings, db, cache, rate_limit_storefront="")
    for _ in range(5):
        response = client.get("/v1/storefront/segments", headers=tenant_a.storefront)
        assert response.status_code == 200


def test_console_sign_ins_are_limited_per_address(settings, db, cache, tenant_a):
    client = app_with(settings, db, cache, rate_limit_login="2/minute")
    for _ in range(2):
        assert sign_in(client, "nobody@example.com", "wrong").status_code == 401
    refused = sign_in(client, "nobody@example.com", "wrong")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def platform(settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(settings, 'platform_admin', None)}"}


def test_platform_admins_override_a_tenants_limits(settings, db, cache, tenant_a, tenant_b):
    client = app_with(settings, db, cache, rate_limit_storefront="2/minute")
    url = f"/v1/platform/tenants/{tenant_a.tenant.id}/rate-limits"
    assert client.get(url, headers=platform(settings)).get_json() == {
        "storefront": None,
        "admin": None,
    }
    changed = client.put(url, json={"storefront": "4/minute"}, headers=platform(settings))
    assert changed.status_code == 200
    assert changed.get_json() == {"storefront": "4/minute", "admin": None}
    statuses = [
        client.get("/v1/storefront/segments", headers=tenant_a.storefront).status_code
        for _ in range(5)
    ]
    assert statuses == [200, 200, 200, 200, 429]
    # the other tenant keeps the service's limit
    statuses = [
        client.get("/v1/storefront/segments", headers=tenant_b.storefront).status_code
        for _ in range(3)
    ]
    assert statuses == [200, 200, 429]
    client.put(url, json={"storefront": "off", "admin": "1/minute"}, headers=platform(settings))
    for _ in range(3):
        assert client.get("/v1/storefront/segments", headers=tenant_a.storefront).status_code == 200
    assert client.get("/v1/admin/tiers", headers=tenant_a.admin).status_code == 200
    assert_limited(client.get("/v1/admin/tiers", headers=tenant_a.admin))


def test_overrides_are_validated_and_for_platform_admins_only(settings, db, cache, tenant_a):
    client = app_with(settings, db, cache)
    url = f"/v1/platform/tenants/{tenant_a.tenant.id}/rate-limits"
    bad = client.put(url, json={"storefront": "lots"}, headers=platform(settings))
    assert bad.status_code == 422
    assert bad.get_json()["error"]["details"][0]["path"] == "/json/storefront"
    assert client.put(url, json={}, headers=tenant_a.admin).status_code == 403
    missing = f"/v1/platform/tenants/{uuid.uuid4()}/rate-limits"
    assert client.get(missing, headers=platform(settings)).status_code == 404


# ---- JSON log records -------------------------------------------------------------------------


def test_an_exception_is_one_json_record_with_its_request(settings, db, cache, tenant_a):
    app = create_app(settings.replace(log_format="json"), db=db, cache=cache)

    def boom() -> None:
        raise RuntimeError("kaput")

    app.add_url_rule("/v1/admin/boom", "boom", boom)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    errors = logging.getLogger("app.http.errors")
    errors.addHandler(handler)
    try:
        response = app.test_client().get("/v1/admin/boom")
    finally:
        errors.removeHandler(handler)
    assert response.status_code == 500
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["level"] == "ERROR" and record["event"] == "unhandled error"
    assert record["request_id"] == response.headers["X-Request-Id"]
    assert record["route"] == "/v1/admin/boom"
    assert "RuntimeError: kaput" in record["traceback"]
    assert "Traceback (most recent call last)" in record["traceback"]
    assert record["time"][-6] in "+-" and record["time"][-3] == ":"  # an offset, +00:00
