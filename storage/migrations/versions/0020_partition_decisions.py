"""partition the decision log by month (PostgreSQL)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07

On PostgreSQL ``decisions`` becomes a table partitioned by range of ``created_at``, one partition
per calendar month (UTC), named ``decisions_yYYYYmMM``, plus ``decisions_default`` for anything
outside them (storage/decision_partitions.py creates months ahead and moves such rows out). The
primary key must hold the partition key: (tenant_id, id, created_at). ``seq`` can no longer be
unique across partitions (a unique key must hold the partition key too): the chain head, locked
by every append, hands each seq out once and verification finds any duplicate; ``(tenant_id,
seq)`` stays indexed. Every index leads with tenant_id.

The rows are copied into the new table in this migration: fine for the sizes it meets so far;
a log of hundreds of millions of rows is better moved month by month with the service stopped
(docs/operations.md). SQLite (the embedded default) keeps a plain table with the same keys.
"""

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0020"
down_revision: str | Sequence[str] | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Months created ahead of the current one (as storage.decision_partitions.AHEAD_MONTHS).
AHEAD_MONTHS = 3
PARTIAL = {
    "ix_decisions_tenant_quote": "quote_id",
    "ix_decisions_tenant_booking": "booking_id",
    "ix_decisions_tenant_customer": "customer_ref",
}
PLAIN = {
    "ix_decisions_tenant_created": "created_at",
    "ix_decisions_tenant_request": "request_id",
}


def _next_month(day: dt.date) -> dt.date:
    return dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)


def _drop_index_names() -> None:
    for name in (*PARTIAL, *PLAIN):
        op.execute(f"DROP INDEX IF EXISTS {name}")


def _create_indexes() -> None:
    for name, column in PLAIN.items():
        op.create_index(name, "decisions", ["tenant_id", column])
    for name, column in PARTIAL.items():
        where = sa.text(f"{column} IS NOT NULL")
        op.create_index(
            name, "decisions", ["tenant_id", column], postgresql_where=where, sqlite_where=where
        )


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("decisions", recreate="always") as batch:
            batch.drop_constraint("uq_decisions_tenant_id_seq", type_="unique")
            batch.drop_constraint("pk_decisions", type_="primary")
            batch.create_primary_key("pk_decisions", ["tenant_id", "id", "created_at"])
            batch.create_index("ix_decisions_tenant_seq", ["tenant_id", "seq"])
        return
    op.execute("ALTER TABLE decisions RENAME TO decisions_unpartitioned")
    _drop_index_names()
    for constraint in (
        "uq_decisions_tenant_id_seq",
        "fk_decisions_tenant_id_tenants",
        "pk_decisions",
    ):
        op.execute(f"ALTER TABLE decisions_unpartitioned DROP CONSTRAINT {constraint}")
    op.execute(
        "CREATE TABLE decisions (LIKE decisions_unpartitioned INCLUDING DEFAULTS)"
        " PARTITION BY RANGE (created_at)"
    )
    op.execute(
        "ALTER TABLE decisions ADD CONSTRAINT pk_decisions PRIMARY KEY (tenant_id, id, created_at),"
        " ADD CONSTRAINT fk_decisions_tenant_id_tenants FOREIGN KEY (tenant_id)"
        " REFERENCES tenants (id)"
    )
    _create_indexes()
    op.create_index("ix_decisions_tenant_seq", "decisions", ["tenant_id", "seq"])

    today = dt.datetime.now(dt.UTC).date().replace(day=1)
    oldest = op.get_bind().scalar(sa.text("SELECT min(created_at) FROM decisions_unpartitioned"))
    month = min(today, oldest.astimezone(dt.UTC).date().replace(day=1)) if oldest else today
    last = today
    for _ in range(AHEAD_MONTHS):
        last = _next_month(last)
    while month <= last:
        following = _next_month(month)
        op.execute(
            f"CREATE TABLE decisions_y{month.year:04d}m{month.month:02d} PARTITION OF decisions"
            f" FOR VALUES FROM ('{month.isoformat()} 00:00:00+00')"
            f" TO ('{following.isoformat()} 00:00:00+00')"
        )
        month = following
    op.execute("CREATE TABLE decisions_default PARTITION OF decisions DEFAULT")
    op.execute("INSERT INTO decisions SELECT * FROM decisions_unpartitioned")
    op.execute("DROP TABLE decisions_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        with op.batch_alter_table("decisions", recreate="always") as batch:
            batch.drop_index("ix_decisions_tenant_seq")
            batch.drop_constraint("pk_decisions", type_="primary")
            batch.create_primary_key("pk_decisions", ["tenant_id", "id"])
            batch.create_unique_constraint("uq_decisions_tenant_id_seq", ["tenant_id", "seq"])
        return
    op.execute("ALTER TABLE decisions RENAME TO decisions_partitioned")
    _drop_index_names()
    op.execute("DROP INDEX ix_decisions_tenant_seq")
    for constraint in ("fk_decisions_tenant_id_tenants", "pk_decisions"):
        op.execute(f"ALTER TABLE decisions_partitioned DROP CONSTRAINT {constraint}")
    op.execute("CREATE TABLE decisions (LIKE decisions_partitioned INCLUDING DEFAULTS)")
    op.execute(
        "ALTER TABLE decisions ADD CONSTRAINT pk_decisions PRIMARY KEY (tenant_id, id),"
        " ADD CONSTRAINT fk_decisions_tenant_id_tenants FOREIGN KEY (tenant_id)"
        " REFERENCES tenants (id),"
        " ADD CONSTRAINT uq_decisions_tenant_id_seq UNIQUE (tenant_id, seq)"
    )
    _create_indexes()
    op.execute("INSERT INTO decisions SELECT * FROM decisions_partitioned")
    op.execute("DROP TABLE decisions_partitioned CASCADE")
