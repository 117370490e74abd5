"""Who may write in the console: analysts see none of the edit controls and are refused every
console POST (a route walk), requests without the session's token are refused, and another
tenant's ids answer 404."""

from __future__ import annotations

import re

from app.services import accounts, catalog, tenants
from tests.api.test_accounts import ORIGIN, csrf_of, sign_in
from tests.api.test_console_pages import signed_in_admin


def post(client, path: str, token: str, **form):
    return client.post(path, data={**form, "csrf_token": token}, headers=ORIGIN)


def db_of(app):
    return app.extensions["tierwise"].db


WRITES = [
    ("/admin/catalog/add-ons", {"key": "x", "name": "x", "pricing": "flat", "price": "1"}),
    ("/admin/catalog/reorder", {}),
    ("/admin/availability/capacity", {"start": "2031-02-03", "units": "1"}),
    ("/admin/rules/schedule/1/cancel", {}),
    ("/admin/experiments", {"key": "x"}),
    ("/admin/webhooks", {"url": "https://example.com/x", "events": "*"}),
]


def test_analysts_see_no_new_controls_and_are_refused_each_write(app, client, tenant_a):
    _, password = accounts.create_user(db_of(app), tenant_a.tenant.id, "ana@example.com", "analyst")
    assert sign_in(client, "ana@example.com", password).status_code == 303
    segment, tier, add_on = tenant_a.segment, tenant_a.tiers[0], tenant_a.add_on
    pages = {
        "/admin/catalog": ["create-add-on", "reorder", "archive-add-on"],
        f"/admin/catalog/tiers/{tier.id}": ["save-tier", "feature-new"],
        f"/admin/catalog/add-ons/{add_on.id}": ["save-add-on"],
        "/admin/availability": ["set-capacity"],
        "/admin/experiments": ["new-experiment"],
        "/admin/experiments/new": ["save-experiment"],
        "/admin/settings": ["create-webhook", "webhook-rotate", "tenant-form", "save-tenant"],
        f"/admin/settings/themes/{segment.id}": ["save-theme"],
    }
    token = ""
    for path, hooks in pages.items():
        html = client.get(path).get_data(as_text=True)
        token = csrf_of(html)
        for hook in hooks:
            assert f'data-tw="{hook}"' not in html, (path, hook)
    shown = client.get("/admin/settings").get_data(as_text=True)
    assert '<dd data-tw="notification-email-shown">none</dd>' in shown  # read-only
    writes = [
        *WRITES,
        (f"/admin/catalog/add-ons/{add_on.id}", {"name": "x", "pricing": "flat", "price": "1"}),
        (f"/admin/catalog/add-ons/{add_on.id}/archive", {}),
        (f"/admin/settings/themes/{segment.id}", {"primary_color": "#000000"}),
        (f"/admin/catalog/tiers/{tier.id}", {"feature_key": "x"}),
        ("/admin/settings/tenant", {"notification_email": "ana@example.com"}),
    ]
    for path, form in writes:
        assert post(client, path, token, **form).status_code == 403, path
    assert catalog.get_add_on(db_of(app), tenant_a.tenant, add_on.id).status == "active"
    assert tenants.get_tenant(db_of(app), tenant_a.tenant.id).notification_email == ""


def test_another_tenants_ids_answer_404(app, client, tenant_a, tenant_b):
    token = signed_in_admin(client, tenant_a)
    other_add_on, other_segment = tenant_b.add_on, tenant_b.segment
    assert client.get(f"/admin/catalog/add-ons/{other_add_on.id}").status_code == 404
    assert (
        post(client, f"/admin/catalog/add-ons/{other_add_on.id}/archive", token).status_code == 404
    )
    assert client.get(f"/admin/settings/themes/{other_segment.id}").status_code == 404
    capacity = post(
        client,
        "/admin/availability/capacity",
        token,
        tier_id=tenant_b.tiers[0].id,
        start="2031-02-03",
        units="1",
    )
    assert capacity.status_code == 404
    reorder = post(
        client,
        "/admin/catalog/reorder",
        token,
        segment_id=[other_segment.id],
        **{f"order-{other_segment.id}": "1"},
    )
    assert reorder.status_code == 404


def test_every_console_write_refuses_analysts_and_requests_without_the_token(app, client, tenant_a):
    """Walks the console's routes: every POST but signing in and out is refused (403) to an
    analyst holding a valid token, and to anyone without one."""
    _, password = accounts.create_user(db_of(app), tenant_a.tenant.id, "ana@example.com", "analyst")
    assert sign_in(client, "ana@example.com", password).status_code == 303
    token = csrf_of(client.get("/admin/settings").get_data(as_text=True))
    posts = [
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/admin/")
        and "POST" in rule.methods
        and rule.rule not in ("/admin/sign-in", "/admin/sign-out")
    ]
    assert len(posts) >= 25
    for rule in posts:
        path = re.sub(r"<uuid:\w+>", "00000000-0000-0000-0000-000000000000", rule)
        path = re.sub(r"<int:\w+>", "1", path)
        path = re.sub(r"<any\(([a-z-]+)[^>]*>", r"\1", path)
        with_token = client.post(
            path, data={"csrf_token": token, "action": "publish"}, headers=ORIGIN
        )
        assert with_token.status_code == 403, (rule, with_token.status_code)
        without = client.post(path, data={"action": "validate"}, headers=ORIGIN)
        assert without.status_code == 403, (rule, without.status_code)
