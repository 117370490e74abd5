"""``app.http.incoming.check_text``'s one check of the joined query and headers against the
part-by-part walk it replaces: the same refusal (the first culprit's pointer and message) or none."""

from __future__ import annotations

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from app.http.incoming import _refuse, check_text, escape_pointer
from pricing.errors import InvalidInput
from rules.documents import text_problem


def walk(request: Request) -> None:
    """The plain path: every part of the query and the headers checked one by one."""
    for name, value in request.args.items(multi=True):
        problem = text_problem(name)
        if problem:
            raise _refuse("/query", f"A parameter name: {problem}")
        problem = text_problem(value)
        if problem:
            raise _refuse(f"/query/{escape_pointer(name)}", problem)
    for name, value in request.headers.items():
        problem = text_problem(value)
        if problem:
            raise _refuse(f"/headers/{escape_pointer(name)}", problem)


def outcome(check, request: Request) -> object:
    try:
        check(request)
    except InvalidInput as error:
        return error.details
    return None


#: (query, environ, the pointer refused or None)
CASES = [
    ({"date": "2031-01-01", "guests": "2"}, {}, None),
    ({"visitor_id": "v\x00"}, {}, "/query/visitor_id"),
    ({"a": "1", "b\x00": "2"}, {}, "/query"),
    ({"a": ["ok", "n\x00t"]}, {}, "/query/a"),
    ({"a": "ok"}, {"HTTP_X_TRACE": "a\x00b"}, "/headers/X-Trace"),
    ({"a": "\x00"}, {"HTTP_X_TRACE": "a\x00b"}, "/query/a"),  # the query's is named first
    ({}, {"HTTP_X_ONE": "fine", "HTTP_X_TWO": "nul\x00"}, "/headers/X-Two"),
    ({"name": "caf\u00e9", "city": "\u6771\u4eac"}, {"HTTP_X_NOTE": "plain"}, None),
]


@pytest.mark.parametrize(("query", "environ", "pointer"), CASES)
def test_the_joined_check_refuses_as_the_walk_does(query, environ, pointer):
    request = EnvironBuilder(
        path="/v1/storefront/segments", query_string=query, environ_overrides=environ
    ).get_request(Request)
    refused = outcome(check_text, request)
    assert refused == outcome(walk, request)
    assert (refused[0]["path"] if refused else None) == pointer
