"""Decision, quote and request ids: time-ordered version-7 UUIDs (storage.ids), made without a
UUID object."""

from __future__ import annotations

import time
import uuid

from app.http.incoming import request_id
from app.services.offers import new_id
from storage.ids import uuid7_hex


def test_ids_are_canonical_version_7_uuids_of_the_time_they_were_made():
    before = time.time_ns() // 1_000_000
    ids = [new_id() for _ in range(2000)]
    after = time.time_ns() // 1_000_000
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (7, uuid.RFC_4122)
        assert str(parsed) == text
        assert before <= parsed.int >> 80 <= after  # the Unix time in milliseconds
    # made one after another, their time parts (to a 4096th of a millisecond) never go back
    times = [uuid.UUID(text).int >> 64 for text in ids]
    assert times == sorted(times) and len(set(times)) > len(ids) // 2
    # every random nibble takes every value somewhere (not a constant or a narrow range)
    assert {text[-1] for text in ids} == set("0123456789abcdef")
    assert {text[19] for text in ids} == set("89ab")


def test_request_ids_are_the_same_ids_as_32_hex_digits():
    ids = [request_id(None) for _ in range(500)]
    assert len(set(ids)) == len(ids)
    assert [text[:16] for text in ids] == sorted(text[:16] for text in ids)
    for text in ids:
        assert len(text) == 32 and uuid.UUID(text).version == 7
    assert uuid.UUID(uuid7_hex()).variant == uuid.RFC_4122
    assert request_id("order-42:retry.1") == "order-42:retry.1"  # a client's safe id is kept
