"""payment ledger, idempotency leases, one pending booking per quote

Every capture and refund becomes a row of ``payments``; what bookings recorded of their money
before (``payment_intent_id``, ``refund_id``, ``downgrade`` rows) is carried over:

* a booking or upgrade payment with a payment intent that was paid (or cancelled/refunded after
  being paid, or expired with the payment taken) gets a capture of what it was charged: an upgrade
  payment its total; a booking its total less the upgrades paid into it plus the downgrade refunds
  taken out of it (the total it was first charged);
* a ``downgrade`` row becomes a refund of its amount (``requested`` if the provider accepted it,
  else ``queued``) and is deleted;
* a cancelled or refunded booking with a capture gets a refund of what remains on each of its
  payments: ``succeeded`` if refunded, ``requested`` if the provider accepted it, else ``queued``
  (the sweeper requests it with the idempotency key the old code used).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

"""

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _where(condition: str) -> dict[str, Any]:
    return {"postgresql_where": sa.text(condition), "sqlite_where": sa.text(condition)}


def upgrade() -> None:
    # The money first, read while bookings still say it; then the bookings table is rebuilt
    # (SQLite) before anything refers to it, then the ledger is created and filled.
    entries, payments = _carry_over_money()
    with op.batch_alter_table("bookings") as batch:
        batch.drop_column("refund_id")
        batch.create_check_constraint(op.f("ck_bookings_kind"), "kind IN ('booking', 'upgrade')")
    op.create_table(
        "payments",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("booking_id", sa.Uuid(), nullable=False),
        sa.Column("change_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("payment_intent_id", sa.String(length=255), nullable=False),
        sa.Column("provider_ref", sa.String(length=255), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("amount_minor", sa.BigInteger(), nullable=False),
        sa.Column("fee_minor", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("refund_fee", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.String(length=500), server_default="", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount_minor > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint(
            "fee_minor >= 0 AND fee_minor <= amount_minor",
            name=op.f("ck_payments_fee_within_amount"),
        ),
        sa.CheckConstraint("kind IN ('capture', 'refund')", name=op.f("ck_payments_kind")),
        sa.CheckConstraint(
            "status IN ('captured', 'queued', 'requested', 'succeeded', 'failed')",
            name=op.f("ck_payments_status"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "booking_id"],
            ["bookings.tenant_id", "bookings.id"],
            name=op.f("fk_payments_tenant_id_booking_id_bookings"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name=op.f("fk_payments_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_payments")),
    )
    op.create_index("ix_payments_tenant_booking", "payments", ["tenant_id", "booking_id"])
    op.create_index(
        "uq_payments_capture",
        "payments",
        ["payment_intent_id"],
        unique=True,
        **_where("kind = 'capture'"),
    )
    op.create_index(
        "uq_payments_refund",
        "payments",
        ["provider_ref"],
        unique=True,
        **_where("kind = 'refund' AND provider_ref IS NOT NULL"),
    )
    op.create_index("ix_payments_queued", "payments", ["status"], **_where("status = 'queued'"))

    op.add_column("bookings", sa.Column("checkout_url", sa.String(length=2048), nullable=True))
    op.add_column("bookings", sa.Column("from_tier_id", sa.Uuid(), nullable=True))
    op.add_column("idempotency_keys", sa.Column("owner", sa.String(length=36), nullable=True))
    op.add_column(
        "idempotency_keys",
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
    )

    if entries:
        op.bulk_insert(payments, entries)
    _one_pending_booking_per_quote()

    op.create_index(
        "ix_bookings_tenant_parent",
        "bookings",
        ["tenant_id", "parent_booking_id"],
        **_where("parent_booking_id IS NOT NULL"),
    )
    op.create_index(
        "uq_bookings_pending_quote",
        "bookings",
        ["tenant_id", "quote_id"],
        unique=True,
        **_where("kind = 'booking' AND status = 'pending' AND quote_id <> ''"),
    )


def _carry_over_money() -> tuple[list[dict[str, Any]], sa.TableClause]:
    """The ledger entries of what bookings recorded (and the table to insert them into);
    refund records (``downgrade`` rows) are deleted: they are entries now."""
    bind = op.get_bind()
    uuid_type, moment = sa.Uuid(), sa.DateTime(timezone=True)
    bookings = sa.table(
        "bookings",
        sa.column("tenant_id", uuid_type),
        sa.column("id", uuid_type),
        sa.column("kind", sa.String()),
        sa.column("status", sa.String()),
        sa.column("total_minor", sa.BigInteger()),
        sa.column("platform_fee_minor", sa.BigInteger()),
        sa.column("currency", sa.String()),
        sa.column("payment_intent_id", sa.String()),
        sa.column("refund_id", sa.String()),
        sa.column("parent_booking_id", uuid_type),
        sa.column("created_at", moment),
    )
    payments = sa.table(
        "payments",
        *(sa.column(name, uuid_type) for name in ("tenant_id", "id", "booking_id", "change_id")),
        *(
            sa.column(name, sa.String())
            for name in (
                "kind",
                "status",
                "payment_intent_id",
                "provider_ref",
                "idempotency_key",
                "currency",
                "reason",
                "detail",
            )
        ),
        sa.column("amount_minor", sa.BigInteger()),
        sa.column("fee_minor", sa.BigInteger()),
        sa.column("refund_fee", sa.Boolean()),
        sa.column("created_at", moment),
        sa.column("updated_at", moment),
    )
    rows = [dict(r._mapping) for r in bind.execute(sa.select(bookings))]
    by_id = {(str(r["tenant_id"]), str(r["id"])): r for r in rows}
    now = dt.datetime.now(dt.UTC)
    out: list[dict[str, Any]] = []
    captured: dict[str, list[dict[str, Any]]] = {}  # root booking id -> its captures

    def root_of(row: dict[str, Any]) -> dict[str, Any]:
        parent = row["parent_booking_id"]
        return by_id.get((str(row["tenant_id"]), str(parent)), row) if parent else row

    def entry(row: dict[str, Any], **fields: Any) -> dict[str, Any]:
        root = root_of(row)
        return {
            "tenant_id": row["tenant_id"],
            "id": uuid.uuid4(),
            "booking_id": root["id"],
            "change_id": row["id"] if row is not root else None,
            "currency": row["currency"],
            "provider_ref": None,
            "idempotency_key": None,
            "refund_fee": True,
            "detail": "",
            "created_at": row["created_at"] or now,
            "updated_at": now,
            **fields,
        }

    charged_in = {"paid", "cancelled", "refunded", "expired"}
    for row in rows:
        if row["kind"] not in ("booking", "upgrade") or not row["payment_intent_id"]:
            continue
        if row["status"] not in charged_in:
            continue
        amount = row["total_minor"]
        if row["kind"] == "booking":
            for other in rows:
                if str(other["parent_booking_id"] or "") != str(row["id"]):
                    continue
                if other["kind"] == "upgrade" and other["status"] == "paid":
                    amount -= other["total_minor"]
                elif other["kind"] == "downgrade":
                    amount += other["total_minor"]
        if amount <= 0:
            continue
        capture = entry(
            row,
            kind="capture",
            status="captured",
            payment_intent_id=row["payment_intent_id"],
            amount_minor=amount,
            fee_minor=min(row["platform_fee_minor"], amount),
            reason="checkout" if row["kind"] == "booking" else "upgrade",
        )
        out.append(capture)
        captured.setdefault(str(capture["booking_id"]), []).append(capture)

    refunded: dict[str, int] = {}  # payment intent -> refunded so far
    for row in rows:
        if row["kind"] != "downgrade" or not row["payment_intent_id"]:
            continue
        out.append(
            entry(
                row,
                kind="refund",
                status="requested" if row["refund_id"] else "queued",
                payment_intent_id=row["payment_intent_id"],
                provider_ref=row["refund_id"],
                idempotency_key=f"tierwise-refund-{row['id']}",
                amount_minor=row["total_minor"],
                fee_minor=min(row["platform_fee_minor"], row["total_minor"]),
                reason="downgrade",
            )
        )
        pi = row["payment_intent_id"]
        refunded[pi] = refunded.get(pi, 0) + row["total_minor"]

    for row in rows:
        if row["kind"] != "booking" or row["status"] not in ("cancelled", "refunded", "expired"):
            continue
        for capture in captured.get(str(row["id"]), []):
            pi = capture["payment_intent_id"]
            remaining = capture["amount_minor"] - refunded.get(pi, 0)
            if remaining <= 0:
                continue
            source = by_id.get((str(row["tenant_id"]), str(capture["change_id"]))) or row
            state = (
                "succeeded"
                if row["status"] == "refunded"
                else "requested"
                if source["refund_id"]
                else "queued"
            )
            out.append(
                entry(
                    source,
                    kind="refund",
                    status=state,
                    payment_intent_id=pi,
                    provider_ref=source["refund_id"] if state != "queued" else None,
                    idempotency_key=f"tierwise-refund-{source['id']}",
                    amount_minor=remaining,
                    fee_minor=capture["fee_minor"] * remaining // capture["amount_minor"],
                    reason="cancelled",
                )
            )
            refunded[pi] = refunded.get(pi, 0) + remaining

    bind.execute(sa.delete(bookings).where(bookings.c.kind == "downgrade"))
    return out, payments


def _one_pending_booking_per_quote() -> None:
    """The old code could hold several units for one quote: all but the newest pending booking
    of a quote expire and give their held unit back (a payment that still arrives for one is
    applied as a late payment: a unit if one is left, else refunded)."""
    bind = op.get_bind()
    uuid_type = sa.Uuid()
    bookings = sa.table(
        "bookings",
        sa.column("tenant_id", uuid_type),
        sa.column("id", uuid_type),
        sa.column("quote_id", sa.String()),
        sa.column("status", sa.String()),
        sa.column("kind", sa.String()),
        sa.column("hold_id", uuid_type),
        sa.column("created_at", sa.DateTime(timezone=True)),
    )
    holds = sa.table(
        "holds", sa.column("tenant_id", uuid_type), sa.column("id", uuid_type), sa.column("status")
    )
    pending = bind.execute(
        sa.select(bookings.c.tenant_id, bookings.c.id, bookings.c.quote_id, bookings.c.hold_id)
        .where(
            bookings.c.kind == "booking", bookings.c.status == "pending", bookings.c.quote_id != ""
        )
        .order_by(bookings.c.created_at.desc())
    ).all()
    seen: set[tuple[str, str]] = set()
    for tenant_id, booking_id, quote_id, hold_id in pending:
        if (str(tenant_id), quote_id) not in seen:
            seen.add((str(tenant_id), quote_id))
            continue
        bind.execute(
            sa.update(bookings)
            .where(bookings.c.tenant_id == tenant_id, bookings.c.id == booking_id)
            .values(status="expired")
        )
        if hold_id is not None:
            bind.execute(
                sa.update(holds)
                .where(
                    holds.c.tenant_id == tenant_id,
                    holds.c.id == hold_id,
                    holds.c.status == "active",
                )
                .values(status="released")
            )


def downgrade() -> None:
    op.drop_index("uq_bookings_pending_quote", table_name="bookings")
    op.drop_index("ix_bookings_tenant_parent", table_name="bookings")
    with op.batch_alter_table("bookings") as batch:
        batch.drop_constraint(op.f("ck_bookings_kind"), type_="check")
        batch.add_column(sa.Column("refund_id", sa.String(length=255), nullable=True))
    op.drop_column("idempotency_keys", "lease_expires_at")
    op.drop_column("idempotency_keys", "owner")
    op.drop_column("bookings", "from_tier_id")
    op.drop_column("bookings", "checkout_url")
    op.drop_index("ix_payments_queued", table_name="payments")
    op.drop_index("uq_payments_refund", table_name="payments")
    op.drop_index("uq_payments_capture", table_name="payments")
    op.drop_index("ix_payments_tenant_booking", table_name="payments")
    op.drop_table("payments")
