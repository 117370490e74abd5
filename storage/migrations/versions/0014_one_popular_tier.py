"""one popular tier per segment

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07

"""

import datetime as dt
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "uq_tiers_one_popular"

tiers = sa.table(
    "tiers",
    sa.column("tenant_id", sa.Uuid()),
    sa.column("id", sa.Uuid()),
    sa.column("segment_id", sa.Uuid()),
    sa.column("level", sa.Integer()),
    sa.column("popular", sa.Boolean()),
    sa.column("status", sa.String()),
    sa.column("version", sa.Integer()),
    sa.column("updated_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    """Where a segment has several popular tiers, keep the badge on one — an active tier before an
    archived one, then the most recently updated (the admin's latest edit), then the highest level
    — and unflag the others (version bumped, so ETags read before are stale); then let the
    database keep it so. Archived tiers count: restoring a tier never makes a second badge."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(
            tiers.c.tenant_id,
            tiers.c.segment_id,
            tiers.c.id,
            tiers.c.status,
            tiers.c.updated_at,
            tiers.c.level,
        ).where(tiers.c.popular == sa.true())
    ).all()
    by_segment: dict[tuple[object, object], list[sa.Row[*tuple[Any, ...]]]] = {}
    for row in rows:
        by_segment.setdefault((row.tenant_id, row.segment_id), []).append(row)
    now = dt.datetime.now(dt.UTC)
    for flagged in by_segment.values():
        if len(flagged) < 2:
            continue
        flagged.sort(
            key=lambda r: (r.status == "active", r.updated_at, r.level, str(r.id)), reverse=True
        )
        for row in flagged[1:]:
            bind.execute(
                tiers.update()
                .where(tiers.c.tenant_id == row.tenant_id, tiers.c.id == row.id)
                .values(popular=False, version=tiers.c.version + 1, updated_at=now)
            )
    where = sa.text("popular")
    op.create_index(
        INDEX,
        "tiers",
        ["tenant_id", "segment_id"],
        unique=True,
        postgresql_where=where,
        sqlite_where=where,
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="tiers")
