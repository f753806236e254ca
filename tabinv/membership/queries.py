"""What a membership attack reads from a model: the confidence of each record's true
label (or, for the label-only attacks, the label each record gets), through the same
:class:`~tabinv.models.oracle.Oracle` the attribute attacks use (so rounded confidences
and endpoint-served models take the same path), and its logit scaling
``phi = log(p / (1 - p))``. For a regression the "confidence" is
``exp(-r^2 / (2 sigma^2))``, the Gaussian likelihood of the true value ``y`` around the
prediction relative to its peak (``r = y - prediction``, ``sigma`` the model's own
residual sigma): a monotone function of the squared-error loss that Yeom et al. (2018)
threshold, on the same 0-1 scale as a classifier's confidence.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import AttackError, DataError
from ..models.oracle import Oracle
from ..models.target import TargetModel
from ..text import shorten

__all__ = ["CONFIDENCE_ANSWERS", "DEFAULT_CLIP", "LABEL_ANSWERS", "answered_labels",
           "as_oracle", "check_answers", "check_records", "label_confidence", "label_match",
           "logit"]

#: confidences are clipped into [clip, 1 - clip] before the logit (|phi| <= 13.8)
DEFAULT_CLIP = 1e-6
#: the oracle answers the confidence attacks read (a classifier's confidences, a
#: regression's output), and those the label-only attacks read (a label, or confidences
#: whose largest is the label)
CONFIDENCE_ANSWERS = ("confidence", "output")
LABEL_ANSWERS = ("confidence", "label")


def as_oracle(target: Oracle | TargetModel,
              answers: tuple[str, ...] = CONFIDENCE_ANSWERS) -> Oracle:
    """The oracle a membership attack queries: ``target`` itself, or access to a fitted
    :class:`TargetModel` (confidences; label-only for a model that reveals labels only).

    Parameters
    ----------
    answers : tuple of str
        The oracle answers the attack can read (:data:`CONFIDENCE_ANSWERS` or
        :data:`LABEL_ANSWERS`).

    Raises
    ------
    AttackError
        ``target`` is neither, or its answers are not among ``answers`` (labels only for
        an attack reading confidences, a regression's output for a label-only attack).
    """
    if isinstance(target, TargetModel):
        if not hasattr(target, "estimator_"):
            raise AttackError("the target model is not fitted; fit it on its members first")
        access = "label-only" if target.reveals == "labels" else "confidences"
        target = Oracle.for_model(target, access)  # a regression: its output
    if not isinstance(target, Oracle):
        raise AttackError(f"target must be a fitted TargetModel or an Oracle, received "
                          f"{type(target).__name__}")
    if target.answers not in answers:
        if target.answers == "output":
            raise AttackError("label-only membership attacks compare the predicted label with "
                              "the true label; a regression answers an output, not a label "
                              "(the loss attack covers regressions)")
        raise AttackError(f"membership attacks here read the confidence of the true label "
                          f"(or a regression's output); the oracle answers "
                          f"{target.answers!r}")
    return target


def check_records(records: Any, model: TargetModel, name: str) -> pd.DataFrame:
    """``records`` as a non-empty frame holding the model's label and features.

    Raises
    ------
    DataError
        Not a data frame, empty, or missing the label or a feature column.
    """
    if not isinstance(records, pd.DataFrame):
        raise DataError(f"{name} must be a pandas DataFrame, received {type(records).__name__}")
    if len(records) == 0:
        raise DataError(f"{name} holds no records")
    missing = [c for c in (*model.features, model.label) if c not in records.columns]
    if missing:
        raise DataError(f"{name} lacks the model's column(s) "
                        f"{', '.join(shorten(c) for c in missing[:5])}")
    return records


def label_confidence(oracle: Oracle, records: pd.DataFrame,
                     model: TargetModel | None = None) -> np.ndarray:
    """Confidence of each record's true label, shape (n,).

    Parameters
    ----------
    oracle : Oracle
        Decides what is seen (rounding); it queries its own model unless ``model`` is
        given (a shadow model, seen through the same answers as the target).
    records : pandas.DataFrame
        Records with the label column.
    model : TargetModel, optional
        The model to query instead of the oracle's.
    """
    model = oracle.model if model is None else model
    answers = np.asarray(oracle.answer(model.output_encoded(model.encode(records))),
                         dtype=float)
    if model.task == "regression":
        # the Gaussian likelihood of the true value around the prediction, relative to
        # its peak, with the model's own residual sigma: 1 on the prediction, falling
        # with the squared residual (the loss a membership attack reads)
        residual = model.encode_label(records[model.label]) - answers
        sigma = max(float(model.residual_sigma_), np.finfo(float).tiny)  # 0: fits exactly
        with np.errstate(over="ignore"):  # far off a prediction fitted exactly: 0
            return np.exp(-0.5 * (residual / sigma) ** 2)
    codes = model.label_codes(records[model.label])
    return answers[np.arange(len(records)), codes]


def answered_labels(oracle: Oracle, encoded: np.ndarray,
                    model: TargetModel | None = None) -> np.ndarray:
    """The class index (in the label's domain) each encoded row gets, as the oracle lets
    an attacker see it: the label answer itself, or the largest of the (rounded)
    confidences, the first on a tie. Shape (n,).

    Parameters
    ----------
    oracle : Oracle
        Decides what is seen; it queries its own model unless ``model`` is given.
    encoded : numpy.ndarray
        Rows encoded by the model (``model.encode(records)``).
    model : TargetModel, optional
        The model to query instead of the oracle's (a shadow).

    Raises
    ------
    AttackError
        The oracle answers a regression's output, not a label.
    """
    model = oracle.model if model is None else model
    if oracle.answers == "output":
        raise AttackError("a regression answers an output, not a label")
    answers = np.asarray(oracle.answer(model.output_encoded(encoded)))
    if oracle.answers == "label":
        return answers.astype(np.intp)
    return np.argmax(answers, axis=-1)


def label_match(oracle: Oracle, records: pd.DataFrame,
                model: TargetModel | None = None) -> np.ndarray:
    """Whether each record gets its true label (booleans, shape (n,)), seen through
    ``oracle`` (:func:`answered_labels`), from the oracle's model or ``model``."""
    model = oracle.model if model is None else model
    return answered_labels(oracle, model.encode(records), model) \
        == model.label_codes(records[model.label])


def logit(confidence: Any, clip: float = DEFAULT_CLIP) -> np.ndarray:
    """Logit scaling ``phi = log(p / (1 - p))`` of confidences clipped to [clip, 1 - clip].

    Examples
    --------
    >>> logit([0.5, 1.0], clip=1e-6).round(3).tolist()
    [0.0, 13.816]
    """
    if not 0.0 < clip < 0.5:
        raise DataError(f"clip must be strictly between 0 and 0.5, received {clip!r}")
    p = np.clip(np.asarray(confidence, dtype=float), clip, 1.0 - clip)
    return np.log(p) - np.log1p(-p)


def _confidences(values: Any, name: str, ndim: int) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    if array.ndim != ndim:
        raise DataError(f"{name} must be a {ndim}-D array of confidences, received shape "
                        f"{array.shape}")
    if not np.isfinite(array).all() or array.min(initial=0.0) < 0 \
            or array.max(initial=0.0) > 1:
        raise DataError(f"{name} must hold finite confidences in [0, 1]")
    return array


def check_answers(confidence: Any, shadow_confidence: Any = None, in_mask: Any = None, *,
                  n_shadows: int | None = None) -> Any:
    """Answers read before, checked: ``confidence`` (n,) alone when ``n_shadows`` is
    None, else ``(confidence, shadow_confidence, in_mask)`` with both tables (n_shadows,
    n), ``in_mask`` boolean.

    Raises
    ------
    DataError
        A table missing, shapes that disagree, confidences outside [0, 1] or not finite.
    """
    target = _confidences(confidence, "confidence", 1)
    if n_shadows is None:
        return target
    if shadow_confidence is None or in_mask is None:
        raise DataError("this attack scores against its shadows: give shadow_confidence and "
                        "in_mask too")
    shadows = _confidences(shadow_confidence, "shadow_confidence", 2)
    inside = np.asarray(in_mask)
    expected = (n_shadows, len(target))
    for name, table in (("shadow_confidence", shadows), ("in_mask", inside)):
        if table.shape != expected:
            raise DataError(f"{name} must have shape (shadows, records) = {expected}, "
                            f"received {table.shape}")
    if inside.dtype != bool:
        raise DataError(f"in_mask must be booleans, received {inside.dtype}")
    return target, shadows, inside
