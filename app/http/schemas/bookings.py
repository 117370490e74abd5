"""The tenant admin's bookings: the list, and a booking with its price, payments and changes."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.http.schemas.checkout import BookingSchema
from app.http.schemas.common import Day, Timestamp
from app.http.schemas.storefront import PreviewPriceSchema


class BookingQuerySchema(ma.Schema):
    status = fields.String(
        validate=validate.OneOf(["pending", "paid", "cancelled", "refunded", "expired"]),
        metadata={"description": "Only bookings with this status"},
    )
    service_date = Day(
        data_key="date", metadata={"description": "Only bookings for this service date"}
    )


class BookingCustomerSchema(ma.Schema):
    class Meta:
        description = "The customer of a booking, as given at checkout."

    email = fields.String(metadata={"description": "The customer's e-mail address"})
    name = fields.String(metadata={"description": "The customer's name"})


class BookingAddOnSchema(ma.Schema):
    id = fields.String(metadata={"description": "Id of the add-on"})
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
    payment_intent_id = fields.String(
        metadata={"description": "Stripe's PaymentIntent (pi_…) the money moved through"}
    )
    refund_id = fields.String(
        allow_none=True,
        metadata={"description": "Stripe's refund (re_…), once requested (null otherwise)"},
    )
    upgrade_booking_id = fields.String(
        allow_none=True, metadata={"description": "The upgrade payment it came through"}
    )
    created_at = Timestamp()


class BookingChangeSchema(ma.Schema):
    booking_id = fields.String(metadata={"description": "The upgrade payment's id"})
    status = fields.String(
        metadata={
            "description": "The upgrade payment's status: pending, paid, expired, cancelled or refunded"
        }
    )
    from_tier_id = fields.String(allow_none=True)
    to_tier_id = fields.String()
    amount = fields.Integer(metadata={"description": "Minor units to pay for the move"})
    platform_fee = fields.Integer(
        metadata={"description": "Minor units of platform fee on the amount"}
    )
    created_at = Timestamp()


class BookingMoneySchema(ma.Schema):
    class Meta:
        description = "What the ledger holds for a booking, in minor units of its currency."

    captured = fields.Integer(metadata={"description": "Minor units taken from the customer"})
    refunded = fields.Integer(metadata={"description": "Minor units given back or owed back"})
    net = fields.Integer(metadata={"description": "captured - refunded"})
    platform_fee_captured = fields.Integer(
        metadata={"description": "Minor units of platform fee taken"}
    )
    platform_fee_refunded = fields.Integer(
        metadata={"description": "Minor units of platform fee given back"}
    )


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
    created_at = Timestamp()
    updated_at = Timestamp()


class AdminBookingDetailSchema(AdminBookingSchema):
    add_ons = fields.List(
        fields.Nested(BookingAddOnSchema),
        metadata={"description": "The add-ons booked, with their names"},
    )
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
    money = fields.Nested(BookingMoneySchema, metadata={"description": "Totals of the ledger"})
