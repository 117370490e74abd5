"""Analytics reports: segment selection, tier conversion, upsells and revenue."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields

from app.http.schemas.common import Day

RATE = "A share in [0, 1], rounded to 6 decimal places; 0 when nothing was counted"


class AnalyticsQuerySchema(ma.Schema):
    """``from``..``to``: dates in the tenant's time zone, both included, at most 366 days (the
    range is checked by the use case: 422 at ``/query/to``)."""

    start = Day(
        required=True,
        data_key="from",
        metadata={"description": "First day, YYYY-MM-DD in the tenant's time zone"},
    )
    end = Day(
        required=True,
        data_key="to",
        metadata={"description": "Last day (included), at most 366 days after `from`"},
    )


class AnalyticsPeriodSchema(ma.Schema):
    start = fields.Date(
        attribute="from",
        data_key="from",
        metadata={"description": "First day of the report, in the tenant's time zone"},
    )
    end = fields.Date(
        attribute="to", data_key="to", metadata={"description": "Last day of the report (included)"}
    )
    time_zone = fields.String(metadata={"description": "The tenant's; the dates are local to it"})


class SegmentSelectionRowSchema(ma.Schema):
    segment_key = fields.String()
    selections = fields.Integer(metadata={"description": "segment_selected events"})
    visitors = fields.Integer(metadata={"description": "Distinct visitors who selected it"})
    selection_rate = fields.Float(metadata={"description": f"visitors / all visitors. {RATE}"})


class SegmentSelectionReportSchema(AnalyticsPeriodSchema):
    visitors = fields.Integer(metadata={"description": "Distinct visitors who selected a segment"})
    segments = fields.List(
        fields.Nested(SegmentSelectionRowSchema),
        metadata={"description": "Per segment key: selections, visitors, selection rate"},
    )


class TierConversionRowSchema(ma.Schema):
    tier_id = fields.String()
    tier_name = fields.String()
    level = fields.Integer()
    status = fields.String(metadata={"description": "The tier's status now (active or archived)"})
    segment_key = fields.String()
    viewers = fields.Integer(
        metadata={"description": "Distinct visitors who viewed the segment's tier comparison"}
    )
    bookers = fields.Integer(
        metadata={"description": "Viewers with a paid booking of this tier created in the range"}
    )
    bookings = fields.Integer(metadata={"description": "Those bookers' paid bookings of the tier"})
    conversion = fields.Float(metadata={"description": f"bookers / viewers. {RATE}"})


class TierConversionReportSchema(AnalyticsPeriodSchema):
    tiers = fields.List(
        fields.Nested(TierConversionRowSchema), metadata={"description": "One row per tier"}
    )


class UpsellFiguresSchema(ma.Schema):
    shown = fields.Integer()
    accepted = fields.Integer()
    declined = fields.Integer()
    take_rate = fields.Float(metadata={"description": f"accepted / shown. {RATE}"})


class UpsellGroupSchema(UpsellFiguresSchema):
    segment_key = fields.String(metadata={"description": "As the storefront sent it ('' if none)"})
    tier_id = fields.String(metadata={"description": "As the storefront sent it ('' if none)"})


class UpsellReportSchema(AnalyticsPeriodSchema):
    total = fields.Nested(UpsellFiguresSchema, metadata={"description": "Every group added up"})
    groups = fields.List(fields.Nested(UpsellGroupSchema))


class RevenueFiguresSchema(ma.Schema):
    bookings = fields.Integer(metadata={"description": "Paid bookings and paid upgrades"})
    revenue_minor = fields.Integer(metadata={"description": "Sum of totals, minor units"})
    platform_fee_minor = fields.Integer(
        metadata={"description": "Sum of platform fees, minor units"}
    )
    currency = fields.String(metadata={"description": "ISO 4217; the tenant's currency"})


class RevenueGroupSchema(RevenueFiguresSchema):
    segment_id = fields.String()
    segment_key = fields.String(allow_none=True)
    tier_id = fields.String()
    tier_name = fields.String(allow_none=True)
    level = fields.Integer(allow_none=True)


class RevenueReportSchema(AnalyticsPeriodSchema):
    currency = fields.String()
    total = fields.Nested(RevenueFiguresSchema, metadata={"description": "Every group added up"})
    groups = fields.List(fields.Nested(RevenueGroupSchema))
