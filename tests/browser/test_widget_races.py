"""The widget when answers arrive late (held back with Playwright's routes, so the order is the
test's, never the machine's), and a host page's own theme properties.

A customer who moved on before an answer arrived once lost the name they were typing: the
customize step's load ended while the date step's month was still loading, so the element said it
was not busy, the customer went on to the contact step, and the late month redrew the form from
what had been reported before (tests/browser/test_widget.py's upsell test failed that way whenever
the month was slow)."""

from __future__ import annotations

import json
import time

from playwright.sync_api import expect

from tests.browser.test_widget import TW, day, step


def held_back(page, pattern: str) -> list:
    """Requests matching ``pattern`` wait, in the returned list, until the test continues them."""
    held: list = []

    def hold(route) -> None:
        held.append(route)

    page.route(pattern, hold)
    return held


def release(page, held: list, pattern: str) -> None:
    """Waits for a held request (a deadline, not a sleep), then lets every one through."""
    deadline = time.monotonic() + 10
    while not held:
        assert time.monotonic() < deadline, f"no request for {pattern}"
        page.wait_for_timeout(20)  # lets Playwright deliver the route
    for route in held:
        route.continue_()
    page.unroute(pattern)


def to_date_step(page, stack, when: str) -> None:
    page.goto(stack.page_url(segment="premium", date=when))
    essential = step(page, "tiers").locator("[data-tw=tier-card][data-tier-level='1']")
    essential.locator("[data-tw=select]").click()
    step(page, "customize").locator("[data-tw=next]").click()


def test_the_date_step_is_busy_until_its_month_arrives(page, stack, shots):
    month = "**/availability?*"
    held = held_back(page, month)
    to_date_step(page, stack, day(20))
    section = page.locator(f"{TW} [data-tw=step]")
    expect(section).to_have_attribute("data-step", "date")
    expect(section).to_have_attribute("aria-busy", "true")
    expect(section.locator("[data-tw=loading]")).to_have_text("Loading available dates…")
    shots(page, "month-loading")
    release(page, held, month)
    section = step(page, "date")
    expect(section.locator(f"[data-tw=date][data-date='{day(20)}']")).to_have_attribute(
        "aria-pressed", "true"
    )
    section.locator("[data-tw=next]").click()
    step(page, "contact")


def test_a_late_answer_keeps_what_the_customer_is_typing(page, stack, shots):
    """Back from a checkout whose quote is still coming, to the contact form; the quote arrives
    while the customer types a new name: the name stays as typed, and is the one quoted."""
    to_date_step(page, stack, day(21))
    step(page, "date").locator("[data-tw=next]").click()
    section = step(page, "contact")
    section.get_by_label("Name").fill("Grace Hopper")
    section.get_by_label("Email").fill("grace@example.com")
    section.locator("[data-tw=next]").click()
    quotes = "**/v1/storefront/quotes"
    held = held_back(page, quotes)
    step(page, "upsell").locator("[data-tw=upsell-decline]").click()
    section = page.locator(f"{TW} [data-tw=step]")
    expect(section).to_have_attribute("data-step", "checkout")
    section.locator("[data-tw=back]").click()
    expect(section).to_have_attribute("data-step", "upsell")
    section.locator("[data-tw=back]").click()
    expect(section).to_have_attribute("data-step", "contact")
    name = section.get_by_label("Name")
    name.fill("Ada Lovelace")  # still in the field: no change event yet
    release(page, held, quotes)
    section = step(page, "contact")  # the quote's answer has been drawn
    expect(name).to_have_value("Ada Lovelace")
    expect(name).to_be_focused()
    shots(page, "name-kept")
    section.locator("[data-tw=next]").click()
    with page.expect_request(quotes) as asked:
        step(page, "upsell").locator("[data-tw=upsell-accept]").click()
    assert json.loads(asked.value.post_data or "")["customer"]["name"] == "Ada Lovelace"
    expect(step(page, "checkout").locator("[data-tw=summary]")).to_contain_text("Ultimate")


def themes(stack) -> dict[str, dict]:
    segments = stack.call("GET", "/v1/admin/segments", headers=stack.admin)[2]
    return {s["key"]: s for s in segments}


def set_theme(stack, segment: dict, theme: dict) -> None:
    _, headers, _ = stack.call("GET", f"/v1/admin/segments/{segment['id']}", headers=stack.admin)
    status, _, body = stack.call(
        "PATCH",
        f"/v1/admin/segments/{segment['id']}",
        {"theme": theme},
        {**stack.admin, "If-Match": headers["ETag"]},
    )
    assert status == 200, body


def test_the_host_pages_own_theme_properties_are_kept(page, stack, shots):
    """docs/widget.md: a host page may set the theme properties on the element for segments
    without a theme; a themed segment's values win while it is shown, then the host's return."""
    before = themes(stack)
    luxury = {"primary_color": "#7a1f5c", "accent_color": "#0b6e4f"}
    set_theme(stack, before["budget"], {})
    set_theme(stack, before["luxury"], luxury)
    try:
        page.goto(stack.page_url(segment="budget", date=day(22)))
        step(page, "tiers")
        widget = page.locator(TW)
        widget.evaluate(
            """el => { el.style.setProperty('--tw-primary', '#004d40');
                       el.style.setProperty('--tw-radius', '0'); }"""
        )
        props = """el => ({primary: el.style.getPropertyValue('--tw-primary'),
                           radius: el.style.getPropertyValue('--tw-radius'),
                           accent: el.style.getPropertyValue('--tw-accent')})"""
        page.get_by_role("tab", name="Luxury").click()
        step(page, "tiers")
        assert widget.evaluate(props) == {"primary": "#7a1f5c", "radius": "0", "accent": "#0b6e4f"}
        page.get_by_role("tab", name="Budget").click()
        step(page, "tiers")
        assert widget.evaluate(props) == {"primary": "#004d40", "radius": "0", "accent": ""}
        select = page.locator(f"{TW} [data-tw=select]").first
        assert select.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(0, 77, 64)"
        shots(page, "host-theme")
    finally:
        for key in ("budget", "luxury"):
            set_theme(stack, before[key], before[key]["theme"] or {})
