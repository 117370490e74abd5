"""The console's form and chart helpers: feature cells as typed, and the revenue chart's runs of
days (at most 31, whole days, the last ending on the range's end)."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from app.http.console.analytics import buckets
from app.http.console.catalog_edit import feature_text, feature_value


@pytest.mark.parametrize(
    ("typed", "value"),
    [
        ("true", True),
        ("FALSE", False),
        ("3", 3),
        ("-2", -2),
        (" in English ", "in English"),
        ("3.5", "3.5"),
        ("1234567890", "1234567890"),
        ("", ""),
    ],
)
def test_a_feature_cell_is_read_as_typed_and_written_back_the_same(typed, value):
    assert feature_value(typed) == value and type(feature_value(typed)) is type(value)
    assert feature_value(feature_text(value)) == value


def test_a_month_is_a_point_a_day():
    runs = buckets(dt.date(2027, 1, 1), dt.date(2027, 1, 31))
    assert len(runs) == 31 and all(a == b for a, b in runs)


@pytest.mark.parametrize("days", [1, 2, 31, 32, 62, 63, 100, 366])
def test_longer_ranges_are_cut_in_whole_runs_of_days_covering_the_range_once(days):
    start = dt.date(2027, 3, 1)
    end = start + dt.timedelta(days=days - 1)
    runs = buckets(start, end)
    assert len(runs) <= 31
    assert runs[0][0] == start and runs[-1][1] == end
    assert all(b + dt.timedelta(days=1) == a for (_, b), (a, _) in itertools.pairwise(runs))
    sizes = {(b - a).days + 1 for a, b in runs[:-1]}
    assert len(sizes) <= 1  # every run but the last is the same length
