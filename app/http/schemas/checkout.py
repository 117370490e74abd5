"""Checkout: a checkout from a quote, the booking it starts and that booking's upgrade, and the
payment webhooks."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate


class CustomerSchema(ma.Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(load_default="", validate=validate.Length(max=200))


class CheckoutCreateSchema(ma.Schema):
    quote_token = fields.String(required=True, validate=validate.Length(min=1, max=4096))
    customer = fields.Nested(CustomerSchema, required=True)


class BookingSchema(ma.Schema):
    booking_id = fields.String()
    status = fields.String(
        metadata={"description": "pending, paid, cancelled, refunded or expired"}
    )
    checkout_url = fields.String(
        allow_none=True, metadata={"description": "Send the customer here to pay"}
    )
    checkout_session_id = fields.String(allow_none=True)
    hold_expires_at = fields.String(
        allow_none=True,
        metadata={
            "format": "date-time",
            "description": "A pending booking: its unit is held until then (ISO-8601, UTC)",
        },
    )
    total = fields.Integer(metadata={"description": "Minor units"})
    currency = fields.String()
    tier_id = fields.String()
    service_date = fields.String(metadata={"format": "date"})
    guests = fields.Integer()


class BookingUpgradeCreateSchema(ma.Schema):
    to_tier_id = fields.UUID(required=True)


class BookingUpgradeSchema(BookingSchema):
    upgrades_booking_id = fields.String(
        metadata={"description": "The booking that moves to the new tier once paid"}
    )
    refund = fields.Integer(
        metadata={
            "description": "A move that costs less than was paid: minor units refunded from "
            "the booking's payments"
        }
    )
    decision_ids = fields.List(fields.String())


class WebhookResultSchema(ma.Schema):
    received = fields.Boolean()
    applied = fields.Boolean()
    outcome = fields.String()
