"""Confidence intervals: Wilson score intervals and bootstrap percentile intervals.

All randomness goes through :func:`tabinv.utils.check_random_state`; the same seed gives
byte-identical replicates.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence

import numpy as np
from scipy.stats import norm
from scipy.stats import t as student_t

from ..exceptions import DataError
from ..utils import RandomState, check_random_state
from .estimate import Estimate

__all__ = ["bootstrap_cell_counts", "bootstrap_indices", "percentile_interval", "summarise",
           "wilson"]


def check_confidence(confidence: float) -> float:
    """Return ``confidence`` as a float, or raise :class:`DataError` unless 0 < it < 1."""
    if isinstance(confidence, bool) or not isinstance(confidence, (int, float, np.floating)):
        raise DataError(
            f"confidence must be a number strictly between 0 and 1, received {confidence!r}"
        )
    value = float(confidence)
    if not 0.0 < value < 1.0:
        raise DataError(f"confidence must be strictly between 0 and 1, received {value!r}")
    return value


def check_count(value: int, name: str, minimum: int = 0) -> int:
    """Return ``value`` as a Python int, or raise :class:`DataError` if it is not one."""
    if isinstance(value, bool):
        raise DataError(f"{name} must be an integer >= {minimum}, received {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise DataError(
            f"{name} must be an integer >= {minimum}, received {value!r} "
            f"of type {type(value).__name__}"
        ) from None
    if number < minimum:
        raise DataError(f"{name} must be an integer >= {minimum}, received {number}")
    return number


def wilson(successes: int, n: int, confidence: float = 0.95) -> Estimate:
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    successes : int
        Number of successes, ``0 <= successes <= n``.
    n : int
        Number of trials. ``n == 0`` gives an undefined (all-NaN) estimate.
    confidence : float, default 0.95
        Coverage of the interval, strictly between 0 and 1.

    Returns
    -------
    Estimate
        ``value = successes / n`` with the Wilson bounds, clipped to [0, 1].

    Raises
    ------
    DataError
        If the counts are not integers with ``0 <= successes <= n`` or ``confidence`` is
        not in (0, 1).

    References
    ----------
    E. B. Wilson, "Probable inference, the law of succession, and statistical inference",
    JASA 22(158), 1927.

    Examples
    --------
    >>> e = wilson(8, 10)
    >>> round(e.low, 4), round(e.high, 4)
    (0.4902, 0.9433)
    """
    trials = check_count(n, "n")
    hits = check_count(successes, "successes")
    if hits > trials:
        raise DataError(f"successes must be <= n, received successes={hits} and n={trials}")
    z = float(norm.ppf(0.5 + check_confidence(confidence) / 2.0))
    if trials == 0:
        return Estimate.undefined()
    p = hits / trials
    z2_n = z * z / trials
    centre = (p + z2_n / 2.0) / (1.0 + z2_n)
    half_width = z / (1.0 + z2_n) * math.sqrt(p * (1.0 - p) / trials + z2_n / (4.0 * trials))
    low = 0.0 if hits == 0 else max(0.0, centre - half_width)
    high = 1.0 if hits == trials else min(1.0, centre + half_width)
    return Estimate(p, low, high)


def bootstrap_indices(n: int, n_boot: int, random_state: RandomState) -> np.ndarray:
    """Draw ``n_boot`` bootstrap resamples of ``n`` records, all at once.

    Parameters
    ----------
    n : int
        Number of records (>= 1).
    n_boot : int
        Number of bootstrap replicates (>= 1).
    random_state : None, int or numpy.random.Generator
        Source of randomness; an int seed gives byte-identical results.

    Returns
    -------
    numpy.ndarray of shape (n_boot, n), dtype int64
        Row ``b`` holds the record indices of replicate ``b`` (drawn with replacement).

    Examples
    --------
    >>> bootstrap_indices(5, 3, random_state=0).shape
    (3, 5)
    """
    records = check_count(n, "n", minimum=1)
    replicates = check_count(n_boot, "n_boot", minimum=1)
    rng = check_random_state(random_state)
    return rng.integers(0, records, size=(replicates, records), dtype=np.int64)


def bootstrap_cell_counts(counts: np.ndarray, n_boot: int, random_state: RandomState) -> np.ndarray:
    """Bootstrap the cell counts of a contingency table, all replicates at once.

    When a statistic depends on the records only through how many fall in each cell (a
    confusion matrix, the four (correct_a, correct_b) combinations, ...), resampling the
    ``n`` records with replacement is the same, in distribution, as drawing the cell counts
    from ``Multinomial(n, counts / n)``. This costs O(n_boot * cells) instead of
    O(n_boot * n).

    Parameters
    ----------
    counts : array-like of int, shape (C,)
        Observed count per cell (non-negative, at least one record in total).
    n_boot : int
        Number of bootstrap replicates (>= 1).
    random_state : None, int or numpy.random.Generator
        Source of randomness; an int seed gives byte-identical results.

    Returns
    -------
    numpy.ndarray of shape (n_boot, C), dtype int64
        Each row sums to ``counts.sum()``; cells with no records stay at 0.

    Examples
    --------
    >>> bootstrap_cell_counts([3, 0, 1], 2, random_state=0).sum(axis=1)
    array([4, 4])
    """
    cells = np.asarray(counts)
    if cells.ndim != 1 or cells.dtype.kind not in "iu" or cells.size == 0 or (cells < 0).any():
        raise DataError(
            "counts must be a non-empty 1-D array of non-negative integers, received "
            f"shape {cells.shape} and dtype {cells.dtype}"
        )
    total = int(cells.sum())
    if total == 0:
        raise DataError("counts must hold at least one record, received all zeros")
    replicates = check_count(n_boot, "n_boot", minimum=1)
    rng = check_random_state(random_state)
    return rng.multinomial(total, cells / total, size=replicates).astype(np.int64)


def percentile_interval(point: float, replicates: np.ndarray, confidence: float = 0.95) -> Estimate:
    """Bootstrap percentile interval around a point estimate.

    Parameters
    ----------
    point : float
        The estimate computed on the full data. NaN gives an all-NaN estimate.
    replicates : array-like of float, shape (n_boot,)
        The same statistic on each bootstrap replicate. NaN replicates (statistic
        undefined on that resample) are ignored; if all are NaN the bounds are NaN.
    confidence : float, default 0.95
        Coverage of the interval, strictly between 0 and 1.

    Returns
    -------
    Estimate
        ``value = point`` and the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2``
        quantiles of the defined replicates. The interval is widened to include ``point``
        when it falls outside (possible with skewed statistics), so that
        ``low <= value <= high`` always holds for a defined estimate.

    References
    ----------
    B. Efron and R. Tibshirani, *An Introduction to the Bootstrap*, Chapman & Hall, 1993,
    ch. 13.

    Examples
    --------
    >>> e = percentile_interval(0.5, np.linspace(0.0, 1.0, 101), confidence=0.9)
    >>> round(e.low, 3), round(e.high, 3)
    (0.05, 0.95)
    """
    level = check_confidence(confidence)
    values = np.asarray(replicates, dtype=float)
    if values.ndim != 1:
        raise DataError(f"replicates must be a 1-D array, received shape {values.shape}")
    value = float(point)
    if math.isnan(value):
        return Estimate.undefined()
    defined = values[~np.isnan(values)]
    if defined.size == 0:
        return Estimate(value, math.nan, math.nan)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(defined, [alpha, 1.0 - alpha])
    return Estimate(value, min(float(low), value), max(float(high), value))


def summarise(values: Sequence[float], low: float = -math.inf, high: float = math.inf
              ) -> Estimate:
    """Mean over seeds with a 95% Student t interval (NaN values ignored).

    The bounds are clipped to ``[low, high]`` (``[0, 1]`` for proportions).
    """
    array = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    if array.size == 0:
        return Estimate.undefined()
    mean = float(array.mean())
    if array.size < 2:
        return Estimate(mean, math.nan, math.nan)
    half = float(student_t.ppf(0.975, array.size - 1) * array.std(ddof=1) / math.sqrt(array.size))
    return Estimate(mean, max(mean - half, low), min(mean + half, high))
