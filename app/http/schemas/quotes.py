"""Storefront quotes and upgrade quotes: what a price is signed for, and the signed answer."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from app.http.schemas.common import (
    Day,
    Timestamp,
    UnixTimestamp,
)
from app.http.schemas.storefront import (
    SERVICE_DATE,
    SHORT,
    VISITOR,
    AssignmentSchema,
    AvailabilitySchema,
    FeatureChangeSchema,
    PriceSchema,
    RulesetRefSchema,
)

# ---- quotes and upgrade quotes ----------------------------------------------------------------


class QuoteCustomerSchema(ma.Schema):
    class Meta:
        description = "Who is asking for the price, if known; only keyed hashes are stored."

    email = fields.Email(
        validate=validate.Length(max=254), metadata={"description": "The customer's e-mail"}
    )
    name = fields.String(
        validate=validate.Length(max=200), metadata={"description": "The customer's name"}
    )
    phone = fields.String(validate=validate.Length(max=40))


CUSTOMER = fields.Nested(
    QuoteCustomerSchema,
    metadata={
        "description": "Who is asking, if known: kept only as keyed hashes in the decision log"
    },
)


class QuoteCreateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "tier_id": "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b",
        "date": "2027-03-12",
        "guests": 2,
        "add_ons": ["breakfast"],
        "visitor_id": "v-4f2a9c",
        "customer": {"email": "ada@example.com"},
    }

    tier_id = fields.UUID(required=True, metadata={"description": "The tier to price"})
    customer = CUSTOMER
    upsell_from_tier_id = fields.UUID(
        metadata={"description": "Accepting the upsell offered on this tier: its discount applies"}
    )
    date = Day(required=True, metadata={"description": SERVICE_DATE})
    guests = fields.Integer(
        required=True,
        strict=True,
        validate=validate.Range(1, 1000),
        metadata={"description": "Party size, 1 to 1000"},
    )
    add_ons = fields.List(
        fields.String(validate=SHORT),
        load_default=list,
        validate=validate.Length(max=10),
        metadata={"description": "Add-on keys or ids (at most 10)"},
    )
    visitor_id = VISITOR


class QuoteSchema(ma.Schema):
    quote_id = fields.String()
    token = fields.String(metadata={"description": "Signed price lock; send it to checkout"})
    expires_at = Timestamp(metadata={"description": "Until when checkout honours the token"})
    tier_id = fields.String()
    service_date = fields.Date(metadata={"description": "The date priced, YYYY-MM-DD"})
    guests = fields.Integer()
    add_on_ids = fields.List(fields.String())
    price = fields.Nested(
        PriceSchema, metadata={"description": "The quoted price with its breakdown"}
    )
    ruleset = fields.Nested(RulesetRefSchema)
    experiment = fields.Nested(
        AssignmentSchema,
        allow_none=True,
        metadata={
            "description": "The visitor's experiment variant the price was made under (null: none)"
        },
    )
    decision_ids = fields.List(fields.String())


class QuoteTokenSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {"token": "eyJ0IjoiNmYxYzJhOWUifQ.c2lnbmF0dXJl"}

    token = fields.String(
        required=True,
        validate=validate.Length(min=1, max=4096),
        metadata={"description": "The token POST /v1/storefront/quotes returned"},
    )


class QuoteClaimsSchema(ma.Schema):
    quote_id = fields.String()
    tier_id = fields.String()
    segment_id = fields.String()
    service_date = fields.String(metadata={"description": "The date quoted, YYYY-MM-DD"})
    guests = fields.Integer()
    add_on_ids = fields.List(fields.String())
    currency = fields.String()
    subtotal = fields.Integer()
    total = fields.Integer(metadata={"description": "Minor units checkout will charge"})
    ruleset_version = fields.Integer()
    expires_at = UnixTimestamp(metadata={"description": "Until when checkout honours the token"})
    visitor_id = fields.String()
    experiment = fields.String()
    variant = fields.String()


class UpgradeQuoteCreateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "to_tier_id": "0b7e4c1d-2a3f-4b5c-9d8e-7f6a5b4c3d2e",
        "tier_id": "6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b",
        "date": "2027-03-12",
        "guests": 2,
    }

    to_tier_id = fields.UUID(required=True, metadata={"description": "The tier to move to"})
    customer = CUSTOMER
    booking_id = fields.UUID(metadata={"description": "Upgrade an existing booking ..."})
    tier_id = fields.UUID(
        metadata={"description": "... or a selection: tier_id, date, guests, add_ons"}
    )
    date = Day(metadata={"description": SERVICE_DATE})
    guests = fields.Integer(
        strict=True,
        validate=validate.Range(1, 1000),
        metadata={"description": "Party size of the selection, 1 to 1000"},
    )
    add_ons = fields.List(
        fields.String(validate=SHORT),
        load_default=list,
        validate=validate.Length(max=10),
        metadata={"description": "Add-on keys or ids of the selection"},
    )
    visitor_id = VISITOR

    @validates_schema
    def _one_subject(self, data: dict[str, Any], **kwargs: Any) -> None:
        selection = [k for k in ("tier_id", "date", "guests") if k in data]
        if "booking_id" in data and selection:
            raise ma.ValidationError("Give booking_id or a selection, not both.", "booking_id")
        if "booking_id" not in data and len(selection) != 3:
            raise ma.ValidationError("Give booking_id, or tier_id, date and guests.", "tier_id")


class UpgradeQuoteSchema(ma.Schema):
    allowed = fields.Boolean(metadata={"description": "The upgrade rules allow the move"})
    reason = fields.String(metadata={"description": "The upgrade rule's reason, in words"})
    rules = fields.List(fields.String())
    from_tier_id = fields.String()
    to_tier_id = fields.String()
    from_price = fields.Nested(PriceSchema, metadata={"description": "The current tier priced now"})
    to_price = fields.Nested(PriceSchema, metadata={"description": "The target tier priced now"})
    amount_paid = fields.Integer(
        allow_none=True,
        metadata={
            "description": "A booking: minor units the customer paid for it (null for a selection)"
        },
    )
    platform_fee_paid = fields.Integer(
        allow_none=True, metadata={"description": "A booking: the platform fee of what was paid"}
    )
    difference = fields.Integer(
        metadata={
            "description": "Minor units to pay (negative: to refund): the target's price now less "
            "the amount paid (a booking) or less the current tier's price now (a selection)"
        }
    )
    platform_fee_difference = fields.Integer(
        metadata={"description": "The platform fee's change with the move (minor units)"}
    )
    currency = fields.String()
    features_gained = fields.List(
        fields.Nested(FeatureChangeSchema),
        metadata={"description": "Features that differ in the target tier"},
    )
    availability = fields.Nested(
        AvailabilitySchema,
        metadata={"description": "Whether the target tier can be booked for the party that day"},
    )
    decision_id = fields.String()
    decision_ids = fields.List(fields.String())
