"""Priced offer sheets kept by what they are a pure function of, so a repeat prices nothing.

``pricing.offers.price_offers`` has no clock and no I/O: its sheet is fixed by the selection, the
catalog version, the ruleset in force, the tenant's today, the availability counts of the window
and the visitor's experiment variant (``offers.offers_tag``), and so are the rules' outcomes it
asked for. The visitor is not among them (only their variant is), so a sheet is kept under the key
of everything but the visitor and serves every visitor with the same variant.

A repeat reuses the sheet and the outcomes under new decision ids (every offer is its own
decision, recorded as a pricing records it: the same facts, rules fired and outputs, written now)
and the request's own selection and assignment. Half an offer's worker time was the pricing and
its three rule evaluations (docs/benchmarks.md); tests hold a reused sheet equal to a fresh
pricing's but for the ids (tests/api/test_offer_memo.py).

Per process, least recently used first out, ``SIZE`` sheets: a 3-tier sheet with its outcomes
takes ~21 kB of memory (measured with tracemalloc over 200 sheets), ~6 kB more once its JSON is
kept, so ~28 MB per worker when full.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pricing import offers as pricing_offers
from pricing import pricer
from rules.outcome import Outcome
from storage.decision_text import LineShape

T = TypeVar("T")

SIZE = 1024


@dataclass(frozen=True)
class Priced:
    """A sheet and the outcome of each of its evaluations, in order; and renderings of the sheet
    by name (``rendered``) and its records' line shapes, made on first use."""

    sheet: pricing_offers.OfferSheet
    outcomes: tuple[Outcome, ...]
    renderings: dict[str, bytes] = field(default_factory=dict, compare=False)
    #: The line shape of each evaluation's decision record, by position: the records of its
    #: reuses are written from it (``storage.decision_text.LineShape``).
    shapes: dict[int, LineShape] = field(default_factory=dict, compare=False)


@dataclass(frozen=True)
class Reused:
    """A kept sheet serving a request: ``ids`` maps its decision ids to the request's, and
    ``evaluations`` are its evaluations under them (what the request records). The sheet itself,
    with the request's selection and assignment, is made only when asked for (``sheet``): the
    storefront answers from the kept sheet's rendering (``rendered``) and never asks."""

    kept: Priced
    ids: dict[str, str]
    evaluations: tuple[pricer.Evaluation, ...]
    selection: pricer.Selection
    assignment: pricer.Assignment | None

    def sheet(self) -> pricing_offers.OfferSheet:
        """The kept sheet for this request: every decision id replaced by the request's, the
        request's selection and assignment."""
        ids, sheet = self.ids, self.kept.sheet
        tiers = tuple(
            _with(
                offer,
                decision_id=ids[offer.decision_id],
                fallbacks=tuple(_with(f, decision_id=ids[f.decision_id]) for f in offer.fallbacks),
            )
            for offer in sheet.tiers
        )
        return _with(
            sheet,
            selection=self.selection,
            assignment=self.assignment,
            tiers=tiers,
            evaluations=self.evaluations,
        )


class SheetMemo:
    def __init__(self, size: int = SIZE) -> None:
        self.size = size
        self._sheets: OrderedDict[str, Priced] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> Priced | None:
        with self._lock:
            found = self._sheets.get(key)
            if found is not None:
                self._sheets.move_to_end(key)
            return found

    def put(self, key: str, priced: Priced) -> None:
        with self._lock:
            self._sheets[key] = priced
            self._sheets.move_to_end(key)
            while len(self._sheets) > self.size:
                self._sheets.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._sheets.clear()


def reissued(
    kept: Priced,
    new_id: Callable[[], str],
    selection: pricer.Selection,
    assignment: pricer.Assignment | None,
) -> Reused:
    """The kept sheet for another request: a new decision id for each of its evaluations (the
    sheet under them: ``Reused.sheet``)."""
    ids = {e.id: new_id() for e in kept.sheet.evaluations}
    evaluations = tuple(_with(e, id=ids[e.id]) for e in kept.sheet.evaluations)
    return Reused(kept, ids, evaluations, selection, assignment)


def _with(value: T, **changes: Any) -> T:
    """``dataclasses.replace`` for a value that was valid and changes only in fields that
    ``__init__`` does not check (ids, the request's selection): a copy of its fields, without
    ``replace``'s per-field introspection (~2 % of an offer)."""
    copied = object.__new__(type(value))
    fields = copied.__dict__
    fields.update(value.__dict__)
    fields.update(changes)
    return copied


def rendered(
    reused: Reused, name: str, render: Callable[[pricing_offers.OfferSheet], bytes]
) -> bytes:
    """``render`` of the reissued sheet, made from the kept sheet's rendering (made once) with the
    decision ids replaced: for a ``render`` that shows of the request nothing but the decision
    ids (not the visitor; the variant is the kept sheet's). A decision id is a UUID with 62
    random bits (``storage.ids``): its text is nowhere else in a rendering."""
    text = reused.kept.renderings.get(name)
    if text is None:
        text = reused.kept.renderings[name] = render(reused.kept.sheet)
    for old, new in reused.ids.items():
        text = text.replace(old.encode(), new.encode())
    return text
