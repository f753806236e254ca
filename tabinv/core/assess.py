"""Assessments: train (or take) a target, attack members and non-members or given
records, and compare with the baselines. Every front end calls these."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from ..attacks.candidates import Posterior
from ..data.dataset import Dataset, require_columns
from ..data.splits import DEFAULT_FRACTIONS, Splits, split_dataset
from ..evaluation.results import Assessment
from ..exceptions import ModelError
from ..models.families import make_model
from ..models.target import TargetModel
from .inputs import load_dataset
from .run import run_attacks
from .threat import ThreatModel

__all__ = ["assess", "attack_records", "train_target"]


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


def assess(threat: ThreatModel, dataset: str | Dataset, model: str | TargetModel = "linear",
           *, label: str | None = None, dataset_params: Mapping[str, Any] | None = None,
           fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
           model_params: Mapping[str, Any] | None = None,
           splits: Splits | None = None) -> Assessment:
    """Split, train the target (or take a fitted one), attack members and non-members,
    compare with the baselines; see :func:`tabinv.api.assess`."""
    data = load_dataset(dataset, params=dataset_params, seed=threat.random_state
                        ).with_label(label)
    splits = splits or split_dataset(data.frame, fractions, threat.random_state)
    if isinstance(model, str):
        model, _ = train_target(data, model, random_state=threat.random_state,
                                model_params=model_params, splits=splits)
    elif model_params:
        raise ModelError("model parameters apply to a family name, not a fitted model")
    elif model.label != data.card.label:
        raise ModelError(f"the model predicts {model.label!r}, but the data's label is "
                         f"{data.card.label!r}")
    assessment, _ = run_attacks(
        model, {"members": splits.members, "non-members": splits.non_members}, threat,
        reference=splits.reference, members=splits.members)
    return dataclasses.replace(assessment, dataset=data.facts(splits))


def attack_records(threat: ThreatModel, model: TargetModel, records: pd.DataFrame, *,
                   reference: pd.DataFrame | None = None, population: str = "given",
                   origin: str = "data", cleaning: Sequence[Mapping[str, Any]] = (),
                   label: str | None = None) -> tuple[Assessment, Posterior]:
    """Attack ``records`` with a fitted model; see :func:`tabinv.api.attack_records`."""
    if label is not None and label != model.label:
        raise ModelError(f"label {label!r} is not the model's label {model.label!r}")
    model.check_features([*records.columns, *threat.sensitive], origin)
    require_columns(records, threat.known or (), origin)
    assessment, posteriors = run_attacks(model, {population: records}, threat,
                                         reference=reference)
    facts = {"name": origin, "rows": len(records),
             **({"cleaning": list(cleaning)} if cleaning else {})}
    return dataclasses.replace(assessment, dataset=facts), posteriors[population]
