"""Pytest plugin: for tests marked ``race``, print per scenario how many runs there were and how
many broke an invariant (failed), at the end of the session (``make stress`` reads it there)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

_tally: dict[str, list[int]] = defaultdict(lambda: [0, 0])


def pytest_configure(config: Any) -> None:
    config.addinivalue_line(
        "markers",
        "race: a concurrency scenario run STRESS_RUNS times; its invariant violations are tallied",
    )


def pytest_runtest_logreport(report: Any) -> None:
    if "race" not in report.keywords:
        return
    if report.when == "call" or (report.when == "setup" and report.failed):
        name = report.nodeid.split("::")[-1].split("[")[0]
        _tally[name][0] += 1
        _tally[name][1] += int(report.failed)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _tally:
        return
    terminalreporter.section("races")
    for name, (runs, broken) in sorted(_tally.items()):
        terminalreporter.write_line(f"{name}: runs {runs}, invariant violations {broken}")
