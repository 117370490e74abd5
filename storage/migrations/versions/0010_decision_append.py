"""decision chain append function (PostgreSQL)

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27

One round trip appends a request's decision records to the tenant's hash chain: lock the head,
link and insert the rows, move the head (see storage/decisions.py for the hash definition). SQLite
(the embedded default) does the same in Python.
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND = r"""
CREATE OR REPLACE FUNCTION tw_append_decisions(p_tenant uuid, p_rows text)
RETURNS bigint LANGUAGE plpgsql AS $$
-- p_rows: the canonical JSON of each record (every column but seq, prev_hash, hash), one per line.
DECLARE
    v_seq bigint;
    v_prev varchar(64);
    v_hash varchar(64);
    v_row text;
BEGIN
    SELECT seq, hash INTO v_seq, v_prev FROM decision_chains WHERE tenant_id = p_tenant FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO decision_chains (tenant_id, seq, hash, purged_through_seq, purged_last_hash, updated_at)
        VALUES (p_tenant, 0, repeat('0', 64), 0, repeat('0', 64), now())
        ON CONFLICT (tenant_id) DO NOTHING;
        SELECT seq, hash INTO v_seq, v_prev FROM decision_chains WHERE tenant_id = p_tenant FOR UPDATE;
    END IF;
    FOREACH v_row IN ARRAY string_to_array(p_rows, E'\n') LOOP
        v_seq := v_seq + 1;
        v_hash := encode(sha256(convert_to(v_seq::text || '|' || v_prev || '|' || v_row, 'UTF8')), 'hex');
        -- json (not jsonb): the row is only validated, and the json columns keep their text.
        INSERT INTO decisions (tenant_id, id, purpose, kinds, ruleset_version, ruleset_hash, engine,
            facts, considered, fired, outputs, context, request_id, quote_id, booking_id,
            created_at, masked_fields, customer_ref, seq, prev_hash, hash)
        SELECT r.tenant_id, r.id, r.purpose, r.kinds, r.ruleset_version, r.ruleset_hash, r.engine,
            r.facts, r.considered, r.fired, r.outputs, r.context, r.request_id, r.quote_id,
            r.booking_id, r.created_at, r.masked_fields, r.customer_ref, v_seq, v_prev, v_hash
        FROM json_populate_record(NULL::decisions, v_row::json) AS r;
        v_prev := v_hash;
    END LOOP;
    UPDATE decision_chains SET seq = v_seq, hash = v_prev, updated_at = now() WHERE tenant_id = p_tenant;
    RETURN v_seq;
END
$$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS tw_append_decisions(uuid, text)")
