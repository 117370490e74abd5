"""Storefront (publishable API key): segments, tier comparisons, priced offers, quotes, upgrade quotes, events."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from flask import current_app, g
from flask.typing import ResponseReturnValue
from flask.views import MethodView

from app.adapters.quotes import QuoteClaims
from app.http import catalog_views, offers_query
from app.http import pricing_views as views
from app.http.auth import current_tenant, require_storefront
from app.http.common import blueprint, services
from app.http.common import utc_now as _now
from app.http.conditional import (
    CACHE_HEADERS,
    IF_NONE_MATCH,
    OFFERS_CACHE,
    catalog_answer,
    client_has,
    encode,
    encoded_answer,
    json_answer,
    not_modified,
)
from app.http.errors import ErrorSchema
from app.http.schemas import quotes as q
from app.http.schemas import storefront as s
from app.http.schemas import storefront_events as ev
from app.services import activity, offer_memo, offers, storefront_catalog
from pricing import offers as pricing_offers
from pricing.pricer import Selection

blp = blueprint("storefront", "/v1/storefront", "Storefront widgets (API key).", require_storefront)


@blp.route("/segments", parameters=[IF_NONE_MATCH])
class PublicSegments(MethodView):
    @blp.response(200, s.PublicSegmentSchema(many=True), headers=CACHE_HEADERS)
    @blp.alt_response(304, description="Not modified: the If-None-Match tag is current")
    def get(self) -> ResponseReturnValue:
        """Active segments in display order

        The tenant's active segments (archived ones hidden), ordered by `position`, as the
        widget's segment toggle shows them.
        """
        snapshot = storefront_catalog.current_snapshot(services().offers, current_tenant())
        # Plain JSON in PublicSegmentSchema's shape (tests hold the two equal), no schema dump.
        return catalog_answer(
            snapshot.catalog_version,
            lambda: catalog_views.segments_body(storefront_catalog.segments(snapshot)),
        )


@blp.route("/segments/<segment>/comparison", parameters=[IF_NONE_MATCH])
class Comparison(MethodView):
    @blp.response(200, s.TierComparisonSchema, headers=CACHE_HEADERS)
    @blp.alt_response(304, description="Not modified: the If-None-Match tag is current")
    @blp.alt_response(404, schema=ErrorSchema, description="Segment not found")
    def get(self, segment: str) -> ResponseReturnValue:
        """Tier comparison of a segment (by key or id): tiers in level order, feature matrix, add-ons

        The segment's active tiers with their list prices (not yet adjusted by the rules:
        the offers are), the features as a matrix (one row per feature key, one cell per
        tier), the popular badge and the add-ons on sale. `segment` is the segment's key or
        id.
        """
        snapshot = storefront_catalog.current_snapshot(services().offers, current_tenant())
        compared = storefront_catalog.comparison(snapshot, segment)
        return catalog_answer(
            snapshot.catalog_version, lambda: catalog_views.comparison_body(compared)
        )


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


def _offers_json(sheet: pricing_offers.OfferSheet) -> bytes:
    return encode(views.offers_body(sheet))


#: One instance, reused: given a class, webargs builds a new schema on every request.
OFFERS_QUERY = s.OffersQuerySchema()


@blp.route("/segments/<segment>/offers", parameters=[IF_NONE_MATCH])
class Offers(MethodView):
    @blp.arguments(OFFERS_QUERY, location="query", fast=offers_query.load)
    @blp.response(200, s.OffersSchema, headers=CACHE_HEADERS)
    @blp.alt_response(304, description="Not modified: the If-None-Match tag is current")
    @blp.alt_response(404, schema=ErrorSchema, description="Segment not found")
    def get(self, args: dict[str, Any], segment: str) -> ResponseReturnValue:
        """Every tier of a segment priced for a date and party, with availability, upsell and fallbacks

        Prices every active tier with the tenant's ruleset in force: a breakdown whose
        lines add up to the total, features, availability (units left), the upsell the
        rules chose, and for a tier that is unavailable ranked, priced fallbacks (other
        dates or tiers). Each rules evaluation is recorded in the decision log; the
        response names their ids. With `visitor_id`, a running experiment may assign the
        visitor a variant (`experiment`).
        """
        priced = offers.quote_offers_tagged(
            services().offers,
            current_tenant(),
            _selection(args, segment),
            _now(),
            g.request_id,
            held=client_has,
        )
        if priced.reused is not None:  # the kept sheet's JSON, under this request's decision ids
            data = offer_memo.rendered(priced.reused, "offers", _offers_json)
            return encoded_answer(data, priced.tag, OFFERS_CACHE)
        if priced.priced is None:
            return not_modified(priced.tag, OFFERS_CACHE)
        # Plain JSON in the documented shape already (tests hold OffersSchema().dump to identity):
        # skipping the schema dump saves most of a millisecond on the hottest route.
        return json_answer(views.offers_body(priced.priced), priced.tag, OFFERS_CACHE)


@blp.route("/quotes")
class Quotes(MethodView):
    @blp.arguments(q.QuoteCreateSchema, example=q.QuoteCreateSchema.EXAMPLE)
    @blp.response(201, q.QuoteSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Tier not found")
    def post(self, data: dict[str, Any]) -> ResponseReturnValue:
        """Price one selection and sign a quote token that checkout honours

        Prices one tier, date, party and add-ons as the offers do, and signs the result
        into a token (HMAC, expiring after `QUOTE_TTL_SECONDS`) that pins the tenant, the
        selection, the amounts, the currency, the ruleset version and the visitor's
        variant. `upsell_from_tier_id` applies the upsell discount offered on that tier.
        Checkout charges exactly the quoted total. 409 when the tier is unavailable on that
        date.
        """
        selection = _selection(data, tier_id=data["tier_id"])
        signed = offers.quote_selection(
            services().offers, current_tenant(), selection, _now(), g.request_id
        )
        # QuoteSchema's dump, built once (tests hold the two equal).
        answer = current_app.json.response(views.quote_json(signed))
        answer.status_code = 201
        return answer


@blp.route("/quotes/verify")
class QuoteVerify(MethodView):
    @blp.arguments(q.QuoteTokenSchema, example=q.QuoteTokenSchema.EXAMPLE)
    @blp.response(200, q.QuoteClaimsSchema)
    def post(self, data: dict[str, Any]) -> QuoteClaims:
        """Check a quote token: its claims, or 422 quote_invalid / quote_expired

        Verifies a token's signature, tenant and expiry and returns what it pins. A token
        signed for another tenant, altered or malformed is `quote_invalid`; one past its
        expiry `quote_expired` (both 422).
        """
        return offers.verify_quote(services().offers, current_tenant(), data["token"], _now())


@blp.route("/upgrade-quotes")
class UpgradeQuotes(MethodView):
    @blp.arguments(q.UpgradeQuoteCreateSchema, example=q.UpgradeQuoteCreateSchema.EXAMPLE)
    @blp.response(200, q.UpgradeQuoteSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Tier or booking not found")
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Quote moving a selection or a booking to another tier: allowed (with the rule's reason), price difference, features gained

        Asks the `upgrade` rules whether the move from the selection's tier (or a
        booking's) to `to_tier_id` is allowed, and prices both sides: the difference to pay
        (from what a booking paid), the features gained, the target's availability.
        Recorded in the decision log. Give either `booking_id` or a selection (`tier_id`,
        `date`, `guests`, add-ons).
        """
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
    @blp.arguments(ev.EventsSchema, example=ev.EventsSchema.EXAMPLE)
    @blp.response(202, ev.EventsResultSchema)
    def post(self, data: dict[str, Any]) -> dict[str, int]:
        """Record storefront events (de-duplicated by client_event_id)

        Takes up to 100 events the widget saw (segment selected, tier comparison viewed,
        upsell shown / accepted / declined) for the analytics and experiment results. An
        event whose `client_event_id` was already recorded for the tenant is skipped, so a
        retried batch counts once; the answer says how many were new.
        """
        return activity.record_events(services().db, current_tenant(), data["events"])
