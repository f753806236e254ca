"""Learners of the candidates from features: the classifier search shared by the
``meta`` attack (:mod:`tabinv.attacks.meta`, fed the model's answers) and the
``boosted-imputation`` baseline (:mod:`tabinv.attacks.baselines`, the same search
without the model), so both use the same learner, grid and cross-validation.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from .boosted import CompiledBooster

__all__ = ["CLASSIFIERS", "GRIDS", "LOSS_FLOOR", "full_proba", "make_classifier",
           "one_thread", "predict_rows", "search_classifier"]

CLASSIFIERS = ("gradient-boosting", "logistic")
#: the hyperparameters searched for each classifier (every combination is tried)
GRIDS: dict[str, list[dict[str, Any]]] = {
    # small, few trees: reference samples are small (about 1,000 IWPC records), and on
    # IWPC larger grids (up to 100 iterations of 15 leaves) were less accurate and twice
    # as slow to predict. A third entry (40 iterations of 7 leaves) had the worst
    # cross-validated log loss in all 20 IWPC tree cases measured (dose class, VKORC1;
    # 10 splits x true / predicted labels), was never chosen, and took half of the
    # search's time: dropped
    "gradient-boosting": [{"learning_rate": 0.1, "max_leaf_nodes": 4, "max_iter": 25},
                          {"learning_rate": 0.2, "max_leaf_nodes": 4, "max_iter": 25}],
    "logistic": [{"C": c} for c in (0.1, 1.0, 10.0)],
}
#: probabilities below this count as this in the cross-validated log loss
LOSS_FLOOR = 1e-15
#: bytes of features per ``predict_proba`` call (:func:`full_proba`)
PREDICT_BYTES = 1 << 21
#: records from which a gradient-boosting classifier predicts through its compiled walk
#: (:mod:`~tabinv.attacks.boosted`; the same probabilities). Below it reading the trees
#: (about 2 ms for 75 trees) costs more than it saves: the break-even was about 1,000
#: records of 43 features
COMPILED_FROM = 1_000


def make_classifier(kind: str, params: dict[str, Any], seed: int) -> Any:
    """An unfitted scikit-learn classifier ``kind`` with hyperparameters ``params``."""
    if kind == "gradient-boosting":
        return HistGradientBoostingClassifier(min_samples_leaf=10,
                                              early_stopping=False, random_state=seed,
                                              **params)
    return make_pipeline(StandardScaler(),
                         LogisticRegression(max_iter=2000, random_state=seed, **params))


def full_proba(classifier: Any, features: np.ndarray, n_candidates: int) -> np.ndarray:
    """(n, K) probabilities over every candidate: 0 for candidates never seen in training.

    A gradient-boosting classifier of at least :data:`COMPILED_FROM` records predicts
    through :class:`~tabinv.attacks.boosted.CompiledBooster` (its ``predict_proba`` bit
    for bit, about 9x faster at 10^5 records than one call). Otherwise, and where its
    trees cannot be read, it predicts :func:`predict_rows` records a call: scikit-learn
    walks its whole input once per tree and class, and a block that stays in the cache
    across those walks is read from memory once (twice as fast at 10^5 records; each
    row's probabilities are the same). The logistic pipeline predicts in one call (a
    matrix product, whose last bits could depend on the blocks)."""
    full = np.zeros((len(features), n_candidates))
    compiled = CompiledBooster.of(classifier) if len(features) >= COMPILED_FROM else None
    if compiled is not None:
        full[:, classifier.classes_] = compiled.predict_proba(features)
        return full
    step = predict_rows(features.shape[1]) \
        if isinstance(classifier, HistGradientBoostingClassifier) else max(1, len(features))
    with one_thread():
        for start in range(0, len(features), step):
            block = slice(start, start + step)
            full[block, classifier.classes_] = classifier.predict_proba(features[block])
    return full


def predict_rows(width: int) -> int:
    """Records per ``predict_proba`` call: :data:`PREDICT_BYTES` of float64 features."""
    return max(1, PREDICT_BYTES // (8 * max(1, width)))


_LIMITED = threading.local()


@contextmanager
def one_thread() -> Iterator[None]:
    """``threadpool_limits(1)`` (OpenMP and BLAS on one thread), or nothing inside an
    enclosing ``one_thread`` of the same thread: each ``threadpool_limits`` scans the
    loaded libraries (2.5-4 ms), and the hyperparameter search would do so 13 times."""
    if getattr(_LIMITED, "active", False):
        yield
        return
    with threadpool_limits(1):
        _LIMITED.active = True
        try:
            yield
        finally:
            _LIMITED.active = False


def _fit_quietly(classifier: Any, features: np.ndarray, target: np.ndarray,
                 notes: set[str]) -> Any:
    """Fit, turning a ConvergenceWarning into a note (the library raises no warnings that
    the user cannot act on; the note reaches ``describe``).

    The classifiers run on one thread (OpenMP and BLAS; here and in :func:`full_proba`): the
    reference samples are small, and on a shared machine OpenMP's spinning threads were
    measured to make a 40-record fit take seconds instead of milliseconds."""
    with warnings.catch_warnings(record=True) as caught, one_thread():
        warnings.simplefilter("always", ConvergenceWarning)
        classifier.fit(features, target)
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            notes.add("the logistic regression did not converge in 2000 iterations")
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename,
                                   warning.lineno)
    return classifier


def search_classifier(kind: str, features: np.ndarray, target: np.ndarray,
                      n_candidates: int, folds: int, seed: int) -> tuple[Any, dict[str, Any]]:
    """Choose ``kind``'s hyperparameters (:data:`GRIDS`) by ``folds``-fold cross-validated
    log loss on (``features``, ``target``), refit on all of it; returns the classifier and
    a record of the search (chosen parameters, log loss and accuracy of each).

    Folds are shuffled with ``seed``; candidates absent from a training fold get
    probability ``LOSS_FLOOR`` in its loss. Fewer than 2 records per fold: no search,
    the first parameters of the grid. OpenMP and BLAS run on one thread throughout
    (:func:`one_thread`, entered once).
    """
    with one_thread():
        return _search(kind, features, target, n_candidates, folds, seed)


def _search(kind: str, features: np.ndarray, target: np.ndarray, n_candidates: int,
            folds: int, seed: int) -> tuple[Any, dict[str, Any]]:
    """:func:`search_classifier`'s work."""
    grid = GRIDS[kind]
    n = len(target)
    splits = min(folds, n // 2)
    notes: set[str] = set()
    scores: list[dict[str, Any]] = []
    if len(grid) > 1 and splits >= 2:
        folding = list(KFold(splits, shuffle=True, random_state=seed).split(features))
        for params in grid:
            losses, hits = [], []
            for train, test in folding:
                if len(np.unique(target[train])) < 2:
                    proba = np.zeros((len(test), n_candidates))
                    proba[:, target[train][0]] = 1.0
                else:
                    fold = _fit_quietly(make_classifier(kind, params, seed), features[train],
                                        target[train], notes)
                    proba = full_proba(fold, features[test], n_candidates)
                chosen = np.maximum(proba[np.arange(len(test)), target[test]], LOSS_FLOOR)
                losses.append(-np.log(chosen).sum())
                hits.append((proba.argmax(axis=1) == target[test]).sum())
            scores.append({"parameters": params, "log_loss": float(np.sum(losses) / n),
                           "accuracy": float(np.sum(hits) / n)})
        best = min(range(len(grid)), key=lambda i: (scores[i]["log_loss"], i))
    else:
        best = 0
    classifier = _fit_quietly(make_classifier(kind, grid[best], seed), features, target, notes)
    record = {"classifier": kind, "hyperparameters": dict(grid[best]),
              "cv_folds": splits if scores else 0,
              **({"cv_log_loss": round(scores[best]["log_loss"], 6),
                  "cv_accuracy": round(scores[best]["accuracy"], 6),
                  "searched": [{**s["parameters"], "log_loss": round(s["log_loss"], 6),
                                "accuracy": round(s["accuracy"], 6)} for s in scores]}
                 if scores else {}),
              **({"notes": sorted(notes)} if notes else {})}
    return classifier, record
