"""Prediction match: a prior times "this candidate's prediction equals the label".

Under label-only access the attacker sees only the model's predicted class. For each
record and candidate v it asks whether the model, given v (and each support point of the
features nobody gives it, weighted by their priors), predicts the record's label y:

    score(v) = p(v | prior) * P_u[ model(v, x_K, u) = y ]

With a learned prior (p(v | known columns) from the reference sample) this combines what
a model of the reference sample knows with the model's answers over all candidates.
Records where several candidates match are decided by the prior among them; records
where no candidate matches (the model gets their label wrong whatever v is) fall back to
the prior alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import AttackError
from ..params import RANDOM_STATE
from ..utils import RandomState
from .base import MEMORY, NUMERIC_POINTS, SMOOTHING, BaseAttack
from .candidates import Posterior
from .grid import DEFAULT_MEMORY
from .map import PRIOR, PRIOR_GIVEN, MAPInversion
from .priors import Prior
from .registry import register

__all__ = ["PredictionMatch"]


@register
class PredictionMatch(MAPInversion):
    """Label-only inference: prior x P(the candidate's prediction equals the label).

    Works with label-only oracles and with confidence oracles, of which it uses only the
    predicted label (the first most confident class, as a label-only API answers).

    Parameters
    ----------
    prior : {"marginal", "conditional", "learned", "published"} or Prior
        p(v): see :class:`~tabinv.attacks.map.MAPInversion`; ``learned`` is the rule
        that reached .776 on an IWPC depth-8 tree with the true label.
    prior_given : sequence of str
        Known categorical columns a conditional prior conditions on.
    smoothing : float
        Added to every count of frequency priors and unknown-feature weights.
    numeric_points : int
        Support points (reference quantiles) for each unknown numeric feature.
    memory : int
        Bytes the attack may hold (``--memory``).
    random_state : int, Generator or None
        Seed of the learned prior's classifier.

    Raises
    ------
    AttackError
        From ``fit``: the oracle gives a regression's outputs (``"output"``).

    Notes
    -----
    Ties: when several candidates' predictions equal the label, the posterior is the
    prior restricted to them (the MAP guess is the most probable of them under the
    prior). No match: when no candidate's prediction equals the label, the posterior is
    the prior. ``describe()["matches"]`` counts the records of the last ``infer`` with
    no, one and several matching candidates.

    References
    ----------
    Mehnaz, Dibbo, Kabir, Li, Bertino. Are your sensitive attributes private? Novel
    model inversion attribute inference attacks on classification models. USENIX
    Security 2022 (candidates whose prediction matches the label). Jayaraman, Evans.
    Are attribute inference attacks just imputation? ACM CCS 2022 (a learned prior
    combined with the model's evidence).

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
    >>> attack = PredictionMatch(prior="learned").fit(
    ...     Oracle.for_model(model, "label-only"), sensitive=["vkorc1"], known=known,
    ...     reference=reference)
    >>> attack.infer(members).probabilities.shape
    (500, 3)
    """

    name = "match"
    requires = ("label", "confidence")
    parameters = {"prior": PRIOR, "prior_given": PRIOR_GIVEN, "smoothing": SMOOTHING,
                  "numeric_points": NUMERIC_POINTS, "memory": MEMORY,
                  "random_state": RANDOM_STATE}

    def __init__(self, *, prior: str | Prior = "marginal", prior_given: Sequence[str] = (),
                 smoothing: float = 1.0, numeric_points: int = 10,
                 memory: int = DEFAULT_MEMORY, random_state: RandomState = 0) -> None:
        self.prior = prior
        self.prior_given = prior_given
        self.smoothing = smoothing
        self.numeric_points = numeric_points
        self.memory = memory
        self.random_state = random_state

    def _fit(self, reference: pd.DataFrame | None) -> None:
        self._fit_prior_and_grid(reference)
        self.matches_: dict[str, int] = {}

    def match_probability(self, records: pd.DataFrame, y: np.ndarray) -> np.ndarray:
        """(n, K): the prior weight of the unknown features' support points at which the
        model, given the candidate, predicts the record's label (0 or 1 when every
        feature but the sensitive ones is known)."""
        k = self.candidates_.size
        weights = np.exp(self.grid_.log_weight).reshape(k, -1)
        weights /= weights.sum(axis=1, keepdims=True)

        def reduce(outputs: np.ndarray, rows: slice) -> np.ndarray:
            predicted = outputs if outputs.ndim == 2 else np.argmax(outputs, axis=2)
            same = predicted == y[rows, None]
            return (same.reshape(len(same), k, -1) * weights).sum(axis=2)

        return self.grid_.map_chunks(self.oracle_, self.lazy_known(records), reduce,
                                     self.budget, reserved=self.reserved_bytes(len(records)))

    def _infer(self, records: pd.DataFrame, y: np.ndarray) -> Posterior:
        matches = self.match_probability(records, y)
        prior = np.exp(self.prior_.log_prob(records))
        scores = prior * matches
        totals = scores.sum(axis=1)
        no_match = ~(totals > 0)
        scores[no_match] = prior[no_match]
        totals[no_match] = scores[no_match].sum(axis=1)
        if not (totals > 0).all():
            raise AttackError(f"{self.name}: a record has no candidate with a positive prior")
        scores /= totals[:, None]
        count = (matches > 0).sum(axis=1)
        self.matches_ = {"none": int((count == 0).sum()), "one": int((count == 1).sum()),
                         "several": int((count > 1).sum())}
        return Posterior(self.candidates_, scores, self.name)

    def describe(self) -> dict[str, Any]:
        facts = {**BaseAttack.describe(self), "prior": self.prior_.describe()}
        facts["likelihood"] = ("indicator: the candidate's predicted label equals the "
                               "record's label (no match: the prior)")
        if self.matches_:
            facts["matches"] = dict(self.matches_)
        return facts
