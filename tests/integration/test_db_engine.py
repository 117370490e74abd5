"""The engine's own behaviour on real PostgreSQL: pinging idle pooled connections only, hot
statements giving the same rows through the driver as through SQLAlchemy Core, and statements run
on the driver failing as Core's would (a lost connection: 503, then replaced)."""

from __future__ import annotations

import datetime as dt
import uuid
from concurrent.futures import ThreadPoolExecutor

import psycopg
import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DataError, IntegrityError, OperationalError

from app import create_app
from storage import db as storage_db
from storage import models as m
from storage.availability import COUNTS, day_counts
from storage.db import Database
from storage.driver import driver_cursor
from tests.support.dates import days_ahead
from tests.support.races import committed_tenant


def _backend_pid(engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())


def _browsing_pid(database: Database) -> int:
    with database.browsing() as connection:
        return int(connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one())


def _terminate(pg_url: str, pid: int) -> None:
    url = make_url(pg_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


@pytest.fixture
def one_connection_engine(pg_url):
    engine = storage_db.make_engine(pg_url, pool_size=1, max_overflow=0)
    yield engine
    engine.dispose()


def test_a_dead_idle_connection_is_pinged_and_replaced(pg_url, one_connection_engine, monkeypatch):
    monkeypatch.setattr(storage_db, "IDLE_PING_SECONDS", 0.0)  # every pooled connection is idle
    dead = _backend_pid(one_connection_engine)
    _terminate(pg_url, dead)

    fresh = _backend_pid(one_connection_engine)  # no error: the ping found it dead

    assert fresh != dead


def test_a_connection_in_steady_use_is_not_pinged(pg_url, one_connection_engine, monkeypatch):
    """The other side of the trade: within the idle window there is no round trip, so a connection
    killed meanwhile fails the one statement that meets it, and the pool replaces it after."""
    monkeypatch.setattr(storage_db, "IDLE_PING_SECONDS", 3600.0)
    dead = _backend_pid(one_connection_engine)
    _terminate(pg_url, dead)

    with pytest.raises(OperationalError) as caught:
        _backend_pid(one_connection_engine)
    assert caught.value.connection_invalidated

    assert _backend_pid(one_connection_engine) != dead


def test_the_counts_statement_gives_core_s_rows_through_the_driver(db, tenant_a):
    """COUNTS runs on the psycopg connection (compiled once); the same rows as Core executes."""
    a = tenant_a
    tenant, day = uuid.UUID(a.tenant.id), dt.date(2031, 1, 1)
    tiers = [uuid.UUID(t.id) for t in a.tiers]
    now = dt.datetime(2030, 12, 1, tzinfo=dt.UTC)
    with db.transaction() as s:
        s.execute(
            insert(m.Capacity),
            [
                {"tenant_id": tenant, "tier_id": tiers[1], "service_date": day, "units": 7},
            ],
        )
        s.execute(
            insert(m.Hold),
            [
                {
                    "tenant_id": tenant,
                    "tier_id": tiers[2],
                    "service_date": day,
                    "units": 2,
                    "expires_at": now + dt.timedelta(minutes=10),
                },
                {
                    "tenant_id": tenant,
                    "tier_id": tiers[2],
                    "service_date": day,
                    "units": 1,
                    "expires_at": now - dt.timedelta(minutes=10),
                },  # expired: not counted
            ],
        )
        params = {"tenant": tenant, "start": day, "end": day, "now": now}
        through_driver = COUNTS.rows(s, params)
        through_core = [tuple(r) for r in s.connection().execute(COUNTS.statement, params)]
        counts = day_counts(s, a.tenant.id, day, day, now)

    assert sorted(through_driver, key=repr) == sorted(through_core, key=repr)
    assert ("capacity", tiers[1], day, 7) in through_driver
    assert counts.capacity_of(a.tiers[1].id, day, 5) == 7
    assert counts.taken_of(a.tiers[2].id, day) == 2
    assert counts.blacked_out(a.tiers[0].id, day)
    assert not counts.blacked_out(a.tiers[1].id, day)
    assert counts.catalog_version >= 1


def test_a_driver_error_comes_out_as_core_s(db, tenant_a):
    """A statement run on the driver (past SQLAlchemy) raises SQLAlchemy's exception classes,
    which the API's error handlers know (here a constraint: never a bare psycopg error, a 500)."""
    statement = "INSERT INTO tenants (id) VALUES (%(id)s)"  # no slug, name, ...: NOT NULL
    with (
        pytest.raises(IntegrityError) as caught,
        db.transaction() as s,
        driver_cursor(s, statement) as cursor,
    ):
        cursor.execute(statement, {"id": uuid.UUID(tenant_a.tenant.id)})
    assert not caught.value.connection_invalidated
    assert isinstance(caught.value.orig, psycopg.errors.IntegrityError)


def test_a_connection_lost_under_the_driver_replaces_every_older_one(pg_url, monkeypatch):
    """A statement on the driver meets a killed connection: Core's OperationalError, saying the
    connection was invalidated; and the pool, told so, replaces on their next checkout the other
    connections it made before (without the idle ping: a restarted server killed them all)."""
    monkeypatch.setattr(storage_db, "IDLE_PING_SECONDS", 3600.0)
    engine = storage_db.make_engine(pg_url, pool_size=2, max_overflow=0)
    pid = text("SELECT pg_backend_pid()")
    try:
        with engine.connect() as first, engine.connect() as second:
            dead = {int(c.execute(pid).scalar_one()) for c in (first, second)}
        for backend in dead:
            _terminate(pg_url, backend)

        with (
            pytest.raises(OperationalError) as caught,
            engine.connect() as connection,
            driver_cursor(connection, "SELECT 1") as cursor,
        ):
            cursor.execute("SELECT 1")
        assert caught.value.connection_invalidated

        with engine.connect() as first, engine.connect() as second:
            fresh = {int(c.execute(pid).scalar_one()) for c in (first, second)}
        assert fresh.isdisjoint(dead)
    finally:
        engine.dispose()


def test_a_connection_lost_under_the_browsing_path_answers_503_once(
    pg_url, settings, cache, monkeypatch
):
    """Offers run their statements on the driver, on an autocommit connection of the relaxed
    engine (each thread keeps one between offers). Killed within the idle window (no ping), the
    connection fails the one request that meets it with 503 database_unavailable, is
    invalidated, and the next request gets a new one."""
    monkeypatch.setattr(storage_db, "IDLE_PING_SECONDS", 3600.0)
    database = Database.from_url(pg_url)
    with committed_tenant(database, settings, "lost") as tenant:
        app = create_app(settings, db=database, cache=cache)
        client = app.test_client()
        day = days_ahead(30)
        url = f"/v1/storefront/segments/{tenant.segment.key}/offers?date={day}&guests=2"
        assert client.get(url, headers=tenant.storefront).status_code == 200
        dead = _browsing_pid(database)  # the connection this thread's offers use
        _terminate(pg_url, dead)
        # Kept counts would answer the next offer without a statement: it reads them.
        app.extensions["tierwise"].offers.counts.forget_all()

        lost = client.get(url, headers=tenant.storefront)
        assert (lost.status_code, lost.get_json()["error"]["code"]) == (503, "database_unavailable")
        assert lost.headers["Retry-After"] == "1"

        assert client.get(url, headers=tenant.storefront).status_code == 200
        assert _browsing_pid(database) != dead


def test_a_browsing_connection_comes_back_clean_after_a_failed_statement(pg_url):
    """The relaxed engine hands connections back without a reset ROLLBACK (autocommit: there is
    no transaction to end); a statement that failed leaves nothing behind for the next user."""
    database = Database.from_url(pg_url)
    try:
        with pytest.raises(DataError), database.browsing() as connection:
            first = connection.connection.driver_connection
            connection.exec_driver_sql("SELECT 1 / 0")
        with database.browsing() as connection:
            assert connection.connection.driver_connection is first  # the same pooled one
            assert first.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
            assert connection.exec_driver_sql("SELECT 41 + 1").scalar_one() == 42
    finally:
        database.dispose()


def test_a_connection_lost_under_a_quote_answers_503_once(pg_url, settings, cache, monkeypatch):
    """The same on the durable path: a quote runs the availability statement on the driver inside
    an ORM transaction. Every connection killed: that request answers 503, and the pool, told by
    the first dead one, replaces the others too, so the next request is served."""
    monkeypatch.setattr(storage_db, "IDLE_PING_SECONDS", 3600.0)
    two = storage_db.make_engine(pg_url, pool_size=2, max_overflow=0, pool_timeout=5)
    database = Database(two)  # a quote holds two connections at once: these two
    with committed_tenant(database, settings, "lostq") as tenant:
        client = create_app(settings, db=database, cache=cache).test_client()
        day = days_ahead(30)
        body = {"tier_id": tenant.tiers[1].id, "date": day, "guests": 2}
        ask = lambda: client.post("/v1/storefront/quotes", json=body, headers=tenant.storefront)  # noqa: E731
        assert ask().status_code == 201
        with two.connect() as first, two.connect() as second:
            dead = {
                int(c.execute(text("SELECT pg_backend_pid()")).scalar_one())
                for c in (first, second)
            }
        for pid in dead:  # a database restart, as far as this pool can tell
            _terminate(pg_url, pid)

        lost = ask()
        assert (lost.status_code, lost.get_json()["error"]["code"]) == (503, "database_unavailable")
        assert ask().status_code == 201
        assert _backend_pid(two) not in dead


def test_a_thread_keeps_its_browsing_connection_between_offers(pg_url):
    """No checkout per offer: a thread's browsing connection is the same one each time, another
    thread's is its own."""
    database = Database.from_url(pg_url)
    try:
        mine = _browsing_pid(database)
        assert _browsing_pid(database) == mine
        with ThreadPoolExecutor(1) as other:
            theirs = other.submit(_browsing_pid, database).result()
        assert theirs != mine
    finally:
        database.dispose()


def test_a_kept_browsing_connection_idle_past_the_window_is_pinged_and_replaced_if_dead(
    pg_url, monkeypatch
):
    monkeypatch.setattr(storage_db, "IDLE_PING_SECONDS", 0.0)  # always idle: always pinged
    database = Database.from_url(pg_url)
    try:
        dead = _browsing_pid(database)
        _terminate(pg_url, dead)
        assert _browsing_pid(database) != dead  # no error: the ping found it dead
    finally:
        database.dispose()


def test_a_connection_lost_by_one_thread_lets_every_thread_s_kept_one_go(pg_url, monkeypatch):
    """A restarted server killed them all: after the one statement that meets a dead connection,
    another thread's kept connection (made before) is let go too, not failed on its next use."""
    monkeypatch.setattr(storage_db, "IDLE_PING_SECONDS", 3600.0)  # no idle ping to save it
    database = Database.from_url(pg_url)
    try:
        with ThreadPoolExecutor(1) as other:
            mine, theirs = _browsing_pid(database), other.submit(_browsing_pid, database).result()
            for pid in (mine, theirs):
                _terminate(pg_url, pid)
            with pytest.raises(OperationalError) as caught:
                _browsing_pid(database)
            assert caught.value.connection_invalidated
            assert other.submit(_browsing_pid, database).result() != theirs  # no error
            assert _browsing_pid(database) != mine
    finally:
        database.dispose()


def test_a_refused_request_keeps_its_browsing_connection(pg_url):
    """An error of the request's own (a 404, a 422) leaves the connection as it was: kept."""
    database = Database.from_url(pg_url)
    try:
        mine = _browsing_pid(database)
        with pytest.raises(LookupError), database.browsing():
            raise LookupError("no such segment")
        assert _browsing_pid(database) == mine
    finally:
        database.dispose()
