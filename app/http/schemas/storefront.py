"""The storefront: tier comparisons and offers (and the admin's preview of them). Quotes:
``quotes``; storefront events: ``storefront_events``."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate
from webargs import fields as webargs_fields

from app.http.schemas.catalog import ThemeSchema
from app.http.schemas.common import (
    FIVE_YEARS,
    Day,
    FeatureSchema,
    FeatureValue,
    Instant,
    MoneySchema,
)
from pricing.pricer import MAX_LEAD_DAYS

SERVICE_DATE = (
    f"Service date, YYYY-MM-DD in the tenant's time zone: from its today up to {MAX_LEAD_DAYS} "
    "days ahead (422 date_in_past or date_too_far otherwise)"
)
SHORT = validate.Length(max=64)
#: A party's size, and how many add-ons one selection may name (app/http/offers_query.py reads
#: both, and SHORT, so the offers query's fast path checks the limits the schema does).
PARTY = validate.Range(1, 1000)
ADD_ONS_CHOSEN = validate.Length(max=10)


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
    validate=SHORT,
    metadata={
        "description": "The storefront's stable visitor id: puts the visitor in running experiments"
    },
)


class _SelectionQuerySchema(ma.Schema):
    date = Day(required=True, metadata={"description": SERVICE_DATE})
    guests = fields.Integer(
        required=True,
        validate=PARTY,
        metadata={"description": "Party size, 1 to 1000"},
    )
    add_ons = webargs_fields.DelimitedList(
        fields.String(validate=SHORT),
        load_default=list,
        validate=ADD_ONS_CHOSEN,
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
