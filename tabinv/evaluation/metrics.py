"""How well an attack recovers a sensitive value: accuracy, AUC and friends, with intervals.

Inputs are integer codes: ``truth`` and ``predicted`` are 1-D arrays of codes in
``[0, K)``; ``posterior`` is an ``(n, K)`` array whose rows sum to 1. Every function is
pure and vectorised; bootstrap replicates are computed all at once, and the same
``random_state`` gives byte-identical results.

Statistics that depend on the records only through a contingency table (balanced
accuracy, F1, G-mean, MCC; the paired differences of ``paired``) are bootstrapped by drawing the
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
from .cells import (
    auc_ovr_weighted,
    balanced_accuracy_from_confusion,
    binary_cells,
    binary_scores,
    group_sums,
    recall_mean_from_cells,
)
from .estimate import Estimate
from .inputs import check_below, check_pair, check_posterior
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
    "per_value",
    "top_k_precision",
]


#: confusion cells bootstrapped as such (above: merged, see ``balanced_accuracy``)
MAX_CONFUSION_CELLS = 4096


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
    true_codes, predicted_codes = check_pair(truth, predicted)
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

    Notes
    -----
    The replicates draw the confusion matrix's cells; above ``MAX_CONFUSION_CELLS``
    cells (values seen, squared) they draw the (true value, recovered or not) cells
    instead: the same distribution of recalls (merged multinomial cells are
    multinomial), in O(n_boot * values) memory instead of O(n_boot * values^2).

    Examples
    --------
    >>> round(balanced_accuracy([0, 0, 0, 1], [0, 0, 1, 1]).value, 4)
    0.8333
    """
    true_codes, predicted_codes = check_pair(truth, predicted)
    values, codes = np.unique(np.concatenate([true_codes, predicted_codes]), return_inverse=True)
    size, n_records = values.size, true_codes.size
    if size * size > MAX_CONFUSION_CELLS:  # many values (joint candidates): see Notes
        true_index = codes[:n_records]
        hit = true_index == codes[n_records:]
        cells = np.bincount(true_index * 2 + hit, minlength=2 * size)
        point = recall_mean_from_cells(cells.reshape(size, 2))
        replicates = bootstrap_cell_counts(cells, n_boot, random_state).reshape(-1, size, 2)
        return percentile_interval(float(point), recall_mean_from_cells(replicates),
                                   confidence)
    counts = np.bincount(codes[:n_records] * size + codes[n_records:], minlength=size**2)
    point = balanced_accuracy_from_confusion(counts.reshape(size, size))
    replicates = bootstrap_cell_counts(counts, n_boot, random_state).reshape(-1, size, size)
    scores = balanced_accuracy_from_confusion(replicates)
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
    true_codes, scores = check_posterior(truth, posterior)
    n_records = true_codes.size
    point = float(auc_ovr_weighted(true_codes, scores, np.ones((1, n_records)))[0])
    indices = bootstrap_indices(n_records, n_boot, random_state)
    copies = group_sums(np.ones(indices.shape), indices, n_records)
    return percentile_interval(point, auc_ovr_weighted(true_codes, scores, copies), confidence)


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
    true_codes, predicted_codes = check_pair(truth, predicted)
    size = check_count(K, "K", minimum=1)
    check_below(true_codes, "truth", size)
    check_below(predicted_codes, "predicted", size)
    support = np.bincount(true_codes, minlength=size)  # O(K), not a K x K confusion
    called = np.bincount(predicted_codes, minlength=size)
    hits = np.bincount(true_codes[true_codes == predicted_codes], minlength=size)
    return [
        {
            "precision": wilson(int(hits[k]), int(called[k]), confidence),
            "recall": wilson(int(hits[k]), int(support[k]), confidence),
            "support": int(support[k]),
            "predicted": int(called[k]),
        }
        for k in range(size)
    ]


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
    true_codes, predicted_codes = check_pair(truth, predicted)
    cells = binary_cells(true_codes, predicted_codes, check_count(positive, "positive"))
    tp, fn, fp, tn = (int(count) for count in cells)
    point = binary_scores(cells)
    replicates = binary_scores(bootstrap_cell_counts(cells, n_boot, random_state))
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
    true_codes, scores = check_posterior(truth, posterior)
    column, top = check_count(positive, "positive"), check_count(k, "k", minimum=1)
    if column >= scores.shape[1]:
        raise DataError(f"positive must be a code in [0, {scores.shape[1]}), received {column}")
    if top > true_codes.size:
        raise DataError(f"k must be at most the number of records, {true_codes.size}; got {top}")
    order = np.argsort(-scores[:, column], kind="stable")[:top]
    return wilson(int((true_codes[order] == column).sum()), top, confidence)
