"""Domain errors with stable machine codes, and the one table that maps them to HTTP.

Every error response, whatever raised it, has the shape of :class:`ErrorSchema`::

    {"error": {"code": "validation_error", "message": "...",
               "details": [{"path": "/json/name", "message": "Missing data for required field."}]},
     "request_id": "..."}
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import marshmallow as ma
from flask import Response, g, jsonify, request
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from app.adapters.payments import PaymentRefused, PaymentsUnavailable
from app.services.bookings import Busy
from pricing.errors import (
    BadRequest,
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
    Unauthenticated,
)
from rules.engine import RulesEngineError
from storage import db as storage_db

log = logging.getLogger(__name__)


#: The single mapping from domain error classes to HTTP status codes.
HTTP_STATUS: dict[type[DomainError], int] = {
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    BadRequest: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    PreconditionRequired: 428,
    PreconditionFailed: 412,
    RulesEngineError: 503,
    PaymentsUnavailable: 503,
    Busy: 503,
    PaymentRefused: 502,
}


def status_of(error: DomainError) -> int:
    """The HTTP status of a domain error (the first class of HTTP_STATUS it is an instance of)."""
    return next((status for cls, status in HTTP_STATUS.items() if isinstance(error, cls)), 400)


#: Machine codes for plain HTTP errors raised by Flask/Werkzeug/webargs.
HTTP_CODES: dict[int, str] = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "precondition_failed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    417: "expectation_failed",
    422: "validation_error",
    428: "precondition_required",
    429: "rate_limited",
    431: "request_header_fields_too_large",
    500: "internal_error",
    501: "not_implemented",
}


class ErrorDetailSchema(ma.Schema):
    path = ma.fields.String(metadata={"description": "JSON pointer of the offending input"})
    message = ma.fields.String(metadata={"description": "What is wrong there, in words"})


class ErrorBodySchema(ma.Schema):
    class Meta:
        description = "What went wrong: a stable machine code, a message and the offending inputs."

    code = ma.fields.String(required=True, metadata={"description": "Stable machine code"})
    message = ma.fields.String(
        required=True, metadata={"description": "What went wrong, in words (English)"}
    )
    details = ma.fields.List(
        ma.fields.Nested(ErrorDetailSchema),
        metadata={"description": "Per offending input: its JSON pointer and message"},
    )


class ErrorSchema(ma.Schema):
    """The one error shape of every 4xx/5xx response."""

    error = ma.fields.Nested(ErrorBodySchema, required=True)
    request_id = ma.fields.String(
        metadata={
            "description": "The request's id (also in X-Request-Id): quote it when asking for help"
        }
    )


def _pointer(parts: list[str]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def flatten_messages(messages: Any, prefix: list[str] | None = None) -> list[dict[str, str]]:
    """marshmallow/webargs nested messages -> ``[{path: JSON pointer, message}]``."""
    prefix = prefix or []
    out: list[dict[str, str]] = []
    if isinstance(messages, dict):
        for key, value in messages.items():
            out.extend(flatten_messages(value, [*prefix, str(key)]))
    elif isinstance(messages, list):
        if all(isinstance(m, str) for m in messages):
            out.extend({"path": _pointer(prefix), "message": m} for m in messages)
        else:
            for item in messages:
                out.extend(flatten_messages(item, prefix))
    else:
        out.append({"path": _pointer(prefix), "message": str(messages)})
    return out


def _body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    request_id = getattr(g, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    return body


def error_body(error: DomainError) -> dict[str, Any]:
    """The JSON body a domain error answers with (what an idempotent replay repeats). Below the
    HTTP layer a detail names the input ``field`` it is about; here it becomes a JSON pointer into
    the request: the query string of a GET, HEAD or DELETE, else the JSON body."""
    details = error.details
    if isinstance(details, dict):
        details = flatten_messages(details)
    elif isinstance(details, list):
        where = "query" if request.method in ("GET", "HEAD", "DELETE") else "json"
        details = [_located(d, where) for d in details]
    return _body(error.code, error.message, details)


def _located(detail: Any, where: str) -> Any:
    if isinstance(detail, dict) and "field" in detail:
        located = {k: v for k, v in detail.items() if k != "field"}
        return {"path": f"/{where}/{detail['field']}", **located}
    return detail


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    response = jsonify(_body(code, message, details))
    response.status_code = status
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_domain_error(error: DomainError) -> Response:
    status = status_of(error)
    headers = {"Retry-After": "5"} if status == 503 else None
    if error.code in ("request_in_progress", "busy"):
        headers = {"Retry-After": "1"}
    response = jsonify(error_body(error))
    response.status_code = status
    response.headers.update(headers or {})
    return response


def handle_http_exception(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", None) or {}
    details = None
    messages = data.get("errors") or data.get("messages")
    if messages:
        details = flatten_messages(messages)
    message = data.get("message") or error.description or error.name
    if status == 422 and details:
        message = "The request did not validate."
    headers = dict(data.get("headers") or {})
    if status == 405 and hasattr(error, "valid_methods") and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return error_response(status, HTTP_CODES.get(status, "http_error"), message, details, headers)


def handle_stale(_error: StaleDataError) -> Response:
    """Two changes of one versioned row raced and ours lost: nothing of ours was written."""
    return error_response(
        409,
        "concurrent_update",
        "The resource was changed by another request at the same time; read it again and retry.",
    )


def handle_unexpected(error: Exception) -> Response:
    if storage_db.unavailable(error):
        return _database_unavailable(error)
    log.exception("unhandled error")
    return error_response(500, "internal_error", "An unexpected error occurred; it was logged.")


def _database_unavailable(error: Exception) -> Response:
    """The database could not be used (a connection lost, refused, not made in time: see
    ``storage.db.unavailable``); the request can be retried, it is not a bug of ours. The
    driver's text (hosts, ports) stays in the log."""
    cause = getattr(error, "orig", None) or error
    log.warning("database unavailable: %s: %s", type(cause).__name__, " ".join(str(cause).split()))
    return error_response(
        503,
        "database_unavailable",
        "The database is unavailable right now; retry the request.",
        headers={"Retry-After": "1"},
    )
