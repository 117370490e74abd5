"""The offers query's fast path end to end (issue 22): a normal query is read by it and never by
the schema; every answer, refusals above all (status, code, message, details), is the same with the
fast path on and off; no other route has one. Its equivalence with the schema on a grid of
queries: tests/unit/test_offers_query.py."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from app.http import offers_query
from app.http.common import TierwiseBlueprint
from app.http.storefront import OFFERS_QUERY
from tests.support.dates import days_ahead
from tests.support.offers_queries import UNUSUAL
from tests.support.storefront import SOON

#: The parser's fast paths (one parser for every blueprint): tests take one out or wrap it.
fast_queries = TierwiseBlueprint.ARGUMENTS_PARSER.fast_queries
REQUEST_ID = "0123456789abcdef0123456789abcdef"


def offers(client, fx, query: str, segment: str = "") -> tuple[int, Any]:
    """GET the offers with the raw ``query``: the status and the JSON body, its decision ids
    (new on every request) replaced by their count."""
    answer = client.get(
        f"/v1/storefront/segments/{segment or fx.segment.key}/offers?{query}",
        headers={**fx.storefront, "X-Request-Id": REQUEST_ID},
    )
    return answer.status_code, _without_decision_ids(answer.get_json())


def _without_decision_ids(body: Any) -> Any:
    if isinstance(body, list):
        return [_without_decision_ids(v) for v in body]
    if not isinstance(body, dict):
        return body
    plain = {k: _without_decision_ids(v) for k, v in body.items()}
    if "decision_ids" in plain:
        plain["decision_ids"] = len(plain["decision_ids"])
    if "decision_id" in plain:
        plain["decision_id"] = "-"
    return plain


@pytest.fixture
def fast_results(monkeypatch) -> list[Any]:
    """What the fast path answered, per request it was asked."""
    results: list[Any] = []

    def counted(args: Any) -> Any:
        results.append(offers_query.load(args))
        return results[-1]

    monkeypatch.setitem(fast_queries, OFFERS_QUERY, counted)
    return results


def test_a_normal_query_is_read_by_the_fast_path_alone(client, tenant_a, fast_results, monkeypatch):
    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the schema parsed a query the fast path reads")

    monkeypatch.setattr(OFFERS_QUERY, "load", refused)
    status, body = offers(client, tenant_a, f"date={SOON}&guests=2&add_ons=breakfast&visitor_id=v1")
    assert status == 200, body
    assert body["service_date"] == SOON and body["guests"] == 2
    assert fast_results == [
        {
            "date": dt.date.fromisoformat(SOON),
            "guests": 2,
            "add_ons": ["breakfast"],
            "visitor_id": "v1",
        }
    ]


def test_only_the_offers_query_has_a_fast_path():
    assert fast_queries == {OFFERS_QUERY: offers_query.load}


#: Well-formed queries the schema takes but the offers refuse or answer specially, each with
#: the status: the service's refusals, the fast path's values must reach it unchanged.
SERVICE_ANSWERS = [
    (f"date={SOON}&guests=2", 200),
    (f"date={SOON}&guests=2&add_ons=breakfast,breakfast&visitor_id=v1", 200),
    (f"date={SOON}&guests=6", 200),
    (f"date={SOON}&guests=7", 422),
    (f"date={SOON}&guests=1000", 422),
    (f"date={SOON}&guests=2&add_ons=nope", 422),
    (f"date={SOON}&guests=2&add_ons=Fr%C3%BChst%C3%BCck", 422),
    (f"date={days_ahead(-3)}&guests=2", 422),
    ("date=1970-01-01&guests=2", 422),
    (f"date={days_ahead(5000)}&guests=2", 422),
    ("date=9998-12-31&guests=2", 422),
]


def test_answers_are_the_same_with_the_fast_path_on_and_off(
    client, tenant_a, fast_results, monkeypatch
):
    """Every unusual query (tests/support/offers_queries.py), left to the schema, and the
    service's answers to well-formed ones, read by the fast path; one tenant for all of them
    (building one per query would take most of the test's time)."""
    queries = [(q, "") for q in UNUSUAL] + [(q, "") for q, _ in SERVICE_ANSWERS]
    queries.append((f"date={SOON}&guests=2", "nope"))
    on = [offers(client, tenant_a, query, segment) for query, segment in queries]
    read_fast = [result is not None for result in fast_results]
    assert read_fast == [False] * len(UNUSUAL) + [True] * (len(SERVICE_ANSWERS) + 1)
    monkeypatch.delitem(fast_queries, OFFERS_QUERY)
    off = [offers(client, tenant_a, query, segment) for query, segment in queries]
    differ = [(q, a, b) for q, a, b in zip(queries, on, off, strict=True) if a != b]
    assert not differ, f"{len(differ)} of {len(queries)} differ, e.g. {differ[:2]}"
    served = [status for status, _ in on[len(UNUSUAL) :]]
    assert served == [status for _, status in SERVICE_ANSWERS] + [404], on[len(UNUSUAL) :]
    refused = [body["error"]["code"] for status, body in on[: len(UNUSUAL)] if status == 422]
    assert refused.count("validation_error") >= 30, refused  # the grid is mostly refusals
