"""Scheduled ruleset activations: listed (``GET …/rulesets/schedule``) and cancelled
(``DELETE …/rulesets/schedule/<sequence>``); an activation that takes effect now (a publish, an
activate or a rollback) supersedes the pending ones unless asked to keep them, and names what it
cancelled; history labels are truthful; a cancellation reaches every serving worker the way a
publish does, and is in the change log.

The issue's two bugs each have a test written before the fix (they failed on the old code):
``test_publish_now_supersedes_an_earlier_scheduled_activation``,
``test_rollback_now_supersedes_an_earlier_scheduled_activation`` and
``test_activating_a_newer_version_is_labelled_activate_not_rollback``.

Versions are seeded through the use case ``publish_document`` with an explicit ``now`` (no engine
subprocess); the HTTP publish is exercised where the request field matters."""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest

from app import create_app
from app.adapters import rules_runtime
from app.adapters.cache import RedisCache
from app.adapters.rules_runtime import RulesRuntime
from app.services import rulesets, tenants
from pricing.errors import Conflict
from tests.conftest import UNREACHABLE_REDIS
from tests.support.embedded import embedded_settings
from tests.support.http import error_of
from tests.support.rules import publish, publish_draft, summer_document

R = "/v1/admin/rulesets"
SCHEDULE = f"{R}/schedule"
ADMIN_AUTHOR = "tenant_admin:test-tenant_admin"
SUMMER_SATURDAY = {"service_date": "2027-07-10", "lead_days": 2, "tier_level": 1}
ISO_WITH_OFFSET = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:\d\d")


# ---- helpers ------------------------------------------------------------------------------------


def hour(n: float) -> dt.datetime:
    """``n`` hours from now, to the second (what a client would send)."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=n)).replace(microsecond=0)


def seed(app, fx, activates_at: dt.datetime | None = None, *, now=None):
    """Publish a version through the use case: now, or scheduled at ``activates_at``."""
    document = summer_document("1.2")
    return publish(app, fx.tenant.id, document, "seeded", activates_at, now, author="seed")


def served_at(client, fx, at: dt.datetime) -> int:
    """The version the app evaluates with at ``at``."""
    response = client.post(
        f"{R}/evaluate", headers=fx.admin, json={"facts": SUMMER_SATURDAY, "at": at.isoformat()}
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["version"]


def history(client, fx) -> list[dict]:
    response = client.get(f"{R}/active", headers=fx.analyst)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["history"]


def schedule(client, fx, headers=None) -> list[dict]:
    response = client.get(SCHEDULE, headers=headers or fx.analyst)
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def ref(sequence: int, version: int, activates_at: dt.datetime) -> dict:
    return {"sequence": sequence, "version": version, "activates_at": activates_at.isoformat()}


# ---- the bugs ---------------------------------------------------------------------------


def test_publish_now_supersedes_an_earlier_scheduled_activation(client, app, tenant_a):
    later = hour(2)
    seed(app, tenant_a, later)  # version 2 scheduled, activation 2
    assert served_at(client, tenant_a, later + dt.timedelta(minutes=1)) == 2

    body = publish_draft(client, tenant_a, summer_document("1.5"), note="published after")

    assert (body["version"]["number"], body["activation"]["action"]) == (3, "publish")
    # once version 2's time has passed, the version published later is still in force
    assert served_at(client, tenant_a, later + dt.timedelta(minutes=1)) == 3
    assert body["cancelled_activations"] == [ref(2, 2, later)]
    assert schedule(client, tenant_a) == []
    cancelled = next(a for a in history(client, tenant_a) if a["sequence"] == 2)
    assert cancelled["cancelled_by"] == ADMIN_AUTHOR
    assert ISO_WITH_OFFSET.fullmatch(cancelled["cancelled_at"])
    assert dt.datetime.fromisoformat(cancelled["cancelled_at"]) < later


def test_rollback_now_supersedes_an_earlier_scheduled_activation(client, app, tenant_a):
    later = hour(2)
    seed(app, tenant_a, later)  # version 2 scheduled, activation 2

    response = client.post(f"{R}/versions/1/activate", headers=tenant_a.admin)

    assert response.status_code == 201, response.get_json()
    assert served_at(client, tenant_a, later + dt.timedelta(minutes=1)) == 1
    body = response.get_json()
    assert (body["sequence"], body["version_number"]) == (3, 1)
    assert body["cancelled_activations"] == [ref(2, 2, later)]
    assert schedule(client, tenant_a) == []


def test_activating_a_newer_version_is_labelled_activate_not_rollback(client, app, tenant_a):
    seed(app, tenant_a)  # version 2, in force
    seed(app, tenant_a)  # version 3, in force

    def activate(number: int) -> str:
        response = client.post(f"{R}/versions/{number}/activate", headers=tenant_a.admin)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["action"]

    assert activate(1) == "rollback"  # older than 3
    assert activate(3) == "activate"  # newer than 1
    assert activate(3) == "activate"  # the version in force again: not going back
    assert activate(2) == "rollback"  # older than 3
    labels = [(a["version_number"], a["action"]) for a in history(client, tenant_a)]
    assert labels == [
        (2, "rollback"),
        (3, "activate"),
        (3, "activate"),
        (1, "rollback"),
        (3, "publish"),
        (2, "publish"),
        (1, "publish"),
    ]


# ---- superseding, precisely ---------------------------------------------------------------------


def test_taking_effect_now_cancels_every_pending_activation_and_nothing_else(app, db, tenant_a):
    now = dt.datetime(2030, 5, 1, 12, tzinfo=dt.UTC)
    in_1h, in_3h = now + dt.timedelta(hours=1), now + dt.timedelta(hours=3)
    yesterday = now - dt.timedelta(days=1)
    seed(app, tenant_a, yesterday, now=yesterday)  # activation 2: took effect yesterday
    seed(app, tenant_a, in_3h, now=now)  # activation 3: version 3 at +3 h
    seed(app, tenant_a, in_1h, now=now)  # activation 4: version 4 at +1 h (a publish for later
    # keeps the pending ones)

    published = seed(app, tenant_a, now=now)  # version 5, now

    assert published.activation.sequence == 5
    assert [(a.sequence, a.version_number) for a in published.cancelled] == [(4, 4), (3, 3)]
    state = rulesets.activation_state(db, tenant_a.tenant, now)
    assert state["scheduled"] == []
    by_sequence = {a.sequence: a for a in state["history"]}
    assert [s for s, a in sorted(by_sequence.items()) if a.cancelled_at is not None] == [3, 4]
    assert {by_sequence[3].cancelled_at, by_sequence[4].cancelled_at} == {now}
    assert {by_sequence[3].cancelled_by, by_sequence[4].cancelled_by} == {"seed"}
    assert by_sequence[2].cancelled_at is None  # it had taken effect: history, not schedule
    for moment in (now, in_1h, in_3h + dt.timedelta(days=1)):
        assert rulesets.activation_state(db, tenant_a.tenant, moment)["active_version"] == 5
    # what was in force before the publish is as it was
    an_hour_ago = now - dt.timedelta(hours=1)
    assert rulesets.activation_state(db, tenant_a.tenant, an_hour_ago)["active_version"] == 2


def test_a_scheduled_publish_keeps_the_other_pending_activations(app, db, tenant_a):
    now = dt.datetime(2030, 5, 1, 12, tzinfo=dt.UTC)
    in_1h, in_2h = now + dt.timedelta(hours=1), now + dt.timedelta(hours=2)
    seed(app, tenant_a, in_2h, now=now)  # version 2 at +2 h

    published = seed(app, tenant_a, in_1h, now=now)  # version 3 at +1 h

    assert published.cancelled == []
    state = rulesets.activation_state(db, tenant_a.tenant, now)
    assert [(a.sequence, a.version_number) for a in state["scheduled"]] == [(2, 2), (3, 3)]
    in_force = [
        rulesets.activation_state(db, tenant_a.tenant, moment)["active_version"]
        for moment in (now, in_1h, in_2h)
    ]
    assert in_force == [1, 3, 2]


def test_keep_schedule_on_publish_and_activate_leaves_pending_activations(client, app, tenant_a):
    later = hour(2)
    seed(app, tenant_a, later)  # version 2 scheduled, activation 2

    body = publish_draft(client, tenant_a, summer_document("1.5"), keep_schedule=True)
    assert body["cancelled_activations"] == []
    rollback = client.post(
        f"{R}/versions/1/activate", headers=tenant_a.admin, json={"keep_schedule": True}
    )
    assert rollback.status_code == 201, rollback.get_json()
    assert rollback.get_json()["cancelled_activations"] == []

    assert [(a["sequence"], a["version"]) for a in schedule(client, tenant_a)] == [(2, 2)]
    assert served_at(client, tenant_a, later - dt.timedelta(seconds=1)) == 1
    assert served_at(client, tenant_a, later + dt.timedelta(minutes=1)) == 2
    bad = client.post(
        f"{R}/versions/1/activate", headers=tenant_a.admin, json={"keep_schedule": "maybe"}
    )
    assert [d["path"] for d in error_of(bad, 422, "validation_error")["details"]] == [
        "/json/keep_schedule"
    ]


# ---- listing and cancelling ---------------------------------------------------------------------


def test_schedule_lists_pending_activations_in_the_order_they_take_effect(client, app, tenant_a):
    in_3h, in_1h = hour(3), hour(1)
    seed(app, tenant_a, in_3h)  # activation 2
    seed(app, tenant_a, in_1h)  # activation 3
    seed(app, tenant_a, hour(5))  # activation 4, cancelled below
    assert client.delete(f"{SCHEDULE}/4", headers=tenant_a.admin).status_code == 204

    response = client.get(SCHEDULE, headers=tenant_a.analyst)  # analysts read the schedule

    assert response.status_code == 200, response.get_json()
    listed = response.get_json()
    assert [(a["sequence"], a["version"]) for a in listed] == [(3, 3), (2, 2)]
    assert set(listed[0]) == {"sequence", "version", "activates_at", "created_by", "created_at"}
    assert listed[0]["created_by"] == "seed"
    for item in listed:
        assert ISO_WITH_OFFSET.fullmatch(item["activates_at"])
        assert ISO_WITH_OFFSET.fullmatch(item["created_at"])
    assert [dt.datetime.fromisoformat(a["activates_at"]) for a in listed] == [in_1h, in_3h]
    assert json.loads(response.headers["X-Pagination"])["total"] == 2
    page = client.get(SCHEDULE, headers=tenant_a.admin, query_string={"page": 2, "page_size": 1})
    assert [a["sequence"] for a in page.get_json()] == [2]


def test_cancel_removes_the_activation_from_the_schedule_and_keeps_it_in_history(
    client, app, cache, tenant_a
):
    later = hour(2)
    seed(app, tenant_a, later)  # activation 2
    epoch = rules_runtime.epoch_key(tenant_a.tenant.id)
    assert served_at(client, tenant_a, later + dt.timedelta(minutes=1)) == 2
    before = cache.get(epoch)

    response = client.delete(
        f"{SCHEDULE}/2", headers={**tenant_a.admin, "X-Request-Id": "cancel-2"}
    )

    assert response.status_code == 204
    assert response.data == b""
    assert schedule(client, tenant_a) == []
    assert served_at(client, tenant_a, later + dt.timedelta(minutes=1)) == 1
    assert cache.get(epoch) != before  # announced like a publish
    (cancelled,) = [a for a in history(client, tenant_a) if a["sequence"] == 2]
    assert (cancelled["version_number"], cancelled["action"]) == (2, "publish")
    assert cancelled["cancelled_by"] == ADMIN_AUTHOR
    assert ISO_WITH_OFFSET.fullmatch(cancelled["cancelled_at"])
    assert next(a for a in history(client, tenant_a) if a["sequence"] == 1)["cancelled_at"] is None
    changes = client.get(
        "/v1/admin/audit/changes",
        headers=tenant_a.admin,
        query_string={"entity_type": "ruleset_activation", "entity_id": "2", "action": "update"},
    ).get_json()
    assert [(c["actor"], c["request_id"]) for c in changes] == [(ADMIN_AUTHOR, "cancel-2")]
    assert changes[0]["before"] == {"cancelled_at": None, "cancelled_by": None}
    after = changes[0]["after"]
    assert after["cancelled_by"] == ADMIN_AUTHOR
    assert dt.datetime.fromisoformat(after["cancelled_at"]) == dt.datetime.fromisoformat(
        cancelled["cancelled_at"]
    )


def test_cancel_refusals(client, app, tenant_a, tenant_b):
    seed(app, tenant_a, hour(2))  # activation 2 of tenant A
    assert client.delete(f"{SCHEDULE}/2", headers=tenant_a.admin).status_code == 204

    error_of(client.delete(f"{SCHEDULE}/2", headers=tenant_a.admin), 409, "activation_cancelled")
    error_of(client.delete(f"{SCHEDULE}/1", headers=tenant_a.admin), 409, "activation_took_effect")
    for unknown in (3, 2**31, 10**30):
        error_of(
            client.delete(f"{SCHEDULE}/{unknown}", headers=tenant_a.admin),
            404,
            "activation_not_found",
        )
    seed(app, tenant_a, hour(3))  # activation 3 of tenant A
    # another tenant's sequence is unknown to tenant B (its own 3 does not exist either)
    error_of(client.delete(f"{SCHEDULE}/3", headers=tenant_b.admin), 404, "activation_not_found")
    error_of(client.delete(f"{SCHEDULE}/3", headers=tenant_a.analyst), 403, "role_forbidden")
    assert [a["sequence"] for a in schedule(client, tenant_a)] == [3]
    assert schedule(client, tenant_b) == []


def test_an_activation_whose_time_has_come_can_no_longer_be_cancelled(app, db, tenant_a):
    now = dt.datetime(2030, 5, 1, 12, tzinfo=dt.UTC)
    at = now + dt.timedelta(hours=1)
    seed(app, tenant_a, at, now=now)  # activation 2
    runtime = app.extensions["tierwise"].rules

    with pytest.raises(Conflict) as refused:
        rulesets.cancel_activation(db, runtime, tenant_a.tenant, 2, "someone", at)

    assert refused.value.code == "activation_took_effect"
    assert rulesets.activation_state(db, tenant_a.tenant, at)["active_version"] == 2
    rulesets.cancel_activation(
        db, runtime, tenant_a.tenant, 2, "someone", at - dt.timedelta(microseconds=1)
    )
    assert rulesets.activation_state(db, tenant_a.tenant, at)["active_version"] == 1


def test_a_cancellation_reaches_other_workers_like_a_publish(client, app, db, cache, tenant_a):
    """One worker learns through the Redis epoch (checked every 0.1 s), one without Redis within
    the 1 s bound on its copy; their clocks are driven by the test."""
    later = hour(2)
    seed(app, tenant_a, later)
    ticks = {"epoch": 0.0, "offline": 0.0}
    through_epoch = RulesRuntime(db, cache, engine="reference", clock=lambda: ticks["epoch"])
    offline = RulesRuntime(
        db, RedisCache(UNREACHABLE_REDIS), engine="reference", clock=lambda: ticks["offline"]
    )
    for worker in (through_epoch, offline):
        assert worker.active(tenant_a.tenant.id, later).version == 2

    assert client.delete(f"{SCHEDULE}/2", headers=tenant_a.admin).status_code == 204

    ticks["epoch"] = rules_runtime.EPOCH_CHECK_SECONDS
    assert through_epoch.active(tenant_a.tenant.id, later).version == 1
    ticks["offline"] = rules_runtime.ACTIVATIONS_TTL_SECONDS - 0.01
    assert offline.active(tenant_a.tenant.id, later).version == 2  # its copy, still fresh
    ticks["offline"] = rules_runtime.ACTIVATIONS_TTL_SECONDS
    assert offline.active(tenant_a.tenant.id, later).version == 1
    assert served_at(client, tenant_a, later) == 1  # the instance that cancelled: at once


# ---- SQLite (the embedded mode) -----------------------------------------------------------------


@pytest.fixture
def embedded_db(tmp_path, monkeypatch):
    app = create_app(embedded_settings(monkeypatch, tmp_path / "schedule.db"))
    yield app.extensions["tierwise"]
    app.extensions["tierwise"].db.dispose()


def test_on_sqlite_offsets_are_instants_and_the_schedule_works(embedded_db):
    """SQLite stores wall-clock text: an activation scheduled with an offset is stored as UTC, so
    it takes effect at its instant (before the fix, 15:00+02:00 took effect at 15:00 UTC)."""
    db, runtime = embedded_db.db, embedded_db.rules
    lite = {"slug": "lite", "name": "Lite", "currency": "EUR", "time_zone": "Europe/Berlin"}
    tenant = tenants.create_tenant(db, {**lite, "default_capacity": 1})
    now = dt.datetime(2030, 5, 1, 12, tzinfo=dt.UTC)
    berlin = dt.timezone(dt.timedelta(hours=2))
    doc = summer_document("1.2")
    at_one_in_berlin = now.astimezone(berlin) + dt.timedelta(hours=1)  # 15:00+02:00
    rulesets.publish_document(db, runtime, tenant.id, doc, "x", "", at_one_in_berlin, now)
    in_force = [
        rulesets.activation_state(db, tenant, now + dt.timedelta(minutes=m))["active_version"]
        for m in (59, 61)
    ]
    assert in_force == [1, 2]

    in_3h = now + dt.timedelta(hours=3)
    rulesets.publish_document(db, runtime, tenant.id, doc, "x", "", in_3h, now)
    assert [a.sequence for a in rulesets.list_schedule(db, tenant, now, 0, 10).items] == [2, 3]
    assert rulesets.cancel_activation(db, runtime, tenant, 3, "x", now).cancelled_by == "x"
    activated = rulesets.activate_version(db, runtime, tenant, 1, "x", now)
    assert (activated.activation.action, [a.sequence for a in activated.cancelled]) == (
        "activate",
        [2],
    )
    assert rulesets.list_schedule(db, tenant, now, 0, 10).items == []
    assert rulesets.activation_state(db, tenant, now + dt.timedelta(days=1))["active_version"] == 1
