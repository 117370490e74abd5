"""Ruleset versions: publishing a draft, activating a version (now or later), the schedule and
the history of activations."""

from __future__ import annotations

import dataclasses
from typing import Any

import marshmallow as ma
from marshmallow import fields, validate

from app.http.schemas.common import FIVE_YEARS, Instant, Timestamp

KEEP_SCHEDULE = (
    "Taking effect now, keep the pending activations (default: cancel them, see "
    "`cancelled_activations`); no effect on an activation for later"
)


class PublishSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {"note": "Summer prices", "activates_at": "2027-05-01T00:00:00+02:00"}

    note = fields.String(load_default="", validate=validate.Length(max=500))
    activates_at = Instant(
        ahead=FIVE_YEARS,
        load_default=None,
        metadata={"description": "Schedule the activation (default now)."},
    )
    keep_schedule = fields.Boolean(load_default=False, metadata={"description": KEEP_SCHEDULE})


class ActivateSchema(ma.Schema):
    #: The OpenAPI request example (tests/api/test_openapi_coverage.py loads it).
    EXAMPLE: dict[str, Any] = {"keep_schedule": False}

    keep_schedule = fields.Boolean(load_default=False, metadata={"description": KEEP_SCHEDULE})


class VersionSchema(ma.Schema):
    class Meta:
        description = "A published, immutable ruleset version."

    number = fields.Integer()
    content_hash = fields.String()
    author = fields.String()
    note = fields.String()
    created_at = Timestamp()
    document = fields.Dict(metadata={"description": "The ruleset document (docs/rules.md)"})


class VersionSummarySchema(VersionSchema):
    class Meta:
        exclude = ("document",)


class ActivationSchema(ma.Schema):
    class Meta:
        description = (
            "One step of the activation history: a version taking (or scheduled to take) effect."
        )

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

    class Meta:
        description = "A pending activation that was cancelled."

    sequence = fields.Integer()
    version = fields.Integer(
        attribute="version_number",
        metadata={"description": "Number of the version it would have activated"},
    )
    activates_at = Timestamp()


class ScheduledActivationSchema(ma.Schema):
    """A pending activation: scheduled for later, not cancelled."""

    sequence = fields.Integer(
        metadata={"description": "Cancel it with DELETE …/schedule/{sequence}"}
    )
    version = fields.Integer(
        attribute="version_number", metadata={"description": "Number of the version it activates"}
    )
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
    version = fields.Nested(VersionSummarySchema, metadata={"description": "The version published"})
    activation = fields.Nested(
        ActivationSchema, metadata={"description": "Its activation, now or scheduled"}
    )
    cancelled_activations = fields.List(
        fields.Nested(CancelledActivationSchema), attribute="cancelled"
    )


class ActivationStateSchema(ma.Schema):
    active_version = fields.Integer(
        allow_none=True, metadata={"description": "Number of the version in force (null: none yet)"}
    )
    scheduled = fields.List(
        fields.Nested(ActivationSchema),
        metadata={"description": "Pending activations, soonest first"},
    )
    history = fields.List(
        fields.Nested(ActivationSchema), metadata={"description": "Every activation, oldest first"}
    )
