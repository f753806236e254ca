"""Membership metrics as the field reports them: ROC AUC, TPR at a fixed low FPR and the
membership advantage, each with a bootstrap interval.

Every metric reads one ROC curve over *all* thresholds (every distinct score), computed
by sorting once and taking cumulative counts. The bootstrap resamples members and
non-members separately (each replicate keeps both group sizes), seeded, and computes
every replicate's curve at once as a (B, thresholds) matrix: no Python loop over
records or replicates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..evaluation.estimate import Estimate
from ..evaluation.intervals import check_confidence, check_count, percentile_interval
from ..exceptions import DataError
from ..utils import RandomState, check_random_state

__all__ = ["MembershipMetrics", "membership_metrics", "roc_points", "check_scores",
           "DEFAULT_FPRS"]

#: the false-positive rates at which the TPR is reported (0.1 % and 1 %)
DEFAULT_FPRS = (0.001, 0.01)
#: the FPR grid of the log-log ROC curve kept in a result
ROC_GRID = tuple(float(f) for f in np.logspace(-4, 0, 41))
#: bootstrap replicates times records above this are refused (memory)
MAX_BOOT_CELLS = 50_000_000


def check_scores(scores: Any, name: str) -> np.ndarray:
    """``scores`` as a 1-D float array of finite numbers with at least one entry.

    Raises
    ------
    DataError
        Not 1-D, empty, or holding NaN or infinite values.
    """
    try:
        values = np.asarray(scores, dtype=float)
    except (TypeError, ValueError):
        raise DataError(f"{name} must be numbers, received {type(scores).__name__}") from None
    if values.ndim != 1 or values.size == 0:
        raise DataError(f"{name} must be a non-empty 1-D array of scores, received shape "
                        f"{values.shape}")
    if not np.isfinite(values).all():
        raise DataError(f"{name} holds {int((~np.isfinite(values)).sum())} NaN or infinite "
                        "score(s); every score must be a finite number")
    return values


def _curves(member_scores: np.ndarray, non_member_scores: np.ndarray,
            member_weights: np.ndarray, non_member_weights: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds) for each row of weights: (B, G + 1), (B, G + 1), (G + 1,).

    Thresholds are the distinct scores, descending, after ``+inf``; point ``g`` counts
    the records with a score >= ``thresholds[g]`` as predicted members.
    """
    scores = np.concatenate([member_scores, non_member_scores])
    distinct, group = np.unique(-scores, return_inverse=True)  # ascending in -score
    n_groups = distinct.size
    weights = np.concatenate([member_weights, np.zeros_like(non_member_weights)], axis=1)
    order = np.argsort(group, kind="stable")
    starts = np.searchsorted(group[order], np.arange(n_groups))
    members_per_group = np.add.reduceat(weights[:, order], starts, axis=1)
    weights = np.concatenate([np.zeros_like(member_weights), non_member_weights], axis=1)
    non_members_per_group = np.add.reduceat(weights[:, order], starts, axis=1)
    zero = np.zeros((weights.shape[0], 1))
    tp = np.concatenate([zero, np.cumsum(members_per_group, axis=1)], axis=1)
    fp = np.concatenate([zero, np.cumsum(non_members_per_group, axis=1)], axis=1)
    thresholds = np.concatenate([[np.inf], -distinct])
    return (fp / non_member_weights.sum(axis=1, keepdims=True),
            tp / member_weights.sum(axis=1, keepdims=True), thresholds)


def _auc(fpr: np.ndarray, tpr: np.ndarray) -> np.ndarray:
    """Trapezoid area under each row's curve (ties count one half)."""
    return np.sum(np.diff(fpr, axis=1) * (tpr[:, 1:] + tpr[:, :-1]) / 2.0, axis=1)


def _tpr_at(fpr: np.ndarray, tpr: np.ndarray, level: float) -> np.ndarray:
    """Each row's highest TPR among thresholds whose FPR is at most ``level``."""
    return np.where(fpr <= level + 1e-12, tpr, 0.0).max(axis=1)


def roc_points(member_scores: Any, non_member_scores: Any
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve over every threshold: higher scores mean "member".

    Parameters
    ----------
    member_scores, non_member_scores : array-like of float
        Scores of the training members and of the non-members.

    Returns
    -------
    fpr, tpr, thresholds : numpy.ndarray
        One point per distinct score (descending), after the point (0, 0) at
        threshold ``+inf``; a record is called a member when its score >= threshold.

    Raises
    ------
    DataError
        Empty, non-1-D or non-finite scores.

    Examples
    --------
    >>> fpr, tpr, _ = roc_points([0.9, 0.4], [0.5, 0.1])
    >>> fpr.tolist(), tpr.tolist()
    ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    members = check_scores(member_scores, "member_scores")
    non_members = check_scores(non_member_scores, "non_member_scores")
    fpr, tpr, thresholds = _curves(members, non_members, np.ones((1, members.size)),
                                   np.ones((1, non_members.size)))
    return fpr[0], tpr[0], thresholds


@dataclass(frozen=True)
class MembershipMetrics:
    """How well scores separate members from non-members.

    Attributes
    ----------
    auc : Estimate
        Area under the ROC curve (0.5: no better than guessing).
    tpr_at_fpr : tuple of (float, Estimate)
        TPR at each fixed FPR: the best TPR among thresholds whose FPR is at most it.
    advantage : Estimate
        Membership advantage, max over thresholds of TPR - FPR (Yeom et al. 2018).
    n_members, n_non_members : int
        Records scored in each group.
    smallest_fpr : float
        ``1 / n_non_members``: a TPR at an FPR below it is the TPR with no false
        positive at all, not a measurement at that FPR.
    roc : tuple of (float, float)
        (FPR, TPR) on a log-spaced FPR grid from 1e-4 to 1, for a log-log ROC plot.
    """

    auc: Estimate
    tpr_at_fpr: tuple[tuple[float, Estimate], ...]
    advantage: Estimate
    n_members: int
    n_non_members: int
    smallest_fpr: float
    roc: tuple[tuple[float, float], ...]

    def tpr(self, fpr: float) -> Estimate:
        """The TPR estimate at ``fpr`` (one of the reported FPRs)."""
        for level, estimate in self.tpr_at_fpr:
            if abs(level - fpr) < 1e-12:
                return estimate
        raise DataError(f"no TPR was computed at FPR {fpr!r}; computed at "
                        f"{[level for level, _ in self.tpr_at_fpr]}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready plain data."""
        return {"auc": self.auc.to_dict(),
                "tpr_at_fpr": [{"fpr": level, **e.to_dict()} for level, e in self.tpr_at_fpr],
                "advantage": self.advantage.to_dict(), "n_members": self.n_members,
                "n_non_members": self.n_non_members, "smallest_fpr": self.smallest_fpr,
                "roc": [list(point) for point in self.roc]}


def _check_fprs(fprs: Any) -> tuple[float, ...]:
    levels = tuple(float(f) for f in np.atleast_1d(np.asarray(fprs, dtype=float)))
    if not levels or not all(0.0 < f < 1.0 for f in levels):
        raise DataError(f"fprs must be numbers strictly between 0 and 1, received {fprs!r}")
    return levels


def _replicate_weights(n: int, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, n) counts of each record in each bootstrap resample of ``n`` records."""
    draws = rng.integers(0, n, size=(n_boot, n))
    flat = draws + np.arange(n_boot)[:, None] * n
    return np.bincount(flat.ravel(), minlength=n_boot * n).reshape(n_boot, n).astype(float)


def membership_metrics(member_scores: Any, non_member_scores: Any, *,
                       fprs: Any = DEFAULT_FPRS, n_boot: int = 200,
                       confidence: float = 0.95,
                       random_state: RandomState = 0) -> MembershipMetrics:
    """AUC, TPR at fixed FPRs and membership advantage, with bootstrap intervals.

    Parameters
    ----------
    member_scores, non_member_scores : array-like of float
        Membership scores (higher: more likely a member) of the target's training
        members and of records it never saw.
    fprs : sequence of float, default (0.001, 0.01)
        False-positive rates at which the TPR is reported.
    n_boot : int, default 200
        Bootstrap replicates; members and non-members are resampled separately.
    confidence : float, default 0.95
        Coverage of the percentile intervals.
    random_state : int, Generator or None
        Seed of the bootstrap; the same seed gives identical intervals.

    Returns
    -------
    MembershipMetrics

    Raises
    ------
    DataError
        Empty or non-finite scores, bad ``fprs``, ``n_boot`` or ``confidence``, or more
        bootstrap cells than :data:`MAX_BOOT_CELLS`.

    References
    ----------
    S. Yeom, I. Giacomelli, M. Fredrikson, S. Jha, "Privacy Risk in Machine Learning",
    CSF 2018 (advantage). N. Carlini et al., "Membership Inference Attacks From First
    Principles", IEEE S&P 2022 (TPR at low FPR).

    Examples
    --------
    >>> m = membership_metrics([0.9, 0.8, 0.3], [0.4, 0.2, 0.1], n_boot=20)
    >>> round(m.auc.value, 3), round(m.advantage.value, 3)
    (0.889, 0.667)
    """
    members = check_scores(member_scores, "member_scores")
    non_members = check_scores(non_member_scores, "non_member_scores")
    levels = _check_fprs(fprs)
    replicates = check_count(n_boot, "n_boot", minimum=1)
    level = check_confidence(confidence)
    cells = replicates * (members.size + non_members.size)
    if cells > MAX_BOOT_CELLS:
        raise DataError(f"{replicates} bootstrap replicates of {members.size + non_members.size}"
                        f" records need {cells} cells, more than {MAX_BOOT_CELLS}; lower "
                        "n_boot")
    rng = check_random_state(random_state)
    member_weights = np.vstack([np.ones(members.size),
                                _replicate_weights(members.size, replicates, rng)])
    non_member_weights = np.vstack([np.ones(non_members.size),
                                    _replicate_weights(non_members.size, replicates, rng)])
    fpr, tpr, _ = _curves(members, non_members, member_weights, non_member_weights)

    def estimate(values: np.ndarray) -> Estimate:
        return percentile_interval(float(values[0]), values[1:], level)

    grid = tuple((f, float(_tpr_at(fpr[:1], tpr[:1], f)[0])) for f in ROC_GRID)
    return MembershipMetrics(
        auc=estimate(_auc(fpr, tpr)),
        tpr_at_fpr=tuple((f, estimate(_tpr_at(fpr, tpr, f))) for f in levels),
        advantage=estimate((tpr - fpr).max(axis=1)),
        n_members=int(members.size), n_non_members=int(non_members.size),
        smallest_fpr=1.0 / non_members.size, roc=grid)
