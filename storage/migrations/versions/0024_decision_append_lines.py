"""decision chain append from lines: each record's columns beside its canonical JSON (PostgreSQL)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07

``tw_append_decisions`` (migration 0022) takes each record as its canonical JSON, hashes that
text and parses it twice more: ``::json`` validates it, then ``json_populate_record`` splits it
into columns, validating the seven ``json`` columns once again as it stores them. Half of what
PostgreSQL spends on a record was that JSON (docs/benchmarks.md). ``tw_append_decision_lines``
takes a line per record: the canonical JSON (hashed, exactly as before), then each column's text,
separated by U+001F; a column that is NULL is U+001E alone. The columns are split out with
``string_to_array`` and read by their types' own input functions: the ``json`` columns are
validated once, the rest is no JSON at all. JSON text never holds a raw U+001F, U+001E or newline
(control characters are escaped in it), and ``storage.decisions`` sends a batch as lines only when
none of its plain texts (ids, purpose, request id...) holds one either; otherwise it calls
``tw_append_decisions``, which stays. Same lock, same links, same rows, same head:
tests/integration/test_decision_append.py holds the two functions' rows equal, column for column.

bench/append_bench.py, one offer's records: PostgreSQL's CPU per record 51.3 → 41.2 µs (-20 %)
in calls of 48 records (a worker's decision spool at full load), 133 → 118 µs (-11 %) in calls of
3; the client writes each JSON column once and puts the body together from them (+4 µs per
record). SQLite (the embedded default) links in Python and has no function.
"""

from collections.abc import Sequence

from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0024"
down_revision: str | Sequence[str] | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_LINES = r"""
CREATE OR REPLACE FUNCTION tw_append_decision_lines(p_tenant uuid, p_lines text)
RETURNS bigint LANGUAGE plpgsql AS $$
-- p_lines: one line per record: its canonical JSON (every column but seq, prev_hash, hash), then
-- id, purpose, kinds, ruleset_version, ruleset_hash, engine, facts, considered, fired, outputs,
-- context, request_id, quote_id, booking_id, created_at, masked_fields, customer_ref, each after
-- U+001F; U+001E alone is NULL. The loop links the canonical JSON as tw_append_decisions does.
DECLARE
    v_seq bigint;
    v_prev varchar(64);
    v_line text;
    v_lines text[] := string_to_array(p_lines, E'\n');
    v_count int := 0;
    v_written bigint;
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
    FOREACH v_line IN ARRAY v_lines LOOP  -- line n gets seq v_seq + n
        v_count := v_count + 1;
        v_prevs[v_count] := v_prev;
        v_prev := encode(sha256(convert_to((v_seq + v_count)::text || '|' || v_prev || '|'
            || split_part(v_line, E'\x1f', 1), 'UTF8')), 'hex');
        v_hashes[v_count] := v_prev;
    END LOOP;
    INSERT INTO decisions (tenant_id, id, purpose, kinds, ruleset_version, ruleset_hash, engine,
        facts, considered, fired, outputs, context, request_id, quote_id, booking_id,
        created_at, masked_fields, customer_ref, seq, prev_hash, hash)
    SELECT p_tenant, c[2]::uuid, c[3], c[4]::json, c[5]::int, c[6], c[7], c[8]::json,
        c[9]::json, c[10]::json, c[11]::json, c[12]::json, c[13], nullif(c[14], E'\x1e'),
        nullif(c[15], E'\x1e')::uuid, c[16]::timestamptz, c[17]::json, nullif(c[18], E'\x1e'),
        v_seq + l.n, l.prev_hash, l.hash
    FROM unnest(v_lines, v_prevs, v_hashes) WITH ORDINALITY AS l(line, prev_hash, hash, n),
        string_to_array(l.line, E'\x1f') AS c
    WHERE cardinality(c) = 18;
    GET DIAGNOSTICS v_written = ROW_COUNT;
    IF v_written <> v_count THEN  -- a line of another shape: nothing is appended
        RAISE EXCEPTION 'a decision line has not 18 fields' USING ERRCODE = '22P02';
    END IF;
    v_seq := v_seq + v_count;
    UPDATE decision_chains SET seq = v_seq, hash = v_prev, updated_at = now() WHERE tenant_id = p_tenant;
    RETURN v_seq;
END
$$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(APPEND_LINES)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS tw_append_decision_lines(uuid, text)")
