"""Decision append benchmark: prints numbers, asserts nothing.

PostgreSQL's CPU time per decision record appended through ``tw_append_decision_lines``
(migration 0024: each record's columns beside its canonical JSON, what ``add_decisions`` sends)
and through ``tw_append_decisions`` (migration 0022: the canonical JSON alone, parsed into the
columns), alternately in blocks of 20 calls, with the records of one demo offer (premium, 2
guests, 1 add-on: three records) per call and with 48 per call (sixteen offers: what a worker's
decision spool hands over at full load), on one connection used as the spool uses its own:
autocommit, asynchronous commit, one statement per call. CPU is the backend's own
(``/proc/<pid>/schedstat``, so PostgreSQL must run on this machine), commit included; wall is
the client's; "client" is this process's CPU to build the call's argument from the records. The
VM's speed drifts: read the ratios, not the absolute figures.

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
from collections.abc import Callable

import psycopg
from sqlalchemy import select

from bench.offers_bench import ENV, header, service_date
from storage import models as m
from storage.db import Database, migrate
from storage.decision_text import canonical, line
from storage.decisions import DecisionRecord, record_of

DATABASE = "tierwise_bench_append"
URL = f"postgresql+psycopg://postgres@127.0.0.1:5432/{DATABASE}"
DSN = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
CALLS = int(os.environ.get("APPEND_BENCH_CALLS", "2000"))  # per function and batch size
BLOCK = 20
#: Records per call: one offer's; sixteen offers' (a spool's batch at full load).
SIZES = (3, 48)


def json_rows(batch: list[DecisionRecord]) -> str:
    """``tw_append_decisions``' argument: the canonical JSON of each record, one per line."""
    return "\n".join(canonical(r).decode() for r in batch)


def lines(batch: list[DecisionRecord]) -> str:
    """``tw_append_decision_lines``' argument, as ``add_decisions`` makes it."""
    return b"\n".join(line(r) or b"" for r in batch).decode()


#: name: (the function, its argument from the records)
FUNCTIONS: dict[str, tuple[str, Callable[[list[DecisionRecord]], str]]] = {
    "0022: JSON rows": ("tw_append_decisions", json_rows),
    "0024: lines": ("tw_append_decision_lines", lines),
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


def batches(records: list[DecisionRecord], size: int, count: int) -> list[list[DecisionRecord]]:
    """``count`` batches of ``size`` records cycling through ``records``, each with a new id."""
    return [
        [dataclasses.replace(records[i % len(records)], id=str(uuid.uuid4())) for i in range(size)]
        for _ in range(count)
    ]


def cpu_ns(pid: int) -> int:
    """Nanoseconds the backend ``pid`` has run on a CPU."""
    with open(f"/proc/{pid}/schedstat") as stat:
        return int(stat.read().split()[0])


def run(
    conn: psycopg.Connection,
    pid: int,
    name: str,
    tenant: uuid.UUID,
    block: list[list[DecisionRecord]],
) -> tuple[float, float, float]:
    """(backend CPU µs, wall µs, client CPU µs) per record, ``block`` appended a call each."""
    function, argument = FUNCTIONS[name]
    statement = f"SELECT {function}(%s, %s)"
    records = sum(len(b) for b in block)
    client = time.process_time_ns()
    arguments = [argument(b) for b in block]
    client = time.process_time_ns() - client
    cpu, started = cpu_ns(pid), time.perf_counter_ns()
    for text in arguments:
        conn.execute(statement, (tenant, text))
    wall, cpu = time.perf_counter_ns() - started, cpu_ns(pid) - cpu
    return cpu / records / 1000, wall / records / 1000, client / records / 1000


def measure(records: list[DecisionRecord], size: int) -> dict[str, list[tuple[float, ...]]]:
    """Per function, (CPU, wall, client) µs per record of each block, the functions taking
    turns."""
    tenant = uuid.UUID(records[0].tenant_id)
    blocks: dict[str, list[tuple[float, ...]]] = {name: [] for name in FUNCTIONS}
    with psycopg.connect(DSN, autocommit=True, options="-c synchronous_commit=off") as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        pid = int(row[0])
        for name in FUNCTIONS:  # warm up: plans cached, pages read
            run(conn, pid, name, tenant, batches(records, size, BLOCK))
        for i in range(CALLS // BLOCK):
            for name in list(FUNCTIONS) if i % 2 == 0 else list(reversed(FUNCTIONS)):
                blocks[name].append(run(conn, pid, name, tenant, batches(records, size, BLOCK)))
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
    for size in SIZES:
        blocks = measure(records, size)
        print(
            f"per record, {size} records per call, {CALLS} calls each, medians of {BLOCK}-blocks:"
        )
        for name, measured in blocks.items():
            cpu, wall, client = (statistics.median(b[k] for b in measured) for k in range(3))
            print(
                f"  {name:<16} PostgreSQL CPU {cpu:6.1f} µs   wall {wall:6.1f} µs"
                f"   client CPU {client:5.1f} µs"
            )
        rows, by_lines = blocks.values()
        ratio = statistics.median(n[0] / o[0] for o, n in zip(rows, by_lines, strict=True))
        print(f"  PostgreSQL CPU, lines / JSON rows (median of the block pairs): {ratio:.3f}")
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


if __name__ == "__main__":
    main()
