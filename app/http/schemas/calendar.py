"""The storefront's month of availability (the widget's date step)."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate


class AvailabilityQuerySchema(ma.Schema):
    month = fields.String(
        required=True,
        validate=[
            validate.Length(7, 7),
            validate.Regexp(r"^[1-9][0-9]{3}-(0[1-9]|1[0-2])$", error="A month as YYYY-MM."),
        ],
        metadata={"description": "YYYY-MM, in the tenant's time zone"},
    )
    guests = fields.Integer(
        required=True,
        validate=validate.Range(1, 1000),
        metadata={"description": "Party size the days are checked and priced for"},
    )


class CalendarTierSchema(ma.Schema):
    tier_id = fields.String()
    level = fields.Integer(
        metadata={"description": "Tier level: 1 Essential, 2 Preferred, 3 Ultimate"}
    )
    status = fields.String(
        metadata={
            "description": "available, sold_out, blacked_out, party_too_large, past or too_far"
        }
    )
    units_left = fields.Integer()


class CalendarDaySchema(ma.Schema):
    date = fields.String(
        metadata={"description": "The day, YYYY-MM-DD in the tenant's time zone", "format": "date"}
    )
    bookable = fields.Boolean(metadata={"description": "Some tier can be booked for the party"})
    status = fields.String(
        metadata={
            "description": "available (some tier bookable), sold_out, blacked_out, "
            "party_too_large, past or too_far"
        }
    )
    sold_out = fields.Boolean(
        metadata={"description": "Every tier that takes the party is sold out"}
    )
    blackout = fields.Boolean(
        metadata={"description": "Closed by a blackout (tenant-wide, or every tier's own)"}
    )
    lowest_price = fields.Integer(
        allow_none=True,
        metadata={
            "description": "Minor units: the bookable tier with the lowest subtotal, priced by "
            "the rules in force for the party (no add-ons); null when nothing is bookable"
        },
    )
    tiers = fields.List(
        fields.Nested(CalendarTierSchema),
        metadata={"description": "Each active tier's availability that day, in level order"},
    )


class CalendarSegmentSchema(ma.Schema):
    class Meta:
        description = "The segment the calendar is of."

    id = fields.String()
    key = fields.String()
    name = fields.String()


class MonthAvailabilitySchema(ma.Schema):
    segment = fields.Nested(
        CalendarSegmentSchema, metadata={"description": "The segment the calendar is of"}
    )
    month = fields.String(metadata={"description": "The month, YYYY-MM"})
    guests = fields.Integer()
    currency = fields.String()
    days = fields.List(
        fields.Nested(CalendarDaySchema), metadata={"description": "One entry per day of the month"}
    )
