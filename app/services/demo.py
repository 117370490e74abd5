"""The demo tenant seeded by ``make run``: three segments of three tiers, add-ons, a blackout."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from app.services import accounts, catalog, tenants
from pricing import catalog as domain
from pricing.errors import Conflict, NotFound
from storage.db import Database

DEMO_SLUG = "demo"

FEATURES = [
    ("guided_tour", "Guided tour"),
    ("lunch", "Lunch included"),
    ("photo_pack", "Photo pack"),
    ("private_guide", "Private guide"),
    ("lounge", "Lounge access"),
]

SEGMENTS = [
    ("budget", "Budget", 0, [4900, 6900, 8900], 1500),
    ("premium", "Premium", 1, [12900, 15900, 19900], 2500),
    ("luxury", "Luxury", 2, [29900, 36900, 49900], 5000),
]

#: (key, name, pricing, price in EUR cents, offered with the top tier of each segment only)
ADD_ONS = [
    ("breakfast", "Breakfast", "per_guest", 1200, False),
    ("transfer", "Airport transfer", "flat", 3500, False),
    ("spa", "Spa session", "per_guest", 4500, True),
]


def _features(level: int) -> list[dict[str, Any]]:
    values = {
        1: [True, False, False, False, "-"],
        2: [True, True, True, False, "Standard"],
        3: [True, True, True, True, "Premium"],
    }[level]
    return [
        {"key": k, "label": label, "value": v}
        for (k, label), v in zip(FEATURES, values, strict=True)
    ]


def seed_demo(db: Database, today: dt.date) -> domain.Tenant:
    """Create the demo tenant and its catalog unless it exists; return it."""
    try:
        return tenants.get_tenant(db, DEMO_SLUG)
    except NotFound:
        pass
    tenant = tenants.create_tenant(
        db,
        {
            "slug": DEMO_SLUG,
            "name": "Demo Adventures",
            "currency": "EUR",
            "time_zone": "Europe/Berlin",
            "default_capacity": 10,
        },
    )
    ultimate_ids = []
    for key, name, position, prices, per_guest in SEGMENTS:
        segment = catalog.create_segment(
            db, tenant, {"key": key, "name": name, "position": position}
        )
        created = []
        for level, price in zip(domain.TIER_LEVELS, prices, strict=True):
            tier = catalog.create_tier(
                db,
                tenant,
                {
                    "segment_id": segment.id,
                    "level": level,
                    "name": domain.TIER_LEVEL_NAMES[level],
                    "description": f"{name} {domain.TIER_LEVEL_NAMES[level]} package",
                    "base_price": {"amount": price, "currency": "EUR"},
                    "per_guest_price": {"amount": per_guest * level, "currency": "EUR"},
                    "max_guests": 8,
                    "features": _features(level),
                    "popular": level == 2,
                },
            )
            created.append(tier)
        for i, lower in enumerate(created[:-1]):  # every higher tier: the rules pick the level
            higher = [t.id for t in created[i + 1 :]]
            catalog.update_tier(db, tenant, lower.id, None, {"upsell_target_ids": higher})
        ultimate_ids.append(created[-1].id)
    for key, name, pricing, amount, top_tiers_only in ADD_ONS:
        catalog.create_add_on(
            db,
            tenant,
            {
                "key": key,
                "name": name,
                "pricing": pricing,
                "price": {"amount": amount, "currency": "EUR"},
                "tier_ids": ultimate_ids if top_tiers_only else [],
            },
        )
    catalog.add_blackouts(
        db,
        tenant,
        today + dt.timedelta(days=30),
        today + dt.timedelta(days=30),
        None,
        "Maintenance",
    )
    return tenant


def demo_api_key(
    db: Database, pepper: str, tenant: domain.Tenant, allowed_origins: Sequence[str] = ()
) -> str:
    """A fresh demo storefront key allowing ``allowed_origins`` (the demo page's); earlier demo
    keys are revoked."""
    page = tenants.list_api_keys(db, tenant, 0, 1000)
    for key in page.items:
        if key["name"] == "demo" and key["active"]:
            tenants.revoke_api_key(db, tenant, key["id"])
    secret: str = tenants.create_api_key(db, pepper, tenant, "demo", allowed_origins)["key"]
    return secret


DEMO_ADMIN_EMAIL = "admin@demo.example"


def demo_admin_login(db: Database, tenant: domain.Tenant) -> tuple[str, str]:
    """The demo tenant's console admin and a fresh password (created, or its password reset:
    a password is only ever shown once)."""
    try:
        _, password = accounts.create_user(
            db, tenant.id, DEMO_ADMIN_EMAIL, "tenant_admin", "Demo admin"
        )
    except Conflict:
        password = accounts.reset_password(db, DEMO_ADMIN_EMAIL)
    return DEMO_ADMIN_EMAIL, password
