"""Serving-side rules: which version is active for a tenant, and its compiled program.

A publish reaches every worker of every instance within 1 s without restart:

* the publishing process bumps ``tw:rules:epoch:<tenant>`` in the cache (Redis); every worker
  compares that epoch (at most every ``EPOCH_CHECK_SECONDS``) and reloads the tenant's
  activations when it moved;
* independently, a worker never trusts its copy of the activations for longer than
  ``ACTIVATIONS_TTL_SECONDS`` (1 s), so with Redis down a publish still lands within 1 s.

Activations are appended rows (publish, activate, rollback; now or scheduled), and cancelling a
pending one marks its row; every change is announced the same way, so the version in force at any
moment is computed locally from the copy (``storage.rulesets.active_at``, which ignores cancelled
activations).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from app.adapters import metrics
from app.adapters.cache import Cache
from config.settings import DEFAULT_RULES_CACHE_MIB
from pricing.errors import NotFound
from rules.engine import Program, RulesEngineError, compile_program, evaluate
from rules.language import KINDS
from rules.outcome import Outcome
from rules.parsing import parse_ruleset
from rules.programs import ProgramCache
from storage.db import Database
from storage.rulesets import Activation, RulesetRepository, active_at

ACTIVATIONS_TTL_SECONDS = 1.0
EPOCH_CHECK_SECONDS = 0.1
#: durable-rules recycles handles after 131,071 compiles; refuse long before (recycle the worker).
MAX_COMPILES_PER_PROCESS = 100_000


def epoch_key(tenant_id: str) -> str:
    return f"tw:rules:epoch:{tenant_id}"


@dataclass(frozen=True)
class ActiveRuleset:
    version: int
    content_hash: str


@dataclass
class _TenantState:
    activations: list[Activation]
    hashes: dict[int, str]
    loaded_at: float
    epoch: bytes | None
    epoch_checked_at: float


class RulesRuntime:
    def __init__(
        self,
        db: Database,
        cache: Cache,
        *,
        engine: str = "durable",
        cache_mib: int = DEFAULT_RULES_CACHE_MIB,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """``cache_mib``: the compiled programs this worker keeps, in MiB as ``rules.plan``
        estimates them (``RULES_CACHE_MIB``); least recently used ones are closed past it."""
        self.db = db
        self.cache = cache
        self.engine = engine
        self.programs = ProgramCache(max_bytes=cache_mib * 1024 * 1024)
        self._clock = clock
        self._tenants: dict[str, _TenantState] = {}
        self._lock = threading.Lock()

    # -- announcements
    def announce(self, tenant_id: str) -> None:
        """Tell every worker the tenant's activations changed (best effort; the TTL is the backstop)."""
        self.forget(tenant_id)
        with contextlib.suppress(Exception):  # Redis down: workers still reload within the TTL
            self.cache.incr(epoch_key(tenant_id))

    def forget(self, tenant_id: str) -> None:
        with self._lock:
            self._tenants.pop(tenant_id, None)

    def _epoch(self, tenant_id: str) -> bytes | None:
        try:
            return self.cache.get(epoch_key(tenant_id))
        except Exception:
            return None

    def _state(self, tenant_id: str) -> _TenantState:
        now = self._clock()
        with self._lock:
            state = self._tenants.get(tenant_id)
        if state is not None and now - state.loaded_at < ACTIVATIONS_TTL_SECONDS:
            if now - state.epoch_checked_at < EPOCH_CHECK_SECONDS:
                return state
            epoch = self._epoch(tenant_id)
            if epoch == state.epoch:
                state.epoch_checked_at = now
                return state
        epoch = self._epoch(tenant_id)
        with self.db.transaction() as session:
            repo = RulesetRepository(session, tenant_id)
            state = _TenantState(repo.activations(), repo.version_hashes(), now, epoch, now)
        with self._lock:
            self._tenants[tenant_id] = state
        return state

    # -- evaluation
    def active(self, tenant_id: str, at: dt.datetime) -> ActiveRuleset:
        state = self._state(tenant_id)
        activation = active_at(state.activations, at)
        if activation is None:
            raise NotFound("The tenant has no active ruleset.", code="no_active_ruleset")
        number = activation.version_number
        return ActiveRuleset(number, state.hashes[number])

    def _build(self, tenant_id: str, number: int, built: list[bool]) -> Callable[[], Program]:
        def build() -> Program:
            built.append(True)
            if self.engine == "durable":
                from rules.durable_binding import compiles_in_process

                if compiles_in_process() >= MAX_COMPILES_PER_PROCESS:
                    raise RulesEngineError(
                        "This worker compiled too many rulesets and must be recycled.",
                        code="engine_recycle_required",
                    )
            with self.db.transaction() as session:
                version = RulesetRepository(session, tenant_id).version(number)
            return compile_program(
                parse_ruleset(version.document), engine=self.engine, name=f"{tenant_id}.v{number}"
            )

        return build

    @contextlib.contextmanager
    def _program(self, tenant_id: str, version: int) -> Iterator[Program]:
        """The compiled program of a version: cached, or compiled now (a cache miss)."""
        built: list[bool] = []
        with self.programs.acquire(
            (tenant_id, version), self._build(tenant_id, version, built)
        ) as program:
            (metrics.cache_miss if built else metrics.cache_hit)("rules_program").inc()
            yield program

    def labels(self, tenant_id: str, version: int) -> Mapping[str, str]:
        """The customer-facing labels of a version's rules, by rule id (for price lines)."""
        with self._program(tenant_id, version) as program:
            return program.labels

    def evaluate_version(
        self,
        tenant_id: str,
        version: int,
        facts: Mapping[str, Any],
        kinds: Iterable[str] = KINDS,
        *,
        explain: bool = True,
    ) -> Outcome:
        with self._program(tenant_id, version) as program:
            return evaluate(program, facts, kinds, explain=explain)

    def evaluate(
        self,
        tenant_id: str,
        facts: Mapping[str, Any],
        at: dt.datetime,
        kinds: Iterable[str] = KINDS,
    ) -> tuple[ActiveRuleset, Outcome]:
        """Evaluate the version in force at ``at`` for the tenant."""
        active = self.active(tenant_id, at)
        return active, self.evaluate_version(tenant_id, active.version, facts, kinds)
