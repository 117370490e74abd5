"""Deprecating an operation of the API (the policy: docs/api.md "Versioning").

Mark a view method with :func:`deprecated`; from then on every answer of that operation — errors
included — carries

* ``Deprecation: @<unix seconds>`` (RFC 9745): since when it is deprecated;
* ``Sunset: <HTTP-date>`` (RFC 8594): after when it may stop answering;
* ``Link: <url>; rel="deprecation"`` (RFC 9745): where the replacement is described;

and the OpenAPI document marks the operation ``deprecated: true`` with the dates in its
description. :func:`install` adds the headers (``create_app`` calls it)::

    @blp.route("/segments/<segment>/offers")
    class Offers(MethodView):
        @deprecated(since=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
                    sunset=dt.datetime(2027, 7, 1, tzinfo=dt.UTC),
                    link="https://docs.example/api#offers-v2")
        @blp.response(200, s.OffersSchema)
        def get(self, ...): ...
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Flask, Response, request
from flask_smorest import Blueprint
from werkzeug.http import http_date

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Deprecation:
    since: dt.datetime
    sunset: dt.datetime
    link: str

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.sunset.tzinfo is None:
            raise ValueError("since and sunset must be aware datetimes")
        if self.sunset <= self.since:
            raise ValueError("sunset must come after since")

    def headers(self) -> dict[str, str]:
        return {
            "Deprecation": f"@{int(self.since.timestamp())}",
            "Sunset": http_date(self.sunset),
            "Link": f'<{self.link}>; rel="deprecation"',
        }

    def note(self) -> str:
        return (
            f"**Deprecated** since {self.since.isoformat()}; answers until at least "
            f"{self.sunset.isoformat()} (`Sunset`). Replacement: {self.link}"
        )


def deprecated(*, since: dt.datetime, sunset: dt.datetime, link: str) -> Callable[[F], F]:
    """Mark a view method deprecated (outermost decorator, above ``@blp.response``)."""
    mark = Deprecation(since, sunset, link)

    def decorate(func: F) -> F:
        rest = (func.__doc__ or "").strip().partition("\n")[2].strip()
        documented: F = Blueprint.doc(
            deprecated=True, description="\n\n".join(filter(None, (mark.note(), rest)))
        )(func)
        documented._deprecation = mark  # type: ignore[attr-defined]
        return documented

    return decorate


def deprecation_of(app: Flask, endpoint: str, method: str) -> Deprecation | None:
    """The deprecation of the operation ``method`` of ``endpoint``, if it is marked."""
    view = app.view_functions.get(endpoint)
    handler = getattr(getattr(view, "view_class", None), method.lower(), None) or view
    mark = getattr(handler, "_deprecation", None)
    return mark if isinstance(mark, Deprecation) else None


def install(app: Flask) -> None:
    """Send the deprecation headers on every answer of a deprecated operation. Looked up once
    per (endpoint, method): no cost on the operations that are not deprecated beyond a dict hit."""
    known: dict[tuple[str, str], Deprecation | None] = {}

    @app.after_request
    def _deprecation_headers(response: Response) -> Response:
        rule = request.url_rule
        if rule is None or rule.endpoint is None:
            return response
        key = (rule.endpoint, request.method)
        if key not in known:
            known[key] = deprecation_of(app, *key)
        mark = known[key]
        if mark is not None:
            for name, value in mark.headers().items():
                if name == "Link":
                    response.headers.add(name, value)  # beside any other Link
                else:
                    response.headers[name] = value
        return response
