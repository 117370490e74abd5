"""Platform operators: tenants."""

from __future__ import annotations

from flask.views import MethodView

from app import schemas as s
from app.api.common import Paging, blueprint, etag, if_match_version, services
from app.auth import require_platform_admin
from app.errors import ErrorSchema
from app.services import checkout, tenants

blp = blueprint("platform", "/v1/platform", "Platform operators: tenants.", require_platform_admin)


@blp.route("/tenants")
class Tenants(MethodView):
    @blp.response(200, s.TenantSchema(many=True))
    @blp.paginate()
    def get(self, pagination_parameters):
        """List tenants"""
        paging = Paging(pagination_parameters)
        return paging.done(tenants.list_tenants(services().db, paging.offset, paging.limit))

    @blp.arguments(s.TenantCreateSchema)
    @blp.response(201, s.TenantSchema)
    @blp.alt_response(409, schema=ErrorSchema, description="Slug taken")
    def post(self, data):
        """Create a tenant"""
        tenant = tenants.create_tenant(services().db, data)
        return tenant, 201, etag(tenant.version)


@blp.route("/tenants/<uuid:tenant_id>")
class TenantById(MethodView):
    @blp.response(200, s.TenantSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, tenant_id):
        """Get a tenant"""
        tenant = tenants.get_tenant(services().db, str(tenant_id))
        return tenant, 200, etag(tenant.version)

    @blp.arguments(s.TenantStatusSchema)
    @blp.response(200, s.TenantSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    @blp.alt_response(412, schema=ErrorSchema, description="Stale If-Match")
    @blp.alt_response(428, schema=ErrorSchema, description="If-Match missing")
    def patch(self, data, tenant_id):
        """Update a tenant, including suspending or reactivating it (If-Match required)"""
        svc = services()
        current = tenants.get_tenant(svc.db, str(tenant_id))
        tenant = tenants.update_tenant_and_keys(
            svc.db, svc.api_keys, current, if_match_version(), data
        )
        return tenant, 200, etag(tenant.version)


@blp.route("/tenants/<uuid:tenant_id>/payments-onboarding")
class PaymentsOnboarding(MethodView):
    @blp.arguments(s.OnboardingCreateSchema)
    @blp.response(200, s.OnboardingSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    @blp.alt_response(503, schema=ErrorSchema, description="Payment provider unreachable")
    def post(self, data, tenant_id):
        """Create the tenant's Stripe Express account (once) and an onboarding link"""
        svc = services()
        return checkout.onboard(
            svc.checkout, tenants.get_tenant(svc.db, str(tenant_id)), data["email"]
        )
