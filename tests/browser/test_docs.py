"""Swagger UI at /docs in Chromium with every request to another origin refused: it loads from
tierwise alone (the vendored assets and /openapi.json), renders the API's operations with their
descriptions, and logs no console error (the `page` fixture fails on one, or on a failed request)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from playwright.sync_api import expect

from app.http.vendor import SWAGGER_UI


def test_docs_load_offline_and_show_the_operations(page, stack, shots):
    elsewhere: list[str] = []
    served: list[str] = []
    origin = urlsplit(stack.api).netloc

    def only_tierwise(route):
        url = route.request.url
        if urlsplit(url).netloc != origin:
            elsewhere.append(url)
            route.abort()  # as if offline: nothing but tierwise is reachable
        else:
            served.append(urlsplit(url).path)
            route.continue_()

    page.route("**/*", only_tierwise)
    page.goto(f"{stack.api}/docs")
    expect(page.get_by_role("heading", name=re.compile(r"^tierwise"))).to_be_visible()
    offers = page.get_by_text("/v1/storefront/segments/{segment}/offers", exact=True)
    expect(offers).to_be_visible()
    shots(page, "docs")

    offers.click()  # expands the operation: its description, parameters and responses
    opened = page.locator(".opblock.is-open")  # the offers operation, expanded
    expect(opened.get_by_text("Prices every active tier with the tenant's ruleset")).to_be_visible()
    expect(
        opened.get_by_text("Service date, YYYY-MM-DD in the tenant's time zone").first
    ).to_be_visible()
    shots(page, "docs-offers")

    assert not elsewhere, elsewhere
    assert "/openapi.json" in served
    assert any(path.startswith(f"/static/vendor/{SWAGGER_UI}/") for path in served), served
