"""Settings read from environment variables and validated once, at start-up.

Two modes:

* ``server`` (default): PostgreSQL + Redis; every secret must be given.
* ``embedded``: a SQLite file and an in-process cache, with development secrets, so
  ``make run`` works on a fresh machine with no external services. Never for production.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

EMBEDDED_DEV_SECRET = "embedded-mode-development-secret-not-for-production"
#: RULES_CACHE_MIB: compiled rulesets a worker keeps (rules/programs.py), in MiB as estimated by
#: rules/plan.py; 1,000 tenants of a few rules take ~100 MiB, the largest valid ruleset 4.5 MiB.
DEFAULT_RULES_CACHE_MIB = 128
#: Rate limits per API key, per admin token or console user, per client address signing in.
DEFAULT_RATE_LIMIT_STOREFRONT = "60000/minute"
DEFAULT_RATE_LIMIT_ADMIN = "1200/minute"
DEFAULT_RATE_LIMIT_LOGIN = "60/minute"
#: Bounds of an admin token's lifetime, seconds: JWT_TTL_SECONDS and the CLI's --ttl alike.
JWT_TTL_MIN, JWT_TTL_MAX = 60, 30 * 24 * 3600


class ConfigError(ValueError):
    """Raised with every problem found in the environment, one per line."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("invalid configuration:\n  - " + "\n  - ".join(problems))


@dataclass(frozen=True)
class Settings:
    mode: str = "server"
    database_url: str = ""
    redis_url: str = ""
    cache_backend: str = "redis"  # redis | memory
    jwt_secret: str = field(default="", repr=False)
    jwt_issuer: str = "tierwise"
    jwt_ttl_seconds: int = 3600
    api_key_pepper: str = field(default="", repr=False)
    quote_secret: str = field(default="", repr=False)
    quote_ttl_seconds: int = 900
    api_key_cache_seconds: int = 2
    payments_backend: str = "stripe"  # stripe | local
    stripe_secret_key: str = field(default="", repr=False)
    stripe_webhook_secret: str = field(default="", repr=False)
    stripe_api_base: str = ""
    public_base_url: str = "http://127.0.0.1:8000"
    public_base_url_configured: bool = False  # PUBLIC_BASE_URL was set (else see served_at)
    hold_minutes: int = 30
    max_body_bytes: int = 65536
    default_page_size: int = 50
    max_page_size: int = 200
    log_level: str = "INFO"
    rules_engine: str = "durable"  # durable | reference
    rules_cache_mib: int = DEFAULT_RULES_CACHE_MIB
    webhook_allow_http: bool = False
    webhook_allow_private_urls: bool = False
    smtp_url: str = field(default="", repr=False)
    mail_from: str = "tierwise@localhost"
    outbox_retention_days: int = 30  # delivered events older than this are removed (tierwise sweep)
    metrics_token: str = field(default="", repr=False)
    #: flask-limiter rate strings ("60000/minute", "10/second;500/hour"), or "" for no limit.
    rate_limit_storefront: str = DEFAULT_RATE_LIMIT_STOREFRONT
    rate_limit_admin: str = DEFAULT_RATE_LIMIT_ADMIN
    rate_limit_login: str = DEFAULT_RATE_LIMIT_LOGIN
    log_format: str = "text"  # text | json
    otel_exporter_otlp_endpoint: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``env`` (default ``os.environ``); raise ConfigError listing all problems."""
        env = os.environ if env is None else env
        problems: list[str] = []
        mode = env.get("TIERWISE_MODE", "server").strip().lower()
        if mode not in ("server", "embedded"):
            problems.append(f"TIERWISE_MODE must be 'server' or 'embedded', got {mode!r}")
            mode = "server"
        embedded = mode == "embedded"

        def text(name: str, default: str) -> str:
            return env.get(name, default).strip() or default

        def integer(name: str, default: int, low: int, high: int) -> int:
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                return default
            try:
                value = int(raw)
            except ValueError:
                problems.append(f"{name} must be an integer, got {raw!r}")
                return default
            if not low <= value <= high:
                problems.append(f"{name} must be between {low} and {high}, got {value}")
                return default
            return value

        database_url = text("DATABASE_URL", "sqlite:///var/tierwise-demo.db" if embedded else "")
        if not database_url:
            problems.append("DATABASE_URL is required (e.g. postgresql+psycopg://user@host/db)")
        elif not database_url.startswith(("postgresql+psycopg://", "sqlite:///")):
            problems.append("DATABASE_URL must start with postgresql+psycopg:// or sqlite:///")

        cache_backend = text("CACHE_BACKEND", "memory" if embedded else "redis").lower()
        if cache_backend not in ("redis", "memory"):
            problems.append(f"CACHE_BACKEND must be 'redis' or 'memory', got {cache_backend!r}")
        redis_url = text("REDIS_URL", "")
        if cache_backend == "redis":
            if not redis_url:
                problems.append("REDIS_URL is required when CACHE_BACKEND=redis")
            elif not redis_url.startswith(("redis://", "rediss://", "unix://")):
                problems.append("REDIS_URL must start with redis://, rediss:// or unix://")

        secrets = {}
        for name in ("JWT_SECRET", "API_KEY_PEPPER", "QUOTE_SECRET"):
            value = env.get(name, "").strip() or (EMBEDDED_DEV_SECRET if embedded else "")
            if len(value) < 32:
                problems.append(f"{name} must be set to at least 32 characters")
            secrets[name] = value

        log_level = text("LOG_LEVEL", "INFO").upper()
        if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            problems.append(f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {log_level!r}")

        payments_backend = text("PAYMENTS_BACKEND", "local" if embedded else "stripe").lower()
        if payments_backend not in ("stripe", "local"):
            problems.append(
                f"PAYMENTS_BACKEND must be 'stripe' or 'local', got {payments_backend!r}"
            )
        stripe_secret_key = env.get("STRIPE_SECRET_KEY", "").strip()
        webhook_secret = env.get("STRIPE_WEBHOOK_SECRET", "").strip() or (
            EMBEDDED_DEV_SECRET if embedded else ""
        )
        if payments_backend == "stripe":
            if not stripe_secret_key.startswith(("sk_", "rk_")):
                problems.append(
                    "STRIPE_SECRET_KEY is required when PAYMENTS_BACKEND=stripe (sk_... or rk_...)"
                )
            if not webhook_secret:
                problems.append("STRIPE_WEBHOOK_SECRET is required (whsec_...)")
        elif len(webhook_secret) < 32:
            problems.append(
                "STRIPE_WEBHOOK_SECRET must be at least 32 characters for the local provider"
            )
        public_base_url_configured = bool(env.get("PUBLIC_BASE_URL", "").strip())
        public_base_url = text("PUBLIC_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
        if not public_base_url.startswith(("http://", "https://")):
            problems.append("PUBLIC_BASE_URL must start with http:// or https://")

        rules_engine = text("RULES_ENGINE", "durable").lower()
        if rules_engine not in ("durable", "reference"):
            problems.append(f"RULES_ENGINE must be 'durable' or 'reference', got {rules_engine!r}")

        def flag(name: str, default: bool) -> bool:
            raw = env.get(name, "").strip().lower()
            if raw == "":
                return default
            if raw not in ("true", "false", "1", "0", "yes", "no"):
                problems.append(f"{name} must be true or false, got {raw!r}")
                return default
            return raw in ("true", "1", "yes")

        smtp_url = env.get("SMTP_URL", "").strip()
        if smtp_url and not smtp_url.startswith(("smtp://", "smtps://", "starttls://")):
            problems.append("SMTP_URL must start with smtp://, smtps:// or starttls://")

        def rate_limit(name: str, default: str) -> str:
            raw = env.get(name, "").strip()
            if raw == "":
                return default
            if raw.lower() == "off":
                return ""
            if not valid_rate_limit(raw):
                problems.append(
                    f"{name} must be a rate like '600/minute' or '10/second;500/hour', "
                    f"or 'off', got {raw!r}"
                )
                return default
            return raw

        metrics_token = env.get("METRICS_TOKEN", "").strip()
        if metrics_token and len(metrics_token) < 16:
            problems.append("METRICS_TOKEN must be at least 16 characters when set")
        log_format = text("LOG_FORMAT", "text").lower()
        if log_format not in ("text", "json"):
            problems.append(f"LOG_FORMAT must be 'text' or 'json', got {log_format!r}")
        otel_endpoint = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
        if otel_endpoint and not otel_endpoint.startswith(("http://", "https://")):
            problems.append("OTEL_EXPORTER_OTLP_ENDPOINT must start with http:// or https://")

        settings = cls(
            mode=mode,
            database_url=database_url,
            redis_url=redis_url,
            cache_backend=cache_backend,
            jwt_secret=secrets["JWT_SECRET"],
            jwt_issuer=text("JWT_ISSUER", "tierwise"),
            jwt_ttl_seconds=integer("JWT_TTL_SECONDS", 3600, JWT_TTL_MIN, JWT_TTL_MAX),
            api_key_pepper=secrets["API_KEY_PEPPER"],
            quote_secret=secrets["QUOTE_SECRET"],
            quote_ttl_seconds=integer("QUOTE_TTL_SECONDS", 900, 60, 86400),
            api_key_cache_seconds=integer("API_KEY_CACHE_SECONDS", 2, 0, 60),
            max_body_bytes=integer("MAX_BODY_BYTES", 65536, 1024, 10 * 1024 * 1024),
            default_page_size=integer("DEFAULT_PAGE_SIZE", 50, 1, 1000),
            max_page_size=integer("MAX_PAGE_SIZE", 200, 1, 1000),
            log_level=log_level,
            rules_engine=rules_engine,
            rules_cache_mib=integer("RULES_CACHE_MIB", DEFAULT_RULES_CACHE_MIB, 4, 65_536),
            payments_backend=payments_backend,
            stripe_secret_key=stripe_secret_key,
            stripe_webhook_secret=webhook_secret,
            stripe_api_base=text("STRIPE_API_BASE", ""),
            public_base_url=public_base_url,
            public_base_url_configured=public_base_url_configured,
            hold_minutes=integer("HOLD_MINUTES", 30, 30, 24 * 60),
            # the embedded default delivers to receivers on this machine (http, loopback)
            webhook_allow_http=flag("WEBHOOK_ALLOW_HTTP", embedded),
            webhook_allow_private_urls=flag("WEBHOOK_ALLOW_PRIVATE_URLS", embedded),
            smtp_url=smtp_url,
            mail_from=text("MAIL_FROM", "tierwise@localhost"),
            outbox_retention_days=integer("OUTBOX_RETENTION_DAYS", 30, 1, 3650),
            metrics_token=metrics_token,
            rate_limit_storefront=rate_limit(
                "RATE_LIMIT_STOREFRONT", DEFAULT_RATE_LIMIT_STOREFRONT
            ),
            rate_limit_admin=rate_limit("RATE_LIMIT_ADMIN", DEFAULT_RATE_LIMIT_ADMIN),
            rate_limit_login=rate_limit("RATE_LIMIT_LOGIN", DEFAULT_RATE_LIMIT_LOGIN),
            log_format=log_format,
            otel_exporter_otlp_endpoint=otel_endpoint,
        )
        if settings.default_page_size > settings.max_page_size:
            problems.append("DEFAULT_PAGE_SIZE must not be above MAX_PAGE_SIZE")
        if problems:
            raise ConfigError(problems)
        return settings

    def served_at(self, host: str, port: int) -> Settings:
        """These settings for a server listening on ``host:port``: unless PUBLIC_BASE_URL was
        set, the URLs customers are sent to (checkout success and cancel pages, the local payment
        page) point at that address — a wildcard bind (0.0.0.0, ::) at this machine's loopback."""
        if self.public_base_url_configured:
            return self
        return self.replace(public_base_url=local_base_url(host, port))

    def replace(self, **changes: object) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)


#: One rate: an amount, then "/" or " per ", then an optional count and a unit (flask-limiter's
#: notation, https://limits.readthedocs.io/en/stable/quickstart.html#rate-limit-string-notation);
#: several are separated by ";" or ",".
_RATE = re.compile(
    r"\s*[1-9][0-9]{0,8}\s*(?:/|\s+per\s+)\s*(?:[1-9][0-9]{0,5}\s*)?"
    r"(?:second|minute|hour|day|month|year)s?\s*",
    re.IGNORECASE,
)


def valid_rate_limit(value: str) -> bool:
    """``value`` is one or more rates in flask-limiter's notation (validated here, without
    importing it: settings are read before anything else)."""
    return all(_RATE.fullmatch(part) for part in re.split(r"[;,]", value))


def local_base_url(host: str, port: int) -> str:
    """``http://host:port`` of a local listener, as a browser on this machine reaches it."""
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


#: Documented in README (configuration table); keep the two in step.
ENVIRONMENT_VARIABLES = (
    "TIERWISE_MODE",
    "DATABASE_URL",
    "CACHE_BACKEND",
    "REDIS_URL",
    "JWT_SECRET",
    "JWT_ISSUER",
    "JWT_TTL_SECONDS",
    "API_KEY_PEPPER",
    "QUOTE_SECRET",
    "QUOTE_TTL_SECONDS",
    "API_KEY_CACHE_SECONDS",
    "MAX_BODY_BYTES",
    "DEFAULT_PAGE_SIZE",
    "MAX_PAGE_SIZE",
    "LOG_LEVEL",
    "RULES_ENGINE",
    "RULES_CACHE_MIB",
    "PAYMENTS_BACKEND",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
    "STRIPE_API_BASE",
    "PUBLIC_BASE_URL",
    "HOLD_MINUTES",
    "WEBHOOK_ALLOW_HTTP",
    "WEBHOOK_ALLOW_PRIVATE_URLS",
    "SMTP_URL",
    "MAIL_FROM",
    "OUTBOX_RETENTION_DAYS",
    "METRICS_TOKEN",
    "RATE_LIMIT_STOREFRONT",
    "RATE_LIMIT_ADMIN",
    "RATE_LIMIT_LOGIN",
    "LOG_FORMAT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
)
