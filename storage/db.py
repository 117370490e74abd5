"""Engine, sessions and the one-transaction-per-use-case helper."""

from __future__ import annotations

import datetime as dt
import json
import os
import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg.abc import Loader
from psycopg.types.datetime import TimestamptzLoader
from sqlalchemy import Connection, CursorResult, Engine, Result, create_engine, event, exc, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import Pool

from storage import change_log  # noqa: F401  (registers the change log on every Session)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands back naive datetimes; everything we store is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def insert_new(
    session: Executor,
    model: Any,
    rows: dict[str, Any] | list[dict[str, Any]],
    key: list[str],
    where: str | None = None,
) -> int:
    """INSERT rows, skipping those whose ``key`` columns already exist (ON CONFLICT DO NOTHING,
    PostgreSQL or SQLite; ``where``: the condition of a partial unique index on ``key``); the
    number inserted."""
    dialect = postgresql if on_postgresql(session) else sqlite
    statement = (
        dialect.insert(model)
        .values(rows)
        .on_conflict_do_nothing(
            index_elements=key, index_where=text(where) if where is not None else None
        )
        # SQLAlchemy only promises rowcount for UPDATE/DELETE; for this INSERT it answers -1.
        .execution_options(preserve_rowcount=True)
    )
    return rows_written(session.execute(statement))


def rows_written(result: Result[Any]) -> int:
    """How many rows an INSERT, UPDATE or DELETE wrote (with ``preserve_rowcount`` for an INSERT):
    its cursor's rowcount. A session types every result as a ``Result``; a statement's is a
    ``CursorResult``."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount or 0)


def json_default(value: Any) -> str:
    """JSON columns store Decimals as decimal strings and dates as ISO strings."""
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def json_dumps(value: Any) -> str:
    return json.dumps(value, default=json_default, separators=(",", ":"))


#: What storage functions run statements on: an ORM session (a use case's transaction) or, on
#: the browsing path (``Database.browsing``), a Core connection.
Executor = Session | Connection


def on_postgresql(executor: Executor) -> bool:
    bind = executor if isinstance(executor, Connection) else executor.get_bind()
    return bool(bind.dialect.name == "postgresql")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets foreign keys on and a parent folder created."""
    kwargs.setdefault("json_serializer", json_dumps)
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=5000")
            cursor.close()

        return engine
    if "poolclass" not in kwargs:
        kwargs.setdefault("pool_size", 10)
    engine = create_engine(url, **kwargs)
    _ping_when_idle(engine)

    @event.listens_for(engine, "connect")
    def _read_every_instant(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.adapters.register_loader("timestamptz", ClampedTimestamptzLoader)

    return engine


def _psycopg_loader(oid: int) -> type[Loader]:
    loader = psycopg.adapters.get_loader(oid, psycopg.pq.Format.TEXT)
    assert loader is not None, oid
    return loader


#: psycopg's own loader of ``timestamptz`` (OID 1184) text: its C one where psycopg has it.
_PSYCOPG_TIMESTAMPTZ = _psycopg_loader(1184)


class ClampedTimestamptzLoader(TimestamptzLoader):
    """Reads every ``timestamptz`` PostgreSQL holds, so that no stored instant can make a read
    fail: one beyond what Python represents (after 9999-12-31, such as an activation an earlier
    release stored for ``9999-12-31T23:59:59-14:00``: year 10000 in UTC, or ``infinity``) reads as
    ``datetime.max`` in UTC, one before year 1 (or ``-infinity``) as ``datetime.min``. Every
    other value goes through psycopg's own (C) loader."""

    def __init__(self, oid: int, context: Any = None) -> None:
        super().__init__(oid, context)
        self._loader = _PSYCOPG_TIMESTAMPTZ(oid, context)

    def load(self, data: Any) -> dt.datetime:
        try:
            value: dt.datetime = self._loader.load(data)
            return value
        except psycopg.DataError:
            text = bytes(data)
            early = text.startswith(b"-") or text.endswith(b" BC")
            return (dt.datetime.min if early else dt.datetime.max).replace(tzinfo=dt.UTC)


#: A pooled connection unused for longer than this is pinged before it is handed out.
IDLE_PING_SECONDS = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """Pessimistic disconnect handling, paid only where it helps: a connection idle for longer
    than ``IDLE_PING_SECONDS`` (server restarted, idle connection dropped by a proxy) is pinged on
    checkout, and replaced if dead (SQLAlchemy retries the checkout on ``DisconnectionError``).
    ``pool_pre_ping`` would ping on every checkout: a round trip on every request. After a lost
    connection seen past Core (``replace_pool_after``), the next checkout replaces every
    connection the pool made before (``InvalidatePoolError``).

    The ping is the dialect's own (the one ``pool_pre_ping`` runs), which leaves the connection
    as it found it: on psycopg it switches to autocommit (no round trip), runs an empty statement
    and switches back. A bare ``SELECT 1`` out of autocommit would open a transaction, and the
    next ``Database.read()`` (which switches the connection to autocommit) would fail with
    psycopg's "can't change 'autocommit' now": a 500 after every quiet moment."""

    @event.listens_for(engine, "handle_error")
    def _lost(context: Any) -> None:
        if context.is_disconnect:  # Core's own statements (``replace_pool_after``: the driver's)
            _count_loss(engine)

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if engine.pool in _LOST_POOLS:
            _LOST_POOLS.discard(engine.pool)
            raise exc.InvalidatePoolError()
        since = record.info.get("idle_since")
        if since is None or time.monotonic() - since <= IDLE_PING_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:  # any failure of a trivial statement: a dead connection
            raise exc.DisconnectionError() from error


def _idle(connection: Connection) -> bool:
    """Usable as it is: valid, in no transaction, no statement under way (the driver's status)."""
    if connection.invalidated or connection.closed:
        return False
    driver = connection.connection.driver_connection
    return (
        driver is not None and driver.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
    )


def _alive(connection: Connection) -> bool:
    """The pool's idle ping (``_ping_when_idle``) for a connection kept out of it; a dead one is
    invalidated."""
    dbapi_connection = connection.connection.dbapi_connection
    assert dbapi_connection is not None
    try:
        connection.dialect.do_ping(dbapi_connection)
    except Exception as error:  # any failure of a trivial statement: a dead connection
        connection.invalidate(error)
        return False
    return True


#: Pools that lost a connection under a statement run past Core since their last checkout.
_LOST_POOLS: weakref.WeakSet[Pool] = weakref.WeakSet()
#: How many connections each engine lost under a statement (past Core or through it): a kept
#: browsing connection made before the last loss is let go (a restart killed them all).
_LOSSES: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()


def _count_loss(engine: Engine) -> None:
    _LOSSES[engine] = _LOSSES.get(engine, 0) + 1


def replace_pool_after(connection: Connection, error: BaseException) -> None:
    """What Core does on a disconnect under its own statements, for one found past it
    (``storage.driver``): invalidate the connection, and have its pool replace every connection
    it made before (on its next checkout: a restarted server killed them all)."""
    _LOST_POOLS.add(connection.engine.pool)
    _count_loss(connection.engine)
    connection.invalidate(error)


#: SQLSTATEs of a server ending or refusing sessions as a whole rather than failing a statement:
#: admin_shutdown (a fast or immediate stop), crash_shutdown, cannot_connect_now (starting up or
#: shutting down) and too_many_connections.
UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})


def unavailable(error: BaseException) -> bool:
    """Whether ``error`` says that the database could not be used at all, not that a statement
    failed, so that the same request may succeed in a moment (the API answers 503
    ``database_unavailable`` with ``Retry-After``, never 500):

    * a connection lost under a statement (SQLAlchemy invalidated it; the pool replaces it);
    * a connection that could not be made: the server down or refusing, starting up or shutting
      down. libpq reports these as its own failures (``OperationalError`` without a SQLSTATE),
      and SQLAlchemy does not flag them as disconnects (there was no connection to lose);
    * a session the server ended or refused (``UNAVAILABLE_SQLSTATES``);
    * no pooled connection free within the pool's timeout (``sqlalchemy.exc.TimeoutError``).
    """
    if isinstance(error, exc.TimeoutError):
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:
        return True
    if not isinstance(error.orig, psycopg.Error):
        return False
    sqlstate = error.orig.sqlstate
    if sqlstate is None:
        return isinstance(error.orig, psycopg.OperationalError)
    return sqlstate in UNAVAILABLE_SQLSTATES


class Database:
    """Owns the engines and session factories, and hands out the three units of work:

    * ``transaction()`` — a use case's: an ORM session in one transaction, committed on a clean
      exit (durable when it returns), rolled back on any exception.
    * ``browsing()`` — priced offers', the hottest route, whose writes are each one atomic
      statement and may be lost in a crash of the next ~0.6 s without harm to anyone (the
      decision records of browsed offers: one ``tw_append_decisions`` call; a first exposure to an
      experiment: one idempotent insert); never for quotes, holds, bookings or payments. A Core connection (a quarter of the cost of a session: no unit
      of work or session transaction to set up and end) of the relaxed engine: every statement is
      its own transaction (autocommit: no BEGIN/COMMIT round trips) with ``synchronous_commit =
      off`` (it returns before the WAL is on disk).
    * ``read()`` — lookups on every request (API keys, tenants): an ORM session in autocommit,
      every statement its own transaction, with no BEGIN/COMMIT round trips.

    A server (``from_url`` with PostgreSQL) has the two engines: the durable one (``transaction``
    and ``read``) and the relaxed one (``browsing``). With one engine (SQLite, the embedded
    default; or a test's own pool), ``browsing()`` is the connection of an ordinary transaction.
    Given a ``session_factory`` (tests binding everything to one connection in an outer
    transaction), all three use it.
    """

    def __init__(
        self,
        engine: Engine,
        session_factory: sessionmaker[Session] | None = None,
        relaxed_engine: Engine | None = None,
    ):
        self.engine = engine
        self.relaxed_engine = relaxed_engine
        self.shared = session_factory is not None
        self.session_factory = session_factory or sessionmaker(bind=engine, expire_on_commit=False)
        self.read_factory = session_factory or sessionmaker(
            bind=engine.execution_options(isolation_level="AUTOCOMMIT"), expire_on_commit=False
        )
        self._kept = threading.local()  # each thread's browsing connection, between offers
        self._kept_all: dict[Connection, int] = {}  # every thread's (and its pid), for dispose()
        self._generation = 0  # bumped by dispose(): every kept connection is let go
        #: Called after every ``transaction()`` commits, and by ``dispose()`` first
        #: (``storage.availability_cache``: its kept counts, its listening connection).
        self.after_commit: list[Callable[[], None]] = []
        self.on_dispose: list[Callable[[], None]] = []

    @classmethod
    def from_url(cls, url: str) -> Database:
        relaxed = None
        if url.startswith("postgresql"):
            # Autocommit for the engine's life: no per-checkout switch and reset of the mode.
            # Nor a ROLLBACK to reset a returned connection: an autocommit one holds no transaction.
            # Every thread that browses keeps one (``browsing``), so a process holds as many as
            # it has request threads, and one more for its decision spool: no overflow limit
            # (a limit would leave the thread past it waiting for a connection nobody returns).
            relaxed = make_engine(
                url,
                connect_args={"options": "-c synchronous_commit=off"},
                pool_size=5,
                max_overflow=-1,
                isolation_level="AUTOCOMMIT",
                pool_reset_on_return=None,
            )
        return cls(make_engine(url), relaxed_engine=relaxed)

    @contextmanager
    def read(self) -> Iterator[Session]:
        session = self.read_factory()
        try:
            yield session
            session.commit()  # a no-op in autocommit; keeps a shared test session's savepoint
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """Commit on a clean exit (then call the ``after_commit`` hooks), roll back on any
        exception."""
        session = self.session_factory()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        for hook in self.after_commit:
            hook()

    @property
    def browsing_apart(self) -> bool:
        """Offers browse on their own autocommit connections (a PostgreSQL server), not in an
        ordinary transaction (SQLite, a test's shared connection)."""
        return self.relaxed_engine is not None and not self.shared

    @contextmanager
    def browsing(self) -> Iterator[Connection]:
        """An autocommit connection of the relaxed engine; without one (SQLite, tests), the
        connection of a ``transaction()``: committed on a clean exit, rolled back on an error."""
        if not self.browsing_apart:
            with self.transaction() as session:
                yield session.connection()
            return
        assert self.relaxed_engine is not None  # browsing apart
        connection = self._browsing_connection(self.relaxed_engine)
        try:
            yield connection  # autocommit: every statement committed as it ran
        except BaseException as error:
            # A request refused (404, 422) left it as it was; after any other failure it goes
            # back to the pool, which checks it.
            if not (isinstance(error, Exception) and _idle(connection)):
                self._kept.connection = None
                self._let_go(connection)
            raise
        self._kept.used = time.monotonic()

    def _browsing_connection(self, engine: Engine) -> Connection:
        """The thread's kept connection of the relaxed engine: checking one out of the pool and
        back in for every offer (a Connection object, the pool's events) cost ~7 % of an offer's
        CPU. It holds no transaction between offers (autocommit). Pinged when idle past
        ``IDLE_PING_SECONDS`` as the pool pings; let go, and another checked out, when dead,
        invalidated, made before the engine last lost a connection (invalidated: a restart
        killed them all), after ``dispose`` or in a forked child (the parent's, never used
        there)."""
        kept = self._kept
        connection: Connection | None = getattr(kept, "connection", None)
        if (
            connection is not None
            and kept.losses != _LOSSES.get(engine, 0)
            and kept.pid == os.getpid()
        ):
            connection.invalidate()  # made before a loss: never back into the pool
        if connection is not None and (
            kept.pid != os.getpid()
            or kept.generation != self._generation
            or connection.invalidated
            or (time.monotonic() - kept.used > IDLE_PING_SECONDS and not _alive(connection))
        ):
            if kept.pid == os.getpid():
                self._let_go(connection)
            connection = None
        if connection is None:
            kept.connection = None
            connection = engine.connect()
            kept.connection, kept.pid, kept.generation = connection, os.getpid(), self._generation
            kept.used, kept.losses = time.monotonic(), _LOSSES.get(engine, 0)
            self._kept_all[connection] = os.getpid()
            # back to the pool when the thread is gone (a threaded dev server's request thread)
            weakref.finalize(threading.current_thread(), self._let_go, connection)
        return connection

    def _let_go(self, connection: Connection) -> None:
        if self._kept_all.pop(connection, None) == os.getpid():  # never a forked parent's
            connection.close()

    def dispose(self) -> None:
        for hook in self.on_dispose:
            hook()
        self._generation += 1  # a thread still browsing checks out another one
        self._kept.connection = None
        for connection in list(self._kept_all):
            self._let_go(connection)
        self.engine.dispose()
        if self.relaxed_engine is not None:
            self.relaxed_engine.dispose()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))


def alembic_config(url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str) -> None:
    """Bring the schema at ``url`` to the newest migration."""
    from alembic import command

    if url.startswith("sqlite:///"):
        make_engine(url).dispose()  # creates the parent folder
    command.upgrade(alembic_config(url), "head")
    if url.startswith("postgresql"):  # the decision log's months, from now to a few ahead
        import datetime as dt

        from storage.decision_partitions import ensure_months

        db = Database.from_url(url)
        try:
            with db.transaction() as session:
                ensure_months(session, dt.datetime.now(dt.UTC))
        finally:
            db.dispose()
