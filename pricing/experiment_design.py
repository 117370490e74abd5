"""An experiment's design: variants and weights, coverage, targeting, namespace, and which variant a
visitor gets (GrowthBook hash v2, see ``pricing.experiments``).

Pure domain code. Weights, coverage and namespace bounds are Decimals as written by people; they
become floats only where GrowthBook's arithmetic is reproduced (bucket ranges, namespace hash).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pricing.experiments import bucket_ranges, choose_variation, hash_v2, in_namespace

METRICS = ("upsell_acceptance", "booking_conversion", "revenue_per_visitor")
STATUSES = ("draft", "running", "paused", "stopped")
#: Lifecycle: the statuses each action may start from, and where it leads.
TRANSITIONS = {
    "start": (("draft",), "running"),
    "pause": (("running",), "paused"),
    "resume": (("paused",), "running"),
    "stop": (("running", "paused"), "stopped"),
}


@dataclass(frozen=True)
class Variant:
    key: str
    name: str
    weight: Decimal
    control: bool = False


@dataclass(frozen=True)
class Namespace:
    """GrowthBook namespace: a visitor is in the experiment only if
    ``start <= hash_v1("__" + id, visitor) < end``. Experiments sharing a namespace id with
    disjoint ranges never share a visitor."""

    id: str
    start: Decimal
    end: Decimal


@dataclass(frozen=True)
class Targeting:
    """Which selections the experiment applies to; an empty list means all."""

    segments: tuple[str, ...] = ()  # segment keys
    tiers: tuple[str, ...] = ()  # tier ids
    date_from: dt.date | None = None  # service dates, inclusive
    date_to: dt.date | None = None

    def covers(self, segment_key: str, day: dt.date) -> bool:
        return (
            (not self.segments or segment_key in self.segments)
            and (self.date_from is None or day >= self.date_from)
            and (self.date_to is None or day <= self.date_to)
        )

    def covers_tier(self, tier_id: str) -> bool:
        return not self.tiers or tier_id in self.tiers


@dataclass(frozen=True)
class Experiment:
    id: str
    key: str
    status: str
    seed: str
    coverage: Decimal
    variants: tuple[Variant, ...]
    targeting: Targeting
    namespace: Namespace | None
    bucket_version: int

    @property
    def live(self) -> bool:
        """Running, or paused (paused: only visitors already assigned keep their variant)."""
        return self.status in ("running", "paused")

    @property
    def control(self) -> Variant | None:
        return next((v for v in self.variants if v.control), None)

    def bucket(self, visitor_id: str) -> str | None:
        """The variant key the hash gives ``visitor_id``, or None (outside the namespace range or
        the coverage), exactly as GrowthBook's ``run`` with hash version 2 decides it."""
        if self.namespace is not None and not in_namespace(
            visitor_id,
            (self.namespace.id, float(self.namespace.start), float(self.namespace.end)),
        ):
            return None
        n = hash_v2(self.seed, visitor_id)
        ranges = bucket_ranges(
            len(self.variants), float(self.coverage), [float(v.weight) for v in self.variants]
        )
        index = choose_variation(n, ranges)
        return self.variants[index].key if index >= 0 else None


def design_problems(
    variants: Sequence[Variant], coverage: Decimal, namespace: Namespace | None
) -> list[dict[str, Any]]:
    """What is wrong with a design at any status: located problems (JSON pointers into the body)."""
    problems = []
    if len(variants) < 2:
        problems.append({"field": "variants", "message": "At least two variants."})
    keys = [v.key for v in variants]
    for i, key in enumerate(keys):
        if keys.index(key) != i:
            problems.append({"field": f"variants/{i}/key", "message": "Duplicate key."})
    total = sum((v.weight for v in variants), Decimal(0))
    if variants and total != 1:
        problems.append(
            {"field": "variants", "message": f"Weights must sum to 1 (they sum to {total})."}
        )
    if sum(v.control for v in variants) > 1:
        problems.append({"field": "variants", "message": "At most one control variant."})
    if not Decimal(0) <= coverage <= 1:
        problems.append({"field": "coverage", "message": "Between 0 and 1."})
    if namespace is not None and not Decimal(0) <= namespace.start < namespace.end <= 1:
        problems.append({"field": "namespace", "message": "Needs 0 <= start < end <= 1."})
    return problems


def start_problems(experiment: Experiment) -> list[dict[str, Any]]:
    """What stops a draft from running (besides ``design_problems``)."""
    problems = design_problems(experiment.variants, experiment.coverage, experiment.namespace)
    if experiment.control is None:
        problems.append(
            {"path": "/variants", "message": "One variant must be the control (control: true)."}
        )
    if experiment.coverage == 0:
        problems.append({"path": "/coverage", "message": "Coverage 0 would expose nobody."})
    return problems
