"""tenants' rate-limit overrides, set by platform admins (docs/operations.md, Rate limits)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0021"
down_revision: str | Sequence[str] | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "tenants", sa.Column("rate_limit_storefront", sa.String(length=100), nullable=True)
    )
    op.add_column("tenants", sa.Column("rate_limit_admin", sa.String(length=100), nullable=True))


def downgrade() -> None:
    op.drop_column("tenants", "rate_limit_admin")
    op.drop_column("tenants", "rate_limit_storefront")
