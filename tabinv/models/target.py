"""TargetModel: a trained model together with what an attack may know about it.

A target model is the card-driven :class:`TabularEncoder` followed by any scikit-learn
compatible estimator working on the encoded matrix. Fitting it also records the
statistics a model owner typically publishes and an attacker is assumed to know:
the residual standard deviation of a regression (on the fitted scale), the confusion
counts of a classifier on its training data, and the marginal counts of every
categorical feature in the training set (the "marginal priors" of Fredrikson et al.).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from ..data.schema import Card
from ..exceptions import DataError, ModelError, TabinvError
from ..text import shorten
from .encoding import TabularEncoder, encode_codes

__all__ = ["TargetModel", "forward_transform", "inverse_transform"]


def forward_transform(values: np.ndarray, transform: str) -> np.ndarray:
    """Label on the original scale -> the scale the model is fitted on."""
    values = np.asarray(values, dtype=float)
    if transform == "sqrt":
        if (values < 0).any():
            raise DataError("a square-root target needs non-negative label values")
        return np.sqrt(values)
    return values


def inverse_transform(values: np.ndarray, transform: str) -> np.ndarray:
    """Fitted scale -> original scale of the label."""
    values = np.asarray(values, dtype=float)
    return np.square(np.clip(values, 0, None)) if transform == "sqrt" else values


class TargetModel(BaseEstimator):
    """An encoder plus estimator, fitted on plain data frames.

    Parameters
    ----------
    family : str
        Name of the model family (``linear``, ``tree``, ``iwpc-published`` ...).
    estimator : estimator
        Unfitted scikit-learn compatible estimator on the encoded matrix.
    card : dict
        The card as ``Card.to_dict()`` (kept as plain data so the file describes itself).
    categorical : {"onehot", "ordinal"}
        Encoding of categorical features.
    """

    #: whether white-box attacks can read the estimator's structure (tree paths ...)
    has_structure: ClassVar[bool] = True

    def __init__(self, *, family: str = "", estimator: Any = None,
                 card: dict[str, Any] | None = None, categorical: str = "onehot") -> None:
        self.family = family
        self.estimator = estimator
        self.card = card
        self.categorical = categorical

    # -- properties read from the card ------------------------------------------------
    @property
    def features(self) -> tuple[str, ...]:
        return tuple((self.card or {})["features"])

    @property
    def label(self) -> str:
        return str((self.card or {})["label"])

    @property
    def task(self) -> str:
        return str((self.card or {})["task"])

    @property
    def reveals(self) -> str:
        """What one query of the model shows: ``output`` (a regression's prediction),
        ``confidences`` (class probabilities) or ``labels`` (the predicted class only:
        a model without probabilities, which only label-only attacks can use)."""
        return "output" if self.task == "regression" else "confidences"

    @property
    def query_row_bytes(self) -> int:
        """Bytes the model holds per row while it answers a query on encoded rows, beyond
        the rows and their outputs (the candidate grid sizes its chunks with it). 0 for
        a model tabinv trained, whose estimator takes the encoded rows as they are; a
        model taking records in its own form builds them first
        (:attr:`ForeignModel.query_row_bytes <tabinv.models.foreign.ForeignModel>`)."""
        return 0

    @property
    def target_transform(self) -> str:
        return str((self.card or {}).get("target_transform", "identity"))

    def domain(self, column: str) -> tuple[Any, ...]:
        spec = (self.card or {})["columns"].get(column)
        if spec is None or "domain" not in spec:
            raise ModelError(f"column {column!r} is not a categorical column of the model's card")
        return tuple(spec["domain"])

    @classmethod
    def from_card(cls, family: str, estimator: Any, card: Card,
                  categorical: str = "onehot") -> TargetModel:
        return cls(family=family, estimator=estimator, card=card.to_dict(),
                   categorical=categorical)

    # -- fitting ----------------------------------------------------------------------
    def _make_encoder(self) -> TabularEncoder:
        columns = (self.card or {})["columns"]
        domains = {f: list(columns[f]["domain"]) for f in self.features
                   if "domain" in columns[f]}
        bounds = {f: list(columns[f]["bounds"]) for f in self.features
                  if "bounds" in columns[f] and f not in domains}
        ordinal = [f for f in self.features if columns[f].get("encoding") == "ordinal"]
        return TabularEncoder(features=self.features, domains=domains, bounds=bounds,
                              categorical=self.categorical, ordinal=ordinal).fit()

    def label_codes(self, values: Any) -> np.ndarray:
        """Class labels -> index in the label's domain (classification only)."""
        return encode_codes(values, self.domain(self.label), self.label)

    def fitted_target(self, frame: pd.DataFrame) -> np.ndarray:
        """The label column on the scale the estimator is fitted on."""
        if self.label not in frame.columns:
            raise DataError(f"the data has no label column {self.label!r}")
        return self.encode_label(frame[self.label])

    def encode_label(self, values: Any) -> np.ndarray:
        """Label values -> class indices (classification) or the fitted scale (regression)."""
        if self.task == "classification":
            return self.label_codes(values)
        numeric = pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce")
        numeric = numeric.to_numpy(dtype=float)
        if np.isnan(numeric).any():
            raise DataError(f"label column {self.label!r} has missing or non-numeric values")
        return forward_transform(numeric, self.target_transform)

    def fit(self, frame: pd.DataFrame, y: Any = None) -> TargetModel:
        """Fit on ``frame`` (features and label columns, as named by the card)."""
        if self.card is None or self.estimator is None:
            raise ModelError("TargetModel needs a card and an estimator")
        self.encoder_ = self._make_encoder()
        encoded = self.encoder_.transform(frame)
        target = self.fitted_target(frame)
        classes = np.unique(target) if self.task == "classification" else None
        if classes is not None and len(classes) < 2:
            held = ", ".join(shorten(self.domain(self.label)[int(i)]) for i in classes)
            raise DataError(f"cannot fit the {self.family} model on {len(frame)} rows: the "
                            f"label column {shorten(self.label)} holds {len(classes)} "
                            f"class ({held or 'no rows'}); a classifier needs at least two")
        try:
            self.estimator_, classes_present = self._fit_estimator(encoded, target)
        except ValueError as error:
            reason = _degenerate_data(error, self, frame)
            if reason is None:
                raise
            raise reason from None
        if self.task == "classification":
            self.classes_present_ = classes_present
        self.n_train_ = len(frame)
        self._record_statistics(frame, encoded, target)
        return self

    def _fit_estimator(self, encoded: np.ndarray, target: np.ndarray
                       ) -> tuple[Any, np.ndarray | None]:
        """Fit a clone of the estimator; returns it and, for a classifier, the label
        indices it knows (its class k is the label's domain value ``classes_present[k]``).

        The one step subclasses change (differentially private training, ...).
        """
        if self.task == "classification":
            present = np.unique(target)
            return clone(self.estimator).fit(encoded, np.searchsorted(present, target)), present
        return clone(self.estimator).fit(encoded, target), None

    def _record_statistics(self, frame: pd.DataFrame, encoded: np.ndarray,
                           target: np.ndarray | None = None) -> None:
        if target is None:
            target = self.fitted_target(frame)
        if self.task == "regression":
            residuals = target - self.output_encoded(encoded)
            dof = max(len(target) - (self._counted_inputs(encoded) + 1), 1)
            self.residual_sigma_ = float(np.sqrt(np.sum(residuals**2) / dof))
        else:
            n_classes = len(self.domain(self.label))
            predicted = np.argmax(self.output_encoded(encoded), axis=1)
            confusion = np.zeros((n_classes, n_classes), dtype=np.int64)
            np.add.at(confusion, (target, predicted), 1)
            self.confusion_ = confusion
        self.marginals_ = {
            f: np.bincount(encode_codes(frame[f], self.domain(f), f),
                           minlength=len(self.domain(f))).astype(np.int64)
            for f in self.features if f in self.encoder_.domains
        }

    def _counted_inputs(self, encoded: np.ndarray) -> int:
        """The inputs the residual sigma's degrees of freedom count: the encoded width."""
        return int(encoded.shape[1])

    def structure_note(self) -> str:
        """Why the white-box attacks cannot read this model ('' when they can)."""
        if self.has_structure:
            return ""
        return (f"the model is queried as a black box: tabinv runs the {self.family} model "
                "but does not read its structure")

    # -- prediction -------------------------------------------------------------------
    def encode(self, frame: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        return self.encoder_.transform(frame)

    @property
    def input_dtype(self) -> type:
        """The float type the estimator compares encoded values in.

        scikit-learn trees and forests and XGBoost cast every input to float32 before
        predicting; rows built in float32 skip that copy and give the same answers.
        Everything else takes float64.
        """
        return np.float32 if _computes_in_float32(self.estimator_) else np.float64

    def output_encoded(self, encoded: np.ndarray) -> np.ndarray:
        """Raw model output on encoded rows.

        Regression: predictions on the fitted scale, shape (n,).
        Classification: probabilities over the label's whole domain, shape (n, C).
        """
        if self.task == "regression":
            return np.asarray(self.estimator_.predict(encoded), dtype=float)
        return self.place_classes(np.asarray(self.estimator_.predict_proba(encoded),
                                             dtype=float))

    def place_classes(self, present: np.ndarray) -> np.ndarray:
        """Probabilities over the classes the estimator was trained on, (..., C'), placed
        on the label's whole domain, (..., C) (0 for a class absent from training)."""
        n_classes = len(self.domain(self.label))
        if np.array_equal(self.classes_present_, np.arange(n_classes)):
            return present  # every class trained: the columns are already in order
        full = np.zeros((*present.shape[:-1], n_classes))
        full[..., self.classes_present_] = present
        return full

    def predict_fitted(self, frame: pd.DataFrame) -> np.ndarray:
        """Predictions on the fitted scale (regression) or class indices (classification)."""
        output = self.output_encoded(self.encode(frame))
        return output if self.task == "regression" else np.argmax(output, axis=1)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Predictions on the label's own scale (dose in mg/week, class label values)."""
        fitted = self.predict_fitted(frame)
        if self.task == "regression":
            return inverse_transform(fitted, self.target_transform)
        return np.asarray(self.domain(self.label), dtype=object)[fitted]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.task != "classification":
            raise ModelError(f"the {self.family} model is a regression; it has no predict_proba")
        return self.output_encoded(self.encode(frame))

    def describe(self) -> dict[str, Any]:
        """JSON-friendly facts about the model (no training records)."""
        check_is_fitted(self, "estimator_")
        facts: dict[str, Any] = {
            "family": self.family, "task": self.task, "label": self.label,
            "features": list(self.features), "target_transform": self.target_transform,
            "categorical_encoding": self.categorical, "n_train": int(self.n_train_),
            "estimator": type(self.estimator_).__name__, "dataset": (self.card or {})["name"],
        }
        if self.task == "regression":
            facts["residual_sigma"] = self.residual_sigma_
        return facts

    def check_features(self, columns: Sequence[str], origin: str) -> None:
        """Raise ModelError if the data shares too few columns with the model's features.

        Missing features are allowed (an attack sums them out) as long as at least half
        of the model's features are present: fewer means the file is not this model's data.
        """
        missing = [f for f in self.features if f not in columns]
        if len(missing) * 2 > len(self.features):
            raise ModelError(
                f"{origin} does not match the model: the model was trained on "
                f"{list(self.features)} but the data lacks {missing}"
            )


#: what scikit-learn, SciPy and XGBoost say when numbers overflowed while fitting
OVERFLOW = ("infinity", "infs or NaNs", "`inf` or a value too large")


def _degenerate_data(error: ValueError, model: TargetModel, frame: pd.DataFrame
                     ) -> DataError | None:
    """A DataError naming the column when an estimator's ``fit`` failed because the
    numbers are too large to compute with; None for anything else (a bug to show)."""
    if isinstance(error, TabinvError) or not any(p in str(error) for p in OVERFLOW):
        return None
    numbers = frame[[c for c in (*model.features, model.label) if c in frame.columns
                     and pd.api.types.is_numeric_dtype(frame[c])]].abs()
    if numbers.empty:
        return None
    column = str(numbers.max().idxmax())
    return DataError(f"cannot fit the {model.family} model on {len(frame)} rows: the numbers "
                     f"are too large to compute with (column {shorten(column)} reaches "
                     f"{numbers[column].max():.3g}); give the column public bounds in the card")


def _computes_in_float32(estimator: Any) -> bool:
    """scikit-learn decision trees and forests (diffprivlib's subclasses included) and
    XGBoost models, which cast their input to float32."""
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import BaseDecisionTree

    forests = (ExtraTreesClassifier, ExtraTreesRegressor, RandomForestClassifier,
               RandomForestRegressor)
    return (isinstance(estimator, (BaseDecisionTree, *forests))
            or (type(estimator).__module__ or "").startswith("xgboost"))
