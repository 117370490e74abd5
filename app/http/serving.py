"""gunicorn workers for ``tierwise serve`` whose own answers come in the service's one error shape.

gunicorn refuses some requests before the app sees them: a request line longer than
``limit_request_line`` (414), too many or too large headers (431), a request that is not HTTP
(400), an unknown transfer coding (501). It answers them with an HTML page; these workers let
gunicorn decide, log and count as it does, then send the same status as JSON
(``{"error": {"code", "message"}, "request_id"}``, with ``X-Request-Id``), as the app answers
everything else. ``tierwise serve`` sets ``limit_request_line`` to gunicorn's maximum, 8190
bytes, above the app's own URL limit (``app.http.incoming.MAX_URL_LENGTH``), so a URL a little too
long is answered by the app and a far longer one here, both 414 ``uri_too_long``.
"""

from __future__ import annotations

import gc
import json
import os
import uuid
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker
from gunicorn.workers.sync import SyncWorker

from app.http.errors import HTTP_CODES

#: gunicorn's largest ``limit_request_line`` (0 would mean unlimited).
LIMIT_REQUEST_LINE = 8190

MESSAGES = {
    400: "The request could not be read as HTTP.",
    403: "The request is forbidden.",
    414: f"The request line (method, URL and version) is longer than {LIMIT_REQUEST_LINE} bytes.",
    417: "The expectation in Expect is not supported.",
    431: "The request headers are too many or too large.",
    500: "An unexpected error occurred; it was logged.",
    501: "The transfer coding is not supported.",
}


def json_error(status: int, reason: str) -> bytes:
    """A complete HTTP/1.1 response in the error shape (the connection is closed after it)."""
    request_id = uuid.uuid4().hex
    message = MESSAGES.get(status, reason or "The request could not be served.")
    error = {"code": HTTP_CODES.get(status, "http_error"), "message": message}
    body = json.dumps({"error": error, "request_id": request_id}, separators=(",", ":")).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        f"X-Request-Id: {request_id}\r\nCache-Control: no-store\r\n\r\n"
    )
    return head.encode("latin-1") + body


class _Capture:
    """The client's socket while gunicorn writes its error page: the page is kept, not sent."""

    def __init__(self, sock: Any) -> None:
        self._sock = sock
        self.written = bytearray()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)

    def sendall(self, data: bytes) -> None:
        self.written += data


class JsonErrors:
    """Mixed into a gunicorn worker: its error responses leave in the JSON error shape."""

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        capture = _Capture(client)
        super().handle_error(req, capture, addr, exc)  # type: ignore[misc]
        if not capture.written:
            return
        status_line = bytes(capture.written).split(b"\r\n", 1)[0].decode("latin-1")
        _, status, reason = [*status_line.split(" ", 2), "", ""][:3]
        try:
            util.write_nonblock(client, json_error(int(status), reason))
        except (OSError, ValueError):
            self.log.debug("Failed to send error message.")  # type: ignore[attr-defined]


class AnnouncedStop:
    """Mixed into a gunicorn worker: SIGTERM (the arbiter passes its own on) is logged as the
    start of a graceful stop. gunicorn then stops accepting, lets the requests in flight finish
    (up to ``graceful_timeout``, 30 s) and exits; the arbiter exits 0 once every worker has."""

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.log.info(  # type: ignore[attr-defined]
            "Worker stopping (pid: %s): finishing the requests in flight", os.getpid()
        )
        super().handle_exit(sig, frame)  # type: ignore[misc]


class FrozenStartupHeap:
    """Mixed into a gunicorn worker: once the app is loaded, what importing and making it left
    (~240,000 objects: modules, schemas, routes, the ORM's tables) moves to the permanent
    generation (``gc.freeze``), after one collection of its garbage.

    The cyclic collector's full collection visits every object of the oldest generation; it
    runs when a quarter as many objects as that generation holds were promoted into it, and a
    browsed offer's decision records, waiting ~20 ms for the spool's writer, live long enough to
    be promoted. Unfrozen, that was a ~90 ms pause every ~2,000 offers per worker, ~10 % of an
    offer's worker time (docs/benchmarks.md); frozen, a full collection visits only what the
    worker made since (its caches, the requests in flight)."""

    def load_wsgi(self) -> None:
        super().load_wsgi()  # type: ignore[misc]
        gc.collect()
        gc.freeze()
        self.log.info(  # type: ignore[attr-defined]
            "Worker heap settled (pid: %s): %s objects frozen", os.getpid(), gc.get_freeze_count()
        )


class JsonErrorsSyncWorker(FrozenStartupHeap, AnnouncedStop, JsonErrors, SyncWorker):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's sync worker (``--threads 1``)."""


class JsonErrorsThreadWorker(FrozenStartupHeap, AnnouncedStop, JsonErrors, ThreadWorker):  # type: ignore[misc]  # gunicorn ships no types
    """gunicorn's gthread worker (``--threads`` above 1)."""
