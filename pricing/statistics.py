"""Experiment statistics that stay honest at any sample size: exact Bayesian chance to beat
control, Welch's t-test, Fisher's exact test at small samples, MOVER Clopper–Pearson and
Miettinen–Nurminen score intervals for conversions, Fieller's interval for a ratio of means, and
always-valid (mSPRT) p-values and confidence sequences.

Pure: no I/O, no clock, no randomness; the numerics come from scipy. Every function states its
formula and its source; docs/experiments.md collects them. Figures are ``float`` (not money).

A value that does not exist for the data (a relative lift against a control with no conversions,
a t-test with one visitor) is ``None`` together with a machine-readable reason, never a made-up 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import integrate, special, stats

#: Two-sided 95 %: ``alpha`` for tests and intervals.
ALPHA = 0.05
#: Mixture variance of the mSPRT as a multiple of the per-visitor variance: τ² = σ² · 2 / N_TAU,
#: i.e. the test is tuned to effects about one standard error at N_TAU visitors per arm.
N_TAU = 1000


@dataclass(frozen=True)
class Estimate:
    """A point estimate with a two-sided interval; ``value is None`` with ``reason`` when the
    figure is undefined for the data (then the bounds are ``None`` too)."""

    value: float | None
    low: float | None
    high: float | None
    reason: str | None = None

    @staticmethod
    def undefined(reason: str) -> Estimate:
        return Estimate(None, None, None, reason)


# --------------------------------------------------------------------------------------------
# Chance to beat control
# --------------------------------------------------------------------------------------------


def _beta_b_beats_a(a_a: float, b_a: float, a_b: float, b_b: float) -> float:
    """Evan Miller's closed form for ``P(X_B > X_A)``, ``X ~ Beta(α, β)``, α_B integer:

    ``Σ_{i=0}^{α_B-1} B(α_A+i, β_A+β_B) / ((β_B+i) · B(1+i, β_B) · B(α_A, β_A))``,

    every term in log space (``scipy.special.betaln``) and summed with ``logsumexp``.
    Source: E. Miller, "Formulas for Bayesian A/B Testing" (2015); J. Cook, "Exact calculation of
    beta inequalities" (2005).
    """
    i = np.arange(int(a_b), dtype=np.float64)
    log_terms = (
        special.betaln(a_a + i, b_a + b_b)
        - np.log(b_b + i)
        - special.betaln(1.0 + i, b_b)
        - special.betaln(a_a, b_a)
    )
    return float(np.exp(special.logsumexp(log_terms)))


def chance_to_beat_beta(conv_a: int, n_a: int, conv_b: int, n_b: int) -> float:
    """``P(p_B > p_A)`` for posteriors ``Beta(1 + conv, 1 + n - conv)`` (uniform priors), exact.

    Evan Miller's sum has as many terms as its α_B; by the symmetries ``P(B > A) = 1 - P(A > B)``
    and ``p ↦ 1 - p`` (which swaps α and β) the sum runs over the smallest of the four shape
    parameters, i.e. at most ``1 + min(conversions, non-conversions)`` terms, evaluated vectorised.
    Exact to floating point (checked against quadrature to 1e-9), including 0 of 10,000,000 vs
    0 of 10,000. No data in either arm gives 0.5.
    """
    a_a, b_a = 1.0 + conv_a, 1.0 + n_a - conv_a
    a_b, b_b = 1.0 + conv_b, 1.0 + n_b - conv_b
    smallest = min(a_a, b_a, a_b, b_b)
    if smallest == a_b:
        result = _beta_b_beats_a(a_a, b_a, a_b, b_b)
    elif smallest == a_a:
        result = 1.0 - _beta_b_beats_a(a_b, b_b, a_a, b_a)
    elif smallest == b_a:
        # p_B > p_A  ⇔  q_A > q_B with q = 1 - p ~ Beta(β, α): "B" is q_A.
        result = _beta_b_beats_a(b_b, a_b, b_a, a_a)
    else:
        result = 1.0 - _beta_b_beats_a(b_a, a_a, b_b, a_b)
    return min(max(result, 0.0), 1.0)


def chance_to_beat_t(
    mean_a: float, var_a: float, n_a: int, mean_b: float, var_b: float, n_b: int
) -> float | None:
    """``P(μ_B > μ_A)`` when each mean's posterior is ``x̄ + (s/√n)·T_{n-1}`` (Student t with
    ``n - 1`` degrees of freedom: the posterior under the reference prior ``p(μ, σ) ∝ 1/σ``;
    Gelman et al., *Bayesian Data Analysis*, 3rd ed., §3.2). The difference of two t variables
    (the Behrens–Fisher posterior) has no closed form, so this integrates
    ``∫₀¹ S_B(Q_A(u)) du`` (``S`` survival function, ``Q`` quantile function) with adaptive
    quadrature to 1e-10.

    ``None`` when an arm has fewer than 2 visitors (the posterior is improper). A zero-spread arm
    is a point mass at its mean.
    """
    if n_a < 2 or n_b < 2:
        return None
    se_a, se_b = math.sqrt(var_a / n_a), math.sqrt(var_b / n_b)
    if se_a == 0.0 and se_b == 0.0:
        return 0.5 if mean_a == mean_b else float(mean_b > mean_a)
    dist_b = stats.t(df=n_b - 1, loc=mean_b, scale=se_b) if se_b > 0.0 else None
    if se_a == 0.0:
        assert dist_b is not None
        return float(dist_b.sf(mean_a))
    dist_a = stats.t(df=n_a - 1, loc=mean_a, scale=se_a)
    if dist_b is None:
        return float(dist_a.cdf(mean_b))
    b = dist_b

    def integrand(u: float) -> float:
        return float(b.sf(dist_a.ppf(u)))

    value, _ = integrate.quad(integrand, 0.0, 1.0, epsabs=1e-11, epsrel=1e-10, limit=200)
    return min(max(float(value), 0.0), 1.0)


# --------------------------------------------------------------------------------------------
# Fixed-horizon tests and intervals
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class WelchResult:
    """Welch's unequal-variance t-test of B against A; the interval is for ``m_B - m_A``."""

    t: float | None
    df: float | None
    p_value: float | None
    difference: Estimate


def welch_t(
    mean_a: float, var_a: float, n_a: int, mean_b: float, var_b: float, n_b: int
) -> WelchResult:
    """Welch's t-test with Welch–Satterthwaite degrees of freedom.

    ``v = s²/n`` per arm; ``t = (m_B - m_A) / √(v_A + v_B)``;
    ``ν = (v_A + v_B)² / (v_A²/(n_A-1) + v_B²/(n_B-1))``; ``p = 2·T_ν(-|t|)``; interval
    ``d ± t_{ν, 0.975} · √(v_A + v_B)``. Same as ``scipy.stats.ttest_ind(equal_var=False)`` and R
    ``t.test``. Source: B. L. Welch, Biometrika 34 (1947); F. E. Satterthwaite, Biometrics
    Bulletin 2 (1946).

    Undefined (``None``, reason ``too_few_visitors``) with fewer than 2 visitors in an arm; with
    zero spread in both arms the test is undefined (``no_variance``) but the difference is exact.
    """
    diff = mean_b - mean_a
    if n_a < 2 or n_b < 2:
        return WelchResult(None, None, None, Estimate(diff, None, None, "too_few_visitors"))
    v_a, v_b = var_a / n_a, var_b / n_b
    se2 = v_a + v_b
    if se2 == 0.0:
        return WelchResult(None, None, None, Estimate(diff, diff, diff, "no_variance"))
    se = math.sqrt(se2)
    df = se2 * se2 / (v_a * v_a / (n_a - 1) + v_b * v_b / (n_b - 1))
    t = diff / se
    p = float(2.0 * stats.t.sf(abs(t), df))
    half = float(stats.t.ppf(1.0 - ALPHA / 2.0, df)) * se
    return WelchResult(t, df, p, Estimate(diff, diff - half, diff + half))


#: Smallest expected cell count for the z-test; below it the p-value is Fisher's exact one.
MIN_EXPECTED = 5.0
#: Visitors in both arms together below which the p-value is Fisher's exact one: the z-test's
#: discreteness lifts its size to 5.6-5.7 % at 50-150 visitors per arm (exact enumeration).
FISHER_BELOW = 400


def proportions_test(conv_a: int, n_a: int, conv_b: int, n_b: int) -> tuple[float, float, str]:
    """``(z, p, test)``: the pooled two-proportion z-test of B against A when every expected cell
    of the 2×2 table is at least ``MIN_EXPECTED`` (Cochran's rule) and the arms hold at least
    ``FISHER_BELOW`` visitors together, else Fisher's exact test (``scipy.stats.fisher_exact``,
    two-sided; R. A. Fisher, 1935), which never exceeds its level.

    ``z = (p_B - p_A) / √(p̄(1 - p̄)(1/n_A + 1/n_B))``, ``p = erfc(|z|/√2)``; ``z`` is reported with
    either test. No visitors or no variance gives ``(0, 1, "two_proportion_z")``.
    """
    if n_a == 0 or n_b == 0:
        return 0.0, 1.0, "two_proportion_z"
    pooled = (conv_a + conv_b) / (n_a + n_b)
    variance = pooled * (1.0 - pooled) * (1.0 / n_a + 1.0 / n_b)
    if variance <= 0.0:
        return 0.0, 1.0, "two_proportion_z"
    z = (conv_b / n_b - conv_a / n_a) / math.sqrt(variance)
    smallest = min(n_a, n_b) * min(pooled, 1.0 - pooled)
    if smallest < MIN_EXPECTED or n_a + n_b < FISHER_BELOW:
        table = [[conv_b, n_b - conv_b], [conv_a, n_a - conv_a]]
        return z, float(stats.fisher_exact(table).pvalue), "fisher_exact"
    return z, math.erfc(abs(z) / math.sqrt(2.0)), "two_proportion_z"


Floats = npt.NDArray[np.float64]


def clopper_pearson(conv: npt.ArrayLike, n: npt.ArrayLike) -> tuple[Floats, Floats]:
    """Clopper–Pearson ("exact") 95 % limits for proportions, vectorised: the α/2 and 1 - α/2
    quantiles of ``Beta(x, n - x + 1)`` and ``Beta(x + 1, n - x)``; 0 for ``x = 0`` and 1 for
    ``x = n``. Coverage ≥ 95 % for every p (C. J. Clopper, E. S. Pearson, Biometrika 26, 1934);
    equals ``scipy.stats.binomtest(x, n).proportion_ci(method="exact")``."""
    x, size = np.asarray(conv, dtype=np.float64), np.asarray(n, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        low = np.where(x > 0, special.betaincinv(x, size - x + 1.0, ALPHA / 2.0), 0.0)
        high = np.where(x < size, special.betaincinv(x + 1.0, size - x, 1.0 - ALPHA / 2.0), 1.0)
    return low, high


def mover_difference_bounds(
    conv_a: npt.ArrayLike, n_a: npt.ArrayLike, conv_b: npt.ArrayLike, n_b: npt.ArrayLike
) -> tuple[Floats, Floats]:
    """95 % limits for ``p_B - p_A`` by MOVER (Newcombe's square-and-add) from the Clopper–Pearson
    limits ``(l, u)`` of each arm, vectorised:
    ``low = d - √((p_B - l_B)² + (u_A - p_A)²)``, ``high = d + √((u_B - p_B)² + (p_A - l_A)²)``.
    Source: R. G. Newcombe, Statistics in Medicine 17 (1998) (method 10 uses Wilson limits; the
    exact limits here keep the coverage at tiny and rare samples, see docs/experiments.md);
    G. Y. Zou, A. Donner, Statistics in Medicine 27 (2008) (MOVER)."""
    xa, na = np.asarray(conv_a, dtype=np.float64), np.asarray(n_a, dtype=np.float64)
    xb, nb = np.asarray(conv_b, dtype=np.float64), np.asarray(n_b, dtype=np.float64)
    p_a, p_b = xa / na, xb / nb
    l_a, u_a = clopper_pearson(xa, na)
    l_b, u_b = clopper_pearson(xb, nb)
    d = p_b - p_a
    return (
        d - np.sqrt((p_b - l_b) ** 2 + (u_a - p_a) ** 2),
        d + np.sqrt((u_b - p_b) ** 2 + (p_a - l_a) ** 2),
    )


def difference(conv_a: int, n_a: int, conv_b: int, n_b: int) -> Estimate:
    """``p_B - p_A`` with the MOVER Clopper–Pearson interval (``mover_difference_bounds``).
    Undefined when an arm has no visitors."""
    if n_a == 0 or n_b == 0:
        return Estimate.undefined("no_visitors")
    low, high = mover_difference_bounds(conv_a, n_a, conv_b, n_b)
    return Estimate(conv_b / n_b - conv_a / n_a, float(low), float(high))


def _ratio_score(xa: Floats, na: Floats, xb: Floats, nb: Floats, phi: Floats) -> Floats:
    """Miettinen–Nurminen score statistic for ``H: p_B = φ·p_A`` (decreasing in φ), with the
    constrained maximum-likelihood rates ``p̃_A = (-b - √(b² - 4ac)) / 2a``, ``a = Nφ``,
    ``b = -(n_B·φ + x_B + n_A + x_A·φ)``, ``c = x_A + x_B``, ``p̃_B = φ·p̃_A`` (``p̃_A`` at most
    ``1/φ``, where the likelihood's maximum sits on the boundary ``p̃_B = 1``):
    ``z = (p̂_B - φ·p̂_A) / √((p̃_B(1-p̃_B)/n_B + φ²·p̃_A(1-p̃_A)/n_A) · N/(N-1))``."""
    total = na + nb
    a = total * phi
    b = -(nb * phi + xb + na + xa * phi)
    c = xa + xb
    root = (-b - np.sqrt(np.maximum(b * b - 4.0 * a * c, 0.0))) / (2.0 * a)
    t_a = np.clip(root, 0.0, np.minimum(1.0, 1.0 / phi))  # p̃_B = φ·p̃_A must stay ≤ 1
    t_b = np.minimum(phi * t_a, 1.0)
    var = (t_b * (1.0 - t_b) / nb + phi * phi * t_a * (1.0 - t_a) / na) * total / (total - 1.0)
    num = xb / nb - phi * xa / na
    with np.errstate(invalid="ignore", divide="ignore"):
        z = num / np.sqrt(var)
        return np.where(var > 0.0, z, np.where(num == 0.0, 0.0, np.sign(num) * np.inf))


#: Bisection steps on log φ ∈ [-LOG_RANGE, LOG_RANGE]: 2·30/2⁶⁰ ≈ 5e-17 resolution.
_BISECTIONS = 60
_LOG_RANGE = 30.0


def score_ratio_bounds(
    conv_a: npt.ArrayLike, n_a: npt.ArrayLike, conv_b: npt.ArrayLike, n_b: npt.ArrayLike
) -> tuple[Floats, Floats]:
    """95 % limits for the risk ratio ``p_B/p_A`` by inverting the Miettinen–Nurminen score test
    (``_ratio_score``; O. Miettinen, M. Nurminen, Statistics in Medicine 4, 1985; without the
    N/(N-1) factor it is Koopman's interval, Biometrics 40, 1984): ``{φ : |z(φ)| ≤ z_{0.975}}``,
    found by vectorised bisection on log φ. Needs ``x_A > 0`` (else the upper limit is ∞). The
    lower limit is 0 when ``x_B = 0``. Equals statsmodels
    ``confint_proportions_2indep(compare="ratio", method="score")``."""
    xa, na = np.asarray(conv_a, dtype=np.float64), np.asarray(n_a, dtype=np.float64)
    xb, nb = np.asarray(conv_b, dtype=np.float64), np.asarray(n_b, dtype=np.float64)
    q = float(stats.norm.ppf(1.0 - ALPHA / 2.0))
    shape = np.broadcast(xa, na, xb, nb).shape
    bounds = []
    for crit in (q, -q):
        below, above = np.full(shape, -_LOG_RANGE), np.full(shape, _LOG_RANGE)
        for _ in range(_BISECTIONS):
            mid = 0.5 * (below + above)
            z = _ratio_score(xa, na, xb, nb, np.exp(mid))
            go_up = z > crit
            below, above = np.where(go_up, mid, below), np.where(go_up, above, mid)
        bounds.append(np.exp(0.5 * (below + above)))
    return np.where(xb > 0, bounds[0], 0.0), bounds[1]


#: Visitors per arm below which the relative lift of conversions has no interval: with fewer, a
#: rare control that converts at all overstates its rate several-fold, and the score interval's
#: coverage given a converting control falls to 89 % at 30 visitors and 56 % at 10 (exact
#: enumeration, docs/experiments.md); from 100 it is ≥ 93.9 % on the tested grid.
MIN_RATIO_VISITORS = 100


def relative_lift(conv_a: int, n_a: int, conv_b: int, n_b: int) -> Estimate:
    """Relative lift ``p_B/p_A - 1`` with the Miettinen–Nurminen score interval for the ratio
    (``score_ratio_bounds``) minus 1. Undefined (``None``) when an arm has no visitors
    (``no_visitors``) or the control has no conversions (``control_has_no_conversions``: any
    lift is then infinite or 0/0). Below ``MIN_RATIO_VISITORS`` in an arm the point estimate
    stands without an interval (reason ``too_few_visitors``)."""
    if n_a == 0 or n_b == 0:
        return Estimate.undefined("no_visitors")
    if conv_a == 0:
        return Estimate.undefined("control_has_no_conversions")
    value = (conv_b / n_b) / (conv_a / n_a) - 1.0
    if min(n_a, n_b) < MIN_RATIO_VISITORS:
        return Estimate(value, None, None, "too_few_visitors")
    low, high = score_ratio_bounds(conv_a, n_a, conv_b, n_b)
    return Estimate(value, float(low) - 1.0, float(high) - 1.0)


def relative_mean_lift(
    mean_a: float, var_a: float, n_a: int, mean_b: float, var_b: float, n_b: int
) -> Estimate:
    """``m_B/m_A - 1`` with Fieller's interval for the ratio of two independent means
    (E. C. Fieller, J. R. Stat. Soc. B 16, 1954): the ρ with
    ``(m_B - ρ·m_A)² ≤ q²·(v_B + ρ²·v_A)``, ``v = s²/n``, ``q`` the Welch t quantile, i.e.
    ``ρ = (m_A·m_B ± q·√(m_A²·v_B + m_B²·v_A - q²·v_A·v_B)) / (m_A² - q²·v_A)``.

    Undefined with fewer than 2 visitors in an arm, a control mean of 0, or when the control mean
    is not distinguishable from 0 (``m_A² ≤ q²·v_A``: the set is then unbounded); the point
    estimate stays when only the interval is undefined."""
    if n_a < 2 or n_b < 2:
        return Estimate.undefined("too_few_visitors")
    if mean_a == 0.0:
        return Estimate.undefined("control_mean_is_zero")
    rel = mean_b / mean_a - 1.0
    welch = welch_t(mean_a, var_a, n_a, mean_b, var_b, n_b)
    v_a, v_b = var_a / n_a, var_b / n_b
    if welch.df is None:  # no spread in either arm: the ratio is exact
        return Estimate(rel, rel, rel)
    q = float(stats.t.ppf(1.0 - ALPHA / 2.0, welch.df))
    denom = mean_a * mean_a - q * q * v_a
    if denom <= 0.0:
        return Estimate(rel, None, None, "control_mean_not_distinguishable_from_zero")
    root = q * math.sqrt(mean_a * mean_a * v_b + mean_b * mean_b * v_a - q * q * v_a * v_b)
    return Estimate(
        rel, (mean_a * mean_b - root) / denom - 1.0, (mean_a * mean_b + root) / denom - 1.0
    )


# --------------------------------------------------------------------------------------------
# Always-valid inference (mixture SPRT)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Sequential:
    """Always-valid p-value and confidence sequence for ``θ = m_B - m_A``."""

    p_value: float | None
    difference: Estimate


def msprt(diff: float, var_a: float, n_a: int, var_b: float, n_b: int) -> Sequential:
    """Mixture sequential probability ratio test with a normal mixture N(0, τ²) over the effect
    (R. Johari, L. Pekelis, D. Walsh, "Always valid inference", Operations Research 70, 2022;
    H. Robbins, Ann. Math. Statist. 41, 1970). With ``V = s_A²/n_A + s_B²/n_B``:

    ``Λ = √(V/(V+τ²)) · exp(τ²·θ̂² / (2V(V+τ²)))``, always-valid ``p = min(1, 1/Λ)``, and the
    confidence sequence ``θ̂ ± √(V(V+τ²)/τ² · (2·log(1/α) + log((V+τ²)/V)))``.

    ``τ² = (s_A² + s_B²) / N_TAU``. These are the figures at the current look only; the running
    minimum of p (intersection of intervals) over all looks would be tighter and equally valid,
    so the figures here are conservative. Peeking every day keeps type-I error ≤ α (tested by
    simulation). Undefined with fewer than 2 visitors in an arm or no variance.
    """
    if n_a < 2 or n_b < 2:
        return Sequential(None, Estimate(diff, None, None, "too_few_visitors"))
    v = var_a / n_a + var_b / n_b
    tau2 = (var_a + var_b) / N_TAU
    if v == 0.0 or tau2 == 0.0:
        return Sequential(None, Estimate(diff, None, None, "no_variance"))
    log_lambda = 0.5 * math.log(v / (v + tau2)) + tau2 * diff * diff / (2.0 * v * (v + tau2))
    p = min(1.0, math.exp(-log_lambda))
    half = math.sqrt(
        v * (v + tau2) / tau2 * (2.0 * math.log(1.0 / ALPHA) + math.log((v + tau2) / v))
    )
    return Sequential(p, Estimate(diff, diff - half, diff + half))


def msprt_proportions(conv_a: int, n_a: int, conv_b: int, n_b: int) -> Sequential:
    """``msprt`` for conversion rates with the pooled per-visitor variance ``p̄(1 - p̄)`` in both
    arms, ``p̄ = (x_A + x_B)/(n_A + n_B)`` (the variance under the null, so a lucky early run of
    zeros in one arm cannot shrink it)."""
    if n_a == 0 or n_b == 0:
        return Sequential(None, Estimate.undefined("no_visitors"))
    pooled = (conv_a + conv_b) / (n_a + n_b)
    var = pooled * (1.0 - pooled)
    return msprt(conv_b / n_b - conv_a / n_a, var, n_a, var, n_b)
