"""Checks run on every loaded model before it is returned.

scikit-learn and XGBoost index tree node arrays without bounds checks, so a crafted file
whose types are all trusted can still crash the process (or worse) at the first
prediction. These checks make accepting ``Tree`` and ``Booster`` safe.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
from sklearn.tree._tree import Tree

from ..exceptions import ModelError, UnsafeModelError
from ..text import shorten
from .lgbfile import check_lightgbm_text
from .refusal import must, refuse
from .target import TargetModel
from .xgbfile import check_learner

__all__ = ["check_loaded_model", "check_loaded_parts"]


def _reason(error: BaseException) -> str:
    text = (str(error).strip().splitlines() or [""])[0]
    text = re.sub(r"^\[[\d:]+\] \S+:\d+: ", "", text).rstrip(" :")[:160]  # XGBoost's prefix
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _kind(obj: Any) -> str:
    if isinstance(obj, dict):
        return "a plain dict"
    return f"a {type(obj).__module__}.{type(obj).__qualname__}"


# -- checking what was loaded ----------------------------------------------------------
def check_loaded_model(model: Any, path: str | os.PathLike[str]) -> TargetModel:
    """Return ``model`` if it is a fitted, self-consistent TargetModel with sound trees.

    Raises UnsafeModelError for a tree or width that could make prediction read out of
    bounds, ModelError for anything else that is not a usable TargetModel.
    """
    if not isinstance(model, TargetModel):
        raise ModelError(f"{path} holds {_kind(model)}, not a tabinv TargetModel; "
                         "expected a model written by tabinv's save_model")
    needed = ["encoder_", "estimator_", "n_train_", "marginals_"]
    needed += ["residual_sigma_"] if _task(model) == "regression" else ["confusion_",
                                                                         "classes_present_"]
    missing = [name for name in needed if not hasattr(model, name)]
    if missing:
        raise ModelError(f"{path} holds an unfitted or incomplete TargetModel (missing "
                         f"{', '.join(missing)})")
    width = _check_layout(model, path)
    _check_statistics(model, path)
    takes = getattr(model.estimator_, "n_features_in_", width)
    if takes != width:
        raise UnsafeModelError(f"refusing {path}: model.estimator_ takes {takes} features but "
                               f"the model's encoder produces {width}")
    return check_loaded_parts(model, path)  # type: ignore[no-any-return]


def check_loaded_parts(model: Any, path: str | os.PathLike[str]) -> Any:
    """Return ``model`` (any loaded object) once every scikit-learn tree, XGBoost and
    LightGBM booster inside it is sound, no saved attribute shadows a method, parts take their
    owner's width and every fitted number is finite (UnsafeModelError otherwise)."""
    xgboost = sys.modules.get("xgboost")  # a Booster can only exist if xgboost is imported
    lightgbm = sys.modules.get("lightgbm")
    for where, obj in _walk(model):
        if isinstance(obj, Tree):
            _check_sklearn_tree(obj, where, path)
        elif xgboost is not None and isinstance(obj, xgboost.Booster):
            _check_booster(obj, where, path)
        elif lightgbm is not None and isinstance(obj, lightgbm.Booster):
            check_lightgbm_text(obj.model_to_string(), f"{path} ({where})")
        elif hasattr(obj, "__dict__") and not isinstance(obj, type):
            if isinstance(vars(obj).get("_predictors"), list):
                _check_hist_predictors(obj, where, path)
            _check_no_shadowed_methods(obj, where, path)
            _check_part_widths(vars(obj), where, path)
            _check_fitted_numbers(vars(obj), where, path)
    return model


def _check_no_shadowed_methods(obj: Any, where: str, path: Any) -> None:
    """A saved attribute must not replace a method: tabinv would call whatever the file
    put there (a function of a trusted module) with its own arguments."""
    for name, value in vars(obj).items():
        method = getattr(type(obj), name, None)
        if callable(method) and not isinstance(method, type):
            raise refuse(path, f"{where}.{name}", f"it replaces the method {name} of "
                         f"{type(obj).__name__} with {_kind(value)}")


def _check_fitted_numbers(state: dict[str, Any], where: str, path: Any) -> None:
    """Every fitted number (an attribute named ``name_``) must be finite: coefficients,
    intercepts, class priors, variances, leaf values ... are used as they are."""
    for name, value in state.items():
        if not name.endswith("_") or name.startswith("_"):
            continue
        if isinstance(value, float) or (isinstance(value, np.ndarray)
                                        and value.dtype.kind in "fc"):
            must(np.isfinite(value).all(), path, f"{where}.{name}", "it must be finite")
    width = state.get("n_features_in_")
    for name in ("coef_", "theta_", "var_"):
        value = state.get(name)
        if isinstance(value, np.ndarray) and isinstance(width, (int, np.integer)):
            must(value.ndim in (1, 2) and value.shape[-1] == width, path, f"{where}.{name}",
                 f"it must have one column per input feature ({width}), not shape "
                 f"{value.shape}")
    for name in ("var_", "sigma_"):  # a Gaussian naive Bayes divides by its variances
        if isinstance(state.get(name), np.ndarray) and "theta_" in state:
            must((state[name] > 0).all(), path, f"{where}.{name}", "variances must be > 0")
        elif isinstance(state.get(name), np.ndarray):  # a scaler's: 0 for a constant column
            must((state[name] >= 0).all(), path, f"{where}.{name}",
                 "variances must be >= 0")
    for name in ("class_prior_", "class_count_"):
        if isinstance(state.get(name), np.ndarray):
            must((state[name] >= 0).all(), path, f"{where}.{name}",
                 "it must be non-negative")


def _check_part_widths(state: dict[str, Any], where: str, path: Any) -> None:
    """A fitted tree, and the members of a forest or boosting ensemble, are called on the
    owner's input without re-validation, so they must take exactly the owner's width."""
    width = state.get("n_features_in_")
    if width is None:
        return
    parts = [("tree_", state["tree_"])] if isinstance(state.get("tree_"), Tree) else []
    members = state.get("estimators_")
    if isinstance(members, (list, tuple, np.ndarray)) and "estimators_features_" not in state:
        flat = np.ravel(members) if isinstance(members, np.ndarray) else members
        parts += [(f"estimators_[{i}]", member) for i, member in enumerate(flat)]
    for name, part in parts:
        takes = part.n_features if isinstance(part, Tree) else \
            vars(part).get("n_features_in_") if hasattr(part, "__dict__") else None
        if takes is not None and takes != width:
            raise UnsafeModelError(f"refusing {path}: {where}.{name} takes {takes} features "
                                   f"but {where} takes {width}")


def _task(model: TargetModel) -> str:
    try:
        return model.task
    except (KeyError, TypeError) as error:
        raise ModelError(f"the model's card is malformed ({_reason(error)})") from None


def _check_layout(model: TargetModel, path: str | os.PathLike[str]) -> int:
    try:
        expected = model._make_encoder()
    except Exception as error:  # a malformed card in the file
        raise ModelError(f"{path} holds a model whose card is malformed "
                         f"({_reason(error)})") from None
    encoder = model.encoder_
    if getattr(encoder, "output_names_", None) != expected.output_names_ or \
            getattr(encoder, "n_output_", None) != expected.n_output_:
        raise ModelError(f"{path} holds a model whose encoder does not match its card")
    if _task(model) == "classification":
        present = np.asarray(model.classes_present_)
        n_classes = len(model.domain(model.label))
        if present.dtype.kind not in "iu" or present.ndim != 1 or present.size == 0 or \
                present.min() < 0 or present.max() >= n_classes or (np.diff(present) <= 0).any():
            raise ModelError(f"{path} holds a classifier whose classes_present_ are not "
                             f"increasing indices into the {n_classes} label classes")
    return int(expected.n_output_)


def _check_statistics(model: TargetModel, path: Any) -> None:
    """The statistics stored with a model (training size, marginal and confusion counts,
    residual sigma) must be finite, non-negative, of the card's shape, and add up."""
    dp = sys.modules.get("tabinv.models.dp")
    families = dp.DP_FAMILIES if dp is not None and isinstance(model, dp.DPTargetModel) \
        else None
    must(isinstance(model.family, str) and (families is None or model.family in families),
         path, "model.family", f"it must be a family name, not {shorten(model.family)}")
    n_train = model.n_train_
    must(isinstance(n_train, (int, np.integer)) and not isinstance(n_train, bool)
         and n_train >= 1, path, "model.n_train_", "it must be a positive integer")
    marginals = model.marginals_
    columns = [f for f in model.features if f in model.encoder_.domains]
    must(isinstance(marginals, dict) and set(marginals) == set(columns), path,
         "model.marginals_", f"it must hold counts for exactly {columns}")
    for column in columns:
        _check_counts(marginals[column], (len(model.domain(column)),), n_train, path,
                      f"model.marginals_[{column!r}]")
    if _task(model) == "regression":
        sigma = model.residual_sigma_
        must(isinstance(sigma, (float, int, np.floating)) and np.isfinite(sigma)
             and sigma >= 0, path, "model.residual_sigma_", "it must be finite and >= 0")
    else:
        n_classes = len(model.domain(model.label))
        _check_counts(model.confusion_, (n_classes, n_classes), n_train, path,
                      "model.confusion_")


def _check_counts(counts: Any, shape: tuple[int, ...], total: int, path: Any,
                  where: str) -> None:
    array = np.asarray(counts) if isinstance(counts, np.ndarray) else None
    must(array is not None and array.shape == shape and array.dtype.kind in "iu"
         and (array >= 0).all() and int(array.sum()) == int(total), path, where,
         f"it must be non-negative integer counts of shape {shape} adding up to the "
         f"{total} training records")


def _walk(root: Any) -> Iterator[tuple[str, Any]]:
    """Every object reachable from ``root`` through attributes and containers, named."""
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("model", root)]
    while stack:
        where, obj = stack.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, type)):
            continue
        seen.add(id(obj))
        yield where, obj
        if isinstance(obj, dict):
            items = [(f"{where}[{key!r}]", value) for key, value in obj.items()]
        elif isinstance(obj, (list, tuple)) or (isinstance(obj, np.ndarray)
                                                and obj.dtype == object):
            items = [(f"{where}[{i}]", value) for i, value in enumerate(np.ravel(obj)
                     if isinstance(obj, np.ndarray) else obj)]
        elif hasattr(obj, "__dict__") and not isinstance(obj, np.ndarray):
            items = [(f"{where}.{key}", value) for key, value in vars(obj).items()]
        else:
            items = []
        stack.extend(reversed(items))


def _check_sklearn_tree(tree: Any, where: str, path: Any) -> None:
    n = int(tree.node_count)
    left, right, feature = tree.children_left, tree.children_right, tree.feature
    arrays = (left, right, feature, tree.threshold, tree.n_node_samples)
    must(n >= 1 and all(a.shape == (n,) for a in arrays), path, where,
         f"node_count {n} must match the length of every node array")
    leaf = left == -1
    must(np.array_equal(leaf, right == -1), path, where,
         "children_left and children_right must both be -1 at leaves")
    parent = np.flatnonzero(~leaf)
    for side, children in (("children_left", left), ("children_right", right)):
        must(((children[parent] > parent) & (children[parent] < n)).all(), path, where,
             f"{side} must be -1 or a later node in [0, {n})")
    must(np.array_equal(np.sort(np.r_[left[parent], right[parent]]), np.arange(1, n)), path,
         where, "every node but the root must have exactly one parent")
    width = int(tree.n_features)
    must((feature[leaf] == -2).all()
         and ((feature[parent] >= 0) & (feature[parent] < width)).all(), path, where,
         f"feature must be in [0, {width}) at internal nodes and -2 at leaves")
    must(np.isfinite(tree.threshold[parent]).all(), path, where,
         "thresholds must be finite at internal nodes")
    must(tree.value.shape == (n, tree.n_outputs, tree.max_n_classes)
         and np.isfinite(tree.value).all(), path, where,
         "value must have shape (node_count, n_outputs, n_classes) and be finite")
    must((tree.n_node_samples >= 0).all(), path, where, "n_node_samples must be non-negative")
    weights = np.asarray(tree.weighted_n_node_samples, dtype=float)
    must(weights.shape == (n,) and np.isfinite(weights).all() and (weights >= 0).all(),
         path, where, "weighted_n_node_samples must be finite and non-negative")
    must(np.allclose(weights[parent], weights[left[parent]] + weights[right[parent]],
                      rtol=1e-6, atol=1e-9), path, where,
         "each node's weighted_n_node_samples must be the sum of its children's")
    if (np.asarray(tree.n_classes) > 1).any():
        must((tree.value >= 0).all() and (tree.value[leaf].sum(axis=2) > 0).all(), path,
             where, "a classifier's values must be >= 0 with a positive total at each leaf")


def _check_hist_predictors(owner: Any, where: str, path: Any) -> None:
    """The node arrays of a HistGradientBoosting model's trees (scikit-learn's compiled
    predictor follows ``left`` / ``right`` and reads ``feature_idx`` and ``bitset_idx``
    without bounds checks)."""
    width = vars(owner).get("n_features_in_")
    must(isinstance(width, (int, np.integer)) and width > 0, path, f"{where}.n_features_in_",
         "a fitted HistGradientBoosting model must say how many features it takes")
    for i, per_iteration in enumerate(owner._predictors):
        must(isinstance(per_iteration, list), path, f"{where}._predictors[{i}]",
             "it must be a list of tree predictors")
        for j, predictor in enumerate(per_iteration):
            _check_hist_nodes(predictor, int(width), f"{where}._predictors[{i}][{j}]", path)


def _check_hist_nodes(predictor: Any, width: int, where: str, path: Any) -> None:
    nodes = getattr(predictor, "nodes", None)
    fields = ("left", "right", "feature_idx", "is_leaf", "is_categorical", "bitset_idx",
              "value", "num_threshold")
    must(isinstance(nodes, np.ndarray) and nodes.ndim == 1 and len(nodes) >= 1
         and nodes.dtype.names is not None and set(fields) <= set(nodes.dtype.names),
         path, where, "nodes must be a non-empty structured array of tree nodes")
    n = len(nodes)
    inner = np.flatnonzero(nodes["is_leaf"] == 0)
    for side in ("left", "right"):
        children = nodes[side][inner].astype(np.int64)
        must(((children > inner) & (children < n)).all(), path, where,
             f"{side} must point to a later node in [0, {n}) at internal nodes")
    must(((nodes["feature_idx"][inner] >= 0) & (nodes["feature_idx"][inner] < width)).all(),
         path, where, f"feature_idx must be in [0, {width}) at internal nodes")
    must(np.isfinite(nodes["value"]).all(), path, where, "leaf values must be finite")
    categorical = inner[nodes["is_categorical"][inner] != 0]
    bitsets = getattr(predictor, "raw_left_cat_bitsets", None)
    rows = bitsets.shape[0] if isinstance(bitsets, np.ndarray) and bitsets.ndim == 2 else 0
    must((nodes["bitset_idx"][categorical].astype(np.int64) < rows).all(), path, where,
         f"bitset_idx must be below the {rows} category bitsets at categorical splits")


def _check_booster(booster: Any, where: str, path: Any) -> None:
    """Validate an XGBoost booster's trees and numbers (XGBoost itself does not)."""
    try:
        learner = json.loads(bytes(booster.save_raw(raw_format="json")))["learner"]
    except (KeyError, TypeError, ValueError) as error:
        raise refuse(path, where, f"its model JSON is incomplete ({_reason(error)})") from None
    check_learner(learner, where, path)
