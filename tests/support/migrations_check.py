"""`alembic check` against a scratch PostgreSQL database and a scratch SQLite file: the migrations
must build the schema the models describe, on both backends."""

from __future__ import annotations

import os
import sys
import tempfile

import psycopg
from alembic import command
from alembic.util.exc import CommandError
from sqlalchemy import make_url

from storage.db import alembic_config, migrate


def _scratch_pg() -> str:
    base = make_url(
        os.environ.get(
            "TEST_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/tierwise_test"
        )
    )
    url = base.set(database=f"{base.database}_alembic")
    admin = base.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{url.database}"')
    return url.render_as_string(hide_password=False)


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        for url in (_scratch_pg(), f"sqlite:///{folder}/check.db"):
            migrate(url)
            try:
                command.check(alembic_config(url))
            except CommandError as error:
                print(f"models and migrations differ on {url.split(':')[0]}: {error}")
                return 1
            print(f"alembic check ok on {url.split(':')[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
