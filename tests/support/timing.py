"""Time in tests without sleeping to wait: a clock the test moves, for code that takes one, and
``eventually`` for what happens on its own (a server starting, another process's change
landing): polled, with a deadline."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

POLL_SECONDS = 0.02


class Clock:
    """A monotonic clock (seconds) that moves only when told."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def eventually(probe: Callable[[], T], seconds: float, what: str) -> T:
    """Call ``probe`` every 20 ms until it returns something true, and return that;
    AssertionError naming ``what`` once ``seconds`` have passed without."""
    deadline = time.monotonic() + seconds
    while not (found := probe()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(POLL_SECONDS)
    return found
