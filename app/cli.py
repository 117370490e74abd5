"""``tierwise`` command line: migrate, tenants, API keys, tokens, the demo, and serving."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sys
import tempfile
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from config import ConfigError, Settings
from config.settings import JWT_TTL_MAX, JWT_TTL_MIN

if TYPE_CHECKING:  # the commands import these when they run
    from flask import Flask

    from storage.db import Database


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def _as_cli() -> AbstractContextManager[None]:
    """Changes made from here on are audited as made by ``cli``."""
    from storage.change_log import acting_as

    return acting_as("cli")


def _db(settings: Settings) -> Database:
    from storage.db import Database

    return Database.from_url(settings.database_url)


@click.group()
def main() -> None:
    """tierwise operations. Configuration comes from the environment (docs/operations.md)."""


@main.command()
def migrate() -> None:
    """Apply database migrations."""
    from storage.db import migrate as run

    run(_settings().database_url)
    click.echo("database is at the newest migration")


@main.command("create-tenant")
@click.option("--slug", required=True)
@click.option("--name", required=True)
@click.option("--currency", required=True)
@click.option("--time-zone", required=True)
@click.option("--default-capacity", type=int, default=0, show_default=True)
@click.option("--notification-email", default="", help="gets an email per new booking")
def create_tenant(
    slug: str,
    name: str,
    currency: str,
    time_zone: str,
    default_capacity: int,
    notification_email: str,
) -> None:
    """Create a tenant."""
    import marshmallow as ma

    from app.http.schemas.tenants import TenantCreateSchema
    from app.services import tenants

    try:
        data = TenantCreateSchema().load(
            {
                "slug": slug,
                "name": name,
                "currency": currency,
                "time_zone": time_zone,
                "default_capacity": default_capacity,
                "notification_email": notification_email,
            }
        )
    except ma.ValidationError as error:
        raise click.ClickException(f"invalid tenant: {error.messages}") from None
    with _as_cli():
        tenant = tenants.create_tenant(_db(_settings()), data)
    click.echo(f"tenant {tenant.slug} {tenant.id}")


@main.command("create-api-key")
@click.option("--tenant", "tenant_ref", required=True, help="tenant slug or id")
@click.option("--name", default="storefront", show_default=True)
def create_api_key(tenant_ref: str, name: str) -> None:
    """Create a storefront API key (printed once)."""
    from app.services import tenants

    settings = _settings()
    db = _db(settings)
    tenant = tenants.get_tenant(db, tenant_ref)
    with _as_cli():
        created = tenants.create_api_key(db, settings.api_key_pepper, tenant, name)
    click.echo(created["key"])


@main.command()
@click.option(
    "--role", type=click.Choice(["platform_admin", "tenant_admin", "analyst"]), required=True
)
@click.option(
    "--tenant", "tenant_ref", default=None, help="tenant slug or id (not for platform_admin)"
)
@click.option("--subject", default="cli", show_default=True)
@click.option(
    "--ttl",
    "ttl_seconds",
    type=click.IntRange(JWT_TTL_MIN, JWT_TTL_MAX),
    default=None,
    help="seconds; default JWT_TTL_SECONDS",
)
def token(role: str, tenant_ref: str | None, subject: str, ttl_seconds: int | None) -> None:
    """Issue an admin JWT (printed alone on stdout; its lifetime on stderr)."""
    from app.adapters.credentials import issue_token
    from app.services import tenants

    settings = _settings()
    tenant_id = tenants.get_tenant(_db(settings), tenant_ref).id if tenant_ref else None
    now = dt.datetime.now(dt.UTC)
    lifetime = settings.jwt_ttl_seconds if ttl_seconds is None else ttl_seconds
    try:
        issued = issue_token(
            settings,
            role=role,
            subject=subject,
            tenant_id=tenant_id,
            now=now,
            ttl_seconds=lifetime,
        )
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    click.echo(issued)
    click.echo(_valid_for(now, lifetime), err=True)


def _valid_for(now: dt.datetime, seconds: int) -> str:
    """``valid for 3600 s (1 h), until 2026-12-06T11:00:00+00:00``: the lifetime the token got."""
    from app.adapters.credentials import token_expiry

    until = dt.datetime.fromtimestamp(token_expiry(now, seconds), dt.UTC)
    unit = next(
        (n, u) for n, u in ((86400, "d"), (3600, "h"), (60, "min"), (1, "s")) if seconds >= n
    )
    return f"valid for {seconds} s ({seconds / unit[0]:.4g} {unit[1]}), until {until.isoformat()}"


@main.command()
def demo() -> None:
    """Migrate, seed the demo tenant, print a storefront key and an admin token."""
    from app.adapters.credentials import issue_token
    from app.services.demo import demo_admin_login, demo_api_key, seed_demo
    from app.services.origins import origin_of
    from storage.db import migrate as run

    settings = _settings()
    run(settings.database_url)
    db = _db(settings)
    now = dt.datetime.now(dt.UTC)
    base = settings.public_base_url  # as `make run` serves it (127.0.0.1:8000) unless set
    with _as_cli():
        tenant = seed_demo(db, now.date())
        key = demo_api_key(db, settings.api_key_pepper, tenant, [origin_of(base)])
        email, password = demo_admin_login(db, tenant)
    admin = issue_token(
        settings,
        role="tenant_admin",
        subject="demo-admin",
        tenant_id=tenant.id,
        now=now,
        ttl_seconds=settings.jwt_ttl_seconds,
    )
    click.echo(f"demo tenant:          {tenant.slug} ({tenant.id})")
    click.echo(f"storefront API key:   {key}")
    click.echo(f"tenant-admin token:   {admin}")
    click.echo(
        f"                      {_valid_for(now, settings.jwt_ttl_seconds)} (JWT_TTL_SECONDS)"
    )
    click.echo(f"storefront demo page: {base}/demo#key={key}")
    click.echo("try:")
    click.echo(f"  curl -H 'X-Api-Key: {key}' {base}/v1/storefront/segments")
    click.echo(f"  curl -H 'X-Api-Key: {key}' {base}/v1/storefront/segments/premium/comparison")
    click.echo(
        "  then /offers, /quotes and /checkouts (pay on the local page): see docs/api.md, Checkout"
    )
    click.echo(f"admin console: {base}/admin/")
    click.echo(f"admin login: {email} {password}")


@main.command("create-user")
@click.option(
    "--tenant", "tenant_ref", default=None, help="tenant slug or id (not for platform_admin)"
)
@click.option("--email", required=True)
@click.option(
    "--role", type=click.Choice(["tenant_admin", "analyst", "platform_admin"]), required=True
)
@click.option("--name", default="", help="default: the email's local part")
def create_user(tenant_ref: str | None, email: str, role: str, name: str) -> None:
    """Create a console user; the generated password is printed once, on the last line."""
    from app.services import accounts
    from pricing.errors import DomainError

    db = _db(_settings())
    try:
        with _as_cli():
            user, password = accounts.create_user(db, tenant_ref, email, role, name)
    except DomainError as error:
        raise click.ClickException(f"{error.code}: {error.message}") from None
    finally:
        db.dispose()
    click.echo(f"user {user.email} ({user.role}) {user.id}")
    click.echo(f"password: {password}")


@main.command()
@click.option("--every", type=float, default=0.0, help="repeat every N seconds (0: once)")
def sweep(every: float) -> None:
    """Release lapsed checkout holds, retry postponed refunds, reconcile bookings with their
    payment records (repairing what can be repaired, reporting the rest), remove outbox events
    delivered everywhere and older than OUTBOX_RETENTION_DAYS, and create the decision log's
    monthly partitions ahead (PostgreSQL)."""
    import time

    from app import create_app
    from app.http.common import Services
    from app.services.decision_log import ensure_partitions
    from app.services.outbox_retention import purge_delivered
    from app.services.sweeper import sweep as sweep_once

    app = create_app(_settings())
    services: Services = app.extensions["tierwise"]
    try:
        while True:
            result = sweep_once(services.checkout, dt.datetime.now(dt.UTC))
            click.echo(
                f"holds released: {result['holds_released']}, refunds requested: "
                f"{result['refunds_requested']}, repaired: {len(result['repaired'])}, "
                f"needing attention: {len(result['attention'])}"
            )
            for line in result["repaired"]:
                click.echo(f"  repaired {line}")
            for line in result["attention"]:
                click.echo(f"  ATTENTION {line}")
            days = services.settings.outbox_retention_days
            removed = purge_delivered(services.db, dt.datetime.now(dt.UTC), days)
            click.echo(f"outbox events removed (delivered, older than {days} days): {removed}")
            for name in ensure_partitions(services.db, dt.datetime.now(dt.UTC)):
                click.echo(f"decision log partition created: {name}")
            if every <= 0:
                return
            time.sleep(every)
    finally:
        services.db.dispose()


@main.command()
@click.option("--batch", default=50, show_default=True, type=click.IntRange(1, 1000))
@click.option(
    "--idle", default=1.0, show_default=True, type=float, help="seconds between looks when idle"
)
@click.option(
    "--lease",
    default=60.0,
    show_default=True,
    type=click.FloatRange(1, 3600),
    help="seconds a claimed delivery is this worker's (past the 10 s attempt timeout)",
)
@click.option(
    "--concurrency", default=8, show_default=True, type=click.IntRange(1, 64), help="sends at once"
)
def worker(batch: int, idle: float, lease: float, concurrency: int) -> None:
    """Deliver webhooks from the outbox until stopped (SIGTERM or SIGINT); run several at once."""
    import signal

    from app import make_events
    from app.services.events_out import Worker

    settings = _settings()
    db = _db(settings)
    events = make_events(settings, db)
    runner = Worker(
        events, idle_seconds=idle, batch=batch, lease_seconds=lease, concurrency=concurrency
    )

    def _stop(_signum: int, _frame: object) -> None:
        runner.stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    click.echo(f"delivering webhooks (batch {batch}, lease {lease:g} s)", err=True)
    try:
        runner.run()
    finally:
        runner.stop()
        db.dispose()


@main.command()
def partitions() -> None:
    """Create the decision log's monthly partitions (PostgreSQL) for this month and the next
    three where missing, and list them."""
    from app.services.decision_log import ensure_partitions, partition_names
    from storage.db import Database

    db = Database.from_url(_settings().database_url)
    try:
        created = set(ensure_partitions(db, dt.datetime.now(dt.UTC)))
        for name in partition_names(db):
            click.echo(f"{name}{' (created)' if name in created else ''}")
    finally:
        db.dispose()


@main.command("purge-decisions")
@click.option("--tenant", "tenant_ref", default=None, help="one tenant (slug or id); default: all")
def purge_decisions(tenant_ref: str | None) -> None:
    """Delete decision records older than each tenant's retention (tenants without one keep
    everything): on PostgreSQL whole monthly partitions past every tenant's retention are
    dropped, the rest deleted row by row; the chain stays verifiable from the last purged link's
    hash."""
    from app.services.decision_log import purge_expired
    from storage.db import Database

    db = Database.from_url(_settings().database_url)
    try:
        for result in purge_expired(db, tenant_ref, dt.datetime.now(dt.UTC)):
            if result.get("busy"):
                click.echo(
                    f"{result['partition']}: busy (its lock not granted); left for next time"
                )
                continue
            how = f" by dropping {result['partition']}" if "partition" in result else ""
            click.echo(
                f"{result['tenant_id']}: removed {result['removed']} decisions{how}"
                f" (through seq {result['through_seq']}, cutoff {result['cutoff'].isoformat()})"
            )
    finally:
        db.dispose()


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=1, show_default=True, type=int)
@click.option("--threads", default=4, show_default=True, type=int)
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the API with gunicorn."""
    from rules.durable_binding import ensure_steady_malloc

    ensure_steady_malloc()  # durable-rules' malloc settings, inherited by gunicorn's workers
    metrics_dir, made = _metrics_dir()  # before any metric series is made
    from gunicorn.app.base import BaseApplication
    from prometheus_client import multiprocess

    from app import create_app
    from app.http.serving import LIMIT_REQUEST_LINE

    settings = _settings().served_at(host, port)

    class Server(BaseApplication):  # type: ignore[misc]  # gunicorn ships no types
        def load_config(self) -> None:
            self.cfg.set("bind", f"{host}:{port}")
            self.cfg.set("workers", workers)
            self.cfg.set("threads", threads)
            # gunicorn's own refusals (a request line above the limit, say) in the error shape
            worker = "JsonErrorsSyncWorker" if threads == 1 else "JsonErrorsThreadWorker"
            self.cfg.set("worker_class", f"app.http.serving.{worker}")
            self.cfg.set("limit_request_line", LIMIT_REQUEST_LINE)  # above the app's URL limit
            self.cfg.set("accesslog", "-")
            self.cfg.set("logger_class", "app.http.access_log.AccessLog")
            self.cfg.set("control_socket_disable", True)  # one shared ~/.gunicorn socket otherwise
            # Workers restart regularly, long before durable-rules' 131,071 handle recycling.
            self.cfg.set("max_requests", 50_000)
            self.cfg.set("max_requests_jitter", 5_000)
            self.cfg.set("child_exit", _worker_exited)

        def load(self) -> Flask:
            app = create_app(settings)
            if settings.mode == "embedded":  # `make run`: webhooks delivered in-process
                from app.services.events_out import Worker

                Worker(app.extensions["tierwise"].events).start()
            return app

    def _worker_exited(_server: object, worker: Any) -> None:
        """A worker's live gauges (pool use) leave the sum; its counters stay counted."""
        multiprocess.mark_process_dead(worker.pid, str(metrics_dir))  # type: ignore[no-untyped-call]

    master = os.getpid()
    try:
        Server().run()
    finally:
        # A worker leaves through here too (gunicorn forks inside run() and a worker's exit is a
        # SystemExit): only the master removes the folder, or the next worker could not boot.
        if made and os.getpid() == master:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _metrics_dir() -> tuple[Path, bool]:
    """The directory of the workers' metric files (prometheus-client's multiprocess mode), emptied:
    ``PROMETHEUS_MULTIPROC_DIR`` if set (made if missing), else a new temporary one removed at
    exit (True). Set in the environment for the workers."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if given:
        path = Path(given)
        path.mkdir(parents=True, exist_ok=True)
        for old in path.glob("*.db"):
            old.unlink(missing_ok=True)
        made = False
    else:
        path = Path(tempfile.mkdtemp(prefix="tierwise-metrics-"))
        made = True
    from app.adapters import metrics

    metrics.use_directory(str(path))
    return path, made


if __name__ == "__main__":
    sys.exit(main())
