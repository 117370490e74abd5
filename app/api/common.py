"""Helpers shared by the views: the service container, ETags, pagination, blueprints."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from flask import current_app, request
from flask_smorest import Blueprint

from config import Settings
from pricing.errors import PreconditionFailed, PreconditionRequired
from storage.cache import Cache
from storage.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    cache: Cache


def services() -> Services:
    return current_app.extensions["tierwise"]


def blueprint(
    name: str, url_prefix: str, description: str, hook: Callable[[], None] | None
) -> Blueprint:
    blp = Blueprint(name, name, url_prefix=url_prefix, description=description)
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
    """Pagination arguments as flask-smorest passes them, turned into offset/limit."""

    def __init__(self, parameters) -> None:
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
