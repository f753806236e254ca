"""LOMIA: label-only model inversion (Mehnaz et al., USENIX Security 2022).

1. For every attacked record and candidate v, ask the model for its label on
   (v, known columns); with unknown features the answer is the distribution of the
   predicted label over their support (prior weights), and the model "predicts y" for v
   when y is a most likely predicted label (ties with another label count as y).
2. The records where exactly one candidate reproduces the record's label y are labelled
   with that candidate: they form the attack classifier's training set
   (known columns, y) -> candidate.
3. The attack classifier (the multinomial logistic regression of the imputation
   baseline, with the label as an input column) is fitted on that set and applied to
   every attacked record; its ``predict_proba`` is the posterior.

The training set comes from the records passed to ``infer``: the attacker queries the
model on the records it attacks, as in the paper. When fewer than two distinct
candidates appear in it, no classifier can be fitted and the posterior is the prior (the
smoothed marginal of the reference sample, else the model's published marginals).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ..params import RANDOM_STATE
from ..utils import RandomState
from .base import MEMORY, NUMERIC_POINTS, SMOOTHING, BaseAttack
from .baselines import BaselineSuite
from .budget import POSTERIOR_COPIES
from .candidates import Posterior
from .csmia import predicts_label
from .grid import DEFAULT_MEMORY
from .priors import MarginalPrior, Prior, independent_prior
from .registry import register

__all__ = ["LOMIA"]


@register
class LOMIA(BaseAttack):
    """Label-only model inversion attack (LOMIA).

    Works with label-only oracles and with confidence oracles, of which it uses only the
    predicted label (the argmax of the reported, possibly rounded, confidences; the
    first class on ties, as a label-only API answers).

    Parameters
    ----------
    smoothing : float
        Added to the counts that weight unknown categorical features and to those of
        the fallback prior.
    numeric_points : int
        Support points (reference quantiles) for each unknown numeric feature.
    memory : int
        Bytes the attack may hold (``--memory``): the candidate grid, its chunks (down
        to one record) and the (n, K) posteriors; what cannot fit is refused with the
        numbers (:mod:`~tabinv.attacks.budget`).
    random_state : int, Generator or None
        Seed of the attack classifier, resolved when ``infer`` fits it.

    Raises
    ------
    AttackError
        From ``fit``: the oracle gives a regression's outputs (``"output"``).

    Notes
    -----
    The attack classifier is trained on the records passed to ``infer`` (those with
    exactly one candidate reproducing their label) and applied to all of them; with
    fewer than two distinct candidates among them the posterior is the prior (marginal
    of the reference sample, else the model's published marginals). ``describe()``
    reports the training set of the last ``infer`` call (its size, the distinct
    candidates in it, and whether the attack fell back to the prior).

    References
    ----------
    Mehnaz, Dibbo, Kabir, Li, Bertino. Are your sensitive attributes private? Novel
    model inversion attribute inference attacks on classification models. USENIX
    Security 2022.

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
    >>> attack = LOMIA().fit(Oracle.for_model(model, "label-only"),
    ...                      sensitive=["vkorc1"], known=known, reference=reference)
    >>> attack.infer(members).probabilities.shape
    (500, 3)
    """

    name = "lomia"
    requires = ("label", "confidence")
    parameters = {"smoothing": SMOOTHING, "numeric_points": NUMERIC_POINTS, "memory": MEMORY,
                  "random_state": RANDOM_STATE}

    def __init__(self, *, smoothing: float = 1.0, numeric_points: int = 10,
                 memory: int = DEFAULT_MEMORY, random_state: RandomState = 0) -> None:
        self.smoothing = smoothing
        self.numeric_points = numeric_points
        self.memory = memory
        self.random_state = random_state

    def _fit(self, reference: pd.DataFrame | None) -> None:
        model = self.oracle_.model
        self.grid_ = self.candidate_grid(reference, smoothing=self.smoothing,
                                         numeric_points=self.numeric_points)
        self.prior_: Prior
        if reference is not None and all(s in reference.columns for s in self.sensitive_):
            self.prior_ = MarginalPrior(self.smoothing).fit(reference, self.candidates_)
        else:
            self.prior_ = independent_prior(self.candidates_,
                                             [model.marginals_[s] for s in self.sensitive_],
                                             self.smoothing)
        self.training_: dict[str, Any] = {}

    def posterior_copies(self) -> int:
        """The (n, K, C) label distribution and the (n, K) arrays made from it."""
        return len(self.oracle_.model.domain(self.oracle_.model.label)) + POSTERIOR_COPIES

    def predicted_labels(self, records: pd.DataFrame) -> np.ndarray:
        """(n, K, C) distribution of the predicted label per candidate over unknowns."""
        n_classes = len(self.oracle_.model.domain(self.oracle_.model.label))
        k = self.candidates_.size
        weights = np.exp(self.grid_.log_weight).reshape(k, -1)
        weights = weights / weights.sum(axis=1, keepdims=True)
        classes = np.arange(n_classes)

        def reduce(outputs: np.ndarray, chunk: slice) -> np.ndarray:
            labels = outputs if outputs.ndim == 2 else np.argmax(outputs, axis=2)
            onehot = (labels[:, :, None] == classes).astype(float)
            shaped = onehot.reshape(len(onehot), k, -1, n_classes)
            return np.einsum("nkuc,ku->nkc", shaped, weights)

        return self.grid_.map_chunks(self.oracle_, self.lazy_known(records), reduce,
                                     self.budget, reserved=self.reserved_bytes(len(records)))

    def reproduces(self, records: pd.DataFrame, labels: Any = None) -> np.ndarray:
        """(n, K) whether the model predicts each record's label for each candidate.

        ``labels`` as in :meth:`infer` (default: the records' label column).
        """
        check_is_fitted(self, "grid_")
        model = self.oracle_.model
        if labels is None:
            labels = records[model.label]
        y = np.asarray(model.encode_label(labels))
        return predicts_label(self.predicted_labels(records.reset_index(drop=True)), y)

    def _infer(self, records: pd.DataFrame, y: np.ndarray) -> Posterior:
        model = self.oracle_.model
        matches = predicts_label(self.predicted_labels(records), y)
        unique = matches.sum(axis=1) == 1
        target = np.argmax(matches[unique], axis=1)
        distinct = np.unique(target)
        self.training_ = {"records": int(unique.sum()), "of": len(records),
                          "candidates": [self.candidates_.label(k) for k in distinct],
                          "fallback": None}
        if len(distinct) < 2:
            self.training_["fallback"] = f"prior ({self.prior_.describe()})"
            return Posterior.from_log_scores(self.candidates_, self.prior_.log_prob(records),
                                             self.name)
        suite = BaselineSuite(model, self.candidates_, self.known_,
                              random_state=self.random_state)
        inputs = suite.inputs(records, np.asarray(model.domain(model.label), dtype=object)[y])
        classifier = suite.imputer().fit(inputs[unique], target)
        return Posterior(self.candidates_, classifier.predict_proba(inputs), self.name)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(),
                "classifier": "logistic regression on the known columns and the label",
                "training_set": self.training_ or "the attacked records (set by infer)"}
