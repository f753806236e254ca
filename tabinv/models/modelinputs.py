"""What a model tabinv did not train takes as input, matched against a card.

A model declares its inputs (:class:`ModelInput`: a name, a kind, the categories it
knows) in its own names; the feature map (CLI ``--feature-map CARD_COLUMN=MODEL_INPUT``)
renames. :func:`match_inputs` pairs them with the card's columns and lists, in one
error, every input the card does not describe, every feature-map entry that matches
nothing and every column of the wrong kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..data.schema import Card
from ..exceptions import ModelError
from ..text import listed, shorten

__all__ = ["INPUT_KINDS", "ModelInput", "match_inputs", "parse_feature_map"]

#: what :attr:`ModelInput.kind` may say about a column
INPUT_KINDS = ("number", "category", "text", "any")


@dataclass(frozen=True)
class ModelInput:
    """One input column as the model declares it.

    ``kind``: ``number`` (takes numbers only), ``text`` (takes strings only),
    ``category`` (takes values from ``categories``, of any type), ``any`` (the model does
    not say). ``categories``: the values the model was fitted with, when it says.
    """

    name: str
    kind: str = "any"
    categories: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if self.kind not in INPUT_KINDS:
            raise ModelError(f"input {self.name!r}: kind {self.kind!r} is not one of "
                             f"{INPUT_KINDS}")


def parse_feature_map(pairs: Sequence[str] | Mapping[str, str] | None) -> dict[str, str]:
    """``card_name=model_name`` pairs (CLI ``--feature-map``) or a mapping, checked: no
    empty names, no card column or model input named twice."""
    if pairs is None:
        return {}
    if isinstance(pairs, Mapping):
        items = [(str(k), v) for k, v in pairs.items()]
    else:
        items = []
        for pair in pairs:
            card_name, sep, model_name = str(pair).partition("=")
            if not sep:
                raise ModelError(f"feature map {shorten(pair)}: expected "
                                 "CARD_COLUMN=MODEL_INPUT")
            items.append((card_name.strip(), model_name.strip()))
    mapping: dict[str, str] = {}
    for card_name, model_name in items:
        if not isinstance(model_name, str) or not card_name or not model_name:
            raise ModelError(f"feature map {shorten(card_name)} -> {shorten(model_name)}: "
                             "both names must be non-empty text")
        if card_name in mapping:
            raise ModelError(f"feature map names card column {shorten(card_name)} twice")
        mapping[card_name] = model_name
    doubled = sorted({m for m in mapping.values() if list(mapping.values()).count(m) > 1})
    if doubled:
        raise ModelError(f"feature map sends two card columns to model input(s) {doubled}")
    return mapping


def _kind_of(card: Card, column: str) -> str:
    """``number`` or the type of a categorical column's domain values (text/number)."""
    spec = card.column(column)
    if spec.domain is None:
        return "number"
    if all(isinstance(v, str) for v in spec.domain):
        return "text"
    if all(isinstance(v, (int, float, np.integer, np.floating))
           and not isinstance(v, bool) for v in spec.domain):
        return "number"
    return "mixed"


def match_inputs(inputs: Sequence[ModelInput] | None, origin: str, card: Card,
                 feature_map: Mapping[str, str]) -> list[tuple[str, ModelInput]]:
    """The model's declared ``inputs`` as (card column, input) pairs in the model's order,
    checked against the card; one ModelError (naming ``origin``) lists every input
    missing from the card, every feature-map entry that matches nothing, and every column
    of the wrong kind. ``inputs`` None: the model does not say."""
    unknown_keys = [k for k in feature_map if k not in card.column_names]
    if inputs is None:  # the model does not say: the card's features, by the map's names
        inputs = tuple(ModelInput(feature_map.get(f, f)) for f in card.features)
    to_card = {model_name: card_name for card_name, model_name in feature_map.items()}
    declared = {i.name for i in inputs}
    unused_map = [f"{k}={v}" for k, v in feature_map.items()
                  if v not in declared and k not in unknown_keys]
    problems: list[str] = []
    pairs: list[tuple[str, ModelInput]] = []
    missing, wrong = [], []
    for model_input in inputs:
        column = to_card.get(model_input.name, model_input.name)
        if column not in card.column_names:
            missing.append(model_input.name)
            continue
        if column == card.label:
            problems.append(f"it takes the label {shorten(column)} as an input")
            continue
        wrong_kind = _wrong_kind(card, column, model_input)
        if wrong_kind:
            wrong.append(wrong_kind)
        pairs.append((column, model_input))
    if missing:
        problems.append(f"it takes {len(missing)} input(s) the card does not describe: "
                        f"{', '.join(shorten(m) for m in missing[:10])}"
                        f"{' ...' if len(missing) > 10 else ''} (rename with --feature-map "
                        "CARD_COLUMN=MODEL_INPUT)")
    if unknown_keys:
        problems.append(f"the feature map names column(s) not in the card: "
                        f"{', '.join(shorten(k) for k in unknown_keys)}")
    if unused_map:
        problems.append(f"the feature map sends column(s) to inputs the model does not "
                        f"take: {', '.join(shorten(u) for u in unused_map)}")
    problems += wrong
    if problems:
        raise ModelError(f"{origin} does not fit the card of {shorten(card.name)}: "
                         + "; ".join(problems))
    return pairs


def _wrong_kind(card: Card, column: str, model_input: ModelInput) -> str:
    have = _kind_of(card, column)
    if model_input.kind in ("number", "text") and have not in (model_input.kind,):
        what = "numbers" if model_input.kind == "number" else "text"
        held = {"number": "numbers", "text": "text", "mixed": "text and numbers"}[have]
        return (f"input {shorten(model_input.name)} takes {what} but card column "
                f"{shorten(column)} holds {held}")
    categories = model_input.categories
    domain = card.column(column).domain
    if model_input.kind == "category" and categories is not None and domain is not None:
        known = pd.Index(list(categories), dtype=object)
        absent = [v for v in domain if known.get_indexer(pd.Index([v], dtype=object))[0] < 0]
        if len(absent) == len(domain):
            return (f"input {shorten(model_input.name)} knows categories "
                    f"{listed(categories)}, none of card column {shorten(column)}'s values "
                    f"{listed(domain)}")
    return ""
