"""CSMIA: confidence-score-based model inversion (Mehnaz et al., USENIX Security 2022).

The attacker queries the model once per candidate v of the sensitive attribute(s),
the features nobody gives it summed out with their priors, and reads the confidence
c(v) the model reports for the record's label y. With M = {v : the model predicts y
for x_v}:

- |M| = 1: infer that v;
- |M| >= 2: infer the v in M with the highest c(v);
- |M| = 0: infer the v with the lowest c(v) (over all candidates).

Candidates whose deciding confidences are equal (within ``TIE_TOLERANCE``) are tied;
ties are broken by a random priority per (record, candidate), drawn from the attack's
``random_state`` as one (n records, K candidates) array when ``infer`` runs: the tied
candidate with the highest priority wins.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..params import RANDOM_STATE
from ..utils import RandomState, check_random_state
from .base import MEMORY, NUMERIC_POINTS, SMOOTHING, BaseAttack
from .budget import POSTERIOR_COPIES
from .candidates import Posterior
from .grid import DEFAULT_MEMORY
from .registry import register

__all__ = ["CSMIA", "TIE_TOLERANCE", "predicts_label",
           "csmia_decision", "csmia_scores"]

#: values closer than this count as equal (differences below it are floating-point noise
#: of averaging over unknown features)
TIE_TOLERANCE = 1e-12
#: weight added to the decided candidate so that it is the strict maximum of the scores
TIE_BONUS = 1e-9


def predicts_label(outputs: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n, K) whether class y is a most likely class of outputs (n, K, C).

    Outputs are confidences or a distribution of predicted labels; a tie between y and
    another class (within ``TIE_TOLERANCE``) counts as predicting y.
    """
    chosen = np.take_along_axis(outputs, y[:, None, None], axis=2)[:, :, 0]
    return chosen >= outputs.max(axis=2) - TIE_TOLERANCE


def csmia_decision(confidence: np.ndarray, matches: np.ndarray,
                   priority: np.ndarray) -> np.ndarray:
    """CSMIA's inferred candidate index per record (n,), ties broken by ``priority``.

    Parameters
    ----------
    confidence : (n, K) array
        Confidence the model reports for the record's label, per candidate.
    matches : (n, K) bool array
        Membership in M (the model predicts the label for the candidate).
    priority : (n, K) array
        Tie-break priorities: among tied candidates the highest wins.
    """
    some = matches.any(axis=1, keepdims=True)
    pool = np.where(some, matches, True)  # M, or every candidate when M is empty
    key = np.where(pool, np.where(some, confidence, -confidence), -np.inf)
    tied = pool & (key >= key.max(axis=1, keepdims=True) - TIE_TOLERANCE)
    return np.argmax(np.where(tied, priority, -np.inf), axis=1)


def csmia_scores(confidence: np.ndarray, matches: np.ndarray,
                 decision: np.ndarray) -> np.ndarray:
    """Soft CSMIA posterior (n, K) whose argmax is ``decision``.

    Weights, normalised per record: when M is non-empty, ``[v in M] + c(v)`` (every
    member of M outranks every non-member; within each group, higher confidence ranks
    higher); when M is empty, ``1 - c(v)`` (lower confidence ranks higher). The decided
    candidate gets ``TIE_BONUS`` more, which only separates it from candidates tied
    with it.
    """
    some = matches.any(axis=1, keepdims=True)
    weights = np.where(some, matches + confidence, 1.0 - confidence)
    weights[np.arange(len(weights)), decision] += TIE_BONUS
    return weights / weights.sum(axis=1, keepdims=True)


@register
class CSMIA(BaseAttack):
    """Confidence-score-based model inversion attack (CSMIA).

    For every record and candidate v, the model is queried on (v, known columns) with
    unknown features summed out: the confidences are averaged over their support with
    their prior weights (as in :class:`~tabinv.attacks.map.MAPInversion`). The model
    "predicts y" for v when y is a most likely class of these expected confidences (a
    tie between y and another class counts as predicting y). The decision follows the
    paper's three cases (module docstring); no prior is used. Ties between candidates
    (deciding confidences within 1e-12) go to the tied candidate with the highest
    priority in ``random_state``'s ``random((n records, K candidates))``.

    The posterior is a soft score whose argmax is exactly the CSMIA decision (ties
    already broken) and whose ordering is usable for AUC and top-k precision: per
    record, weights ``[v in M] + c(v)`` when M is non-empty, ``1 - c(v)`` when it is
    empty, plus 1e-9 for the decided candidate, normalised (see :func:`csmia_scores`).

    Parameters
    ----------
    smoothing : float
        Added to the counts that weight unknown categorical features.
    numeric_points : int
        Support points (reference quantiles) for each unknown numeric feature.
    memory : int
        Bytes the attack may hold (``--memory``): the candidate grid, its chunks (down
        to one record) and the (n, K) posteriors; what cannot fit is refused with the
        numbers (:mod:`~tabinv.attacks.budget`).
    random_state : int, Generator or None
        Seed of the tie-break priorities, drawn when ``infer`` runs: the same seed gives
        the same decisions.

    Raises
    ------
    AttackError
        From ``fit``: the oracle gives labels only (``"label"``: use ``lomia``) or a
        regression's outputs (``"output"``), not confidences.

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
    >>> members = synthetic_iwpc(500, 0)
    >>> model = make_model("tree", card, max_depth=4).fit(members)
    >>> known = [f for f in model.features if f != "vkorc1"]
    >>> attack = CSMIA(random_state=1).fit(Oracle.for_model(model), sensitive=["vkorc1"],
    ...                                    known=known)
    >>> attack.infer(members.iloc[:5]).probabilities.shape
    (5, 3)
    """

    name = "csmia"
    requires = ("confidence",)
    parameters = {"smoothing": SMOOTHING, "numeric_points": NUMERIC_POINTS, "memory": MEMORY,
                  "random_state": RANDOM_STATE}

    def __init__(self, *, smoothing: float = 1.0, numeric_points: int = 10,
                 memory: int = DEFAULT_MEMORY, random_state: RandomState = 0) -> None:
        self.smoothing = smoothing
        self.numeric_points = numeric_points
        self.memory = memory
        self.random_state = random_state

    def _fit(self, reference: pd.DataFrame | None) -> None:
        self.grid_ = self.candidate_grid(reference, smoothing=self.smoothing,
                                         numeric_points=self.numeric_points)

    def posterior_copies(self) -> int:
        """The (n, K, C) confidences, and the (n, K) confidence, matches, priorities and
        scores made from them."""
        return len(self.oracle_.model.domain(self.oracle_.model.label)) + POSTERIOR_COPIES + 1

    def expected_confidences(self, records: pd.DataFrame) -> np.ndarray:
        """(n, K, C) confidences per candidate, unknown features averaged out."""
        return self.grid_.expected_outputs(self.oracle_, self.lazy_known(records),
                                           memory=self.budget,
                                           reserved=self.reserved_bytes(len(records)))

    def _infer(self, records: pd.DataFrame, y: np.ndarray) -> Posterior:
        outputs = self.expected_confidences(records)
        confidence = np.take_along_axis(outputs, y[:, None, None], axis=2)[:, :, 0]
        matches = predicts_label(outputs, y)
        priority = check_random_state(self.random_state).random(confidence.shape)
        decision = csmia_decision(confidence, matches, priority)
        return Posterior(self.candidates_, csmia_scores(confidence, matches, decision),
                         self.name)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(),
                "decision": "CSMIA: the only candidate predicting the label; else the "
                            "most confident one predicting it; else the least confident",
                "ties": "broken by a random priority per (record, candidate) drawn from "
                        "random_state"}
