"""scikit-learn's ``HistGradientBoostingClassifier.predict_proba`` as one compiled walk.

scikit-learn evaluates a fitted booster tree by tree: each of its T = iterations x
classes trees walks all n records, and each walk is a call with its own set-up. The meta
attack's classifier has few, small trees (25 iterations of 4 leaves, 3 classes: 75
trees) and is asked about 10^5-10^6 records, so these passes, not the comparisons, are
most of its prediction time. :class:`CompiledBooster` reads the fitted trees once, and
each record walks every tree in turn (its row stays in cache), adding leaf values in
scikit-learn's order (baseline, then iteration by iteration, class by class) in float64;
the probabilities come from the classifier's own link function, so they equal
``predict_proba``'s bit for bit (a test checks).

Only numeric splits are read: a booster with categorical splits, or whose fitted
attributes are not laid out as this scikit-learn version lays them out, is not compiled
(:meth:`CompiledBooster.of` returns None) and keeps its own ``predict_proba``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["CompiledBooster"]

_FIELDS = ("feature_idx", "num_threshold", "left", "right", "missing_go_to_left",
           "is_leaf", "value", "is_categorical")


class CompiledBooster:
    """A fitted ``HistGradientBoostingClassifier``'s trees, flattened for one walk."""

    def __init__(self, classifier: Any, nodes: np.ndarray, roots: np.ndarray,
                 classes: np.ndarray) -> None:
        self.classifier = classifier
        self.baseline = np.asarray(classifier._baseline_prediction, dtype=np.float64)
        self.n_features = int(classifier.n_features_in_)
        self.feature = np.ascontiguousarray(nodes["feature_idx"], dtype=np.intp)
        self.threshold = np.ascontiguousarray(nodes["num_threshold"], dtype=np.float64)
        self.left = np.ascontiguousarray(nodes["left"], dtype=np.intp)
        self.right = np.ascontiguousarray(nodes["right"], dtype=np.intp)
        self.missing_left = np.ascontiguousarray(nodes["missing_go_to_left"], dtype=np.bool_)
        self.leaf = np.ascontiguousarray(nodes["is_leaf"], dtype=np.bool_)
        self.value = np.ascontiguousarray(nodes["value"], dtype=np.float64)
        self.roots = roots
        self.classes = classes

    @classmethod
    def of(cls, classifier: Any) -> CompiledBooster | None:
        """The compiled form of ``classifier``, or None where it cannot be read (not a
        fitted booster of numeric splits as scikit-learn 1.6-1.7 stores them)."""
        predictors = getattr(classifier, "_predictors", None)
        baseline = getattr(classifier, "_baseline_prediction", None)
        loss = getattr(classifier, "_loss", None)
        if not predictors or baseline is None or not hasattr(loss, "predict_proba"):
            return None
        per_iteration = np.shape(baseline)[-1]
        parts, roots, classes, offset = [], [], [], 0
        for iteration in predictors:
            if len(iteration) != per_iteration:
                return None
            for k, predictor in enumerate(iteration):
                nodes = getattr(predictor, "nodes", None)
                names = getattr(getattr(nodes, "dtype", None), "names", None) or ()
                if any(field not in names for field in _FIELDS) or len(nodes) == 0 \
                        or nodes["is_categorical"].any():
                    return None
                nodes = nodes.copy()
                inner = ~nodes["is_leaf"].astype(bool)
                index = np.flatnonzero(inner)
                if any(((nodes[side][inner] >= len(nodes)) | (nodes[side][inner] <= index)).any()
                       for side in ("left", "right")) \
                        or (nodes["feature_idx"][inner] < 0).any() \
                        or (nodes["feature_idx"][inner] >= classifier.n_features_in_).any():
                    # every walk goes down (children after their parent, as scikit-learn
                    # numbers them) and stays inside the tree and the features
                    return None
                nodes["left"][inner] += offset
                nodes["right"][inner] += offset
                parts.append(nodes)
                roots.append(offset)
                classes.append(k)
                offset += len(nodes)
        return cls(classifier, np.concatenate(parts), np.asarray(roots, dtype=np.intp),
                   np.asarray(classes, dtype=np.intp))

    def raw_predict(self, features: np.ndarray) -> np.ndarray:
        """(n, classes or 1) sums of leaf values: the booster's ``_raw_predict``."""
        from ._boostwalk import raw_sums  # numba: imported when first needed

        features = np.ascontiguousarray(features, dtype=np.float64)
        if features.ndim != 2 or features.shape[1] != self.n_features:
            raise ValueError(f"features of shape {features.shape}; the classifier was "
                             f"fitted on {self.n_features} columns")
        # as scikit-learn: zeros in Fortran order, plus the baseline, plus the trees
        raw = np.zeros((len(features), self.baseline.shape[-1]), order="F")
        raw += self.baseline
        raw_sums(features, self.feature, self.threshold, self.left, self.right,
                 self.missing_left, self.leaf, self.value, self.roots, self.classes, raw)
        return raw

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """(n, classes) probabilities, equal to the classifier's ``predict_proba``."""
        return np.asarray(self.classifier._loss.predict_proba(self.raw_predict(features)))
