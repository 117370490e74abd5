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
        allow_none=True,
        validate=[validate.Length(max=7), COLOR],
        load_default=None,
        metadata={
            "description": "--tw-primary: buttons and highlights, #rgb or #rrggbb (null: default)"
        },
    )
    accent_color = fields.String(
        allow_none=True,
        validate=[validate.Length(max=7), COLOR],
        load_default=None,
        metadata={
            "description": "--tw-accent: the popular badge and accents, #rgb or #rrggbb (null: default)"
        },
    )
    font_family = fields.String(
        allow_none=True,
        validate=[validate.Length(max=200), FONT_FAMILY],
        load_default=None,
        metadata={"description": "--tw-font: a CSS font-family list (null: the host page's font)"},
    )
    radius = fields.String(
        allow_none=True,
        validate=[validate.Length(max=8), RADIUS],
        load_default=None,
        metadata={
            "description": "--tw-radius: corner radius, 0, 8px, 0.5rem or 1em (null: default)"
        },
    )


class SegmentCreateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {"key": "premium", "name": "Premium", "position": 1}

    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=NAME)
    position = fields.Integer(strict=True, load_default=0, validate=validate.Range(0, 10_000))


class SegmentUpdateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "name": "Premium stays",
        "theme": {
            "primary_color": "#0b5cad",
            "accent_color": "#f5a623",
            "font_family": "Inter, sans-serif",
            "radius": "8px",
        },
    }

    key = fields.String(validate=KEY)
    name = fields.String(validate=NAME)
    position = fields.Integer(strict=True, validate=validate.Range(0, 10_000))
    theme = fields.Nested(
        ThemeSchema,
        metadata={
            "description": "Replaces the whole theme; {} restores the widget's defaults",
        },
    )


class SegmentCloneSchema(SegmentCreateSchema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {"key": "premium-winter", "name": "Premium (winter)"}

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
    status = fields.String(
        metadata={"description": "active (on sale) or archived (hidden from storefronts)"}
    )
    version = fields.Integer()
    theme = fields.Nested(
        ThemeSchema, metadata={"description": "The widget's look for the segment (null: default)"}
    )


class SegmentQuerySchema(ma.Schema):
    status = fields.String(
        validate=validate.OneOf(["active", "archived"]),
        metadata={"description": "Only segments with this status (default: both)"},
    )


# ---- tiers ------------------------------------------------------------------------------------


class TierUpdateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {"base_price": {"amount": 12900, "currency": "EUR"}, "popular": True}

    level = fields.Integer(strict=True, validate=validate.Range(1, 3))
    name = fields.String(validate=NAME)
    description = fields.String(
        validate=validate.Length(max=2000),
        metadata={"description": "Text shown under the tier's name, at most 2000 characters"},
    )
    base_price = fields.Nested(
        MoneySchema,
        metadata={"description": "Price for the party before per-guest charges and the rules"},
    )
    per_guest_price = fields.Nested(
        MoneySchema, metadata={"description": "Added per guest; omit or 0 for a price per unit"}
    )
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
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "segment_id": "3d9a7b1c-5e2f-4a8b-b6c7-d8e9f0a1b2c3",
        "level": 2,
        "name": "Preferred",
        "description": "Sea view, late checkout",
        "base_price": {"amount": 12000, "currency": "EUR"},
        "per_guest_price": {"amount": 2500, "currency": "EUR"},
        "max_guests": 4,
        "features": [
            {"key": "breakfast", "label": "Breakfast", "value": True},
            {"key": "spa", "label": "Spa access", "value": "2 h"},
        ],
        "popular": True,
    }

    segment_id = fields.UUID(required=True)
    level = fields.Integer(required=True, strict=True, validate=validate.Range(1, 3))
    name = fields.String(required=True, validate=NAME)
    base_price = fields.Nested(
        MoneySchema,
        required=True,
        metadata={"description": "Price for the party before per-guest charges and the rules"},
    )
    max_guests = fields.Integer(required=True, strict=True, validate=validate.Range(1, 1000))


class TierSchema(ma.Schema):
    id = fields.String()
    segment_id = fields.String()
    level = fields.Integer()
    name = fields.String()
    description = fields.String(metadata={"description": "Text shown under the tier's name"})
    base_price = fields.Nested(
        MoneySchema,
        metadata={"description": "Price for the party before per-guest charges and the rules"},
    )
    per_guest_price = fields.Nested(MoneySchema, metadata={"description": "Added per guest"})
    max_guests = fields.Integer()
    features = fields.List(fields.Nested(FeatureSchema))
    popular = fields.Boolean()
    upsell_target_ids = fields.List(fields.String())
    photos = fields.List(fields.String())
    price_floor = fields.Method(
        "_floor",
        metadata={"description": "The rules never price the tier below this (null: no floor)"},
    )
    price_ceiling = fields.Method(
        "_ceiling",
        metadata={"description": "The rules never price the tier above this (null: no ceiling)"},
    )
    status = fields.String(
        metadata={"description": "active (on sale) or archived (hidden from storefronts)"}
    )
    version = fields.Integer()

    def _floor(self, tier: Tier) -> dict[str, Any] | None:
        return _money_or_none(tier.price_floor, tier.base_price.currency)

    def _ceiling(self, tier: Tier) -> dict[str, Any] | None:
        return _money_or_none(tier.price_ceiling, tier.base_price.currency)


def _money_or_none(amount: int | None, currency: str) -> dict[str, Any] | None:
    return None if amount is None else {"amount": amount, "currency": currency}


class TierQuerySchema(ma.Schema):
    segment_id = fields.UUID(metadata={"description": "Only the tiers of this segment"})
    status = fields.String(
        validate=validate.OneOf(["active", "archived"]),
        metadata={"description": "Only tiers with this status (default: both)"},
    )


# ---- add-ons ----------------------------------------------------------------------------------


class AddOnUpdateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {"price": {"amount": 1800, "currency": "EUR"}}

    key = fields.String(validate=KEY)
    name = fields.String(validate=NAME)
    pricing = fields.String(validate=validate.OneOf(["flat", "per_guest"]))
    price = fields.Nested(
        MoneySchema, metadata={"description": "Per booking (`flat`) or per guest (`per_guest`)"}
    )
    tier_ids = fields.List(
        fields.UUID(),
        validate=validate.Length(max=100),
        metadata={"description": "Tiers the add-on is limited to; empty means every tier"},
    )


class AddOnCreateSchema(AddOnUpdateSchema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "key": "breakfast",
        "name": "Breakfast",
        "pricing": "per_guest",
        "price": {"amount": 1500, "currency": "EUR"},
        "tier_ids": ["6f1c2a9e-3b4d-4e5f-8a7b-9c0d1e2f3a4b"],
    }

    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=NAME)
    pricing = fields.String(required=True, validate=validate.OneOf(["flat", "per_guest"]))
    price = fields.Nested(
        MoneySchema,
        required=True,
        metadata={"description": "Per booking (`flat`) or per guest (`per_guest`)"},
    )
    tier_ids = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=100))


class AddOnSchema(ma.Schema):
    id = fields.String()
    key = fields.String()
    name = fields.String()
    pricing = fields.String()
    price = fields.Nested(
        MoneySchema, metadata={"description": "Per booking (`flat`) or per guest (`per_guest`)"}
    )
    tier_ids = fields.List(fields.String())
    status = fields.String(
        metadata={"description": "active (on sale) or archived (no longer sold)"}
    )
    version = fields.Integer()


class StatusQuerySchema(ma.Schema):
    status = fields.String(
        validate=validate.OneOf(["active", "archived"]),
        metadata={"description": "Only items with this status (default: both)"},
    )
