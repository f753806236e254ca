"""One code path for every front end: CLI, notebooks, batch jobs and benchmarks.

``assess`` runs the whole pipeline on a data set (splits, target model, attacks,
baselines, metrics); ``attack_records`` attacks given records with a given model;
``demo_warfarin`` is the 2014 warfarin case study. All three describe the attacker with
the same :class:`ThreatModel` and run :func:`run_attacks`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from . import __version__
from .attacks.base import BaseAttack
from .attacks.baselines import BASELINES, BaselineSuite
from .attacks.budget import posterior_bytes
from .attacks.candidates import Posterior
from .attacks.specs import AttackSpec, expand_specs
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

__all__ = ["LABEL_SOURCES", "Assessment", "AttackSpec", "ThreatModel", "assess",
           "attack_records", "combine", "demo_warfarin", "expand_specs", "run_attacks",
           "run_inventory", "sweep_defences"]

LABEL_SOURCES = ("true", "predicted")


@dataclass(frozen=True)
class ThreatModel:
    """What the attacker knows and can query, and how results are scored.

    Parameters
    ----------
    sensitive : tuple of str
        Attribute(s) to infer; several are inferred jointly.
    known : tuple of str, optional
        Features the attacker knows (default: every model feature not sensitive).
    attacks : tuple of AttackSpec
        Attacks and prior settings (see :func:`expand_specs`).
    label_source : {"true", "predicted"}
        The attacker holds the record's true label (the papers' threat model) or the
        model's prediction for the full record.
    label_only, rounding
        Output defences at the oracle: top-1 label only, confidences rounded to
        ``rounding`` decimals.
    positive : mapping, optional
        Attribute -> positive value, for precision / recall / G-mean ... of that value.
    top_k : int
        k of the top-k precision.
    n_boot, random_state, memory
        Bootstrap replicates, seed, bytes the attacks may hold (their grids, chunks
        and (n, K) posteriors; default 1 GiB; refused with the numbers when short).
    shortcuts : bool
        Let attacks answer the candidate grid from the model's parts (linear
        coefficients, tree nodes) where that gives the model's own answers (default);
        False queries the model on every grid row (same results, slower: to
        cross-check, or to time the queries).
    """

    sensitive: tuple[str, ...]
    known: tuple[str, ...] | None = None
    attacks: tuple[AttackSpec, ...] = (AttackSpec(),)
    label_source: str = "true"
    label_only: bool = False
    rounding: int | None = None
    positive: Mapping[str, Any] = field(default_factory=dict)
    top_k: int = 100
    n_boot: int = 200
    random_state: int = 0
    memory: int | None = None
    shortcuts: bool = True

    def __post_init__(self) -> None:
        if self.label_source not in LABEL_SOURCES:
            raise AttackError(f"label source {self.label_source!r} is not one of "
                              f"{LABEL_SOURCES}")
        object.__setattr__(self, "sensitive", tuple(self.sensitive))
        object.__setattr__(self, "attacks", tuple(self.attacks))
        if self.known is not None:
            object.__setattr__(self, "known", tuple(self.known))

    def known_for(self, model: TargetModel) -> list[str]:
        if self.known is not None:
            return list(self.known)
        return [f for f in model.features if f not in set(self.sensitive)]

    def oracle_for(self, model: TargetModel) -> Oracle:
        return Oracle.for_model(model, label_only=self.label_only, rounding=self.rounding,
                                white_box=any(s.needs_white_box for s in self.attacks),
                                shortcuts=self.shortcuts)


def _labels(model: TargetModel, records: pd.DataFrame, label_source: str) -> Any:
    return records[model.label] if label_source == "true" else model.predict(records)


def _fit_attacks(threat: ThreatModel, oracle: Oracle, known: list[str],
                 reference: pd.DataFrame | None, timings: dict[str, float]
                 ) -> tuple[list[tuple[AttackSpec, BaseAttack]], list[str]]:
    fitted, skipped = [], []
    for spec in threat.attacks:
        started = time.perf_counter()
        try:
            attack = spec.build(threat.random_state, threat.memory).fit(
                oracle, sensitive=threat.sensitive, known=known, reference=reference)
        except AttackError as error:
            if not spec.optional:
                raise
            skipped.append(f"{spec.label}: {error}")
            continue
        timings[f"fit {spec.label}"] = time.perf_counter() - started
        fitted.append((spec, attack))
    if not fitted:
        raise AttackError("none of the attacks applies here: " + "; ".join(skipped))
    return fitted, skipped


def run_attacks(model: TargetModel, populations: Mapping[str, pd.DataFrame],
                threat: ThreatModel, *, reference: pd.DataFrame | None = None,
                members: pd.DataFrame | None = None
                ) -> tuple[Assessment, dict[str, Posterior]]:
    """Attack each population with every attack and baseline and score them.

    Returns the assessment (without dataset facts) and the first attack's posterior by
    population (the others are dropped once scored: each is an (n, K) array). Every
    attack checks first that its posteriors fit the memory budget next to those kept.
    """
    known = threat.known_for(model)
    oracle = threat.oracle_for(model)
    timings: dict[str, float] = {}
    fitted, skipped = _fit_attacks(threat, oracle, known, reference, timings)
    candidates = fitted[0][1].candidates_
    kept = 0
    for records in populations.values():  # before any inference: refuse early
        for _, attack in fitted:
            attack.check_memory(len(records), reserved=kept)
        kept += posterior_bytes(len(records), candidates.size)
    baselines = None
    if reference is not None:
        baselines = BaselineSuite(model, candidates, known,
                                  random_state=threat.random_state).fit(reference, members)
    results: list[MethodResult] = []
    posteriors: dict[str, Posterior] = {}
    score = {"n_boot": threat.n_boot, "random_state": threat.random_state,
             "label_source": threat.label_source, "positive": threat.positive,
             "top_k": threat.top_k}
    for population, records in populations.items():
        labels = _labels(model, records, threat.label_source)
        truth = candidates.joint_index(records) if all(
            s in records.columns for s in candidates.names) else None
        for spec, attack in fitted:
            started = time.perf_counter()
            posterior = attack.infer(records, labels)
            timings[f"infer {spec.label} on {population}"] = time.perf_counter() - started
            posteriors.setdefault(population, posterior)
            if truth is not None:
                results += score_posterior(posterior, truth, population=population,
                                           variant=spec.variant, **score)
            del posterior  # an (n, K) array: not alive during the next inference
        if truth is not None and baselines is not None:
            for name in baselines.names:
                results += score_posterior(baselines.posterior(name, records, labels), truth,
                                           population=population, **score)
    assessment = Assessment(
        dataset={}, model=model.describe(),
        threat={"sensitive": list(candidates.names), "known": known,
                "unknown": list(fitted[0][1].unknown_names_), "label": model.label,
                "label_source": threat.label_source, **oracle.describe(),
                "attacks": [{**a.describe(), "variant": s.variant} for s, a in fitted],
                "skipped": skipped,
                "notes": sorted({str(n) for _, a in fitted
                                 if (n := a.describe().get("notes"))})},
        results=tuple(results),
        leakage=tuple(_leakage(results, threat.n_boot, threat.random_state)),
        membership=tuple(_membership(results)),
        settings={"random_state": threat.random_state, "n_boot": threat.n_boot,
                  "tabinv": __version__,
                  "timings_seconds": {k: round(v, 4) for k, v in timings.items()}},
    )
    return assessment, posteriors


def _leakage(results: Sequence[MethodResult], n_boot: int, random_state: int) -> list[Any]:
    imputation = {(r.sensitive, r.population): r for r in results if r.method == "imputation"}
    return [leakage_over(r, imputation[(r.sensitive, r.population)], n_boot=n_boot * 5,
                         random_state=random_state)
            for r in results if r.method not in BASELINES
            and (r.sensitive, r.population) in imputation]


def _membership(results: Sequence[MethodResult]) -> list[dict[str, Any]]:
    by_key = {(r.method, r.variant, r.sensitive, r.population): r for r in results}
    return [membership_gap(r, by_key[(r.method, r.variant, r.sensitive, "non-members")])
            for r in results if r.population == "members"
            and (r.method, r.variant, r.sensitive, "non-members") in by_key]


def _dataset(dataset: str | Dataset, label: str | None,
             params: Mapping[str, Any] | None = None) -> Dataset:
    data = load_builtin(dataset, **dict(params or {})) if isinstance(dataset, str) else dataset
    if label is not None and label != data.card.label:
        data = Dataset(data.name, data.card.with_label(label), data.frame, data.cleaning,
                       data.raw_rows)
    return data


def _with_facts(assessment: Assessment, facts: dict[str, Any]) -> Assessment:
    return dataclasses.replace(assessment, dataset=facts)


def assess(dataset: str | Dataset, model: str | TargetModel = "linear", *,
           sensitive: Sequence[str], label: str | None = None,
           dataset_params: Mapping[str, Any] | None = None,
           fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
           model_params: Mapping[str, Any] | None = None, splits: Splits | None = None,
           **threat: Any) -> Assessment:
    """Split, train the target, attack members and non-members, compare with baselines.

    Parameters
    ----------
    dataset : str or Dataset
        A built-in name (``tabinv datasets list``) or a loaded :class:`Dataset`.
    model : str or TargetModel
        A family name (trained on the members) or an already fitted model.
    sensitive : sequence of str
        Attribute(s) to infer; several are inferred jointly.
    label : str, optional
        Another card column to use as the label.
    dataset_params : mapping, optional
        Parameters of a built-in data set (``people``, ``snps``, ``seed`` for genomic).
    **threat
        The other fields of :class:`ThreatModel` (``known``, ``attacks``,
        ``label_source``, ``rounding``, ``label_only``, ``positive``, ``random_state`` ...).

    Returns
    -------
    Assessment

    Examples
    --------
    >>> result = assess("iwpc", "linear", sensitive=["cyp2c9"], n_boot=20)
    >>> result.result("prior-mode", "cyp2c9", "members").n
    2081
    """
    options = ThreatModel(sensitive=tuple(sensitive), **threat)
    data = _dataset(dataset, label, dataset_params)
    splits = splits or split_dataset(data.frame, fractions, options.random_state)
    if isinstance(model, str):
        model = make_model(model, data.card, random_state=options.random_state,
                           **dict(model_params or {})).fit(splits.members)
    assessment, _ = run_attacks(
        model, {"members": splits.members, "non-members": splits.non_members}, options,
        reference=splits.reference, members=splits.members)
    return _with_facts(assessment, {
        "name": data.name, "title": data.card.title, "rows": data.n_rows,
        "raw_rows": data.raw_rows, "cleaning": data.cleaning_summary(),
        "splits": splits.sizes(), "citation": data.card.citation})


def attack_records(model: TargetModel, records: pd.DataFrame, *, sensitive: Sequence[str],
                   reference: pd.DataFrame | None = None, population: str = "given",
                   origin: str = "data", cleaning: Sequence[Mapping[str, Any]] = (),
                   **threat: Any) -> tuple[Assessment, Posterior]:
    """Attack ``records`` with a fitted model; scored when they hold the true values.

    Model features absent from ``records`` (and not sensitive) are unknown to the
    attacker and summed out; ``known`` columns must all be present. ``cleaning`` (as
    :meth:`Dataset.cleaning_summary`) says what reading the records changed, for the
    results. Returns the assessment and the first attack's posterior.
    """
    options = ThreatModel(sensitive=tuple(sensitive), **threat)
    model.check_features([*records.columns, *sensitive], origin)
    require_columns(records, options.known or (), origin)
    assessment, posteriors = run_attacks(model, {population: records}, options,
                                         reference=reference)
    facts = {"name": origin, "rows": len(records),
             **({"cleaning": list(cleaning)} if cleaning else {})}
    return _with_facts(assessment, facts), posteriors[population]


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


def sweep_defences(dataset: str | Dataset, family: str, **options: Any) -> Any:
    """Plain and DP models over an epsilon grid and seeds.

    See :func:`tabinv.defences.sweep.sweep` for the options.
    """
    from .defences.sweep import sweep

    return sweep(dataset, family, **options)


def run_inventory(inventory: Any, out: Any, *, executor: str = "local", jobs: int = 1,
                  scheduler: str | None = None, progress: Any = None,
                  allow_paths: Sequence[Any] = ()) -> Any:
    """Assess every entry of a model inventory (TOML file or parsed), resumably.

    See :mod:`tabinv.batch`; returns the :class:`~tabinv.batch.runner.BatchResult`.
    ``allow_paths`` are folders outside the inventory's own whose files it may name.
    """
    from .batch import Inventory, make_executor, read_inventory, run_batch

    parsed = inventory if isinstance(inventory, Inventory) else read_inventory(
        inventory, allow_paths=allow_paths)
    return run_batch(parsed, out, executor=make_executor(executor, jobs=jobs,
                                                         scheduler=scheduler),
                     progress=progress)
