"""Oracles: exactly what the threat model lets an attacker get from a target model.

An attack never touches the model directly; it queries an oracle, which applies the
output defences (rounding, label only) and exposes the published statistics the threat
model grants (a regression's residual sigma, a classifier's confusion counts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..exceptions import AttackError
from ..text import shorten
from ..vocabulary import ACCESS_LEVELS, ANSWERS
from .target import TargetModel

__all__ = ["LinearParts", "Oracle", "check_access", "linear_parts"]

#: links of :class:`LinearParts`: decision values -> the estimator's own output
LINKS = ("identity", "ovr", "softmax")


@dataclass(frozen=True)
class LinearParts:
    """A linear model's output as decision values ``X @ coef.T + intercept`` plus a link.

    ``coef`` is (m, d) on the full encoded width, ``intercept`` (m,). ``link``:
    ``identity`` (regression, m = 1), ``ovr`` (scikit-learn's one-vs-rest logistic
    probabilities: expit, then normalised over classes; binary: [1 - p, p]) or
    ``softmax`` (multinomial; binary: softmax of [-z, z]). The output covers the
    estimator's classes (``TargetModel.classes_present_`` places them in the label's
    domain).
    """

    coef: np.ndarray
    intercept: np.ndarray
    link: str


def _linear_types() -> tuple[tuple[type, ...], tuple[type, ...]]:
    """(regressors, logistic classifiers) whose outputs are exactly a linear map + link."""
    from sklearn.linear_model import LinearRegression, LogisticRegression

    from .dp import LinearRegression as DPLinear
    from .dp import LogisticRegression as DPLogistic
    from .published import FixedLinearModel
    return (LinearRegression, FixedLinearModel, DPLinear), (LogisticRegression, DPLogistic)


def linear_parts(estimator: Any) -> LinearParts | None:
    """The :class:`LinearParts` of a fitted linear estimator, or None for any other model.

    Exact classes only (scikit-learn and diffprivlib ``LinearRegression`` /
    ``LogisticRegression``, :class:`~tabinv.models.published.FixedLinearModel`,
    :class:`~tabinv.models.dp.ReferenceCoded` around a linear regressor): a subclass
    could change ``predict``.
    """
    from .dp import ReferenceCoded
    regressors, classifiers = _linear_types()
    kind = type(estimator)
    if kind is ReferenceCoded:
        inner = linear_parts(getattr(estimator, "estimator_", None))
        if inner is None or inner.link != "identity":
            return None
        coef = np.zeros((1, int(estimator.n_columns)))
        coef[:, list(estimator.keep)] = inner.coef
        return LinearParts(coef, inner.intercept, "identity")
    if kind not in (*regressors, *classifiers) or not isinstance(
            getattr(estimator, "coef_", None), np.ndarray):
        return None
    coef = np.atleast_2d(np.asarray(estimator.coef_, dtype=float))
    intercept = np.broadcast_to(np.asarray(estimator.intercept_, dtype=float),
                                (coef.shape[0],)).copy()
    if kind in regressors:
        return LinearParts(coef, intercept, "identity") if coef.shape[0] == 1 else None
    multi_class = getattr(estimator, "multi_class", "deprecated")
    ovr = multi_class in ("ovr", "warn") or (
        multi_class in ("auto", "deprecated")
        and (len(estimator.classes_) <= 2 or estimator.solver == "liblinear"))
    return LinearParts(coef, intercept, "ovr" if ovr else "softmax")


@dataclass(frozen=True)
class Oracle:
    """Query access to a fitted :class:`TargetModel`.

    Parameters
    ----------
    model : TargetModel
    answers : {"output", "confidence", "label"}
        What one query returns. ``output``: a regression's prediction on its fitted
        scale, plus its residual sigma. ``confidence``: a classifier's class
        probabilities. ``label``: only the predicted class, plus the training confusion
        counts. :meth:`for_model` derives it from an access level.
    rounding : int, optional
        Confidences are rounded to this many decimals before the attacker sees them.
    white_box : bool
        The attacker also holds the model file: its structure (tree paths, thresholds,
        training counts) is visible through :meth:`structure`.
    shortcuts : bool
        Let attacks compute the answers to their queries from the model's parts
        (linear coefficients, tree nodes) when these give exactly the same answers
        (:meth:`linear_parts`, :func:`tabinv.attacks.treegrid.tree_parts`); False
        makes them query the model on every grid row (to cross-check, or to time
        the queries).
    """

    model: TargetModel
    answers: str
    rounding: int | None = None
    white_box: bool = False
    shortcuts: bool = True

    def __post_init__(self) -> None:
        if self.answers not in ANSWERS:
            raise AttackError(f"answers {self.answers!r} is not one of {ANSWERS}")
        task = self.model.task
        if task == "regression" and self.answers != "output":
            raise AttackError(
                f"a regression model answers with its 'output', not {self.answers!r}"
            )
        if task == "classification" and self.answers == "output":
            raise AttackError("a classifier answers with 'confidence' or 'label', not 'output'")
        if self.rounding is not None and (self.answers != "confidence" or self.rounding < 0):
            raise AttackError("rounding applies to 'confidence' answers, with 0 or more decimals")

    @classmethod
    def for_model(cls, model: TargetModel, access: str = "confidences", *,
                  decimals: int | None = None, shortcuts: bool = True) -> Oracle:
        """The oracle an attacker with ``access`` (one of :data:`ACCESS_LEVELS`) has to
        ``model``; ``decimals`` is the rounding of ``rounded`` access."""
        check_access(access, decimals)
        if access == "white-box" and not model.has_structure:
            raise AttackError(f"white-box access needs the model's structure, which the "
                              f"{model.family} model does not give tabinv "
                              f"({model.structure_note()})")
        if model.reveals == "labels" and access != "label-only":
            raise AttackError(f"the {model.family} model reveals predicted labels only (it has "
                              f"no class probabilities), so {access!r} access is not "
                              "possible; use label-only access (--label-only)")
        detected = getattr(model, "reveals_decimals", None)
        if detected is not None and (access in ("confidences", "white-box") or (
                access == "rounded" and decimals is not None and decimals > detected)):
            raise AttackError(f"the {model.family} rounds its probabilities to {detected} "
                              f"decimals (detected), so {access!r} access"
                              + (f" at {decimals} decimals" if access == "rounded" else "")
                              + f" is more than it reveals; use --access rounded "
                              f"--rounding {detected} or coarser")
        if model.task == "regression":
            if access in ("rounded", "label-only"):
                raise AttackError(
                    f"access {access!r} applies to classifiers; the {model.family} model "
                    "is a regression")
            return cls(model, "output", white_box=access == "white-box", shortcuts=shortcuts)
        return cls(model, "label" if access == "label-only" else "confidence", decimals,
                   access == "white-box", shortcuts)

    @property
    def level(self) -> str:
        """This oracle's access level (:data:`ACCESS_LEVELS`)."""
        if self.white_box:
            return "white-box"
        if self.answers == "label":
            return "label-only"
        return "rounded" if self.rounding is not None else "confidences"

    def structure(self) -> object:
        """The fitted estimator on the encoded matrix (white-box access only)."""
        if not self.white_box:
            raise AttackError("this attack needs white-box access (the model file); the "
                              "oracle only answers queries")
        return self.model.estimator_

    @property
    def residual_sigma(self) -> float:
        if self.answers != "output":
            raise AttackError("residual sigma is published for regression models only")
        return float(self.model.residual_sigma_)

    @property
    def confusion(self) -> np.ndarray:
        if self.model.task != "classification":
            raise AttackError("confusion counts exist for classifiers only")
        return np.asarray(self.model.confusion_)

    def linear_parts(self) -> LinearParts | None:
        """The model as a linear map plus link, when it is one (else None).

        This is the same information as answering queries (any output of the model is
        a function of it), so it is offered at every access level; attacks use it to
        score the candidate grid without building it (:mod:`tabinv.attacks.fastpath`).
        Models whose ``output_encoded`` is not :class:`TargetModel`'s own get None.
        """
        if not self.shortcuts or type(self.model).output_encoded is not \
                TargetModel.output_encoded:
            return None
        return linear_parts(getattr(self.model, "estimator_", None))

    def query_encoded(self, encoded: np.ndarray) -> np.ndarray:
        """What the attacker sees for already encoded rows.

        Returns (n,) floats for ``output``, (n, C) probabilities for ``confidence``,
        (n,) class indices for ``label``.
        """
        return self.answer(self.model.output_encoded(encoded))

    def answer(self, raw: np.ndarray) -> np.ndarray:
        """What the attacker sees of the model's raw outputs (from ``output_encoded``):
        the output itself, rounded confidences, or the predicted class (last axis)."""
        if self.answers == "output":
            return raw
        if self.answers == "label":
            return np.argmax(raw, axis=-1)
        return np.round(raw, self.rounding) if self.rounding is not None else raw

    def describe(self) -> dict[str, object]:
        return {"access": self.level, "answers": self.answers, "rounding": self.rounding,
                "white_box": self.white_box,
                "shortcuts": self.shortcuts}


def check_access(access: str, decimals: int | None) -> None:
    """Refuse an unknown access level, or decimals without ``rounded`` access."""
    if access not in ACCESS_LEVELS:
        raise AttackError(f"access {shorten(access)} is not one of "
                          f"{', '.join(ACCESS_LEVELS)}")
    if access == "rounded":
        if decimals is None or isinstance(decimals, bool) or not isinstance(
                decimals, (int, np.integer)) or decimals < 0:
            raise AttackError(f"access 'rounded' needs decimals, a whole number >= 0; "
                              f"got {decimals!r}")
    elif decimals is not None:
        raise AttackError(f"decimals ({decimals!r}) apply to access 'rounded', "
                          f"not {access!r}")
