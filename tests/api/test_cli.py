"""The command line's admin tokens: the lifetime used is the one printed, and it is the one the
docs/operations.md gives (JWT_TTL_SECONDS, or --ttl within the same bounds)."""

from __future__ import annotations

import datetime as dt
import re

import jwt
import pytest
from click.testing import CliRunner

from app import cli
from tests.conftest import SECRET
from tests.support.embedded import use_embedded

VALID_FOR = re.compile(r"valid for (\d+) s \([^)]*\), until (\S+)")


@pytest.fixture
def environment(tmp_path, monkeypatch) -> None:
    use_embedded(monkeypatch, tmp_path / "cli.db")
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("JWT_TTL_SECONDS", "600")


def lifetime_of(token: str) -> int:
    claims = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="tierwise")
    return claims["exp"] - claims["iat"]


def printed(text: str) -> tuple[int, dt.datetime]:
    found = VALID_FOR.search(text)
    assert found, text
    return int(found.group(1)), dt.datetime.fromisoformat(found.group(2))


def test_token_prints_its_lifetime_apart_from_the_token(environment):
    done = CliRunner().invoke(cli.main, ["token", "--role", "platform_admin"])
    assert done.exit_code == 0, done.output
    token = done.stdout.strip()  # stdout is the token alone: TOKEN=$(tierwise token ...)
    assert lifetime_of(token) == 600  # JWT_TTL_SECONDS
    seconds, until = printed(done.stderr)
    assert seconds == 600
    exp = jwt.decode(token, SECRET, algorithms=["HS256"], issuer="tierwise")["exp"]
    assert until == dt.datetime.fromtimestamp(exp, dt.UTC)

    longer = CliRunner().invoke(cli.main, ["token", "--role", "platform_admin", "--ttl", "7200"])
    assert longer.exit_code == 0, longer.output
    assert lifetime_of(longer.stdout.strip()) == printed(longer.stderr)[0] == 7200


@pytest.mark.parametrize("ttl", ["0", "-5", "59", str(30 * 24 * 3600 + 1)])
def test_token_refuses_a_lifetime_outside_what_jwt_ttl_seconds_accepts(environment, ttl):
    """Before: --ttl 0 silently became JWT_TTL_SECONDS, a negative one an expired token, and any
    length was accepted."""
    done = CliRunner().invoke(cli.main, ["token", "--role", "platform_admin", "--ttl", ttl])
    assert done.exit_code == 2, done.output
    assert "60" in done.stderr and "2592000" in done.stderr
    assert done.stdout == ""


def test_demo_token_lasts_jwt_ttl_seconds_and_says_so(environment):
    done = CliRunner().invoke(cli.main, ["demo"])
    assert done.exit_code == 0, done.output
    token = re.search(r"^tenant-admin token:\s+(\S+)$", done.stdout, re.MULTILINE)
    assert token, done.stdout
    assert lifetime_of(token.group(1)) == printed(done.stdout)[0] == 600
