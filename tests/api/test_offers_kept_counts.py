"""Offers from kept availability counts, and the segments list from a kept catalog version
(storage/availability_cache.py), answer as those read fresh: two apps on one committed database
stand for two workers; what one writes, the other's next read shows once the write is announced,
and the writing worker's own next read at once.
The cache itself: tests/integration/test_availability_cache.py."""

from __future__ import annotations

import select
from collections.abc import Iterator

import pytest

from app import create_app
from storage.db import Database
from tests.api.test_offer_memo import without_ids
from tests.support.races import committed_tenant
from tests.support.storefront import SOON, get_offers, set_capacity


@pytest.fixture
def workers(pg_url, settings, cache) -> Iterator[tuple]:
    """Two apps (``one``, ``other``) on databases of their own, and a plain one (counts read by
    every offer: its Database is shared by a test, as the ``db`` fixture's is), and the tenant."""
    database = Database.from_url(pg_url)
    with committed_tenant(database, settings, "kept") as fx:
        other_db = Database.from_url(pg_url)
        plain_db = Database(database.engine, database.session_factory)
        apps = [create_app(settings, db=d, cache=cache) for d in (database, other_db, plain_db)]
        try:
            yield fx, *apps
        finally:
            for app in apps:
                app.extensions["tierwise"].offers.counts.close()
            other_db.dispose()


def offers(app, fx) -> dict:
    response = get_offers(app.test_client(), fx, SOON)
    assert response.status_code == 200, response.get_json()
    return without_ids(response.get_json())


def availability(body: dict) -> list:
    return [(o["tier"]["level"], o["availability"]) for o in body["offers"]]


def announced(app) -> None:
    listener = app.extensions["tierwise"].offers.counts._listener
    assert listener is not None
    ready, _, _ = select.select([listener.pgconn.socket], [], [], 5.0)
    assert ready, "no announcement arrived"


def test_kept_counts_answer_as_a_fresh_read(workers):
    fx, one, _other, plain = workers
    assert one.extensions["tierwise"].offers.counts.enabled
    assert not plain.extensions["tierwise"].offers.counts.enabled
    first, again = offers(one, fx), offers(one, fx)
    assert first == again == offers(plain, fx)


def test_a_write_by_another_worker_shows_once_announced(workers):
    fx, one, other, plain = workers
    before = offers(one, fx)
    set_capacity(other.test_client(), fx, 0, tier=0, date=SOON, to=SOON)
    announced(one)
    after = offers(one, fx)
    assert availability(after) != availability(before)
    assert after == offers(plain, fx) == offers(other, fx)


def test_a_write_by_the_same_worker_shows_at_once(workers):
    fx, one, _other, plain = workers
    before = offers(one, fx)
    set_capacity(one.test_client(), fx, 0, tier=0, date=SOON, to=SOON)
    after = offers(one, fx)  # no waiting for the announcement
    assert availability(after) != availability(before)
    assert after == offers(plain, fx)


def segment_keys(app, fx) -> list[str]:
    response = app.test_client().get("/v1/storefront/segments", headers=fx.storefront)
    assert response.status_code == 200, response.get_json()
    return [s["key"] for s in response.get_json()]


def add_segment(app, fx, key: str) -> None:
    body = {"key": key, "name": key.title()}
    response = app.test_client().post("/v1/admin/segments", headers=fx.admin, json=body)
    assert response.status_code == 201, response.get_json()


def test_a_catalog_change_by_another_worker_shows_in_the_segments_once_announced(workers):
    fx, one, other, plain = workers
    before = segment_keys(one, fx)
    add_segment(other, fx, "extra")
    announced(one)
    after = segment_keys(one, fx)
    assert "extra" not in before and "extra" in after
    assert after == segment_keys(plain, fx)


def test_a_catalog_change_by_the_same_worker_shows_in_the_segments_at_once(workers):
    fx, one, _other, plain = workers
    before = segment_keys(one, fx)
    add_segment(one, fx, "extra")
    after = segment_keys(one, fx)  # no waiting for the announcement
    assert "extra" not in before and "extra" in after
    assert after == segment_keys(plain, fx)
