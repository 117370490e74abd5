"""decision chain append: one INSERT per request, not one per record (PostgreSQL)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07

``tw_append_decisions`` (migration 0010) ran one ``INSERT ... FROM json_populate_record`` per
record: each paid for its own executor (start, partition routing, opened indexes, end) and its own
``json_populate_record`` set-up. Here the loop only links the records (seq, previous hash, hash:
the same sha256 over ``seq|prev|row`` as before) into arrays, and one INSERT writes them all from
``unnest`` of those arrays. Same arguments, same rows, same head, same lock (the head ``FOR
UPDATE`` from the first statement to the end of the transaction): callers see no difference.

On an offer's three records (docs/benchmarks.md): 1.87 M instructions of the function's own per
append before, 1.74 M after (-7 %, callgrind: deterministic); PostgreSQL's CPU per append, commit
included, -5 % (bench/append_bench.py); more with more records per call (9 records: -13 %
instructions, -24 % CPU). What is left is not per statement: half of it is the rows' JSON
(parsed to validate it, parsed into columns, the ``json`` columns validated again), then the
hashes, the foreign key checks and the index entries. SQLite (the embedded default) links in Python
and has no function.
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0022"
down_revision: str | Sequence[str] | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND = r"""
CREATE OR REPLACE FUNCTION tw_append_decisions(p_tenant uuid, p_rows text)
RETURNS bigint LANGUAGE plpgsql AS $$
-- p_rows: the canonical JSON of each record (every column but seq, prev_hash, hash), one per line.
-- The loop links the rows; one INSERT writes them all (one executor, not one per row).
DECLARE
    v_seq bigint;
    v_prev varchar(64);
    v_row text;
    v_rows text[] := string_to_array(p_rows, E'\n');
    v_count int := 0;
    v_prevs text[];
    v_hashes text[];
BEGIN
    SELECT seq, hash INTO v_seq, v_prev FROM decision_chains WHERE tenant_id = p_tenant FOR UPDATE;
    IF NOT FOUND THEN
        INSERT INTO decision_chains (tenant_id, seq, hash, purged_through_seq, purged_last_hash, updated_at)
        VALUES (p_tenant, 0, repeat('0', 64), 0, repeat('0', 64), now())
        ON CONFLICT (tenant_id) DO NOTHING;
        SELECT seq, hash INTO v_seq, v_prev FROM decision_chains WHERE tenant_id = p_tenant FOR UPDATE;
    END IF;
    FOREACH v_row IN ARRAY v_rows LOOP  -- row n gets seq v_seq + n
        v_count := v_count + 1;
        v_prevs[v_count] := v_prev;
        v_prev := encode(sha256(convert_to((v_seq + v_count)::text || '|' || v_prev || '|' || v_row, 'UTF8')), 'hex');
        v_hashes[v_count] := v_prev;
    END LOOP;
    -- json (not jsonb): the row is only validated, and the json columns keep their text.
    INSERT INTO decisions (tenant_id, id, purpose, kinds, ruleset_version, ruleset_hash, engine,
        facts, considered, fired, outputs, context, request_id, quote_id, booking_id,
        created_at, masked_fields, customer_ref, seq, prev_hash, hash)
    SELECT r.tenant_id, r.id, r.purpose, r.kinds, r.ruleset_version, r.ruleset_hash, r.engine,
        r.facts, r.considered, r.fired, r.outputs, r.context, r.request_id, r.quote_id,
        r.booking_id, r.created_at, r.masked_fields, r.customer_ref, v_seq + l.n, l.prev_hash, l.hash
    FROM unnest(v_rows, v_prevs, v_hashes) WITH ORDINALITY AS l(row_text, prev_hash, hash, n),
        json_populate_record(NULL::decisions, l.row_text::json) AS r;
    v_seq := v_seq + v_count;
    UPDATE decision_chains SET seq = v_seq, hash = v_prev, updated_at = now() WHERE tenant_id = p_tenant;
    RETURN v_seq;
END
$$;
"""

#: Migration 0010's function, verbatim (tests/integration/test_decision_append.py holds it so):
#: what a downgrade puts back.
PREVIOUS = r"""
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
        op.execute(PREVIOUS)
