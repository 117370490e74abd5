"""The one place that calls durable-rules' C core (``durable_rules_engine``, 2.0.28).

We never use ``durable.lang`` or ``durable.engine.Host`` (see DESIGN.md: they segfault under
threads and leak timer threads). We only ask "which rules does this one fact match?".

Protocol of one ``match(fact)`` (C return values checked against 2.0.28's events.c):

1. ``assert_fact(handle, json)`` -> ``(code, state_offset)``; code 0 = matched something, 1 = no
   alpha node matched, anything else (2 = same fact already present, 3 = deferred) is an error.
   The JSON carries our fixed ``sid``; without an ``id`` the engine derives the fact's id from
   an FNV-64 hash of its content, so retracting the same JSON later finds it again.
2. ``start_action_for_state(handle, state_offset)`` -> ``(state_json, message_json)`` or None,
   then ``complete_and_start_action(handle, state_offset)`` -> ``message_json`` or None, until
   None. Each message is ``{"rule_name": {"m": {...matched fact...}}}``, the name exactly as in
   our ruleset JSON and the fact echoed verbatim, so ``'{' + json_name + ':{"m":' + payload +
   '}}'``: we recognise that by string ops (json.loads costs ~2.5 us per action: p50 on a
   26-rule set went 58 -> 22 us) and json-parse anything else. Every action drained is counted
   (``actions``): what a ruleset costs the engine per decision. Actions come out in priority order: ascending ``pri`` (lower
   fires first), ties in definition order.
3. ``retract_fact(handle, same json)`` removes the fact. The sid's state node stays alive and is
   reused by the next call, so steady-state memory is constant. Or, with ``keep_state=False``,
   ``delete_state`` drops the state with the fact: the next call makes a fresh one (+2 us for a
   ruleset of a few rules; a kept state holds at least 120 KiB, see rules/plan.py).

Sharp edges handled:

- The first fact on a fresh sid makes the engine insert a state fact ``{"sid", "id", "$s": 1}``,
  which is matched like any fact: it fires ``$nex`` ("attribute absent") rules once. Messages
  whose matched fact carries ``"$s"`` are completed but not reported, and we drain actions even
  when assert_fact says "not handled" (the state fact's actions would otherwise stay queued).
- ``$or`` branches compile to separate paths: a fact satisfying k branches of one rule fires
  that rule k times (one action each, adjacent). We report each rule once, first position.
- ``pri`` is parsed by ``atoi`` into an unsigned short: -3 silently becomes 65533 (fires last).
  We reject priorities outside 0..65535 and rules other than one ``{"m": ...}`` condition.
- An action that is started but not completed leaves a lease on the state (STATE_LEASE_TIME is
  30 s, checked as ``now - (start + 30) > 30``, so ~60 s) during which every later call sees no
  actions (silently ``[]``); a fact left behind makes the next assert return 2 ("observed"). So on ANY
  failure inside match() (engine error, MemoryError, interrupt) we ``delete_state`` the sid; the
  next assert recreates it. The error surfaces as DurableError with the engine's code if any.
- Threads: the extension never releases the GIL, so each C call is atomic, but the GIL can switch
  threads *between* the calls of one match. Rather than one sid per thread (sids are matched by a
  32-bit hash and can collide; at most 1,024 live sids per ruleset; thread churn leaks states),
  every CompiledRuleset uses ONE sid and a lock around the whole assert/drain/retract sequence.
  That serialises nothing that was not already serialised by the GIL, and it lets close() wait
  for an in-flight match before freeing the engine's memory.
- ``delete_ruleset`` does not free live states (~425 KiB each): close() deletes the state first.
- Handles are recycled after 131,071 create/delete cycles (a stale handle then silently runs
  another ruleset), hence compiles_in_process() for callers to recycle the worker.
- Property names are matched by a 32-bit hash; ``sid``, ``id`` and ``$s`` are reserved keys.
  Booleans compare as integers (``{"vip": 1}`` matches ``{"vip": true}``); a missing attribute
  matches no comparison (``$neq`` included) except ``$nex``.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
from collections.abc import Hashable, Mapping
from typing import Any, cast

import durable_rules_engine as _durable_rules_engine
import orjson

#: glibc malloc settings under which the engine's per-decision allocations stay steady (session
#: creation swings 30-150 us otherwise: ../shared/DESIGN.md). glibc reads them at start-up only:
#: ``tierwise serve`` re-executes itself once with them, the benchmarks too.
GLIBC_TUNABLES = "glibc.malloc.mmap_threshold=4194304:glibc.malloc.trim_threshold=268435456"


def ensure_steady_malloc() -> None:
    """Unless the environment sets GLIBC_TUNABLES itself, run this very command again (same
    process id) with ``GLIBC_TUNABLES``; processes it forks inherit them."""
    if "GLIBC_TUNABLES" not in os.environ:
        env = {**os.environ, "GLIBC_TUNABLES": GLIBC_TUNABLES}
        os.execve(sys.executable, sys.orig_argv, env)  # noqa: S606 - this same command


_engine: Any = _durable_rules_engine  # no stubs; tests may swap this to inject failures
_ENGINE_ERROR = cast(type[Exception], _durable_rules_engine.error)
_ERR_OUT_OF_MEMORY = 101
_CODE_RE = re.compile(r"error code: (\d+)")
SID = "tierwise"  # the one session id (see the module docstring)
_RESERVED = frozenset({"sid", "id", "$s"})
_MAX_PRI = 65535
#: Fires once per fresh state, on the engine's state fact (which carries "$s", so its action is
#: drained but never reported). The engine leaves a state's action context uninitialised until the
#: state's first action, and ``delete_state`` frees that context: without an action, it frees
#: garbage pointers (segfault or abort once the heap has been reused, e.g. closing a ruleset whose
#: facts never matched anything). With this rule the first assert on a sid always starts one.
_STATE_RULE = {"$state": {"all": [{"m": {"$s": 1}}]}}

_compiles = 0
_compiles_lock = threading.Lock()


class DurableError(Exception):
    """Any failure of the engine; ``code`` is durable's error code when it gave one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code

    @classmethod
    def wrap(cls, exc: BaseException) -> DurableError:
        if isinstance(exc, MemoryError):
            return cls(f"durable-rules: out of memory ({exc})", _ERR_OUT_OF_MEMORY)
        found = _CODE_RE.search(str(exc))
        return cls(f"durable-rules: {exc}", int(found.group(1)) if found else None)


def compiles_in_process() -> int:
    """Rulesets successfully compiled by this process (engine handles recycle after 131,071)."""
    return _compiles


def _validate(rules: dict[str, dict[str, Any]]) -> None:
    for name, rule in rules.items():
        if name in _STATE_RULE:
            raise ValueError(f"rule name {name!r} is reserved")
        conditions = rule.get("all")
        if set(rule) - {"all", "pri"} or not isinstance(conditions, list) or len(conditions) != 1:
            raise ValueError(f"rule {name!r}: expected {{'all': [{{'m': ...}}], 'pri': int}}")
        if not isinstance(conditions[0], dict) or set(conditions[0]) != {"m"}:
            raise ValueError(f"rule {name!r}: the single condition must be named 'm'")
        pri = rule.get("pri", 0)
        if isinstance(pri, bool) or not isinstance(pri, int) or not 0 <= pri <= _MAX_PRI:
            raise ValueError(f"rule {name!r}: pri must be an int in 0..{_MAX_PRI}, got {pri!r}")


def _slow_rule_name(message: str) -> str | None:
    """Rule name of an action message, or None if it matched the engine's state fact."""
    for rule_name, frame in cast(dict[str, dict[str, Any]], json.loads(message)).items():
        return None if "$s" in frame["m"] else rule_name  # one rule per message, like durable
    raise DurableError(f"unexpected action message {message[:200]!r}")


class CompiledRuleset:
    """One compiled durable ruleset; ``match`` is safe to call from many threads."""

    def __init__(
        self,
        name: str,
        rules: dict[str, dict[str, Any]],
        *,
        keep_state: bool = True,
        labels: Mapping[str, Hashable] | None = None,
    ) -> None:
        """``labels``: what ``match`` reports for each rule (default: its name)."""
        global _compiles
        _validate(rules)
        self.name = name
        self.keep_state = keep_state
        self.actions = 0  # actions drained, all matches together (``$or`` repeats included)
        self._lock = threading.Lock()
        self._labels: Mapping[str, Hashable] = labels or {rule: rule for rule in rules}
        # message prefix -> label: the engine echoes names exactly as they appear in our JSON
        self._prefixes = {
            "{" + json.dumps(rule, ensure_ascii=False) + ':{"m":': self._labels[rule]
            for rule in rules
        }
        try:
            spec = json.dumps({**rules, **_STATE_RULE}, ensure_ascii=False)
            handle = _engine.create_ruleset(name, spec)
        except (_ENGINE_ERROR, MemoryError) as exc:
            raise DurableError.wrap(exc) from exc
        self._handle: int | None = cast(int, handle)
        with _compiles_lock:
            _compiles += 1

    def match(self, fact: dict[str, Any]) -> list[Any]:
        """Names (or labels) of all rules whose condition ``fact`` satisfies, in firing
        (priority) order."""
        reserved = _RESERVED.intersection(fact)
        if reserved:
            raise ValueError(f"fact uses reserved keys: {sorted(reserved)}")
        return self.match_json(orjson.dumps({**fact, "sid": SID}).decode())

    def match_json(self, payload: str) -> list[Any]:
        """``match`` for a fact its caller encoded: one JSON object carrying ``"sid": SID`` and
        no other reserved key. Compact UTF-8 JSON from orjson is a sixth of json.dumps' time:
        facts are vocabulary integers and strings (rules.vocabulary.complete_facts)."""
        with self._lock:
            handle = self._handle
            if handle is None:
                raise DurableError(f"ruleset {self.name!r} is closed")
            try:
                return self._match_locked(handle, payload)
            except BaseException as exc:
                self._reset(handle)
                if isinstance(exc, (_ENGINE_ERROR, MemoryError)):
                    raise DurableError.wrap(exc) from exc
                raise

    def close(self) -> None:
        """Free the engine's state, then the ruleset. Idempotent; later match() raises."""
        with self._lock:
            handle, self._handle = self._handle, None
            if handle is None:
                return
            self._reset(handle)
            try:
                _engine.delete_ruleset(handle)
            except (_ENGINE_ERROR, MemoryError) as exc:
                raise DurableError.wrap(exc) from exc

    def _match_locked(self, handle: int, payload: str) -> list[Any]:
        engine = _engine
        code, state_offset = engine.assert_fact(handle, payload)
        if code not in (0, 1):
            raise DurableError(f"assert_fact returned {code}", code)
        fired: dict[Hashable, None] = {}  # ordered; `$or` fires once per true branch
        action = engine.start_action_for_state(handle, state_offset)
        if action is not None:
            # an action on our fact is exactly '{"<name>":{"m":' + payload + '}}': its prefix
            # names the rule (string ops: json.loads would cost ~2.5 us per action)
            ours, tail = payload + "}}", len(payload) + 2
            prefixes, complete = self._prefixes, engine.complete_and_start_action
            message: str | None = action[1]
            actions = 0
            while message is not None:
                actions += 1
                label = prefixes.get(message[: len(message) - tail])
                if label is None or not message.endswith(ours):
                    name = _slow_rule_name(message)  # the state fact lands here (-> None)
                    label = None if name is None else self._labels[name]
                if label is not None:
                    fired[label] = None
                message = complete(handle, state_offset)
            self.actions += actions
        if self.keep_state:
            code, _ = engine.retract_fact(handle, payload)
            if code != 0:
                raise DurableError(f"retract_fact returned {code}", code)
        else:  # the fact goes with the state; the next assert starts a fresh one
            engine.delete_state(handle, SID)
        return list(fired)

    @staticmethod
    def _reset(handle: int) -> None:
        """Drop the sid's whole state (facts, queued actions, lease); recreated on next assert."""
        with contextlib.suppress(_ENGINE_ERROR, MemoryError):  # 309: no state yet
            _engine.delete_state(handle, SID)
