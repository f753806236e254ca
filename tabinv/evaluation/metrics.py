"""How well an attack recovers a sensitive value: accuracy, AUC and friends, with intervals.

Inputs are integer codes: ``truth`` and ``predicted`` are 1-D arrays of codes in
``[0, K)``; ``posterior`` is an ``(n, K)`` array whose rows sum to 1. Every function is
pure and vectorised; bootstrap replicates are computed all at once, and the same
``random_state`` gives byte-identical results.

Statistics that depend on the records only through a contingency table (balanced
accuracy, F1, G-mean, MCC, paired accuracy differences) are bootstrapped by drawing the
table's cell counts from a multinomial (``intervals.bootstrap_cell_counts``), which has the
same distribution as resampling records. The AUC depends on the scores, so it resamples
record indices (``intervals.bootstrap_indices``); time and memory are O(n_boot * n).

Undefined quantities (a recall with no positive record, an AUC with one class present, an
MCC with an empty margin, ...) are NaN and never raise a division warning.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import DataError
from ..utils import RandomState
from .estimate import Estimate
from .intervals import (
    bootstrap_cell_counts,
    bootstrap_indices,
    check_count,
    percentile_interval,
    wilson,
)

__all__ = [
    "accuracy",
    "auc_ovr",
    "balanced_accuracy",
    "binary_metrics",
    "paired_accuracy_difference",
    "per_value",
    "top_k_precision",
]

_ROW_SUM_TOLERANCE = 1e-6


# ---------------------------------------------------------------- input validation


def _as_codes(values: Any, name: str) -> np.ndarray:
    """A non-empty 1-D int64 array of non-negative codes, or :class:`DataError`."""
    codes = np.asarray(values)
    if codes.ndim != 1 or codes.size == 0:
        raise DataError(f"{name} must be a non-empty 1-D array, received shape {codes.shape}")
    if codes.dtype.kind not in "iub":
        raise DataError(f"{name} must hold integer codes, received dtype {codes.dtype}")
    codes = codes.astype(np.int64)
    if codes.min() < 0:
        raise DataError(f"{name} must hold codes >= 0, received {codes.min()}")
    return codes


def _check_below(codes: np.ndarray, name: str, n_values: int) -> None:
    if codes.max() >= n_values:
        raise DataError(
            f"{name} must hold codes in [0, {n_values}), received the code {codes.max()}"
        )


def _check_pair(truth: Any, predicted: Any) -> tuple[np.ndarray, np.ndarray]:
    true_codes = _as_codes(truth, "truth")
    predicted_codes = _as_codes(predicted, "predicted")
    if true_codes.shape != predicted_codes.shape:
        raise DataError(
            "truth and predicted must have the same length, received "
            f"{true_codes.size} and {predicted_codes.size}"
        )
    return true_codes, predicted_codes


def _as_flags(values: Any, name: str) -> np.ndarray:
    """A non-empty 1-D boolean array (bool or 0/1 integers), or :class:`DataError`."""
    flags = _as_codes(values, name)
    if flags.max() > 1:
        raise DataError(f"{name} must hold booleans or 0/1, received the value {flags.max()}")
    return flags.astype(bool)


def _check_posterior(truth: Any, posterior: Any) -> tuple[np.ndarray, np.ndarray]:
    true_codes = _as_codes(truth, "truth")
    scores = np.asarray(posterior)
    if scores.dtype.kind not in "iuf" or scores.ndim != 2 or scores.shape[1] == 0:
        raise DataError(
            f"posterior must be a numeric (n, K) array with K >= 1, received shape "
            f"{scores.shape} and dtype {scores.dtype}"
        )
    scores = scores.astype(float)
    if scores.shape[0] != true_codes.size:
        raise DataError(
            f"posterior must have one row per record ({true_codes.size}), received "
            f"{scores.shape[0]} rows"
        )
    if not np.isfinite(scores).all() or scores.min() < 0.0:
        raise DataError("posterior must hold finite non-negative probabilities")
    worst = float(np.abs(scores.sum(axis=1) - 1.0).max())
    if worst > _ROW_SUM_TOLERANCE:
        raise DataError(f"posterior rows must sum to 1, received a row summing to {1 + worst:g}")
    _check_below(true_codes, "truth", scores.shape[1])
    return true_codes, scores


# ------------------------------------------------------- vectorised statistics


def _ratio(numerator: Any, denominator: Any) -> np.ndarray:
    """Element-wise ``numerator / denominator``, NaN where the denominator is 0."""
    top, bottom = np.broadcast_arrays(
        np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    )
    return np.divide(top, bottom, out=np.full(top.shape, np.nan), where=bottom > 0)


def _mean_defined(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN; NaN when nothing is defined (no warning)."""
    defined = ~np.isnan(values)
    return _ratio(np.where(defined, values, 0.0).sum(axis=-1), defined.sum(axis=-1))


def _balanced_accuracy_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Balanced accuracy of each (..., K, K) confusion matrix (rows = truth)."""
    recall = _ratio(np.diagonal(confusion, axis1=-2, axis2=-1), confusion.sum(axis=-1))
    return _mean_defined(recall)


def _group_sums(weights: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-row sums of ``weights`` (B, n) by ``group`` ((n,) or (B, n)): (B, n_groups)."""
    offsets = np.arange(weights.shape[0])[:, np.newaxis] * n_groups
    sums = np.bincount((offsets + group).ravel(), weights.ravel(), weights.shape[0] * n_groups)
    return sums.reshape(weights.shape[0], n_groups)


def _auc_ovr_weighted(truth: np.ndarray, posterior: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Macro one-vs-rest AUC of each resample; ``weights[b, i]`` = copies of record i.

    Mann-Whitney with average ranks, computed as the weighted count of (positive, negative)
    pairs where the positive scores higher, ties counting one half. Records are sorted
    once per value (not once per resample), so a batch costs O(n_boot * n).
    """
    n_values = posterior.shape[1]
    classes = [1] if n_values == 2 else list(range(n_values))
    per_class = np.empty((weights.shape[0], len(classes)))
    for column, value in enumerate(classes):
        ties, group = np.unique(posterior[:, value], return_inverse=True)
        positive = truth == value
        positive_weight = _group_sums(weights * positive, group, ties.size)
        negative_weight = _group_sums(weights * ~positive, group, ties.size)
        negatives_below = np.cumsum(negative_weight, axis=1) - negative_weight
        wins = (positive_weight * (negatives_below + 0.5 * negative_weight)).sum(axis=1)
        pairs = positive_weight.sum(axis=1) * negative_weight.sum(axis=1)
        per_class[:, column] = _ratio(wins, pairs)
    return _mean_defined(per_class)


def _binary_cells(truth: np.ndarray, predicted: np.ndarray, positive: int) -> np.ndarray:
    """Counts ``[tp, fn, fp, tn]`` for one positive value."""
    cell = 2 * (truth != positive) + (predicted != positive)
    return np.bincount(cell, minlength=4)


def _binary_scores(cells: np.ndarray) -> dict[str, np.ndarray]:
    """F1, G-mean and MCC of each (..., 4) array of ``[tp, fn, fp, tn]`` counts."""
    tp, fn, fp, tn = np.moveaxis(np.asarray(cells, dtype=float), -1, 0)
    tpr = _ratio(tp, tp + fn)
    tnr = _ratio(tn, tn + fp)
    mcc_denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "f1": _ratio(2.0 * tp, 2.0 * tp + fp + fn),
        "g_mean": np.sqrt(tpr * tnr),
        "mcc": np.clip(_ratio(tp * tn - fp * fn, mcc_denominator), -1.0, 1.0),
    }


# ------------------------------------------------------------------ public API


def accuracy(truth: Any, predicted: Any, *, confidence: float = 0.95) -> Estimate:
    """Share of records whose value was recovered exactly, with a Wilson interval.

    Parameters
    ----------
    truth, predicted : array-like of int, shape (n,)
        True and predicted codes.
    confidence : float, default 0.95
        Coverage of the interval.

    Returns
    -------
    Estimate

    Examples
    --------
    >>> accuracy([0, 1, 1, 0], [0, 1, 0, 0]).value
    0.75
    """
    true_codes, predicted_codes = _check_pair(truth, predicted)
    return wilson(int((true_codes == predicted_codes).sum()), true_codes.size, confidence)


def balanced_accuracy(
    truth: Any,
    predicted: Any,
    n_boot: int = 200,
    random_state: RandomState = 0,
    *,
    confidence: float = 0.95,
) -> Estimate:
    """Mean per-value recall over the values present in ``truth``, bootstrap interval.

    Parameters
    ----------
    truth, predicted : array-like of int, shape (n,)
        True and predicted codes.
    n_boot, random_state, confidence
        Bootstrap replicates, their seed, and the coverage of the percentile interval.

    Returns
    -------
    Estimate
        Equal to :func:`sklearn.metrics.balanced_accuracy_score`.

    Examples
    --------
    >>> round(balanced_accuracy([0, 0, 0, 1], [0, 0, 1, 1]).value, 4)
    0.8333
    """
    true_codes, predicted_codes = _check_pair(truth, predicted)
    values, codes = np.unique(np.concatenate([true_codes, predicted_codes]), return_inverse=True)
    size, n_records = values.size, true_codes.size
    counts = np.bincount(codes[:n_records] * size + codes[n_records:], minlength=size**2)
    point = _balanced_accuracy_from_confusion(counts.reshape(size, size))
    replicates = bootstrap_cell_counts(counts, n_boot, random_state).reshape(-1, size, size)
    scores = _balanced_accuracy_from_confusion(replicates)
    return percentile_interval(float(point), scores, confidence)


def auc_ovr(
    truth: Any,
    posterior: Any,
    n_boot: int = 200,
    random_state: RandomState = 0,
    *,
    confidence: float = 0.95,
) -> Estimate:
    """One-vs-rest macro AUC of the posterior, with a bootstrap percentile interval.

    Each value's AUC is the Mann-Whitney statistic on average ranks (ties count one half);
    the macro average runs over the values with both positive and negative records, in
    each bootstrap replicate separately. With ``K == 2`` it is the AUC of column 1.

    Parameters
    ----------
    truth : array-like of int, shape (n,)
        True codes in ``[0, K)``.
    posterior : array-like of float, shape (n, K)
        Posterior probabilities; rows sum to 1.
    n_boot, random_state, confidence
        Bootstrap replicates (memory O(n_boot * n)), their seed, and the coverage.

    Returns
    -------
    Estimate
        NaN when no value has both positive and negative records. With all K values
        present, equal to ``roc_auc_score(truth, posterior, multi_class="ovr",
        average="macro", labels=range(K))``.

    References
    ----------
    D. J. Hand and R. J. Till, Machine Learning 45, 2001 (one-vs-rest averaging).

    Examples
    --------
    >>> auc_ovr([0, 1, 1], [[0.8, 0.2], [0.3, 0.7], [0.6, 0.4]]).value
    1.0
    """
    true_codes, scores = _check_posterior(truth, posterior)
    n_records = true_codes.size
    point = float(_auc_ovr_weighted(true_codes, scores, np.ones((1, n_records)))[0])
    indices = bootstrap_indices(n_records, n_boot, random_state)
    copies = _group_sums(np.ones(indices.shape), indices, n_records)
    return percentile_interval(point, _auc_ovr_weighted(true_codes, scores, copies), confidence)


def per_value(
    truth: Any, predicted: Any, K: int, *, confidence: float = 0.95
) -> list[dict[str, Any]]:
    """Precision and recall of each value ``0 .. K-1``, with Wilson intervals.

    Parameters
    ----------
    truth, predicted : array-like of int, shape (n,)
        True and predicted codes in ``[0, K)``.
    K : int
        Number of values the sensitive attribute can take.
    confidence : float, default 0.95
        Coverage of the intervals.

    Returns
    -------
    list of dict
        Entry ``k``: ``"precision"`` and ``"recall"`` (:class:`Estimate`, NaN when the
        denominator is 0), ``"support"`` (records truly ``k``) and ``"predicted"``
        (records predicted ``k``).

    Examples
    --------
    >>> rows = per_value([0, 1, 1], [0, 1, 0], K=2)
    >>> rows[0]["precision"].value, rows[1]["recall"].value, rows[1]["support"]
    (0.5, 0.5, 2)
    """
    true_codes, predicted_codes = _check_pair(truth, predicted)
    size = check_count(K, "K", minimum=1)
    _check_below(true_codes, "truth", size)
    _check_below(predicted_codes, "predicted", size)
    cells = np.bincount(true_codes * size + predicted_codes, minlength=size**2)
    confusion = cells.reshape(size, size)
    hits, support, called = confusion.diagonal(), confusion.sum(1), confusion.sum(0)
    return [
        {
            "precision": wilson(int(hits[k]), int(called[k]), confidence),
            "recall": wilson(int(hits[k]), int(support[k]), confidence),
            "support": int(support[k]),
            "predicted": int(called[k]),
        }
        for k in range(size)
    ]


def paired_accuracy_difference(
    correct_a: Any,
    correct_b: Any,
    n_boot: int = 1000,
    random_state: RandomState = 0,
    *,
    confidence: float = 0.95,
) -> Estimate:
    """Accuracy of A minus accuracy of B on the same records, paired bootstrap interval.

    Leakage is reported this way: attack accuracy minus imputation accuracy on the same
    targets (Jayaraman and Evans, CCS 2022). Records are resampled together, so the
    interval accounts for the correlation between the two methods.

    Parameters
    ----------
    correct_a, correct_b : array-like of bool (or 0/1), shape (n,)
        Whether method A (resp. B) recovered each record's value.
    n_boot, random_state, confidence
        Bootstrap replicates, their seed, and the coverage of the percentile interval.

    Returns
    -------
    Estimate
        ``mean(correct_a) - mean(correct_b)``; ``is_above(0.0)`` says A beats B.

    Examples
    --------
    >>> paired_accuracy_difference([1, 1, 1, 0], [1, 0, 0, 0]).value
    0.5
    """
    flags_a, flags_b = _as_flags(correct_a, "correct_a"), _as_flags(correct_b, "correct_b")
    if flags_a.shape != flags_b.shape:
        raise DataError(
            "correct_a and correct_b must describe the same records, received lengths "
            f"{flags_a.size} and {flags_b.size}"
        )
    cells = np.bincount(2 * flags_a + flags_b, minlength=4)  # (a, b) = 00, 01, 10, 11
    replicates = bootstrap_cell_counts(cells, n_boot, random_state)
    differences = (replicates[:, 2] - replicates[:, 1]) / flags_a.size
    return percentile_interval((cells[2] - cells[1]) / flags_a.size, differences, confidence)


def binary_metrics(
    truth: Any,
    predicted: Any,
    positive: int,
    n_boot: int = 200,
    random_state: RandomState = 0,
    *,
    confidence: float = 0.95,
) -> dict[str, Estimate]:
    """Metrics for recovering one sensitive value (``positive``) against all others.

    Parameters
    ----------
    truth, predicted : array-like of int, shape (n,)
        True and predicted codes.
    positive : int
        The code treated as the positive class (it may be absent from the data).
    n_boot, random_state, confidence
        Bootstrap replicates for ``f1``, ``g_mean`` and ``mcc``, their seed, and the
        coverage of all intervals.

    Returns
    -------
    dict of str to Estimate
        ``precision``, ``recall`` (TPR), ``fpr``, ``tnr``, ``f1``, ``g_mean``
        (sqrt(TPR * TNR)), ``mcc`` and ``accuracy``. F1, G-mean and MCC have bootstrap
        intervals, the others Wilson intervals. Undefined values are NaN (scikit-learn
        reports 0 for an undefined F1 or MCC).

    References
    ----------
    Mehnaz et al., USENIX Security 2022 (G-mean for imbalanced sensitive values).

    Examples
    --------
    >>> scores = binary_metrics([1, 1, 0, 0], [1, 0, 0, 0], positive=1)
    >>> scores["precision"].value, scores["recall"].value, scores["fpr"].value
    (1.0, 0.5, 0.0)
    """
    true_codes, predicted_codes = _check_pair(truth, predicted)
    cells = _binary_cells(true_codes, predicted_codes, check_count(positive, "positive"))
    tp, fn, fp, tn = (int(count) for count in cells)
    point = _binary_scores(cells)
    replicates = _binary_scores(bootstrap_cell_counts(cells, n_boot, random_state))
    bootstrapped = {
        name: percentile_interval(float(point[name]), replicates[name], confidence)
        for name in ("f1", "g_mean", "mcc")
    }
    return {
        "precision": wilson(tp, tp + fp, confidence),
        "recall": wilson(tp, tp + fn, confidence),
        "fpr": wilson(fp, fp + tn, confidence),
        "tnr": wilson(tn, fp + tn, confidence),
        **bootstrapped,
        "accuracy": wilson(tp + tn, true_codes.size, confidence),
    }


def top_k_precision(
    truth: Any, posterior: Any, positive: int, k: int, *, confidence: float = 0.95
) -> Estimate:
    """Share of true positives among the ``k`` records with the highest posterior.

    Parameters
    ----------
    truth : array-like of int, shape (n,)
        True codes in ``[0, K)``.
    posterior : array-like of float, shape (n, K)
        Posterior probabilities; rows sum to 1.
    positive : int
        The code whose posterior ranks the records.
    k : int
        Records kept, ``1 <= k <= n``; ties are broken by record order (stable sort).
    confidence : float, default 0.95
        Coverage of the Wilson interval.

    Returns
    -------
    Estimate

    Examples
    --------
    >>> top_k_precision([1, 0, 1], [[0.1, 0.9], [0.2, 0.8], [0.9, 0.1]], 1, k=2).value
    0.5
    """
    true_codes, scores = _check_posterior(truth, posterior)
    column, top = check_count(positive, "positive"), check_count(k, "k", minimum=1)
    if column >= scores.shape[1]:
        raise DataError(f"positive must be a code in [0, {scores.shape[1]}), received {column}")
    if top > true_codes.size:
        raise DataError(f"k must be at most the number of records, {true_codes.size}; got {top}")
    order = np.argsort(-scores[:, column], kind="stable")[:top]
    return wilson(int((true_codes[order] == column).sum()), top, confidence)
