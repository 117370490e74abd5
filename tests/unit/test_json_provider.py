"""The orjson provider writes the same JSON as Flask's own provider, but for time: ISO 8601."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from flask import Flask
from flask.json.provider import DefaultJSONProvider

from app.http.json_provider import OrjsonProvider, default


@dataclasses.dataclass
class Point:
    x: int
    label: str


VALUES = [
    {"amount": 31705, "currency": "EUR", "lines": [["base", "19900", []]], "none": None},
    {"rate": Decimal("12.50"), "id": uuid.UUID("6ea2abf2-c222-4f00-ade1-a61a2ba8efa8")},
    {"day": dt.date(2026, 11, 30), "at": dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)},
    {"point": Point(1, "Café ünïcode ☕"), 7: "int key", "big": 2**70, "flag": True},
    ["nested", [1, 2.5, {"deep": [None]}], '\x00 escapes \n " \\'],
]


def flask_s(app: Flask) -> DefaultJSONProvider:
    """Flask's own provider as the app had it (keys in insertion order), with time in ISO 8601."""
    provider = DefaultJSONProvider(app)
    provider.sort_keys = False
    provider.default = default  # type: ignore[method-assign]
    return provider


@pytest.fixture
def app() -> Flask:
    app = Flask("json-test")
    app.json = OrjsonProvider(app)
    return app


@pytest.mark.parametrize("value", VALUES)
def test_the_same_json_as_flask_s_provider(app, value):
    ours = app.json.dumps(value)
    theirs = flask_s(app).dumps(value)

    assert json.loads(ours) == json.loads(theirs)


@pytest.mark.parametrize("value", VALUES)
def test_a_response_carries_it_with_a_newline(app, value):
    with app.app_context():
        response = app.json.response(value)

    assert response.mimetype == "application/json"
    assert response.data.endswith(b"\n")
    assert json.loads(response.data) == json.loads(flask_s(app).dumps(value))


def test_time_is_iso_8601_never_an_http_date(app):
    written = json.loads(
        app.json.dumps(
            {
                "day": dt.date(2026, 11, 30),
                "aware": dt.datetime(
                    2026, 11, 27, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=1))
                ),
                "naive": dt.datetime(2026, 11, 27, 10, 0),
            }
        )
    )

    assert written == {
        "day": "2026-11-30",
        "aware": "2026-11-27T10:00:00+01:00",
        "naive": "2026-11-27T10:00:00+00:00",
    }


def test_debug_responses_are_indented(app):
    app.debug = True
    with app.app_context():
        body = app.json.response({"a": [1]}).data

    assert body == b'{\n  "a": [\n    1\n  ]\n}\n'


def test_unknown_types_are_refused_like_flask_does(app):
    with pytest.raises(TypeError):
        app.json.dumps({"x": object()})


def test_what_orjson_refuses_is_written_compact_by_the_standard_library(app):
    assert (
        app.json.dumps({"big": 2**70, "a": [1, "é"]})
        == '{"big":1180591620717411303424,"a":[1,"é"]}'
    )
