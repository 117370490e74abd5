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
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, text
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from app.services import decision_log
from storage import decisions
from storage.db import alembic_config, make_engine, migrate
from storage.decision_text import canonical, line, shape_of
from storage.decisions import GENESIS, DecisionRecord
from tests.integration.test_decision_chain_hash import NULLS, NUMBERS, UNICODE
from tests.support.databases import TEST_DATABASE_URL, drop_database, scratch_database

NEW = "tw_append_decisions"
OLD = "tw_append_decisions_0010"
LINES = "tw_append_decision_lines"
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
        {"quote_id": "", "customer_ref": "", "request_id": "", "masked_fields": []},
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


def lines(batch: list[DecisionRecord]) -> str:
    made = [line(r) for r in batch]
    for made_line, record in zip(made, batch, strict=True):  # each line's body is the canonical one
        assert made_line is not None and made_line.split(b"\x1f")[0] == canonical(record)
    return b"\n".join(made_line or b"" for made_line in made).decode()


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
    refused_without_a_trace(db, tenant, function, good[0], '{"id": not json}', good[1])


@pytest.mark.parametrize(
    "bad",
    [
        "\x1f".join(["{}"] * 17),  # a column short
        "\x1f".join(["{}"] * 19),  # a column too many
        "\x1f".join(["{}", "not a uuid", *["{}"] * 16]),
    ],
    ids=["short", "long", "bad-id"],
)
def test_a_bad_line_appends_nothing(db, tenant_a, bad):
    tenant = tenant_a.tenant.id
    good = lines(records(tenant, 2)).split("\n")
    refused_without_a_trace(db, tenant, LINES, good[0], bad, good[1])


def refused_without_a_trace(db, tenant: str, function: str, *rows: str) -> None:
    with db.transaction() as s:
        install_old(s)
        decisions.add_decisions(s, records(tenant, 1))
        head = decisions.chain_head(s, tenant)
        assert head is not None
        before = (head.seq, head.hash)
        attempt = s.begin_nested()
        with pytest.raises(DataError):
            append(s, function, tenant, "\n".join(rows))
        attempt.rollback()
        head = decisions.chain_head(s, tenant)
        assert head is not None
        s.refresh(head)
        assert (head.seq, head.hash) == before
        assert len(list(decisions.chain(s, tenant))) == 1


def test_the_downgrade_puts_back_migration_0010s_function():
    assert migration("0022").PREVIOUS == migration("0010").APPEND

    source = text("SELECT prosrc FROM pg_proc WHERE proname = 'tw_append_decisions'")
    with migrated("append") as (url, engine):
        assert scalar(engine, source) in migration("0022").APPEND
        command.downgrade(alembic_config(url), "0021")
        assert scalar(engine, source) in migration("0010").APPEND
        command.upgrade(alembic_config(url), "head")
        assert scalar(engine, source) in migration("0022").APPEND


def scalar(engine: Engine, query: Any) -> Any:
    """``query``'s one value, on a connection of its own."""
    with engine.connect() as conn:
        return conn.scalar(query)


@contextmanager
def migrated(name: str) -> Iterator[tuple[str, Engine]]:
    """A scratch database migrated to the head (dropped after), and an engine on it."""
    url = scratch_database(name)
    engine = make_engine(url)
    try:
        migrate(url)
        yield url, engine
    finally:
        engine.dispose()
        drop_database(url)


@pytest.mark.parametrize("earlier", [0, 4], ids=["first-append", "after-earlier-links"])
@pytest.mark.parametrize("count", [1, 3, 8])
def test_lines_append_what_the_json_rows_did(db, tenant_a, count, earlier):
    """Migration 0024's function, from the same head as 0022's, leaves the same rows, column for
    column (the JSON columns as they sat in the body, NULL apart from an empty text), the same
    links and the same head."""
    tenant = tenant_a.tenant.id
    with db.transaction() as s:
        if earlier:
            decisions.add_decisions(s, records(tenant, earlier))
        batch = records(tenant, count)
        before = s.begin_nested()
        by_rows = append(s, NEW, tenant, bodies(batch))
        before.rollback()
        by_lines = append(s, LINES, tenant, lines(batch))
    assert by_lines == by_rows
    assert len(by_lines[0]) == earlier + count
    result = decision_log.verify(db, tenant)
    assert (result["valid"], result["checked"]) == (True, earlier + count)


@pytest.mark.parametrize("field", ["request_id", "quote_id", "customer_ref", "purpose"])
@pytest.mark.parametrize("separator", ["\x1f", "\x1e", "\n"], ids=["unit", "null", "newline"])
def test_a_text_holding_a_separator_goes_as_json_rows(db, tenant_a, field, separator):
    tenant = tenant_a.tenant.id
    odd = dataclasses.replace(records(tenant, 1)[0], **{field: f"a{separator}b"})
    assert line(odd) is None
    with db.transaction() as s:
        decisions.add_decisions(s, [*records(tenant, 2), odd])
        stored = s.scalar(
            text(f"SELECT {field} FROM decisions WHERE tenant_id = :t AND id = :id"),
            {"t": uuid.UUID(tenant), "id": uuid.UUID(odd.id)},
        )
    assert stored == f"a{separator}b"
    result = decision_log.verify(db, tenant)
    assert (result["valid"], result["checked"]) == (True, 3)


def test_the_downgrade_of_0024_drops_the_lines_function():
    exists = text("SELECT count(*) FROM pg_proc WHERE proname = 'tw_append_decision_lines'")
    with migrated("lines") as (url, engine):
        assert scalar(engine, exists) == 1
        command.downgrade(alembic_config(url), "0023")
        assert scalar(engine, exists) == 0


def test_an_empty_lines_append_moves_nothing_but_the_heads_time(db, tenant_a):
    tenant = tenant_a.tenant.id
    with db.transaction() as s:
        decisions.add_decisions(s, records(tenant, 2))
        before = s.begin_nested()
        by_rows = append(s, NEW, tenant, "")
        before.rollback()
        by_lines = append(s, LINES, tenant, "")
    assert by_lines == by_rows
    assert len(by_lines[0]) == 2


def test_a_plain_value_that_is_not_text_goes_as_json_rows(db, tenant_a):
    """A booking id handed over as a UUID, not its text: stored as the JSON rows store it."""
    tenant = tenant_a.tenant.id
    booking = uuid.uuid4()
    odd = dataclasses.replace(records(tenant, 1)[0], booking_id=booking)  # type: ignore[arg-type]
    assert line(odd) is None
    with db.transaction() as s:
        decisions.add_decisions(s, [odd])
        stored = s.scalar(
            text("SELECT booking_id FROM decisions WHERE tenant_id = :t AND id = :id"),
            {"t": uuid.UUID(tenant), "id": uuid.UUID(odd.id)},
        )
    assert stored == booking
    assert decision_log.verify(db, tenant)["valid"]


SLOTS = [  # (id, request id, time): what differs between the records of one shape
    (str(uuid.uuid4()), "0193a1b2c3d4e5f60718293a4b5c6d7e", AT + dt.timedelta(microseconds=1)),
    (str(uuid.uuid4()), "order-42:retry.1", AT.astimezone(dt.timezone(dt.timedelta(hours=5)))),
    (str(uuid.uuid4()), "x" * 64, dt.datetime(2027, 1, 1, tzinfo=dt.UTC)),
]


@pytest.mark.parametrize("variant", range(6))
def test_a_shaped_line_is_the_line_written_in_full(variant):
    """A record's line made from the shape of another record equal but for its id, request id
    and time is, byte for byte, the line written from the record itself, for every variant of
    ``records`` (unicode, nulls, big numbers, decimals, another time zone, a quote and a booking)."""
    made = records(str(uuid.uuid4()), variant + 1)[variant]
    shape = shape_of(made)
    assert shape is not None
    for record_id, request_id, at in SLOTS:
        plain = dataclasses.replace(made, id=record_id, request_id=request_id, created_at=at)
        shaped = dataclasses.replace(plain, shape=shape)
        assert line(shaped) == line(plain)
        created = line(plain).split(b"\x1f")[15].decode()  # the time column, in UTC
        assert shape.fill(record_id, request_id, created) == line(plain)


@pytest.mark.parametrize("request_id", ["", "two words", 'a"quote', "x" * 65, "ü"])
def test_a_slot_text_that_is_not_a_plain_token_is_written_in_full(request_id):
    """The shape only takes texts JSON writes as they are: any other is written with its whole
    line (so it is escaped as the body needs), and the line is still the record's own."""
    made = records(str(uuid.uuid4()), 1)[0]
    shape = shape_of(made)
    assert shape is not None
    plain = dataclasses.replace(made, id=str(uuid.uuid4()), request_id=request_id)
    assert shape.fill(plain.id, request_id, "2027-03-02T09:30:00.250000+00:00") is None
    assert line(dataclasses.replace(plain, shape=shape)) == line(plain)


def test_a_record_without_a_line_has_no_shape():
    made = records(str(uuid.uuid4()), 1)[0]
    assert shape_of(dataclasses.replace(made, purpose="a\x1fb")) is None
    assert shape_of(dataclasses.replace(made, customer_ref="new\nline")) is None


def test_the_shape_is_not_a_stored_field():
    """Records read back equal those written, shape or not, and views never show it."""
    made = records(str(uuid.uuid4()), 1)[0]
    shaped = dataclasses.replace(made, shape=shape_of(made))
    assert shaped == made and repr(shaped) == repr(made)
    assert "shape" not in decision_log.view(shaped)


@pytest.mark.parametrize("function", [NEW, LINES])
def test_an_unknown_tenant_appends_nothing(db, tenant_a, function):
    """``decisions`` has no foreign key of its own (migration 0025): the append refuses a tenant
    that does not exist through its chain head's, before any record is written."""
    stranger = str(uuid.uuid4())
    batch = records(stranger, 3)
    rows = lines(batch) if function == LINES else bodies(batch)
    with db.transaction() as s:
        with pytest.raises(IntegrityError) as caught, s.begin_nested():
            s.execute(
                text(f"SELECT {function}(:tenant, :rows)"), {"tenant": stranger, "rows": rows}
            )
        assert caught.value.orig.diag.constraint_name == "fk_decision_chains_tenant_id_tenants"
        for table in ("decisions", "decision_chains"):
            found = s.scalar(
                text(f"SELECT count(*) FROM {table} WHERE tenant_id = :t"), {"t": stranger}
            )
            assert found == 0
    # through add_decisions, as the spool and the requests append
    with db.transaction() as s, pytest.raises(IntegrityError), s.begin_nested():
        decisions.add_decisions(s, batch)


def test_the_downgrade_of_0025_puts_the_per_row_foreign_key_back():
    named = text(
        "SELECT count(*) FROM pg_constraint"
        " WHERE conname = 'fk_decisions_tenant_id_tenants' AND conrelid = 'decisions'::regclass"
    )
    with migrated("per_call") as (url, engine):
        assert scalar(engine, named) == 0
        command.downgrade(alembic_config(url), "0024")
        assert scalar(engine, named) == 1
        command.upgrade(alembic_config(url), "head")
        assert scalar(engine, named) == 0
