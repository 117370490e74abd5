"""availability changes announced: NOTIFY tw_availability with the tenant's id (PostgreSQL)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07

Browsed offers keep a tenant's availability counts in the worker (``storage.availability_cache``)
and forget them when this channel names the tenant. Every write that can change the counts
announces itself here, whoever makes it (the API, the outbox worker, the sweeper, a psql
session): a row of ``capacity``, ``holds``, ``bookings`` or ``blackouts`` inserted, updated or
deleted, a tenant's ``catalog_version`` moved (the counts name the version to price with); a
TRUNCATE of one of the tables announces everyone (an empty payload). PostgreSQL delivers a
transaction's notifications when it commits, never when it rolls back, and sends one of each
payload per transaction however many rows it touched. SQLite (the embedded default, one process)
has no channel and keeps no counts.
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0023"
down_revision: str | Sequence[str] | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("capacity", "holds", "bookings", "blackouts")

FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION tw_availability_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'TRUNCATE' THEN
        PERFORM pg_notify('tw_availability', '');
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('tw_availability', OLD.tenant_id::text);
    ELSE
        PERFORM pg_notify('tw_availability', NEW.tenant_id::text);
        IF TG_OP = 'UPDATE' AND OLD.tenant_id IS DISTINCT FROM NEW.tenant_id THEN
            PERFORM pg_notify('tw_availability', OLD.tenant_id::text);
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION tw_catalog_version_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('tw_availability', NEW.id::text);
    RETURN NULL;
END $$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTIONS)
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER tw_availability_changed AFTER INSERT OR UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION tw_availability_changed()"
        )
        op.execute(
            f"CREATE TRIGGER tw_availability_truncated AFTER TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION tw_availability_changed()"
        )
    op.execute(
        "CREATE TRIGGER tw_catalog_version_changed AFTER UPDATE OF catalog_version ON tenants"
        " FOR EACH ROW WHEN (OLD.catalog_version IS DISTINCT FROM NEW.catalog_version)"
        " EXECUTE FUNCTION tw_catalog_version_changed()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER tw_catalog_version_changed ON tenants")
    for table in TABLES:
        op.execute(f"DROP TRIGGER tw_availability_truncated ON {table}")
        op.execute(f"DROP TRIGGER tw_availability_changed ON {table}")
    op.execute("DROP FUNCTION tw_catalog_version_changed()")
    op.execute("DROP FUNCTION tw_availability_changed()")
