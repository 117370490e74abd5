"""Schemathesis over every operation of the app's own OpenAPI (``/openapi.json``, loaded through
the WSGI app), against the real PostgreSQL and Redis of the test fixtures, with real credentials
for each security scheme: a storefront key (``storefrontKey``), a tenant admin JWT
(``adminToken`` on ``/v1/admin``) and a platform admin JWT (``adminToken`` on ``/v1/platform``).

Every response must not be a server error, must have a status the operation documents, and must
conform to the schema documented for that status. Each operation gets ``FUZZ_EXAMPLES`` generated
requests, valid and invalid ones (``make test``: a few; ``make fuzz``: 100), and a stateful run
follows the links schemathesis infers between operations (ids a create returns fed to the
operations on that resource) for ``FUZZ_STATEFUL_EXAMPLES`` scenarios.
"""

from __future__ import annotations

import itertools
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app
from app.adapters.payments import StripePayments
from config import Settings
from tests.conftest import WEBHOOK_SECRET, TenantFixture, build_tenant, token_for

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "3"))
STATEFUL_EXAMPLES = int(os.environ.get("FUZZ_STATEFUL_EXAMPLES", "3"))
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]


def _operations() -> list[tuple[str, str]]:
    """(method, path) of every documented operation, from the spec of an app built with the test
    settings' shape (building it does no I/O)."""
    settings = Settings.from_env(
        {
            "DATABASE_URL": "postgresql+psycopg://fuzz@127.0.0.1:1/unused",
            "REDIS_URL": "redis://127.0.0.1:1/0",
            "JWT_SECRET": "j" * 40,
            "API_KEY_PEPPER": "p" * 40,
            "QUOTE_SECRET": "q" * 40,
            "STRIPE_SECRET_KEY": "sk_test_fuzz",
            "STRIPE_WEBHOOK_SECRET": "whsec_fuzz",
        }
    )
    app = create_app(settings)
    spec = app.test_client().get("/openapi.json").get_json()
    app.extensions["tierwise"].db.dispose()
    return [
        (method.upper(), path)
        for path, operations in spec["paths"].items()
        for method in operations
        if method in ("get", "post", "put", "patch", "delete")
    ]


OPERATIONS = _operations()


class ServerErrors(logging.Handler):
    """The exceptions behind this app's 500s, as ``app.http.errors`` logs them."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.exc_info and record.exc_info[1] is not None:
            chain, error = [], record.exc_info[1]
            while error is not None:
                chain.append(f"{type(error).__name__}: {error}")
                error = error.__cause__ or error.__context__
            self.seen.append(" <- ".join(chain))


@dataclass
class Fuzz:
    schema: Any
    tenant: TenantFixture
    platform: dict[str, str]
    errors: ServerErrors
    new_tenant: Callable[[], TenantFixture]

    def credentials(self, path: str) -> dict[str, str]:
        if path.startswith("/v1/storefront"):
            return self.tenant.storefront
        if path.startswith("/v1/admin"):
            return self.tenant.admin
        if path.startswith("/v1/platform"):
            return self.platform
        return {}

    def call(self, case: Any) -> Any:
        """The request with the credentials of its scheme (the 500s logged are this call's)."""
        self.errors.seen.clear()
        return case.call(headers=self.credentials(case.path))

    def validate(self, case: Any, response: Any) -> None:
        """The checks; a server error's failure names the exception the app logged for it."""
        try:
            case.validate_response(response, checks=CHECKS)
        except Exception as failure:
            if response.status_code >= 500 and self.errors.seen:
                failure.add_note(f"logged: {self.errors.seen[-1]}")
            raise


@pytest.fixture
def fuzz(db, cache, settings, fake_stripe) -> Iterator[Fuzz]:
    """The app with its payments at the local fake Stripe (never the network), a tenant, a
    platform admin, and the log of its server errors."""
    payments = StripePayments(
        settings.stripe_secret_key, WEBHOOK_SECRET, fake_stripe.url, timeout_seconds=2
    )
    app = create_app(settings, db=db, cache=cache, payments=payments)
    slugs = itertools.count()

    def new_tenant() -> TenantFixture:
        return build_tenant(db, settings, f"fuzz{next(slugs)}")

    platform = {"Authorization": f"Bearer {token_for(settings, 'platform_admin', None)}"}
    errors = ServerErrors()
    logger = logging.getLogger("app.http.errors")
    logger.addHandler(errors)
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    try:
        yield Fuzz(schema, new_tenant(), platform, errors, new_tenant)
    finally:
        logger.removeHandler(errors)


def _settings(examples: int, **kw: Any) -> hypothesis.settings:
    return hypothesis.settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
        **kw,
    )


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_operation(fuzz, method, path):
    operation = fuzz.schema[path][method]
    strategy = st.one_of(
        operation.as_strategy(generation_mode=GenerationMode.POSITIVE),
        operation.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @_settings(EXAMPLES)
    @hypothesis.given(case=strategy)
    def run(case):
        fuzz.validate(case, fuzz.call(case))

    run()


def test_stateful_links(fuzz):
    """Scenarios following the links schemathesis infers between operations: the ids a create
    or a list answers fed to the operations on that resource (get, update, archive, ...)."""
    machine = fuzz.schema.as_state_machine()  # infers the links (schemathesis' dependency analysis)
    assert len(fuzz.schema.operations_with_incoming_links()) >= 50, "too few links to follow"

    class Workflow(machine):
        def setup(self):
            # Each scenario starts from the same state: a tenant of its own, as a fixture's.
            fuzz.tenant = fuzz.new_tenant()

        def call(self, case, **kwargs):
            return fuzz.call(case)

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            fuzz.validate(case, response)

    # Generate only: a scenario's database state is not replayed, so shrinking it would not be.
    phases = (hypothesis.Phase.explicit, hypothesis.Phase.generate)
    Workflow.run(settings=_settings(STATEFUL_EXAMPLES, stateful_step_count=10, phases=phases))
