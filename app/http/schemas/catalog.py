"""The tenant's catalog: segments, tiers and add-ons."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from app.http.schemas.common import KEY, NAME, FeatureSchema, MoneySchema
from pricing.catalog import Tier

# ---- segments ---------------------------------------------------------------------------------

COLOR = validate.Regexp(r"^#[0-9a-fA-F]{6}$", error="A colour as #rrggbb.")
FONT_FAMILY = validate.Regexp(
    r"^[A-Za-z0-9 ,'\"-]{1,200}$",
    error="A CSS font-family list: letters, digits, spaces, commas, quotes and hyphens.",
)
RADIUS = validate.Regexp(
    r"^(0|[0-9]{1,2}(\.[0-9]{1,2})?(px|rem|em))$", error="A CSS length: 0, 8px, 0.5rem or 1em."
)


class ThemeSchema(ma.Schema):
    """The storefront widget's look for a segment, applied as CSS custom properties on the
    widget's element (--tw-primary, --tw-accent, --tw-font, --tw-radius); null: the default."""

    primary_color = fields.String(
        allow_none=True, validate=[validate.Length(max=7), COLOR], load_default=None
    )
    accent_color = fields.String(
        allow_none=True, validate=[validate.Length(max=7), COLOR], load_default=None
    )
    font_family = fields.String(
        allow_none=True, validate=[validate.Length(max=200), FONT_FAMILY], load_default=None
    )
    radius = fields.String(
        allow_none=True, validate=[validate.Length(max=8), RADIUS], load_default=None
    )


class SegmentCreateSchema(ma.Schema):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=NAME)
    position = fields.Integer(strict=True, load_default=0, validate=validate.Range(0, 10_000))


class SegmentUpdateSchema(ma.Schema):
    key = fields.String(validate=KEY)
    name = fields.String(validate=NAME)
    position = fields.Integer(strict=True, validate=validate.Range(0, 10_000))
    theme = fields.Nested(
        ThemeSchema,
        metadata={"description": "Replaces the whole theme; {} restores the widget's defaults"},
    )


class SegmentCloneSchema(SegmentCreateSchema):
    position = fields.Integer(
        strict=True,
        validate=validate.Range(0, 10_000),
        metadata={"description": "Display position (default: after the last segment)"},
    )


class SegmentSchema(ma.Schema):
    id = fields.String()
    key = fields.String()
    name = fields.String()
    position = fields.Integer()
    status = fields.String()
    version = fields.Integer()
    theme = fields.Nested(ThemeSchema)


class SegmentQuerySchema(ma.Schema):
    status = fields.String(validate=validate.OneOf(["active", "archived"]))


# ---- tiers ------------------------------------------------------------------------------------


class TierUpdateSchema(ma.Schema):
    level = fields.Integer(strict=True, validate=validate.Range(1, 3))
    name = fields.String(validate=NAME)
    description = fields.String(validate=validate.Length(max=2000))
    base_price = fields.Nested(MoneySchema)
    per_guest_price = fields.Nested(MoneySchema)
    max_guests = fields.Integer(strict=True, validate=validate.Range(1, 1000))
    features = fields.List(fields.Nested(FeatureSchema), validate=validate.Length(max=50))
    popular = fields.Boolean(
        metadata={
            "description": "The segment's one popular badge: true moves it here from the "
            "segment's other tiers (unflagged in the same transaction, versions bumped)"
        }
    )
    upsell_target_ids = fields.List(
        fields.UUID(),
        validate=validate.Length(max=10),
        metadata={
            "description": "The tiers a tier upsell from this tier may offer (the upsell rule "
            "picks the level; a tier outside this list is not offered). Empty: no limit"
        },
    )
    photos = fields.List(
        fields.Url(schemes={"https", "http"}, validate=validate.Length(max=500)),
        validate=validate.Length(max=20),
    )
    price_floor = fields.Nested(
        MoneySchema, allow_none=True, metadata={"description": "Lowest total a booking may cost"}
    )
    price_ceiling = fields.Nested(
        MoneySchema, allow_none=True, metadata={"description": "Highest total a booking may cost"}
    )

    @validates_schema
    def _unique_feature_keys(self, data: dict[str, Any], **kwargs: Any) -> None:
        keys = [f["key"] for f in data.get("features", [])]
        if len(keys) != len(set(keys)):
            raise ma.ValidationError("Feature keys must be unique.", "features")


class TierCreateSchema(TierUpdateSchema):
    segment_id = fields.UUID(required=True)
    level = fields.Integer(required=True, strict=True, validate=validate.Range(1, 3))
    name = fields.String(required=True, validate=NAME)
    base_price = fields.Nested(MoneySchema, required=True)
    max_guests = fields.Integer(required=True, strict=True, validate=validate.Range(1, 1000))


class TierSchema(ma.Schema):
    id = fields.String()
    segment_id = fields.String()
    level = fields.Integer()
    name = fields.String()
    description = fields.String()
    base_price = fields.Nested(MoneySchema)
    per_guest_price = fields.Nested(MoneySchema)
    max_guests = fields.Integer()
    features = fields.List(fields.Nested(FeatureSchema))
    popular = fields.Boolean()
    upsell_target_ids = fields.List(fields.String())
    photos = fields.List(fields.String())
    price_floor = fields.Method("_floor")
    price_ceiling = fields.Method("_ceiling")
    status = fields.String()
    version = fields.Integer()

    def _floor(self, tier: Tier) -> dict[str, Any] | None:
        return _money_or_none(tier.price_floor, tier.base_price.currency)

    def _ceiling(self, tier: Tier) -> dict[str, Any] | None:
        return _money_or_none(tier.price_ceiling, tier.base_price.currency)


def _money_or_none(amount: int | None, currency: str) -> dict[str, Any] | None:
    return None if amount is None else {"amount": amount, "currency": currency}


class TierQuerySchema(ma.Schema):
    segment_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(["active", "archived"]))


# ---- add-ons ----------------------------------------------------------------------------------


class AddOnUpdateSchema(ma.Schema):
    key = fields.String(validate=KEY)
    name = fields.String(validate=NAME)
    pricing = fields.String(validate=validate.OneOf(["flat", "per_guest"]))
    price = fields.Nested(MoneySchema)
    tier_ids = fields.List(
        fields.UUID(),
        validate=validate.Length(max=100),
        metadata={"description": "Tiers the add-on is limited to; empty means every tier"},
    )


class AddOnCreateSchema(AddOnUpdateSchema):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=NAME)
    pricing = fields.String(required=True, validate=validate.OneOf(["flat", "per_guest"]))
    price = fields.Nested(MoneySchema, required=True)
    tier_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=100))


class AddOnSchema(ma.Schema):
    id = fields.String()
    key = fields.String()
    name = fields.String()
    pricing = fields.String()
    price = fields.Nested(MoneySchema)
    tier_ids = fields.List(fields.String())
    status = fields.String()
    version = fields.Integer()


class StatusQuerySchema(ma.Schema):
    status = fields.String(validate=validate.OneOf(["active", "archived"]))
