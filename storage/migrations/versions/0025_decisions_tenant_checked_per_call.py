"""decisions: the tenant checked once per append, not by a per-row foreign key

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07

Every decision record reaches PostgreSQL through ``tw_append_decisions`` or
``tw_append_decision_lines`` (``storage.decisions.add_decisions``), which first lock the tenant's
chain head in ``decision_chains`` and create it when missing; that row's own foreign key to
``tenants`` refuses an unknown tenant before any record is written, once per call. The foreign
key of ``decisions`` itself checked the same thing again for every row: a query per record,
~20 % of the backend's CPU per appended record (docs/benchmarks.md). Tenants are never deleted
(they are suspended), so nothing else did it guard against. It goes; the chain head's stays.

SQLite (the embedded default) rebuilds the table without it (batch mode), and its partial
indexes are made again with their predicates.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0025"
down_revision: str | Sequence[str] | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FOREIGN_KEY = "fk_decisions_tenant_id_tenants"
#: The partial indexes of ``decisions`` (migration 0011), by column.
PARTIAL = {
    "ix_decisions_tenant_quote": "quote_id",
    "ix_decisions_tenant_booking": "booking_id",
    "ix_decisions_tenant_customer": "customer_ref",
}


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(FOREIGN_KEY, "decisions", type_="foreignkey")
        return
    with op.batch_alter_table("decisions", recreate="always") as batch:
        batch.drop_constraint(FOREIGN_KEY, type_="foreignkey")
    _partial_indexes_again()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.create_foreign_key(FOREIGN_KEY, "decisions", "tenants", ["tenant_id"], ["id"])
        return
    with op.batch_alter_table("decisions", recreate="always") as batch:
        batch.create_foreign_key(FOREIGN_KEY, "tenants", ["tenant_id"], ["id"])
    _partial_indexes_again()


def _partial_indexes_again() -> None:
    """SQLite's batch copy of the table keeps the indexes' columns, not always their WHERE."""
    for name, column in PARTIAL.items():
        where = sa.text(f"{column} IS NOT NULL")
        op.execute(f"DROP INDEX IF EXISTS {name}")
        op.create_index(name, "decisions", ["tenant_id", column], sqlite_where=where)
