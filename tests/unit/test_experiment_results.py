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


def test_two_proportions_by_hand() -> None:
    """Control 10/100, B 20/100 on upsell acceptance.

    Pooled p = 30/200 = 0.15; SE0 = sqrt(0.15 · 0.85 · (1/100 + 1/100)) = sqrt(0.00255);
    z = 0.1 / SE0 ≈ 1.98030; p = 2 (1 - Φ(z)).
    Wald CI: v_a = 0.1·0.9/100 = 0.0009, v_b = 0.2·0.8/100 = 0.0016, half = Z · sqrt(0.0025) = Z/20.
    Relative 0.2/0.1 - 1 = 1; Var(p_b/p_a) = 0.0016/0.01 + 0.04·0.0009/0.0001 = 0.16 + 0.36 = 0.52.
    Chance to beat: Beta(11, 91) against Beta(21, 81).
    """
    out = compare("upsell_acceptance", CONTROL, B)
    z = 0.1 / math.sqrt(0.15 * 0.85 * 0.02)
    assert z == pytest.approx(1.980295, abs=1e-6)
    mean_a, var_a = 11 / 102, 11 * 91 / (102**2 * 103)
    mean_b, var_b = 21 / 102, 21 * 81 / (102**2 * 103)
    assert out == {
        "absolute": approx(0.1),
        "absolute_ci_low": approx(0.1 - Z / 20),
        "absolute_ci_high": approx(0.1 + Z / 20),
        "relative": approx(1.0),
        "relative_ci_low": approx(1 - Z * math.sqrt(0.52)),
        "relative_ci_high": approx(1 + Z * math.sqrt(0.52)),
        "z": approx(z),
        "p_value": approx(2 * (1 - phi(z))),
        "chance_to_beat_control": approx(phi((mean_b - mean_a) / math.sqrt(var_a + var_b))),
        "test": "two_proportion_z",
    }
    assert out["p_value"] == approx(0.04767)  # just under 0.05
    # Rounded to 6 digits, as the API shows them.
    assert all(round(v, DIGITS) == v for k, v in out.items() if k != "test")


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
        "absolute": 0.0,
        "absolute_ci_low": 0.0,
        "absolute_ci_high": 0.0,
        "relative": 0.0,
        "relative_ci_low": 0.0,
        "relative_ci_high": 0.0,
        "z": 0.0,
        "p_value": 1.0,
        "chance_to_beat_control": 0.5,
        "test": "two_proportion_z",
    }
    guardrail = body["guardrails"][0]
    assert guardrail["metric"] == "revenue_per_visitor"
    assert [(r["key"], r["value"], r["worse"]) for r in guardrail["variants"]] == [
        ("control", 0.0, False),
        ("b", 0.0, False),
    ]
    assert guardrail["variants"][1]["vs_control"]["p_value"] == 1.0
    assert guardrail["variants"][1]["vs_control"]["chance_to_beat_control"] == 0.5
    assert body["srm"] == {
        "observed": [0, 0],
        "expected_shares": ["0.5", "0.5"],
        "chi2": 0.0,
        "p_value": 1.0,
        "mismatch": False,
        "assigned": {"observed": [0, 0], "chi2": 0.0, "p_value": 1.0, "mismatch": False},
    }


# ---- revenue per visitor (Welch) ------------------------------------------------------------------


def test_revenue_per_visitor_uses_welch_z_by_hand() -> None:
    """Control revenues [0, 100, 200, 300], B [100, 200, 300, 400] (minor units per exposed visitor).

    Means 150 and 250; both sample variances (4·Σx² - (Σx)²) / (4·3):
    control (560 000 - 360 000) / 12, B (1 200 000 - 1 000 000) / 12, i.e. 50 000 / 3 each;
    SE = sqrt(2 · 50 000 / 3 / 4) = sqrt(25 000 / 3); z = 100 / SE.
    Relative 100/150; Var(m_b/m_a) = v/150² + 250² · v/150⁴ with v = 50 000 / 12.
    """
    control = VariantCounts(assigned=4, exposed=4, bookings=3, revenue=600, revenue_squares=140_000)
    b = VariantCounts(assigned=4, exposed=4, bookings=4, revenue=1000, revenue_squares=300_000)
    out = compare("revenue_per_visitor", control, b)
    v = 50_000 / 3 / 4
    se = math.sqrt(2 * v)
    rel_se = math.sqrt(v / 150**2 + 250**2 * v / 150**4)
    assert out == {
        "absolute": approx(100.0),
        "absolute_ci_low": approx(100 - Z * se),
        "absolute_ci_high": approx(100 + Z * se),
        "relative": approx(2 / 3),
        "relative_ci_low": approx(2 / 3 - Z * rel_se),
        "relative_ci_high": approx(2 / 3 + Z * rel_se),
        "z": approx(100 / se),
        "p_value": approx(2 * (1 - phi(100 / se))),
        "chance_to_beat_control": approx(phi(100 / se)),
        "test": "welch_z",
    }
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
    assert row["vs_control"]["test"] == "welch_z"
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
