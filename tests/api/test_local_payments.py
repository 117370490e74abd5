"""The embedded default's offline payment flow (``PAYMENTS_BACKEND=local``) on a SQLite file, the
way ``make run`` sets it up: migrate, seed the demo, then quote → checkout → the local page →
pay or cancel, which sends tierwise the signed events Stripe would."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from app import create_app
from config import Settings
from storage import models as m
from storage.db import Database, migrate
from tests.support.dates import days_ahead
from tests.support.embedded import seeded_demo

DAY = days_ahead(10)


@dataclass
class Demo:
    client: Any
    db: Database
    settings: Settings
    tenant_id: str
    headers: dict[str, str]
    tier_id: str


@pytest.fixture
def demo(tmp_path) -> Iterator[Demo]:
    settings = Settings.from_env(
        {"TIERWISE_MODE": "embedded", "DATABASE_URL": f"sqlite:///{tmp_path}/demo.db"}
    )
    assert settings.payments_backend == "local"
    migrate(settings.database_url)
    tenant, key = seeded_demo(settings)
    app = create_app(settings)
    client = app.test_client()
    headers = {"X-Api-Key": key}
    comparison = client.get("/v1/storefront/segments/premium/comparison", headers=headers)
    assert comparison.status_code == 200, comparison.get_json()
    tier_id = comparison.get_json()["tiers"][1]["id"]
    database = app.extensions["tierwise"].db
    yield Demo(client, database, settings, tenant.id, headers, tier_id)
    database.dispose()


def checkout(demo: Demo, key: str) -> dict[str, Any]:
    quoted = demo.client.post(
        "/v1/storefront/quotes",
        headers=demo.headers,
        json={"tier_id": demo.tier_id, "date": DAY, "guests": 2},
    )
    assert quoted.status_code == 201, quoted.get_json()
    started = demo.client.post(
        "/v1/storefront/checkouts",
        headers={**demo.headers, "Idempotency-Key": key},
        json={"quote_token": quoted.get_json()["token"], "customer": {"email": "demo@example.com"}},
    )
    assert started.status_code == 201, started.get_json()
    body = started.get_json()
    assert body["total"] == quoted.get_json()["price"]["total"]
    return body


def stored(demo: Demo, booking_id: str) -> tuple[m.Booking, m.Hold]:
    with demo.db.transaction() as s:
        booking = s.get(m.Booking, (uuid.UUID(demo.tenant_id), uuid.UUID(booking_id)))
        assert booking is not None
        hold = s.get(m.Hold, (booking.tenant_id, booking.hold_id))
        assert hold is not None
        return booking, hold


def events_of(demo: Demo, booking_id: str) -> list[m.PaymentEvent]:
    with demo.db.transaction() as s:
        return list(
            s.scalars(
                select(m.PaymentEvent).where(m.PaymentEvent.booking_id == uuid.UUID(booking_id))
            )
        )


def shown(demo: Demo, booking_id: str) -> str:
    answer = demo.client.get(f"/v1/storefront/bookings/{booking_id}", headers=demo.headers)
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()["status"]


def test_pay_on_the_local_page(demo):
    body = checkout(demo, "demo-1")
    session_id = f"lcs_{body['booking_id']}"
    assert body["status"] == "pending" and body["checkout_session_id"] == session_id
    assert body["checkout_url"] == f"{demo.settings.public_base_url}/local-pay/{session_id}"
    booking, hold = stored(demo, body["booking_id"])
    assert (booking.status, booking.checkout_session_id, hold.status) == (
        "pending",
        session_id,
        "active",
    )

    page = demo.client.get(f"/local-pay/{session_id}")
    assert page.status_code == 200 and page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert body["booking_id"] in html and "pending" in html
    assert f'action="/local-pay/{session_id}/pay"' in html and ">Pay<" in html
    assert f'action="/local-pay/{session_id}/cancel"' in html and ">Cancel<" in html
    assert f"{body['total'] / 100:.2f} EUR" in html

    paid = demo.client.post(f"/local-pay/{session_id}/pay")
    assert paid.status_code == 302
    assert (
        paid.headers["Location"] == f"{demo.settings.public_base_url}/local-pay/{session_id}?done=1"
    )
    assert shown(demo, body["booking_id"]) == "paid"
    booking, hold = stored(demo, body["booking_id"])
    assert booking.status == "paid" and hold.status == "converted"
    assert booking.payment_intent_id == f"pi_local_{body['booking_id'].replace('-', '')}"
    (event,) = events_of(demo, body["booking_id"])
    assert (event.type, event.outcome) == ("checkout.session.completed", "paid")
    assert "(paid)" in demo.client.get(f"/local-pay/{session_id}").get_data(as_text=True)

    # pressing Pay again, or Cancel after paying, changes nothing
    assert demo.client.post(f"/local-pay/{session_id}/pay").status_code == 302
    assert demo.client.post(f"/local-pay/{session_id}/cancel").status_code == 302
    assert shown(demo, body["booking_id"]) == "paid"
    outcomes = sorted((e.type, e.outcome) for e in events_of(demo, body["booking_id"]))
    assert outcomes == [
        ("checkout.session.completed", "paid"),
        ("checkout.session.expired", "no change: booking is paid"),
    ]


def test_cancel_on_the_local_page_expires_the_booking(demo):
    paid = checkout(demo, "demo-paid")
    demo.client.post(f"/local-pay/lcs_{paid['booking_id']}/pay")
    body = checkout(demo, "demo-2")
    assert body["booking_id"] != paid["booking_id"]
    session_id = f"lcs_{body['booking_id']}"

    cancelled = demo.client.post(f"/local-pay/{session_id}/cancel")
    assert cancelled.status_code == 302
    assert cancelled.headers["Location"].endswith(f"/local-pay/{session_id}?cancelled=1")
    assert shown(demo, body["booking_id"]) == "expired"
    booking, hold = stored(demo, body["booking_id"])
    assert (booking.status, hold.status, booking.payment_intent_id) == ("expired", "released", None)
    (event,) = events_of(demo, body["booking_id"])
    assert (event.type, event.outcome) == ("checkout.session.expired", "expired")
    assert shown(demo, paid["booking_id"]) == "paid"


def test_local_page_refuses_unknown_sessions_and_actions(demo):
    body = checkout(demo, "demo-3")
    session_id = f"lcs_{body['booking_id']}"
    assert demo.client.get(f"/local-pay/lcs_{uuid.uuid4()}").status_code == 404
    assert demo.client.get("/local-pay/cs_test_other").status_code == 404
    assert demo.client.post(f"/local-pay/{session_id}/refund").status_code == 404
    assert stored(demo, body["booking_id"])[0].status == "pending"
    assert events_of(demo, body["booking_id"]) == []


def test_sweeper_expires_lapsed_local_checkouts_on_sqlite(demo):
    from app.services.sweeper import sweep

    body = checkout(demo, "demo-4")
    expiry = dt.datetime.fromisoformat(body["hold_expires_at"])
    ctx = demo.client.application.extensions["tierwise"].checkout
    assert sweep(ctx, expiry - dt.timedelta(seconds=1))["holds_released"] == 0
    assert stored(demo, body["booking_id"])[1].status == "active"
    assert sweep(ctx, expiry + dt.timedelta(seconds=1)) == {
        "holds_released": 1,
        "refunds_requested": 0,
        "repaired": [],
        "attention": [],
    }
    booking, hold = stored(demo, body["booking_id"])
    assert (booking.status, hold.status) == ("expired", "expired")
    # paying after the sweep still takes a unit (capacity 10): paid, never a lost payment
    assert demo.client.post(f"/local-pay/lcs_{body['booking_id']}/pay").status_code == 302
    assert shown(demo, body["booking_id"]) == "paid"
    (event,) = events_of(demo, body["booking_id"])
    assert event.outcome == "paid (after its hold lapsed; a unit was still free)"


def test_an_admin_cancel_of_a_paid_local_booking_ends_refunded(demo):
    from tests.conftest import token_for

    body = checkout(demo, "demo-cancel")
    assert demo.client.post(f"/local-pay/lcs_{body['booking_id']}/pay").status_code == 302
    admin = {"Authorization": f"Bearer {token_for(demo.settings, 'tenant_admin', demo.tenant_id)}"}
    cancelled = demo.client.post(f"/v1/admin/bookings/{body['booking_id']}/cancel", headers=admin)
    assert cancelled.status_code == 200, cancelled.get_json()
    assert cancelled.get_json()["status"] == "refunded"  # the local provider refunds at once
    assert shown(demo, body["booking_id"]) == "refunded"
    kinds = [(p["kind"], p["status"], p["amount"]) for p in cancelled.get_json()["payments"]]
    assert kinds == [("capture", "captured", body["total"]), ("refund", "succeeded", body["total"])]
