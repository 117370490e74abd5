"""Query and response schemas of the change log.

Like the decision log's search, an unknown query parameter is refused (422 at ``/query/<name>``): a
misspelt filter of an audit search must not silently answer every change."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from app.http.schemas.common import INSTANTS, KnownParameters, Timestamp
from storage.change_log import ACTIONS, ENTITY_TYPES


class ChangeExportQuerySchema(KnownParameters):
    EXTRA: tuple[str, ...] = ()  # an export is not paginated
    entity_type = fields.String(
        validate=validate.OneOf(ENTITY_TYPES),
        metadata={"description": "Only changes of this kind of entity"},
    )
    entity_id = fields.String(
        validate=validate.Length(min=1, max=128),
        metadata={
            "description": "The entity's id; composite keys joined by ':' (capacity: tier_id:date)"
        },
    )
    action = fields.String(
        validate=validate.OneOf(ACTIONS),
        metadata={"description": "Only creates, updates or deletes"},
    )
    actor = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "<role>:<subject> as authenticated, 'cli' or 'system'"},
    )
    request_id = fields.String(
        validate=validate.Length(min=1, max=64),
        metadata={"description": "Only changes made by this request (X-Request-Id)"},
    )
    from_ = fields.AwareDateTime(
        data_key="from",
        attribute="from",
        required=True,
        validate=INSTANTS,
        metadata={"description": "created_at >= from"},
    )
    to = fields.AwareDateTime(
        required=True,
        validate=INSTANTS,
        metadata={"description": "created_at < to; at most 31 days after from"},
    )


class ChangeQuerySchema(ChangeExportQuerySchema):
    EXTRA = ("page", "page_size")
    from_ = fields.AwareDateTime(
        data_key="from",
        attribute="from",
        validate=INSTANTS,
        metadata={"description": "created_at >= from"},
    )
    to = fields.AwareDateTime(validate=INSTANTS, metadata={"description": "created_at < to"})


class PlatformChangeExportQuerySchema(ChangeExportQuerySchema):
    tenant_id = fields.UUID(
        metadata={"description": "Only this tenant's changes (default: every tenant)"}
    )


class PlatformChangeQuerySchema(ChangeQuerySchema):
    tenant_id = fields.UUID(
        metadata={"description": "Only this tenant's changes (default: every tenant)"}
    )


class ChangeSchema(ma.Schema):
    id = fields.String()
    tenant_id = fields.String()
    entity_type = fields.String(metadata={"description": f"One of {', '.join(ENTITY_TYPES)}"})
    entity_id = fields.String()
    action = fields.String(metadata={"description": "create | update | delete"})
    actor = fields.String()
    request_id = fields.String(metadata={"description": "X-Request-Id of the change's request"})
    before = fields.Dict(
        allow_none=True,
        metadata={"description": "update: the changed columns as they were; delete: every column"},
    )
    after = fields.Dict(
        allow_none=True,
        metadata={"description": "create: every column; update: the changed columns as they are"},
    )
    created_at = Timestamp()
