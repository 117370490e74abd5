"""config.Settings.from_env: modes, defaults, and every problem reported at once."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from config import ConfigError, Settings
from config.settings import EMBEDDED_DEV_SECRET, ENVIRONMENT_VARIABLES

SECRET = "s" * 32
PEPPER = "p" * 40
SERVER = {
    "DATABASE_URL": "postgresql+psycopg://app@db.internal:5432/tierwise",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "JWT_SECRET": SECRET,
    "API_KEY_PEPPER": PEPPER,
    "QUOTE_SECRET": "q" * 36,
    "STRIPE_SECRET_KEY": "sk_test_123",
    "STRIPE_WEBHOOK_SECRET": "whsec_123",
}
EMBEDDED = {"TIERWISE_MODE": "embedded"}


def problems(env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    return caught.value.problems


# ---- server mode ---------------------------------------------------------------------------------


def test_server_mode_is_the_default_and_requires_everything_reporting_all_problems() -> None:
    assert problems({}) == [
        "DATABASE_URL is required (e.g. postgresql+psycopg://user@host/db)",
        "REDIS_URL is required when CACHE_BACKEND=redis",
        "JWT_SECRET must be set to at least 32 characters",
        "API_KEY_PEPPER must be set to at least 32 characters",
        "QUOTE_SECRET must be set to at least 32 characters",
        "STRIPE_SECRET_KEY is required when PAYMENTS_BACKEND=stripe (sk_... or rk_...)",
        "STRIPE_WEBHOOK_SECRET is required (whsec_...)",
    ]


def test_config_error_message_lists_every_problem_one_per_line() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({})
    error = caught.value
    assert isinstance(error, ValueError)
    lines = str(error).splitlines()
    assert lines[0] == "invalid configuration:"
    assert lines[1:] == [f"  - {p}" for p in error.problems]
    assert len(lines) == 8


def test_server_mode_with_everything_set() -> None:
    settings = Settings.from_env(SERVER)
    assert settings == Settings(
        mode="server",
        database_url=SERVER["DATABASE_URL"],
        redis_url=SERVER["REDIS_URL"],
        cache_backend="redis",
        jwt_secret=SECRET,
        jwt_issuer="tierwise",
        jwt_ttl_seconds=3600,
        api_key_pepper=PEPPER,
        quote_secret="q" * 36,
        stripe_secret_key="sk_test_123",
        stripe_webhook_secret="whsec_123",
        max_body_bytes=65536,
        default_page_size=50,
        max_page_size=200,
        log_level="INFO",
    )


def test_server_mode_does_not_fall_back_to_development_secrets() -> None:
    env = {
        k: v for k, v in SERVER.items() if k not in ("JWT_SECRET", "API_KEY_PEPPER", "QUOTE_SECRET")
    }
    assert problems(env) == [
        "JWT_SECRET must be set to at least 32 characters",
        "API_KEY_PEPPER must be set to at least 32 characters",
        "QUOTE_SECRET must be set to at least 32 characters",
    ]


@pytest.mark.parametrize("name", ["JWT_SECRET", "API_KEY_PEPPER", "QUOTE_SECRET"])
def test_secrets_need_32_characters(name: str) -> None:
    assert problems({**SERVER, name: "x" * 31}) == [f"{name} must be set to at least 32 characters"]
    assert getattr(Settings.from_env({**SERVER, name: "x" * 32}), name.lower()) == "x" * 32


def test_every_value_can_be_set() -> None:
    settings = Settings.from_env(
        {
            **SERVER,
            "REDIS_URL": "rediss://cache.internal:6380/2",
            "JWT_ISSUER": "tierwise-prod",
            "JWT_TTL_SECONDS": "600",
            "MAX_BODY_BYTES": "1048576",
            "DEFAULT_PAGE_SIZE": "20",
            "MAX_PAGE_SIZE": "500",
            "LOG_LEVEL": "debug",
        }
    )
    assert settings.redis_url == "rediss://cache.internal:6380/2"
    assert settings.jwt_issuer == "tierwise-prod"
    assert settings.jwt_ttl_seconds == 600
    assert settings.max_body_bytes == 1048576
    assert settings.default_page_size == 20
    assert settings.max_page_size == 500
    assert settings.log_level == "DEBUG"


def test_blank_and_padded_values() -> None:
    settings = Settings.from_env(
        {
            **SERVER,
            "DATABASE_URL": f"  {SERVER['DATABASE_URL']}  ",
            "JWT_ISSUER": "   ",
            "JWT_TTL_SECONDS": "  ",
            "LOG_LEVEL": "",
            "TIERWISE_MODE": " Server ",
        }
    )
    assert settings.mode == "server"
    assert settings.database_url == SERVER["DATABASE_URL"]
    assert settings.jwt_issuer == "tierwise"
    assert settings.jwt_ttl_seconds == 3600
    assert settings.log_level == "INFO"


def test_blank_database_url_counts_as_missing() -> None:
    assert problems({**SERVER, "DATABASE_URL": "   "}) == [
        "DATABASE_URL is required (e.g. postgresql+psycopg://user@host/db)"
    ]


# ---- embedded mode -------------------------------------------------------------------------------


def test_embedded_mode_needs_nothing_else() -> None:
    settings = Settings.from_env(EMBEDDED)
    assert settings.mode == "embedded"
    assert settings.database_url == "sqlite:///var/tierwise-demo.db"
    assert settings.cache_backend == "memory"
    assert settings.redis_url == ""
    assert settings.jwt_secret == EMBEDDED_DEV_SECRET
    assert settings.api_key_pepper == EMBEDDED_DEV_SECRET
    assert len(EMBEDDED_DEV_SECRET) >= 32
    assert settings.jwt_issuer == "tierwise"
    assert settings.jwt_ttl_seconds == 3600
    assert settings.max_body_bytes == 65536
    assert (settings.default_page_size, settings.max_page_size) == (50, 200)
    assert settings.log_level == "INFO"


def test_embedded_mode_is_case_insensitive() -> None:
    assert Settings.from_env({"TIERWISE_MODE": "EMBEDDED"}).mode == "embedded"


def test_embedded_mode_takes_given_values() -> None:
    settings = Settings.from_env(
        {**EMBEDDED, "DATABASE_URL": "sqlite:////tmp/x/demo.db", "JWT_SECRET": SECRET}
    )
    assert settings.database_url == "sqlite:////tmp/x/demo.db"
    assert settings.jwt_secret == SECRET
    assert settings.api_key_pepper == EMBEDDED_DEV_SECRET


def test_embedded_mode_still_checks_explicit_values() -> None:
    assert problems(
        {
            **EMBEDDED,
            "JWT_SECRET": "short",
            "DATABASE_URL": "mysql://localhost/db",
            "JWT_TTL_SECONDS": "5",
        }
    ) == [
        "DATABASE_URL must start with postgresql+psycopg:// or sqlite:///",
        "JWT_SECRET must be set to at least 32 characters",
        "JWT_TTL_SECONDS must be between 60 and 2592000, got 5",
    ]


def test_embedded_mode_with_the_redis_cache_needs_redis_url() -> None:
    assert problems({**EMBEDDED, "CACHE_BACKEND": "redis"}) == [
        "REDIS_URL is required when CACHE_BACKEND=redis"
    ]
    settings = Settings.from_env(
        {**EMBEDDED, "CACHE_BACKEND": "redis", "REDIS_URL": "redis://127.0.0.1:6379/3"}
    )
    assert (settings.cache_backend, settings.redis_url) == ("redis", "redis://127.0.0.1:6379/3")


def test_unknown_mode_is_reported_and_server_rules_apply() -> None:
    assert problems({"TIERWISE_MODE": "dev"}) == [
        "TIERWISE_MODE must be 'server' or 'embedded', got 'dev'",
        "DATABASE_URL is required (e.g. postgresql+psycopg://user@host/db)",
        "REDIS_URL is required when CACHE_BACKEND=redis",
        "JWT_SECRET must be set to at least 32 characters",
        "API_KEY_PEPPER must be set to at least 32 characters",
        "QUOTE_SECRET must be set to at least 32 characters",
        "STRIPE_SECRET_KEY is required when PAYMENTS_BACKEND=stripe (sk_... or rk_...)",
        "STRIPE_WEBHOOK_SECRET is required (whsec_...)",
    ]


# ---- cache backend -------------------------------------------------------------------------------


def test_memory_cache_in_server_mode_needs_no_redis_url() -> None:
    env = {k: v for k, v in SERVER.items() if k != "REDIS_URL"}
    settings = Settings.from_env({**env, "CACHE_BACKEND": "memory"})
    assert settings.cache_backend == "memory"
    assert settings.redis_url == ""


def test_memory_cache_ignores_a_malformed_redis_url() -> None:
    settings = Settings.from_env({**SERVER, "CACHE_BACKEND": "Memory", "REDIS_URL": "nonsense"})
    assert settings.cache_backend == "memory"


def test_unknown_cache_backend() -> None:
    env = {k: v for k, v in SERVER.items() if k != "REDIS_URL"}
    assert problems({**env, "CACHE_BACKEND": "memcached"}) == [
        "CACHE_BACKEND must be 'redis' or 'memory', got 'memcached'"
    ]


# ---- URL schemes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://u@h:5432/db",
        "postgresql+psycopg://u:pw@h/db?sslmode=require",
        "sqlite:///relative/path.db",
        "sqlite:////absolute/path.db",
    ],
)
def test_accepted_database_urls(url: str) -> None:
    assert Settings.from_env({**SERVER, "DATABASE_URL": url}).database_url == url


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u@h/db",  # psycopg2 driver, not installed
        "postgres://u@h/db",
        "postgresql+psycopg2://u@h/db",
        "mysql://u@h/db",
        "sqlite://relative.db",
        "/var/lib/tierwise.db",
        "POSTGRESQL+PSYCOPG://u@h/db",
    ],
)
def test_rejected_database_urls(url: str) -> None:
    assert problems({**SERVER, "DATABASE_URL": url}) == [
        "DATABASE_URL must start with postgresql+psycopg:// or sqlite:///"
    ]


@pytest.mark.parametrize(
    "url", ["redis://h:6379/0", "rediss://h:6380/1", "unix:///run/redis/redis.sock"]
)
def test_accepted_redis_urls(url: str) -> None:
    assert Settings.from_env({**SERVER, "REDIS_URL": url}).redis_url == url


@pytest.mark.parametrize("url", ["http://h:6379", "h:6379", "tcp://h:6379", "memcached://h"])
def test_rejected_redis_urls(url: str) -> None:
    assert problems({**SERVER, "REDIS_URL": url}) == [
        "REDIS_URL must start with redis://, rediss:// or unix://"
    ]


# ---- integers -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("JWT_TTL_SECONDS", "1h"),
        ("JWT_TTL_SECONDS", "3600.0"),
        ("MAX_BODY_BYTES", "64k"),
        ("DEFAULT_PAGE_SIZE", "ten"),
        ("MAX_PAGE_SIZE", "0x10"),
    ],
)
def test_non_integers_are_reported(name: str, raw: str) -> None:
    assert problems({**SERVER, name: raw}) == [f"{name} must be an integer, got {raw!r}"]


@pytest.mark.parametrize(
    ("name", "value", "low", "high"),
    [
        ("JWT_TTL_SECONDS", 59, 60, 2592000),
        ("JWT_TTL_SECONDS", 2592001, 60, 2592000),
        ("MAX_BODY_BYTES", 1023, 1024, 10485760),
        ("MAX_BODY_BYTES", 10485761, 1024, 10485760),
        ("DEFAULT_PAGE_SIZE", 0, 1, 1000),
        ("DEFAULT_PAGE_SIZE", 1001, 1, 1000),
        ("MAX_PAGE_SIZE", -5, 1, 1000),
        ("MAX_PAGE_SIZE", 1001, 1, 1000),
        ("OUTBOX_RETENTION_DAYS", 0, 1, 3650),
        ("OUTBOX_RETENTION_DAYS", 3651, 1, 3650),
    ],
)
def test_out_of_range_integers_are_reported(name: str, value: int, low: int, high: int) -> None:
    assert problems({**SERVER, name: str(value)}) == [
        f"{name} must be between {low} and {high}, got {value}"
    ]


@pytest.mark.parametrize(
    ("name", "attribute", "value"),
    [
        ("JWT_TTL_SECONDS", "jwt_ttl_seconds", 60),
        ("JWT_TTL_SECONDS", "jwt_ttl_seconds", 2592000),
        ("MAX_BODY_BYTES", "max_body_bytes", 1024),
        ("MAX_BODY_BYTES", "max_body_bytes", 10485760),
        ("DEFAULT_PAGE_SIZE", "default_page_size", 1),
        ("MAX_PAGE_SIZE", "max_page_size", 1000),
        ("OUTBOX_RETENTION_DAYS", "outbox_retention_days", 1),
        ("OUTBOX_RETENTION_DAYS", "outbox_retention_days", 3650),
    ],
)
def test_range_bounds_are_inclusive(name: str, attribute: str, value: int) -> None:
    assert getattr(Settings.from_env({**SERVER, name: str(value)}), attribute) == value


def test_several_bad_values_are_reported_together_in_a_stable_order() -> None:
    assert problems(
        {
            "TIERWISE_MODE": "embedded",
            "DATABASE_URL": "postgres://x",
            "CACHE_BACKEND": "redis",
            "REDIS_URL": "http://x",
            "API_KEY_PEPPER": "short",
            "LOG_LEVEL": "verbose",
            "JWT_TTL_SECONDS": "abc",
            "MAX_BODY_BYTES": "1",
            "MAX_PAGE_SIZE": "99999",
        }
    ) == [
        "DATABASE_URL must start with postgresql+psycopg:// or sqlite:///",
        "REDIS_URL must start with redis://, rediss:// or unix://",
        "API_KEY_PEPPER must be set to at least 32 characters",
        "LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got 'VERBOSE'",
        "JWT_TTL_SECONDS must be an integer, got 'abc'",
        "MAX_BODY_BYTES must be between 1024 and 10485760, got 1",
        "MAX_PAGE_SIZE must be between 1 and 1000, got 99999",
    ]


# ---- log level, os.environ, helpers --------------------------------------------------------------


@pytest.mark.parametrize("level", ["DEBUG", "info", "Warning", "ERROR"])
def test_log_levels(level: str) -> None:
    assert Settings.from_env({**EMBEDDED, "LOG_LEVEL": level}).log_level == level.upper()


@pytest.mark.parametrize("level", ["TRACE", "CRITICAL", "warn"])
def test_unknown_log_levels(level: str) -> None:
    assert problems({**EMBEDDED, "LOG_LEVEL": level}) == [
        f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {level.upper()!r}"
    ]


def test_reads_os_environ_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ENVIRONMENT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TIERWISE_MODE", "embedded")
    monkeypatch.setenv("JWT_TTL_SECONDS", "120")
    settings = Settings.from_env()
    assert settings.mode == "embedded"
    assert settings.jwt_ttl_seconds == 120
    monkeypatch.setenv("TIERWISE_MODE", "server")
    with pytest.raises(ConfigError):
        Settings.from_env()


def test_secrets_are_not_in_the_repr() -> None:
    text = repr(Settings.from_env(SERVER))
    assert SECRET not in text
    assert PEPPER not in text
    assert "postgresql+psycopg://app@db.internal:5432/tierwise" in text


def test_settings_are_frozen_and_replace_returns_a_copy() -> None:
    settings = Settings.from_env(SERVER)
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.mode = "embedded"  # type: ignore[misc]
    changed = settings.replace(log_level="DEBUG", max_body_bytes=2048)
    assert (changed.log_level, changed.max_body_bytes) == ("DEBUG", 2048)
    assert (settings.log_level, settings.max_body_bytes) == ("INFO", 65536)
    assert changed.jwt_secret == SECRET


def test_every_variable_is_documented_in_the_operations_guide() -> None:
    guide = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
    table = guide.read_text(encoding="utf-8").split("## Configuration", 1)[1].split("\n## ", 1)[0]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    documented = {name for cell in first_cells for name in re.findall(r"`([A-Z_]+)`", cell)}
    assert documented == set(ENVIRONMENT_VARIABLES)


@pytest.mark.parametrize(
    ("host", "port", "base"),
    [
        ("127.0.0.1", 8123, "http://127.0.0.1:8123"),
        ("0.0.0.0", 9000, "http://127.0.0.1:9000"),
        ("::", 9000, "http://[::1]:9000"),
        ("localhost", 8001, "http://localhost:8001"),
    ],
)
def test_customer_urls_follow_the_served_address_unless_public_base_url_is_set(host, port, base):
    embedded = Settings.from_env({"TIERWISE_MODE": "embedded"})
    assert not embedded.public_base_url_configured
    assert embedded.served_at(host, port).public_base_url == base
    given = Settings.from_env(
        {"TIERWISE_MODE": "embedded", "PUBLIC_BASE_URL": "https://book.example.com/"}
    )
    assert given.served_at(host, port).public_base_url == "https://book.example.com"
