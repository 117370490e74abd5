"""Checkout: a checkout from a quote, the booking it starts and that booking's upgrade, and the
payment webhooks."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate


class CustomerSchema(ma.Schema):
    class Meta:
        description = "The customer booking: where the confirmation goes."

    email = fields.Email(
        required=True,
        validate=validate.Length(max=254),
        metadata={"description": "Where the confirmation and later emails go"},
    )
    name = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "The customer's name, as they gave it"},
    )


class CheckoutCreateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "quote_token": "eyJ0IjoiNmYxYzJhOWUifQ.c2lnbmF0dXJl",
        "customer": {"email": "ada@example.com", "name": "Ada Lovelace"},
    }

    quote_token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=4096),
        metadata={"description": "The token from POST /v1/storefront/quotes (not expired)"},
    )
    customer = fields.Nested(CustomerSchema, required=True, metadata={"description": "Who books"})


class BookingSchema(ma.Schema):
    booking_id = fields.String(
        metadata={
            "description": "Id (UUID) of the booking; GET /v1/storefront/bookings/{id} follows it"
        }
    )
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
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {"to_tier_id": "0b7e4c1d-2a3f-4b5c-9d8e-7f6a5b4c3d2e"}

    to_tier_id = fields.UUID(
        required=True, metadata={"description": "The tier to move the booking to"}
    )


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
    received = fields.Boolean(metadata={"description": "The event was accepted (signature valid)"})
    applied = fields.Boolean(
        metadata={
            "description": "It changed something now (false: already applied, or nothing to do)"
        }
    )
    outcome = fields.String(
        metadata={
            "description": "What the event did, in a word (e.g. paid, expired, duplicate, ignored)"
        }
    )
