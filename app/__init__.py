"""tierwise HTTP application. ``create_app`` is the only way to build it; nothing runs at import."""

from __future__ import annotations

import logging

from flask import Flask, g, request
from flask_smorest import Api
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.exceptions import HTTPException

from app import incoming
from app.api.common import Services
from app.auth import ApiKeyCache
from app.errors import (
    ErrorSchema,
    error_response,
    handle_domain_error,
    handle_http_exception,
    handle_stale,
    handle_unexpected,
)
from app.json_provider import OrjsonProvider, TierwiseRequest
from app.payments import LocalPayments, Payments, StripePayments
from app.privacy import Masker
from app.quotes import QuoteSigner
from app.rules_runtime import RulesRuntime
from app.services.checkout import CheckoutContext
from app.services.offers import OfferContext
from app.snapshots import SnapshotCache
from config import Settings
from pricing.errors import DomainError
from storage import audit
from storage.cache import Cache, make_cache
from storage.db import Database

SECURITY_SCHEMES = {
    "storefrontKey": {"type": "apiKey", "in": "header", "name": "X-Api-Key"},
    "adminToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
}
SECURITY_BY_PREFIX = (
    ("/v1/storefront", [{"storefrontKey": []}]),
    ("/v1/admin", [{"adminToken": []}]),
    ("/v1/platform", [{"adminToken": []}]),
)


class TierwiseApi(Api):
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        self._app.register_error_handler(HTTPException, handle_http_exception)


def make_payments(settings: Settings) -> Payments:
    if settings.payments_backend == "local":
        return LocalPayments(settings.stripe_webhook_secret, settings.public_base_url)
    return StripePayments(
        settings.stripe_secret_key, settings.stripe_webhook_secret, settings.stripe_api_base or None
    )


def create_app(
    settings: Settings | None = None,
    *,
    db: Database | None = None,
    cache: Cache | None = None,
    payments: Payments | None = None,
) -> Flask:
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
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
    )
    logging.basicConfig(level=settings.log_level)
    db = db or Database.from_url(settings.database_url)
    cache = cache or make_cache(settings.cache_backend, settings.redis_url)
    rules = RulesRuntime(db, cache, engine=settings.rules_engine)
    offer_context = OfferContext(
        db=db,
        rules=rules,
        snapshots=SnapshotCache(db, cache),
        signer=QuoteSigner(settings.quote_secret, settings.quote_ttl_seconds),
        engine=settings.rules_engine,
        masker=Masker(settings.api_key_pepper),
    )
    app.extensions["tierwise"] = Services(
        settings=settings,
        db=db,
        cache=cache,
        rules=rules,
        offers=offer_context,
        api_keys=ApiKeyCache(settings.api_key_cache_seconds),
        checkout=CheckoutContext(
            db=db,
            payments=payments or make_payments(settings),
            signer=offer_context.signer,
            public_base_url=settings.public_base_url,
            hold_minutes=settings.hold_minutes,
        ),
    )

    api = TierwiseApi(app, spec_kwargs={"components": {"securitySchemes": SECURITY_SCHEMES}})
    from app.api import (
        admin_account,
        admin_analytics,
        admin_audit,
        admin_bookings,
        admin_catalog,
        admin_decisions,
        admin_experiments,
        admin_inventory,
        admin_rulesets,
        checkout,
        health,
        platform,
        storefront,
    )

    for module in (
        health,
        storefront,
        checkout,
        admin_catalog,
        admin_inventory,
        admin_rulesets,
        admin_decisions,
        admin_bookings,
        admin_account,
        admin_analytics,
        admin_experiments,
        admin_audit,
        platform,
    ):
        api.register_blueprint(module.blp)
    api.register_blueprint(admin_audit.platform)
    api.register_blueprint(checkout.hooks)
    if settings.payments_backend == "local":
        api.register_blueprint(checkout.local)
    _document_security(api)

    app.register_error_handler(DomainError, handle_domain_error)
    app.register_error_handler(StaleDataError, handle_stale)
    app.register_error_handler(Exception, handle_unexpected)

    @app.before_request
    def _request_id() -> None:
        g.request_id = incoming.request_id(request.headers.get("X-Request-Id"))

    @app.before_request
    def _refuse_what_cannot_be_read():
        """An over-long URL (414), text with NUL or a lone surrogate, a JSON body that is too
        deep or holds what no field takes (app.incoming): answered up front, in the one shape."""
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
            audit.reset_who(token)

    @app.after_request
    def _headers(response):
        response.headers["X-Request-Id"] = g.get("request_id", "")
        # (not headers.setdefault: werkzeug raises and catches an HTTP exception when absent)
        if all(name.lower() != "cache-control" for name, _ in response.headers):
            response.headers["Cache-Control"] = "no-store"
        return response

    return app


def _document_security(api: Api) -> None:
    for path, operations in api.spec._paths.items():
        for prefix, requirement in SECURITY_BY_PREFIX:
            if path.startswith(prefix):
                for operation in operations.values():
                    if isinstance(operation, dict):
                        operation["security"] = requirement
