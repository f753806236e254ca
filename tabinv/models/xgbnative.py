"""XGBoost's native model files (``.json`` / ``.ubj``) as tabinv models.

tabinv's metadata (card, family, statistics, version) is kept as JSON in the booster
attribute ``"tabinv"``; a file without it is a model tabinv did not train and loads as
a raw ``xgboost.Booster`` (:func:`~.sources.open_model` wraps it with its card). A file
is read only after its document's nesting and declared sizes are checked
(:mod:`.xgbfile`); the model built from it is checked by
:func:`~.validation.check_loaded_model` in :mod:`.persist`. These are the saver, loader and
describer of the formats ``xgboost-json`` and ``xgboost-ubj`` (:mod:`.formats`).
"""

from __future__ import annotations

import json
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import clone

from ..exceptions import ModelError, UnsafeModelError
from ..text import shorten
from .formats import ModelFormat
from .target import TargetModel
from .validation import _reason
from .xgbfile import MAX_NESTING, check_learner, json_nesting, read_booster_document

__all__ = ["describe_xgboost", "load_xgboost", "xgboost_bytes"]

_META_KEY = "tabinv"


def xgboost_bytes(model: TargetModel, chosen: ModelFormat) -> bytes:
    """XGBoost's native file of an xgboost-family ``model``, with tabinv's metadata as the
    booster attribute ``"tabinv"`` (the saver of formats ``xgboost-json`` / ``-ubj``)."""
    if model.family != "xgboost":
        raise ModelError(f"a {model.family!r} model can only be saved as .skops; .json and "
                         ".ubj are XGBoost's native formats, for the xgboost family only")
    booster = model.estimator_.get_booster().copy()  # never touch the caller's booster
    booster.set_attr(**{_META_KEY: json.dumps(_metadata(model))})
    return bytes(booster.save_raw(raw_format=chosen.save_as))


def _metadata(model: TargetModel) -> dict[str, Any]:
    params = {key: value for key, value in model.estimator_.get_params().items()
              if value is None or isinstance(value, (str, int, float, bool))}
    facts: dict[str, Any] = {
        "tabinv_version": _version(), "family": model.family, "card": model.card,
        "categorical": model.categorical, "n_train": int(model.n_train_),
        "marginals": {name: counts.tolist() for name, counts in model.marginals_.items()},
        "estimator_params": params,
    }
    if model.task == "regression":
        facts["residual_sigma"] = float(model.residual_sigma_)
    else:
        facts["confusion"] = model.confusion_.tolist()
        facts["classes_present"] = model.classes_present_.tolist()
    return facts


def _version() -> str:
    try:
        return metadata.version("tabinv")
    except metadata.PackageNotFoundError:
        return "unknown"


def load_xgboost(path: Path, data: bytes, found: str, *, trust: bool) -> Any:
    """A tabinv model from XGBoost's native file with tabinv's metadata, or the checked raw
    ``xgboost.Booster`` of a file without it (a model tabinv did not train), after the
    document's checks (the loader of formats ``xgboost-json`` / ``xgboost-ubj``)."""
    import xgboost

    native = found.removeprefix("xgboost-").upper()
    document = read_booster_document(data, path, f"XGBoost {native} model")
    if not isinstance(document, dict) or not isinstance(document.get("learner"), dict):
        raise ModelError(f"{path} looks like an XGBoost {native} model but holds no "
                         "'learner'")
    check_learner(document["learner"], "the booster", path)
    booster = xgboost.Booster()
    try:
        booster.load_model(bytearray(data))
    except Exception as error:
        raise ModelError(f"{path} looks like an XGBoost {native} model but XGBoost cannot "
                         f"read it ({_reason(error)})") from None
    text = booster.attr(_META_KEY)
    if text is None:
        return booster  # a model tabinv did not train: open_model wraps it with its card
    if json_nesting(text.encode()) > MAX_NESTING:
        raise UnsafeModelError(f"refusing {path}: its tabinv metadata nests deeper than "
                               f"{MAX_NESTING} levels")
    try:
        return _model_from_metadata(json.loads(text), data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError,
            RecursionError) as error:
        raise ModelError(f"{path} has malformed tabinv metadata in its booster attribute "
                         f"'{_META_KEY}' ({_reason(error)})") from None


def _integers(value: Any, name: str) -> np.ndarray:
    """A JSON list of integers as an int64 array (never rounding floats or parsing text)."""
    array = np.asarray(value)
    if array.dtype.kind not in "iu":
        raise ValueError(f"{name} must hold integer counts, not {array.dtype.name} values")
    return array.astype(np.int64)


def _model_from_metadata(meta: dict[str, Any], data: bytes) -> TargetModel:
    from xgboost import XGBClassifier, XGBRegressor

    card, family = meta["card"], meta["family"]
    if not isinstance(family, str) or not isinstance(meta["categorical"], str):
        raise TypeError(f"family and categorical must be text, not {shorten(family)} and "
                        f"{shorten(meta['categorical'])}")
    kind = XGBRegressor if card["task"] == "regression" else XGBClassifier
    known = kind().get_params()
    params = {k: v for k, v in meta["estimator_params"].items() if k in known}
    estimator = kind(**{**params, "n_jobs": 1, "device": "cpu"})  # no threads/GPU from a file
    fitted = clone(estimator)
    fitted.load_model(bytearray(data))
    fitted.get_booster().set_attr(**{_META_KEY: None})
    model = TargetModel(family=family, estimator=estimator, card=card,
                        categorical=meta["categorical"])
    model.encoder_ = model._make_encoder()
    model.estimator_ = fitted
    model.n_train_ = int(_integers(meta["n_train"], "n_train"))
    model.marginals_ = {str(k): _integers(v, f"marginals[{k!r}]")
                        for k, v in meta["marginals"].items()}
    if card["task"] == "regression":
        model.residual_sigma_ = float(meta["residual_sigma"])
    else:
        model.confusion_ = _integers(meta["confusion"], "confusion")
        model.classes_present_ = _integers(meta["classes_present"], "classes_present")
    return model


def describe_xgboost(path: Path, data: bytes, chosen: ModelFormat) -> dict[str, Any]:
    """Whether an XGBoost file carries tabinv's metadata, and its family and version."""
    learner = read_booster_document(data, path)["learner"]
    check_learner(learner, "the booster", path)
    meta = json.loads(learner.get("attributes", {}).get(_META_KEY) or "null")
    facts: dict[str, Any] = {"tabinv_metadata": isinstance(meta, dict)}
    if isinstance(meta, dict):
        facts.update({key: meta.get(key) for key in ("family", "tabinv_version")})
    return facts
