"""Reading the trees of a fitted model (scikit-learn trees and forests, diffprivlib trees,
XGBoost boosters) into tabinv's Tree / TreeEnsemble form, refusing what it cannot read."""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from ..exceptions import AttackError
from ..text import shorten
from .leafboxes import Tree, TreeEnsemble

__all__ = ["SUPPORTED_ESTIMATORS", "extract_ensemble"]


SUPPORTED_ESTIMATORS = (
    "DecisionTreeClassifier", "DecisionTreeRegressor", "ExtraTreeClassifier",
    "ExtraTreeRegressor", "RandomForestClassifier", "RandomForestRegressor",
    "ExtraTreesClassifier", "ExtraTreesRegressor", "XGBClassifier", "XGBRegressor",
    "xgboost.Booster",
)


#: XGBoost objectives -> link from the summed margin to the output
_XGB_LINKS = {"binary:logistic": "logistic", "multi:softprob": "softmax",
              "multi:softmax": "softmax", "reg:squarederror": "identity",
              "reg:absoluteerror": "identity", "reg:pseudohubererror": "identity"}


def _unsupported(estimator: Any, detail: str = "") -> AttackError:
    return AttackError(
        f"white-box tree inversion reads tree ensembles; {type(estimator).__name__} is "
        f"not one{detail}. Supported: {', '.join(SUPPORTED_ESTIMATORS)}"
    )


def extract_ensemble(estimator: Any) -> TreeEnsemble:
    """Read the trees of a fitted estimator on the encoded matrix.

    Raises
    ------
    AttackError
        The estimator is not a supported tree ensemble (the message names its type and
        the supported ones), or it uses a feature the attack does not model
        (multi-output trees, categorical XGBoost splits, DART, a non-NaN ``missing``).
    """
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import BaseDecisionTree

    if isinstance(estimator, BaseDecisionTree):
        return _sklearn_ensemble(estimator, [estimator])
    if isinstance(estimator, (RandomForestClassifier, RandomForestRegressor,
                              ExtraTreesClassifier, ExtraTreesRegressor)):
        return _sklearn_ensemble(estimator, list(estimator.estimators_))
    module = type(estimator).__module__ or ""
    if module.startswith("xgboost"):
        return _xgboost_ensemble(estimator)
    raise _unsupported(estimator)


def _sklearn_tree(fitted: Any, classifier: bool) -> Tree:
    structure = fitted.tree_
    if structure.n_outputs != 1:
        raise _unsupported(fitted, " with a single output")
    left = np.asarray(structure.children_left, dtype=np.int64)
    leaves = np.flatnonzero(left < 0)
    raw = np.asarray(structure.value, dtype=float)[leaves, 0, :]
    if classifier:
        totals = raw.sum(axis=1, keepdims=True)  # fractions (>= 1.4) or counts (older)
        value = np.divide(raw, totals, out=np.zeros_like(raw), where=totals > 0)
    else:
        value = raw[:, :1]
    feature = np.where(left < 0, 0, np.asarray(structure.feature, dtype=np.int64))
    return Tree(left=left, right=np.asarray(structure.children_right, dtype=np.int64),
                feature=feature, threshold=np.asarray(structure.threshold, dtype=float),
                strict=False,
                weight=np.asarray(structure.weighted_n_node_samples, dtype=float)[leaves],
                value=value)


def _sklearn_ensemble(estimator: Any, fitted_trees: list[Any]) -> TreeEnsemble:
    from sklearn.base import is_classifier

    classifier = is_classifier(estimator)
    if classifier and np.ndim(estimator.classes_) != 1:
        raise _unsupported(estimator, " with a single output")
    trees = tuple(_sklearn_tree(t, classifier) for t in fitted_trees)
    # positions in the estimator's classes_ (its labels may be any values: a pipeline's)
    classes = np.arange(len(estimator.classes_) if classifier else 0, dtype=np.int64)
    return TreeEnsemble("classifier" if classifier else "regressor", trees,
                        type(estimator).__name__, classes)


def _xgboost_ensemble(estimator: Any) -> TreeEnsemble:
    booster = estimator.get_booster() if hasattr(estimator, "get_booster") else estimator
    if not hasattr(booster, "save_raw"):
        raise _unsupported(estimator)
    missing = getattr(estimator, "missing", np.nan)
    if missing is not None and not np.isnan(missing):
        raise _unsupported(estimator, f" with missing={missing!r} (only NaN is modelled)")
    learner = json.loads(bytes(booster.save_raw(raw_format="json")))["learner"]
    objective = learner["objective"]["name"]
    if learner["gradient_booster"]["name"] != "gbtree":
        raise _unsupported(estimator, f" with booster {learner['gradient_booster']['name']!r}"
                                      " (gbtree only)")
    if objective not in _XGB_LINKS:
        raise _unsupported(estimator, f" with objective {objective!r} (supported objectives: "
                                      f"{', '.join(_XGB_LINKS)})")
    params = learner["learner_model_param"]
    if int(params.get("num_target", 1)) != 1:
        raise _unsupported(estimator, " with a single target")
    model = learner["gradient_booster"]["model"]
    n_trees = len(model["trees"])
    best = booster.attr("best_iteration")  # XGBModel.predict stops there too
    if best is not None:
        n_trees = _trees_until(estimator, model["iteration_indptr"], best)
    trees = tuple(_xgboost_tree(estimator, model["trees"][t]) for t in range(n_trees))
    n_groups = max(int(params.get("num_class", 0)), 1)
    base = np.array([float(v) for v in str(params["base_score"]).strip("[]").split(",")])
    base = np.broadcast_to(base, (n_groups,)).astype(float)
    link = _XGB_LINKS[objective]
    if link == "logistic":  # base_score is a probability: its margin, as XGBoost computes
        from ._treewalk import logf  # it in float32 with C's logf

        base = np.array([-logf(np.float32(1) / np.float32(p) - np.float32(1)) for p in base])
    base = base.astype(np.float32).astype(float)  # XGBoost adds float32 margins
    classifier = link != "identity"
    classes = np.arange(max(n_groups, 2) if classifier else 0, dtype=np.int64)
    if classifier and hasattr(estimator, "classes_"):
        classes = np.arange(len(estimator.classes_), dtype=np.int64)
    groups = np.asarray(model["tree_info"][:n_trees], dtype=np.int64)
    return TreeEnsemble("booster", trees, type(estimator).__name__, classes, groups, base,
                        link)


def _trees_until(estimator: Any, indptr: list[int], best: str) -> int:
    """Trees up to and including iteration ``best`` (checked: models built in memory are
    not validated the way loaded ones are)."""
    iterations = len(indptr) - 1
    try:
        index = int(best)
    except ValueError:
        index = -1
    if not 0 <= index < iterations:
        raise _unsupported(estimator, f" with best_iteration {shorten(best)} (it has "
                                      f"{iterations} iterations)")
    return int(indptr[index + 1])


def _xgboost_tree(estimator: Any, tree: dict[str, Any]) -> Tree:
    if any(int(s) != 0 for s in tree["split_type"]):
        raise _unsupported(estimator, " with numerical splits only (categorical split found)")
    left = np.asarray(tree["left_children"], dtype=np.int64)
    leaves = np.flatnonzero(left < 0)
    conditions = np.asarray(tree["split_conditions"], dtype=np.float32).astype(float)
    return Tree(left=left, right=np.asarray(tree["right_children"], dtype=np.int64),
                feature=np.where(left < 0, 0, np.asarray(tree["split_indices"], dtype=np.int64)),
                threshold=conditions, strict=True,
                weight=np.asarray(tree["sum_hessian"], dtype=float)[leaves],
                value=conditions[leaves, None])
