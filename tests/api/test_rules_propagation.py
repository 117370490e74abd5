"""A publish or rollback on one app instance reaches another instance without restart: at once
through the epoch announced in Redis, and within the 1 s activations TTL when the second instance
cannot reach Redis.

The two instances are two ``create_app`` calls sharing the test database (one connection inside
the test's outer transaction) and Redis, each with its own RulesRuntime, like two workers."""

from __future__ import annotations

import json
import time

import pytest

from app import create_app
from app.adapters import rules_runtime
from app.adapters.cache import RedisCache
from rules.defaults import DEFAULT_RULESET
from tests.conftest import TEST_REDIS_URL

R = "/v1/admin/rulesets"
FACTS = {"service_date": "2027-07-10", "lead_days": 2}
UNREACHABLE_REDIS = "redis://127.0.0.1:1/0"
POLL_SECONDS = 0.05
POLL_LIMIT_SECONDS = 1.5
MAX_DELAY_SECONDS = 1.05


def hot_summer_document() -> dict:
    document = json.loads(json.dumps(DEFAULT_RULESET))
    next(r for r in document["rules"] if r["id"] == "summer-peak")["then"]["multiplier"] = "1.5"
    document["tests"][0]["expect"]["season"]["multiplier"] = "1.65"
    return document


def served(client, fx) -> tuple[int, str]:
    """(version, season multiplier) the instance serves now."""
    response = client.post(
        f"{R}/evaluate", headers=fx.admin, json={"facts": FACTS, "kinds": ["season"]}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["version"], body["decisions"]["season"]["multiplier"]


def publish(client, fx) -> int:
    draft = client.post(
        f"{R}/drafts", headers=fx.admin, json={"name": "hot", "document": hot_summer_document()}
    )
    assert draft.status_code == 201, draft.get_json()
    response = client.post(
        f"{R}/drafts/{draft.get_json()['id']}/publish", headers=fx.admin, json={}
    )
    assert response.status_code == 201, response.get_json()
    return response.get_json()["version"]["number"]


def rollback(client, fx, number: int) -> None:
    response = client.post(f"{R}/versions/{number}/activate", headers=fx.admin)
    assert response.status_code == 201, response.get_json()


def active_version(client, fx) -> int:
    return client.get(f"{R}/active", headers=fx.admin).get_json()["active_version"]


def wait_until_served(client, fx, expected: tuple[int, str], since: float) -> float:
    """Poll on a 50 ms grid from ``since`` (up to 1.5 s) until the instance serves ``expected``;
    the delay from ``since`` to the start of the first evaluation that served it."""
    tick = 0
    while True:
        started = time.monotonic()
        if served(client, fx) == expected:
            return started - since
        if started - since > POLL_LIMIT_SECONDS:
            pytest.fail(f"still not serving {expected} after {POLL_LIMIT_SECONDS} s")
        tick = max(tick + 1, int((time.monotonic() - since) / POLL_SECONDS) + 1)
        time.sleep(max(0.0, since + tick * POLL_SECONDS - time.monotonic()))


@pytest.fixture
def second_cache():
    cache = RedisCache(TEST_REDIS_URL)
    yield cache
    cache._client.close()


def test_publish_and_rollback_reach_the_other_instance_through_the_epoch(
    app, settings, db, cache, second_cache, tenant_a, monkeypatch
):
    # With a TTL of an hour only the epoch announcement can explain what instance 2 sees. A
    # worker compares the epoch at most every EPOCH_CHECK_SECONDS (0.1 s), so each check below
    # waits that long after the change: the other instance's next evaluation must then see it.
    monkeypatch.setattr(rules_runtime, "ACTIVATIONS_TTL_SECONDS", 3600.0)
    one = app.test_client()
    two = create_app(settings, db=db, cache=second_cache).test_client()
    assert two.application.extensions["tierwise"].rules is not app.extensions["tierwise"].rules
    assert served(one, tenant_a) == served(two, tenant_a) == (1, "1.32")  # both caches warm
    epoch = rules_runtime.epoch_key(tenant_a.tenant.id)

    assert publish(one, tenant_a) == 2
    assert cache.get(epoch) == b"1"
    assert served(one, tenant_a) == (2, "1.65")
    time.sleep(rules_runtime.EPOCH_CHECK_SECONDS)
    assert served(two, tenant_a) == (2, "1.65")
    assert active_version(two, tenant_a) == 2

    rollback(one, tenant_a, 1)
    assert cache.get(epoch) == b"2"
    assert served(one, tenant_a) == (1, "1.32")
    time.sleep(rules_runtime.EPOCH_CHECK_SECONDS)
    assert served(two, tenant_a) == (1, "1.32")

    rollback(two, tenant_a, 2)  # and the other way round
    assert cache.get(epoch) == b"3"
    assert served(two, tenant_a) == (2, "1.65")
    time.sleep(rules_runtime.EPOCH_CHECK_SECONDS)
    assert served(one, tenant_a) == (2, "1.65")
    assert active_version(one, tenant_a) == 2


def test_without_redis_the_other_instance_follows_within_one_second(
    app, settings, db, tenant_a, capsys
):
    one = app.test_client()
    offline = RedisCache(UNREACHABLE_REDIS)
    two = create_app(settings, db=db, cache=offline).test_client()
    assert served(one, tenant_a) == served(two, tenant_a) == (1, "1.32")

    served(two, tenant_a)  # instance 2's copy is as fresh as it gets: the worst case follows
    assert publish(one, tenant_a) == 2
    published = time.monotonic()
    assert served(one, tenant_a) == (2, "1.65")
    publish_delay = wait_until_served(two, tenant_a, (2, "1.65"), published)

    served(two, tenant_a)
    rollback(one, tenant_a, 1)
    rolled_back = time.monotonic()
    assert served(one, tenant_a) == (1, "1.32")
    rollback_delay = wait_until_served(two, tenant_a, (1, "1.32"), rolled_back)

    with capsys.disabled():
        print(
            f"\nwithout Redis, instance 2 followed the publish after {publish_delay:.3f} s "
            f"and the rollback after {rollback_delay:.3f} s"
        )
    assert publish_delay <= MAX_DELAY_SECONDS
    assert rollback_delay <= MAX_DELAY_SECONDS
    assert active_version(two, tenant_a) == 1
