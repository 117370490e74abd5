"""Compile a ruleset with the serving engine and run its example cases **in a separate process**
with a timeout, before any serving worker loads it. A ruleset that crashes, hangs or fails there
never reaches a worker.

The child is ``python -m rules.verify``: it reads the document (JSON) on stdin and writes one JSON
object on stdout: ``{"ok": bool, "errors": [...], "cases": [...], "compile_ms": float}``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

from rules.checks import run_cases
from rules.engine import RulesEngineError, compile_program
from rules.language import RulesetInvalid
from rules.parsing import parse_ruleset
from rules.plan import cost_errors

DEFAULT_TIMEOUT_SECONDS = 20.0


@dataclass(frozen=True)
class Verification:
    ok: bool
    errors: list[dict[str, str]]
    cases: list[dict[str, Any]]
    compile_ms: float = 0.0


def verify_here(document: Any, engine: str = "durable") -> dict[str, Any]:
    """What the child process does; also usable in-process by tests of this module."""
    try:
        ruleset = parse_ruleset(document)
    except RulesetInvalid as error:
        return {"ok": False, "errors": error.errors, "cases": [], "compile_ms": 0.0}
    errors = cost_errors(ruleset)
    if errors:
        return {"ok": False, "errors": errors, "cases": [], "compile_ms": 0.0}
    started = time.perf_counter()
    try:
        program = compile_program(ruleset, engine=engine, name="verify")
    except RulesEngineError as error:
        return {
            "ok": False,
            "errors": [{"path": "/", "message": error.message}],
            "cases": [],
            "compile_ms": 0.0,
        }
    compile_ms = (time.perf_counter() - started) * 1000
    try:
        results = run_cases(program)
    except RulesEngineError as error:
        return {
            "ok": False,
            "errors": [{"path": "/tests", "message": error.message}],
            "cases": [],
            "compile_ms": compile_ms,
        }
    finally:
        program.close()
    cases = [
        {"name": r.name, "passed": r.passed, "mismatches": list(r.mismatches)} for r in results
    ]
    return {
        "ok": all(c["passed"] for c in cases),
        "errors": [],
        "cases": cases,
        "compile_ms": compile_ms,
    }


def verify_in_subprocess(
    document: Any, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
) -> Verification:
    try:
        completed = subprocess.run(
            [sys.executable, "-m", "rules.verify"],
            input=json.dumps(document),
            capture_output=True,
            text=True,
            timeout=timeout_seconds,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return Verification(
            False,
            [
                {
                    "path": "/",
                    "message": f"The rules engine did not finish within {timeout_seconds:g} s.",
                }
            ],
            [],
        )
    if completed.returncode != 0:
        return Verification(
            False,
            [
                {
                    "path": "/",
                    "message": f"The rules engine crashed while compiling or testing (exit {completed.returncode}).",
                }
            ],
            [],
        )
    try:
        result = json.loads(completed.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return Verification(
            False, [{"path": "/", "message": "The rules engine check gave no result."}], []
        )
    return Verification(
        bool(result["ok"]), result["errors"], result["cases"], float(result.get("compile_ms", 0.0))
    )


def main() -> int:
    document = json.loads(sys.stdin.read())
    print(json.dumps(verify_here(document)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
