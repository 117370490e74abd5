"""The service's access log: gunicorn's logger with a lean access line.

gunicorn's default builds some forty format atoms (every request and response header and every
environ variable among them) and wraps them for case-insensitive lookup on every request: its line
cost about a quarter of gunicorn's own time per offer request, this one half as much (a tenth of
gunicorn's time saved, docs/operations.md "Serving"). This writes the line an operator needs directly,
with the request id that decision records carry (``X-Request-Id``), so a line leads to its
decisions. Nothing a client sends can break the line or forge another: the request id is the
app's (a client's own only when it is a safe token, ``app.http.incoming``; anything else shows as
``-``), and the URL, printable ASCII without spaces as gunicorn accepts it, has its quotes and
backslashes escaped:

    127.0.0.1 [06/Dec/2026:10:04:54 +0000] "GET /v1/storefront/segments/premium/offers?date=... HTTP/1.1" 200 5003 8.214ms 7b95c88d3da644d3a0c29db414ca868f
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn import glogging

from app.http.incoming import REQUEST_ID
from app.logs import ENVIRON_ROUTE, ENVIRON_TENANT, JsonFormatter


class AccessLog(glogging.Logger):  # type: ignore[misc]  # gunicorn ships no types
    """With ``LOG_FORMAT=json`` gunicorn's own lines (its error log) and the access lines are JSON
    objects (app/logs.py): an access line adds the route template and tenant the app noted."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        self.json = os.environ.get("LOG_FORMAT", "").strip().lower() == "json"
        if self.json:
            for handler in (*self.error_log.handlers, *self.access_log.handlers):
                handler.setFormatter(JsonFormatter())

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status.split(None, 1)[0] if isinstance(resp.status, str) else resp.status
        request_id = next((v for k, v in resp.headers if k.lower() == "x-request-id"), "-")
        if not REQUEST_ID.fullmatch(request_id):
            request_id = "-"
        uri = environ["RAW_URI"]
        millis = request_time.seconds * 1000 + request_time.microseconds / 1000
        if self.json:
            self._json_line(resp, environ, status, request_id, uri, millis)
            return
        if '"' in uri or "\\" in uri:
            uri = uri.replace("\\", "\\\\").replace('"', '\\"')
        try:
            self.access_log.info(
                '%s %s "%s %s %s" %s %s %.3fms %s',
                environ.get("REMOTE_ADDR", "-"),
                self.now(),
                environ["REQUEST_METHOD"],
                uri,
                environ["SERVER_PROTOCOL"],
                status,
                resp.sent if resp.sent is not None else "-",
                millis,
                request_id,
            )
        except Exception:  # never let a log line fail a request (gunicorn's own rule)
            self.exception("access log line failed")

    def _json_line(
        self,
        resp: Any,
        environ: dict[str, Any],
        status: Any,
        request_id: str,
        uri: str,
        millis: float,
    ) -> None:
        try:
            self.access_log.info(
                "request",
                extra={
                    "request_id": None if request_id == "-" else request_id,
                    "tenant": environ.get(ENVIRON_TENANT),
                    "route": environ.get(ENVIRON_ROUTE),
                    "status": int(status),
                    "duration_ms": round(millis, 3),
                    "method": environ["REQUEST_METHOD"],
                    "path": uri,
                    "bytes": resp.sent,
                    "remote_addr": environ.get("REMOTE_ADDR"),
                },
            )
        except Exception:  # never let a log line fail a request (gunicorn's own rule)
            self.exception("access log line failed")
