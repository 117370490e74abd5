"""A storefront's calls through the Flask test client, each checking its answer: quote, check out,
pay at the fake Stripe and deliver its signed events, upgrade, set capacity, onboard for payments.

``tenant`` is a ``TenantFixture`` (tests/conftest.py); a tier is given as an index into its tiers
(0-2: levels 1-3), a tier, or a tier id; a date as ISO text or a ``datetime.date``."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from tests.conftest import WEBHOOK_SECRET, TenantFixture
from tests.support.dates import days_ahead
from tests.support.fake_stripe import FakeStripe, sign_webhook

#: the default service date of these helpers: any weekday, 20 days ahead
SOON = days_ahead(20)

Tier = Any  # an index into the tenant's tiers, a tier, or a tier id
Day = str | dt.date


def tier_id_of(tenant: TenantFixture, tier: Tier) -> str:
    if isinstance(tier, int):
        return tenant.tiers[tier].id
    return str(getattr(tier, "id", tier))


def iso(day: Day) -> str:
    return day if isinstance(day, str) else day.isoformat()


def onboard(client, tenant: TenantFixture, platform_headers: dict[str, str]) -> dict:
    """Payments onboarding of the tenant (by the platform): the 200 body."""
    answer = client.post(
        f"/v1/platform/tenants/{tenant.tenant.id}/payments-onboarding",
        headers=platform_headers,
        json={},
    )
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def post_quote(
    client, tenant: TenantFixture, tier: Tier = 1, date: Day = SOON, guests: Any = 2, **extra
):
    """POST /v1/storefront/quotes; the response, whatever it is."""
    return client.post(
        "/v1/storefront/quotes",
        headers=tenant.storefront,
        json={"tier_id": tier_id_of(tenant, tier), "date": iso(date), "guests": guests, **extra},
    )


def quote(
    client, tenant: TenantFixture, tier: Tier = 1, date: Day = SOON, guests: Any = 2, **extra
) -> dict:
    """A new quote: the 201 body."""
    response = post_quote(client, tenant, tier, date, guests, **extra)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def start(
    client,
    tenant: TenantFixture,
    token: str,
    key: str | None = None,
    email: str = "ana@example.com",
    name: str | None = "Ana",
):
    """POST /v1/storefront/checkouts of the quote ``token`` with ``key`` (a new one if None) as
    the Idempotency-Key; the response."""
    customer = {"email": email} if name is None else {"email": email, "name": name}
    return client.post(
        "/v1/storefront/checkouts",
        headers={**tenant.storefront, "Idempotency-Key": key or uuid.uuid4().hex},
        json={"quote_token": token, "customer": customer},
    )


def checkout(client, tenant: TenantFixture, token: str | None = None, key: str | None = None):
    """A started checkout (of a fresh quote unless ``token``): the 201 body. Quotes of a sold-out
    tier are refused, so tests reaching capacity keep a token from before."""
    response = start(client, tenant, token or quote(client, tenant)["token"], key)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def pay_at_fake(fake: FakeStripe, body: dict) -> dict:
    """The customer pays the booking's session at the fake; the completed session."""
    return fake.complete_session(body["checkout_session_id"])


def deliver(client, event: dict, secret: str = WEBHOOK_SECRET, **signing):
    """The event, signed with ``secret`` (``signing``: ``sign_webhook``'s options), posted to the
    webhook; the response."""
    signed = sign_webhook(event, secret, **signing)
    return client.post("/v1/webhooks/stripe", data=signed.payload, headers=signed.headers)


def applied(client, event: dict, outcome: str) -> dict:
    """Deliver ``event``; it answers 200 with ``outcome`` (exactly, or as a prefix ending in ':')."""
    answer = deliver(client, event)
    assert answer.status_code == 200, answer.get_json()
    got = answer.get_json()["outcome"]
    assert got == outcome or (outcome.endswith(":") and got.startswith(outcome)), got
    return answer.get_json()


def paid_booking(
    client,
    tenant: TenantFixture,
    fake: FakeStripe,
    key: str | None = None,
    tier: Tier = 1,
    date: Day = SOON,
) -> tuple[dict, dict]:
    """Quote, check out, pay at the fake and deliver the completion (answered "paid"): (the
    checkout's 201 body, the paid session)."""
    body = checkout(client, tenant, quote(client, tenant, tier, date)["token"], key)
    session = pay_at_fake(fake, body)
    applied(client, fake.event("checkout.session.completed", session["id"]), "paid")
    return body, session


def upgrade(client, tenant: TenantFixture, booking_id: str, tier: Tier, key: str | None = None):
    """POST the booking's move to ``tier`` (Idempotency-Key ``key``, a new one if None); the
    response."""
    return client.post(
        f"/v1/storefront/bookings/{booking_id}/upgrade",
        headers={**tenant.storefront, "Idempotency-Key": key or uuid.uuid4().hex},
        json={"to_tier_id": tier_id_of(tenant, tier)},
    )


def outside_refund(
    client,
    paid: dict,
    key: str | None = None,
    amount: int | None = None,
    refund_application_fee: bool = True,
) -> str:
    """A refund of ``paid``'s payment (a paid session, or a charge; all of the session's total
    unless ``amount``) made at the provider (its dashboard, support), not asked for by tierwise:
    the refund's id."""
    payments = client.application.extensions["tierwise"].checkout.payments
    refund = payments.refund(
        paid["payment_intent"],
        amount=paid["amount_total"] if amount is None else amount,
        reverse_transfer=True,
        refund_application_fee=refund_application_fee,
        idempotency_key=key or uuid.uuid4().hex,
        reference="dashboard",
    )
    return refund.id


def set_capacity(
    client,
    tenant: TenantFixture,
    units: int,
    tier: Tier = 1,
    date: Day = SOON,
    to: Day | None = None,
) -> None:
    """The tier's capacity from ``date`` (to ``to``, else onwards), set by the tenant's admin."""
    body: dict[str, Any] = {"from": iso(date), "units": units}
    if to is not None:
        body["to"] = iso(to)
    answer = client.put(
        f"/v1/admin/tiers/{tier_id_of(tenant, tier)}/capacity", headers=tenant.admin, json=body
    )
    assert answer.status_code == 200, answer.get_json()


def get_offers(
    client,
    tenant: TenantFixture,
    date: Day,
    guests: int = 2,
    add_ons: str | None = None,
    segment: str = "",
    **query,
):
    """GET the offers of ``segment`` (by default the tenant's) for the date and party, with the
    ``add_ons`` chosen (comma-separated keys or ids) and any other ``query``; the response."""
    query = {"date": iso(date), "guests": guests, **query}
    if add_ons is not None:
        query["add_ons"] = add_ons
    return client.get(
        f"/v1/storefront/segments/{segment or tenant.segment.key}/offers",
        headers=tenant.storefront,
        query_string=query,
    )


def ok_offers(
    client, tenant: TenantFixture, date: Day, guests: int = 2, add_ons: str | None = None
) -> dict:
    """The tenant's segment's offers: the 200 body."""
    response = get_offers(client, tenant, date, guests, add_ons)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def by_level(body: dict) -> dict[int, dict]:
    """The offers of an offers answer by tier level."""
    return {o["tier"]["level"]: o for o in body["offers"]}
