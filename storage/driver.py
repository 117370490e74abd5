"""Statements run on the psycopg connection under a SQLAlchemy connection, past SQLAlchemy: the two
of every priced offer (the availability counts and the decision append). Core's execution of a
statement (its compile-cache key, bind and result processing, the execution context and result
object it builds) costs about a tenth of an offer's CPU. Even as ``exec_driver_sql`` (SQL text,
no compiling) an offer took 7-9 % more CPU than here (in-process, interleaved, on a 2-CPU
VM: the counts statement 196 µs instead of 128, the whole offer 1.46 ms instead of 1.36).

Only public APIs of SQLAlchemy and psycopg: the driver connection under a pooled one
(``PoolProxiedConnection.driver_connection``), the dialect's ``is_disconnect``,
``Connection.invalidate`` and, for the rest of the pool, ``InvalidatePoolError`` raised on the
next checkout (``storage.db``). The tests in ``tests/integration/test_db_engine.py`` hold each to
what is relied upon here: the same rows as Core's, Core's exception classes, a lost connection
answered 503 once and every connection of the pool replaced.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from psycopg import Cursor
from sqlalchemy import CompoundSelect, Connection, Select, exc
from sqlalchemy.dialects import registry
from sqlalchemy.sql.compiler import SQLCompiler

from storage.db import Executor, on_postgresql, replace_pool_after

#: The dialect hot statements are compiled for: the engines' own (``postgresql+psycopg``).
PSYCOPG = registry.load("postgresql.psycopg")()


@contextmanager
def driver_cursor(executor: Executor, statement: str) -> Iterator[Cursor[Any]]:
    """A cursor of the psycopg connection under the executor's connection, in its transaction,
    for a statement run past SQLAlchemy. A driver error comes out as Core's would for its own
    statements: a ``DBAPIError`` (``IntegrityError``, ``OperationalError``, ...), and when the
    connection is gone it is invalidated, and so is every connection the pool made before it
    (replaced as they are next checked out: a restarted server killed them all), and the error
    says so, which the API answers with 503 ``database_unavailable``."""
    connection = executor if isinstance(executor, Connection) else executor.connection()
    pooled = connection.connection
    driver = pooled.driver_connection
    dbapi = connection.dialect.loaded_dbapi
    assert driver is not None
    try:
        with driver.cursor() as cursor:
            yield cursor
    except dbapi.Error as error:
        gone = connection.dialect.is_disconnect(error, pooled.dbapi_connection, None)
        if gone:
            replace_pool_after(connection, error)
        raise exc.DBAPIError.instance(
            statement, None, error, dbapi.Error, connection_invalidated=gone
        ) from error


class HotStatement:
    """A Core SELECT run on the hottest path (every priced offer). On PostgreSQL it is compiled
    once (its IN lists expanded) and executed on the psycopg cursor (``driver_cursor``). Elsewhere
    (SQLite) it runs through Core. Rows come back as tuples either way."""

    def __init__(self, statement: Select[Any] | CompoundSelect[Any], names: tuple[str, ...]):
        self.statement = statement
        self.names = frozenset(names)
        # Every bind gets a (None) value so that the IN lists can be expanded once, now.
        compiled = statement.params({name: None for name in names}).compile(dialect=PSYCOPG)
        assert isinstance(compiled, SQLCompiler)
        expanded = compiled.construct_expanded_state()
        self.sql = expanded.statement
        self.constants = {k: v for k, v in expanded.parameters.items() if k not in names}

    def rows(self, executor: Executor, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        assert params.keys() == self.names
        if not on_postgresql(executor):
            return [tuple(row) for row in executor.execute(self.statement, params)]
        with driver_cursor(executor, self.sql) as cursor:
            cursor.execute(self.sql, {**self.constants, **params})
            return cursor.fetchall()
