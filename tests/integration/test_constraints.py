"""The database itself refuses bad rows, whatever the application does.

Rows are written with SQLAlchemy Core inserts/updates (no validation of ours in the way) inside the
test's transaction; every expected violation runs in a savepoint (``session.begin_nested()``) so the
IntegrityError does not poison the rest of the test, and names the constraint that fired.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from storage import models as m


def tier_values(tenant_id: str, segment_id: str, **overrides) -> dict:
    return {
        "tenant_id": uuid.UUID(tenant_id),
        "id": uuid.uuid4(),
        "segment_id": uuid.UUID(segment_id),
        "level": 1,
        "name": "Raw",
        "base_price_minor": 100,
        "per_guest_price_minor": 0,
        "max_guests": 2,
        "status": "active",
        **overrides,
    }


def refused(session, statement, constraint: str) -> None:
    """``statement`` fails in a savepoint with a violation of ``constraint``."""
    with pytest.raises(IntegrityError) as caught, session.begin_nested():
        session.execute(statement)
    assert caught.value.orig.diag.constraint_name == constraint, caught.value.orig


def accepted(session, statement) -> None:
    with session.begin_nested():
        session.execute(statement)


def tiers_at(session, segment_id: str, level: int) -> list[str]:
    return list(
        session.scalars(
            select(m.Tier.status).where(
                m.Tier.segment_id == uuid.UUID(segment_id), m.Tier.level == level
            )
        )
    )


def test_one_active_tier_per_segment_and_level_but_archived_ones_may_share(db, tenant_a):
    a = tenant_a
    with db.transaction() as s:
        refused(
            s,
            insert(m.Tier).values(**tier_values(a.tenant.id, a.segment.id, level=1)),
            "uq_tiers_active_level",
        )
        assert tiers_at(s, a.segment.id, 1) == ["active"]

        archived = tier_values(a.tenant.id, a.segment.id, level=1, status="archived")
        accepted(s, insert(m.Tier).values(**archived))
        second = tier_values(a.tenant.id, a.segment.id, level=1, status="archived")
        accepted(s, insert(m.Tier).values(**second))
        assert sorted(tiers_at(s, a.segment.id, 1)) == ["active", "archived", "archived"]

        # Re-activating an archived tier while the level is held is refused too.
        refused(
            s,
            update(m.Tier).where(m.Tier.id == archived["id"]).values(status="active"),
            "uq_tiers_active_level",
        )
        # Moving an active tier onto a held level is refused.
        refused(
            s,
            update(m.Tier).where(m.Tier.id == uuid.UUID(a.tiers[1].id)).values(level=1),
            "uq_tiers_active_level",
        )
        # The same level in another segment is fine.
        other = uuid.uuid4()
        accepted(
            s,
            insert(m.Segment).values(
                tenant_id=uuid.UUID(a.tenant.id), id=other, key="other", name="Other"
            ),
        )
        accepted(s, insert(m.Tier).values(**tier_values(a.tenant.id, str(other), level=1)))
        assert tiers_at(s, str(other), 1) == ["active"]


@pytest.mark.parametrize(
    ("column", "constraint"),
    [
        ("base_price_minor", "ck_tiers_base_price_non_negative"),
        ("per_guest_price_minor", "ck_tiers_per_guest_price_non_negative"),
    ],
)
def test_negative_tier_prices_are_refused(db, tenant_a, column, constraint):
    a = tenant_a
    with db.transaction() as s:
        values = tier_values(a.tenant.id, a.segment.id, status="archived", **{column: -1})
        refused(s, insert(m.Tier).values(**values), constraint)
        refused(
            s,
            update(m.Tier).where(m.Tier.id == uuid.UUID(a.tiers[0].id)).values(**{column: -1}),
            constraint,
        )
        zero = tier_values(a.tenant.id, a.segment.id, status="archived", **{column: 0})
        accepted(s, insert(m.Tier).values(**zero))
        stored = s.scalar(
            select(getattr(m.Tier, column)).where(m.Tier.id == uuid.UUID(a.tiers[0].id))
        )
        assert stored == {"base_price_minor": 10000, "per_guest_price_minor": 1000}[column]


def test_negative_add_on_price_is_refused(db, tenant_a):
    with db.transaction() as s:
        refused(
            s,
            insert(m.AddOn).values(
                tenant_id=uuid.UUID(tenant_a.tenant.id),
                id=uuid.uuid4(),
                key="neg",
                name="Neg",
                pricing="flat",
                price_minor=-1,
            ),
            "ck_add_ons_price_non_negative",
        )
        refused(
            s,
            update(m.AddOn)
            .where(m.AddOn.id == uuid.UUID(tenant_a.add_on.id))
            .values(price_minor=-5),
            "ck_add_ons_price_non_negative",
        )
        assert (
            s.scalar(select(m.AddOn.price_minor).where(m.AddOn.id == uuid.UUID(tenant_a.add_on.id)))
            == 900
        )


def test_negative_capacity_is_refused(db, tenant_a):
    tenant_id, tier_id = uuid.UUID(tenant_a.tenant.id), uuid.UUID(tenant_a.tiers[0].id)
    day = dt.date(2031, 3, 1)
    with db.transaction() as s:
        refused(
            s,
            insert(m.Capacity).values(
                tenant_id=tenant_id, tier_id=tier_id, service_date=day, units=-1
            ),
            "ck_capacity_units_non_negative",
        )
        accepted(
            s,
            insert(m.Capacity).values(
                tenant_id=tenant_id, tier_id=tier_id, service_date=day, units=0
            ),
        )
        refused(
            s,
            update(m.Capacity).where(m.Capacity.tier_id == tier_id).values(units=-3),
            "ck_capacity_units_non_negative",
        )
        refused(
            s,
            update(m.Tenant).where(m.Tenant.id == tenant_id).values(default_capacity=-1),
            "ck_tenants_default_capacity_non_negative",
        )
        assert s.scalar(select(m.Capacity.units).where(m.Capacity.tier_id == tier_id)) == 0


@pytest.mark.parametrize("level", [0, 4, -1, 100])
def test_level_outside_1_to_3_is_refused(db, tenant_a, level):
    a = tenant_a
    with db.transaction() as s:
        values = tier_values(a.tenant.id, a.segment.id, level=level, status="archived")
        refused(s, insert(m.Tier).values(**values), "ck_tiers_level_range")
        assert (
            s.scalar(select(func.count()).select_from(m.Tier).where(m.Tier.id == values["id"])) == 0
        )


def test_levels_1_to_3_are_accepted(db, tenant_a):
    a = tenant_a
    with db.transaction() as s:
        for level in (1, 2, 3):
            accepted(
                s,
                insert(m.Tier).values(
                    **tier_values(a.tenant.id, a.segment.id, level=level, status="archived")
                ),
            )
        assert sorted(
            s.scalars(
                select(m.Tier.level).where(
                    m.Tier.segment_id == uuid.UUID(a.segment.id), m.Tier.status == "archived"
                )
            )
        ) == [1, 2, 3]


def test_cross_tenant_references_are_refused_by_composite_foreign_keys(db, tenant_a, tenant_b):
    a, b = tenant_a, tenant_b
    a_id = uuid.UUID(a.tenant.id)
    b_tier = uuid.UUID(b.tiers[0].id)
    with db.transaction() as s:
        # A tier of tenant A in tenant B's segment.
        refused(
            s,
            insert(m.Tier).values(**tier_values(a.tenant.id, b.segment.id, status="archived")),
            "fk_tiers_tenant_id_segment_id_segments",
        )
        # Moving one of A's tiers into B's segment.
        refused(
            s,
            update(m.Tier)
            .where(m.Tier.id == uuid.UUID(a.tiers[0].id))
            .values(segment_id=uuid.UUID(b.segment.id)),
            "fk_tiers_tenant_id_segment_id_segments",
        )
        # A's capacity, blackouts and add-on limits pointing at B's tier.
        refused(
            s,
            insert(m.Capacity).values(
                tenant_id=a_id, tier_id=b_tier, service_date=dt.date(2031, 1, 1), units=1
            ),
            "fk_capacity_tenant_id_tier_id_tiers",
        )
        refused(
            s,
            insert(m.Blackout).values(
                tenant_id=a_id, id=uuid.uuid4(), tier_id=b_tier, service_date=dt.date(2031, 1, 2)
            ),
            "fk_blackouts_tenant_id_tier_id_tiers",
        )
        refused(
            s,
            insert(m.AddOnTier).values(
                tenant_id=a_id, add_on_id=uuid.UUID(a.add_on.id), tier_id=b_tier
            ),
            "fk_add_on_tiers_tenant_id_tier_id_tiers",
        )
        # B's add-on limited to A's tier, written with B's tenant id.
        refused(
            s,
            insert(m.AddOnTier).values(
                tenant_id=uuid.UUID(b.tenant.id),
                add_on_id=uuid.UUID(b.add_on.id),
                tier_id=uuid.UUID(a.tiers[0].id),
            ),
            "fk_add_on_tiers_tenant_id_tier_id_tiers",
        )
        # Nothing of the above was stored; A's own references still work.
        assert s.scalar(
            select(m.Tier.segment_id).where(m.Tier.id == uuid.UUID(a.tiers[0].id))
        ) == uuid.UUID(a.segment.id)
        accepted(
            s, insert(m.Tier).values(**tier_values(a.tenant.id, a.segment.id, status="archived"))
        )
        links = s.execute(
            select(m.AddOnTier.tenant_id, m.AddOnTier.tier_id).where(m.AddOnTier.tier_id == b_tier)
        ).all()
        assert links == []


def test_blackouts_are_unique_per_date_tenant_wide_and_per_tier(db, tenant_a):
    tenant_id, tier_id = uuid.UUID(tenant_a.tenant.id), uuid.UUID(tenant_a.tiers[0].id)
    day = dt.date(2031, 1, 1)  # the fixture closed this date for tier 0
    with db.transaction() as s:
        refused(
            s,
            insert(m.Blackout).values(
                tenant_id=tenant_id, id=uuid.uuid4(), tier_id=tier_id, service_date=day
            ),
            "uq_blackouts_tier",
        )
        accepted(
            s,
            insert(m.Blackout).values(
                tenant_id=tenant_id, id=uuid.uuid4(), tier_id=None, service_date=day
            ),
        )
        refused(
            s,
            insert(m.Blackout).values(
                tenant_id=tenant_id, id=uuid.uuid4(), tier_id=None, service_date=day
            ),
            "uq_blackouts_tenant_wide",
        )
        count = s.scalar(
            select(func.count())
            .select_from(m.Blackout)
            .where(m.Blackout.tenant_id == tenant_id, m.Blackout.service_date == day)
        )
        assert count == 2


def test_a_violation_inside_a_savepoint_leaves_the_transaction_usable(db, tenant_a):
    with db.transaction() as s:
        refused(
            s,
            insert(m.Tier).values(**tier_values(tenant_a.tenant.id, tenant_a.segment.id, level=9)),
            "ck_tiers_level_range",
        )
        assert (
            s.scalar(select(m.Tenant.slug).where(m.Tenant.id == uuid.UUID(tenant_a.tenant.id)))
            == tenant_a.tenant.slug
        )


def test_relaxed_transactions_do_not_wait_for_the_wal_and_default_ones_do(pg_url):
    from sqlalchemy import text

    from storage.db import Database

    db = Database.from_url(pg_url)
    try:
        with db.browsing() as connection:
            assert connection.execute(text("SHOW synchronous_commit")).scalar() == "off"
        with db.transaction() as session:
            assert session.execute(text("SHOW synchronous_commit")).scalar() == "on"
        with db.read() as session:
            session.execute(text("SELECT 1"))
            assert session.connection().connection.dbapi_connection.autocommit is True
    finally:
        db.dispose()


def test_one_popular_tier_per_segment_archived_ones_included(db, tenant_a):
    """The fixture's level-2 tier is popular: no second popular tier in that segment, active or
    archived; another segment has its own."""
    a = tenant_a
    with db.transaction() as s:
        refused(
            s,
            insert(m.Tier).values(
                **tier_values(a.tenant.id, a.segment.id, level=1, status="archived", popular=True)
            ),
            "uq_tiers_one_popular",
        )
        refused(
            s,
            update(m.Tier).where(m.Tier.id == uuid.UUID(a.tiers[2].id)).values(popular=True),
            "uq_tiers_one_popular",
        )
        accepted(
            s,
            insert(m.Tier).values(
                **tier_values(a.tenant.id, a.segment.id, level=1, status="archived", popular=False)
            ),
        )
        other = uuid.uuid4()
        accepted(
            s,
            insert(m.Segment).values(
                tenant_id=uuid.UUID(a.tenant.id), id=other, key="other", name="Other"
            ),
        )
        accepted(
            s, insert(m.Tier).values(**tier_values(a.tenant.id, str(other), level=1, popular=True))
        )
