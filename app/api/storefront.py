"""Storefront (publishable API key): segments and tier comparisons."""

from __future__ import annotations

from flask.views import MethodView

from app import schemas as s
from app.api.common import blueprint, services
from app.auth import current_tenant, require_storefront
from app.errors import ErrorSchema
from app.services import catalog

blp = blueprint("storefront", "/v1/storefront", "Storefront widgets (API key).", require_storefront)


@blp.route("/segments")
class PublicSegments(MethodView):
    @blp.response(200, s.PublicSegmentSchema(many=True))
    def get(self):
        """Active segments in display order"""
        return catalog.storefront_segments(services().db, current_tenant())


@blp.route("/segments/<segment>/comparison")
class Comparison(MethodView):
    @blp.response(200, s.TierComparisonSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Segment not found")
    def get(self, segment):
        """Tier comparison of a segment (by key or id): tiers in level order, feature matrix, add-ons"""
        return catalog.tier_comparison(services().db, current_tenant(), segment)
