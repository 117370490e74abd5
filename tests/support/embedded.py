"""The embedded default (``TIERWISE_MODE=embedded``: SQLite, no Redis, no secrets set) as ``make
run`` sets it up: the environment of a ``tierwise`` process, or of this one."""

from __future__ import annotations

import datetime as dt
import os
import sys
from pathlib import Path

import pytest

from app.services.demo import demo_api_key, seed_demo
from config import Settings
from config.settings import ENVIRONMENT_VARIABLES
from pricing.catalog import Tenant
from storage.db import Database, migrate

BIN = Path(sys.executable).parent
TIERWISE = BIN / "tierwise"


def embedded_env(folder: Path) -> dict[str, str]:
    """The caller's environment without any tierwise setting, then what ``make run`` sets."""
    env = {
        k: v for k, v in os.environ.items() if k not in (*ENVIRONMENT_VARIABLES, "GLIBC_TUNABLES")
    }
    env["TIERWISE_MODE"] = "embedded"
    env["DATABASE_URL"] = f"sqlite:///{folder}/demo.db"
    return env


def clear_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """No tierwise setting left in this process's environment (for the rest of the test)."""
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def use_embedded(monkeypatch: pytest.MonkeyPatch, database: Path) -> None:
    """This process's environment set to the embedded default on the SQLite file ``database``."""
    clear_settings(monkeypatch)
    monkeypatch.setenv("TIERWISE_MODE", "embedded")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{database}")


def embedded_settings(monkeypatch: pytest.MonkeyPatch, database: Path) -> Settings:
    """``use_embedded``, then the settings read from it, their database migrated."""
    use_embedded(monkeypatch, database)
    settings = Settings.from_env()
    migrate(settings.database_url)
    return settings


def seeded_demo(settings: Settings) -> tuple[Tenant, str]:
    """The demo tenant seeded into the settings' (migrated) database, as ``tierwise demo`` does
    it, and a storefront API key of it."""
    seeding = Database.from_url(settings.database_url)
    try:
        tenant = seed_demo(seeding, dt.date.today())
        return tenant, demo_api_key(seeding, settings.api_key_pepper, tenant)
    finally:
        seeding.dispose()
