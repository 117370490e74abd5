"""Tenant admin: rule decisions, and previews of offers at another moment."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from flask import current_app, g
from flask.views import MethodView

from app import schemas as s
from app.api.common import blueprint, services
from app.api.storefront import _selection
from app.auth import current_tenant, require_tenant_admin
from app.errors import ErrorSchema
from app.services import activity, offers

blp = blueprint(
    "admin-decisions",
    "/v1/admin",
    "Tenant admin: decisions and offer previews.",
    require_tenant_admin,
)


@blp.route("/decisions/<uuid:decision_id>")
class DecisionById(MethodView):
    @blp.response(200, s.DecisionSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, decision_id):
        """One decision: input facts, rules considered and fired, outputs, ruleset version"""
        return activity.decision(services().db, current_tenant(), str(decision_id))


@blp.route("/segments/<uuid:segment_id>/offers-preview")
class OffersPreview(MethodView):
    @blp.arguments(s.PreviewQuerySchema, location="query")
    @blp.response(200, s.OffersSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Segment not found")
    def get(self, args, segment_id):
        """Offers of a segment as they will be (or were) priced at `as_of`"""
        at = args.get("as_of") or dt.datetime.now(dt.UTC)
        selection = _selection(args, str(segment_id))
        if args["experiment"] or args["variant"]:
            selection = replace(selection, preview_variant=(args["experiment"], args["variant"]))
        result = offers.quote_offers(
            services().offers, current_tenant(), selection, at, g.request_id
        )
        return current_app.json.response(result)  # plain JSON already, like the storefront route
