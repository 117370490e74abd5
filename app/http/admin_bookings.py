"""Tenant admin: bookings, and cancelling them per the tenant's refund policy."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters

from app.http.auth import current_tenant, require_tenant_admin
from app.http.common import Paging, blueprint, services
from app.http.errors import ErrorSchema
from app.http.schemas import bookings as s
from app.services import booking_admin

blp = blueprint("admin-bookings", "/v1/admin", "Tenant admin: bookings.", require_tenant_admin)


@blp.route("/bookings")
class Bookings(MethodView):
    @blp.arguments(s.BookingQuerySchema, location="query")
    @blp.response(200, s.AdminBookingSchema(many=True))
    @blp.paginate()
    def get(
        self, args: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> list[dict[str, Any]]:
        """List bookings (not their upgrade payments), newest first

        The tenant's bookings, paginated, optionally by `status` and service `date`.
        """
        paging = Paging(pagination_parameters)
        return paging.done(
            booking_admin.list_bookings(
                services().db,
                current_tenant(),
                args.get("status"),
                args.get("service_date"),
                paging.offset,
                paging.limit,
            )
        )


@blp.route("/bookings/<uuid:booking_id>")
class AdminBookingById(MethodView):
    @blp.response(200, s.AdminBookingDetailSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, booking_id: uuid.UUID) -> dict[str, Any]:
        """A booking: customer, add-ons, amounts and platform fee, payments and refunds, upgrades

        One booking in full: the customer, tier, date, party and add-ons, the total and
        platform fee, every payment and refund in the ledger, and its upgrades.
        """
        return booking_admin.admin_view(services().db, current_tenant(), str(booking_id))


@blp.route("/bookings/<uuid:booking_id>/cancel")
class CancelBooking(MethodView):
    @blp.response(200, s.AdminBookingDetailSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    @blp.alt_response(
        409, schema=ErrorSchema, description="Not cancellable, or past the refund window"
    )
    @blp.alt_response(
        503, schema=ErrorSchema, description="The booking is being changed; retry in a second"
    )
    def post(self, booking_id: uuid.UUID) -> dict[str, Any]:
        """Cancel a booking: a pending one releases its hold; a paid one is refunded per the tenant's policy

        A pending booking is cancelled and its hold released. A paid one is cancelled and its
        payment refunded (the platform fee too when the tenant's `refund_application_fee` says
        so); the refund is queued and retried while the provider is unreachable. 409
        `refund_window_passed` within the tenant's `refund_window_hours` before the service date,
        `booking_not_cancellable` for a booking already cancelled, expired or refunded.
        """
        svc = services()
        return booking_admin.cancel_booking(
            svc.checkout, current_tenant(), str(booking_id), dt.datetime.now(dt.UTC)
        )
