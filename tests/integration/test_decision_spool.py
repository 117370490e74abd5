"""The decision spool (app/adapters/decision_spool.py) on PostgreSQL: browsed offers' records
handed to a writer thread and appended in batches — the same records in the same kind of chain as
appended in the request, written when a reader or the exit asks, never dropped for want of room,
and a record the database rejects given up alone, counted. Concurrent offers through it:
tests/integration/test_decision_chain_concurrency.py."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

from prometheus_client import REGISTRY
from sqlalchemy import func, select

from app.adapters import decision_spool
from app.adapters.decision_spool import DecisionSpool
from app.services import decision_log
from storage import decisions as store
from storage import models as m
from storage.db import Database
from tests.support.decision_records import record
from tests.support.races import committed_tenant

ROOT = Path(__file__).resolve().parents[2]
CHAIN_FIELDS = {"seq", "prev_hash", "hash"}


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def stored(database: Database, tenant_id: str) -> list[store.DecisionRecord]:
    with database.read() as session:
        rows = session.scalars(
            select(m.Decision)
            .where(m.Decision.tenant_id == uuid.UUID(tenant_id))
            .order_by(m.Decision.seq)
        )
        return [store.record_of(row) for row in rows]


def without_chain(r: store.DecisionRecord) -> dict[str, object]:
    return {k: v for k, v in dataclasses.asdict(r).items() if k not in CHAIN_FIELDS}


def lost() -> float:
    return REGISTRY.get_sample_value("tierwise_decision_records_lost_total") or 0.0


def test_spooled_records_are_stored_as_given_in_one_valid_chain(pg_url, settings):
    database = Database.from_url(pg_url)
    with committed_tenant(database, settings, "spool") as tenant:
        spool = DecisionSpool(database)
        batches = [[record(tenant.tenant.id, now(), f"r{n}") for _ in range(3)] for n in range(5)]
        assert all(spool.submit(batch) for batch in batches)
        assert spool.flush()

        written = stored(database, tenant.tenant.id)
        assert [without_chain(r) for r in written] == [
            without_chain(r) for batch in batches for r in batch
        ]
        assert [r.seq for r in written] == list(range(1, 16))
        result = decision_log.verify(database, tenant.tenant.id)
        assert (result["valid"], result["checked"]) == (True, 15)
        spool.close()


def test_a_flush_does_not_wait_for_the_batch_to_gather(pg_url, settings):
    database = Database.from_url(pg_url)
    with committed_tenant(database, settings, "hurry") as tenant:
        spool = DecisionSpool(database, linger=3600)  # would gather for an hour
        assert spool.submit([record(tenant.tenant.id, now())])
        assert spool.flush(timeout=30)
        assert len(stored(database, tenant.tenant.id)) == 1
        spool.close()


def test_a_reader_of_the_log_sees_what_its_process_spooled(pg_url, settings):
    database = Database.from_url(pg_url)
    with committed_tenant(database, settings, "reader") as tenant:
        spool = DecisionSpool(database, linger=3600)
        assert spool.submit([record(tenant.tenant.id, now()) for _ in range(2)])
        # decision_log.verify flushes this process's spools before it reads
        assert decision_log.verify(database, tenant.tenant.id)["checked"] == 2
        spool.close()


def test_a_full_spool_refuses_and_its_caller_appends_in_the_request(pg_url, settings):
    """The database away: the writer keeps trying; past ``limit`` records waiting, ``submit``
    refuses (the offer appends its own records, or fails as it would without a spool)."""
    away = Database.from_url("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    spool = DecisionSpool(away, linger=0, limit=6)
    tenant_id = str(uuid.uuid4())
    assert spool.submit([record(tenant_id, now()) for _ in range(3)])
    assert spool.submit([record(tenant_id, now()) for _ in range(3)])
    assert not spool.submit([record(tenant_id, now())])
    assert not spool.flush(timeout=0)
    before = lost()
    spool.close(timeout=0)  # exiting with the database away: what waits is lost, and counted
    spool._thread.join(30)
    assert not spool._thread.is_alive()
    assert lost() - before == 6
    away.dispose()


def test_a_record_the_database_rejects_is_given_up_alone(pg_url, settings):
    database = Database.from_url(pg_url)
    with committed_tenant(database, settings, "reject") as tenant:
        spool = DecisionSpool(database)
        before = lost()
        good = [record(tenant.tenant.id, now()) for _ in range(2)]
        bad = dataclasses.replace(record(tenant.tenant.id, now()), purpose="p" * 40)  # > 32
        assert spool.submit([good[0], bad, good[1]])
        assert spool.flush()

        assert lost() - before == 1
        written = stored(database, tenant.tenant.id)
        assert [r.id for r in written] == [good[0].id, good[1].id]
        assert decision_log.verify(database, tenant.tenant.id)["valid"]
        spool.close()


def test_a_record_stored_already_is_neither_written_twice_nor_lost(pg_url, settings):
    """A call that committed just before its connection was lost is tried again: its records
    are found stored (their ids taken), and the rest of the batch is written."""
    database = Database.from_url(pg_url)
    with committed_tenant(database, settings, "again") as tenant:
        spool = DecisionSpool(database)
        first = record(tenant.tenant.id, now())
        assert spool.submit([first])
        assert spool.flush()
        before = lost()
        later = record(tenant.tenant.id, now())
        assert spool.submit([first, later])
        assert spool.flush()

        assert lost() == before
        assert [r.id for r in stored(database, tenant.tenant.id)] == [first.id, later.id]
        assert decision_log.verify(database, tenant.tenant.id)["valid"]
        spool.close()


def test_appends_are_calls_of_a_bounded_size(pg_url, settings, monkeypatch):
    """After an outage a tenant may have thousands waiting: one call holds its chain head for
    its whole run, so they go in calls of at most CHUNK records."""
    monkeypatch.setattr(decision_spool, "CHUNK", 4)
    database = Database.from_url(pg_url)
    with committed_tenant(database, settings, "chunks") as tenant:
        spool = DecisionSpool(database, linger=3600)
        calls: list[int] = []
        append = spool._append
        monkeypatch.setattr(spool, "_append", lambda rs: calls.append(len(rs)) or append(rs))
        assert all(spool.submit([record(tenant.tenant.id, now())]) for _ in range(10))
        assert spool.flush()
        assert calls == [4, 4, 2]
        assert len(stored(database, tenant.tenant.id)) == 10
        spool.close()


def test_records_spooled_in_a_process_are_written_when_it_exits(pg_url, settings):
    database = Database.from_url(pg_url)
    with committed_tenant(database, settings, "exit") as tenant:
        script = textwrap.dedent(
            f"""
            import datetime as dt
            from app.adapters.decision_spool import DecisionSpool
            from storage.db import Database
            from tests.support.decision_records import record

            spool = DecisionSpool(Database.from_url({pg_url!r}), linger=3600)
            now = dt.datetime.now(dt.UTC)
            assert spool.submit([record({tenant.tenant.id!r}, now) for _ in range(4)])
            """  # and exits at once, the batch still gathering
        )
        subprocess.run(
            [sys.executable, "-c", script],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            check=True,
            timeout=60,
        )
        assert len(stored(database, tenant.tenant.id)) == 4
        with database.read() as session:
            head = session.scalar(
                select(func.max(m.Decision.seq)).where(
                    m.Decision.tenant_id == uuid.UUID(tenant.tenant.id)
                )
            )
        assert head == 4
