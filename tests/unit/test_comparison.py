"""pricing.catalog.compare_tiers: tier order, the feature matrix, and which add-ons are offered."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from pricing.catalog import AddOn, Feature, FeatureRow, Segment, Tier, compare_tiers
from pricing.money import Money

SEGMENT = Segment(id="seg-1", key="premium", name="Premium", position=1)


def tier(
    tier_id: str,
    level: int,
    features: tuple[Feature, ...] = (),
    *,
    status: str = "active",
    popular: bool = False,
) -> Tier:
    return Tier(
        id=tier_id,
        segment_id=SEGMENT.id,
        level=level,
        name=f"Tier {level}",
        description="",
        base_price=Money(10000 * level, "EUR"),
        per_guest_price=Money(1000, "EUR"),
        max_guests=6,
        features=features,
        popular=popular,
        status=status,
    )


def add_on(add_on_id: str, tier_ids: tuple[str, ...] = (), *, status: str = "active") -> AddOn:
    return AddOn(
        id=add_on_id,
        key=add_on_id,
        name=add_on_id.title(),
        pricing="flat",
        price=Money(500, "EUR"),
        tier_ids=tier_ids,
        status=status,
    )


def test_carries_segment_and_currency() -> None:
    result = compare_tiers(SEGMENT, "EUR", [tier("t1", 1)], [])
    assert result.segment is SEGMENT
    assert result.currency == "EUR"


def test_tiers_come_in_level_order_whatever_the_input_order() -> None:
    t1, t2, t3 = tier("t1", 1), tier("t2", 2), tier("t3", 3)
    result = compare_tiers(SEGMENT, "EUR", [t3, t1, t2], [])
    assert [t.level for t in result.tiers] == [1, 2, 3]
    assert [t.id for t in result.tiers] == ["t1", "t2", "t3"]
    assert isinstance(result.tiers, tuple)


def test_inactive_tiers_are_dropped() -> None:
    tiers = [tier("t3", 3), tier("t2-old", 2, status="archived"), tier("t1", 1), tier("t2", 2)]
    result = compare_tiers(SEGMENT, "EUR", tiers, [])
    assert [t.id for t in result.tiers] == ["t1", "t2", "t3"]


def test_no_active_tiers_gives_an_empty_comparison() -> None:
    tiers = [tier("t1", 1, (Feature("lunch", "Lunch", True),), status="archived")]
    result = compare_tiers(SEGMENT, "EUR", tiers, [add_on("breakfast")])
    assert result.tiers == ()
    assert result.feature_matrix == ()
    # an add-on for "every tier" is still listed: the rule is about tier limits only
    assert [a.id for a in result.add_ons] == ["breakfast"]


def test_feature_matrix_has_one_value_per_tier_and_none_where_missing() -> None:
    t1 = tier("t1", 1, (Feature("tour", "Guided tour", True), Feature("lounge", "Lounge", "-")))
    t2 = tier(
        "t2",
        2,
        (
            Feature("tour", "Guided tour", True),
            Feature("lunch", "Lunch included", True),
            Feature("lounge", "Lounge", "Standard"),
        ),
    )
    t3 = tier("t3", 3, (Feature("lunch", "Lunch included", True), Feature("guests", "Guests", 8)))
    result = compare_tiers(SEGMENT, "EUR", [t2, t3, t1], [])
    assert result.feature_matrix == (
        FeatureRow("tour", "Guided tour", (True, True, None)),
        FeatureRow("lounge", "Lounge", ("-", "Standard", None)),
        FeatureRow("lunch", "Lunch included", (None, True, True)),
        FeatureRow("guests", "Guests", (None, None, 8)),
    )


def test_false_and_zero_values_are_not_confused_with_missing() -> None:
    t1 = tier("t1", 1, (Feature("lunch", "Lunch", False), Feature("photos", "Photos", 0)))
    t2 = tier("t2", 2, (Feature("lunch", "Lunch", True),))
    result = compare_tiers(SEGMENT, "EUR", [t1, t2], [])
    assert result.feature_matrix == (
        FeatureRow("lunch", "Lunch", (False, True)),
        FeatureRow("photos", "Photos", (0, None)),
    )


def test_rows_follow_first_appearance_in_level_order_not_input_order() -> None:
    # the level-3 tier is passed first, but the level-1 tier's features define the first rows
    t3 = tier("t3", 3, (Feature("spa", "Spa", True), Feature("lunch", "Lunch", True)))
    t1 = tier("t1", 1, (Feature("lunch", "Lunch", False), Feature("tour", "Tour", True)))
    result = compare_tiers(SEGMENT, "EUR", [t3, t1], [])
    assert [row.key for row in result.feature_matrix] == ["lunch", "tour", "spa"]
    assert result.feature_matrix[2] == FeatureRow("spa", "Spa", (None, True))


def test_first_label_wins_when_tiers_disagree() -> None:
    t1 = tier("t1", 1, (Feature("lunch", "Lunch", True),))
    t2 = tier("t2", 2, (Feature("lunch", "Three-course lunch", True),))
    result = compare_tiers(SEGMENT, "EUR", [t2, t1], [])
    assert result.feature_matrix == (FeatureRow("lunch", "Lunch", (True, True)),)


def test_features_of_inactive_tiers_do_not_appear() -> None:
    t1 = tier("t1", 1, (Feature("lunch", "Lunch", True),))
    old = tier("t2-old", 2, (Feature("butler", "Butler", True),), status="archived")
    result = compare_tiers(SEGMENT, "EUR", [t1, old], [])
    assert result.feature_matrix == (FeatureRow("lunch", "Lunch", (True,)),)


def test_add_ons_for_every_tier_and_for_a_shown_tier_are_offered() -> None:
    t1, t2, t3 = tier("t1", 1), tier("t2", 2), tier("t3", 3)
    offered = [
        add_on("breakfast"),  # every tier
        add_on("spa", ("t3",)),  # one shown tier
        add_on("mixed", ("other-segment-tier", "t2")),  # one shown tier among others
    ]
    result = compare_tiers(SEGMENT, "EUR", [t1, t2, t3], offered)
    assert [a.id for a in result.add_ons] == ["breakfast", "spa", "mixed"]
    assert isinstance(result.add_ons, tuple)


def test_add_ons_limited_to_tiers_not_shown_are_dropped() -> None:
    t1, t2 = tier("t1", 1), tier("t2", 2)
    archived_t3 = tier("t3", 3, status="archived")
    candidates = [
        add_on("elsewhere", ("other-segment-tier",)),
        add_on("for-archived-tier", ("t3",)),
        add_on("for-t1", ("t1",)),
    ]
    result = compare_tiers(SEGMENT, "EUR", [t1, t2, archived_t3], candidates)
    assert [a.id for a in result.add_ons] == ["for-t1"]


def test_inactive_add_ons_are_dropped() -> None:
    t1 = tier("t1", 1)
    candidates = [
        add_on("archived-everywhere", status="archived"),
        add_on("archived-for-t1", ("t1",), status="archived"),
        add_on("live"),
    ]
    result = compare_tiers(SEGMENT, "EUR", [t1], candidates)
    assert [a.id for a in result.add_ons] == ["live"]


def test_add_on_order_is_kept() -> None:
    t1 = tier("t1", 1)
    result = compare_tiers(SEGMENT, "EUR", [t1], [add_on("c"), add_on("a"), add_on("b")])
    assert [a.id for a in result.add_ons] == ["c", "a", "b"]


def test_tiers_are_passed_through_unchanged() -> None:
    t2 = tier("t2", 2, (Feature("lunch", "Lunch", True),), popular=True)
    result = compare_tiers(SEGMENT, "EUR", [t2], [])
    assert result.tiers == (t2,)
    assert result.tiers[0].popular is True
    assert result.tiers[0].base_price == Money(20000, "EUR")


def test_available_for() -> None:
    assert add_on("breakfast").available_for("anything") is True
    assert add_on("spa", ("t3",)).available_for("t3") is True
    assert add_on("spa", ("t3",)).available_for("t1") is False


feature_keys = st.sampled_from(["a", "b", "c", "d", "e"])


@given(
    st.lists(
        st.tuples(
            st.sampled_from([1, 2, 3]),
            st.booleans(),
            st.lists(feature_keys, unique=True, max_size=5),
        ),
        max_size=6,
    )
)
def test_matrix_is_rectangular_and_consistent_with_the_tiers(
    specs: list[tuple[int, bool, list[str]]],
) -> None:
    tiers = [
        tier(
            f"t{i}",
            level,
            tuple(Feature(k, k.upper(), f"{i}{k}") for k in keys),
            status="active" if active else "archived",
        )
        for i, (level, active, keys) in enumerate(specs)
    ]
    result = compare_tiers(SEGMENT, "EUR", tiers, [])
    shown = [t for t in tiers if t.active]
    assert sorted(t.id for t in result.tiers) == sorted(t.id for t in shown)
    assert [t.level for t in result.tiers] == sorted(t.level for t in shown)
    expected_keys = {f.key for t in shown for f in t.features}
    assert [row.key for row in result.feature_matrix] == list(
        dict.fromkeys(f.key for t in result.tiers for f in t.features)
    )
    assert {row.key for row in result.feature_matrix} == expected_keys
    for row in result.feature_matrix:
        assert len(row.values) == len(result.tiers)
        for shown_tier, value in zip(result.tiers, row.values, strict=True):
            own = {f.key: f.value for f in shown_tier.features}
            assert value == own.get(row.key)
