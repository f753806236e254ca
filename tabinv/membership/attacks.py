"""Membership inference attacks as estimators: ``fit(target, reference, ...)`` then
``score(records)``, one membership score per record (higher: more likely a member).
The loss threshold and LiRA live here, RMIA in :mod:`.rmia`, their base in :mod:`.base`.

The target is queried through an :class:`~tabinv.models.oracle.Oracle` for the
confidence of each record's true label; shadow models are seen through the same
answers. Scoring is vectorised over records (the only loops run over shadow models).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from ..exceptions import AttackError, DataError
from .base import MembershipAttack
from .queries import DEFAULT_CLIP, label_confidence, logit
from .shadows import DEFAULT_SUBSTITUTE, ShadowSet

__all__ = ["LiRA", "LossThreshold", "MembershipAttack", "MIN_SIGMA"]

#: smallest standard deviation of a LiRA Gaussian (logit scale): shadows that all agree
#: (a record every forest fits perfectly) would otherwise give a zero variance
MIN_SIGMA = 1e-3
#: LiRA's variance: per-example from this many shadows on, global below (Carlini 2022)
PER_EXAMPLE_FROM = 64


class LossThreshold(MembershipAttack):
    """Loss (confidence) threshold attack of Yeom et al. (2018).

    The score is minus the cross-entropy loss, ``log p(y | x)``; ``predict`` calls a
    record a member above the threshold that gives ``fpr`` on the reference sample
    (records the target never saw).

    Parameters
    ----------
    fpr : float, default 0.01
        False-positive rate the threshold is calibrated for.
    clip : float
        Confidences are clipped to at least ``clip`` before the log.

    Attributes
    ----------
    threshold_ : float

    References
    ----------
    S. Yeom, I. Giacomelli, M. Fredrikson, S. Jha, "Privacy Risk in Machine Learning:
    Analyzing the Connection to Overfitting", IEEE CSF 2018.
    Examples
    --------
    >>> from tabinv.data.registry import builtin_card
    >>> from tabinv.data.synthetic import synthetic_iwpc
    >>> from tabinv.models.families import make_model
    >>> frame = synthetic_iwpc(90, random_state=0)
    >>> card = builtin_card("iwpc").with_label("dose_class")
    >>> target = make_model("tree", card, max_depth=3).fit(frame[:30])
    >>> attack = LossThreshold(fpr=0.1).fit(target, frame[60:])
    >>> attack.score(frame[:3]).shape, attack.predict(frame[:3]).dtype
    ((3,), dtype('bool'))
    """

    def __init__(self, *, fpr: float = 0.01, clip: float = DEFAULT_CLIP) -> None:
        self.fpr = fpr
        self.clip = clip

    def _fit(self, candidates: pd.DataFrame | None, shadows: ShadowSet | None,
             client: Any) -> None:
        if not 0.0 < float(self.fpr) < 1.0:
            raise AttackError(f"fpr must be strictly between 0 and 1, received {self.fpr!r}")
        reference = self._score_answers(label_confidence(self.oracle_, self.reference_),
                                        None, None)
        self.threshold_ = float(np.quantile(reference, 1.0 - float(self.fpr),
                                            method="higher"))

    def _score_answers(self, confidence: np.ndarray, shadow_confidence: np.ndarray | None,
                       in_mask: np.ndarray | None) -> np.ndarray:
        return np.log(np.clip(confidence, self.clip, 1.0))

    def predict(self, records: pd.DataFrame) -> np.ndarray:
        """True for records scored above the calibrated threshold."""
        return self.score(records) > self.threshold_


def _masked_moments(phi: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-record mean and variance (ddof 0) of ``phi`` (S, n) over the shadows in
    ``mask``; NaN where a record has no such shadow."""
    count = mask.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(mask, phi, 0.0).sum(axis=0) / count
        variance = np.where(mask, (phi - mean) ** 2, 0.0).sum(axis=0) / count
    return mean, variance


class LiRA(MembershipAttack):
    """Likelihood-ratio attack of Carlini et al. (2022), offline or online.

    For each record, the logit-scaled confidence of its true label,
    ``phi = log(p / (1 - p))``, is modelled under the shadows that did not train on it
    (OUT) and, online, under those that did (IN) as Gaussians. Online score: the log
    likelihood ratio ``log N(phi; mu_in, s_in) - log N(phi; mu_out, s_out)``. Offline
    score: ``z = (phi - mu_out) / s_out``; the paper's one-sided statistic
    ``1 - Pr[Z > phi] = Phi(z)`` is a monotone function of it, so the ROC is the same,
    and ``z`` does not saturate at 1.

    Parameters
    ----------
    online : bool, default False
        Online: shadows train on the reference sample plus the ``candidates`` given to
        ``fit`` (each candidate IN for half of them); only candidates can be scored.
        Offline: shadows train on the reference sample only.
    n_shadows : int, default 16
        Shadow models to train (4 or more).
    variance : {"auto", "global", "per-example"}
        Global: one variance per side, the mean over the shadows' pool of each record's
        variance (fitted once); ``auto`` is global below 64 shadows, as the paper advises.
        (The paper's reference code takes the variance of all IN / OUT values pooled
        across records, which adds the spread of the records' means; this one does not.)
    n_jobs : int, default 1
        Worker processes training the shadows.
    substitute : str
        Shadow family for a target tabinv did not train.
    clip : float
        Confidence clipping before the logit.
    random_state : int, Generator or None

    References
    ----------
    N. Carlini, S. Chien, M. Nasr, S. Song, A. Terzis, F. Tramer, "Membership Inference
    Attacks From First Principles", IEEE S&P 2022.
    Examples
    --------
    >>> from tabinv.data.registry import builtin_card
    >>> from tabinv.data.synthetic import synthetic_iwpc
    >>> from tabinv.models.families import make_model
    >>> frame = synthetic_iwpc(90, random_state=0)
    >>> card = builtin_card("iwpc").with_label("dose_class")
    >>> target = make_model("tree", card, max_depth=3).fit(frame[:30])
    >>> attacked = frame[:60]  # 30 members, 30 non-members
    >>> lira = LiRA(online=True, n_shadows=4).fit(target, frame[60:], candidates=attacked)
    >>> lira.score(attacked).shape, lira.global_variance_
    ((60,), True)
    """

    def __init__(self, *, online: bool = False, n_shadows: int = 16, variance: str = "auto",
                 n_jobs: int = 1, substitute: str = DEFAULT_SUBSTITUTE,
                 clip: float = DEFAULT_CLIP, random_state: Any = 0) -> None:
        self.online = online
        self.n_shadows = n_shadows
        self.variance = variance
        self.n_jobs = n_jobs
        self.substitute = substitute
        self.clip = clip
        self.random_state = random_state

    def _fit(self, candidates: pd.DataFrame | None, shadows: ShadowSet | None,
             client: Any) -> None:
        if self.variance not in ("auto", "global", "per-example"):
            raise AttackError(f"variance must be 'auto', 'global' or 'per-example', received "
                              f"{self.variance!r}")
        if self.online and candidates is None and shadows is None:
            raise AttackError("LiRA online trains shadows on the attacked records: pass them "
                              "to fit as candidates")
        pool = self.reference_
        if self.online and candidates is not None:
            pool = pd.concat([self.reference_, candidates], ignore_index=True)
        self.shadows_ = self._shadows(pool, shadows, client)
        n_shadows = len(self.shadows_.models)
        if n_shadows < 4:
            raise AttackError(f"LiRA needs at least 4 shadow models (2 IN and 2 OUT for each "
                              f"record), received {n_shadows}")
        self.global_variance_ = self.variance == "global" or (
            self.variance == "auto" and n_shadows < PER_EXAMPLE_FROM)
        phi = logit(self.shadows_.confidences(self.oracle_, self.shadows_.pool), self.clip)
        keep = self.shadows_.keep
        self.sigma_in_ = float(np.sqrt(np.nanmean(_masked_moments(phi, keep)[1])))
        self.sigma_out_ = float(np.sqrt(np.nanmean(_masked_moments(phi, ~keep)[1])))

    def _sigma(self, variance: np.ndarray, global_sigma: float) -> np.ndarray:
        sigma = np.full(variance.shape, global_sigma) if self.global_variance_ \
            else np.sqrt(np.where(np.isnan(variance), global_sigma ** 2, variance))
        return np.maximum(sigma, MIN_SIGMA)

    def _score_answers(self, confidence: np.ndarray, shadow_confidence: np.ndarray | None,
                       in_mask: np.ndarray | None) -> np.ndarray:
        if shadow_confidence is None or in_mask is None:
            raise DataError(f"{type(self).__name__} scores need the shadows' confidences "
                            "and which shadows trained each record")
        phi_target = logit(confidence, self.clip)
        phi = logit(shadow_confidence, self.clip)
        inside = in_mask
        if self.online and not inside.any(axis=0).all():
            raise AttackError(f"LiRA online scores only the candidates its shadows trained "
                              f"on; {int((~inside.any(axis=0)).sum())} record(s) are not "
                              "among them")
        mean_in, var_in = _masked_moments(phi, inside)
        mean_out, var_out = _masked_moments(phi, ~inside)
        # a record every shadow saw a copy of (tabular data repeat rows) has no OUT
        # shadow: its OUT mean is its IN mean minus the records' average IN - OUT gap
        both = ~np.isnan(mean_in) & ~np.isnan(mean_out)
        gap = float(np.mean(mean_in[both] - mean_out[both])) if both.any() else 0.0
        mean_out = np.where(np.isnan(mean_out), mean_in - gap, mean_out)
        sigma_out = self._sigma(var_out, self.sigma_out_)
        if not self.online:
            return (phi_target - mean_out) / sigma_out
        sigma_in = self._sigma(var_in, self.sigma_in_)
        return (norm.logpdf(phi_target, mean_in, sigma_in)
                - norm.logpdf(phi_target, mean_out, sigma_out))
