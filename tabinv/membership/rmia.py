"""RMIA (Zarifzadeh et al. 2024), offline, with reference models: an estimator like the
attacks of :mod:`.attacks`."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import AttackError, DataError
from .attacks import MembershipAttack
from .metrics import roc_points
from .queries import DEFAULT_CLIP, label_confidence
from .shadows import DEFAULT_SUBSTITUTE, ShadowSet

__all__ = ["A_GRID", "RMIA"]

#: the values of RMIA's offline ``a`` tried when tuning it
A_GRID = tuple(k / 10 for k in range(11))


class RMIA(MembershipAttack):
    """Offline RMIA of Zarifzadeh et al. (2024) with reference models.

    ``LR(x, z) = [p(x | theta) / p(x)] / [p(z | theta) / p(z)]`` with ``p(.)`` the
    confidence of the true label, ``p(x) = ((1 + a) p_OUT(x) + (1 - a)) / 2`` and
    ``p_OUT`` the mean over the reference models that did not train on the record. The
    population records ``z`` are the reference sample given to ``fit``; ``score(x)`` is
    the share of them with ``LR(x, z) >= gamma``. The ratios of the population are
    sorted once, so scoring is a binary search per record (no (n, Z) matrix).

    Parameters
    ----------
    a : float or "auto", default "auto"
        Offline scaling in [0, 1]; ``auto`` tunes it on the reference sample, using one
        reference model as a stand-in target (needs 4 or more reference models).
    gamma : float, default 1.0
        Likelihood-ratio threshold (> 0).
    n_shadows : int, default 4
        Reference models, trained on halves of the reference sample.
    n_jobs, substitute, clip, random_state
        As for :class:`LiRA`.

    Attributes
    ----------
    a_ : float
        The scaling used.

    References
    ----------
    S. Zarifzadeh, P. Liu, S. Mahloujifar, R. Shokri, "Low-Cost High-Power Membership
    Inference Attacks", ICML 2024.
    Examples
    --------
    >>> from tabinv.data.registry import builtin_card
    >>> from tabinv.data.synthetic import synthetic_iwpc
    >>> from tabinv.models.families import make_model
    >>> frame = synthetic_iwpc(90, random_state=0)
    >>> card = builtin_card("iwpc").with_label("dose_class")
    >>> target = make_model("tree", card, max_depth=3).fit(frame[:30])
    >>> rmia = RMIA(a=0.5, n_shadows=2).fit(target, frame[60:])
    >>> scores = rmia.score(frame[:60])
    >>> bool(((0 <= scores) & (scores <= 1)).all())
    True
    """

    def __init__(self, *, a: float | str = "auto", gamma: float = 1.0, n_shadows: int = 4,
                 n_jobs: int = 1, substitute: str = DEFAULT_SUBSTITUTE,
                 clip: float = DEFAULT_CLIP, random_state: Any = 0) -> None:
        self.a = a
        self.gamma = gamma
        self.n_shadows = n_shadows
        self.n_jobs = n_jobs
        self.substitute = substitute
        self.clip = clip
        self.random_state = random_state

    def _fit(self, candidates: pd.DataFrame | None, shadows: ShadowSet | None,
             client: Any) -> None:
        if not (isinstance(self.gamma, (int, float)) and self.gamma > 0):
            raise AttackError(f"gamma must be a positive number, received {self.gamma!r}")
        if self.a != "auto" and not (isinstance(self.a, (int, float)) and 0 <= self.a <= 1):
            raise AttackError(f"a must be a number in [0, 1] or 'auto', received {self.a!r}")
        self.shadows_ = self._shadows(self.reference_, shadows, client)
        self.a_ = self._tuned_a() if self.a == "auto" else float(self.a)
        population = self.reference_
        ratio = self._ratio(label_confidence(self.oracle_, population),
                            self.shadows_.confidences(self.oracle_, population),
                            ~self.shadows_.in_mask(population), self.a_)
        self.population_ratios_ = np.sort(ratio)

    def _ratio(self, confidence: np.ndarray, reference: np.ndarray, out: np.ndarray,
               a: float) -> np.ndarray:
        """``p(x | theta) / p(x)`` with the offline ``p(x)`` from OUT reference models."""
        p_out = np.where(out, reference, 0.0).sum(axis=0) / np.maximum(out.sum(axis=0), 1)
        p_x = ((1.0 + a) * p_out + (1.0 - a)) / 2.0
        return np.clip(confidence, self.clip, 1.0) / np.maximum(p_x, self.clip)

    def _scores(self, ratio: np.ndarray, population_sorted: np.ndarray) -> np.ndarray:
        position = np.searchsorted(population_sorted, ratio / float(self.gamma), side="right")
        return position / population_sorted.size

    def _tuned_a(self) -> float:
        """The ``a`` of :data:`A_GRID` with the best AUC when reference model 0 plays the
        target (the first best on ties)."""
        if len(self.shadows_.models) < 4:
            raise AttackError("a='auto' needs at least 4 reference models; give a number "
                              "for a or more shadows")
        keep = self.shadows_.keep
        confidences = self.shadows_.confidences(self.oracle_, self.shadows_.pool)
        stand_in, others = confidences[0], confidences[1:]
        members = keep[0]
        best, best_auc = 0.0, -1.0
        for a in A_GRID:
            ratio = self._ratio(stand_in, others, ~keep[1:], float(a))
            scores = self._scores(ratio, np.sort(ratio[~members]))
            fpr, tpr, _ = roc_points(scores[members], scores[~members])
            auc = float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))
            if auc > best_auc + 1e-12:
                best, best_auc = float(a), auc
        return best

    def _score_answers(self, confidence: np.ndarray, shadow_confidence: np.ndarray | None,
                       in_mask: np.ndarray | None) -> np.ndarray:
        if shadow_confidence is None or in_mask is None:
            raise DataError(f"{type(self).__name__} scores need the shadows' confidences "
                            "and which shadows trained each record")
        return self._scores(self._ratio(confidence, shadow_confidence, ~in_mask, self.a_),
                            self.population_ratios_)
