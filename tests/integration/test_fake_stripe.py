"""The fake Stripe server (tests/support/fake_stripe.py), driven only through the real ``stripe``
library as the service will drive it: form encoding, schema validation, state, idempotency,
retries, Connect objects and signed webhooks."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
import stripe

from tests.support.fake_stripe import FakeStripe, load_subset, sign_webhook
from tests.support.timing import eventually

API_VERSION = "2023-08-16"
WHSEC = "whsec_test_" + "s" * 32


def make_client(fake: FakeStripe, **kwargs: Any) -> stripe.StripeClient:
    options: dict[str, Any] = {"stripe_version": API_VERSION, "max_network_retries": 2}
    options.update(kwargs)
    return stripe.StripeClient(
        options.pop("api_key", "sk_test_x"), base_addresses={"api": fake.url}, **options
    )


@pytest.fixture
def client(fake_stripe: FakeStripe) -> stripe.StripeClient:
    return make_client(fake_stripe)


def session_params(**overrides: Any) -> dict[str, Any]:
    """A booking's Checkout Session: a destination charge with our commission as the fee."""
    params: dict[str, Any] = {
        "mode": "payment",
        "success_url": "https://shop.example/done?session={CHECKOUT_SESSION_ID}",
        "cancel_url": "https://shop.example/cancelled",
        "line_items": [
            {
                "quantity": 1,
                "price_data": {
                    "currency": "eur",
                    "unit_amount": 25900,
                    "product_data": {"name": "Premium · Preferred, 2031-01-02, 2 guests"},
                },
            }
        ],
        "payment_intent_data": {
            "application_fee_amount": 2590,
            "transfer_data": {"destination": "acct_1TenantAbc"},
            "metadata": {"booking_id": "bk_123"},
        },
        "expires_at": int(time.time()) + 45 * 60,
        "client_reference_id": "bk_123",
        "metadata": {"booking_id": "bk_123", "tenant_id": "tn_9"},
    }
    params.update(overrides)
    return params


def assert_shaped_like(obj: Any, kind: str) -> None:
    """Every field is one Stripe's spec has for ``kind``, and every required one is there."""
    spec = load_subset()["objects"][kind]
    data = obj if isinstance(obj, dict) else obj.to_dict()
    assert set(data) <= set(spec["properties"]), set(data) - set(spec["properties"])
    assert set(spec.get("required", [])) <= set(data)
    assert data["object"] == kind


def paid_session(client: stripe.StripeClient, fake: FakeStripe) -> dict[str, Any]:
    session = client.v1.checkout.sessions.create(session_params())
    return fake.complete_session(session.id)


# ---- Checkout Sessions ------------------------------------------------------------------------


def test_checkout_session_is_created_retrieved_and_expired(client, fake_stripe):
    params = session_params()
    session = client.v1.checkout.sessions.create(params)

    assert session.id.startswith("cs_test_")
    assert_shaped_like(session, "checkout.session")
    assert (session.status, session.payment_status, session.mode) == ("open", "unpaid", "payment")
    assert (session.amount_total, session.currency) == (25900, "eur")
    assert session.client_reference_id == "bk_123"
    assert session.metadata.to_dict() == {"booking_id": "bk_123", "tenant_id": "tn_9"}
    assert session.expires_at == params["expires_at"]
    assert session.livemode is False and session.url.endswith(session.id)

    sent = fake_stripe.requests[-1]
    assert sent.form["payment_intent_data"]["application_fee_amount"] == "2590"  # on the wire
    assert sent.params["payment_intent_data"] == {  # after the schema's conversion
        "application_fee_amount": 2590,
        "transfer_data": {"destination": "acct_1TenantAbc"},
        "metadata": {"booking_id": "bk_123"},
    }
    assert sent.params["line_items"][0]["price_data"]["unit_amount"] == 25900
    assert sent.headers["Stripe-Version"] == API_VERSION

    fetched = client.v1.checkout.sessions.retrieve(session.id, {"expand": ["payment_intent"]})
    assert (fetched.id, fetched.status) == (session.id, "open")
    assert fake_stripe.requests[-1].params == {"expand": ["payment_intent"]}  # the query string
    with pytest.raises(stripe.InvalidRequestError, match="unknown parameter: limit"):
        client.v1.checkout.sessions.retrieve(session.id, {"limit": 3})

    expired = client.v1.checkout.sessions.expire(session.id)
    assert (expired.status, expired.url) == ("expired", None)
    assert client.v1.checkout.sessions.retrieve(session.id).status == "expired"

    with pytest.raises(stripe.InvalidRequestError, match="can be expired"):
        client.v1.checkout.sessions.expire(session.id)
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.checkout.sessions.retrieve("cs_test_nope")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")
    assert [v.status for v in fake_stripe.take_violations()] == [400, 400, 404]


@pytest.mark.parametrize(
    ("overrides", "param", "message"),
    [
        ({"booking_id": "bk_123"}, "booking_id", "Received unknown parameter: booking_id"),
        (
            {"payment_intent_data": {"application_fee": 10}},
            "payment_intent_data[application_fee]",
            "Received unknown parameter: payment_intent_data[application_fee]",
        ),
        ({"expires_at": "in an hour"}, "expires_at", "Invalid integer"),
        (
            {"payment_intent_data": {"application_fee_amount": 12.5}},
            "payment_intent_data[application_fee_amount]",
            "Invalid integer",
        ),
        ({"mode": "pay"}, "mode", "must be one of payment, setup, subscription"),
        ({"client_reference_id": "x" * 201}, "client_reference_id", "at most 200"),
        ({"line_items": {"first": {"quantity": 1}}}, "line_items", "Invalid array"),
        (
            {"payment_intent_data": {"transfer_data": {"amount": 5}}},
            "payment_intent_data[transfer_data][destination]",
            "Missing required param",
        ),
    ],
)
def test_invalid_parameters_are_rejected_and_recorded(
    client, fake_stripe, overrides, param, message
):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        client.v1.checkout.sessions.create(session_params(**overrides))

    assert raised.value.http_status == 400
    assert raised.value.param == param
    assert message in raised.value.user_message
    assert raised.value.error.type == "invalid_request_error"
    [violation] = fake_stripe.take_violations()
    assert (violation.path, violation.error["param"]) == ("/v1/checkout/sessions", param)
    assert fake_stripe.of_type("checkout.session") == []


def test_session_rules_beyond_the_schema(client, fake_stripe):
    too_soon = session_params(expires_at=int(time.time()) + 10 * 60)  # a 10-minute hold
    with pytest.raises(stripe.InvalidRequestError, match="at least 30 minutes"):
        client.v1.checkout.sessions.create(too_soon)
    fee_too_high = session_params()
    fee_too_high["payment_intent_data"]["application_fee_amount"] = 30000
    with pytest.raises(stripe.InvalidRequestError, match="application fee"):
        client.v1.checkout.sessions.create(fee_too_high)
    with pytest.raises(stripe.InvalidRequestError, match="Metadata keys"):
        client.v1.checkout.sessions.create(session_params(metadata={"k" * 41: "v"}))
    assert len(fake_stripe.take_violations()) == 3


def test_unserved_routes_wrong_keys_and_versions_are_refused(fake_stripe):
    with pytest.raises(stripe.InvalidRequestError, match="Unrecognized request URL"):
        make_client(fake_stripe).v1.customers.create({"email": "a@example.com"})
    with pytest.raises(stripe.AuthenticationError):
        make_client(fake_stripe, api_key="sk_live_x").v1.checkout.sessions.create(session_params())
    with pytest.raises(stripe.InvalidRequestError, match="Stripe-Version 2023-08-16"):
        make_client(fake_stripe, stripe_version=None).v1.checkout.sessions.create(session_params())
    assert [v.status for v in fake_stripe.take_violations()] == [404, 401, 400]


# ---- idempotency, retries, timeouts -----------------------------------------------------------


def test_idempotent_replay_and_conflicting_reuse(client, fake_stripe):
    params, key = session_params(), "checkout-bk_123-1"
    first = client.v1.checkout.sessions.create(params, {"idempotency_key": key})
    again = client.v1.checkout.sessions.create(params, {"idempotency_key": key})

    assert again.id == first.id
    assert again.last_response.headers["Idempotent-Replayed"] == "true"
    assert [r.replayed for r in fake_stripe.requests] == [False, True]
    assert len(fake_stripe.of_type("checkout.session")) == 1

    params["metadata"]["booking_id"] = "bk_other"
    with pytest.raises(stripe.IdempotencyError, match="same parameters"):
        client.v1.checkout.sessions.create(params, {"idempotency_key": key})
    [violation] = fake_stripe.take_violations()
    assert violation.error["type"] == "idempotency_error"
    assert len(fake_stripe.of_type("checkout.session")) == 1


def test_retries_after_server_errors_create_one_session(client, fake_stripe):
    fake_stripe.fail_next(2, status=500)

    session = client.v1.checkout.sessions.create(session_params())

    statuses = [r.status for r in fake_stripe.requests]
    keys = {r.idempotency_key for r in fake_stripe.requests}
    assert statuses == [500, 500, 200]
    assert len(keys) == 1 and None not in keys  # the library reuses its generated key
    assert [s["id"] for s in fake_stripe.of_type("checkout.session")] == [session.id]


def test_retries_run_out(client, fake_stripe):
    fake_stripe.fail_next(3, status=503)
    with pytest.raises(stripe.APIError) as raised:
        client.v1.checkout.sessions.create(session_params())
    assert raised.value.http_status == 503
    assert len(fake_stripe.requests) == 3
    assert fake_stripe.of_type("checkout.session") == []


def test_should_retry_false_is_honoured(client, fake_stripe):
    fake_stripe.fail_next(1, status=500, should_retry=False)
    with pytest.raises(stripe.APIError):
        client.v1.checkout.sessions.create(session_params())
    assert len(fake_stripe.requests) == 1


def test_timeout_then_retry_replays_the_slow_success(fake_stripe):
    client = make_client(fake_stripe, http_client=stripe.RequestsClient(timeout=0.2))
    fake_stripe.fail_next(1, delay=0.5)  # answers after the client gave up; the retry is at ~0.7 s

    session = client.v1.checkout.sessions.create(session_params())

    first, *retries = fake_stripe.requests
    assert first.status == 200 and retries[-1].replayed  # (a retry while it ran would get 409)
    assert {r.idempotency_key for r in fake_stripe.requests} == {first.idempotency_key}
    assert [s["id"] for s in fake_stripe.of_type("checkout.session")] == [session.id]


def test_retry_while_the_first_attempt_still_runs_gets_409(fake_stripe):
    client = make_client(fake_stripe, http_client=stripe.RequestsClient(timeout=0.2))
    fake_stripe.fail_next(1, delay=2.2)  # retries at ~0.7 s and at most ~1.95 s: both too early
    params, options = session_params(), {"idempotency_key": "checkout-bk_123-slow"}

    with pytest.raises(stripe.APIError, match="in-progress") as raised:  # not IdempotencyError
        client.v1.checkout.sessions.create(params, options)
    assert raised.value.http_status == 409

    assert [r.status for r in fake_stripe.requests[1:]] == [409, 409]
    eventually(lambda: fake_stripe.requests[0].status == 200, 5, "the first attempt to finish")
    session = client.v1.checkout.sessions.create(params, options)  # the application retries later
    assert [s["id"] for s in fake_stripe.of_type("checkout.session")] == [session.id]
    assert fake_stripe.requests[-1].replayed


# ---- refunds and Connect ----------------------------------------------------------------------


def test_refund_reverses_the_transfer_and_refunds_the_fee(client, fake_stripe):
    paid = paid_session(client, fake_stripe)
    intent = paid["payment_intent"]

    refund = client.v1.refunds.create(
        {
            "payment_intent": intent,
            "amount": 10000,
            "reverse_transfer": True,
            "refund_application_fee": True,
            "metadata": {"booking_id": "bk_123"},
        }
    )

    assert_shaped_like(refund, "refund")
    assert (refund.amount, refund.currency, refund.status) == (10000, "eur", "succeeded")
    assert refund.payment_intent == intent and refund.charge.startswith("ch_")
    assert refund.transfer_reversal.startswith("trr_")
    assert fake_stripe.requests[-1].params["reverse_transfer"] is True
    [fee_refund] = fake_stripe.fee_refunds
    assert (fee_refund["refund"], fee_refund["amount"]) == (refund.id, 1000)  # 2590 × 10000/25900

    rest = client.v1.refunds.create({"charge": refund.charge})
    assert rest.amount == 15900
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create({"payment_intent": intent})
    assert again.value.code == "charge_already_refunded"
    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.refunds.create({"payment_intent": "pi_unknown"})
    assert (unknown.value.http_status, unknown.value.param) == (404, "payment_intent")
    with pytest.raises(stripe.InvalidRequestError, match="Invalid boolean"):
        client.v1.refunds.create({"payment_intent": intent, "reverse_transfer": "yes"})
    assert [v.status for v in fake_stripe.take_violations()] == [400, 404, 400]


def test_account_and_onboarding_link(client, fake_stripe):
    account = client.v1.accounts.create(
        {
            "type": "express",
            "country": "DE",
            "email": "owner@tenant.example",
            "capabilities": {
                "card_payments": {"requested": True},
                "transfers": {"requested": True},
            },
            "business_profile": {"name": "Tenant GmbH", "url": "https://tenant.example"},
            "metadata": {"tenant_id": "tn_9"},
        }
    )
    assert_shaped_like(account, "account")
    assert account.id.startswith("acct_") and (account.type, account.country) == ("express", "DE")
    assert account.capabilities.to_dict() == {"card_payments": "inactive", "transfers": "inactive"}
    assert account.business_profile.name == "Tenant GmbH"
    assert account.charges_enabled is False

    link = client.v1.account_links.create(
        {
            "account": account.id,
            "type": "account_onboarding",
            "refresh_url": "https://admin.example/stripe/refresh",
            "return_url": "https://admin.example/stripe/return",
        }
    )
    assert_shaped_like(link, "account_link")
    assert account.id in link.url and link.expires_at > time.time()

    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.account_links.create({"account": "acct_nope", "type": "account_onboarding"})
    assert unknown.value.code == "resource_missing"
    with pytest.raises(stripe.InvalidRequestError, match="Missing required param: type"):
        client.v1.account_links.create({"account": account.id})
    assert len(fake_stripe.take_violations()) == 2


# ---- webhooks ---------------------------------------------------------------------------------


def test_signed_webhooks_verify_and_tampering_fails(client, fake_stripe):
    paid = paid_session(client, fake_stripe)
    refund = client.v1.refunds.create({"payment_intent": paid["payment_intent"]})
    open_one = client.v1.checkout.sessions.create(session_params())
    client.v1.checkout.sessions.expire(open_one.id)

    for event_type, object_id, expected in [
        ("checkout.session.completed", paid["id"], paid["id"]),
        ("checkout.session.expired", open_one.id, open_one.id),
        ("charge.refunded", refund.id, refund.charge),
    ]:
        signed = sign_webhook(fake_stripe.event(event_type, object_id), WHSEC)
        event = stripe.Webhook.construct_event(
            signed.payload, signed.headers["Stripe-Signature"], WHSEC, tolerance=300
        )
        assert_shaped_like(event.to_dict(), "event")
        assert (event.type, event.data.object.id) == (event_type, expected)
        assert event.id.startswith("evt_") and event.api_version == API_VERSION

    completed = fake_stripe.events[0]["data"]["object"]
    assert (completed["status"], completed["client_reference_id"]) == ("complete", "bk_123")
    assert fake_stripe.events[2]["data"]["object"]["refunded"] is True

    signed = sign_webhook(fake_stripe.events[0], WHSEC)
    tampered = json.loads(signed.payload)
    tampered["data"]["object"]["amount_total"] = 1
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(json.dumps(tampered), signed.signature, WHSEC)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(signed.payload, signed.signature, "whsec_other")
    stale = sign_webhook(fake_stripe.events[0], WHSEC, timestamp=int(time.time()) - 301)
    with pytest.raises(stripe.SignatureVerificationError, match="tolerance"):
        stripe.Webhook.construct_event(stale.payload, stale.signature, WHSEC, tolerance=300)


def test_standalone_server_context_manager():
    with FakeStripe() as fake:
        client = make_client(fake, max_network_retries=0)
        with pytest.raises(stripe.InvalidRequestError, match="payment_intent_data"):
            client.v1.checkout.sessions.create(session_params(mode="setup", line_items=None))
        assert [v.error["param"] for v in fake.violations] == ["payment_intent_data"]
        url = fake.url
    with pytest.raises(stripe.APIConnectionError):
        stripe.StripeClient(
            "sk_test_x",
            base_addresses={"api": url},
            stripe_version=API_VERSION,
            max_network_retries=0,
        ).v1.accounts.create()


def test_fixture_fails_a_test_that_leaves_violations(pytester):
    pytester.makepyfile(
        f"""
        import stripe
        from tests.support.fake_stripe import fake_stripe_fixture  # noqa: F401

        def bad_request(fake):
            client = stripe.StripeClient(
                "sk_test_x", base_addresses={{"api": fake.url}}, stripe_version="{API_VERSION}"
            )
            try:
                client.v1.accounts.create({{"nonsense": "1"}})
            except stripe.InvalidRequestError:
                pass

        def test_leaves_it(fake_stripe):
            bad_request(fake_stripe)

        def test_takes_it(fake_stripe):
            bad_request(fake_stripe)
            assert len(fake_stripe.take_violations()) == 1
        """
    )
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(["*Received unknown parameter: nonsense*"])
