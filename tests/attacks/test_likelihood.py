"""Likelihood models pi(y | model output): tables of hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tabinv.attacks.likelihood import (
    LOG_FLOOR,
    confidence_log_likelihood,
    confusion_log_likelihood,
    confusion_table,
    gaussian_log_likelihood,
)
from tabinv.exceptions import AttackError

HALF_LOG_2PI = 0.9189385332046727  # 0.5 * ln(2 pi)
LOG_FLOOR_VALUE = -27.631021115928547  # ln(1e-12)


def test_floor_is_1e_minus_12() -> None:
    assert LOG_FLOOR == 1e-12
    assert math.log(LOG_FLOOR) == pytest.approx(LOG_FLOOR_VALUE, abs=1e-15)


# -- Gaussian (regression output) ------------------------------------------------------

GAUSSIAN_CASES = [
    # outputs (n, G), labels (n,), sigma, expected log N(y; output, sigma^2)
    pytest.param([[0.0, 1.0, -2.0]], [0.0], 1.0,
                 [[-HALF_LOG_2PI, -0.5 - HALF_LOG_2PI, -2.0 - HALF_LOG_2PI]],
                 id="sigma1-z0,1,2"),
    # z = (3 - 1) / 2 = 1: -1/2 - ln 2 - 0.5 ln(2 pi); z = 0: - ln 2 - 0.5 ln(2 pi)
    pytest.param([[1.0, 3.0]], [3.0], 2.0, [[-2.112085713764618, -1.612085713764618]],
                 id="sigma2"),
    # one output per record, two records; sigma 0.5: z = 0 and z = 2
    pytest.param([[1.0], [1.0]], [1.0, 2.0], 0.5,
                 [[-0.22579135264472738], [-2.2257913526447273]], id="two-records"),
    # symmetric in y - output
    pytest.param([[4.0, 6.0]], [5.0], 1.0,
                 [[-0.5 - HALF_LOG_2PI, -0.5 - HALF_LOG_2PI]], id="symmetric"),
]


@pytest.mark.parametrize(("outputs", "labels", "sigma", "expected"), GAUSSIAN_CASES)
def test_gaussian_log_likelihood(outputs: list[list[float]], labels: list[float],
                                 sigma: float, expected: list[list[float]]) -> None:
    result = gaussian_log_likelihood(np.array(outputs), np.array(labels), sigma)
    assert result.shape == np.array(outputs).shape
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12)


def test_gaussian_integrates_to_one() -> None:
    grid = np.linspace(-10.0, 10.0, 20001)
    density = np.exp(gaussian_log_likelihood(grid[None, :], np.array([0.3]), 1.7))
    assert np.sum(density) * (grid[1] - grid[0]) == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("sigma", [0.0, -1.0, float("nan")])
def test_gaussian_needs_a_positive_sigma(sigma: float) -> None:
    with pytest.raises(AttackError, match="sigma must be positive"):
        gaussian_log_likelihood(np.zeros((1, 2)), np.zeros(1), sigma)


# -- reported confidence of the label --------------------------------------------------

CONFIDENCE_CASES = [
    # outputs (n, G, C), labels (n,), expected log f_y
    pytest.param([[[0.2, 0.5, 0.3], [0.0, 1.0, 0.0]]], [1], [[-0.6931471805599453, 0.0]],
                 id="label1"),
    pytest.param([[[0.2, 0.5, 0.3], [0.0, 1.0, 0.0]]], [0],
                 [[-1.6094379124341003, LOG_FLOOR_VALUE]], id="zero-is-floored"),
    pytest.param([[[0.9, 0.1]], [[0.9, 0.1]]], [0, 1],
                 [[-0.10536051565782628], [-2.3025850929940455]], id="label-per-record"),
    pytest.param([[[1e-13, 1.0]]], [0], [[LOG_FLOOR_VALUE]], id="below-floor"),
    pytest.param([[[1e-12, 1.0]]], [0], [[LOG_FLOOR_VALUE]], id="at-floor"),
    pytest.param([[[2e-12, 1.0]]], [0], [[LOG_FLOOR_VALUE + math.log(2.0)]],
                 id="above-floor"),
]


@pytest.mark.parametrize(("outputs", "labels", "expected"), CONFIDENCE_CASES)
def test_confidence_log_likelihood(outputs: list[list[list[float]]], labels: list[int],
                                   expected: list[list[float]]) -> None:
    result = confidence_log_likelihood(np.array(outputs), np.array(labels))
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12)


# -- confusion statistics (label-only access) ------------------------------------------

CONFUSION_TABLE_CASES = [
    # counts C[true, predicted], form, smoothing, expected table (probabilities)
    # C + 1 = [[4, 2], [3, 5]]: column sums 7, 7; row sums 6, 8
    pytest.param([[3, 1], [2, 4]], "bayes", 1.0, [[4 / 7, 2 / 7], [3 / 7, 5 / 7]],
                 id="bayes"),
    pytest.param([[3, 1], [2, 4]], "row", 1.0, [[4 / 6, 2 / 6], [3 / 8, 5 / 8]], id="row"),
    pytest.param([[3, 1], [2, 4]], "bayes", 0.0, [[3 / 5, 1 / 5], [2 / 5, 4 / 5]],
                 id="bayes-unsmoothed"),
    pytest.param([[3, 1], [2, 4]], "row", 0.5,
                 [[3.5 / 5, 1.5 / 5], [2.5 / 7, 4.5 / 7]], id="row-half"),
    # a zero cell without smoothing is floored, not -inf
    pytest.param([[2, 0], [0, 2]], "bayes", 0.0, [[1.0, LOG_FLOOR], [LOG_FLOOR, 1.0]],
                 id="zero-cell-floored"),
    # 3 classes; C + 1 = [[6, 2, 1], [1, 4, 2], [1, 1, 3]]
    # column sums 8, 7, 6; row sums 9, 7, 5
    pytest.param([[5, 1, 0], [0, 3, 1], [0, 0, 2]], "bayes", 1.0,
                 [[6 / 8, 2 / 7, 1 / 6], [1 / 8, 4 / 7, 2 / 6], [1 / 8, 1 / 7, 3 / 6]],
                 id="three-classes-bayes"),
    pytest.param([[5, 1, 0], [0, 3, 1], [0, 0, 2]], "row", 1.0,
                 [[6 / 9, 2 / 9, 1 / 9], [1 / 7, 4 / 7, 2 / 7], [1 / 5, 1 / 5, 3 / 5]],
                 id="three-classes-row"),
    # a class the model never predicts: its column is uniform after smoothing
    pytest.param([[4, 0], [2, 0]], "bayes", 1.0, [[5 / 8, 1 / 2], [3 / 8, 1 / 2]],
                 id="never-predicted"),
    # ... and without smoothing (0 / 0: no information, uniform, no warning, no NaN)
    pytest.param([[4, 0], [2, 0]], "bayes", 0.0, [[4 / 6, 1 / 2], [2 / 6, 1 / 2]],
                 id="never-predicted-unsmoothed"),
    pytest.param([[4, 1], [0, 0]], "row", 0.0, [[4 / 5, 1 / 5], [1 / 2, 1 / 2]],
                 id="never-true-unsmoothed"),
    pytest.param([[3, 0, 1], [1, 0, 1], [0, 0, 2]], "bayes", 0.0,
                 [[3 / 4, 1 / 3, 1 / 4], [1 / 4, 1 / 3, 1 / 4], [LOG_FLOOR, 1 / 3, 2 / 4]],
                 id="three-classes-never-predicted-unsmoothed"),
]


@pytest.mark.parametrize(("counts", "form", "smoothing", "expected"), CONFUSION_TABLE_CASES)
def test_confusion_table(counts: list[list[int]], form: str, smoothing: float,
                         expected: list[list[float]]) -> None:
    log_table = confusion_table(np.array(counts), form, smoothing)
    np.testing.assert_allclose(log_table, np.log(expected), rtol=0, atol=1e-12)


def test_bayes_form_is_the_default() -> None:
    counts = np.array([[3, 1], [2, 4]])
    np.testing.assert_array_equal(confusion_table(counts), confusion_table(counts, "bayes", 1))


@pytest.mark.parametrize("form", ["column", "BAYES", ""])
def test_confusion_table_rejects_unknown_forms(form: str) -> None:
    with pytest.raises(AttackError, match="not 'bayes' or 'row'"):
        confusion_table(np.eye(2), form)


LOG_TABLE = np.log(np.array([[0.7, 0.2], [0.3, 0.8]]))  # [true, predicted]

CONFUSION_LIKELIHOOD_CASES = [
    # predicted labels (n, G), true labels (n,), expected log table[y, predicted]
    pytest.param([[0, 1, 1]], [1], [[math.log(0.3), math.log(0.8), math.log(0.8)]],
                 id="one-record"),
    pytest.param([[0, 0], [1, 0]], [0, 1],
                 [[math.log(0.7), math.log(0.7)], [math.log(0.8), math.log(0.3)]],
                 id="two-records"),
]


@pytest.mark.parametrize(("predicted", "labels", "expected"), CONFUSION_LIKELIHOOD_CASES)
def test_confusion_log_likelihood(predicted: list[list[int]], labels: list[int],
                                  expected: list[list[float]]) -> None:
    result = confusion_log_likelihood(np.array(predicted), np.array(labels), LOG_TABLE)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-12)
