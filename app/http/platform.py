"""Platform operators: tenants, and every tenant's decision log."""

from __future__ import annotations

import uuid
from typing import Any

from flask import Response
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from app.http.admin_decisions import ndjson
from app.http.auth import require_platform_admin
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
from app.http.errors import ErrorSchema
from app.http.schemas import tenants as s
from app.http.schemas.decisions import (
    ChainVerificationSchema,
    DecisionRecordSchema,
    DecisionSchema,
    PlatformDecisionSearchSchema,
    ReplaySchema,
)
from app.services import activity, checkout, decision_log, tenants
from pricing.catalog import Tenant

blp = blueprint(
    "platform",
    "/v1/platform",
    "Platform operators: tenants and the decision log.",
    require_platform_admin,
)


@blp.route("/decisions")
class Decisions(MethodView):
    @blp.arguments(PlatformDecisionSearchSchema, location="query")
    @blp.response(200, DecisionRecordSchema(many=True))
    @blp.alt_response(
        404, schema=ErrorSchema, description="booking_id names no booking, or tenant_id no tenant"
    )
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """Search every tenant's decisions (or one tenant's: tenant_id), with the tenant filters

        For platform admins: decision records across tenants, newest first, paginated, with
        the same filters as the tenant search.
        """
        svc, paging = services(), Paging(pagination_parameters)
        f = decision_log.decision_filter(svc.db, svc.offers.masker, None, args)
        return paging.done(decision_log.search(svc.db, f, paging.offset, paging.limit))


@blp.route("/decisions/export")
class DecisionExport(MethodView):
    @blp.arguments(PlatformDecisionSearchSchema, location="query")
    @blp.response(200, description="NDJSON: one decision record per line, oldest first")
    @blp.alt_response(
        404, schema=ErrorSchema, description="booking_id names no booking, or tenant_id no tenant"
    )
    @blp.alt_response(
        422, schema=ErrorSchema, description="from/to missing or more than 31 days apart"
    )
    def get(self, args: dict[str, Any]) -> Response:
        """Export decisions of a time range (at most 31 days) as NDJSON

        For platform admins: the matching records of every tenant (or `tenant_id`) as
        NDJSON, oldest first.
        """
        svc = services()
        return ndjson(
            decision_log.export(
                svc.db, decision_log.decision_filter(svc.db, svc.offers.masker, None, args)
            )
        )


@blp.route("/tenants/<uuid:tenant_id>/decisions/<uuid:decision_id>")
class DecisionById(MethodView):
    @blp.response(200, DecisionSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, tenant_id: uuid.UUID, decision_id: uuid.UUID) -> dict[str, Any]:
        """Explain one decision of a tenant

        For platform admins: the explanation a tenant admin gets from `GET
        /v1/admin/decisions/{id}`.
        """
        tenant = tenants.get_tenant(services().db, str(tenant_id))
        return activity.decision(services().db, tenant, str(decision_id))


@blp.route("/tenants/<uuid:tenant_id>/decisions/<uuid:decision_id>/replay")
class Replay(MethodView):
    @blp.response(200, ReplaySchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def post(self, tenant_id: uuid.UUID, decision_id: uuid.UUID) -> dict[str, Any]:
        """Replay one decision of a tenant with its recorded ruleset version

        For platform admins: identical, or every difference between the recorded and the
        replayed outputs and prices.
        """
        svc = services()
        tenant = tenants.get_tenant(svc.db, str(tenant_id))
        return decision_log.replay(svc.db, svc.rules, tenant, str(decision_id))


@blp.route("/tenants/<uuid:tenant_id>/decisions/verify")
class VerifyChain(MethodView):
    @blp.response(200, ChainVerificationSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, tenant_id: uuid.UUID) -> dict[str, Any]:
        """Verify a tenant's decision hash chain

        For platform admins: valid, or the tenant's first broken link and why.
        """
        tenant = tenants.get_tenant(services().db, str(tenant_id))
        return decision_log.verify(services().db, tenant.id)


@blp.route("/tenants")
class Tenants(MethodView):
    @blp.response(200, s.TenantSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters: PaginationParameters) -> list[Tenant]:
        """List tenants

        For platform admins: every tenant, paginated, with status (active or suspended) and
        ETag.
        """
        paging = Paging(pagination_parameters)
        return paging.done(tenants.list_tenants(services().db, paging.offset, paging.limit))

    @blp.arguments(s.TenantCreateSchema, example=s.TenantCreateSchema.EXAMPLE)
    @blp.response(201, s.TenantSchema, headers=ETAG)
    @blp.alt_response(409, schema=ErrorSchema, description="Slug taken")
    def post(self, data: dict[str, Any]) -> Reply[Tenant]:
        """Create a tenant

        A new tenant with its slug, name, currency (fixed from then on), time zone and
        default capacity. Create its API keys and users afterwards.
        """
        tenant = tenants.create_tenant(services().db, data)
        return tenant, 201, etag(tenant.version)


@blp.route("/tenants/<uuid:tenant_id>")
class TenantById(MethodView):
    @blp.response(200, s.TenantSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, tenant_id: uuid.UUID) -> Reply[Tenant]:
        """Get a tenant

        One tenant with its ETag.
        """
        tenant = tenants.get_tenant(services().db, str(tenant_id))
        return tenant, 200, etag(tenant.version)

    @blp.arguments(s.TenantStatusSchema, example=s.TenantStatusSchema.EXAMPLE)
    @blp.response(200, s.TenantSchema, headers=ETAG)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    @conditional(blp)
    def patch(self, data: dict[str, Any], tenant_id: uuid.UUID) -> Reply[Tenant]:
        """Update a tenant, including suspending or reactivating it (If-Match required)

        Changes the given fields (`If-Match` required: 428 without, 412 when stale). A
        suspended tenant's storefront keys and admin tokens answer 403 until it is
        reactivated.
        """
        svc = services()
        current = tenants.get_tenant(svc.db, str(tenant_id))
        tenant = tenants.update_tenant_and_keys(
            svc.db, svc.api_keys, current, if_match_version(), data
        )
        return tenant, 200, etag(tenant.version)


@blp.route("/tenants/<uuid:tenant_id>/payments-onboarding")
class PaymentsOnboarding(MethodView):
    @blp.arguments(s.OnboardingCreateSchema, example=s.OnboardingCreateSchema.EXAMPLE)
    @blp.response(200, s.OnboardingSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    @blp.alt_response(503, schema=ErrorSchema, description="Payment provider unreachable")
    def post(self, data: dict[str, Any], tenant_id: uuid.UUID) -> dict[str, str]:
        """Create the tenant's Stripe Express account (once) and an onboarding link

        Creates the tenant's connected account the first time (later calls reuse it) and
        returns a fresh onboarding link to send to the tenant; payments are routed to that
        account.
        """
        svc = services()
        return checkout.onboard(
            svc.checkout, tenants.get_tenant(svc.db, str(tenant_id)), data["email"]
        )


@blp.route("/tenants/<uuid:tenant_id>/rate-limits")
class TenantRateLimits(MethodView):
    @blp.response(200, s.RateLimitsSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, tenant_id: uuid.UUID) -> dict[str, Any]:
        """Get a tenant's rate-limit overrides

        `storefront` (per API key) and `admin` (per admin token or console user): a rate in
        flask-limiter's notation, `off`, or null where the service's setting applies."""
        return tenants.rate_limits(tenants.get_tenant(services().db, str(tenant_id)))

    @blp.arguments(
        s.RateLimitsSchema,
        example={"storefront": "100/second", "admin": None},
    )
    @blp.response(200, s.RateLimitsSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def put(self, data: dict[str, Any], tenant_id: uuid.UUID) -> dict[str, Any]:
        """Set a tenant's rate-limit overrides

        Replaces both overrides: `storefront` limits each of the tenant's API keys, `admin` each
        of its admin tokens and console users; `off` lifts the limit, null restores the
        service's setting (`RATE_LIMIT_STOREFRONT`, `RATE_LIMIT_ADMIN`). In force within
        `API_KEY_CACHE_SECONDS` in every worker."""
        svc = services()
        tenant = tenants.get_tenant(svc.db, str(tenant_id))
        return tenants.rate_limits(tenants.set_rate_limits(svc.db, svc.api_keys, tenant, data))
