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

    absolute = p_b - p_a
    abs_half = Z_95 * math.sqrt(v_a + v_b)

    if p_a > 0.0:
        relative = p_b / p_a - 1.0
        rel_half = Z_95 * math.sqrt(v_b / p_a**2 + p_b**2 * v_a / p_a**4)
    else:
        relative = 0.0
        rel_half = 0.0

    return {
        "p_a": p_a,
        "p_b": p_b,
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
