"""Tests for tabinv.evaluation.metrics: hand-computed tables, scikit-learn, brute force."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import rankdata
from sklearn.metrics import (
    balanced_accuracy_score,
    f1_score,
    matthews_corrcoef,
    precision_score,
    recall_score,
    roc_auc_score,
)

from tabinv.evaluation.cells import (
    auc_ovr_weighted,
    balanced_accuracy_from_confusion,
    binary_cells,
    binary_scores,
)
from tabinv.evaluation.estimate import Estimate
from tabinv.evaluation.intervals import (
    bootstrap_cell_counts,
    bootstrap_indices,
    percentile_interval,
)
from tabinv.evaluation.metrics import (
    accuracy,
    auc_ovr,
    balanced_accuracy,
    binary_metrics,
    per_value,
    top_k_precision,
)
from tabinv.evaluation.paired import paired_accuracy_difference
from tabinv.exceptions import DataError

FAST = settings(max_examples=30, deadline=None, database=None)


def random_case(seed: int, n: int, n_values: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Truth, predictions and a posterior drawn from a few distinct rows (many ties)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, n_values, n)
    rows = rng.dirichlet(np.ones(n_values), size=6)
    posterior = rows[rng.integers(0, 6, n)]
    predicted = np.where(rng.random(n) < 0.6, truth, rng.integers(0, n_values, n))
    return truth, predicted, posterior


def all_present_case(seed: int, n: int, n_values: int) -> tuple[np.ndarray, ...]:
    truth, predicted, posterior = random_case(seed, n, n_values)
    truth[:n_values] = np.arange(n_values)
    return truth, predicted, posterior


def as_tuple(estimate: Estimate) -> tuple[float, float, float]:
    return estimate.value, estimate.low, estimate.high


# -------------------------------------------------- brute-force references (plain loops)


def brute_force_auc(truth: list[int], scores: list[list[float]]) -> float:
    """Macro OVR AUC by comparing every positive/negative pair (binary AUC when K == 2)."""
    n_values = len(scores[0])
    aucs = []
    for value in [1] if n_values == 2 else range(n_values):
        positives = [row[value] for row, t in zip(scores, truth, strict=True) if t == value]
        negatives = [row[value] for row, t in zip(scores, truth, strict=True) if t != value]
        if not positives or not negatives:
            continue
        wins = sum((p > q) + 0.5 * (p == q) for p in positives for q in negatives)
        aucs.append(wins / (len(positives) * len(negatives)))
    return sum(aucs) / len(aucs) if aucs else math.nan


def brute_force_balanced_accuracy(truth: list[int], predicted: list[int]) -> float:
    recalls = []
    for value in sorted(set(truth)):
        rows = [p for t, p in zip(truth, predicted, strict=True) if t == value]
        recalls.append(sum(p == value for p in rows) / len(rows))
    return sum(recalls) / len(recalls)


def brute_force_binary(truth: list[int], predicted: list[int], positive: int) -> dict[str, float]:
    tp = fp = fn = tn = 0
    for t, p in zip(truth, predicted, strict=True):
        tp += t == positive and p == positive
        fp += t != positive and p == positive
        fn += t == positive and p != positive
        tn += t != positive and p != positive
    tpr = tp / (tp + fn) if tp + fn else math.nan
    tnr = tn / (tn + fp) if tn + fp else math.nan
    margins = (tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)
    return {
        "precision": tp / (tp + fp) if tp + fp else math.nan,
        "recall": tpr,
        "fpr": fp / (fp + tn) if fp + tn else math.nan,
        "tnr": tnr,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else math.nan,
        "g_mean": math.sqrt(tpr * tnr),
        "mcc": (tp * tn - fp * fn) / math.sqrt(margins) if margins else math.nan,
        "accuracy": (tp + tn) / len(truth),
    }


# -------------------------------------------------------------------- hand-computed


@pytest.mark.parametrize(
    ("truth", "predicted", "value"),
    [
        ([0, 1, 1, 0], [0, 1, 0, 0], 0.75),
        ([2, 2, 2], [2, 2, 2], 1.0),
        ([0, 1], [1, 0], 0.0),
        ([True, False], [True, True], 0.5),
    ],
)
def test_accuracy_hand_computed(truth: list[int], predicted: list[int], value: float) -> None:
    assert accuracy(truth, predicted).value == value


@pytest.mark.parametrize(
    ("truth", "predicted", "value"),
    [
        ([0, 0, 0, 1], [0, 0, 1, 1], (2 / 3 + 1) / 2),
        ([0, 0, 1, 1, 2, 2], [0, 1, 1, 1, 0, 2], (1 / 2 + 1 + 1 / 2) / 3),
        ([0, 0, 0, 0], [0, 0, 0, 5], 3 / 4),  # predicted value absent from truth
        ([5, 5, 9], [5, 9, 9], (1 / 2 + 1) / 2),  # codes need not be contiguous
    ],
)
def test_balanced_accuracy_hand_computed(
    truth: list[int], predicted: list[int], value: float
) -> None:
    estimate = balanced_accuracy(truth, predicted, n_boot=50)
    assert estimate.value == pytest.approx(value, rel=1e-12)
    assert estimate.low <= estimate.value <= estimate.high


@pytest.mark.parametrize(
    ("truth", "posterior", "value"),
    [
        ([0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]], 1.0),
        ([0, 1], [[0.2, 0.8], [0.7, 0.3]], 0.0),
        ([0, 1, 0, 1], [[0.5, 0.5]] * 4, 0.5),  # all tied
        ([0, 1, 1, 0], [[0.9, 0.1], [0.4, 0.6], [0.6, 0.4], [0.4, 0.6]], 0.625),
        ([1, 1, 1], [[0.5, 0.5]] * 3, math.nan),  # one class only
        ([0, 0, 1], [[0.7, 0.3, 0.0], [0.6, 0.4, 0.0], [0.1, 0.9, 0.0]], 1.0),
    ],
)
def test_auc_hand_computed(truth: list[int], posterior: list[list[float]], value: float) -> None:
    estimate = auc_ovr(truth, posterior, n_boot=50)
    np.testing.assert_allclose(estimate.value, value, equal_nan=True)
    if math.isnan(value):
        assert estimate.to_dict() == pytest.approx(
            {"value": math.nan, "low": math.nan, "high": math.nan}, nan_ok=True
        )


def test_per_value_hand_computed() -> None:
    rows = per_value([0, 0, 1, 1, 1], [0, 1, 1, 1, 0], K=3)
    assert [(r["support"], r["predicted"]) for r in rows] == [(2, 2), (3, 3), (0, 0)]
    assert rows[0]["precision"].value == 0.5 and rows[0]["recall"].value == 0.5
    assert rows[1]["precision"].value == pytest.approx(2 / 3)
    assert not rows[2]["precision"].is_defined and not rows[2]["recall"].is_defined


@pytest.mark.parametrize(
    ("truth", "predicted", "positive", "expected"),
    [
        # tp=2 fn=1 fp=1 tn=2
        (
            [1, 1, 1, 0, 0, 0],
            [1, 1, 0, 1, 0, 0],
            1,
            {
                "precision": 2 / 3,
                "recall": 2 / 3,
                "fpr": 1 / 3,
                "tnr": 2 / 3,
                "f1": 2 / 3,
                "g_mean": 2 / 3,
                "mcc": 1 / 3,
                "accuracy": 2 / 3,
            },
        ),
        # nothing predicted positive: precision and MCC undefined, F1 = 0
        (
            [1, 0, 0],
            [0, 0, 0],
            1,
            {
                "precision": math.nan,
                "recall": 0.0,
                "fpr": 0.0,
                "tnr": 1.0,
                "f1": 0.0,
                "g_mean": 0.0,
                "mcc": math.nan,
                "accuracy": 2 / 3,
            },
        ),
        # positive value absent everywhere: recall, F1, G-mean and MCC undefined
        (
            [0, 2, 0],
            [0, 0, 2],
            1,
            {
                "precision": math.nan,
                "recall": math.nan,
                "fpr": 0.0,
                "tnr": 1.0,
                "f1": math.nan,
                "g_mean": math.nan,
                "mcc": math.nan,
                "accuracy": 1.0,
            },
        ),
    ],
)
def test_binary_metrics_hand_computed(
    truth: list[int], predicted: list[int], positive: int, expected: dict[str, float]
) -> None:
    scores = binary_metrics(truth, predicted, positive, n_boot=50)
    assert list(scores) == list(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(scores[name].value, value, rtol=1e-12, err_msg=name)


@pytest.mark.parametrize(
    ("truth", "column", "k", "value"),
    [
        ([0, 1, 1, 0], [0.5, 0.5, 0.5, 0.2], 1, 0.0),  # tie: record 0 comes first
        ([0, 1, 1, 0], [0.5, 0.5, 0.5, 0.2], 2, 0.5),
        ([0, 1, 1, 0], [0.5, 0.5, 0.5, 0.2], 3, 2 / 3),
        ([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.2], 2, 1.0),
        ([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.2], 4, 0.5),
    ],
)
def test_top_k_precision_hand_computed(
    truth: list[int], column: list[float], k: int, value: float
) -> None:
    posterior = np.column_stack([1 - np.asarray(column), column])
    assert top_k_precision(truth, posterior, positive=1, k=k).value == pytest.approx(value)


@pytest.mark.parametrize(
    ("correct_a", "correct_b", "value"),
    [
        ([1, 1, 1, 0], [1, 0, 0, 0], 0.5),
        ([True, False], [False, True], 0.0),
        ([0, 0, 0], [1, 1, 1], -1.0),
    ],
)
def test_paired_difference_hand_computed(
    correct_a: list[int], correct_b: list[int], value: float
) -> None:
    estimate = paired_accuracy_difference(correct_a, correct_b, n_boot=100)
    assert estimate.value == value
    assert estimate.low <= value <= estimate.high


def test_paired_difference_of_identical_methods_is_exactly_zero() -> None:
    flags = np.random.default_rng(0).random(200) < 0.5
    assert as_tuple(paired_accuracy_difference(flags, flags)) == (0.0, 0.0, 0.0)


def test_paired_difference_interval_matches_normal_approximation() -> None:
    rng = np.random.default_rng(1)
    correct_b = rng.random(4000) < 0.6
    correct_a = np.where(rng.random(4000) < 0.8, correct_b, rng.random(4000) < 0.7)
    estimate = paired_accuracy_difference(correct_a, correct_b, n_boot=1000)
    differences = correct_a.astype(float) - correct_b
    half_width = 1.96 * differences.std(ddof=1) / math.sqrt(differences.size)
    assert estimate.high - estimate.low == pytest.approx(2 * half_width, rel=0.15)
    assert estimate.contains(estimate.value)


# --------------------------------------------------------------- against scikit-learn


@pytest.mark.parametrize(
    ("seed", "n", "n_values"), [(0, 40, 2), (1, 120, 3), (2, 300, 4), (3, 57, 5)]
)
def test_auc_matches_sklearn_with_ties(seed: int, n: int, n_values: int) -> None:
    truth, _, posterior = all_present_case(seed, n, n_values)
    if n_values == 2:
        expected = roc_auc_score(truth, posterior[:, 1])
    else:
        expected = roc_auc_score(
            truth, posterior, multi_class="ovr", average="macro", labels=range(n_values)
        )
    assert auc_ovr(truth, posterior, n_boot=20).value == pytest.approx(expected, rel=1e-12)


def test_auc_binary_uses_column_one_only() -> None:
    truth = np.array([0, 1, 0, 1, 1])
    column = np.array([0.3, 0.3, 0.1, 0.9, 0.2])
    posterior = np.column_stack([1 - column + 1e-9 * np.arange(5), column])  # column 0 untied
    posterior /= posterior.sum(axis=1, keepdims=True)
    expected = roc_auc_score(truth, posterior[:, 1])
    assert auc_ovr(truth, posterior, n_boot=10).value == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize(("seed", "n", "n_values"), [(0, 50, 2), (1, 200, 3), (2, 31, 6)])
def test_per_value_matches_sklearn(seed: int, n: int, n_values: int) -> None:
    truth, predicted, _ = random_case(seed, n, n_values)
    rows = per_value(truth, predicted, K=n_values)
    labels = list(range(n_values))
    options: dict[str, Any] = {"labels": labels, "average": None, "zero_division": np.nan}
    np.testing.assert_allclose(
        [r["precision"].value for r in rows], precision_score(truth, predicted, **options)
    )
    np.testing.assert_allclose(
        [r["recall"].value for r in rows], recall_score(truth, predicted, **options)
    )
    assert [r["support"] for r in rows] == np.bincount(truth, minlength=n_values).tolist()
    assert [r["predicted"] for r in rows] == np.bincount(predicted, minlength=n_values).tolist()


@pytest.mark.parametrize(("seed", "n", "n_values"), [(0, 50, 2), (1, 200, 3), (2, 31, 6)])
def test_binary_metrics_and_balanced_accuracy_match_sklearn(
    seed: int, n: int, n_values: int
) -> None:
    truth, predicted, _ = random_case(seed, n, n_values)
    for positive in range(n_values):
        scores = binary_metrics(truth, predicted, positive, n_boot=20)
        is_true, is_predicted = truth == positive, predicted == positive
        expected = {
            "precision": precision_score(is_true, is_predicted, zero_division=np.nan),
            "recall": recall_score(is_true, is_predicted, zero_division=np.nan),
            "f1": f1_score(is_true, is_predicted, zero_division=np.nan),
            "mcc": matthews_corrcoef(is_true, is_predicted),
        }
        if not scores["mcc"].is_defined:  # scikit-learn reports 0 for an undefined MCC
            assert expected.pop("mcc") == 0.0
        for name, value in expected.items():
            assert scores[name].value == pytest.approx(value, rel=1e-12, nan_ok=True), name
    if set(predicted) <= set(truth):  # otherwise scikit-learn warns
        expected_balanced = balanced_accuracy_score(truth, predicted)
        assert balanced_accuracy(truth, predicted).value == pytest.approx(expected_balanced)


# ------------------------------------------- vectorised replicates vs brute force loops


def copies_per_record(indices: np.ndarray, n: int) -> np.ndarray:
    """(n_boot, n) number of times each record appears in each resample."""
    return np.stack([np.bincount(row, minlength=n) for row in indices])


def rank_auc(truth: np.ndarray, posterior: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """Macro OVR AUC of each resample from average ranks (scipy.stats.rankdata, axis=1)."""
    classes = [1] if posterior.shape[1] == 2 else range(posterior.shape[1])
    labels, per_class = truth[indices], []
    for value in classes:
        ranks = rankdata(posterior[:, value][indices], axis=1)
        positive = labels == value
        n_pos, n_neg = positive.sum(axis=1), (~positive).sum(axis=1)
        u_statistic = np.where(positive, ranks, 0.0).sum(axis=1) - n_pos * (n_pos + 1) / 2
        defined = (n_pos > 0) & (n_neg > 0)
        per_class.append(np.where(defined, u_statistic / np.maximum(n_pos * n_neg, 1), np.nan))
    stacked = np.column_stack(per_class)
    counts = (~np.isnan(stacked)).sum(axis=1)
    return np.where(counts > 0, np.nansum(stacked, axis=1) / np.maximum(counts, 1), np.nan)


@pytest.mark.parametrize(("seed", "n_values"), [(5, 3), (6, 2), (7, 4), (8, 1)])
def test_auc_replicates_match_brute_force_and_ranks(seed: int, n_values: int) -> None:
    truth, _, posterior = random_case(seed, 25, n_values)
    indices = bootstrap_indices(25, 30, random_state=seed)
    batch = auc_ovr_weighted(truth, posterior, copies_per_record(indices, 25))
    expected = [brute_force_auc(truth[row].tolist(), posterior[row].tolist()) for row in indices]
    np.testing.assert_allclose(batch, expected, rtol=1e-12, equal_nan=True)
    np.testing.assert_allclose(
        batch, rank_auc(truth, posterior, indices), rtol=1e-12, equal_nan=True
    )


def test_auc_bootstrap_counts_each_record_copy() -> None:
    truth, _, posterior = random_case(9, 40, 3)
    estimate = auc_ovr(truth, posterior, n_boot=50, random_state=4)
    indices = bootstrap_indices(40, 50, random_state=4)
    replicates = rank_auc(truth, posterior, indices)
    expected = percentile_interval(estimate.value, replicates, confidence=0.95)
    assert as_tuple(estimate) == pytest.approx(as_tuple(expected), rel=1e-12)


def test_confusion_replicates_match_brute_force() -> None:
    truth, predicted, _ = random_case(6, 30, 4)
    indices = bootstrap_indices(30, 40, random_state=1)
    # Confusion matrices of every replicate at once: one bincount over flattened cells.
    cells = truth[indices] * 4 + predicted[indices] + 16 * np.arange(40)[:, None]
    confusion = np.bincount(cells.ravel(), minlength=16 * 40).reshape(40, 4, 4)
    expected = [
        brute_force_balanced_accuracy(truth[r].tolist(), predicted[r].tolist()) for r in indices
    ]
    np.testing.assert_allclose(balanced_accuracy_from_confusion(confusion), expected, rtol=1e-12)
    cells = np.stack([binary_cells(truth[r], predicted[r], 2) for r in indices])
    batch = binary_scores(cells)
    for name in ("f1", "g_mean", "mcc"):
        reference = [
            brute_force_binary(truth[r].tolist(), predicted[r].tolist(), 2)[name] for r in indices
        ]
        np.testing.assert_allclose(batch[name], reference, rtol=1e-12, equal_nan=True)


def test_cell_bootstrap_has_the_distribution_of_record_bootstrap() -> None:
    truth, predicted, _ = random_case(7, 60, 3)
    indices = bootstrap_indices(60, 3000, random_state=2)
    by_records = [
        brute_force_balanced_accuracy(truth[r].tolist(), predicted[r].tolist())
        for r in indices[:400]
    ]
    counts = np.bincount(truth * 3 + predicted, minlength=9)
    by_cells = balanced_accuracy_from_confusion(
        bootstrap_cell_counts(counts, 3000, random_state=3).reshape(-1, 3, 3)
    )
    assert np.mean(by_cells) == pytest.approx(np.mean(by_records), abs=0.01)
    assert np.std(by_cells) == pytest.approx(np.std(by_records), rel=0.15)


# --------------------------------------------------------------------- validation

TRUTH, PREDICTED = np.array([0, 1, 1]), np.array([0, 1, 0])
POSTERIOR = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: accuracy([], []), "non-empty 1-D"),
        (lambda: accuracy([[0, 1]], [[0, 1]]), r"received shape \(1, 2\)"),
        (lambda: accuracy([0.0, 1.0], [0, 1]), "integer codes, received dtype float64"),
        (lambda: accuracy([0, -1], [0, 1]), "codes >= 0"),
        (lambda: accuracy(TRUTH, PREDICTED[:2]), "same length, received 3 and 2"),
        (lambda: balanced_accuracy(TRUTH, PREDICTED, n_boot=0), "n_boot must be an integer >= 1"),
        (lambda: per_value(TRUTH, PREDICTED, K=1), r"truth must hold codes in \[0, 1\)"),
        (lambda: per_value(TRUTH, [0, 3, 0], K=2), r"predicted must hold codes in \[0, 2\)"),
        (lambda: auc_ovr([0, 2, 1], POSTERIOR), r"truth must hold codes in \[0, 2\)"),
        (lambda: auc_ovr(TRUTH, POSTERIOR[:2]), "one row per record"),
        (lambda: auc_ovr(TRUTH, POSTERIOR[:, 0]), r"\(n, K\) array"),
        (lambda: auc_ovr(TRUTH, POSTERIOR * 2), "rows must sum to 1"),
        (lambda: auc_ovr(TRUTH, POSTERIOR - 0.3), "non-negative"),
        (lambda: auc_ovr(TRUTH, POSTERIOR.astype(str)), "numeric"),
        (
            lambda: top_k_precision(TRUTH, POSTERIOR, positive=2, k=1),
            r"positive must be a code in \[0, 2\)",
        ),
        (lambda: top_k_precision(TRUTH, POSTERIOR, positive=1, k=4), "k must be at most"),
        (lambda: top_k_precision(TRUTH, POSTERIOR, positive=1, k=0), "k must be an integer >= 1"),
        (lambda: binary_metrics(TRUTH, PREDICTED, positive=-1), "positive must be an integer >= 0"),
        (lambda: paired_accuracy_difference([1, 2], [0, 1]), "booleans or 0/1"),
        (lambda: paired_accuracy_difference([1, 0], [0, 1, 1]), "same records"),
        (lambda: accuracy(TRUTH, PREDICTED, confidence=1.5), "confidence"),
    ],
)
def test_invalid_input_raises_data_error(call: Callable[[], object], message: str) -> None:
    with pytest.raises(DataError, match=message):
        call()


# ------------------------------------------------------------------- properties


@st.composite
def cases(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    n_values = draw(st.integers(1, 4))
    n = draw(st.integers(1, 25))
    codes = st.lists(st.integers(0, n_values - 1), min_size=n, max_size=n)
    truth, predicted = np.array(draw(codes)), np.array(draw(codes))
    weights = np.array(
        draw(st.lists(st.integers(0, 3), min_size=n * n_values, max_size=n * n_values))
    )
    weights = weights.reshape(n, n_values) + (np.arange(n_values) == 0)  # rows never all zero
    return truth, predicted, weights / weights.sum(axis=1, keepdims=True), n_values


def every_estimate(
    truth: np.ndarray, predicted: np.ndarray, posterior: np.ndarray, n_values: int, seed: int = 0
) -> dict[str, Estimate]:
    estimates = {
        "accuracy": accuracy(truth, predicted),
        "balanced": balanced_accuracy(truth, predicted, n_boot=20, random_state=seed),
        "auc": auc_ovr(truth, posterior, n_boot=20, random_state=seed),
        "paired": paired_accuracy_difference(
            truth == predicted, truth == 0, n_boot=20, random_state=seed
        ),
        "top_k": top_k_precision(truth, posterior, positive=0, k=max(1, truth.size // 2)),
    }
    for k, row in enumerate(per_value(truth, predicted, n_values)):
        estimates |= {f"precision_{k}": row["precision"], f"recall_{k}": row["recall"]}
    for name, estimate in binary_metrics(truth, predicted, 0, n_boot=20, random_state=seed).items():
        estimates[f"binary_{name}"] = estimate
    return estimates


@FAST
@given(case=cases())
def test_estimates_bracket_their_value(
    case: tuple[np.ndarray, np.ndarray, np.ndarray, int],
) -> None:
    for name, estimate in every_estimate(*case).items():
        if all(math.isfinite(x) for x in as_tuple(estimate)):
            assert estimate.low <= estimate.value <= estimate.high, name
        if name != "paired" and estimate.is_defined and not name.startswith("binary_mcc"):
            assert 0.0 <= estimate.value <= 1.0, name
    accuracy_estimate = accuracy(case[0], case[1])
    assert 0.0 <= accuracy_estimate.low <= accuracy_estimate.high <= 1.0


@FAST
@given(case=cases(), seed=st.integers(0, 2**32 - 1))
def test_permuting_records_keeps_point_estimates(
    case: tuple[np.ndarray, np.ndarray, np.ndarray, int], seed: int
) -> None:
    truth, predicted, posterior, n_values = case
    order = np.random.default_rng(seed).permutation(truth.size)
    before = every_estimate(truth, predicted, posterior, n_values)
    after = every_estimate(truth[order], predicted[order], posterior[order], n_values)
    del before["top_k"], after["top_k"]  # ties are broken by record order, on purpose
    for name in before:
        np.testing.assert_allclose(
            after[name].value, before[name].value, rtol=1e-12, equal_nan=True, err_msg=name
        )


@FAST
@given(case=cases(), seed=st.integers(0, 2**32 - 1))
def test_same_seed_gives_identical_results(
    case: tuple[np.ndarray, np.ndarray, np.ndarray, int], seed: int
) -> None:
    first = every_estimate(*case, seed=seed)
    second = every_estimate(*case, seed=seed)
    for name in first:
        assert (
            np.array(as_tuple(first[name])).tobytes() == np.array(as_tuple(second[name])).tobytes()
        ), name
