"""Experiments: definitions, revisions and results."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate, validates_schema

from app.http.schemas.common import KEY, Day, Share, Timestamp


class VariantSchema(ma.Schema):
    class Meta:
        description = "One variant of an experiment."

    key = fields.String(
        required=True,
        validate=KEY,
        metadata={"description": "Key of the variant; rules name it in `variant` conditions"},
    )
    name = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "Name, as shown in results"},
    )
    weight = Share(
        required=True,
        metadata={"description": 'Share of the covered traffic, e.g. "0.5"; weights sum to 1'},
    )
    control = fields.Boolean(
        load_default=False,
        metadata={"description": "This is the control (exactly one per experiment)"},
    )


class TargetingSchema(ma.Schema):
    class Meta:
        description = "Which offers an experiment covers (empty lists: all)."

    segments = fields.List(
        fields.String(validate=KEY),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "Keys of the segments covered (empty: every segment)"},
    )
    tiers = fields.List(
        fields.UUID(),
        load_default=list,
        validate=validate.Length(max=50),
        metadata={"description": "Ids of the tiers covered (empty: every tier)"},
    )
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
    class Meta:
        description = (
            "A namespace: experiments sharing its id with disjoint ranges never share a visitor."
        )

    id = fields.String(required=True, validate=KEY, metadata={"description": "Namespace id"})
    start = Share(
        required=True,
        metadata={
            "description": "Start of the experiment's range in the namespace, 0..1 (included)"
        },
    )
    end = Share(required=True, metadata={"description": "End of the range (excluded)"})


_METRIC = validate.OneOf(("upsell_acceptance", "booking_conversion", "revenue_per_visitor"))


class ExperimentCreateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "key": "upsell-discount",
        "name": "10 % off the upsell",
        "hypothesis": "A 10 % discount raises upsell acceptance without lowering revenue per visitor",
        "coverage": "1",
        "variants": [
            {"key": "control", "name": "No discount", "weight": "0.5", "control": True},
            {"key": "ten-off", "name": "10 % off", "weight": "0.5"},
        ],
        "targeting": {"segments": ["premium"]},
        "primary_metric": "upsell_acceptance",
        "guardrail_metrics": ["revenue_per_visitor"],
    }

    key = fields.String(
        required=True,
        validate=KEY,
        metadata={
            "description": "Unique key; rules name it in `experiment` conditions, events carry it"
        },
    )
    name = fields.String(
        load_default="",
        validate=validate.Length(max=200),
        metadata={"description": "Name for people"},
    )
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
        fields.Nested(VariantSchema),
        required=True,
        validate=validate.Length(min=2, max=10),
        metadata={"description": "2 to 10 variants, one of them the control; weights sum to 1"},
    )
    targeting = fields.Nested(
        TargetingSchema,
        load_default=dict,
        metadata={"description": "Which offers it covers (default: all)"},
    )
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
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "variants": [
            {"key": "control", "weight": "0.3", "control": True},
            {"key": "ten-off", "weight": "0.7"},
        ],
        "bump_bucket_version": True,
    }

    name = fields.String(validate=validate.Length(max=200))
    hypothesis = fields.String(validate=validate.Length(max=2000))
    coverage = Share()
    variants = fields.List(
        fields.Nested(VariantSchema),
        validate=validate.Length(min=2, max=10),
        metadata={
            "description": "Replaces the variants (weights need bump_bucket_version once started)"
        },
    )
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
    key = fields.String(
        metadata={"description": "Unique key; rules and events name the experiment by it"}
    )
    name = fields.String(metadata={"description": "Name for people"})
    hypothesis = fields.String()
    status = fields.String(metadata={"description": "draft, running, paused or stopped"})
    seed = fields.String(metadata={"description": "Hash seed of the assignment"})
    hash_version = fields.Integer(
        metadata={"description": "GrowthBook hash version used to assign (2)"}
    )
    coverage = fields.String()
    variants = fields.List(
        fields.Dict(), metadata={"description": "key, name, weight, control of each variant"}
    )
    targeting = fields.Dict()
    namespace = fields.Dict(allow_none=True)
    primary_metric = fields.String()
    guardrail_metrics = fields.List(fields.String())
    bucket_version = fields.Integer()
    started_at = Timestamp(
        allow_none=True, metadata={"description": "When it was first started (null: a draft)"}
    )
    stopped_at = Timestamp(
        allow_none=True, metadata={"description": "When it was stopped (null: not stopped)"}
    )
    created_by = fields.String()
    version = fields.Integer()
    created_at = Timestamp()
    updated_at = Timestamp()


class ExperimentQuerySchema(ma.Schema):
    status = fields.String(
        validate=validate.OneOf(("draft", "running", "paused", "stopped")),
        metadata={"description": "Only experiments with this status"},
    )


class ExperimentRevisionSchema(ma.Schema):
    sequence = fields.Integer(metadata={"description": "Number of the revision (1, 2, …)"})
    action = fields.String(
        metadata={"description": "What happened: create, update, start, pause, resume or stop"}
    )
    bucket_version = fields.Integer()
    changes = fields.Dict(metadata={"description": "field -> [before, after]"})
    actor = fields.String()
    created_at = Timestamp()


class ResultsQuerySchema(ma.Schema):
    bucket_version = fields.Integer(
        validate=validate.Range(1, 1_000_000),
        metadata={"description": "Results of this bucket version (default: the current)"},
    )


class SequentialSchema(ma.Schema):
    class Meta:
        description = "The always-valid (sequential) test: safe to read while data comes in."

    p_value = fields.Float(
        allow_none=True, metadata={"description": "Always-valid p-value (mSPRT): safe to peek"}
    )
    absolute_ci_low = fields.Float(allow_none=True)
    absolute_ci_high = fields.Float(allow_none=True)
    reason = fields.String(allow_none=True, metadata={"description": "Why a figure is null"})
    method = fields.String(metadata={"description": "The sequential method used"})


class ComparisonSchema(ma.Schema):
    class Meta:
        description = "A variant against the control."

    absolute = fields.Float(
        allow_none=True, metadata={"description": "Variant rate minus control rate"}
    )
    absolute_ci_low = fields.Float(allow_none=True)
    absolute_ci_high = fields.Float(allow_none=True)
    absolute_reason = fields.String(
        allow_none=True, metadata={"description": "Why absolute is null"}
    )
    relative = fields.Float(
        allow_none=True, metadata={"description": "absolute / control rate (the lift)"}
    )
    relative_ci_low = fields.Float(
        allow_none=True, metadata={"description": "Lower end of the 95 % interval of the lift"}
    )
    relative_ci_high = fields.Float(
        allow_none=True, metadata={"description": "Upper end of the 95 % interval of the lift"}
    )
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
    chance_to_beat_control = fields.Float(
        allow_none=True,
        metadata={"description": "Bayesian probability that the variant beats the control"},
    )
    test = fields.String(metadata={"description": "two_proportion_z, fisher_exact or welch_t"})
    sequential = fields.Nested(
        SequentialSchema, metadata={"description": "The always-valid test of the same difference"}
    )
    status = fields.String(
        metadata={
            "description": "collecting_data, not_yet_significant, variant_ahead, "
            "variant_behind or sample_ratio_mismatch"
        }
    )
    status_text = fields.String(metadata={"description": "The status in plain words"})


class VariantResultSchema(ma.Schema):
    class Meta:
        description = "What one variant's visitors did."

    key = fields.String(metadata={"description": "The variant's key"})
    name = fields.String(metadata={"description": "The variant's name"})
    control = fields.Boolean(metadata={"description": "This is the control"})
    weight = fields.String()
    assigned = fields.Integer(metadata={"description": "Visitors assigned the variant"})
    exposed = fields.Integer(metadata={"description": "Distinct visitors shown the upsell"})
    accepted = fields.Integer()
    declined = fields.Integer()
    booked = fields.Integer(
        metadata={"description": "Exposed visitors with a paid booking quoted under the experiment"}
    )
    bookings = fields.Integer(metadata={"description": "Those visitors' paid bookings"})
    revenue = fields.Integer(metadata={"description": "Paid bookings, minor units"})
    revenue_squares = fields.Integer(
        metadata={"description": "Sum of squared per-visitor revenue (for the variance)"}
    )
    conversions = fields.Integer(metadata={"description": "Of the primary metric"})
    rate = fields.Float(metadata={"description": "conversions / exposed"})
    revenue_per_exposure = fields.Float(metadata={"description": "revenue / exposed, minor units"})
    vs_control = fields.Nested(ComparisonSchema, allow_none=True)


class GuardrailVariantSchema(ma.Schema):
    class Meta:
        description = "A guardrail metric of one variant."

    key = fields.String(metadata={"description": "The variant's key"})
    value = fields.Float(metadata={"description": "The metric's value for the variant"})
    vs_control = fields.Nested(ComparisonSchema, allow_none=True)
    worse = fields.Boolean(metadata={"description": "Significantly worse than the control"})


class GuardrailSchema(ma.Schema):
    class Meta:
        description = "A guardrail metric across the variants."

    metric = fields.String(metadata={"description": "The guardrail metric"})
    variants = fields.List(
        fields.Nested(GuardrailVariantSchema), metadata={"description": "Its value per variant"}
    )


class AssignedSrmSchema(ma.Schema):
    class Meta:
        description = "Sample-ratio check on assignments."

    observed = fields.List(
        fields.Integer(), metadata={"description": "Assigned visitors per variant"}
    )
    chi2 = fields.Float(allow_none=True)
    p_value = fields.Float(allow_none=True)
    mismatch = fields.Boolean(metadata={"description": "p < 0.001: the split is broken"})


class SrmSchema(ma.Schema):
    class Meta:
        description = "Sample-ratio-mismatch check: do exposures follow the weights?"

    observed = fields.List(
        fields.Integer(), metadata={"description": "Exposed visitors per variant"}
    )
    expected_shares = fields.List(
        fields.String(), metadata={"description": "The weights, per variant"}
    )
    chi2 = fields.Float(allow_none=True)
    p_value = fields.Float(allow_none=True)
    mismatch = fields.Boolean(metadata={"description": "p < 0.001: the split is broken"})
    assigned = fields.Nested(
        AssignedSrmSchema, metadata={"description": "The same check on assignments"}
    )


class ExperimentResultsSchema(ma.Schema):
    experiment_id = fields.String(metadata={"description": "Id of the experiment"})
    key = fields.String(metadata={"description": "The experiment's key"})
    status = fields.String(metadata={"description": "The experiment's status"})
    bucket_version = fields.Integer()
    currency = fields.String()
    primary_metric = fields.String()
    variants = fields.List(
        fields.Nested(VariantResultSchema), metadata={"description": "Per variant, control first"}
    )
    guardrails = fields.List(
        fields.Nested(GuardrailSchema), metadata={"description": "Per guardrail metric"}
    )
    srm = fields.Nested(SrmSchema, metadata={"description": "Sample-ratio-mismatch check"})
