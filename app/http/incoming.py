"""What every request brings, checked before anything else reads it: the request id a client may
supply, the length of the URL, and the text of the path, query, headers and JSON body.

* ``X-Request-Id`` is echoed, written to the access log and stored with decisions and changes:
  it is kept only when it is 1-64 characters of ``A-Z a-z 0-9 . _ : -`` (so no client can break
  or forge a log line with tabs, quotes, spaces or U+0085), else replaced by a generated id.
* A URL (path and query as sent) longer than ``MAX_URL_LENGTH`` answers 414 ``uri_too_long``;
  ``tierwise serve`` lets gunicorn read request lines a little longer than that, and answers
  longer ones in the same shape itself (``app.http.serving``).
* Text with NUL or a lone surrogate (``rules.documents.text_problem``) answers 422
  ``validation_error`` at its path (``/path``, ``/query/<name>``, ``/headers/<name>``,
  ``/json/...``); JSON bodies are parsed once, by ``app.http.json_provider.parse_request_json``
  (nesting, integer and number limits), for every route but the signed provider webhooks, whose
  bodies are the provider's.
"""

from __future__ import annotations

import re
from typing import Any

from flask import Request

from app.http.json_provider import escape_pointer
from pricing.errors import InvalidInput
from rules.documents import NUL_MESSAGE, text_problem
from storage.ids import uuid7_hex

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")

#: Longest URL (path and query string, as sent) answered; gunicorn reads request lines of up to
#: 8190 bytes (its maximum), so up to there the service answers 414 itself.
MAX_URL_LENGTH = 8000

WEBHOOKS = "/v1/webhooks/"


def request_id(supplied: str | None) -> str:
    """The client's ``X-Request-Id`` if it is a safe token, else a new random id."""
    if supplied and REQUEST_ID.fullmatch(supplied):
        return supplied
    return uuid7_hex()  # time-ordered: decisions are indexed by it (storage.ids)


def url_too_long(request: Request) -> bool:
    """The URL as sent (gunicorn's ``RAW_URI``), or its path and query as the WSGI server gave
    them, is longer than ``MAX_URL_LENGTH``."""
    environ = request.environ
    parts = len(environ.get("PATH_INFO", "")) + 1 + len(environ.get("QUERY_STRING", ""))
    return max(len(environ.get("RAW_URI", "")), parts) > MAX_URL_LENGTH


def _refuse(pointer: str, message: str) -> InvalidInput:
    return InvalidInput(
        "The request did not validate.",
        code="validation_error",
        details=[{"path": pointer, "message": message}],
    )


def check_text(request: Request) -> None:
    """InvalidInput (422) at the first text of the request that can't be stored: NUL or a lone
    surrogate in the path, a query parameter, a header or (parsed once, here) a JSON body."""
    problem = text_problem(request.path)
    if problem:
        raise _refuse("/path", problem)
    # NUL and lone surrogates are single characters: text without them joined has none in any
    # part. One check of the joined text, then the part-by-part walk only to name the culprit.
    args = request.args
    if args and text_problem("".join(k + v for k, v in args.items(multi=True))):
        _check_args(request)
    headers = request.headers
    if text_problem("".join(value for _, value in headers.items())):
        _check_headers(request)
    if request.path.startswith(WEBHOOKS) or not _has_body(request.environ):
        return
    body = request.get_data(cache=True)
    if not body:
        return
    if request.is_json:
        request.get_json()  # parse_request_json: refuses what it can't take, else caches it
    elif b"\x00" in body:
        raise _refuse("/", NUL_MESSAGE)


def _has_body(environ: dict[str, Any]) -> bool:
    """A body was sent: a length above 0, or chunks. Without one there is nothing to read (the
    stream's set-up was ~3 % of a storefront GET)."""
    length = environ.get("CONTENT_LENGTH")
    chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    return chunked or length not in (None, "", "0")


def _check_args(request: Request) -> None:
    for name, value in request.args.items(multi=True):
        problem = text_problem(name)
        if problem:
            raise _refuse("/query", f"A parameter name: {problem}")
        problem = text_problem(value)
        if problem:
            raise _refuse(f"/query/{escape_pointer(name)}", problem)


def _check_headers(request: Request) -> None:
    for name, value in request.headers.items():
        problem = text_problem(value)
        if problem:
            raise _refuse(f"/headers/{escape_pointer(name)}", problem)
