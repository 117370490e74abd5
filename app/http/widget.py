"""The storefront widget's script (``GET /widget/v1/tierwise.js``) and the demo page
(``GET /demo``): files of ``app/web``, read once per process, served with an ETag (their content
hash), ``Cache-Control``, and gzip to clients that take it. Not part of the JSON API."""

from __future__ import annotations

import functools
import gzip
import hashlib
from dataclasses import dataclass
from importlib import resources

from flask import Blueprint, Response, current_app, request

web = Blueprint("web", __name__)

#: Browsers reuse the script this long, then revalidate it with If-None-Match (a 304 when
#: unchanged): ``/widget/v1/`` keeps its name across releases, so the cache must stay short.
SCRIPT_MAX_AGE = 300


@dataclass(frozen=True)
class Asset:
    body: bytes
    gzipped: bytes
    etag: str  # unquoted
    mimetype: str


@functools.cache
def asset(name: str, mimetype: str) -> Asset:
    body = resources.files("app.web").joinpath(name).read_bytes()
    digest = hashlib.sha256(body).hexdigest()[:20]
    return Asset(body, gzip.compress(body, 9, mtime=0), digest, mimetype)


def _serve(found: Asset, cache_control: str, cross_origin: bool = False) -> Response:
    headers = {"ETag": f'"{found.etag}"', "Cache-Control": cache_control, "Vary": "Accept-Encoding"}
    if cross_origin:  # a <script src> on any site; CORP for pages isolating themselves (COEP)
        headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        headers["Access-Control-Allow-Origin"] = "*"
    if request.if_none_match.contains(found.etag):
        return current_app.response_class(status=304, headers=headers)
    body = found.body
    if request.accept_encodings.quality("gzip") > 0:
        body = found.gzipped
        headers["Content-Encoding"] = "gzip"
    return current_app.response_class(body, mimetype=found.mimetype, headers=headers)


@web.get("/widget/v1/tierwise.js")
def script() -> Response:
    """The widget: defines <tierwise-storefront> (docs/widget.md)."""
    found = asset("widget/tierwise.js", "text/javascript")
    return _serve(found, f"public, max-age={SCRIPT_MAX_AGE}", cross_origin=True)


@web.get("/widget/v1/demo.js")
def demo_script() -> Response:
    found = asset("widget/demo.js", "text/javascript")
    return _serve(found, f"public, max-age={SCRIPT_MAX_AGE}")


@web.get("/demo")
def demo() -> Response:
    """A page with the widget for the demo tenant (its key in the address's #key=...)."""
    return _serve(asset("demo.html", "text/html"), "no-cache")
