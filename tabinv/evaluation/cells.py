"""Vectorised statistics computed from confusion cells or weighted records: the same code
serves the point estimate (weights = 1) and every bootstrap replicate at once."""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["auc_ovr_weighted", "balanced_accuracy_from_confusion", "binary_cells",
           "binary_scores", "group_sums",
           "recall_mean_from_cells", "mean_defined", "ratio"]


def ratio(numerator: Any, denominator: Any) -> np.ndarray:
    """Element-wise ``numerator / denominator``, NaN where the denominator is 0."""
    top, bottom = np.broadcast_arrays(
        np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    )
    return np.divide(top, bottom, out=np.full(top.shape, np.nan), where=bottom > 0)


def mean_defined(values: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN; NaN when nothing is defined (no warning)."""
    defined = ~np.isnan(values)
    return ratio(np.where(defined, values, 0.0).sum(axis=-1), defined.sum(axis=-1))


def balanced_accuracy_from_confusion(confusion: np.ndarray) -> np.ndarray:
    """Balanced accuracy of each (..., K, K) confusion matrix (rows = truth)."""
    recall = ratio(np.diagonal(confusion, axis1=-2, axis2=-1), confusion.sum(axis=-1))
    return mean_defined(recall)


def recall_mean_from_cells(cells: np.ndarray) -> np.ndarray:
    """Mean recall over the values present, from (..., values, 2) counts of (missed,
    recovered) records per true value: the balanced accuracy."""
    return mean_defined(ratio(cells[..., 1], cells.sum(axis=-1)))


def group_sums(weights: np.ndarray, group: np.ndarray, n_groups: int) -> np.ndarray:
    """Per-row sums of ``weights`` (B, n) by ``group`` ((n,) or (B, n)): (B, n_groups)."""
    offsets = np.arange(weights.shape[0])[:, np.newaxis] * n_groups
    sums = np.bincount((offsets + group).ravel(), weights.ravel(), weights.shape[0] * n_groups)
    return sums.reshape(weights.shape[0], n_groups)


def auc_ovr_weighted(truth: np.ndarray, posterior: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Macro one-vs-rest AUC of each resample; ``weights[b, i]`` = copies of record i.

    Mann-Whitney with average ranks, computed as the weighted count of (positive, negative)
    pairs where the positive scores higher, ties counting one half. Records are sorted
    once per value present (not once per resample, nor per absent value), so a batch
    costs O(n_boot * n) per value present, whatever the number of candidates.
    """
    n_values = posterior.shape[1]
    # a value no record holds has no positive: its AUC is undefined (NaN) in every
    # resample and left out of the mean, so only the values present are ranked
    classes = [1] if n_values == 2 else np.unique(truth).tolist()
    per_class = np.empty((weights.shape[0], len(classes)))
    for column, value in enumerate(classes):
        ties, group = np.unique(posterior[:, value], return_inverse=True)
        # negatives and positives of each tied score in one pass: cell 2 * tie + positive
        cells = group_sums(weights, 2 * group + (truth == value), 2 * ties.size)
        negative_weight, positive_weight = cells[:, 0::2], cells[:, 1::2]
        negatives_below = np.cumsum(negative_weight, axis=1) - negative_weight
        wins = (positive_weight * (negatives_below + 0.5 * negative_weight)).sum(axis=1)
        pairs = positive_weight.sum(axis=1) * negative_weight.sum(axis=1)
        per_class[:, column] = ratio(wins, pairs)
    return mean_defined(per_class)


def binary_cells(truth: np.ndarray, predicted: np.ndarray, positive: int) -> np.ndarray:
    """Counts ``[tp, fn, fp, tn]`` for one positive value."""
    cell = 2 * (truth != positive) + (predicted != positive)
    return np.bincount(cell, minlength=4)


def binary_scores(cells: np.ndarray) -> dict[str, np.ndarray]:
    """F1, G-mean and MCC of each (..., 4) array of ``[tp, fn, fp, tn]`` counts."""
    tp, fn, fp, tn = np.moveaxis(np.asarray(cells, dtype=float), -1, 0)
    tpr = ratio(tp, tp + fn)
    tnr = ratio(tn, tn + fp)
    mcc_denominator = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "f1": ratio(2.0 * tp, 2.0 * tp + fp + fn),
        "g_mean": np.sqrt(tpr * tnr),
        "mcc": np.clip(ratio(tp * tn - fp * fn, mcc_denominator), -1.0, 1.0),
    }
