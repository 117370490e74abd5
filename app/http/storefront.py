"""Storefront (publishable API key): segments, tier comparisons, priced offers, quotes, upgrade quotes, events."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from flask import current_app, g
from flask.typing import ResponseReturnValue
from flask.views import MethodView

from app.adapters.quotes import QuoteClaims
from app.http import pricing_views as views
from app.http.auth import current_tenant, require_storefront
from app.http.common import blueprint, services
from app.http.errors import ErrorSchema
from app.http.schemas import storefront as s
from app.services import activity, catalog, offers
from pricing import catalog as domain
from pricing.pricer import Selection

blp = blueprint("storefront", "/v1/storefront", "Storefront widgets (API key).", require_storefront)


@blp.route("/segments")
class PublicSegments(MethodView):
    @blp.response(200, s.PublicSegmentSchema(many=True))
    def get(self) -> list[domain.Segment]:
        """Active segments in display order"""
        return catalog.storefront_segments(services().db, current_tenant())


@blp.route("/segments/<segment>/comparison")
class Comparison(MethodView):
    @blp.response(200, s.TierComparisonSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Segment not found")
    def get(self, segment: str) -> domain.TierComparison:
        """Tier comparison of a segment (by key or id): tiers in level order, feature matrix, add-ons"""
        return catalog.tier_comparison(services().db, current_tenant(), segment)


def _selection(
    args: Mapping[str, Any], segment: str = "", tier_id: uuid.UUID | None = None
) -> Selection:
    return Selection(
        segment_ref=segment,
        service_date=args["date"],
        guests=args["guests"],
        add_on_refs=tuple(args.get("add_ons", ())),
        tier_id=str(tier_id) if tier_id else None,
        visitor_id=args.get("visitor_id", ""),
        upsell_from=str(args["upsell_from_tier_id"]) if args.get("upsell_from_tier_id") else None,
        customer=args.get("customer"),
    )


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


#: One instance, reused: given a class, webargs builds a new schema on every request.
OFFERS_QUERY = s.OffersQuerySchema()


@blp.route("/segments/<segment>/offers")
class Offers(MethodView):
    @blp.arguments(OFFERS_QUERY, location="query")
    @blp.response(200, s.OffersSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Segment not found")
    def get(self, args: dict[str, Any], segment: str) -> ResponseReturnValue:
        """Every tier of a segment priced for a date and party, with availability, upsell and fallbacks"""
        sheet = offers.quote_offers(
            services().offers, current_tenant(), _selection(args, segment), _now(), g.request_id
        )
        # Plain JSON in the documented shape already (tests hold OffersSchema().dump to identity):
        # skipping the schema dump saves most of a millisecond on the hottest route.
        return current_app.json.response(views.offers_body(sheet))


@blp.route("/quotes")
class Quotes(MethodView):
    @blp.arguments(s.QuoteCreateSchema)
    @blp.response(201, s.QuoteSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Tier not found")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Price one selection and sign a quote token that checkout honours"""
        selection = _selection(data, tier_id=data["tier_id"])
        signed = offers.quote_selection(
            services().offers, current_tenant(), selection, _now(), g.request_id
        )
        return views.quote_body(signed)


@blp.route("/quotes/verify")
class QuoteVerify(MethodView):
    @blp.arguments(s.QuoteTokenSchema)
    @blp.response(200, s.QuoteClaimsSchema)
    def post(self, data: dict[str, Any]) -> QuoteClaims:
        """Check a quote token: its claims, or 422 quote_invalid / quote_expired"""
        return offers.verify_quote(services().offers, current_tenant(), data["token"], _now())


@blp.route("/upgrade-quotes")
class UpgradeQuotes(MethodView):
    @blp.arguments(s.UpgradeQuoteCreateSchema)
    @blp.response(200, s.UpgradeQuoteSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Tier or booking not found")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Quote moving a selection or a booking to another tier: allowed (with the rule's reason), price difference, features gained"""
        ctx = services().offers
        booking = None
        if data.get("booking_id"):
            selection, booking = offers.booking_selection(
                ctx, current_tenant(), str(data["booking_id"])
            )
            selection = replace(selection, customer=data.get("customer"))
        else:
            selection = _selection(data, tier_id=data["tier_id"])
        move = offers.quote_upgrade(
            ctx, current_tenant(), selection, str(data["to_tier_id"]), booking, _now(), g.request_id
        )
        return views.move_body(move)


@blp.route("/events")
class Events(MethodView):
    @blp.arguments(s.EventsSchema)
    @blp.response(202, s.EventsResultSchema)
    def post(self, data: dict[str, Any]) -> dict[str, int]:
        """Record storefront events (de-duplicated by client_event_id)"""
        return activity.record_events(services().db, current_tenant(), data["events"])
