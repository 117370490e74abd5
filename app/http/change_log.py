"""The change log: who changed the catalog, rulesets, experiments, API keys or tenant settings,
when, and what it was before and after. Tenant admins and analysts read their own tenant's
changes (``/v1/admin``); platform admins every tenant's (``/v1/platform``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from app.http.auth import current_tenant, require_platform_admin, require_tenant_admin
from app.http.common import Paging, blueprint, services
from app.http.errors import ErrorSchema
from app.http.schemas import change_log as s
from app.services import change_log

blp = blueprint(
    "admin-change-log",
    "/v1/admin",
    "Tenant admin: the change log of the tenant's configuration.",
    require_tenant_admin,
)
platform = blueprint(
    "platform-change-log",
    "/v1/platform",
    "Platform operators: the change log of every tenant's configuration.",
    require_platform_admin,
)

NDJSON = "application/x-ndjson"
EXPORTED = "NDJSON: one change per line (the fields of a listed change), oldest first"
EXPORT_REFUSED = "from/to missing, to not after from, or more than 31 days apart"


def ndjson(lines: Iterator[str]) -> Response:
    return Response(lines, mimetype=NDJSON)


@blp.route("/audit/changes")
class Changes(MethodView):
    @blp.arguments(s.ChangeQuerySchema, location="query")
    @blp.response(200, s.ChangeSchema(many=True))
    @blp.alt_response(422, schema=ErrorSchema, description="Unknown or malformed filter")
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """Search the tenant's configuration changes, newest first: entity, action, actor, request, time range

        Who changed which configuration (tenant, keys, catalog, capacity, blackouts,
        rulesets, experiments), when, before and after. Filters are exact matches plus
        `from` ≤ created_at < `to`; an unknown parameter answers 422. Paginated.
        """
        paging = Paging(pagination_parameters)
        query = change_log.change_query(current_tenant().id, args)
        return paging.done(change_log.search(services().db, query, paging.offset, paging.limit))


@blp.route("/audit/changes/export")
class ChangeExport(MethodView):
    @blp.arguments(s.ChangeExportQuerySchema, location="query")
    @blp.response(200, s.ChangeSchema, description=EXPORTED, content_type=NDJSON)
    @blp.alt_response(422, schema=ErrorSchema, description=EXPORT_REFUSED)
    def get(self, args: dict[str, Any]) -> Response:
        """Export the tenant's changes of a time range (at most 31 days) as NDJSON, with the same filters

        Streams the matching changes as NDJSON (one change per line), oldest first; `from`
        and `to` are required and at most 31 days apart.
        """
        query = change_log.change_query(current_tenant().id, args)
        return ndjson(change_log.export(services().db, query))


@platform.route("/audit/changes")
class PlatformChanges(MethodView):
    @platform.arguments(s.PlatformChangeQuerySchema, location="query")
    @platform.response(200, s.ChangeSchema(many=True))
    @platform.alt_response(422, schema=ErrorSchema, description="Unknown or malformed filter")
    @platform.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """Search every tenant's configuration changes (or one tenant's: tenant_id), newest first

        For platform admins: the change log of every tenant, or of `tenant_id`, with the
        tenant filters. Paginated.
        """
        paging = Paging(pagination_parameters)
        query = change_log.change_query(None, args)
        return paging.done(change_log.search(services().db, query, paging.offset, paging.limit))


@platform.route("/audit/changes/export")
class PlatformChangeExport(MethodView):
    @platform.arguments(s.PlatformChangeExportQuerySchema, location="query")
    @platform.response(200, s.ChangeSchema, description=EXPORTED, content_type=NDJSON)
    @platform.alt_response(422, schema=ErrorSchema, description=EXPORT_REFUSED)
    def get(self, args: dict[str, Any]) -> Response:
        """Export every tenant's changes (or one tenant's) of a time range as NDJSON

        For platform admins: the changes of a range of at most 31 days as NDJSON, oldest
        first.
        """
        return ndjson(change_log.export(services().db, change_log.change_query(None, args)))
