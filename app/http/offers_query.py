"""The storefront offers query's fast path (issue 22): the common, well-formed query read straight
from the request's arguments into what ``OffersQuerySchema().load`` gives, without webargs'
proxy and marshmallow's field machinery (about 6 % of an offer's CPU).

It only answers queries it is certain about: each of ``date``, ``guests``, ``add_ons`` and
``visitor_id`` at most once and not empty, no other parameter, every value plainly inside the
schema's limits. Anything else returns None and the schema parses the query, so every 422 (its
code, message and details) is the schema's own. tests/unit/test_offers_query.py holds the two
equal over a grid of valid and invalid queries and generated ones, and the schema's fields to the
ones read here; tests/api/test_offers_query.py every answer the same with the fast path on and off.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import marshmallow as ma
from werkzeug.datastructures import MultiDict

from app.http.schemas.common import DATES
from app.http.schemas.storefront import ADD_ONS_CHOSEN, PARTY, SHORT

#: The parameters the schema reads (its fields, in their order: the order of its result's keys).
PARAMETERS = ("date", "guests", "add_ons", "visitor_id")
#: ASCII only: ``\d`` would also take other scripts' digits, which ``int()`` reads too.
_ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_PARTY_SIZE = re.compile(r"[1-9][0-9]{0,3}")


def load(args: MultiDict[str, str]) -> dict[str, Any] | None:
    """The query's arguments as the schema loads them (``date`` a ``datetime.date``, ``guests``
    an int, ``add_ons`` a new list, ``visitor_id`` a str, the defaults filled in), or None when
    only the schema can say (see the module's docstring)."""
    query = _once_each(args)
    if query is None:
        return None
    day, guests = _day(query.get("date")), _party(query.get("guests"))
    add_ons = query["add_ons"].split(",") if "add_ons" in query else []
    visitor_id = query.get("visitor_id", "")
    if day is None or guests is None or "" in add_ons:  # "a,,b": left to the schema
        return None
    try:  # the schema's own validators, so the limits cannot drift apart
        DATES(day)
        PARTY(guests)
        ADD_ONS_CHOSEN(add_ons)
        for text in (*add_ons, visitor_id):
            SHORT(text)
    except ma.ValidationError:
        return None
    return {"date": day, "guests": guests, "add_ons": add_ons, "visitor_id": visitor_id}


def _once_each(args: MultiDict[str, str]) -> dict[str, str] | None:
    """The arguments as a plain dict, or None if one is unknown, repeated or empty (the schema
    ignores unknown ones and reads a repeated one's first value; it decides those cases)."""
    query: dict[str, str] = {}
    for name, value in args.items(multi=True):
        if not value or name in query or name not in PARAMETERS:
            return None
        query[name] = value
    return query


def _day(text: str | None) -> dt.date | None:
    if text is None or not _ISO_DAY.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)  # what marshmallow's Date field calls
    except ValueError:
        return None


def _party(text: str | None) -> int | None:
    return int(text) if text is not None and _PARTY_SIZE.fullmatch(text) else None
