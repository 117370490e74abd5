"""app.http.errors.flatten_messages: marshmallow/webargs messages -> JSON-pointer details."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from app.http.errors import flatten_messages


def test_webargs_location_and_field() -> None:
    messages = {"json": {"name": ["Missing data for required field."]}}
    assert flatten_messages(messages) == [
        {"path": "/json/name", "message": "Missing data for required field."}
    ]


def test_nested_fields_become_pointer_segments() -> None:
    messages = {
        "json": {
            "base_price": {"amount": ["Must be greater than or equal to 0."]},
            "per_guest_price": {"currency": ["Unknown currency."]},
        }
    }
    assert flatten_messages(messages) == [
        {"path": "/json/base_price/amount", "message": "Must be greater than or equal to 0."},
        {"path": "/json/per_guest_price/currency", "message": "Unknown currency."},
    ]


def test_several_messages_for_one_field_keep_their_order() -> None:
    messages = {"json": {"key": ["Not a valid string.", "Length must be between 1 and 40."]}}
    assert flatten_messages(messages) == [
        {"path": "/json/key", "message": "Not a valid string."},
        {"path": "/json/key", "message": "Length must be between 1 and 40."},
    ]


def test_list_indexes_become_pointer_segments() -> None:
    # marshmallow reports List/Nested(many=True) errors keyed by the int index
    messages = {
        "json": {
            "features": {
                0: {"key": ["Missing data for required field."]},
                2: {"value": ["Not a valid value."], "label": ["Too long."]},
            },
            "tier_ids": {1: ["Not a valid UUID."]},
        }
    }
    assert flatten_messages(messages) == [
        {"path": "/json/features/0/key", "message": "Missing data for required field."},
        {"path": "/json/features/2/value", "message": "Not a valid value."},
        {"path": "/json/features/2/label", "message": "Too long."},
        {"path": "/json/tier_ids/1", "message": "Not a valid UUID."},
    ]


def test_schema_level_and_unknown_field_errors() -> None:
    messages = {
        "json": {
            "_schema": ["end must not be before start."],
            "colour": ["Unknown field."],
        },
        "query": {
            "page_size": ["Must be greater than or equal to 1 and less than or equal to 100."]
        },
    }
    assert flatten_messages(messages) == [
        {"path": "/json/_schema", "message": "end must not be before start."},
        {"path": "/json/colour", "message": "Unknown field."},
        {
            "path": "/query/page_size",
            "message": "Must be greater than or equal to 1 and less than or equal to 100.",
        },
    ]


def test_slash_and_tilde_in_keys_are_escaped() -> None:
    messages = {
        "json": {
            "a/b": ["slash"],
            "a~b": ["tilde"],
            "~1": ["tilde one"],
            "/~": ["both"],
            "features": {"x/y": {"~": ["deep"]}},
        }
    }
    assert flatten_messages(messages) == [
        {"path": "/json/a~1b", "message": "slash"},
        {"path": "/json/a~0b", "message": "tilde"},
        {"path": "/json/~01", "message": "tilde one"},
        {"path": "/json/~1~0", "message": "both"},
        {"path": "/json/features/x~1y/~0", "message": "deep"},
    ]


def test_empty_key_is_an_empty_segment() -> None:
    assert flatten_messages({"json": {"": ["empty key"]}}) == [
        {"path": "/json/", "message": "empty key"}
    ]


def test_non_string_messages_are_stringified() -> None:
    assert flatten_messages({"json": {"count": 42, "flag": None}}) == [
        {"path": "/json/count", "message": "42"},
        {"path": "/json/flag", "message": "None"},
    ]


def test_a_list_mixing_strings_and_dicts_flattens_each_item_at_the_same_path() -> None:
    messages = {"json": {"rules": ["Invalid rule.", {"when": ["Required."]}]}}
    assert flatten_messages(messages) == [
        {"path": "/json/rules", "message": "Invalid rule."},
        {"path": "/json/rules/when", "message": "Required."},
    ]


def test_a_list_of_dicts_flattens_each_dict() -> None:
    messages = {"json": [{"a": ["first"]}, {"b": ["second"]}]}
    assert flatten_messages(messages) == [
        {"path": "/json/a", "message": "first"},
        {"path": "/json/b", "message": "second"},
    ]


def test_nothing_to_report() -> None:
    assert flatten_messages({}) == []
    assert flatten_messages({"json": {}}) == []
    assert flatten_messages({"json": {"name": []}}) == []


def test_prefix_is_prepended_and_not_mutated() -> None:
    prefix = ["json", "a/b"]
    assert flatten_messages({"c": ["m"]}, prefix) == [{"path": "/json/a~1b/c", "message": "m"}]
    assert prefix == ["json", "a/b"]


def unescape(segment: str) -> str:
    return segment.replace("~1", "/").replace("~0", "~")


# keys dense in the two characters that need escaping, plus arbitrary text
keys = st.one_of(st.text(alphabet="a~/01", min_size=1, max_size=8), st.text(min_size=1, max_size=8))


@given(st.lists(keys, min_size=1, max_size=5), st.text(max_size=20))
def test_pointer_round_trips_to_the_keys(keys: list[str], message: str) -> None:
    messages: object = [message]
    for key in reversed(keys):
        messages = {key: messages}
    [detail] = flatten_messages(messages)
    assert detail["message"] == message
    assert detail["path"].startswith("/")
    segments = detail["path"][1:].split("/")
    assert [unescape(s) for s in segments] == keys
