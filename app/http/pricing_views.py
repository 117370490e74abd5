"""The response bodies of priced things: offers, quotes and moves between tiers (one builder per
resource), from the values ``pricing.offers`` returns. Plain JSON in the shapes the schemas
document (``OffersSchema``, ``QuoteSchema``, ``UpgradeQuoteSchema``; tests hold each builder's
output to the schema's dump), built directly: the offers route skips the schema dump, most of a
millisecond on the hottest route."""

from __future__ import annotations

import datetime as dt
from typing import Any

from app.services.offers import SignedQuote
from pricing import catalog as domain
from pricing import offers as pricing_offers
from pricing import pricer, quotes
from pricing.money import Money, plain_decimal
from pricing.price import Price, breakdown

#: What a proportional line's ``rate`` is called in the API, by line code.
RATE_NAMES = {
    "season": "multiplier",
    "last_minute": "percent_off",
    "upsell": "percent_off",
    "max_discount": "max_percent_off",
}


def price_body(price: Price, platform_fee: bool = False) -> dict[str, Any]:
    """A price (``PriceSchema``): integer minor units throughout, lines that add up to the total
    (``pricing.price.breakdown``). ``platform_fee``: for admins only (it is the tenant's cost, not
    the customer's)."""
    lines = []
    for line in breakdown(price):
        shown: dict[str, Any] = {
            "code": line.code,
            "label": line.label,
            "amount": line.amount,
            "rules": list(line.rules),
        }
        if line.rate is not None:
            shown[RATE_NAMES[line.code]] = plain_decimal(line.rate)
            shown["base"] = line.base
        lines.append(shown)
    body = {
        "currency": price.currency,
        "subtotal": price.subtotal,
        "total": price.total,
        "discount": price.discount,
        "lines": lines,
    }
    if platform_fee:
        body["platform_fee"] = price.platform_fee
    return body


def _money(money: Money) -> dict[str, Any]:
    return {"amount": money.amount, "currency": money.currency}


def _tier(tier: domain.Tier) -> dict[str, Any]:
    """A tier as offers show it (``OfferTierSchema``)."""
    return {
        "id": tier.id,
        "level": tier.level,
        "name": tier.name,
        "description": tier.description,
        "base_price": _money(tier.base_price),
        "per_guest_price": _money(tier.per_guest_price),
        "max_guests": tier.max_guests,
        "popular": tier.popular,
        "upsell_target_ids": list(tier.upsell_target_ids),
        "photos": list(tier.photos),
        "features": [{"key": f.key, "label": f.label, "value": f.value} for f in tier.features],
    }


def _features(gained: tuple[tuple[str, str, Any, Any], ...]) -> list[dict[str, Any]]:
    return [{"key": k, "label": label, "from": a, "to": b} for k, label, a, b in gained]


def _upsell(
    upsell: pricing_offers.TierUpsell | pricing_offers.AddOnUpsell | None,
) -> dict[str, Any] | None:
    if isinstance(upsell, pricing_offers.TierUpsell):
        return {
            "type": "tier",
            "tier_id": upsell.tier.id,
            "tier_name": upsell.tier.name,
            "message_key": upsell.message_key,
            "placement": upsell.placement,
            "percent_off": str(upsell.percent_off),
            "total": upsell.total,
            "difference": upsell.difference,
            "features_gained": _features(quotes.features_gained(upsell.source, upsell.tier)),
            "rules": list(upsell.rules),
        }
    if isinstance(upsell, pricing_offers.AddOnUpsell):
        return {
            "type": "add_on",
            "add_on_id": upsell.add_on.id,
            "add_on_key": upsell.add_on.key,
            "message_key": upsell.message_key,
            "placement": upsell.placement,
            "percent_off": str(upsell.percent_off),
            "price": upsell.price,
            "total": upsell.total,
            "rules": list(upsell.rules),
        }
    return None


def _fallback(fallback: pricing_offers.Fallback, platform_fee: bool) -> dict[str, Any]:
    return {
        "rank": fallback.rank,
        "strategy": fallback.strategy,
        "reason": fallback.reason,
        "segment_key": fallback.segment.key,
        "tier_id": fallback.tier.id,
        "tier_name": fallback.tier.name,
        "level": fallback.tier.level,
        "service_date": fallback.service_date.isoformat(),
        "price": price_body(fallback.price, platform_fee),
        "units_left": fallback.units_left,
        "decision_id": fallback.decision_id,
    }


def _ruleset(ref: pricer.RulesetRef) -> dict[str, Any]:
    return {"version": ref.version, "content_hash": ref.content_hash}


def _experiment(assignment: pricer.Assignment | None) -> dict[str, str] | None:
    return {"key": assignment.key, "variant": assignment.variant} if assignment else None


def offers_body(sheet: pricing_offers.OfferSheet, platform_fee: bool = False) -> dict[str, Any]:
    """``OffersSchema`` (``PreviewOffersSchema`` with ``platform_fee``)."""
    segment = sheet.segment
    return {
        "segment": {
            "id": segment.id,
            "key": segment.key,
            "name": segment.name,
            "position": segment.position,
        },
        "service_date": sheet.selection.service_date.isoformat(),
        "guests": sheet.selection.guests,
        "currency": sheet.currency,
        "ruleset": _ruleset(sheet.ruleset),
        "experiment": _experiment(sheet.assignment),
        "offers": [
            {
                "tier": _tier(offer.tier),
                "price": price_body(offer.price, platform_fee),
                "availability": {
                    "status": offer.availability.status,
                    "units_left": offer.availability.units_left,
                },
                "add_ons_applied": list(offer.add_ons_applied),
                "add_ons_unavailable": list(offer.add_ons_unavailable),
                "upsell": _upsell(offer.upsell),
                "fallback": [_fallback(f, platform_fee) for f in offer.fallbacks],
                "decision_id": offer.decision_id,
            }
            for offer in sheet.tiers
        ],
        "decision_ids": [e.id for e in sheet.evaluations],
    }


def quote_body(signed: SignedQuote) -> dict[str, Any]:
    """``QuoteSchema``."""
    quote, claims = signed.quote, signed.claims
    return {
        "quote_id": signed.quote_id,
        "token": signed.token,
        "expires_at": dt.datetime.fromtimestamp(claims.expires_at, dt.UTC),
        "tier_id": quote.tier.id,
        "service_date": dt.date.fromisoformat(claims.service_date),
        "guests": claims.guests,
        "add_on_ids": claims.add_on_ids,
        "price": price_body(quote.price),
        "ruleset": _ruleset(quote.ruleset),
        "experiment": _experiment(quote.assignment),
        "decision_ids": [quote.decision_id],
    }


def quote_json(signed: SignedQuote) -> dict[str, Any]:
    """``QuoteSchema``'s dump of ``quote_body`` (its instant and date as ISO text), built
    directly: the quotes route answers it without a second pass through the schema."""
    body = quote_body(signed)
    body["expires_at"] = body["expires_at"].isoformat()
    body["service_date"] = body["service_date"].isoformat()
    return body


def move_body(move: quotes.MoveQuote) -> dict[str, Any]:
    """``UpgradeQuoteSchema``."""
    return {
        "allowed": move.allowed,
        "reason": move.reason,
        "rules": list(move.rules),
        "from_tier_id": move.source.id,
        "to_tier_id": move.target.id,
        "from_price": price_body(move.from_price),
        "to_price": price_body(move.to_price),
        "amount_paid": move.amount_paid,
        "platform_fee_paid": move.platform_fee_paid,
        "difference": move.difference,
        "platform_fee_difference": move.platform_fee_difference,
        "currency": move.to_price.currency,
        "features_gained": _features(move.features_gained),
        "availability": {
            "status": move.availability.status,
            "units_left": move.availability.units_left,
        },
        "decision_ids": [e.id for e in move.evaluations],
        "decision_id": move.decision_id,
    }
