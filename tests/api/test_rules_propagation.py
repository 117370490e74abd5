"""A publish or rollback on one app instance reaches another instance without restart: at once
through the epoch announced in Redis, and within the 1 s activations TTL when the second instance
cannot reach Redis.

The two instances are two ``create_app`` calls sharing the test database (one connection inside
the test's outer transaction) and Redis, each with its own RulesRuntime, like two workers."""

from __future__ import annotations

import pytest

from app import create_app
from app.adapters import rules_runtime
from app.adapters.cache import RedisCache
from tests.conftest import TEST_REDIS_URL, UNREACHABLE_REDIS
from tests.support.rules import hot_summer_document, publish_draft
from tests.support.timing import Clock

R = "/v1/admin/rulesets"
FACTS = {"service_date": "2027-07-10", "lead_days": 2}
POLL_SECONDS = 0.05
POLL_LIMIT_SECONDS = 1.5
MAX_DELAY_SECONDS = 1.05


def served(client, fx) -> tuple[int, str]:
    """(version, season multiplier) the instance serves now."""
    response = client.post(
        f"{R}/evaluate", headers=fx.admin, json={"facts": FACTS, "kinds": ["season"]}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    return body["version"], body["decisions"]["season"]["multiplier"]


def publish(client, fx) -> int:
    published = publish_draft(client, fx, hot_summer_document(), name="hot")
    return published["version"]["number"]


def rollback(client, fx, number: int) -> None:
    response = client.post(f"{R}/versions/{number}/activate", headers=fx.admin)
    assert response.status_code == 201, response.get_json()


def active_version(client, fx) -> int:
    return client.get(f"{R}/active", headers=fx.admin).get_json()["active_version"]


def wait_until_served(client, fx, expected: tuple[int, str], clock: Clock) -> float:
    """Move the instance's ``clock`` on a 50 ms grid (up to 1.5 s) until the instance serves
    ``expected``; how far the clock had moved then."""
    since, tick = clock.now, 0
    while served(client, fx) != expected:
        tick += 1
        if tick * POLL_SECONDS > POLL_LIMIT_SECONDS:
            pytest.fail(f"still not serving {expected} after {POLL_LIMIT_SECONDS} s")
        clock.now = since + tick * POLL_SECONDS
    return clock.now - since


@pytest.fixture
def second_cache():
    cache = RedisCache(TEST_REDIS_URL)
    yield cache
    cache._client.close()


def test_publish_and_rollback_reach_the_other_instance_through_the_epoch(
    settings, db, cache, second_cache, tenant_a, monkeypatch
):
    # With a TTL of an hour only the epoch announcement can explain what instance 2 sees. A
    # worker compares the epoch at most every EPOCH_CHECK_SECONDS (0.1 s), so each check below
    # moves the instances' clock that far past the change: the other instance's next evaluation
    # must then see it.
    monkeypatch.setattr(rules_runtime, "ACTIVATIONS_TTL_SECONDS", 3600.0)
    clock = Clock()
    app = create_app(settings, db=db, cache=cache, rules_clock=clock)
    one = app.test_client()
    two = create_app(settings, db=db, cache=second_cache, rules_clock=clock).test_client()
    assert two.application.extensions["tierwise"].rules is not app.extensions["tierwise"].rules
    assert served(one, tenant_a) == served(two, tenant_a) == (1, "1.32")  # both caches warm
    epoch = rules_runtime.epoch_key(tenant_a.tenant.id)

    assert publish(one, tenant_a) == 2
    assert cache.get(epoch) == b"1"
    assert served(one, tenant_a) == (2, "1.65")
    clock.advance(rules_runtime.EPOCH_CHECK_SECONDS)
    assert served(two, tenant_a) == (2, "1.65")
    assert active_version(two, tenant_a) == 2

    rollback(one, tenant_a, 1)
    assert cache.get(epoch) == b"2"
    assert served(one, tenant_a) == (1, "1.32")
    clock.advance(rules_runtime.EPOCH_CHECK_SECONDS)
    assert served(two, tenant_a) == (1, "1.32")

    rollback(two, tenant_a, 2)  # and the other way round
    assert cache.get(epoch) == b"3"
    assert served(two, tenant_a) == (2, "1.65")
    clock.advance(rules_runtime.EPOCH_CHECK_SECONDS)
    assert served(one, tenant_a) == (2, "1.65")
    assert active_version(one, tenant_a) == 2


def test_without_redis_the_other_instance_follows_within_one_second(
    app, settings, db, tenant_a, capsys
):
    one = app.test_client()
    offline = RedisCache(UNREACHABLE_REDIS)
    clock = Clock()  # instance 2's: it stands still unless the test moves it
    two = create_app(settings, db=db, cache=offline, rules_clock=clock).test_client()
    assert served(one, tenant_a) == served(two, tenant_a) == (1, "1.32")

    served(two, tenant_a)  # instance 2's copy is as fresh as it gets: the worst case follows
    assert publish(one, tenant_a) == 2
    assert served(one, tenant_a) == (2, "1.65")
    publish_delay = wait_until_served(two, tenant_a, (2, "1.65"), clock)

    served(two, tenant_a)
    rollback(one, tenant_a, 1)
    assert served(one, tenant_a) == (1, "1.32")
    rollback_delay = wait_until_served(two, tenant_a, (1, "1.32"), clock)

    with capsys.disabled():
        print(
            f"\nwithout Redis, instance 2 followed the publish after {publish_delay:.3f} s "
            f"and the rollback after {rollback_delay:.3f} s"
        )
    assert publish_delay <= MAX_DELAY_SECONDS
    assert rollback_delay <= MAX_DELAY_SECONDS
    assert active_version(two, tenant_a) == 1
