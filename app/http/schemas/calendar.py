"""The storefront's month of availability (the widget's date step)."""

from __future__ import annotations

import datetime as dt

import marshmallow as ma
from marshmallow import fields, validate


class Month(fields.String):
    """``YYYY-MM``, loaded as the month's first day."""

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            if len(text) != 7:
                raise ValueError
            return dt.date.fromisoformat(f"{text}-01")
        except ValueError:
            raise ma.ValidationError("A month as YYYY-MM.") from None


class AvailabilityQuerySchema(ma.Schema):
    month = Month(
        required=True,
        validate=validate.Length(7, 7),
        metadata={"description": "YYYY-MM, in the tenant's time zone"},
    )
    guests = fields.Integer(required=True, validate=validate.Range(1, 1000))


class CalendarTierSchema(ma.Schema):
    tier_id = fields.String()
    level = fields.Integer()
    status = fields.String(
        metadata={
            "description": "available, sold_out, blacked_out, party_too_large, past or too_far"
        }
    )
    units_left = fields.Integer()


class CalendarDaySchema(ma.Schema):
    date = fields.String(metadata={"format": "date"})
    bookable = fields.Boolean(metadata={"description": "Some tier can be booked for the party"})
    status = fields.String(
        metadata={
            "description": "available (some tier bookable), sold_out, blacked_out, "
            "party_too_large, past or too_far"
        }
    )
    sold_out = fields.Boolean()
    blackout = fields.Boolean()
    lowest_price = fields.Integer(
        allow_none=True,
        metadata={
            "description": "Minor units: the bookable tier with the lowest subtotal, priced by "
            "the rules in force for the party (no add-ons); null when nothing is bookable"
        },
    )
    tiers = fields.List(fields.Nested(CalendarTierSchema))


class CalendarSegmentSchema(ma.Schema):
    id = fields.String()
    key = fields.String()
    name = fields.String()


class MonthAvailabilitySchema(ma.Schema):
    segment = fields.Nested(CalendarSegmentSchema)
    month = fields.String()
    guests = fields.Integer()
    currency = fields.String()
    days = fields.List(fields.Nested(CalendarDaySchema))
