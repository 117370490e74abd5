"""The admin console in Chromium (tests/browser/conftest.py serves tierwise on a real port):
sign-in and sign-out, every page without a console error or failed request and accessible
(axe-core), the rules flow from an invalid edit to a published price change on the storefront,
a decision's fired rules, and an analyst who cannot write. Selectors are roles, labels and the
public ``data-tw`` hooks (docs/console.md)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from playwright.sync_api import expect

from app.services import catalog_bulk, tenants
from tests.browser.conftest import (
    Problems,
    axe_violations,
    console_users,
    no_horizontal_scroll,
    open_page,
    sign_in,
)
from tests.support.rules import summer_document

PAGES = [
    "catalog",
    "availability",
    "rules",
    "experiments",
    "analytics",
    "decisions",
    "bookings",
    "settings",
]


@pytest.fixture(scope="module")
def logins(stack) -> dict[str, tuple[str, str]]:
    return console_users(stack, "console")


def summer_day() -> str:
    return f"{dt.date.today().year + 1}-07-15"


@pytest.fixture
def sign_in_page(browser):
    """A page whose only tolerated problem is the 401 a wrong password is answered with."""
    problems = Problems()
    ctx, page = open_page(browser, problems, viewport={"width": 1280, "height": 900})
    yield page
    ctx.close()
    expected = "status of 401 (UNAUTHORIZED)"
    unexpected = [p for p in problems.items if not (expected in p and "/admin/sign-in" in p)]
    assert len(problems.items) - len(unexpected) == 1, problems.items
    assert not unexpected, unexpected


def test_sign_in_wrong_then_right_password_then_sign_out(sign_in_page, stack, logins, shots):
    page = sign_in_page
    email, password = logins["tenant_admin"]
    sign_in(page, stack, email, "not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("not right")
    assert axe_violations(page) == []
    shots(page, "sign-in-error")

    sign_in(page, stack, email, password)
    expect(page.locator("[data-tw=page][data-page=catalog]")).to_be_visible()
    cookie = next(c for c in page.context.cookies() if c["name"] == "tw_console")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"

    page.locator("[data-tw=signout]").click()
    expect(page.locator("input[name=password]")).to_be_visible()
    # the old cookie no longer signs anyone in
    page.context.add_cookies([cookie])
    page.goto(f"{stack.api}/admin/catalog")
    expect(page.locator("input[name=password]")).to_be_visible()


def test_every_page_loads_clean_and_accessible(page, stack, logins, shots):
    sign_in(page, stack, *logins["tenant_admin"])
    found = {}
    for name in PAGES:
        page.goto(f"{stack.api}/admin/{name}")
        expect(page.locator(f"[data-tw=page][data-page={name}]")).to_be_visible()
        assert page.locator('meta[name="csrf-token"]').get_attribute("content")
        shots(page, name)
        found[name] = axe_violations(page)
        if name == "analytics":
            expect(page.locator("[data-tw=chart] svg")).to_have_count(4)
    assert found == {name: [] for name in PAGES}


def test_rules_flow_from_problems_to_a_published_price(page, stack, logins, shots):
    day = summer_day()
    offers = f"/v1/storefront/segments/premium/offers?date={day}&guests=2"
    before = stack.call("GET", offers, headers={"X-Api-Key": stack.key})[2]["offers"][0]
    sign_in(page, stack, *logins["tenant_admin"])
    page.goto(f"{stack.api}/admin/rules")
    editor = page.locator("[data-tw=rules-editor]")
    active = page.locator("[data-tw=active-version]").inner_text()

    editor.fill('{"stacking": "random", "rules": [{"id": "x", "kind": "season"}]}')
    page.locator("[data-tw=validate]").click()
    problems = page.locator("[data-tw=problems] li")
    expect(problems.first).to_be_visible()
    assert "/stacking" in page.locator("[data-tw=problems]").inner_text()
    shots(page, "problems")

    editor.fill(json.dumps(summer_document("1.6"), indent=2))
    page.locator("[data-tw=sim-facts]").fill(
        json.dumps([{"service_date": day, "lead_days": 200, "tier_level": 1}])
    )
    page.locator("[data-tw=simulate]").click()
    change = page.locator("[data-tw=simulation] [data-tw=sim-change]")
    expect(change).to_have_count(1)
    expect(change).to_have_attribute("data-kind", "season")
    expect(change).to_contain_text('"multiplier": "1.6"')  # the draft, beside the active
    expect(change).to_contain_text('"multiplier": "1.2"')
    shots(page, "simulation")
    assert axe_violations(page) == []

    page.locator("[data-tw=publish]").click()
    expect(page.get_by_role("dialog")).to_be_visible()
    shots(page, "confirm")
    page.locator("[data-tw=confirm]").click()
    expect(page.get_by_role("status")).to_contain_text("published")

    after = stack.call("GET", offers, headers={"X-Api-Key": stack.key})[2]["offers"][0]
    assert after["price"]["total"] != before["price"]["total"]

    versions = page.locator("#diff-old option")
    assert versions.count() >= 2
    page.locator("[data-tw=diff]").click()
    expect(page.locator("[data-tw=diff-output]")).to_contain_text("summer-peak")
    shots(page, "diff")

    # the version that was active, active again, for the tests after this one
    rolled = stack.call(
        "POST", f"/v1/admin/rulesets/versions/{active}/activate", {}, headers=stack.admin
    )
    assert rolled[0] == 201, rolled
    back = stack.call("GET", offers, headers={"X-Api-Key": stack.key})[2]["offers"][0]
    assert back["price"]["total"] == before["price"]["total"]


def test_a_decision_shows_its_fired_rules(page, stack, logins, shots):
    offers = f"/v1/storefront/segments/premium/offers?date={summer_day()}&guests=2"
    assert stack.call("GET", offers, headers={"X-Api-Key": stack.key})[0] == 200
    sign_in(page, stack, *logins["analyst"])
    page.goto(f"{stack.api}/admin/decisions")
    row = page.locator("[data-tw=decision-row]").first
    decision_id = row.get_attribute("data-id")
    assert decision_id
    row.get_by_role("link").click()
    expect(page.locator("[data-tw=page][data-page=decisions]")).to_contain_text(decision_id)
    expect(page.locator("[data-tw=fired-rule]").first).to_be_visible()
    page.locator("[data-tw=replay]").click()
    expect(page.locator("[data-tw=replay-result]")).to_have_attribute("data-identical", "true")
    shots(page, "decision")
    assert axe_violations(page) == []
    page.goto(f"{stack.api}/admin/decisions")
    page.locator("[data-tw=verify-chain]").click()
    expect(page.locator("[data-tw=chain]")).to_have_attribute("data-valid", "true")


def test_an_analyst_sees_no_write_controls_and_is_refused(page, stack, logins, shots):
    sign_in(page, stack, *logins["analyst"])
    page.goto(f"{stack.api}/admin/rules")
    expect(page.locator("[data-tw=validate]")).to_be_visible()
    expect(page.locator("[data-tw=publish]")).to_have_count(0)
    expect(page.locator("[data-tw=simulate]")).to_have_count(0)
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    refused = page.request.post(
        f"{stack.api}/admin/rules",
        form={"action": "publish", "document": "rules: []", "csrf_token": token or ""},
        headers={"Origin": stack.api},
    )
    assert refused.status == 403
    without_token = page.request.post(
        f"{stack.api}/admin/rules",
        form={"action": "validate", "document": "rules: []"},
        headers={"Origin": stack.api},
    )
    assert without_token.status == 403
    shots(page, "analyst-rules")


def test_a_bulk_price_change_with_its_preview(page, stack, logins, shots):
    sign_in(page, stack, *logins["tenant_admin"])
    page.goto(f"{stack.api}/admin/catalog")
    budget = page.locator("[data-tw=segment][data-key=budget]")
    boxes = budget.locator("[data-tw=select-tier]")
    expect(boxes).to_have_count(3)
    boxes.nth(0).check()
    page.locator("[data-tw=bulk-amount]").fill("1")
    page.locator("[data-tw=bulk-preview]").click()
    rows = page.locator("[data-tw=bulk-preview-output] [data-tw=preview-row]")
    expect(rows).to_have_count(1)
    expect(rows.first.locator("[data-tw=preview-after]")).to_contain_text("50.00")
    assert axe_violations(page) == []
    shots(page, "preview")
    page.locator("[data-tw=bulk-apply]").click()
    expect(page.get_by_role("status")).to_contain_text("repriced 1")
    expect(budget.locator("[data-tw=tier-price]").first).to_contain_text("50.00")
    shots(page, "applied")
    # back as it was, for the tests after this one
    tier_id = budget.locator("[data-tw=tier-row]").first.get_attribute("data-id")
    tenant = tenants.get_tenant(stack.db, stack.tenant_id)
    catalog_bulk.apply_price_change(stack.db, tenant, [tier_id], None, -100)


def test_pages_fit_a_tablet(browser, stack, logins, shots):
    problems = Problems()
    ctx, page = open_page(browser, problems, viewport={"width": 820, "height": 1180})
    sign_in(page, stack, *logins["analyst"])
    widths = {}
    for name in ("catalog", "rules"):
        page.goto(f"{stack.api}/admin/{name}")
        expect(page.locator(f"[data-tw=page][data-page={name}]")).to_be_visible()
        widths[name] = no_horizontal_scroll(page)
        shots(page, f"tablet-{name}")
    ctx.close()
    assert not problems.items, problems.items
    assert all(scroll <= client for scroll, client in widths.values()), widths
