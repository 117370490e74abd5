"""Webhook endpoints, their deliveries and rotations."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

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
    url = _url(True)
    events = _events(True)
    description = fields.String(load_default="", validate=validate.Length(max=500))


class EndpointUpdateSchema(ma.Schema):
    url = _url(False)
    events = _events(False)
    description = fields.String(validate=validate.Length(max=500))
    status = fields.String(
        validate=validate.OneOf(("active", "disabled")),
        metadata={"description": "active re-enables an endpoint that was disabled"},
    )


class EndpointSchema(ma.Schema):
    id = fields.UUID()
    url = fields.String()
    events = fields.List(fields.String())
    description = fields.String()
    status = fields.String(metadata={"description": "active | disabled"})
    disabled_reason = fields.String(allow_none=True)
    failing_since = fields.AwareDateTime(allow_none=True)
    version = fields.Integer()
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class EndpointWithSecretSchema(EndpointSchema):
    secret = fields.String(metadata={"description": "whsec_…: the signing secret, shown this once"})


class RotateSchema(ma.Schema):
    overlap_hours = fields.Integer(
        load_default=24,
        validate=validate.Range(min=0, max=168),
        metadata={"description": "Hours the previous secret keeps signing (both signatures sent)"},
    )


class RotatedSchema(EndpointWithSecretSchema):
    previous_secret_expires_at = fields.AwareDateTime()


class AttemptSchema(ma.Schema):
    delivery_id = fields.UUID()
    event_id = fields.UUID(metadata={"description": "Also the webhook-id header"})
    event_type = fields.String()
    delivery_status = fields.String(metadata={"description": "pending | delivered | failed"})
    status_code = fields.Integer(
        allow_none=True, metadata={"description": "null: no answer (timeout, refused)"}
    )
    duration_ms = fields.Integer()
    error = fields.String(allow_none=True)
    attempted_at = fields.AwareDateTime(
        metadata={"description": "When tried (a delivery not yet tried: when queued)"}
    )
    next_retry_at = fields.AwareDateTime(allow_none=True)


class RetriedSchema(ma.Schema):
    delivery_id = fields.UUID()
    status = fields.String()
    next_attempt_at = fields.AwareDateTime()


class TestSentSchema(ma.Schema):
    event_id = fields.UUID()
    type = fields.String()
