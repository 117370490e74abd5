"""Checkout (storefront), payment webhooks, and the local payment page of the embedded default."""

from __future__ import annotations

import datetime as dt
import html
import json
import uuid
from collections.abc import Callable
from typing import Any

from flask import Response, current_app, g, jsonify, redirect, request
from flask.views import MethodView
from werkzeug.wrappers import Response as BaseResponse

from app.adapters.payments import LocalPayments, local_event
from app.http.auth import current_tenant, require_storefront
from app.http.common import Reply, blueprint, services
from app.http.common import utc_now as _now
from app.http.errors import ErrorSchema
from app.http.idempotency import NoteResource, fingerprint, run_once
from app.http.schemas import checkout as s
from app.services import checkout, payment_events
from pricing.money import Money
from storage.checkout import BookingRow

blp = blueprint("checkout", "/v1/storefront", "Storefront checkout (API key).", require_storefront)
hooks = blueprint("webhooks", "/v1/webhooks", "Payment provider webhooks (signed).", None)
local = blueprint("local-pay", "/local-pay", "The embedded default's offline payment page.", None)


IDEMPOTENCY_KEY = {
    "in": "header",
    "name": "Idempotency-Key",
    "required": True,
    "schema": {"type": "string"},
    "description": "Your unique key for this operation (a UUID, say), at most 255 characters: the "
    "same key and body replay the first answer for 24 h (`Idempotent-Replayed: true`), never a "
    "second booking or payment session; the same key with another body is 422.",
}


def _once(
    data: dict[str, Any],
    start: Callable[[str | None, NoteResource, dt.datetime], dict[str, Any]],
) -> Response | Reply[dict[str, Any]]:
    """Run ``start(resume_id, note_resource, now)`` once per Idempotency-Key (app/http/idempotency.py)
    and answer 201, or the replay of the first answer."""
    svc, tenant, now = services(), current_tenant(), _now()
    key = checkout.require_key(request.headers.get("Idempotency-Key"))

    def work(resume: str | None, note: NoteResource) -> tuple[int, dict[str, Any]]:
        return 201, start(resume, note, now)

    status, body, replayed = run_once(
        svc.db, tenant.id, key, fingerprint("POST", request.path, data), now, work
    )
    headers = {"Idempotent-Replayed": "true"} if replayed else {}
    if status >= 400:  # a replayed error: its body as first sent, not through the success schema
        response = jsonify(body)
        response.status_code = status
        response.headers.update(headers)
        return response
    return body, status, headers


@blp.route("/checkouts")
class Checkouts(MethodView):
    @blp.arguments(s.CheckoutCreateSchema, example=s.CheckoutCreateSchema.EXAMPLE)
    @blp.response(201, s.BookingSchema)
    @blp.alt_response(
        409, schema=ErrorSchema, description="Sold out, or a request with this key in progress"
    )
    @blp.alt_response(
        503, schema=ErrorSchema, description="Payment provider unreachable; retry with the same key"
    )
    @blp.doc(parameters=[IDEMPOTENCY_KEY])
    def post(self, data: dict[str, Any]) -> Response | Reply[dict[str, Any]]:
        """Start checkout from a quote token: hold the unit, create the pending booking and the payment session

        Verifies the quote token, then under a per-(tenant, tier, date) lock either holds a
        unit and creates the pending booking in one transaction or answers 409 `sold_out`;
        then creates the payment provider's checkout session (Stripe Checkout with the
        platform fee as application fee) and returns its URL. `Idempotency-Key` is
        required: a retry with the same key and body replays the first answer and never
        creates a second booking or session; 503 with `Retry-After` when the provider is
        unreachable (the retry resumes the same booking).
        """
        svc, tenant = services(), current_tenant()
        return _once(
            data,
            lambda resume, note, now: checkout.start_checkout(
                svc.checkout, tenant, data["quote_token"], data["customer"], now, resume, note
            ),
        )


@blp.route("/bookings/<uuid:booking_id>/upgrade")
class BookingUpgrade(MethodView):
    @blp.arguments(s.BookingUpgradeCreateSchema, example=s.BookingUpgradeCreateSchema.EXAMPLE)
    @blp.response(201, s.BookingUpgradeSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Booking or tier not found")
    @blp.alt_response(
        409, schema=ErrorSchema, description="Not allowed by the rules, not paid, or sold out"
    )
    @blp.doc(parameters=[IDEMPOTENCY_KEY])
    def post(self, data: dict[str, Any], booking_id: uuid.UUID) -> Response | Reply[dict[str, Any]]:
        """Upgrade a paid booking: pay the difference; the tier switches when that payment succeeds

        The `upgrade` rules decide whether the paid booking may move to `to_tier_id`; the
        difference (priced from what the customer paid) is paid through a new checkout session,
        and the booking switches tier when the provider confirms that payment. `Idempotency-Key`
        is required, as for checkouts. 409 `upgrade_not_allowed` when a rule refuses (its reason
        in the details), `upgrade_in_progress` while another upgrade is being paid, `sold_out`
        when the target tier has no unit left that day.
        """
        svc, tenant = services(), current_tenant()
        return _once(
            data,
            lambda resume, note, now: checkout.start_upgrade(
                svc.checkout,
                svc.offers,
                tenant,
                str(booking_id),
                str(data["to_tier_id"]),
                now,
                g.request_id,
                resume,
                note,
            ),
        )


@blp.route("/bookings/<uuid:booking_id>")
class BookingById(MethodView):
    @blp.response(200, s.BookingSchema)
    @blp.alt_response(404, schema=ErrorSchema, description="Not found")
    def get(self, booking_id: uuid.UUID) -> dict[str, Any]:
        """A booking's state (follows the payment provider's events)

        The booking's status (`pending`, `paid`, `expired`, `cancelled`, `refunded`, ...) as the
        payment provider's webhooks moved it, with its tier, date, party, total and the checkout
        address while it is pending. Poll it after the customer returns from checkout.
        """
        return checkout.get_booking(services().db, current_tenant(), str(booking_id))


@hooks.route("/stripe")
class StripeWebhook(MethodView):
    @hooks.response(200, s.WebhookResultSchema)
    @hooks.alt_response(400, schema=ErrorSchema, description="Bad signature: nothing changed")
    def post(self) -> dict[str, Any]:
        """Stripe events (signature verified on the raw body; each event applied once)

        For Stripe only: `checkout.session.completed` and `checkout.session.expired` (booking and
        upgrade payments) and `charge.refunded`. The `Stripe-Signature` header is verified on the
        raw body (300 s tolerance, future timestamps refused); each event id is stored and applied
        once, in whatever order events arrive; other event types are acknowledged and ignored
        (`outcome` says so).
        """
        payload = request.get_data(cache=False)
        signature = request.headers.get("Stripe-Signature", "")
        return payment_events.handle_event(services().checkout, payload, signature, _now())


@local.route("/<session_id>")
class LocalPage(MethodView):
    @local.doc(exclude=True)
    def get(self, session_id: str) -> Response:
        """The local payment page"""
        booking = _local_booking(session_id)
        amount = Money(booking.total, booking.currency).format()
        page = f"""<!doctype html><meta charset="utf-8"><title>tierwise demo payment</title>
<h1>Demo payment</h1><p>Booking {html.escape(booking.id)}: {html.escape(amount)}
({html.escape(booking.status)})</p>
<form method="post" action="/local-pay/{html.escape(session_id)}/pay"><button>Pay</button></form>
<form method="post" action="/local-pay/{html.escape(session_id)}/cancel"><button>Cancel</button></form>"""
        return current_app.response_class(page, mimetype="text/html")


@local.route("/<session_id>/<action>")
class LocalAction(MethodView):
    @local.doc(exclude=True)
    def post(self, session_id: str, action: str) -> BaseResponse:
        """Pay or cancel on the local page: tierwise sends itself the signed event Stripe would"""
        booking = _local_booking(session_id)
        svc = services()
        kind = {"pay": "checkout.session.completed", "cancel": "checkout.session.expired"}.get(
            action
        )
        if kind is None:
            return current_app.response_class("unknown action", status=404)
        paid = action == "pay"
        session = {
            "id": session_id,
            "object": "checkout.session",
            "client_reference_id": booking.id,
            "amount_total": booking.total,
            "currency": booking.currency.lower(),
            "payment_status": "paid" if paid else "unpaid",
            "payment_intent": f"pi_local_{booking.id.replace('-', '')}" if paid else None,
            "metadata": {"booking_id": booking.id, "tenant_id": booking.tenant_id},
        }
        payload = json.dumps(local_event(kind, session, _now())).encode()
        payments = svc.checkout.payments
        assert isinstance(payments, LocalPayments)  # the page is mounted only with them
        payment_events.handle_event(svc.checkout, payload, payments.sign(payload), _now())
        done = "done" if paid else "cancelled"
        return redirect(f"{svc.settings.public_base_url}/local-pay/{session_id}?{done}=1")


def _local_booking(session_id: str) -> BookingRow:
    from pricing.errors import NotFound
    from storage import checkout as store

    if not session_id.startswith("lcs_"):
        raise NotFound("session not found.", code="session_not_found")
    with services().db.read() as session:
        booking = store.find_booking_by_session(session, session_id)
    if booking is None:
        raise NotFound("session not found.", code="session_not_found")
    return booking
