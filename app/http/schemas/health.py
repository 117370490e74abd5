"""The service's health."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields


class HealthSchema(ma.Schema):
    status = fields.String(metadata={"description": "ok, or unavailable when a check failed"})
    checks = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        metadata={
            "description": "Per dependency (database, cache): ok, or error: <exception class>"
        },
    )
