"""Scratch PostgreSQL databases next to the test database (same server, same credentials),
dropped and created empty."""

from __future__ import annotations

import os

import psycopg
from sqlalchemy import make_url

TEST_DATABASE_URL = os.environ.get(
    "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/tierwise_test"
)


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
