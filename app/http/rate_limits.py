"""Rate limits (flask-limiter): the storefront API per API key, the admin and platform APIs per
token subject and the console per signed-in user, console sign-ins per client address.

Each limit is checked after the request's credentials are known (a wrapper around each view of
its kind), so a key is counted under its own name and a tenant's override (set by platform
admins, ``PUT /v1/platform/tenants/<id>/rate-limits``) applies to its own keys and users only:
one key's flood never limits another key. Counters live in Redis whenever the cache does (every
worker and instance shares them), in the process otherwise; fixed one-window counters (one
``INCR`` per request; for limits of 1,000 or more per window, leased from Redis in batches of up
to 1 % of the limit per worker: app/http/rate_leases.py).

Over a limit: 429 ``rate_limited`` in the one error shape (the console's sign-in page in HTML),
with ``Retry-After``, ``RateLimit-Limit``, ``RateLimit-Remaining`` (0) and ``RateLimit-Reset``
(seconds until the window resets). Answers within the limit carry none of them: that would cost
two more Redis round trips on every request.

Cost per limited request: one Redis round trip (INCR with its expiry) below 1,000 per window, one
per lease of up to 100 requests above, and flask-limiter's bookkeeping; measured by
bench/observability_bench.py and bench/storefront_bench.py (docs/benchmarks.md). With Redis
failing, the counters are kept in the process (per client address) until it answers again."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any, cast

from flask import Flask, Response, g, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse_many
from limits.storage import RedisStorage

from app.http.rate_leases import LeasedFixedWindow
from config import Settings
from pricing import catalog as domain

log = logging.getLogger(__name__)
OFF = "off"
KEY_PREFIX = "tw-rate"
#: The counters' Redis calls wait no longer than the cache's (app/adapters/cache.py).
REDIS_TIMEOUTS = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25}


def client_address() -> str:
    return request.remote_addr or "unknown"


def _principal() -> Any:
    return g.get("principal")


def _storefront_key() -> str:
    principal = _principal()
    if principal is None or principal.tenant is None:
        return f"ip:{client_address()}"
    return f"key:{principal.tenant.id}:{principal.subject}"


def _admin_key() -> str:
    principal = _principal()
    if principal is not None:  # a subject is unique within its tenant only ("cli", say)
        tenant = principal.tenant.id if principal.tenant is not None else "-"
        return f"{principal.role}:{tenant}:{principal.subject}"
    signed_in = g.get("console_session")
    if signed_in is not None:
        return f"user:{signed_in.user.id}"
    return f"ip:{client_address()}"


def _tenant() -> domain.Tenant | None:
    principal = _principal()
    if principal is not None:
        tenant: domain.Tenant | None = principal.tenant
        return tenant
    signed_in = g.get("console_session")
    return signed_in.tenant if signed_in is not None else None


def _limit(default: str, override: Callable[[domain.Tenant], str | None]) -> Callable[[], str]:
    """The limit in force: the tenant's override if it has one (``off``: none), else the default."""

    def limit() -> str:
        tenant = _tenant()
        chosen = override(tenant) if tenant is not None else None
        if chosen is None:
            return default
        return "" if chosen == OFF else chosen

    return limit


def kind_of(endpoint: str, rule: str) -> str | None:
    """Which limit a route takes: storefront, admin, login, or none (health, metrics, the
    widget's script, the OpenAPI document, Stripe's webhooks)."""
    if rule.startswith("/v1/storefront/"):
        return "storefront"
    if rule.startswith(("/v1/admin/", "/v1/platform/")):
        return "admin"
    if endpoint == "console.sign_in":
        return "login"
    if endpoint.startswith("console.") and endpoint != "console.static":
        return "admin"
    return None


def _named(view: Callable[..., Any], endpoint: str) -> Callable[..., Any]:
    """``view`` under a name of its own: flask-limiter files decorated limits by the function's
    qualified name, which two views of the same class name would share."""

    @functools.wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        return view(*args, **kwargs)

    limited.__module__ = __name__
    limited.__name__ = limited.__qualname__ = endpoint.replace(".", "__")
    return limited


def install(app: Flask, settings: Settings) -> Limiter:
    """Rate-limit the app's views (call after every blueprint is registered)."""
    redis = settings.cache_backend == "redis"
    # Redis failing (refused, or frozen: each call would wait for the timeout): counted in the
    # process instead, per client address at the storefront's rate, Redis tried again after
    # 1, 2, 4 ... s (flask-limiter's in-memory fallback: a circuit breaker like the cache's).
    fallback = [settings.rate_limit_storefront] if redis and settings.rate_limit_storefront else []
    limiter = Limiter(
        key_func=client_address,
        storage_uri=settings.redis_url if redis else "memory://",
        # redis-py takes float seconds; flask-limiter's annotation says str | int
        storage_options=cast(dict[str, str | int], REDIS_TIMEOUTS) if redis else {},
        strategy="fixed-window",
        headers_enabled=False,  # on 429 answers only, below
        key_prefix=KEY_PREFIX,
        swallow_errors=True,
        in_memory_fallback=fallback,
        in_memory_fallback_enabled=bool(fallback),
    )
    limiter.init_app(app)
    if isinstance(limiter.storage, RedisStorage):
        # high limits leased in batches instead of a round trip per request (rate_leases.py)
        limiter._limiter = LeasedFixedWindow(limiter.storage)
    storefront_limit = _limit(settings.rate_limit_storefront, lambda t: t.rate_limit_storefront)
    # Every limit here is checked by its view's wrapper; flask-limiter's own before_request pass
    # (default, application and blueprint limits: none here) would only cost time on every
    # request, /healthz included (bench/observability_bench.py).
    app.before_request_funcs[None].remove(limiter._check_request_limit)

    @app.after_request
    def _rate_limit_headers(response: Response) -> Response:
        """``Retry-After`` and ``RateLimit-*`` on a 429 answer. Not on every answer: the
        window's state is two more Redis round trips per request."""
        if response.status_code != 429:
            return response
        breached = limiter.current_limit
        if breached is None or not breached.breached:  # the console's own sign-in throttle
            return response
        try:
            reset_at, remaining = breached.reset_at, breached.remaining
        except Exception:  # the counters' store failed meanwhile: the 429 stands without them
            log.warning("rate limit headers left out: the counters' store failed")
            return response
        wait = max(reset_at - int(time.time()), 1)
        response.headers["Retry-After"] = str(wait)
        response.headers["RateLimit-Limit"] = str(breached.limit.amount)
        response.headers["RateLimit-Remaining"] = str(remaining)
        response.headers["RateLimit-Reset"] = str(wait)
        return response

    limits = {
        "storefront": limiter.shared_limit(
            storefront_limit,
            scope="storefront",
            key_func=_storefront_key,
            error_message="Too many requests with this API key; retry after Retry-After seconds.",
        ),
        "admin": limiter.shared_limit(
            _limit(settings.rate_limit_admin, lambda t: t.rate_limit_admin),
            scope="admin",
            key_func=_admin_key,
            error_message="Too many requests with these credentials; retry after Retry-After "
            "seconds.",
        ),
        "login": limiter.shared_limit(
            settings.rate_limit_login,
            scope="login",
            key_func=client_address,
            error_message="Too many sign-in attempts from this address; retry after Retry-After "
            "seconds.",
        ),
    }
    for rule in list(app.url_map.iter_rules()):
        kind = kind_of(rule.endpoint, rule.rule)
        view = app.view_functions.get(rule.endpoint)
        if kind is None or view is None or getattr(view, "__rate_limited__", False):
            continue
        wrapped = limits[kind](_named(view, rule.endpoint))
        if kind == "storefront":
            wrapped = _counted_first(limiter, storefront_limit, view, wrapped)
        wrapped.__rate_limited__ = True  # type: ignore[attr-defined]
        app.view_functions[rule.endpoint] = wrapped
    return limiter


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(text)) if text else ()


def _counted_first(
    limiter: Limiter,
    limit: Callable[[], str],
    view: Callable[..., Any],
    limited: Callable[..., Any],
) -> Callable[..., Any]:
    """The storefront's limit, counted here first: the one hit flask-limiter would make, on the
    same counter (its strategy, key prefix, key and scope), and within the limit straight on to
    the view. flask-limiter's own pass (its limit lookup, filters, exemptions and bookkeeping)
    cost a tenth of an offer's CPU. Anything else goes its way (``limited``), as before: a
    request over the limit (it counts once more and answers 429 with its headers), a limit
    that is not a single one (off, or several), the counters' store failing or already
    replaced by the in-process fallback, the limiter disabled."""
    scope = "storefront"

    @functools.wraps(view)
    def counted(*args: Any, **kwargs: Any) -> Any:
        items = _parsed(limit())
        # flask-limiter's own state: no public accessor says the fallback is in use
        if len(items) != 1 or not limiter.enabled or limiter._storage_dead:
            return limited(*args, **kwargs)
        try:
            within = limiter.limiter.hit(items[0], KEY_PREFIX, _storefront_key(), scope)
        except Exception:  # the store failing: flask-limiter falls back, as it does
            return limited(*args, **kwargs)
        return view(*args, **kwargs) if within else limited(*args, **kwargs)

    return counted
