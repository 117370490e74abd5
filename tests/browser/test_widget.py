"""The storefront widget in Chromium, embedded on a page of another origin (tests/browser/conftest.py).
Selectors are roles, labels and the public ``data-tw`` hooks (docs/widget.md), never classes."""

from __future__ import annotations

import datetime as dt
import re
import time

from playwright.sync_api import expect

from tests.browser.conftest import axe_violations, no_horizontal_scroll
from tests.support.rules import default_document, rule_of

TW = "tierwise-storefront"


def day(n: int) -> str:
    return (dt.date.today() + dt.timedelta(days=n)).isoformat()


def step(page, name: str):
    """The widget's current step (asserted), waited for until its loading is done."""
    section = page.locator(f"{TW} [data-tw=step]")
    expect(section).to_have_attribute("data-step", name)
    expect(section).to_have_attribute("aria-busy", "false")
    return section


def price_text(locator) -> str:
    return locator.inner_text().strip()


def test_whole_flow_to_a_paid_booking(page, stack, shots):
    """Segment → tiers → customize → date → contact → upsell (declined) → checkout → the local
    payment page → paid; events sent; accessibility checked on every step."""
    page.goto(stack.page_url(date=day(12)))
    assert page.evaluate("location.origin") != stack.api  # the host page is another origin
    section = step(page, "segment")
    shots(page, "segment")
    tabs = page.locator(f"{TW} [data-tw=segment-tab]")
    expect(tabs).to_have_count(3)
    page.get_by_role("tab", name="Premium").click()
    expect(page.get_by_role("tab", name="Premium")).to_have_attribute("aria-selected", "true")
    violations = {"segment": axe_violations(page)}
    page.locator(f"{TW} [data-tw=next]").click()

    section = step(page, "tiers")
    cards = section.locator("[data-tw=tier-card]")
    expect(cards).to_have_count(3)
    assert [cards.nth(i).get_attribute("data-tier-level") for i in range(3)] == ["1", "2", "3"]
    expect(section.locator("[data-tw=popular-badge]")).to_have_count(1)
    expect(cards.nth(1).locator("[data-tw=popular-badge]")).to_be_visible()
    expect(section.get_by_role("table").last).to_contain_text("Guided tour")
    shots(page, "tiers")
    violations["tiers"] = axe_violations(page)

    # the breakdown the customer opens is the API's, line for line
    offers = stack.call(
        "GET",
        f"/v1/storefront/segments/premium/offers?date={day(12)}&guests=2",
        headers={"X-Api-Key": stack.key},
    )[2]["offers"]
    first = cards.nth(0)
    first.get_by_text("Price breakdown").click()
    breakdown = first.locator("[data-tw=breakdown]")
    for line in offers[0]["price"]["lines"]:
        expect(breakdown).to_contain_text(line["label"])
    shown = price_text(first.locator("[data-tw=price]"))
    assert re.sub(r"\D", "", shown) == str(offers[0]["price"]["total"]), shown

    first.locator("[data-tw=select]").click()
    section = step(page, "customize")
    section.get_by_label("Breakfast").check()
    shots(page, "customize")
    violations["customize"] = axe_violations(page)
    section.locator("[data-tw=next]").click()

    section = step(page, "date")
    expect(section.locator("[data-tw=date]").first).to_be_visible()
    chosen = section.locator(f"[data-tw=date][data-date='{day(12)}']")
    expect(chosen).to_have_attribute("aria-pressed", "true")
    expect(section.locator("[data-tw=selection] [data-tw=price]")).to_be_visible()
    shots(page, "date")
    violations["date"] = axe_violations(page)
    section.locator("[data-tw=next]").click()

    section = step(page, "contact")
    section.locator("[data-tw=next]").click()  # empty: refused, in words
    expect(section.get_by_text("Enter your name.")).to_be_visible()
    section.get_by_label("Name").fill("Ada Lovelace")
    section.get_by_label("Email").fill("ada@example.com")
    shots(page, "contact")
    violations["contact"] = axe_violations(page)
    section.locator("[data-tw=next]").click()

    section = step(page, "upsell")
    expect(section.locator("[data-tw=upsell]")).to_contain_text("Upgrade to")
    shots(page, "upsell")
    violations["upsell"] = axe_violations(page)
    section.locator("[data-tw=upsell-decline]").click()

    section = step(page, "checkout")
    total = section.locator("[data-tw=summary] [data-tw=price]")
    expect(total).to_be_visible()
    total = price_text(total)
    shots(page, "checkout")
    violations["checkout"] = axe_violations(page)
    assert not any(violations.values()), violations

    section.locator("[data-tw=next]").click()
    page.wait_for_url(re.compile(re.escape(stack.api) + r"/local-pay/lcs_"))
    shots(page, "payment")
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(re.compile(r"done=1"))
    expect(page.get_by_text("(paid)")).to_be_visible()
    shots(page, "paid")

    booking_id = re.search(r"lcs_([0-9a-f-]{36})", page.url).group(1)
    status, _, booking = stack.call(
        "GET", f"/v1/storefront/bookings/{booking_id}", headers={"X-Api-Key": stack.key}
    )
    assert (status, booking["status"]) == (200, "paid"), booking
    assert booking["service_date"] == day(12)
    assert re.sub(r"\D", "", total) == str(booking["total"])

    # the widget sent the storefront events itself, under one visitor id
    from sqlalchemy import text

    with stack.db.read() as session:
        events = session.execute(
            text("SELECT type, visitor_id FROM storefront_events WHERE tenant_id = :t"),
            {"t": stack.tenant_id},
        ).all()
    types = {e.type for e in events}
    assert {
        "segment_selected",
        "tier_comparison_viewed",
        "upsell_shown",
        "upsell_declined",
    } <= types
    assert len({e.visitor_id for e in events}) == 1


def test_segment_switch_reprices_and_rethemes(page, stack, shots):
    page.goto(stack.page_url(segment="premium", date=day(14)))
    section = step(page, "tiers")
    premium = price_text(section.locator("[data-tw=tier-card] [data-tw=price]").first)
    page.get_by_role("tab", name="Luxury").click()
    section = step(page, "tiers")
    expect(page.get_by_role("tab", name="Luxury")).to_have_attribute("aria-selected", "true")
    expect(page.get_by_role("tab", name="Premium")).to_have_attribute("aria-selected", "false")
    expect(section.locator("[data-tw=tier-card] [data-tw=price]").first).not_to_have_text(premium)
    shots(page, "luxury")
    # back keeps the choices: choose, go on, come back
    section.locator("[data-tw=tier-card][data-tier-level='2'] [data-tw=select]").click()
    step(page, "customize").locator("[data-tw=back]").click()
    section = step(page, "tiers")
    expect(page.get_by_role("tab", name="Luxury")).to_have_attribute("aria-selected", "true")
    expect(section.locator("[data-tw=next]")).not_to_have_attribute("aria-disabled", "true")


def test_a_sold_out_date_is_disabled_and_its_fallback_taken(page, stack, shots):
    preferred = next(t for t in stack.tiers("budget") if t["level"] == 2)
    sold_out = day(20)
    status, _, body = stack.call(
        "PUT",
        f"/v1/admin/tiers/{preferred['id']}/capacity",
        {"from": sold_out, "units": 0},
        stack.admin,
    )
    assert status == 200, body

    # on the sold-out date the tier shows its ranked fallbacks, each one clickable
    page.goto(stack.page_url(segment="budget", date=sold_out))
    section = step(page, "tiers")
    card = section.locator("[data-tw=tier-card][data-tier-level='2']")
    expect(card.locator("[data-tw=availability]")).to_have_attribute("data-status", "sold_out")
    expect(card.locator("[data-tw=select]")).to_have_attribute("aria-disabled", "true")
    fallbacks = card.locator("[data-tw=fallback]")
    expect(fallbacks.first).to_be_visible()
    assert fallbacks.first.get_attribute("data-rank") == "1"
    shots(page, "sold-out-tier")
    target_tier = fallbacks.first.get_attribute("data-tier-id")
    target_date = fallbacks.first.get_attribute("data-date")
    fallbacks.first.click()
    section = step(page, "customize")
    section.locator("[data-tw=next]").click()
    section = step(page, "date")
    expect(section.locator(f"[data-tw=date][data-date='{target_date}']")).to_have_attribute(
        "aria-pressed", "true"
    )
    expect(section.locator("[data-tw=selection] [data-tw=availability]")).to_have_attribute(
        "data-status", "available"
    )
    assert target_tier

    # the date step of the sold-out tier: that date (and the demo's blackout) are disabled
    page.goto(stack.page_url(segment="budget", date=day(19)))
    step(page, "tiers").locator("[data-tw=tier-card][data-tier-level='2'] [data-tw=select]").click()
    step(page, "customize").locator("[data-tw=next]").click()
    section = step(page, "date")
    button = section.locator(f"[data-tw=date][data-date='{sold_out}']")
    expect(button).to_have_attribute("aria-disabled", "true")
    expect(button).to_have_attribute("data-status", "sold_out")
    blackout = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    if blackout[:7] == sold_out[:7]:
        expect(section.locator(f"[data-tw=date][data-date='{blackout}']")).to_have_attribute(
            "aria-disabled", "true"
        )
    button.click(force=True)  # a disabled date is not taken
    expect(section.locator(f"[data-tw=date][data-date='{day(19)}']")).to_have_attribute(
        "aria-pressed", "true"
    )
    shots(page, "sold-out-date")


def test_accepting_the_upsell_changes_the_price(page, stack, shots):
    page.goto(stack.page_url(segment="premium", date=day(16)))
    section = step(page, "tiers")
    essential = section.locator("[data-tw=tier-card][data-tier-level='1']")
    before = price_text(essential.locator("[data-tw=price]"))
    essential.locator("[data-tw=select]").click()
    step(page, "customize").locator("[data-tw=next]").click()
    step(page, "date").locator("[data-tw=next]").click()
    section = step(page, "contact")
    section.get_by_label("Name").fill("Grace Hopper")
    section.get_by_label("Email").fill("grace@example.com")
    section.locator("[data-tw=next]").click()
    section = step(page, "upsell")
    shots(page, "upsell")
    section.locator("[data-tw=upsell-accept]").click()
    section = step(page, "checkout")
    after = price_text(section.locator("[data-tw=summary] [data-tw=price]"))
    assert after != before, (before, after)
    expect(section.locator("[data-tw=summary]")).to_contain_text("Ultimate")
    shots(page, "upgraded")
    offers = stack.call(
        "GET",
        f"/v1/storefront/segments/premium/offers?date={day(16)}&guests=2",
        headers={"X-Api-Key": stack.key},
    )[2]["offers"]
    upsell = offers[0]["upsell"]
    assert re.sub(r"\D", "", after) == str(upsell["total"]), (after, upsell)


def test_keyboard_only(page, stack, shots):
    """Tab, arrows, Enter and Space alone take a visitor to checkout; focus is always visible."""
    page.goto(stack.page_url(date=day(18)))
    step(page, "segment")
    kb = page.keyboard

    def focused():
        return page.evaluate(
            """() => { let el = document.activeElement;
                while (el && el.shadowRoot && el.shadowRoot.activeElement) el = el.shadowRoot.activeElement;
                const style = getComputedStyle(el);
                return {tw: el.getAttribute('data-tw') || (el.name ? 'input:' + el.name : null),
                        text: el.textContent.trim().slice(0, 40),
                        tag: el.tagName, outline: style.outlineStyle, width: style.outlineWidth}; }"""
        )

    def tab_to(hook: str, text: str | None = None, limit: int = 40) -> dict:
        for _ in range(limit):
            kb.press("Tab")
            now = focused()
            if now["tw"] == hook and (text is None or text in now["text"]):
                assert now["outline"] != "none" and now["width"] != "0px", now
                return now
        raise AssertionError(f"no focusable {hook} {text or ''}")

    tab_to("segment-tab")
    kb.press("ArrowRight")  # Budget → Premium
    assert focused()["text"] == "Premium"
    kb.press("Enter")
    tab_to("next")
    kb.press("Enter")
    step(page, "tiers")
    assert focused()["tag"] == "H2"  # focus moved to the new step's heading
    tab_to("select")
    kb.press("Enter")
    step(page, "customize")
    tab_to("addon")
    kb.press("Space")
    tab_to("next")
    kb.press("Enter")
    step(page, "date")
    tab_to("next")
    kb.press("Enter")
    step(page, "contact")
    tab_to("input:name")  # Tab until the field has focus, however late the step's focus move
    kb.type("Alan Turing")
    tab_to("input:email")
    kb.type("alan@example.com")
    tab_to("next")
    kb.press("Enter")
    section = step(page, "upsell")
    tab_to("upsell-accept")
    kb.press("Enter")
    section = step(page, "checkout")
    expect(section.locator("[data-tw=summary]")).to_be_visible()
    tab_to("next")
    shots(page, "keyboard-checkout")


def test_phone_width_has_no_horizontal_scroll(phone, stack, shots):
    page = phone
    page.goto(stack.page_url(segment="premium", date=day(13)))
    for name in ("tiers", "customize", "date", "contact"):
        section = step(page, name)
        width, visible = no_horizontal_scroll(page)
        assert width <= visible == 375, (name, width, visible)
        shots(page, f"375-{name}")
        if name == "tiers":
            section.locator("[data-tw=tier-card] [data-tw=select]").first.click()
        elif name == "contact":
            break
        else:
            section.locator("[data-tw=next]").click()
    assert not axe_violations(page)


def test_theme_is_applied_as_custom_properties(page, stack, shots):
    segment = next(
        s
        for s in stack.call("GET", "/v1/admin/segments", headers=stack.admin)[2]
        if s["key"] == "luxury"
    )
    status, headers, _ = stack.call(
        "GET", f"/v1/admin/segments/{segment['id']}", headers=stack.admin
    )
    theme = {
        "primary_color": "#7a1f5c",
        "accent_color": "#0b6e4f",
        "font_family": "Georgia, serif",
        "radius": "2px",
    }
    status, _, body = stack.call(
        "PATCH",
        f"/v1/admin/segments/{segment['id']}",
        {"theme": theme},
        {**stack.admin, "If-Match": headers["ETag"]},
    )
    assert status == 200 and body["theme"] == theme, body
    page.goto(stack.page_url(segment="luxury", date=day(15)))
    step(page, "tiers")
    widget = page.locator(TW)
    style = widget.evaluate(
        """el => ({primary: el.style.getPropertyValue('--tw-primary'),
                   accent: el.style.getPropertyValue('--tw-accent'),
                   font: el.style.getPropertyValue('--tw-font'),
                   radius: el.style.getPropertyValue('--tw-radius')})"""
    )
    assert style == {
        "primary": "#7a1f5c",
        "accent": "#0b6e4f",
        "font": "Georgia, serif",
        "radius": "2px",
    }
    select = page.locator(f"{TW} [data-tw=select]").first
    assert select.evaluate("el => getComputedStyle(el).backgroundColor") == "rgb(122, 31, 92)"
    assert select.evaluate("el => getComputedStyle(el).borderRadius") == "2px"
    shots(page, "themed")
    assert not axe_violations(page)
    # another segment has no theme: the properties are taken off again
    page.get_by_role("tab", name="Budget").click()
    step(page, "tiers")
    assert widget.evaluate("el => el.style.getPropertyValue('--tw-primary')") == ""


def test_tier_table_render_time_on_the_demo_page(page, stack, shots):
    started = time.perf_counter()
    page.goto(f"{stack.api}/demo#key={stack.key}")
    page.locator(f"{TW} [data-tw=tier-card]").first.wait_for()
    in_page = page.evaluate("performance.now()")
    wall = (time.perf_counter() - started) * 1000
    # A figure the test prints (target ≤ 1 s, README), not a pass/fail timing: a loaded machine
    # would fail a correct widget. What is asserted is that the table renders at all.
    print(f"\ntier table rendered {in_page:.0f} ms after navigation start ({wall:.0f} ms wall)")
    shots(page, "demo")
    expect(page.locator(f"{TW} [data-tw=tier-card]")).to_have_count(3)


def publish(stack, document: dict) -> None:
    status, _, draft = stack.call(
        "POST", "/v1/admin/rulesets/drafts", {"name": "w", "document": document}, stack.admin
    )
    assert status == 201, draft
    status, _, body = stack.call(
        "POST", f"/v1/admin/rulesets/drafts/{draft['id']}/publish", {}, stack.admin
    )
    assert status == 201, body


def test_a_banner_upsell_and_the_rules_words_on_the_card(page, stack, shots):
    """An upsell rule placed as a banner shows on the tier card; the breakdown speaks the rules'
    customer labels (the default weekend rule's "Weekend +10 %")."""
    banner = default_document(examples=False)
    rule_of(banner, "upsell-next-tier")["then"]["placement"] = "banner"
    publish(stack, banner)
    try:
        saturday = dt.date.today() + dt.timedelta(days=9)
        while saturday.isoweekday() != 6:
            saturday += dt.timedelta(days=1)
        page.goto(stack.page_url(segment="premium", date=saturday.isoformat()))
        section = step(page, "tiers")
        essential = section.locator("[data-tw=tier-card][data-tier-level='1']")
        expect(essential.locator("[data-tw=upsell-banner]")).to_contain_text("Ultimate")
        expect(section.locator("[data-tw=upsell-banner]")).to_have_count(2)  # not on Ultimate
        essential.get_by_text("Price breakdown").click()
        expect(essential.locator("[data-tw=breakdown]")).to_contain_text("Weekend +10 %")
        shots(page, "banner")
        assert not axe_violations(page)
    finally:
        publish(stack, default_document(examples=False))
