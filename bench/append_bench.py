"""Decision append benchmark: prints numbers, asserts nothing.

PostgreSQL's CPU time per append of one offer's three decision records (the demo tenant's premium
offer, 2 guests, 1 add-on), through ``tw_append_decisions`` as migration 0022 writes it (one
INSERT) and through migration 0010's function (one INSERT per record, installed beside it as
``tw_append_decisions_0010``), alternately in blocks of 20, on one connection used as offers use
theirs: autocommit, asynchronous commit, one statement per append. CPU is the backend's own
(``/proc/<pid>/schedstat``, so PostgreSQL must run on this machine), commit included; wall is the
client's. The VM's speed drifts: read the ratio of the two, not the absolute figures.

Needs PostgreSQL on 127.0.0.1:5432 (no Redis: the offer that makes the records caches in memory).
Run: ``make bench`` or ``.venv/bin/python -m bench.append_bench``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
import os
import statistics
import time
import uuid

import psycopg
from alembic.script import ScriptDirectory
from sqlalchemy import select

from bench.offers_bench import ENV, header, service_date
from storage import models as m
from storage.db import Database, alembic_config, migrate
from storage.decisions import DecisionRecord, canonical, record_of

DATABASE = "tierwise_bench_append"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
DSN = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
CALLS = int(os.environ.get("APPEND_BENCH_CALLS", "3000"))  # per function
BLOCK = 20
FUNCTIONS = {
    "0010: INSERT per record": "tw_append_decisions_0010",
    "0022: one INSERT": "tw_append_decisions",
}


def fresh() -> None:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DATABASE}"')
    migrate(URL)


def offer_records() -> list[DecisionRecord]:
    """The records one demo offer writes (through the current function), as stored."""
    from app import create_app
    from app.adapters.decision_spool import flush_all
    from app.services import offers, tenants
    from app.services.demo import seed_demo
    from config import Settings

    settings = Settings.from_env({**ENV, "DATABASE_URL": URL, "CACHE_BACKEND": "memory"})
    seeding = Database.from_url(URL)
    seed_demo(seeding, dt.date.today())
    seeding.dispose()
    svc = create_app(settings).extensions["tierwise"]
    try:
        tenant = tenants.get_tenant(svc.db, "demo")
        selection = offers.Selection("premium", service_date(), 2, ("breakfast",))
        offers.quote_offers(svc.offers, tenant, selection, dt.datetime.now(dt.UTC), "bench")
        flush_all()  # the offer's records are spooled (app/adapters/decision_spool.py)
        with svc.db.transaction() as s:
            rows = s.scalars(select(m.Decision).order_by(m.Decision.seq))
            return [record_of(row) for row in rows]
    finally:
        svc.db.dispose()


def install_old(conn: psycopg.Connection) -> None:
    script = ScriptDirectory.from_config(alembic_config(URL))
    old = script.get_revision("0010").module.APPEND  # type: ignore[union-attr]
    conn.execute(old.replace("FUNCTION tw_append_decisions(", "FUNCTION tw_append_decisions_0010("))


def appends(records: list[DecisionRecord], count: int) -> list[str]:
    """``count`` appends' argument: the records with new ids, canonical, one per line."""
    return [
        "\n".join(canonical(dataclasses.replace(r, id=str(uuid.uuid4()))).decode() for r in records)
        for _ in range(count)
    ]


def cpu_ns(pid: int) -> int:
    """Nanoseconds the backend ``pid`` has run on a CPU."""
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0])


def run(
    conn: psycopg.Connection, pid: int, function: str, tenant: uuid.UUID, rows: list[str]
) -> tuple[float, float]:
    """(backend CPU µs, wall µs) per append, ``rows`` appended one statement each."""
    statement = f"SELECT {function}(%s, %s)"
    cpu, started = cpu_ns(pid), time.perf_counter_ns()
    for row in rows:
        conn.execute(statement, (tenant, row))
    wall, cpu = time.perf_counter_ns() - started, cpu_ns(pid) - cpu
    return cpu / len(rows) / 1000, wall / len(rows) / 1000


def measure(records: list[DecisionRecord]) -> dict[str, list[tuple[float, float]]]:
    """Per function, (CPU µs, wall µs) per append of each block, the functions taking turns."""
    tenant = uuid.UUID(records[0].tenant_id)
    blocks: dict[str, list[tuple[float, float]]] = {name: [] for name in FUNCTIONS}
    with psycopg.connect(DSN, autocommit=True, options="-c synchronous_commit=off") as conn:
        install_old(conn)
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        pid = int(row[0])
        for function in FUNCTIONS.values():  # warm up: plans cached, pages read
            run(conn, pid, function, tenant, appends(records, 100))
        for i in range(CALLS // BLOCK):
            for name in list(FUNCTIONS) if i % 2 == 0 else list(reversed(FUNCTIONS)):
                rows = appends(records, BLOCK)
                blocks[name].append(run(conn, pid, FUNCTIONS[name], tenant, rows))
    return blocks


def main() -> None:
    with contextlib.redirect_stdout(io.StringIO()):  # its title is the offers benchmark's
        info = header()
    print("tierwise decision append benchmark")
    for key, value in info.items():
        print(f"  {key:<13} {value}")
    fresh()
    records = offer_records()
    print(f"  records per offer: {len(records)}, {[len(canonical(r)) for r in records]} bytes")
    blocks = measure(records)
    print(f"per append of {len(records)} records, {CALLS} appends each, medians of {BLOCK}-blocks:")
    for name, measured in blocks.items():
        cpu = statistics.median(b[0] for b in measured)
        wall = statistics.median(b[1] for b in measured)
        print(f"  {name:<26} PostgreSQL CPU {cpu:6.1f} µs   wall {wall:6.1f} µs")
    old, new = blocks.values()
    ratio = statistics.median(n[0] / o[0] for o, n in zip(old, new, strict=True))
    print(f"  CPU, one INSERT / INSERT per record (median of the block pairs): {ratio:.3f}")
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    main()
