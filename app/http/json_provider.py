"""Flask's JSON output through orjson: about a tenth of the standard library's time for an offers
response. Output is the same JSON as Flask's own provider gives, except for time: an instant is
ISO 8601 with its offset (a naive one is taken as UTC, as everything stored is) and a date
YYYY-MM-DD — never Flask's HTTP dates — wherever it sits, in a free-form object (a backtest's
largest changes) too. Dataclasses and anything else orjson does not know natively go through
:func:`default`; whatever orjson refuses (an integer beyond 64 bits, say) falls back to the
standard library.

Request bodies are parsed in one place, :func:`parse_request_json` (the standard library's
parser, with limits; see :class:`TierwiseRequest`)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any, cast

import orjson
from flask import Request, Response
from flask.json.provider import DefaultJSONProvider
from flask.json.provider import _default as _flask_default

from pricing.errors import BadRequest, DomainError, InvalidInput
from rules.documents import MAX_DEPTH, plain_data_problem

#: Digits of an integer in a request body: any 64-bit integer fits; the longest number any field
#: takes has 13 (amounts up to 10**12). Longer ones cost quadratic time to convert.
MAX_INTEGER_DIGITS = 20

_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def default(obj: Any) -> Any:
    """What orjson hands back: instants and dates in ISO 8601, the rest as Flask does."""
    if isinstance(obj, dt.datetime):
        return (obj if obj.tzinfo else obj.replace(tzinfo=dt.UTC)).isoformat()
    if isinstance(obj, dt.date):
        return obj.isoformat()
    return _flask_default(obj)


class OrjsonProvider(DefaultJSONProvider):
    sort_keys = False
    default = staticmethod(default)

    def _bytes(self, obj: Any, indent: bool) -> bytes:
        options = _OPTIONS | orjson.OPT_INDENT_2 if indent else _OPTIONS
        try:
            return orjson.dumps(obj, default=self.default, option=options)
        except orjson.JSONEncodeError:
            layout: dict[str, Any] = {"indent": 2} if indent else {"separators": (",", ":")}
            text: str = super().dumps(obj, ensure_ascii=False, **layout)
            return text.encode()

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs.keys() - {"indent", "separators"}:  # options orjson has no equal of
            return super().dumps(obj, **kwargs)
        return self._bytes(obj, bool(kwargs.get("indent"))).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        return self.encoded_response(self.encode(self._prepare_response_obj(args, kwargs)))

    def encode(self, obj: Any) -> bytes:
        """``obj`` as ``response`` writes it (without the final newline)."""
        return self._bytes(obj, self.compact is False or (self.compact is None and self._app.debug))

    def encoded_response(self, data: bytes) -> Response:
        """The response of what ``encode`` gave."""
        # The app is a flask.Flask, whose responses take a body; Flask types ``_app`` as the base
        # class of Flask and Quart, whose responses do not.
        response_class = cast("type[Response]", self._app.response_class)
        return response_class(data + b"\n", mimetype=self.mimetype)


class RequestJsonRefused(ValueError):
    """A request body :func:`parse_request_json` refuses; ``error`` is the answer (a
    ValueError, so Flask's ``get_json`` hands it to ``on_json_loading_failed``)."""

    def __init__(self, error: DomainError) -> None:
        super().__init__(error.message)
        self.error = error


def _malformed(message: str, pointer: str = "/json") -> RequestJsonRefused:
    details = [{"path": pointer, "message": message}]
    return RequestJsonRefused(BadRequest("The request body is not valid JSON.", details=details))


def _invalid(pointer: str, message: str) -> RequestJsonRefused:
    details = [{"path": pointer, "message": message}]
    return RequestJsonRefused(
        InvalidInput("The request did not validate.", code="validation_error", details=details)
    )


class _LongInteger:
    """Stands in for an integer literal with too many digits until its path is known."""


def _constant(literal: str) -> Any:
    raise _malformed(f"{literal} is not JSON.")


def _path_of(value: Any, target: object) -> str:
    stack: list[tuple[Any, str]] = [(value, "/json")]
    while stack:
        item, path = stack.pop()
        if item is target:
            return path
        if isinstance(item, dict):
            stack.extend((v, f"{path}/{escape_pointer(k)}") for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((v, f"{path}/{i}") for i, v in enumerate(item))
    return "/json"


def escape_pointer(part: object) -> str:
    return str(part).replace("~", "~0").replace("/", "~1")


def parse_request_json(data: bytes | str) -> Any:
    """A request body as JSON, else RequestJsonRefused carrying the answer: 400 ``bad_request``
    (not UTF-8 or not JSON, NaN or Infinity, nested deeper than ``MAX_DEPTH`` levels) or 422
    ``validation_error`` at the value's path (text with NUL or a lone surrogate, an integer of
    more than ``MAX_INTEGER_DIGITS`` digits, a number too large to be finite)."""
    too_long: list[_LongInteger] = []

    def integer(literal: str) -> int | _LongInteger:
        if len(literal) - literal.startswith("-") <= MAX_INTEGER_DIGITS:
            return int(literal)
        too_long.append(_LongInteger())
        return too_long[-1]

    try:
        text = data.decode() if isinstance(data, bytes) else data
        value = json.loads(text, parse_int=integer, parse_constant=_constant)
    except UnicodeDecodeError:
        raise _malformed("The body is not UTF-8.") from None
    except RecursionError:
        raise _malformed(f"Nested deeper than {MAX_DEPTH} levels.") from None
    except json.JSONDecodeError as error:
        raise _malformed(f"{error.msg} (line {error.lineno}, column {error.colno}).") from None
    if too_long:
        pointer = _path_of(value, too_long[0])
        raise _invalid(pointer, f"Integers have at most {MAX_INTEGER_DIGITS} digits.")
    problem = plain_data_problem(value)
    if problem is not None:
        pointer, message = problem
        pointer = "/json" + ("" if pointer == "/" else pointer)
        if message.startswith("Nested deeper"):
            raise _malformed(message, pointer)
        raise _invalid(pointer, message)
    return value


class _RequestJson:
    """What :class:`TierwiseRequest` parses bodies with (Flask's ``json_module`` interface)."""

    @staticmethod
    def loads(data: bytes | str, **_kwargs: Any) -> Any:
        return parse_request_json(data)


class TierwiseRequest(Request):
    """``get_json`` goes through :func:`parse_request_json`; what it refuses is answered in the
    error shape (a domain error), whoever asked for the body."""

    @property
    def json_module(self) -> Any:
        return _RequestJson

    @json_module.setter
    def json_module(self, _provider: Any) -> None:
        """Flask hands every request the app's provider (``request.json_module = app.json``);
        request bodies keep the limited parser."""

    def on_json_loading_failed(self, e: ValueError | None) -> Any:
        if isinstance(e, RequestJsonRefused):
            raise e.error
        return super().on_json_loading_failed(e)
