"""Capacity per tier and date, and blackout dates."""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from app.http.schemas.common import Day

MAX_RANGE_DAYS = 366


class DateRangeSchema(ma.Schema):
    """``from``..``to`` inclusive; ``to`` defaults to ``from``; at most 366 days."""

    start = Day(required=True, data_key="from", metadata={"description": "First date, YYYY-MM-DD"})
    end = Day(
        data_key="to",
        metadata={
            "description": "Last date, included (default: `from`); at most 366 days after it"
        },
    )

    @validates_schema
    def _range(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("start"), data.get("end") or data.get("start")
        if start and end:
            if end < start:
                raise ma.ValidationError("'to' must not be before 'from'.", "to")
            if (end - start).days >= MAX_RANGE_DAYS:
                raise ma.ValidationError(f"A range spans at most {MAX_RANGE_DAYS} days.", "to")


def date_range(data: dict[str, Any]) -> tuple[dt.date, dt.date]:
    return data["start"], data.get("end") or data["start"]


class CapacitySetSchema(DateRangeSchema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {"from": "2027-07-01", "to": "2027-08-31", "units": 12}

    units = fields.Integer(required=True, strict=True, validate=validate.Range(0, 100_000))


class CapacityDaySchema(ma.Schema):
    date = fields.Date(metadata={"description": "The day, YYYY-MM-DD"})
    units = fields.Integer()
    source = fields.String(
        metadata={"description": "'date' (set for the day) or 'default' (tenant default)"}
    )


class CapacitySchema(ma.Schema):
    tier_id = fields.String()
    days = fields.List(
        fields.Nested(CapacityDaySchema),
        metadata={"description": "One entry per date of the range"},
    )


class BlackoutCreateSchema(DateRangeSchema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "from": "2027-12-24",
        "to": "2027-12-26",
        "reason": "Closed for Christmas",
    }

    tier_id = fields.UUID(
        load_default=None, metadata={"description": "Omit to close the whole tenant"}
    )
    reason = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "Why it is closed, for admins (not shown to customers)"},
    )


class BlackoutSchema(ma.Schema):
    id = fields.String()
    tier_id = fields.String(
        allow_none=True,
        metadata={"description": "The tier closed (null: every tier of the tenant)"},
    )
    date = fields.Date(metadata={"description": "The closed day, YYYY-MM-DD"})
    reason = fields.String(metadata={"description": "Why it is closed"})


class BlackoutQuerySchema(ma.Schema):
    start = Day(data_key="from", metadata={"description": "Blackouts on or after this date"})
    end = Day(data_key="to", metadata={"description": "Blackouts on or before this date"})
    tier_id = fields.UUID(metadata={"description": "Only this tier's blackouts"})
