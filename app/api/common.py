"""Helpers shared by the views: the service container, ETags, pagination, blueprints."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import marshmallow as ma
from flask import current_app, request
from flask_smorest import Blueprint
from webargs import core
from webargs.flaskparser import FlaskParser, is_json_request

from app.auth import ApiKeyCache
from app.rules_runtime import RulesRuntime
from app.services.checkout import CheckoutContext
from app.services.offers import OfferContext
from config import Settings
from pricing.errors import InvalidInput, PreconditionFailed, PreconditionRequired
from storage.cache import Cache
from storage.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    cache: Cache
    rules: RulesRuntime
    offers: OfferContext
    api_keys: ApiKeyCache
    checkout: CheckoutContext


def services() -> Services:
    return current_app.extensions["tierwise"]


#: The highest MAX_PAGE_SIZE the configuration accepts; the configured limit is applied per request.
PAGE_SIZE_CEILING = 1000
#: The last page number: its offset, (page - 1) × page size, stays far inside a BIGINT.
MAX_PAGE = 2**31 - 1


class TierwiseParser(FlaskParser):
    """webargs reading JSON bodies as ``request.get_json()`` does: once, through
    ``app.json_provider.parse_request_json`` (whose refusals are answered in the error shape)."""

    def _raw_load_json(self, req: Any) -> Any:
        if not is_json_request(req) or not req.get_data(cache=True):
            return core.missing
        return req.get_json()


class TierwiseBlueprint(Blueprint):
    ARGUMENTS_PARSER = TierwiseParser()
    DEFAULT_PAGINATION_PARAMETERS = {
        "page": 1,
        "page_size": Settings.default_page_size,
        "max_page_size": PAGE_SIZE_CEILING,
    }

    def paginate(self, pager=None, *, page=None, page_size=None, max_page_size=None):
        """flask-smorest's, with ``page`` at most ``MAX_PAGE`` (beyond it the database's offset
        overflows). flask-smorest builds the parameters' schema class inside ``paginate``; its
        ``page`` field is replaced on that class, which both parses and documents the query."""
        decorate = super().paginate(
            pager, page=page, page_size=page_size, max_page_size=max_page_size
        )

        def decorator(func):
            wrapper = decorate(func)
            schema = wrapper._apidoc["pagination"]["parameters"]["schema"]
            schema._declared_fields["page"] = ma.fields.Integer(
                load_default=page or self.DEFAULT_PAGINATION_PARAMETERS["page"],
                validate=ma.validate.Range(min=1, max=MAX_PAGE),
            )
            return wrapper

        return decorator


def blueprint(
    name: str, url_prefix: str, description: str, hook: Callable[[], None] | None
) -> Blueprint:
    blp = TierwiseBlueprint(name, name, url_prefix=url_prefix, description=description)
    if hook is not None:
        blp.before_request(hook)
    return blp


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


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

    def __init__(self, parameters) -> None:
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
        return self.parameters.first_item

    @property
    def limit(self) -> int:
        return self.parameters.page_size

    def done(self, page):
        self.parameters.item_count = page.total
        return page.items
