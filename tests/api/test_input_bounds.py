"""Every input the API takes has a documented bound: each field of every argument schema of every
route (query strings and bodies, pagination too), walked through nested schemas and lists. A new
field without one fails here, before a hostile value can reach the database or the clock."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.http.schemas.common import Day, FeatureValue, Instant, Share


def argument_schemas(app) -> dict[str, ma.Schema]:
    found = {}
    for endpoint, view in app.view_functions.items():
        for method in ("get", "post", "put", "patch", "delete"):
            apidoc = getattr(
                getattr(getattr(view, "view_class", None), method, None), "_apidoc", {}
            )
            parameters = [a["schema"] for a in apidoc.get("arguments", {}).get("parameters", [])]
            if "pagination" in apidoc:
                parameters.append(apidoc["pagination"]["parameters"]["schema"])
            for i, schema in enumerate(parameters):
                found[f"{endpoint}.{method}[{i}]"] = (
                    schema() if isinstance(schema, type) else schema
                )
    return found


def validators(field: fields.Field) -> list:
    return list(field.validators)


def ranged(field: fields.Field) -> bool:
    return any(
        isinstance(v, validate.Range) and v.min is not None and v.max is not None
        for v in validators(field)
    )


def unbounded(field: fields.Field) -> str | None:
    """Why a field takes values without a bound, or None."""
    if isinstance(field, fields.Boolean | fields.UUID | fields.Dict) or type(field) is fields.Raw:
        return None  # booleans, UUIDs; objects and raw values are bounded by the body's limits
    if isinstance(field, FeatureValue):
        return None  # bounded inside: an integer up to 10**9 or at most 200 characters
    if isinstance(field, fields.Date | fields.DateTime):
        ok = isinstance(field, Day | Instant) or ranged(field)
        return None if ok else "a date or time without a window"
    if isinstance(field, fields.Decimal):
        return None if isinstance(field, Share) or ranged(field) else "a decimal without a range"
    if isinstance(field, fields.Integer | fields.Float):
        return None if ranged(field) else "a number without a range"
    if isinstance(field, fields.String):
        bounded = any(
            isinstance(v, validate.OneOf | validate.Regexp)
            or (isinstance(v, validate.Length) and v.max is not None)
            or not isinstance(v, validate.Validator)  # a named check, e.g. _time_zone
            for v in validators(field)
        )
        return None if bounded else "text without a length limit"
    if isinstance(field, fields.List):
        if not any(isinstance(v, validate.Length) and v.max is not None for v in validators(field)):
            return "a list without a length limit"
        return unbounded(field.inner)
    if isinstance(field, fields.Nested):
        return None  # walked on its own
    return f"an unknown kind of field ({type(field).__name__})"


def walk(schema: ma.Schema, path: str, problems: list[str]) -> None:
    for name, field in schema.fields.items():
        if field.dump_only:
            continue
        where = f"{path}/{field.data_key or name}"
        problem = unbounded(field)
        if problem:
            problems.append(f"{where}: {problem}")
        inner = field.inner if isinstance(field, fields.List) else field
        if isinstance(inner, fields.Nested):
            walk(inner.schema, where, problems)


def test_every_field_of_every_argument_schema_is_bounded(app):
    schemas = argument_schemas(app)
    assert len(schemas) > 50
    problems: list[str] = []
    for where, schema in schemas.items():
        walk(schema, where, problems)
    assert problems == []


def test_the_bounds_are_in_the_openapi_document(client):
    spec = client.get("/openapi.json").get_json()
    operation = spec["paths"]["/v1/admin/rulesets/versions"]["get"]
    page = next(p for p in operation["parameters"] if p["name"] == "page")
    assert (page["schema"]["minimum"], page["schema"]["maximum"]) == (1, 2**31 - 1)
    components = spec["components"]["schemas"]
    assert "5 years from now" in components["Publish"]["properties"]["activates_at"]["description"]
    assert "1 day from now" in components["Event"]["properties"]["occurred_at"]["description"]
    weight = components["Variant"]["properties"]["weight"]
    assert (weight["type"], weight["pattern"]) == ("string", "^(0(\\.\\d{1,6})?|1(\\.0{1,6})?)$")
    quote_date = components["QuoteCreate"]["properties"]["date"]
    assert "1098 days ahead" in quote_date["description"]
