"""Storefront events: what a widget reports (segment selected, comparison viewed, upsell shown,
accepted, declined)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from app.http.schemas.common import (
    Instant,
)
from app.http.schemas.storefront import SHORT

# ---- events -----------------------------------------------------------------------------------

#: How far ahead of the service's clock a storefront's event time may be (its clock may be off).
EVENT_CLOCK_SKEW = dt.timedelta(days=1)
EVENT_TYPES = (
    "segment_selected",
    "tier_comparison_viewed",
    "upsell_shown",
    "upsell_accepted",
    "upsell_declined",
)


class EventSchema(ma.Schema):
    class Meta:
        description = "Something a visitor did in the storefront."

    client_event_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The storefront's id for the event; a repeat is ignored"},
    )
    type = fields.String(
        required=True,
        validate=validate.OneOf(EVENT_TYPES),
        metadata={
            "description": "segment_selected, tier_comparison_viewed, upsell_shown, upsell_accepted or upsell_declined"
        },
    )
    visitor_id = fields.String(
        required=True,
        validate=validate.Length(min=1, max=64),
        metadata={"description": "The storefront's stable visitor id"},
    )
    segment = fields.String(
        load_default="", validate=SHORT, metadata={"description": "Key of the segment it concerns"}
    )
    tier_id = fields.String(
        load_default="", validate=SHORT, metadata={"description": "The tier it concerns"}
    )
    experiment = fields.String(
        load_default="",
        validate=SHORT,
        metadata={
            "description": "Key of the experiment the upsell came from (tag upsell events with it)"
        },
    )
    variant = fields.String(
        load_default="", validate=SHORT, metadata={"description": "The visitor's variant"}
    )
    occurred_at = Instant(
        required=True,
        ahead=EVENT_CLOCK_SKEW,
        metadata={"description": "When it happened (the storefront's clock)."},
    )
    properties = fields.Dict(
        keys=fields.String(validate=SHORT),
        values=fields.Raw(),
        load_default=dict,
        validate=validate.Length(max=20),
        metadata={"description": "Up to 20 more values, stored as sent"},
    )


class EventsSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "events": [
            {
                "client_event_id": "e-0001",
                "type": "upsell_shown",
                "visitor_id": "v-4f2a9c",
                "segment": "premium",
                "tier_id": "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b",
                "experiment": "upsell-discount",
                "variant": "ten-off",
                "occurred_at": "2026-11-30T10:15:00+01:00",
            }
        ]
    }

    events = fields.List(
        fields.Nested(EventSchema),
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "1 to 100 events"},
    )


class EventsResultSchema(ma.Schema):
    received = fields.Integer(metadata={"description": "Events in the request"})
    stored = fields.Integer(
        metadata={"description": "New events; repeats of a client_event_id are ignored"}
    )
