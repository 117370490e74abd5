"""What every request body and ruleset document must be: plain data. One walker
(``rules.documents.plain_data_problem``) for both; JSON bodies parsed by
``app.http.json_provider.parse_request_json``, YAML documents by ``rules.documents.load_document``."""

from __future__ import annotations

import json

import pytest
import yaml

from app.http.json_provider import MAX_INTEGER_DIGITS, RequestJsonRefused, parse_request_json
from pricing.errors import BadRequest, InvalidInput
from rules.defaults import DEFAULT_RULESET
from rules.documents import MAX_DEPTH, load_document, plain_data_problem
from rules.language import RulesetInvalid


def nested(depth: int) -> str:
    return "[" * depth + "1" + "]" * depth


def refusal(body: str) -> tuple[type, list[dict[str, str]]]:
    with pytest.raises(RequestJsonRefused) as raised:
        parse_request_json(body.encode())
    return type(raised.value.error), raised.value.error.details


def test_the_walker_finds_the_first_problem_and_its_pointer() -> None:
    assert plain_data_problem({"a": [1, "ok", {"b~/c": 2.5}]}) is None
    assert plain_data_problem({"a": [1, "x\ud800"]}) == (
        "/a/1",
        "Lone surrogates (half of a UTF-16 pair) are not allowed.",
    )
    assert plain_data_problem({"a": {"b/c": "\x00"}}) == (
        "/a/b~1c",
        "NUL characters are not allowed.",
    )
    assert plain_data_problem({"a": {"\ud800": 1}})[0] == "/a"  # a key: at the object holding it
    assert plain_data_problem([float("nan")]) == ("/0", "Numbers must be finite.")
    assert plain_data_problem(json.loads(nested(MAX_DEPTH))) is None
    assert plain_data_problem(json.loads(nested(MAX_DEPTH + 1)))[1].startswith("Nested deeper")


def test_request_bodies_nest_at_most_max_depth_levels() -> None:
    assert parse_request_json(nested(MAX_DEPTH)) == json.loads(nested(MAX_DEPTH))
    for depth in (MAX_DEPTH + 1, 900, 100_000):  # the last one beyond the parser's recursion
        kind, details = refusal(nested(depth))
        assert kind is BadRequest
        assert details[0]["message"] == f"Nested deeper than {MAX_DEPTH} levels."


def test_integers_of_more_than_20_digits_are_refused_at_their_path() -> None:
    longest = "9" * MAX_INTEGER_DIGITS
    assert parse_request_json(f'{{"n": [-{longest}]}}') == {"n": [-int(longest)]}
    for body in (
        f'{{"n": [{longest}9]}}',
        f'{{"n": [-{longest}9]}}',
        '{"n": [' + "9" * 5000 + "]}",
    ):
        kind, details = refusal(body)
        assert (kind, details[0]["path"]) == (InvalidInput, "/json/n/0")


def test_non_finite_numbers_and_lone_surrogates_are_refused() -> None:
    for literal in ("NaN", "Infinity", "-Infinity"):
        assert refusal(f'{{"x": {literal}}}')[0] is BadRequest
    assert refusal('{"x": 1e400}') == (
        InvalidInput,
        [{"path": "/json/x", "message": "Numbers must be finite."}],
    )
    assert parse_request_json('{"x": 1E-400}') == {"x": 0.0}  # a finite number, if a tiny one
    kind, details = refusal('{"name": "\\ud800"}')
    assert (kind, details[0]["path"]) == (InvalidInput, "/json/name")
    assert refusal('{"\\udc00": 1}')[1][0]["path"] == "/json"
    assert parse_request_json('{"x": "\\ud83d\\ude00"}') == {"x": "😀"}  # a pair is a character
    assert refusal('{"x": "\\u0000"}')[1] == [
        {"path": "/json/x", "message": "NUL characters are not allowed."}
    ]


def test_what_is_not_json_is_a_bad_request() -> None:
    for body in ("{", "", "{'a': 1}", '{"a": 1} 2'):
        assert refusal(body)[0] is BadRequest
    with pytest.raises(RequestJsonRefused):
        parse_request_json(b"\xff\xfe")


def yaml_error(text: str) -> str:
    with pytest.raises(RulesetInvalid) as raised:
        load_document(text, "application/yaml")
    (error,) = raised.value.errors
    assert error["path"] == "/"
    return str(error["message"])


def test_yaml_documents_are_plain_data() -> None:
    assert load_document(yaml.safe_dump(DEFAULT_RULESET), "application/yaml") == json.loads(
        json.dumps(DEFAULT_RULESET)
    )
    assert load_document("a: " + nested(MAX_DEPTH - 1), "application/yaml") == {
        "a": json.loads(nested(MAX_DEPTH - 1))
    }
    assert f"nested deeper than {MAX_DEPTH} levels" in yaml_error("a: " + nested(MAX_DEPTH))
    assert "nested deeper" in yaml_error(nested(5000))  # refused at level 33, not recursed into
    assert "/a/0" in yaml_error('a: ["\\ud800"]')
    assert "NUL" in yaml_error('a: "\\0"')
    assert "finite" in yaml_error("a: .nan")
    assert "finite" in yaml_error("a: -.inf")


def test_yaml_anchors_are_refused_at_the_first_one() -> None:
    bomb = "a: &a [" + ", ".join(["x"] * 1000) + "]\nb: [*a, *a, *a]\n"
    message = yaml_error(bomb)
    assert "anchors and aliases are not allowed" in message
    assert "line 1, column 4" in message
    assert "aliases" in yaml_error("a: 1\nb: *a\n")
    assert "anchors" in yaml_error("a: &x 1\n")  # an anchor alone is refused too
