"""activation schedule: cancelled activations and truthful actions

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLE = "ruleset_activations"
ACTION = "ck_ruleset_activations_action"
CANCELLED = "ck_ruleset_activations_cancelled_before_activation"


def upgrade() -> None:
    """A pending activation can be cancelled (when, by whom; always before it would have taken
    effect); activating a version at least as new as the one in force is ``activate``, no longer
    ``rollback``. Existing rows keep their labels: what was recorded is left as it was."""
    # batch: SQLite (the embedded default) cannot change a CHECK constraint in place.
    with op.batch_alter_table(TABLE) as batch:
        batch.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("cancelled_by", sa.String(length=200), nullable=True))
        batch.drop_constraint(op.f(ACTION), type_="check")
        batch.create_check_constraint(op.f(ACTION), "action IN ('publish', 'activate', 'rollback')")
        batch.create_check_constraint(
            op.f(CANCELLED),
            "(cancelled_at IS NULL AND cancelled_by IS NULL) OR (cancelled_at IS NOT NULL"
            " AND cancelled_by IS NOT NULL AND cancelled_at < activates_at)",
        )


def downgrade() -> None:
    """Cancelled activations would count again without their columns: they are deleted, and
    ``activate`` rows become ``rollback`` rows as they were recorded before."""
    op.execute(sa.text("DELETE FROM ruleset_activations WHERE cancelled_at IS NOT NULL"))
    op.execute(
        sa.text("UPDATE ruleset_activations SET action = 'rollback' WHERE action = 'activate'")
    )
    with op.batch_alter_table(TABLE) as batch:
        batch.drop_constraint(op.f(CANCELLED), type_="check")
        batch.drop_constraint(op.f(ACTION), type_="check")
        batch.create_check_constraint(op.f(ACTION), "action IN ('publish', 'rollback')")
        batch.drop_column("cancelled_by")
        batch.drop_column("cancelled_at")
