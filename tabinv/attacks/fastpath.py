"""Linear and logistic models scored on the candidate grid without building it.

A linear model's decision values on a candidate row are the known part of the record
plus the candidate's part: with the grid's patched columns P (sensitive attributes and
unknown features) and the other columns Q,

    z(record i, grid point g) = X[i, Q] @ coef[:, Q].T + intercept   (base, once per record)
                              + block[g, P] @ coef[:, P].T          (contribution, once per g)

so the (n x G) decision values cost one (n, d) product and one broadcast addition instead
of a model call on n x G rows of width d. The oracle's output follows from them exactly
as the estimator computes it (identity for a regression; scikit-learn's one-vs-rest or
softmax probabilities for logistic regression), then placed on the label's domain, then
rounded or reduced to the predicted label as the oracle does. Tests check the outputs
against the black-box path to 1e-9 (``tests/attacks/test_fastpath.py``).

This is the same information as black-box queries, so it is used at every access level
when :meth:`~tabinv.models.oracle.Oracle.linear_parts` gives the model's parts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.special import expit

from ..models.oracle import LinearParts, Oracle
from .priors import shared_row

__all__ = ["LinearGridScorer"]


class LinearGridScorer:
    """Oracle outputs on the candidate grid of a linear or logistic model.

    Parameters
    ----------
    oracle : Oracle
        Decides the output (regression value, confidences, rounded confidences, label).
    parts : LinearParts
        From ``oracle.linear_parts()``.
    patches : sequence of (slice, (G, width) array)
        The grid's patched columns and their values at every grid point.
    """

    def __init__(self, oracle: Oracle, parts: LinearParts,
                 patches: Sequence[tuple[slice, np.ndarray]]) -> None:
        self.oracle = oracle
        self.link = parts.link
        coef = np.array(parts.coef, dtype=float)  # (m, d)
        n_points = patches[0][1].shape[0] if patches else 1
        contribution = np.zeros((n_points, coef.shape[0]))
        for columns, block in patches:
            contribution += block @ coef[:, columns].T
            coef[:, columns] = 0.0  # the record's own values there are overwritten
        self.known_coef = coef.T  # (d, m): base = encoded @ known_coef + intercept
        self.intercept = np.asarray(parts.intercept, dtype=float)
        self.contribution = contribution  # (G, m)
        model = oracle.model
        self.classes = (np.asarray(model.classes_present_) if model.task == "classification"
                        else None)
        self.n_classes = len(model.domain(model.label)) if self.classes is not None else 0

    @property
    def outputs_per_point(self) -> int:
        """Floats held per (record, grid point) while a chunk is scored."""
        return 1 if self.classes is None else 2 * (self.n_classes + self.contribution.shape[1])

    @property
    def gaussian_shortcut(self) -> bool:
        """Whether :meth:`gaussian_log_scores` applies: a regression answered exactly
        (output access, no rounding)."""
        return (self.classes is None and self.oracle.answers == "output"
                and self.oracle.rounding is None)

    def gaussian_log_scores(self, encoded: np.ndarray, y: np.ndarray, sigma: float,
                            log_prior: np.ndarray) -> np.ndarray:
        """log N(y; output, sigma^2) + log prior on the grid, up to a constant per record.

        With r = (y - base) / sigma per record and c = contribution / sigma per grid
        point, -0.5 (r - c)^2 = r c - 0.5 c^2 - 0.5 r^2, and the last term is the same
        for every candidate of a record: it cancels when the posterior is normalised.
        So the (n, G) scores are one outer product plus a row (two passes over memory
        instead of the outputs and five for the Gaussian).
        """
        base = encoded @ self.known_coef[:, 0] + self.intercept[0]
        residual = (y - base) / sigma
        scaled = self.contribution[:, 0] / sigma
        scores = np.multiply.outer(residual, scaled)
        row = shared_row(log_prior)
        if row is not None:  # the same prior for every record: one row to add
            scores += row - 0.5 * scaled * scaled
        else:
            scores += -0.5 * scaled * scaled
            scores += log_prior
        return scores

    def outputs(self, encoded: np.ndarray) -> np.ndarray:
        """What the oracle answers on every grid row of ``encoded`` records: (n, G, ...).

        Class probabilities are computed class-major, (C, n, G), so that every step is an
        elementwise operation on whole (n, G) planes; the result is returned as an
        (n, G, C) view of them.
        """
        base = encoded @ self.known_coef + self.intercept  # (n, m)
        if self.classes is None:
            return base[:, 0][:, None] + self.contribution[None, :, 0]
        decision = np.empty((base.shape[1], *base.shape[:1], len(self.contribution)))
        # out= keeps (m, n, G) C-ordered (numpy would follow base.T's transposed layout)
        np.add(base.T[:, :, None], self.contribution.T[:, None, :], out=decision)
        present = self._probabilities(decision)
        if np.array_equal(self.classes, np.arange(self.n_classes)):
            full = present
        else:
            full = np.zeros((self.n_classes, *decision.shape[1:]))
            full[self.classes] = present
        if self.oracle.answers == "label":
            return _first_argmax(full)
        rounding = self.oracle.rounding
        if rounding is not None:
            full = np.round(full, rounding, out=full)
        return np.moveaxis(full, 0, 2)

    def _probabilities(self, decision: np.ndarray) -> np.ndarray:
        """scikit-learn's ``LogisticRegression.predict_proba`` from decision values, class
        axis first: (m, n, G) -> (C, n, G)."""
        if self.link == "ovr":
            positive = expit(decision)
            if len(positive) == 1:
                return np.concatenate([1 - positive, positive], axis=0)
            positive /= positive.sum(axis=0)
            return positive
        if len(decision) == 1:
            decision = np.concatenate([-decision, decision], axis=0)
        decision = decision - decision.max(axis=0)
        np.exp(decision, out=decision)
        decision /= decision.sum(axis=0)
        return decision


def _first_argmax(planes: np.ndarray) -> np.ndarray:
    """Index of the largest plane at every position (the first on ties), (C, ...) -> (...)."""
    best = planes[0].copy()
    index = np.zeros(best.shape, dtype=np.int64)
    for c in range(1, len(planes)):
        better = planes[c] > best
        index[better] = c
        np.maximum(best, planes[c], out=best)
    return index
