"""Decision log benchmark: prints numbers, asserts nothing.

The in-process offer (the demo tenant: 3 tiers, 2 guests, 1 add-on, three decision records
written) on the decision log as the migrations leave it (partitioned by month since migration
0020), three rounds on fresh databases; then the disk a decision takes (heap, TOAST and every
index, after VACUUM), which docs/operations.md sizes storage from. (It once compared the plain
table of migration 0019 too, recorded in docs/benchmarks.md; today's service cannot run on that
schema: its tenants have the columns of migration 0021, its append the function of 0024.)

Needs PostgreSQL on 127.0.0.1:5432 and Redis (``BENCH_REDIS_URL``, default database 13).
Run: ``make bench`` or ``.venv/bin/python -m bench.decisions_bench``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import statistics
import time

import psycopg
import redis

from bench.offers_bench import ENV, header, service_date
from storage.db import Database, migrate

DATABASE = "tierwise_bench_decisions"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")
CALLS = int(os.environ.get("DECISIONS_BENCH_CALLS", "3000"))
ROUNDS = 3
SIZE = """
SELECT coalesce(
    (SELECT sum(pg_total_relation_size(relid)) FROM pg_partition_tree('decisions')),
    pg_total_relation_size('decisions')
), (SELECT count(*) FROM decisions)
"""


def fresh() -> None:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    migrate(URL)


def redis_commands() -> int:
    """Commands the Redis server has processed so far (every database, every client)."""
    return int(redis.Redis.from_url(REDIS_URL).info("stats")["total_commands_processed"])


def offers(calls: int) -> list[float]:
    """Milliseconds per in-process offer, ``calls`` of them after 200 to warm up."""
    from app import create_app
    from app.adapters.decision_spool import flush_all
    from app.services import offers as offers_module
    from app.services import tenants
    from app.services.demo import seed_demo
    from config import Settings

    settings = Settings.from_env({**ENV, "DATABASE_URL": URL, "REDIS_URL": REDIS_URL})
    seeding = Database.from_url(URL)
    seed_demo(seeding, dt.date.today())
    seeding.dispose()
    app = create_app(settings)
    svc = app.extensions["tierwise"]
    tenant = tenants.get_tenant(svc.db, "demo")
    selection = offers_module.Selection("premium", service_date(), 2, ("breakfast",))
    try:
        now = dt.datetime.now(dt.UTC)
        for _ in range(200):
            offers_module.quote_offers(svc.offers, tenant, selection, now, "bench")
        times = []
        before = redis_commands()
        for _ in range(calls):
            started = time.perf_counter_ns()
            offers_module.quote_offers(svc.offers, tenant, selection, now, "bench")
            times.append((time.perf_counter_ns() - started) / 1e6)
        commands = redis_commands() - before - 1
        print(f"  Redis commands per offer (one worker; an upper bound): {commands / calls:.3f}")
        return times
    finally:
        flush_all()  # the offers' records are spooled (app/adapters/decision_spool.py)
        svc.db.dispose()


def size() -> tuple[int, int]:
    """(bytes on disk of the decision log, its rows), after VACUUM ANALYZE."""
    dsn = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE decisions")
        row = conn.execute(SIZE).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])


def main() -> None:
    with contextlib.redirect_stdout(io.StringIO()):  # its title is the offers benchmark's
        info = header()
    print("tierwise decision log benchmark")
    for key, value in info.items():
        print(f"  {key:<13} {value}")
    rounds: list[dict[str, float]] = []
    for round_ in range(ROUNDS):
        fresh()
        times = sorted(offers(CALLS))
        total, rows = size()
        rounds.append(
            {
                "p50": statistics.median(times),
                "mean": statistics.fmean(times),
                "p99": times[int(len(times) * 0.99)],
                "bytes_per_row": total / rows,
            }
        )
        print(
            f"  round {round_ + 1} offer p50 {rounds[-1]['p50']:.3f} ms"
            f"  mean {rounds[-1]['mean']:.3f} ms  {rows} rows, {total / rows:,.0f} B/row"
        )
    print(f"decision log, {CALLS} in-process offers a round, medians of {ROUNDS} rounds:")
    cells = {k: statistics.median(r[k] for r in rounds) for k in rounds[0]}
    print(
        f"  p50 {cells['p50']:.3f} ms  mean {cells['mean']:.3f} ms"
        f"  p99 {cells['p99']:.3f} ms  {cells['bytes_per_row']:,.0f} bytes per decision"
    )
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    main()
