"""POST /v1/storefront/quotes and /quotes/verify: a signed price lock equal to the offer price,
verified per tenant, refused when tampered with, expired or for an unbookable selection."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from app.adapters.quotes import QuoteClaims, QuoteSigner
from pricing.errors import InvalidInput
from storage import models as m
from tests.support.dates import tenant_today, weekday_ahead
from tests.support.http import error_of
from tests.support.rows import count
from tests.support.storefront import post_quote, quote, set_capacity

VERIFY = "/v1/storefront/quotes/verify"


def offer_of(client, fx, tier_id: str, day: dt.date, guests: int = 2, add_ons: str = "") -> dict:
    query: dict = {"date": day.isoformat(), "guests": guests}
    if add_ons:
        query["add_ons"] = add_ons
    response = client.get(
        f"/v1/storefront/segments/{fx.segment.key}/offers",
        headers=fx.storefront,
        query_string=query,
    )
    assert response.status_code == 200, response.get_json()
    return next(o for o in response.get_json()["offers"] if o["tier"]["id"] == tier_id)


def verify(client, fx, token: str):
    return client.post(VERIFY, headers=fx.storefront, json={"token": token})


def claims_for(fx, **changes) -> QuoteClaims:
    tier = fx.tiers[0]
    claims = QuoteClaims(
        quote_id=str(uuid.uuid4()),
        tenant_id=fx.tenant.id,
        segment_id=fx.segment.id,
        tier_id=tier.id,
        service_date=weekday_ahead().isoformat(),
        guests=2,
        add_on_ids=[],
        currency="EUR",
        subtotal=12000,
        total=12000,
        platform_fee=1200,
        ruleset_version=1,
        ruleset_hash="0" * 64,
        expires_at=int(dt.datetime.now(dt.UTC).timestamp()) + 600,
    )
    return dataclasses.replace(claims, **changes)


def tamper(token: str, index: int) -> str:
    replacement = "A" if token[index] != "A" else "B"
    return token[:index] + replacement + token[index + 1 :]


# ---- creating a quote ---------------------------------------------------------------------------


def test_quote_is_signed_and_priced_like_the_offer(client, db, settings, tenant_a):
    fx = tenant_a
    day = weekday_ahead()
    tier = fx.tiers[2]
    before = count(db, m.Decision, fx.tenant.id)
    started = dt.datetime.now(dt.UTC)
    body = quote(client, fx, tier.id, day, 2, add_ons=["breakfast"])
    finished = dt.datetime.now(dt.UTC)
    assert count(db, m.Decision, fx.tenant.id) == before + 1

    assert body["tier_id"] == tier.id
    assert (body["service_date"], body["guests"]) == (day.isoformat(), 2)
    assert body["add_on_ids"] == [fx.add_on.id]
    assert body["price"]["total"] == 33800  # 30000 + 2 × 1000 + 2 × 900
    assert body["price"]["subtotal"] == 33800
    assert body["price"] == offer_of(client, fx, tier.id, day, 2, "breakfast")["price"]
    assert body["ruleset"]["version"] == 1
    assert isinstance(body["token"], str) and len(body["token"]) > 40

    expires = dt.datetime.fromisoformat(body["expires_at"])
    ttl = dt.timedelta(seconds=settings.quote_ttl_seconds)
    assert settings.quote_ttl_seconds == 900
    assert started + ttl - dt.timedelta(seconds=1) <= expires <= finished + ttl

    # One decision, purpose quote, linked to the quote.
    assert len(body["decision_ids"]) == 1
    with db.transaction() as s:
        row = s.scalars(
            select(m.Decision).where(
                m.Decision.tenant_id == uuid.UUID(fx.tenant.id),
                m.Decision.id == uuid.UUID(body["decision_ids"][0]),
            )
        ).one()
    assert (row.purpose, row.quote_id) == ("quote", body["quote_id"])
    assert row.kinds == ["season", "last_minute", "commission"]
    assert row.context["add_on_ids"] == [fx.add_on.id]


def test_quote_price_equals_the_offer_with_rules_applied(client, db, tenant_a):
    fx = tenant_a
    for lead in (2, 5, 12):  # last-minute 15 %, 5 %, none; whatever the weekday and month
        day = tenant_today() + dt.timedelta(days=lead)
        for tier in fx.tiers:
            body = quote(client, fx, tier.id, day, 3)
            assert body["price"] == offer_of(client, fx, tier.id, day, 3)["price"], (lead, tier)


def test_verify_returns_the_claims(client, db, tenant_a):
    fx = tenant_a
    day = weekday_ahead()
    created = quote(client, fx, fx.tiers[0].id, day, 2, visitor_id="v-1")
    response = verify(client, fx, created["token"])
    assert response.status_code == 200, response.get_json()
    claims = response.get_json()
    assert claims == {
        "quote_id": created["quote_id"],
        "tier_id": fx.tiers[0].id,
        "segment_id": fx.segment.id,
        "service_date": day.isoformat(),
        "guests": 2,
        "add_on_ids": [],
        "currency": "EUR",
        "subtotal": 12000,
        "total": 12000,
        "ruleset_version": 1,
        "expires_at": created["expires_at"],  # ISO 8601 with its offset, as the quote says
        "visitor_id": "v-1",
        "experiment": "",
        "variant": "",  # no experiment is running
    }


def test_the_signed_claims_carry_tenant_fee_and_ruleset(client, db, settings, tenant_a):
    fx = tenant_a
    created = quote(client, fx, fx.tiers[1].id, weekday_ahead(), 1)
    signer = QuoteSigner(settings.quote_secret, settings.quote_ttl_seconds)
    claims = signer.verify(created["token"], fx.tenant.id, dt.datetime.now(dt.UTC))
    assert claims.tenant_id == fx.tenant.id
    assert (claims.total, claims.platform_fee) == (21000, 2100)  # commission 10 %
    assert claims.ruleset_hash == created["ruleset"]["content_hash"]
    assert claims.decision_ids == created["decision_ids"]


# ---- verifying ----------------------------------------------------------------------------------


def test_a_token_with_one_character_changed_is_invalid(client, db, tenant_a):
    fx = tenant_a
    token = quote(client, fx, fx.tiers[0].id, weekday_ahead())["token"]
    payload_end = token.rindex(".")
    for index in (0, 5, payload_end // 2, payload_end - 1, payload_end + 3):
        error_of(verify(client, fx, tamper(token, index)), 422, "quote_invalid")
    error_of(verify(client, fx, token[:-4]), 422, "quote_invalid")
    error_of(verify(client, fx, "not-a-token"), 422, "quote_invalid")
    error_of(verify(client, fx, ""), 422, "validation_error")
    assert verify(client, fx, token).status_code == 200


def test_an_expired_token_is_refused(client, db, settings, tenant_a):
    fx = tenant_a
    signer = QuoteSigner(settings.quote_secret, settings.quote_ttl_seconds)
    now = int(dt.datetime.now(dt.UTC).timestamp())
    expired = signer.sign(claims_for(fx, expires_at=now - 1))
    error_of(verify(client, fx, expired), 422, "quote_expired")
    long_ago = signer.sign(claims_for(fx, expires_at=now - 86400))
    error_of(verify(client, fx, long_ago), 422, "quote_expired")
    fresh = signer.sign(claims_for(fx, expires_at=now + 60))
    assert verify(client, fx, fresh).status_code == 200


def test_a_quote_expires_after_the_ttl(client, db, settings, tenant_a):
    """The signer's own clock: a token signed now verifies until now + TTL, not at it."""
    fx = tenant_a
    signer = QuoteSigner(settings.quote_secret, settings.quote_ttl_seconds)
    token = quote(client, fx, fx.tiers[0].id, weekday_ahead())["token"]
    now = dt.datetime.now(dt.UTC)
    assert signer.verify(token, fx.tenant.id, now).tier_id == fx.tiers[0].id
    later = now + dt.timedelta(seconds=settings.quote_ttl_seconds + 2)
    with pytest.raises(InvalidInput) as raised:
        signer.verify(token, fx.tenant.id, later)
    assert raised.value.code == "quote_expired"


def test_another_tenants_token_is_invalid(client, db, tenant_a, tenant_b):
    token_b = quote(client, tenant_b, tenant_b.tiers[0].id, weekday_ahead())["token"]
    error_of(verify(client, tenant_a, token_b), 422, "quote_invalid")
    assert verify(client, tenant_b, token_b).status_code == 200


def test_a_token_signed_with_another_secret_is_invalid(client, db, settings, tenant_a):
    other = QuoteSigner("another-quote-secret-" + "z" * 40, settings.quote_ttl_seconds)
    error_of(verify(client, tenant_a, other.sign(claims_for(tenant_a))), 422, "quote_invalid")


# ---- refused quotes -----------------------------------------------------------------------------


def test_unbookable_or_invalid_selections_are_refused_without_decisions(
    client, db, tenant_a, tenant_b
):
    fx = tenant_a
    day = weekday_ahead()
    response = client.post(
        "/v1/admin/blackouts",
        headers=fx.admin,
        json={"from": day.isoformat(), "tier_id": fx.tiers[0].id, "reason": "closed"},
    )
    assert response.status_code == 201
    set_capacity(client, fx, 0, tier=1, date=day)
    before = count(db, m.Decision, fx.tenant.id)

    error_of(post_quote(client, fx, fx.tiers[0].id, day), 422, "tier_blacked_out")
    error_of(post_quote(client, fx, fx.tiers[1].id, day), 422, "tier_sold_out")
    error_of(post_quote(client, fx, fx.tiers[2].id, day, 7), 422, "tier_party_too_large")
    # Breakfast is only available with the Ultimate.
    day2 = day + dt.timedelta(days=1)
    error_of(
        post_quote(client, fx, fx.tiers[1].id, day2, add_ons=["breakfast"]),
        422,
        "add_on_not_available",
    )
    error_of(
        post_quote(client, fx, fx.tiers[2].id, day2, add_ons=["caviar"]), 422, "unknown_add_on"
    )
    error_of(post_quote(client, fx, str(uuid.uuid4()), day2), 404, "tier_not_found")
    error_of(post_quote(client, fx, tenant_b.tiers[0].id, day2), 404, "tier_not_found")
    error_of(
        post_quote(client, fx, fx.tiers[2].id, tenant_today() - dt.timedelta(days=1)),
        422,
        "date_in_past",
    )
    error_of(post_quote(client, fx, fx.tiers[2].id, day2, 0), 422, "validation_error")
    error_of(post_quote(client, fx, fx.tiers[2].id, day2, "2"), 422, "validation_error")
    error_of(post_quote(client, fx, fx.tiers[2].id, day2, surprise=1), 422, "validation_error")
    assert count(db, m.Decision, fx.tenant.id) == before

    # The same tiers on the next day quote fine.
    assert quote(client, fx, fx.tiers[0].id, day2)["price"]["total"] == 12000
    assert count(db, m.Decision, fx.tenant.id) == before + 1


def test_archived_tier_cannot_be_quoted(client, db, tenant_a):
    fx = tenant_a
    assert client.post(f"/v1/admin/tiers/{fx.tiers[0].id}/archive", headers=fx.admin).status_code
    error_of(post_quote(client, fx, fx.tiers[0].id, weekday_ahead()), 404, "tier_not_found")
