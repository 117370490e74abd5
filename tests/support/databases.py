"""Scratch PostgreSQL databases next to the test database (same server, same credentials),
dropped and created empty."""

from __future__ import annotations

import os

import psycopg
from sqlalchemy import make_url

#: pytest-xdist's worker number (``gw1`` → 1), 0 outside xdist: each worker has a database and a
#: Redis database of its own, so workers never see each other's rows or keys.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)


def _per_worker_database(url: str) -> str:
    if not _WORKER:
        return url
    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_gw{_WORKER}").render_as_string(
        hide_password=False
    )


def _per_worker_redis(url: str) -> str:
    """Worker n uses the Redis database n below the configured one (15, 14, … in CI)."""
    base, _, number = url.rpartition("/")
    return f"{base}/{(int(number or 0) - _WORKER) % 16}"


TEST_DATABASE_URL = _per_worker_database(
    os.environ.get(
        "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/tierwise_test"
    )
)
TEST_REDIS_URL = _per_worker_redis(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))


def _admin(url: str) -> str:
    """The server's ``postgres`` database, to create and drop others from."""
    admin = make_url(url).set(drivername="postgresql", database="postgres")
    return admin.render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = make_url(url).database
    with psycopg.connect(_admin(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def recreate_database(url: str) -> None:
    """The database of ``url``, empty (dropped first if it was there)."""
    name = make_url(url).database
    with psycopg.connect(_admin(url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def scratch_database(suffix: str, base: str = TEST_DATABASE_URL) -> str:
    """The URL of an empty database named after ``base``'s with ``_suffix``."""
    parsed = make_url(base)
    url = parsed.set(database=f"{parsed.database}_{suffix}").render_as_string(hide_password=False)
    recreate_database(url)
    return url
