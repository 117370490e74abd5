"""Conditional GETs of the storefront: an ``ETag`` and a ``Cache-Control`` on every answer, and
``304 Not Modified`` (no body) to a request whose ``If-None-Match`` holds the current tag, so a
browser or a CDN that kept the answer gets it confirmed without it being built or sent again.

* Catalog reads (segments list, tier comparison): the tag is the tenant's catalog version
  (``"c<version>"``), which every catalog change bumps; ``CATALOG_CACHE``.
* Offers: the tag is a digest of everything the offer sheet is a pure function of
  (``app.services.offers.offers_tag``: the offer sheet's inputs and the visitor); ``OFFERS_CACHE``.
* The month calendar: the tag is a digest of its body (``content_tag``); ``OFFERS_CACHE``.

Both may be stored but are revalidated on every use (``no-cache``): a catalog edit or a booking
shows at once. Tags are per tenant by ``Vary: X-Api-Key`` (the key names the tenant).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, cast

from flask import Response, current_app, request
from werkzeug.http import quote_etag

from app.adapters.credentials import API_KEY_HEADER
from app.http.json_provider import OrjsonProvider

#: Catalog reads: the same for every visitor of the tenant; any cache may keep them.
CATALOG_CACHE = "public, no-cache"
#: Offers carry availability and the visitor's experiment variant: browsers only.
OFFERS_CACHE = "private, no-cache"

#: Documentation of the headers (``@blp.response(..., headers=CACHE_HEADERS)``).
CACHE_HEADERS = {
    "ETag": {
        "description": "Send it back as If-None-Match: 304 while the answer is unchanged",
        "schema": {"type": "string"},
    },
    "Cache-Control": {
        "description": "May be stored; revalidate every use",
        "schema": {"type": "string"},
    },
}
#: On the route (``blp.route(..., parameters=[IF_NONE_MATCH])``), not in ``blp.doc(parameters=…)``:
#: that list would replace the query parameters ``blp.arguments`` documents.
IF_NONE_MATCH = {
    "in": "header",
    "name": "If-None-Match",
    "required": False,
    "description": "The ETag of a stored answer: 304 Not Modified while it is still the answer",
    "schema": {"type": "string"},
}


def catalog_tag(version: int) -> str:
    return f"c{version}"


def content_tag(body: Any) -> str:
    """A tag of a plain-JSON body's content (the month calendar: its body is cached as JSON)."""
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return "m" + hashlib.blake2b(text.encode(), digest_size=15).hexdigest()


def cache_headers(tag: str, cache_control: str) -> dict[str, str]:
    """The headers of a tagged answer that goes through its schema (``return body, 200, ...``)."""
    return {"ETag": quote_etag(tag), "Cache-Control": cache_control, "Vary": API_KEY_HEADER}


def client_has(tag: str) -> bool:
    """Whether the request's If-None-Match names ``tag`` (weak comparison, ``*`` matches)."""
    if "If-None-Match" not in request.headers:
        return False
    return bool(request.if_none_match.contains_weak(tag))


def _headers(response: Response, tag: str, cache_control: str) -> Response:
    """``response`` (made here, so without a Vary yet) tagged: its headers set directly, not
    through ``response.vary``'s header set (half the time; a CORS answer adds ``Origin`` to it)."""
    headers = response.headers
    headers["ETag"] = quote_etag(tag)
    headers["Cache-Control"] = cache_control
    headers["Vary"] = API_KEY_HEADER
    return response


def not_modified(tag: str, cache_control: str) -> Response:
    return _headers(Response(status=304), tag, cache_control)


def json_answer(body: Any, tag: str, cache_control: str) -> Response:
    """200 with ``body`` as JSON (plain data, serialised once), tagged."""
    answer = cast(Response, current_app.json.response(body))  # a flask.Response (app.json)
    return _headers(answer, tag, cache_control)


def encoded_answer(data: bytes, tag: str, cache_control: str) -> Response:
    """200 with ``data``, JSON as ``encode`` writes it (``OrjsonProvider``), tagged."""
    provider = cast(OrjsonProvider, current_app.json)
    return _headers(provider.encoded_response(data), tag, cache_control)


def encode(body: Any) -> bytes:
    """``body`` as JSON, as ``json_answer`` would answer it."""
    return cast(OrjsonProvider, current_app.json).encode(body)


def catalog_answer(version: int, body: Callable[[], Any]) -> Response:
    """A catalog read at ``version``: 304 when the client has it, else ``body()`` as JSON."""
    tag = catalog_tag(version)
    if client_has(tag):
        return not_modified(tag, CATALOG_CACHE)
    return json_answer(body(), tag, CATALOG_CACHE)
