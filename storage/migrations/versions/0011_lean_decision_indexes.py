"""lean decision indexes

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


PARTIAL = {
    "ix_decisions_tenant_quote": "quote_id",
    "ix_decisions_tenant_booking": "booking_id",
    "ix_decisions_tenant_customer": "customer_ref",
}


def upgrade() -> None:
    """Browsed offers (most records) skip the quote, booking and customer indexes; the purpose
    filter uses the (tenant, created_at) range."""
    op.drop_index("ix_decisions_tenant_purpose_created", table_name="decisions")
    for name, column in PARTIAL.items():
        where = sa.text(f"{column} IS NOT NULL")
        op.drop_index(name, table_name="decisions")
        op.create_index(
            name, "decisions", ["tenant_id", column], postgresql_where=where, sqlite_where=where
        )


def downgrade() -> None:
    for name, column in PARTIAL.items():
        op.drop_index(name, table_name="decisions")
        op.create_index(name, "decisions", ["tenant_id", column])
    op.create_index(
        "ix_decisions_tenant_purpose_created", "decisions", ["tenant_id", "purpose", "created_at"]
    )
