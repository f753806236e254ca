"""Likelihood models pi(y | model output): one per kind of access.

Each takes the oracle's outputs for the candidate grid, shaped (n, G, ...) where G
enumerates candidate x unknown-feature combinations, and the attacker's label for each
record, and returns log pi(y | output) of shape (n, G). All are pure functions.
"""

from __future__ import annotations

import numpy as np

from ..exceptions import AttackError

__all__ = ["gaussian_log_likelihood", "confidence_log_likelihood", "label_confidence",
           "confusion_log_likelihood", "confusion_table", "LOG_FLOOR"]

#: probabilities below this count as this (a zero confidence must not veto a candidate
#: outright: the model is not the truth)
LOG_FLOOR = 1e-12


def gaussian_log_likelihood(outputs: np.ndarray, y: np.ndarray, sigma: float) -> np.ndarray:
    """log Normal(y; output, sigma^2) for regression outputs (n, G) and labels (n,)."""
    if not sigma > 0:
        raise AttackError(f"residual sigma must be positive, got {sigma!r}")
    z = (y[:, None] - outputs) / sigma
    return -0.5 * z * z - np.log(sigma) - 0.5 * np.log(2.0 * np.pi)


#: up to this many classes, confidences are picked class by class (faster than a gather)
CLASSWISE = 16


def label_confidence(outputs: np.ndarray, y: np.ndarray,
                     out: np.ndarray | None = None) -> np.ndarray:
    """The reported confidence of each record's label on every grid point, (n, G), at
    least ``LOG_FLOOR``; outputs (n, G, C), labels (n,) class indices."""
    if len(y) and (y.min() < 0 or y.max() >= outputs.shape[2]):
        raise AttackError(f"label index out of range for {outputs.shape[2]} classes")
    chosen = np.empty(outputs.shape[:2]) if out is None else out
    if outputs.shape[2] <= CLASSWISE:
        for c in range(outputs.shape[2]):
            records = y == c
            chosen[records] = outputs[records, :, c]
    else:
        chosen[...] = np.take_along_axis(outputs, y[:, None, None], axis=2)[:, :, 0]
    return np.maximum(chosen, LOG_FLOOR, out=chosen)


def confidence_log_likelihood(outputs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """log f_y(x): the reported confidence of the record's label, outputs (n, G, C)."""
    chosen = label_confidence(outputs, y)
    return np.log(chosen, out=chosen)


def confusion_table(confusion: np.ndarray, form: str = "bayes",
                    smoothing: float = 1.0) -> np.ndarray:
    """log pi(y | predicted) as a (C true, C predicted) table from confusion counts.

    ``bayes`` (default) is P(true = y | predicted), the column-normalised confusion
    matrix: the Bayes-consistent likelihood of the observed label given the model's
    answer. ``row`` is P(predicted | true = y), the row-normalised form some public
    code uses. ``smoothing`` is added to every count.
    """
    counts = np.asarray(confusion, dtype=float) + smoothing
    if form not in ("bayes", "row"):
        raise AttackError(f"confusion form {form!r} is not 'bayes' or 'row'")
    axis = 0 if form == "bayes" else 1
    totals = counts.sum(axis=axis, keepdims=True)
    # a class never predicted (bayes) or never true (row) carries no information: uniform
    table = np.where(totals > 0, counts / np.where(totals > 0, totals, 1.0),
                     1.0 / counts.shape[0])
    return np.log(np.maximum(table, LOG_FLOOR))


def confusion_log_likelihood(outputs: np.ndarray, y: np.ndarray,
                             log_table: np.ndarray) -> np.ndarray:
    """log pi(y | predicted label) for label outputs (n, G) and labels (n,)."""
    return log_table[y[:, None], outputs]
