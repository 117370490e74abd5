"""The tenant admin's bookings: the list, and a booking with its price, payments and changes."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.http.schemas.checkout import BookingSchema
from app.http.schemas.common import Day
from app.http.schemas.storefront import PreviewPriceSchema


class BookingQuerySchema(ma.Schema):
    status = fields.String(
        validate=validate.OneOf(["pending", "paid", "cancelled", "refunded", "expired"])
    )
    service_date = Day(data_key="date")


class BookingCustomerSchema(ma.Schema):
    email = fields.String()
    name = fields.String()


class BookingAddOnSchema(ma.Schema):
    id = fields.String()
    name = fields.String(metadata={"description": "Empty if the add-on was deleted since"})


class PaymentEntrySchema(ma.Schema):
    id = fields.String()
    kind = fields.String(metadata={"description": "capture (money taken) or refund"})
    status = fields.String(
        metadata={"description": "captured; a refund: queued, requested, succeeded or failed"}
    )
    amount = fields.Integer(metadata={"description": "Minor units"})
    platform_fee = fields.Integer(
        metadata={"description": "Minor units of the platform fee taken, or given back"}
    )
    currency = fields.String()
    reason = fields.String(
        metadata={
            "description": "checkout, upgrade; a refund: cancelled, downgrade, sold_out, "
            "duplicate, stale_upgrade, reconciled, outside (made at the provider)"
        }
    )
    payment_intent_id = fields.String()
    refund_id = fields.String(allow_none=True)
    upgrade_booking_id = fields.String(
        allow_none=True, metadata={"description": "The upgrade payment it came through"}
    )
    created_at = fields.AwareDateTime()


class BookingChangeSchema(ma.Schema):
    booking_id = fields.String(metadata={"description": "The upgrade payment's id"})
    status = fields.String()
    from_tier_id = fields.String(allow_none=True)
    to_tier_id = fields.String()
    amount = fields.Integer(metadata={"description": "Minor units to pay for the move"})
    platform_fee = fields.Integer()
    created_at = fields.AwareDateTime()


class BookingMoneySchema(ma.Schema):
    captured = fields.Integer(metadata={"description": "Minor units taken from the customer"})
    refunded = fields.Integer(metadata={"description": "Minor units given back or owed back"})
    net = fields.Integer(metadata={"description": "captured - refunded"})
    platform_fee_captured = fields.Integer()
    platform_fee_refunded = fields.Integer()


class AdminBookingSchema(BookingSchema):
    kind = fields.String(
        metadata={"description": "booking, or upgrade (the payment of a move of a booking)"}
    )
    segment_id = fields.String()
    platform_fee = fields.Integer(
        metadata={"description": "Minor units: the platform's commission in the total"}
    )
    customer = fields.Nested(BookingCustomerSchema)
    add_on_ids = fields.List(fields.String())
    upgrades_booking_id = fields.String(
        allow_none=True, metadata={"description": "An upgrade payment: the booking it moves"}
    )
    paid = fields.Integer(metadata={"description": "Minor units captured less refunded"})
    created_at = fields.AwareDateTime()
    updated_at = fields.AwareDateTime()


class AdminBookingDetailSchema(AdminBookingSchema):
    add_ons = fields.List(fields.Nested(BookingAddOnSchema))
    price = fields.Nested(
        PreviewPriceSchema,
        allow_none=True,
        metadata={
            "description": "The price the booking was quoted and paid at, line by line, with its "
            "platform fee (null for an upgrade payment, or a quote whose record was purged)"
        },
    )
    payments = fields.List(
        fields.Nested(PaymentEntrySchema),
        metadata={"description": "The ledger: every capture and refund, oldest first"},
    )
    changes = fields.List(
        fields.Nested(BookingChangeSchema),
        metadata={"description": "Upgrade payments of the booking (tier moves to pay for)"},
    )
    money = fields.Nested(BookingMoneySchema)
