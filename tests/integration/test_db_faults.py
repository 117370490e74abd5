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

import collections
import contextlib
import datetime as dt
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from sqlalchemy import select, text

from app import create_app
from app.adapters.credentials import KEY_PREFIX
from app.adapters.payments import LocalPayments
from storage import db as storage_db
from storage import models as m
from storage.db import Database, migrate
from tests.conftest import WEBHOOK_SECRET, build_tenant
from tests.support.http import error_of
from tests.support.private_servers import PrivatePostgres, free_port, private_postgres
from tests.support.races import committed_tenant
from tests.support.timing import eventually

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
    with committed_tenant(database, settings, "idle") as tenant:
        app = create_app(settings.replace(api_key_cache_seconds=0), db=database, cache=cache)
        client = app.test_client()
        quote = {"tier_id": tenant.tiers[1].id, "date": DAY.isoformat(), "guests": 2}
        for _ in range(2):
            time.sleep(IDLE * 1.5)  # the scenario itself: a quiet moment, nothing waited for
            offers = client.get(offers_url(tenant.segment.key), headers=tenant.storefront)
            assert offers.status_code == 200, offers.get_json()
            time.sleep(IDLE * 1.5)  # (the scenario: another quiet moment)
            quoted = client.post("/v1/storefront/quotes", json=quote, headers=tenant.storefront)
            assert quoted.status_code == 201, quoted.get_json()


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
            eventually(lambda: "shutting down" in _refusal(private_pg), 10, "a 57P03 refusal")
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


# ---- a restart under load -----------------------------------------------------------------------

THREADS = 6
RECOVERY_SECONDS = 5.0


@dataclass
class Answer:
    kind: str  # "quote" or "checkout"
    status: int
    started: float
    ended: float
    retry_after: str | None
    booking_id: str | None


@dataclass
class Shop:
    database: Database
    client_factory: Callable[[], Any]
    storefront: dict[str, str]
    tier_id: str
    tenant_id: str


@pytest.fixture
def shop(private_pg, settings, cache) -> Iterator[Shop]:
    """A migrated private cluster with a committed tenant selling on local payments, with room
    for every checkout the load makes (a day per thread: no lock waits between threads)."""
    migrate(private_pg.url)
    database = Database.from_url(private_pg.url)
    try:
        tenant = build_tenant(database, settings, f"restart{uuid.uuid4().hex[:8]}")
        payments = LocalPayments(WEBHOOK_SECRET, settings.public_base_url)
        app = create_app(
            settings.replace(payments_backend="local"), db=database, cache=cache, payments=payments
        )
        admin = app.test_client()
        for offset in range(THREADS):
            day = (DAY + dt.timedelta(days=offset)).isoformat()
            room = admin.put(
                f"/v1/admin/tiers/{tenant.tiers[1].id}/capacity",
                headers=tenant.admin,
                json={"from": day, "units": 10_000},
            )
            assert room.status_code == 200, room.get_json()
        yield Shop(
            database, app.test_client, tenant.storefront, tenant.tiers[1].id, tenant.tenant.id
        )
    finally:
        database.dispose()


def _shopper(shop: Shop, day: dt.date, answers: list[Answer], stop: threading.Event) -> None:
    """Quote, then check out with a new Idempotency-Key, until ``stop``; every answer recorded."""
    client = shop.client_factory()
    quote_body = {"tier_id": shop.tier_id, "date": day.isoformat(), "guests": 2}
    customer = {"email": "load@example.com", "name": "Load"}
    while not stop.is_set():
        started = time.monotonic()
        quoted = client.post("/v1/storefront/quotes", json=quote_body, headers=shop.storefront)
        answers.append(_answer("quote", quoted, started))
        if quoted.status_code != 201:
            continue
        started = time.monotonic()
        checkout = client.post(
            "/v1/storefront/checkouts",
            json={"quote_token": quoted.get_json()["token"], "customer": customer},
            headers={**shop.storefront, "Idempotency-Key": uuid.uuid4().hex},
        )
        answers.append(_answer("checkout", checkout, started))


def _answer(kind: str, response, started: float) -> Answer:
    body = response.get_json() or {}
    booking = body.get("booking_id") if response.status_code == 201 else None
    retry_after = response.headers.get("Retry-After")
    return Answer(kind, response.status_code, started, time.monotonic(), retry_after, booking)


def _bookings(lists: list[list[Answer]]) -> int:
    """Checkouts answered 201 so far (the lists grow while the shoppers run)."""
    return sum(a.kind == "checkout" and a.status == 201 for answers in lists for a in list(answers))


def _served_since(answers: list[Answer], since: float) -> float | None:
    """When the first request started at or after ``since`` was answered 2xx, if one was."""
    return next((a.ended for a in list(answers) if a.started >= since and a.status < 300), None)


def test_a_restart_under_load_loses_no_booking_and_recovers(shop, private_pg):
    """Shoppers quote and check out in threads while the server restarts (fast: every session
    ended). Only 2xx, or 503 with Retry-After; every 201 checkout's booking is stored; every
    shopper is served again within RECOVERY_SECONDS of the server accepting connections."""
    stop = threading.Event()
    lists: list[list[Answer]] = [[] for _ in range(THREADS)]
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        shoppers = [
            pool.submit(_shopper, shop, DAY + dt.timedelta(days=n), lists[n], stop)
            for n in range(THREADS)
        ]
        try:
            eventually(lambda: _bookings(lists) >= 2 * THREADS, 30, "checkouts before the restart")
            down_at = time.monotonic()
            private_pg.restart("fast")  # returns once the server accepts connections again
            back_at = time.monotonic()
            with contextlib.suppress(AssertionError):  # a shopper not back in time: asserted below
                eventually(
                    lambda: all(_served_since(answers, back_at) for answers in lists),
                    RECOVERY_SECONDS,
                    "every shopper to be served again",
                )
        finally:
            stop.set()
        for shopper in shoppers:
            shopper.result(timeout=30)  # a shopper's own crash fails the test here
    answers = [a for answers in lists for a in answers]

    statuses = collections.Counter((a.kind, a.status) for a in answers)
    assert {status for _, status in statuses} <= {200, 201, 503}, statuses
    outage = [a for a in answers if a.status == 503]
    assert outage, f"the restart met no request: {statuses}"  # else this tested nothing
    assert all(a.retry_after and a.ended >= down_at for a in outage), statuses

    created = {a.booking_id for a in answers if a.kind == "checkout" and a.status == 201}
    with shop.database.read() as session:
        tenant = uuid.UUID(shop.tenant_id)
        stored = {
            str(i)
            for i in session.scalars(select(m.Booking.id).where(m.Booking.tenant_id == tenant))
        }
    assert created, statuses
    assert created <= stored, f"lost committed bookings: {sorted(created - stored)}"

    back = [_served_since(answers, back_at) for answers in lists]
    assert all(t is not None and t - back_at < RECOVERY_SECONDS for t in back), (
        [t and round(t - back_at, 2) for t in back],
        statuses,
    )
