"""Opening any model a team has: a file, an MLflow model directory or a registry URI.

:func:`open_model` is the one entry point (CLI ``--model``, inventories, the Python
API). A model tabinv trained comes back as it is (its card is inside it). Anything else
becomes a :class:`~tabinv.models.foreign.ForeignModel`: the loaded object is turned into a
:class:`~tabinv.models.foreign.RecordModel` by the adapter for its type (scikit-learn
estimators and pipelines here; XGBoost and LightGBM boosters in :mod:`.boosters`; ONNX
graphs with named raw inputs in :mod:`.onnxraw`), checked against the card of its data
and fitted on records for its published statistics. A recognised pipeline (an encoding
tabinv can reproduce in front of a linear model or trees, :mod:`.recognise`) becomes a
readable model with the fast paths and white-box attacks instead.

No code from a file runs without the caller's opt-in: skops files are built only from
trusted types (``trust`` for others), pickles need ``allow_pickle``, and what an MLflow
model directory would import needs ``allow_code``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..data.schema import Card
from ..exceptions import ModelError
from ..text import shorten
from .foreign import ForeignModel, ModelInput, RecordModel
from .mlflowstore import is_registry_uri
from .target import TargetModel
from .validation import _kind

__all__ = ["is_registry_uri", "open_model", "record_model_of", "sklearn_records"]

#: adapters for objects that are not scikit-learn estimators: (module prefix of the
#: object's type, "module:function" making a RecordModel of it, called as
#: ``function(obj, origin, card=card, classes=classes)``)
ADAPTERS: tuple[tuple[str, str], ...] = (
    ("xgboost.core", "tabinv.models.boosters:xgboost_records"),
    ("xgboost.sklearn", "tabinv.models.boosters:xgboost_records"),
    ("lightgbm.basic", "tabinv.models.boosters:lightgbm_records"),
    ("lightgbm.sklearn", "tabinv.models.boosters:lightgbm_records"),
)


def open_model(source: str | os.PathLike[str] | Any, *, card: Card | None = None,
               records: pd.DataFrame | None = None,
               feature_map: Mapping[str, str] | Sequence[str] | None = None,
               trust: bool = False, allow_pickle: bool = False, allow_code: bool = False,
               format: str | None = None, options: Mapping[str, Any] | None = None,
               recognise: bool = True) -> TargetModel:
    """A fitted model ready to attack, from a file, an MLflow directory, a ``models:/``
    URI or an already loaded object.

    Parameters
    ----------
    source
        A model file (skops, XGBoost JSON/UBJ, LightGBM text, ONNX, or with
        ``allow_pickle`` a pickle/joblib file), an MLflow model directory, a
        ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` URI, or a model object.
    card
        The card of the model's data: needed for every model tabinv did not train.
    records
        Records with the label (the members, when known) on which the statistics a model
        owner publishes are computed; needed for every model tabinv did not train.
    feature_map
        ``{card column: model input}`` renames (or ``"card=model"`` strings).
    trust, allow_pickle, allow_code
        Opt-ins to load skops types outside the reviewed set, pickles, and code an MLflow
        model directory brings (its ``python_function`` loader or pickled flavour).
    format
        A declared file format (inventories): a file of another format is refused.
    options
        Options of a graph-only format (ONNX: ``onnx_encoding``, ``onnx_classes``,
        ``onnx_output``). An ONNX graph taking tabinv's card encoding comes back as an
        :class:`~tabinv.models.onnx.OnnxTargetModel`; one taking named raw inputs (a
        skl2onnx export of a pipeline; a float matrix with ``onnx_encoding="raw"``) as a
        ForeignModel, with the feature map. ``classes``: the label values of a raw booster's outputs,
        in order (default: the label's domain, in order).
    recognise
        Turn a recognised pipeline into a readable model (fast paths, white-box);
        False queries it as a black box.

    Raises
    ------
    UnsafeModelError, ModelError
    """
    from .persist import load_object

    origin = str(source) if isinstance(source, (str, os.PathLike)) else _kind(source)
    if isinstance(source, (str, os.PathLike)):
        if is_registry_uri(source) or (Path(source).is_dir()
                                       and (Path(source) / "MLmodel").is_file()):
            from .mlflowsrc import load_mlflow

            loaded = load_mlflow(str(source), trust=trust, allow_pickle=allow_pickle,
                                 allow_code=allow_code, card=card)
        else:
            loaded = load_object(source, trust=trust, allow_pickle=allow_pickle,
                                 format=format, card=card, options=options)
    else:
        loaded = source
    if isinstance(loaded, TargetModel):
        if hasattr(loaded, "estimator_"):
            return loaded
        return _fit_foreign(loaded, origin, card, records)  # a graph-only file (ONNX)
    if card is None:
        raise ModelError(f"{origin} holds {describe_object(loaded)}, which carries no card: "
                         "give the card of its data (--card CARD.toml)")
    if recognise and not isinstance(loaded, RecordModel):  # a RecordModel: an ONNX graph
        from .recognise import readable_model

        readable = readable_model(loaded, card, feature_map, origin)
        if readable is not None:
            return _fit_foreign(readable, origin, card, records)
    classes = (options or {}).get("classes")
    model = ForeignModel.wrap(record_model_of(loaded, origin, card=card, classes=classes),
                              card, feature_map)
    return _fit_foreign(model, origin, card, records)


def _fit_foreign(model: TargetModel, origin: str, card: Card | None,
                 records: pd.DataFrame | None) -> TargetModel:
    if records is None:
        raise ModelError(f"{origin} was not trained by tabinv: give records with the label "
                         "(the members) to compute the statistics its owner publishes")
    if card is not None and card.label not in records.columns:
        raise ModelError(f"{origin} was not trained by tabinv: the records its statistics "
                         f"are computed on need the label column {shorten(card.label)}")
    return model.fit(records)


def describe_object(obj: Any) -> str:
    """``a sklearn.pipeline.Pipeline (RandomForestClassifier)``-style name of a model."""
    final = _final_step(obj)
    inner = f" ({type(final).__name__})" if final is not obj else ""
    return f"{_kind(obj)}{inner}"


def record_model_of(obj: Any, origin: str, *, card: Card | None = None,
                    classes: Any = None) -> RecordModel:
    """The RecordModel of a loaded model object (ModelError for anything that does not
    map records to outputs). ``card`` and ``classes`` go to the adapters of
    :data:`ADAPTERS` (a raw booster's classes are the label's domain unless
    ``classes`` names them)."""
    if isinstance(obj, RecordModel):
        return obj
    module = type(obj).__module__ or ""
    for prefix, target in ADAPTERS:
        if module.startswith(prefix):
            name, _, function = target.partition(":")
            adapter: Callable[..., RecordModel] = getattr(importlib.import_module(name),
                                                          function)
            return adapter(obj, origin, card=card, classes=classes)
    if classes is not None:
        raise ModelError(f"{origin} holds {_kind(obj)}, which knows its classes; the "
                         "classes option is for raw XGBoost / LightGBM boosters")
    if callable(getattr(obj, "predict", None)):
        return sklearn_records(obj, origin)
    raise ModelError(f"{origin} holds {_kind(obj)}, which is not a model tabinv can query "
                     "(it has no predict method)")


# -- scikit-learn estimators and pipelines --------------------------------------------
def _final_step(obj: Any) -> Any:
    steps = getattr(obj, "steps", None)
    while isinstance(steps, list) and steps:
        obj = steps[-1][1]
        steps = getattr(obj, "steps", None)
    return obj


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
    final = _final_step(obj)
    kind = type(obj).__name__ + (f" ({type(final).__name__})" if final is not obj else "")
    return RecordModel(obj, origin=origin, kind=kind,
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
        selected = _selected(columns, names)
        encoder = _first_encoder(transformer)
        kind = type(encoder).__name__
        for i, column in enumerate(selected):
            if kind in _CATEGORICAL and hasattr(encoder, "categories_"):
                categories = tuple(np.asarray(encoder.categories_[i]).tolist())
                kinds[column] = ModelInput(column, "category", categories)
            elif kind in _NUMERIC:
                kinds[column] = ModelInput(column, "number")
    return kinds


def _selected(columns: Any, names: list[str]) -> list[str]:
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
