"""A local fake of the Stripe API subset tierwise uses, for tests driving the real ``stripe`` library.

It serves exactly the operations of ``../shared/stripe/stripe-api-subset.json`` (Stripe's own
OpenAPI subset, API version 2023-08-16) over real HTTP on 127.0.0.1, from a background thread:

* every request needs ``Authorization: Bearer sk_test_...`` (401 otherwise) and the subset's
  ``Stripe-Version`` (400 otherwise: the schemas describe that version only);
* the form body (query string for GET) is decoded from Stripe's bracket notation
  (``line_items[0][price_data][currency]=eur``), converted to the schema's types and validated
  with ``jsonschema``. Objects that list their properties are closed (Stripe rejects unknown
  nested parameters although the spec only closes the top level). Failures answer 400 in
  Stripe's error shape, like ``Received unknown parameter: payment_intent_data[foo]``;
* answers are Stripe's fixtures with the request overlaid, and the server keeps state;
* ``Idempotency-Key`` is honoured like Stripe: replay, 400 ``idempotency_error`` for another
  body, 409 while the first request is still running. Only successes are saved;
* ``fail_next`` injects 5xx answers or slow answers for retry and timeout tests.

Every 4xx answer except 409 (which clients retry), and any crash of the fake itself (500), is
recorded in ``violations``: the
``fake_stripe`` fixture fails the test at teardown unless the test took them with
``take_violations()``. Tests get it with ``pytest_plugins = ["tests.support.fake_stripe"]`` in
``tests/conftest.py``, or ``from tests.support.fake_stripe import fake_stripe_fixture  # noqa: F401``.
``complete_session`` plays the customer paying; ``event`` and ``sign_webhook`` build webhooks.
"""

from __future__ import annotations

import copy
import functools
import hashlib
import hmac
import json
import os
import re
import secrets
import string
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import jsonschema
import pytest

JSON = dict[str, Any]
#: Stripe's published request schemas (API 2023-08-16, MIT licence), vendored from
#: ../shared/stripe/ so that a clean clone tests without anything outside the repository.
SUBSET_PATH = Path(
    os.environ.get(
        "STRIPE_API_SUBSET", Path(__file__).resolve().parent / "stripe" / "stripe-api-subset.json"
    )
)
_KEY = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
_ALNUM = string.ascii_letters + string.digits
_Operation = Callable[[dict[str, str], JSON], JSON]  # (path parameters, form parameters) -> object
SESSION_MIN_LIFETIME, SESSION_MAX_LIFETIME, GRACE = 30 * 60, 24 * 3600, 10
EVENT_OBJECTS = {
    "checkout.session.completed": ("checkout.session", "complete"),
    "checkout.session.expired": ("checkout.session", "expired"),
    "charge.refunded": ("charge", None),
}


@functools.cache
def load_subset(path: Path = SUBSET_PATH) -> JSON:
    subset: JSON = json.loads(path.read_text())
    return subset


def new_id(prefix: str, length: int = 24) -> str:
    return prefix + "".join(secrets.choice(_ALNUM) for _ in range(length))


class StripeError(Exception):
    """An answer in Stripe's error shape: ``{"error": {"type", "message", "param", "code"}}``."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
        injected: bool = False,
        errors: list[str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = (
            status,
            message,
            type,
            param,
            code,
        )
        self.injected = injected
        self.errors = errors or [message]
        self.headers: dict[str, str] = {}

    def body(self) -> JSON:
        error = {"type": self.type, "message": self.message}
        error.update({k: v for k, v in (("param", self.param), ("code", self.code)) if v})
        return {"error": error}


def _missing(kind: str, object_id: str, param: str) -> StripeError:
    return StripeError(404, f"No such {kind}: '{object_id}'", param=param, code="resource_missing")


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    form: JSON  # the body (query for GET) decoded from bracket notation; values are strings
    params: JSON | None = None  # ``form`` converted to the schema's types, once it validated
    idempotency_key: str | None = None
    status: int = 0
    response: JSON | None = None
    replayed: bool = False
    injected: bool = False


@dataclass(frozen=True)
class Violation:
    method: str
    path: str
    status: int
    error: JSON  # the Stripe error object answered
    errors: tuple[str, ...]  # every schema error found, not only the one answered

    def __str__(self) -> str:
        return f"{self.method} {self.path} -> {self.status}: {'; '.join(self.errors)}"


@dataclass(frozen=True)
class _Failure:
    status: int | None
    delay: float
    should_retry: bool | None


@dataclass
class _Saved:
    request: tuple[str, str, JSON]
    status: int = 0
    body: JSON = field(default_factory=dict)


# ---- Stripe's form encoding -------------------------------------------------------------------


def decode_form(pairs: list[tuple[str, str]]) -> JSON:
    """``a[b][0][c]=v`` pairs to nested dicts; arrays stay dicts of index keys until ``coerce``
    knows from the schema which dicts are arrays (``metadata[0]`` is a dict key)."""
    root: JSON = {}
    for key, value in pairs:
        match = _KEY.fullmatch(key)
        if match is None:
            raise StripeError(400, f"Invalid parameter name: {key}", param=key)
        parts = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
        node = root
        for i, part in enumerate(parts):
            part = part or str(len(node))  # ``expand[]=x`` appends
            if i == len(parts) - 1:
                if part in node:
                    raise StripeError(400, f"Received duplicate parameter: {key}", param=key)
                node[part] = value
            else:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise StripeError(400, f"Invalid hash: {key}", param=key)
    return root


def coerce(value: Any, schema: Mapping[str, Any]) -> Any:
    """Form strings to the schema's integers, numbers, booleans and arrays; a value that does not
    convert is left as it is for the schema validation to reject."""
    if "anyOf" in schema:
        for option in schema["anyOf"]:
            candidate = coerce(value, option)
            if jsonschema.Draft4Validator(option).is_valid(candidate):
                return candidate
        return value
    kind = schema.get("type")
    if kind == "object" and isinstance(value, dict):
        props, extra = schema.get("properties", {}), schema.get("additionalProperties")
        default = extra if isinstance(extra, dict) else {}
        return {k: coerce(v, props.get(k, default)) for k, v in value.items()}
    if kind == "array" and isinstance(value, dict) and all(k.isdigit() for k in value):
        return [coerce(value[k], schema.get("items", {})) for k in sorted(value, key=int)]
    if isinstance(value, str):
        if kind == "integer" and re.fullmatch(r"-?\d+", value):
            return int(value)
        if kind == "number" and re.fullmatch(r"-?\d+(\.\d+)?", value):
            return float(value)
        if kind == "boolean" and value in ("true", "false"):
            return value == "true"
    return value


def _closed(schema: Any) -> Any:
    """The schema with every object that lists its properties closed to other keys."""
    if isinstance(schema, list):
        return [_closed(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: (v if k in ("enum", "required") else _closed(v)) for k, v in schema.items()}
    if "properties" in schema:
        out["properties"] = {k: _closed(v) for k, v in schema["properties"].items()}
        out.setdefault("additionalProperties", False)
    return out


def _param(path: list[Any]) -> str:
    return "".join(f"[{p}]" if i else str(p) for i, p in enumerate(path))


def _schema_error(error: jsonschema.ValidationError) -> tuple[str, str]:
    """(message, param) worded like Stripe's answers."""
    path, instance, expected = list(error.absolute_path), error.instance, error.validator_value
    if error.validator == "additionalProperties":
        path.append(sorted(set(instance) - set(error.schema.get("properties", {})))[0])
        return f"Received unknown parameter: {_param(path)}", _param(path)
    if error.validator == "required":
        path.append(next(r for r in expected if r not in instance))
        return f"Missing required param: {_param(path)}.", _param(path)
    param = _param(path)
    if error.validator == "type":
        return f"Invalid {expected}: {instance!r} ({param})", param
    if error.validator == "maxLength":
        return f"Invalid {param}: must be at most {expected} characters", param
    if error.validator == "enum":
        return f"Invalid {param}: must be one of {', '.join(map(str, expected))}", param
    return f"Invalid {param}: {error.message}", param


@dataclass
class _Route:
    key: str
    method: str
    pattern: re.Pattern[str]
    validator: jsonschema.Draft4Validator

    @classmethod
    def build(cls, key: str, operation: JSON) -> _Route:
        method, path = key.split(" ", 1)
        schema = copy.deepcopy(operation["request_form_schema"])
        for p in operation["parameters"]:  # GET's ``expand`` is a query parameter
            if p["in"] == "query":
                schema["properties"][p["name"]] = p["schema"]
        pattern = re.compile(re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path))
        return cls(key, method, pattern, jsonschema.Draft4Validator(_closed(schema)))

    def validate(self, form: JSON) -> JSON:
        params: JSON = coerce(form, self.validator.schema)
        errors = sorted(
            self.validator.iter_errors(params), key=lambda e: [str(p) for p in e.absolute_path]
        )
        if errors:
            best = jsonschema.exceptions.best_match(errors)
            message, param = _schema_error(best)
            raise StripeError(
                400, message, param=param, errors=[_schema_error(e)[0] for e in errors]
            )
        _check_metadata(params)
        return params


def _check_metadata(params: JSON, path: tuple[str, ...] = ()) -> None:
    """Stripe's metadata limits, which the schemas do not carry."""
    for key, value in params.items():
        if key == "metadata" and isinstance(value, dict):
            if len(value) > 50:
                raise StripeError(
                    400, "Metadata can have at most 50 keys.", param=_param([*path, key])
                )
            for k, v in value.items():
                if len(k) > 40 or len(v) > 500:
                    raise StripeError(
                        400,
                        "Metadata keys are at most 40 characters, values at most 500.",
                        param=_param([*path, key, k]),
                    )
        elif isinstance(value, dict):
            _check_metadata(value, (*path, key))


# ---- the server -------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    fake: FakeStripe

    def do_GET(self) -> None:
        self.fake._serve(self)

    do_POST = do_DELETE = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that timed out
            super().handle_error(request, client_address)


class FakeStripe:
    """The fake Stripe API: ``start()``/``stop()`` or a context manager; ``url`` for the client's
    ``base_addresses``; ``requests``, ``violations``, ``objects`` (by id), ``account_links``,
    ``fee_refunds`` and ``events`` to inspect."""

    def __init__(self, subset_path: Path = SUBSET_PATH) -> None:
        subset = load_subset(subset_path)
        self.api_version: str = subset["api_version"]
        self.fixtures: JSON = subset["fixtures"]
        self.requests: list[RecordedRequest] = []
        self.violations: list[Violation] = []
        self.objects: dict[str, JSON] = {}
        self.account_links: list[JSON] = []
        self.fee_refunds: list[JSON] = []
        self.events: list[JSON] = []
        self._session_params: dict[str, JSON] = {}
        self._saved: dict[tuple[str, str], _Saved] = {}
        self._failures: list[_Failure] = []
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        handlers: dict[str, _Operation] = {
            "POST /v1/checkout/sessions": self._create_session,
            "GET /v1/checkout/sessions/{session}": self._retrieve_session,
            "POST /v1/checkout/sessions/{session}/expire": self._expire_session,
            "POST /v1/refunds": self._create_refund,
            "POST /v1/accounts": self._create_account,
            "POST /v1/account_links": self._create_account_link,
        }
        assert set(handlers) == set(subset["operations"]), "serve exactly the subset"
        self._routes = [
            (_Route.build(key, subset["operations"][key]), handler)
            for key, handler in handlers.items()
        ]

    # ---- lifecycle and test controls --------------------------------------------------------

    def start(self) -> FakeStripe:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes requests sleeping in an injected delay
        if self._server is not None and self._thread is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> FakeStripe:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def fail_next(
        self,
        n: int = 1,
        *,
        status: int | None = None,
        delay: float = 0.0,
        should_retry: bool | None = None,
    ) -> None:
        """The next ``n`` requests sleep ``delay`` seconds, then answer ``status`` in Stripe's error
        shape (with ``Stripe-Should-Retry`` if given). With a delay and no status they then go
        on normally: a slow Stripe, for client timeouts. Default: an immediate 500."""
        if status is None and not delay:
            status = 500
        with self._lock:
            self._failures.extend([_Failure(status, delay, should_retry)] * n)

    def take_violations(self) -> list[Violation]:
        """The violations so far, which the test thereby expects (the fixture checks the rest)."""
        with self._lock:
            taken, self.violations = self.violations, []
        return taken

    def of_type(self, kind: str) -> list[JSON]:
        with self._lock:
            return [copy.deepcopy(o) for o in self.objects.values() if o.get("object") == kind]

    # ---- HTTP ---------------------------------------------------------------------------------

    def _serve(self, h: BaseHTTPRequestHandler) -> None:
        split = urlsplit(h.path)
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0)).decode()
        record = RecordedRequest(h.command, split.path, dict(h.headers.items()), {})
        with self._lock:
            self.requests.append(record)
        status, payload, headers = self._answer(h.headers, record, split.query or body)
        record.status, record.response = status, payload
        data = json.dumps(payload, indent=2).encode()
        h.send_response(status)
        for name, value in {**headers, "Content-Type": "application/json"}.items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def _answer(
        self, headers: Any, record: RecordedRequest, raw: str
    ) -> tuple[int, JSON, dict[str, str]]:
        common = {"Request-Id": new_id("req_", 14), "Stripe-Version": self.api_version}
        try:
            record.form = decode_form(parse_qsl(raw, keep_blank_values=True))
            auth = headers.get("Authorization", "")
            if not re.fullmatch(r"Bearer sk_test_\w+", auth):
                raise StripeError(401, f"Invalid API Key provided: {auth[7:15]}...")
            if headers.get("Stripe-Version") != self.api_version:
                raise StripeError(400, f"This fake serves Stripe-Version {self.api_version} only.")
            route, handler, path_params = self._route(record.method, record.path)
            key = headers.get("Idempotency-Key") if record.method == "POST" else None
            record.idempotency_key = key
            saved, owner = self._claim((auth, key), record) if key else (None, False)
            if saved is not None and not owner:
                record.replayed = True
                return saved.status, saved.body, {**common, "Idempotent-Replayed": "true"}
            try:
                self._inject_failure(record)
                record.params = route.validate(record.form)
                with self._lock:
                    response = copy.deepcopy(handler(path_params, record.params))
                    if saved is not None:
                        saved.status, saved.body = 200, response
                return 200, response, common
            finally:
                if saved is not None and not saved.status:  # only successes are saved
                    with self._lock:
                        del self._saved[(auth, key or "")]
        except StripeError as error:
            if 400 <= error.status < 500 and error.status != 409 and not error.injected:
                self._violation(record, error)
            return error.status, error.body(), {**common, **error.headers}
        except Exception as bug:  # in the fake itself: fail the test, and do not make it retry
            crash = StripeError(500, f"fake Stripe bug: {bug!r}", type="api_error")
            self._violation(record, crash)
            return 500, crash.body(), {**common, "Stripe-Should-Retry": "false"}

    def _violation(self, record: RecordedRequest, error: StripeError) -> None:
        violation = Violation(
            record.method, record.path, error.status, error.body()["error"], tuple(error.errors)
        )
        with self._lock:
            self.violations.append(violation)

    def _route(self, method: str, path: str) -> tuple[_Route, _Operation, dict[str, str]]:
        for route, handler in self._routes:
            match = route.pattern.fullmatch(path)
            if route.method == method and match:
                return route, handler, match.groupdict()
        raise StripeError(404, f"Unrecognized request URL ({method}: {path}).")

    def _claim(self, scope: tuple[str, str | None], record: RecordedRequest) -> tuple[_Saved, bool]:
        """(the saved answer for this key, False), or (a new claim, True) for the first request
        with it; errors for another request with the key, or while the first is still running."""
        request, key = (record.method, record.path, record.form), (scope[0], scope[1] or "")
        with self._lock:
            saved = self._saved.get(key)
            if saved is None:
                saved = self._saved[key] = _Saved(request)
                return saved, True
        if saved.request != request:
            raise StripeError(
                400,
                (
                    "Keys for idempotent requests can only be used with the same parameters they "
                    f"were first used with. Try using a key other than '{scope[1]}' if you meant to "
                    "execute a different request."
                ),
                type="idempotency_error",
            )
        if not saved.status:
            raise StripeError(
                409,
                (
                    "There is currently another in-progress request using this Idempotent Key "
                    "(that probably means you submitted twice, and the other request is still "
                    "going through). Please try again later."
                ),
                type="idempotency_error",
            )
        return saved, False

    def _inject_failure(self, record: RecordedRequest) -> None:
        with self._lock:
            failure = self._failures.pop(0) if self._failures else None
        if failure is None:
            return
        record.injected = True
        if failure.delay:
            self._stopping.wait(failure.delay)
        if failure.status is not None:
            kind = "api_error" if failure.status >= 500 else "invalid_request_error"
            error = StripeError(
                failure.status, "Injected failure (fake Stripe).", type=kind, injected=True
            )
            if failure.should_retry is not None:
                error.headers["Stripe-Should-Retry"] = str(failure.should_retry).lower()
            raise error

    # ---- operations (called with the lock held) -----------------------------------------------

    def _fixture(self, kind: str, object_id: str, **overlay: Any) -> JSON:
        obj = {**copy.deepcopy(self.fixtures[kind]), **overlay}
        if "livemode" in obj:
            obj["livemode"] = False
        if object_id:
            obj["id"] = object_id
            self.objects[object_id] = obj
        return obj

    def _get(self, kind: str, object_id: str, param: str) -> JSON:
        obj = self.objects.get(object_id)
        if obj is None or obj.get("object") != kind:
            raise _missing(kind, object_id, param)
        return obj

    def _create_session(self, _: dict[str, str], p: JSON) -> JSON:
        now, mode = int(time.time()), p.get("mode")
        if mode is None:
            raise StripeError(400, "Missing required param: mode.", param="mode")
        if "payment_intent_data" in p and mode != "payment":
            raise StripeError(
                400,
                f"You can not pass `payment_intent_data` in `{mode}` mode.",
                param="payment_intent_data",
            )
        items = p.get("line_items", [])
        if mode == "payment" and not items:
            raise StripeError(400, "You must provide at least one line item.", param="line_items")
        for i, item in enumerate(items):
            if "price" in item:  # this fake keeps no Price objects
                raise _missing("price", item["price"], f"line_items[{i}][price]")
            for need in ("quantity", "price_data"):
                if need not in item:
                    raise StripeError(
                        400,
                        f"Missing required param: line_items[{i}][{need}].",
                        param=f"line_items[{i}][{need}]",
                    )
            if "unit_amount" not in item["price_data"]:
                raise StripeError(
                    400,
                    "This fake needs price_data[unit_amount].",
                    param=f"line_items[{i}][price_data][unit_amount]",
                )
        currencies = {item["price_data"]["currency"] for item in items}
        if len(currencies) > 1:
            raise StripeError(400, "All line items must share one currency.", param="line_items")
        total = sum(item["price_data"]["unit_amount"] * item["quantity"] for item in items)
        expires_at = p.get("expires_at", now + SESSION_MAX_LIFETIME)
        lifetime = expires_at - now
        if not SESSION_MIN_LIFETIME - GRACE <= lifetime <= SESSION_MAX_LIFETIME + GRACE:
            raise StripeError(
                400,
                "The `expires_at` timestamp must be at least 30 minutes and "
                "at most 24 hours after Checkout Session creation.",
                param="expires_at",
            )
        intent = p.get("payment_intent_data", {})
        if intent.get("application_fee_amount", 0) > total:
            raise StripeError(
                400,
                "The application fee cannot exceed the amount.",
                param="payment_intent_data[application_fee_amount]",
            )
        session_id = new_id("cs_test_", 58)
        self._session_params[session_id] = p
        return self._fixture(
            "checkout.session",
            session_id,
            created=now,
            expires_at=expires_at,
            mode=mode,
            url=f"https://checkout.stripe.com/c/pay/{session_id}",
            status="open",
            payment_status="unpaid",
            payment_intent=None,
            customer_details=None,
            success_url=p.get("success_url"),
            cancel_url=p.get("cancel_url"),
            client_reference_id=p.get("client_reference_id"),
            metadata=p.get("metadata", {}),
            customer_email=p.get("customer_email"),
            locale=p.get("locale"),
            currency=currencies.pop() if currencies else None,
            amount_subtotal=total,
            amount_total=total,
            payment_method_types=p.get("payment_method_types", ["card"]),
        )

    def _retrieve_session(self, path: dict[str, str], _: JSON) -> JSON:
        return self._get("checkout.session", path["session"], "session")

    def _expire_session(self, path: dict[str, str], _: JSON) -> JSON:
        session = self._get("checkout.session", path["session"], "session")
        if session["status"] != "open":
            raise StripeError(
                400,
                'Only Checkout Sessions with a status in ["open"] can be '
                f"expired; this one is {session['status']}.",
            )
        session.update(status="expired", url=None)
        return session

    def _create_refund(self, _: dict[str, str], p: JSON) -> JSON:
        if "payment_intent" in p:
            intent = self._get("payment_intent", p["payment_intent"], "payment_intent")
            charge = self.objects[intent["latest_charge"]]
            if p.get("charge", charge["id"]) != charge["id"]:
                raise StripeError(400, "The charge is not the payment intent's.", param="charge")
        elif "charge" in p:
            charge = self._get("charge", p["charge"], "charge")
        else:
            raise StripeError(400, "One of `charge` or `payment_intent` is required.")
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining == 0:
            raise StripeError(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = p.get("amount", remaining)
        if not 0 < amount <= remaining:
            raise StripeError(
                400,
                f"Refund amount ({amount}) is greater than unrefunded amount "
                f"on charge ({remaining})",
                param="amount",
            )
        for flag, needs in (
            ("reverse_transfer", "transfer_data"),
            ("refund_application_fee", "application_fee"),
        ):
            if p.get(flag) and not charge[needs]:
                raise StripeError(400, f"`{flag}` needs a charge with {needs}.", param=flag)
        refund = self._fixture(
            "refund",
            new_id("re_"),
            amount=amount,
            charge=charge["id"],
            created=int(time.time()),
            payment_intent=charge["payment_intent"],
            currency=charge["currency"],
            metadata=p.get("metadata") or {},
            reason=p.get("reason"),
            status="succeeded",
            balance_transaction=new_id("txn_"),
            transfer_reversal=new_id("trr_") if p.get("reverse_transfer") else None,
        )
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        charge["refunds"]["data"].append(copy.deepcopy(refund))
        if p.get("refund_application_fee"):
            fee = charge["application_fee_amount"]
            self.fee_refunds.append(
                {
                    "id": new_id("fr_"),
                    "object": "fee_refund",
                    "fee": charge["application_fee"],
                    "refund": refund["id"],
                    "amount": (fee * amount + charge["amount"] // 2) // charge["amount"],
                }
            )
        return refund

    def _create_account(self, _: dict[str, str], p: JSON) -> JSON:
        account_id = new_id("acct_", 16)
        account = self._fixture(
            "account",
            account_id,
            created=int(time.time()),
            type=p.get("type", "standard"),
            country=p.get("country", "US"),
            email=p.get("email"),
            metadata=p.get("metadata") or {},
            business_type=p.get("business_type"),
            charges_enabled=False,
            payouts_enabled=False,
            default_currency=p.get("default_currency", "usd"),
            details_submitted=False,
        )
        account["external_accounts"]["url"] = f"/v1/accounts/{account_id}/external_accounts"
        if "capabilities" in p:
            account["capabilities"] = {
                name: "inactive" for name, c in p["capabilities"].items() if c.get("requested")
            }
        profile = account["business_profile"]
        profile.update({k: v for k, v in p.get("business_profile", {}).items() if k in profile})
        return account

    def _create_account_link(self, _: dict[str, str], p: JSON) -> JSON:
        self._get("account", p["account"], "account")
        now = int(time.time())
        link = self._fixture(
            "account_link",
            "",
            created=now,
            expires_at=now + 300,
            url=f"https://connect.stripe.com/setup/s/{p['account']}/{new_id('', 12)}",
        )
        self.account_links.append({**link, "request": p})
        return link

    # ---- what Stripe does outside the API -----------------------------------------------------

    def complete_session(self, session_id: str) -> JSON:
        """The customer pays: the open session completes, with a succeeded PaymentIntent and its
        charge carrying the session's application fee and transfer destination."""
        with self._lock:
            session = self._get("checkout.session", session_id, "session")
            if session["status"] != "open":
                raise ValueError(f"session {session_id} is {session['status']}, not open")
            intent_params = self._session_params[session_id].get("payment_intent_data", {})
            fee = intent_params.get("application_fee_amount")
            destination = intent_params.get("transfer_data", {}).get("destination")
            transfer = {"amount": None, "destination": destination} if destination else None
            now, pi_id, charge_id = int(time.time()), new_id("pi_"), new_id("ch_")
            money = {
                "amount": session["amount_total"],
                "currency": session["currency"],
                "application_fee_amount": fee,
                "transfer_data": transfer,
                "created": now,
                "metadata": intent_params.get("metadata", {}),
                "payment_intent": pi_id,
            }
            self._fixture(
                "charge",
                charge_id,
                **money,
                amount_captured=money["amount"],
                captured=True,
                application_fee=new_id("fee_") if fee else None,
                amount_refunded=0,
                refunds={
                    "object": "list",
                    "data": [],
                    "has_more": False,
                    "url": f"/v1/charges/{charge_id}/refunds",
                },
            )
            self._fixture(
                "payment_intent",
                pi_id,
                **{k: v for k, v in money.items() if k != "payment_intent"},
                status="succeeded",
                amount_received=money["amount"],
                latest_charge=charge_id,
                canceled_at=None,
                client_secret=f"{pi_id}_secret_{new_id('', 25)}",
            )
            session.update(
                status="complete",
                payment_status="paid",
                payment_intent=pi_id,
                url=None,
                customer_details=self.fixtures["checkout.session"]["customer_details"],
            )
            return copy.deepcopy(session)

    def event(self, event_type: str, object_id: str) -> JSON:
        """A fixture-shaped event of ``event_type`` about a stored object as it is now (for
        ``charge.refunded`` a refund id names its charge), kept in ``events``."""
        kind, status = EVENT_OBJECTS[event_type]
        with self._lock:
            obj = self.objects[object_id]
            if kind == "charge" and obj["object"] == "refund":
                obj = self.objects[obj["charge"]]
            if obj["object"] != kind or (status and obj["status"] != status):
                raise ValueError(f"{object_id} cannot be the object of {event_type}")
            event = build_event(event_type, obj, self.api_version)
            self.events.append(event)
        return event


def build_event(event_type: str, obj: JSON, api_version: str | None = None) -> JSON:
    """Stripe's event fixture around ``obj``."""
    subset = load_subset()
    return {
        **copy.deepcopy(subset["fixtures"]["event"]),
        "id": new_id("evt_"),
        "type": event_type,
        "created": int(time.time()),
        "api_version": api_version or subset["api_version"],
        "data": {"object": copy.deepcopy(obj)},
        "livemode": False,
        "pending_webhooks": 1,
    }


@dataclass(frozen=True)
class SignedWebhook:
    payload: bytes
    signature: str  # the ``Stripe-Signature`` header: ``t=<unix time>,v1=<hex HMAC-SHA256>``

    @property
    def headers(self) -> dict[str, str]:
        return {"Stripe-Signature": self.signature, "Content-Type": "application/json"}


def sign_webhook(event: JSON, secret: str, *, timestamp: int | None = None) -> SignedWebhook:
    """The body and signature Stripe would POST for ``event`` to an endpoint with ``secret``."""
    payload = json.dumps(event, indent=2)
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.{payload}".encode(), hashlib.sha256).hexdigest()
    return SignedWebhook(payload.encode(), f"t={t},v1={mac}")


@pytest.fixture(name="fake_stripe")
def fake_stripe_fixture() -> Iterator[FakeStripe]:
    """A running FakeStripe. At teardown the test fails if the fake rejected a request that the
    test did not take with ``take_violations()``."""
    with FakeStripe() as server:
        yield server
    assert not server.violations, "fake Stripe rejected requests:\n" + "\n".join(
        map(str, server.violations)
    )
