"""storefront API keys: allowed browser origins (CORS) and a version (ETag)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.add_column(
            sa.Column("allowed_origins", sa.JSON(), nullable=False, server_default="[]")
        )
        batch.add_column(sa.Column("version", sa.Integer(), nullable=False, server_default="1"))
    with op.batch_alter_table("api_keys") as batch:
        batch.alter_column("allowed_origins", server_default=None)
        batch.alter_column("version", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("api_keys") as batch:
        batch.drop_column("version")
        batch.drop_column("allowed_origins")
