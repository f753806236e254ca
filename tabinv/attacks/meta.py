"""The meta-classifier attack: a classifier learns the model's answers over all candidates.

For every record the attacker builds one feature vector:

- the known columns, encoded as the model's encoder encodes them;
- the label it holds (one-hot for a classifier, the fitted-scale value for a regression);
- the model's answers on all K candidates, through the same chunked candidate grid as
  :class:`~tabinv.attacks.map.MAPInversion` (unknown features averaged out with their
  prior weights): the confidences of every class (confidence access), the distribution
  of the predicted label, one-hot (label-only access), or the output (regression);
- for each candidate, the answer's agreement with the label: the confidence (or the
  predicted-label probability) of the record's label, or the residual y - output.

A classifier over the K candidates (scikit-learn's ``HistGradientBoostingClassifier`` by
default, or a standardised multinomial ``LogisticRegression``) is trained on the
attacker's reference sample, where the sensitive value is known, and applied to the
attacked records; its ``predict_proba`` is the posterior. The reference sample is never
the attacked records. A few hyperparameters are chosen by k-fold cross-validated log
loss on the reference sample only, with seeded folds.

This generalises IBM ART's ``AttributeInferenceBlackBox`` (a classifier on the other
features and the model's prediction for the record) by giving the classifier the
model's answers for *every* candidate value, so it can learn which candidate's answer is
consistent with the label (ATTACKS.md, section 8).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import AttackError
from ..params import RANDOM_STATE, Interval, Options
from ..utils import RandomState, seed_from
from .base import MEMORY, NUMERIC_POINTS, SMOOTHING, BaseAttack
from .budget import POSTERIOR_COPIES
from .candidates import Posterior
from .grid import DEFAULT_MEMORY
from .learners import CLASSIFIERS, GRIDS, full_proba, search_classifier
from .registry import register

__all__ = ["CLASSIFIERS", "GRIDS", "MetaClassifier", "REFERENCE_LABELS", "search_classifier"]

REFERENCE_LABELS = ("true", "predicted")


@register
class MetaClassifier(BaseAttack):
    """A classifier over the candidates, fed the model's answers on all of them.

    Parameters
    ----------
    classifier : {"gradient-boosting", "logistic"}
        ``gradient-boosting``: scikit-learn's ``HistGradientBoostingClassifier`` (iterations,
        learning rate and leaves searched); ``logistic``: a standardised
        multinomial ``LogisticRegression`` (C searched). See :data:`GRIDS`.
    cv : int
        Folds of the cross-validated search on the reference sample (at least 2).
    reference_labels : {"true", "predicted"}
        The label given with each reference record while training: its true label, or
        the model's answer for it (the attacker queries the model on its own records:
        the predicted class, or a regression's output). Match it to the labels the
        attacked records come with (``label_source``).
    smoothing : float
        Added to the counts that weight unknown categorical features.
    numeric_points : int
        Support points (reference quantiles) for each unknown numeric feature.
    memory : int
        Bytes the attack may hold (``--memory``): the candidate grid, its chunks and the
        (n, K) posteriors next to the feature matrix.
    random_state : int, Generator or None
        Seed of the folds and of the classifier, resolved once by ``fit``.

    Raises
    ------
    AttackError
        From ``fit``: no reference sample, or one without the sensitive column(s) or the
        label; a parameter outside its constraints.

    Notes
    -----
    Candidates that never occur in the reference sample get probability 0 (the
    classifier cannot predict a class it never saw); those that do get the classifier's
    ``predict_proba``. With a single candidate in the reference sample the posterior is
    that candidate for every record. ``describe()`` records the classifier, the chosen
    hyperparameters and their cross-validated log loss and accuracy.

    References
    ----------
    Jayaraman, Evans. Are attribute inference attacks just imputation? ACM CCS 2022.
    IBM Adversarial Robustness Toolbox, ``AttributeInferenceBlackBox``.

    Examples
    --------
    >>> from tabinv.data.registry import builtin_card
    >>> from tabinv.data.synthetic import synthetic_iwpc
    >>> from tabinv.models.families import make_model
    >>> from tabinv.models.oracle import Oracle
    >>> card = builtin_card("iwpc").with_label("dose_class")
    >>> members, reference = synthetic_iwpc(500, 0), synthetic_iwpc(300, 1)
    >>> model = make_model("tree", card, max_depth=4).fit(members)
    >>> known = [f for f in model.features if f != "vkorc1"]
    >>> attack = MetaClassifier().fit(Oracle.for_model(model), sensitive=["vkorc1"],
    ...                               known=known, reference=reference)
    >>> attack.infer(members.iloc[:5]).probabilities.shape
    (5, 3)
    """

    name = "meta"
    requires = ("output", "confidence", "label")
    parameters = {"classifier": [Options(str, CLASSIFIERS)],
                  "cv": [Interval(Integral, 2, None, closed="left")],
                  "reference_labels": [Options(str, REFERENCE_LABELS)],
                  "smoothing": SMOOTHING, "numeric_points": NUMERIC_POINTS, "memory": MEMORY,
                  "random_state": RANDOM_STATE}

    def __init__(self, *, classifier: str = "gradient-boosting", cv: int = 3,
                 reference_labels: str = "true", smoothing: float = 1.0,
                 numeric_points: int = 10, memory: int = DEFAULT_MEMORY,
                 random_state: RandomState = 0) -> None:
        self.classifier = classifier
        self.cv = cv
        self.reference_labels = reference_labels
        self.smoothing = smoothing
        self.numeric_points = numeric_points
        self.memory = memory
        self.random_state = random_state

    # -- features ---------------------------------------------------------------------
    def _answer_width(self) -> int:
        """Numbers per candidate the model's answers give: C classes, or 1 output."""
        model = self.oracle_.model
        return 1 if self.oracle_.answers == "output" else len(model.domain(model.label))

    def feature_width(self) -> int:
        """Columns of the feature matrix (:meth:`features`)."""
        k, width = self.candidates_.size, self._answer_width()
        return len(self.known_columns_) + width + k * width + k

    def posterior_copies(self) -> int:
        """The (n, K) arrays of the posterior, plus the feature matrix (twice: the
        classifier may copy it) in units of (n, K)."""
        return POSTERIOR_COPIES + 2 * math.ceil(self.feature_width() / self.candidates_.size)

    def candidate_answers(self, records: pd.DataFrame) -> np.ndarray:
        """(n, K, W) the model's answers on every candidate, unknown features averaged
        with their prior weights: confidences, the one-hot predicted label, or the output
        (W = 1), queried chunk by chunk through the candidate grid."""
        average = self._averaged_answers()
        return self.grid_.map_chunks(self.oracle_, self.lazy_known(records),
                                     lambda outputs, chunk: average(outputs), self.budget,
                                     reserved=self.reserved_bytes(len(records)))

    def _averaged_answers(self) -> Callable[[np.ndarray], np.ndarray]:
        """outputs (n_c, G, ...) of a grid chunk -> (n_c, K, W) answers averaged over the
        unknown features' support with their prior weights."""
        answers, k = self.oracle_.answers, self.candidates_.size
        width = self._answer_width()
        weights = self.weights_

        def average(outputs: np.ndarray) -> np.ndarray:
            n_c = len(outputs)
            part = np.empty((n_c, k, width))
            for c in range(width):
                if answers == "label":
                    column = (outputs == c).astype(float)
                elif answers == "output":
                    column = np.asarray(outputs, dtype=float)
                else:
                    column = np.asarray(outputs[:, :, c], dtype=float)
                per_candidate = column.reshape(n_c, k, weights.shape[1])  # n_c may be 0
                part[:, :, c] = np.einsum("nku,ku->nk", per_candidate, weights)
            return part

        return average

    def features(self, records: pd.DataFrame, y: np.ndarray) -> np.ndarray:
        """(n, F) features: known columns (encoded), label, answers on all K candidates
        (K x W) and each candidate's agreement with the label (K).

        Written in place into one (n, F) matrix as the grid's chunks arrive: the known
        columns from the blocks of records the grid encodes anyway (the records are
        encoded once), answers and agreement by each chunk's reduction."""
        check_is_fitted_grid(self)
        y = np.asarray(y)
        n, k, width = len(records), self.candidates_.size, self._answer_width()
        n_known = len(self.known_columns_)
        answers_at = n_known + width
        agreement_at = answers_at + k * width
        matrix = np.empty((n, self.feature_width()))
        if self.oracle_.answers == "output":
            matrix[:, n_known] = y
        else:
            matrix[:, n_known:answers_at] = y[:, None] == np.arange(width)
        known = self.lazy_known(records)
        encode = known.encode

        def encode_and_keep(start: int, stop: int) -> np.ndarray:
            block = encode(start, stop)
            matrix[start:stop, :n_known] = block[:, self.known_columns_]
            return block

        known.encode = encode_and_keep
        average = self._averaged_answers()

        def reduce(outputs: np.ndarray, chunk: slice) -> np.ndarray:
            part = matrix[chunk]
            answers = part[:, answers_at:agreement_at].reshape(len(part), k, width)
            answers[...] = average(outputs)
            labels = y[chunk]
            if self.oracle_.answers == "output":
                part[:, agreement_at:] = labels.astype(float)[:, None] - answers[:, :, 0]
            else:
                part[:, agreement_at:] = answers[np.arange(len(part)), :, labels]
            return part

        return self.grid_.map_chunks(self.oracle_, known, reduce, self.budget, out=matrix,
                                     reserved=self.reserved_bytes(n))

    # -- fitting ----------------------------------------------------------------------
    def _fit(self, reference: pd.DataFrame | None) -> None:
        model = self.oracle_.model
        if reference is None:
            raise AttackError("attack 'meta' trains its classifier on a reference sample "
                              "(where the sensitive value is known); give one")
        missing = [c for c in (*self.sensitive_, model.label) if c not in reference.columns]
        if missing:
            raise AttackError(f"attack 'meta' trains on the reference sample, which lacks "
                              f"column(s) {missing}")
        if len(reference) == 0:
            raise AttackError("attack 'meta' needs a non-empty reference sample")
        seed = seed_from(self.random_state)
        self.grid_ = self.candidate_grid(reference, smoothing=self.smoothing,
                                         numeric_points=self.numeric_points,
                                         random_state=self.random_state)
        k = self.candidates_.size
        weights = np.exp(self.grid_.log_weight).reshape(k, -1)
        self.weights_ = weights / weights.sum(axis=1, keepdims=True)
        slices = model.encoder_.slices_
        self.known_columns_ = np.array([c for f in self.known_
                                        for c in range(*slices[f])], dtype=np.int64)
        self.check_memory(len(reference))
        reference = reference.reset_index(drop=True)
        target = self.candidates_.joint_index(reference)
        features = self.features(reference, self._reference_labels(reference))
        self.present_ = np.unique(target)
        if len(self.present_) < 2:
            self.classifier_ = None
            self.training_ = {"classifier": "constant (one candidate in the reference "
                                            "sample)"}
        else:
            self.classifier_, self.training_ = search_classifier(
                self.classifier, features, target, k, self.cv, seed)
        self.training_ = {**self.training_, "training_records": len(reference),
                          "reference_labels": self.reference_labels,
                          "features": self.feature_width()}

    def _reference_labels(self, reference: pd.DataFrame) -> np.ndarray:
        """The labels the reference records are given while training (fitted scale)."""
        model = self.oracle_.model
        if self.reference_labels == "true":
            return np.asarray(model.encode_label(reference[model.label]))
        encoded = model.encoder_.transform(reference[list(model.features)],
                                           dtype=model.input_dtype)
        answers = self.oracle_.query_encoded(encoded)
        return np.argmax(answers, axis=1) if self.oracle_.answers == "confidence" \
            else np.asarray(answers)

    # -- inference --------------------------------------------------------------------
    def _infer(self, records: pd.DataFrame, y: np.ndarray) -> Posterior:
        k = self.candidates_.size
        if self.classifier_ is None:
            probabilities = np.zeros((len(records), k))
            probabilities[:, self.present_[0]] = 1.0
            return Posterior(self.candidates_, probabilities, self.name)
        features = self.features(records, y)
        return Posterior(self.candidates_, full_proba(self.classifier_, features, k),
                         self.name)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "meta_classifier": self.training_}


def check_is_fitted_grid(attack: MetaClassifier) -> None:
    """Refuse to build features before ``fit`` (a clear error, not an AttributeError)."""
    if not hasattr(attack, "weights_"):
        raise AttackError("attack 'meta' is not fitted: call fit first")
