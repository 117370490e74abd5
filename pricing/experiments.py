"""Experiments: GrowthBook-compatible deterministic assignment and result statistics.

Pure domain code: no I/O, no clock, no randomness. Statistics use ``float`` (they are not money).

Assignment mirrors the GrowthBook SDKs (reference: ``growthbook/growthbook-python``
``growthbook/core.py`` -- ``fnv1a32``, ``gbhash``, ``getBucketRanges``, ``chooseVariation``,
``inNamespace``; behaviour pinned by the SDKs' shared ``tests/cases.json``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

_FNV_OFFSET_BASIS = 0x811C9DC5
_FNV_PRIME = 0x01000193
_UINT32 = 0xFFFFFFFF

#: Two-sided 95 % normal quantile, Φ⁻¹(0.975).
Z_95 = 1.959963984540054


# --------------------------------------------------------------------------------------------
# Deterministic assignment (GrowthBook hashing)
# --------------------------------------------------------------------------------------------


def fnv1a32(text: str) -> int:
    """32-bit FNV-1a, exactly as the GrowthBook SDKs compute it.

    ``h = 0x811C9DC5; for each unit u: h = ((h ^ u) * 0x01000193) mod 2**32``.

    The units are the string's UTF-16 code units (JavaScript ``charCodeAt``, the reference SDK),
    not UTF-8 bytes. For ASCII the two are identical; for non-ASCII text only code units keep
    assignments identical to GrowthBook's (e.g. ``"é"`` is the single unit 0xE9, not 0xC3 0xA9).
    """
    data = text.encode("utf-16-le", "surrogatepass")
    h = _FNV_OFFSET_BASIS
    for i in range(0, len(data), 2):
        h = ((h ^ (data[i] | (data[i + 1] << 8))) * _FNV_PRIME) & _UINT32
    return h


def hash_v1(seed: str, value: str) -> float:
    """GrowthBook hash version 1: ``fnv1a32(value + seed) % 1000 / 1000`` (in [0, 1))."""
    return (fnv1a32(value + seed) % 1000) / 1000


def hash_v2(seed: str, value: str) -> float:
    """GrowthBook hash version 2: ``fnv1a32(str(fnv1a32(seed + value))) % 10000 / 10000``."""
    return (fnv1a32(str(fnv1a32(seed + value))) % 10000) / 10000


def equal_weights(variation_count: int) -> list[float]:
    """GrowthBook ``getEqualWeights``: ``[1/n] * n``; empty for ``n < 1``."""
    if variation_count < 1:
        return []
    return [1 / variation_count] * variation_count


def bucket_ranges(
    variation_count: int, coverage: float = 1.0, weights: Sequence[float] | None = None
) -> list[tuple[float, float]]:
    """GrowthBook ``getBucketRanges``.

    * ``coverage`` is clamped to [0, 1];
    * ``weights`` fall back to equal weights when missing, of the wrong length, or summing
      outside [0.99, 1.01];
    * range i is ``[c_i, c_i + coverage * w_i)`` where ``c_i = w_0 + ... + w_{i-1}``.

    Floats are accumulated exactly like the SDK (no rounding), so assignments match bit for bit.
    """
    coverage = min(max(coverage, 0.0), 1.0)
    chosen: Sequence[float] = equal_weights(variation_count) if weights is None else weights
    if len(chosen) != variation_count:
        chosen = equal_weights(variation_count)
    total = sum(chosen)
    if total < 0.99 or total > 1.01:
        chosen = equal_weights(variation_count)

    ranges: list[tuple[float, float]] = []
    cumulative = 0.0
    for w in chosen:
        start = cumulative
        cumulative += w
        ranges.append((start, start + coverage * w))
    return ranges


def in_range(n: float, bounds: tuple[float, float]) -> bool:
    """Half-open membership ``lo <= n < hi`` (GrowthBook ``inRange``)."""
    return bounds[0] <= n < bounds[1]


def choose_variation(n: float, ranges: Sequence[tuple[float, float]]) -> int:
    """Index of the first range containing ``n`` (half-open), or -1 if none does."""
    for i, bounds in enumerate(ranges):
        if in_range(n, bounds):
            return i
    return -1


def in_namespace(user_id: str, namespace: tuple[str, float, float]) -> bool:
    """GrowthBook ``inNamespace``: ``start <= hash("__" + namespace_id, user_id) < end``.

    NB: every GrowthBook SDK uses hash **version 1** here (``gbhash("__" + ns, userId, 1)``),
    i.e. ``fnv1a32(user_id + "__" + namespace_id) % 1000 / 1000`` -- not version 2.
    """
    namespace_id, start, end = namespace
    n = hash_v1("__" + namespace_id, user_id)
    return start <= n < end


# --------------------------------------------------------------------------------------------
# Result statistics
# --------------------------------------------------------------------------------------------


def _check_counts(conv: int, n: int) -> None:
    if n < 0 or conv < 0 or conv > n:
        raise ValueError(f"need 0 <= conversions <= n, got conversions={conv}, n={n}")


def normal_cdf(x: float) -> float:
    """Standard normal CDF ``Φ(x) = erfc(-x / √2) / 2``."""
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def two_proportion_ztest(conv_a: int, n_a: int, conv_b: int, n_b: int) -> tuple[float, float]:
    """Pooled-variance two-proportion z-test of B against A.

    ``p̂ = (conv_a + conv_b) / (n_a + n_b)``,
    ``z = (conv_b/n_b - conv_a/n_a) / sqrt(p̂ (1 - p̂) (1/n_a + 1/n_b))``,
    ``p = 2 (1 - Φ(|z|)) = erfc(|z| / √2)``.

    Same as statsmodels ``proportions_ztest([conv_b, conv_a], [n_b, n_a])``.
    Returns ``(0.0, 1.0)`` when a group is empty or the pooled variance is zero.
    """
    _check_counts(conv_a, n_a)
    _check_counts(conv_b, n_b)
    if n_a == 0 or n_b == 0:
        return 0.0, 1.0
    pooled = (conv_a + conv_b) / (n_a + n_b)
    variance = pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)
    if variance <= 0.0:
        return 0.0, 1.0
    z = (conv_b / n_b - conv_a / n_a) / math.sqrt(variance)
    return z, math.erfc(abs(z) / math.sqrt(2.0))


def lift(conv_a: int, n_a: int, conv_b: int, n_b: int) -> dict[str, float]:
    """Absolute and relative lift of B over A, each with a 95 % confidence interval.

    With ``p_a = conv_a/n_a``, ``p_b = conv_b/n_b``, ``v_a = p_a(1-p_a)/n_a``,
    ``v_b = p_b(1-p_b)/n_b`` and ``z = 1.959964``:

    * absolute ``d = p_b - p_a``; CI: unpooled Wald, ``d ± z·sqrt(v_a + v_b)``;
    * relative ``r = p_b/p_a - 1``; CI by the delta method on ``p_b/p_a``:
      ``Var(p_b/p_a) ≈ v_b/p_a² + p_b²·v_a/p_a⁴``, so ``r ± z·sqrt(that)``.

    Keys: ``p_a, p_b, absolute, absolute_ci_low, absolute_ci_high, relative,
    relative_ci_low, relative_ci_high``. A group with no users contributes rate 0; when
    ``p_a == 0`` the relative lift is undefined and reported as 0 with a (0, 0) interval.
    """
    _check_counts(conv_a, n_a)
    _check_counts(conv_b, n_b)
    p_a = conv_a / n_a if n_a else 0.0
    p_b = conv_b / n_b if n_b else 0.0
    v_a = p_a * (1.0 - p_a) / n_a if n_a else 0.0
    v_b = p_b * (1.0 - p_b) / n_b if n_b else 0.0

    return {"p_a": p_a, "p_b": p_b, **_intervals(p_a, p_b, v_a, v_b)}


def _intervals(a: float, b: float, v_a: float, v_b: float) -> dict[str, float]:
    """Absolute ``b - a`` and relative ``b/a - 1`` differences of two estimates with squared
    standard errors ``v_a``, ``v_b``: 95 % normal intervals, the relative one by the delta method
    (``Var(b/a) ≈ v_b/a² + b²·v_a/a⁴``); relative 0 with a (0, 0) interval when ``a == 0``."""
    absolute = b - a
    abs_half = Z_95 * math.sqrt(v_a + v_b)
    if a != 0.0:
        relative = b / a - 1.0
        rel_half = Z_95 * math.sqrt(v_b / a**2 + b**2 * v_a / a**4)
    else:
        relative = rel_half = 0.0
    return {
        "absolute": absolute,
        "absolute_ci_low": absolute - abs_half,
        "absolute_ci_high": absolute + abs_half,
        "relative": relative,
        "relative_ci_low": relative - rel_half,
        "relative_ci_high": relative + rel_half,
    }


def chance_to_beat_control(conv_a: int, n_a: int, conv_b: int, n_b: int) -> float:
    """Bayesian P(rate_B > rate_A), 0..1, with uniform priors.

    Posteriors ``Beta(α, β)`` with ``α = 1 + conv``, ``β = 1 + n - conv``, each approximated by
    a normal with the Beta's mean ``μ = α/(α+β)`` and variance ``σ² = αβ/((α+β)²(α+β+1))``.
    Then ``P(B > A) ≈ Φ((μ_b - μ_a) / sqrt(σ_a² + σ_b²))``.

    With no data both posteriors are Beta(1, 1), so the answer is exactly 0.5 (no preference).
    """
    _check_counts(conv_a, n_a)
    _check_counts(conv_b, n_b)

    def moments(conv: int, n: int) -> tuple[float, float]:
        alpha = 1.0 + conv
        beta = 1.0 + n - conv
        total = alpha + beta
        return alpha / total, alpha * beta / (total * total * (total + 1.0))

    mean_a, var_a = moments(conv_a, n_a)
    mean_b, var_b = moments(conv_b, n_b)
    return normal_cdf((mean_b - mean_a) / math.sqrt(var_a + var_b))


_GAMMA_EPS = 1e-15
_GAMMA_MAX_ITER = 10_000
_TINY = 1e-300


def regularized_gamma_q(a: float, x: float) -> float:
    """Regularized upper incomplete gamma ``Q(a, x) = Γ(a, x) / Γ(a)`` for ``a > 0``.

    For ``x < a + 1`` the series ``P(a,x) = e^{-x} x^a / Γ(a) · Σ_k x^k / (a (a+1) … (a+k))``
    and ``Q = 1 - P``; otherwise the continued fraction
    ``Q(a,x) = e^{-x} x^a / Γ(a) · 1/(x+1-a- 1·(1-a)/(x+3-a- 2·(2-a)/(x+5-a- …)))``
    evaluated with the modified Lentz method (Numerical Recipes ``gser``/``gcf``).
    """
    if a <= 0.0:
        raise ValueError("a must be positive")
    if x <= 0.0:
        return 1.0
    log_prefix = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1.0:
        term = 1.0 / a
        total = term
        denom = a
        for _ in range(_GAMMA_MAX_ITER):
            denom += 1.0
            term *= x / denom
            total += term
            if abs(term) < abs(total) * _GAMMA_EPS:
                break
        return min(max(1.0 - total * math.exp(log_prefix), 0.0), 1.0)

    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b
    h = d
    for i in range(1, _GAMMA_MAX_ITER):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _TINY:
            d = _TINY
        c = b + an / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _GAMMA_EPS:
            break
    return min(max(math.exp(log_prefix) * h, 0.0), 1.0)


def chi2_sf(chi2: float, dof: int) -> float:
    """Chi-square survival function ``P(X >= chi2) = Q(dof/2, chi2/2)``; 1.0 for ``dof < 1``."""
    if dof < 1:
        return 1.0
    if math.isinf(chi2):
        return 0.0
    return regularized_gamma_q(dof / 2.0, chi2 / 2.0)


def srm_check(observed: Sequence[int], weights: Sequence[float]) -> tuple[float, float]:
    """Sample-ratio-mismatch check: chi-square goodness of fit of ``observed`` to ``weights``.

    ``E_i = N · w_i / Σw`` with ``N = Σ observed``; ``χ² = Σ (O_i - E_i)² / E_i``;
    ``p = Q((k-1)/2, χ²/2)`` with ``k`` the number of arms.

    No users (``N == 0``) or fewer than two arms gives ``(0.0, 1.0)``. An arm with weight 0 is
    skipped when empty; if it has users the mismatch is certain: ``(inf, 0.0)``.
    Raises ValueError for mismatched lengths, negative counts/weights or all-zero weights.
    """
    if len(observed) != len(weights):
        raise ValueError("observed and weights must have the same length")
    if any(o < 0 for o in observed) or any(w < 0 for w in weights):
        raise ValueError("counts and weights must be non-negative")
    total_weight = sum(weights)
    if observed and total_weight <= 0:
        raise ValueError("weights must not all be zero")
    n = sum(observed)
    dof = len(observed) - 1
    if n == 0 or dof < 1:
        return 0.0, 1.0
    chi2 = 0.0
    for o, w in zip(observed, weights, strict=True):
        expected = n * w / total_weight
        if expected == 0.0:
            if o:
                return math.inf, 0.0
            continue
        chi2 += (o - expected) ** 2 / expected
    return chi2, chi2_sf(chi2, dof)


# --------------------------------------------------------------------------------------------
# Mean metrics (e.g. revenue per exposed visitor) from sufficient statistics
# --------------------------------------------------------------------------------------------


def _check_sums(n: int, total: int, sum_squares: int) -> None:
    """Reject sufficient statistics no sample of integers can produce.

    Besides ``n >= 0`` and ``Σx² >= 0`` this requires ``(Σx)² <= n·Σx²`` (Cauchy–Schwarz), which
    also forces ``Σx == 0`` for ``n == 0``; an empty group must have ``Σx² == 0`` too.
    Violations would otherwise surface as a negative variance (or a silent nonsense result).
    """
    if n < 0 or sum_squares < 0:
        raise ValueError(f"need n >= 0 and sum_squares >= 0, got n={n}, sum_squares={sum_squares}")
    if n == 0 and (total != 0 or sum_squares != 0):
        raise ValueError(
            f"an empty group needs total == sum_squares == 0, got {total}, {sum_squares}"
        )
    if total * total > n * sum_squares:
        raise ValueError(
            f"inconsistent sums: total²={total * total} > n·sum_squares={n * sum_squares}"
        )


def mean_stats(n: int, total: int, sum_squares: int) -> tuple[float, float]:
    """Mean and sample variance of ``n`` integer observations given ``Σx`` and ``Σx²``.

    ``mean = Σx / n``; ``s² = (n·Σx² - (Σx)²) / (n (n-1))`` (the unbiased, ``n-1`` denominator,
    equal to ``statistics.variance``). The numerator is computed in exact integer arithmetic, so
    there is no catastrophic cancellation. ``n == 0`` gives ``(0.0, 0.0)``; ``n == 1`` gives
    variance ``0.0``. Raises ValueError for ``n < 0``, ``sum_squares < 0`` or sums that no sample
    can have (``(Σx)² > n·Σx²``, or non-zero sums with ``n == 0``).
    """
    _check_sums(n, total, sum_squares)
    if n == 0:
        return 0.0, 0.0
    mean = total / n
    if n < 2:
        return mean, 0.0
    return mean, (n * sum_squares - total * total) / (n * (n - 1))


def _mean_and_sq_error(n: int, total: int, sum_squares: int) -> tuple[float, float]:
    """``(mean, s²/n)``: the mean and its squared standard error; an empty group gives (0, 0)."""
    mean, var = mean_stats(n, total, sum_squares)
    return mean, (var / n if n else 0.0)


def mean_difference(
    n_a: int, total_a: int, sumsq_a: int, n_b: int, total_b: int, sumsq_b: int
) -> dict[str, float]:
    """Difference in a mean metric of B (treatment) over A (control), with 95 % intervals.

    Inputs per group are the sufficient statistics ``n``, ``Σx``, ``Σx²`` (see ``mean_stats``).
    With means ``m_a, m_b``, sample variances ``s_a², s_b²``, ``v_a = s_a²/n_a``,
    ``v_b = s_b²/n_b`` and ``z = 1.959964``:

    * absolute ``d = m_b - m_a``; Welch standard error ``se = sqrt(v_a + v_b)``; CI ``d ± z·se``;
    * relative ``r = (m_b - m_a)/m_a``; CI by the delta method on ``m_b/m_a``:
      ``se_r = sqrt(v_b/m_a² + m_b²·v_a/m_a⁴)``, so ``r ± z·se_r``;
    * Welch z-test ``Z = d / se``, two-sided ``p = 2 (1 - Φ(|Z|)) = erfc(|Z| / √2)``. ``Z`` is
      exactly Welch's t statistic (R ``t.test(var.equal=FALSE)``); only the p-value differs,
      using the normal instead of the t distribution (fine at experiment sample sizes).

    Keys: ``mean_a, mean_b, absolute, absolute_ci_low, absolute_ci_high, relative,
    relative_ci_low, relative_ci_high, z, p_value``. As in ``lift``, an empty group contributes
    mean 0 and no variance; when ``m_a == 0`` the relative lift is undefined and reported as 0
    with a (0, 0) interval; when ``se == 0`` the test reports ``z = 0.0, p_value = 1.0``.
    """
    mean_a, v_a = _mean_and_sq_error(n_a, total_a, sumsq_a)
    mean_b, v_b = _mean_and_sq_error(n_b, total_b, sumsq_b)

    se = math.sqrt(v_a + v_b)
    if se > 0.0:
        z = (mean_b - mean_a) / se
        p_value = math.erfc(abs(z) / math.sqrt(2.0))
    else:
        z, p_value = 0.0, 1.0
    intervals = _intervals(mean_a, mean_b, v_a, v_b)
    return {"mean_a": mean_a, "mean_b": mean_b, **intervals, "z": z, "p_value": p_value}


def chance_to_beat_control_mean(
    n_a: int, total_a: int, sumsq_a: int, n_b: int, total_b: int, sumsq_b: int
) -> float:
    """P(mean_B > mean_A), 0..1, approximating each mean's sampling distribution by a normal.

    ``m ~ N(Σx/n, s²/n)`` per group (``s²`` from ``mean_stats``), so
    ``P(B > A) = Φ((m_b - m_a) / sqrt(s_a²/n_a + s_b²/n_b))``.

    With a zero standard error (no spread, or at most one visitor per group) the answer is
    degenerate: 0.5 when the means are equal (including no data at all), otherwise 1.0 if
    ``m_b > m_a`` and 0.0 if ``m_b < m_a``.
    """
    mean_a, v_a = _mean_and_sq_error(n_a, total_a, sumsq_a)
    mean_b, v_b = _mean_and_sq_error(n_b, total_b, sumsq_b)
    se = math.sqrt(v_a + v_b)
    if se > 0.0:
        return normal_cdf((mean_b - mean_a) / se)
    if mean_b == mean_a:
        return 0.5
    return 1.0 if mean_b > mean_a else 0.0
