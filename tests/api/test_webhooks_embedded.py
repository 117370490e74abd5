"""The embedded default (SQLite, `make run`): a thread of the server process delivers the outbox;
http and loopback receivers are allowed there."""

from __future__ import annotations

import datetime as dt

from standardwebhooks.webhooks import Webhook

from app import create_app
from app.services import events_out
from app.services.events_out import Worker
from config import Settings
from storage.db import migrate
from tests.support.embedded import seeded_demo
from tests.support.timing import eventually
from tests.support.webhook_receiver import receiver


def test_the_in_process_worker_delivers_on_sqlite(tmp_path):
    settings = Settings.from_env(
        {"TIERWISE_MODE": "embedded", "DATABASE_URL": f"sqlite:///{tmp_path}/demo.db"}
    )
    assert settings.webhook_allow_http and settings.webhook_allow_private_urls
    migrate(settings.database_url)
    tenant, _key = seeded_demo(settings)
    app = create_app(settings)
    services = app.extensions["tierwise"]
    worker = Worker(services.events, idle_seconds=0.02)
    try:
        with receiver() as hooks:
            created = events_out.create_endpoint(
                services.events,
                tenant.id,
                {"url": hooks.url, "events": ["*"], "description": ""},
                dt.datetime.now(dt.UTC),
            )
            worker.start()
            events_out.send_test(services.db, tenant.id, created["id"], dt.datetime.now(dt.UTC))
            (request,) = eventually(lambda: list(hooks.requests), 10, "the test event")
            Webhook(created["secret"]).verify(request.body, request.headers)
    finally:
        worker.stop()
        services.db.dispose()
