"""Statistics over seeds, shared by every table the engine and the report write.

Intervals are Student-t intervals of the mean over seeds; orderings are decided by Welch's
unequal-variance t-test (scipy). A claim "a > b" is *resolved* only when the test separates
the two sets of seeds at the chosen level; otherwise the data say nothing either way at this
budget, and :func:`compare` says so instead of guessing from the means.
"""

from __future__ import annotations

import math
from typing import Iterable

import numpy as np
from scipy import stats

LEVEL = 0.95  # interval coverage
ALPHA = 0.05  # test level


def _finite(values: Iterable[float]) -> np.ndarray:
    x = np.asarray([v for v in values if v is not None], np.float64)
    return x[np.isfinite(x)]


def t_quantile(df: int, level: float = LEVEL) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom."""
    if df < 1:
        raise ValueError(f"df must be >= 1 (got {df})")
    return float(stats.t.ppf(0.5 + level / 2, df))


def mean_ci(values: Iterable[float], level: float = LEVEL) -> tuple[float, float, float]:
    """(mean, low, high): the mean over seeds and its Student-t interval.

    NaNs and Nones are dropped; with one value the interval has no width; with none all three
    are NaN.
    """
    x = _finite(values)
    if x.size == 0:
        return math.nan, math.nan, math.nan
    m = float(x.mean())
    if x.size == 1:
        return m, m, m
    half = t_quantile(x.size - 1, level) * float(x.std(ddof=1)) / math.sqrt(x.size)
    return m, m - half, m + half


def half_width(values: Iterable[float], level: float = LEVEL) -> float:
    """The half-width of :func:`mean_ci`'s interval (0 for one value, NaN for none)."""
    m, lo, _ = mean_ci(values, level)
    return m - lo if math.isfinite(m) else math.nan


def welch_p(a: Iterable[float], b: Iterable[float]) -> float:
    """Two-sided p-value of Welch's t-test that ``a`` and ``b`` have equal means.

    When neither set varies (fixed policies evaluated on the same worlds give one value per
    seed, often identical), the test is undefined: equal constants give p = 1, different
    constants p = 0 (the sets are separated exactly). With fewer than two values in a set, 1.
    """
    x, y = _finite(a), _finite(b)
    if x.size < 2 or y.size < 2:
        return 1.0
    if x.std() == 0 and y.std() == 0:
        return 1.0 if x[0] == y[0] else 0.0
    return float(stats.ttest_ind(x, y, equal_var=False).pvalue)


def compare(a: Iterable[float], b: Iterable[float], alpha: float = ALPHA) -> str:
    """``"greater"`` or ``"less"`` when Welch's test separates ``a`` from ``b`` at ``alpha``
    (in the direction of their means), else ``"unresolved"``."""
    x, y = _finite(a), _finite(b)
    if welch_p(x, y) >= alpha:
        return "unresolved"
    return "greater" if x.mean() > y.mean() else "less"
