"""Decision and quote ids: random version-4 UUIDs in canonical text, made without uuid.uuid4."""

from __future__ import annotations

import uuid

from app.services.offers import new_id


def test_ids_are_canonical_random_version_4_uuids():
    ids = [new_id() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    for text in ids:
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text
    # every random nibble takes every value somewhere (not a constant or a narrow range)
    assert {text[0] for text in ids} == set("0123456789abcdef")
    assert {text[19] for text in ids} == set("89ab")
