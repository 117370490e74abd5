"""Facts no rules engine can hold (an integer beyond 64 bits, text with NUL or a lone surrogate)
are refused where facts are completed (``rules.vocabulary.complete_facts``), so every path that
evaluates (offers, quotes, evaluate, simulate, backtest, replay) refuses them alike, on both
engines, before durable-rules' JSON encoder fails with a TypeError."""

from __future__ import annotations

from typing import Any

import pytest

from rules.engine import compile_program, evaluate
from rules.parsing import parse_ruleset
from rules.vocabulary import MAX_INTEGER, MIN_INTEGER, UnrepresentableFacts, complete_facts

#: Tests every refused fact, so that the durable engine is handed each of them.
DOCUMENT = {
    "rules": [
        {
            "id": "by-segment",
            "kind": "season",
            "priority": 10,
            "when": {"fact": "segment", "op": "eq", "value": "premium"},
            "then": {"multiplier": "1.1"},
        },
        {
            "id": "by-amount",
            "kind": "season",
            "priority": 20,
            "when": {"fact": "amount", "op": "gt", "value": 100},
            "then": {"multiplier": "1.2"},
        },
    ]
}

REFUSED: list[tuple[dict[str, Any], str]] = [
    ({"segment": "\ud800"}, "/facts/segment"),
    ({"segment": "pre\udfffmium"}, "/facts/segment"),
    ({"segment": "a\x00b"}, "/facts/segment"),
    ({"amount": MAX_INTEGER + 1}, "/facts/amount"),
    ({"amount": 2**64}, "/facts/amount"),
    ({"amount": MIN_INTEGER - 1}, "/facts/amount"),
]


@pytest.mark.parametrize(("facts", "path"), REFUSED)
def test_complete_facts_refuses_what_no_engine_holds(facts: dict[str, Any], path: str) -> None:
    with pytest.raises(UnrepresentableFacts) as raised:
        complete_facts(facts)
    assert raised.value.code == "invalid_facts"
    assert [d["path"] for d in raised.value.details] == [path]


@pytest.mark.parametrize("engine", ["durable", "reference"])
@pytest.mark.parametrize(("facts", "path"), REFUSED)
def test_both_engines_refuse_them_alike(engine: str, facts: dict[str, Any], path: str) -> None:
    program = compile_program(parse_ruleset(DOCUMENT), engine=engine, name=f"limits-{engine}")
    try:
        with pytest.raises(UnrepresentableFacts):
            evaluate(program, facts)
        # the edges themselves, and text beyond ASCII, are taken
        for fine in ({"amount": MAX_INTEGER}, {"amount": MIN_INTEGER}, {"segment": "prémium☕"}):
            evaluate(program, fine)
        assert evaluate(program, {"segment": "premium"}).fired == ("by-segment",)
    finally:
        program.close()
