"""tierwise HTTP application. ``create_app`` is the only way to build it; nothing runs at import."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import marshmallow as ma
from apispec import BasePlugin
from flask import Flask, Response, g, request
from flask_smorest import Api
from flask_smorest.pagination import PaginationMetadataSchema
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from app import logs, tracing
from app.adapters import metrics
from app.adapters.cache import Cache, make_cache
from app.adapters.credentials import ApiKeyCache
from app.adapters.decision_spool import DecisionSpool
from app.adapters.mail import FileMailer, Mailer, SmtpMailer
from app.adapters.payments import LocalPayments, Payments, StripePayments
from app.adapters.privacy import Masker
from app.adapters.quotes import QuoteSigner
from app.adapters.rules_runtime import RulesRuntime
from app.adapters.snapshots import SnapshotCache
from app.adapters.webhooks import UrlPolicy, WebhookSender
from app.http import deprecation, incoming, rate_limits
from app.http import metrics as http_metrics
from app.http.common import Services
from app.http.errors import (
    ErrorSchema,
    error_response,
    handle_domain_error,
    handle_http_exception,
    handle_stale,
    handle_unexpected,
)
from app.http.json_provider import OrjsonProvider, TierwiseRequest
from app.http.schemas import glossary
from app.http.vendor import SWAGGER_UI_URL, vendor
from app.services.checkout import CheckoutContext
from app.services.events_out import EventsContext
from app.services.offers import OfferContext
from config import Settings
from pricing.errors import DomainError
from storage import change_log as change_store
from storage.availability_cache import CountsCache
from storage.db import Database

SECURITY_SCHEMES = {
    "storefrontKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
    "adminToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
}
#: The OpenAPI security requirement of the operations under each path prefix.
SECURITY_BY_PREFIX: tuple[tuple[str, list[dict[str, list[str]]]], ...] = (
    ("/v1/storefront", [{"storefrontKey": []}]),
    ("/v1/admin", [{"adminToken": []}]),
    ("/v1/platform", [{"adminToken": []}]),
)


class TierwiseApi(Api):  # type: ignore[misc]  # flask-smorest ships no types
    ERROR_SCHEMA = ErrorSchema
    #: No blanket ``default`` response: every status an operation answers is listed
    #: (``CommonResponsesPlugin`` adds those every operation of a kind can answer).
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self) -> None:
        self._app.register_error_handler(HTTPException, handle_http_exception)

    def _register_pagination_header(self) -> None:
        """``X-Pagination`` is sent as JSON text (flask-smorest ``json.dumps``), which a header
        ``schema`` of type object would not describe (OpenAPI reads that as the ``simple``
        style, ``total,3,page,1``): documented as a header whose content is JSON."""
        self.spec.components.header(
            "PAGINATION",
            {
                "description": "Pagination metadata, a JSON object: "
                '`{"total": 120, "total_pages": 3, "first_page": 1, "last_page": 3, '
                '"page": 1, "next_page": 2}`',
                "content": {"application/json": {"schema": PaginationMetadataSchema}},
            },
            lazy=True,
        )


def make_payments(settings: Settings) -> Payments:
    if settings.payments_backend == "local":
        return LocalPayments(settings.stripe_webhook_secret, settings.public_base_url)
    return StripePayments(
        settings.stripe_secret_key, settings.stripe_webhook_secret, settings.stripe_api_base or None
    )


def make_events(settings: Settings, db: Database) -> EventsContext:
    policy = UrlPolicy(
        allow_http=settings.webhook_allow_http,
        allow_private=settings.webhook_allow_private_urls,
    )
    mailer: Mailer | None = None
    if settings.smtp_url:
        mailer = SmtpMailer(settings.smtp_url)
    elif settings.mode == "embedded":
        mailer = FileMailer(Path("var/mail"))
    return EventsContext(
        db=db,
        policy=policy,
        sender=WebhookSender(policy),
        mailer=mailer,
        mail_from=settings.mail_from,
    )


def serves_local_payment_page(settings: Settings, payments: Payments) -> bool:
    """The local payment page (``/local-pay``) marks bookings paid for whoever posts to it: the
    embedded demo's offline checkout, mounted only there — in embedded mode with the local
    provider taking the payments. A server (``TIERWISE_MODE=server``) never serves it, whatever
    ``PAYMENTS_BACKEND`` says."""
    return settings.mode == "embedded" and isinstance(payments, LocalPayments)


def create_app(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    cache: Cache | None = None,
    payments: Payments | None = None,
    rules_clock: Callable[[], float] = time.monotonic,
) -> Flask:
    """``rules_clock``: the monotonic seconds by which the rules runtime dates its copy of the
    activations (app/adapters/rules_runtime.py); tests move their own."""
    settings = settings or Settings.from_env()
    app = Flask("tierwise")
    app.json = OrjsonProvider(app)
    app.request_class = TierwiseRequest
    app.config.update(
        API_TITLE="tierwise",
        API_VERSION="1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL=SWAGGER_UI_URL,  # vendored, served by tierwise (no CDN)
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
    )
    logs.use_format(settings.log_format, settings.log_level)
    http_metrics.install(app)  # first: its clock starts before any other hook runs
    db = db or Database.from_url(settings.database_url)
    metrics.watch_pool(db.engine, "durable")
    if db.relaxed_engine is not None:
        metrics.watch_pool(db.relaxed_engine, "relaxed")
    cache = cache or make_cache(settings.cache_backend, settings.redis_url)
    rules = RulesRuntime(
        db,
        cache,
        engine=settings.rules_engine,
        cache_mib=settings.rules_cache_mib,
        clock=rules_clock,
    )
    offer_context = OfferContext(
        db=db,
        rules=rules,
        snapshots=SnapshotCache(db, cache),
        signer=QuoteSigner(settings.quote_secret, settings.quote_ttl_seconds),
        engine=settings.rules_engine,
        masker=Masker(settings.api_key_pepper),
        spool=DecisionSpool(db),
        counts=CountsCache(db),
    )
    payments = payments or make_payments(settings)
    app.extensions["tierwise"] = Services(
        settings=settings,
        db=db,
        cache=cache,
        rules=rules,
        offers=offer_context,
        api_keys=ApiKeyCache(settings.api_key_cache_seconds),
        checkout=CheckoutContext(
            db=db,
            payments=payments,
            signer=offer_context.signer,
            public_base_url=settings.public_base_url,
            hold_minutes=settings.hold_minutes,
        ),
        events=make_events(settings, db),
    )

    api = TierwiseApi(
        app,
        spec_kwargs={
            "components": {"securitySchemes": SECURITY_SCHEMES},
            "extra_plugins": [CommonResponsesPlugin()],
        },
    )
    # Decimals (experiment weights, coverage) travel as strings, "0.5": not JSON numbers.
    api.register_field(ma.fields.Decimal, "string", "decimal")
    api.ma_plugin.converter.add_attribute_function(glossary.describe)  # common field names
    from app.http import (
        admin_account,
        admin_analytics,
        admin_bookings,
        admin_catalog,
        admin_decisions,
        admin_experiments,
        admin_inventory,
        admin_rulesets,
        admin_webhooks,
        change_log,
        checkout,
        console,
        cors,
        health,
        platform,
        storefront,
        storefront_calendar,
        widget,
    )

    for module in (
        health,
        storefront,
        storefront_calendar,
        checkout,
        admin_catalog,
        admin_inventory,
        admin_rulesets,
        admin_decisions,
        admin_bookings,
        admin_account,
        admin_analytics,
        admin_experiments,
        admin_webhooks,
        change_log,
        platform,
        http_metrics,
    ):
        api.register_blueprint(module.blp)
    api.register_blueprint(change_log.platform)
    api.register_blueprint(checkout.hooks)
    if serves_local_payment_page(settings, payments):
        app.register_blueprint(checkout.local)  # HTML pages for people, not part of the API
    app.register_blueprint(widget.web)  # the storefront widget's script and the demo page
    app.register_blueprint(console.console)  # the admin console: HTML pages for people
    app.register_blueprint(vendor)  # vendored assets: Swagger UI's
    cors.install(app, settings.api_key_cache_seconds)
    deprecation.install(app)  # Deprecation, Sunset, Link on operations marked @deprecated
    rate_limits.install(app, settings)  # after every blueprint: it wraps their views
    tracing.install(app, settings, db)

    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(StaleDataError, handle_stale)
    app.register_error_handler(Exception, handle_unexpected)

    @app.before_request
    def _request_id() -> None:
        g.request_id = incoming.request_id(request.headers.get("X-Request-Id"))

    @app.before_request
    def _refuse_what_cannot_be_read() -> Response | None:
        """An over-long URL (414), text with NUL or a lone surrogate, a JSON body that is too
        deep or holds what no field takes (app.http.incoming): answered up front, in the one shape."""
        if incoming.url_too_long(request):
            return error_response(
                414,
                "uri_too_long",
                "The URL is too long.",
                [{"path": "/", "message": f"At most {incoming.MAX_URL_LENGTH} characters."}],
            )
        incoming.check_text(request)
        return None

    @app.teardown_request
    def _forget_actor(_error: BaseException | None) -> None:
        token = g.pop("audit_token", None)
        if token is not None:
            change_store.reset_who(token)

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["X-Request-Id"] = g.get("request_id", "")
        # (not headers.setdefault: werkzeug raises and catches an HTTP exception when absent)
        if all(name.lower() != "cache-control" for name, _ in response.headers):
            response.headers["Cache-Control"] = "no-store"
        return response

    return app


#: Statuses any operation of a kind may answer, besides those its view documents.
COMMON_ERRORS = {
    "414": "The URL is longer than the service reads",
    "422": "Invalid input; also NUL characters or lone surrogates anywhere in the request",
    "503": "The database is unavailable right now (Retry-After)",
}
SECURED_ERRORS = {
    "401": "Credentials missing or not valid",
    "403": "Credentials of the wrong kind or role, or the tenant is suspended",
}
BODY_ERRORS = {
    "400": "The body does not parse (JSON, or YAML where taken)",
    "413": "The body is larger than MAX_BODY_BYTES",
    "415": "The body is not in a media type the operation takes",
}
PATH_ERRORS = {"404": "Not found"}


class CommonResponsesPlugin(BasePlugin):
    """Completes each operation as apispec registers it: its security requirement by path prefix,
    and what it can answer: each any operation may (422 for NUL characters, 503 database
    unavailable), the secured ones 401 and 403, those with a body 400, 413 and 415, those with
    path parameters 404 (a malformed id matches no route) — all in the one error shape."""

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        content = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        requirement = next((r for p, r in SECURITY_BY_PREFIX if (path or "").startswith(p)), None)
        for method, operation in (operations or {}).items():
            if not isinstance(operation, dict) or method == "parameters":
                continue
            if requirement is not None:
                operation["security"] = requirement
            statuses = dict(COMMON_ERRORS)
            if operation.get("security"):
                statuses.update(SECURED_ERRORS)
            if operation.get("requestBody"):
                statuses.update(BODY_ERRORS)
            if "{" in (path or ""):
                statuses.update(PATH_ERRORS)
            responses = operation.setdefault("responses", {})
            for status, description in statuses.items():
                if status not in responses and int(status) not in responses:
                    responses[status] = {"description": description, "content": content}
