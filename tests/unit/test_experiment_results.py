"""Tests for pricing.experiment_results: per-variant figures, comparisons against the control, the
guardrail flag and the sample-ratio check, with every expected number derived by hand here (not
by calling the functions under test)."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from pricing.experiment_design import Experiment, Targeting, Variant
from pricing.experiment_results import (
    DIGITS,
    GUARDRAIL_ALPHA,
    SRM_THRESHOLD,
    VariantCounts,
    compare,
    metric_value,
    results,
)

Z = 1.959963984540054  # Φ⁻¹(0.975)
TOL = 10**-DIGITS  # results are rounded to 6 digits


def approx(value: float) -> object:
    return pytest.approx(value, abs=TOL)


def phi(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def experiment(*weights: str, control: int | None = 0) -> Experiment:
    keys = ["control", "b", "c", "d"]
    variants = tuple(
        Variant(keys[i], keys[i].title(), Decimal(w), i == control) for i, w in enumerate(weights)
    )
    return Experiment(
        id="e",
        key="exp",
        status="running",
        seed="exp",
        coverage=Decimal(1),
        variants=variants,
        targeting=Targeting(),
        namespace=None,
        bucket_version=1,
    )


CONTROL = VariantCounts(assigned=120, exposed=100, accepted=10, declined=30, booked=5)
B = VariantCounts(assigned=110, exposed=100, accepted=20, declined=25, booked=4)


# ---- conversion metrics ---------------------------------------------------------------------------


def wilson(x: int, n: int) -> tuple[float, float]:
    p = x / n
    centre = (p + Z**2 / (2 * n)) / (1 + Z**2 / n)
    half = Z * math.sqrt(p * (1 - p) / n + Z**2 / (4 * n**2)) / (1 + Z**2 / n)
    return centre - half, centre + half


def test_two_proportions_by_hand() -> None:
    """Control 10 of 100 against B 20 of 100 (upsell acceptance).

    Pooled p = 30/200 = 0.15; SE0 = sqrt(0.15 · 0.85 · (1/100 + 1/100)) = sqrt(0.00255);
    z = 0.1 / SE0 ≈ 1.98030; p = 2 (1 - Φ(z)).
    200 visitors (< 400): Fisher's exact p-value (scipy). MOVER: Clopper–Pearson limits (l, u)
    per arm (scipy); low = 0.1 - sqrt((0.2 - l_b)² + (u_a - 0.1)²),
    high = 0.1 + sqrt((u_b - 0.2)² + (0.1 - l_a)²). Relative: statsmodels' score interval. Chance to beat: Beta(11, 91) against Beta(21, 81), Evan Miller's sum over
    i < 21 written out here with math.lgamma. mSPRT with τ² = 2·0.1275/1000, V = 0.1275·0.02.
    """
    out = compare("upsell_acceptance", CONTROL, B)
    z = 0.1 / math.sqrt(0.15 * 0.85 * 0.02)
    assert z == pytest.approx(1.980295, abs=1e-6)
    from scipy import stats
    from statsmodels.stats.proportion import confint_proportions_2indep

    l_a, u_a = stats.binomtest(10, 100).proportion_ci(method="exact")
    l_b, u_b = stats.binomtest(20, 100).proportion_ci(method="exact")
    r_low, r_high = confint_proportions_2indep(20, 100, 10, 100, method="score", compare="ratio")

    def lbeta(a: float, b: float) -> float:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)

    chance = sum(
        math.exp(lbeta(11 + i, 91 + 81) - math.log(81 + i) - lbeta(1 + i, 81) - lbeta(11, 91))
        for i in range(21)
    )
    v, tau2 = 0.1275 * 0.02, 2 * 0.1275 / 1000
    seq_p = 1 / (math.sqrt(v / (v + tau2)) * math.exp(tau2 * 0.01 / (2 * v * (v + tau2))))
    seq_half = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(20) + math.log((v + tau2) / v)))
    assert out == {
        "absolute": approx(0.1),
        "absolute_ci_low": approx(0.1 - math.sqrt((0.2 - l_b) ** 2 + (u_a - 0.1) ** 2)),
        "absolute_ci_high": approx(0.1 + math.sqrt((u_b - 0.2) ** 2 + (0.1 - l_a) ** 2)),
        "absolute_reason": None,
        "relative": approx(1.0),
        "relative_ci_low": approx(r_low - 1),
        "relative_ci_high": approx(r_high - 1),
        "relative_reason": None,
        "z": approx(z),
        "df": None,
        "p_value": approx(stats.fisher_exact([[20, 80], [10, 90]]).pvalue),
        "chance_to_beat_control": approx(chance),
        "test": "fisher_exact",
        "sequential": {
            "p_value": approx(seq_p),
            "absolute_ci_low": approx(0.1 - seq_half),
            "absolute_ci_high": approx(0.1 + seq_half),
            "reason": None,
            "method": "msprt_normal_mixture",
        },
        "status": "not_yet_significant",
        "status_text": "Not yet significant: no difference shown so far",
    }


def test_relative_lift_against_a_control_without_conversions_is_null_with_a_reason() -> None:
    out = compare(
        "upsell_acceptance", VariantCounts(exposed=200), VariantCounts(exposed=200, accepted=5)
    )
    assert (out["relative"], out["relative_ci_low"], out["relative_ci_high"]) == (None,) * 3
    assert out["relative_reason"] == "control_has_no_conversions"
    assert out["absolute"] == 0.025 and 0 < out["absolute_ci_low"] < 0.025 < out["absolute_ci_high"]


@pytest.mark.parametrize(
    ("control", "variant", "mismatch", "status"),
    [
        ((99, 10), (1000, 300), False, "collecting_data"),
        ((1000, 100), (1000, 110), False, "not_yet_significant"),
        ((1000, 100), (1000, 200), False, "variant_ahead"),
        ((1000, 200), (1000, 100), False, "variant_behind"),
        ((1000, 200), (1000, 100), True, "sample_ratio_mismatch"),
    ],
)
def test_status_in_plain_words(
    control: tuple[int, int], variant: tuple[int, int], mismatch: bool, status: str
) -> None:
    out = compare(
        "upsell_acceptance",
        VariantCounts(exposed=control[0], accepted=control[1]),
        VariantCounts(exposed=variant[0], accepted=variant[1]),
        mismatch,
    )
    assert out["status"] == status
    assert out["status_text"]


def test_booking_conversion_counts_bookers_of_the_exposed() -> None:
    out = compare("booking_conversion", CONTROL, B)  # 5/100 against 4/100
    assert out["absolute"] == approx(-0.01)
    assert out["relative"] == approx(-0.2)
    pooled = 9 / 200
    assert out["z"] == approx(-0.01 / math.sqrt(pooled * (1 - pooled) * 0.02))


def test_results_by_hand() -> None:
    body = results(experiment("0.5", "0.5"), {"control": CONTROL, "b": B}, "upsell_acceptance", [])
    control, b = body["variants"]
    assert body["primary_metric"] == "upsell_acceptance"
    assert control == {
        "key": "control",
        "name": "Control",
        "control": True,
        "weight": "0.5",
        "assigned": 120,
        "exposed": 100,
        "accepted": 10,
        "declined": 30,
        "booked": 5,
        "bookings": 0,
        "revenue": 0,
        "revenue_squares": 0,
        "conversions": 10,
        "rate": 0.1,
        "revenue_per_exposure": 0.0,
        "vs_control": None,
    }
    assert (b["key"], b["control"], b["conversions"], b["rate"]) == ("b", False, 20, 0.2)
    assert b["vs_control"] == compare("upsell_acceptance", CONTROL, B)
    assert body["guardrails"] == []
    # SRM: 100 and 100 exposed with 50/50: chi² = 0, p = 1.
    assert {k: v for k, v in body["srm"].items() if k != "assigned"} == {
        "observed": [100, 100],
        "expected_shares": ["0.5", "0.5"],
        "chi2": 0.0,
        "p_value": 1.0,
        "mismatch": False,
    }


def test_results_without_data_are_zeros_not_errors() -> None:
    body = results(experiment("0.5", "0.5"), {}, "booking_conversion", ["revenue_per_visitor"])
    control, b = body["variants"]
    for row in (control, b):
        assert row["assigned"] == row["exposed"] == row["conversions"] == 0
        assert row["rate"] == 0.0 and row["revenue_per_exposure"] == 0.0
    assert b["vs_control"] == {
        "absolute": None,
        "absolute_ci_low": None,
        "absolute_ci_high": None,
        "absolute_reason": "no_visitors",
        "relative": None,
        "relative_ci_low": None,
        "relative_ci_high": None,
        "relative_reason": "no_visitors",
        "z": 0.0,
        "df": None,
        "p_value": 1.0,
        "chance_to_beat_control": 0.5,
        "test": "two_proportion_z",
        "sequential": {
            "p_value": None,
            "absolute_ci_low": None,
            "absolute_ci_high": None,
            "reason": "no_visitors",
            "method": "msprt_normal_mixture",
        },
        "status": "collecting_data",
        "status_text": "Collecting data: fewer than 100 visitors in an arm",
    }
    guardrail = body["guardrails"][0]
    assert guardrail["metric"] == "revenue_per_visitor"
    assert [(r["key"], r["value"], r["worse"]) for r in guardrail["variants"]] == [
        ("control", 0.0, False),
        ("b", 0.0, False),
    ]
    assert guardrail["variants"][1]["vs_control"]["p_value"] is None
    assert guardrail["variants"][1]["vs_control"]["chance_to_beat_control"] is None
    assert body["srm"] == {
        "observed": [0, 0],
        "expected_shares": ["0.5", "0.5"],
        "chi2": 0.0,
        "p_value": 1.0,
        "mismatch": False,
        "assigned": {"observed": [0, 0], "chi2": 0.0, "p_value": 1.0, "mismatch": False},
    }


# ---- revenue per visitor (Welch) ------------------------------------------------------------------


def test_revenue_per_visitor_uses_welch_t_by_hand() -> None:
    """Control revenues [0, 100, 200, 300], B [100, 200, 300, 400] (minor units per exposed visitor).

    Means 150 and 250; both sample variances (4·Σx² - (Σx)²) / (4·3):
    control (560 000 - 360 000) / 12, B (1 200 000 - 1 000 000) / 12, i.e. 50 000 / 3 each;
    SE = sqrt(2 · 50 000 / 3 / 4) = sqrt(25 000 / 3); t = 100 / SE; equal variances and sizes
    give Welch–Satterthwaite df = 2·(4 - 1) = 6; t quantile t_{6, 0.975} = 2.446912.
    Relative 100/150; Fieller's interval is unbounded (150² < q²·v, v = 50 000 / 12): null.
    The t-test reference is scipy's from the raw samples.
    """
    from scipy import stats

    control = VariantCounts(assigned=4, exposed=4, bookings=3, revenue=600, revenue_squares=140_000)
    b = VariantCounts(assigned=4, exposed=4, bookings=4, revenue=1000, revenue_squares=300_000)
    out = compare("revenue_per_visitor", control, b)
    v = 50_000 / 3 / 4
    se = math.sqrt(2 * v)
    q = 2.446911851144969
    assert q * q * v > 150**2  # Fieller: the control mean is not distinguishable from 0
    reference = stats.ttest_ind([100, 200, 300, 400], [0, 100, 200, 300], equal_var=False)
    assert {k: out[k] for k in out if k not in ("sequential", "chance_to_beat_control")} == {
        "absolute": approx(100.0),
        "absolute_ci_low": approx(100 - q * se),
        "absolute_ci_high": approx(100 + q * se),
        "absolute_reason": None,
        "relative": approx(2 / 3),
        "relative_ci_low": None,
        "relative_ci_high": None,
        "relative_reason": "control_mean_not_distinguishable_from_zero",
        "z": approx(float(reference.statistic)),
        "df": approx(6.0),
        "p_value": approx(float(reference.pvalue)),
        "test": "welch_t",
        "status": "collecting_data",
        "status_text": "Collecting data: fewer than 100 visitors in an arm",
    }
    assert 0.5 < out["chance_to_beat_control"] < 1.0
    assert metric_value("revenue_per_visitor", control) == 150.0
    assert metric_value("revenue_per_visitor", b) == 250.0

    body = results(
        experiment("0.5", "0.5"), {"control": control, "b": b}, "revenue_per_visitor", []
    )
    assert [r["revenue_per_exposure"] for r in body["variants"]] == [150.0, 250.0]
    assert body["variants"][1]["vs_control"] == out
    # The rate of a revenue primary metric counts bookers (booked), here none were recorded.
    assert [r["conversions"] for r in body["variants"]] == [0, 0]


def test_metric_value_per_exposed_visitor() -> None:
    c = VariantCounts(exposed=8, accepted=2, booked=4, revenue=1000)
    assert metric_value("upsell_acceptance", c) == 0.25
    assert metric_value("booking_conversion", c) == 0.5
    assert metric_value("revenue_per_visitor", c) == 125.0
    assert metric_value("booking_conversion", VariantCounts()) == 0.0


# ---- guardrails -----------------------------------------------------------------------------------


def test_guardrail_flags_a_significantly_worse_variant_only() -> None:
    """Booking conversion: control 200/1000; b 100/1000 (worse, z ≈ -6.2); c 190/1000 (worse but
    p ≈ 0.57); d 300/1000 (better). Only b is flagged."""
    counts = {
        "control": VariantCounts(exposed=1000, accepted=100, booked=200),
        "b": VariantCounts(exposed=1000, accepted=100, booked=100),
        "c": VariantCounts(exposed=1000, accepted=100, booked=190),
        "d": VariantCounts(exposed=1000, accepted=100, booked=300),
    }
    body = results(
        experiment("0.25", "0.25", "0.25", "0.25"),
        counts,
        "upsell_acceptance",
        ["booking_conversion"],
    )
    rows = body["guardrails"][0]["variants"]
    assert [(r["key"], r["value"], r["worse"]) for r in rows] == [
        ("control", 0.2, False),
        ("b", 0.1, True),
        ("c", 0.19, False),
        ("d", 0.3, False),
    ]
    assert rows[0]["vs_control"] is None
    pooled = 300 / 2000
    z_b = -0.1 / math.sqrt(pooled * (1 - pooled) * 0.002)
    assert rows[1]["vs_control"]["z"] == approx(z_b)
    assert rows[1]["vs_control"]["p_value"] < GUARDRAIL_ALPHA
    assert rows[2]["vs_control"]["absolute"] < 0 and rows[2]["vs_control"]["p_value"] > 0.5
    assert rows[3]["vs_control"]["absolute"] > 0 and rows[3]["vs_control"]["p_value"] < 1e-6
    # The primary metric is unaffected by guardrails: equal acceptance everywhere.
    assert {r["rate"] for r in body["variants"]} == {0.1}


def test_guardrail_on_revenue_worse_when_significantly_lower() -> None:
    # Control: 50 visitors paying 1000 and 50 paying 0; b: 10 paying 1000 and 90 paying 0.
    control = VariantCounts(exposed=100, revenue=50_000, revenue_squares=50 * 1000**2)
    b = VariantCounts(exposed=100, revenue=10_000, revenue_squares=10 * 1000**2)
    body = results(
        experiment("0.5", "0.5"),
        {"control": control, "b": b},
        "upsell_acceptance",
        ["revenue_per_visitor"],
    )
    row = body["guardrails"][0]["variants"][1]
    assert (row["value"], row["worse"]) == (100.0, True)
    assert row["vs_control"]["test"] == "welch_t"
    assert row["vs_control"]["absolute"] == -400.0


# ---- SRM ------------------------------------------------------------------------------------------


def test_srm_mismatch_is_flagged_for_1000_against_800() -> None:
    """Expected 900 each: chi² = 2 · 100² / 900 = 200/9; with one degree of freedom
    p = P(χ²₁ ≥ 200/9) = erfc(sqrt(100/9)) ≈ 2.4e-6 < 0.001."""
    counts = {"control": VariantCounts(exposed=1000), "b": VariantCounts(exposed=800)}
    srm = results(experiment("0.5", "0.5"), counts, "upsell_acceptance", [])["srm"]
    assert srm["observed"] == [1000, 800]
    assert srm["chi2"] == approx(200 / 9)
    assert srm["p_value"] == approx(math.erfc(math.sqrt(100 / 9)))
    assert srm["p_value"] < SRM_THRESHOLD
    assert srm["mismatch"] is True


def test_srm_uses_the_designed_weights() -> None:
    # 200 against 800 is exactly the 0.2 / 0.8 split: no mismatch although the counts differ.
    counts = {"control": VariantCounts(exposed=200), "b": VariantCounts(exposed=800)}
    srm = results(experiment("0.2", "0.8"), counts, "upsell_acceptance", [])["srm"]
    assert (srm["chi2"], srm["p_value"], srm["mismatch"]) == (0.0, 1.0, False)
    assert srm["expected_shares"] == ["0.2", "0.8"]
    # Slightly off (210 / 790): chi² = 10²/200 + 10²/800 = 0.625, p ≈ 0.43, no mismatch.
    counts = {"control": VariantCounts(exposed=210), "b": VariantCounts(exposed=790)}
    srm = results(experiment("0.2", "0.8"), counts, "upsell_acceptance", [])["srm"]
    assert srm["chi2"] == approx(0.625)
    assert srm["p_value"] == approx(math.erfc(math.sqrt(0.625 / 2)))
    assert srm["mismatch"] is False


def test_srm_zero_weight_arm_with_visitors_is_a_certain_mismatch() -> None:
    counts = {"control": VariantCounts(exposed=10), "b": VariantCounts(exposed=1)}
    srm = results(experiment("1", "0"), counts, "upsell_acceptance", [])["srm"]
    # chi² is infinite: shown as null (JSON has no infinity), p = 0, mismatch.
    assert (srm["chi2"], srm["p_value"], srm["mismatch"]) == (None, 0.0, True)


# ---- which variant is the control -----------------------------------------------------------------


def test_the_control_may_be_any_variant() -> None:
    e = experiment("0.5", "0.5", control=1)  # "b" is the control
    body = results(e, {"control": B, "b": CONTROL}, "upsell_acceptance", [])
    first, second = body["variants"]
    assert (first["control"], second["control"]) == (False, True)
    assert second["vs_control"] is None
    assert first["vs_control"]["absolute"] == approx(0.1)


def test_without_a_control_the_first_variant_is_the_baseline() -> None:
    body = results(
        experiment("0.5", "0.5", control=None),
        {"control": CONTROL, "b": B},
        "upsell_acceptance",
        [],
    )
    assert [v["control"] for v in body["variants"]] == [True, False]
    assert body["variants"][1]["vs_control"]["absolute"] == approx(0.1)


def test_srm_of_the_assignment_flags_a_broken_split_the_exposures_do_not_show() -> None:
    """Exposures can look balanced while the split itself is not: 1000 assigned to the control
    and 800 to b (chi² = 200/9, p ≈ 2.4e-6) but 100 exposed in each."""
    counts = {
        "control": VariantCounts(assigned=1000, exposed=100),
        "b": VariantCounts(assigned=800, exposed=100),
    }
    srm = results(experiment("0.5", "0.5"), counts, "upsell_acceptance", [])["srm"]
    assert (srm["observed"], srm["mismatch"]) == ([100, 100], False)
    assert srm["assigned"]["observed"] == [1000, 800]
    assert srm["assigned"]["chi2"] == approx(200 / 9)
    assert srm["assigned"]["p_value"] == approx(math.erfc(math.sqrt(100 / 9)))
    assert srm["assigned"]["mismatch"] is True
