"""Domain errors with stable machine codes. app/http/errors.py maps each class to an HTTP status."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """Raised by use cases; views never catch it. ``code`` is stable and documented."""

    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class InvalidInput(DomainError):
    code = "invalid_input"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class Forbidden(DomainError):
    code = "forbidden"


class PreconditionRequired(DomainError):
    code = "precondition_required"


class PreconditionFailed(DomainError):
    code = "precondition_failed"


class BadRequest(DomainError):
    """A request that can't be understood or authenticated as sent (e.g. a bad signature)."""

    code = "bad_request"
