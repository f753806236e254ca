"""Brute-force reference implementation of white-box tree inversion.

Plain Python loops over records, joint candidates and trees. Each tree is walked
recursively from its root: at a split on a column of a known or sensitive feature the
walk follows the record's (or candidate's) value, at a split on a column of an unknown
feature it follows both branches. The leaves reached, with their training counts and
labels, give each candidate's score by the paper's formula

    score(v) = prior(v) * sum_{reached l, label(l) = y} count(l) / sum_{reached l} count(l)

(forests: the ratio averaged over trees; regression: a count-weighted mixture of
Normal(y; leaf value, sigma^2); XGBoost: cover-weighted mean leaf value per tree, summed
into margins, then sigmoid / softmax / Normal). The scores are normalised in probability
space.

Nothing is shared with the vectorised attack: the encoding is written out from the card,
scikit-learn trees are read from their ``tree_`` node arrays, XGBoost boosters from their
JSON text dump (``get_dump``) and their configuration, and values are compared the way the
libraries compare them (float32 input; scikit-learn left when ``x <= threshold``,
XGBoost left when ``x < split_condition``).
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from .reference import FLOOR, label_on_fitted_scale, prior_table

#: (tree index, node id, the model's count) -> the count to use (tests of the zero rule)
CountHook = Callable[[int, int, float], float]


def encoded_row(model: Any, row: dict[str, Any]) -> list[float | None]:
    """The model's encoded columns for one row; None for features the row lacks."""
    card = model.card
    values: list[float | None] = []
    for feature in card["features"]:
        spec = card["columns"][feature]
        value = row.get(feature)
        if "domain" in spec:
            domain = list(spec["domain"])
            if model.categorical == "ordinal" or spec.get("encoding") == "ordinal":
                values.append(None if feature not in row else float(domain.index(value)))
            else:
                for category in domain:
                    values.append(None if feature not in row else float(value == category))
        elif feature not in row:
            values.append(None)
        else:
            low, high = spec["bounds"]
            values.append((float(value) - low) / (high - low))
    # the libraries compare in float32
    return [None if v is None else float(np.float32(v)) for v in values]


# -- scikit-learn trees -------------------------------------------------------------------

def sklearn_leaves(tree: Any, x: Sequence[float | None], node: int = 0) -> list[int]:
    """Leaves reached from ``node``: both branches where the split column is unknown."""
    left, right = int(tree.children_left[node]), int(tree.children_right[node])
    if left == -1:
        return [node]
    value = x[int(tree.feature[node])]
    if value is None:
        return sklearn_leaves(tree, x, left) + sklearn_leaves(tree, x, right)
    if value <= float(tree.threshold[node]):
        return sklearn_leaves(tree, x, left)
    return sklearn_leaves(tree, x, right)


def sklearn_trees(estimator: Any) -> list[Any]:
    return [t.tree_ for t in estimator.estimators_] if hasattr(estimator, "estimators_") \
        else [estimator.tree_]


def sklearn_likelihood(model: Any, x: Sequence[float | None], y: Any, leaf_label: str,
                       count_hook: CountHook | None) -> float:
    estimator = model.estimator_
    trees = sklearn_trees(estimator)
    total_ratio = 0.0
    for t, tree in enumerate(trees):
        leaves = sklearn_leaves(tree, x)
        counts = [float(tree.weighted_n_node_samples[leaf]) for leaf in leaves]
        if count_hook is not None:
            counts = [count_hook(t, leaf, c) for leaf, c in zip(leaves, counts, strict=True)]
        if sum(counts) == 0:  # no counts: uniform over the reached leaves
            counts = [1.0] * len(leaves)
        numerator = 0.0
        for leaf, count in zip(leaves, counts, strict=True):
            if model.task == "regression":
                mean = float(tree.value[leaf][0][0])
                sigma = float(model.residual_sigma_)
                z = (y - mean) / sigma
                numerator += count * math.exp(-0.5 * z * z) / (sigma * math.sqrt(2 * math.pi))
                continue
            fractions = [float(v) for v in tree.value[leaf][0]]
            total = sum(fractions)
            fractions = [f / total for f in fractions]
            if leaf_label == "majority":
                best = max(range(len(fractions)), key=lambda j: (fractions[j], -j))
                fractions = [1.0 if j == best else 0.0 for j in range(len(fractions))]
            for j, fraction in enumerate(fractions):
                domain_class = int(model.classes_present_[j])  # j-th of classes_
                if domain_class == y:
                    numerator += count * fraction
        total_ratio += numerator / sum(counts)
    return total_ratio / len(trees)


# -- XGBoost boosters ------------------------------------------------------------------

def xgboost_leaves(node: dict[str, Any], x: Sequence[float | None]) -> list[tuple[float, float]]:
    """(leaf value, cover) of the leaves reached from a node of the JSON dump."""
    if "leaf" in node:
        return [(float(np.float32(node["leaf"])), float(np.float32(node["cover"])))]
    children = {child["nodeid"]: child for child in node["children"]}
    value = x[int(node["split"][1:])]  # splits are named f<column>
    if value is None:
        return xgboost_leaves(children[node["yes"]], x) + xgboost_leaves(children[node["no"]], x)
    if np.float32(value) < np.float32(node["split_condition"]):
        return xgboost_leaves(children[node["yes"]], x)
    return xgboost_leaves(children[node["no"]], x)


def _logf(value: float) -> float:
    """C's float32 logarithm (libm), as XGBoost turns a base score into a margin."""
    import ctypes
    import ctypes.util

    libm = ctypes.CDLL(ctypes.util.find_library("m"))
    libm.logf.restype, libm.logf.argtypes = ctypes.c_float, [ctypes.c_float]
    return float(libm.logf(value))


def xgboost_likelihood(model: Any, x: Sequence[float | None], y: Any) -> float:
    booster = model.estimator_.get_booster()
    dump = [json.loads(text) for text in booster.get_dump(dump_format="json", with_stats=True)]
    config = json.loads(booster.save_config())["learner"]
    objective = config["objective"]["name"]
    n_groups = max(int(config["learner_model_param"]["num_class"]), 1)
    # XGBoost holds its base score as a float32
    base = [float(np.float32(v))
            for v in config["learner_model_param"]["base_score"].strip("[]").split(",")]
    if len(base) == 1:
        base = base * n_groups
    if objective == "binary:logistic":  # the margin XGBoost adds: in float32, C's logf
        base = [-_logf(float(np.float32(1) / np.float32(p) - np.float32(1))) for p in base]
    margins = list(base)
    for t, tree in enumerate(dump):
        leaves = xgboost_leaves(tree, x)
        cover = sum(c for _, c in leaves)
        if cover == 0:
            leaves = [(v, 1.0) for v, _ in leaves]
            cover = float(len(leaves))
        margins[t % n_groups] += sum(v * c for v, c in leaves) / cover
    if objective.startswith("reg:"):
        sigma = float(model.residual_sigma_)
        z = (y - margins[0]) / sigma
        return math.exp(-0.5 * z * z) / (sigma * math.sqrt(2 * math.pi))
    if objective == "binary:logistic":
        positive = 1.0 / (1.0 + math.exp(-margins[0]))
        probabilities = [1.0 - positive, positive]
    else:
        top = max(margins)
        exps = [math.exp(m - top) for m in margins]
        probabilities = [e / sum(exps) for e in exps]
    for j, p in enumerate(probabilities):
        if int(model.classes_present_[j]) == y:
            return p
    return 0.0


# -- the attack ------------------------------------------------------------------------

def brute_force_whitebox(model: Any, records: pd.DataFrame, *, sensitive: Sequence[str],
                         known: Sequence[str], reference: pd.DataFrame,
                         prior: str = "marginal", prior_given: Sequence[str] = (),
                         smoothing: float = 1.0, leaf_label: str = "majority",
                         labels: Sequence[Any] | None = None,
                         count_hook: CountHook | None = None,
                         encode: Callable[[Any, dict[str, Any]], list[float | None]]
                         = encoded_row) -> np.ndarray:
    """Posterior (n records, K joint candidates) of white-box tree inversion;
    ``encode(model, row)`` gives a row's encoded columns (default: from the card)."""
    columns = model.card["columns"]
    domains = [list(columns[s]["domain"]) for s in sensitive]
    candidates = list(itertools.product(*domains))  # C order: first attribute slowest
    priors = prior_table(reference, records, sensitive, candidates, prior, prior_given,
                         smoothing)
    if labels is None:
        labels = list(records[model.label])
    xgboost = type(model.estimator_).__module__.startswith("xgboost")
    posterior = np.zeros((len(records), len(candidates)))
    for i, record in enumerate(records.to_dict("records")):
        y = label_on_fitted_scale(model, labels[i])
        scores = []
        for k, candidate in enumerate(candidates):
            row = {f: record[f] for f in known}
            row.update(zip(sensitive, candidate, strict=True))
            x = encode(model, row)
            if xgboost:
                likelihood = xgboost_likelihood(model, x, y)
            else:
                likelihood = sklearn_likelihood(model, x, y, leaf_label, count_hook)
            if model.task == "classification":
                likelihood = max(likelihood, FLOOR)
            scores.append(priors[i][k] * likelihood)
        for k, score in enumerate(scores):
            posterior[i, k] = score / sum(scores)
    return posterior


def brute_force_decision_rule(model: Any, records: pd.DataFrame, *, sensitive: Sequence[str],
                              known: Sequence[str], reference: pd.DataFrame,
                              prior: str = "marginal", prior_given: Sequence[str] = (),
                              smoothing: float = 1.0,
                              labels: Sequence[Any] | None = None) -> np.ndarray:
    """Posterior (n records, K joint candidates) of the white-box decision-tree rule
    (``whitebox-dt``) of one scikit-learn tree classifier, every feature known.

    Per record: each candidate's one leaf (walked from the root) predicts its majority
    class (first on ties); when exactly one candidate's leaf predicts the label y, that
    candidate gets probability 1; otherwise prior(v) * count(leaf(v)), normalised
    (uniform when every count is 0).
    """
    columns = model.card["columns"]
    domains = [list(columns[s]["domain"]) for s in sensitive]
    candidates = list(itertools.product(*domains))  # C order: first attribute slowest
    priors = prior_table(reference, records, sensitive, candidates, prior, prior_given,
                         smoothing)
    labels = list(records[model.label]) if labels is None else list(labels)
    estimator = model.estimator_
    tree = estimator.tree_
    posterior = np.zeros((len(records), len(candidates)))
    for i, record in enumerate(records.to_dict("records")):
        y = label_on_fitted_scale(model, labels[i])
        predicts, weights = [], []
        for k, candidate in enumerate(candidates):
            row = {f: record[f] for f in known}
            row.update(zip(sensitive, candidate, strict=True))
            [leaf] = sklearn_leaves(tree, encoded_row(model, row))  # nothing is unknown
            fractions = [float(v) for v in tree.value[leaf][0]]
            best = max(range(len(fractions)), key=lambda j: (fractions[j], -j))
            predicts.append(int(model.classes_present_[int(estimator.classes_[best])]) == y)
            weights.append(priors[i][k] * float(tree.weighted_n_node_samples[leaf]))
        if sum(predicts) == 1:
            posterior[i] = [1.0 if p else 0.0 for p in predicts]
        elif sum(weights) > 0:
            posterior[i] = [w / sum(weights) for w in weights]
        else:
            posterior[i] = [1.0 / len(candidates)] * len(candidates)
    return posterior
