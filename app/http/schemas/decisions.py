"""The decision log: records, a decision explained, search, replay and the hash chain's check."""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from app.http.schemas.common import INSTANTS, KnownParameters, Timestamp


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
    considered: fields.Field[Any] = fields.Raw(
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
    created_at = Timestamp()
    masked_fields = fields.List(
        fields.String(), metadata={"description": "JSON pointers of masked personal data"}
    )
    customer_ref = fields.String(
        allow_none=True,
        metadata={
            "description": "Keyed hash of the customer's e-mail (null: none given); customer_email searches match it"
        },
    )
    seq = fields.Integer(
        allow_none=True, metadata={"description": "Position in the tenant's hash chain"}
    )
    prev_hash = fields.String(
        allow_none=True,
        metadata={
            "description": "Hash of the previous record in the chain (64 zeros before the first)"
        },
    )
    hash = fields.String(
        allow_none=True,
        metadata={"description": "SHA-256 of seq, prev_hash and the canonical record"},
    )


class ConsideredRuleSchema(ma.Schema):
    class Meta:
        description = "One rule of the version, as evaluated on the recorded facts."

    rule_id = fields.String(metadata={"description": "The rule's id"})
    kind = fields.String(
        metadata={
            "description": "The rule's kind (season, last_minute, commission, upsell, upgrade, fallback)"
        }
    )
    priority = fields.Integer(metadata={"description": "Its priority (higher first)"})
    matched = fields.Boolean(metadata={"description": "Its conditions held"})
    fired = fields.Boolean(metadata={"description": "Its action applied"})
    why_not = fields.String(
        allow_none=True,
        metadata={"description": "The first condition that did not hold (null when matched)"},
    )


class DecisionSchema(DecisionRecordSchema):
    considered = fields.List(
        fields.Nested(ConsideredRuleSchema),
        metadata={"description": "Every rule considered: matched or why not, fired"},
    )
    price = fields.Dict(
        allow_none=True,
        metadata={
            "description": "The price the decision fed, in integer minor units with its platform "
            "fee (lines: code, amount, rules); context.price keeps the record's exact lines"
        },
    )


_PURPOSES = validate.OneOf(("offer", "quote", "upgrade", "fallback", "upsell_source"))
_KIND = validate.OneOf(("upgrade", "fallback", "season", "last_minute", "commission", "upsell"))


class DecisionSearchSchema(KnownParameters):
    purpose = fields.String(
        validate=_PURPOSES,
        metadata={"description": "offer, quote, upgrade, fallback or upsell_source"},
    )
    kind = fields.String(
        validate=_KIND, metadata={"description": "Decisions that evaluated this kind"}
    )
    from_ = fields.AwareDateTime(
        data_key="from",
        attribute="from",
        validate=INSTANTS,
        metadata={"description": "created_at >= from"},
    )
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
    quote_id = fields.String(
        validate=validate.Length(max=64), metadata={"description": "Decisions of this quote"}
    )
    request_id = fields.String(
        validate=validate.Length(max=64),
        metadata={"description": "Decisions made by this request (its X-Request-Id)"},
    )
    customer_email = fields.Email(
        validate=validate.Length(max=254),
        metadata={"description": "Matched through its keyed hash; never stored in clear"},
    )


class PlatformDecisionSearchSchema(DecisionSearchSchema):
    tenant_id = fields.UUID(
        metadata={"description": "Only this tenant's decisions (default: every tenant)"}
    )


class ReplaySchema(ma.Schema):
    decision_id = fields.String()
    ruleset_version = fields.Integer()
    engine = fields.String()
    identical = fields.Boolean(
        metadata={"description": "Replaying gave the recorded outputs and prices"}
    )
    differences = fields.List(fields.Dict(), metadata={"description": "{path, recorded, replayed}"})
    replayed = fields.Dict(metadata={"description": "The outputs replayed"})


class BrokenLinkSchema(ma.Schema):
    class Meta:
        description = "The first place the hash chain does not hold."

    seq = fields.Integer(metadata={"description": "Position in the chain where it breaks"})
    decision_id = fields.String(allow_none=True)
    found_seq = fields.Integer(
        allow_none=True, metadata={"description": "The seq found there instead (null: none)"}
    )
    reason = fields.String(
        metadata={"description": "missing_link, prev_hash_mismatch, hash_mismatch or head_mismatch"}
    )


class ChainVerificationSchema(ma.Schema):
    tenant_id = fields.String()
    valid = fields.Boolean()
    checked = fields.Integer(metadata={"description": "Records checked"})
    head_seq = fields.Integer(
        metadata={"description": "seq of the newest record, as the chain head says"}
    )
    purged_through_seq = fields.Integer(
        metadata={"description": "Records up to this seq were purged; checking starts after it"}
    )
    broken = fields.Nested(
        BrokenLinkSchema,
        allow_none=True,
        metadata={"description": "The first broken link (null: the chain holds)"},
    )
