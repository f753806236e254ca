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

import pandas as pd

from ..data.schema import Card
from ..exceptions import ModelError
from ..text import shorten
from .foreign import ForeignModel, RecordModel
from .mlflowstore import is_registry_uri
from .sklearnsrc import describe_object, sklearn_records
from .target import TargetModel
from .validation import _kind

__all__ = ["describe_object", "is_registry_uri", "open_model", "record_model_of",
           "sklearn_records"]

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
        ``models:/NAME/VERSION`` or ``models:/NAME@ALIAS`` URI, a deployed endpoint
        (:class:`~tabinv.models.endpoint.EndpointSpec`) or a model object.
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
        ForeignModel, with the feature map. ``classes``: the label values of a raw
        booster's outputs, in order (default: the label's domain, in order).
    recognise
        Turn a recognised pipeline into a readable model (fast paths, white-box);
        False queries it as a black box.

    Raises
    ------
    UnsafeModelError, ModelError
    """
    from .persist import load_object

    if type(source).__name__ == "EndpointSpec":
        from .endpoint import EndpointSpec, open_endpoint

        if isinstance(source, EndpointSpec):
            if card is None or records is None:
                raise ModelError(f"the endpoint {source.shown_url} needs the card of its "
                                 "data and records with the label (the members)")
            return open_endpoint(source, card=card, records=records,
                                 feature_map=feature_map,
                                 classes=(options or {}).get("classes"))
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
    why = "it was opened with recognise=False"
    if recognise and not isinstance(loaded, RecordModel):  # a RecordModel: an ONNX graph
        from .recognise import recognition

        found = recognition(loaded, card, feature_map, origin)
        if isinstance(found, TargetModel):
            return _fit_foreign(found, origin, card, records)
        why = found
    classes = (options or {}).get("classes")
    model = ForeignModel.wrap(record_model_of(loaded, origin, card=card, classes=classes),
                              card, feature_map, why)
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
