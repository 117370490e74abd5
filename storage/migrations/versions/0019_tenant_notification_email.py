"""tenants: the address that hears of new bookings and disabled webhook endpoints

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0019"
down_revision: str | Sequence[str] | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(
            sa.Column(
                "notification_email", sa.String(length=254), nullable=False, server_default=""
            )
        )
    with op.batch_alter_table("tenants") as batch:
        batch.alter_column("notification_email", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("tenants") as batch:
        batch.drop_column("notification_email")
