"""Vendored third-party web assets (``app/web/vendor/<name>-<version>/``, their origin and
checksums in its README): served under ``/static/vendor/``, cached for a year since a new version
gets a new path. Swagger UI at ``/docs`` loads its files from here, so it works offline."""

from __future__ import annotations

import functools
import mimetypes
from pathlib import Path

from flask import Blueprint, Response, abort
from werkzeug.security import safe_join

VENDOR = Path(__file__).resolve().parents[1] / "web" / "vendor"
SWAGGER_UI = "swagger-ui-dist-5.36.0"
#: What flask-smorest's Swagger UI page loads its script and stylesheet from.
SWAGGER_UI_URL = f"/static/vendor/{SWAGGER_UI}/"

vendor = Blueprint("vendor", __name__)


@functools.cache
def _read(path: str) -> bytes:
    return Path(path).read_bytes()


@vendor.get("/static/vendor/<path:name>")
def asset(name: str) -> Response:
    path = safe_join(str(VENDOR), name)
    if path is None or not name.endswith((".js", ".css")) or not Path(path).is_file():
        abort(404)
    mimetype = mimetypes.guess_type(path)[0] or "application/octet-stream"
    return Response(
        _read(path),
        mimetype=mimetype,
        headers={"Cache-Control": "public, max-age=31536000, immutable"},
    )
