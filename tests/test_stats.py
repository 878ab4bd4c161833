"""Statistics over seeds: Student-t intervals against scipy and hand values, Welch's test, verdicts."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats as sps

from semjax.experiments.stats import compare, half_width, mean_ci, t_quantile, welch_p


def test_t_quantiles_match_scipy_for_1_to_200_degrees_of_freedom():
    # hand values of the standard table, then scipy itself for every df (one implementation)
    assert t_quantile(1) == pytest.approx(12.7062, abs=5e-5)
    assert t_quantile(11) == pytest.approx(2.2010, abs=5e-5)  # the old table was wrong from 11 to 30
    assert t_quantile(30) == pytest.approx(2.0423, abs=5e-5)
    for df in range(1, 201):
        assert t_quantile(df) == pytest.approx(sps.t.ppf(0.975, df), rel=1e-12), df
    with pytest.raises(ValueError, match="df"):
        t_quantile(0)


def test_mean_ci_by_hand():
    m, lo, hi = mean_ci([1.0, 3.0, math.nan, None])
    assert (m, lo, hi) == pytest.approx((2.0, 2.0 - 12.7062, 2.0 + 12.7062), abs=1e-4)  # sd sqrt(2), n 2
    assert mean_ci([0.7]) == (0.7, 0.7, 0.7) and half_width([0.7]) == 0.0
    assert all(math.isnan(v) for v in mean_ci([math.nan]))


@given(st.lists(st.floats(-1e3, 1e3), min_size=2, max_size=30))
def test_mean_ci_contains_the_mean_and_matches_scipy(values):
    m, lo, hi = mean_ci(values)
    x = np.asarray(values)
    assert lo <= m <= hi
    if x.std() > 0:
        want = sps.t.interval(0.95, x.size - 1, loc=x.mean(), scale=sps.sem(x))
        assert (lo, hi) == pytest.approx(want, rel=1e-9, abs=1e-9)


def test_welch_against_scipy_and_the_degenerate_cases():
    a, b = [0.579, 0.580, 0.581], [0.569, 0.570, 0.572]
    assert welch_p(a, b) == pytest.approx(sps.ttest_ind(a, b, equal_var=False).pvalue, rel=1e-12)
    assert welch_p([0.5, 0.5], [0.5, 0.5]) == 1.0  # identical constants: nothing to separate
    assert welch_p([0.5, 0.5], [0.6, 0.6]) == 0.0  # different constants: separated exactly
    assert welch_p([0.5], [0.6, 0.7]) == 1.0  # one seed says nothing
    assert compare(a, b) == "greater" and compare(b, a) == "less"
    assert compare([0.57, 0.58, 0.59], [0.56, 0.57, 0.58]) == "unresolved"  # p = 0.29
