"""Console accounts and sessions over HTTP: sign-in (argon2id), server-side sessions, sign-out,
CSRF (token and Origin), throttled failures, analysts refused, the CLI's create-user and demo."""

from __future__ import annotations

import datetime as dt
import re
import uuid

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from app import cli
from app.services import accounts
from storage import models as m
from tests.support.embedded import use_embedded

ORIGIN = {"Origin": "http://localhost"}
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, html
    return found.group(1)


def sign_in(client, email: str, password: str, headers=ORIGIN):
    page = client.get("/admin/")
    token = csrf_of(page.get_data(as_text=True))
    return client.post(
        "/admin/sign-in",
        data={"email": email, "password": password, "csrf_token": token},
        headers=headers,
    )


@pytest.fixture
def admin_user(db, tenant_a):
    user, password = accounts.create_user(db, tenant_a.tenant.id, "Ada@Example.com", "tenant_admin")
    return user, password


@pytest.fixture
def analyst_user(db, tenant_a):
    return accounts.create_user(db, tenant_a.tenant.id, "ana@example.com", "analyst")


def test_users_are_stored_with_argon2id_hashes_only(db, admin_user):
    user, password = admin_user
    assert user.email == "ada@example.com" and user.role == "tenant_admin"
    with db.read() as s:
        row = s.get(m.User, uuid.UUID(user.id))
    assert row.password_hash.startswith("$argon2id$")
    assert password not in row.password_hash


def test_sign_in_sets_a_server_side_session_cookie_and_sign_out_ends_it(client, admin_user):
    _, password = admin_user
    signed = sign_in(client, "ada@example.com", password)
    assert signed.status_code == 303 and signed.headers["Location"] == "/admin/catalog"
    cookie = next(c for c in signed.headers.getlist("Set-Cookie") if c.startswith("tw_console="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    value = cookie.split(";")[0].split("=", 1)[1]

    page = client.get("/admin/catalog")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-tw="page" data-page="catalog"' in html

    out = client.post("/admin/sign-out", data={"csrf_token": csrf_of(html)}, headers=ORIGIN)
    assert out.status_code == 303
    # the old cookie, sent again, signs nobody in: the session is gone on the server
    client.set_cookie("tw_console", value, path="/admin/")
    again = client.get("/admin/catalog")
    assert again.status_code == 302 and again.headers["Location"] == "/admin/"


def test_a_wrong_password_is_an_alert_and_no_session(client, admin_user):
    response = sign_in(client, "ada@example.com", "not-the-password")
    assert response.status_code == 401
    assert 'role="alert"' in response.get_data(as_text=True)
    assert not any(c.startswith("tw_console=") for c in response.headers.getlist("Set-Cookie"))
    unknown = sign_in(client, "nobody@example.com", "x")
    assert unknown.status_code == 401


def test_only_failed_sign_ins_are_throttled(client, admin_user):
    _, password = admin_user
    for _ in range(accounts.MAX_FAILURES - 1):
        assert sign_in(client, "ada@example.com", "wrong").status_code == 401
    assert sign_in(client, "ada@example.com", password).status_code == 303  # success: no count
    client.delete_cookie("tw_console", path="/admin/")
    assert sign_in(client, "ada@example.com", "wrong").status_code == 401  # the fifth failure
    throttled = sign_in(client, "ada@example.com", password)
    assert throttled.status_code == 429
    assert 'role="alert"' in throttled.get_data(as_text=True)


def test_state_changes_without_the_csrf_token_or_from_another_origin_are_refused(
    client, admin_user
):
    _, password = admin_user
    sign_in(client, "ada@example.com", password)
    token = csrf_of(client.get("/admin/rules").get_data(as_text=True))
    body = {"action": "validate", "document": "rules: []"}
    assert client.post("/admin/rules", data=body, headers=ORIGIN).status_code == 403
    wrong = {**body, "csrf_token": "not-it"}
    assert client.post("/admin/rules", data=wrong, headers=ORIGIN).status_code == 403
    good = {**body, "csrf_token": token}
    assert (
        client.post(
            "/admin/rules", data=good, headers={"Origin": "https://evil.example"}
        ).status_code
        == 403
    )
    assert client.post("/admin/rules", data=good).status_code == 403  # no Origin, no Referer
    # JSON content type is no protection either
    assert (
        client.post("/admin/sign-out", json={"csrf_token": "x"}, headers=ORIGIN).status_code == 403
    )
    assert client.post("/admin/rules", data=good, headers=ORIGIN).status_code == 200
    # sign-in itself needs its form token
    assert (
        client.post(
            "/admin/sign-in",
            data={"email": "ada@example.com", "password": password},
            headers=ORIGIN,
        ).status_code
        == 403
    )


def test_every_page_has_its_main_region_and_csrf_meta(client, admin_user):
    sign_in(client, "ada@example.com", admin_user[1])
    for name in (
        "catalog",
        "availability",
        "rules",
        "experiments",
        "analytics",
        "decisions",
        "bookings",
        "settings",
    ):
        response = client.get(f"/admin/{name}")
        assert response.status_code == 200, name
        html = response.get_data(as_text=True)
        assert f'data-tw="page" data-page="{name}"' in html
        assert csrf_of(html)
        assert 'data-tw="signout"' in html


def test_analysts_read_but_write_controls_are_absent_and_refused(client, analyst_user):
    sign_in(client, "ana@example.com", analyst_user[1])
    html = client.get("/admin/rules").get_data(as_text=True)
    assert 'data-tw="validate"' in html
    assert 'data-tw="publish"' not in html and 'data-tw="simulate"' not in html
    token = csrf_of(html)
    for action in ("publish", "simulate"):
        refused = client.post(
            "/admin/rules",
            data={"action": action, "document": "rules: []", "csrf_token": token},
            headers=ORIGIN,
        )
        assert refused.status_code == 403, action


def test_the_json_api_still_takes_jwts(client, tenant_a):
    assert client.get("/v1/admin/segments", headers=tenant_a.admin).status_code == 200


@pytest.fixture
def environment(tmp_path, monkeypatch) -> None:
    use_embedded(monkeypatch, tmp_path / "cli.db")


def test_create_user_prints_the_password_once_on_its_last_line(environment):
    runner = CliRunner()
    assert runner.invoke(cli.main, ["migrate"]).exit_code == 0
    made = runner.invoke(
        cli.main,
        [
            "create-tenant",
            "--slug",
            "acme",
            "--name",
            "Acme",
            "--currency",
            "EUR",
            "--time-zone",
            "UTC",
        ],
    )
    assert made.exit_code == 0, made.output
    done = runner.invoke(
        cli.main,
        ["create-user", "--tenant", "acme", "--email", "x@acme.example", "--role", "analyst"],
    )
    assert done.exit_code == 0, done.output
    last = done.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"password: \S{16,}", last), done.stdout
    again = runner.invoke(
        cli.main,
        ["create-user", "--tenant", "acme", "--email", "x@acme.example", "--role", "analyst"],
    )
    assert again.exit_code != 0 and "user_exists" in again.output


def test_demo_prints_the_console_and_its_admin_login(environment):
    done = CliRunner().invoke(cli.main, ["demo"])
    assert done.exit_code == 0, done.output
    lines = done.stdout.splitlines()
    console = next(line for line in lines if line.startswith("admin console: "))
    assert console.endswith("/admin/")
    login = next(line for line in lines if line.startswith("admin login: "))
    assert re.fullmatch(r"admin login: \S+@\S+ \S{16,}", login)


def test_sessions_expire_and_expired_ones_are_cleared_at_the_next_sign_in(db, cache, admin_user):
    _, password = admin_user
    now = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    first = accounts.sign_in(db, cache, "ada@example.com", password, "1.2.3.4", now)
    assert accounts.current_session(db, first.token, now) is not None
    later = now + dt.timedelta(hours=accounts.SESSION_HOURS)
    assert accounts.current_session(db, first.token, later) is None
    accounts.sign_in(db, cache, "ada@example.com", password, "1.2.3.4", later)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(m.ConsoleSession)) == 1
