"""Browser tests: the widget embedded in a host page served from another origin (a second port),
talking to a real tierwise (PostgreSQL, Redis, the local payment page) served on a real port, in
Debian's Chromium through Playwright. Every test fails on a console error or a failed request.

Screenshots go under var/artifacts/browser/<test>/ (the path is printed)."""

from __future__ import annotations

import datetime as dt
import http.server
import json
import logging
import os
import re
import socket
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.serving import make_server

from app import create_app
from app.adapters.credentials import issue_token
from app.services import accounts
from app.services.demo import demo_api_key, seed_demo
from config import Settings
from storage.db import Database, migrate
from tests.support.databases import TEST_REDIS_URL as REDIS
from tests.support.databases import scratch_database

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
AXE = Path(__file__).parent / "vendor" / "axe-core-4.14.1" / "axe.min.js"
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "artifacts" / "browser"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(app_or_server, name: str):
    thread = threading.Thread(target=app_or_server.serve_forever, name=name, daemon=True)
    thread.start()
    return thread


@dataclass
class Stack:
    api: str  # tierwise's origin
    host: str  # the host page's origin (another port)
    key: str
    admin: dict[str, str]
    settings: Settings
    db: Database
    tenant_id: str

    def call(self, method: str, path: str, body: Any = None, headers=None) -> tuple[int, Any, Any]:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            self.api + path,
            data=data,
            method=method,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, response.headers, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, error.headers, json.loads(error.read() or b"null")

    def page_url(self, **attrs: Any) -> str:
        query = "&".join(f"{k}={v}" for k, v in attrs.items())
        return f"{self.host}/shop?{query}"

    def tiers(self, segment: str) -> list[dict]:
        status, _, body = self.call(
            "GET", f"/v1/storefront/segments/{segment}/comparison", headers={"X-Api-Key": self.key}
        )
        assert status == 200, body
        return body["tiers"]


HOST_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>Host shop</title>
<style>body{{margin:0;padding:8px;font-family:Georgia,serif}} button{{all:unset}}</style>
<script src="{api}/widget/v1/tierwise.js" defer></script></head>
<body><main><h1>Demo Adventures shop</h1>
<tierwise-storefront api-base="{api}" api-key="{key}"{attrs}></tierwise-storefront>
</main></body></html>"""


def host_server(api: str) -> http.server.ThreadingHTTPServer:
    """A shop's page on another origin embedding the widget (attributes from the query string;
    the key is the server's ``key`` unless the query names another)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            parts = urlsplit(self.path)
            if parts.path != "/shop":
                self.send_error(404)
                return
            query = {k: v[0] for k, v in parse_qs(parts.query).items()}
            allowed = {"segment", "date", "guests", "locale"}
            attrs = "".join(
                f' {k}="{v}"'
                for k, v in query.items()
                if k in allowed and re.fullmatch(r"[\w-]+", v)
            )
            key = query.get("key", self.server.key)
            body = HOST_PAGE.format(api=api, key=key, attrs=attrs).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    return http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    url = scratch_database("browser")
    migrate(url)
    api_port = free_port()
    api = f"http://127.0.0.1:{api_port}"
    settings = Settings.from_env(
        {
            "TIERWISE_MODE": "embedded",  # the local payment page: embedded mode only
            "DATABASE_URL": url,
            "CACHE_BACKEND": "redis",
            "REDIS_URL": REDIS,
            "PUBLIC_BASE_URL": api,
            "LOG_LEVEL": "WARNING",
            "API_KEY_CACHE_SECONDS": "0",
        }
    )
    db = Database.from_url(url)
    tenant = seed_demo(db, dt.date.today())
    host_page = host_server(api)
    host = f"http://127.0.0.1:{host_page.server_address[1]}"
    key = demo_api_key(db, settings.api_key_pepper, tenant, [api, host])
    host_page.key = key  # type: ignore[attr-defined]
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = create_app(settings)
    server = make_server("127.0.0.1", api_port, app, threaded=True)
    serve(server, "tierwise")
    serve(host_page, "host-page")
    token = issue_token(
        settings,
        role="tenant_admin",
        subject="browser",
        tenant_id=tenant.id,
        now=dt.datetime.now(dt.UTC),
        ttl_seconds=3600,
    )
    yield Stack(
        api=api,
        host=host,
        key=key,
        admin={"Authorization": f"Bearer {token}"},
        settings=settings,
        db=db,
        tenant_id=tenant.id,
    )
    server.shutdown()
    server.server_close()
    host_page.shutdown()
    host_page.server_close()
    app.extensions["tierwise"].db.dispose()  # the app's pools, closed before the interpreter ends
    db.dispose()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@dataclass
class Problems:
    items: list[str] = field(default_factory=list)


@pytest.fixture
def shots(request) -> Iterator[Any]:
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    count = [0]

    def take(page, name: str) -> None:
        count[0] += 1
        page.screenshot(path=str(folder / f"{count[0]:02d}-{name}.png"), full_page=True)

    yield take
    print(f"\nscreenshots: {folder}")


def open_page(browser, problems: Problems, **context):
    ctx = browser.new_context(**context)
    page = ctx.new_page()
    page.set_default_timeout(10_000)

    def console(message):
        # tierwise's own pages (the local payment page) have no icon: not the widget's concern
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            problems.items.append(f"console: {message.text} ({message.location.get('url')})")

    def failed(req):
        # The payment redirect may cut an analytics beacon short: only that is tolerated.
        if "/v1/storefront/events" in req.url and "ERR_ABORTED" in (req.failure or ""):
            return
        problems.items.append(f"request failed: {req.method} {req.url} {req.failure}")

    page.on("console", console)
    page.on("pageerror", lambda error: problems.items.append(f"page error: {error}"))
    page.on("requestfailed", failed)
    return ctx, page


@pytest.fixture
def page(browser):
    problems = Problems()
    ctx, page = open_page(browser, problems, viewport={"width": 1280, "height": 900})
    yield page
    ctx.close()
    assert not problems.items, problems.items


@pytest.fixture
def phone(browser):
    problems = Problems()
    ctx, page = open_page(browser, problems, viewport={"width": 375, "height": 812})
    yield page
    ctx.close()
    assert not problems.items, problems.items


def axe_violations(page) -> list[dict]:
    """axe-core's serious and critical violations on the page (open shadow roots included)."""
    if not page.evaluate("() => !!window.axe"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']}))")
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:3]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def no_horizontal_scroll(page) -> tuple[int, int]:
    return page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )


def console_users(stack: Stack, prefix: str) -> dict[str, tuple[str, str]]:
    """A tenant admin and an analyst of the demo tenant, ``prefix`` in their emails (each module
    its own): role → (email, password)."""
    made = {}
    for role in ("tenant_admin", "analyst"):
        email = f"{prefix}-{role.replace('_', '-')}@demo.example"
        _, password = accounts.create_user(stack.db, stack.tenant_id, email, role)
        made[role] = (email, password)
    return made


def sign_in(page, stack: Stack, email: str, password: str) -> None:
    """The console's sign-in form filled and sent; back once its answer (a console page, or the
    form again) has loaded."""
    page.goto(f"{stack.api}/admin/")
    page.locator("input[name=email]").fill(email)
    page.locator("input[name=password]").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
