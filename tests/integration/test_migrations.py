"""Migrations that fix existing data before adding a constraint, run on PostgreSQL and on SQLite
(the embedded default) from the revision before them."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from alembic import command
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from storage import models as m
from storage.db import alembic_config, make_engine
from tests.support.databases import scratch_database


@pytest.fixture(params=["postgresql", "sqlite"])
def scratch_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/migrations.db"
    return scratch_database("migrations")


def test_one_popular_tier_keeps_the_active_most_recently_updated_badge(scratch_url):
    config = alembic_config(scratch_url)
    engine = make_engine(scratch_url)
    try:
        # Tenant and segments through today's models, then down to 0011 for the tiers of old.
        command.upgrade(config, "head")
        tenant, premium, budget = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        old = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        new = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)

        def tier(segment, level, popular, status="active", updated_at=old):
            return {
                "tenant_id": tenant,
                "id": uuid.uuid4(),
                "segment_id": segment,
                "level": level,
                "name": f"L{level}",
                "base_price_minor": 100,
                "max_guests": 2,
                "popular": popular,
                "status": status,
                "updated_at": updated_at,
            }

        premium_tiers = [
            tier(premium, 1, True, updated_at=new),
            tier(premium, 2, True),
            tier(premium, 3, True, status="archived", updated_at=new + dt.timedelta(days=1)),
        ]
        budget_tiers = [tier(budget, 1, False), tier(budget, 2, True)]
        with engine.begin() as conn:
            conn.execute(
                insert(m.Tenant).values(
                    id=tenant, slug="t", name="T", currency="EUR", time_zone="UTC"
                )
            )
            for segment, key in ((premium, "premium"), (budget, "budget")):
                conn.execute(
                    insert(m.Segment).values(tenant_id=tenant, id=segment, key=key, name=key)
                )
        command.downgrade(config, "0011")
        with engine.begin() as conn:
            conn.execute(insert(m.Tier), premium_tiers + budget_tiers)

        command.upgrade(config, "head")

        with engine.connect() as conn:
            rows = {
                r.id: (r.popular, r.version)
                for r in conn.execute(select(m.Tier.id, m.Tier.popular, m.Tier.version))
            }
        # Premium: the active, most recently updated tier keeps it; the others are unflagged and
        # their versions bumped (ETags read before are stale). Budget had one: untouched.
        assert [rows[t["id"]] for t in premium_tiers] == [(True, 1), (False, 2), (False, 2)]
        assert [rows[t["id"]] for t in budget_tiers] == [(False, 1), (True, 1)]
        with pytest.raises(IntegrityError, match=r"(?i)unique"), engine.begin() as conn:
            conn.execute(insert(m.Tier).values(**tier(budget, 3, True)))

        command.downgrade(config, "0011")
        command.upgrade(config, "head")
    finally:
        engine.dispose()
