"""RULES_CACHE_MIB: the memory a worker gives compiled rulesets (rules/programs.py)."""

from __future__ import annotations

import pytest

from app.adapters.rules_runtime import RulesRuntime
from config import ConfigError, Settings
from config.settings import DEFAULT_RULES_CACHE_MIB
from rules.programs import DEFAULT_MAX_BYTES

SERVER = {
    "DATABASE_URL": "postgresql+psycopg://app@db.internal:5432/tierwise",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "JWT_SECRET": "s" * 32,
    "API_KEY_PEPPER": "p" * 40,
    "QUOTE_SECRET": "q" * 36,
    "STRIPE_SECRET_KEY": "sk_test_123",
    "STRIPE_WEBHOOK_SECRET": "whsec_123",
}


def test_default_and_given() -> None:
    assert Settings.from_env(SERVER).rules_cache_mib == DEFAULT_RULES_CACHE_MIB == 128
    assert Settings.from_env({**SERVER, "RULES_CACHE_MIB": "512"}).rules_cache_mib == 512
    assert DEFAULT_MAX_BYTES == DEFAULT_RULES_CACHE_MIB * 1024 * 1024


@pytest.mark.parametrize("raw", ["0", "3", "65537", "lots"])
def test_out_of_range_is_a_problem(raw: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({**SERVER, "RULES_CACHE_MIB": raw})
    assert any(p.startswith("RULES_CACHE_MIB must be") for p in caught.value.problems)


def test_the_runtime_bounds_its_programs_by_it() -> None:
    runtime = RulesRuntime(None, None, engine="reference", cache_mib=64)  # type: ignore[arg-type]
    assert runtime.programs.max_bytes == 64 * 1024 * 1024
    assert RulesRuntime(None, None).programs.max_bytes == DEFAULT_MAX_BYTES  # type: ignore[arg-type]
