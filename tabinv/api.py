"""One code path for every front end: CLI, notebooks, batch jobs and benchmarks.

``assess`` runs the whole pipeline on a data set (splits, target model, attacks,
baselines, metrics); ``attack_records`` attacks given records with a given model;
``demo_warfarin`` is the 2014 warfarin case study.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from . import __version__
from .attacks.base import BaseAttack, get_attack
from .attacks.baselines import BaselineSuite
from .attacks.candidates import Posterior
from .attacks.priors import Prior
from .data.dataset import Dataset, require_columns
from .data.registry import load_builtin
from .data.splits import DEFAULT_FRACTIONS, Splits, split_dataset
from .evaluation.results import (
    Assessment,
    MethodResult,
    leakage_over,
    membership_gap,
    score_posterior,
)
from .exceptions import AttackError
from .models.families import make_model
from .models.oracle import Oracle
from .models.target import TargetModel
from .utils import RandomState

__all__ = ["Assessment", "AttackSpec", "assess", "attack_records", "demo_warfarin", "LABEL_SOURCES"]

LABEL_SOURCES = ("true", "predicted")


@dataclass(frozen=True)
class AttackSpec:
    """An attack by name with its prior settings (one row of the results table)."""

    name: str = "map"
    prior: str | Prior = "marginal"
    prior_given: tuple[str, ...] = ()

    @property
    def variant(self) -> str:
        if isinstance(self.prior, Prior):
            return f"{self.prior.name} prior"
        if self.prior == "conditional":
            return f"prior given {', '.join(self.prior_given)}"
        return f"{self.prior} prior"

    def build(self, random_state: RandomState, memory: int | None = None) -> BaseAttack:
        params: dict[str, Any] = {"prior": self.prior, "prior_given": self.prior_given,
                                  "random_state": random_state}
        if memory is not None:
            params["memory"] = memory
        return get_attack(self.name, **params)


def _labels(model: TargetModel, records: pd.DataFrame, label_source: str) -> Any:
    if label_source == "true":
        return records[model.label]
    if label_source == "predicted":
        return model.predict(records)
    raise AttackError(f"label source {label_source!r} is not one of {LABEL_SOURCES}")


def _default_known(model: TargetModel, sensitive: Sequence[str]) -> list[str]:
    return [f for f in model.features if f not in set(sensitive)]


def run_attacks(model: TargetModel, populations: Mapping[str, pd.DataFrame], *,
                sensitive: Sequence[str], known: Sequence[str] | None = None,
                reference: pd.DataFrame | None = None, members: pd.DataFrame | None = None,
                attacks: Sequence[AttackSpec] = (AttackSpec(),), label_source: str = "true",
                label_only: bool = False, rounding: int | None = None,
                n_boot: int = 200, random_state: int = 0,
                memory: int | None = None) -> tuple[Assessment, dict[str, list[Posterior]]]:
    """Attack each population with every attack and baseline and score them.

    Returns the assessment (without dataset facts) and the posteriors by population.
    """
    known = list(known) if known is not None else _default_known(model, sensitive)
    oracle = Oracle.for_model(model, label_only=label_only, rounding=rounding)
    fitted: list[tuple[AttackSpec, BaseAttack]] = []
    timings: dict[str, float] = {}
    for spec in attacks:
        started = time.perf_counter()
        attack = spec.build(random_state, memory).fit(oracle, sensitive=sensitive,
                                                      known=known, reference=reference)
        timings[f"fit {spec.name} ({spec.variant})"] = time.perf_counter() - started
        fitted.append((spec, attack))
    candidates = fitted[0][1].candidates_
    baselines = None
    if reference is not None:
        baselines = BaselineSuite(model, candidates, known,
                                  random_state=random_state).fit(reference, members)
    results: list[MethodResult] = []
    posteriors: dict[str, list[Posterior]] = {}
    score = {"n_boot": n_boot, "random_state": random_state, "label_source": label_source}
    for population, records in populations.items():
        labels = _labels(model, records, label_source)
        truth = candidates.joint_index(records) if all(
            s in records.columns for s in candidates.names) else None
        posteriors[population] = []
        for spec, attack in fitted:
            started = time.perf_counter()
            posterior = attack.infer(records, labels)
            timings[f"infer {spec.name} ({spec.variant}) on {population}"] = \
                time.perf_counter() - started
            posteriors[population].append(posterior)
            if truth is not None:
                results += score_posterior(posterior, truth, population=population,
                                           variant=spec.variant, **score)
        if truth is not None and baselines is not None:
            for name in baselines.names:
                results += score_posterior(baselines.posterior(name, records, labels), truth,
                                           population=population, **score)
    assessment = Assessment(
        dataset={}, model=model.describe(),
        threat={"sensitive": list(candidates.names), "known": known,
                "unknown": list(fitted[0][1].unknown_names_), "label": model.label,
                "label_source": label_source, **oracle.describe(),
                "attacks": [{**a.describe(), "variant": s.variant} for s, a in fitted]},
        results=tuple(results), leakage=tuple(_leakage(results, n_boot, random_state)),
        membership=tuple(_membership(results)),
        settings={"random_state": random_state, "n_boot": n_boot, "tabinv": __version__,
                  "timings_seconds": {k: round(v, 4) for k, v in timings.items()}},
    )
    return assessment, posteriors


def _leakage(results: Sequence[MethodResult], n_boot: int, random_state: int) -> list[Any]:
    imputation = {(r.sensitive, r.population): r for r in results if r.method == "imputation"}
    return [leakage_over(r, imputation[(r.sensitive, r.population)], n_boot=n_boot * 5,
                         random_state=random_state)
            for r in results if r.variant and (r.sensitive, r.population) in imputation]


def _membership(results: Sequence[MethodResult]) -> list[dict[str, Any]]:
    by_key = {(r.method, r.variant, r.sensitive, r.population): r for r in results}
    return [membership_gap(r, by_key[(r.method, r.variant, r.sensitive, "non-members")])
            for r in results if r.population == "members"
            and (r.method, r.variant, r.sensitive, "non-members") in by_key]


def _dataset(dataset: str | Dataset, label: str | None) -> Dataset:
    data = load_builtin(dataset) if isinstance(dataset, str) else dataset
    if label is not None and label != data.card.label:
        data = Dataset(data.name, data.card.with_label(label), data.frame, data.cleaning,
                       data.raw_rows)
    return data


def assess(dataset: str | Dataset, model: str | TargetModel = "linear", *,
           sensitive: Sequence[str], known: Sequence[str] | None = None,
           label: str | None = None, attacks: Sequence[AttackSpec] = (AttackSpec(),),
           label_source: str = "true", label_only: bool = False,
           rounding: int | None = None,
           fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
           random_state: int = 0, n_boot: int = 200,
           model_params: Mapping[str, Any] | None = None,
           splits: Splits | None = None) -> Assessment:
    """Split, train the target, attack members and non-members, compare with baselines.

    Parameters
    ----------
    dataset : str or Dataset
        A built-in name (``tabinv datasets list``) or a loaded :class:`Dataset`.
    model : str or TargetModel
        A family name (trained on the members) or an already fitted model.
    sensitive : sequence of str
        Attribute(s) to infer; several are inferred jointly.
    known : sequence of str, optional
        Features the attacker knows (default: every feature not sensitive).
    label : str, optional
        Another card column to use as the label.
    attacks : sequence of AttackSpec
    label_source : {"true", "predicted"}
        The attacker holds the record's true label (default, the papers' threat
        model) or the model's prediction for the full record.

    Returns
    -------
    Assessment
    """
    data = _dataset(dataset, label)
    splits = splits or split_dataset(data.frame, fractions, random_state)
    if isinstance(model, str):
        model = make_model(model, data.card, random_state=random_state,
                           **dict(model_params or {})).fit(splits.members)
    assessment, _ = run_attacks(
        model, {"members": splits.members, "non-members": splits.non_members},
        sensitive=sensitive, known=known, reference=splits.reference, members=splits.members,
        attacks=attacks, label_source=label_source, label_only=label_only, rounding=rounding,
        n_boot=n_boot, random_state=random_state)
    facts = {"name": data.name, "title": data.card.title, "rows": data.n_rows,
             "raw_rows": data.raw_rows, "cleaning": data.cleaning_summary(),
             "splits": splits.sizes(), "citation": data.card.citation}
    return Assessment(facts, assessment.model, assessment.threat, assessment.results,
                      assessment.leakage, assessment.membership, assessment.settings)


def attack_records(model: TargetModel, records: pd.DataFrame, *, sensitive: Sequence[str],
                   known: Sequence[str] | None = None, reference: pd.DataFrame | None = None,
                   attacks: Sequence[AttackSpec] = (AttackSpec(),),
                   population: str = "given", label_source: str = "true",
                   label_only: bool = False, rounding: int | None = None,
                   random_state: int = 0, n_boot: int = 200,
                   origin: str = "data") -> tuple[Assessment, Posterior]:
    """Attack ``records`` with a fitted model; scored when they hold the true values.

    Model features absent from ``records`` (and not sensitive) are unknown to the
    attacker and summed out; ``known`` columns must all be present.
    """
    model.check_features([*records.columns, *sensitive], origin)
    require_columns(records, known or (), origin)
    assessment, posteriors = run_attacks(
        model, {population: records}, sensitive=sensitive, known=known, reference=reference,
        attacks=attacks, label_source=label_source, label_only=label_only, rounding=rounding,
        n_boot=n_boot, random_state=random_state)
    facts = {"name": origin, "rows": len(records)}
    return (Assessment(facts, assessment.model, assessment.threat, assessment.results,
                       assessment.leakage, assessment.membership, assessment.settings),
            posteriors[population][0])


#: the 2014 scenarios: (hidden genotypes, attack variants)
WARFARIN_SCENARIOS: tuple[tuple[tuple[str, ...], tuple[AttackSpec, ...]], ...] = (
    (("vkorc1",), (AttackSpec(), AttackSpec(prior="conditional", prior_given=("race",)),
                   AttackSpec(prior="learned"))),
    (("vkorc1", "cyp2c9"), (AttackSpec(), AttackSpec(prior="learned"))),
    (("cyp2c9",), (AttackSpec(), AttackSpec(prior="learned"))),
)


def demo_warfarin(model: str = "linear", *, random_state: int = 0, n_boot: int = 200,
                  label_source: str = "true") -> list[Assessment]:
    """Fredrikson et al. (2014): invert an OLS warfarin model (sqrt dose) for genotypes.

    The attacker knows every feature except the hidden genotype(s), and the patient's
    stable dose. Three scenarios: VKORC1 hidden (CYP2C9 known), both hidden, CYP2C9
    hidden (VKORC1 known).
    """
    data = _dataset("iwpc", None)
    splits = split_dataset(data.frame, DEFAULT_FRACTIONS, random_state)
    target = make_model(model, data.card, random_state=random_state).fit(splits.members)
    return [assess(data, target, sensitive=hidden, attacks=specs, splits=splits,
                   random_state=random_state, n_boot=n_boot, label_source=label_source)
            for hidden, specs in WARFARIN_SCENARIOS]


def combine(assessments: Sequence[Assessment]) -> dict[str, Any]:
    """One JSON document for several assessments of the same data and model."""
    first = assessments[0].to_dict()
    return {"dataset": first["dataset"], "model": first["model"],
            "results": [row for a in assessments for row in a.to_dict()["results"]],
            "leakage": [row for a in assessments for row in a.to_dict()["leakage"]],
            "assessments": [{k: v for k, v in a.to_dict().items()
                             if k not in ("dataset", "model")} for a in assessments]}


