"""The offers query's fast path (app/http/offers_query.py) against the plain path, webargs and
``OffersQuerySchema``: on every query it answers, the same dict (keys in the same order, values of
the same types); every unusual or invalid query left to the schema."""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlencode

import pytest
from flask import Flask, request
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.exceptions import HTTPException

from app.http import offers_query
from app.http.common import BodyParser
from app.http.schemas.storefront import OffersQuerySchema
from app.http.storefront import OFFERS_QUERY
from tests.support.offers_queries import UNUSUAL, well_formed

#: webargs and the schema alone: a parser with no fast path.
PLAIN = BodyParser()
FLASK = Flask(__name__)


def both(query: str) -> tuple[dict[str, Any] | None, dict[str, Any] | HTTPException]:
    """What the fast path and the plain path make of ``query`` (the plain path's refusal: the
    422 webargs raises)."""
    with FLASK.test_request_context("/", query_string=query):
        fast = offers_query.load(request.args)
        try:
            plain = PLAIN.parse(OFFERS_QUERY, location="query")
        except HTTPException as refused:
            return fast, refused
    return fast, plain


def same(fast: dict[str, Any], plain: Any) -> bool:
    """Equal, key order and value types included (2 == 2.0, a date equals a datetime's date)."""
    return (
        isinstance(plain, dict)
        and list(fast) == list(plain)
        and all(type(fast[k]) is type(plain[k]) and fast[k] == plain[k] for k in fast)
        and all(type(a) is type(b) for a, b in zip(fast["add_ons"], plain["add_ons"], strict=True))
    )


def test_the_fast_path_answers_every_well_formed_query_as_the_schema_does() -> None:
    queries = well_formed()
    wrong = []
    for query in queries:
        fast, plain = both(query)
        if fast is None or not same(fast, plain):
            wrong.append((query, fast, plain))
    assert not wrong, f"{len(wrong)} of {len(queries)} differ, e.g. {wrong[:3]}"
    assert len(queries) > 1500


@pytest.mark.parametrize("query", UNUSUAL)
def test_an_unusual_query_is_left_to_the_schema(query: str) -> None:
    assert both(query)[0] is None


def test_a_loaded_query_is_a_new_dict_and_list_each_time() -> None:
    first, _ = both("date=2027-03-12&guests=2&add_ons=spa")
    second, _ = both("date=2027-03-12&guests=2&add_ons=spa")
    assert (
        first
        == second
        == {
            "date": dt.date(2027, 3, 12),
            "guests": 2,
            "add_ons": ["spa"],
            "visitor_id": "",
        }
    )
    assert first is not second and first["add_ons"] is not second["add_ons"]


def test_the_schema_has_the_fields_the_fast_path_reads() -> None:
    """Changing the schema fails here first: change app/http/offers_query.py with it."""
    fields = OffersQuerySchema().fields
    shape = {
        name: (
            type(field).__name__,
            field.required,
            field.allow_none,
            field.data_key,
            [repr(v) for v in field.validators],
            field.load_default,
        )
        for name, field in fields.items()
    }
    assert list(shape) == list(offers_query.PARAMETERS)
    assert shape == {
        "date": (
            "Day",
            True,
            False,
            None,
            [
                "<Range(min=datetime.date(1970, 1, 1), max=datetime.date(9998, 12, 31), "
                "min_inclusive=True, max_inclusive=True, "
                "error='Must be between 1970-01-01 and 9998-12-31.')>"
            ],
            fields["date"].load_default,
        ),
        "guests": (
            "Integer",
            True,
            False,
            None,
            ["<Range(min=1, max=1000, min_inclusive=True, max_inclusive=True, error=None)>"],
            fields["guests"].load_default,
        ),
        "add_ons": (
            "DelimitedList",
            False,
            False,
            None,
            ["<Length(min=None, max=10, equal=None, error=None)>"],
            list,
        ),
        "visitor_id": (
            "String",
            False,
            False,
            None,
            ["<Length(min=None, max=64, equal=None, error=None)>"],
            "",
        ),
    }
    keys = fields["add_ons"].inner
    assert type(keys).__name__ == "String"
    assert [repr(v) for v in keys.validators] == [
        "<Length(min=None, max=64, equal=None, error=None)>"
    ]
    assert fields["add_ons"].delimiter == ","
    assert not any(OffersQuerySchema._hooks.values()), "a schema hook the fast path does not run"


# ---- generated queries ------------------------------------------------------------------------

NAMES = st.sampled_from(["date", "guests", "add_ons", "visitor_id", "page", "Date"])
VALUES = st.one_of(
    st.dates().map(dt.date.isoformat),
    st.integers(-3, 1200).map(str),
    st.lists(st.text("ab,", max_size=3), max_size=12).map(",".join),
    st.text("0123456789-+.,:TWZ eé٣", max_size=12),
    st.sampled_from(["", "2027-02-29", "2028-02-29", "0001-01-01", "9998-12-31", "1000"]),
)
ANY_QUERY = st.lists(st.tuples(NAMES, VALUES), max_size=6)


#: Mostly inside the schema's limits, often at or just past one.
DAYS = st.one_of(
    st.dates(dt.date(1970, 1, 1), dt.date(9998, 12, 31)),
    st.sampled_from([dt.date(1969, 12, 31), dt.date(1970, 1, 1)]),
    st.sampled_from([dt.date(9998, 12, 31), dt.date(9999, 1, 1)]),
)
PARTY_SIZES = st.integers(0, 1001)
TEXT = st.characters(codec="utf-8", exclude_characters=",")
SHORT_TEXT = st.one_of(st.text(TEXT, max_size=8), st.text(TEXT, min_size=62, max_size=66))
KEYS = st.lists(SHORT_TEXT.filter(bool), max_size=11)


@st.composite
def widget_query(draw: st.DrawFn) -> list[tuple[str, str]]:
    """The widget's query, each part near its limits, in any order."""
    pairs = [("date", draw(DAYS).isoformat()), ("guests", str(draw(PARTY_SIZES)))]
    if draw(st.booleans()):
        pairs.append(("add_ons", ",".join(draw(KEYS))))
    if draw(st.booleans()):
        pairs.append(("visitor_id", draw(SHORT_TEXT)))
    return draw(st.permutations(pairs))


@settings(max_examples=500, deadline=None)
@given(st.one_of(ANY_QUERY, widget_query()))
def test_the_fast_path_answers_as_the_schema_or_not_at_all(pairs: list[tuple[str, str]]) -> None:
    fast, plain = both(urlencode(pairs))
    assert fast is None or same(fast, plain), (fast, plain)
