"""Decision records hash their canonical JSON; records written before orjson wrote it must still
verify, so orjson's bytes must be the standard library's, byte for byte, for anything a record
can hold (and the standard library writes whatever orjson refuses)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from storage.db import json_default
from storage.decision_text import canonical_json


def stdlib(data) -> bytes:
    return json.dumps(
        data, default=json_default, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


# Every code point, control characters and lone surrogates included.
TEXT = st.text(st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=20)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)  # beyond 64 bits: the fallback
    | TEXT
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.dates()
    | st.datetimes(timezones=st.just(dt.UTC))
)
JSONISH = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)


def outcome(write, data) -> tuple[str, object]:
    """The bytes written, or the error raised (a lone surrogate cannot be UTF-8 either way)."""
    try:
        return "bytes", write(data)
    except (TypeError, ValueError) as error:
        return "error", type(error)


@settings(max_examples=400, deadline=None)
@given(JSONISH)
def test_orjson_writes_the_standard_library_s_bytes(data):
    assert outcome(canonical_json, data) == outcome(stdlib, data)


@given(st.dictionaries(st.integers(-5, 5), st.integers(), min_size=1, max_size=3))
def test_non_string_keys_fall_back_to_the_standard_library(data):
    assert canonical_json(data) == stdlib(data)


def test_a_record_s_shape():
    record = {
        "facts": {"segment": "premium", "amount": 37300, "units_left": 10, "variant": ""},
        "considered": [["summer-peak", False, False], ["last-minute-3-days", True, True]],
        "outputs": {"last_minute": {"percent_off": Decimal("15.00"), "rules": ["lm"]}},
        "context": {"service_date": dt.date(2026, 11, 30), "customer": {"name": "Zoë \u2028"}},
        "quote_id": None,
    }
    assert canonical_json(record) == stdlib(record)
    assert canonical_json(record).startswith(b'{"considered":[["summer-peak",false,false]')
