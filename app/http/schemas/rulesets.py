"""Rulesets: drafts and their checks (validation, tests, simulation, backtest), diffs and
evaluation. Publishing, versions and activations: ``ruleset_versions``."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, post_load, validate

from app.http.errors import ErrorDetailSchema
from app.http.schemas.common import FIVE_YEARS, INSTANTS, Instant, Timestamp
from rules.documents import load_document
from rules.language import KINDS as RULE_KINDS
from rules.language import MAX_DOCUMENT_BYTES, RulesetInvalid

#: The ruleset document of the OpenAPI examples (a draft created, updated; a document checked).
EXAMPLE_DOCUMENT: dict[str, Any] = {
    "description": "Summer 2027",
    "stacking": "best_only",
    "guardrails": {
        "min_multiplier": "0.5",
        "max_multiplier": "2",
        "max_total_discount_percent": "30",
    },
    "rules": [
        {
            "id": "summer-peak",
            "kind": "season",
            "priority": 100,
            "description": "July and August cost 20 % more",
            "label": "Summer +20 %",
            "when": {"fact": "service_month", "op": "in", "value": [7, 8]},
            "then": {"multiplier": "1.2"},
        },
        {
            "id": "last-minute",
            "kind": "last_minute",
            "priority": 100,
            "when": {
                "all": [
                    {"fact": "lead_days", "op": "between", "value": [0, 3]},
                    {"not": {"fact": "segment", "op": "eq", "value": "luxury"}},
                ]
            },
            "then": {"percent_off": "15"},
        },
    ],
    "tests": [
        {
            "name": "July, two days ahead",
            "facts": {"service_date": "2027-07-10", "lead_days": 2},
            "expect": {
                "season": {"multiplier": "1.2"},
                "last_minute": {"percent_off": "15"},
            },
        }
    ],
}


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
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "name": "Summer 2027",
        "document": EXAMPLE_DOCUMENT,
    }

    name = fields.String(
        required=True,
        validate=validate.Length(min=1, max=200),
        metadata={"description": "Name of the draft"},
    )
    document = RulesetDocumentField(metadata={"description": "Omit to copy a published version"})
    from_version = fields.Integer(
        strict=True,
        validate=validate.Range(1, 10**9),
        metadata={"description": "Copy this published version (default: the newest)"},
    )


class DraftUpdateSchema(YamlDocumentMixin):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "name": "Summer 2027 (v2)",
        "document": EXAMPLE_DOCUMENT,
    }

    name = fields.String(
        validate=validate.Length(min=1, max=200), metadata={"description": "Name of the draft"}
    )
    document = RulesetDocumentField(
        metadata={"description": "The new ruleset document (JSON), replacing the old"}
    )


class DraftSchema(ma.Schema):
    id = fields.String()
    name = fields.String(metadata={"description": "Name of the draft"})
    document = fields.Dict()
    based_on_version = fields.Integer(
        allow_none=True,
        metadata={
            "description": "The published version it was copied from (null: written from scratch)"
        },
    )
    created_by = fields.String()
    version = fields.Integer()
    updated_at = Timestamp()


class DocumentSchema(YamlDocumentMixin):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {"document": EXAMPLE_DOCUMENT}

    document_required = True
    document = RulesetDocumentField(
        metadata={"description": "The ruleset document (JSON; or `document_yaml`)"}
    )


class RulesetWarningSchema(ErrorDetailSchema):
    code = fields.String(metadata={"description": "overlap, unreachable or outside_guardrails"})


class ValidationReportSchema(ma.Schema):
    valid = fields.Boolean()
    rule_count = fields.Integer(metadata={"description": "Rules in the document"})
    warnings = fields.List(
        fields.Nested(RulesetWarningSchema),
        metadata={"description": "Overlapping or unreachable rules, parameters outside guardrails"},
    )


class CaseResultSchema(ma.Schema):
    name = fields.String(metadata={"description": "The case's name in the document's `tests`"})
    passed = fields.Boolean()
    mismatches = fields.List(
        fields.String(),
        metadata={"description": "What differed from the case's expectation, one line each"},
    )


class TestReportSchema(ma.Schema):
    passed = fields.Boolean()
    errors = fields.List(
        fields.Nested(ErrorDetailSchema),
        metadata={"description": "Why the draft could not run (compile errors), located"},
    )
    cases = fields.List(
        fields.Nested(CaseResultSchema), metadata={"description": "One result per case"}
    )


class FactsSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "facts": {
            "segment": "premium",
            "tier_level": 2,
            "service_date": "2027-07-10",
            "lead_days": 2,
            "guests": 2,
            "amount": 17000,
        },
        "kinds": ["season", "last_minute"],
        "at": "2027-07-08T12:00:00+00:00",
    }

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
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "facts": [
            {
                "segment": "premium",
                "tier_level": 2,
                "service_date": "2027-07-10",
                "lead_days": 2,
                "guests": 2,
                "amount": 17000,
            }
        ],
        "kinds": ["season", "last_minute"],
    }

    facts = fields.List(
        fields.Dict(),
        required=True,
        validate=validate.Length(min=1, max=100),
        metadata={"description": "1 to 100 facts objects to evaluate"},
    )
    kinds = fields.List(
        fields.String(validate=validate.OneOf(RULE_KINDS)), validate=validate.Length(min=1, max=6)
    )


class BacktestRequestSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {
        "from": "2026-11-01T00:00:00+01:00",
        "to": "2026-12-01T00:00:00+01:00",
        "limit": 50000,
    }

    from_ = fields.AwareDateTime(
        data_key="from",
        attribute="from",
        required=True,
        validate=INSTANTS,
        metadata={
            "description": "Decisions recorded at or after this instant (ISO 8601 with offset)"
        },
    )
    to = fields.AwareDateTime(
        required=True, validate=INSTANTS, metadata={"description": "… and before this one"}
    )
    limit = fields.Integer(
        load_default=50_000,
        validate=validate.Range(1, 50_000),
        metadata={"description": "At most this many decisions (1 to 50,000)"},
    )


class BacktestSchema(ma.Schema):
    draft_id = fields.String(metadata={"description": "The draft run"})
    from_ = Timestamp(
        data_key="from", attribute="from", metadata={"description": "Start of the range (included)"}
    )
    to = Timestamp(metadata={"description": "End of the range (excluded)"})
    currency = fields.String()
    evaluated = fields.Integer(metadata={"description": "Decisions evaluated"})
    truncated = fields.Boolean(metadata={"description": "More decisions matched than `limit`"})
    outputs_changed = fields.Integer(metadata={"description": "Decisions whose outputs differ"})
    prices = fields.Dict(
        metadata={
            "description": "compared, changed, revenue_delta, commission_delta (minor units, new - recorded), by_purpose"
        }
    )
    upgrades = fields.Dict(metadata={"description": "compared, now_allowed, now_denied"})
    largest_changes = fields.List(
        fields.Dict(), metadata={"description": "The 10 largest price changes, largest first"}
    )


class DiffQuerySchema(ma.Schema):
    old = fields.Integer(
        required=True,
        data_key="from",
        validate=validate.Range(1, 10**9),
        metadata={"description": "Number of the older version"},
    )
    new = fields.Integer(
        required=True,
        data_key="to",
        validate=validate.Range(1, 10**9),
        metadata={"description": "Number of the newer version"},
    )


class ExplainedOutcomeSchema(ma.Schema):
    version = fields.Integer(metadata={"description": "Number of the version evaluated"})
    content_hash = fields.String()
    decisions = fields.Raw(metadata={"description": "What the rules decided, per kind"})
    fired = fields.List(fields.String())
    considered = fields.List(
        fields.Dict(), metadata={"description": "Every rule considered: matched, fired, why not"}
    )
