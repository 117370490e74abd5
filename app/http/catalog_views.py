"""The storefront's catalog bodies (segments list, tier comparison) as plain JSON in the shapes
the schemas document (``PublicSegmentSchema``, ``TierComparisonSchema``), built directly from
the domain values: the schemas stay for the OpenAPI document, and tests hold each builder's
output to the schema's dump."""

from __future__ import annotations

from typing import Any

from pricing import catalog as domain
from pricing.money import Money


def _money(money: Money) -> dict[str, Any]:
    return {"amount": money.amount, "currency": money.currency}


def segment_body(segment: domain.Segment) -> dict[str, Any]:
    """``PublicSegmentSchema``."""
    theme = segment.theme
    return {
        "id": segment.id,
        "key": segment.key,
        "name": segment.name,
        "position": segment.position,
        "theme": {
            "primary_color": theme.primary_color,
            "accent_color": theme.accent_color,
            "font_family": theme.font_family,
            "radius": theme.radius,
        },
    }


def segments_body(segments: list[domain.Segment]) -> list[dict[str, Any]]:
    return [segment_body(s) for s in segments]


def comparison_body(comparison: domain.TierComparison) -> dict[str, Any]:
    """``TierComparisonSchema``."""
    return {
        "segment": segment_body(comparison.segment),
        "currency": comparison.currency,
        "tiers": [
            {
                "id": t.id,
                "level": t.level,
                "name": t.name,
                "description": t.description,
                "base_price": _money(t.base_price),
                "per_guest_price": _money(t.per_guest_price),
                "max_guests": t.max_guests,
                "popular": t.popular,
                "upsell_target_ids": list(t.upsell_target_ids),
                "photos": list(t.photos),
            }
            for t in comparison.tiers
        ],
        "feature_matrix": [
            {"key": row.key, "label": row.label, "values": list(row.values)}
            for row in comparison.feature_matrix
        ],
        "add_ons": [
            {
                "id": a.id,
                "key": a.key,
                "name": a.name,
                "pricing": a.pricing,
                "price": _money(a.price),
                "tier_ids": list(a.tier_ids),
            }
            for a in comparison.add_ons
        ],
    }
