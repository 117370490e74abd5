"""GET /v1/admin/analytics/...: segment selection, tier conversion, upsell take rate and revenue
over a range of dates in the tenant's time zone, from storefront events and bookings.

One shop is seeded for tenant A (Europe/Berlin, UTC+1 in November) with events at the edges of
the range, repeated client event ids, bookings of every status and kind, an archived tier with
data, and tenant B's own rows (some naming A's segment and tiers); every expected number below
is counted by hand. The reports run on PostgreSQL and on SQLite (the embedded mode).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import pytest

from app import create_app
from app.adapters.cache import MemoryCache
from app.services import catalog
from config import Settings
from pricing import catalog as domain
from storage import models as m
from storage.db import Database, migrate
from tests.conftest import TenantFixture, build_tenant

URL = "/v1/admin/analytics"
REPORTS = ("segment-selection", "tier-conversion", "upsell", "revenue")
NOVEMBER = {"from": "2026-11-01", "to": "2026-11-30"}

IN = "2026-11-15T10:00:00+00:00"
EAST = "2026-12-01T00:30:00+02:00"  # inside: 23:30 on Nov 30 in Berlin (Dec 1 on its clock)
FIRST_HOUR_UTC = "2026-10-31T23:30:00+00:00"  # inside: 00:30 on Nov 1 in Berlin
BEFORE = "2026-10-31T22:30:00+00:00"  # outside: 23:30 on Oct 31 in Berlin
LAST_SECOND = "2026-11-30T22:59:59+00:00"  # inside: 23:59:59 on Nov 30 in Berlin
AFTER = "2026-11-30T23:00:00+00:00"  # outside: midnight starting Dec 1 in Berlin

IN_DT = dt.datetime(2026, 11, 15, 10, tzinfo=dt.UTC)
START_DT = dt.datetime(2026, 10, 31, 23, tzinfo=dt.UTC)  # Nov 1 00:00 in Berlin: inside
BEFORE_DT = dt.datetime(2026, 10, 31, 22, 59, 59, tzinfo=dt.UTC)
AFTER_DT = dt.datetime(2026, 11, 30, 23, tzinfo=dt.UTC)


@dataclass
class Shop:
    client: object
    db: Database
    a: TenantFixture
    b: TenantFixture
    budget: domain.Segment
    budget_tiers: list[domain.Tier]  # level 1 active, 2 archived (booked), 3 archived (no data)

    @property
    def premium(self) -> str:
        return self.a.segment.key

    def get(self, report: str, fx: TenantFixture | None = None, **query):
        fx = fx or self.a
        return self.client.get(f"{URL}/{report}", headers=fx.admin, query_string=query or NOVEMBER)

    def report(self, report: str, fx: TenantFixture | None = None) -> dict:
        response = self.get(report, fx)
        assert response.status_code == 200, response.get_json()
        return response.get_json()


def ev(cid, type_, visitor, segment="", tier_id="", at=IN) -> dict:
    return {
        "client_event_id": cid,
        "type": type_,
        "visitor_id": visitor,
        "segment": segment,
        "tier_id": tier_id,
        "occurred_at": at,
    }


def post_events(client, fx: TenantFixture, events: list[dict]) -> None:
    response = client.post("/v1/storefront/events", headers=fx.storefront, json={"events": events})
    assert response.status_code == 202, response.get_json()


def add_booking(
    session, fx, tier, visitor, total, fee, status="paid", at=IN_DT, captures=None, refunds=()
):
    """A booking and its payment records: by default a paid one captured its total and fee;
    ``captures`` [(amount, fee)], ``refunds`` [(amount, fee, status)] of the first capture."""
    booking_id = uuid.uuid4()
    tenant = uuid.UUID(fx.tenant.id)
    session.add(
        m.Booking(
            tenant_id=tenant,
            id=booking_id,
            segment_id=uuid.UUID(tier.segment_id),
            tier_id=uuid.UUID(tier.id),
            service_date=dt.date(2026, 12, 20),
            guests=2,
            currency=fx.tenant.currency,
            total_minor=total,
            platform_fee_minor=fee,
            status=status,
            visitor_id=visitor,
            created_at=at,
            updated_at=at,
        )
    )
    session.flush()
    captures = captures if captures is not None else ([(total, fee)] if status == "paid" else [])
    money = [("capture", amount, fee_, "captured") for amount, fee_ in captures]
    money += [("refund", amount, fee_, state) for amount, fee_, state in refunds]
    for i, (kind, amount, fee_, state) in enumerate(money):
        index = i if kind == "capture" else 0
        session.add(
            m.Payment(
                tenant_id=tenant,
                id=uuid.uuid4(),
                booking_id=booking_id,
                kind=kind,
                status=state,
                payment_intent_id=f"pi_{booking_id.hex}_{index}",
                amount_minor=amount,
                fee_minor=fee_,
                currency=fx.tenant.currency,
                refund_fee=True,
                reason="test",
                created_at=at,
                updated_at=at,
            )
        )


def seed(client, db: Database, a: TenantFixture, b: TenantFixture) -> Shop:
    budget = catalog.create_segment(
        db, a.tenant, {"key": "budget", "name": "Budget", "position": 2}
    )
    budget_tiers = [
        catalog.create_tier(
            db,
            a.tenant,
            {
                "segment_id": budget.id,
                "level": level,
                "name": f"Budget {level}",
                "base_price": {"amount": 5000 * level, "currency": "EUR"},
                "max_guests": 4,
            },
        )
        for level in (1, 2, 3)
    ]
    for tier in budget_tiers[1:]:
        catalog.set_tier_status(db, a.tenant, tier.id, "archived")
    p, t1, t2 = a.segment.key, a.tiers[0].id, a.tiers[1].id
    bt1 = budget_tiers[0].id
    post_events(
        client,
        a,
        [
            # segment selections: premium v1 v1 v2 v4, budget v2 v3 (v5, v6 outside the range)
            ev("s1", "segment_selected", "v1", p),
            ev("s2", "segment_selected", "v1", p),
            ev("s3", "segment_selected", "v2", p),
            ev("s4", "segment_selected", "v2", "budget"),
            ev("s5", "segment_selected", "v3", "budget", at=LAST_SECOND),
            ev("s6", "segment_selected", "v4", p, at=FIRST_HOUR_UTC),
            ev("s7", "segment_selected", "v5", p, at=BEFORE),
            ev("s8", "segment_selected", "v6", "budget", at=AFTER),
            # comparison views: premium v1 v1 v2 v3, budget v2 (v4, v5 outside the range)
            ev("c1", "tier_comparison_viewed", "v1", p),
            ev("c2", "tier_comparison_viewed", "v1", p),
            ev("c3", "tier_comparison_viewed", "v2", p, t2),
            ev("c4", "tier_comparison_viewed", "v3", p, at=EAST),
            ev("c5", "tier_comparison_viewed", "v2", "budget"),
            ev("c6", "tier_comparison_viewed", "v4", p, at=AFTER),
            ev("c7", "tier_comparison_viewed", "v5", "budget", at=BEFORE),
            # upsell: premium/t1 shown 3, accepted 1, declined 1; premium/t2 shown 1, declined 1;
            # budget/bt1 accepted 1 (never shown); one more shown after the range
            ev("u1", "upsell_shown", "v1", p, t1),
            ev("u2", "upsell_shown", "v2", p, t1),
            ev("u3", "upsell_shown", "v3", p, t1),
            ev("u4", "upsell_accepted", "v1", p, t1),
            ev("u5", "upsell_declined", "v2", p, t1),
            ev("u6", "upsell_shown", "v1", p, t2),
            ev("u7", "upsell_declined", "v1", p, t2),
            ev("u8", "upsell_accepted", "v2", "budget", bt1),
            ev("u9", "upsell_shown", "v1", p, t1, at=AFTER),
        ],
    )
    # Repeated client event ids are ignored, whatever they now say.
    post_events(
        client,
        a,
        [
            ev("s1", "segment_selected", "v9", "budget"),
            ev("c5", "tier_comparison_viewed", "v4", "budget"),
            ev("u4", "upsell_shown", "v1", p, t1),
            ev("u8", "upsell_shown", "v2", "budget", bt1),
        ],
    )
    # Tenant B's events naming A's segment and tiers are refused, the batch with them; its own
    # count only for B.
    foreign = [ev("s1", "segment_selected", "v1", p), ev("u1", "upsell_accepted", "v1", p, t1)]
    refused = client.post("/v1/storefront/events", headers=b.storefront, json={"events": foreign})
    assert refused.status_code == 422, refused.get_json()
    post_events(
        client,
        b,
        [
            ev("s1", "segment_selected", "v1", b.segment.key),
            ev("s2", "segment_selected", "v7", b.segment.key),
            ev("u1", "upsell_accepted", "v1", b.segment.key, b.tiers[0].id),
            ev("u2", "upsell_shown", "v7", b.segment.key, b.tiers[0].id),
        ],
    )
    ta1, ta2, ta3 = a.tiers
    b1, b2, _ = budget_tiers
    with db.transaction() as session:
        add_booking(session, a, ta2, "v1", 25000, 2500, at=START_DT)
        add_booking(session, a, ta2, "v1", 23000, 2300)
        # upgraded into ta3: its own payment and its upgrade's, one booking
        add_booking(session, a, ta3, "v2", 45000, 4500, captures=[(40000, 4000), (5000, 500)])
        add_booking(session, a, ta1, "", 12000, 1200)  # unknown visitor
        add_booking(session, a, ta1, "v4", 11000, 1100)  # v4 viewed only after the range
        add_booking(session, a, b1, "v2", 8000, 800)
        add_booking(session, a, b1, "v1", 9000, 900)  # v1 never viewed the budget comparison
        add_booking(session, a, b2, "v2", 10000, 1000)  # archived tier
        # no money: not paid, or its payment given back (queued or done)
        add_booking(session, a, ta2, "v3", 30000, 3000, status="pending")
        add_booking(
            session,
            a,
            ta2,
            "v3",
            30000,
            3000,
            status="cancelled",
            captures=[(30000, 3000)],
            refunds=[(30000, 3000, "queued")],
        )
        add_booking(
            session,
            a,
            ta1,
            "v2",
            20000,
            2000,
            status="refunded",
            captures=[(20000, 2000)],
            refunds=[(20000, 2000, "succeeded")],
        )
        # cancelled under a policy that keeps the platform fee: no revenue, the fee stays
        add_booking(
            session,
            a,
            ta2,
            "v3",
            30000,
            3000,
            status="refunded",
            captures=[(30000, 3000)],
            refunds=[(30000, 0, "succeeded")],
        )
        # created outside the range
        add_booking(session, a, ta2, "v1", 30000, 3000, at=BEFORE_DT)
        add_booking(session, a, ta2, "v1", 30000, 3000, at=AFTER_DT)
        add_booking(session, b, b.tiers[0], "v1", 99999, 9999)
        add_booking(session, b, b.tiers[1], "v7", 50000, 5000)
    return Shop(client, db, a, b, budget, budget_tiers)


@pytest.fixture
def sqlite_setup(tmp_path):
    url = f"sqlite:///{tmp_path}/analytics.db"
    migrate(url)
    settings = Settings.from_env(
        {"TIERWISE_MODE": "embedded", "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    )
    db = Database.from_url(url)
    yield create_app(settings, db=db, cache=MemoryCache()).test_client(), db, settings
    db.engine.dispose()


@pytest.fixture(params=["postgresql", "sqlite"])
def shop(request) -> Shop:
    if request.param == "postgresql":
        fixture = request.getfixturevalue
        return seed(fixture("client"), fixture("db"), fixture("tenant_a"), fixture("tenant_b"))
    client, db, settings = request.getfixturevalue("sqlite_setup")
    a, b = (build_tenant(db, settings, f"{x}{uuid.uuid4().hex[:8]}") for x in "ab")
    return seed(client, db, a, b)


def test_segment_selection_rates(shop):
    assert shop.report("segment-selection") == {
        "from": "2026-11-01",
        "to": "2026-11-30",
        "time_zone": "Europe/Berlin",
        "visitors": 4,  # v1 v2 v3 v4
        "segments": [
            {"segment_key": shop.premium, "selections": 4, "visitors": 3, "selection_rate": 0.75},
            {"segment_key": "budget", "selections": 2, "visitors": 2, "selection_rate": 0.5},
        ],
    }


def test_tier_conversion_per_tier(shop):
    ta1, ta2, ta3 = shop.a.tiers
    b1, b2, _ = shop.budget_tiers  # the archived level 3 has no data: not listed

    def row(tier, key, status, viewers, bookers, bookings, conversion):
        return {
            "tier_id": tier.id,
            "tier_name": tier.name,
            "level": tier.level,
            "status": status,
            "segment_key": key,
            "viewers": viewers,
            "bookers": bookers,
            "bookings": bookings,
            "conversion": conversion,
        }

    report = shop.report("tier-conversion")
    assert report["tiers"] == [
        row(ta1, shop.premium, "active", 3, 0, 0, 0.0),
        row(ta2, shop.premium, "active", 3, 1, 2, 0.333333),
        row(ta3, shop.premium, "active", 3, 1, 1, 0.333333),
        row(b1, "budget", "active", 1, 1, 1, 1.0),
        row(b2, "budget", "archived", 1, 1, 1, 1.0),
    ]
    assert (report["from"], report["to"], report["time_zone"]) == (
        "2026-11-01",
        "2026-11-30",
        "Europe/Berlin",
    )


def test_upsell_take_rate(shop):
    p, (t1, t2, _) = shop.premium, shop.a.tiers
    groups = [
        {
            "segment_key": p,
            "tier_id": t1.id,
            "shown": 3,
            "accepted": 1,
            "declined": 1,
            "take_rate": 0.333333,
        },
        {
            "segment_key": p,
            "tier_id": t2.id,
            "shown": 1,
            "accepted": 0,
            "declined": 1,
            "take_rate": 0.0,
        },
        {
            "segment_key": "budget",
            "tier_id": shop.budget_tiers[0].id,
            "shown": 0,
            "accepted": 1,
            "declined": 0,
            "take_rate": 0.0,
        },
    ]
    report = shop.report("upsell")
    assert report["total"] == {"shown": 4, "accepted": 2, "declined": 2, "take_rate": 0.5}
    assert report["groups"] == sorted(groups, key=lambda g: (g["segment_key"], g["tier_id"]))


def test_revenue_by_segment_and_tier(shop):
    ta1, ta2, ta3 = shop.a.tiers
    b1, b2, _ = shop.budget_tiers

    def row(tier, key, bookings, revenue, fee):
        return {
            "bookings": bookings,
            "revenue_minor": revenue,
            "platform_fee_minor": fee,
            "currency": "EUR",
            "segment_id": tier.segment_id,
            "segment_key": key,
            "tier_id": tier.id,
            "tier_name": tier.name,
            "level": tier.level,
        }

    assert shop.report("revenue") == {
        "from": "2026-11-01",
        "to": "2026-11-30",
        "time_zone": "Europe/Berlin",
        "currency": "EUR",
        "total": {
            "bookings": 8,
            "revenue_minor": 143000,
            "platform_fee_minor": 17300,
            "currency": "EUR",
        },
        "groups": [
            row(ta1, shop.premium, 2, 23000, 2300),
            row(ta2, shop.premium, 2, 48000, 4800 + 3000),  # the fee a cancellation kept
            row(ta3, shop.premium, 1, 45000, 4500),  # one booking, with its upgrade payment
            row(b1, "budget", 2, 17000, 1700),
            row(b2, "budget", 1, 10000, 1000),
        ],
    }


def test_the_other_tenant_sees_only_its_own(shop):
    b = shop.b
    selection = shop.report("segment-selection", b)
    assert selection["visitors"] == 2
    assert selection["segments"] == [
        {"segment_key": b.segment.key, "selections": 2, "visitors": 2, "selection_rate": 1.0},
    ]
    conversion = shop.report("tier-conversion", b)["tiers"]
    assert [r["tier_id"] for r in conversion] == [t.id for t in b.tiers]
    assert {(r["viewers"], r["bookers"]) for r in conversion} == {(0, 0)}
    upsell = shop.report("upsell", b)
    assert upsell["total"] == {"shown": 1, "accepted": 1, "declined": 0, "take_rate": 1.0}
    revenue = shop.report("revenue", b)
    assert revenue["total"] == {
        "bookings": 2,
        "revenue_minor": 149999,
        "platform_fee_minor": 14999,
        "currency": "EUR",
    }
    assert [g["tier_id"] for g in revenue["groups"]] == [b.tiers[0].id, b.tiers[1].id]


def test_a_range_without_data_gives_zeros(shop):
    query = {"from": "2025-01-01", "to": "2025-01-01"}
    selection = shop.get("segment-selection", **query).get_json()
    assert selection["visitors"] == 0
    assert selection["segments"] == [
        {"segment_key": key, "selections": 0, "visitors": 0, "selection_rate": 0.0}
        for key in (shop.premium, "budget")
    ]
    tiers = shop.get("tier-conversion", **query).get_json()["tiers"]
    assert [t["tier_id"] for t in tiers] == [t.id for t in shop.a.tiers] + [
        shop.budget_tiers[0].id
    ]  # archived tiers without data are left out
    assert {(t["viewers"], t["bookers"], t["bookings"], t["conversion"]) for t in tiers} == {
        (0, 0, 0, 0.0)
    }
    upsell = shop.get("upsell", **query).get_json()
    assert upsell["total"] == {"shown": 0, "accepted": 0, "declined": 0, "take_rate": 0.0}
    assert upsell["groups"] == []
    revenue = shop.get("revenue", **query).get_json()
    assert revenue["total"] == {
        "bookings": 0,
        "revenue_minor": 0,
        "platform_fee_minor": 0,
        "currency": "EUR",
    }
    assert revenue["groups"] == []


def test_a_tenant_without_any_data_gets_zeros(client, tenant_a):
    for report in REPORTS:
        response = client.get(f"{URL}/{report}", headers=tenant_a.analyst, query_string=NOVEMBER)
        assert response.status_code == 200, (report, response.get_json())
    body = client.get(f"{URL}/segment-selection", headers=tenant_a.admin, query_string=NOVEMBER)
    assert body.get_json()["segments"] == [
        {"segment_key": tenant_a.segment.key, "selections": 0, "visitors": 0, "selection_rate": 0.0}
    ]


@pytest.mark.parametrize("report", REPORTS)
def test_analysts_read_and_storefront_keys_cannot(client, tenant_a, report):
    path = f"{URL}/{report}"
    assert client.get(path, headers=tenant_a.analyst, query_string=NOVEMBER).status_code == 200
    assert client.get(path, headers=tenant_a.admin, query_string=NOVEMBER).status_code == 200
    storefront = client.get(path, headers=tenant_a.storefront, query_string=NOVEMBER)
    assert storefront.status_code == 403
    assert storefront.get_json()["error"]["code"] == "storefront_key_on_admin"
    assert client.get(path, query_string=NOVEMBER).status_code == 401
    assert client.post(path, headers=tenant_a.admin, query_string=NOVEMBER).status_code == 405


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize(
    ("query", "path"),
    [
        ({"from": "2026-11-30", "to": "2026-11-01"}, "/query/to"),
        ({"from": "2026-01-01", "to": "2027-01-02"}, "/query/to"),  # 367 days
        ({"to": "2026-11-30"}, "/query/from"),
        ({"from": "2026-11-01"}, "/query/to"),
        ({"from": "2026-11-01", "to": "30.11.2026"}, "/query/to"),
        ({"from": "2026-11-01", "to": "9999-12-31"}, "/query/to"),  # no "one day later"
        ({"from": "0001-01-01", "to": "2026-11-01"}, "/query/from"),  # no UTC before year 1
    ],
)
def test_bad_ranges_are_422(client, tenant_a, report, query, path):
    response = client.get(f"{URL}/{report}", headers=tenant_a.analyst, query_string=query)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert [d["path"] for d in error["details"]] == [path]
    assert response.get_json()["request_id"]


def test_a_range_spans_at_most_366_days(client, tenant_a):
    longest = {"from": "2027-01-01", "to": "2028-01-01"}  # 2027-01-01 .. 2028-01-01: 366 days
    response = client.get(f"{URL}/revenue", headers=tenant_a.admin, query_string=longest)
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["from"], response.get_json()["to"]) == ("2027-01-01", "2028-01-01")


def test_the_reports_are_documented(client):
    spec = client.get("/openapi.json").get_json()
    for report in REPORTS:
        operation = spec["paths"][f"{URL}/{report}"]["get"]
        assert {"200", "422"} <= set(operation["responses"]), report
        assert {p["name"] for p in operation["parameters"]} >= {"from", "to"}
        assert operation["security"] == [{"adminToken": []}]
