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

    start = Day(required=True, data_key="from")
    end = Day(data_key="to")

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
    units = fields.Integer(required=True, strict=True, validate=validate.Range(0, 100_000))


class CapacityDaySchema(ma.Schema):
    date = fields.Date()
    units = fields.Integer()
    source = fields.String(
        metadata={"description": "'date' (set for the day) or 'default' (tenant default)"}
    )


class CapacitySchema(ma.Schema):
    tier_id = fields.String()
    days = fields.List(fields.Nested(CapacityDaySchema))


class BlackoutCreateSchema(DateRangeSchema):
    tier_id = fields.UUID(
        load_default=None, metadata={"description": "Omit to close the whole tenant"}
    )
    reason = fields.String(load_default="", validate=validate.Length(max=200))


class BlackoutSchema(ma.Schema):
    id = fields.String()
    tier_id = fields.String(allow_none=True)
    date = fields.Date()
    reason = fields.String()


class BlackoutQuerySchema(ma.Schema):
    start = Day(data_key="from")
    end = Day(data_key="to")
    tier_id = fields.UUID()
