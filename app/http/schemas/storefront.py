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
    UnixTimestamp,
)
from pricing.pricer import MAX_LEAD_DAYS

SERVICE_DATE = (
    f"Service date, YYYY-MM-DD in the tenant's time zone: from its today up to {MAX_LEAD_DAYS} "
    "days ahead (422 date_in_past or date_too_far otherwise)"
)
SHORT = validate.Length(max=64)


# ---- tier comparison --------------------------------------------------------------------------


class PublicSegmentSchema(ma.Schema):
    class Meta:
        description = "A segment as storefronts see it."

    id = fields.String()
    key = fields.String()
    name = fields.String()
    position = fields.Integer()
    theme = fields.Nested(
        ThemeSchema, metadata={"description": "The widget's look for the segment (null: default)"}
    )


class PublicTierSchema(ma.Schema):
    class Meta:
        description = "A tier as storefronts see it, with its list prices (before the rules)."

    id = fields.String()
    level = fields.Integer()
    name = fields.String()
    description = fields.String(metadata={"description": "Text shown under the tier's name"})
    base_price = fields.Nested(
        MoneySchema,
        metadata={"description": "List price for the party before per-guest charges and the rules"},
    )
    per_guest_price = fields.Nested(MoneySchema, metadata={"description": "Added per guest"})
    max_guests = fields.Integer()
    popular = fields.Boolean()
    upsell_target_ids = fields.List(fields.String())
    photos = fields.List(fields.String())


class FeatureRowSchema(ma.Schema):
    class Meta:
        description = "One row of the comparison matrix: a feature and its value in each tier."

    key = fields.String()
    label = fields.String()
    values = fields.List(
        FeatureValue(allow_none=True), metadata={"description": "One per tier, in level order"}
    )


class PublicAddOnSchema(ma.Schema):
    class Meta:
        description = "An add-on on sale."

    id = fields.String()
    key = fields.String()
    name = fields.String()
    pricing = fields.String()
    price = fields.Nested(
        MoneySchema,
        metadata={"description": "List price: per booking (`flat`) or per guest (`per_guest`)"},
    )
    tier_ids = fields.List(fields.String(), metadata={"description": "Empty: every tier"})


class TierComparisonSchema(ma.Schema):
    segment = fields.Nested(PublicSegmentSchema, metadata={"description": "The segment compared"})
    currency = fields.String()
    tiers = fields.List(
        fields.Nested(PublicTierSchema), metadata={"description": "Active tiers in level order"}
    )
    feature_matrix = fields.List(
        fields.Nested(FeatureRowSchema),
        metadata={
            "description": "One row per feature key, one value per tier (null: the tier lacks it)"
        },
    )
    add_ons = fields.List(
        fields.Nested(PublicAddOnSchema), metadata={"description": "Add-ons on sale in the segment"}
    )


# ---- offers -----------------------------------------------------------------------------------


class PriceLineSchema(ma.Schema):
    class Meta:
        description = "One line of a price breakdown."

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
    class Meta:
        description = "A price with its breakdown; every amount in minor units of `currency`."

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
    lines = fields.List(
        fields.Nested(PriceLineSchema),
        metadata={
            "description": "The breakdown: subtotal lines, then the rules' lines, then guardrails; they add up to total"
        },
    )


class PreviewPriceSchema(PriceSchema):
    class Meta:
        description = "A price with its breakdown and the platform's fee on it."

    platform_fee = fields.Integer(
        metadata={
            "description": "Minor units: the platform's commission on total (the commission "
            "rules), paid by the tenant out of total, not by the customer"
        }
    )


class OfferTierSchema(PublicTierSchema):
    features = fields.List(fields.Nested(FeatureSchema))


class AvailabilitySchema(ma.Schema):
    class Meta:
        description = "Whether a tier can be booked for the party on the date."

    status = fields.String(
        metadata={"description": "available, sold_out, blacked_out or party_too_large"}
    )
    units_left = fields.Integer(metadata={"description": "Units still bookable that day"})


class FeatureChangeSchema(ma.Schema):
    class Meta:
        description = "A feature that differs between two tiers."

    key = fields.String()
    label = fields.String()
    from_ = FeatureValue(
        data_key="from",
        attribute="from",
        allow_none=True,
        metadata={"description": "Its value in the current tier (null: not included)"},
    )
    to = FeatureValue(
        allow_none=True,
        metadata={"description": "Its value in the target tier (null: not included)"},
    )


class UpsellSchema(ma.Schema):
    class Meta:
        description = (
            "What the upsell rules suggest on top of an offer (a better tier or an add-on)."
        )

    type = fields.String(metadata={"description": "tier or add_on"})
    tier_id = fields.String(metadata={"description": "type tier: the tier suggested"})
    tier_name = fields.String(metadata={"description": "type tier: its name"})
    add_on_id = fields.String(metadata={"description": "type add_on: the add-on suggested"})
    add_on_key = fields.String(metadata={"description": "type add_on: its key"})
    message_key = fields.String(
        metadata={
            "description": "Which message the storefront shows (the rule chooses it; the widget maps it to words)"
        }
    )
    placement = fields.String(
        metadata={
            "description": "step: offered at the upsell step; banner: also shown on the tier card"
        }
    )
    percent_off = fields.String(
        metadata={
            "description": 'Discount offered on the upsell, percent as a decimal string ("10")'
        }
    )
    price = fields.Integer(metadata={"description": "add-on: undiscounted price, minor units"})
    total = fields.Integer(metadata={"description": "Minor units, discount applied"})
    difference = fields.Integer(
        metadata={"description": "tier: what upgrading adds to this offer's total"}
    )
    features_gained = fields.List(
        fields.Nested(FeatureChangeSchema),
        metadata={"description": "type tier: features that differ in the suggested tier"},
    )
    rules = fields.List(fields.String())


class FallbackSchema(ma.Schema):
    class Meta:
        description = "An alternative offered for an unavailable tier."

    rank = fields.Integer(metadata={"description": "1 is the best alternative"})
    strategy = fields.String(metadata={"description": "other_tier, nearby_dates or other_segment"})
    reason = fields.String(metadata={"description": "Why the alternative was suggested, in words"})
    segment_key = fields.String()
    tier_id = fields.String()
    tier_name = fields.String()
    level = fields.Integer()
    service_date = fields.String(
        metadata={
            "description": "The alternative's date (a nearby date, or the same)",
            "format": "date",
        }
    )
    price = fields.Nested(
        PriceSchema, metadata={"description": "The alternative priced by the rules"}
    )
    units_left = fields.Integer(
        metadata={"description": "Units still bookable for the alternative"}
    )
    decision_id = fields.String()


class OfferSchema(ma.Schema):
    class Meta:
        description = "One tier priced for the selection."

    tier = fields.Nested(OfferTierSchema, metadata={"description": "The tier with its features"})
    price = fields.Nested(
        PriceSchema, metadata={"description": "The price the rules give, with its breakdown"}
    )
    availability = fields.Nested(
        AvailabilitySchema,
        metadata={"description": "Whether the tier can be booked for the party that day"},
    )
    add_ons_applied = fields.List(
        fields.String(),
        metadata={"description": "Keys of the requested add-ons priced into the offer"},
    )
    add_ons_unavailable = fields.List(
        fields.String(),
        metadata={"description": "Keys of the requested add-ons this tier does not sell"},
    )
    upsell = fields.Nested(
        UpsellSchema,
        allow_none=True,
        metadata={"description": "The upsell the rules chose for this tier (null: none)"},
    )
    fallback = fields.List(
        fields.Nested(FallbackSchema), metadata={"description": "Ranked, priced alternatives"}
    )
    decision_id = fields.String()


class PreviewFallbackSchema(FallbackSchema):
    price = fields.Nested(
        PreviewPriceSchema,
        metadata={"description": "The alternative priced by the rules, with the platform fee"},
    )


class PreviewOfferSchema(OfferSchema):
    price = fields.Nested(
        PreviewPriceSchema,
        metadata={"description": "The price the rules give, with the platform fee"},
    )
    fallback = fields.List(
        fields.Nested(PreviewFallbackSchema),
        metadata={"description": "Ranked, priced alternatives, with the platform fee"},
    )


class RulesetRefSchema(ma.Schema):
    class Meta:
        description = "The ruleset version that priced a response."

    version = fields.Integer(metadata={"description": "Number of the ruleset version in force"})
    content_hash = fields.String()


class AssignmentSchema(ma.Schema):
    class Meta:
        description = "A visitor's experiment and variant."

    key = fields.String(metadata={"description": "Experiment key (tag storefront events with it)"})
    variant = fields.String(metadata={"description": "The visitor's variant key"})


class OffersSchema(ma.Schema):
    segment = fields.Nested(PublicSegmentSchema, metadata={"description": "The segment priced"})
    service_date = fields.String(
        metadata={"description": "The date priced, YYYY-MM-DD", "format": "date"}
    )
    guests = fields.Integer()
    currency = fields.String()
    ruleset = fields.Nested(RulesetRefSchema)
    experiment = fields.Nested(
        AssignmentSchema,
        allow_none=True,
        metadata={"description": "The visitor's experiment variant the offers were priced under"},
    )
    offers = fields.List(
        fields.Nested(OfferSchema), metadata={"description": "One per active tier, in level order"}
    )
    decision_ids = fields.List(fields.String())


class PreviewOffersSchema(OffersSchema):
    """The admin preview: the storefront's offers with each price's platform fee."""

    offers = fields.List(
        fields.Nested(PreviewOfferSchema),
        metadata={"description": "One per active tier, in level order, with platform fees"},
    )


VISITOR = fields.String(
    load_default="",
    validate=validate.Length(max=64),
    metadata={
        "description": "The storefront's stable visitor id: puts the visitor in running experiments"
    },
)


class _SelectionQuerySchema(ma.Schema):
    date = Day(required=True, metadata={"description": SERVICE_DATE})
    guests = fields.Integer(
        required=True,
        validate=validate.Range(1, 1000),
        metadata={"description": "Party size, 1 to 1000"},
    )
    add_ons = webargs_fields.DelimitedList(
        fields.String(validate=SHORT),
        load_default=list,
        validate=validate.Length(max=10),
        metadata={"description": "Add-on keys or ids, comma separated (at most 10)"},
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
