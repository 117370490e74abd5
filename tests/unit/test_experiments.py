"""Tests for pricing.experiments: GrowthBook assignment vectors and result statistics.

GrowthBook vectors are copied from the SDKs' shared spec file ``tests/cases.json``
(repository growthbook/growthbook-python, specVersion 0.7.1; the same file ships with the JS SDK
as growthbook/growthbook ``packages/sdk-js/test/cases.json``). Sections used: ``hash``,
``getBucketRange``, ``chooseVariation``, ``inNamespace``, plus bucket values published in the
``feature``/``stickyBucket`` sections.
"""

from __future__ import annotations

import math

import pytest

from pricing.experiments import (
    bucket_ranges,
    chi2_sf,
    choose_variation,
    fnv1a32,
    hash_v1,
    hash_v2,
    in_namespace,
    regularized_gamma_q,
    srm_check,
)

# --------------------------------------------------------------------------------------------
# GrowthBook vectors (cases.json)
# --------------------------------------------------------------------------------------------

# cases.json "hash": [seed, value, version, expected], version 2 rows (all of them) ...
HASH_V2_CASES = [
    ("seed", "a", 0.0505),
    ("seed", "b", 0.2696),
    ("foo", "ab", 0.2575),
    ("foo", "def", 0.2019),
    ("89123klj", "8952klfjas09ujkasdf", 0.124),
    ("90850943850283058242805", "123", 0.7516),
    ("()**(%$##$%#$#", '___)((*":&', 0.0128),
    # ... plus the published "bucket" of hashVersion-2 rules (seed = rule seed, value = id):
    # cases.json "feature" -> "creates experiments properly" (seed "feature", anonId "123")
    ("feature", "123", 0.5231),
    # cases.json "stickyBucket" -> "performs evaluation without sticky bucket" (deviceId d123)
    ("feature-exp", "d123", 0.6468),
    # cases.json "stickyBucket" -> "upgrades a sticky bucket doc ..." (id i123)
    ("feature-exp", "i123", 0.9943),
]

# cases.json "hash", version 1 rows (all of them), plus "empty experiment rule - c" (bucket 0.863).
HASH_V1_CASES = [
    ("", "a", 0.22),
    ("", "b", 0.077),
    ("b", "a", 0.946),
    ("ef", "d", 0.652),
    ("asdf", "8952klfjas09ujk", 0.549),
    ("", "123", 0.011),
    ("", '___)((*":&', 0.563),
    ("feature", "123", 0.863),
]

# cases.json "getBucketRange" (all 13): [name, [numVariations, coverage, weights], expected]
BUCKET_RANGE_CASES = [
    ("normal 50/50", (2, 1, None), [(0, 0.5), (0.5, 1)]),
    ("reduced coverage", (2, 0.5, None), [(0, 0.25), (0.5, 0.75)]),
    ("zero coverage", (2, 0, None), [(0, 0), (0.5, 0.5)]),
    ("4 variations", (4, 1, None), [(0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1)]),
    ("uneven weights", (2, 1, [0.4, 0.6]), [(0, 0.4), (0.4, 1)]),
    ("uneven weights, 3 variations", (3, 1, [0.2, 0.3, 0.5]), [(0, 0.2), (0.2, 0.5), (0.5, 1)]),
    (
        "uneven weights, reduced coverage, 3 variations",
        (3, 0.2, [0.2, 0.3, 0.5]),
        [(0, 0.04), (0.2, 0.26), (0.5, 0.6)],
    ),
    ("negative coverage", (2, -0.2, None), [(0, 0), (0.5, 0.5)]),
    ("coverage above 1", (2, 1.5, None), [(0, 0.5), (0.5, 1)]),
    ("weights sum below 1", (2, 1, [0.4, 0.1]), [(0, 0.5), (0.5, 1)]),
    ("weights sum above 1", (2, 1, [0.7, 0.6]), [(0, 0.5), (0.5, 1)]),
    (
        "weights.length not equal to num variations",
        (4, 1, [0.4, 0.4, 0.2]),
        [(0, 0.25), (0.25, 0.5), (0.5, 0.75), (0.75, 1)],
    ),
    ("weights sum almost equals 1", (2, 1, [0.4, 0.5999]), [(0, 0.4), (0.4, 0.9999)]),
]

# cases.json "chooseVariation" (all 13): [name, n, ranges, expected]
_EVEN = [(0, 0.5), (0.5, 1)]
_REDUCED = [(0, 0.25), (0.5, 0.75)]
CHOOSE_VARIATION_CASES = [
    ("even range, 0.2", 0.2, _EVEN, 0),
    ("even range, 0.4", 0.4, _EVEN, 0),
    ("even range, 0.6", 0.6, _EVEN, 1),
    ("even range, 0.8", 0.8, _EVEN, 1),
    ("even range, 0", 0, _EVEN, 0),
    ("even range, 0.5", 0.5, _EVEN, 1),
    ("reduced range, 0.2", 0.2, _REDUCED, 0),
    ("reduced range, 0.4", 0.4, _REDUCED, -1),
    ("reduced range, 0.6", 0.6, _REDUCED, 1),
    ("reduced range, 0.8", 0.8, _REDUCED, -1),
    ("reduced range, 0.25", 0.25, _REDUCED, -1),
    ("reduced range, 0.5", 0.5, _REDUCED, 1),
    ("zero range", 0.5, [(0, 0.5), (0.5, 0.5), (0.5, 1)], 2),
]

# cases.json "inNamespace" (all 16): [name, userId, [namespace, start, end], expected]
IN_NAMESPACE_CASES = [
    ("user 1, namespace1, 1", "1", ("namespace1", 0, 0.4), False),
    ("user 1, namespace1, 2", "1", ("namespace1", 0.4, 1), True),
    ("user 1, namespace2, 1", "1", ("namespace2", 0, 0.4), False),
    ("user 1, namespace2, 2", "1", ("namespace2", 0.4, 1), True),
    ("user 2, namespace1, 1", "2", ("namespace1", 0, 0.4), False),
    ("user 2, namespace1, 2", "2", ("namespace1", 0.4, 1), True),
    ("user 2, namespace2, 1", "2", ("namespace2", 0, 0.4), False),
    ("user 2, namespace2, 2", "2", ("namespace2", 0.4, 1), True),
    ("user 3, namespace1, 1", "3", ("namespace1", 0, 0.4), False),
    ("user 3, namespace1, 2", "3", ("namespace1", 0.4, 1), True),
    ("user 3, namespace2, 1", "3", ("namespace2", 0, 0.4), True),
    ("user 3, namespace2, 2", "3", ("namespace2", 0.4, 1), False),
    ("user 4, namespace1, 1", "4", ("namespace1", 0, 0.4), False),
    ("user 4, namespace1, 2", "4", ("namespace1", 0.4, 1), True),
    ("user 4, namespace2, 1", "4", ("namespace2", 0, 0.4), True),
    ("user 4, namespace2, 2", "4", ("namespace2", 0.4, 1), False),
]


@pytest.mark.parametrize(("seed", "value", "expected"), HASH_V2_CASES)
def test_hash_v2_matches_growthbook(seed: str, value: str, expected: float) -> None:
    assert hash_v2(seed, value) == expected


@pytest.mark.parametrize(("seed", "value", "expected"), HASH_V1_CASES)
def test_hash_v1_matches_growthbook(seed: str, value: str, expected: float) -> None:
    assert hash_v1(seed, value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Canonical FNV-1a 32-bit test vectors (Landon Curt Noll's FNV reference test suite).
        ("", 0x811C9DC5),
        ("a", 0xE40C292C),
        ("foobar", 0xBF9CF968),
    ],
)
def test_fnv1a32_reference_vectors(text: str, expected: int) -> None:
    assert fnv1a32(text) == expected


def test_fnv1a32_non_ascii_uses_utf16_code_units_like_growthbook_js() -> None:
    # JS hashFnv32a XORs str.charCodeAt(i): "é" is the single unit 0xE9, not UTF-8 C3 A9.
    assert fnv1a32("é") == ((0x811C9DC5 ^ 0xE9) * 0x01000193) & 0xFFFFFFFF
    # Astral characters are two UTF-16 surrogate units, as in JS.
    h = 0x811C9DC5
    for unit in (0xD83D, 0xDE00):
        h = ((h ^ unit) * 0x01000193) & 0xFFFFFFFF
    assert fnv1a32("😀") == h


@pytest.mark.parametrize(("name", "args", "expected"), BUCKET_RANGE_CASES)
def test_bucket_ranges_match_growthbook(
    name: str,
    args: tuple[int, float, list[float] | None],
    expected: list[tuple[float, float]],
) -> None:
    actual = bucket_ranges(*args)
    # Compared after round(x, 6), exactly as the reference SDK test does (round_list_of_lists in
    # growthbook-python tests/test_growthbook.py): e.g. 0.2 * 0.2 == 0.04000000000000001.
    assert [(round(lo, 6), round(hi, 6)) for lo, hi in actual] == [
        (round(lo, 6), round(hi, 6)) for lo, hi in expected
    ]


@pytest.mark.parametrize(("name", "n", "ranges", "expected"), CHOOSE_VARIATION_CASES)
def test_choose_variation_matches_growthbook(
    name: str, n: float, ranges: list[tuple[float, float]], expected: int
) -> None:
    assert choose_variation(n, ranges) == expected


@pytest.mark.parametrize(("name", "user_id", "namespace", "expected"), IN_NAMESPACE_CASES)
def test_in_namespace_matches_growthbook(
    name: str, user_id: str, namespace: tuple[str, float, float], expected: bool
) -> None:
    assert in_namespace(user_id, namespace) is expected


def test_assignment_end_to_end_matches_published_feature_case() -> None:
    # cases.json "creates experiments properly": seed "feature", v2, ranges [[0,0.1],[0.1,1]],
    # coverage 0.99 -> bucket 0.5231, variationId 1.
    n = hash_v2("feature", "123")
    assert choose_variation(n, [(0, 0.1), (0.1, 1.0)]) == 1
    # cases.json "empty experiment rule - c": v1, 3 equal variations, id "123" -> variation 2.
    assert choose_variation(hash_v1("feature", "123"), bucket_ranges(3)) == 2


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("chi2", "dof", "expected"),
    [
        # Critical values of the chi-square table at alpha = 0.05 (e.g. NIST/SEMATECH
        # e-Handbook §1.3.6.7.4, "Critical Values of the Chi-Square Distribution").
        (3.841, 1, 0.05),
        (5.991, 2, 0.05),
        (7.815, 3, 0.05),
        (9.488, 4, 0.05),
        (11.070, 5, 0.05),
        (18.307, 10, 0.05),
        # alpha = 0.01 column
        (6.635, 1, 0.01),
        (11.345, 3, 0.01),
        (23.209, 10, 0.01),
    ],
)
def test_chi2_sf_matches_table_values(chi2: float, dof: int, expected: float) -> None:
    assert chi2_sf(chi2, dof) == pytest.approx(expected, abs=2e-4)


@pytest.mark.parametrize("x", [0.01, 0.5, 1.0, 2.5, 4.0, 10.0, 30.0, 80.0])
def test_chi2_sf_closed_forms(x: float) -> None:
    # Exercises both the series (x < a + 1) and continued-fraction branches.
    assert chi2_sf(x, 1) == pytest.approx(math.erfc(math.sqrt(x / 2)), rel=1e-9, abs=1e-300)
    assert chi2_sf(x, 2) == pytest.approx(math.exp(-x / 2), rel=1e-9)
    assert chi2_sf(x, 4) == pytest.approx(math.exp(-x / 2) * (1 + x / 2), rel=1e-9)


def test_regularized_gamma_q_edges() -> None:
    assert regularized_gamma_q(1.5, 0.0) == 1.0
    assert chi2_sf(0.0, 3) == 1.0
    assert chi2_sf(5.0, 0) == 1.0
    with pytest.raises(ValueError):
        regularized_gamma_q(0.0, 1.0)


def test_srm_check_balanced_and_mismatched() -> None:
    assert srm_check([500, 500], [0.5, 0.5]) == (0.0, 1.0)
    # 5000 vs 5200 at 50/50: chi2 = 2 * 100² / 5100 = 3.92157, p = erfc(sqrt(chi2/2)) = 0.04767.
    chi2, p = srm_check([5000, 5200], [0.5, 0.5])
    assert chi2 == pytest.approx(20000 / 5100, rel=1e-12)
    assert p == pytest.approx(0.04767, abs=1e-5)
    # Weights need not be normalised; 3 arms -> 2 dof: p = exp(-chi2/2).
    chi2_3, p_3 = srm_check([1000, 1000, 2100], [1, 1, 2])
    expected_chi2 = (25**2 + 25**2) / 1025 + 50**2 / 2050
    assert chi2_3 == pytest.approx(expected_chi2, rel=1e-12)
    assert p_3 == pytest.approx(math.exp(-expected_chi2 / 2), rel=1e-9)


def test_srm_check_zero_data_and_edge_cases() -> None:
    assert srm_check([0, 0], [0.5, 0.5]) == (0.0, 1.0)
    assert srm_check([], []) == (0.0, 1.0)
    assert srm_check([42], [1.0]) == (0.0, 1.0)
    assert srm_check([10, 0], [1.0, 0.0]) == (0.0, 1.0)
    assert srm_check([10, 1], [1.0, 0.0]) == (math.inf, 0.0)
    with pytest.raises(ValueError):
        srm_check([1, 2], [1.0])
    with pytest.raises(ValueError):
        srm_check([1, 2], [0.0, 0.0])
