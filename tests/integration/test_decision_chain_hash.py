"""The decision chain's link hash has two definitions, which must agree: PostgreSQL's
(``tw_append_decision_lines``, migration 0024, and ``tw_append_decisions``, migration 0022, which
link a request's records under the head's lock)
and Python's (``storage.decision_text.chain_hash``, which links them on SQLite, and ``link_hash``,
which ``verify`` holds every stored record to). Records carrying what could make them differ
(unicode, escapes, nulls, numbers beyond 64 bits, exact decimals, dates, instants in other zones)
are appended on PostgreSQL: every link is the one Python computes, and every record read back,
whatever the session's time zone, verifies."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import text

from app.services import decision_log
from storage import decisions
from storage.decision_text import canonical, chain_hash, link_hash
from storage.decisions import GENESIS, DecisionRecord

UNICODE = {
    "accents": "Zoë Ångström, crème brûlée",
    "scripts": "東京 · Москва · مرحبا · שלום · ಕನ್ನಡ",
    "emoji": "🏨🛎️👨‍👩‍👧",
    "combining": "e\u0301 n\u0303",
    "separators": "a\u2028b\u2029c\u0085d",
    "escapes": 'say "hi" \\ back\ttab/slash',
    "chain_syntax": "1|" + "0" * 64 + "|",
}
NULLS = {"none": None, "list": [None, 0, "", False], "nested": {"empty": {}, "nothing": []}}
NUMBERS = {
    "int64_max": 2**63 - 1,
    "int64_min": -(2**63),
    "beyond_64_bits": 2**64 + 1,  # orjson refuses it: the standard library writes it
    "far_beyond": -(10**40),
    "exact": Decimal("12345678901234567890.000000001"),
    "trailing_zeros": Decimal("0.00"),
    "minor_units": 10**15,
}


def _records(tenant_id: str) -> list[DecisionRecord]:
    base = DecisionRecord(
        id="",
        tenant_id=tenant_id,
        purpose="offer",
        kinds=["season", "upsell"],
        ruleset_version=1,
        ruleset_hash="a" * 64,
        engine="durable",
        facts={},
        considered=[["summer-peak", True, False]],
        fired=[],
        outputs={},
        context={},
        request_id="chain-hash",
        quote_id=None,
        booking_id=None,
        created_at=dt.datetime(2027, 3, 1, 8, 0, 0, 123456, tzinfo=dt.UTC),
    )
    kathmandu = dt.timezone(dt.timedelta(hours=5, minutes=45))
    variants = [
        {"facts": UNICODE, "outputs": {"upsell": {"label": UNICODE["scripts"]}}},
        {"facts": NULLS, "outputs": {"season": {"multiplier": None}}, "context": {"x": None}},
        {
            "facts": NUMBERS,
            "outputs": {"season": {"multiplier": Decimal("1.2")}},
            "ruleset_version": 2**31 - 1,
        },
        {
            "facts": {"service_date": dt.date(2027, 12, 31), "guests": 2},
            "purpose": "quote",
            "quote_id": "q_" + "ü" * 20,
            "booking_id": str(uuid.uuid4()),
            "customer_ref": "c" * 64,
            "masked_fields": ["/context/customer/email", "/context/customer/name"],
            "context": {"customer": {"email": "pii:" + "0" * 32}},
            "created_at": dt.datetime(2027, 3, 1, 23, 59, 59, 999999, tzinfo=kathmandu),
        },
        {"created_at": dt.datetime(2027, 3, 1, 8, 0, tzinfo=dt.UTC), "fired": ["r" * 200]},
    ]
    return [dataclasses.replace(base, id=str(uuid.uuid4()), **v) for v in variants]


@pytest.mark.parametrize("time_zone", ["UTC", "Asia/Kathmandu", "America/St_Johns"])
def test_postgresql_links_records_as_python_does(db, tenant_a, time_zone):
    tenant = tenant_a.tenant.id
    records = _records(tenant)
    with db.transaction() as s:
        head = decisions.chain_head(s, tenant)
        seq, previous = (head.seq, head.hash) if head is not None else (0, GENESIS)
        decisions.add_decisions(s, records)  # on PostgreSQL: tw_append_decision_lines
        s.execute(text("SELECT set_config('TimeZone', :zone, true)"), {"zone": time_zone})
        stored = {r.id: r for r in decisions.chain(s, tenant) if (r.seq or 0) > seq}

    assert len(stored) == len(records)
    for record in records:
        seq += 1
        link = chain_hash(seq, previous, canonical(record))  # Python's definition
        read = stored[record.id]
        assert (read.seq, read.prev_hash, read.hash) == (seq, previous, link), record.facts
        assert link_hash(read) == read.hash  # what verify recomputes from the stored row
        previous = link

    result = decision_log.verify(db, tenant)
    assert (result["valid"], result["head_seq"]) == (True, seq)
