"""Tenant admin: rule decisions, and previews of offers at another moment."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from flask import Response, current_app, g, stream_with_context
from flask.typing import ResponseReturnValue
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from app.http import pricing_views as views
from app.http.auth import current_tenant, require_tenant_admin
from app.http.common import Paging, blueprint, services
from app.http.errors import ErrorSchema
from app.http.schemas import decisions as s
from app.http.schemas.storefront import PreviewOffersSchema, PreviewQuerySchema
from app.http.storefront import _selection
from app.services import activity, decision_log, offers

blp = blueprint(
    "admin-decisions",
    "/v1/admin",
    "Tenant admin: decisions and offer previews.",
    require_tenant_admin,
)


def ndjson(lines: Iterator[str]) -> Response:
    return Response(stream_with_context(lines), mimetype="application/x-ndjson")


@blp.route("/decisions")
class Decisions(MethodView):
    @blp.arguments(s.DecisionSearchSchema, location="query")
    @blp.response(200, s.DecisionRecordSchema(many=True))
    @blp.alt_response(404, schema=ErrorSchema, description="booking_id names no booking")
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """Search decisions (newest first): purpose, kind, time range, fired rule, outcome, booking, quote, request, customer

        The tenant's decision records, newest first, paginated. Filters combine: `purpose`,
        `kind`, `from` ≤ created_at < `to`, a fired `rule_id`, an `outcome`
        (`<kind>.<field>=<value>`), `booking_id` (its decisions and its quote's),
        `quote_id`, `request_id` and `customer_email` (matched through its hash: records
        never hold personal data in clear).
        """
        svc, paging = services(), Paging(pagination_parameters)
        f = decision_log.decision_filter(svc.db, svc.offers.masker, current_tenant().id, args)
        return paging.done(decision_log.search(svc.db, f, paging.offset, paging.limit))


@blp.route("/decisions/export")
class DecisionExport(MethodView):
    @blp.arguments(s.DecisionSearchSchema, location="query")
    @blp.response(200, description="NDJSON: one decision record per line, oldest first")
    @blp.alt_response(404, schema=ErrorSchema, description="booking_id names no booking")
    @blp.alt_response(
        422, schema=ErrorSchema, description="from/to missing or more than 31 days apart"
    )
    def get(self, args: dict[str, Any]) -> Response:
        """Export the decisions of a time range (at most 31 days) as NDJSON, with the same filters

        Streams the matching records as NDJSON (one JSON object per line), oldest first, in
        keyset-paged batches. `from` and `to` are required and at most 31 days apart.
        """
        svc = services()
        f = decision_log.decision_filter(svc.db, svc.offers.masker, current_tenant().id, args)
        return ndjson(decision_log.export(svc.db, f))


@blp.route("/decisions/verify")
class VerifyChain(MethodView):
    @blp.response(200, s.ChainVerificationSchema)
    def get(self) -> dict[str, Any]:
        """Verify the tenant's decision hash chain: the first broken link, if any

        Walks the tenant's chain (each record's hash covers its predecessor's) from the
        last purge onwards: `valid`, or the first broken link and why (`hash_mismatch`,
        `missing_link`, `prev_hash_mismatch`, `head_mismatch`, `unlinked_record`,
        `extra_link`).
        """
        return decision_log.verify(services().db, current_tenant().id)


@blp.route("/decisions/<uuid:decision_id>/replay")
class Replay(MethodView):
    @blp.response(200, s.ReplaySchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def post(self, decision_id: uuid.UUID) -> dict[str, Any]:
        """Re-evaluate a decision's input with its recorded ruleset version: identical, or the exact differences

        Evaluates the stored facts again with the recorded (immutable) ruleset version and
        reprices the recorded items: `identical`, or every difference as `{path, recorded,
        replayed}`. A version whose content hash changed is itself reported.
        """
        svc = services()
        return decision_log.replay(svc.db, svc.rules, current_tenant(), str(decision_id))


@blp.route("/decisions/<uuid:decision_id>")
class DecisionById(MethodView):
    @blp.response(200, s.DecisionSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, decision_id: uuid.UUID) -> dict[str, Any]:
        """Explain one decision: input, every rule considered (matched, why not), fired rules, outputs, ruleset version, the price breakdown it fed, masked fields, its chain link

        Answers "why did this customer get this price?": the recorded input facts (personal
        data masked), each rule considered with why it did or did not match (recomputed
        from the facts and the recorded version), the fired rules, the outputs, the ruleset
        version and hash, the price breakdown it fed and the record's place in the hash
        chain.
        """
        return activity.decision(services().db, current_tenant(), str(decision_id))


@blp.route("/segments/<segment>/offers-preview")
class OffersPreview(MethodView):
    @blp.arguments(PreviewQuerySchema, location="query")
    @blp.response(200, PreviewOffersSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Segment not found")
    def get(self, args: dict[str, Any], segment: str) -> ResponseReturnValue:
        """Offers of a segment (by key or id) as they will be (or were) priced at `as_of`, each price with its platform fee

        Prices the segment's offers as the storefront would at `as_of` (default now; with the
        ruleset in force at that moment, scheduled activations included), showing the platform fee
        of every price, fallbacks included. Nothing is recorded in the decision log.
        """
        at = args.get("as_of") or dt.datetime.now(dt.UTC)
        selection = _selection(args, segment)
        if args["experiment"] or args["variant"]:
            selection = replace(selection, preview_variant=(args["experiment"], args["variant"]))
        sheet = offers.quote_offers(
            services().offers, current_tenant(), selection, at, g.request_id
        )
        # With the platform fee, which the storefront never shows: the tenant's cost, not the
        # customer's. Plain JSON already, like the storefront route.
        return current_app.json.response(views.offers_body(sheet, platform_fee=True))
