"""Log lines: plain text (``LOG_FORMAT=text``, the default) or one JSON object per line
(``LOG_FORMAT=json``) for log collectors.

A JSON line always has ``time`` (ISO-8601 with its UTC offset), ``level``, ``event`` (the
message), ``logger``, and ``request_id``, ``tenant``, ``route``, ``status`` and ``duration_ms``
(null where they do not apply: a worker booting has no request). Inside a request the app's own
records take the request's id, tenant and route template; the access log (one line per request,
``event: "request"``, app/http/access_log.py) adds method, path, status, size and duration. An
exception is one record whose ``traceback`` holds the whole traceback (newlines escaped)::

    {"time": "2026-12-07T10:04:54.123+00:00", "level": "INFO", "event": "request",
     "logger": "gunicorn.access", "request_id": "7b95c8...", "tenant": "3f0c...",
     "route": "/v1/storefront/segments/<segment_key>/offers", "status": 200,
     "duration_ms": 8.214, "method": "GET", "path": "/v1/storefront/...", ...}
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

#: Fields every JSON line carries, in this order.
CORE = ("request_id", "tenant", "route", "status", "duration_ms")
#: Further record attributes (``extra=``) copied into the line when present.
EXTRA = ("method", "path", "bytes", "remote_addr")
#: WSGI environ keys the app leaves for the access log (app/http/metrics.py sets them).
ENVIRON_ROUTE = "tierwise.route"
ENVIRON_TENANT = "tierwise.tenant"


def _request_fields() -> dict[str, Any]:
    """The current request's id, tenant and route, when logging inside one."""
    try:
        from flask import g, has_request_context, request
    except ImportError:  # pragma: no cover - flask is a dependency
        return {}
    if not has_request_context():
        return {}
    principal = g.get("principal")
    tenant = getattr(principal, "tenant", None) if principal is not None else None
    rule = request.url_rule
    return {
        "request_id": g.get("request_id"),
        "tenant": tenant.id if tenant is not None else None,
        "route": rule.rule if rule is not None else None,
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC)
            .astimezone()
            .isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "event": record.getMessage(),
            "logger": record.name,
            "pid": record.process,
        }
        context = _request_fields()
        for name in CORE:
            value = getattr(record, name, None)
            line[name] = value if value is not None else context.get(name)
        for name in EXTRA:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["traceback"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)


def use_format(log_format: str, level: str) -> None:
    """The root logger at ``level``, writing to stderr (``logging.basicConfig``: a handler only
    if it has none) in ``log_format``."""
    logging.basicConfig(level=level)
    if log_format == "json":
        for handler in logging.getLogger().handlers:
            if type(handler) is logging.StreamHandler:
                handler.setFormatter(JsonFormatter())
