"""Tenants (created by the platform's operators, edited by their own admins), their API keys and
their payments onboarding."""

from __future__ import annotations

import zoneinfo
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from app.http.schemas.common import KEY, NAME, Timestamp
from app.services.origins import MAX_ORIGIN_LENGTH, MAX_ORIGINS, normalized_origin
from config.settings import valid_rate_limit
from pricing.money import CURRENCY_EXPONENTS


class Origin(fields.String):
    """A browser origin, ``scheme://host[:port]`` (http or https, no path), stored as browsers
    send it: lower case, without a default port."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        origin = normalized_origin(text)
        if origin is None:
            raise ma.ValidationError(
                "Not an origin: scheme://host[:port] with http or https, no path."
            )
        return origin


def _time_zone(value: str) -> None:
    if len(value) > 64:  # tenants.time_zone is VARCHAR(64)
        raise ma.ValidationError("Not an IANA time zone name.")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: "Europe" is a directory of the tz database, an over-long name is refused by
        # the file system; neither is a zone.
        raise ma.ValidationError("Not an IANA time zone name.") from None


def _email_or_none(value: str) -> None:
    if value:
        validate.Email()(value)


NOTIFICATION_EMAIL: dict[str, Any] = {
    # tenants.notification_email is VARCHAR(254)
    "validate": [validate.Length(max=254), _email_or_none],
    "metadata": {
        "description": "Gets an email for every new (paid) booking and when a webhook endpoint "
        'is disabled; "" for none'
    },
}


class TenantCreateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "slug": "acme",
        "name": "Acme Adventures",
        "currency": "EUR",
        "time_zone": "Europe/Berlin",
        "default_capacity": 10,
    }

    slug = fields.String(required=True, validate=[KEY, validate.Length(max=63)])  # VARCHAR(63)
    name = fields.String(required=True, validate=NAME)
    currency = fields.String(required=True, validate=validate.OneOf(sorted(CURRENCY_EXPONENTS)))
    time_zone = fields.String(required=True, validate=_time_zone)
    default_capacity = fields.Integer(
        strict=True, load_default=0, validate=validate.Range(0, 100_000)
    )
    notification_email = fields.String(load_default="", **NOTIFICATION_EMAIL)


class TenantUpdateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "name": "Acme Adventures",
        "time_zone": "Europe/Berlin",
        "default_capacity": 8,
        "refund_window_hours": 48,
    }

    name = fields.String(validate=NAME)
    time_zone = fields.String(validate=_time_zone)
    default_capacity = fields.Integer(strict=True, validate=validate.Range(0, 100_000))
    refund_window_hours = fields.Integer(
        strict=True,
        validate=validate.Range(0, 24 * 365),
        metadata={
            "description": "Paid bookings cancelled at least this long before the service date are refunded",
        },
    )
    refund_application_fee = fields.Boolean(
        metadata={
            "description": "Whether a refund also returns the platform's fee",
        }
    )
    decision_retention_days = fields.Integer(
        strict=True,
        allow_none=True,
        validate=validate.Range(1, 3650),
        metadata={
            "description": "Decision records older than this are purged (null: kept)",
        },
    )
    notification_email = fields.String(**NOTIFICATION_EMAIL)


class TenantStatusSchema(TenantUpdateSchema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {"status": "suspended"}

    status = fields.String(
        validate=validate.OneOf(["active", "suspended"]),
        metadata={
            "description": "suspended: the tenant's keys and tokens answer 403; active: back in service"
        },
    )


class TenantSchema(ma.Schema):
    id = fields.String()
    slug = fields.String()
    name = fields.String()
    currency = fields.String()
    time_zone = fields.String()
    status = fields.String(metadata={"description": "active or suspended"})
    default_capacity = fields.Integer()
    refund_window_hours = fields.Integer(
        metadata={
            "description": "A paid booking cancelled less than this many hours before its service date is not refunded"
        }
    )
    refund_application_fee = fields.Boolean(
        metadata={"description": "Refunds give back the platform fee too"}
    )
    decision_retention_days = fields.Integer(
        allow_none=True, metadata={"description": "Days decision records are kept (null: forever)"}
    )
    notification_email = fields.String(metadata=NOTIFICATION_EMAIL["metadata"])
    version = fields.Integer()


# ---- API keys ---------------------------------------------------------------------------------


ALLOWED_ORIGINS = fields.List(
    Origin(validate=validate.Length(max=MAX_ORIGIN_LENGTH)),
    validate=validate.Length(max=MAX_ORIGINS),
    metadata={
        "description": "Browser origins (`https://shop.example`, `http://localhost:8080`) whose "
        "pages may call the storefront API with this key (CORS); empty: none"
    },
)


class ApiKeyCreateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "name": "www.acme.example",
        "allowed_origins": ["https://www.acme.example"],
    }

    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "A label to tell keys apart, e.g. the site that uses it"},
    )
    allowed_origins = fields.List(
        Origin(validate=validate.Length(max=MAX_ORIGIN_LENGTH)),
        load_default=list,
        validate=validate.Length(max=MAX_ORIGINS),
        metadata=ALLOWED_ORIGINS.metadata,
    )


class ApiKeyUpdateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "allowed_origins": ["https://www.acme.example", "https://shop.acme.example"]
    }

    name = fields.String(validate=validate.Length(min=1, max=100))
    allowed_origins = ALLOWED_ORIGINS


class ApiKeySchema(ma.Schema):
    id = fields.String()
    name = fields.String(metadata={"description": "A label to tell keys apart"})
    prefix = fields.String(
        metadata={"description": "The key's first 14 characters, kept in clear to recognise it"}
    )
    created_at = Timestamp()
    revoked_at = Timestamp(
        allow_none=True, metadata={"description": "When it was revoked (null: in use)"}
    )
    active = fields.Boolean(metadata={"description": "false once revoked"})
    allowed_origins = fields.List(
        fields.String(),
        metadata={
            "description": "Browser origins (scheme://host[:port]) whose pages may call the API with this key"
        },
    )
    version = fields.Integer()


class ApiKeyCreatedSchema(ApiKeySchema):
    key = fields.String(metadata={"description": "The full key; shown once, never again"})


# ---- payments onboarding ----------------------------------------------------------------------


class OnboardingCreateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {"email": "finance@acme.example"}

    email = fields.Email(
        load_default="",
        validate=validate.Length(max=254),
        metadata={"description": "The tenant's contact for the Stripe account (optional)"},
    )


class OnboardingSchema(ma.Schema):
    account_id = fields.String(
        metadata={"description": "The tenant's Stripe connected account (acct_…)"}
    )
    onboarding_url = fields.String(
        metadata={"description": "Stripe's onboarding page for the tenant, valid for a short time"}
    )


# ---- rate-limit overrides -----------------------------------------------------------------------


def _rate_or_off(value: str) -> None:
    if value != "off" and not valid_rate_limit(value):
        raise ma.ValidationError(
            "A rate like '600/minute' or '10/second;20000/hour' (flask-limiter's notation), "
            "or 'off'."
        )


def _rate_field(applies: str) -> fields.String:
    return fields.String(
        allow_none=True,
        load_default=None,
        validate=[validate.Length(max=100), _rate_or_off],
        metadata={
            "description": f"{applies}: a rate like `600/minute` (several separated by `;`), "
            "`off` for no limit, or null for the service's setting",
            "example": "100/second",
        },
    )


class RateLimitsSchema(ma.Schema):
    """A tenant's rate-limit overrides (null: the service's setting applies)."""

    storefront = _rate_field("Storefront API requests per API key (RATE_LIMIT_STOREFRONT)")
    admin = _rate_field("Admin API requests per token, console pages per user (RATE_LIMIT_ADMIN)")
