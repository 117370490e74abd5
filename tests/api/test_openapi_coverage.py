"""The OpenAPI document is complete enough to build a client from (issue 20): every operation has
a summary and a description, at least 90 % of schema properties are described, every JSON request
body has an example (that its own schema loads), every operation lists its error responses in the
one error shape, and every timestamp is an ISO 8601 instant with an offset.

Each test prints its figure and, when it fails, names the operations or properties at fault."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from typing import Any

import marshmallow as ma
import pytest
from flask import Flask

from app.http.schemas.common import Timestamp

#: The least share of schema properties (and of parameters) with a description.
DESCRIBED_THRESHOLD = 0.90
METHODS = ("get", "put", "post", "delete", "patch")
ERROR_REF = "#/components/schemas/Error"
#: Error responses not in the one error shape, each with why.
OTHER_ERROR_SHAPES = {
    # readiness says which dependency is down, in the same shape as when it is up
    ("get", "/readyz", "503"): "HealthSchema",
}
#: ISO 8601 with a UTC offset (Z or ±hh:mm), as RFC 3339 `date-time` requires.
ISO_INSTANT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


@pytest.fixture
def spec(client) -> dict[str, Any]:
    return client.get("/openapi.json").get_json()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in sorted(spec["paths"].items()):
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def report(label: str, done: int, total: int) -> float:
    share = done / total if total else 1.0
    print(f"\n{label}: {done}/{total} = {share:.1%}")
    return share


def listing(missing: list[str]) -> str:
    return "\n  " + "\n  ".join(missing)


def test_every_operation_has_a_summary_and_a_description(spec):
    ops = list(operations(spec))
    no_summary = [f"{m.upper()} {p}" for m, p, op in ops if not op.get("summary", "").strip()]
    no_description = [
        f"{m.upper()} {p}" for m, p, op in ops if not op.get("description", "").strip()
    ]
    report("operations with a summary", len(ops) - len(no_summary), len(ops))
    report("operations with a description", len(ops) - len(no_description), len(ops))
    assert len(ops) >= 90, "the document lost its operations"
    assert not no_summary, "no summary (the view's docstring, first line):" + listing(no_summary)
    assert not no_description, (
        "no description (the view's docstring after its first line):" + listing(no_description)
    )


def properties(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Every property of every component schema, and of the inline schemas of request bodies
    and responses."""
    for name, schema in sorted(spec["components"]["schemas"].items()):
        for prop, node in schema.get("properties", {}).items():
            yield name, prop, node
    for method, path, op in operations(spec):
        bodies = [op.get("requestBody", {}), *op.get("responses", {}).values()]
        for body in bodies:
            for media in body.get("content", {}).values():
                schema = media.get("schema", {})
                if "$ref" not in schema:
                    for prop, node in schema.get("properties", {}).items():
                        yield f"{method.upper()} {path}", prop, node


def test_schema_properties_are_described(spec):
    props = list(properties(spec))
    missing = [f"{owner}.{prop}" for owner, prop, node in props if not described(spec, node)]
    share = report("schema properties described", len(props) - len(missing), len(props))
    assert len(props) >= 300, "the document lost its schemas"
    assert share >= DESCRIBED_THRESHOLD, (
        f"{share:.1%} of schema properties described, below {DESCRIBED_THRESHOLD:.0%}; "
        "add metadata={'description': ...} to these fields:" + listing(missing)
    )


def described(spec: dict[str, Any], node: dict[str, Any]) -> bool:
    """A property's own description, or (a nested schema by reference, which OpenAPI 3.0 lets
    carry nothing beside the reference) the described schema it points to."""
    if node.get("description", "").strip():
        return True
    target = node["allOf"][0] if len(node.get("allOf", ())) == 1 else node
    return "$ref" in target and bool(resolve(spec, target).get("description", "").strip())


def test_parameters_are_described(spec):
    params = [
        (f"{m.upper()} {p}", param)
        for m, p, op in operations(spec)
        for param in (resolve(spec, x) for x in op.get("parameters", []))
        if param["in"] in ("query", "header")
    ]
    missing = [f"{op} {p['in']} {p['name']}" for op, p in params if not p.get("description")]
    share = report("query and header parameters described", len(params) - len(missing), len(params))
    assert share >= DESCRIBED_THRESHOLD, (
        f"{share:.1%} of parameters described; add a description to:" + listing(missing)
    )


def test_every_json_request_body_has_an_example(spec):
    bodies = [
        (f"{m.upper()} {p}", op["requestBody"]["content"]["application/json"])
        for m, p, op in operations(spec)
        if "application/json" in op.get("requestBody", {}).get("content", {})
    ]
    missing = [name for name, media in bodies if "example" not in media and "examples" not in media]
    report("JSON request bodies with an example", len(bodies) - len(missing), len(bodies))
    assert bodies
    assert not missing, "@blp.arguments(..., example=...) missing on:" + listing(missing)


def test_request_examples_are_what_their_schemas_take(app: Flask):
    """An example is no use if the operation refuses it: each loads through its own schema."""
    checked, refused = 0, []
    for rule in app.url_map.iter_rules():
        view = getattr(app.view_functions[rule.endpoint], "view_class", None)
        for method in sorted(rule.methods or ()):
            func = getattr(view, method.lower(), None)
            arguments = getattr(func, "_apidoc", {}).get("arguments", {}).get("parameters", [])
            for argument in arguments:
                if argument.get("in") != "json" or "example" not in argument:
                    continue
                checked += 1
                schema = argument["schema"]
                schema = schema() if isinstance(schema, type) else schema
                try:
                    schema.load(argument["example"])
                except ma.ValidationError as error:
                    refused.append(f"{method} {rule.rule}: {error.messages}")
    print(f"\nrequest examples loaded by their schema: {checked - len(refused)}/{checked}")
    assert checked >= 20
    assert not refused, "examples their own schema refuses:" + listing(refused)


def test_every_operation_lists_its_error_responses_in_the_one_shape(spec):
    ops = list(operations(spec))
    without, other_shape = [], []
    for method, path, op in ops:
        errors = {s: r for s, r in op["responses"].items() if str(s)[0] in "45"}
        if not errors:
            without.append(f"{method.upper()} {path}")
        for status, response in errors.items():
            if (method, path, str(status)) in OTHER_ERROR_SHAPES:
                continue
            content = resolve(spec, response).get("content", {}).get("application/json", {})
            if content.get("schema", {}).get("$ref") != ERROR_REF:
                other_shape.append(f"{method.upper()} {path} {status}")
    report("operations listing their errors", len(ops) - len(without), len(ops))
    assert not without, "no 4xx/5xx response listed:" + listing(without)
    assert not other_shape, "error responses not in the Error shape:" + listing(other_shape)


def test_every_timestamp_property_is_a_date_time(spec):
    """Properties named like instants (`*_at`, `from`/`to` of instants, `time`, `expires`) are
    documented as RFC 3339 `date-time`: ISO 8601 with an offset."""
    props = [
        (owner, prop, node)
        for owner, prop, node in properties(spec)
        if prop.endswith("_at") or prop in ("expires", "time", "timestamp")
    ]
    wrong = [
        f"{owner}.{prop}: {node.get('type')}/{node.get('format')}"
        for owner, prop, node in props
        if node.get("format") != "date-time" and "$ref" not in node and "allOf" not in node
    ]
    report("timestamp properties typed date-time", len(props) - len(wrong), len(props))
    assert not wrong, "timestamps not documented as date-time:" + listing(wrong)


@pytest.mark.parametrize(
    "value",
    [
        dt.datetime(2027, 3, 12, 9, 30, tzinfo=dt.UTC),
        dt.datetime(2027, 3, 12, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
        dt.datetime(2027, 3, 12, 9, 30),  # naive: taken as UTC, as everything stored is
    ],
)
def test_timestamps_are_written_with_their_offset(value):
    written = Timestamp().serialize("at", {"at": value})
    assert ISO_INSTANT.match(written), written
    assert (
        dt.datetime.fromisoformat(written).timestamp()
        == value.replace(tzinfo=value.tzinfo or dt.UTC).timestamp()
    )


def test_datetimes_outside_schemas_are_iso_8601_with_their_offset(app: Flask):
    """Free-form objects (a backtest's largest changes) go through the JSON provider: instants as
    ISO 8601 with an offset, dates as YYYY-MM-DD, never HTTP dates."""
    with app.app_context():
        text = app.json.dumps(
            {"aware": dt.datetime(2027, 3, 12, 9, 30, tzinfo=dt.UTC), "day": dt.date(2027, 3, 12)}
        )
    assert text == '{"aware":"2027-03-12T09:30:00+00:00","day":"2027-03-12"}'


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("/v1/storefront/segments/{segment}/offers", {"date", "guests", "add_ons", "visitor_id"}),
        ("/v1/storefront/segments/{segment}/availability", {"month", "guests"}),
    ],
)
def test_conditional_gets_keep_their_query_parameters(spec, path, wanted):
    """If-None-Match documented beside a view's query arguments, not instead of them (a
    ``blp.doc(parameters=…)`` replaces the parameters ``blp.arguments`` wrote)."""
    item = spec["paths"][path]
    listed = [resolve(spec, p) for p in item.get("parameters", []) + item["get"]["parameters"]]
    query = {p["name"] for p in listed if p["in"] == "query"}
    assert wanted <= query, sorted(query)
    assert ("header", "If-None-Match") in {(p["in"], p["name"]) for p in listed}
