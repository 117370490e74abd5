"""Request, query and response schemas, written by hand (never derived from tables).

Unknown fields are rejected everywhere (marshmallow's default RAISE); every number has a range and
every string and list a length limit.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import zoneinfo
from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, post_load, validate, validates_schema
from webargs import fields as webargs_fields

from app.http.errors import ErrorDetailSchema
from pricing.money import CURRENCY_EXPONENTS
from pricing.offers import MAX_LEAD_DAYS
from rules.documents import load_document
from rules.language import KINDS as RULE_KINDS
from rules.language import MAX_DOCUMENT_BYTES, RulesetInvalid

KEY = validate.Regexp(
    r"^[a-z0-9][a-z0-9_-]{0,63}$", error="Use 1-64 lowercase letters, digits, '-' or '_'."
)
NAME = validate.Length(min=1, max=200)
MAX_AMOUNT = 10**12  # minor units; far above any real package price
MAX_RANGE_DAYS = 366

# ---- dates, instants and shares: every one the API takes has a documented window -------------

#: Times and dates the API accepts at most: far enough from year 1 and 9999 that local midnights,
#: UTC conversions and "some days later" never overflow (a 500 otherwise). Fields narrow them.
INSTANTS = validate.Range(
    dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
    dt.datetime(9998, 12, 31, tzinfo=dt.UTC),
    error="Must be between 1970-01-01 and 9998-12-31.",
)
DATES = validate.Range(
    dt.date(1970, 1, 1), dt.date(9998, 12, 31), error="Must be between 1970-01-01 and 9998-12-31."
)
#: How far ahead an activation may be scheduled, and a preview or an evaluation look.
FIVE_YEARS = dt.timedelta(days=5 * 365 + 2)
#: How far ahead of the service's clock a storefront's event time may be (its clock may be off).
EVENT_CLOCK_SKEW = dt.timedelta(days=1)
SERVICE_DATE = (
    f"Service date, YYYY-MM-DD in the tenant's time zone: from its today up to {MAX_LEAD_DAYS} "
    "days ahead (422 date_in_past or date_too_far otherwise)"
)


class Day(fields.Date):
    """A calendar date (YYYY-MM-DD) between 1970-01-01 and 9998-12-31."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=DATES, **kwargs)


class Instant(fields.AwareDateTime):
    """An ISO 8601 instant with its offset, from 1970-01-01T00:00:00Z to ``ahead`` of the moment
    it is read (a moment that far ahead is documented in the field's description)."""

    def __init__(self, *, ahead: dt.timedelta, **kwargs: Any) -> None:
        self.ahead = ahead
        metadata = dict(kwargs.pop("metadata", {}))
        window = f"From 1970-01-01T00:00:00Z to {_span(ahead)} from now."
        metadata["description"] = " ".join(filter(None, (metadata.get("description"), window)))
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> dt.datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        latest = dt.datetime.now(dt.UTC) + self.ahead
        if not INSTANTS.min <= moment <= latest:
            raise ma.ValidationError(
                f"Must be between 1970-01-01T00:00:00Z and {_span(self.ahead)} from now "
                f"({latest.replace(microsecond=0).isoformat()})."
            )
        return moment


def _span(delta: dt.timedelta) -> str:
    return "5 years" if delta == FIVE_YEARS else f"{delta.days} day{'s' * (delta.days != 1)}"


class Share(fields.Decimal):
    """A share in [0, 1] as a plain decimal with at most 6 decimal places ("0.25"; no sign, no
    exponent: "-0" and "1E-400" are refused), given as a string or a JSON number."""

    PLAIN = re.compile(r"0(\.\d{1,6})?|1(\.0{1,6})?")

    def __init__(self, **kwargs: Any) -> None:
        metadata = {"type": "string", "pattern": f"^({self.PLAIN.pattern})$", "example": "0.25"}
        metadata.update(kwargs.pop("metadata", {}))
        super().__init__(as_string=True, metadata=metadata, **kwargs)

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Decimal:
        number = isinstance(value, int | float) and not isinstance(value, bool)
        text = str(value) if number else value
        if not isinstance(text, str) or not self.PLAIN.fullmatch(text):
            raise ma.ValidationError(
                'Must be a decimal from 0 to 1 with at most 6 decimal places, e.g. "0.25".'
            )
        return super()._deserialize(text, attr, data, **kwargs)


def _time_zone(value: str) -> None:
    if len(value) > 64:  # tenants.time_zone is VARCHAR(64)
        raise ma.ValidationError("Not an IANA time zone name.")
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: "Europe" is a directory of the tz database, an over-long name is refused by
        # the file system; neither is a zone.
        raise ma.ValidationError("Not an IANA time zone name.") from None


class FeatureValue(fields.Field):
    """A feature cell: boolean, integer or short string."""

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or (isinstance(value, int) and abs(value) <= 10**9):
            return value
        if isinstance(value, str) and len(value) <= 200:
            return value
        raise ma.ValidationError(
            "Must be a boolean, an integer or a string of at most 200 characters."
        )


class MoneySchema(ma.Schema):
    amount = fields.Integer(
        required=True, strict=True, validate=validate.Range(0, MAX_AMOUNT),
        metadata={"description": "Integer minor units (cents; yen for JPY)"},
    )  # fmt: skip
    currency = fields.String(required=True, validate=validate.OneOf(sorted(CURRENCY_EXPONENTS)))


class FeatureSchema(ma.Schema):
    key = fields.String(required=True, validate=KEY)
    label = fields.String(required=True, validate=validate.Length(min=1, max=100))
    value = FeatureValue(required=True)


# ---- tenants ----------------------------------------------------------------------------------


class TenantCreateSchema(ma.Schema):
    slug = fields.String(required=True, validate=[KEY, validate.Length(max=63)])  # VARCHAR(63)
    name = fields.String(required=True, validate=NAME)
    currency = fields.String(required=True, validate=validate.OneOf(sorted(CURRENCY_EXPONENTS)))
    time_zone = fields.String(required=True, validate=_time_zone)
    default_capacity = fields.Integer(
        strict=True, load_default=0, validate=validate.Range(0, 100_000)
    )


class TenantUpdateSchema(ma.Schema):
    name = fields.String(validate=NAME)
    time_zone = fields.String(validate=_time_zone)
    default_capacity = fields.Integer(strict=True, validate=validate.Range(0, 100_000))
    refund_window_hours = fields.Integer(
        strict=True, validate=validate.Range(0, 24 * 365),
        metadata={"description": "Paid bookings cancelled at least this long before the service date are refunded"},
    )  # fmt: skip
    refund_application_fee = fields.Boolean(
        metadata={"description": "Whether a refund also returns the platform's fee"}
    )
    decision_retention_days = fields.Integer(
        strict=True, allow_none=True, validate=validate.Range(1, 3650),
        metadata={"description": "Decision records older than this are purged (null: kept)"},
    )  # fmt: skip


class TenantStatusSchema(TenantUpdateSchema):
    status = fields.String(validate=validate.OneOf(["active", "suspended"]))


class TenantSchema(ma.Schema):
    id = fields.String()
    slug = fields.String()
    name = fields.String()
    currency = fields.String()
    time_zone = fields.String()
    status = fields.String()
    default_capacity = fields.Integer()
    refund_window_hours = fields.Integer()
    refund_application_fee = fields.Boolean()
    decision_retention_days = fields.Integer(allow_none=True)
    version = fields.Integer()


# ---- segments ---------------------------------------------------------------------------------


class SegmentCreateSchema(ma.Schema):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=NAME)
    position = fields.Integer(strict=True, load_default=0, validate=validate.Range(0, 10_000))


class SegmentUpdateSchema(ma.Schema):
    key = fields.String(validate=KEY)
    name = fields.String(validate=NAME)
    position = fields.Integer(strict=True, validate=validate.Range(0, 10_000))


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
    def _unique_feature_keys(self, data, **kwargs):
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

    def _floor(self, tier):
        return _money_or_none(tier.price_floor, tier.base_price.currency)

    def _ceiling(self, tier):
        return _money_or_none(tier.price_ceiling, tier.base_price.currency)


def _money_or_none(amount, currency):
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
        fields.UUID(), validate=validate.Length(max=100),
        metadata={"description": "Tiers the add-on is limited to; empty means every tier"},
    )  # fmt: skip


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


# ---- capacity and blackouts -------------------------------------------------------------------


class DateRangeSchema(ma.Schema):
    """``from``..``to`` inclusive; ``to`` defaults to ``from``; at most 366 days."""

    start = Day(required=True, data_key="from")
    end = Day(data_key="to")

    @validates_schema
    def _range(self, data, **kwargs):
        start, end = data.get("start"), data.get("end") or data.get("start")
        if start and end:
            if end < start:
                raise ma.ValidationError("'to' must not be before 'from'.", "to")
            if (end - start).days >= MAX_RANGE_DAYS:
                raise ma.ValidationError(f"A range spans at most {MAX_RANGE_DAYS} days.", "to")


class CapacitySetSchema(DateRangeSchema):
    units = fields.Integer(required=True, strict=True, validate=validate.Range(0, 100_000))


class CapacityDaySchema(ma.Schema):
    date = fields.Date()
    units = fields.Integer()
    source = fields.String(
        metadata={"description": "'date' (set for the day) or 'default' (tenant default)"}
    )


class CapacitySchema(ma.Schema):
    tier_id = fields.String()
    days = fields.List(fields.Nested(CapacityDaySchema))


class BlackoutCreateSchema(DateRangeSchema):
    tier_id = fields.UUID(
        load_default=None, metadata={"description": "Omit to close the whole tenant"}
    )
    reason = fields.String(load_default="", validate=validate.Length(max=200))


class BlackoutSchema(ma.Schema):
    id = fields.String()
    tier_id = fields.String(allow_none=True)
    date = fields.Date()
    reason = fields.String()


class BlackoutQuerySchema(ma.Schema):
    start = Day(data_key="from")
    end = Day(data_key="to")
    tier_id = fields.UUID()


# ---- API keys ---------------------------------------------------------------------------------


class ApiKeyCreateSchema(ma.Schema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=100))


class ApiKeySchema(ma.Schema):
    id = fields.String()
    name = fields.String()
    prefix = fields.String()
    created_at = fields.DateTime()
    revoked_at = fields.DateTime(allow_none=True)
    active = fields.Boolean()


class ApiKeyCreatedSchema(ApiKeySchema):
    key = fields.String(metadata={"description": "The full key; shown once, never again"})


# ---- storefront -------------------------------------------------------------------------------


class PublicSegmentSchema(ma.Schema):
    id = fields.String()
    key = fields.String()
    name = fields.String()
    position = fields.Integer()


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


class HealthSchema(ma.Schema):
    status = fields.String()
    checks = fields.Dict(keys=fields.String(), values=fields.String())


def date_range(data: dict) -> tuple[dt.date, dt.date]:
    return data["start"], data.get("end") or data["start"]


# ---- rulesets ---------------------------------------------------------------------------------


class RulesetDocumentField(fields.Dict):
    """A ruleset document (see the rule language reference); validated by rules.language."""


class YamlDocumentMixin(ma.Schema):
    """``document_yaml``: the same document as YAML text (anchors and aliases refused)."""

    document_yaml = fields.String(
        validate=validate.Length(max=MAX_DOCUMENT_BYTES),
        metadata={"description": "The ruleset as YAML instead of `document`"},
    )

    document_required = False

    @post_load
    def _yaml(self, data, **kwargs):
        if "document_yaml" not in data:
            if self.document_required and "document" not in data:
                raise ma.ValidationError("Give document (JSON) or document_yaml.", "document")
            return data
        if "document" in data:
            raise ma.ValidationError("Give document or document_yaml, not both.", "document_yaml")
        try:
            data["document"] = load_document(data.pop("document_yaml"), "application/yaml")
        except RulesetInvalid as error:
            raise ma.ValidationError(
                [e["message"] for e in error.errors], "document_yaml"
            ) from None
        if not isinstance(data["document"], dict):
            raise ma.ValidationError(
                "The YAML must be a mapping (a ruleset document).", "document_yaml"
            )
        return data


class DraftCreateSchema(YamlDocumentMixin):
    name = fields.String(required=True, validate=validate.Length(min=1, max=200))
    document = RulesetDocumentField(metadata={"description": "Omit to copy a published version"})
    from_version = fields.Integer(strict=True, validate=validate.Range(1, 10**9))


class DraftUpdateSchema(YamlDocumentMixin):
    name = fields.String(validate=validate.Length(min=1, max=200))
    document = RulesetDocumentField()


class DraftSchema(ma.Schema):
    id = fields.String()
    name = fields.String()
    document = fields.Dict()
    based_on_version = fields.Integer(allow_none=True)
    created_by = fields.String()
    version = fields.Integer()
    updated_at = fields.DateTime()


class DocumentSchema(YamlDocumentMixin):
    document_required = True
    document = RulesetDocumentField()


class RulesetWarningSchema(ErrorDetailSchema):
    code = fields.String(metadata={"description": "overlap, unreachable or outside_guardrails"})


class ValidationReportSchema(ma.Schema):
    valid = fields.Boolean()
    rule_count = fields.Integer()
    warnings = fields.List(fields.Nested(RulesetWarningSchema))


class CaseResultSchema(ma.Schema):
    name = fields.String()
    passed = fields.Boolean()
    mismatches = fields.List(fields.String())


class TestReportSchema(ma.Schema):
    passed = fields.Boolean()
    errors = fields.List(fields.Nested(ErrorDetailSchema))
    cases = fields.List(fields.Nested(CaseResultSchema))


class FactsSchema(ma.Schema):
    facts = fields.Dict(
        required=True, metadata={"description": "Facts of the vocabulary; dates as YYYY-MM-DD"}
    )
    kinds = fields.List(
        fields.String(validate=validate.OneOf(RULE_KINDS)), validate=validate.Length(min=1, max=6)
    )
    at = Instant(
        ahead=FIVE_YEARS,
        metadata={"description": "Evaluate the version in force at this time (default now)."},
    )


class SimulateSchema(ma.Schema):
    facts = fields.List(fields.Dict(), required=True, validate=validate.Length(min=1, max=100))
    kinds = fields.List(
        fields.String(validate=validate.OneOf(RULE_KINDS)), validate=validate.Length(min=1, max=6)
    )


KEEP_SCHEDULE = (
    "Taking effect now, keep the pending activations (default: cancel them, see "
    "`cancelled_activations`); no effect on an activation for later"
)


class PublishSchema(ma.Schema):
    note = fields.String(load_default="", validate=validate.Length(max=500))
    activates_at = Instant(
        ahead=FIVE_YEARS,
        load_default=None,
        metadata={"description": "Schedule the activation (default now)."},
    )
    keep_schedule = fields.Boolean(load_default=False, metadata={"description": KEEP_SCHEDULE})


class ActivateSchema(ma.Schema):
    keep_schedule = fields.Boolean(load_default=False, metadata={"description": KEEP_SCHEDULE})


class VersionSchema(ma.Schema):
    number = fields.Integer()
    content_hash = fields.String()
    author = fields.String()
    note = fields.String()
    created_at = fields.DateTime()
    document = fields.Dict()


class VersionSummarySchema(VersionSchema):
    class Meta:
        exclude = ("document",)


class ActivationSchema(ma.Schema):
    sequence = fields.Integer()
    version_number = fields.Integer()
    action = fields.String(
        metadata={
            "description": "publish; activate (a version at least as new as the one in force) "
            "or rollback (an older one)"
        }
    )
    activates_at = fields.DateTime()
    created_by = fields.String()
    created_at = fields.DateTime()
    cancelled_at = fields.DateTime(
        allow_none=True,
        metadata={"description": "Cancelled while pending (it never took effect); null if not"},
    )
    cancelled_by = fields.String(allow_none=True)


class CancelledActivationSchema(ma.Schema):
    """A pending activation that a new activation taking effect now cancelled."""

    sequence = fields.Integer()
    version = fields.Integer(attribute="version_number")
    activates_at = fields.DateTime()


class ScheduledActivationSchema(ma.Schema):
    """A pending activation: scheduled for later, not cancelled."""

    sequence = fields.Integer(
        metadata={"description": "Cancel it with DELETE …/schedule/{sequence}"}
    )
    version = fields.Integer(attribute="version_number")
    activates_at = fields.DateTime()
    created_by = fields.String()
    created_at = fields.DateTime()


class ActivatedSchema(ActivationSchema):
    """The new activation, and the pending activations it cancelled."""

    cancelled_activations = fields.List(fields.Nested(CancelledActivationSchema))

    @ma.pre_dump
    def _flatten(self, activated: Any, **kwargs: Any) -> dict[str, Any]:
        return {
            **dataclasses.asdict(activated.activation),
            "cancelled_activations": activated.cancelled,
        }


class PublishedSchema(ma.Schema):
    version = fields.Nested(VersionSummarySchema)
    activation = fields.Nested(ActivationSchema)
    cancelled_activations = fields.List(
        fields.Nested(CancelledActivationSchema), attribute="cancelled"
    )


class ActivationStateSchema(ma.Schema):
    active_version = fields.Integer(allow_none=True)
    scheduled = fields.List(fields.Nested(ActivationSchema))
    history = fields.List(fields.Nested(ActivationSchema))


class DiffQuerySchema(ma.Schema):
    old = fields.Integer(required=True, data_key="from", validate=validate.Range(1, 10**9))
    new = fields.Integer(required=True, data_key="to", validate=validate.Range(1, 10**9))


class ExplainedOutcomeSchema(ma.Schema):
    version = fields.Integer()
    content_hash = fields.String()
    decisions = fields.Raw()
    fired = fields.List(fields.String())
    considered = fields.List(fields.Dict())


# ---- offers, quotes, upgrades, events ---------------------------------------------------------

SHORT = validate.Length(max=64)


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
    expires_at = fields.DateTime()
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
    def _one_subject(self, data, **kwargs):
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


# ---- experiments ---------------------------------------------------------------------------


class VariantSchema(ma.Schema):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(load_default="", validate=validate.Length(max=200))
    weight = Share(
        required=True,
        metadata={"description": 'Share of the covered traffic, e.g. "0.5"; weights sum to 1'},
    )
    control = fields.Boolean(load_default=False)


class TargetingSchema(ma.Schema):
    segments = fields.List(
        fields.String(validate=KEY), load_default=list, validate=validate.Length(max=50)
    )
    tiers = fields.List(fields.UUID(), load_default=list, validate=validate.Length(max=50))
    date_from = Day(
        load_default=None,
        allow_none=True,
        metadata={"description": "Service dates from (inclusive)"},
    )
    date_to = Day(
        load_default=None, allow_none=True, metadata={"description": "Service dates to (inclusive)"}
    )

    @validates_schema
    def _ordered(self, data, **kwargs):
        if data.get("date_from") and data.get("date_to") and data["date_to"] < data["date_from"]:
            raise ma.ValidationError("date_to is before date_from.", "date_to")


class NamespaceSchema(ma.Schema):
    id = fields.String(required=True, validate=KEY)
    start = Share(required=True)
    end = Share(required=True)


_METRIC = validate.OneOf(("upsell_acceptance", "booking_conversion", "revenue_per_visitor"))


class ExperimentCreateSchema(ma.Schema):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(load_default="", validate=validate.Length(max=200))
    hypothesis = fields.String(load_default="", validate=validate.Length(max=2000))
    seed = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Hash seed (default: the key)"},
    )
    coverage = Share(
        load_default=Decimal(1),
        metadata={"description": "Share of targeted visitors in the experiment"},
    )
    variants = fields.List(
        fields.Nested(VariantSchema), required=True, validate=validate.Length(min=2, max=10)
    )
    targeting = fields.Nested(TargetingSchema, load_default=dict)
    namespace = fields.Nested(
        NamespaceSchema,
        load_default=None,
        allow_none=True,
        metadata={
            "description": "Mutually exclusive experiments share a namespace id with disjoint ranges"
        },
    )
    primary_metric = fields.String(required=True, validate=_METRIC)
    guardrail_metrics = fields.List(
        fields.String(validate=_METRIC), load_default=list, validate=validate.Length(max=3)
    )


class ExperimentUpdateSchema(ma.Schema):
    name = fields.String(validate=validate.Length(max=200))
    hypothesis = fields.String(validate=validate.Length(max=2000))
    coverage = Share()
    variants = fields.List(fields.Nested(VariantSchema), validate=validate.Length(min=2, max=10))
    targeting = fields.Nested(TargetingSchema)
    namespace = fields.Nested(NamespaceSchema, allow_none=True)
    primary_metric = fields.String(validate=_METRIC)
    guardrail_metrics = fields.List(
        fields.String(validate=_METRIC), validate=validate.Length(max=3)
    )
    bump_bucket_version = fields.Boolean(
        load_default=False,
        metadata={
            "description": "Required to change weights once started: re-buckets visitors under a new version"
        },
    )


class ExperimentSchema(ma.Schema):
    id = fields.String()
    key = fields.String()
    name = fields.String()
    hypothesis = fields.String()
    status = fields.String(metadata={"description": "draft, running, paused or stopped"})
    seed = fields.String()
    hash_version = fields.Integer()
    coverage = fields.String()
    variants = fields.List(fields.Dict())
    targeting = fields.Dict()
    namespace = fields.Dict(allow_none=True)
    primary_metric = fields.String()
    guardrail_metrics = fields.List(fields.String())
    bucket_version = fields.Integer()
    started_at = fields.DateTime(allow_none=True)
    stopped_at = fields.DateTime(allow_none=True)
    created_by = fields.String()
    version = fields.Integer()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ExperimentQuerySchema(ma.Schema):
    status = fields.String(validate=validate.OneOf(("draft", "running", "paused", "stopped")))


class ExperimentRevisionSchema(ma.Schema):
    sequence = fields.Integer()
    action = fields.String()
    bucket_version = fields.Integer()
    changes = fields.Dict(metadata={"description": "field -> [before, after]"})
    actor = fields.String()
    created_at = fields.DateTime()


class ResultsQuerySchema(ma.Schema):
    bucket_version = fields.Integer(validate=validate.Range(1, 1_000_000))


class ComparisonSchema(ma.Schema):
    absolute = fields.Float(allow_none=True)
    absolute_ci_low = fields.Float(allow_none=True)
    absolute_ci_high = fields.Float(allow_none=True)
    relative = fields.Float(allow_none=True)
    relative_ci_low = fields.Float(allow_none=True)
    relative_ci_high = fields.Float(allow_none=True)
    z = fields.Float(allow_none=True)
    p_value = fields.Float(allow_none=True)
    chance_to_beat_control = fields.Float(allow_none=True)
    test = fields.String(metadata={"description": "two_proportion_z or welch_z"})


class VariantResultSchema(ma.Schema):
    key = fields.String()
    name = fields.String()
    control = fields.Boolean()
    weight = fields.String()
    assigned = fields.Integer()
    exposed = fields.Integer(metadata={"description": "Distinct visitors shown the upsell"})
    accepted = fields.Integer()
    declined = fields.Integer()
    booked = fields.Integer()
    bookings = fields.Integer()
    revenue = fields.Integer(metadata={"description": "Paid bookings, minor units"})
    revenue_squares = fields.Integer()
    conversions = fields.Integer(metadata={"description": "Of the primary metric"})
    rate = fields.Float()
    revenue_per_exposure = fields.Float()
    vs_control = fields.Nested(ComparisonSchema, allow_none=True)


class GuardrailVariantSchema(ma.Schema):
    key = fields.String()
    value = fields.Float()
    vs_control = fields.Nested(ComparisonSchema, allow_none=True)
    worse = fields.Boolean()


class GuardrailSchema(ma.Schema):
    metric = fields.String()
    variants = fields.List(fields.Nested(GuardrailVariantSchema))


class AssignedSrmSchema(ma.Schema):
    observed = fields.List(
        fields.Integer(), metadata={"description": "Assigned visitors per variant"}
    )
    chi2 = fields.Float(allow_none=True)
    p_value = fields.Float(allow_none=True)
    mismatch = fields.Boolean()


class SrmSchema(ma.Schema):
    observed = fields.List(
        fields.Integer(), metadata={"description": "Exposed visitors per variant"}
    )
    expected_shares = fields.List(fields.String())
    chi2 = fields.Float(allow_none=True)
    p_value = fields.Float(allow_none=True)
    mismatch = fields.Boolean(metadata={"description": "p < 0.001: the split is broken"})
    assigned = fields.Nested(
        AssignedSrmSchema, metadata={"description": "The same check on assignments"}
    )


class ExperimentResultsSchema(ma.Schema):
    experiment_id = fields.String()
    key = fields.String()
    status = fields.String()
    bucket_version = fields.Integer()
    currency = fields.String()
    primary_metric = fields.String()
    variants = fields.List(fields.Nested(VariantResultSchema))
    guardrails = fields.List(fields.Nested(GuardrailSchema))
    srm = fields.Nested(SrmSchema)


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


class DecisionRecordSchema(ma.Schema):
    id = fields.String()
    tenant_id = fields.String()
    purpose = fields.String(
        metadata={"description": "offer, quote, upgrade, fallback, upsell_source"}
    )
    kinds = fields.List(fields.String())
    ruleset_version = fields.Integer()
    ruleset_hash = fields.String()
    engine = fields.String()
    facts = fields.Dict(metadata={"description": "The input, as evaluated (personal data masked)"})
    considered = fields.Raw(
        metadata={"description": "[rule_id, matched, fired] per rule considered"}
    )
    fired = fields.List(fields.String())
    outputs = fields.Dict()
    context = fields.Dict(
        metadata={
            "description": "Selection, pricing inputs, the price it fed, assignment, customer (masked)"
        }
    )
    request_id = fields.String()
    quote_id = fields.String(allow_none=True)
    booking_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    masked_fields = fields.List(
        fields.String(), metadata={"description": "JSON pointers of masked personal data"}
    )
    customer_ref = fields.String(allow_none=True)
    seq = fields.Integer(
        allow_none=True, metadata={"description": "Position in the tenant's hash chain"}
    )
    prev_hash = fields.String(allow_none=True)
    hash = fields.String(allow_none=True)


class ConsideredRuleSchema(ma.Schema):
    rule_id = fields.String()
    kind = fields.String()
    priority = fields.Integer()
    matched = fields.Boolean()
    fired = fields.Boolean()
    why_not = fields.String(allow_none=True)


class DecisionSchema(DecisionRecordSchema):
    considered = fields.List(fields.Nested(ConsideredRuleSchema))
    price = fields.Dict(
        allow_none=True,
        metadata={
            "description": "The price the decision fed, in integer minor units with its platform "
            "fee (lines: code, amount, rules); context.price keeps the record's exact lines"
        },
    )


_PURPOSES = validate.OneOf(("offer", "quote", "upgrade", "fallback", "upsell_source"))
_KIND = validate.OneOf(("upgrade", "fallback", "season", "last_minute", "commission", "upsell"))


class KnownParameters(ma.Schema):
    """A query schema refusing parameters it does not know (422 at ``/query/<name>``): a misspelt
    filter of an audit search must not silently answer everything."""

    #: Query parameters read by something else (flask-smorest's pagination).
    EXTRA: tuple[str, ...] = ("page", "page_size")

    @validates_schema(pass_original=True, skip_on_field_errors=False)
    def _refuse_unknown(self, _data: Any, original: Any, **_kwargs: Any) -> None:
        known = {f.data_key or name for name, f in self.fields.items()} | set(self.EXTRA)
        unknown = sorted(set(original) - known)
        if unknown:
            raise ma.ValidationError({name: ["Unknown field."] for name in unknown})


class DecisionSearchSchema(KnownParameters):
    purpose = fields.String(validate=_PURPOSES)
    kind = fields.String(
        validate=_KIND, metadata={"description": "Decisions that evaluated this kind"}
    )
    from_ = fields.AwareDateTime(
        data_key="from", attribute="from", validate=INSTANTS,
        metadata={"description": "created_at >= from"},
    )  # fmt: skip
    to = fields.AwareDateTime(validate=INSTANTS, metadata={"description": "created_at < to"})
    rule_id = fields.String(
        validate=validate.Length(min=1, max=64), metadata={"description": "Fired this rule"}
    )
    outcome = fields.String(
        validate=validate.Length(max=200),
        metadata={
            "description": "<kind>.<output field>=<value>, e.g. upgrade.allow=false or upsell.offer=tier"
        },
    )
    booking_id = fields.UUID(
        metadata={"description": "Decisions of the booking and of the quote it was made from"}
    )
    quote_id = fields.String(validate=validate.Length(max=64))
    request_id = fields.String(validate=validate.Length(max=64))
    customer_email = fields.Email(
        validate=validate.Length(max=254),
        metadata={"description": "Matched through its keyed hash; never stored in clear"},
    )


class PlatformDecisionSearchSchema(DecisionSearchSchema):
    tenant_id = fields.UUID()


class ReplaySchema(ma.Schema):
    decision_id = fields.String()
    ruleset_version = fields.Integer()
    engine = fields.String()
    identical = fields.Boolean()
    differences = fields.List(fields.Dict(), metadata={"description": "{path, recorded, replayed}"})
    replayed = fields.Dict()


class BrokenLinkSchema(ma.Schema):
    seq = fields.Integer()
    decision_id = fields.String(allow_none=True)
    found_seq = fields.Integer(allow_none=True)
    reason = fields.String(
        metadata={"description": "missing_link, prev_hash_mismatch, hash_mismatch or head_mismatch"}
    )


class ChainVerificationSchema(ma.Schema):
    tenant_id = fields.String()
    valid = fields.Boolean()
    checked = fields.Integer()
    head_seq = fields.Integer()
    purged_through_seq = fields.Integer()
    broken = fields.Nested(BrokenLinkSchema, allow_none=True)


class BacktestRequestSchema(ma.Schema):
    from_ = fields.AwareDateTime(
        data_key="from", attribute="from", required=True, validate=INSTANTS
    )
    to = fields.AwareDateTime(required=True, validate=INSTANTS)
    limit = fields.Integer(load_default=50_000, validate=validate.Range(1, 50_000))


class BacktestSchema(ma.Schema):
    draft_id = fields.String()
    from_ = fields.DateTime(data_key="from", attribute="from")
    to = fields.DateTime()
    currency = fields.String()
    evaluated = fields.Integer()
    truncated = fields.Boolean()
    outputs_changed = fields.Integer()
    prices = fields.Dict(
        metadata={
            "description": "compared, changed, revenue_delta, commission_delta (minor units, new - recorded), by_purpose"
        }
    )
    upgrades = fields.Dict(metadata={"description": "compared, now_allowed, now_denied"})
    largest_changes = fields.List(fields.Dict())


# ---- checkout ---------------------------------------------------------------------------------


class CustomerSchema(ma.Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))
    name = fields.String(load_default="", validate=validate.Length(max=200))


class CheckoutCreateSchema(ma.Schema):
    quote_token = fields.String(required=True, validate=validate.Length(min=1, max=4096))
    customer = fields.Nested(CustomerSchema, required=True)


class BookingSchema(ma.Schema):
    booking_id = fields.String()
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


class WebhookResultSchema(ma.Schema):
    received = fields.Boolean()
    applied = fields.Boolean()
    outcome = fields.String()


class OnboardingCreateSchema(ma.Schema):
    email = fields.Email(load_default="", validate=validate.Length(max=254))


class OnboardingSchema(ma.Schema):
    account_id = fields.String()
    onboarding_url = fields.String()


class BookingQuerySchema(ma.Schema):
    status = fields.String(
        validate=validate.OneOf(["pending", "paid", "cancelled", "refunded", "expired"])
    )
    service_date = Day(data_key="date")


class BookingUpgradeCreateSchema(ma.Schema):
    to_tier_id = fields.UUID(required=True)


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


# ---- analytics --------------------------------------------------------------------------------

RATE = "A share in [0, 1], rounded to 6 decimal places; 0 when nothing was counted"


class AnalyticsQuerySchema(ma.Schema):
    """``from``..``to``: dates in the tenant's time zone, both included, at most 366 days (the
    range is checked by the use case: 422 at ``/query/to``)."""

    start = Day(required=True, data_key="from")
    end = Day(required=True, data_key="to")


class AnalyticsPeriodSchema(ma.Schema):
    start = fields.Date(attribute="from", data_key="from")
    end = fields.Date(attribute="to", data_key="to")
    time_zone = fields.String(metadata={"description": "The tenant's; the dates are local to it"})


class SegmentSelectionRowSchema(ma.Schema):
    segment_key = fields.String()
    selections = fields.Integer(metadata={"description": "segment_selected events"})
    visitors = fields.Integer(metadata={"description": "Distinct visitors who selected it"})
    selection_rate = fields.Float(metadata={"description": f"visitors / all visitors. {RATE}"})


class SegmentSelectionReportSchema(AnalyticsPeriodSchema):
    visitors = fields.Integer(metadata={"description": "Distinct visitors who selected a segment"})
    segments = fields.List(fields.Nested(SegmentSelectionRowSchema))


class TierConversionRowSchema(ma.Schema):
    tier_id = fields.String()
    tier_name = fields.String()
    level = fields.Integer()
    status = fields.String()
    segment_key = fields.String()
    viewers = fields.Integer(
        metadata={"description": "Distinct visitors who viewed the segment's tier comparison"}
    )
    bookers = fields.Integer(
        metadata={"description": "Viewers with a paid booking of this tier created in the range"}
    )
    bookings = fields.Integer(metadata={"description": "Those bookers' paid bookings of the tier"})
    conversion = fields.Float(metadata={"description": f"bookers / viewers. {RATE}"})


class TierConversionReportSchema(AnalyticsPeriodSchema):
    tiers = fields.List(fields.Nested(TierConversionRowSchema))


class UpsellFiguresSchema(ma.Schema):
    shown = fields.Integer()
    accepted = fields.Integer()
    declined = fields.Integer()
    take_rate = fields.Float(metadata={"description": f"accepted / shown. {RATE}"})


class UpsellGroupSchema(UpsellFiguresSchema):
    segment_key = fields.String(metadata={"description": "As the storefront sent it ('' if none)"})
    tier_id = fields.String(metadata={"description": "As the storefront sent it ('' if none)"})


class UpsellReportSchema(AnalyticsPeriodSchema):
    total = fields.Nested(UpsellFiguresSchema)
    groups = fields.List(fields.Nested(UpsellGroupSchema))


class RevenueFiguresSchema(ma.Schema):
    bookings = fields.Integer(metadata={"description": "Paid bookings and paid upgrades"})
    revenue_minor = fields.Integer(metadata={"description": "Sum of totals, minor units"})
    platform_fee_minor = fields.Integer(
        metadata={"description": "Sum of platform fees, minor units"}
    )
    currency = fields.String()


class RevenueGroupSchema(RevenueFiguresSchema):
    segment_id = fields.String()
    segment_key = fields.String(allow_none=True)
    tier_id = fields.String()
    tier_name = fields.String(allow_none=True)
    level = fields.Integer(allow_none=True)


class RevenueReportSchema(AnalyticsPeriodSchema):
    currency = fields.String()
    total = fields.Nested(RevenueFiguresSchema)
    groups = fields.List(fields.Nested(RevenueGroupSchema))
