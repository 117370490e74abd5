"""Console pages over HTTP beyond sign-in: users (invite, reset a password, remove: their
sessions end at once), a booking's detail and its cancellation, platform admins' own users."""

from __future__ import annotations

import re

from app.services import accounts
from tests.api.test_accounts import ORIGIN, csrf_of, sign_in
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
