"""`alembic check` against a scratch PostgreSQL database and a scratch SQLite file: the migrations
must build the schema the models describe, on both backends."""

from __future__ import annotations

import sys
import tempfile

from alembic import command
from alembic.util.exc import CommandError

from storage.db import alembic_config, migrate
from tests.support.databases import scratch_database


def main() -> int:
    with tempfile.TemporaryDirectory() as folder:
        for url in (scratch_database("alembic"), f"sqlite:///{folder}/check.db"):
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
