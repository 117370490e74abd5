"""CORS for the storefront API, per API key (the widget runs on tenants' own sites).

* A preflight (``OPTIONS`` with ``Access-Control-Request-Method``; browsers send it without the
  key) is answered 204 with the CORS headers when *some* active key allows the ``Origin``, else
  403 ``origin_not_allowed``.
* An actual request gets ``Access-Control-Allow-Origin: <origin>`` and ``Vary: Origin`` only when
  the key it authenticated with lists the origin (``allowed_origins`` of ``/v1/admin/api-keys``);
  otherwise the browser keeps the response from the page.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, g, request

from app.http.errors import error_response
from app.services.origins import OriginCache, allowed_somewhere

PREFIX = "/v1/storefront/"
ALLOW_METHODS = "GET, POST"
ALLOW_HEADERS = "X-Api-Key, Content-Type, Idempotency-Key, X-Request-Id"
EXPOSE_HEADERS = "X-Request-Id, Retry-After"
#: How long a browser may reuse a preflight answer, seconds.
MAX_AGE = 600
EXTENSION = "tierwise.origins"


def install(app: Flask, ttl_seconds: float) -> None:
    app.extensions[EXTENSION] = OriginCache(ttl_seconds)
    app.before_request(_preflight)
    app.after_request(_allow)


def forget_origins() -> None:
    """After a key's origins change: this process asks the database again."""
    cache = current_app.extensions.get(EXTENSION)
    if cache is not None:
        cache.clear()


def _preflight() -> Response | None:
    if (
        request.method != "OPTIONS"
        or not request.path.startswith(PREFIX)
        or "Access-Control-Request-Method" not in request.headers
    ):
        return None
    origin = request.headers.get("Origin", "")
    services = current_app.extensions["tierwise"]
    if not origin or not allowed_somewhere(services.db, current_app.extensions[EXTENSION], origin):
        response = error_response(
            403,
            "origin_not_allowed",
            "No storefront API key allows this origin; add it to a key's allowed_origins.",
        )
        response.headers["Vary"] = "Origin"
        return response
    response = current_app.response_class(status=204)
    response.headers.update(
        {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": ALLOW_METHODS,
            "Access-Control-Allow-Headers": ALLOW_HEADERS,
            "Access-Control-Max-Age": str(MAX_AGE),
            "Vary": "Origin",
            "Cache-Control": "no-store",
        }
    )
    return response


def _allow(response: Response) -> Response:
    origin = request.headers.get("Origin")
    if not origin or not request.path.startswith(PREFIX) or request.method == "OPTIONS":
        return response
    principal = g.get("principal")
    if principal is None or principal.kind != "storefront":
        return response
    if origin in principal.allowed_origins:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        response.vary.add("Origin")  # one Vary header, beside a conditional GET's X-Api-Key
    return response
