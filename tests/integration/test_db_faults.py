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
from app.auth import KEY_PREFIX
from storage import db as storage_db
from storage.db import Database
from tests.conftest import build_tenant
from tests.integration.test_checkout_race import delete_tenant
from tests.support.http import error_of
from tests.support.private_servers import (
    PrivatePostgres,
    free_port,
    private_postgres,
    wait_until,
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


# ---- a connection that cannot be had ------------------------------------------------------------


def _answer_without_database(database: Database, settings, cache):
    """A storefront request whose first need is a connection (its key lookup)."""
    client = create_app(settings, db=database, cache=cache).test_client()
    key = KEY_PREFIX + "k" * 40
    return client.get(offers_url("premium"), headers={"X-Api-Key": key})


def _assert_unavailable(answer) -> None:
    error = error_of(answer, 503, "database_unavailable")
    assert answer.headers["Retry-After"] == "1"
    assert "127.0.0.1" not in error["message"]  # no driver text leaks out


def test_a_server_refusing_connections_answers_503(settings, cache):
    database = Database.from_url(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none")
    try:
        _assert_unavailable(_answer_without_database(database, settings, cache))
    finally:
        database.dispose()


def test_a_server_shutting_down_answers_503(private_pg, settings, cache):
    """A smart shutdown waits for its last client and meanwhile refuses new connections with
    ``cannot_connect_now`` (57P03, "the database system is shutting down"), as a server starting
    up does ("... is starting up")."""
    database = Database.from_url(private_pg.url)
    try:
        with psycopg.connect(private_pg.dsn):  # the client the shutdown waits for
            private_pg.stop("smart", wait=False)
            wait_until(lambda: "shutting down" in _refusal(private_pg), 10, "a 57P03 refusal")
            _assert_unavailable(_answer_without_database(database, settings, cache))
    finally:
        database.dispose()


def _refusal(server: PrivatePostgres) -> str:
    """Why a new connection is refused ("" if it is not). libpq reports the server's refusal as
    its own failure, without the SQLSTATE: only the text tells."""
    try:
        with psycopg.connect(server.dsn, connect_timeout=2):
            return ""
    except psycopg.OperationalError as error:
        return str(error)


def test_an_exhausted_pool_answers_503(pg_url, settings, cache):
    engine = storage_db.make_engine(pg_url, pool_size=1, max_overflow=0, pool_timeout=0.1)
    database = Database(engine)
    try:
        with engine.connect():  # the pool's only connection, busy
            _assert_unavailable(_answer_without_database(database, settings, cache))
    finally:
        database.dispose()
