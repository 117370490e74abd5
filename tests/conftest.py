"""Shared fixtures: a real PostgreSQL database built from the migrations once per run, each test
inside a rolled-back outer transaction, and a real Redis (database 15, flushed per test)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy.orm import sessionmaker

from app import create_app
from app.adapters.cache import RedisCache
from app.adapters.credentials import issue_token
from app.adapters.payments import StripePayments
from app.services import catalog, tenants
from config import Settings
from pricing import catalog as domain
from rules.engine import Program
from storage.db import Database, make_engine, migrate
from tests.support.databases import TEST_DATABASE_URL, TEST_REDIS_URL, recreate_database

# `fake_stripe`: a local Stripe validating requests against Stripe's schemas; pytester: plugin tests
pytest_plugins = ["tests.support.fake_stripe", "tests.support.stress", "pytester"]

#: a Redis nothing listens on (port 1): a cache that is down
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
SECRET = "test-secret-" + "x" * 40
WEBHOOK_SECRET = "whsec_test_" + "w" * 32
PEPPER = "test-pepper-" + "y" * 40


@pytest.fixture(scope="session")
def pg_url() -> str:
    recreate_database(TEST_DATABASE_URL)
    migrate(TEST_DATABASE_URL)
    return TEST_DATABASE_URL


@pytest.fixture(scope="session")
def engine(pg_url):
    engine = make_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def db(engine):
    """A Database whose every transaction is a savepoint inside one outer transaction that is
    rolled back after the test, so tests never see each other's rows."""
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(
        bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
    )
    yield Database(engine, factory)
    outer.rollback()
    connection.close()


@pytest.fixture
def cache():
    cache = RedisCache(TEST_REDIS_URL)
    cache._client.flushdb()
    yield cache
    cache._client.flushdb()
    cache._client.close()


@pytest.fixture
def settings(pg_url) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": pg_url,
            "REDIS_URL": TEST_REDIS_URL,
            "JWT_SECRET": SECRET,
            "API_KEY_PEPPER": PEPPER,
            "QUOTE_SECRET": "test-quote-secret-" + "q" * 40,
            "STRIPE_SECRET_KEY": "sk_test_tierwise",
            "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
            "LOG_LEVEL": "WARNING",
        }
    )


@pytest.fixture
def app(settings, db, cache):
    return create_app(settings, db=db, cache=cache)


@pytest.fixture
def client(app):
    return app.test_client()


# ---- a tenant with credentials and a catalog --------------------------------------------------


@dataclass
class TenantFixture:
    tenant: domain.Tenant
    api_key: str
    admin_token: str
    analyst_token: str
    segment: domain.Segment
    tiers: list[domain.Tier]
    add_on: domain.AddOn
    blackout: dict

    @property
    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_token}"}

    @property
    def analyst(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.analyst_token}"}

    @property
    def storefront(self) -> dict[str, str]:
        return {"X-Api-Key": self.api_key}


def token_for(settings: Settings, role: str, tenant_id: str | None, **kw) -> str:
    return issue_token(
        settings,
        role=role,
        subject=f"test-{role}",
        tenant_id=tenant_id,
        now=kw.pop("now", dt.datetime.now(dt.UTC)),
        **kw,
    )


def build_tenant(
    db: Database, settings: Settings, slug: str, currency: str = "EUR"
) -> TenantFixture:
    tenant = tenants.create_tenant(
        db,
        {
            "slug": slug,
            "name": slug.title(),
            "currency": currency,
            "time_zone": "Europe/Berlin",
            "default_capacity": 5,
        },
    )
    segment = catalog.create_segment(
        db, tenant, {"key": f"{slug}-premium", "name": "Premium", "position": 1}
    )
    tiers = [
        catalog.create_tier(
            db,
            tenant,
            {
                "segment_id": segment.id,
                "level": level,
                "name": domain.TIER_LEVEL_NAMES[level],
                "base_price": {"amount": 10000 * level, "currency": currency},
                "per_guest_price": {"amount": 1000, "currency": currency},
                "max_guests": 6,
                "features": [{"key": "lunch", "label": "Lunch", "value": level > 1}],
                "popular": level == 2,
            },
        )
        for level in (1, 2, 3)
    ]
    add_on = catalog.create_add_on(
        db,
        tenant,
        {
            "key": "breakfast",
            "name": "Breakfast",
            "pricing": "per_guest",
            "price": {"amount": 900, "currency": currency},
            "tier_ids": [tiers[2].id],
        },
    )
    day = dt.date(2031, 1, 1)
    blackout = catalog.add_blackouts(db, tenant, day, day, tiers[0].id, "closed")[0]
    key = tenants.create_api_key(db, settings.api_key_pepper, tenant, "test")["key"]
    return TenantFixture(
        tenant=tenant,
        api_key=key,
        admin_token=token_for(settings, "tenant_admin", tenant.id),
        analyst_token=token_for(settings, "analyst", tenant.id),
        segment=segment,
        tiers=tiers,
        add_on=add_on,
        blackout=blackout,
    )


@pytest.fixture
def tenant_a(db, settings) -> TenantFixture:
    return build_tenant(db, settings, f"a{uuid.uuid4().hex[:8]}")


@pytest.fixture
def tenant_b(db, settings) -> TenantFixture:
    return build_tenant(db, settings, f"b{uuid.uuid4().hex[:8]}")


@pytest.fixture
def platform_headers(settings) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(settings, 'platform_admin', None)}"}


@pytest.fixture
def stripe_app(settings, db, cache, fake_stripe):
    """An app whose payments go to the fake Stripe; no tenant onboarded yet."""
    payments = StripePayments(
        settings.stripe_secret_key, WEBHOOK_SECRET, fake_stripe.url, timeout_seconds=2
    )
    return create_app(settings, db=db, cache=cache, payments=payments)


@pytest.fixture
def stripe_client(stripe_app, tenant_a, platform_headers):
    """The fake-Stripe app's test client, with tenant A onboarded."""
    from tests.support.storefront import onboard  # (it imports this module)

    client = stripe_app.test_client()
    assert onboard(client, tenant_a, platform_headers)["account_id"].startswith("acct_")
    return client


# ---- compiled rules programs ------------------------------------------------------------------


@pytest.fixture
def programs() -> Iterator[list[Program]]:
    """Programs a test compiles on durable-rules: closed after it (the engine's memory back)."""
    made: list[Program] = []
    yield made
    for program in made:
        program.close()
