"""Compiled rulesets cached per (tenant, version): compiled lazily, bounded by memory (the bytes
``rules.plan`` estimates each program keeps), least recently used evicted, and closed — the
engine's sessions first, then its rulesets — only once no request holds them (reference
counts)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from rules.engine import Program

#: Per worker process; a program larger than the whole ceiling is still served, then closed.
DEFAULT_MAX_BYTES = 128 * 1024 * 1024


@dataclass
class _Entry:
    program: Program
    size: int
    refs: int = 0
    retired: bool = False


@dataclass
class ProgramCache:
    """``acquire(key, build)`` yields the program for ``key``, building it on first use, and
    keeps the programs it holds within ``max_bytes`` (their ``memory_bytes``)."""

    max_bytes: int = DEFAULT_MAX_BYTES
    _entries: OrderedDict[Hashable, _Entry] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _building: dict[Hashable, threading.Lock] = field(default_factory=dict)
    bytes: int = 0  # estimated, of the programs cached now
    compiled: int = 0
    evicted: int = 0

    @contextmanager
    def acquire(self, key: Hashable, build: Callable[[], Program]) -> Iterator[Program]:
        entry = self._checkout(key, build)
        try:
            yield entry.program
        finally:
            self._release(entry)

    def _checkout(self, key: Hashable, build: Callable[[], Program]) -> _Entry:
        while True:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:
                    self._entries.move_to_end(key)
                    entry.refs += 1
                    return entry
                building = self._building.setdefault(key, threading.Lock())
            with building:  # one build per key; others wait and then find it cached
                with self._lock:
                    # look again if built meanwhile, or if this lock is stale (its build finished
                    # and the program was evicted since): two builders would overwrite each
                    # other's entry and the lost program would never be closed
                    if key in self._entries or self._building.get(key) is not building:
                        continue
                try:
                    program = build()
                except BaseException:
                    with self._lock:
                        self._building.pop(key, None)
                    raise
                with self._lock:
                    self._building.pop(key, None)
                    entry = _Entry(program, program.memory_bytes, refs=1)
                    self._entries[key] = entry
                    self.bytes += entry.size
                    self.compiled += 1
                    victims = self._evict()
                self._close(victims)
                return entry

    def _evict(self) -> list[_Entry]:
        """Least recently used out until the rest fits (the newest too, if it alone does not)."""
        victims = []
        while self.bytes > self.max_bytes and self._entries:
            _, victim = self._entries.popitem(last=False)
            self.bytes -= victim.size
            victim.retired = True
            self.evicted += 1
            if victim.refs == 0:
                victims.append(victim)
        return victims

    def _release(self, entry: _Entry) -> None:
        with self._lock:
            entry.refs -= 1
            close = entry.retired and entry.refs == 0
        if close:
            entry.program.close()

    @staticmethod
    def _close(victims: list[_Entry]) -> None:
        for victim in victims:
            victim.program.close()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            victims = []
            for entry in self._entries.values():
                entry.retired = True
                if entry.refs == 0:
                    victims.append(entry)
            self._entries.clear()
            self.bytes = 0
        self._close(victims)
