"""The embedded default end to end, the way ``make run`` does it: ``tierwise demo`` (migrate + seed +
credentials) then ``tierwise serve`` (gunicorn), on a SQLite file with no Redis and no secrets set,
exercised over real HTTP."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.error import HTTPError, URLError

import pytest

from rules.durable_binding import GLIBC_TUNABLES
from tests.support.embedded import TIERWISE, embedded_env
from tests.support.private_servers import free_port, stop_process
from tests.support.timing import eventually

KEY_LINE = re.compile(r"^storefront API key:\s+(tw_pk_[0-9a-f]{40})$", re.MULTILINE)
TOKEN_LINE = re.compile(r"^tenant-admin token:\s+(\S+)$", re.MULTILINE)
TENANT_LINE = re.compile(r"^demo tenant:\s+demo \(([0-9a-f-]{36})\)$", re.MULTILINE)
FEATURE_MATRIX = [
    ("guided_tour", "Guided tour", [True, True, True]),
    ("lunch", "Lunch included", [False, True, True]),
    ("photo_pack", "Photo pack", [False, True, True]),
    ("private_guide", "Private guide", [False, False, True]),
    ("lounge", "Lounge access", ["-", "Standard", "Premium"]),
]


def run_demo(folder: Path, env: dict[str, str]) -> dict[str, str]:
    done = subprocess.run(
        [str(TIERWISE), "demo"],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, f"tierwise demo failed:\n{done.stdout}\n{done.stderr}"
    key, token, tenant = (
        KEY_LINE.search(done.stdout),
        TOKEN_LINE.search(done.stdout),
        TENANT_LINE.search(done.stdout),
    )
    assert key and token and tenant, f"unexpected demo output:\n{done.stdout}"
    return {"key": key.group(1), "token": token.group(1), "tenant_id": tenant.group(1)}


def call(
    base: str, path: str, headers: dict[str, str] | None = None, body: Any = None
) -> tuple[int, dict, Any]:
    """GET ``path`` (POST ``body`` as JSON if given); (status, headers, JSON body) for 2xx and
    HTTP errors alike."""
    data = None if body is None else json.dumps(body).encode()
    headers = {**(headers or {}), **({} if body is None else {"Content-Type": "application/json"})}
    request = urllib.request.Request(base + path, data=data, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), json.loads(response.read())
    except HTTPError as error:
        with error:
            return error.code, dict(error.headers), json.loads(error.read())


def wait_until_healthy(base: str, server: subprocess.Popen, log: Path) -> None:
    def answering() -> tuple[int, dict] | None:
        if server.poll() is not None:
            pytest.fail(f"tierwise serve exited with {server.returncode}:\n{log.read_text()}")
        try:
            status, _, body = call(base, "/healthz")
        except (URLError, ConnectionError, TimeoutError):
            return None
        return status, body

    try:
        status, body = eventually(answering, 60, "/healthz")
    except AssertionError:
        pytest.fail(f"/healthz did not answer within 60 s:\n{log.read_text()}")
    assert (status, body["status"]) == (200, "ok")


def test_demo_then_serve_on_the_embedded_default(tmp_path: Path) -> None:
    assert TIERWISE.is_file(), f"no tierwise script next to {sys.executable}"
    env = embedded_env(tmp_path)
    assert "REDIS_URL" not in env and "JWT_SECRET" not in env and "API_KEY_PEPPER" not in env

    first = run_demo(tmp_path, env)
    assert (tmp_path / "demo.db").is_file()
    assert not (tmp_path / "var").exists()  # DATABASE_URL was honoured, not the default path

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = tmp_path / "server.log"
    # gunicorn's control socket defaults to ~/.gunicorn/gunicorn.ctl, shared by every instance;
    # give this one a private runtime dir so the test neither clobbers nor depends on another.
    with (
        tempfile.TemporaryDirectory(prefix="tw-") as runtime_dir,
        log_path.open("wb") as log,
    ):
        server = subprocess.Popen(
            [str(TIERWISE), "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=tmp_path,
            env={**env, "XDG_RUNTIME_DIR": runtime_dir},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_healthy(base, server, log_path)
            check_runs_with_steady_malloc(server.pid, env)
            check_serves_the_demo_tenant(base, first)
            check_customer_urls_point_at_the_served_port(base, first)
            check_demo_again_is_idempotent_and_rotates_the_key(base, tmp_path, env, first)
        finally:
            stop_process(server, 30)
    assert server.returncode is not None


def check_runs_with_steady_malloc(pid: int, env: dict[str, str]) -> None:
    """Started without GLIBC_TUNABLES, ``serve`` re-executed itself (same process) with
    durable-rules' malloc settings."""
    assert "GLIBC_TUNABLES" not in env
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    set_to = [e.removeprefix(b"GLIBC_TUNABLES=") for e in environ if e.startswith(b"GLIBC_TUN")]
    # glibc parses the variable in place: the environment may show only its first setting
    assert set_to and GLIBC_TUNABLES.encode().startswith(set_to[0]), set_to


def check_serves_the_demo_tenant(base: str, demo: dict[str, str]) -> None:
    storefront = {"X-Api-Key": demo["key"]}
    admin = {"Authorization": f"Bearer {demo['token']}"}

    status, _, ready = call(base, "/readyz")
    assert (status, ready) == (200, {"status": "ok", "checks": {"database": "ok", "cache": "ok"}})

    status, _, segments = call(base, "/v1/storefront/segments", storefront)
    assert status == 200
    assert [(s["key"], s["name"], s["position"]) for s in segments] == [
        ("budget", "Budget", 0),
        ("premium", "Premium", 1),
        ("luxury", "Luxury", 2),
    ]

    status, _, comparison = call(base, "/v1/storefront/segments/premium/comparison", storefront)
    assert status == 200
    assert comparison["segment"]["key"] == "premium"
    assert comparison["segment"]["id"] == segments[1]["id"]
    assert comparison["currency"] == "EUR"
    tiers = comparison["tiers"]
    assert [t["level"] for t in tiers] == [1, 2, 3]
    assert [t["name"] for t in tiers] == ["Essential", "Preferred", "Ultimate"]
    assert [t["base_price"] for t in tiers] == [
        {"amount": 12900, "currency": "EUR"},
        {"amount": 15900, "currency": "EUR"},
        {"amount": 19900, "currency": "EUR"},
    ]
    assert [t["popular"] for t in tiers] == [False, True, False]
    assert [t["upsell_target_ids"] for t in tiers] == [
        [tiers[1]["id"], tiers[2]["id"]],
        [tiers[2]["id"]],
        [],
    ]
    assert [(r["key"], r["label"], r["values"]) for r in comparison["feature_matrix"]] == [
        (key, label, values) for key, label, values in FEATURE_MATRIX
    ]
    add_ons = {a["key"]: a for a in comparison["add_ons"]}
    assert set(add_ons) == {"breakfast", "transfer", "spa"}
    assert add_ons["breakfast"]["tier_ids"] == []
    # limited to the Ultimate tiers; the comparison shows only this segment's one
    assert add_ons["spa"]["tier_ids"] == [tiers[2]["id"]]

    status, headers, admin_tiers = call(base, "/v1/admin/tiers", admin)
    assert status == 200
    assert json.loads(headers["X-Pagination"])["total"] == 9
    assert {t["segment_id"] for t in admin_tiers} == {s["id"] for s in segments}

    # the credentials are not interchangeable, and no credentials means 401
    status, _, body = call(base, "/v1/storefront/segments")
    assert (status, body["error"]["code"]) == (401, "unauthenticated")
    status, _, body = call(base, "/v1/admin/tiers", {"Authorization": f"Bearer {demo['key']}"})
    assert (status, body["error"]["code"]) == (403, "storefront_key_on_admin")


def check_customer_urls_point_at_the_served_port(base: str, demo: dict[str, str]) -> None:
    """PUBLIC_BASE_URL unset: the checkout (local payment page) URL is on the port served, not
    on 8000; and the page it names answers there."""
    storefront = {"X-Api-Key": demo["key"]}
    _, _, comparison = call(base, "/v1/storefront/segments/premium/comparison", storefront)
    day = (dt.date.today() + dt.timedelta(days=20)).isoformat()
    status, _, quote = call(
        base,
        "/v1/storefront/quotes",
        storefront,
        {"tier_id": comparison["tiers"][0]["id"], "date": day, "guests": 2},
    )
    assert status == 201, quote
    status, _, booking = call(
        base,
        "/v1/storefront/checkouts",
        {**storefront, "Idempotency-Key": "embedded-port"},
        {"quote_token": quote["token"], "customer": {"email": "port@example.com"}},
    )
    assert status == 201, booking
    assert booking["checkout_url"].startswith(f"{base}/local-pay/"), (base, booking)
    page = urllib.request.urlopen(booking["checkout_url"], timeout=10)
    with page:
        assert page.status == 200


def check_demo_again_is_idempotent_and_rotates_the_key(
    base: str, folder: Path, env: dict[str, str], first: dict[str, str]
) -> None:
    # run while the server is up, as someone re-running `make run` in another terminal would
    second = run_demo(folder, env)
    assert second["tenant_id"] == first["tenant_id"]
    assert second["key"] != first["key"]

    # The server process trusts a key it looked up for API_KEY_CACHE_SECONDS (2 s by default);
    # a revocation made by another process lands within that.
    started = time.monotonic()

    def refused() -> tuple[int, dict, Any] | None:
        answer = call(base, "/v1/storefront/segments", {"X-Api-Key": first["key"]})
        return answer if answer[0] != 200 else None

    status, _, body = eventually(refused, 5, "the old key to be refused")
    assert (status, body["error"]["code"]) == (401, "api_key_revoked")
    assert time.monotonic() - started <= 3.0

    status, _, segments = call(base, "/v1/storefront/segments", {"X-Api-Key": second["key"]})
    assert status == 200
    assert [s["key"] for s in segments] == ["budget", "premium", "luxury"]

    status, _, comparison = call(
        base, "/v1/storefront/segments/premium/comparison", {"X-Api-Key": second["key"]}
    )
    assert status == 200
    assert [t["level"] for t in comparison["tiers"]] == [1, 2, 3]

    admin = {"Authorization": f"Bearer {second['token']}"}
    status, headers, _ = call(base, "/v1/admin/tiers", admin)
    assert status == 200
    assert json.loads(headers["X-Pagination"])["total"] == 9  # seeded once, not twice

    status, _, keys = call(base, "/v1/admin/api-keys", admin)
    assert status == 200
    demo_keys = [k for k in keys if k["name"] == "demo"]
    assert sorted(k["active"] for k in demo_keys) == [False, True]
    [active] = [k for k in demo_keys if k["active"]]
    assert second["key"].startswith(active["prefix"])
