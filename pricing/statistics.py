"""Experiment statistics that stay honest at any sample size: exact Bayesian chance to beat
control, Welch's t-test, Newcombe and Katz-log intervals, and always-valid (mSPRT) p-values and
confidence sequences.

Pure: no I/O, no clock, no randomness; the numerics come from scipy. Every function states its
formula and its source; docs/experiments.md collects them. Figures are ``float`` (not money).

A value that does not exist for the data (a relative lift against a control with no conversions,
a t-test with one visitor) is ``None`` together with a machine-readable reason, never a made-up 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
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


def proportions_test(conv_a: int, n_a: int, conv_b: int, n_b: int) -> tuple[float, float, str]:
    """``(z, p, test)``: the pooled two-proportion z-test of B against A when every expected cell
    of the 2×2 table is at least ``MIN_EXPECTED`` (Cochran's rule), else Fisher's exact test
    (``scipy.stats.fisher_exact``, two-sided; R. A. Fisher, 1935), which never exceeds its level.

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
    if smallest < MIN_EXPECTED:
        table = [[conv_b, n_b - conv_b], [conv_a, n_a - conv_a]]
        return z, float(stats.fisher_exact(table).pvalue), "fisher_exact"
    return z, math.erfc(abs(z) / math.sqrt(2.0)), "two_proportion_z"


def wilson_interval(conv: int, n: int) -> tuple[float, float]:
    """Wilson score interval for a proportion (E. B. Wilson, JASA 22, 1927):
    ``(p̂ + z²/2n ± z·√(p̂(1-p̂)/n + z²/4n²)) / (1 + z²/n)``; ``(0, 1)`` for ``n == 0``."""
    if n == 0:
        return 0.0, 1.0
    z = float(stats.norm.ppf(1.0 - ALPHA / 2.0))
    p = conv / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2.0 * n)) / denom
    half = z * math.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n)) / denom
    return max(centre - half, 0.0), min(centre + half, 1.0)


def newcombe_difference(conv_a: int, n_a: int, conv_b: int, n_b: int) -> Estimate:
    """``p_B - p_A`` with Newcombe's hybrid score interval (method 10 of R. G. Newcombe,
    Statistics in Medicine 17, 1998): with Wilson intervals ``(l, u)`` per arm,
    ``low = d - √((p_B - l_B)² + (u_A - p_A)²)``, ``high = d + √((u_B - p_B)² + (p_A - l_A)²)``.
    Same as statsmodels ``confint_proportions_2indep(method="newcomb")``. Undefined when an arm
    has no visitors."""
    if n_a == 0 or n_b == 0:
        return Estimate.undefined("no_visitors")
    p_a, p_b = conv_a / n_a, conv_b / n_b
    l_a, u_a = wilson_interval(conv_a, n_a)
    l_b, u_b = wilson_interval(conv_b, n_b)
    d = p_b - p_a
    return Estimate(
        d,
        d - math.sqrt((p_b - l_b) ** 2 + (u_a - p_a) ** 2),
        d + math.sqrt((u_b - p_b) ** 2 + (p_a - l_a) ** 2),
    )


def katz_relative_lift(conv_a: int, n_a: int, conv_b: int, n_b: int) -> Estimate:
    """Relative lift ``p_B/p_A - 1`` with the Katz log interval for the risk ratio, adjusted by
    adding 0.5 to each count and each sample size (D. Katz et al., Biometrics 34, 1978; the
    adjustment as in Pettigrew et al. 1986 and statsmodels
    ``confint_proportions_2indep(compare="ratio", method="log-adjusted")``):
    ``log r' ± z·√(1/x_B' - 1/n_B' + 1/x_A' - 1/n_A')`` with ``x' = x + ½``, ``n' = n + ½``.

    The point estimate is the plain ``p_B/p_A - 1``. Undefined (``None``) when an arm has no
    visitors (``no_visitors``) or the control has no conversions (``control_has_no_conversions``:
    any lift is then infinite or 0/0)."""
    if n_a == 0 or n_b == 0:
        return Estimate.undefined("no_visitors")
    if conv_a == 0:
        return Estimate.undefined("control_has_no_conversions")
    xa, na, xb, nb = conv_a + 0.5, n_a + 0.5, conv_b + 0.5, n_b + 0.5
    log_ratio = math.log((xb / nb) / (xa / na))
    half = float(stats.norm.ppf(1.0 - ALPHA / 2.0)) * math.sqrt(1 / xb - 1 / nb + 1 / xa - 1 / na)
    return Estimate(
        (conv_b / n_b) / (conv_a / n_a) - 1.0,
        math.exp(log_ratio - half) - 1.0,
        math.exp(log_ratio + half) - 1.0,
    )


def relative_mean_lift(
    mean_a: float, var_a: float, n_a: int, mean_b: float, var_b: float, n_b: int
) -> Estimate:
    """``m_B/m_A - 1`` with a delta-method interval, ``Var(m_B/m_A) ≈ v_B/m_A² + m_B²·v_A/m_A⁴``,
    using the Welch t quantile instead of the normal one. Undefined with fewer than 2 visitors in
    an arm or a control mean of 0."""
    if n_a < 2 or n_b < 2:
        return Estimate.undefined("too_few_visitors")
    if mean_a == 0.0:
        return Estimate.undefined("control_mean_is_zero")
    welch = welch_t(mean_a, var_a, n_a, mean_b, var_b, n_b)
    rel = mean_b / mean_a - 1.0
    v_a, v_b = var_a / n_a, var_b / n_b
    se = math.sqrt(v_b / mean_a**2 + mean_b**2 * v_a / mean_a**4)
    q = (
        float(stats.t.ppf(1.0 - ALPHA / 2.0, welch.df))
        if welch.df
        else float(stats.norm.ppf(1.0 - ALPHA / 2.0))
    )
    return Estimate(rel, rel - q * se, rel + q * se)


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
