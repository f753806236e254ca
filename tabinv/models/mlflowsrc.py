"""MLflow models: a local model directory or a ``models:/`` registry URI, loaded safely.

tabinv reads the ``MLmodel`` file itself (bounded, ``yaml.SafeLoader``, its structure and
every path in it checked: relative, no ``..``, no link leaving the directory) and picks
the first flavour it supports, in the order ``sklearn``, ``xgboost``, ``lightgbm``,
``python_function``. A native flavour's model file goes through
:func:`~tabinv.models.persist.load_object`, with the same rules as any model file: skops
files are built only from reviewed types (``trust`` for others; the
``skops_trusted_types`` an ``MLmodel`` lists are the author's claim and are ignored),
pickled flavours need ``allow_pickle``, and every tree inside is checked. Nothing MLflow
would import for the model (``code`` paths, a ``loader_module``) runs, except for a
model whose only flavour is ``python_function``: that one is code, loaded with
:func:`mlflow.pyfunc.load_model` only when the caller passes ``allow_code``.

The model signature (``signature.inputs``: column names and types) declares the inputs
of a model whose own object does not name them, and is checked against the names of one
that does. A ``models:/`` URI is first resolved to its version's directory in a local
registry (:mod:`.mlflowstore`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import partial
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

import numpy as np
import pandas as pd

from ..data.schema import Card
from ..exceptions import ModelError, UnsafeModelError
from ..text import shorten
from ..utils import NotARegularFile, open_regular
from .foreign import ModelInput, RecordModel
from .mlflowstore import (
    import_mlflow,
    is_registry_uri,
    model_digest,
    model_directory,
    resolved_files,
)
from .persist import load_object
from .sklearnsrc import sklearn_records
from .validation import _reason

__all__ = ["FLAVOURS", "MAX_MLMODEL_BYTES", "load_mlflow", "model_digest", "read_mlmodel",
           "resolved_files", "signature_inputs"]

#: The flavours tabinv loads without running code, in order of preference, each with the
#: key of its model file in ``MLmodel``.
FLAVOURS: tuple[tuple[str, str], ...] = (
    ("sklearn", "pickled_model"), ("xgboost", "data"), ("lightgbm", "data"))
#: The largest ``MLmodel`` file tabinv reads.
MAX_MLMODEL_BYTES = 1 << 20
#: MLflow column types as :class:`ModelInput` kinds (others: ``any``)
_KINDS = {"double": "number", "float": "number", "long": "number", "integer": "number",
          "string": "text"}
_DTYPES = {"double": "float64", "float": "float32", "long": "int64", "integer": "int32"}


def load_mlflow(source: str, *, trust: bool, allow_pickle: bool, allow_code: bool,
                card: Card | None = None, registry_uri: str | None = None) -> Any:
    """The model of an MLflow model directory or ``models:/NAME/VERSION`` /
    ``models:/NAME@ALIAS`` URI (see the module docstring).

    Parameters
    ----------
    source
        A directory holding an ``MLmodel`` file, or a registry URI.
    trust, allow_pickle
        As for :func:`~tabinv.models.persist.load_object`.
    allow_code
        Load a model whose only flavour is ``python_function`` (this runs its code).
    card
        The card of the model's data: tells a ``python_function`` model's task and classes.
    registry_uri
        A local registry (``file:/PATH``); default MLFLOW_REGISTRY_URI or
        MLFLOW_TRACKING_URI.

    Returns
    -------
    object
        The loaded model (a scikit-learn estimator, a booster, ...), or a
        :class:`RecordModel` when the signature names its inputs or it is a
        ``python_function`` model.

    Raises
    ------
    UnsafeModelError, ModelError
    """
    directory = model_directory(source, registry_uri=registry_uri)
    origin = source if is_registry_uri(source) else str(directory)
    mlmodel = read_mlmodel(directory, origin)
    flavours: Mapping[str, Any] = mlmodel["flavors"]
    inputs = signature_inputs(mlmodel, origin, "inputs")
    for flavour, key in FLAVOURS:
        if flavour in flavours:
            path = flavour_file(directory, flavours[flavour], key, origin, flavour)
            try:
                loaded = load_object(path, trust=trust, allow_pickle=allow_pickle)
            except ModelError as error:
                if origin == str(directory):
                    raise
                raise type(error)(f"{origin}: {error}") from None  # the URI, then the file
            return _declared(loaded, inputs, origin)
    if "python_function" in flavours:
        return _pyfunc_records(directory, mlmodel, origin, allow_code, card, inputs)
    raise ModelError(f"{origin}: its MLmodel has no flavour tabinv reads (found "
                     f"{', '.join(shorten(f) for f in flavours) or 'none'}; tabinv reads "
                     f"{', '.join(f for f, _ in FLAVOURS)} and, with allow_code, "
                     "python_function)")


# -- the MLmodel file ------------------------------------------------------------------
def read_mlmodel(directory: Path, origin: str) -> dict[str, Any]:
    """The ``MLmodel`` document of ``directory``, read bounded and checked: a mapping
    whose ``flavors`` maps names to mappings.

    Raises
    ------
    ModelError
        A missing, oversized or malformed file.
    """
    path = flavour_path(directory, "MLmodel", origin, "the MLmodel file")
    import yaml

    try:
        with open_regular(path) as handle:
            data = handle.read(MAX_MLMODEL_BYTES + 1)
    except (NotARegularFile, OSError) as error:
        raise ModelError(f"{origin}: cannot read {path} ({_reason(error)})") from None
    if len(data) > MAX_MLMODEL_BYTES:
        raise ModelError(f"{origin}: {path} is larger than {MAX_MLMODEL_BYTES >> 10} KiB, the "
                         "largest MLmodel file tabinv reads")
    try:
        document = yaml.load(data.decode("utf-8"), Loader=yaml.SafeLoader)  # noqa: S506
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError, ValueError) as error:
        raise ModelError(f"{origin}: {path} is not valid YAML ({_reason(error)})") from None
    flavours = document.get("flavors") if isinstance(document, dict) else None
    if not isinstance(flavours, dict) or not all(
            isinstance(k, str) and isinstance(v, dict) for k, v in flavours.items()):
        raise ModelError(f"{origin}: {path} is not an MLmodel file (expected a mapping with "
                         "'flavors', each flavour a mapping)")
    return document


def flavour_path(directory: Path, relative: object, origin: str, what: str) -> Path:
    """``directory / relative`` once ``relative`` is known to stay inside ``directory``
    (relative, no ``..``, no link leading out).

    Raises
    ------
    UnsafeModelError
        An absolute path, ``..``, or a link leaving the directory.
    ModelError
        Not a non-empty text.
    """
    if not isinstance(relative, str) or not relative.strip() or "\x00" in relative:
        raise ModelError(f"{origin}: {what} is {shorten(relative)}; expected a file name "
                         "inside the model directory")
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if PurePosixPath(relative).is_absolute() or PureWindowsPath(relative).is_absolute() or \
            PureWindowsPath(relative).drive or ".." in parts:
        raise UnsafeModelError(f"{origin}: {what} {shorten(relative)} is not a path inside "
                               "the model directory; refused")
    path = directory / relative
    if not path.resolve().is_relative_to(directory.resolve()):
        raise UnsafeModelError(f"{origin}: {what} {shorten(relative)} links to "
                               f"{path.resolve()}, outside the model directory; refused")
    if not path.is_file():
        raise ModelError(f"{origin}: {what} {path} does not exist or is not a file")
    return path


def flavour_file(directory: Path, conf: Mapping[str, Any], key: str, origin: str,
                 flavour: str) -> Path:
    """The model file a native flavour names under ``key``, checked."""
    return flavour_path(directory, conf.get(key), origin,
                        f"the {flavour} flavour's model file ({key})")


def _schema(mlmodel: Mapping[str, Any], origin: str, part: str) -> list[dict[str, Any]] | None:
    """The ``signature.<part>`` column list (None if absent), checked."""
    signature = mlmodel.get("signature")
    if signature is None:
        return None
    text = signature.get(part) if isinstance(signature, dict) else ""
    if text is None:
        return None
    try:
        specs = json.loads(text) if isinstance(text, str) else None
    except (ValueError, RecursionError):
        specs = None
    if not isinstance(specs, list) or not all(isinstance(s, dict) for s in specs):
        raise ModelError(f"{origin}: its MLmodel signature's {part} is not a list of "
                         "column specifications (JSON)")
    return specs


def signature_inputs(mlmodel: Mapping[str, Any], origin: str,
                     part: str = "inputs") -> tuple[ModelInput, ...] | None:
    """The named columns of the signature as ModelInputs (``double``/``long``/... are
    numbers, ``string`` text, other types ``any``), or None when the signature is absent
    or holds unnamed tensors."""
    specs = _schema(mlmodel, origin, part)
    if not specs or not all(isinstance(s.get("name"), str) and s["name"] for s in specs):
        return None
    return tuple(ModelInput(s["name"], _KINDS.get(str(s.get("type")), "any")) for s in specs)


# -- what the signature adds to a loaded object ------------------------------------------
def _declared(loaded: Any, inputs: tuple[ModelInput, ...] | None, origin: str) -> Any:
    """``loaded`` itself, or a RecordModel declaring the signature's inputs for a
    scikit-learn-API estimator fitted on an array (which names no inputs)."""
    if inputs is None or isinstance(loaded, RecordModel) or \
            not callable(getattr(loaded, "predict", None)):
        return loaded
    names = getattr(loaded, "feature_names_in_", None)
    if names is not None:
        own = [str(n) for n in names]
        if sorted(own) != sorted(i.name for i in inputs):
            raise ModelError(f"{origin}: its MLmodel signature lists inputs "
                             f"{_names(i.name for i in inputs)} but the model takes "
                             f"{_names(own)}")
        return loaded
    if not type(loaded).__module__.startswith("sklearn"):
        return loaded  # boosters name their inputs themselves (or their adapter decides)
    record_model = sklearn_records(loaded, origin)  # takes one array, in this order:
    record_model.inputs = tuple(inputs)  # the signature names its columns
    return record_model


def _names(names: Iterable[str], limit: int = 10) -> str:
    listed = list(names)
    more = f" and {len(listed) - limit} more" if len(listed) > limit else ""
    return ", ".join(shorten(n, 30) for n in listed[:limit]) + more


# -- python_function models -------------------------------------------------------------
def _pyfunc_records(directory: Path, mlmodel: Mapping[str, Any], origin: str,
                    allow_code: bool, card: Card | None,
                    inputs: tuple[ModelInput, ...] | None) -> RecordModel:
    """A model whose only flavour is ``python_function`` (code), with ``allow_code``."""
    conf = mlmodel["flavors"]["python_function"]
    what = shorten(conf.get("loader_module") or "its python_model")
    if not allow_code:
        raise UnsafeModelError(
            f"{origin} is an MLflow python_function model (loaded by {what}): refused "
            "without allow_code (CLI --allow-code), because loading it runs code from the "
            "model directory; pass it only if you trust its source")
    if card is None:
        raise ModelError(f"{origin} is an MLflow python_function model, which does not say "
                         "what it predicts: give the card of its data (--card CARD.toml)")
    classes, class_columns = _pyfunc_classes(mlmodel, origin, card)
    pyfunc = import_mlflow("pyfunc")
    try:
        model = pyfunc.load_model(str(directory))
    except Exception as error:  # whatever the model's own code raises
        raise ModelError(f"{origin}: its python_function model cannot be loaded "
                         f"({_reason(error)})") from None
    types = {str(s.get("name")): str(s.get("type"))
             for s in _schema(mlmodel, origin, "inputs") or () if s.get("name")}
    call = partial(_pyfunc_output, model, class_columns)
    return RecordModel(model, origin=origin, kind=f"MLflow python_function ({what})",
                       inputs=inputs, classes=classes,
                       proba=call if class_columns else None, predict=call,
                       table=partial(_signature_table, types))


def _pyfunc_classes(mlmodel: Mapping[str, Any], origin: str, card: Card
                    ) -> tuple[list[Any] | None, tuple[str, ...]]:
    """(classes, probability column names) of a python_function model: a regression for
    a numeric label; the label's values as predicted labels; or, when the signature's
    outputs are columns named after the classes, those probability columns."""
    if card.task == "regression":
        return None, ()
    domain = list(card.column(card.label).domain or ())
    outputs = _schema(mlmodel, origin, "outputs") or []
    names = [s.get("name") for s in outputs]
    if len(outputs) >= 2 and all(isinstance(n, str) for n in names):
        by_text = {str(v): v for v in domain}
        unknown = [n for n in names if n not in by_text]
        if unknown:
            raise ModelError(f"{origin}: its signature's output columns "
                             f"{[shorten(n, 20) for n in unknown][:6]} are not values of the "
                             f"label {shorten(card.label)}")
        return [by_text[n] for n in names], tuple(str(n) for n in names)
    shape = outputs[0].get("tensor-spec", {}).get("shape") if len(outputs) == 1 else None
    if len(outputs) > 1 or (isinstance(shape, list) and len(shape) == 2 and shape[1] != 1):
        raise ModelError(f"{origin}: its signature's outputs are several unnamed columns, "
                         "so tabinv cannot tell which class each is; return a DataFrame "
                         "whose columns are the classes, or the predicted labels")
    return domain, ()


def _pyfunc_output(model: Any, class_columns: tuple[str, ...], table: Any) -> np.ndarray:
    """Probabilities in ``class_columns`` order, or one prediction per record."""
    output = model.predict(table)
    if class_columns and isinstance(output, pd.DataFrame):
        return output[list(class_columns)].to_numpy()
    values = np.asarray(output)
    if not class_columns and values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    return values


def _signature_table(types: Mapping[str, str], columns: dict[str, np.ndarray],
                     n: int) -> pd.DataFrame:
    """A DataFrame whose columns have the signature's types where the values allow it
    (MLflow's schema enforcement refuses floats for a ``long`` column)."""
    frame: dict[str, Any] = {}
    for name, values in columns.items():
        dtype = _DTYPES.get(types.get(name, ""))
        if dtype is not None:
            try:
                with np.errstate(invalid="ignore", over="ignore"):
                    cast = values.astype(dtype)
                if np.array_equal(cast.astype(float), values.astype(float), equal_nan=True):
                    values = cast
            except (TypeError, ValueError, OverflowError):
                pass  # left as it is: the model says what it refuses
        elif types.get(name) == "string" and values.dtype.kind != "O":
            values = values.astype(str).astype(object)
        frame[name] = values
    return pd.DataFrame(frame, index=pd.RangeIndex(n), copy=False)
