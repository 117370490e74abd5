"""Tenant admin: read-only analytics over a range of dates (analysts may read them too)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from app.http.auth import current_tenant, require_tenant_admin
from app.http.common import blueprint, services
from app.http.errors import ErrorSchema
from app.http.schemas import analytics as s
from app.services import analytics

blp = blueprint(
    "admin-analytics",
    "/v1/admin/analytics",
    "Tenant admin: segment selection, tier conversion, upsell take rate, revenue.",
    require_tenant_admin,
)

BAD_RANGE = "Missing or malformed dates, 'to' before 'from', or more than 366 days"


@blp.route("/segment-selection")
class SegmentSelection(MethodView):
    @blp.arguments(s.AnalyticsQuerySchema, location="query")
    @blp.response(200, s.SegmentSelectionReportSchema)
    @blp.alt_response(422, schema=ErrorSchema, description=BAD_RANGE)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Segment selection rates: distinct visitors per segment over all who selected one

        From `segment_selected` events between `from` and `to` (dates in the tenant's time
        zone, both included, at most 366 days): per segment the selections, distinct
        visitors and the share of all selecting visitors.
        """
        return analytics.segment_selection(
            services().db, current_tenant(), args["start"], args["end"]
        )


@blp.route("/tier-conversion")
class TierConversion(MethodView):
    @blp.arguments(s.AnalyticsQuerySchema, location="query")
    @blp.response(200, s.TierConversionReportSchema)
    @blp.alt_response(422, schema=ErrorSchema, description=BAD_RANGE)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Tier comparison to paid booking conversion, per tier

        Per tier: distinct visitors who viewed its segment's comparison, those of them with
        a paid booking of the tier, their bookings and the conversion rate, for the dates
        `from` to `to`.
        """
        return analytics.tier_conversion(
            services().db, current_tenant(), args["start"], args["end"]
        )


@blp.route("/upsell")
class Upsell(MethodView):
    @blp.arguments(s.AnalyticsQuerySchema, location="query")
    @blp.response(200, s.UpsellReportSchema)
    @blp.alt_response(422, schema=ErrorSchema, description=BAD_RANGE)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Upsell take rate (accepted / shown) per segment and tier, and in total

        Counts of `upsell_shown`, `upsell_accepted` and `upsell_declined` events per
        (segment, tier) and in total, and the take rate accepted / shown (0 when nothing
        was shown).
        """
        return analytics.upsell(services().db, current_tenant(), args["start"], args["end"])


@blp.route("/revenue")
class Revenue(MethodView):
    @blp.arguments(s.AnalyticsQuerySchema, location="query")
    @blp.response(200, s.RevenueReportSchema)
    @blp.alt_response(422, schema=ErrorSchema, description=BAD_RANGE)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Revenue and platform fees of paid bookings and upgrades, per segment and tier

        Paid bookings and paid upgrade payments created between `from` and `to`, grouped by
        the segment and tier the booking is in now: count, revenue and platform fee in
        minor units of the tenant's currency, and their total.
        """
        return analytics.revenue(services().db, current_tenant(), args["start"], args["end"])
