"""Query strings of the storefront offers route for the fast path's equivalence tests
(tests/unit/test_offers_query.py, tests/api/test_offers_query.py): a grid of well-formed ones the
fast path answers, and unusual or invalid ones it must leave to the schema."""

from __future__ import annotations

import itertools

DATES = ["2027-03-12", "1970-01-01", "9998-12-31", "2028-02-29", "2000-01-01", "2026-12-31"]
GUESTS = ["1", "2", "10", "42", "999", "1000"]
ADD_ONS = [
    None,
    "breakfast",
    "breakfast,spa",
    ",".join(f"k{i}" for i in range(10)),  # the most a selection names
    "k" * 64,  # the longest key
    "3f2b9a3e-5a1c-4c7e-9b1e-2f0c5d6e7a8b",
    "Fr%C3%BChst%C3%BCck",  # not a key's shape: the service says it is unknown, not the schema
    "late+check-out",  # "+" is a space
    "a%2Cb",  # an encoded comma still separates
    "breakfast,breakfast",
]
VISITORS = [None, "0123456789abcdef" * 2, "v" * 64, "%F0%9F%98%80", "a%26b%3Dc"]


def well_formed() -> list[str]:
    """Every combination of the values above, in the widget's order, and some in others."""
    queries = []
    for day, guests, add_ons, visitor in itertools.product(DATES, GUESTS, ADD_ONS, VISITORS):
        pairs = [("date", day), ("guests", guests), ("add_ons", add_ons), ("visitor_id", visitor)]
        queries.append("&".join(f"{k}={v}" for k, v in pairs if v is not None))
    queries += [
        "visitor_id=abc&add_ons=spa&guests=3&date=2027-03-12",
        "guests=3&date=2027-03-12",
        "add_ons=spa&date=2027-03-12&guests=3",
        "%64ate=2027-03-12&guests=3",  # an encoded name is the same name
    ]
    return queries


#: Queries the fast path leaves to the schema, some of which the schema accepts (repeated or
#: unknown parameters, "+2", "02", "20270312", "a,,b"), most of which it refuses.
UNUSUAL = [
    # missing or empty
    "",
    "guests=2",
    "date=2027-03-12",
    "date=&guests=2",
    "date=2027-03-12&guests=",
    "date=2027-03-12&guests",
    "date=2027-03-12&guests=2&add_ons=",
    "date=2027-03-12&guests=2&visitor_id=",
    # dates
    "date=2027-3-12&guests=2",
    "date=20270312&guests=2",
    "date=2027-02-30&guests=2",
    "date=2027-13-01&guests=2",
    "date=2027-00-10&guests=2",
    "date=0000-01-01&guests=2",
    "date=1969-12-31&guests=2",
    "date=9999-01-01&guests=2",
    "date=2027-03-12T00:00&guests=2",
    "date=2027-03-12T00:00:00Z&guests=2",
    "date=+2027-03-12&guests=2",
    "date=%202027-03-12&guests=2",
    "date=2027-03-12%20&guests=2",
    "date=2027-W10-5&guests=2",
    "date=2027-071&guests=2",
    "date=%D9%A2%D9%A0%D9%A2%D9%A7-%D9%A0%D9%A3-%D9%A1%D9%A2&guests=2",  # Arabic-Indic digits
    "date=today&guests=2",
    # guests
    "date=2027-03-12&guests=0",
    "date=2027-03-12&guests=1001",
    "date=2027-03-12&guests=10000",
    "date=2027-03-12&guests=-1",
    "date=2027-03-12&guests=%2B2",
    "date=2027-03-12&guests=02",
    "date=2027-03-12&guests=2.0",
    "date=2027-03-12&guests=2%20",
    "date=2027-03-12&guests=1_0",
    "date=2027-03-12&guests=1e3",
    "date=2027-03-12&guests=%D9%A2",
    "date=2027-03-12&guests=two",
    "date=2027-03-12&guests=true",
    "date=2027-03-12&guests=" + "9" * 40,
    # add-ons
    "date=2027-03-12&guests=2&add_ons=,",
    "date=2027-03-12&guests=2&add_ons=a,,b",
    "date=2027-03-12&guests=2&add_ons=a,",
    "date=2027-03-12&guests=2&add_ons=" + ",".join(f"k{i}" for i in range(11)),
    "date=2027-03-12&guests=2&add_ons=" + "k" * 65,
    # visitors
    "date=2027-03-12&guests=2&visitor_id=" + "v" * 65,
    # repeated
    "date=2027-03-12&date=2027-03-13&guests=2",
    "date=2027-03-12&guests=2&guests=3",
    "date=2027-03-12&guests=2&guests=0",
    "date=2027-03-12&guests=2&add_ons=spa&add_ons=breakfast",
    "date=2027-03-12&guests=2&visitor_id=a&visitor_id=b",
    # unknown
    "date=2027-03-12&guests=2&page=1",
    "date=2027-03-12&guests=2&_=1700000000",
    "date=2027-03-12&guests=2&Date=2027-03-13",
    "date=2027-03-12&guests=2&add_ons%5B%5D=spa",
]
