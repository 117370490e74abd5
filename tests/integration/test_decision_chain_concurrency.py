"""The decision chain under real concurrency on PostgreSQL: threads with their own connections ask
for offers of one tenant at once; every link is appended exactly once, in one unbroken chain —
through the process's decision spool (batches from a writer thread, as served), and appended by
each request itself (the spool off or full)."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select

from app import create_app
from app.adapters.decision_spool import DecisionSpool
from app.services import decision_log
from storage import models as m
from storage.db import Database
from tests.support.dates import days_ahead
from tests.support.races import committed_tenant

THREADS, REQUESTS = 8, 5
SPOOLED = "tierwise_decision_records_spooled_total"
DAY = days_ahead(30)


@pytest.mark.parametrize("spooled", [True, False], ids=["spooled", "in-request"])
def test_concurrent_offers_make_one_unbroken_chain(pg_url, settings, cache, spooled):
    database = Database.from_url(pg_url)
    with committed_tenant(database, settings, "chain") as tenant:
        app = create_app(settings, db=database, cache=cache)
        offers = app.extensions["tierwise"].offers
        offers.spool = DecisionSpool(database, limit=10_000 if spooled else 0)
        url = f"/v1/storefront/segments/{tenant.segment.key}/offers?date={DAY}&guests=2"

        def ask(_: int) -> list[str]:
            client = app.test_client()
            ids = []
            for _ in range(REQUESTS):
                response = client.get(url, headers=tenant.storefront)
                assert response.status_code == 200, response.get_json()
                ids += response.get_json()["decision_ids"]
            return ids

        before = REGISTRY.get_sample_value(SPOOLED) or 0.0
        with ThreadPoolExecutor(THREADS) as pool:
            served = [i for ids in pool.map(ask, range(THREADS)) for i in ids]
        assert len(served) == len(set(served)) == THREADS * REQUESTS * 3
        result = decision_log.verify(database, tenant.tenant.id)  # flushes the spool first
        assert (result["valid"], result["checked"], result["head_seq"]) == (
            True,
            len(served),
            len(served),
        )
        with database.transaction() as s:
            seqs = s.scalar(
                select(func.count(func.distinct(m.Decision.seq))).where(
                    m.Decision.tenant_id == uuid.UUID(tenant.tenant.id)
                )
            )
        assert seqs == len(served)
        assert offers.spool.flush()  # nothing left behind
        by_spool = (REGISTRY.get_sample_value(SPOOLED) or 0.0) - before
        assert by_spool == (len(served) if spooled else 0)
        offers.spool.close()
