"""Assessments: train (or take, or open) a target, attack members and non-members or
given records, and compare with the baselines. Every front end calls these."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from os import PathLike
from typing import Any

import pandas as pd

from ..attacks.candidates import Posterior
from ..data.dataset import Dataset, require_columns
from ..data.schema import Card, read_card
from ..data.splits import DEFAULT_FRACTIONS, Splits, split_dataset
from ..data.tables import DataOptions
from ..evaluation.results import Assessment
from ..evaluation.utility import utility_entries
from ..exceptions import AttackError, DataError, ModelError
from ..models.target import TargetModel
from .inputs import Membership, is_data_file, load_dataset
from .run import run_attacks
from .targets import ModelAccess, is_family, open_target, train_target
from .threat import ThreatModel

__all__ = ["assess", "attack_records", "train_target"]


def assess(threat: ThreatModel, dataset: str | Dataset | PathLike[str] | None = None,
           model: Any = "linear", *, card: Card | str | PathLike[str] | None = None,
           data: str | PathLike[str] | None = None, label: str | None = None,
           dataset_params: Mapping[str, Any] | None = None,
           options: DataOptions | None = None,
           fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
           model_params: Mapping[str, Any] | None = None,
           splits: Splits | None = None, membership: Membership | None = None,
           access: ModelAccess | None = None) -> Assessment:
    """Split (or take the owner's splits), train the target (or take a fitted one, or
    open one tabinv did not train), attack members and non-members, compare with the
    baselines; see :func:`tabinv.api.assess`."""
    membership = membership or Membership()
    if membership.given:
        data_set, splits, source = _given(threat, dataset, data, card, label, options,
                                          fractions, splits, membership)
    else:
        data_set = load_dataset(dataset, data=data, card=card, params=dataset_params,
                                options=options, seed=threat.random_state).with_label(label)
        source = None
        if splits is None and not is_family(model) and not isinstance(model, TargetModel):
            raise DataError(f"{_named(model)} is a given model: say which records trained "
                            "it (--members FILE --non-members FILE, or --data FILE "
                            "--member-column COL; in Python members= and non_members=, or "
                            "member_column=)")
        splits = splits or split_dataset(data_set.frame, fractions, threat.random_state)
    if is_family(model):
        model, _ = train_target(data_set, model, random_state=threat.random_state,
                                model_params=model_params, splits=splits)
    elif model_params:
        raise ModelError("model parameters apply to a family name, not a fitted model")
    else:
        model = open_target(model, data_set, splits.members, access=access)
    assessment, _ = run_attacks(
        model, {"members": splits.members, "non-members": splits.non_members}, threat,
        reference=splits.reference, members=splits.members)
    facts = data_set.facts(splits)
    if source is not None:
        facts["reference_source"] = source
    utility = utility_entries(model, splits.non_members, n_boot=threat.n_boot,
                              random_state=threat.random_state)
    return dataclasses.replace(assessment, dataset=facts, utility=tuple(utility))


def _given(threat: ThreatModel, dataset: Any, data: Any, card: Any, label: str | None,
           options: DataOptions | None, fractions: tuple[float, float, float],
           splits: Splits | None, membership: Membership
           ) -> tuple[Dataset, Splits, str]:
    """The data set, splits and reference source of the owner's membership tables."""
    if splits is not None or tuple(fractions) != tuple(DEFAULT_FRACTIONS):
        raise DataError("the members and non-members are given: splits and fractions "
                        "apply only when tabinv splits the data")
    if is_data_file(dataset, card) and data is None:
        dataset, data = None, dataset
    if dataset is not None:
        raise DataError("with the members and non-members given, the data are those "
                        "tables (or the data file with member_column): give their card, "
                        "not a data set")
    if card is None:
        raise DataError("the members and non-members need the card (TOML) describing "
                        "their columns")
    chosen = read_card(card) if isinstance(card, (str, PathLike)) else card
    chosen = chosen.with_label(label) if label is not None else chosen
    given = membership.splits(chosen, data, options, threat.random_state)
    return given.dataset, given.splits, given.reference_source


def _named(model: Any) -> str:
    return str(model) if isinstance(model, (str, PathLike)) else \
        f"the {type(model).__name__}"


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
    if population not in posteriors:  # a query budget spent before any record was done
        raise AttackError("no record was inferred: " + "; ".join(
            assessment.threat.get("queries", {}).get("not_done", ["no attack ran"])))
    return dataclasses.replace(assessment, dataset=facts), posteriors[population]
