"""A decision record as an offer makes one, for tests that write the log directly."""

from __future__ import annotations

import datetime as dt
import uuid

from storage.decisions import DecisionRecord


def record(tenant_id: str, created_at: dt.datetime, request_id: str = "test") -> DecisionRecord:
    return DecisionRecord(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        purpose="offer",
        kinds=["season"],
        ruleset_version=1,
        ruleset_hash="a" * 64,
        engine="durable",
        facts={"guests": 2},
        considered=[["summer-peak", True, True]],
        fired=["summer-peak"],
        outputs={"season": {"multiplier": "1.1"}},
        context={},
        request_id=request_id,
        quote_id=None,
        booking_id=None,
        created_at=created_at,
    )
