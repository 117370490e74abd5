"""The server mode (PostgreSQL, Redis, every secret) for ``tierwise`` processes and commands the
tests start on a database of their own: their environment, and a libpq URL of that database."""

from __future__ import annotations

import os

from sqlalchemy import make_url

from config.settings import ENVIRONMENT_VARIABLES
from tests.conftest import PEPPER, SECRET, TEST_REDIS_URL, WEBHOOK_SECRET


def server_env(database_url: str) -> dict[str, str]:
    env = {
        k: v for k, v in os.environ.items() if k not in (*ENVIRONMENT_VARIABLES, "GLIBC_TUNABLES")
    }
    return {
        **env,
        "TIERWISE_MODE": "server",
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "JWT_SECRET": SECRET,
        "API_KEY_PEPPER": PEPPER,
        "QUOTE_SECRET": "test-quote-secret-" + "q" * 40,
        "STRIPE_SECRET_KEY": "sk_test_tierwise",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }


def libpq(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
