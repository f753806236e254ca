"""XGBoost and LightGBM models tabinv did not train, as :class:`RecordModel`\\ s.

A booster takes records in its own form: its own feature names and order, categorical
features as pandas categories (with the categories it was trained on) or as integer
codes. The adapters here read that form from the model itself and build candidate rows
in it:

- a raw ``xgboost.Booster`` (``feature_names`` / ``feature_types``, where ``c`` is
  categorical; the categories XGBoost >= 3.1 keeps in the model) and the scikit-learn
  wrappers ``XGBClassifier`` / ``XGBRegressor``;
- a raw ``lightgbm.Booster`` (``feature_name()``, its categorical features and
  ``pandas_categorical``) and ``LGBMClassifier`` / ``LGBMRegressor``.

The objective says what a prediction is (class probabilities, class labels, or a
number). A raw booster, and an ``XGBClassifier`` trained on codes 0..C-1, does not know
its class labels: its class k is the k-th value of the card's label domain, unless the
``classes`` option (inventory key ``classes``, Python keyword) names them in order (it
also overrides what a wrapper's ``classes_`` say).
Every model is checked before it is queried (:mod:`.xgbfile`, :mod:`.lgbfile`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..data.schema import Card
from ..exceptions import ModelError
from ..text import shorten
from .foreign import ModelInput, RecordModel
from .lgbfile import check_lightgbm_text, import_lightgbm
from .validation import _reason
from .xgbcats import category_values
from .xgbfile import check_learner

__all__ = ["lightgbm_records", "xgboost_records"]

#: XGBoost objectives: name -> what a prediction is
XGB_OBJECTIVES = {"binary:logistic": "probability", "binary:logitraw": "margin",
                  "binary:hinge": "label", "multi:softprob": "probabilities",
                  "multi:softmax": "label",
                  **{name: "regression" for name in (
                      "reg:squarederror", "reg:squaredlogerror", "reg:pseudohubererror",
                      "reg:absoluteerror", "reg:quantileerror", "reg:logistic", "reg:gamma",
                      "reg:tweedie", "count:poisson", "reg:linear")}}
Table = Callable[[dict[str, np.ndarray], int], Any]


# -- what both kinds share ------------------------------------------------------------
def resolve_classes(n_classes: int, card: Card | None, classes: Any, origin: str,
                    known: Sequence[Any] | None = None) -> tuple[Any, ...]:
    """The label value of each of a classifier's ``n_classes`` outputs, in order.

    ``classes`` (given by the user, a sequence or comma-separated text) wins; then
    ``known`` (what the model says, if every value is one of the label's); else class k
    is the k-th value of the card's label domain.
    """
    domain = tuple(card.column(card.label).domain or ()) \
        if card is not None and card.task == "classification" else None
    if classes is not None:
        given = [c.strip() for c in classes.split(",")] if isinstance(classes, str) \
            else list(classes)
        if len(given) != n_classes:
            raise ModelError(f"{origin} has {n_classes} classes but the classes option names "
                             f"{len(given)}: {[shorten(c, 20) for c in given]}")
        return tuple(_label_value(c, domain, origin) for c in given)
    if known is not None and domain is not None and all(k in domain for k in known):
        return tuple(known)
    if domain is None:
        return tuple(range(n_classes))  # the card's check says the label is not categorical
    if len(domain) != n_classes:
        raise ModelError(f"{origin} has {n_classes} classes but the label "
                         f"{shorten(card.label if card else '')} has {len(domain)} values "
                         f"{[shorten(v, 20) for v in domain]}: name its classes in order "
                         "(classes=... in Python, inventory key classes)")
    return domain


def _label_value(given: Any, domain: tuple[Any, ...] | None, origin: str) -> Any:
    if domain is None or given in domain:
        return given
    match = [v for v in domain if str(v) == str(given)]
    if not match:
        raise ModelError(f"{origin}: class {shorten(given)} of the classes option is not a "
                         f"value of the label {[shorten(v, 20) for v in domain]}")
    return match[0]


def _unnamed_inputs(n_features: int, card: Card | None, origin: str) -> list[ModelInput]:
    """A model fitted on an array takes the card's features, in card order, as numbers."""
    if card is None:
        raise ModelError(f"{origin} has no feature names: give the card of its data")
    if n_features != len(card.features):
        raise ModelError(f"{origin} takes {n_features} unnamed features but the card of "
                         f"{shorten(card.name)} has {len(card.features)} "
                         f"({', '.join(card.features)}); without names they must match one "
                         "to one, in card order")
    return [ModelInput(f, "number") for f in card.features]


def _array_table(columns: dict[str, np.ndarray], n: int) -> np.ndarray:
    try:
        return np.column_stack([np.asarray(v, dtype=float) for v in columns.values()]) \
            if columns else np.empty((n, 0))
    except (TypeError, ValueError):
        raise ModelError("the model takes numbers, but a card column holds text") from None


def _frame_table(categories: dict[str, tuple[Any, ...]]) -> Table:
    """The model's DataFrame: category columns as pandas Categorical with the categories
    the model was trained on (a value it never saw is missing), the rest as numbers."""
    known = {name: pd.Index(list(values), dtype=object) for name, values in
             categories.items()}

    def table(columns: dict[str, np.ndarray], n: int) -> pd.DataFrame:
        data: dict[str, Any] = {}
        for name, values in columns.items():
            if name in known:
                codes = known[name].get_indexer(pd.Index(values, dtype=object))
                data[name] = pd.Categorical.from_codes(codes, categories=list(known[name]))
            else:
                data[name] = np.asarray(values, dtype=float)
        return pd.DataFrame(data, index=pd.RangeIndex(n), copy=False)
    return table


def _probabilities(positive: Callable[[Any], Any]) -> Callable[[Any], np.ndarray]:
    """Two columns (1 - p, p) from a binary model's probability of class 1."""
    def proba(table: Any) -> np.ndarray:
        p = np.asarray(positive(table), dtype=float).reshape(-1)
        return np.column_stack([1.0 - p, p])
    return proba


def _labels(predict: Callable[[Any], Any], classes: tuple[Any, ...],
            origin: str) -> Callable[[Any], np.ndarray]:
    """Label values from a model that predicts class indices."""
    values = np.asarray(classes, dtype=object)

    def labels(table: Any) -> np.ndarray:
        index = np.asarray(predict(table), dtype=float).reshape(-1)
        if not np.isin(index, np.arange(len(values))).all():
            raise ModelError(f"{origin} predicted class indices outside [0, {len(values)})")
        return values[index.astype(np.intp)]
    return labels


# -- XGBoost --------------------------------------------------------------------------
def xgboost_records(obj: Any, origin: str, *, card: Card | None = None,
                    classes: Any = None) -> RecordModel:
    """A raw ``xgboost.Booster`` or an ``XGBClassifier`` / ``XGBRegressor`` as a
    RecordModel (see the module docstring)."""
    wrapper = obj if hasattr(obj, "get_booster") else None
    try:
        booster = obj.get_booster() if wrapper is not None else obj
        learner = json.loads(bytes(booster.save_raw(raw_format="json")))["learner"]
    except Exception as error:  # an unfitted wrapper, a broken booster
        raise ModelError(f"{origin} holds an XGBoost model that cannot be read "
                         f"({_reason(error)})") from None
    check_learner(learner, "the booster", origin)
    declared = learner.get("objective")
    objective = str(declared.get("name") if isinstance(declared, dict) else declared)
    output = XGB_OBJECTIVES.get(objective)
    if output is None:
        raise ModelError(f"{origin}: XGBoost objective {shorten(objective)} is not one "
                         f"tabinv can query ({', '.join(XGB_OBJECTIVES)})")
    names, types = booster.feature_names, booster.feature_types
    n_features = int(booster.num_features())
    cats = category_values(learner["gradient_booster"].get("model", {}).get("cats"))
    inputs, table = _xgboost_inputs(names, types, cats, n_features, card, origin,
                                    frame=wrapper is not None)
    name = type(obj).__name__
    kind = f"XGBoost {name} ({objective})"
    if output == "regression":
        predict = wrapper.predict if wrapper is not None else booster.inplace_predict
        return RecordModel(obj, origin=origin, kind=kind, inputs=inputs, classes=None,
                           proba=None, predict=predict, table=table)
    groups = int(learner["learner_model_param"].get("num_class", "0"))
    n_classes = max(groups, 2)
    known = getattr(wrapper, "classes_", None)
    labels = resolve_classes(n_classes, card, classes, origin,
                             None if known is None else list(np.asarray(known).tolist()))
    proba, predict = _xgboost_calls(wrapper, booster, output, labels, origin)
    return RecordModel(obj, origin=origin, kind=kind, inputs=inputs, classes=labels,
                       proba=proba, predict=predict, table=table)


def _xgboost_inputs(names: Sequence[str] | None, types: Sequence[str] | None,
                    cats: list[tuple[Any, ...] | None], n_features: int, card: Card | None,
                    origin: str, frame: bool) -> tuple[list[ModelInput], Table]:
    """Declared inputs and the table builder: categorical features (type ``c``) whose
    categories the model keeps become pandas Categorical columns; ``c`` features without
    them take the integer codes the model was trained on (numbers)."""
    if not names:
        return _unnamed_inputs(n_features, card, origin), _array_table
    types = list(types or ["float"] * len(names))
    inputs, categories = [], {}
    for index, (name, kind) in enumerate(zip(names, types, strict=True)):
        known = cats[index] if index < len(cats) else None
        if kind == "c" and known is not None:
            inputs.append(ModelInput(name, "category", known))
            categories[name] = known
        else:
            inputs.append(ModelInput(name, "number"))
    return inputs, _frame_table(categories) if categories or frame else _named_array(names)


def _named_array(names: Sequence[str]) -> Table:
    """All-numeric inputs of a raw booster in its order, as one float array (no
    per-column DataFrame overhead; a raw booster takes arrays in its feature order)."""
    def table(columns: dict[str, np.ndarray], n: int) -> np.ndarray:
        return _array_table({name: columns[name] for name in names}, n)
    return table


def _xgboost_calls(wrapper: Any, booster: Any, output: str, labels: tuple[Any, ...],
                   origin: str) -> tuple[Callable[[Any], Any] | None, Callable[[Any], Any]]:
    """(proba, predict) of an XGBoost classifier: probabilities when the objective gives
    them, else labels only (hinge, softmax)."""
    if wrapper is not None and output in ("probability", "probabilities", "margin"):
        return wrapper.predict_proba, wrapper.predict
    if output == "probability":
        return _probabilities(booster.inplace_predict), booster.inplace_predict
    if output == "margin":
        return _probabilities(lambda t: 1.0 / (1.0 + np.exp(-np.asarray(
            booster.inplace_predict(t), dtype=float)))), booster.inplace_predict
    if output == "probabilities":
        return booster.inplace_predict, booster.inplace_predict
    predict = wrapper.predict if wrapper is not None else booster.inplace_predict
    return None, _labels(predict, labels, origin)


# -- LightGBM -------------------------------------------------------------------------
def lightgbm_records(obj: Any, origin: str, *, card: Card | None = None,
                     classes: Any = None) -> RecordModel:
    """A raw ``lightgbm.Booster`` or an ``LGBMClassifier`` / ``LGBMRegressor`` as a
    RecordModel (see the module docstring)."""
    lightgbm = import_lightgbm(origin)
    wrapper = None if isinstance(obj, lightgbm.Booster) else obj
    try:
        booster = obj.booster_ if wrapper is not None else obj
        text = booster.model_to_string()
    except Exception as error:  # an unfitted wrapper
        raise ModelError(f"{origin} holds a LightGBM model that cannot be read "
                         f"({_reason(error)})") from None
    facts = check_lightgbm_text(text, origin)
    inputs, table = _lightgbm_inputs(facts, booster.pandas_categorical, card, origin,
                                     frame=wrapper is not None)
    kind = f"LightGBM {type(obj).__name__} ({facts.objective})"
    if facts.output == "regression":
        return RecordModel(obj, origin=origin, kind=kind, inputs=inputs, classes=None,
                           proba=None, predict=(wrapper or booster).predict, table=table)
    known = getattr(wrapper, "classes_", None)
    labels = resolve_classes(max(facts.num_class, 2), card, classes, origin,
                             None if known is None else list(np.asarray(known).tolist()))
    if wrapper is not None:
        proba = wrapper.predict_proba
    elif facts.output == "probability":
        proba = _probabilities(booster.predict)
    else:
        proba = booster.predict
    return RecordModel(obj, origin=origin, kind=kind, inputs=inputs, classes=labels,
                       proba=proba, predict=(wrapper or booster).predict, table=table)


def _lightgbm_inputs(facts: Any, pandas_categorical: Any, card: Card | None,
                     origin: str, frame: bool) -> tuple[list[ModelInput], Table]:
    """Declared inputs and the table builder. LightGBM gives the k-th category column of
    its input the k-th list of ``pandas_categorical``: the model's categorical features,
    in order, when it was trained on a DataFrame; integer-coded categorical features (no
    pandas categories) take numbers."""
    names = facts.feature_names
    if all(re.fullmatch(r"Column_\d+", n) for n in names):  # fitted on an array
        return _unnamed_inputs(len(names), card, origin), _array_table
    lists = list(pandas_categorical or [])
    categorical = sorted(facts.categorical)
    if lists and len(lists) != len(categorical):
        raise ModelError(f"{origin} has {len(categorical)} categorical features but "
                         f"pandas categories for {len(lists)}: tabinv cannot tell which "
                         "columns were pandas categories")
    categories = {names[i]: tuple(c) for i, c in zip(categorical, lists, strict=False)}
    inputs = [ModelInput(n, "category", categories[n]) if n in categories
              else ModelInput(n, "number") for n in names]
    return inputs, _frame_table(categories) if categories or frame else _named_array(names)
