"""Recognised pipelines: preprocessing tabinv can reproduce in front of a model it reads.

A scikit-learn pipeline whose preprocessing is one-hot or ordinal encoding, scaling and
passthrough (a ``ColumnTransformer`` of ``OneHotEncoder`` / ``OrdinalEncoder`` /
``StandardScaler`` / ``MinMaxScaler`` / ``MaxAbsScaler`` / ``RobustScaler``, each maybe
after a ``SimpleImputer``, ``passthrough`` and ``drop``; or these on the whole frame; or
nothing, an estimator fitted on a DataFrame of numbers) in front of a linear model or
trees (:func:`~tabinv.models.oracle.linear_parts`,
:func:`~tabinv.attacks.treegrid.exact_tree_types`) becomes a
:class:`~tabinv.models.readable.ReadablePipeline`: its encoder
(:class:`~tabinv.models.pipeencoder.PipelineEncoder`) gives the pipeline's own matrix
bit for bit and its estimator is the pipeline's final estimator, so the fast paths
(linear, tree walk) and the white-box attacks apply.

Each categorical feature's columns are read from the pipeline itself, by transforming
every value of the card's domain; each numeric feature's scaling is the scaler's own
float64 operations. The whole reading is then checked against the pipeline's own
``transform`` on synthetic records (every domain value, numbers inside and outside the
card's bounds): anything else, or any difference, leaves the pipeline a black box
(:class:`~tabinv.models.foreign.ForeignModel`), and :func:`recognition` says why.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..data.schema import Card
from ..exceptions import AttackError, TabinvError
from ..text import shorten
from .foreign import ForeignModel
from .modelinputs import match_inputs, parse_feature_map
from .pipecheck import NotRecognised, Synthetic, check_encoder, run_preprocessing
from .pipeencoder import ColumnCode, PipelineEncoder
from .readable import ReadablePipeline, ReadableTreePipeline
from .sklearnsrc import describe_object, model_kind, selected_columns, sklearn_records
from .target import TargetModel
from .validation import _reason

__all__ = ["readable_model", "recognition"]

#: the float64 steps of each recognised scaler: (attribute, step kind, switch attribute)
SCALERS: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    "StandardScaler": (("mean_", "sub", "with_mean"), ("scale_", "div", "with_std")),
    "RobustScaler": (("center_", "sub", "with_centering"), ("scale_", "div", "with_scaling")),
    "MaxAbsScaler": (("scale_", "div", None),),
    "MinMaxScaler": (("scale_", "mul", None), ("min_", "add", None)),
}
ENCODERS = ("OneHotEncoder", "OrdinalEncoder")


@dataclass(frozen=True)
class _Block:
    """Input columns (model names) one chain of steps turns into output columns."""

    columns: tuple[str, ...]
    steps: tuple[Any, ...]
    out: slice


@dataclass(frozen=True)
class _Column:
    """One model input: its output columns and its numeric steps (None: encoded)."""

    start: int
    stop: int
    steps: tuple[tuple[str, Any], ...] | None


def readable_model(obj: Any, card: Card, feature_map: Mapping[str, str] | Sequence[str] | None,
                   origin: str) -> TargetModel | None:
    """The readable (unfitted) model equivalent to ``obj``, or None when its
    preprocessing or final estimator is not one tabinv reproduces."""
    found = recognition(obj, card, feature_map, origin)
    return found if isinstance(found, TargetModel) else None


def recognition(obj: Any, card: Card, feature_map: Mapping[str, str] | Sequence[str] | None,
                origin: str) -> TargetModel | str:
    """The readable (unfitted) model equivalent to ``obj``, or why there is none.

    Raises
    ------
    ModelError
        The model's inputs or classes do not fit the card (as a black box would).
    """
    try:
        return _recognise(obj, card, parse_feature_map(feature_map), origin)
    except NotRecognised as why:
        return str(why)
    except TabinvError:
        raise
    except Exception as error:  # parts of a loaded file tabinv cannot make sense of
        return f"tabinv cannot read its parts ({_reason(error)})"


def _recognise(obj: Any, card: Card, feature_map: dict[str, str], origin: str
               ) -> TargetModel:
    final, preprocessing, run = _split(obj)
    trees = _final_kind(final)
    estimator = _without_names(final)
    declared = getattr(obj, "feature_names_in_", None)
    names = [] if declared is None else [str(n) for n in declared]
    if not names:
        raise NotRecognised("it was fitted on an array without column names")
    record_model = sklearn_records(obj, origin)
    pairs = match_inputs(record_model.inputs, origin, card, feature_map)
    ForeignModel._check_task(card, record_model)
    columns = _columns(preprocessing(names), names)
    to_card = {model_input.name: column for column, model_input in pairs}
    kept = [(to_card[n], n) for n in names if columns[n].stop > columns[n].start]
    for feature, name in kept:
        if card.column(feature).domain is None and columns[name].steps is None:
            raise NotRecognised(f"card column {shorten(feature)} is numeric but the "
                                "pipeline encodes it as categories (give it a domain in "
                                "the card)")
    inputs = ForeignModel._domain_arrays(card, pairs)
    synthetic = Synthetic(card, names, to_card, inputs)
    encoder = _encoder(card, kept, columns, synthetic, run)
    sparse = check_encoder(encoder, synthetic, run)
    if sparse and (type(final).__module__ or "").startswith("xgboost"):
        raise NotRecognised("its XGBoost model takes the zeros of its sparse input as "
                            "missing values")
    features = [feature for feature, _ in kept]
    model_card = {**card.to_dict(), "features": features, "target_transform": "identity"}
    kind = ReadableTreePipeline if trees else ReadablePipeline
    return kind(family=model_kind(obj), estimator=estimator,
                card=model_card, encoder=encoder, inputs=tuple(n for _, n in kept),
                model_inputs=tuple(names), classes=record_model.classes, origin=origin,
                unused=tuple(f for f in card.features if f not in set(to_card.values())),
                feature_map=feature_map)


# -- the pipeline's parts -------------------------------------------------------------
def _split(obj: Any) -> tuple[Any, Callable[[list[str]], list[_Block]],
                              Callable[[pd.DataFrame], Any]]:
    """(final estimator, its preprocessing's blocks given the input names, the call
    running the preprocessing on a frame in the model's own form)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if type(obj) is not Pipeline:
        if not (type(obj).__module__ or "").startswith(("sklearn.", "xgboost.")):
            raise NotRecognised(f"tabinv reads scikit-learn pipelines, not {describe_object(obj)}")
        return obj, lambda names: [_Block(tuple(names), (), slice(0, len(names)))], \
            lambda frame: frame.to_numpy(dtype=np.float64)
    steps = [step for _, step in obj.steps if step not in (None, "passthrough")]
    if not steps:
        raise NotRecognised("the pipeline has no estimator")
    final, before = steps[-1], steps[:-1]
    run = obj[:-1].transform if len(obj.steps) > 1 else \
        (lambda frame: frame.to_numpy(dtype=np.float64))
    if len(before) == 1 and type(before[0]) is ColumnTransformer:
        transformer = before[0]
        return final, lambda names: _column_blocks(transformer, names), run
    chain = _chain(before)  # steps on the whole frame
    return final, lambda names: [_Block(tuple(names), chain,
                                        slice(0, sum(_widths(chain, len(names)))))], run


def _column_blocks(transformer: Any, names: list[str]) -> list[_Block]:
    if transformer.transformer_weights:
        raise NotRecognised("its ColumnTransformer weighs its transformers")
    # as given: the fitted transformers_ hold 'passthrough' as a FunctionTransformer
    given = {name: step for name, step, _ in transformer.transformers}
    given["remainder"] = transformer.remainder
    blocks = []
    for name, step, selection in transformer.transformers_:
        columns = tuple(selected_columns(selection, names))
        out = transformer.output_indices_.get(name, slice(0, 0))
        as_given = given.get(name)
        if _is(step, "drop") or _is(as_given, "drop"):
            out = slice(0, 0)
        steps = () if _is(as_given, "passthrough") or _is(step, "passthrough") or \
            _is(step, "drop") else _chain([step])
        blocks.append(_Block(columns, steps, out))
    return blocks


def _is(step: Any, word: str) -> bool:
    return isinstance(step, str) and step == word


def _chain(steps: Sequence[Any]) -> tuple[Any, ...]:
    """The recognised steps of a transformer (a Pipeline's steps flattened)."""
    from sklearn.pipeline import Pipeline

    chain: list[Any] = []
    for step in steps:
        if type(step) is Pipeline:
            chain += _chain([s for _, s in step.steps if s not in (None, "passthrough")])
        elif type(step).__module__.startswith("sklearn.") and (
                type(step).__name__ in (*SCALERS, *ENCODERS, "SimpleImputer")):
            _check_step(step)
            chain.append(step)
        else:
            raise NotRecognised(f"its preprocessing step {type(step).__name__} is not one "
                                "tabinv reproduces (one-hot / ordinal encoding, scaling, "
                                "imputing, passthrough)")
    encoders = [i for i, s in enumerate(chain) if type(s).__name__ == "OneHotEncoder"]
    if encoders and encoders[0] != len(chain) - 1:
        raise NotRecognised("its preprocessing transforms one-hot columns further")
    return tuple(chain)


def _check_step(step: Any) -> None:
    kind = type(step).__name__
    if kind == "SimpleImputer":
        missing = step.missing_values
        if step.add_indicator or not (missing is None or (
                isinstance(missing, float) and np.isnan(missing))) or \
                pd.isna(np.asarray(step.statistics_, dtype=object)).any():
            raise NotRecognised("its SimpleImputer changes complete records (indicators, "
                                "a missing-value marker other than NaN, or empty columns)")
    if kind == "OneHotEncoder" and (step.drop is not None or step.min_frequency is not None
                                    or step.max_categories is not None):
        raise NotRecognised("its OneHotEncoder drops or groups categories")


def _widths(steps: Sequence[Any], n_columns: int) -> list[int]:
    """Output columns of each input column of a chain."""
    for step in steps:
        if type(step).__name__ == "OneHotEncoder":
            return [len(c) for c in step.categories_]
    return [1] * n_columns


def _numeric_steps(steps: Sequence[Any], j: int) -> tuple[tuple[str, Any], ...] | None:
    """Column j's float64 steps through a chain, or None when the chain encodes it."""
    out: list[tuple[str, Any]] = []
    for step in steps:
        kind = type(step).__name__
        if kind in ENCODERS:
            return None
        for attribute, op, switch in SCALERS.get(kind, ()):
            if switch is None or getattr(step, switch):
                out.append((op, np.float64(getattr(step, attribute)[j])))
        if kind == "MinMaxScaler" and step.clip:
            low, high = step.feature_range
            out.append(("clip", (np.float64(low), np.float64(high))))
    return tuple(out)


def _columns(blocks: list[_Block], names: list[str]) -> dict[str, _Column]:
    """Every model input's output columns (width 0: dropped) and numeric steps."""
    found: dict[str, _Column] = {n: _Column(0, 0, ()) for n in names}
    used: set[str] = set()
    for block in blocks:
        width = block.out.stop - block.out.start
        if width == 0:
            continue
        widths = _widths(block.steps, len(block.columns))
        if sum(widths) != width:
            raise NotRecognised("its preprocessing's output does not have one block of "
                                "columns per input column")
        start = block.out.start
        for j, (column, w) in enumerate(zip(block.columns, widths, strict=True)):
            if column in used:
                raise NotRecognised(f"its preprocessing uses input {shorten(column)} twice")
            used.add(column)
            found[column] = _Column(start, start + w, _numeric_steps(block.steps, j))
            start += w
    return found


def _final_kind(final: Any) -> bool:
    """Whether the final estimator is trees (else a linear model) tabinv reads."""
    from ..attacks.treegrid import exact_tree_types
    from ..attacks.treereader import extract_ensemble
    from .oracle import linear_parts

    if linear_parts(final) is not None:
        return False
    if type(final) in exact_tree_types():
        try:
            extract_ensemble(final)
        except AttackError as error:
            raise NotRecognised(f"tabinv cannot read its {type(final).__name__} "
                                f"({error})") from None
        return True
    raise NotRecognised(f"its final estimator {type(final).__name__} is not one whose parts "
                        "tabinv reads (linear or logistic regression, decision trees, random "
                        "forests, extra trees, XGBoost)")


def _without_names(final: Any) -> Any:
    """The final estimator, taking arrays: fitted on a DataFrame, a shallow copy without
    the column names it would check (its parts are the same objects)."""
    if not hasattr(final, "feature_names_in_"):
        return final
    if not (type(final).__module__ or "").startswith("sklearn."):
        raise NotRecognised(f"its {type(final).__name__} was fitted on a DataFrame and "
                            "checks the names of its input")
    stripped = copy.copy(final)
    del stripped.feature_names_in_
    return stripped


# -- reading and checking the encoding ------------------------------------------------
def _encoder(card: Card, kept: list[tuple[str, str]], columns: Mapping[str, _Column],
             synthetic: Synthetic, run: Callable[[pd.DataFrame], Any]) -> PipelineEncoder:
    """The encoder: each categorical feature's columns read from the pipeline's output
    on every domain value, each numeric feature's steps."""
    own, _ = synthetic.table_frames()
    out, _ = run_preprocessing(run, own)
    codes = {}
    for feature, name in kept:
        column = columns[name]
        domain = card.column(feature).domain
        if domain is None:
            codes[feature] = ColumnCode(column.start, column.stop, steps=column.steps or ())
        else:
            table = np.ascontiguousarray(out[:len(domain), column.start:column.stop])
            codes[feature] = ColumnCode(column.start, column.stop, table=table)
    features = [feature for feature, _ in kept]
    return PipelineEncoder(
        features, {f: list(d) for f in features if (d := card.column(f).domain) is not None},
        codes, out.shape[1], [f for f in features if card.column(f).encoding == "ordinal"])


