"""Calibrated likelihoods: p(observed label | model output) fitted on the reference sample.

``map``'s plain likelihood takes the model's reported confidence of the label at face
value; where the model is over-confident (it was trained on the members) that is a poor
likelihood for everyone else. The attacker knows the sensitive value of its reference
records, so it can query the model on each of them as they are (the true candidate) and
observe (output, true label) pairs, and fit the map from output to p(label | output):

* ``none``: the reported confidence itself (the plain likelihood, kept as a contender
  so that calibration is chosen only when it helps);
* ``temperature``: one temperature T shared by all classes on the log-confidences,
  p = softmax(log f / T) (Guo et al. 2017);
* ``platt``: one slope and one intercept per class, p = softmax(a * log f + b)
  (Platt scaling per class; "vector scaling" in Guo et al. 2017);
* ``isotonic``: one isotonic map per class of its confidence, one-vs-rest, then
  renormalised over the classes (Zadrozny and Elkan 2002).

The method is chosen by cross-validated log loss on the reference sample only (shuffled
K-fold, seeded); :func:`fit_calibration` returns the choice refitted on the whole sample
with every method's CV score. Label-only answers get the confusion table of the
reference sample, regression outputs the residual sigma of the reference sample.

References: Platt. Probabilistic outputs for support vector machines, 1999. Zadrozny,
Elkan. Transforming classifier scores into accurate multiclass probability estimates.
KDD 2002. Guo, Pleiss, Sun, Weinberger. On calibration of modern neural networks.
ICML 2017.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize, minimize_scalar
from scipy.special import log_softmax, logsumexp
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import KFold

from ..exceptions import AttackError
from ..utils import RandomState, seed_from
from .likelihood import LOG_FLOOR

__all__ = ["CALIBRATIONS", "Calibration", "fit_calibration", "fit_method"]

#: the calibration maps of confidence answers, in the order ties are broken
CALIBRATIONS = ("none", "temperature", "platt", "isotonic")
#: folds of the cross-validation (fewer when the reference sample is smaller)
FOLDS = 5
#: L2 penalty pulling per-class Platt parameters towards (1, 0): classes rare in the
#: reference sample must not get wild slopes
PLATT_PENALTY = 1e-3


def _log_confidences(outputs: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(outputs, LOG_FLOOR))


def _pick(values: np.ndarray, y: np.ndarray) -> np.ndarray:
    """values[..., y] for values (n, ..., C) and labels (n,): shape (n, ...)."""
    index = y.reshape(-1, *([1] * (values.ndim - 1)))
    return np.take_along_axis(values, index, axis=-1)[..., 0]


@dataclass(frozen=True)
class Calibration:
    """A fitted map from confidences (..., C) to log p(label | confidences).

    ``method`` is one of :data:`CALIBRATIONS`; ``params`` its fitted numbers (the
    temperature, the per-class slopes and intercepts, or the isotonic maps).
    """

    method: str
    params: dict[str, Any] = field(default_factory=dict)

    def log_probabilities(self, outputs: np.ndarray) -> np.ndarray:
        """log p(class | output) for every class: (..., C)."""
        if self.method == "none":
            return _log_confidences(outputs)
        if self.method == "temperature":
            return log_softmax(_log_confidences(outputs) / self.params["temperature"], axis=-1)
        if self.method == "platt":
            slopes, intercepts = self.params["slopes"], self.params["intercepts"]
            return log_softmax(_log_confidences(outputs) * slopes + intercepts, axis=-1)
        maps = self.params["maps"]
        shape = outputs.shape
        flat = outputs.reshape(-1, shape[-1])
        probabilities = np.column_stack([m.predict(flat[:, c]) for c, m in enumerate(maps)])
        probabilities = np.maximum(probabilities, LOG_FLOOR)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        return np.log(probabilities).reshape(shape)

    def log_likelihood(self, outputs: np.ndarray, y: np.ndarray) -> np.ndarray:
        """log p(y | output) for outputs (n, G, C) and labels (n,): (n, G)."""
        if len(y) and (y.min() < 0 or y.max() >= outputs.shape[-1]):
            raise AttackError(f"label index out of range for {outputs.shape[-1]} classes")
        return _pick(self.log_probabilities(outputs), y)

    def describe(self) -> dict[str, Any]:
        if self.method == "temperature":
            return {"method": "temperature", "temperature": round(self.params["temperature"], 6)}
        if self.method == "platt":
            return {"method": "platt",
                    "slopes": [round(float(v), 6) for v in self.params["slopes"]],
                    "intercepts": [round(float(v), 6) for v in self.params["intercepts"]]}
        return {"method": self.method}


def _fit_temperature(log_conf: np.ndarray, y: np.ndarray) -> Calibration:
    def loss(log_t: float) -> float:
        return float(-_pick(log_softmax(log_conf / np.exp(log_t), axis=1), y).mean())

    best = minimize_scalar(loss, bounds=(-5.0, 5.0), method="bounded",
                           options={"xatol": 1e-8})
    return Calibration("temperature", {"temperature": float(np.exp(best.x))})


def _fit_platt(log_conf: np.ndarray, y: np.ndarray) -> Calibration:
    n, c = log_conf.shape
    onehot = np.eye(c)[y]

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        slopes, intercepts = theta[:c], theta[c:]
        z = log_conf * slopes + intercepts
        log_p = z - logsumexp(z, axis=1, keepdims=True)
        residual = (np.exp(log_p) - onehot) / n
        penalty = PLATT_PENALTY * (np.sum((slopes - 1) ** 2) + np.sum(intercepts ** 2))
        gradient = np.concatenate([(residual * log_conf).sum(axis=0) + 2 * PLATT_PENALTY *
                                   (slopes - 1),
                                   residual.sum(axis=0) + 2 * PLATT_PENALTY * intercepts])
        return float(-(log_p * onehot).sum() / n + penalty), gradient

    start = np.concatenate([np.ones(c), np.zeros(c)])
    best = minimize(loss, start, jac=True, method="BFGS")
    return Calibration("platt", {"slopes": best.x[:c].copy(), "intercepts": best.x[c:].copy()})


def _fit_isotonic(outputs: np.ndarray, y: np.ndarray) -> Calibration:
    maps = [IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            .fit(outputs[:, c], (y == c).astype(float)) for c in range(outputs.shape[1])]
    return Calibration("isotonic", {"maps": maps})


def fit_method(method: str, outputs: np.ndarray, y: np.ndarray) -> Calibration:
    """Fit one calibration map on confidences (n, C) and true labels (n,)."""
    if method == "none":
        return Calibration("none")
    if method == "temperature":
        return _fit_temperature(_log_confidences(outputs), y)
    if method == "platt":
        return _fit_platt(_log_confidences(outputs), y)
    if method == "isotonic":
        return _fit_isotonic(outputs, y)
    raise AttackError(f"calibration {method!r} is not one of {CALIBRATIONS}")


def cross_validated_losses(outputs: np.ndarray, y: np.ndarray,
                           random_state: RandomState = 0) -> dict[str, float]:
    """Mean held-out log loss of every method over shuffled K-fold splits (the same
    splits for every method)."""
    folds = KFold(min(FOLDS, len(y)), shuffle=True, random_state=seed_from(random_state))
    losses = dict.fromkeys(CALIBRATIONS, 0.0)
    for train, test in folds.split(outputs):
        for method in CALIBRATIONS:
            fitted = fit_method(method, outputs[train], y[train])
            losses[method] -= float(fitted.log_likelihood(outputs[test][:, None, :],
                                                          y[test]).sum())
    return {method: loss / len(y) for method, loss in losses.items()}


def fit_calibration(outputs: np.ndarray, y: np.ndarray, random_state: RandomState = 0
                    ) -> tuple[Calibration, dict[str, float]]:
    """The calibration with the lowest cross-validated log loss (first in
    :data:`CALIBRATIONS` on ties), refitted on all of (outputs, y), and every method's
    CV log loss.

    Raises
    ------
    AttackError
        Fewer than two reference records, or outputs that are not (n, C) confidences.
    """
    outputs = np.asarray(outputs, dtype=float)
    y = np.asarray(y)
    if outputs.ndim != 2 or len(outputs) != len(y):
        raise AttackError(f"calibration takes (n, C) confidences and n labels, got shapes "
                          f"{outputs.shape} and {y.shape}")
    if len(y) < 2:
        raise AttackError(f"a calibrated likelihood needs at least 2 reference records, "
                          f"got {len(y)}")
    losses = cross_validated_losses(outputs, y, random_state)
    chosen = min(CALIBRATIONS, key=lambda method: losses[method])
    return fit_method(chosen, outputs, y), losses
