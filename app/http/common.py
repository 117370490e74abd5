"""Helpers shared by the views: the service container, ETags, pagination, blueprints."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeAlias, TypeVar, cast

import marshmallow as ma
from flask import Request, current_app, g, request
from flask_smorest import Blueprint
from flask_smorest.pagination import PaginationParameters
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, abort
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import UnsupportedMediaType

from app.adapters.cache import Cache
from app.adapters.credentials import ApiKeyCache
from app.adapters.rules_runtime import RulesRuntime
from app.http.errors import ErrorSchema
from app.services.checkout import CheckoutContext
from app.services.events_out import EventsContext
from app.services.offers import OfferContext
from config import Settings
from pricing.errors import InvalidInput, PreconditionFailed, PreconditionRequired
from rules.documents import load_document
from rules.language import RulesetInvalid
from storage.db import Database
from storage.repository import Page

T = TypeVar("T")

#: A view's answer with its status and headers, as flask-smorest takes it:
#: ``return segment, 200, etag(segment.version)``.
Reply: TypeAlias = tuple[T, int, dict[str, str]]


@dataclass
class Services:
    settings: Settings
    db: Database
    cache: Cache
    rules: RulesRuntime
    offers: OfferContext
    api_keys: ApiKeyCache
    checkout: CheckoutContext
    events: EventsContext


def utc_now() -> dt.datetime:
    """The request's clock (modules bind it as ``_now``, which tests may replace)."""
    return dt.datetime.now(dt.UTC)


def services() -> Services:
    return cast(Services, current_app.extensions["tierwise"])


#: The highest MAX_PAGE_SIZE the configuration accepts; the configured limit is applied per request.
PAGE_SIZE_CEILING = 1000
#: The last page number: its offset, (page - 1) × page size, stays far inside a BIGINT.
MAX_PAGE = 2**31 - 1


YAML = "application/yaml"


#: A query schema's fast path: the request's arguments -> exactly what the schema loads from them,
#: or None when it is not certain to (the schema then parses them, refusals included).
FastQuery: TypeAlias = Callable[[MultiDict[str, str]], dict[str, Any] | None]


class BodyParser(FlaskParser):
    """webargs' parser with the body rules of the house: a JSON body, read as
    ``request.get_json()`` does (once, through ``app.http.json_provider.parse_request_json``, whose
    refusals — too deep, numbers too long — are answered in the error shape); a YAML one
    (``application/yaml``, the same fields) where the view is marked ``accepts_yaml``; any other
    body is 415 ``unsupported_media_type`` rather than ignored.

    A query schema instance given a fast path (``blp.arguments(..., fast=...)``) is read by it
    first; the schema parses what the fast path leaves (issue 22: the storefront's offers)."""

    def __init__(self) -> None:
        super().__init__()
        self.fast_queries: dict[ma.Schema, FastQuery] = {}

    def parse(self, argmap: Any, req: Request | None = None, **options: Any) -> Any:
        if isinstance(argmap, ma.Schema) and options.get("location") == "query":
            fast = self.fast_queries.get(argmap)
            if fast is not None and options.get("validate") is None:
                loaded = fast((req if req is not None else self.get_default_request()).args)
                if loaded is not None:
                    return loaded
        return super().parse(argmap, req, **options)

    def _raw_load_json(self, req: Request) -> Any:
        body = req.get_data(cache=True)
        if not body:
            return webargs_core.missing
        if webargs_core.is_json(req.mimetype):
            return req.get_json()
        if req.mimetype == YAML and g.get("accepts_yaml"):
            return _yaml_body(body)
        accepted = "application/json or application/yaml" if g.get("accepts_yaml") else "JSON"
        raise UnsupportedMediaType(
            f"This operation takes {accepted} bodies, not {req.mimetype or 'untyped'} ones."
        )


def _yaml_body(body: bytes) -> Any:
    """The YAML body's data, as a JSON body's would be (the schema then validates it), or 400
    like a body that is not JSON: ``/json`` with the YAML's error (aliases are refused)."""
    try:
        return load_document(body, YAML)
    except RulesetInvalid as error:
        abort(400, messages={"json": [e["message"] for e in error.errors]})


#: What flask-smorest's view decorators do to a view: wrap it, or document it.
ViewDecorator: TypeAlias = Callable[[Callable[..., Any]], Callable[..., Any]]
ViewClass = TypeVar("ViewClass", bound=type)


class TierwiseBlueprint(Blueprint):  # type: ignore[misc]  # flask-smorest ships no types
    """flask-smorest's blueprint with the house body parser and ``page`` limit. The decorators the
    views use are declared here with their types (flask-smorest ships none), so that annotated
    views stay checked."""

    ARGUMENTS_PARSER = BodyParser()
    DEFAULT_PAGINATION_PARAMETERS = {
        "page": 1,
        "page_size": Settings.default_page_size,
        "max_page_size": PAGE_SIZE_CEILING,
    }

    def route(self, rule: str, **options: Any) -> Callable[[ViewClass], ViewClass]:
        decorate: Callable[[ViewClass], ViewClass] = super().route(rule, **options)
        return decorate

    def arguments(
        self, schema: type[ma.Schema] | ma.Schema, *, fast: FastQuery | None = None, **options: Any
    ) -> ViewDecorator:
        """flask-smorest's; ``fast``: a fast path for a query schema instance (``BodyParser``),
        which every route parsing that instance then takes. The documentation is the schema's."""
        if fast is not None:
            if not isinstance(schema, ma.Schema) or options.get("location") != "query":
                raise TypeError("a fast path reads a query schema instance")
            self.ARGUMENTS_PARSER.fast_queries[schema] = fast
        decorate: ViewDecorator = super().arguments(schema, **options)
        return decorate

    def response(
        self, status_code: int, schema: type[ma.Schema] | ma.Schema | None = None, **options: Any
    ) -> ViewDecorator:
        decorate: ViewDecorator = super().response(status_code, schema, **options)
        return decorate

    def alt_response(self, status_code: int, **options: Any) -> ViewDecorator:
        decorate: ViewDecorator = super().alt_response(status_code, **options)
        return decorate

    @staticmethod
    def doc(**documentation: Any) -> ViewDecorator:
        decorate: ViewDecorator = Blueprint.doc(**documentation)
        return decorate

    def paginate(
        self,
        pager: type | None = None,
        *,
        page: int | None = None,
        page_size: int | None = None,
        max_page_size: int | None = None,
    ) -> ViewDecorator:
        """flask-smorest's, with ``page`` at most ``MAX_PAGE`` (beyond it the database's offset
        overflows). flask-smorest builds the parameters' schema class inside ``paginate``; its
        ``page`` field is replaced on that class, which both parses and documents the query."""
        decorate: ViewDecorator = super().paginate(
            pager, page=page, page_size=page_size, max_page_size=max_page_size
        )

        def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
            wrapper = decorate(func)
            schema = wrapper.__dict__["_apidoc"]["pagination"]["parameters"]["schema"]
            schema._declared_fields["page"] = ma.fields.Integer(
                load_default=page or self.DEFAULT_PAGINATION_PARAMETERS["page"],
                validate=ma.validate.Range(min=1, max=MAX_PAGE),
            )
            return wrapper

        return decorator


def blueprint(
    name: str, url_prefix: str, description: str, hook: Callable[[], None] | None
) -> TierwiseBlueprint:
    blp = TierwiseBlueprint(name, name, url_prefix=url_prefix, description=description)
    if hook is not None:
        blp.before_request(hook)
    return blp


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


#: Response header documentation of the views answering ``etag(...)``:
#: ``@blp.response(200, Schema, headers=ETAG)``.
ETAG = {
    "ETag": {
        "description": 'The resource version, `"<version>"`: send it back as If-Match to update',
        "schema": {"type": "string"},
    }
}

IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": True,
    "description": "The ETag read: 428 without it, 412 when the resource changed since",
    "schema": {"type": "string"},
}


def conditional(blp: TierwiseBlueprint) -> ViewDecorator:
    """Documents a view that calls ``if_match_version``: the If-Match header, 412 and 428."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        view = blp.alt_response(412, schema=ErrorSchema, description="Stale If-Match")(view)
        view = blp.alt_response(428, schema=ErrorSchema, description="If-Match missing")(view)
        return blp.doc(parameters=[IF_MATCH])(view)

    return decorate


def accepts_yaml(blp: TierwiseBlueprint, schema: str) -> ViewDecorator:
    """The view (decorated above its ``@blp.arguments``) also takes its body as YAML
    (``application/yaml``: the same fields, anchors and aliases refused), documented beside the
    JSON one with the component ``schema``."""

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.accepts_yaml = True
            return view(*args, **kwargs)

        body = {"content": {YAML: {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}
        return blp.doc(requestBody=body)(wrapper)

    return decorate


_ETAG = re.compile(r'^\s*(?:W/)?"(\d{1,9})"\s*$')


def if_match_version() -> int:
    """The resource version the client read, from ``If-Match`` (required on updates)."""
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired(
            "Send If-Match with the ETag you read; updates are refused without it.",
            code="if_match_required",
        )
    match = _ETAG.match(header)
    if not match:
        raise PreconditionFailed(
            "If-Match does not match the current ETag.", code="version_mismatch"
        )
    return int(match.group(1))


class Paging:
    """Pagination arguments as flask-smorest passes them, turned into offset/limit, with the
    configured ``DEFAULT_PAGE_SIZE`` and ``MAX_PAGE_SIZE`` applied."""

    def __init__(self, parameters: PaginationParameters) -> None:
        settings = services().settings
        if "page_size" not in request.args:
            parameters.page_size = settings.default_page_size
        elif parameters.page_size > settings.max_page_size:
            raise InvalidInput(
                "The request did not validate.",
                code="validation_error",
                details=[
                    {
                        "path": "/query/page_size",
                        "message": "Must be greater than or equal to 1 and less than or equal "
                        f"to {settings.max_page_size}.",
                    }
                ],
            )
        self.parameters = parameters

    @property
    def offset(self) -> int:
        return int(self.parameters.first_item)

    @property
    def limit(self) -> int:
        return int(self.parameters.page_size)

    def done(self, page: Page[T]) -> list[T]:
        self.parameters.item_count = page.total
        return page.items
