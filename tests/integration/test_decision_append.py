"""``tw_append_decisions`` as migration 0022 writes it (the records linked in a loop, then one
INSERT) against the function it replaced, migration 0010's (one INSERT per record), installed
under another name in the test's rolled-back transaction: the same records appended by each from
the same head leave the same rows, column for column, and the same head; Python's linking
(``storage.decisions._link``, SQLite's path) gives the same links; the chain verifies. A migration
round trip shows the downgrade putting migration 0010's function back."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.exc import DataError
from sqlalchemy.orm import Session

from app.services import decision_log
from storage import decisions
from storage.db import alembic_config, make_engine, migrate
from storage.decisions import GENESIS, DecisionRecord, canonical
from tests.integration.test_decision_chain_hash import NULLS, NUMBERS, UNICODE
from tests.support.databases import TEST_DATABASE_URL, drop_database, scratch_database

NEW = "tw_append_decisions"
OLD = "tw_append_decisions_0010"
AT = dt.datetime(2027, 3, 2, 9, 30, 0, 250000, tzinfo=dt.UTC)


def migration(revision: str) -> Any:
    """The module of a migration, as Alembic loads it."""
    script = ScriptDirectory.from_config(alembic_config(TEST_DATABASE_URL))
    return script.get_revision(revision).module


def install_old(s: Session) -> None:
    """Migration 0010's function under another name (gone with the test's transaction)."""
    body = migration("0010").APPEND.replace(f"FUNCTION {NEW}(", f"FUNCTION {OLD}(")
    s.connection().exec_driver_sql(body)


def records(tenant_id: str, count: int) -> list[DecisionRecord]:
    """``count`` records, cycling through what could make two writers differ: unicode and
    escapes, nulls, numbers beyond 64 bits and exact decimals, dates, an instant in another zone,
    a booking, a customer and masked fields."""
    base = DecisionRecord(
        id="",
        tenant_id=tenant_id,
        purpose="offer",
        kinds=["season", "upsell"],
        ruleset_version=3,
        ruleset_hash="b" * 64,
        engine="durable",
        facts={"guests": 2, "segment": "premium"},
        considered=[["summer-peak", True, True], ["weekend", False, False]],
        fired=["summer-peak"],
        outputs={"season": {"multiplier": Decimal("1.10")}},
        context={"tier_id": str(uuid.uuid4())},
        request_id="append",
        quote_id=None,
        booking_id=None,
        created_at=AT,
    )
    variants: list[dict[str, Any]] = [
        {},
        {"facts": UNICODE, "outputs": {"upsell": {"label": UNICODE["scripts"]}}},
        {"facts": NULLS, "context": {"x": None}},
        {"facts": NUMBERS, "ruleset_version": 2**31 - 1},
        {
            "purpose": "quote",
            "facts": {"service_date": dt.date(2027, 12, 31)},
            "quote_id": "q_" + "ü" * 20,
            "booking_id": str(uuid.uuid4()),
            "customer_ref": "c" * 64,
            "masked_fields": ["/context/customer/email"],
            "created_at": AT.astimezone(dt.timezone(dt.timedelta(hours=-3, minutes=-30))),
        },
    ]
    return [
        dataclasses.replace(base, id=str(uuid.uuid4()), **variants[i % len(variants)])
        for i in range(count)
    ]


def append(s: Session, function: str, tenant_id: str, rows: str) -> tuple[list[str], Any]:
    """Append with ``function``; every row of the tenant as text (each column as stored) in
    chain order, and its head."""
    tenant = uuid.UUID(tenant_id)
    returned = s.scalar(
        text(f"SELECT {function}(:tenant, :rows)"), {"tenant": tenant, "rows": rows}
    )
    stored = s.scalars(
        text("SELECT d::text FROM decisions d WHERE tenant_id = :tenant ORDER BY seq, id"),
        {"tenant": tenant},
    ).all()
    head = s.execute(
        text("SELECT c::text, c.seq FROM decision_chains c WHERE tenant_id = :tenant"),
        {"tenant": tenant},
    ).one()
    assert returned == head.seq
    return list(stored), head[0]


def both(s: Session, tenant_id: str, rows: str) -> tuple[Any, Any]:
    """What the old function leaves (undone), then what the new one leaves, from the same head."""
    before = s.begin_nested()
    old = append(s, OLD, tenant_id, rows)
    before.rollback()
    return old, append(s, NEW, tenant_id, rows)


def bodies(batch: list[DecisionRecord]) -> str:
    return "\n".join(canonical(r).decode() for r in batch)


@pytest.mark.parametrize("earlier", [0, 4], ids=["first-append", "after-earlier-links"])
@pytest.mark.parametrize("count", [1, 3, 7])
def test_one_insert_appends_what_the_insert_per_record_did(db, tenant_a, count, earlier):
    tenant = tenant_a.tenant.id
    with db.transaction() as s:
        install_old(s)
        if earlier:
            decisions.add_decisions(s, records(tenant, earlier))
        head = decisions.chain_head(s, tenant)
        seq, previous = (head.seq, head.hash) if head is not None else (0, GENESIS)
        batch = records(tenant, count)
        old, new = both(s, tenant, bodies(batch))
        chain = [r for r in decisions.chain(s, tenant) if (r.seq or 0) > seq]

    assert new == old
    assert len(new[0]) == earlier + count
    expected = decisions._link(batch, [canonical(r) for r in batch], seq, previous)  # SQLite's
    assert [(r.id, r.seq, r.prev_hash, r.hash) for r in chain] == [
        (r.id, r.seq, r.prev_hash, r.hash) for r in expected
    ]
    result = decision_log.verify(db, tenant)
    assert (result["valid"], result["checked"], result["head_seq"]) == (
        True,
        earlier + count,
        earlier + count,
    )


def test_an_empty_append_moves_nothing_but_the_heads_time_as_before(db, tenant_a):
    tenant = tenant_a.tenant.id
    with db.transaction() as s:
        install_old(s)
        decisions.add_decisions(s, records(tenant, 2))
        old, new = both(s, tenant, "")
    assert new == old
    assert len(new[0]) == 2


@pytest.mark.parametrize("function", [OLD, NEW])
def test_a_bad_row_appends_nothing(db, tenant_a, function):
    tenant = tenant_a.tenant.id
    good = bodies(records(tenant, 2)).split("\n")
    with db.transaction() as s:
        install_old(s)
        decisions.add_decisions(s, records(tenant, 1))
        head = decisions.chain_head(s, tenant)
        assert head is not None
        before = (head.seq, head.hash)
        attempt = s.begin_nested()
        with pytest.raises(DataError):
            append(s, function, tenant, "\n".join([good[0], '{"id": not json}', good[1]]))
        attempt.rollback()
        head = decisions.chain_head(s, tenant)
        assert head is not None
        s.refresh(head)
        assert (head.seq, head.hash) == before
        assert len(list(decisions.chain(s, tenant))) == 1


def test_the_downgrade_puts_back_migration_0010s_function():
    assert migration("0022").PREVIOUS == migration("0010").APPEND

    url = scratch_database("append")
    engine = make_engine(url)
    source = text("SELECT prosrc FROM pg_proc WHERE proname = 'tw_append_decisions'")
    try:
        migrate(url)
        with engine.connect() as conn:
            assert conn.scalar(source) in migration("0022").APPEND
        command.downgrade(alembic_config(url), "0021")
        with engine.connect() as conn:
            assert conn.scalar(source) in migration("0010").APPEND
        command.upgrade(alembic_config(url), "head")
        with engine.connect() as conn:
            assert conn.scalar(source) in migration("0022").APPEND
    finally:
        engine.dispose()
        drop_database(url)
