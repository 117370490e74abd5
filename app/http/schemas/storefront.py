"""The storefront: tier comparisons, offers (and the admin's preview of them), quotes, upgrade
quotes and events."""

from __future__ import annotations

import datetime as dt
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate, validates_schema
from webargs import fields as webargs_fields

from app.http.schemas.catalog import ThemeSchema
from app.http.schemas.common import (
    FIVE_YEARS,
    Day,
    FeatureSchema,
    FeatureValue,
    Instant,
    MoneySchema,
    Timestamp,
)
from pricing.pricer import MAX_LEAD_DAYS

SERVICE_DATE = (
    f"Service date, YYYY-MM-DD in the tenant's time zone: from its today up to {MAX_LEAD_DAYS} "
    "days ahead (422 date_in_past or date_too_far otherwise)"
)
SHORT = validate.Length(max=64)


# ---- tier comparison --------------------------------------------------------------------------


class PublicSegmentSchema(ma.Schema):
    id = fields.String()
    key = fields.String()
    name = fields.String()
    position = fields.Integer()
    theme = fields.Nested(
        ThemeSchema, metadata={"description": "The widget's look for the segment (null: default)"}
    )


class PublicTierSchema(ma.Schema):
    id = fields.String()
    level = fields.Integer()
    name = fields.String()
    description = fields.String()
    base_price = fields.Nested(MoneySchema)
    per_guest_price = fields.Nested(MoneySchema)
    max_guests = fields.Integer()
    popular = fields.Boolean()
    upsell_target_ids = fields.List(fields.String())
    photos = fields.List(fields.String())


class FeatureRowSchema(ma.Schema):
    key = fields.String()
    label = fields.String()
    values = fields.List(
        FeatureValue(allow_none=True), metadata={"description": "One per tier, in level order"}
    )


class PublicAddOnSchema(ma.Schema):
    id = fields.String()
    key = fields.String()
    name = fields.String()
    pricing = fields.String()
    price = fields.Nested(MoneySchema)
    tier_ids = fields.List(fields.String(), metadata={"description": "Empty: every tier"})


class TierComparisonSchema(ma.Schema):
    segment = fields.Nested(PublicSegmentSchema)
    currency = fields.String()
    tiers = fields.List(fields.Nested(PublicTierSchema))
    feature_matrix = fields.List(fields.Nested(FeatureRowSchema))
    add_ons = fields.List(fields.Nested(PublicAddOnSchema))


# ---- offers -----------------------------------------------------------------------------------


class PriceLineSchema(ma.Schema):
    code = fields.String(
        metadata={
            "description": "base, guests, add_on (the subtotal); season, last_minute, upsell (the "
            "rules); max_discount, floor, ceiling, not_negative (the guardrails)"
        }
    )
    label = fields.String(metadata={"description": "What the line is, in words (English)"})
    amount = fields.Integer(
        metadata={
            "description": "Change to the price, integer minor units: positive raises it, negative "
            "(a discount) lowers it. The lines add up exactly to total: each is the running price "
            "after it minus the one before it, each rounded half up"
        }
    )
    rules = fields.List(fields.String(), metadata={"description": "Ids of the rules behind it"})
    multiplier = fields.String(
        metadata={"description": "season: the factor base was multiplied by (decimal string)"}
    )
    percent_off = fields.String(
        metadata={"description": "last_minute, upsell: the percentage taken off base"}
    )
    max_percent_off = fields.String(
        metadata={"description": "max_discount: the largest discount allowed, as a % of base"}
    )
    base = fields.Integer(
        metadata={
            "description": "With multiplier / percent_off / max_percent_off: the price it applied "
            "to, minor units (season: the subtotal; last_minute, max_discount: the seasonal price; "
            "upsell: the price after the last-minute discount)"
        }
    )


class PriceSchema(ma.Schema):
    currency = fields.String(metadata={"description": "ISO 4217; every amount is in it"})
    subtotal = fields.Integer(
        metadata={"description": "Minor units: base + guests + add-ons, before rules"}
    )
    total = fields.Integer(
        metadata={"description": "Minor units the customer pays (rounded once, half up)"}
    )
    discount = fields.Integer(
        metadata={
            "description": "subtotal - total, minor units: how much less than the subtotal the "
            "customer pays (negative when the rules raised the price)"
        }
    )
    lines = fields.List(fields.Nested(PriceLineSchema))


class PreviewPriceSchema(PriceSchema):
    platform_fee = fields.Integer(
        metadata={
            "description": "Minor units: the platform's commission on total (the commission "
            "rules), paid by the tenant out of total, not by the customer"
        }
    )


class OfferTierSchema(PublicTierSchema):
    features = fields.List(fields.Nested(FeatureSchema))


class AvailabilitySchema(ma.Schema):
    status = fields.String(
        metadata={"description": "available, sold_out, blacked_out or party_too_large"}
    )
    units_left = fields.Integer()


class FeatureChangeSchema(ma.Schema):
    key = fields.String()
    label = fields.String()
    from_ = FeatureValue(data_key="from", attribute="from", allow_none=True)
    to = FeatureValue(allow_none=True)


class UpsellSchema(ma.Schema):
    type = fields.String(metadata={"description": "tier or add_on"})
    tier_id = fields.String()
    tier_name = fields.String()
    add_on_id = fields.String()
    add_on_key = fields.String()
    message_key = fields.String()
    placement = fields.String(
        metadata={
            "description": "step: offered at the upsell step; banner: also shown on the tier card"
        }
    )
    percent_off = fields.String()
    price = fields.Integer(metadata={"description": "add-on: undiscounted price, minor units"})
    total = fields.Integer(metadata={"description": "Minor units, discount applied"})
    difference = fields.Integer(
        metadata={"description": "tier: what upgrading adds to this offer's total"}
    )
    features_gained = fields.List(fields.Nested(FeatureChangeSchema))
    rules = fields.List(fields.String())


class FallbackSchema(ma.Schema):
    rank = fields.Integer()
    strategy = fields.String(metadata={"description": "other_tier, nearby_dates or other_segment"})
    reason = fields.String()
    segment_key = fields.String()
    tier_id = fields.String()
    tier_name = fields.String()
    level = fields.Integer()
    service_date = fields.String(metadata={"format": "date"})
    price = fields.Nested(PriceSchema)
    units_left = fields.Integer()
    decision_id = fields.String()


class OfferSchema(ma.Schema):
    tier = fields.Nested(OfferTierSchema)
    price = fields.Nested(PriceSchema)
    availability = fields.Nested(AvailabilitySchema)
    add_ons_applied = fields.List(fields.String())
    add_ons_unavailable = fields.List(fields.String())
    upsell = fields.Nested(UpsellSchema, allow_none=True)
    fallback = fields.List(
        fields.Nested(FallbackSchema), metadata={"description": "Ranked, priced alternatives"}
    )
    decision_id = fields.String()


class PreviewFallbackSchema(FallbackSchema):
    price = fields.Nested(PreviewPriceSchema)


class PreviewOfferSchema(OfferSchema):
    price = fields.Nested(PreviewPriceSchema)
    fallback = fields.List(fields.Nested(PreviewFallbackSchema))


class RulesetRefSchema(ma.Schema):
    version = fields.Integer()
    content_hash = fields.String()


class AssignmentSchema(ma.Schema):
    key = fields.String(metadata={"description": "Experiment key (tag storefront events with it)"})
    variant = fields.String()


class OffersSchema(ma.Schema):
    segment = fields.Nested(PublicSegmentSchema)
    service_date = fields.String(metadata={"format": "date"})
    guests = fields.Integer()
    currency = fields.String()
    ruleset = fields.Nested(RulesetRefSchema)
    experiment = fields.Nested(
        AssignmentSchema,
        allow_none=True,
        metadata={"description": "The visitor's experiment variant the offers were priced under"},
    )
    offers = fields.List(fields.Nested(OfferSchema))
    decision_ids = fields.List(fields.String())


class PreviewOffersSchema(OffersSchema):
    """The admin preview: the storefront's offers with each price's platform fee."""

    offers = fields.List(fields.Nested(PreviewOfferSchema))


VISITOR = fields.String(
    load_default="",
    validate=validate.Length(max=64),
    metadata={
        "description": "The storefront's stable visitor id: puts the visitor in running experiments"
    },
)


class _SelectionQuerySchema(ma.Schema):
    date = Day(required=True, metadata={"description": SERVICE_DATE})
    guests = fields.Integer(required=True, validate=validate.Range(1, 1000))
    add_ons = webargs_fields.DelimitedList(
        fields.String(validate=SHORT), load_default=list, validate=validate.Length(max=10)
    )


class OffersQuerySchema(_SelectionQuerySchema):
    visitor_id = VISITOR


class PreviewQuerySchema(_SelectionQuerySchema):
    as_of = Instant(
        ahead=FIVE_YEARS, metadata={"description": "Price as of this moment (default now)."}
    )
    experiment = fields.String(
        load_default="",
        validate=SHORT,
        metadata={"description": "Preview under this experiment..."},
    )
    variant = fields.String(
        load_default="", validate=SHORT, metadata={"description": "...and variant"}
    )


# ---- quotes and upgrade quotes ----------------------------------------------------------------


class QuoteCustomerSchema(ma.Schema):
    email = fields.Email(validate=validate.Length(max=254))
    name = fields.String(validate=validate.Length(max=200))
    phone = fields.String(validate=validate.Length(max=40))


CUSTOMER = fields.Nested(
    QuoteCustomerSchema,
    metadata={
        "description": "Who is asking, if known: kept only as keyed hashes in the decision log"
    },
)


class QuoteCreateSchema(ma.Schema):
    tier_id = fields.UUID(required=True)
    customer = CUSTOMER
    upsell_from_tier_id = fields.UUID(
        metadata={"description": "Accepting the upsell offered on this tier: its discount applies"}
    )
    date = Day(required=True, metadata={"description": SERVICE_DATE})
    guests = fields.Integer(required=True, strict=True, validate=validate.Range(1, 1000))
    add_ons = fields.List(
        fields.String(validate=SHORT), load_default=list, validate=validate.Length(max=10)
    )
    visitor_id = VISITOR


class QuoteSchema(ma.Schema):
    quote_id = fields.String()
    token = fields.String(metadata={"description": "Signed price lock; send it to checkout"})
    expires_at = Timestamp()
    tier_id = fields.String()
    service_date = fields.Date()
    guests = fields.Integer()
    add_on_ids = fields.List(fields.String())
    price = fields.Nested(PriceSchema)
    ruleset = fields.Nested(RulesetRefSchema)
    experiment = fields.Nested(AssignmentSchema, allow_none=True)
    decision_ids = fields.List(fields.String())


class QuoteTokenSchema(ma.Schema):
    token = fields.String(required=True, validate=validate.Length(min=1, max=4096))


class QuoteClaimsSchema(ma.Schema):
    quote_id = fields.String()
    tier_id = fields.String()
    segment_id = fields.String()
    service_date = fields.String()
    guests = fields.Integer()
    add_on_ids = fields.List(fields.String())
    currency = fields.String()
    subtotal = fields.Integer()
    total = fields.Integer()
    ruleset_version = fields.Integer()
    expires_at = fields.Integer()
    visitor_id = fields.String()
    experiment = fields.String()
    variant = fields.String()


class UpgradeQuoteCreateSchema(ma.Schema):
    to_tier_id = fields.UUID(required=True)
    customer = CUSTOMER
    booking_id = fields.UUID(metadata={"description": "Upgrade an existing booking ..."})
    tier_id = fields.UUID(
        metadata={"description": "... or a selection: tier_id, date, guests, add_ons"}
    )
    date = Day(metadata={"description": SERVICE_DATE})
    guests = fields.Integer(strict=True, validate=validate.Range(1, 1000))
    add_ons = fields.List(
        fields.String(validate=SHORT), load_default=list, validate=validate.Length(max=10)
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
    allowed = fields.Boolean()
    reason = fields.String()
    rules = fields.List(fields.String())
    from_tier_id = fields.String()
    to_tier_id = fields.String()
    from_price = fields.Nested(PriceSchema)
    to_price = fields.Nested(PriceSchema)
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
    features_gained = fields.List(fields.Nested(FeatureChangeSchema))
    availability = fields.Nested(AvailabilitySchema)
    decision_id = fields.String()
    decision_ids = fields.List(fields.String())


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
    client_event_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    visitor_id = fields.String(required=True, validate=validate.Length(min=1, max=64))
    segment = fields.String(load_default="", validate=SHORT)
    tier_id = fields.String(load_default="", validate=SHORT)
    experiment = fields.String(load_default="", validate=SHORT)
    variant = fields.String(load_default="", validate=SHORT)
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
    )


class EventsSchema(ma.Schema):
    events = fields.List(
        fields.Nested(EventSchema), required=True, validate=validate.Length(min=1, max=100)
    )


class EventsResultSchema(ma.Schema):
    received = fields.Integer()
    stored = fields.Integer(
        metadata={"description": "New events; repeats of a client_event_id are ignored"}
    )
