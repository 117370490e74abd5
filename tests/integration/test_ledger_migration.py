"""Migration 0013 carries the money bookings recorded before the ledger into it: nothing a customer
paid is lost, refunds already made are not owed again, and a payment the old code kept for an
expired booking is owed back. On PostgreSQL and on SQLite."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
import sqlalchemy as sa
from alembic import command

from pricing.booking_states import ledger_agrees
from storage.db import Database, alembic_config, make_engine
from tests.conftest import build_tenant
from tests.support.databases import drop_database, scratch_database

_UUID, _MOMENT = sa.Uuid(), sa.DateTime(timezone=True)
LEGACY = sa.table(
    "bookings",
    *(
        sa.column(c, _UUID)
        for c in ("tenant_id", "id", "segment_id", "tier_id", "parent_booking_id")
    ),
    sa.column("service_date", sa.Date()),
    sa.column("add_on_ids", sa.JSON()),
    sa.column("created_at", _MOMENT),
    sa.column("updated_at", _MOMENT),
    *(
        sa.column(c)
        for c in (
            "guests",
            "currency",
            "total_minor",
            "platform_fee_minor",
            "status",
            "quote_id",
            "ruleset_version",
            "customer_email",
            "customer_name",
            "payment_intent_id",
            "refund_id",
            "kind",
            "version",
            "visitor_id",
            "experiment",
            "variant",
        )
    ),
)


@pytest.fixture(params=["postgresql", "sqlite"])
def scratch(request, pg_url, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ledger.db"
        return
    url = scratch_database("ledger", pg_url)
    yield url
    drop_database(url)


def test_money_recorded_on_bookings_moves_into_the_ledger(scratch, settings):
    if scratch.startswith("sqlite"):
        make_engine(scratch).dispose()  # creates the folder
    # The tenant is built through today's models, then the schema steps down to 0012: the
    # bookings below are what the code of 0012 wrote.
    command.upgrade(alembic_config(scratch), "head")
    db = Database.from_url(scratch)
    fx = build_tenant(db, settings, "legacy")
    db.dispose()
    command.downgrade(alembic_config(scratch), "0012")
    db = Database.from_url(scratch)
    tenant, tier = uuid.UUID(fx.tenant.id), fx.tiers[1]
    now = dt.datetime.now(dt.UTC)
    ids = {name: uuid.uuid4() for name in "ABCDEFGU"}
    ids["E-down"] = uuid.uuid4()

    def row(
        name,
        status,
        total,
        fee,
        pi=None,
        refund=None,
        kind="booking",
        parent=None,
        quote="",
        at=now,
    ):
        return {
            "tenant_id": tenant,
            "id": ids[name],
            "segment_id": uuid.UUID(tier.segment_id),
            "tier_id": uuid.UUID(tier.id),
            "service_date": dt.date(2031, 3, 3),
            "guests": 2,
            "add_on_ids": [],
            "currency": "EUR",
            "total_minor": total,
            "platform_fee_minor": fee,
            "status": status,
            "quote_id": quote,
            "ruleset_version": 1,
            "customer_email": "",
            "customer_name": "",
            "payment_intent_id": pi,
            "refund_id": refund,
            "kind": kind,
            "parent_booking_id": ids[parent] if parent else None,
            "version": 1,
            "created_at": at,
            "updated_at": at,
            "visitor_id": "",
            "experiment": "",
            "variant": "",
        }

    legacy = [
        row("A", "paid", 25000, 2500, "pi_A"),  # 20000 paid, then an upgrade of 5000
        row("U", "paid", 5000, 500, "pi_U", kind="upgrade", parent="A"),
        row("B", "cancelled", 10000, 1000, "pi_B", refund="re_B"),  # refund accepted
        row("C", "refunded", 8000, 800, "pi_C", refund="re_C"),
        row("D", "expired", 7000, 700, "pi_D"),  # paid as it expired: the money was kept
        row("E", "paid", 15000, 1500, "pi_E"),  # 18000 paid, then a downgrade refunded 3000
        row("E-down", "cancelled", 3000, 300, "pi_E", refund="re_E", kind="downgrade", parent="E"),
        row("F", "pending", 9000, 900, quote="q1"),  # two units held for one quote
        row("G", "pending", 9000, 900, quote="q1", at=now + dt.timedelta(seconds=1)),
    ]
    with db.engine.begin() as conn:
        conn.execute(sa.insert(LEGACY), legacy)
    db.dispose()

    command.upgrade(alembic_config(scratch), "head")
    engine = make_engine(scratch)
    with engine.connect() as conn:
        entries = conn.execute(
            sa.text(
                "SELECT booking_id, change_id, kind, status, payment_intent_id, provider_ref, "
                "amount_minor, reason FROM payments ORDER BY payment_intent_id, kind"
            )
        ).all()
        kinds = conn.execute(sa.text("SELECT DISTINCT kind FROM bookings")).scalars().all()
        bookings = {
            str(r.id): r
            for r in conn.execute(sa.text("SELECT id, status, total_minor FROM bookings"))
        }
    engine.dispose()
    by = {
        name: str(key).replace("-", "") if scratch.startswith("sqlite") else str(key)
        for name, key in ids.items()
    }
    named = {value: name for name, value in by.items()}
    got = [
        (named[str(b)], named.get(str(c)), k, s, pi, ref, amount, reason)
        for b, c, k, s, pi, ref, amount, reason in entries
    ]
    assert got == [
        ("A", None, "capture", "captured", "pi_A", None, 20000, "checkout"),
        ("B", None, "capture", "captured", "pi_B", None, 10000, "checkout"),
        ("B", None, "refund", "requested", "pi_B", "re_B", 10000, "cancelled"),
        ("C", None, "capture", "captured", "pi_C", None, 8000, "checkout"),
        ("C", None, "refund", "succeeded", "pi_C", "re_C", 8000, "cancelled"),
        ("D", None, "capture", "captured", "pi_D", None, 7000, "checkout"),
        ("D", None, "refund", "queued", "pi_D", None, 7000, "cancelled"),
        ("E", None, "capture", "captured", "pi_E", None, 18000, "checkout"),
        ("E", "E-down", "refund", "requested", "pi_E", "re_E", 3000, "downgrade"),
        ("A", "U", "capture", "captured", "pi_U", None, 5000, "upgrade"),
    ]
    assert sorted(kinds) == ["booking", "upgrade"]  # refund records are ledger entries now
    # the older of two pending bookings of one quote expired (one unit per quote)
    assert (bookings[by["F"]].status, bookings[by["G"]].status) == ("expired", "pending")
    for name in "ABCDEF":
        booking = bookings[by[name]]
        mine = [e for e in got if e[0] == name]
        captured = sum(e[6] for e in mine if e[2] == "capture")
        refunded = sum(e[6] for e in mine if e[2] == "refund")
        assert ledger_agrees(booking.status, booking.total_minor, captured, refunded), name
