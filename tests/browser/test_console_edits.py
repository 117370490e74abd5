"""The console's edits in Chromium: a tier's features and popular badge, add-ons and the segments'
order (by keyboard), capacity, a pending activation cancelled and a problem that jumps to its
line, an experiment created and re-split, analytics charts drawing seeded bookings and events, a
segment theme previewed live in the real widget, webhook endpoints; every new page accessible
(axe-core) at 1280×800 and on a tablet, where an analyst finds no write control.

Everything a test changes in the shared demo tenant is put back (the widget tests run after)."""

from __future__ import annotations

import datetime as dt
import json
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from app.services import catalog, events_out, experiments, rulesets, tenants
from tests.browser.conftest import (
    Problems,
    axe_violations,
    console_users,
    no_horizontal_scroll,
    open_page,
    sign_in,
)
from tests.support.rules import summer_document


@pytest.fixture(scope="module")
def logins(stack) -> dict[str, tuple[str, str]]:
    return console_users(stack, "edits")


def tenant(stack):
    return tenants.get_tenant(stack.db, stack.tenant_id)


def segment_of(stack, key: str):
    return next(
        s for s in catalog.list_segments(stack.db, tenant(stack), None, 0, 50).items if s.key == key
    )


def test_catalog_edits_by_keyboard(page, stack, logins, shots):
    fx = tenant(stack)
    budget = segment_of(stack, "budget")
    tiers = catalog.list_tiers(stack.db, fx, budget.id, None, 0, 10).items
    tier = tiers[0]
    positions = {s.id: s.position for s in catalog.list_segments(stack.db, fx, None, 0, 50).items}
    sign_in(page, stack, *logins["tenant_admin"])
    try:
        page.goto(f"{stack.api}/admin/catalog/tiers/{tier.id}")
        rows = page.locator("[data-tw=feature-row]")
        before = rows.count()
        page.get_by_label("Key of new feature 1").fill("wifi")
        page.get_by_label("Label of new feature 1").fill("Wi-Fi")
        page.get_by_label("Value of new feature 1").fill("true")
        page.locator("[data-tw=tier-popular]").check()
        assert axe_violations(page) == []
        shots(page, "tier-form")
        with page.expect_navigation():
            page.locator("[data-tw=save-tier]").press("Enter")
        expect(page.get_by_role("status")).to_contain_text("saved")
        page.goto(f"{stack.api}/admin/catalog/tiers/{tier.id}")
        expect(rows).to_have_count(before + 1)
        expect(page.locator("[data-tw=tier-popular]")).to_be_checked()

        # a new add-on, typed and submitted with the keyboard only
        page.goto(f"{stack.api}/admin/catalog")
        page.locator("#na-key").focus()
        page.keyboard.type("spa-pass")
        page.keyboard.press("Tab")
        page.keyboard.type("Spa pass")
        page.keyboard.press("Tab")  # pricing: flat
        page.keyboard.press("Tab")
        page.keyboard.type("15")
        with page.expect_navigation():
            page.keyboard.press("Enter")
        row = page.locator("[data-tw=add-on-row][data-key=spa-pass]")
        expect(row.locator("[data-tw=add-on-price]")).to_contain_text("15.00")
        row.locator("[data-tw=archive-add-on]").click()
        expect(row.locator("[data-tw=add-on-status]")).to_have_text("archived")
        row.locator("[data-tw=restore-add-on]").click()
        expect(row.locator("[data-tw=add-on-status]")).to_have_text("active")
        row.locator("[data-tw=edit-add-on]").click()
        page.locator("[data-tw=add-on-price-input]").fill("16.5")
        page.locator("[data-tw=save-add-on]").click()
        expect(row.locator("[data-tw=add-on-price]")).to_contain_text("16.50")

        # the segments' order: the last one first
        keys = page.locator("[data-tw=order-row]").evaluate_all(
            "rows => rows.map(r => r.dataset.key)"
        )
        page.locator("[data-tw=segment-order]").last.fill("0")
        page.locator("[data-tw=reorder]").click()
        expect(page.get_by_role("status")).to_contain_text("reordered")
        expect(page.locator("[data-tw=segment]").first).to_have_attribute("data-key", keys[-1])
        shots(page, "catalog-after")
        assert axe_violations(page) == []
    finally:  # as it was, for the tests after this one
        for t in tiers:
            features = [{"key": f.key, "label": f.label, "value": f.value} for f in t.features]
            catalog.update_tier(stack.db, fx, t.id, None, {"features": features})
        popular = next((t for t in tiers if t.popular), None)
        if popular is not None:
            catalog.update_tier(stack.db, fx, popular.id, None, {"popular": True})
        else:
            catalog.update_tier(stack.db, fx, tier.id, None, {"popular": False})
        for add_on in catalog.list_add_ons(stack.db, fx, None, 0, 50).items:
            if add_on.key == "spa-pass":
                catalog.set_add_on_status(stack.db, fx, add_on.id, "archived")
        for segment_id, position in positions.items():
            catalog.update_segment(stack.db, fx, segment_id, None, {"position": position})


def line_of_cursor(page) -> int:
    return page.locator("[data-tw=rules-editor]").evaluate(
        "e => e.value.slice(0, e.selectionStart).split('\\n').length"
    )


def test_capacity_a_cancelled_schedule_and_a_problem_on_its_line(page, stack, logins, shots):
    fx = tenant(stack)
    budget = segment_of(stack, "budget")
    tier = catalog.list_tiers(stack.db, fx, budget.id, None, 0, 10).items[0]
    day = dt.date.today() + dt.timedelta(days=300)
    sign_in(page, stack, *logins["tenant_admin"])
    page.goto(f"{stack.api}/admin/availability?segment=budget")
    page.locator("[data-tw=capacity-tier]").select_option(tier.id)
    page.locator("[data-tw=capacity-from]").fill(day.isoformat())
    page.locator("[data-tw=capacity-units]").fill("7")
    page.locator("[data-tw=capacity-save]").click()
    expect(page.get_by_role("status")).to_contain_text("Capacity saved")
    assert catalog.capacity(stack.db, fx, tier.id, day, day)["days"][0]["units"] == 7
    assert axe_violations(page) == []
    shots(page, "capacity")
    page.locator("[data-tw=capacity-from]").fill(day.isoformat())
    page.locator("[data-tw=capacity-clear]").click()
    expect(page.get_by_role("status")).to_contain_text("Capacity saved")
    assert catalog.capacity(stack.db, fx, tier.id, day, day)["days"][0]["source"] == "default"

    # a version published from the console's dialog for later, then cancelled there
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    page.goto(f"{stack.api}/admin/rules")
    page.locator("[data-tw=rules-editor]").fill(json.dumps(summer_document("1.5")))
    page.locator("[data-tw=publish]").click()
    page.locator("[data-tw=publish-at]").fill(later.strftime("%Y-%m-%dT%H:%M"))
    page.locator("[data-tw=confirm-schedule]").click()
    expect(page.locator("[data-tw=schedule-row]")).to_have_count(1)
    shots(page, "schedule")
    page.locator("[data-tw=cancel-schedule]").click()
    expect(page.get_by_role("status").last).to_contain_text("cancelled")
    expect(page.locator("[data-tw=schedule-row]")).to_have_count(0)
    now = dt.datetime.now(dt.UTC)
    assert rulesets.list_schedule(stack.db, fx, now, 0, 10).total == 0

    # a problem names its line, and the keyboard takes the cursor there
    editor = page.locator("[data-tw=rules-editor]")
    editor.fill('{\n  "rules": [],\n  "stacking": "random"\n}')
    page.locator("[data-tw=validate]").click()
    problem = page.locator('[data-tw=problems] [data-path="/stacking"]')
    expect(problem).to_have_attribute("data-line", "3")
    problem.locator("[data-tw=problem-jump]").focus()
    page.keyboard.press("Enter")
    expect(editor).to_be_focused()
    assert line_of_cursor(page) == 3
    shots(page, "problem-line")
    assert axe_violations(page) == []


@pytest.fixture
def form_page(browser):
    """A page whose only tolerated problems are the 422s a refused form is answered with."""
    problems = Problems()
    ctx, page = open_page(browser, problems, viewport={"width": 1280, "height": 900})
    yield page
    ctx.close()
    refused = "status of 422 (UNPROCESSABLE ENTITY)"
    unexpected = [p for p in problems.items if refused not in p]
    assert len(problems.items) - len(unexpected) == 1, problems.items
    assert not unexpected, unexpected


def test_an_experiment_is_created_resplit_started_and_stopped(form_page, stack, logins, shots):
    page = form_page
    key = f"console-{uuid.uuid4().hex[:6]}"
    sign_in(page, stack, *logins["tenant_admin"])
    page.goto(f"{stack.api}/admin/experiments")
    page.locator("[data-tw=new-experiment]").click()
    page.locator("[data-tw=experiment-key]").fill(key)
    page.locator("[data-tw=experiment-name]").fill("Console test")
    page.get_by_label("Budget", exact=True).check()  # not premium: the widget tests' segment
    weights = page.locator("[data-tw=variant-weight]")
    weights.nth(0).fill("0.5")
    weights.nth(1).fill("0.7")
    page.locator("[data-tw=save-experiment]").click()
    expect(page.get_by_role("alert")).to_contain_text("not saved")
    assert axe_violations(page) == []
    shots(page, "experiment-problems")
    weights.nth(0).fill("0.4")
    weights.nth(1).fill("0.6")
    page.locator("[data-tw=save-experiment]").click()
    row = page.locator(f"[data-tw=experiment-row][data-key={key}]")
    expect(row.locator("[data-tw=experiment-split]")).to_have_text("control 0.4, treatment 0.6")

    row.locator("[data-tw=edit-experiment]").click()
    weights.nth(0).fill("0.5")
    weights.nth(1).fill("0.5")
    shots(page, "experiment-edit")
    assert axe_violations(page) == []
    page.locator("[data-tw=save-experiment]").click()
    expect(row.locator("[data-tw=experiment-split]")).to_have_text("control 0.5, treatment 0.5")
    row.locator("[data-tw=experiment-start]").click()
    expect(row.locator("[data-tw=experiment-status]")).to_have_text("running")
    row.locator("[data-tw=experiment-stop]").click()  # a running one would steer the widget tests
    expect(row.locator("[data-tw=experiment-status]")).to_have_text("stopped")
    found = [
        e
        for e in experiments.list_experiments(stack.db, tenant(stack), None, 0, 50).items
        if e["key"] == key
    ]
    assert [v["weight"] for v in found[0]["variants"]] == ["0.5", "0.5"]
    assert found[0]["targeting"]["segments"] == ["budget"]


def seed_a_visit_and_a_paid_booking(stack) -> str:
    """A visitor selects budget, views its tiers, is shown and takes an upsell, and books and pays
    (through the storefront API and the local payment page: the services the widget uses)."""
    fx = tenant(stack)
    budget = segment_of(stack, "budget")
    tier = catalog.list_tiers(stack.db, fx, budget.id, "active", 0, 10).items[0]
    visitor = f"v-{uuid.uuid4().hex[:12]}"
    store = {"X-Api-Key": stack.key}
    now = dt.datetime.now(dt.UTC).isoformat()
    events = [
        {"type": t, "segment": "budget", "tier_id": tier.id}
        for t in ("segment_selected", "tier_comparison_viewed", "upsell_shown", "upsell_accepted")
    ]
    sent = stack.call(
        "POST",
        "/v1/storefront/events",
        {
            "events": [
                {
                    **e,
                    "client_event_id": uuid.uuid4().hex,
                    "visitor_id": visitor,
                    "occurred_at": now,
                }
                for e in events
            ]
        },
        headers=store,
    )
    assert sent[0] in (200, 202), sent
    day = (dt.date.today() + dt.timedelta(days=120)).isoformat()
    quoted = stack.call(
        "POST",
        "/v1/storefront/quotes",
        {"tier_id": tier.id, "date": day, "guests": 2, "visitor_id": visitor},
        headers=store,
    )
    assert quoted[0] == 201, quoted
    started = stack.call(
        "POST",
        "/v1/storefront/checkouts",
        {"quote_token": quoted[2]["token"], "customer": {"email": "c@example.com", "name": "C"}},
        headers={**store, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert started[0] == 201, started
    session = started[2]["checkout_session_id"]
    request = urllib.request.Request(
        f"{stack.api}/local-pay/{session}/pay", data=b"", method="POST"
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # the redirect to "done" followed
        assert answer.status == 200
    return visitor


def forget_events(stack, visitor: str) -> None:
    """The seeded visitor's storefront events, gone: the widget tests count the tenant's
    visitors (the booking stays: on a date of its own, it takes one unit)."""
    with stack.db.transaction() as session:
        session.execute(
            text("DELETE FROM storefront_events WHERE tenant_id = :t AND visitor_id = :v"),
            {"t": stack.tenant_id, "v": visitor},
        )


def test_analytics_charts_draw_seeded_bookings_and_events(request, page, stack, logins, shots):
    visitor = seed_a_visit_and_a_paid_booking(stack)
    request.addfinalizer(lambda: forget_events(stack, visitor))
    sign_in(page, stack, *logins["analyst"])
    page.goto(f"{stack.api}/admin/analytics")
    charts = {"selection", "conversion", "take-rate", "revenue"}
    for name in charts:
        points = page.locator(f"[data-tw=chart][data-chart={name}] svg [data-tw=chart-point]")
        values = points.evaluate_all("ps => ps.map(p => Number(p.dataset.value))")
        assert any(v > 0 for v in values), (name, values)
    shots(page, "analytics-with-data")
    assert axe_violations(page) == []


def test_a_theme_is_previewed_live_in_the_widget_then_saved(page, stack, logins, shots):
    fx = tenant(stack)
    premium = segment_of(stack, "premium")
    was = {
        name: getattr(premium.theme, name)
        for name in ("primary_color", "accent_color", "font_family", "radius")
    }
    sign_in(page, stack, *logins["tenant_admin"])
    try:
        page.goto(f"{stack.api}/admin/settings")
        page.locator("[data-tw=theme-row][data-key=premium] [data-tw=edit-theme]").click()
        tab = page.locator("[data-tw=theme-preview] [data-tw=segment-tab][aria-selected=true]")
        expect(tab).to_have_text(premium.name)  # the real widget, on the edited segment
        page.locator("[data-tw=theme-primary]").fill("#aa3300")
        page.locator("[data-tw=theme-radius]").fill("0")
        expect(tab).to_have_css("background-color", "rgb(170, 51, 0)")  # before saving
        expect(tab).to_have_css("border-top-left-radius", "0px")
        assert segment_of(stack, "premium").theme.primary_color == was["primary_color"]
        shots(page, "theme-preview")
        assert axe_violations(page) == []
        page.locator("[data-tw=save-theme]").click()
        expect(page.get_by_role("status").filter(has_text="Theme saved")).to_be_visible()
        assert segment_of(stack, "premium").theme.primary_color == "#aa3300"
        expect(tab).to_have_css("background-color", "rgb(170, 51, 0)")  # now from the server
    finally:
        catalog.update_segment(stack.db, fx, premium.id, None, {"theme": was})


def test_webhook_endpoints_are_added_tested_rotated_and_deleted(page, stack, logins, shots):
    sign_in(page, stack, *logins["tenant_admin"])
    page.goto(f"{stack.api}/admin/settings")
    page.get_by_label("URL (https)").fill("http://127.0.0.1:9/hooks")
    page.get_by_role("button", name="Add endpoint").click()
    secret = page.locator("[data-tw=new-secret] code")
    expect(secret).to_contain_text("whsec_")
    first = secret.inner_text()
    shots(page, "webhook-secret")
    assert axe_violations(page) == []
    row = page.locator("[data-tw=webhook-row]").filter(has_text="127.0.0.1:9/hooks")
    row.locator("[data-tw=webhook-rotate]").click()
    expect(secret).not_to_have_text(first)
    row.locator("[data-tw=webhook-test]").click()
    expect(page.get_by_role("status")).to_contain_text("test queued")
    expect(page.locator("[data-tw=deliveries]")).to_be_visible()
    shots(page, "webhook-deliveries")
    assert axe_violations(page) == []
    page.locator("[data-tw=retry-delivery]").click()  # the queued delivery, due again now
    expect(page.get_by_role("status")).to_contain_text("retry queued")
    page.goto(f"{stack.api}/admin/settings")
    row.locator("[data-tw=webhook-delete]").click()
    expect(row).to_have_count(0)
    assert events_out.list_endpoints(stack.db, stack.tenant_id, 0, 10).total == 0


NEW_WRITE_HOOKS = (
    "save-tier",
    "save-add-on",
    "create-add-on",
    "reorder",
    "set-capacity",
    "cancel-schedule",
    "new-experiment",
    "save-experiment",
    "save-theme",
    "create-webhook",
)


def new_pages(stack) -> dict[str, str]:
    fx = tenant(stack)
    tier = catalog.list_tiers(stack.db, fx, None, "active", 0, 1).items[0]
    add_on = catalog.list_add_ons(stack.db, fx, None, 0, 1).items[0]
    premium = segment_of(stack, "premium")
    experiment = experiments.list_experiments(stack.db, fx, None, 0, 1).items
    pages = {
        "tier": f"/admin/catalog/tiers/{tier.id}",
        "add-on": f"/admin/catalog/add-ons/{add_on.id}",
        "availability": "/admin/availability?segment=premium",
        "rules": "/admin/rules",
        "experiment-new": "/admin/experiments/new",
        "analytics": "/admin/analytics",
        "settings": "/admin/settings",
        "theme": f"/admin/settings/themes/{premium.id}",
    }
    if experiment:
        pages["experiment-edit"] = f"/admin/experiments/{experiment[0]['id']}/edit"
    return pages


@pytest.mark.parametrize(
    ("role", "viewport"),
    [("tenant_admin", {"width": 1280, "height": 800}), ("analyst", {"width": 820, "height": 1180})],
    ids=["desktop-admin", "tablet-analyst"],
)
def test_new_pages_are_accessible_and_fit(browser, stack, logins, shots, role, viewport):
    problems = Problems()
    ctx, page = open_page(browser, problems, viewport=viewport)
    sign_in(page, stack, *logins[role])
    found, widths, hooks = {}, {}, {}
    for name, path in new_pages(stack).items():
        page.goto(f"{stack.api}{path}")
        expect(page.locator("[data-tw=page]")).to_be_visible()
        if name == "theme":
            expect(
                page.locator("[data-tw=theme-preview] [data-tw=segment-tab]").first
            ).to_be_visible()
        shots(page, name)
        found[name] = axe_violations(page)
        widths[name] = no_horizontal_scroll(page)
        hooks[name] = [h for h in NEW_WRITE_HOOKS if page.locator(f'[data-tw="{h}"]').count()]
    ctx.close()
    assert not problems.items, problems.items
    assert found == {name: [] for name in found}
    assert all(scroll <= client for scroll, client in widths.values()), widths
    if role == "analyst":
        assert hooks == {name: [] for name in hooks}
