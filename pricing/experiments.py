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
