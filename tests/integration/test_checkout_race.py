"""No oversell under real concurrency on PostgreSQL: many threads, each with its own connection
from a real pool (the ``db`` fixture's single shared connection would serialise everything), race
for the last unit and for one Idempotency-Key. The setup is committed, under a tenant of its own,
and deleted afterwards."""

from __future__ import annotations

import collections
import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from storage import checkout as store
from storage import models as m
from storage.db import Database
from tests.conftest import TenantFixture
from tests.support.races import DAY, committed_shop
from tests.support.storefront import quote


@dataclass
class Committed:
    db: Database
    tenant: TenantFixture
    client_factory: Any  # () -> a new Flask test client of one shared app
    token: str

    @property
    def tenant_uuid(self) -> uuid.UUID:
        return uuid.UUID(self.tenant.tenant.id)


@contextmanager
def committed(pg_url, settings, cache, fake_stripe, units: int) -> Iterator[Committed]:
    """A committed, onboarded tenant whose tier has ``units`` on DAY, and a quote for it."""
    with committed_shop(pg_url, settings, cache, fake_stripe) as shop:
        shop.set_capacity(units)
        yield Committed(shop.db, shop.tenant, shop.client, shop.quote())


@pytest.fixture
def last_unit(pg_url, settings, cache, fake_stripe) -> Iterator[Committed]:
    """A committed, onboarded tenant whose tier has capacity 1 on DAY, and a quote for it."""
    with committed(pg_url, settings, cache, fake_stripe, units=1) as setup:
        yield setup


@pytest.fixture
def roomy(pg_url, settings, cache, fake_stripe) -> Iterator[Committed]:
    """The same with capacity 5: only idempotency can stop a second booking."""
    with committed(pg_url, settings, cache, fake_stripe, units=5) as setup:
        yield setup


def race(
    setup: Committed, keys: list[str], tokens: list[str] | None = None
) -> list[tuple[int, dict[str, Any], dict[str, str]]]:
    """POST the checkout once per key (of the quote ``tokens[i]``, else the setup's one), all
    threads released at once, each with its own client."""
    barrier = threading.Barrier(len(keys))
    tokens = tokens or [setup.token] * len(keys)

    def one(i: int) -> tuple[int, dict[str, Any], dict[str, str]]:
        client = setup.client_factory()
        headers = {**setup.tenant.storefront, "Idempotency-Key": keys[i]}
        body = {"quote_token": tokens[i], "customer": {"email": "race@example.com", "name": "R"}}
        barrier.wait(timeout=30)
        answer = client.post("/v1/storefront/checkouts", headers=headers, json=body)
        return answer.status_code, answer.get_json(), dict(answer.headers)

    with ThreadPoolExecutor(max_workers=len(keys)) as pool:
        return list(pool.map(one, range(len(keys))))


def rows(setup: Committed) -> tuple[list[m.Booking], list[m.Hold], list[m.IdempotencyRecord]]:
    with setup.db.transaction() as s:
        t = setup.tenant_uuid
        return (
            list(s.scalars(select(m.Booking).where(m.Booking.tenant_id == t))),
            list(s.scalars(select(m.Hold).where(m.Hold.tenant_id == t))),
            list(s.scalars(select(m.IdempotencyRecord).where(m.IdempotencyRecord.tenant_id == t))),
        )


def session_posts(fake) -> list[Any]:
    return [r for r in fake.requests if r.method == "POST" and r.path == "/v1/checkout/sessions"]


def test_fifty_concurrent_checkouts_sell_the_last_unit_once(last_unit, fake_stripe):
    client = last_unit.client_factory()
    tokens = [quote(client, last_unit.tenant, date=DAY)["token"] for _ in range(50)]
    answers = race(last_unit, [f"race-{i}" for i in range(50)], tokens)

    statuses = collections.Counter(status for status, _, _ in answers)
    codes = collections.Counter(
        body["error"]["code"] for status, body, _ in answers if status != 201
    )
    assert statuses == {201: 1, 409: 49}, (statuses, codes)
    assert codes == {"sold_out": 49}
    ((_, won, _),) = [a for a in answers if a[0] == 201]
    assert won["status"] == "pending" and won["checkout_url"]

    bookings, holds, keys = rows(last_unit)
    assert [str(b.id) for b in bookings] == [won["booking_id"]]
    assert bookings[0].checkout_session_id == won["checkout_session_id"]
    assert [h.status for h in holds] == ["active"] and holds[0].booking_id == bookings[0].id
    assert len(keys) == 50 and {k.state for k in keys} == {"done"}
    assert sorted(k.response_status for k in keys) == [201] + [409] * 49
    assert len(fake_stripe.of_type("checkout.session")) == 1
    assert len(session_posts(fake_stripe)) == 1

    with last_unit.db.transaction() as s:
        capacity, taken, closed = store.units(
            s,
            last_unit.tenant.tenant.id,
            last_unit.tenant.tiers[1].id,
            dt.date.fromisoformat(DAY),
            dt.datetime.now(dt.UTC),
        )
        assert (capacity, taken, closed) == (1, 1, False)


def test_twenty_concurrent_requests_with_one_key_make_one_booking(roomy, fake_stripe):
    answers = race(roomy, ["one-key"] * 20)

    created = [(body, headers) for status, body, headers in answers if status == 201]
    busy = [body for status, body, _ in answers if status != 201]
    assert created, answers
    assert all(status in (201, 409) for status, _, _ in answers), collections.Counter(
        s for s, _, _ in answers
    )
    assert {b["error"]["code"] for b in busy} <= {"request_in_progress"}
    first = created[0][0]
    assert all(body == first for body, _ in created)
    originals = [h for _, h in created if h.get("Idempotent-Replayed") != "true"]
    assert len(originals) == 1

    bookings, holds, keys = rows(roomy)
    assert [str(b.id) for b in bookings] == [first["booking_id"]]
    assert [h.status for h in holds] == ["active"]
    assert [(k.key, k.state, k.response_status, k.resource_id) for k in keys] == [
        ("one-key", "done", 201, first["booking_id"])
    ]
    assert len(fake_stripe.of_type("checkout.session")) == 1
    assert len(session_posts(fake_stripe)) == 1

    # once settled, the key replays the same answer to everyone
    again = roomy.client_factory().post(
        "/v1/storefront/checkouts",
        headers={**roomy.tenant.storefront, "Idempotency-Key": "one-key"},
        json={"quote_token": roomy.token, "customer": {"email": "race@example.com", "name": "R"}},
    )
    assert again.status_code == 201 and again.get_json() == first
    assert again.headers["Idempotent-Replayed"] == "true"
