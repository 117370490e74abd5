"""Races on one booking, run on real threads against PostgreSQL through the app (its own pool) and
the fake Stripe: events of one payment at once, expiry or cancel against completion, upgrades,
idempotency keys and quotes. Each scenario runs STRESS_RUNS times (3 here, 50 in ``make stress``)
and asserts its own outcome and the money invariants (tests/support/races.py::violations)."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterator

import pytest
from sqlalchemy import select

from storage import models as m
from tests.support.races import RUNS, Shop, committed_shop, concurrently, violations

pytestmark = [pytest.mark.race, pytest.mark.parametrize("run", range(RUNS))]


@pytest.fixture
def shop(pg_url, settings, cache, fake_stripe) -> Iterator[Shop]:
    with committed_shop(pg_url, settings, cache, fake_stripe) as shop:
        yield shop


def outcomes(answers) -> list[str]:
    assert all(a.status_code == 200 for a in answers), [a.get_json() for a in answers]
    return [a.get_json()["outcome"] for a in answers]


def test_refund_and_completion_at_once_end_refunded(shop, run):
    shop.set_capacity(1)
    body = shop.checkout()
    session = shop.pay(body)
    refunded = shop.refund_outside(session)
    said = outcomes(
        concurrently(lambda: shop.deliver(shop.completed(session)), lambda: shop.deliver(refunded))
    )
    assert shop.booking(body["booking_id"]).status == "refunded", said
    entries = shop.ledger(body["booking_id"])
    assert sorted((e.kind, e.status, e.reason) for e in entries) == [
        ("capture", "captured", "checkout"),
        ("refund", "succeeded", "outside"),
    ]
    assert len(shop.fake.of_type("refund")) == 1  # tierwise asked for none itself
    assert violations(shop) == []


def test_ten_completions_of_one_session_at_capacity_one(shop, run):
    shop.set_capacity(1)
    body = shop.checkout()
    session = shop.pay(body)
    events = [shop.completed(session) for _ in range(10)]  # ten distinct signed events
    said = outcomes(concurrently(*(lambda e=e: shop.deliver(e) for e in events)))
    assert Counter(o.startswith("paid") for o in said) == {True: 1, False: 9}, said
    assert shop.booking(body["booking_id"]).status == "paid"
    assert [(e.kind, e.amount_minor) for e in shop.ledger(body["booking_id"])] == [
        ("capture", body["total"])
    ]
    assert shop.fake.of_type("refund") == []
    assert violations(shop) == []


def test_one_completion_as_several_events_and_repeats(shop, run):
    body = shop.checkout()
    session = shop.pay(body)
    first = shop.completed(session)
    events = [first, first, *(shop.completed(session) for _ in range(4))]
    said = outcomes(concurrently(*(lambda e=e: shop.deliver(e) for e in events)))
    assert said.count("paid") == 1, said
    assert shop.booking(body["booking_id"]).status == "paid"
    assert shop.fake.of_type("refund") == []
    assert violations(shop) == []


def test_expiry_and_completion_at_once_never_keep_money_of_an_expired_booking(shop, run):
    shop.set_capacity(1)
    body = shop.checkout()
    session = shop.pay(body)
    said = outcomes(
        concurrently(
            lambda: shop.deliver(shop.expired(session)),
            lambda: shop.deliver(shop.completed(session)),
        )
    )
    # whichever came first, the payment found its unit: paid, nothing refunded
    assert shop.booking(body["booking_id"]).status == "paid", said
    assert shop.fake.of_type("refund") == []
    assert violations(shop) == []


def test_expiry_completion_and_a_competitor_for_the_last_unit(shop, run):
    """A's hold lapses while A pays; B takes the unit at the same time: whoever loses the unit
    gets every cent back, the unit is sold once."""
    shop.set_capacity(1)
    second_token = shop.quote()  # before the unit is held: quotes of a sold-out tier are refused
    first = shop.checkout()
    session = shop.pay(first)
    shop.sweep(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))  # A's hold lapses
    assert shop.booking(first["booking_id"]).status == "expired"
    answers = concurrently(
        lambda: shop.deliver(shop.completed(session)), lambda: shop.start(second_token)
    )
    late, competitor = answers
    assert late.status_code == 200
    a = shop.booking(first["booking_id"]).status
    if competitor.status_code == 201:
        assert a == "refunded", late.get_json()  # B holds the unit: A's payment went back
    else:
        assert competitor.get_json()["error"]["code"] == "sold_out" and a == "paid"
    assert violations(shop) == []


def test_cancel_while_the_payment_completes(shop, run):
    body = shop.checkout()
    session = shop.pay(body)
    cancelled, delivered = concurrently(
        lambda: shop.cancel(body["booking_id"]), lambda: shop.deliver(shop.completed(session))
    )
    shop.fake.take_violations()  # closing the completed session may be refused, as Stripe would
    assert delivered.status_code == 200
    assert cancelled.status_code == 200, cancelled.get_json()
    status = shop.booking(body["booking_id"]).status
    assert status in ("cancelled", "refunded"), (status, delivered.get_json())
    (refund,) = shop.fake.of_type("refund")  # the payment went back, once
    assert refund["amount"] == body["total"]
    assert violations(shop) == []


def test_two_upgrades_with_different_keys_make_one_move(shop, run):
    booking, _ = shop.paid_booking()
    first, second = concurrently(
        lambda: shop.upgrade(booking["booking_id"], key="up-a"),
        lambda: shop.upgrade(booking["booking_id"], key="up-b"),
    )
    opened = [a.get_json() for a in (first, second) if a.status_code == 201]
    assert opened and all(a.status_code in (201, 409, 503) for a in (first, second))
    assert len({u["booking_id"] for u in opened}) == 1  # one upgrade payment, continued
    sessions = {u["checkout_session_id"] for u in opened}
    paid = [shop.fake.complete_session(s) for s in sessions]
    outcomes(concurrently(*(lambda p=p: shop.deliver(shop.completed(p)) for p in paid)))
    moved = shop.booking(booking["booking_id"])
    assert (str(moved.tier_id), moved.status) == (shop.tenant.tiers[2].id, "paid")
    assert moved.total_minor == booking["total"] + opened[0]["total"]
    assert violations(shop) == []


def test_a_late_payment_of_a_lapsed_upgrade_and_a_new_one_at_once(shop, run):
    """The customer opens an upgrade, lets its hold lapse, opens another, then both payments
    arrive: the booking moves once; the other payment is given back."""
    booking, _ = shop.paid_booking()
    old = shop.upgrade(booking["booking_id"], key="first").get_json()
    shop.sweep(dt.datetime.now(dt.UTC) + dt.timedelta(hours=2))
    new = shop.upgrade(booking["booking_id"], key="second").get_json()
    assert new["booking_id"] != old["booking_id"]
    paid = [shop.fake.complete_session(u["checkout_session_id"]) for u in (old, new)]
    said = outcomes(concurrently(*(lambda p=p: shop.deliver(shop.completed(p)) for p in paid)))
    moved = shop.booking(booking["booking_id"])
    assert str(moved.tier_id) == shop.tenant.tiers[2].id and moved.status == "paid", said
    assert moved.total_minor == booking["total"] + new["total"]
    (refund,) = shop.fake.of_type("refund")
    assert refund["amount"] == new["total"]  # one of the two moves was given back
    assert violations(shop) == []


def test_cancelling_an_upgraded_booking_twice_at_once_refunds_every_payment_once(shop, run):
    booking, session = shop.paid_booking()
    upgrade = shop.upgrade(booking["booking_id"]).get_json()
    extra = shop.fake.complete_session(upgrade["checkout_session_id"])
    assert shop.deliver(shop.completed(extra)).get_json()["outcome"].startswith("paid; booking")
    answers = concurrently(
        lambda: shop.cancel(booking["booking_id"]), lambda: shop.cancel(booking["booking_id"])
    )
    assert sorted(a.status_code for a in answers) == [200, 409], [a.get_json() for a in answers]
    assert shop.booking(booking["booking_id"]).status == "refunded"
    refunds = {r["payment_intent"]: r["amount"] for r in shop.fake.of_type("refund")}
    assert refunds == {
        session["payment_intent"]: booking["total"],
        extra["payment_intent"]: upgrade["total"],
    }
    assert violations(shop) == []


def test_concurrent_updates_of_one_tier_answer_409_or_412_never_500(shop, run):
    tier = shop.tenant.tiers[0]
    etag = (
        shop.client().get(f"/v1/admin/tiers/{tier.id}", headers=shop.tenant.admin).headers["ETag"]
    )
    answers = concurrently(
        *(
            lambda i=i: shop.client().patch(
                f"/v1/admin/tiers/{tier.id}",
                headers={**shop.tenant.admin, "If-Match": etag},
                json={"name": f"Essential {i}"},
            )
            for i in range(8)
        )
    )
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {200, 409, 412} and statuses[200] >= 1, statuses
    assert violations(shop) == []


def test_a_lapsed_key_is_taken_over_by_exactly_one_retry(shop, run):
    token = shop.quote()
    key = f"crashed-{uuid.uuid4().hex[:8]}"
    with shop.db.transaction() as s:  # its first attempt died before it made anything
        s.add(
            m.IdempotencyRecord(
                tenant_id=uuid.UUID(shop.tenant_id),
                key=key,
                state="running",
                owner="dead",
                fingerprint=_fingerprint(token),
                lease_expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1),
                created_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
            )
        )
    answers = concurrently(*(lambda: shop.start(token, key=key) for _ in range(8)))
    statuses = Counter(a.status_code for a in answers)
    assert set(statuses) <= {201, 409}, [a.get_json() for a in answers]
    created = {a.get_json()["booking_id"] for a in answers if a.status_code == 201}
    assert len(created) == 1
    with shop.db.transaction() as s:
        bookings = s.scalars(
            select(m.Booking).where(m.Booking.tenant_id == uuid.UUID(shop.tenant_id))
        ).all()
    assert [str(b.id) for b in bookings] == list(created)
    assert len(shop.fake.of_type("checkout.session")) == 1
    assert violations(shop) == []


def test_one_quote_checked_out_with_many_keys_holds_one_unit(shop, run):
    token = shop.quote()
    answers = concurrently(*(lambda: shop.start(token) for _ in range(10)))
    assert {a.status_code for a in answers} <= {201, 503}, [a.get_json() for a in answers]
    created = {a.get_json()["booking_id"] for a in answers if a.status_code == 201}
    assert len(created) == 1
    with shop.db.transaction() as s:
        holds = s.scalars(select(m.Hold).where(m.Hold.tenant_id == uuid.UUID(shop.tenant_id))).all()
    assert [h.status for h in holds] == ["active"]
    assert len(shop.fake.of_type("checkout.session")) == 1
    assert violations(shop) == []


def test_sweeper_and_completion_at_once(shop, run):
    shop.set_capacity(1)
    body = shop.checkout()
    session = shop.pay(body)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)  # the hold has lapsed for the sweeper
    swept, delivered = concurrently(
        lambda: shop.sweep(later), lambda: shop.deliver(shop.completed(session))
    )
    assert delivered.status_code == 200 and swept["attention"] == []
    assert shop.booking(body["booking_id"]).status == "paid"  # the unit was free either way
    assert violations(shop) == []


def _fingerprint(token: str) -> str:
    from app.http.idempotency import fingerprint

    body = {"quote_token": token, "customer": {"email": "race@example.com", "name": "R"}}
    return fingerprint("POST", "/v1/storefront/checkouts", body)
