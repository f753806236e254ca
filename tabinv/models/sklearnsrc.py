"""scikit-learn estimators and pipelines as models that take records.

:func:`sklearn_records` makes a :class:`~tabinv.models.foreign.RecordModel` of any
scikit-learn-API estimator or pipeline; :func:`column_kinds` reads the kinds of its input
columns from its first ``ColumnTransformer``; :func:`selected_columns` resolves a
``ColumnTransformer`` entry's column selection to input names. The readers of scikit-learn
pipelines (:mod:`.sources`, :mod:`.recognise`) share them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..exceptions import ModelError
from .foreign import ModelInput, RecordModel
from .validation import _kind

__all__ = ["column_kinds", "describe_object", "final_step", "selected_columns",
           "sklearn_records"]


def describe_object(obj: Any) -> str:
    """``a sklearn.pipeline.Pipeline (RandomForestClassifier)``-style name of a model."""
    final = final_step(obj)
    inner = f" ({type(final).__name__})" if final is not obj else ""
    return f"{_kind(obj)}{inner}"




# -- scikit-learn estimators and pipelines --------------------------------------------
def final_step(obj: Any) -> Any:
    steps = getattr(obj, "steps", None)
    while isinstance(steps, list) and steps:
        obj = steps[-1][1]
        steps = getattr(obj, "steps", None)
    return obj


def model_kind(obj: Any) -> str:
    """What a model is, for reports: ``Pipeline (RandomForestClassifier)``."""
    final = final_step(obj)
    return type(obj).__name__ + (f" ({type(final).__name__})" if final is not obj else "")


def sklearn_records(obj: Any, origin: str) -> RecordModel:
    """A scikit-learn-API estimator or pipeline (anything with ``predict`` and, for a
    classifier, ``classes_``) as a RecordModel.

    Its inputs are ``feature_names_in_`` (fitted on a DataFrame) with the kinds its
    ColumnTransformer shows (one-hot / ordinal encoded: categories; scaled: numbers);
    fitted on an array, it gets the card's features in card order as an array.
    """
    from sklearn.base import is_classifier, is_regressor
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(obj)
    except Exception:
        raise ModelError(f"{origin} holds an unfitted {type(obj).__name__}") from None
    classes = getattr(obj, "classes_", None)
    if classes is None and is_classifier(obj):
        raise ModelError(f"{origin} holds a classifier without classes_")
    if classes is not None and is_regressor(obj):
        classes = None
    names = getattr(obj, "feature_names_in_", None)
    inputs: list[ModelInput] | None = None
    table: Callable[[dict[str, np.ndarray], int], Any] | None = None
    if names is not None:
        kinds = column_kinds(obj)
        inputs = [kinds.get(str(n), ModelInput(str(n))) for n in names]
    else:
        table = _array_table
    has_proba = classes is not None and callable(getattr(obj, "predict_proba", None))
    return RecordModel(obj, origin=origin, kind=model_kind(obj),
                       inputs=inputs,
                       classes=None if classes is None else list(np.asarray(classes)),
                       proba=obj.predict_proba if has_proba else None, predict=obj.predict,
                       table=table)


def _array_table(columns: dict[str, np.ndarray], n: int) -> np.ndarray:
    """An estimator fitted on an array takes the columns as one array (numbers as float,
    anything else as objects)."""
    values = list(columns.values())
    numeric = all(v.dtype.kind in "iuf" for v in values)
    return np.column_stack(values).astype(float if numeric else object) if values \
        else np.empty((n, 0))


#: scikit-learn transformers whose input column is numeric
_NUMERIC = ("StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler",
            "QuantileTransformer", "PowerTransformer", "KBinsDiscretizer", "Normalizer",
            "PolynomialFeatures", "SplineTransformer")
_CATEGORICAL = ("OneHotEncoder", "OrdinalEncoder", "TargetEncoder")


def column_kinds(obj: Any) -> dict[str, ModelInput]:
    """The kinds of a pipeline's input columns, read from its first ColumnTransformer:
    encoded columns are categories (with the categories the encoder learned), scaled
    columns numbers. Columns it does not tell about are absent."""
    from sklearn.compose import ColumnTransformer

    first = obj
    while isinstance(getattr(first, "steps", None), list) and first.steps:
        first = first.steps[0][1]
    if not isinstance(first, ColumnTransformer) or not hasattr(first, "transformers_"):
        return {}
    names = [str(n) for n in getattr(first, "feature_names_in_", [])]
    kinds: dict[str, ModelInput] = {}
    for _, transformer, columns in first.transformers_:
        selected = selected_columns(columns, names)
        encoder = _first_encoder(transformer)
        kind = type(encoder).__name__
        for i, column in enumerate(selected):
            if kind in _CATEGORICAL and hasattr(encoder, "categories_"):
                categories = tuple(np.asarray(encoder.categories_[i]).tolist())
                kinds[column] = ModelInput(column, "category", categories)
            elif kind in _NUMERIC:
                kinds[column] = ModelInput(column, "number")
    return kinds


def selected_columns(columns: Any, names: list[str]) -> list[str]:
    if isinstance(columns, str):
        return [columns]
    values = list(np.atleast_1d(np.asarray(columns, dtype=object))) \
        if not isinstance(columns, slice) else names[columns]
    if values and all(isinstance(v, (bool, np.bool_)) for v in values):
        return [n for n, keep in zip(names, values, strict=False) if keep]
    if values and all(isinstance(v, (int, np.integer)) for v in values):
        return [names[int(v)] for v in values if -len(names) <= int(v) < len(names)]
    return [str(v) for v in values]


def _first_encoder(transformer: Any) -> Any:
    """The step that first sees a column: skipping imputers, which keep its kind."""
    steps = getattr(transformer, "steps", None)
    if isinstance(steps, list):
        for _, step in steps:
            if type(step).__name__ != "SimpleImputer":
                return step
        return steps[0][1] if steps else transformer
    return transformer
