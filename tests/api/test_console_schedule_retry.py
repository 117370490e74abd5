"""The console schedules a publish for later (listed among the pending activations, cancelled
there) and retries a webhook delivery that failed, each checked in what was stored; analysts get
neither control and are refused both writes."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest

from app import create_app
from app.services import accounts, events_out, rulesets
from tests.api.test_accounts import ORIGIN, csrf_of, sign_in
from tests.api.test_console_pages import signed_in_admin
from tests.support.rules import summer_document
from tests.support.webhook_receiver import receiver


def post(client, path: str, token: str, **form):
    return client.post(path, data={**form, "csrf_token": token}, headers=ORIGIN)


def db_of(app):
    return app.extensions["tierwise"].db


def signed_in_analyst(client, tenant) -> str:
    db = client.application.extensions["tierwise"].db
    _, password = accounts.create_user(db, tenant.tenant.id, "ana@example.com", "analyst")
    assert sign_in(client, "ana@example.com", password).status_code == 303
    return csrf_of(client.get("/admin/settings").get_data(as_text=True))


def test_a_publish_is_scheduled_for_later_listed_and_cancelled(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    db = db_of(app)
    active_before = rulesets.activation_state(db, tenant_a.tenant, dt.datetime.now(dt.UTC))
    page = client.get("/admin/rules").get_data(as_text=True)
    assert 'data-tw="publish-at"' in page and 'data-tw="confirm-schedule"' in page
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(second=0, microsecond=0)
    document = json.dumps(summer_document("1.3"))

    missing = post(client, "/admin/rules", token, action="schedule", document=document)
    assert missing.status_code == 200
    assert 'data-path="/activates_at"' in missing.get_data(as_text=True)
    past = post(
        client,
        "/admin/rules",
        token,
        action="schedule",
        document=document,
        activates_at="2020-01-01T10:00",
    )
    assert "Must be now or later" in past.get_data(as_text=True)  # the service refuses it
    assert rulesets.list_versions(db, tenant_a.tenant, 0, 10).total == 1  # nothing published

    scheduled = post(
        client,
        "/admin/rules",
        token,
        action="schedule",
        document=document,
        note="autumn",
        activates_at=later.strftime("%Y-%m-%dT%H:%M"),  # a datetime-local value, read as UTC
    )
    assert scheduled.status_code == 303
    now = dt.datetime.now(dt.UTC)
    (pending,) = rulesets.list_schedule(db, tenant_a.tenant, now, 0, 10).items
    assert pending.activates_at == later and pending.action == "publish"
    version = rulesets.get_version(db, tenant_a.tenant, pending.version_number)
    assert version.note == "autumn"
    assert version.document["rules"] == summer_document("1.3")["rules"]
    state = rulesets.activation_state(db, tenant_a.tenant, now)
    assert state["active_version"] == active_before["active_version"]  # not in force yet

    html = client.get(scheduled.headers["Location"]).get_data(as_text=True)
    assert "scheduled to become active" in html
    row = re.search(r'data-tw="schedule-row" data-sequence="(\d+)">([^<]*)', html)
    assert row.group(1) == str(pending.sequence)
    assert f"version {version.number} at {later:%Y-%m-%d %H:%M} UTC" in row.group(2)
    cancelled = post(client, f"/admin/rules/schedule/{pending.sequence}/cancel", token)
    assert cancelled.status_code == 303
    assert rulesets.list_schedule(db, tenant_a.tenant, dt.datetime.now(dt.UTC), 0, 10).total == 0


def test_analysts_cannot_schedule_a_publish(app, client, tenant_a):
    token = signed_in_analyst(client, tenant_a)
    page = client.get("/admin/rules").get_data(as_text=True)
    assert 'data-tw="publish-at"' not in page and 'data-tw="confirm-schedule"' not in page
    refused = post(
        client,
        "/admin/rules",
        token,
        action="schedule",
        document=json.dumps(summer_document("1.3")),
        activates_at="2031-01-01T10:00",
    )
    assert refused.status_code == 403
    assert rulesets.list_versions(db_of(app), tenant_a.tenant, 0, 10).total == 1


@pytest.fixture
def hooks_app(settings, db, cache):
    """An app allowed to deliver to plain-http, local URLs (the test's receiver)."""
    allowed = settings.replace(webhook_allow_http=True, webhook_allow_private_urls=True)
    return create_app(allowed, db=db, cache=cache)


def deliver(app) -> int:
    """One round of the worker, on the real clock: how many deliveries were attempted."""
    ctx: events_out.EventsContext = app.extensions["tierwise"].events
    return events_out.deliver_due(ctx, lambda: dt.datetime.now(dt.UTC))


def test_a_failed_delivery_is_retried_from_its_endpoints_page(hooks_app, tenant_a, tenant_b):
    client = hooks_app.test_client()
    token = signed_in_admin(client, tenant_a)
    db = db_of(hooks_app)
    with receiver() as hooks:
        hooks.statuses = [500]
        made = post(client, "/admin/webhooks", token, url=hooks.url, events="*")
        assert made.status_code == 200
        endpoint = events_out.list_endpoints(db, tenant_a.tenant.id, 0, 10).items[0]
        page_url = f"/admin/webhooks/{endpoint['id']}"
        assert post(client, f"{page_url}/test", token).status_code == 303
        assert deliver(hooks_app) == 1  # answered 500: pending, retried later
        assert deliver(hooks_app) == 0  # not due yet
        (attempt,) = events_out.deliveries(db, tenant_a.tenant.id, endpoint["id"], 0, 10).items
        assert attempt["delivery_status"] == "pending" and attempt["next_retry_at"] is not None

        html = client.get(page_url).get_data(as_text=True)
        assert html.count('data-tw="retry-delivery"') == 1
        retry = f"{page_url}/deliveries/{attempt['delivery_id']}/retry"
        assert f'action="{retry}"' in html
        retried = post(client, retry, token)
        assert retried.status_code == 303
        assert "retry queued" in client.get(retried.headers["Location"]).get_data(as_text=True)
        assert deliver(hooks_app) == 1  # due now
        assert len(hooks.requests) == 2
        assert len({r.headers["webhook-id"] for r in hooks.requests}) == 1  # the same delivery

    html = client.get(page_url).get_data(as_text=True)  # delivered: nothing to retry
    assert 'data-tw="retry-delivery"' not in html and html.count('data-tw="delivery-row"') == 2

    unknown = post(client, f"{page_url}/deliveries/{uuid.uuid4()}/retry", token)
    assert unknown.status_code == 404
    now = dt.datetime.now(dt.UTC)
    hook = {"url": "http://127.0.0.1:9/b", "events": ["*"], "description": ""}
    other = events_out.create_endpoint(
        hooks_app.extensions["tierwise"].events, tenant_b.tenant.id, hook, now
    )
    events_out.send_test(db, tenant_b.tenant.id, other["id"], now)
    (theirs,) = events_out.deliveries(db, tenant_b.tenant.id, other["id"], 0, 10).items
    their_retry = f"/admin/webhooks/{other['id']}/deliveries/{theirs['delivery_id']}/retry"
    assert post(client, their_retry, token).status_code == 404  # another tenant's
    mixed = f"{page_url}/deliveries/{theirs['delivery_id']}/retry"
    assert post(client, mixed, token).status_code == 404  # not this endpoint's

    analyst = hooks_app.test_client()
    analyst_token = signed_in_analyst(analyst, tenant_a)
    assert post(client, f"{page_url}/test", token).status_code == 303  # a pending delivery
    html = analyst.get(page_url).get_data(as_text=True)
    assert "pending" in html and 'data-tw="retry-delivery"' not in html
    (queued,) = [
        a
        for a in events_out.deliveries(db, tenant_a.tenant.id, endpoint["id"], 0, 10).items
        if a["delivery_status"] == "pending"
    ]
    refused = post(analyst, f"{page_url}/deliveries/{queued['delivery_id']}/retry", analyst_token)
    assert refused.status_code == 403
