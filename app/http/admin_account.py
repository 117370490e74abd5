"""Tenant admin: the tenant's own settings and its storefront API keys."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from app.http.auth import current_tenant, require_tenant_admin
from app.http.common import (
    ETAG,
    Paging,
    Reply,
    blueprint,
    conditional,
    etag,
    if_match_version,
    services,
)
from app.http.cors import forget_origins
from app.http.errors import ErrorSchema
from app.http.schemas import tenants as s
from app.services import tenants
from pricing.catalog import Tenant

blp = blueprint(
    "admin-account",
    "/v1/admin",
    "Tenant admin: tenant settings and API keys.",
    require_tenant_admin,
)


@blp.route("/tenant")
class OwnTenant(MethodView):
    @blp.response(200, s.TenantSchema, headers=ETAG)
    def get(self) -> Reply[Tenant]:
        """The caller's tenant

        The tenant of the admin token: name, currency, time zone, default capacity,
        policies, with its ETag.
        """
        tenant = current_tenant()
        return tenant, 200, etag(tenant.version)

    @blp.arguments(s.TenantUpdateSchema, example=s.TenantUpdateSchema.EXAMPLE)
    @blp.response(200, s.TenantSchema, headers=ETAG)
    @conditional(blp)
    def patch(self, data: dict[str, Any]) -> Reply[Tenant]:
        """Update the tenant's name, time zone or default capacity (If-Match required)

        Changes the given settings only (`If-Match` with the tenant's ETag: 428 without,
        412 when stale). The currency is fixed at creation.
        """
        tenant = tenants.update_tenant(services().db, current_tenant(), if_match_version(), data)
        return tenant, 200, etag(tenant.version)


@blp.route("/api-keys")
class ApiKeys(MethodView):
    @blp.response(200, s.ApiKeySchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> list[dict[str, Any]]:
        """List storefront API keys (prefixes only)

        The tenant's publishable keys, paginated: name, 14-character prefix, allowed
        origins, revoked or not. Keys are stored as HMACs, so the full key is never shown
        again.
        """
        paging = Paging(pagination_parameters)
        return paging.done(
            tenants.list_api_keys(services().db, current_tenant(), paging.offset, paging.limit)
        )

    @blp.arguments(s.ApiKeyCreateSchema, example=s.ApiKeyCreateSchema.EXAMPLE)
    @blp.response(201, s.ApiKeyCreatedSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Create a storefront API key; the full key is returned once

        A new publishable key (`tw_pk_` + 40 hex) for the storefront routes. The answer
        holds the full key; only its HMAC is stored. `allowed_origins` lists the browser
        origins whose pages may call the API with it (CORS).
        """
        svc = services()
        created = tenants.create_api_key(
            svc.db,
            svc.settings.api_key_pepper,
            current_tenant(),
            data["name"],
            data["allowed_origins"],
        )
        forget_origins()
        return created


@blp.route("/api-keys/<uuid:key_id>")
class ApiKeyById(MethodView):
    @blp.response(200, s.ApiKeySchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, key_id: uuid.UUID) -> Reply[dict[str, Any]]:
        """Get a storefront API key (prefix only)

        One key's name, prefix, allowed origins and status, with its ETag.
        """
        key = tenants.get_api_key(services().db, current_tenant(), str(key_id))
        return key, 200, etag(key["version"])

    @blp.arguments(s.ApiKeyUpdateSchema, example=s.ApiKeyUpdateSchema.EXAMPLE)
    @blp.response(200, s.ApiKeySchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    @conditional(blp)
    def patch(self, data: dict[str, Any], key_id: uuid.UUID) -> Reply[dict[str, Any]]:
        """Rename a storefront API key or set the browser origins it allows (If-Match required)

        Changes the key's name or `allowed_origins` (`If-Match` with the key's ETag: 428
        without, 412 when stale). Other processes apply the change within
        `API_KEY_CACHE_SECONDS`.
        """
        svc = services()
        key = tenants.update_api_key(
            svc.db, current_tenant(), str(key_id), if_match_version(), data, svc.api_keys
        )
        forget_origins()
        return key, 200, etag(key["version"])


@blp.route("/api-keys/<uuid:key_id>/revoke")
class ApiKeyRevoke(MethodView):
    @blp.response(200, s.ApiKeySchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def post(self, key_id: uuid.UUID) -> dict[str, Any]:
        """Revoke a storefront API key

        The key answers 401 from now on (in other processes within
        `API_KEY_CACHE_SECONDS`); it cannot be reinstated.
        """
        svc = services()
        revoked = tenants.revoke_api_key(svc.db, current_tenant(), str(key_id), svc.api_keys)
        forget_origins()
        return revoked
