"""Database faults as a storefront meets them, on real PostgreSQL (issue 14):

* a pooled connection idle past ``IDLE_PING_SECONDS`` is pinged, and the ping must leave it as it
  found it (no transaction left open, or the next autocommit read fails with psycopg's "can't
  change autocommit now": a 500 after every quiet moment);
* a connection that cannot be had (server down, refusing, shutting down, pool exhausted) answers
  503 ``database_unavailable`` with ``Retry-After``, never 500;
* a restart of the server under load loses no committed booking and the service answers again
  within 5 s of the server being back.

The faults that stop a server use a private cluster (tests/support/private_servers.py), never
the machine's shared one."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import text

from app import create_app
from storage import db as storage_db
from storage.db import Database
from tests.conftest import build_tenant
from tests.integration.test_checkout_race import delete_tenant
from tests.support.private_servers import (
    PrivatePostgres,
    private_postgres,
)

DAY = dt.date.today() + dt.timedelta(days=30)
IDLE = 0.2  # the idle threshold these tests set, in seconds


def offers_url(segment_key: str, day: dt.date = DAY) -> str:
    return f"/v1/storefront/segments/{segment_key}/offers?date={day.isoformat()}&guests=2"


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


# ---- the idle ping ------------------------------------------------------------------------------


def test_requests_after_a_quiet_moment_are_served(pg_url, settings, cache, monkeypatch):
    """Every request looks its storefront key up with ``Database.read()`` (autocommit) here (no
    key cache); after real idle time past the threshold each pooled connection is pinged first."""
    monkeypatch.setattr(storage_db, "IDLE_PING_SECONDS", IDLE)
    database = Database.from_url(pg_url)
    tenant = build_tenant(database, settings, f"idle{uuid.uuid4().hex[:8]}")
    try:
        app = create_app(settings.replace(api_key_cache_seconds=0), db=database, cache=cache)
        client = app.test_client()
        quote = {"tier_id": tenant.tiers[1].id, "date": DAY.isoformat(), "guests": 2}
        for _ in range(2):
            time.sleep(IDLE * 1.5)  # the scenario itself: a quiet moment, nothing waited for
            offers = client.get(offers_url(tenant.segment.key), headers=tenant.storefront)
            assert offers.status_code == 200, offers.get_json()
            time.sleep(IDLE * 1.5)
            quoted = client.post("/v1/storefront/quotes", json=quote, headers=tenant.storefront)
            assert quoted.status_code == 201, quoted.get_json()
    finally:
        delete_tenant(database, tenant.tenant.id)
        database.dispose()


@pytest.mark.parametrize("pool", ["durable", "relaxed"])
def test_the_idle_ping_leaves_the_connection_as_it_found_it(pg_url, monkeypatch, pool):
    """Both engines: the connection handed out after the ping holds no transaction, and the
    ping did run on it (its backend's last statement is no longer ours), on the same backend (it
    was alive)."""
    monkeypatch.setattr(storage_db, "IDLE_PING_SECONDS", IDLE)
    database = Database.from_url(pg_url)
    engine = database.relaxed_engine if pool == "relaxed" else database.engine
    assert engine is not None
    try:
        with engine.connect() as connection:
            pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        time.sleep(IDLE * 1.5)  # the scenario: the connection idles past the threshold

        with engine.connect() as connection:
            driver = connection.connection.driver_connection
            status = driver.info.transaction_status
            assert driver.info.backend_pid == pid
            with psycopg.connect(_dsn(pg_url), autocommit=True) as admin:
                last = admin.execute(
                    "SELECT query FROM pg_stat_activity WHERE pid = %s", (pid,)
                ).fetchone()
        assert status == psycopg.pq.TransactionStatus.IDLE, status.name
        assert last is not None and last[0] != "SELECT pg_backend_pid()"  # the ping ran since
    finally:
        database.dispose()


def _dsn(sqlalchemy_url: str) -> str:
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)
