"""The console's edits over HTTP, each checked in what was stored: a tier's features and popular
badge, add-ons (create, edit, archive, restore), the segments' order, capacity, a pending
activation cancelled, experiments created and edited, segment themes and their preview's data,
webhook endpoints, revenue over time drawing a paid booking (who may do these:
test_console_roles.py)."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from app import create_app
from app.services import analytics, catalog, events_out, experiments, rulesets, tenants
from tests.api.test_accounts import ORIGIN
from tests.api.test_console_pages import signed_in_admin
from tests.support.rules import publish, summer_document
from tests.support.storefront import paid_booking


def post(client, path: str, token: str, **form):
    return client.post(path, data={**form, "csrf_token": token}, headers=ORIGIN)


def db_of(app):
    return app.extensions["tierwise"].db


def test_a_tiers_features_and_popular_badge_are_edited(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    tier = tenant_a.tiers[0]  # features: lunch = false; not popular (level 2 is)
    page = client.get(f"/admin/catalog/tiers/{tier.id}").get_data(as_text=True)
    assert page.count('data-tw="feature-row"') == 1 and 'value="false"' in page
    saved = client.post(
        f"/admin/catalog/tiers/{tier.id}",
        data={
            "name": tier.name,
            "description": "",
            "base_price": "100.00",
            "per_guest_price": "10.00",
            "max_guests": "6",
            "popular": "on",
            "version": str(tier.version),
            "feature_key": ["lunch", "", "rooms", "guide"],
            "feature_label": ["Lunch", "", "Rooms", ""],
            "feature_value": ["true", "", "3", "in English"],
            "csrf_token": token,
        },
        headers=ORIGIN,
    )
    assert saved.status_code == 303
    db = db_of(app)
    now = catalog.get_tier(db, tenant_a.tenant, tier.id)
    assert [(f.key, f.label, f.value) for f in now.features] == [
        ("lunch", "Lunch", True),
        ("rooms", "Rooms", 3),
        ("guide", "guide", "in English"),
    ]
    assert now.popular
    assert not catalog.get_tier(db, tenant_a.tenant, tenant_a.tiers[1].id).popular  # one badge

    duplicate = client.post(
        f"/admin/catalog/tiers/{tier.id}",
        data={
            "name": tier.name,
            "base_price": "100",
            "per_guest_price": "10",
            "max_guests": "6",
            "version": str(now.version),
            "feature_key": ["a", "a"],
            "feature_label": ["A", "A"],
            "feature_value": ["1", "2"],
            "csrf_token": token,
        },
        headers=ORIGIN,
    )
    assert duplicate.status_code == 422  # the API's schema: feature keys are unique


def test_add_ons_are_created_edited_archived_and_restored(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    db = db_of(app)
    made = post(
        client,
        "/admin/catalog/add-ons",
        token,
        key="late-checkout",
        name="Late checkout",
        pricing="flat",
        price="25.50",
    )
    assert made.status_code == 303
    found = next(
        a
        for a in catalog.list_add_ons(db, tenant_a.tenant, None, 0, 10).items
        if a.key == "late-checkout"
    )
    assert (found.pricing, found.price.amount, found.tier_ids) == ("flat", 2550, ())

    page = client.get(f"/admin/catalog/add-ons/{found.id}").get_data(as_text=True)
    assert 'data-tw="add-on-form"' in page and 'value="25.50"' in page
    edited = post(
        client,
        f"/admin/catalog/add-ons/{found.id}",
        token,
        name="Late check-out",
        pricing="per_guest",
        price="12",
        tier_ids=tenant_a.tiers[2].id,
        version=str(found.version),
    )
    assert edited.status_code == 303
    after = catalog.get_add_on(db, tenant_a.tenant, found.id)
    assert (after.name, after.pricing, after.price.amount, after.tier_ids) == (
        "Late check-out",
        "per_guest",
        1200,
        (tenant_a.tiers[2].id,),
    )
    stale = post(
        client,
        f"/admin/catalog/add-ons/{found.id}",
        token,
        name="x",
        pricing="flat",
        price="1",
        version=str(found.version),
    )
    assert stale.status_code == 412

    assert post(client, f"/admin/catalog/add-ons/{found.id}/archive", token).status_code == 303
    assert catalog.get_add_on(db, tenant_a.tenant, found.id).status == "archived"
    assert post(client, f"/admin/catalog/add-ons/{found.id}/restore", token).status_code == 303
    assert catalog.get_add_on(db, tenant_a.tenant, found.id).status == "active"

    bad = post(
        client, "/admin/catalog/add-ons", token, key="Bad Key!", name="x", pricing="flat", price="1"
    )
    assert bad.status_code == 422


def test_segments_are_reordered_in_one_go(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    db = db_of(app)
    second = catalog.create_segment(
        db, tenant_a.tenant, {"key": "family", "name": "Family", "position": 5}
    )
    first = tenant_a.segment
    moved = post(
        client,
        "/admin/catalog/reorder",
        token,
        segment_id=[first.id, second.id],
        **{f"order-{first.id}": "2", f"order-{second.id}": "1"},
    )
    assert moved.status_code == 303
    listed = [s.key for s in catalog.list_segments(db, tenant_a.tenant, None, 0, 10).items]
    assert listed == ["family", first.key]
    bad = post(
        client, "/admin/catalog/reorder", token, segment_id=[first.id], **{f"order-{first.id}": "x"}
    )
    assert bad.status_code == 422


def test_capacity_is_set_and_cleared_per_tier_and_dates(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    tier = tenant_a.tiers[0]
    page = client.get(f"/admin/availability?segment={tenant_a.segment.key}&month=2031-02")
    assert 'data-tw="set-capacity"' in page.get_data(as_text=True)
    db = db_of(app)
    day = dt.date(2031, 2, 3)
    saved = post(
        client,
        "/admin/availability/capacity",
        token,
        tier_id=tier.id,
        start="2031-02-03",
        end="2031-02-04",
        units="9",
        segment=tenant_a.segment.key,
    )
    assert saved.status_code == 303
    days = catalog.capacity(db, tenant_a.tenant, tier.id, day, day + dt.timedelta(days=2))["days"]
    assert [(d["units"], d["source"]) for d in days] == [(9, "date"), (9, "date"), (5, "default")]
    assert (
        post(
            client,
            "/admin/availability/capacity",
            token,
            tier_id=tier.id,
            start="2031-02-03",
            units="-1",
        ).status_code
        == 422
    )
    assert (
        post(
            client,
            "/admin/availability/capacity",
            token,
            tier_id=tier.id,
            start="2031-02-05",
            end="2031-02-01",
            units="1",
        ).status_code
        == 422
    )
    cleared = post(
        client,
        "/admin/availability/capacity",
        token,
        tier_id=tier.id,
        start="2031-02-03",
        end="2031-02-04",
        action="clear",
    )
    assert cleared.status_code == 303
    days = catalog.capacity(db, tenant_a.tenant, tier.id, day, day)["days"]
    assert days[0]["source"] == "default"


def test_a_pending_activation_is_listed_and_cancelled(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=2)
    scheduled = publish(app, tenant_a.tenant.id, summer_document("1.4"), activates_at=later)
    html = client.get("/admin/rules").get_data(as_text=True)
    sequence = re.search(r'data-tw="schedule-row" data-sequence="(\d+)"', html).group(1)
    assert 'data-tw="cancel-schedule"' in html
    cancelled = post(client, f"/admin/rules/schedule/{sequence}/cancel", token)
    assert cancelled.status_code == 303
    now = dt.datetime.now(dt.UTC)
    assert rulesets.list_schedule(db_of(app), tenant_a.tenant, now, 0, 10).total == 0
    assert 'data-tw="schedule-row"' not in client.get("/admin/rules").get_data(as_text=True)
    assert scheduled.version.number  # the version itself stays published
    assert post(client, f"/admin/rules/schedule/{sequence}/cancel", token).status_code in (404, 409)


def test_experiments_are_created_and_edited_with_their_split(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    form = client.get("/admin/experiments/new").get_data(as_text=True)
    assert form.count('data-tw="variant-input"') == 4
    design = {
        "key": "copy-test",
        "name": "Copy test",
        "primary_metric": "booking_conversion",
        "coverage": "0.8",
        "segments": tenant_a.segment.key,
        "variant_key": ["control", "short", ""],
        "variant_name": ["Control", "Short copy", ""],
        "variant_weight": ["0.5", "0.5", ""],
        "control": "0",
    }
    made = post(client, "/admin/experiments", token, **design)
    assert made.status_code == 303, made.get_data(as_text=True)
    db = db_of(app)
    found = experiments.list_experiments(db, tenant_a.tenant, None, 0, 10).items[0]
    assert found["key"] == "copy-test" and found["coverage"] == "0.8"
    assert [(v["key"], v["weight"], v["control"]) for v in found["variants"]] == [
        ("control", "0.5", True),
        ("short", "0.5", False),
    ]
    assert found["targeting"]["segments"] == [tenant_a.segment.key]

    unbalanced = post(
        client,
        "/admin/experiments",
        token,
        **{**design, "key": "other", "variant_weight": ["0.5", "0.7", ""]},
    )
    assert unbalanced.status_code == 422
    assert 'data-tw="form-problems"' in unbalanced.get_data(as_text=True)

    edit = client.get(f"/admin/experiments/{found['id']}/edit").get_data(as_text=True)
    assert 'value="short"' in edit
    edited = post(
        client,
        f"/admin/experiments/{found['id']}",
        token,
        **{**design, "variant_weight": ["0.3", "0.7", ""], "name": "Copy test 2"},
        version=str(found["version"]),
    )
    assert edited.status_code == 303
    again = experiments.get_experiment(db, tenant_a.tenant, found["id"])
    assert again["name"] == "Copy test 2"
    assert [v["weight"] for v in again["variants"]] == ["0.3", "0.7"]

    experiments.transition(
        db, tenant_a.tenant, found["id"], "start", "test", dt.datetime.now(dt.UTC)
    )
    started = experiments.get_experiment(db, tenant_a.tenant, found["id"])
    reweighted = {
        **design,
        "variant_weight": ["0.5", "0.5", ""],
        "version": str(started["version"]),
    }
    refused = post(client, f"/admin/experiments/{found['id']}", token, **reweighted)
    assert refused.status_code == 422  # new weights of a started experiment: re-bucket explicitly
    assert "bump_bucket_version" in refused.get_data(as_text=True)
    bumped = post(
        client, f"/admin/experiments/{found['id']}", token, **reweighted, bump_bucket_version="on"
    )
    assert bumped.status_code == 303
    assert experiments.get_experiment(db, tenant_a.tenant, found["id"])["bucket_version"] == 2


def test_a_segment_theme_is_saved_and_the_preview_reads_the_segments(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    segment = tenant_a.segment
    page = client.get(f"/admin/settings/themes/{segment.id}").get_data(as_text=True)
    assert 'data-tw="theme-preview"' in page and "/widget/v1/tierwise.js" in page
    preview = client.get("/admin/preview/v1/storefront/segments")
    assert preview.status_code == 200
    assert [s["key"] for s in preview.get_json()] == [segment.key]

    saved = post(
        client,
        f"/admin/settings/themes/{segment.id}",
        token,
        primary_color="#114477",
        accent_color="",
        font_family="Georgia, serif",
        radius="4px",
        version=str(segment.version),
    )
    assert saved.status_code == 303
    theme = catalog.get_segment(db_of(app), tenant_a.tenant, segment.id).theme
    assert (theme.primary_color, theme.accent_color, theme.font_family, theme.radius) == (
        "#114477",
        None,
        "Georgia, serif",
        "4px",
    )
    public = client.get("/v1/storefront/segments", headers=tenant_a.storefront).get_json()
    assert public[0]["theme"]["primary_color"] == "#114477"
    bad = post(client, f"/admin/settings/themes/{segment.id}", token, primary_color="red")
    assert bad.status_code == 422


def test_the_notification_email_is_set_and_cleared_as_the_api_takes_it(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'data-tw="notification-email"' in page and 'data-tw="save-tenant"' in page
    version = tenants.get_tenant(db_of(app), tenant_a.tenant.id).version
    saved = post(
        client,
        "/admin/settings/tenant",
        token,
        notification_email=" bookings@shop.example ",
        version=str(version),
    )
    assert saved.status_code == 303
    stored = tenants.get_tenant(db_of(app), tenant_a.tenant.id)
    assert (stored.notification_email, stored.version) == ("bookings@shop.example", version + 1)
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'value="bookings@shop.example"' in page
    api = client.get("/v1/admin/tenant", headers=tenant_a.admin).get_json()
    assert api["notification_email"] == "bookings@shop.example"

    bad = post(client, "/admin/settings/tenant", token, notification_email="not-an-address")
    assert bad.status_code == 422
    stale = post(
        client, "/admin/settings/tenant", token, notification_email="", version=str(version)
    )
    assert stale.status_code == 412  # the form's version was read before the save
    assert tenants.get_tenant(db_of(app), tenant_a.tenant.id).notification_email == (
        "bookings@shop.example"
    )
    cleared = post(
        client, "/admin/settings/tenant", token, notification_email="", version=str(version + 1)
    )
    assert cleared.status_code == 303
    assert tenants.get_tenant(db_of(app), tenant_a.tenant.id).notification_email == ""


@pytest.fixture
def hooks_app(settings, db, cache):
    """An app allowed to deliver to plain-http, local URLs (as embedded mode is)."""
    allowed = settings.replace(webhook_allow_http=True, webhook_allow_private_urls=True)
    return create_app(allowed, db=db, cache=cache)


def test_webhook_endpoints_are_created_rotated_tested_and_deleted(hooks_app, tenant_a):
    client = hooks_app.test_client()
    token = signed_in_admin(client, tenant_a)
    db = db_of(hooks_app)
    made = post(
        client,
        "/admin/webhooks",
        token,
        url="http://127.0.0.1:9/hook",
        events="booking.*, booking.confirmed",
        description="ops",
    )
    html = made.get_data(as_text=True)
    assert made.status_code == 200
    secret = re.search(r'data-tw="new-secret">[^<]*<code>(whsec_[^<]+)</code>', html).group(1)
    endpoint = events_out.list_endpoints(db, tenant_a.tenant.id, 0, 10).items[0]
    assert endpoint["events"] == ["booking.*", "booking.confirmed"]
    listed = client.get("/admin/settings").get_data(as_text=True)
    assert f'data-id="{endpoint["id"]}"' in listed and secret not in listed  # shown once

    rotated = post(client, f"/admin/webhooks/{endpoint['id']}/rotate", token)
    new_secret = re.search(r"<code>(whsec_[^<]+)</code>", rotated.get_data(as_text=True)).group(1)
    assert new_secret != secret

    tested = post(client, f"/admin/webhooks/{endpoint['id']}/test", token)
    assert tested.status_code == 303
    page = client.get(tested.headers["Location"]).get_data(as_text=True)
    assert 'data-tw="deliveries"' in page and "test queued" in page

    refused = post(client, "/admin/webhooks", token, url="ftp://example.com/x", events="booking.*")
    assert refused.status_code == 422
    unknown = post(client, "/admin/webhooks", token, url="http://127.0.0.1:9/x", events="nope")
    assert unknown.status_code == 422

    assert post(client, f"/admin/webhooks/{endpoint['id']}/delete", token).status_code == 303
    assert events_out.list_endpoints(db, tenant_a.tenant.id, 0, 10).total == 0


def test_revenue_over_time_draws_the_days_paid_bookings(stripe_client, tenant_a, fake_stripe):
    paid_booking(stripe_client, tenant_a, fake_stripe)
    signed_in_admin(stripe_client, tenant_a)
    html = stripe_client.get("/admin/analytics").get_data(as_text=True)  # the last 30 days
    points = re.findall(
        r'<circle data-tw="chart-point" data-date="([^"]+)" data-value="(\d+)"', html
    )
    assert len(points) == 30
    db = stripe_client.application.extensions["tierwise"].db
    today = dt.datetime.now(dt.UTC).date()  # the page's range: the last 30 UTC days
    total = analytics.revenue(db, tenant_a.tenant, today - dt.timedelta(days=29), today)
    paid = total["total"]["revenue_minor"]
    assert paid > 0
    assert [int(v) for _, v in points if v != "0"] == [paid]  # one day: the booking's
