"""Tests for pricing.experiment_design: design and start checks, the lifecycle table, targeting, and
how ``Experiment.bucket`` composes GrowthBook's namespace, hash v2, coverage and weights.

Hash values are GrowthBook's published ones (``tests/cases.json`` of the SDKs, see
tests/unit/test_experiments.py, which pins the hash functions themselves):
``hash_v2("feature", "123") == 0.5231``, ``hash_v2("seed", "a") == 0.0505``; ``inNamespace``:
user "1" is outside ``("namespace1", 0, 0.4)`` and inside ``("namespace1", 0.4, 1)``, user "3" is
inside ``("namespace2", 0, 0.4)``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from pricing.experiment_design import (
    METRICS,
    STATUSES,
    TRANSITIONS,
    Experiment,
    Namespace,
    Targeting,
    Variant,
    design_problems,
    start_problems,
)
from pricing.experiments import hash_v1, hash_v2

D = Decimal
CONTROL = Variant("control", "Control", D("0.5"), control=True)
B = Variant("b", "B", D("0.5"))
EVERYWHERE = Targeting()


def experiment(
    variants: tuple[Variant, ...] = (CONTROL, B),
    coverage: str = "1",
    seed: str = "feature",
    namespace: Namespace | None = None,
    targeting: Targeting = EVERYWHERE,
    status: str = "running",
) -> Experiment:
    return Experiment(
        id="00000000-0000-0000-0000-000000000001",
        key="exp",
        status=status,
        seed=seed,
        coverage=D(coverage),
        variants=variants,
        targeting=targeting,
        namespace=namespace,
        bucket_version=1,
    )


def paths(problems: list[dict]) -> list[str]:
    """Where each problem is: the input field (the HTTP layer locates it in the request)."""
    return [p["field"] for p in problems]


# ---- design_problems ------------------------------------------------------------------------------


def test_a_sound_design_has_no_problems() -> None:
    assert design_problems((CONTROL, B), D(1), None) == []
    three = (
        Variant("a", "", D("0.2"), True),
        Variant("b", "", D("0.3")),
        Variant("c", "", D("0.5")),
    )
    assert design_problems(three, D("0.25"), Namespace("ns", D(0), D("0.5"))) == []
    # Boundaries are allowed: coverage 0 and 1, a namespace spanning [0, 1), no control at all.
    no_control = (Variant("a", "", D("0.5")), Variant("b", "", D("0.5")))
    assert design_problems(no_control, D(0), Namespace("ns", D(0), D(1))) == []


def test_weights_must_sum_exactly_to_one_and_the_message_names_the_sum() -> None:
    short = (CONTROL, Variant("b", "", D("0.4")))
    assert design_problems(short, D(1), None) == [
        {"field": "variants", "message": "Weights must sum to 1 (they sum to 0.9)."}
    ]
    over = (CONTROL, Variant("b", "", D("0.6")))
    assert design_problems(over, D(1), None)[0]["message"].endswith("(they sum to 1.1).")
    # Decimals, not floats: thirds written as 0.333/0.333/0.334 sum to exactly 1.
    thirds = tuple(
        Variant(k, "", D(w)) for k, w in (("a", "0.333"), ("b", "0.333"), ("c", "0.334"))
    )
    assert design_problems(thirds, D(1), None) == []
    # GrowthBook would silently fall back to equal weights for a sum in [0.99, 1.01]; we refuse.
    almost = (Variant("a", "", D("0.4")), Variant("b", "", D("0.5999")))
    assert paths(design_problems(almost, D(1), None)) == ["variants"]


def test_fewer_than_two_variants() -> None:
    one = (Variant("only", "", D(1), True),)
    assert design_problems(one, D(1), None) == [
        {"field": "variants", "message": "At least two variants."}
    ]
    # No variants: one problem (no weights to sum either).
    assert paths(design_problems((), D(1), None)) == ["variants"]


def test_duplicate_keys_are_located_at_each_repeat() -> None:
    variants = (
        Variant("a", "", D("0.25"), True),
        Variant("b", "", D("0.25")),
        Variant("a", "", D("0.25")),
        Variant("b", "", D("0.25")),
    )
    assert design_problems(variants, D(1), None) == [
        {"field": "variants/2/key", "message": "Duplicate key."},
        {"field": "variants/3/key", "message": "Duplicate key."},
    ]


def test_at_most_one_control() -> None:
    two = (CONTROL, Variant("b", "", D("0.5"), True))
    assert design_problems(two, D(1), None) == [
        {"field": "variants", "message": "At most one control variant."}
    ]


@pytest.mark.parametrize("coverage", ["-0.1", "1.01", "2"])
def test_coverage_outside_zero_one(coverage: str) -> None:
    assert design_problems((CONTROL, B), D(coverage), None) == [
        {"field": "coverage", "message": "Between 0 and 1."}
    ]


@pytest.mark.parametrize(
    ("start", "end"), [("0.5", "0.5"), ("0.6", "0.5"), ("-0.1", "0.5"), ("0.5", "1.1")]
)
def test_namespace_needs_start_before_end_within_zero_one(start: str, end: str) -> None:
    assert design_problems((CONTROL, B), D(1), Namespace("ns", D(start), D(end))) == [
        {"field": "namespace", "message": "Needs 0 <= start < end <= 1."}
    ]


def test_several_problems_are_reported_together() -> None:
    variants = (Variant("a", "", D("0.7"), True), Variant("a", "", D("0.7"), True))
    assert paths(design_problems(variants, D(2), Namespace("ns", D(1), D(0)))) == [
        "variants/1/key",
        "variants",  # sum 1.4
        "variants",  # two controls
        "coverage",
        "namespace",
    ]


# ---- start_problems and the lifecycle --------------------------------------------------------------


def test_start_needs_a_control_and_some_coverage() -> None:
    assert start_problems(experiment(status="draft")) == []
    no_control = experiment((Variant("a", "", D("0.5")), B), status="draft")
    assert start_problems(no_control) == [
        {"path": "/variants", "message": "One variant must be the control (control: true)."}
    ]
    assert start_problems(experiment(coverage="0", status="draft")) == [
        {"path": "/coverage", "message": "Coverage 0 would expose nobody."}
    ]


def test_start_problems_include_the_design_problems() -> None:
    bad = experiment((CONTROL, Variant("b", "", D("0.2"))), status="draft")
    assert paths(start_problems(bad)) == ["variants"]


def test_transitions_table() -> None:
    assert TRANSITIONS == {
        "start": (("draft",), "running"),
        "pause": (("running",), "paused"),
        "resume": (("paused",), "running"),
        "stop": (("running", "paused"), "stopped"),
    }
    # Nothing leaves "stopped"; every target is a status.
    assert all("stopped" not in sources for sources, _ in TRANSITIONS.values())
    assert {target for _, target in TRANSITIONS.values()} <= set(STATUSES)
    assert METRICS == ("upsell_acceptance", "booking_conversion", "revenue_per_visitor")


def test_live_and_control() -> None:
    assert [experiment(status=s).live for s in STATUSES] == [False, True, True, False]
    assert experiment().control == CONTROL
    assert experiment((Variant("a", "", D("0.5")), B)).control is None


# ---- targeting ---------------------------------------------------------------------------------------


def test_empty_targeting_covers_everything() -> None:
    everything = Targeting()
    assert everything.covers("any-segment", dt.date(2030, 1, 1))
    assert everything.covers_tier("any-tier")


def test_targeting_by_segment_and_tier() -> None:
    t = Targeting(segments=("premium", "family"), tiers=("tier-1",))
    day = dt.date(2030, 5, 5)
    assert t.covers("premium", day) and t.covers("family", day)
    assert not t.covers("budget", day)
    assert t.covers_tier("tier-1")
    assert not t.covers_tier("tier-2")
    # covers() ignores tiers; covers_tier() ignores segments and dates.
    assert Targeting(tiers=("tier-1",)).covers("budget", day)


def test_targeting_dates_are_inclusive_and_each_bound_optional() -> None:
    t = Targeting(date_from=dt.date(2030, 6, 1), date_to=dt.date(2030, 6, 30))
    assert not t.covers("s", dt.date(2030, 5, 31))
    assert t.covers("s", dt.date(2030, 6, 1))
    assert t.covers("s", dt.date(2030, 6, 30))
    assert not t.covers("s", dt.date(2030, 7, 1))
    assert Targeting(date_from=dt.date(2030, 6, 1)).covers("s", dt.date(2099, 1, 1))
    assert not Targeting(date_from=dt.date(2030, 6, 1)).covers("s", dt.date(2030, 5, 1))
    assert Targeting(date_to=dt.date(2030, 6, 1)).covers("s", dt.date(2000, 1, 1))
    assert not Targeting(date_to=dt.date(2030, 6, 1)).covers("s", dt.date(2030, 6, 2))
    # Segment and dates must both hold.
    both = Targeting(segments=("premium",), date_from=dt.date(2030, 6, 1))
    assert not both.covers("budget", dt.date(2030, 7, 1))
    assert not both.covers("premium", dt.date(2030, 5, 1))


# ---- bucket: namespace -> hash v2 -> coverage and weights --------------------------------------------


def test_bucket_uses_hash_v2_of_seed_and_visitor() -> None:
    assert hash_v2("feature", "123") == 0.5231  # GrowthBook's published value
    assert experiment().bucket("123") == "b"  # 0.5231 in [0.5, 1)
    assert hash_v2("seed", "a") == 0.0505
    assert experiment(seed="seed").bucket("a") == "control"  # 0.0505 in [0, 0.5)


def test_reduced_coverage_shrinks_each_range_from_its_start() -> None:
    # coverage 0.5: ranges [0, 0.25) and [0.5, 0.75): 0.5231 still in b
    assert experiment(coverage="0.5").bucket("123") == "b"
    # coverage 0.04: [0, 0.02) and [0.5, 0.52): 0.5231 falls just outside b's range
    assert experiment(coverage="0.04").bucket("123") is None
    # coverage 0.05: [0.5, 0.525) holds 0.5231 again
    assert experiment(coverage="0.05").bucket("123") == "b"
    # seed "seed", visitor "a" = 0.0505: coverage 0.1 gives [0, 0.05), half-open, excluded
    assert experiment(seed="seed", coverage="0.1").bucket("a") is None
    assert experiment(seed="seed", coverage="0.102").bucket("a") == "control"


def test_coverage_zero_excludes_everyone() -> None:
    e = experiment(coverage="0")
    assert [e.bucket(f"visitor-{i}") for i in range(300)] == [None] * 300


def test_weights_zero_one_always_give_the_second_variant() -> None:
    e = experiment((Variant("control", "", D(0), True), Variant("b", "", D(1))))
    assert {e.bucket(f"visitor-{i}") for i in range(300)} == {"b"}
    flipped = experiment((Variant("control", "", D(1), True), Variant("b", "", D(0))))
    assert {flipped.bucket(f"visitor-{i}") for i in range(300)} == {"control"}


def test_uneven_weights_follow_the_cumulative_ranges() -> None:
    three = (
        Variant("a", "", D("0.2"), True),
        Variant("b", "", D("0.3")),
        Variant("c", "", D("0.5")),
    )
    e = experiment(three)
    for i in range(300):
        visitor = f"visitor-{i}"
        n = hash_v2("feature", visitor)
        expected = "a" if n < 0.2 else "b" if n < 0.5 else "c"
        assert e.bucket(visitor) == expected, (visitor, n)


def test_namespace_excludes_visitors_outside_its_range() -> None:
    assert hash_v1("__namespace1", "1") == 0.68
    # user "1" is outside ("namespace1", 0, 0.4) (GrowthBook inNamespace case) ...
    outside = experiment(namespace=Namespace("namespace1", D(0), D("0.4")))
    assert outside.bucket("1") is None
    # ... and inside ("namespace1", 0.4, 1): then the usual hash v2 decides (0.9608 -> b).
    inside = experiment(namespace=Namespace("namespace1", D("0.4"), D(1)))
    assert hash_v2("feature", "1") == 0.9608
    assert inside.bucket("1") == "b"
    # user "3" is inside ("namespace2", 0, 0.4); hash_v2("feature", "3") = 0.3599 -> control
    assert experiment(namespace=Namespace("namespace2", D(0), D("0.4"))).bucket("3") == "control"
    assert experiment(namespace=Namespace("namespace2", D("0.4"), D(1))).bucket("3") is None


def test_namespace_halves_partition_visitors() -> None:
    first = experiment(namespace=Namespace("ns", D(0), D("0.5")))
    second = experiment(seed="other", namespace=Namespace("ns", D("0.5"), D(1)))
    both = neither = in_first = 0
    for i in range(500):
        visitor = f"visitor-{i}"
        a, b = first.bucket(visitor) is not None, second.bucket(visitor) is not None
        both += a and b
        neither += not a and not b
        in_first += a
        # the namespace hash is v1 of "__" + id, independent of each experiment's seed
        assert a == (hash_v1("__ns", visitor) < 0.5)
    assert both == 0
    assert neither == 0  # full coverage: the two halves cover everyone
    assert 150 < in_first < 350  # both halves get a fair share
