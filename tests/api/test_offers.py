"""GET /v1/storefront/segments/{segment}/offers and the admin offers-preview: every tier priced by
the tenant's rules (default ruleset, version 1), availability from capacity, holds and paid
bookings, ranked priced fallbacks, the upsell offer, add-ons per tier, and the decision log.

Service dates are relative to the tenant's today (Europe/Berlin) and chosen by weekday and month
so the default ruleset's multipliers are known; every expected amount is an exact integer."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import select

from app import create_app
from app.adapters.cache import RedisCache
from app.services import rulesets
from storage import models as m
from tests.conftest import UNREACHABLE_REDIS
from tests.support.dates import find_day, tenant_today
from tests.support.http import error_of
from tests.support.rows import add_booking, count
from tests.support.rules import default_document, hot_summer_document, rule_of
from tests.support.storefront import by_level, get_offers, ok_offers, set_capacity

MAX_LEAD_DAYS = 3 * 366


# ---- helpers ------------------------------------------------------------------------------------


def offers_url(segment: str) -> str:
    return f"/v1/storefront/segments/{segment}/offers"


def lines(offer: dict) -> list[tuple[str, int, list[str]]]:
    out = []
    for line in offer["price"]["lines"]:
        assert type(line["amount"]) is int, line  # integer minor units, like every amount
        out.append((line["code"], line["amount"], line["rules"]))
    return out


def assert_lines_sum_to_total(offer: dict) -> None:
    assert sum(line["amount"] for line in offer["price"]["lines"]) == offer["price"]["total"]


def decision_rows(db, tenant_id: str) -> list[m.Decision]:
    with db.transaction() as s:
        return list(
            s.scalars(select(m.Decision).where(m.Decision.tenant_id == uuid.UUID(tenant_id)))
        )


def add_hold(db, fx, tier_id: str, day: dt.date, units: int, expires_in: dt.timedelta, **kw):
    with db.transaction() as s:
        s.add(
            m.Hold(
                tenant_id=uuid.UUID(fx.tenant.id),
                tier_id=uuid.UUID(tier_id),
                service_date=day,
                units=units,
                status=kw.get("status", "active"),
                expires_at=dt.datetime.now(dt.UTC) + expires_in,
            )
        )


def blackout(client, fx, tier_id: str | None, day: dt.date, to: dt.date | None = None):
    body: dict = {"from": day.isoformat(), "reason": "closed"}
    if tier_id is not None:
        body["tier_id"] = tier_id
    if to is not None:
        body["to"] = to.isoformat()
    response = client.post("/v1/admin/blackouts", headers=fx.admin, json=body)
    assert response.status_code == 201, response.get_json()


def patch_tier(client, fx, tier_id: str, changes: dict) -> dict:
    current = client.get(f"/v1/admin/tiers/{tier_id}", headers=fx.admin)
    assert current.status_code == 200
    response = client.patch(
        f"/v1/admin/tiers/{tier_id}",
        headers={**fx.admin, "If-Match": current.headers["ETag"]},
        json=changes,
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def other_segment(client, fx) -> tuple[dict, dict]:
    """A second segment (displayed after the premium one) with one level-1 tier."""
    seg = client.post(
        "/v1/admin/segments",
        headers=fx.admin,
        json={"key": f"{fx.tenant.slug}-budget", "name": "Budget", "position": 2},
    )
    assert seg.status_code == 201, seg.get_json()
    tier = client.post(
        "/v1/admin/tiers",
        headers=fx.admin,
        json={
            "segment_id": seg.get_json()["id"],
            "level": 1,
            "name": "Budget Essential",
            "base_price": {"amount": 5000, "currency": "EUR"},
            "per_guest_price": {"amount": 500, "currency": "EUR"},
            "max_guests": 4,
            "features": [{"key": "lunch", "label": "Lunch", "value": False}],
        },
    )
    assert tier.status_code == 201, tier.get_json()
    return seg.get_json(), tier.get_json()


# ---- the priced offers --------------------------------------------------------------------------


def test_every_tier_in_level_order_priced_with_breakdown_features_and_add_ons(client, db, tenant_a):
    fx = tenant_a
    day = find_day(10, weekend=False)  # a plain weekday: no season, no last-minute
    body = ok_offers(client, fx, day, guests=2, add_ons="breakfast")

    assert body["segment"] == {
        "id": fx.segment.id,
        "key": fx.segment.key,
        "name": "Premium",
        "position": 1,
    }
    assert (body["service_date"], body["guests"], body["currency"]) == (day.isoformat(), 2, "EUR")
    assert body["ruleset"]["version"] == 1
    assert len(body["ruleset"]["content_hash"]) == 64
    assert [o["tier"]["id"] for o in body["offers"]] == [t.id for t in fx.tiers]
    assert [o["tier"]["level"] for o in body["offers"]] == [1, 2, 3]
    assert [o["tier"]["name"] for o in body["offers"]] == ["Essential", "Preferred", "Ultimate"]
    assert [o["tier"]["popular"] for o in body["offers"]] == [False, True, False]
    assert [o["tier"]["features"] for o in body["offers"]] == [
        [{"key": "lunch", "label": "Lunch", "value": v}] for v in (False, True, True)
    ]

    one, two, three = (by_level(body)[n] for n in (1, 2, 3))
    # 10000 base + 2 × 1000 per guest; breakfast is limited to Ultimate.
    assert lines(one) == [("base", 10000, []), ("guests", 2000, [])]
    assert one["price"] == {
        "currency": "EUR",
        "subtotal": 12000,
        "total": 12000,
        "discount": 0,
        "lines": one["price"]["lines"],
    }
    assert [line["label"] for line in one["price"]["lines"]] == [
        "Essential base price",
        "2 guests × per-guest price",
    ]
    assert lines(two) == [("base", 20000, []), ("guests", 2000, [])]
    assert two["price"]["total"] == 22000
    # Ultimate: 30000 + 2000 + breakfast 2 × 900.
    assert lines(three) == [("base", 30000, []), ("guests", 2000, []), ("add_on", 1800, [])]
    assert (three["price"]["subtotal"], three["price"]["total"]) == (33800, 33800)

    breakfast = fx.add_on.id
    assert [(o["add_ons_applied"], o["add_ons_unavailable"]) for o in body["offers"]] == [
        ([], [breakfast]),
        ([], [breakfast]),
        ([breakfast], []),
    ]
    for offer in body["offers"]:
        assert offer["availability"] == {"status": "available", "units_left": 5}
        assert offer["fallback"] == []
        assert_lines_sum_to_total(offer)

    # Upsell to level 3 (rule upsell-next-tier) for levels 1 and 2; the difference is to the
    # Ultimate offer as priced for this party (with the breakfast it can take).
    assert one["upsell"] == {
        "type": "tier",
        "tier_id": fx.tiers[2].id,
        "tier_name": "Ultimate",
        "message_key": "upsell.ultimate",
        "placement": "step",
        "percent_off": "0",
        "total": 33800,
        "difference": 33800 - 12000,
        "features_gained": [{"key": "lunch", "label": "Lunch", "from": False, "to": True}],
        "rules": ["upsell-next-tier"],
    }
    assert two["upsell"]["difference"] == 33800 - 22000
    assert two["upsell"]["features_gained"] == []
    assert three["upsell"] is None

    assert body["decision_ids"] == [o["decision_id"] for o in body["offers"]]
    assert len(set(body["decision_ids"])) == 3


def test_no_add_ons_requested_prices_without_add_on_lines(client, db, tenant_a):
    day = find_day(10, weekend=False)
    body = ok_offers(client, tenant_a, day, guests=1)
    assert [o["price"]["total"] for o in body["offers"]] == [11000, 21000, 31000]
    for offer in body["offers"]:
        assert offer["add_ons_applied"] == [] and offer["add_ons_unavailable"] == []
        assert [line["code"] for line in offer["price"]["lines"]] == ["base", "guests"]


def test_add_on_by_id_and_add_on_for_every_tier(client, db, tenant_a):
    fx = tenant_a
    flat = client.post(
        "/v1/admin/add-ons",
        headers=fx.admin,
        json={
            "key": "parking",
            "name": "Parking",
            "pricing": "flat",
            "price": {"amount": 1500, "currency": "EUR"},
        },
    )
    assert flat.status_code == 201, flat.get_json()
    parking = flat.get_json()["id"]
    day = find_day(10, weekend=False)
    body = ok_offers(client, fx, day, guests=3, add_ons=f"{fx.add_on.id},parking")
    one, _, three = (by_level(body)[n] for n in (1, 2, 3))
    assert lines(one) == [("base", 10000, []), ("guests", 3000, []), ("add_on", 1500, [])]
    assert one["add_ons_applied"] == [parking]
    assert one["add_ons_unavailable"] == [fx.add_on.id]
    assert lines(three) == [
        ("base", 30000, []),
        ("guests", 3000, []),
        ("add_on", 2700, []),
        ("add_on", 1500, []),
    ]
    assert three["price"]["total"] == 37200
    assert sorted(three["add_ons_applied"]) == sorted([fx.add_on.id, parking])
    assert three["add_ons_unavailable"] == []


def test_weekend_multiplier_is_a_season_line_naming_the_rule(client, db, tenant_a):
    day = find_day(10, weekend=True)  # not July/August, more than a week ahead
    body = ok_offers(client, tenant_a, day, guests=3, add_ons="breakfast")
    one, two, three = (by_level(body)[n] for n in (1, 2, 3))
    # 13000 × 1.1 = 14300
    assert lines(one) == [("base", 10000, []), ("guests", 3000, []), ("season", 1300, ["weekend"])]
    assert (one["price"]["subtotal"], one["price"]["total"], one["price"]["discount"]) == (
        13000,
        14300,
        -1300,
    )
    assert two["price"]["total"] == 25300  # 23000 × 1.1
    # (30000 + 3000 + 2700) × 1.1 = 39270
    assert lines(three)[-1] == ("season", 3570, ["weekend"])
    assert three["price"]["total"] == 39270
    for offer in body["offers"]:
        assert_lines_sum_to_total(offer)
        assert "last_minute" not in [line["code"] for line in offer["price"]["lines"]]


def test_summer_weekend_multiplies_both_rules(client, db, tenant_a):
    day = find_day(8, weekend=True, summer=True)
    body = ok_offers(client, tenant_a, day, guests=2)
    one = by_level(body)[1]
    # 12000 × 1.2 × 1.1 = 15840
    assert lines(one)[-1] == ("season", 3840, ["summer-peak", "weekend"])
    assert one["price"]["total"] == 15840


SEASON = {
    (False, False): Decimal("1"),
    (False, True): Decimal("1.1"),
    (True, False): Decimal("1.2"),
    (True, True): Decimal("1.32"),
}
#: Essential, 2 guests (12000) × season × (1 − discount): exact for every combination.
LAST_MINUTE_TOTALS = {
    ("15", Decimal("1")): 10200,
    ("15", Decimal("1.1")): 11220,
    ("15", Decimal("1.2")): 12240,
    ("15", Decimal("1.32")): 13464,
    ("5", Decimal("1")): 11400,
    ("5", Decimal("1.1")): 12540,
    ("5", Decimal("1.2")): 13680,
    ("5", Decimal("1.32")): 15048,
}


def test_last_minute_discounts_by_lead_days(client, db, tenant_a):
    for lead, percent, rule in (
        (0, "15", "last-minute-3-days"),
        (2, "15", "last-minute-3-days"),
        (3, "15", "last-minute-3-days"),
        (4, "5", "last-minute-week"),
        (7, "5", "last-minute-week"),
    ):
        day = tenant_today() + dt.timedelta(days=lead)
        season = SEASON[(day.month in (7, 8), day.isoweekday() >= 6)]
        one = by_level(ok_offers(client, tenant_a, day, guests=2))[1]
        expected = LAST_MINUTE_TOTALS[(percent, season)]
        assert one["price"]["total"] == expected, (lead, day)
        seasonal = 12000 * season
        assert lines(one)[-1] == ("last_minute", expected - seasonal, [rule]), (lead, day)
        # what the percentage applied to: the seasonal price, not the subtotal
        last = one["price"]["lines"][-1]
        assert (last["percent_off"], last["base"]) == (percent, seasonal), (lead, day)
        assert one["price"]["discount"] == 12000 - expected
    eight = tenant_today() + dt.timedelta(days=8)
    one = by_level(ok_offers(client, tenant_a, eight, guests=2))[1]
    assert "last_minute" not in [line["code"] for line in one["price"]["lines"]]


def test_fractions_are_rounded_once_and_the_integer_lines_still_add_up(client, db, tenant_a):
    """Admin preview as of a fixed moment: Wednesday 2027-07-07, pricing Saturday 2027-07-10
    (summer × weekend = 1.32, lead 3 days: 15 % off). Every amount is integer minor units; a
    line is the running price after it minus the one before, each rounded half up, so the
    lines add up to the total with no rounding line."""
    fx = tenant_a
    response = client.get(
        f"/v1/admin/segments/{fx.segment.id}/offers-preview",
        headers=fx.admin,
        query_string={
            "date": "2027-07-10",
            "guests": 1,
            "add_ons": "breakfast",
            "as_of": "2027-07-07T10:00:00+00:00",
        },
    )
    assert response.status_code == 200, response.get_json()
    one, two, three = (by_level(response.get_json())[n] for n in (1, 2, 3))
    assert one["price"]["total"] == 12342  # 11000 × 1.32 × 0.85
    assert two["price"]["total"] == 23562  # 21000 × 1.32 × 0.85
    # (30000 + 1000 + 900) = 31900 × 1.32 = 42108 × 0.85 = 35791.8 → 35792 (ROUND_HALF_UP)
    assert lines(three) == [
        ("base", 30000, []),
        ("guests", 1000, []),
        ("add_on", 900, []),
        ("season", 10208, ["summer-peak", "weekend"]),
        ("last_minute", -6316, ["last-minute-3-days"]),  # exact: -6316.2, then 0.2 of rounding
    ]
    season, last_minute = three["price"]["lines"][3:]
    assert season == {
        "code": "season",
        "label": "Summer +20 % · Weekend +10 %",  # the rules' customer-facing labels
        "amount": 10208,
        "rules": ["summer-peak", "weekend"],
        "multiplier": "1.32",
        "base": 31900,  # the subtotal
    }
    assert last_minute == {
        "code": "last_minute",
        "label": "Booked 3 days or less ahead −15 %",
        "amount": -6316,
        "rules": ["last-minute-3-days"],
        "percent_off": "15",
        "base": 42108,  # the seasonal price: 15 % of it, not of the subtotal
    }
    assert three["price"]["platform_fee"] == 3579  # an admin preview: 10 % of 35792, half up
    assert (three["price"]["subtotal"], three["price"]["total"]) == (31900, 35792)
    assert three["price"]["discount"] == 31900 - 35792
    assert_lines_sum_to_total(three)


def test_rounding_half_up_at_exactly_half(client, db, tenant_a):
    """A custom ruleset with a flat 5 % discount and no other rule: 9990 × 0.95 = 9490.5 →
    9491 (ROUND_HALF_UP; banker's rounding would give 9490)."""
    fx = tenant_a
    document = {
        "stacking": "best_only",
        "rules": [
            {"id": "five-off", "kind": "last_minute", "then": {"percent_off": "5"}},
        ],
    }
    rulesets.publish_document(db, None, fx.tenant.id, document, "test")
    patch_tier(client, fx, fx.tiers[0].id, {"base_price": {"amount": 8990, "currency": "EUR"}})
    day = find_day(10, weekend=False)
    body = ok_offers(client, fx, day, guests=1)
    assert body["ruleset"]["version"] == 2
    one = by_level(body)[1]
    assert lines(one) == [
        ("base", 8990, []),
        ("guests", 1000, []),
        ("last_minute", -499, ["five-off"]),
    ]
    assert one["price"]["total"] == 9491
    assert one["upsell"] is None  # no upsell rule in this ruleset


# ---- availability -------------------------------------------------------------------------------


def test_units_left_counts_active_holds_and_paid_bookings_only(client, db, tenant_a):
    fx = tenant_a
    day = find_day(10, weekend=False)
    one, two, three = (t.id for t in fx.tiers)
    add_hold(db, fx, one, day, 2, dt.timedelta(minutes=10))  # counts: 2
    add_hold(db, fx, one, day, 3, -dt.timedelta(minutes=1))  # expired: does not count
    add_hold(db, fx, one, day, 1, dt.timedelta(minutes=10), status="released")  # not active
    add_hold(db, fx, one, day + dt.timedelta(days=1), 1, dt.timedelta(minutes=10))  # other day
    add_booking(db, fx, one, day, "paid")  # counts: 1
    add_booking(db, fx, one, day, "pending")  # only through its hold: not by itself
    add_booking(db, fx, one, day, "cancelled")
    add_booking(db, fx, two, day, "paid")
    set_capacity(client, fx, 3, tier=three, date=day)
    add_hold(db, fx, three, day, 1, dt.timedelta(minutes=10))

    body = ok_offers(client, fx, day)
    assert [o["availability"] for o in body["offers"]] == [
        {"status": "available", "units_left": 5 - 2 - 1},
        {"status": "available", "units_left": 5 - 1},
        {"status": "available", "units_left": 3 - 1},
    ]
    tomorrow = by_level(ok_offers(client, fx, day + dt.timedelta(days=1)))[1]
    assert tomorrow["availability"] == {"status": "available", "units_left": 4}


def test_holds_and_bookings_filling_capacity_sell_out(client, db, tenant_a):
    fx = tenant_a
    day = find_day(10, weekend=False)
    tier = fx.tiers[1].id
    set_capacity(client, fx, 2, tier=tier, date=day)
    add_booking(db, fx, tier, day, "paid")
    add_hold(db, fx, tier, day, 1, dt.timedelta(minutes=5))
    two = by_level(ok_offers(client, fx, day))[2]
    assert two["availability"] == {"status": "sold_out", "units_left": 0}
    assert [f["tier_id"] for f in two["fallback"]][:1] == [fx.tiers[2].id]


def test_sold_out_tier_falls_back_up_then_nearby_dates(client, db, tenant_a):
    fx = tenant_a
    day = find_day(10, weekday=2)  # a Tuesday: the day before and after are weekdays too
    set_capacity(client, fx, 0, tier=fx.tiers[0].id, date=day)
    body = ok_offers(client, fx, day, guests=2)
    one, two, three = (by_level(body)[n] for n in (1, 2, 3))
    assert one["availability"] == {"status": "sold_out", "units_left": 0}
    assert one["upsell"] is not None  # the Ultimate is still bookable
    assert one["price"]["total"] == 12000  # priced anyway: the storefront shows what it costs

    fallback = one["fallback"]
    assert [(f["rank"], f["strategy"], f["tier_id"], f["service_date"]) for f in fallback] == [
        (1, "other_tier", fx.tiers[1].id, day.isoformat()),
        (2, "other_tier", fx.tiers[2].id, day.isoformat()),
        (3, "nearby_dates", fx.tiers[0].id, (day + dt.timedelta(days=1)).isoformat()),
    ]
    assert [f["reason"] for f in fallback] == [
        "Preferred of Premium on the same date",
        "Ultimate of Premium on the same date",
        "the same tier 1 day(s) later",
    ]
    assert [(f["level"], f["tier_name"], f["segment_key"]) for f in fallback] == [
        (2, "Preferred", fx.segment.key),
        (3, "Ultimate", fx.segment.key),
        (1, "Essential", fx.segment.key),
    ]
    assert [f["units_left"] for f in fallback] == [5, 5, 5]
    # Each fallback is priced for its own tier and date, like the offer of that tier.
    assert fallback[0]["price"] == two["price"]
    assert fallback[1]["price"] == three["price"]
    assert fallback[2]["price"]["total"] == 12000
    assert two["fallback"] == [] and three["fallback"] == []

    # Every evaluation has its decision: three offers and three fallbacks.
    ids = body["decision_ids"]
    assert len(ids) == 6 == len(set(ids))
    assert ids[:3] == [o["decision_id"] for o in body["offers"]]
    assert sorted(ids[3:]) == sorted(f["decision_id"] for f in fallback)
    rows = {str(r.id): r for r in decision_rows(db, fx.tenant.id)}
    assert set(rows) == set(ids)
    assert [rows[i].purpose for i in ids] == ["offer"] * 3 + ["fallback"] * 3
    offer_row = rows[one["decision_id"]]
    assert "fallback" in offer_row.kinds
    assert offer_row.fired.count("fallback-default") == 1
    assert offer_row.outputs["fallback"]["strategies"] == [
        {"type": "other_tier", "direction": "up"},
        {"type": "nearby_dates", "days": 3},
        {"type": "other_segment"},
    ]
    assert offer_row.facts["availability"] == "sold_out"
    assert offer_row.facts["units_left"] == 0
    assert "fallback" not in rows[two["decision_id"]].kinds
    assert rows[fallback[2]["decision_id"]].context["service_date"] == fallback[2]["service_date"]


def test_blackout_falls_back_with_ranked_priced_alternatives(client, db, tenant_a):
    fx = tenant_a
    day = find_day(10, weekday=3)
    blackout(client, fx, fx.tiers[0].id, day)
    body = ok_offers(client, fx, day, guests=2, add_ons="breakfast")
    one = by_level(body)[1]
    assert one["availability"] == {"status": "blacked_out", "units_left": 0}
    assert [(f["rank"], f["strategy"], f["level"], f["service_date"]) for f in one["fallback"]] == [
        (1, "other_tier", 2, day.isoformat()),
        (2, "other_tier", 3, day.isoformat()),
        (3, "nearby_dates", 1, (day + dt.timedelta(days=1)).isoformat()),
    ]
    # Fallbacks carry the add-ons their tier can take: the Ultimate includes the breakfast.
    assert [f["price"]["total"] for f in one["fallback"]] == [22000, 33800, 12000]
    assert [line["code"] for line in one["fallback"][1]["price"]["lines"]] == [
        "base",
        "guests",
        "add_on",
    ]
    # The other tiers are not affected by a tier blackout.
    assert by_level(body)[2]["availability"]["status"] == "available"


def test_tenant_wide_blackout_closes_every_tier(client, db, tenant_a):
    fx = tenant_a
    day = find_day(10, weekday=3)
    blackout(client, fx, None, day)
    body = ok_offers(client, fx, day)
    for offer in body["offers"]:
        assert offer["availability"] == {"status": "blacked_out", "units_left": 0}
        assert offer["upsell"] is None
        # Nothing on the date: the same tier a day later, a day earlier, two days later.
        assert [(f["strategy"], f["tier_id"], f["service_date"]) for f in offer["fallback"]] == [
            ("nearby_dates", offer["tier"]["id"], (day + dt.timedelta(days=d)).isoformat())
            for d in (1, -1, 2)
        ]


def test_nearby_dates_nearest_first_each_priced_for_its_own_date(client, db, tenant_a):
    fx = tenant_a
    day = find_day(10, weekday=5)  # a Friday; it and its neighbours outside July/August
    blackout(client, fx, fx.tiers[2].id, day)
    body = ok_offers(client, fx, day, guests=2, add_ons="breakfast")
    one, three = by_level(body)[1], by_level(body)[3]
    assert three["availability"]["status"] == "blacked_out"
    assert one["upsell"] is None  # the upsell target is not bookable on the date
    fallback = three["fallback"]
    assert [(f["rank"], f["strategy"], f["service_date"], f["reason"]) for f in fallback] == [
        (
            1,
            "nearby_dates",
            (day + dt.timedelta(days=1)).isoformat(),
            "the same tier 1 day(s) later",
        ),
        (
            2,
            "nearby_dates",
            (day - dt.timedelta(days=1)).isoformat(),
            "the same tier 1 day(s) earlier",
        ),
        (
            3,
            "nearby_dates",
            (day + dt.timedelta(days=2)).isoformat(),
            "the same tier 2 day(s) later",
        ),
    ]
    # Saturday and Sunday carry the weekend uplift: 33800 × 1.1 = 37180.
    assert [f["price"]["total"] for f in fallback] == [37180, 33800, 37180]
    assert fallback[0]["price"]["lines"][-1]["rules"] == ["weekend"]


def test_nearby_dates_are_never_before_today(client, db, tenant_a):
    fx = tenant_a
    today = tenant_today()
    blackout(client, fx, fx.tiers[2].id, today)
    three = by_level(ok_offers(client, fx, today))[3]
    assert [f["service_date"] for f in three["fallback"]] == [
        (today + dt.timedelta(days=d)).isoformat() for d in (1, 2, 3)
    ]


def test_fallback_to_the_same_level_in_another_segment(client, db, tenant_a):
    fx = tenant_a
    segment, budget = other_segment(client, fx)
    day = find_day(10, weekend=False)
    # Level 1 closed for a week around the date, levels 2 and 3 sold out on it.
    blackout(client, fx, fx.tiers[0].id, day - dt.timedelta(days=3), day + dt.timedelta(days=3))
    set_capacity(client, fx, 0, tier=fx.tiers[1].id, date=day)
    set_capacity(client, fx, 0, tier=fx.tiers[2].id, date=day)
    body = ok_offers(client, fx, day, guests=2)
    assert [o["tier"]["id"] for o in body["offers"]] == [t.id for t in fx.tiers]
    one = by_level(body)[1]
    assert one["fallback"] == [
        {
            "rank": 1,
            "strategy": "other_segment",
            "reason": "the same level in Budget",
            "segment_key": segment["key"],
            "tier_id": budget["id"],
            "tier_name": "Budget Essential",
            "level": 1,
            "service_date": day.isoformat(),
            "price": {
                "currency": "EUR",
                "subtotal": 6000,
                "total": 6000,
                "discount": 0,
                "lines": [
                    {
                        "code": "base",
                        "label": "Budget Essential base price",
                        "amount": 5000,
                        "rules": [],
                    },
                    {
                        "code": "guests",
                        "label": "2 guests × per-guest price",
                        "amount": 1000,
                        "rules": [],
                    },
                ],
            },
            "units_left": 5,
            "decision_id": one["fallback"][0]["decision_id"],
        }
    ]
    # The budget segment's own offers list only its tier.
    budget_offers = ok_offers_for(client, fx, segment["key"], day)
    assert [o["tier"]["id"] for o in budget_offers["offers"]] == [budget["id"]]


def ok_offers_for(client, fx, segment: str, day: dt.date, guests: int = 2) -> dict:
    response = client.get(
        offers_url(segment),
        headers=fx.storefront,
        query_string={"date": day.isoformat(), "guests": guests},
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def test_party_too_large_for_one_tier_is_its_status_and_falls_back(client, db, tenant_a):
    fx = tenant_a
    patch_tier(client, fx, fx.tiers[0].id, {"max_guests": 2})
    day = find_day(10, weekend=False)
    body = ok_offers(client, fx, day, guests=3)
    one = by_level(body)[1]
    assert one["availability"] == {"status": "party_too_large", "units_left": 5}
    assert [(f["strategy"], f["level"]) for f in one["fallback"]] == [
        ("other_tier", 2),
        ("other_tier", 3),
    ]
    assert by_level(body)[2]["availability"]["status"] == "available"


def test_custom_fallback_rule_directions_and_max_results(client, db, tenant_a):
    fx = tenant_a
    document = default_document()
    rule = rule_of(document, "fallback-default")
    rule["then"] = {
        "strategies": [
            {"type": "other_tier", "direction": "down"},
            {"type": "nearby_dates", "days": 2},
        ],
        "max_results": 2,
    }
    rulesets.publish_document(db, None, fx.tenant.id, document, "test")
    day = find_day(10, weekday=3)
    blackout(client, fx, fx.tiers[2].id, day)
    three = by_level(ok_offers(client, fx, day))[3]
    assert [(f["rank"], f["strategy"], f["level"]) for f in three["fallback"]] == [
        (1, "other_tier", 2),
        (2, "other_tier", 1),
    ]


# ---- decisions ----------------------------------------------------------------------------------


def test_each_offer_decision_is_stored_and_explained(client, db, tenant_a, tenant_b):
    fx = tenant_a
    day = find_day(10, weekend=False)
    lead = (day - tenant_today()).days
    before = count(db, m.Decision, fx.tenant.id)
    body = ok_offers(client, fx, day, guests=2)
    assert count(db, m.Decision, fx.tenant.id) == before + 3

    one = by_level(body)[1]
    response = client.get(f"/v1/admin/decisions/{one['decision_id']}", headers=fx.admin)
    assert response.status_code == 200, response.get_json()
    decision = response.get_json()
    assert decision["id"] == one["decision_id"]
    assert decision["purpose"] == "offer"
    assert decision["ruleset_version"] == 1
    assert decision["ruleset_hash"] == body["ruleset"]["content_hash"]
    assert decision["kinds"] == ["season", "last_minute", "commission", "upsell"]
    assert decision["request_id"]
    facts = decision["facts"]
    assert {
        k: facts[k]
        for k in (
            "segment",
            "segment_id",
            "tier_id",
            "tier_level",
            "guests",
            "amount",
            "add_on_count",
            "units_left",
            "availability",
            "currency",
            "service_month",
            "service_weekday",
            "lead_days",
        )
    } == {
        "segment": fx.segment.key,
        "segment_id": fx.segment.id,
        "tier_id": fx.tiers[0].id,
        "tier_level": 1,
        "guests": 2,
        "amount": 12000,
        "add_on_count": 0,
        "units_left": 5,
        "availability": "available",
        "currency": "EUR",
        "service_month": day.month,
        "service_weekday": day.isoweekday(),
        "lead_days": lead,
    }
    considered = {c["rule_id"]: c for c in decision["considered"]}
    # Only the rules of the evaluated kinds are considered (no upgrade, no fallback).
    assert set(considered) == {
        "summer-peak",
        "weekend",
        "last-minute-3-days",
        "last-minute-week",
        "commission-standard",
        "upsell-next-tier",
    }
    assert considered["weekend"]["matched"] is False
    assert (
        considered["weekend"]["why_not"] == f"service_weekday={day.isoweekday()} is not in [6, 7]"
    )
    assert considered["last-minute-week"]["why_not"] == f"lead_days={lead} is not between [4, 7]"
    assert considered["commission-standard"] == {
        "rule_id": "commission-standard",
        "kind": "commission",
        "priority": 0,
        "matched": True,
        "fired": True,
        "why_not": None,
    }
    assert considered["upsell-next-tier"]["matched"] is True
    assert decision["fired"] == ["commission-standard", "upsell-next-tier"]
    outputs = decision["outputs"]
    assert outputs["season"]["multiplier"] == "1"
    assert outputs["last_minute"]["percent_off"] == "0"
    assert outputs["commission"]["rate_percent"] == "10"
    assert outputs["upsell"] == {
        "offer": "tier",
        "message_key": "upsell.ultimate",
        "target_level": 3,
        "percent_off": "0",
        "rules": ["upsell-next-tier"],
    }
    assert decision["context"] == {
        "tier_id": fx.tiers[0].id,
        "service_date": day.isoformat(),
        "guests": 2,
        "add_on_ids": [],
        "pricing": {
            "currency": "EUR",
            "tier_name": "Essential",
            "base": 10000,
            "per_guest": 1000,
            "guests": 2,
            "add_ons": [],
            "floor": None,
            "ceiling": None,
        },
        "price": {
            "currency": "EUR",
            "subtotal": 12000,
            "total": 12000,
            "platform_fee": 1200,
            "lines": [["base", "10000", []], ["guests", "2000", []]],
        },
    }
    # the record keeps exact decimal lines; the explained price is in the API's money format
    lines = [{"code": "base", "amount": 10000, "rules": []}]
    lines.append({"code": "guests", "amount": 2000, "rules": []})
    assert decision["price"] == {
        "currency": "EUR",
        "subtotal": 12000,
        "total": 12000,
        "discount": 0,
        "platform_fee": 1200,
        "lines": lines,
    }
    assert decision["masked_fields"] == [] and decision["customer_ref"] is None
    assert decision["quote_id"] is None

    # The Ultimate's decision: no upsell fired, upsell output "none".
    three = client.get(
        f"/v1/admin/decisions/{by_level(body)[3]['decision_id']}", headers=fx.admin
    ).get_json()
    assert {c["rule_id"]: c["matched"] for c in three["considered"]}["upsell-next-tier"] is False
    assert "upsell-next-tier" not in three["fired"]
    assert three["outputs"]["upsell"]["offer"] == "none"

    # Another tenant cannot read it; an analyst can.
    assert (
        client.get(f"/v1/admin/decisions/{one['decision_id']}", headers=tenant_b.admin).status_code
        == 404
    )
    assert (
        client.get(f"/v1/admin/decisions/{one['decision_id']}", headers=fx.analyst).status_code
        == 200
    )


def test_decisions_record_the_callers_request_id(client, db, tenant_a):
    fx = tenant_a
    day = find_day(10)
    response = client.get(
        offers_url(fx.segment.key),
        headers={**fx.storefront, "X-Request-Id": "req-offers-1"},
        query_string={"date": day.isoformat(), "guests": 1},
    )
    assert response.headers["X-Request-Id"] == "req-offers-1"
    for decision_id in response.get_json()["decision_ids"]:
        got = client.get(f"/v1/admin/decisions/{decision_id}", headers=fx.admin).get_json()
        assert got["request_id"] == "req-offers-1"


def test_preview_as_of_uses_the_ruleset_active_then(client, db, tenant_a):
    fx = tenant_a
    document = hot_summer_document()
    activates = dt.datetime(2027, 6, 1, tzinfo=dt.UTC)
    rulesets.publish_document(db, None, fx.tenant.id, document, "test", activates_at=activates)
    url = f"/v1/admin/segments/{fx.segment.id}/offers-preview"
    query = {"date": "2027-07-14", "guests": 2}  # a Wednesday in July
    before = client.get(
        url, headers=fx.admin, query_string={**query, "as_of": "2027-05-01T12:00:00+00:00"}
    )
    after = client.get(
        url, headers=fx.admin, query_string={**query, "as_of": "2027-06-02T12:00:00+00:00"}
    )
    assert before.status_code == 200 and after.status_code == 200, after.get_json()
    assert before.get_json()["ruleset"]["version"] == 1
    assert after.get_json()["ruleset"]["version"] == 2
    assert [o["price"]["total"] for o in before.get_json()["offers"]] == [14400, 26400, 38400]
    assert [o["price"]["total"] for o in after.get_json()["offers"]] == [18000, 33000, 48000]
    # As of a moment after the service date, the date is in the past.
    past = client.get(
        url, headers=fx.admin, query_string={**query, "as_of": "2027-07-15T12:00:00+00:00"}
    )
    error_of(past, 422, "date_in_past")
    # The storefront is priced now: version 2 only once its activation time has come.
    served = ok_offers(client, fx, find_day(10))["ruleset"]["version"]
    assert served == (2 if dt.datetime.now(dt.UTC) >= activates else 1)
    # Decisions of the preview record the version they used.
    decision_id = after.get_json()["decision_ids"][0]
    stored = client.get(f"/v1/admin/decisions/{decision_id}", headers=fx.admin).get_json()
    assert stored["ruleset_version"] == 2
    assert stored["outputs"]["season"]["multiplier"] == "1.5"
    # ... and when they were written (now), with the moment they priced for.
    assert stored["context"]["as_of"] == "2027-06-02T12:00:00+00:00"
    written = dt.datetime.fromisoformat(stored["created_at"])
    assert abs(written - dt.datetime.now(dt.UTC)) < dt.timedelta(minutes=1)


def test_preview_needs_an_admin_token_and_a_segment_of_the_tenant(client, db, tenant_a, tenant_b):
    url = f"/v1/admin/segments/{tenant_a.segment.id}/offers-preview"
    query = {"date": find_day(10).isoformat(), "guests": 2}
    assert client.get(url, headers=tenant_a.storefront, query_string=query).status_code == 403
    error_of(client.get(url, headers=tenant_b.admin, query_string=query), 404, "segment_not_found")
    assert client.get(url, headers=tenant_a.analyst, query_string=query).status_code == 200


def test_preview_takes_a_segment_key_like_the_storefront(client, tenant_a, tenant_b):
    query = {"date": find_day(10).isoformat(), "guests": 2}
    by_key = client.get(
        f"/v1/admin/segments/{tenant_a.segment.key}/offers-preview",
        headers=tenant_a.admin,
        query_string=query,
    )
    assert by_key.status_code == 200, by_key.get_json()
    assert by_key.get_json()["segment"]["id"] == tenant_a.segment.id
    assert [o["tier"]["id"] for o in by_key.get_json()["offers"]] == [t.id for t in tenant_a.tiers]
    for key in (tenant_b.segment.key, "no-such-segment"):
        error_of(
            client.get(
                f"/v1/admin/segments/{key}/offers-preview",
                headers=tenant_a.admin,
                query_string=query,
            ),
            404,
            "segment_not_found",
        )


# ---- bad input: no decision stored --------------------------------------------------------------


def test_bad_input_answers_422_or_404_and_stores_no_decision(client, db, tenant_a):
    fx = tenant_a
    day = find_day(10, weekend=False)
    before = count(db, m.Decision, fx.tenant.id)
    today = tenant_today()

    error_of(get_offers(client, fx, day, segment="no-such-segment"), 404, "segment_not_found")
    error_of(
        client.get(
            offers_url(str(uuid.uuid4())),
            headers=fx.storefront,
            query_string={"date": day.isoformat(), "guests": 2},
        ),
        404,
        "segment_not_found",
    )
    past = error_of(get_offers(client, fx, today - dt.timedelta(days=1)), 422, "date_in_past")
    assert [d["path"] for d in past["details"]] == ["/query/date"]
    error_of(
        get_offers(client, fx, today + dt.timedelta(days=MAX_LEAD_DAYS + 1)), 422, "date_too_far"
    )
    big = error_of(get_offers(client, fx, day, guests=7), 422, "party_too_large")
    assert [d["path"] for d in big["details"]] == ["/query/guests"]
    zero = error_of(get_offers(client, fx, day, guests=0), 422, "validation_error")
    assert [d["path"] for d in zero["details"]] == ["/query/guests"]
    error_of(get_offers(client, fx, day, guests=-1), 422, "validation_error")
    unknown = error_of(
        get_offers(client, fx, day, add_ons="breakfast,caviar"), 422, "unknown_add_on"
    )
    assert [d["path"] for d in unknown["details"]] == ["/query/add_ons/1"]
    error_of(
        client.get(
            offers_url(fx.segment.key),
            headers=fx.storefront,
            query_string={"date": "2027-02-30", "guests": 2},
        ),
        422,
        "validation_error",
    )
    error_of(
        client.get(offers_url(fx.segment.key), headers=fx.storefront, query_string={"guests": 2}),
        422,
        "validation_error",
    )

    assert count(db, m.Decision, fx.tenant.id) == before
    # The boundaries themselves are fine: today and the farthest day.
    assert ok_offers(client, fx, today)["service_date"] == today.isoformat()
    assert ok_offers(client, fx, today + dt.timedelta(days=MAX_LEAD_DAYS))["offers"]
    assert ok_offers(client, fx, day, guests=6)["guests"] == 6


def test_another_tenants_segment_and_add_on_are_unknown(client, db, tenant_a, tenant_b):
    day = find_day(10)
    before = count(db, m.Decision, tenant_a.tenant.id)
    error_of(
        get_offers(client, tenant_a, day, segment=tenant_b.segment.key), 404, "segment_not_found"
    )
    error_of(
        get_offers(client, tenant_a, day, segment=tenant_b.segment.id), 404, "segment_not_found"
    )
    error_of(get_offers(client, tenant_a, day, add_ons=tenant_b.add_on.id), 422, "unknown_add_on")
    assert count(db, m.Decision, tenant_a.tenant.id) == before
    assert (
        client.get(
            offers_url(tenant_a.segment.key), query_string={"date": day.isoformat(), "guests": 2}
        ).status_code
        == 401
    )


def test_archived_tier_is_not_offered(client, db, tenant_a):
    fx = tenant_a
    response = client.post(f"/v1/admin/tiers/{fx.tiers[1].id}/archive", headers=fx.admin)
    assert response.status_code == 200, response.get_json()
    body = ok_offers(client, fx, find_day(10, weekend=False))
    assert [o["tier"]["level"] for o in body["offers"]] == [1, 3]
    assert len(body["decision_ids"]) == 2


# ---- the catalog cache --------------------------------------------------------------------------


def test_a_price_change_is_served_at_once_with_redis_up(client, db, cache, settings, tenant_a):
    fx = tenant_a
    day = find_day(10, weekend=False)
    assert by_level(ok_offers(client, fx, day))[1]["price"]["total"] == 12000
    assert cache._client.keys(f"tw:catalog:{fx.tenant.id}:*")  # the snapshot is cached in Redis
    assert by_level(ok_offers(client, fx, day))[1]["price"]["total"] == 12000  # and served

    patch_tier(client, fx, fx.tiers[0].id, {"base_price": {"amount": 15000, "currency": "EUR"}})
    first = by_level(ok_offers(client, fx, day))[1]
    assert first["price"]["total"] == 17000
    assert first["tier"]["base_price"] == {"amount": 15000, "currency": "EUR"}
    patch_tier(client, fx, fx.tiers[0].id, {"per_guest_price": {"amount": 2500, "currency": "EUR"}})
    assert by_level(ok_offers(client, fx, day))[1]["price"]["total"] == 20000

    # Another app instance (its own in-process cache) sharing Redis sees the same.
    other = create_app(settings, db=db, cache=cache)
    assert by_level(ok_offers(other.test_client(), fx, day))[1]["price"]["total"] == 20000
    patch_tier(client, fx, fx.tiers[0].id, {"base_price": {"amount": 11000, "currency": "EUR"}})
    assert by_level(ok_offers(other.test_client(), fx, day))[1]["price"]["total"] == 16000


def test_add_on_change_and_new_tier_are_served_at_once(client, db, tenant_a):
    fx = tenant_a
    day = find_day(10, weekend=False)
    assert by_level(ok_offers(client, fx, day, add_ons="breakfast"))[1]["add_ons_applied"] == []
    current = client.get(f"/v1/admin/add-ons/{fx.add_on.id}", headers=fx.admin)
    response = client.patch(
        f"/v1/admin/add-ons/{fx.add_on.id}",
        headers={**fx.admin, "If-Match": current.headers["ETag"]},
        json={"tier_ids": [t.id for t in fx.tiers]},
    )
    assert response.status_code == 200, response.get_json()
    body = ok_offers(client, fx, day, add_ons="breakfast")
    assert [o["price"]["total"] for o in body["offers"]] == [13800, 23800, 33800]


def test_offers_answer_correctly_with_redis_unreachable(settings, db, tenant_a):
    fx = tenant_a
    app = create_app(settings, db=db, cache=RedisCache(UNREACHABLE_REDIS))
    client = app.test_client()
    day = find_day(10, weekend=True)
    body = ok_offers(client, fx, day, guests=2, add_ons="breakfast")
    assert [o["price"]["total"] for o in body["offers"]] == [13200, 24200, 37180]
    assert len(body["decision_ids"]) == 3
    patch_tier(client, fx, fx.tiers[0].id, {"base_price": {"amount": 15000, "currency": "EUR"}})
    assert by_level(ok_offers(client, fx, day, guests=2))[1]["price"]["total"] == 18700
    error_of(get_offers(client, fx, day, segment="nope"), 404, "segment_not_found")


def test_custom_upsell_rules_for_an_add_on_and_a_discounted_tier(client, db, tenant_a):
    fx = tenant_a
    document = {
        "stacking": "best_only",
        "rules": [
            {
                "id": "breakfast-upsell",
                "kind": "upsell",
                "priority": 10,
                "when": {"fact": "tier_level", "op": "eq", "value": 3},
                "then": {
                    "offer": "add_on",
                    "add_on": "breakfast",
                    "percent_off": "10",
                    "message_key": "upsell.breakfast",
                },
            },
            {
                "id": "ultimate-upsell",
                "kind": "upsell",
                "priority": 5,
                "when": {"fact": "tier_level", "op": "lt", "value": 3},
                "then": {
                    "offer": "tier",
                    "target_level": 3,
                    "percent_off": "10",
                    "message_key": "upsell.ultimate",
                },
            },
        ],
    }
    rulesets.publish_document(db, None, fx.tenant.id, document, "test")
    day = find_day(10, weekend=False)
    one, two, three = (by_level(ok_offers(client, fx, day, guests=3))[n] for n in (1, 2, 3))
    assert three["upsell"] == {
        "type": "add_on",
        "add_on_id": fx.add_on.id,
        "add_on_key": "breakfast",
        "message_key": "upsell.breakfast",
        "placement": "step",
        "percent_off": "10",
        "price": 2700,
        "total": 2430,
        "rules": ["breakfast-upsell"],
    }
    # The Ultimate (33000) at 10 % off: 29700.
    assert (one["upsell"]["total"], one["upsell"]["difference"]) == (29700, 29700 - 13000)
    assert (two["upsell"]["total"], two["upsell"]["difference"]) == (29700, 29700 - 23000)
    assert one["upsell"]["percent_off"] == "10"
    assert one["upsell"]["rules"] == ["ultimate-upsell"]

    # With the breakfast already chosen there is nothing to upsell on the Ultimate.
    one, _, three = (
        by_level(ok_offers(client, fx, day, guests=3, add_ons="breakfast"))[n] for n in (1, 2, 3)
    )
    assert three["upsell"] is None
    assert one["upsell"]["total"] == 32130  # (33000 + 2700) × 0.9


def test_a_tiers_upsell_targets_limit_the_tier_upsells_offered_and_accepted(client, db, tenant_a):
    """Essential lists only Preferred: the default rule's target (level 3) is not offered from
    it, and a quote accepting it is refused; Preferred lists Ultimate: offered and accepted as
    before. A rule targeting level 2 offers Essential its listed Preferred. No list: any tier."""
    fx = tenant_a
    one, two, three = fx.tiers
    day = find_day(10, weekend=False)
    patch_tier(client, fx, one.id, {"upsell_target_ids": [two.id]})
    patch_tier(client, fx, two.id, {"upsell_target_ids": [three.id]})

    def accepting(tier, source):
        return client.post(
            "/v1/storefront/quotes",
            headers=fx.storefront,
            json={
                "tier_id": tier.id,
                "date": day.isoformat(),
                "guests": 2,
                "upsell_from_tier_id": source.id,
            },
        )

    offers = by_level(ok_offers(client, fx, day))
    assert offers[1]["upsell"] is None
    assert offers[2]["upsell"]["tier_id"] == three.id
    error_of(accepting(three, one), 422, "upsell_not_offered")
    assert accepting(three, two).status_code == 201

    document = default_document()
    rule = rule_of(document, "upsell-next-tier")
    rule["then"]["target_level"] = 2
    document["tests"][0]["expect"]["upsell"]["target_level"] = 2
    runtime = client.application.extensions["tierwise"].rules  # offers were served: announce
    rulesets.publish_document(db, runtime, fx.tenant.id, document, "test")
    offers = by_level(ok_offers(client, fx, day))
    assert offers[1]["upsell"]["tier_id"] == two.id
    assert offers[2]["upsell"] is None  # level 2 is not above Preferred
    assert accepting(two, one).status_code == 201
    error_of(accepting(three, two), 422, "upsell_not_offered")

    # A target list naming only a tier of another segment: the upsell stays in the segment.
    _, elsewhere = other_segment(client, fx)
    patch_tier(client, fx, one.id, {"upsell_target_ids": [elsewhere["id"]]})
    assert by_level(ok_offers(client, fx, day))[1]["upsell"] is None
    error_of(accepting(two, one), 422, "upsell_not_offered")
    # Cleared: any tier of the segment the rules name.
    patch_tier(client, fx, one.id, {"upsell_target_ids": []})
    assert by_level(ok_offers(client, fx, day))[1]["upsell"]["tier_id"] == two.id


def test_nearby_date_fallbacks_stay_within_the_bookable_window(client, db, tenant_a):
    """Offers for the farthest bookable day: a fallback a day later could not be quoted
    (date_too_far), so it must not be offered."""
    fx = tenant_a
    last = tenant_today() + dt.timedelta(days=MAX_LEAD_DAYS)
    blackout(client, fx, fx.tiers[2].id, last)
    three = by_level(ok_offers(client, fx, last))[3]
    assert [f["service_date"] for f in three["fallback"]] == [
        (last - dt.timedelta(days=n)).isoformat() for n in (1, 2, 3)
    ]
    for fallback in three["fallback"]:
        response = client.post(
            "/v1/storefront/quotes",
            headers=fx.storefront,
            json={"tier_id": fallback["tier_id"], "date": fallback["service_date"], "guests": 2},
        )
        assert response.status_code == 201, response.get_json()
