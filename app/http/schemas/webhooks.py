"""Webhook endpoints, their deliveries and rotations."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from app.http.schemas.common import Timestamp

_EVENTS_HELP = {
    "description": 'Event types to receive: names (docs/events.md), "booking.*" or "*"',
    "example": ["booking.confirmed", "booking.tierUpgraded"],
}
_URL_HELP = {"description": "https URL (http only with WEBHOOK_ALLOW_HTTP=true)"}


def _events(required: bool) -> fields.List[str]:
    return fields.List(
        fields.String(validate=validate.Length(min=1, max=64)),
        required=required,
        validate=validate.Length(min=1, max=50),
        metadata=_EVENTS_HELP,
    )


def _url(required: bool) -> fields.String:
    return fields.String(
        required=required, validate=validate.Length(min=1, max=2048), metadata=_URL_HELP
    )


class EndpointCreateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "url": "https://hooks.acme.example/tierwise",
        "events": ["booking.*", "ruleset.published"],
        "description": "Bookings into the CRM",
    }

    url = _url(True)
    events = _events(True)
    description = fields.String(
        load_default="",
        validate=validate.Length(max=500),
        metadata={"description": "Free text for the tenant's own use"},
    )


class EndpointUpdateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {"status": "active"}

    url = _url(False)
    events = _events(False)
    description = fields.String(
        validate=validate.Length(max=500),
        metadata={"description": "Free text for the tenant's own use"},
    )
    status = fields.String(
        validate=validate.OneOf(("active", "disabled")),
        metadata={"description": "active re-enables an endpoint that was disabled"},
    )


class EndpointSchema(ma.Schema):
    id = fields.UUID(metadata={"description": "Id (UUID) of the endpoint"})
    url = fields.String()
    events = fields.List(fields.String())
    description = fields.String(metadata={"description": "Free text for the tenant's own use"})
    status = fields.String(metadata={"description": "active | disabled"})
    disabled_reason = fields.String(allow_none=True)
    failing_since = Timestamp(allow_none=True)
    version = fields.Integer()
    created_at = Timestamp()
    updated_at = Timestamp()


class EndpointWithSecretSchema(EndpointSchema):
    secret = fields.String(metadata={"description": "whsec_…: the signing secret, shown this once"})


class RotateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {"overlap_hours": 24}

    overlap_hours = fields.Integer(
        load_default=24,
        validate=validate.Range(min=0, max=168),
        metadata={"description": "Hours the previous secret keeps signing (both signatures sent)"},
    )


class RotatedSchema(EndpointWithSecretSchema):
    previous_secret_expires_at = Timestamp(
        metadata={"description": "Until then the previous secret signs too"}
    )


class AttemptSchema(ma.Schema):
    delivery_id = fields.UUID()
    event_id = fields.UUID(metadata={"description": "Also the webhook-id header"})
    event_type = fields.String()
    delivery_status = fields.String(metadata={"description": "pending | delivered | failed"})
    status_code = fields.Integer(
        allow_none=True, metadata={"description": "null: no answer (timeout, refused)"}
    )
    duration_ms = fields.Integer(
        metadata={"description": "How long the attempt took, milliseconds"}
    )
    error = fields.String(
        allow_none=True,
        metadata={"description": "Why it failed when there was no answer (null otherwise)"},
    )
    attempted_at = Timestamp(
        metadata={"description": "When tried (a delivery not yet tried: when queued)"}
    )
    next_retry_at = Timestamp(
        allow_none=True,
        metadata={"description": "When the next attempt is due (null: none planned)"},
    )


class RetriedSchema(ma.Schema):
    delivery_id = fields.UUID()
    status = fields.String(metadata={"description": "pending: queued for another attempt"})
    next_attempt_at = Timestamp(metadata={"description": "When the attempt is due"})


class TestSentSchema(ma.Schema):
    event_id = fields.UUID()
    type = fields.String(metadata={"description": "webhook.test"})
