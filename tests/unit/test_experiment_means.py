"""Tests for the mean-metric statistics in pricing.experiments (revenue per exposed visitor).

Inputs are per-group sufficient statistics ``(n, Σx, Σx²)`` of integer observations (minor units
per visitor). Reference values are either derived by hand in the comments, taken from a published
example (R's ``sleep`` data set with ``t.test(extra ~ group)``, Welch), or recomputed from the
raw lists with the standard library's ``statistics`` module.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence

import pytest

from pricing.experiments import (
    Z_95,
    chance_to_beat_control_mean,
    lift,
    mean_difference,
    mean_stats,
    normal_cdf,
)

Sums = tuple[int, int, int]


def sums(values: Sequence[int]) -> Sums:
    """The sufficient statistics ``(n, Σx, Σx²)`` the database would aggregate."""
    return len(values), sum(values), sum(v * v for v in values)


# R's built-in ``sleep`` data (Student 1908), ``extra`` by ``group``, scaled by 10 to integers.
SLEEP_GROUP_1 = [7, -16, -2, -12, -1, 34, 37, 8, 0, 20]  # 0.7, -1.6, -0.2, ...
SLEEP_GROUP_2 = [19, 8, 11, 1, -1, 44, 55, 16, 46, 34]  # 1.9,  0.8,  1.1, ...

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
    with pytest.raises(ValueError):
        mean_difference(*args, 10, 0, 0)
    with pytest.raises(ValueError):
        mean_difference(10, 0, 0, *args)
    with pytest.raises(ValueError):
        chance_to_beat_control_mean(*args, 10, 0, 0)
    with pytest.raises(ValueError):
        chance_to_beat_control_mean(10, 0, 0, *args)


# --------------------------------------------------------------------------------------------
# mean_difference
# --------------------------------------------------------------------------------------------


def test_mean_difference_keys_mirror_lift() -> None:
    result = mean_difference(*HAND_A, *HAND_B)
    lift_keys = set(lift(1, 2, 1, 2)) - {"p_a", "p_b"}
    assert set(result) == lift_keys | {"mean_a", "mean_b", "z", "p_value"}


def test_mean_difference_by_hand() -> None:
    # m_a = 100, m_b = 200, v_a = 40000/4 = 10000, v_b = (80000/3)/4 = 6666.67.
    # se² = 10000 + 6666.67 = 50000/3 -> se = 129.099445; half-width 1.959964·se = 253.030262.
    # z = 100 / se = sqrt(3·100²/50000) = sqrt(0.6) = 0.774597; p = erfc(sqrt(0.3)) = 0.438578.
    # Relative: (200-100)/100 = 1; se_r² = v_b/m_a² + m_b²·v_a/m_a⁴ = 2/3 + 4 = 14/3,
    #   se_r = 2.160247, half-width 4.234006.
    result = mean_difference(*HAND_A, *HAND_B)
    assert result["mean_a"] == 100.0
    assert result["mean_b"] == 200.0
    assert result["absolute"] == 100.0
    assert result["absolute_ci_low"] == pytest.approx(-153.030262, abs=1e-6)
    assert result["absolute_ci_high"] == pytest.approx(353.030262, abs=1e-6)
    assert result["relative"] == 1.0
    assert result["relative_ci_low"] == pytest.approx(-3.234006, abs=1e-6)
    assert result["relative_ci_high"] == pytest.approx(5.234006, abs=1e-6)
    assert result["z"] == pytest.approx(math.sqrt(0.6), rel=1e-12)
    assert result["p_value"] == pytest.approx(0.438578, abs=1e-6)


def test_mean_difference_statistic_equals_r_welch_t_on_sleep_data() -> None:
    # R: t.test(extra ~ data = sleep) (Welch) -> t = -1.8608, df = 17.776,
    #    mean in group 1 = 0.75, mean in group 2 = 2.33 (difference -1.58).
    # R's statistic is (mean_x - mean_y)/se with x = group 1, so group 1 plays B here.
    # Scaling by 10 leaves t unchanged and scales means / differences by 10.
    a, b = sums(SLEEP_GROUP_2), sums(SLEEP_GROUP_1)
    result = mean_difference(*a, *b)
    assert result["mean_a"] == pytest.approx(23.3, abs=1e-12)
    assert result["mean_b"] == pytest.approx(7.5, abs=1e-12)
    assert result["absolute"] == pytest.approx(-15.8, abs=1e-12)
    assert round(result["z"], 4) == -1.8608
    # Same data as the sample variances R reports (sd 1.789 and 2.002 unscaled):
    # s₁² = (10·3443 - 75²)/90 = 320.0556, s₂² = (10·9037 - 233²)/90 = 400.9.
    assert mean_stats(*b)[1] == pytest.approx(28_805 / 90, rel=1e-15)
    assert mean_stats(*a)[1] == pytest.approx(400.9, rel=1e-15)
    # Normal instead of t reference distribution: 2(1 - Φ(1.8608)) = 0.06277 (R's t: 0.07939).
    assert result["p_value"] == pytest.approx(0.062771, abs=1e-6)
    # se = sqrt(32.0056 + 40.09) = 8.490910; the interval is -15.8 ± 1.959964·se.
    assert result["absolute_ci_low"] == pytest.approx(-15.8 - 16.641878, abs=1e-6)
    assert result["absolute_ci_high"] == pytest.approx(-15.8 + 16.641878, abs=1e-6)
    # Other orientation: the sign flips, as in R's t.test(extra ~ relevel(group, "2")).
    assert round(mean_difference(*b, *a)["z"], 4) == 1.8608


@pytest.mark.parametrize("seed", range(6))
def test_mean_difference_matches_direct_computation(seed: int) -> None:
    rng = random.Random(1000 + seed)
    groups = []
    for _ in range(2):
        n = rng.randint(2, 300)
        groups.append([0 if rng.random() < 0.7 else rng.randint(1, 20_000) for _ in range(n)])
    xs_a, xs_b = groups
    m_a, m_b = statistics.mean(xs_a), statistics.mean(xs_b)
    v_a = statistics.variance(xs_a) / len(xs_a)
    v_b = statistics.variance(xs_b) / len(xs_b)
    se = math.sqrt(v_a + v_b)
    se_rel = math.sqrt(v_b / m_a**2 + m_b**2 * v_a / m_a**4)

    result = mean_difference(*sums(xs_a), *sums(xs_b))
    assert result["absolute"] == pytest.approx(m_b - m_a, rel=1e-12, abs=1e-9)
    assert result["absolute_ci_low"] == pytest.approx(m_b - m_a - Z_95 * se, rel=1e-12)
    assert result["absolute_ci_high"] == pytest.approx(m_b - m_a + Z_95 * se, rel=1e-12)
    assert result["relative"] == pytest.approx(m_b / m_a - 1, rel=1e-12, abs=1e-12)
    assert result["relative_ci_low"] == pytest.approx(m_b / m_a - 1 - Z_95 * se_rel, rel=1e-12)
    assert result["relative_ci_high"] == pytest.approx(m_b / m_a - 1 + Z_95 * se_rel, rel=1e-12)
    assert result["z"] == pytest.approx((m_b - m_a) / se, rel=1e-12, abs=1e-12)
    assert result["p_value"] == pytest.approx(2 * (1 - normal_cdf(abs(result["z"]))), abs=1e-12)


def test_binary_metric_agrees_with_lift_up_to_bessel_correction() -> None:
    # For 0/1 data s² = p(1-p)·n/(n-1), so with equal group sizes every half-width is lift's
    # times sqrt(n/(n-1)). lift(45, 100, 56, 100) is pinned in test_experiments.py.
    result = mean_difference(100, 45, 45, 100, 56, 56)
    reference = lift(45, 100, 56, 100)
    factor = math.sqrt(100 / 99)
    for key in ("absolute", "relative"):
        assert result[key] == pytest.approx(reference[key], rel=1e-12)
        half = result[f"{key}_ci_high"] - result[key]
        ref_half = reference[f"{key}_ci_high"] - reference[key]
        assert half == pytest.approx(ref_half * factor, rel=1e-12)
        assert result[key] - result[f"{key}_ci_low"] == pytest.approx(half, rel=1e-12)


@pytest.mark.parametrize(
    "args",
    [
        (0, 0, 0, 0, 0, 0),  # no visitors at all
        (1000, 0, 0, 1000, 0, 0),  # visitors, nobody bought
        (0, 0, 0, 1000, 0, 0),
        (1, 500, 250_000, 1, 500, 250_000),  # single visitors: no variance
    ],
)
def test_no_spread_gives_zero_statistic_and_p_one(args: tuple[int, ...]) -> None:
    result = mean_difference(*args)
    assert result["z"] == 0.0
    assert result["p_value"] == 1.0
    assert result["absolute"] == result["absolute_ci_low"] == result["absolute_ci_high"] == 0.0
    assert result["relative"] == result["relative_ci_low"] == result["relative_ci_high"] == 0.0
    assert chance_to_beat_control_mean(*args) == 0.5


def test_zero_data_is_all_zeros_except_p_value() -> None:
    result = mean_difference(0, 0, 0, 0, 0, 0)
    assert result.pop("p_value") == 1.0
    assert all(v == 0.0 for v in result.values())


def test_zero_control_mean_reports_relative_as_zero() -> None:
    # Control: 10 visitors, no revenue; treatment [0]*8 + [100, 300].
    result = mean_difference(10, 0, 0, *sums([0] * 8 + [100, 300]))
    assert result["mean_a"] == 0.0
    assert result["mean_b"] == 40.0
    assert result["absolute"] == 40.0
    assert result["relative"] == result["relative_ci_low"] == result["relative_ci_high"] == 0.0
    # Only B has spread: s_b² = (10·100000 - 400²)/90 = 9333.33, se = sqrt(933.33) = 30.5505.
    assert result["z"] == pytest.approx(40 / math.sqrt(2800 / 3), rel=1e-12)


def test_constant_but_different_groups() -> None:
    # [5]*10 vs [7]*10: no spread, so no test (z 0, p 1) but the point estimates stand and
    # the intervals collapse to them.
    result = mean_difference(10, 50, 250, 10, 70, 490)
    assert result["absolute"] == result["absolute_ci_low"] == result["absolute_ci_high"] == 2.0
    assert result["relative"] == pytest.approx(0.4)
    assert result["relative_ci_low"] == result["relative_ci_high"] == result["relative"]
    assert (result["z"], result["p_value"]) == (0.0, 1.0)
    assert chance_to_beat_control_mean(10, 50, 250, 10, 70, 490) == 1.0
    assert chance_to_beat_control_mean(10, 70, 490, 10, 50, 250) == 0.0


# --------------------------------------------------------------------------------------------
# chance_to_beat_control_mean
# --------------------------------------------------------------------------------------------


def test_chance_to_beat_control_mean_by_hand() -> None:
    # Φ((200 - 100) / sqrt(50000/3)) = Φ(sqrt(0.6)) = Φ(0.774597) = 0.780711.
    assert chance_to_beat_control_mean(*HAND_A, *HAND_B) == pytest.approx(0.780711, abs=1e-6)


def test_chance_to_beat_control_mean_sleep_data() -> None:
    # Φ(-1.860813) = 0.031385 (one-sided, half the two-sided normal p-value 0.062771).
    a, b = sums(SLEEP_GROUP_2), sums(SLEEP_GROUP_1)
    assert chance_to_beat_control_mean(*a, *b) == pytest.approx(0.031385, abs=1e-6)


def test_chance_is_half_for_identical_groups() -> None:
    assert chance_to_beat_control_mean(*HAND_A, *HAND_A) == 0.5
    assert chance_to_beat_control_mean(0, 0, 0, 0, 0, 0) == 0.5


# --------------------------------------------------------------------------------------------
# Symmetry: swapping control and treatment
# --------------------------------------------------------------------------------------------

SYMMETRY_CASES: list[tuple[Sums, Sums]] = [
    (HAND_A, HAND_B),
    (sums(SLEEP_GROUP_2), sums(SLEEP_GROUP_1)),
    ((10, 50, 250), (10, 70, 490)),  # no spread, different means
    ((0, 0, 0), (0, 0, 0)),
    ((1000, 0, 0), sums([0] * 990 + [1999] * 10)),
    (sums([0] * 5000 + [4999] * 120), sums([0] * 4900 + [5499] * 140 + [-499] * 3)),
]


@pytest.mark.parametrize(("a", "b"), SYMMETRY_CASES)
def test_swapping_groups_negates_difference_and_statistic(a: Sums, b: Sums) -> None:
    forward = mean_difference(*a, *b)
    backward = mean_difference(*b, *a)
    assert backward["mean_a"] == forward["mean_b"]
    assert backward["mean_b"] == forward["mean_a"]
    assert backward["absolute"] == -forward["absolute"]
    assert backward["absolute_ci_low"] == pytest.approx(-forward["absolute_ci_high"], abs=1e-9)
    assert backward["absolute_ci_high"] == pytest.approx(-forward["absolute_ci_low"], abs=1e-9)
    assert backward["z"] == -forward["z"]
    assert backward["p_value"] == forward["p_value"]

    chance = chance_to_beat_control_mean(*a, *b)
    assert chance_to_beat_control_mean(*b, *a) == pytest.approx(1.0 - chance, abs=1e-12)


@pytest.mark.parametrize(("a", "b"), SYMMETRY_CASES)
def test_chance_is_normal_cdf_of_z_when_there_is_spread(a: Sums, b: Sums) -> None:
    result = mean_difference(*a, *b)
    chance = chance_to_beat_control_mean(*a, *b)
    assert 0.0 <= chance <= 1.0
    if result["absolute_ci_high"] > result["absolute_ci_low"]:  # se > 0
        assert chance == pytest.approx(normal_cdf(result["z"]), abs=1e-15)
        # The 95 % interval excludes 0 exactly when the two-sided test rejects at 5 %.
        excludes_zero = result["absolute_ci_low"] > 0 or result["absolute_ci_high"] < 0
        assert excludes_zero == (result["p_value"] < 0.05)
