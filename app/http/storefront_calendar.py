"""Storefront (publishable API key): a month of a segment's availability, for the date step."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import g
from flask.typing import ResponseReturnValue
from flask.views import MethodView

from app.http.auth import current_tenant, require_storefront
from app.http.common import blueprint, services
from app.http.conditional import (
    CACHE_HEADERS,
    IF_NONE_MATCH,
    OFFERS_CACHE,
    cache_headers,
    client_has,
    content_tag,
    not_modified,
)
from app.http.errors import ErrorSchema
from app.http.schemas import calendar as s
from app.services import calendar

blp = blueprint(
    "storefront-calendar",
    "/v1/storefront",
    "Storefront widgets (API key): availability by month.",
    require_storefront,
)


@blp.route("/segments/<segment>/availability", parameters=[IF_NONE_MATCH])
class MonthAvailability(MethodView):
    @blp.arguments(s.AvailabilityQuerySchema, location="query")
    @blp.response(200, s.MonthAvailabilitySchema, headers=CACHE_HEADERS)
    @blp.alt_response(304, description="Not modified: the If-None-Match tag is current")
    @blp.alt_response(404, schema=ErrorSchema, description="Segment not found")
    def get(self, args: dict[str, Any], segment: str) -> ResponseReturnValue:
        """A month of a segment (by key or id) for a party: per day bookable, sold out, blackout, lowest price

        One entry per day of `month` for a party of `guests`: whether any tier can be
        booked, sold out or closed by a blackout, each tier's units left, and the lowest
        total the rules give that day. Cached for 30 s per tenant, segment, month and
        party; days before the tenant's today are not bookable.
        """
        svc = services()
        body = calendar.month_availability(
            svc.offers,
            svc.cache,
            current_tenant(),
            segment,
            dt.date.fromisoformat(f"{args['month']}-01"),
            args["guests"],
            dt.datetime.now(dt.UTC),
            g.request_id,
        )
        tag = content_tag(body)
        if client_has(tag):
            return not_modified(tag, OFFERS_CACHE)
        return body, 200, cache_headers(tag, OFFERS_CACHE)
