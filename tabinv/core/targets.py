"""The model an assessment attacks: a family trained on the members, a model tabinv
trained, or a model tabinv did not train (a file, an MLflow model directory, a
``models:/`` URI or a loaded object), opened through
:func:`tabinv.models.sources.open_model` with the opt-ins of :class:`ModelAccess`.

The Python API, the CLI's ``assess`` and ``attack`` all choose their target here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..data.dataset import Dataset
from ..data.schema import Card, read_card
from ..data.splits import DEFAULT_FRACTIONS, Splits, split_dataset
from ..data.tables import DataOptions, load_records, load_table
from ..exceptions import ModelError
from ..models.families import family_names, make_model
from ..models.sources import is_registry_uri, open_model
from ..models.target import TargetModel
from ..text import shorten
from .inputs import model_records

__all__ = ["ModelAccess", "attack_inputs", "is_family", "open_target", "train_target"]


@dataclass(frozen=True)
class ModelAccess:
    """How to open a model tabinv did not train (CLI ``--feature-map``, ``--trust``,
    ``--allow-pickle``, ``--allow-code``; see :func:`~tabinv.models.sources.open_model`).

    ``feature_map``: ``{card column: model input}`` or ``"card=model"`` strings.
    ``trust``: skops types outside the reviewed set; ``allow_pickle``: pickle / joblib
    files and pickled MLflow flavours; ``allow_code``: the code an MLflow model directory
    brings (its ``python_function`` loader). Each runs code from the file: only for
    files from a trusted source.
    """

    feature_map: Mapping[str, str] | Sequence[str] | None = None
    trust: bool = False
    allow_pickle: bool = False
    allow_code: bool = False

    def open(self, source: Any, card: Card | None,
             records: pd.DataFrame | None) -> TargetModel:
        """``source`` opened with these opt-ins, fitted on ``records`` for its statistics."""
        return open_model(source, card=card, records=records, feature_map=self.feature_map,
                          trust=self.trust, allow_pickle=self.allow_pickle,
                          allow_code=self.allow_code)


def is_family(model: Any) -> bool:
    """Whether ``model`` is a family name (trained by tabinv) rather than a model to open.

    A string that is neither a family nor a path that exists nor a ``models:/`` URI is a
    ModelError naming the families (a misspelled family is not looked for as a file).
    """
    if not isinstance(model, str):
        return False
    if model in family_names():
        return True
    if is_registry_uri(model) or Path(model).exists():
        return False
    if Path(model).suffix or os.sep in model:
        raise ModelError(f"model file {model} does not exist")
    raise ModelError(f"model {shorten(model)} is neither a model family "
                     f"({', '.join(family_names())}) nor a model file, MLflow model "
                     "directory or models:/ URI that exists")


def train_target(data: Dataset, family: str, *, random_state: int = 0,
                 fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
                 model_params: Mapping[str, Any] | None = None,
                 splits: Splits | None = None) -> tuple[TargetModel, Splits]:
    """Split ``data`` (members, non-members, reference) and train a ``family`` model on
    the members. Returns the fitted model and the splits."""
    splits = splits or split_dataset(data.frame, fractions, random_state)
    model = make_model(family, data.card, random_state=random_state,
                       **dict(model_params or {})).fit(splits.members)
    return model, splits


def open_target(model: Any, data: Dataset, members: pd.DataFrame, *,
                access: ModelAccess | None = None) -> TargetModel:
    """A fitted model, or one opened from ``model`` (a path, a URI, an object) with the
    card of ``data`` and its statistics computed on ``members``; its label must be the
    data's."""
    access = access or ModelAccess()
    if isinstance(model, TargetModel) and hasattr(model, "estimator_"):
        target = model
    else:
        target = access.open(model, data.card, members)
    if target.label != data.card.label:
        raise ModelError(f"{_origin(model)} predicts {target.label!r}, but the data's label "
                         f"is {data.card.label!r}")
    return target


def attack_inputs(model: str | os.PathLike[str] | Any, data: str | os.PathLike[str], *,
                  card: Card | str | os.PathLike[str] | None = None, label: str | None = None,
                  reference: str | os.PathLike[str] | None = None,
                  members: str | os.PathLike[str] | None = None,
                  options: DataOptions | None = None, access: ModelAccess | None = None
                  ) -> tuple[TargetModel, Dataset, Dataset | None]:
    """The model, the attacked records and the reference sample of ``tabinv attack``.

    A model tabinv trained carries its card and needs nothing more. Any other model needs
    the ``card`` of its data (with ``label`` as its label); the statistics its owner
    would publish (confusion counts or residual spread, marginals) are computed on
    ``members`` (its training records, with the label) or, without them, on the attacked
    records. The records are then read against the card of the opened model.
    """
    access = access or ModelAccess()
    if card is None:
        if members is not None:
            raise ModelError("--members applies to a model tabinv did not train, with --card")
        target = access.open(model, None, None)
    else:
        chosen = read_card(card) if isinstance(card, (str, os.PathLike)) else card
        chosen = chosen.with_label(label) if label is not None else chosen
        statistics = (load_table(members, chosen, options) if members is not None
                      else load_records(data, chosen, options))
        target = access.open(model, chosen, statistics.frame)
    if label is not None and label != target.label:
        raise ModelError(f"label {label!r} is not the label of {_origin(model)} "
                         f"({target.label!r})")
    origin = _origin(model)
    attacked = model_records(target, data, options, origin=origin)
    reference_set = None if reference is None else model_records(target, reference, options,
                                                                 origin=origin)
    return target, attacked, reference_set


def _origin(model: Any) -> str:
    if isinstance(model, (str, os.PathLike)):
        return str(model)
    if isinstance(model, TargetModel):
        return "the model"
    shown = getattr(model, "shown_url", None)  # an endpoint
    return f"the endpoint {shown}" if isinstance(shown, str) else f"the {type(model).__name__}"
