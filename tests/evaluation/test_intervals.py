"""Tests for tabinv.evaluation.estimate and tabinv.evaluation.intervals."""

from __future__ import annotations

import dataclasses
import math
from statistics import NormalDist

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabinv.evaluation.estimate import Estimate
from tabinv.evaluation.intervals import (
    bootstrap_cell_counts,
    bootstrap_indices,
    percentile_interval,
    wilson,
)
from tabinv.exceptions import DataError, TabinvError

FAST = settings(max_examples=40, deadline=None, database=None)


def wilson_reference(successes: int, n: int, confidence: float) -> tuple[float, float]:
    """Closed form (2np + z^2 -/+ z sqrt(z^2 + 4np(1-p))) / (2(n + z^2)), z from stdlib."""
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    root = z * math.sqrt(z * z + 4 * n * p * (1 - p))
    denominator = 2 * (n + z * z)
    return (2 * n * p + z * z - root) / denominator, (2 * n * p + z * z + root) / denominator


# ------------------------------------------------------------------------- Estimate


def test_estimate_fields_are_plain_floats_and_frozen() -> None:
    estimate = Estimate(np.float32(0.5), np.int64(0), 1)
    assert estimate.to_dict() == {"value": 0.5, "low": 0.0, "high": 1.0}
    assert all(type(v) is float for v in estimate.to_dict().values())
    with pytest.raises(dataclasses.FrozenInstanceError):
        estimate.value = 0.2  # type: ignore[misc]


@pytest.mark.parametrize(
    ("estimate", "x", "contains", "above"),
    [
        (Estimate(0.8, 0.49, 0.94), 0.5, True, False),
        (Estimate(0.8, 0.49, 0.94), 0.49, True, False),
        (Estimate(0.8, 0.49, 0.94), 0.94, True, False),
        (Estimate(0.8, 0.49, 0.94), 0.2, False, True),
        (Estimate(0.8, 0.49, 0.94), 0.95, False, False),
        (Estimate(0.1, -0.02, 0.3), 0.0, True, False),
        (Estimate.undefined(), 0.0, False, False),
    ],
)
def test_estimate_contains_and_is_above(
    estimate: Estimate, x: float, contains: bool, above: bool
) -> None:
    assert estimate.contains(x) is contains
    assert estimate.is_above(x) is above


def test_undefined_estimate() -> None:
    estimate = Estimate.undefined()
    assert not estimate.is_defined
    assert all(math.isnan(v) for v in estimate.to_dict().values())
    assert Estimate(0.0, 0.0, 0.0).is_defined


# --------------------------------------------------------------------------- Wilson


# Hand-computed with the closed form at z = 1.959964 (95 %) or 1.644854 (90 %).
@pytest.mark.parametrize(
    ("successes", "n", "confidence", "low", "high"),
    [
        (8, 10, 0.95, 0.4902, 0.9433),
        (0, 10, 0.95, 0.0, 0.2775),
        (10, 10, 0.95, 0.7225, 1.0),
        (50, 100, 0.95, 0.4038, 0.5962),
        (1, 1, 0.95, 0.2065, 1.0),
        (8, 10, 0.90, 0.5408, 0.9314),
    ],
)
def test_wilson_hand_computed(
    successes: int, n: int, confidence: float, low: float, high: float
) -> None:
    estimate = wilson(successes, n, confidence)
    assert estimate.value == successes / n
    assert estimate.low == pytest.approx(low, abs=5e-5)
    assert estimate.high == pytest.approx(high, abs=5e-5)


@FAST
@given(
    n=st.integers(1, 10_000),
    share=st.floats(0, 1),
    confidence=st.floats(0.5, 0.999),
)
def test_wilson_matches_closed_form_and_brackets_value(
    n: int, share: float, confidence: float
) -> None:
    successes = round(share * n)
    estimate = wilson(successes, n, confidence)
    low, high = wilson_reference(successes, n, confidence)
    assert estimate.low == pytest.approx(max(low, 0.0), abs=1e-9)
    assert estimate.high == pytest.approx(min(high, 1.0), abs=1e-9)
    assert 0.0 <= estimate.low <= estimate.value <= estimate.high <= 1.0


def test_wilson_of_nothing_is_undefined() -> None:
    assert not wilson(0, 0).is_defined
    assert math.isnan(wilson(0, 0).low)


def test_wilson_narrows_with_n_and_widens_with_confidence() -> None:
    small, large = wilson(8, 10), wilson(800, 1000)
    assert large.high - large.low < small.high - small.low
    assert wilson(8, 10, 0.99).low < wilson(8, 10, 0.9).low


@pytest.mark.parametrize(
    ("successes", "n", "confidence", "message"),
    [
        (11, 10, 0.95, "successes must be <= n"),
        (-1, 10, 0.95, "successes must be an integer >= 0"),
        (1, -3, 0.95, "n must be an integer >= 0"),
        (8.0, 10, 0.95, "received 8.0 of type float"),
        (True, 10, 0.95, "successes must be an integer"),
        (8, 10, 1.0, "confidence must be strictly between 0 and 1"),
        (8, 10, 0.0, "confidence must be strictly between 0 and 1"),
        (8, 10, "high", "confidence must be a number"),
    ],
)
def test_wilson_rejects_bad_input(
    successes: object, n: object, confidence: object, message: str
) -> None:
    with pytest.raises(DataError, match=message) as caught:
        wilson(successes, n, confidence)  # type: ignore[arg-type]
    assert isinstance(caught.value, (TabinvError, ValueError))


# ------------------------------------------------------------------------ bootstrap


def test_bootstrap_indices_shape_range_and_reproducibility() -> None:
    indices = bootstrap_indices(7, 50, random_state=3)
    assert indices.shape == (50, 7)
    assert indices.dtype == np.int64
    assert indices.min() >= 0 and indices.max() < 7
    np.testing.assert_array_equal(indices, bootstrap_indices(7, 50, random_state=3))
    assert not np.array_equal(indices, bootstrap_indices(7, 50, random_state=4))
    generator = np.random.default_rng(3)
    np.testing.assert_array_equal(indices, bootstrap_indices(7, 50, random_state=generator))


@pytest.mark.parametrize(("n", "n_boot"), [(0, 5), (5, 0), (2.5, 5), (5, -1)])
def test_bootstrap_indices_rejects_bad_sizes(n: object, n_boot: object) -> None:
    with pytest.raises(DataError):
        bootstrap_indices(n, n_boot, 0)  # type: ignore[arg-type]


def test_bootstrap_cell_counts_keeps_totals_and_empty_cells() -> None:
    counts = np.array([5, 0, 3, 2])
    replicates = bootstrap_cell_counts(counts, 500, random_state=1)
    assert replicates.shape == (500, 4)
    assert (replicates.sum(axis=1) == 10).all()
    assert (replicates[:, 1] == 0).all()
    # Multinomial(n, counts / n): the mean of each cell is its observed count.
    np.testing.assert_allclose(replicates.mean(axis=0), counts, atol=0.35)
    np.testing.assert_array_equal(replicates, bootstrap_cell_counts(counts, 500, random_state=1))


@pytest.mark.parametrize("counts", [[], [0, 0], [1.5, 2.0], [[1, 2]], [3, -1]])
def test_bootstrap_cell_counts_rejects_bad_counts(counts: object) -> None:
    with pytest.raises(DataError):
        bootstrap_cell_counts(np.asarray(counts), 10, 0)


# ---------------------------------------------------------------------- percentiles


def test_percentile_interval_known_quantiles() -> None:
    replicates = np.linspace(0.0, 1.0, 101)
    estimate = percentile_interval(0.5, replicates, confidence=0.9)
    assert estimate.to_dict() == pytest.approx({"value": 0.5, "low": 0.05, "high": 0.95})


def test_percentile_interval_ignores_nan_replicates() -> None:
    replicates = np.concatenate([np.linspace(0.0, 1.0, 101), [np.nan] * 50])
    with_nan = percentile_interval(0.5, replicates, 0.9)
    assert with_nan == percentile_interval(0.5, np.linspace(0.0, 1.0, 101), 0.9)


@pytest.mark.parametrize(
    ("point", "replicates", "expected"),
    [
        (0.5, [np.nan, np.nan], (0.5, math.nan, math.nan)),
        (math.nan, [0.1, 0.2], (math.nan, math.nan, math.nan)),
        (0.9, [0.1, 0.2, 0.3], (0.9, 0.11, 0.9)),  # widened to include the point
        (0.0, [0.1, 0.2, 0.3], (0.0, 0.0, 0.29)),
    ],
)
def test_percentile_interval_edge_cases(
    point: float, replicates: list[float], expected: tuple[float, ...]
) -> None:
    estimate = percentile_interval(point, np.asarray(replicates), 0.9)
    np.testing.assert_allclose(
        [estimate.value, estimate.low, estimate.high], expected, rtol=1e-12, equal_nan=True
    )


def test_percentile_interval_rejects_matrix() -> None:
    with pytest.raises(DataError, match="1-D"):
        percentile_interval(0.5, np.zeros((2, 2)))


@FAST
@given(
    point=st.floats(-10, 10),
    replicates=st.lists(st.one_of(st.floats(-10, 10), st.just(math.nan)), max_size=30),
    confidence=st.floats(0.01, 0.99),
)
def test_percentile_interval_brackets_point(
    point: float, replicates: list[float], confidence: float
) -> None:
    estimate = percentile_interval(point, np.asarray(replicates, dtype=float), confidence)
    assert estimate.value == point
    if not math.isnan(estimate.low):
        assert estimate.low <= estimate.value <= estimate.high
