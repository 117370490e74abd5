"""Experiments: definitions, revisions and results."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from app.http.schemas.common import KEY, Day, Share


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
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
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


class SequentialSchema(ma.Schema):
    p_value = fields.Float(
        allow_none=True, metadata={"description": "Always-valid p-value (mSPRT): safe to peek"}
    )
    absolute_ci_low = fields.Float(allow_none=True)
    absolute_ci_high = fields.Float(allow_none=True)
    reason = fields.String(allow_none=True, metadata={"description": "Why a figure is null"})
    method = fields.String()


class ComparisonSchema(ma.Schema):
    absolute = fields.Float(allow_none=True)
    absolute_ci_low = fields.Float(allow_none=True)
    absolute_ci_high = fields.Float(allow_none=True)
    absolute_reason = fields.String(allow_none=True)
    relative = fields.Float(allow_none=True)
    relative_ci_low = fields.Float(allow_none=True)
    relative_ci_high = fields.Float(allow_none=True)
    relative_reason = fields.String(
        allow_none=True,
        metadata={
            "description": "Why relative (or only its interval) is null, e.g."
            " control_has_no_conversions, too_few_visitors"
        },
    )
    z = fields.Float(allow_none=True, metadata={"description": "Test statistic (z or Welch t)"})
    df = fields.Float(allow_none=True, metadata={"description": "Welch–Satterthwaite df"})
    p_value = fields.Float(allow_none=True, metadata={"description": "Fixed-horizon p-value"})
    chance_to_beat_control = fields.Float(allow_none=True)
    test = fields.String(metadata={"description": "two_proportion_z, fisher_exact or welch_t"})
    sequential = fields.Nested(SequentialSchema)
    status = fields.String(
        metadata={
            "description": "collecting_data, not_yet_significant, variant_ahead, "
            "variant_behind or sample_ratio_mismatch"
        }
    )
    status_text = fields.String(metadata={"description": "The status in plain words"})


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
