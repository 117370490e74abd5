"""Rulesets: drafts and their checks (validation, tests, simulation, backtest), publishing,
versions and their activations, diffs and evaluation."""

from __future__ import annotations

import dataclasses
from typing import Any

import marshmallow as ma
from marshmallow import fields, post_load, validate

from app.http.errors import ErrorDetailSchema
from app.http.schemas.common import FIVE_YEARS, INSTANTS, Instant, Timestamp
from rules.documents import load_document
from rules.language import KINDS as RULE_KINDS
from rules.language import MAX_DOCUMENT_BYTES, RulesetInvalid


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
    def _yaml(self, data: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
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
    updated_at = Timestamp()


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


class BacktestRequestSchema(ma.Schema):
    from_ = fields.AwareDateTime(
        data_key="from", attribute="from", required=True, validate=INSTANTS
    )
    to = fields.AwareDateTime(required=True, validate=INSTANTS)
    limit = fields.Integer(load_default=50_000, validate=validate.Range(1, 50_000))


class BacktestSchema(ma.Schema):
    draft_id = fields.String()
    from_ = Timestamp(data_key="from", attribute="from")
    to = Timestamp()
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
    created_at = Timestamp()
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
    activates_at = Timestamp()
    created_by = fields.String()
    created_at = Timestamp()
    cancelled_at = Timestamp(
        allow_none=True,
        metadata={"description": "Cancelled while pending (it never took effect); null if not"},
    )
    cancelled_by = fields.String(allow_none=True)


class CancelledActivationSchema(ma.Schema):
    """A pending activation that a new activation taking effect now cancelled."""

    sequence = fields.Integer()
    version = fields.Integer(attribute="version_number")
    activates_at = Timestamp()


class ScheduledActivationSchema(ma.Schema):
    """A pending activation: scheduled for later, not cancelled."""

    sequence = fields.Integer(
        metadata={"description": "Cancel it with DELETE …/schedule/{sequence}"}
    )
    version = fields.Integer(attribute="version_number")
    activates_at = Timestamp()
    created_by = fields.String()
    created_at = Timestamp()


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
