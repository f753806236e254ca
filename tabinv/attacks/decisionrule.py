"""The white-box decision-tree rule of Fredrikson et al. (CCS 2015) as IBM ART decides it.

For a single decision-tree classifier and a record whose every other feature is known,
each candidate v of the sensitive attribute reaches exactly one leaf. The rule:

1. if exactly one candidate's leaf predicts the record's label y, answer that candidate;
2. otherwise answer the candidate maximising  p_s(v) * count(leaf(v)).

This is the rule of ART's ``AttributeInferenceWhiteBoxDecisionTree``, which reproduces
it with one scikit-learn call per record per candidate; here the leaves of the whole
(N x K) candidate grid come from one compiled ``apply`` per chunk. It exists so that
tabinv can be compared with ART answer for answer; :class:`WhiteBoxTreeInversion`
(``whitebox-tree``) is the likelihood-based generalisation (forests, boosters,
regressors, unknown features, a calibrated posterior).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import AttackError
from .candidates import Posterior
from .grid import DEFAULT_MEMORY
from .priors import Prior
from .registry import register
from .whitebox import WhiteBoxTreeInversion

__all__ = ["WhiteBoxDecisionRule"]


@register
class WhiteBoxDecisionRule(WhiteBoxTreeInversion):
    """Fredrikson et al.'s white-box decision-tree rule, answer for answer as ART's.

    The posterior it returns is the rule's decision, not a calibrated probability: a
    record whose label exactly one candidate's leaf predicts gets probability 1 on that
    candidate; every other record gets p_s(v) * count(leaf(v)), normalised. The joint
    MAP guess (first maximum on ties, as ART's ``argmax``) is ART's answer.

    Counts are the leaves' training counts (``weighted_n_node_samples``, which equals
    ART's ``n_node_samples`` for a tree fitted without sample weights). A leaf
    predicts its majority class, first on ties, as the tree's ``predict`` does.

    Parameters
    ----------
    prior : {"marginal", "conditional", "learned", "published"} or Prior
        p_s(v), as in :class:`~tabinv.attacks.map.MAPInversion` (ART takes the marginal
        frequencies as ``priors``).
    prior_given, smoothing, memory, random_state
        As in :class:`~tabinv.attacks.whitebox.WhiteBoxTreeInversion`.

    Raises
    ------
    AttackError
        From ``fit``: the model is not a single scikit-learn decision-tree classifier,
        or it splits on a feature the attacker does not know (the rule needs one leaf
        per candidate).

    References
    ----------
    Fredrikson, Jha, Ristenpart. Model inversion attacks that exploit confidence
    information and basic countermeasures. ACM CCS 2015. IBM Adversarial Robustness
    Toolbox, ``art.attacks.inference.attribute_inference.white_box_decision_tree``.

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
    >>> attack = WhiteBoxDecisionRule().fit(Oracle.for_model(model, "white-box"),
    ...                                     sensitive=["vkorc1"], known=known,
    ...                                     reference=reference)
    >>> attack.infer(members.iloc[:5]).probabilities.sum(axis=1).round(6).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """

    name = "whitebox-dt"
    requires = ("confidence", "label")  # a classifier's leaves vote for labels
    # the rule's leaves vote by majority: no leaf_label
    parameters = {k: v for k, v in WhiteBoxTreeInversion.parameters.items()
                  if k != "leaf_label"}

    def __init__(self, *, prior: str | Prior = "marginal", prior_given: Sequence[str] = (),
                 smoothing: float = 1.0, memory: int = DEFAULT_MEMORY,
                 random_state: Any = 0) -> None:
        super().__init__(prior=prior, prior_given=prior_given, smoothing=smoothing,
                         leaf_label="majority", memory=memory, random_state=random_state)

    def _fit(self, reference: pd.DataFrame | None) -> None:
        super()._fit(reference)
        ensemble = self.ensemble_
        if ensemble.kind != "classifier" or len(ensemble.trees) != 1:
            raise AttackError(
                f"whitebox-dt decides with one decision-tree classifier; the model is a "
                f"{ensemble.estimator} ({len(ensemble.trees)} tree(s)). Use whitebox-tree "
                "for forests, boosters and regressors")
        if not self.use_grid_:
            raise AttackError(
                "whitebox-dt needs one leaf per candidate, but the tree splits on a feature "
                f"the attacker does not know ({', '.join(self.unknown_names_)}). Use "
                "whitebox-tree, which sums over the consistent leaves")

    def _infer(self, records: pd.DataFrame, y: np.ndarray) -> Posterior:
        k, leaves = self.candidates_.size, self.leaves_
        assert leaves is not None  # fit refuses models that split on unknown features
        prior = np.exp(self.prior_.log_prob(records))
        encoded = self.encode_known(records).astype(np.float32, copy=False)
        columns = self.label_columns_[y]
        probabilities = np.empty((len(encoded), k))
        step = self.chunk_size(len(encoded))
        for start in range(0, len(encoded), step):
            stop = min(start + step, len(encoded))
            nodes = leaves.nodes(encoded[start:stop])[:, 0]
            predicts_y = leaves.votes[nodes, np.repeat(columns[start:stop], k)] > 0
            predicts_y = predicts_y.reshape(-1, k)
            score = leaves.weights[nodes].reshape(-1, k) * prior[start:stop]
            single = predicts_y.sum(axis=1) == 1
            score[single] = predicts_y[single]
            total = score.sum(axis=1, keepdims=True)
            # leaves without training records (possible only in hand-made trees): uniform
            probabilities[start:stop] = np.where(total > 0, score / np.where(total > 0,
                                                                             total, 1), 1 / k)
        return Posterior(self.candidates_, probabilities, self.name)

    def describe(self) -> dict[str, Any]:
        facts = super().describe()
        facts["likelihood"] = (
            f"white-box {self.ensemble_.estimator}: the one candidate whose leaf predicts "
            "y, else the largest prior x leaf count (Fredrikson et al. 2015, as ART)")
        return facts
