"""Payment providers behind one small interface, chosen by configuration:

* ``StripePayments`` — the real ``stripe`` library (a ``StripeClient``, API version pinned),
  Checkout Sessions as Connect destination charges; every POST carries an idempotency key derived
  from our own ids, so a retry (ours or the library's) never creates a second object.
* ``LocalPayments`` — the embedded default: its checkout URL is a page served by tierwise where
  the demo user pays or cancels; the page then sends tierwise the same signed events Stripe would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from typing import Any, Protocol

import stripe

from pricing.errors import BadRequest, DomainError

STRIPE_API_VERSION = "2023-08-16"
SIGNATURE_TOLERANCE_SECONDS = 300


class PaymentsUnavailable(DomainError):
    """The provider could not be reached or failed; nothing was lost, retry later."""

    code = "payments_unavailable"


class PaymentRefused(DomainError):
    """The provider refused the request (our bug or a misconfigured account)."""

    code = "payment_refused"


@dataclass(frozen=True)
class CheckoutRequest:
    booking_id: str
    tenant_id: str
    destination_account: str
    currency: str
    amount: int
    application_fee: int
    description: str
    expires_at: int  # Unix seconds
    customer_email: str
    success_url: str
    cancel_url: str


@dataclass(frozen=True)
class CheckoutSession:
    id: str
    url: str


@dataclass(frozen=True)
class Refund:
    """A refund the provider accepted: its id and status (``succeeded``, or ``pending`` until
    the provider's ``charge.refunded`` event)."""

    id: str
    status: str


class Payments(Protocol):
    name: str

    def create_checkout_session(
        self, request: CheckoutRequest, idempotency_key: str
    ) -> CheckoutSession: ...
    def refund(
        self,
        payment_intent_id: str,
        *,
        amount: int,
        reverse_transfer: bool,
        refund_application_fee: bool,
        idempotency_key: str,
        reference: str,
    ) -> Refund: ...
    def expire_session(self, session_id: str, idempotency_key: str) -> None: ...
    def create_account(self, tenant_id: str, email: str, idempotency_key: str) -> str: ...
    def create_account_link(self, account_id: str, refresh_url: str, return_url: str) -> str: ...
    def verify_event(self, payload: bytes, signature: str, now: float) -> dict[str, Any]: ...


def verify_signed_event(payload: bytes, signature: str, secret: str, now: float) -> dict[str, Any]:
    """The event of a webhook whose ``Stripe-Signature`` is valid for ``secret``: checked by the
    stripe library on the raw body (300 s tolerance for old timestamps), and refused as well when
    the timestamp lies more than the tolerance in the future."""
    for part in (signature or "").split(","):
        name, _, value = part.partition("=")
        if (
            name.strip() == "t"
            and value.strip().isdigit()
            and int(value) > now + SIGNATURE_TOLERANCE_SECONDS
        ):
            raise BadRequest(
                "The webhook signature's timestamp is in the future.", code="invalid_signature"
            )
    try:
        stripe.Webhook.construct_event(
            payload, signature or "", secret, tolerance=SIGNATURE_TOLERANCE_SECONDS
        )
        event = json.loads(payload)
    except (ValueError, UnicodeDecodeError, stripe.SignatureVerificationError):
        raise BadRequest("The webhook signature is not valid.", code="invalid_signature") from None
    if not isinstance(event, dict) or not isinstance(event.get("data"), dict):
        raise BadRequest("The webhook is not an event.", code="invalid_event")
    return event


class StripePayments:
    name = "stripe"

    def __init__(
        self,
        secret_key: str,
        webhook_secret: str,
        api_base: str | None = None,
        timeout_seconds: float = 10.0,
    ):
        options: dict[str, Any] = {"stripe_version": STRIPE_API_VERSION, "max_network_retries": 2}
        if api_base:
            options["base_addresses"] = {"api": api_base}
        self._client = stripe.StripeClient(
            secret_key, http_client=stripe.RequestsClient(timeout=timeout_seconds), **options
        )
        self._webhook_secret = webhook_secret

    def _call(self, fn: Any, params: dict[str, Any], idempotency_key: str | None = None) -> Any:
        options = {"idempotency_key": idempotency_key} if idempotency_key else {}
        try:
            return fn(params, options) if options else fn(params)
        except (stripe.APIConnectionError, stripe.RateLimitError) as error:
            raise PaymentsUnavailable(
                f"The payment provider is unreachable: {error.user_message or error}"
            ) from None
        except stripe.APIError as error:  # 5xx, or 409 "still in progress"
            raise PaymentsUnavailable(
                f"The payment provider failed: {error.user_message or error}"
            ) from None
        except stripe.StripeError as error:
            raise PaymentRefused(
                f"The payment provider refused the request: {error.user_message or error}"
            ) from None

    def create_checkout_session(
        self, request: CheckoutRequest, idempotency_key: str
    ) -> CheckoutSession:
        metadata = {"booking_id": request.booking_id, "tenant_id": request.tenant_id}
        params = {
            "mode": "payment",
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": request.currency.lower(),
                        "unit_amount": request.amount,
                        "product_data": {"name": request.description},
                    },
                }
            ],
            "payment_intent_data": {
                "application_fee_amount": request.application_fee,
                "transfer_data": {"destination": request.destination_account},
                "metadata": metadata,
            },
            "client_reference_id": request.booking_id,
            "metadata": metadata,
            "expires_at": request.expires_at,
            "success_url": request.success_url,
            "cancel_url": request.cancel_url,
        }
        if request.customer_email:
            params["customer_email"] = request.customer_email
        session = self._call(self._client.v1.checkout.sessions.create, params, idempotency_key)
        return CheckoutSession(session.id, session.url)

    def refund(
        self,
        payment_intent_id: str,
        *,
        amount: int,
        reverse_transfer: bool,
        refund_application_fee: bool,
        idempotency_key: str,
        reference: str,
    ) -> Refund:
        """Refund ``amount`` minor units of a payment (the platform fee proportionally, if asked).
        ``reference`` (our ledger entry) travels in the refund's metadata, so the provider's
        refund events name it."""
        params: dict[str, Any] = {
            "payment_intent": payment_intent_id,
            "amount": amount,
            "reverse_transfer": reverse_transfer,
            "refund_application_fee": refund_application_fee,
            "metadata": {"reason": "tierwise", "tierwise_refund": reference},
        }
        refund = self._call(self._client.v1.refunds.create, params, idempotency_key)
        return Refund(str(refund.id), str(refund.status or "pending"))

    def expire_session(self, session_id: str, idempotency_key: str) -> None:
        self._call(
            lambda params, options=None: self._client.v1.checkout.sessions.expire(
                session_id, params, options
            ),
            {},
            idempotency_key,
        )

    def create_account(self, tenant_id: str, email: str, idempotency_key: str) -> str:
        params = {"type": "express", "metadata": {"tenant_id": tenant_id}}
        if email:
            params["email"] = email
        return str(self._call(self._client.v1.accounts.create, params, idempotency_key).id)

    def create_account_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        params = {
            "account": account_id,
            "refresh_url": refresh_url,
            "return_url": return_url,
            "type": "account_onboarding",
        }
        return str(self._call(self._client.v1.account_links.create, params).url)

    def verify_event(self, payload: bytes, signature: str, now: float) -> dict[str, Any]:
        return verify_signed_event(payload, signature, self._webhook_secret, now)


class LocalPayments:
    """Offline stand-in for Stripe (embedded mode): sessions live in the booking rows; the local
    page signs its events with the same scheme as Stripe and posts them to our webhook handler."""

    name = "local"

    def __init__(self, webhook_secret: str, public_base_url: str):
        self._secret = webhook_secret
        self._base = public_base_url.rstrip("/")

    def create_checkout_session(
        self, request: CheckoutRequest, idempotency_key: str
    ) -> CheckoutSession:
        session_id = f"lcs_{request.booking_id}"
        return CheckoutSession(session_id, f"{self._base}/local-pay/{session_id}")

    def refund(
        self,
        payment_intent_id: str,
        *,
        amount: int,
        reverse_transfer: bool,
        refund_application_fee: bool,
        idempotency_key: str,
        reference: str,
    ) -> Refund:
        """A local refund succeeds at once (no money moved)."""
        return Refund(
            f"lre_{hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]}", "succeeded"
        )

    def expire_session(self, session_id: str, idempotency_key: str) -> None:
        return None  # a local session is only its booking row

    def create_account(self, tenant_id: str, email: str, idempotency_key: str) -> str:
        return f"acct_local_{tenant_id.replace('-', '')[:16]}"

    def create_account_link(self, account_id: str, refresh_url: str, return_url: str) -> str:
        return return_url

    def sign(self, payload: bytes, now: float | None = None) -> str:
        timestamp = int(time.time() if now is None else now)
        mac = hmac.new(
            self._secret.encode(), f"{timestamp}.".encode() + payload, hashlib.sha256
        ).hexdigest()
        return f"t={timestamp},v1={mac}"

    def verify_event(self, payload: bytes, signature: str, now: float) -> dict[str, Any]:
        return verify_signed_event(payload, signature, self._secret, now)


def local_event(event_type: str, session: dict[str, Any], now: dt.datetime) -> dict[str, Any]:
    """An event shaped like Stripe's, for the local provider's page."""
    stamp = int(now.timestamp())
    digest = hashlib.sha256(f"{event_type}:{session['id']}".encode()).hexdigest()[:24]
    return {
        "id": f"evt_local_{digest}",
        "object": "event",
        "type": event_type,
        "created": stamp,
        "livemode": False,
        "api_version": STRIPE_API_VERSION,
        "data": {"object": session},
    }
