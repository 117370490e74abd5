"""Tenant admin: capacity per tier and date, and blackout dates."""

from __future__ import annotations

import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from app.http.auth import current_tenant, require_tenant_admin
from app.http.common import Paging, blueprint, services
from app.http.errors import ErrorSchema
from app.http.schemas import inventory as s
from app.services import catalog

blp = blueprint(
    "admin-inventory",
    "/v1/admin",
    "Tenant admin: capacity and blackout dates.",
    require_tenant_admin,
)


@blp.route("/tiers/<uuid:tier_id>/capacity")
class TierCapacity(MethodView):
    @blp.arguments(s.DateRangeSchema, location="query")
    @blp.response(200, s.CapacitySchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Tier not found")
    def get(self, args: dict[str, Any], tier_id: uuid.UUID) -> dict[str, Any]:
        """Effective capacity of a tier per date (the day's own units, else the tenant default)

        For each date from `from` to `to` (both included, at most 366 days): the units the
        tier has that day — the date's own capacity when set, else the tenant's
        `default_capacity` — and which of the two it is.
        """
        return catalog.capacity(services().db, current_tenant(), str(tier_id), *s.date_range(args))

    @blp.arguments(s.CapacitySetSchema, example=s.CapacitySetSchema.EXAMPLE)
    @blp.response(200, s.CapacitySchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Tier not found")
    def put(self, data: dict[str, Any], tier_id: uuid.UUID) -> dict[str, Any]:
        """Set a tier's capacity for one date or a range of dates

        Sets the units a tier can sell on each date from `from` to `to` (both included; one date
        when `to` is omitted). Units already held or booked are not touched: availability is
        capacity minus live holds minus paid bookings.
        """
        start, end = s.date_range(data)
        return catalog.set_capacity(
            services().db, current_tenant(), str(tier_id), start, end, data["units"]
        )

    @blp.arguments(s.DateRangeSchema, location="query")
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="Tier not found")
    def delete(self, args: dict[str, Any], tier_id: uuid.UUID) -> None:
        """Reset dates to the tenant default capacity

        Removes the dates' own capacity between `from` and `to`, so the tenant's
        `default_capacity` applies again.
        """
        catalog.clear_capacity(services().db, current_tenant(), str(tier_id), *s.date_range(args))


@blp.route("/blackouts")
class Blackouts(MethodView):
    @blp.arguments(s.BlackoutQuerySchema, location="query")
    @blp.response(200, s.BlackoutSchema(many=True))
    @blp.alt_response(404, schema=ErrorSchema, description="tier_id names no tier")
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """List blackout dates

        Closed dates, tenant-wide or per tier, paginated; a blackout closes every tier it
        covers whatever the capacity.
        """
        paging = Paging(pagination_parameters)
        tier_id = str(args["tier_id"]) if args.get("tier_id") else None
        return paging.done(
            catalog.list_blackouts(
                services().db,
                current_tenant(),
                args.get("start"),
                args.get("end"),
                tier_id,
                paging.offset,
                paging.limit,
            )
        )

    @blp.arguments(s.BlackoutCreateSchema, example=s.BlackoutCreateSchema.EXAMPLE)
    @blp.response(201, s.BlackoutSchema(many=True))
    @blp.alt_response(404, schema=ErrorSchema, description="Tier not found")
    def post(self, data: dict[str, Any]) -> list[dict[str, Any]]:
        """Close one date or a range, tenant-wide or for one tier (idempotent)

        Closes each date from `from` to `to` (one date without `to`) for every tier, or for
        `tier_id` only: one blackout per date. A date already closed the same way keeps and
        answers its blackout, so a retry does not duplicate it. Existing bookings stay.
        """
        start, end = s.date_range(data)
        tier_id = str(data["tier_id"]) if data.get("tier_id") else None
        return catalog.add_blackouts(
            services().db, current_tenant(), start, end, tier_id, data["reason"]
        )


@blp.route("/blackouts/<uuid:blackout_id>")
class BlackoutById(MethodView):
    @blp.response(204)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def delete(self, blackout_id: uuid.UUID) -> None:
        """Reopen a blacked-out date

        Deletes one date's blackout; the date is bookable again where capacity allows.
        """
        catalog.delete_blackout(services().db, current_tenant(), str(blackout_id))
