"""docs/rules.md against the code: the fact table states every fact of the vocabulary, with the
type, range and default that ``rules.vocabulary.FACTS`` gives it."""

from __future__ import annotations

import re
from pathlib import Path

from rules.vocabulary import DATE, FACTS, INT, STR

DOCS = Path(__file__).resolve().parents[2] / "docs" / "rules.md"


def documented_facts() -> dict[str, tuple[str, str]]:
    """fact name -> (type cell, default cell) of the "## Facts" table."""
    section = DOCS.read_text().split("\n## Facts\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    out = {}
    for row in rows:
        names, kind, default, _meaning = (cell.strip() for cell in row.strip("|").split(" | "))
        for name in re.findall(r"`(\w+)`", names):
            out[name] = (kind, default)
    return out


def default_cell(value: int | str) -> str:
    """How the table writes a default: `""`, `available`, 0, −1 (a real minus sign)."""
    if isinstance(value, str):
        return f'`"{value}"`' if value == "" else f"`{value}`"
    return str(value).replace("-", "−")


def test_every_fact_is_documented_and_nothing_else():
    assert sorted(documented_facts()) == sorted(FACTS)


def test_documented_defaults_are_the_vocabulary_defaults():
    documented = documented_facts()
    wrong = {
        name: (documented[name][1], default_cell(fact.default))
        for name, fact in FACTS.items()
        if documented[name][1].split(" ", 1)[0] != default_cell(fact.default)
    }
    assert not wrong, f"docs/rules.md default vs code: {wrong}"


def test_documented_types_and_ranges_are_the_vocabulary_ones():
    documented = documented_facts()
    for name, fact in FACTS.items():
        kind = documented[name][0]
        if fact.type == STR and fact.choices:
            assert set(re.findall(r"`(\w+)`", kind)) == set(fact.choices), (name, kind)
        elif fact.type == STR:
            assert kind == "string", (name, kind)
        elif fact.type == DATE:
            assert kind == "date", (name, kind)
        else:
            assert fact.type == INT
            bounds = re.search(r"(−?\d[\d,]*)–(−?\d[\d,]*)", kind)
            assert kind.startswith("int"), (name, kind)
            if bounds:
                low, high = (int(b.replace("−", "-").replace(",", "")) for b in bounds.groups())
                assert (low, high) == (fact.low, fact.high), (name, kind)
