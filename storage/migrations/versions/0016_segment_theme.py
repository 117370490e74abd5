"""segments: the storefront widget's theme

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0016"
down_revision: str | Sequence[str] | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("segments") as batch:
        batch.add_column(sa.Column("theme", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("segments") as batch:
        batch.alter_column("theme", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("segments") as batch:
        batch.drop_column("theme")
