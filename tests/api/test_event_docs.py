"""Every event type is documented (issue 19): docs/events.md has an example of each, and each
example's fields — names, nesting and kinds of value — are those of the events the code really
writes, produced here through the API (checkout and the fake Stripe, an upgrade, a cancellation,
storefront events, an experiment, the default ruleset, a test event)."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

from app.services import events_out
from storage import outbox
from tests.api.test_events import event
from tests.api.test_experiments import design
from tests.support.http import ok
from tests.support.storefront import deliver, paid_booking, upgrade

#: Objects whose fields are the storefront's own (``properties``: as sent).
FREE_FORM = ("properties",)
DOC = Path(__file__).resolve().parents[2] / "docs" / "events.md"


def documented() -> dict[str, dict[str, Any]]:
    """The JSON examples of docs/events.md by event type (each type once)."""
    examples: dict[str, dict[str, Any]] = {}
    for block in re.findall(r"```json\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S):
        example = json.loads(block)
        assert example["type"] not in examples, f"two examples of {example['type']}"
        examples[example["type"]] = example
    return examples


def shape(value: Any) -> Any:
    """What a value is made of: a dict's keys with their shapes, else the kind of value (null
    for None, which matches any kind)."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    return None if value is None else type(value).__name__


def same_shape(example: Any, real: Any, where: str) -> None:
    if isinstance(example, dict) or isinstance(real, dict):
        assert isinstance(example, dict) and isinstance(real, dict), where
        if where.rsplit(".", 1)[-1] in FREE_FORM:
            return
        assert sorted(example) == sorted(real), f"{where}: fields differ"
        for key in example:
            same_shape(example[key], real[key], f"{where}.{key}")
    elif example is not None and real is not None:
        assert example == real, f"{where}: {example} documented, {real} sent"


def real_events(client, stripe_client, fx, fake_stripe, db) -> dict[str, dict[str, Any]]:
    paid, _ = paid_booking(stripe_client, fx, fake_stripe, "docs-1")
    moved = upgrade(stripe_client, fx, paid["booking_id"], fx.tiers[2], key="docs-up")
    assert moved.status_code == 201, moved.get_json()
    session = fake_stripe.complete_session(moved.get_json()["checkout_session_id"])
    deliver(stripe_client, fake_stripe.event("checkout.session.completed", session["id"]))
    other, _ = paid_booking(stripe_client, fx, fake_stripe, "docs-2")
    cancelled = stripe_client.post(
        f"/v1/admin/bookings/{other['booking_id']}/cancel", headers=fx.admin
    )
    assert cancelled.status_code == 200, cancelled.get_json()
    storefront = [
        event("d-1", "segment_selected", segment=fx.segment.key),
        event("d-2", "upsell_shown", segment=fx.segment.key, tier_id=fx.tiers[0].id),
        event("d-3", "upsell_accepted", segment=fx.segment.key, tier_id=fx.tiers[0].id),
        event("d-4", "upsell_declined", segment=fx.segment.key, tier_id=fx.tiers[0].id),
    ]
    ok(
        client.post("/v1/storefront/events", headers=fx.storefront, json={"events": storefront}),
        202,
    )
    experiment = ok(client.post("/v1/admin/experiments", headers=fx.admin, json=design()), 201)
    for action in ("start", "stop"):
        ok(client.post(f"/v1/admin/experiments/{experiment['id']}/{action}", headers=fx.admin))
    with db.transaction() as s:
        endpoint = outbox.add_endpoint(
            s,
            fx.tenant.id,
            url="https://hooks.example.com/docs",
            events=["*"],
            description="",
            secret="whsec_" + "A" * 32,
            now=dt.datetime.now(dt.UTC),
        )
    ok(client.post(f"/v1/admin/webhook-endpoints/{endpoint.id}/test", headers=fx.admin), 202)
    with db.transaction() as s:
        return {kind: data for kind, data in outbox.events_of(s, fx.tenant.id)}


def test_every_event_type_has_an_example_shaped_like_the_real_event(
    client, stripe_client, tenant_a, fake_stripe, db
):
    examples = documented()
    real = real_events(client, stripe_client, tenant_a, fake_stripe, db)
    kinds = (*events_out.EVENT_TYPES, events_out.TEST_EVENT)
    assert set(kinds) <= set(real), set(kinds) - set(real)  # every type was produced
    assert set(examples) == set(kinds)
    for kind in kinds:
        example = examples[kind]
        assert sorted(example) == ["data", "timestamp", "type"], kind
        same_shape(shape(example["data"]), shape(real[kind]), kind)
