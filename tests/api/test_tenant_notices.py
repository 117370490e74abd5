"""What a tenant itself is told (issue 19): its notification address (a tenant field, validated,
in the OpenAPI) gets an email per new booking; an endpoint disabled after failing throughout is
emailed to the tenant's admins and that address. Real SMTP (aiosmtpd), real HTTP receiver."""

from __future__ import annotations

import datetime as dt

import pytest
from click.testing import CliRunner

from app import cli, create_app
from app.adapters.mail import SmtpMailer
from app.services import events_out
from storage import accounts
from storage.db import Database
from storage.tenants import get_tenant
from tests.api.test_webhooks import Clock
from tests.support.embedded import use_embedded
from tests.support.http import error_of, ok
from tests.support.smtp_inbox import parts, smtp_server
from tests.support.storefront import paid_booking
from tests.support.webhook_receiver import receiver

TENANT = "/v1/admin/tenant"
ENDPOINTS = "/v1/admin/webhook-endpoints"


def later() -> dt.datetime:
    return dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)


def set_notification_email(client, fx, address: str):
    version = client.get(TENANT, headers=fx.admin).headers["ETag"]
    return client.patch(
        TENANT, headers={**fx.admin, "If-Match": version}, json={"notification_email": address}
    )


def send_mail(ctx: events_out.EventsContext, clock=later) -> int:
    sent = 0
    while n := events_out.deliver_mail_due(ctx, clock):
        sent += n
    return sent


def test_the_notification_address_is_a_validated_tenant_field(client, db, tenant_a, tenant_b):
    assert ok(client.get(TENANT, headers=tenant_a.admin))["notification_email"] == ""
    updated = ok(set_notification_email(client, tenant_a, "ops@hotel.example"))
    assert updated["notification_email"] == "ops@hotel.example"
    assert ok(client.get(TENANT, headers=tenant_b.admin))["notification_email"] == ""
    for wrong in ("not an address", "ops@", "x" * 250 + "@a.example", 12):
        response = set_notification_email(client, tenant_a, wrong)
        error_of(response, 422, "validation_error")
        assert response.get_json()["error"]["details"][0]["path"] == "/json/notification_email"
    assert ok(set_notification_email(client, tenant_a, ""))["notification_email"] == ""
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    for name in ("Tenant", "TenantUpdate", "TenantCreate", "TenantStatus"):
        assert "notification_email" in schemas[name]["properties"], name


def test_the_platform_creates_a_tenant_with_a_notification_address(client, platform_headers):
    tenant = {"slug": "inn", "name": "Inn", "currency": "EUR", "time_zone": "Europe/Paris"}
    created = client.post(
        "/v1/platform/tenants",
        headers=platform_headers,
        json={**tenant, "notification_email": "front-desk@inn.example"},
    )
    assert ok(created, 201)["notification_email"] == "front-desk@inn.example"
    refused = client.post(
        "/v1/platform/tenants",
        headers=platform_headers,
        json={**tenant, "slug": "inn2", "notification_email": "front desk"},
    )
    error_of(refused, 422, "validation_error")


def test_a_new_booking_is_emailed_to_the_notification_address(
    stripe_app, stripe_client, tenant_a, fake_stripe
):
    ok(set_notification_email(stripe_client, tenant_a, "ops@hotel.example"))
    ctx = stripe_app.extensions["tierwise"].events
    with smtp_server() as inbox:
        ctx.mailer = SmtpMailer(inbox.url)
        body, session = paid_booking(stripe_client, tenant_a, fake_stripe, "n1")
        assert send_mail(ctx) == 2  # the customer's and the tenant's
        (notice,) = inbox.to("ops@hotel.example")
        assert len(inbox.to("ana@example.com")) == 1
    assert notice["Subject"] == f"New booking — {tenant_a.tenant.name}"
    tier = tenant_a.tiers[1]
    for part in parts(notice):
        assert body["booking_id"] in part
        assert tier.name in part
        assert "ana@example.com" in part
        assert f"{session['amount_total'] // 100}.{session['amount_total'] % 100:02d} EUR" in part
    text, html = parts(notice)
    assert "<table>" in html and "<table>" not in text


def test_without_a_notification_address_only_the_customer_is_emailed(
    stripe_app, stripe_client, tenant_a, fake_stripe
):
    ctx = stripe_app.extensions["tierwise"].events
    with smtp_server() as inbox:
        ctx.mailer = SmtpMailer(inbox.url)
        paid_booking(stripe_client, tenant_a, fake_stripe, "n2")
        assert send_mail(ctx) == 1
    ((_, recipients, _),) = inbox.messages
    assert recipients == ["ana@example.com"]


@pytest.fixture
def local_app(settings, db, cache):
    """A server that may deliver to this machine's receiver (http, loopback)."""
    return create_app(
        settings.replace(webhook_allow_http=True, webhook_allow_private_urls=True),
        db=db,
        cache=cache,
    )


def test_an_endpoint_disabled_after_failing_throughout_is_told_to_the_admins(
    local_app, db, tenant_a, tenant_b
):
    client = local_app.test_client()
    with db.transaction() as s:
        for tenant, email, role in (
            (tenant_a, "ada@hotel.example", "tenant_admin"),
            (tenant_a, "bob@hotel.example", "tenant_admin"),
            (tenant_a, "ana@hotel.example", "analyst"),
            (tenant_b, "eve@other.example", "tenant_admin"),
        ):
            accounts.add_user(s, tenant.tenant.id, email, email, role, "not-a-hash")
    # the notification address is also an admin's, written otherwise: told once
    ok(set_notification_email(client, tenant_a, "Ada@Hotel.example"))
    ctx = local_app.extensions["tierwise"].events
    ctx.jitter = lambda: 0.5
    clock = Clock()
    with receiver() as hooks, smtp_server() as inbox:
        ctx.mailer = SmtpMailer(inbox.url)
        hooks.always = 503
        created = ok(
            client.post(
                ENDPOINTS, headers=tenant_a.admin, json={"url": hooks.url, "events": ["*"]}
            ),
            201,
        )
        ok(client.post(f"{ENDPOINTS}/{created['id']}/test", headers=tenant_a.admin), 202)
        endpoint = f"{ENDPOINTS}/{created['id']}"
        while ok(client.get(endpoint, headers=tenant_a.admin))["status"] == "active":
            assert clock.now - clock.start < dt.timedelta(days=4), "never disabled"
            assert send_mail(ctx, clock) == 0  # nobody is told while it is retried
            while events_out.deliver_due(ctx, clock):
                pass
            clock.advance(minutes=30)
        assert len(hooks.requests) >= 8
        assert send_mail(ctx, clock) == 2
    recipients = sorted(r for _, rcpt, _ in inbox.messages for r in rcpt)
    assert recipients == ["Ada@Hotel.example", "bob@hotel.example"]
    for message in inbox.to("bob@hotel.example") + inbox.to("Ada@Hotel.example"):
        assert message["Subject"] == f"A webhook endpoint was disabled — {tenant_a.tenant.name}"
        for part in parts(message):
            assert created["id"] in part and hooks.url in part
            assert "every delivery failed since" in part


def test_create_tenant_takes_a_notification_address(tmp_path, monkeypatch):
    use_embedded(monkeypatch, tmp_path / "cli.db")
    runner = CliRunner()
    assert runner.invoke(cli.main, ["migrate"]).exit_code == 0
    tenant = ["create-tenant", "--name", "Inn", "--currency", "EUR", "--time-zone", "UTC"]
    made = runner.invoke(
        cli.main, [*tenant, "--slug", "inn", "--notification-email", "ops@inn.example"]
    )
    assert made.exit_code == 0, made.output
    refused = runner.invoke(cli.main, [*tenant, "--slug", "inn2", "--notification-email", "ops"])
    assert refused.exit_code != 0 and "notification_email" in refused.output
    db = Database.from_url(f"sqlite:///{tmp_path / 'cli.db'}")
    try:
        with db.read() as s:
            assert get_tenant(s, "inn").notification_email == "ops@inn.example"
    finally:
        db.dispose()
