"""Browsed offers' kept availability counts (storage/availability_cache.py) on PostgreSQL: equal
to a fresh read, and forgotten when a write anywhere is announced (the triggers of migration
0023), when this process commits, when a counted hold expires, past their age, and while the
announcements can't be heard. The offer through the app with kept counts, against the plain
path: tests/api/test_offers_kept_counts.py."""

from __future__ import annotations

import datetime as dt
import select
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager

import psycopg
import pytest

from pricing.errors import NotFound
from storage import availability_cache
from storage.availability import counts_until, day_counts
from storage.availability_cache import CountsCache
from storage.db import Database
from storage.tenants import catalog_version
from tests.conftest import TenantFixture
from tests.support.races import committed_tenant

DAY = dt.date(2031, 5, 10)
START, END = DAY - dt.timedelta(days=3), DAY + dt.timedelta(days=3)
NOW = dt.datetime(2031, 5, 1, 12, tzinfo=dt.UTC)


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def database(pg_url: str) -> Database:
    return Database.from_url(pg_url)


@pytest.fixture
def shop(database: Database, settings) -> Iterator[TenantFixture]:
    with committed_tenant(database, settings, "counts") as tenant:
        yield tenant


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def kept(database: Database, clock: Clock) -> Iterator[CountsCache]:
    cache = CountsCache(database, max_age=60.0, clock=clock)
    yield cache
    cache.close()


def plain_url(pg_url: str) -> str:
    return pg_url.replace("postgresql+psycopg://", "postgresql://")


def read(cache: CountsCache, database: Database, tenant_id: str, now: dt.datetime = NOW):
    with database.browsing() as session:
        return cache.counts(session, tenant_id, START, END, now)


def fresh(database: Database, tenant_id: str, now: dt.datetime = NOW):
    with database.browsing() as session:
        return day_counts(session, tenant_id, START, END, now)


def write_elsewhere(pg_url: str, sql: str, *params: object) -> None:
    """Commit ``sql`` on a connection of its own, as another process would."""
    with psycopg.connect(plain_url(pg_url), autocommit=True) as conn:
        conn.execute(sql, params)


def announced(cache: CountsCache) -> None:
    """Wait (5 s at most) until the listening connection's socket has something to read."""
    listener = cache._listener
    assert listener is not None
    ready, _, _ = select.select([listener.pgconn.socket], [], [], 5.0)
    assert ready, "no announcement arrived"


def write_first_tier(pg_url: str, tenant: TenantFixture, sql: str, value: object) -> None:
    """``sql`` with the tenant, its first tier, DAY and ``value``, committed elsewhere."""
    write_elsewhere(
        pg_url, sql, uuid.UUID(tenant.tenant.id), uuid.UUID(tenant.tiers[0].id), DAY, value
    )


def set_capacity(pg_url: str, tenant: TenantFixture, units: int) -> None:
    write_first_tier(
        pg_url,
        tenant,
        "INSERT INTO capacity (tenant_id, tier_id, service_date, units, updated_at)"
        " VALUES (%s, %s, %s, %s, now()) ON CONFLICT (tenant_id, tier_id, service_date)"
        " DO UPDATE SET units = excluded.units",
        units,
    )


def add_hold(pg_url: str, tenant: TenantFixture, expires: dt.datetime) -> None:
    """An active hold of 2 units of the first tier on DAY, committed elsewhere."""
    write_first_tier(
        pg_url,
        tenant,
        "INSERT INTO holds (tenant_id, id, tier_id, service_date, units, status, expires_at,"
        " created_at) VALUES (%s, gen_random_uuid(), %s, %s, 2, 'active', %s, now())",
        expires,
    )


@contextmanager
def calls_of(monkeypatch: pytest.MonkeyPatch, name: str) -> Iterator[list[int]]:
    """Count the calls the cache makes to its module's ``name`` (each still made)."""
    calls: list[int] = []
    real = getattr(availability_cache, name)

    def counting(*args: object) -> object:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(availability_cache, name, counting)
    yield calls


def reads_counted(monkeypatch: pytest.MonkeyPatch) -> AbstractContextManager[list[int]]:
    return calls_of(monkeypatch, "counts_until")


def versions_counted(monkeypatch: pytest.MonkeyPatch) -> AbstractContextManager[list[int]]:
    return calls_of(monkeypatch, "catalog_version")


def test_kept_counts_equal_a_fresh_read_and_are_used_again(
    kept, database, shop, pg_url, monkeypatch
):
    set_capacity(pg_url, shop, 7)
    with reads_counted(monkeypatch) as calls:
        first = read(kept, database, shop.tenant.id)
        again = read(kept, database, shop.tenant.id)
    assert first == fresh(database, shop.tenant.id)
    assert first.capacity[(shop.tiers[0].id, DAY)] == 7
    assert again is first
    assert len(calls) == 1


def test_a_write_committed_elsewhere_is_seen_once_announced(kept, database, shop, pg_url):
    set_capacity(pg_url, shop, 7)
    read(kept, database, shop.tenant.id)
    set_capacity(pg_url, shop, 3)
    announced(kept)
    after = read(kept, database, shop.tenant.id)
    assert after.capacity[(shop.tiers[0].id, DAY)] == 3
    assert after == fresh(database, shop.tenant.id)


@pytest.mark.parametrize("table", ["holds", "bookings", "blackouts", "tenants"])
def test_every_table_the_counts_read_announces_its_writes(
    kept, database, shop, pg_url, monkeypatch, table
):
    tenant, tier = uuid.UUID(shop.tenant.id), uuid.UUID(shop.tiers[0].id)
    writes = {
        "holds": lambda: add_hold(pg_url, shop, NOW + dt.timedelta(hours=1)),
        "bookings": lambda: write_elsewhere(
            pg_url, "UPDATE bookings SET status = status WHERE tenant_id = %s", tenant
        ),
        "blackouts": lambda: write_elsewhere(
            pg_url,
            "INSERT INTO blackouts (tenant_id, id, tier_id, service_date, reason, created_at)"
            " VALUES (%s, gen_random_uuid(), %s, %s, 'closed', now())",
            tenant,
            tier,
            DAY,
        ),
        "tenants": lambda: bump_catalog_elsewhere(pg_url, shop),
    }
    if table == "bookings":  # a booking to update: one paid booking, inserted elsewhere
        write_paid_booking(pg_url, shop)
    read(kept, database, shop.tenant.id)
    with reads_counted(monkeypatch) as calls:
        writes[table]()
        announced(kept)
        after = read(kept, database, shop.tenant.id)
    assert calls == [1]
    assert after == fresh(database, shop.tenant.id)


def write_paid_booking(pg_url: str, shop: TenantFixture) -> None:
    write_elsewhere(
        pg_url,
        "INSERT INTO bookings (tenant_id, id, segment_id, tier_id, service_date, guests,"
        " add_on_ids, currency, total_minor, platform_fee_minor, status, quote_id,"
        " ruleset_version, kind, version, created_at, updated_at)"
        " VALUES (%s, gen_random_uuid(), %s, %s, %s, 2, '[]', 'EUR', 100, 10, 'paid', '', 1,"
        " 'booking', 1, now(), now())",
        uuid.UUID(shop.tenant.id),
        uuid.UUID(shop.segment.id),
        uuid.UUID(shop.tiers[0].id),
        DAY,
    )


def test_a_write_rolled_back_announces_nothing(kept, database, shop, pg_url, monkeypatch):
    read(kept, database, shop.tenant.id)
    with psycopg.connect(plain_url(pg_url)) as conn:
        conn.execute(
            "UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = %s",
            (uuid.UUID(shop.tenant.id),),
        )
        conn.rollback()
    set_capacity(pg_url, shop, 5)  # committed after the rollback: its announcement comes last
    announced(kept)
    with reads_counted(monkeypatch) as calls:
        read(kept, database, shop.tenant.id)  # the capacity's announcement: read again
        read(kept, database, shop.tenant.id)  # nothing announced since: kept
    assert calls == [1]


def test_another_tenants_write_keeps_the_counts(kept, database, shop, pg_url, settings):
    first = read(kept, database, shop.tenant.id)
    with committed_tenant(Database.from_url(pg_url), settings, "other") as other:
        set_capacity(pg_url, other, 9)
        announced(kept)
        assert read(kept, database, shop.tenant.id) is first
        assert read(kept, database, other.tenant.id) == fresh(database, other.tenant.id)


def test_a_commit_of_this_process_forgets_at_once(kept, database, shop, monkeypatch):
    read(kept, database, shop.tenant.id)
    with database.transaction():
        pass
    with reads_counted(monkeypatch) as calls:
        read(kept, database, shop.tenant.id)
    assert calls == [1]


def test_counts_are_read_again_when_a_counted_hold_expires(kept, database, shop, pg_url):
    expires = NOW + dt.timedelta(minutes=15)
    add_hold(pg_url, shop, expires)
    key = (shop.tiers[0].id, DAY)
    assert read(kept, database, shop.tenant.id).taken[key] == 2
    assert counts_until_of(database, shop.tenant.id, NOW)[1] == expires
    just_before = expires - dt.timedelta(microseconds=1)
    assert read(kept, database, shop.tenant.id, just_before).taken[key] == 2
    assert key not in read(kept, database, shop.tenant.id, expires).taken
    assert read(kept, database, shop.tenant.id, expires) == fresh(database, shop.tenant.id, expires)


def counts_until_of(database: Database, tenant_id: str, now: dt.datetime):
    with database.browsing() as session:
        return counts_until(session, tenant_id, START, END, now)


def test_counts_serve_no_earlier_moment_and_no_older_than_their_age(
    kept, database, shop, clock, monkeypatch
):
    read(kept, database, shop.tenant.id)
    with reads_counted(monkeypatch) as calls:
        read(kept, database, shop.tenant.id, NOW - dt.timedelta(seconds=1))  # before the read
        clock.t += 59.0
        read(kept, database, shop.tenant.id)  # kept (the earlier moment's read kept anew)
        clock.t += 61.0
        read(kept, database, shop.tenant.id)  # past max_age
    assert calls == [1, 1]


def test_an_announcement_during_the_read_keeps_nothing(kept, database, shop, monkeypatch):
    def announced_meanwhile(*args: object) -> object:
        kept.forget(shop.tenant.id)  # as _heard does for an announcement that just arrived
        return counts_until(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(availability_cache, "counts_until", announced_meanwhile)
    read(kept, database, shop.tenant.id)
    with reads_counted(monkeypatch) as calls:
        read(kept, database, shop.tenant.id)
    assert calls == [1]


def test_without_the_announcements_every_offer_reads(
    kept, database, shop, pg_url, clock, monkeypatch
):
    read(kept, database, shop.tenant.id)
    listener = kept._listener
    assert listener is not None
    write_elsewhere(
        pg_url,
        "SELECT pg_terminate_backend(%s)",
        listener.info.backend_pid,
    )
    deadline = time.monotonic() + 5.0
    while kept._heard():  # the server's goodbye, then the end of the connection: lost
        assert time.monotonic() < deadline, "the lost connection was never noticed"
        select.select([listener.pgconn.socket], [], [], 0.5)
    assert kept._listener is None
    with reads_counted(monkeypatch) as calls:
        read(kept, database, shop.tenant.id)  # not listening yet (retried after RETRY)
        read(kept, database, shop.tenant.id)
        clock.t += availability_cache.RETRY
        read(kept, database, shop.tenant.id)  # listening again: read and kept
        read(kept, database, shop.tenant.id)
    assert calls == [1, 1, 1]
    assert kept._listener is not None


def test_a_shared_test_connection_keeps_nothing(db, pg_url):
    assert not CountsCache(db).enabled
    assert CountsCache(Database.from_url(pg_url)).enabled


def test_disposing_of_the_database_closes_the_listening_connection(pg_url, database, shop):
    cache = CountsCache(database)
    read(cache, database, shop.tenant.id)
    listener = cache._listener
    assert listener is not None and not listener.closed
    database.dispose()
    assert listener.closed and cache._listener is None


def bump_catalog_elsewhere(pg_url: str, shop: TenantFixture) -> None:
    write_elsewhere(
        pg_url,
        "UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = %s",
        uuid.UUID(shop.tenant.id),
    )


def fresh_version(database: Database, tenant_id: str) -> int:
    with database.browsing() as session:
        return catalog_version(session, tenant_id)


def test_a_kept_catalog_version_is_the_current_one_until_a_bump_is_announced(
    kept, database, shop, pg_url, monkeypatch
):
    with versions_counted(monkeypatch) as calls:
        first = kept.catalog_version(shop.tenant.id)
        assert (
            kept.catalog_version(shop.tenant.id) == first == fresh_version(database, shop.tenant.id)
        )
        assert calls == [1]
        bump_catalog_elsewhere(pg_url, shop)
        announced(kept)
        assert kept.catalog_version(shop.tenant.id) == first + 1
        assert calls == [1, 1]


def test_a_kept_catalog_version_is_forgotten_by_a_commit_and_by_its_age(
    kept, database, shop, clock, monkeypatch
):
    with versions_counted(monkeypatch) as calls:
        kept.catalog_version(shop.tenant.id)
        with database.transaction():
            pass
        kept.catalog_version(shop.tenant.id)  # this process committed: read again
        clock.t += 61.0
        kept.catalog_version(shop.tenant.id)  # past max_age: read again
        kept.catalog_version(shop.tenant.id)
    assert calls == [1, 1, 1]


def test_a_catalog_version_is_read_every_time_without_the_announcements(db, shop, monkeypatch):
    plain = CountsCache(db)  # a test's shared connection: nothing kept
    with versions_counted(monkeypatch) as calls:
        plain.catalog_version(shop.tenant.id)
        plain.catalog_version(shop.tenant.id)
    assert calls == [1, 1]


def test_a_missing_tenants_catalog_version_is_not_found(kept):
    with pytest.raises(NotFound):
        kept.catalog_version(str(uuid.uuid4()))
