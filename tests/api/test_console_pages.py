"""Console pages over HTTP beyond sign-in: users (invite, reset a password, remove: their
sessions end at once), a booking's detail and its cancellation, platform admins' own users."""

from __future__ import annotations

import datetime as dt
import json
import re

from app.services import accounts, catalog, rulesets, tenants
from tests.api.test_accounts import ORIGIN, csrf_of, sign_in
from tests.api.test_experiments import E, design
from tests.support.rules import publish, summer_document
from tests.support.storefront import paid_booking

SHOWN = re.compile(r"\(shown once\): <code>([^<]+)</code>")


def signed_in_admin(client, tenant) -> str:
    _, password = accounts.create_user(
        client.application.extensions["tierwise"].db,
        tenant.tenant.id,
        "boss@example.com",
        "tenant_admin",
    )
    assert sign_in(client, "boss@example.com", password).status_code == 303
    return csrf_of(client.get("/admin/settings").get_data(as_text=True))


def test_an_admin_invites_resets_and_removes_users(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    invited = client.post(
        "/admin/users",
        data={"email": "new@example.com", "name": "New", "role": "analyst", "csrf_token": token},
        headers=ORIGIN,
    )
    assert invited.status_code == 200
    password = SHOWN.search(invited.get_data(as_text=True)).group(1)

    other = app.test_client()
    assert sign_in(other, "new@example.com", password).status_code == 303
    assert other.get("/admin/catalog").status_code == 200
    user_id = next(
        u.id
        for u in accounts.list_users(app.extensions["tierwise"].db, tenant_a.tenant.id)
        if u.email == "new@example.com"
    )

    reset = client.post(
        f"/admin/users/{user_id}/reset-password", data={"csrf_token": token}, headers=ORIGIN
    )
    assert reset.status_code == 200
    new_password = SHOWN.search(reset.get_data(as_text=True)).group(1)
    assert new_password != password
    assert other.get("/admin/catalog").status_code == 302  # the reset ended their session
    assert sign_in(other, "new@example.com", password).status_code == 401
    assert sign_in(other, "new@example.com", new_password).status_code == 303

    removed = client.post(
        f"/admin/users/{user_id}/remove", data={"csrf_token": token}, headers=ORIGIN
    )
    assert removed.status_code == 303
    assert other.get("/admin/catalog").status_code == 302  # removal ends the session at once
    assert "new@example.com" not in client.get("/admin/settings").get_data(as_text=True)


def test_an_admin_cannot_touch_another_tenants_users(app, client, tenant_a, tenant_b):
    token = signed_in_admin(client, tenant_a)
    stranger, _ = accounts.create_user(
        app.extensions["tierwise"].db, tenant_b.tenant.id, "b@example.com", "analyst"
    )
    for action in ("reset-password", "remove"):
        response = client.post(
            f"/admin/users/{stranger.id}/{action}", data={"csrf_token": token}, headers=ORIGIN
        )
        assert response.status_code == 404, action


def test_analysts_cannot_invite(app, client, tenant_a):
    _, password = accounts.create_user(
        app.extensions["tierwise"].db, tenant_a.tenant.id, "ana@example.com", "analyst"
    )
    sign_in(client, "ana@example.com", password)
    html = client.get("/admin/settings").get_data(as_text=True)
    assert 'data-tw="invite"' not in html
    response = client.post(
        "/admin/users",
        data={"email": "x@example.com", "role": "tenant_admin", "csrf_token": csrf_of(html)},
        headers=ORIGIN,
    )
    assert response.status_code == 403


def test_a_booking_shows_its_money_and_is_cancelled_with_its_refund(
    stripe_client, tenant_a, fake_stripe
):
    body, _ = paid_booking(stripe_client, tenant_a, fake_stripe)
    booking_id = body["booking_id"]
    token = signed_in_admin(stripe_client, tenant_a)
    listed = stripe_client.get("/admin/bookings").get_data(as_text=True)
    assert f'data-id="{booking_id}"' in listed
    detail = stripe_client.get(f"/admin/bookings/{booking_id}").get_data(as_text=True)
    assert "ana@example.com" in detail and 'data-tw="payment-row"' in detail
    assert 'data-tw="cancel-booking"' in detail
    cancelled = stripe_client.post(
        f"/admin/bookings/{booking_id}/cancel", data={"csrf_token": token}, headers=ORIGIN
    )
    assert cancelled.status_code == 303
    after = stripe_client.get(f"/admin/bookings/{booking_id}").get_data(as_text=True)
    status = re.search(r'data-tw="booking-status">([^<]+)<', after).group(1)
    assert status in ("refunded", "cancelled", "refund_pending"), status


def test_platform_admins_have_users_of_their_own_and_pick_a_tenant(app, client, tenant_a):
    db = app.extensions["tierwise"].db
    _, password = accounts.create_user(db, None, "ops@tierwise.example", "platform_admin")
    assert sign_in(client, "ops@tierwise.example", password).status_code == 303
    choose = client.get("/admin/catalog").get_data(as_text=True)
    assert f"?tenant={tenant_a.tenant.slug}" in choose
    page = client.get(f"/admin/catalog?tenant={tenant_a.tenant.slug}")
    assert 'data-page="catalog"' in page.get_data(as_text=True)
    assert tenant_a.segment.name in page.get_data(as_text=True)
    assert 'data-page="rules"' in client.get("/admin/rules").get_data(as_text=True)  # remembered


def test_a_bulk_price_change_is_previewed_then_applied_in_one_go(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    ids = [t.id for t in tenant_a.tiers[:2]]  # 100.00 and 200.00 EUR
    body = {"tier_id": ids, "percent": "-10", "csrf_token": token}
    preview = client.post("/admin/catalog/bulk", data={**body, "action": "preview"}, headers=ORIGIN)
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and 'data-tw="bulk-preview-output"' in html
    assert html.count('data-tw="preview-row"') == 2
    assert "€90.00" in html or "90.00" in html
    db = app.extensions["tierwise"].db
    assert catalog.get_tier(db, tenant_a.tenant, ids[0]).base_price.amount == 10000  # unchanged

    applied = client.post("/admin/catalog/bulk", data={**body, "action": "apply"}, headers=ORIGIN)
    assert applied.status_code == 303
    assert [catalog.get_tier(db, tenant_a.tenant, i).base_price.amount for i in ids] == [
        9000,
        18000,
    ]

    by_amount = {"tier_id": ids[:1], "amount": "2.50", "csrf_token": token, "action": "apply"}
    assert client.post("/admin/catalog/bulk", data=by_amount, headers=ORIGIN).status_code == 303
    assert catalog.get_tier(db, tenant_a.tenant, ids[0]).base_price.amount == 9250

    below = {"tier_id": ids[:1], "amount": "-1000", "csrf_token": token, "action": "apply"}
    refused = client.post("/admin/catalog/bulk", data=below, headers=ORIGIN)
    assert refused.status_code == 422
    assert catalog.get_tier(db, tenant_a.tenant, ids[0]).base_price.amount == 9250


def test_tiers_and_segments_are_archived_restored_and_cloned(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    db = app.extensions["tierwise"].db
    tier_id = tenant_a.tiers[0].id
    data = {"tier_id": [tier_id], "csrf_token": token}
    client.post("/admin/catalog/bulk", data={**data, "action": "archive"}, headers=ORIGIN)
    assert catalog.get_tier(db, tenant_a.tenant, tier_id).status == "archived"
    client.post("/admin/catalog/bulk", data={**data, "action": "restore"}, headers=ORIGIN)
    assert catalog.get_tier(db, tenant_a.tenant, tier_id).status == "active"

    segment = tenant_a.segment.id
    url = f"/admin/catalog/segments/{segment}"
    assert (
        client.post(f"{url}/clone", data={"csrf_token": token}, headers=ORIGIN).status_code == 303
    )
    assert len(catalog.list_segments(db, tenant_a.tenant, None, 0, 10).items) == 2
    assert (
        client.post(f"{url}/archive", data={"csrf_token": token}, headers=ORIGIN).status_code == 303
    )
    assert catalog.get_segment(db, tenant_a.tenant, segment).status == "archived"
    client.post(f"{url}/restore", data={"csrf_token": token}, headers=ORIGIN)
    assert catalog.get_segment(db, tenant_a.tenant, segment).status == "active"


def test_analytics_draws_its_charts_and_downloads_csv(client, tenant_a):
    signed_in_admin(client, tenant_a)
    page = client.get("/admin/analytics?from=2026-01-01&to=2026-01-31")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    # segment selection, tier conversion, upsell take rate, revenue over time (a point a day)
    assert html.count('data-tw="chart"') == 4 and "<svg" in html
    assert html.count('<circle data-tw="chart-point"') == 31
    assert f"{tenant_a.segment.key} Basic" in html or tenant_a.segment.key in html
    csv_response = client.get("/admin/analytics/tier-conversion.csv?from=2026-01-01&to=2026-01-31")
    assert csv_response.mimetype == "text/csv"
    lines = csv_response.get_data(as_text=True).splitlines()
    assert lines[0] == "segment_key,tier_name,level,viewers,bookers,bookings,conversion"
    assert len(lines) == 1 + 3  # the tenant's three tiers


def test_versions_are_activated_and_rolled_back_from_the_rules_page(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    publish(app, tenant_a.tenant.id, summer_document("1.4"))  # version 2 (1: the default)
    html = client.get("/admin/rules").get_data(as_text=True)
    assert 'data-tw="activate-version"' in html and "Roll back to" in html
    done = client.post(
        "/admin/rules/versions/1/activate", data={"csrf_token": token}, headers=ORIGIN
    )
    assert done.status_code == 303
    state = client.get("/v1/admin/rulesets/active", headers=tenant_a.admin).get_json()
    assert state["active_version"] == 1
    assert state["history"][0]["action"] == "rollback"


def test_experiments_start_pause_and_stop_with_their_results(client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    made = client.post(E, headers=tenant_a.admin, json=design())
    assert made.status_code == 201, made.get_json()
    experiment = made.get_json()["id"]
    html = client.get("/admin/experiments").get_data(as_text=True)
    assert f'data-tw="experiment-row" data-id="{experiment}"' in html
    for action, status in (("start", "running"), ("pause", "paused"), ("stop", "stopped")):
        done = client.post(
            f"/admin/experiments/{experiment}/{action}", data={"csrf_token": token}, headers=ORIGIN
        )
        assert done.status_code == 303, action
        assert (
            client.get(f"{E}/{experiment}", headers=tenant_a.admin).get_json()["status"] == status
        )
    results = client.get("/admin/experiments").get_data(as_text=True)
    assert 'data-tw="experiment-results"' in results and 'data-chart="lift"' in results
    assert results.count('data-tw="variant-row"') == 2
    again = client.post(
        f"/admin/experiments/{experiment}/pause", data={"csrf_token": token}, headers=ORIGIN
    )
    assert again.status_code == 409


def test_availability_shows_a_month_and_manages_blackout_ranges(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    page = client.get(f"/admin/availability?segment={tenant_a.segment.key}&month=2031-01")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert html.count('data-tw="calendar-day"') == 31
    assert 'data-date="2031-01-01"' in html
    assert html.count('data-tw="blackout-row"') == 1  # the fixture's, 2031-01-01

    added = client.post(
        "/admin/availability/blackouts",
        data={"start": "2031-01-10", "end": "2031-01-12", "reason": "works", "csrf_token": token},
        headers=ORIGIN,
    )
    assert added.status_code == 303
    db = app.extensions["tierwise"].db
    found = catalog.list_blackouts(db, tenant_a.tenant, None, None, None, 0, 50).items
    assert len(found) == 4
    html = client.get("/admin/availability?month=2031-01").get_data(as_text=True)
    assert html.count('data-tw="blackout-row"') == 4 and "works" in html
    removed = client.post(
        f"/admin/availability/blackouts/{found[-1]['id']}/remove",
        data={"csrf_token": token},
        headers=ORIGIN,
    )
    assert removed.status_code == 303
    assert len(catalog.list_blackouts(db, tenant_a.tenant, None, None, None, 0, 50).items) == 3


def test_api_keys_are_created_with_origins_and_revoked(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    made = client.post(
        "/admin/api-keys",
        data={"name": "shop", "allowed_origins": "https://shop.example\n", "csrf_token": token},
        headers=ORIGIN,
    )
    html = made.get_data(as_text=True)
    assert made.status_code == 200
    key = re.search(r"shown once\): <code>(tw_pk_\w+)</code>", html).group(1)
    offers = client.get("/v1/storefront/segments", headers={"X-Api-Key": key})
    assert offers.status_code == 200
    keys = tenants.list_api_keys(app.extensions["tierwise"].db, tenant_a.tenant, 0, 10).items
    shop = next(k for k in keys if k["name"] == "shop")
    assert shop["allowed_origins"] == ["https://shop.example"]
    bad = client.post(
        "/admin/api-keys",
        data={"name": "bad", "allowed_origins": "not an origin", "csrf_token": token},
        headers=ORIGIN,
    )
    assert bad.status_code == 422
    revoked = client.post(
        f"/admin/api-keys/{shop['id']}/revoke", data={"csrf_token": token}, headers=ORIGIN
    )
    assert revoked.status_code == 303
    assert client.get("/v1/storefront/segments", headers={"X-Api-Key": key}).status_code == 401


def test_a_backtest_shows_revenue_and_commission_deltas(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    day = f"{dt.date.today().year + 1}-07-15"  # in summer: the summer rule applies
    offers = client.get(
        f"/v1/storefront/segments/{tenant_a.segment.key}/offers?date={day}&guests=2",
        headers=tenant_a.storefront,
    )
    assert offers.status_code == 200, offers.get_json()
    document = json.dumps(summer_document("1.9"))
    response = client.post(
        "/admin/rules",
        data={"action": "backtest", "document": document, "csrf_token": token},
        headers=ORIGIN,
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and 'data-tw="backtest-result"' in html
    evaluated = int(re.search(r'data-tw="bt-evaluated">(\d+)', html).group(1))
    assert evaluated >= 1
    revenue = re.search(r'data-tw="bt-revenue">([^<]+)<', html).group(1)
    assert revenue.strip() not in ("", "€0.00"), revenue
    assert rulesets_left(app, tenant_a) == 0  # the scratch draft is gone


def rulesets_left(app, tenant) -> int:
    return rulesets.list_drafts(app.extensions["tierwise"].db, tenant.tenant, 0, 10).total


def test_a_tier_is_edited_and_a_segment_created(app, client, tenant_a):
    token = signed_in_admin(client, tenant_a)
    tier = tenant_a.tiers[0]
    page = client.get(f"/admin/catalog/tiers/{tier.id}").get_data(as_text=True)
    assert 'value="100.00"' in page and 'data-tw="tier-form"' in page
    form = {
        "name": "Basic plus",
        "description": "More",
        "base_price": "123.45",
        "per_guest_price": "10",
        "max_guests": "6",
        "version": str(tier.version),
        "csrf_token": token,
    }
    saved = client.post(f"/admin/catalog/tiers/{tier.id}", data=form, headers=ORIGIN)
    assert saved.status_code == 303
    db = app.extensions["tierwise"].db
    now = catalog.get_tier(db, tenant_a.tenant, tier.id)
    assert (now.name, now.base_price.amount, now.per_guest_price.amount) == (
        "Basic plus",
        12345,
        1000,
    )
    stale = client.post(f"/admin/catalog/tiers/{tier.id}", data=form, headers=ORIGIN)
    assert stale.status_code == 412  # the form's version was read before the save
    bad = client.post(
        f"/admin/catalog/tiers/{tier.id}",
        data={**form, "version": str(now.version), "base_price": "lots"},
        headers=ORIGIN,
    )
    assert bad.status_code == 422

    made = client.post(
        "/admin/catalog/segments",
        data={"key": "family", "name": "Family", "position": "3", "csrf_token": token},
        headers=ORIGIN,
    )
    assert made.status_code == 303
    keys = [s.key for s in catalog.list_segments(db, tenant_a.tenant, None, 0, 10).items]
    assert "family" in keys
