"""Tests for ``pricing.experiments.mean_stats``: mean and variance of a mean metric (revenue per
exposed visitor) from its sufficient statistics; the tests on those figures are in
test_experiment_statistics.py.

Inputs are per-group sufficient statistics ``(n, Σx, Σx²)`` of integer observations (minor units
per visitor). Reference values are derived by hand in the comments or
recomputed from the raw lists with the standard library's ``statistics`` module.
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Sequence

import pytest

from pricing.experiments import mean_stats

Sums = tuple[int, int, int]


def sums(values: Sequence[int]) -> Sums:
    """The sufficient statistics ``(n, Σx, Σx²)`` the database would aggregate."""
    return len(values), sum(values), sum(v * v for v in values)


# Hand-computable example: control [0, 0, 0, 400], treatment [0, 200, 200, 400].
HAND_A = sums([0, 0, 0, 400])  # (4, 400, 160_000)
HAND_B = sums([0, 200, 200, 400])  # (4, 800, 240_000)


# --------------------------------------------------------------------------------------------
# mean_stats
# --------------------------------------------------------------------------------------------


def test_mean_stats_by_hand() -> None:
    assert HAND_A == (4, 400, 160_000)
    # mean 400/4 = 100; s² = (4·160000 - 400²) / (4·3) = 480000/12 = 40000.
    assert mean_stats(*HAND_A) == (100.0, 40_000.0)
    # mean 800/4 = 200; s² = (4·240000 - 800²) / 12 = 320000/12 = 26666.67.
    mean, var = mean_stats(*HAND_B)
    assert mean == 200.0
    assert var == pytest.approx(80_000 / 3, rel=1e-15)


def test_mean_stats_small_and_empty_groups() -> None:
    assert mean_stats(0, 0, 0) == (0.0, 0.0)
    assert mean_stats(1, 1234, 1234 * 1234) == (1234.0, 0.0)  # n < 2: no variance
    assert mean_stats(1, -50, 2500) == (-50.0, 0.0)  # refunds may make values negative
    assert mean_stats(5, 0, 0) == (0.0, 0.0)  # nobody bought
    assert mean_stats(3, 21, 147) == (7.0, 0.0)  # constant sample [7, 7, 7]


@pytest.mark.parametrize("seed", range(8))
def test_mean_stats_matches_statistics_module(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randint(2, 400)
    # Revenue-like: mostly zeros, some purchases, the occasional refund.
    values = [
        0 if rng.random() < 0.8 else rng.choice([rng.randint(100, 50_000), -rng.randint(1, 999)])
        for _ in range(n)
    ]
    mean, var = mean_stats(*sums(values))
    assert mean == pytest.approx(statistics.mean(values), rel=1e-12, abs=1e-12)
    assert var == pytest.approx(statistics.variance(values), rel=1e-12, abs=1e-12)


def test_mean_stats_has_no_cancellation_for_large_values() -> None:
    # Σx² ~ 1e21 but the spread is tiny: a float one-pass formula would lose all digits.
    base = 10**10
    values = [base + d for d in (0, 1, 2, 3, 4)]
    mean, var = mean_stats(*sums(values))
    assert mean == base + 2
    assert var == 2.5  # variance of [0, 1, 2, 3, 4]
    assert var == statistics.variance(values)


@pytest.mark.parametrize(
    "args",
    [
        (-1, 0, 0),  # negative count
        (3, 5, -1),  # negative sum of squares
        (0, 5, 25),  # data in an empty group
        (0, 0, 1),
        (2, 10, 1),  # (Σx)² = 100 > n·Σx² = 2: no sample has these sums
        (1, 3, 8),  # one visitor with Σx = 3 has Σx² = 9, not 8 (9 > 1·8)
    ],
)
def test_invalid_sums_raise(args: Sums) -> None:
    with pytest.raises(ValueError):
        mean_stats(*args)
