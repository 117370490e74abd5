"""The decision log partitioned by month on PostgreSQL (migration 0020,
storage/decision_partitions.py): the shape of the table, months created ahead with rows of the
default partition moved into them, and retention dropping a whole month where every record in it
is past its tenant's retention, deleting rows elsewhere, the chain verifiable throughout.

Records are appended with old ``created_at`` (2020) so that they fall into months of their own,
in the test's rolled-back transaction like everything else (the DDL included)."""

from __future__ import annotations

import datetime as dt
import threading
import uuid

import psycopg
import pytest
from alembic import command
from click.testing import CliRunner
from sqlalchemy import func, insert, select, text, update

from app import cli
from app.services import decision_log, tenants
from storage import decision_partitions as partitions
from storage import models as m
from storage.db import Database, alembic_config, make_engine, migrate
from storage.decisions import DECISIONS, add_decisions
from storage.decisions import _row as store_row
from tests.support.databases import TEST_DATABASE_URL, drop_database, scratch_database
from tests.support.decision_records import record
from tests.support.embedded import clear_settings
from tests.support.server_mode import libpq, server_env


def at(day: str) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(tzinfo=dt.UTC)


def append(db, tenant_id: str, *days: str) -> None:
    """One append per record, in the order given (the chain's order)."""
    for day in days:
        with db.transaction() as s:
            add_decisions(s, [record(tenant_id, at(day))])


def rows_in(db, table: str, tenant_id: str) -> int:
    with db.transaction() as s:
        return int(
            s.scalar(
                text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t"),
                {"t": uuid.UUID(tenant_id)},
            )
        )


def month_names(db) -> list[str]:
    with db.transaction() as s:
        return [x.name for x in partitions.months(s)]


def test_the_log_is_partitioned_by_month_ahead_and_every_index_leads_with_tenant_id(db):
    with db.transaction() as s:
        strategy = s.scalar(
            text(
                "SELECT partstrat FROM pg_partitioned_table WHERE partrelid = 'decisions'::regclass"
            )
        )
        indexes = s.execute(
            text(
                "SELECT c.relname, a.attname, i.indisprimary FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid"
                " JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"
                " WHERE i.indrelid = 'decisions'::regclass"
            )
        ).all()
        key = s.scalar(
            text(
                "SELECT pg_get_constraintdef(oid) FROM pg_constraint"
                " WHERE conrelid = 'decisions'::regclass AND contype = 'p'"
            )
        )
        default = s.scalar(text("SELECT to_regclass('decisions_default') IS NOT NULL"))
    assert strategy == "r"  # by range (of created_at)
    assert len(indexes) == 7 and {column for _, column, _ in indexes} == {"tenant_id"}
    assert key == "PRIMARY KEY (tenant_id, id, created_at)"
    assert default
    this_month = partitions.month_of(dt.datetime.now(dt.UTC).date())
    names = month_names(db)
    start = names.index(this_month.name)
    assert len(names[start:]) >= partitions.AHEAD_MONTHS + 1  # this month and three ahead


def test_a_month_created_late_takes_its_rows_out_of_the_default_partition(client, db, tenant_a):
    fx = tenant_a
    append(db, fx.tenant.id, "2020-03-02", "2020-03-30", "2020-04-01")
    assert rows_in(db, "decisions_default", fx.tenant.id) == 3  # no month held them
    with db.transaction() as s:
        created = partitions.ensure_months(s, at("2020-03-15"), ahead=0)
    assert created == ["decisions_y2020m03"]
    assert rows_in(db, "decisions_y2020m03", fx.tenant.id) == 2
    assert rows_in(db, "decisions_default", fx.tenant.id) == 1
    with db.transaction() as s:
        assert partitions.ensure_months(s, at("2020-03-15"), ahead=1) == ["decisions_y2020m04"]
        assert partitions.ensure_months(s, at("2020-03-15"), ahead=1) == []  # idempotent
    assert rows_in(db, "decisions_default", fx.tenant.id) == 0
    append(db, fx.tenant.id, "2020-03-31")  # straight into its month now
    assert rows_in(db, "decisions_y2020m03", fx.tenant.id) == 3
    verdict = client.get("/v1/admin/decisions/verify", headers=fx.admin).get_json()
    assert (verdict["valid"], verdict["checked"]) == (True, 4)


def test_retention_drops_a_month_past_every_tenants_retention_and_deletes_rows_elsewhere(
    client, db, tenant_a, tenant_b
):
    a, b = tenant_a, tenant_b
    with db.transaction() as s:
        partitions.ensure_months(s, at("2020-01-01"), ahead=1)  # January and February 2020
    # A's chain: a February link appended before a late January one (around midnight)
    append(db, a.tenant.id, "2020-01-10", "2020-01-20", "2020-02-01T00:00:01")
    append(db, a.tenant.id, "2020-01-31T23:59:59", "2020-02-05", "2020-02-25")
    append(db, b.tenant.id, "2020-02-10")  # B keeps everything: February stays
    with db.transaction() as s:
        s.execute(
            update(m.Tenant)
            .where(m.Tenant.id == uuid.UUID(a.tenant.id))
            .values(decision_retention_days=30)
        )
    now = at("2020-03-20")  # A's cutoff: 2020-02-19

    results = decision_log.purge_expired(db, None, now)

    dropped = [r for r in results if r.get("partition")]
    assert [
        (r["partition"], r["tenant_id"], r["from_seq"], r["through_seq"], r["removed"])
        for r in dropped
    ] == [("decisions_y2020m01", a.tenant.id, 1, 4, 4)]
    (rows,) = [r for r in results if not r.get("partition")]
    assert (rows["tenant_id"], rows["from_seq"], rows["through_seq"], rows["removed"]) == (
        a.tenant.id,
        5,
        5,
        1,
    )
    names = month_names(db)
    assert "decisions_y2020m01" not in names and "decisions_y2020m02" in names
    with db.transaction() as s:
        left = s.scalars(
            select(m.Decision.seq)
            .where(m.Decision.tenant_id == uuid.UUID(a.tenant.id))
            .order_by(m.Decision.seq)
        ).all()
        purges = s.scalar(
            select(func.count()).where(m.DecisionPurge.tenant_id == uuid.UUID(a.tenant.id))
        )
    assert left == [6] and purges == 2  # the straggler (seq 3) went with January
    assert rows_in(db, "decisions", b.tenant.id) == 1
    for fx in (a, b):
        verdict = client.get("/v1/admin/decisions/verify", headers=fx.admin).get_json()
        assert verdict["valid"] is True, verdict
    verdict = client.get("/v1/admin/decisions/verify", headers=a.admin).get_json()
    assert (verdict["checked"], verdict["purged_through_seq"]) == (1, 5)

    # February holds B's record, kept for good: it is never dropped, however late.
    later = decision_log.purge_expired(db, None, now + dt.timedelta(days=3650))
    assert not [r for r in later if r.get("partition")]
    assert "decisions_y2020m02" in month_names(db)
    assert rows_in(db, "decisions", b.tenant.id) == 1


def test_a_month_with_records_within_retention_is_kept(db, tenant_a):
    fx = tenant_a
    with db.transaction() as s:
        partitions.ensure_months(s, at("2020-01-01"), ahead=0)
        s.execute(
            update(m.Tenant)
            .where(m.Tenant.id == uuid.UUID(fx.tenant.id))
            .values(decision_retention_days=30)
        )
    append(db, fx.tenant.id, "2020-01-10", "2020-01-28")
    results = decision_log.purge_expired(db, None, at("2020-02-20"))  # cutoff 2020-01-21
    assert not [r for r in results if r.get("partition")]
    assert "decisions_y2020m01" in month_names(db)
    assert rows_in(db, "decisions_y2020m01", fx.tenant.id) == 1  # the 10th, row by row


def test_a_month_is_not_dropped_over_a_record_of_its_seqs_still_within_retention(db, tenant_a):
    """Records are linked in the order they are appended, not by their times: a record within
    retention may hold a seq below an expired month's last (a slow request, a skewed clock).
    Dropping that month would delete it with the month's links: the month stays instead."""
    fx = tenant_a
    with db.transaction() as s:
        partitions.ensure_months(s, at("2020-01-01"), ahead=0)
        s.execute(
            update(m.Tenant)
            .where(m.Tenant.id == uuid.UUID(fx.tenant.id))
            .values(decision_retention_days=30)
        )
    append(db, fx.tenant.id, "2020-01-10", "2020-03-19", "2020-01-20")  # seqs 1, 2, 3
    results = decision_log.purge_expired(db, None, at("2020-03-20"))  # cutoff 2020-02-19
    assert not [r for r in results if r.get("partition")]
    assert "decisions_y2020m01" in month_names(db)
    assert rows_in(db, "decisions_default", fx.tenant.id) == 1  # the 19 March record, kept


def test_the_partitions_command_creates_missing_months_ahead_and_lists_them(monkeypatch):
    url = scratch_database("partitions_cli")
    try:
        clear_settings(monkeypatch)
        for name, value in server_env(url).items():
            monkeypatch.setenv(name, value)
        runner = CliRunner()
        assert runner.invoke(cli.main, ["migrate"]).exit_code == 0
        now = dt.datetime.now(dt.UTC).date()
        ahead = [partitions.month_of(now)]
        for _ in range(partitions.AHEAD_MONTHS):
            ahead.append(partitions.month_of(ahead[-1].end.date()))
        with psycopg.connect(libpq(url), autocommit=True) as conn:
            conn.execute(f"DROP TABLE {ahead[-1].name}")  # the last month ahead went missing

        done = runner.invoke(cli.main, ["partitions"])
        assert done.exit_code == 0, done.output
        lines = done.stdout.splitlines()
        assert lines[-len(ahead) :] == [x.name for x in ahead[:-1]] + [
            f"{ahead[-1].name} (created)"
        ]
        again = runner.invoke(cli.main, ["partitions"])
        assert "(created)" not in again.stdout and again.stdout.splitlines() == [
            line.removesuffix(" (created)") for line in lines
        ]
    finally:
        drop_database(url)


def test_a_month_whose_drop_waits_on_a_reader_is_left_for_the_next_run(
    client, db, tenant_a, monkeypatch
):
    fx = tenant_a
    monkeypatch.setattr(partitions, "DROP_LOCK_TIMEOUT_MS", 100)
    with db.transaction() as s:
        partitions.ensure_months(s, at("2020-01-01"), ahead=0)
        s.execute(
            update(m.Tenant)
            .where(m.Tenant.id == uuid.UUID(fx.tenant.id))
            .values(decision_retention_days=30)
        )
    append(db, fx.tenant.id, "2020-01-10", "2020-01-20")
    now = at("2020-03-20")
    with psycopg.connect(libpq(TEST_DATABASE_URL)) as reader:  # a long export, say
        # (the parent only: the test's own transaction still holds the default partition)
        reader.execute("LOCK TABLE ONLY decisions IN ACCESS SHARE MODE")
        assert decision_log.purge_expired(db, None, now)[0] == {
            "partition": "decisions_y2020m01",
            "busy": True,
        }
        assert "decisions_y2020m01" in month_names(db)
        verdict = client.get("/v1/admin/decisions/verify", headers=fx.admin).get_json()
        assert (verdict["valid"], verdict["purged_through_seq"]) == (True, 0)
        assert rows_in(db, "decisions_y2020m01", fx.tenant.id) == 2  # nor deleted row by row
    dropped = decision_log.purge_expired(db, None, now)[0]
    assert (dropped["partition"], dropped["through_seq"]) == ("decisions_y2020m01", 2)
    assert "decisions_y2020m01" not in month_names(db)


def test_a_month_whose_creation_waits_on_a_reader_is_left_for_the_next_run(db, monkeypatch):
    """Attaching a month locks the default partition exclusively; behind a long reader of the
    whole log it would queue every later read of it, so it gives up and the next run creates it
    (three months of lead time)."""
    monkeypatch.setattr(partitions, "CREATE_LOCK_TIMEOUT_MS", 100)
    with psycopg.connect(libpq(TEST_DATABASE_URL)) as reader:  # a long verification, say
        reader.execute("LOCK TABLE decisions_default IN ACCESS SHARE MODE")
        with db.transaction() as s:
            assert partitions.ensure_months(s, at("2040-05-15"), ahead=0) == []
            s.execute(text("SELECT count(*) FROM decisions"))  # the transaction goes on
        assert "decisions_y2040m05" not in month_names(db)
    with db.transaction() as s:
        assert partitions.ensure_months(s, at("2040-05-15"), ahead=0) == ["decisions_y2040m05"]


@pytest.fixture(params=["postgresql", "sqlite"])
def scratch_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/partitions.db"
    return scratch_database("partition_migration")


def test_migration_0020_keeps_every_decision_up_and_down(scratch_url):
    config = alembic_config(scratch_url)
    engine = make_engine(scratch_url)
    tenant = uuid.uuid4()
    days = ("2025-06-03", "2025-06-30", "2025-08-01")
    try:
        command.upgrade(config, "0019")
        rows = [
            {
                **store_row(record(str(tenant), at(day))),
                "seq": n,
                "prev_hash": "p" * 64,
                "hash": "h" * 64,
            }
            for n, day in enumerate(days, 1)
        ]
        with engine.begin() as conn:
            conn.execute(
                insert(m.Tenant).values(
                    id=tenant, slug="t", name="T", currency="EUR", time_zone="UTC"
                )
            )
            conn.execute(insert(DECISIONS), rows)

        command.upgrade(config, "head")
        postgres = scratch_url.startswith("postgresql")
        with engine.connect() as conn:
            table = "tableoid::regclass::text" if postgres else "'decisions'"
            kept = conn.execute(text(f"SELECT {table}, id FROM decisions ORDER BY seq")).all()
        assert [uuid.UUID(str(i)) for _, i in kept] == [r["id"] for r in rows]
        if postgres:  # in their months, created back to the oldest record's
            assert [t for t, _ in kept] == [
                "decisions_y2025m06",
                "decisions_y2025m06",
                "decisions_y2025m08",
            ]

        command.downgrade(config, "0019")
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM decisions")) == 3
        command.upgrade(config, "head")
        with engine.connect() as conn:
            assert conn.scalar(text("SELECT count(*) FROM decisions")) == 3
    finally:
        engine.dispose()
        if scratch_url.startswith("postgresql"):
            drop_database(scratch_url)


def race_purges(db, now: dt.datetime) -> list[object]:
    """Two purges started together on real threads: each one's results, or its exception."""
    start = threading.Barrier(2)
    outcomes: list[object] = []

    def purge() -> None:
        start.wait()
        try:
            outcomes.append(decision_log.drop_expired_months(db, now))
        except Exception as error:
            outcomes.append(error)

    racers = [threading.Thread(target=purge) for _ in range(2)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join(timeout=60)
    return outcomes


def test_two_purges_at_once_drop_each_month_once_and_never_deadlock():
    """Purges racing on real threads against a committed database: each expired month is dropped
    by one of them, the other finds it gone; neither fails (they used to deadlock: one took the
    month's lock, the other the advisory lock)."""
    url = scratch_database("purge_race")
    migrate(url)
    db = Database.from_url(url)
    try:
        tenant = tenants.create_tenant(
            db,
            {
                "slug": "race",
                "name": "Race",
                "currency": "EUR",
                "time_zone": "UTC",
                "default_capacity": 5,
                "decision_retention_days": 30,
            },
        )
        for number in range(1, 6):  # five rounds, a month each
            day = f"2020-{number:02d}"
            with db.transaction() as s:
                partitions.ensure_months(s, at(f"{day}-01"), ahead=0)
            append(db, tenant.id, f"{day}-10", f"{day}-20")
            outcomes = race_purges(db, at("2020-12-31"))
            assert not any(isinstance(x, Exception) for x in outcomes), outcomes
            dropped = [r for results in outcomes for r in results if not r.get("busy")]  # type: ignore[union-attr]
            assert [r["partition"] for r in dropped] == [f"decisions_y2020m{number:02d}"]
            assert f"decisions_y2020m{number:02d}" not in month_names(db)
    finally:
        db.dispose()
        drop_database(url)
