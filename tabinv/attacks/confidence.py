"""Confidence-based black-box inversion (Fredrikson, Jha, Ristenpart, CCS 2015).

The attacker sees the confidences a classifier reports and scores every candidate v by

    score(v) = p_s(v) * sum_{x_U} f_y(v, x_K, x_U) * prod_{j in U} p_j(x_j)

i.e. the prior of v times the confidence the model reports for the record's label y,
with the features nobody gives the attacker summed out with their priors. This is
exactly MAP inversion with the confidence likelihood, so the attack is a thin
specialisation of :class:`~tabinv.attacks.map.MAPInversion` that accepts only
confidence access (rounded confidences included: rounding is applied by the oracle).
"""

from __future__ import annotations

from .map import MAPInversion
from .registry import register

__all__ = ["ConfidenceInversion"]


@register
class ConfidenceInversion(MAPInversion):
    """Black-box inversion from reported confidences: MAP with pi(y | f) = f_y.

    Identical to :class:`~tabinv.attacks.map.MAPInversion` on an oracle with
    ``"confidence"`` access (same grid, priors and unknown-feature support; confidences
    below 1e-12 count as 1e-12 so that no candidate is vetoed outright); it refuses
    label-only oracles and regression models instead of switching likelihood.

    Parameters
    ----------
    prior : {"marginal", "conditional", "learned", "published"} or Prior
        p_s: see :class:`~tabinv.attacks.map.MAPInversion`.
    prior_given : sequence of str
        Known categorical columns a conditional prior conditions on.
    smoothing : float
        Added to every count of frequency priors and unknown-feature weights.
    confusion : {"bayes", "row"}
        Unused (label-only likelihood of the parent class); kept so that parameters are
        interchangeable with ``MAPInversion``.
    numeric_points : int
        Support points (reference quantiles) for each unknown numeric feature.
    likelihood : {"model", "calibrated"}
        ``model``: pi(y | f) = f_y. ``calibrated``: the map from confidences to
        p(y | confidences) chosen and fitted on the reference sample (see
        :class:`~tabinv.attacks.map.MAPInversion`).
    memory : int
        Bytes the attack may hold (``--memory``): the candidate grid, its chunks (down
        to one record) and the (n, K) posteriors; what cannot fit is refused with the
        numbers (:mod:`~tabinv.attacks.budget`).
    random_state : int, Generator or None
        Seed of the learned prior's classifier.

    Raises
    ------
    AttackError
        From ``fit``: the oracle gives labels only (``"label"``) or regression outputs
        (``"output"``) rather than confidences.

    References
    ----------
    Fredrikson, Jha, Ristenpart. Model inversion attacks that exploit confidence
    information and basic countermeasures. ACM CCS 2015.

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
    >>> attack = ConfidenceInversion().fit(Oracle.for_model(model, "rounded", decimals=2),
    ...                                    sensitive=["vkorc1"], known=known,
    ...                                    reference=reference)
    >>> attack.infer(members.iloc[:5]).probabilities.shape
    (5, 3)
    """

    name = "confidence"
    requires = ("confidence",)
