"""Assessments: train (or take, or open) a target, attack members and non-members or
given records, and compare with the baselines. Every front end calls these."""

from __future__ import annotations

import dataclasses
import time
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
from ..membership.assess import assess_membership
from ..membership.verdict import MembershipOptions, membership_entry
from ..models.target import TargetModel
from .inputs import Membership, is_data_file, load_dataset
from .queries import counts_queries
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
           access: ModelAccess | None = None,
           membership_attacks: MembershipOptions | None = None) -> Assessment:
    """Split (or take the owner's splits), train the target (or take a fitted one, or
    open one tabinv did not train), attack members and non-members, compare with the
    baselines, and run the membership attacks when asked; see
    :func:`tabinv.api.assess`."""
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
    opened_here = False  # an endpoint opened here from its spec is closed here
    if is_family(model):
        model, _ = train_target(data_set, model, random_state=threat.random_state,
                                model_params=model_params, splits=splits)
    elif model_params:
        raise ModelError("model parameters apply to a family name, not a fitted model")
    else:
        opened = open_target(model, data_set, splits.members, access=access)
        opened_here, model = opened is not model, opened
    assessment, _ = run_attacks(
        model, {"members": splits.members, "non-members": splits.non_members}, threat,
        reference=splits.reference, members=splits.members)
    if membership_attacks is not None:
        assessment = with_membership_attacks(assessment, model, splits, threat,
                                             membership_attacks)
    facts = data_set.facts(splits)
    if source is not None:
        facts["reference_source"] = source
    if counts_queries(model):  # an endpoint: its utility is queried too, and counted
        assessment, utility = endpoint_utility(model, assessment, splits.non_members,
                                               threat)
        if opened_here and callable(getattr(model, "close", None)):
            model.close()  # opened here from a spec: nobody else holds it
    else:
        utility = utility_entries(model, splits.non_members, n_boot=threat.n_boot,
                                  random_state=threat.random_state)
    return dataclasses.replace(assessment, dataset=facts, utility=tuple(utility))


def with_membership_attacks(assessment: Assessment, model: TargetModel, splits: Splits,
                            threat: ThreatModel, options: MembershipOptions) -> Assessment:
    """The assessment with the membership attacks' results on the same members,
    non-members and reference sample (seeded by the threat model's seed), their
    settings (with the attacks that ran) and their time. They query the model through
    the oracle of the attribute attacks (:meth:`ThreatModel.oracle_for`): the same
    access, rounding and label-only answers; ``all`` is every attack that applies."""
    started = time.perf_counter()
    oracle = threat.oracle_for(model, threat.specs(has_reference=splits.reference is not None))
    results = assess_membership(
        oracle, splits.members, splits.non_members, splits.reference,
        attacks=options.attacks, n_shadows=options.shadows, n_jobs=options.jobs,
        client=options.cluster, substitute=options.substitute, fprs=options.fprs,
        n_boot=threat.n_boot, random_state=threat.random_state)
    timings = {**assessment.settings.get("timings_seconds", {}),
               "membership attacks": round(time.perf_counter() - started, 4)}
    ran = {**options.describe(), "attacks": [r.attack for r in results]}
    settings = {**assessment.settings, "membership_attacks": ran,
                "timings_seconds": timings}
    return dataclasses.replace(
        assessment, settings=settings,
        membership_inference=tuple(membership_entry(r) for r in results))


def endpoint_utility(model: TargetModel, assessment: Assessment, non_members: Any,
                     threat: ThreatModel) -> tuple[Assessment, list[Any]]:
    """The utility of a model that counts its queries, with the queries it took in the
    assessment's ``threat.queries`` (``utility``, and the new ``total``); a budget spent
    or an endpoint failing leaves the utility out, listed as not done."""
    from ..models.endpoint import EndpointError, QueryStats

    queries = dict(assessment.threat.get("queries") or {})
    before = QueryStats(**queries.get("total", {}))
    try:
        utility = utility_entries(model, non_members, n_boot=threat.n_boot,
                                  random_state=threat.random_state)
    except EndpointError as error:
        utility = []
        queries["not_done"] = [*queries.get("not_done", []),
                               f"utility on non-members: not done ({error})"]
    now = model.query_stats()  # type: ignore[attr-defined]
    queries.update(utility=(now - before).to_dict(), total=now.to_dict())
    threat_facts = {**assessment.threat, "queries": queries}
    return dataclasses.replace(assessment, threat=threat_facts), utility


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
