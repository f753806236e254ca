"""Run a threat model's attacks and baselines on populations of records and score them."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from .._version import __version__
from ..attacks.base import BaseAttack
from ..attacks.baselines import BASELINES, BaselineSuite
from ..attacks.budget import posterior_bytes
from ..attacks.candidates import Posterior
from ..attacks.specs import AttackSpec
from ..evaluation.results import (
    Assessment,
    MethodResult,
    Strongest,
    leakage_over,
    membership_gap,
    score_posterior,
    strongest_over,
)
from ..exceptions import AttackError
from ..models.oracle import Oracle
from ..models.target import TargetModel
from ..vocabulary import LEAKAGE_BASELINES
from .queries import QueryLedger, counts_queries
from .threat import ThreatModel

__all__ = ["run_attacks"]


def _fit_attacks(threat: ThreatModel, specs: Sequence[AttackSpec], oracle: Oracle,
                 known: list[str], reference: pd.DataFrame | None,
                 timings: dict[str, float], ledger: QueryLedger | None = None
                 ) -> tuple[list[tuple[AttackSpec, BaseAttack]], list[str]]:
    from ..models.endpoint import EndpointError

    fitted, skipped = [], []
    for spec in specs:
        started = time.perf_counter()
        if ledger is not None and ledger.failed:
            skipped.append(ledger.fit_failed(spec.label, AttackError(ledger.failed)))
            continue
        try:
            attack = spec.build(threat.random_state, threat.memory).fit(
                oracle, sensitive=threat.sensitive, known=known, reference=reference)
        except EndpointError as error:  # budget spent or endpoint failed: not done
            if ledger is None:
                raise
            skipped.append(ledger.fit_failed(spec.label, error))
            continue
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

    Parameters
    ----------
    model : TargetModel
        The fitted target.
    populations : mapping of str to DataFrame
        Name (``members``, ``non-members`` ...) -> attacked records. Records holding the
        sensitive columns are scored; the others are only inferred.
    threat : ThreatModel
    reference : DataFrame, optional
        The attacker's sample of the population (priors, unknown features, baselines).
    members : DataFrame, optional
        The training members (the ``ideal`` baseline).

    Returns
    -------
    (Assessment, dict)
        The assessment (without dataset facts) and the first attack's posterior by
        population (the others are dropped once scored: each is an (n, K) array).
        Every attack checks first that its posteriors fit the memory budget next to
        those kept.
    """
    specs = threat.specs(has_reference=reference is not None)
    columns = set.intersection(*(set(r.columns) for r in populations.values())) \
        if populations else set()
    known = threat.known_for(model, sorted(columns))
    oracle = threat.oracle_for(model, specs)
    timings: dict[str, float] = {}
    ledger = QueryLedger(model) if counts_queries(model) else None
    fitted, skipped = _fit_attacks(threat, specs, oracle, known, reference, timings, ledger)
    candidates = fitted[0][1].candidates_
    kept = 0
    for records in populations.values():  # before any inference: refuse early
        for _, attack in fitted:
            attack.check_memory(len(records), reserved=kept)
        kept += posterior_bytes(len(records), candidates.size)
    baselines = None
    if reference is not None:
        boosted = any(spec.name == "meta" for spec, _ in fitted)  # its learner, no model
        baselines = BaselineSuite(model, candidates, known, random_state=threat.random_state,
                                  boosted=boosted).fit(reference, members)
    results: list[MethodResult] = []
    posteriors: dict[str, Posterior] = {}
    score = {"n_boot": threat.n_boot, "random_state": threat.random_state,
             "label_source": threat.label_source, "positive": threat.positive,
             "top_k": threat.top_k, "min_cell": threat.min_cell}
    for population, records in populations.items():
        labels = _labels(model, records, threat.label_source)
        truth = candidates.joint_index(records) if all(
            s in records.columns for s in candidates.names) else None
        partial: set[int] = set()  # records done by attacks stopped by a query budget
        complete: set[int] = set()
        for spec, attack in fitted:
            started = time.perf_counter()
            if ledger is None:
                posterior, done = attack.infer(records, labels), len(records)
            else:
                posterior, done = ledger.infer(spec.label, attack, records, labels,
                                               population)
            timings[f"infer {spec.label} on {population}"] = time.perf_counter() - started
            if posterior is None:
                continue
            name = population if done == len(records) else partial_name(population, done)
            (partial if done < len(records) else complete).add(done)
            posteriors.setdefault(population, posterior)  # partial: its first `done` rows
            if truth is not None:
                results += score_posterior(posterior, truth[:done], population=name,
                                           variant=spec.variant, **score)
            del posterior  # an (n, K) array: not alive during the next inference
        if truth is not None and baselines is not None:
            done_by_all = complete if ledger is not None else {len(records)}
            for done in (*done_by_all, *sorted(partial)):  # partial: on the same records
                name = population if done == len(records) else partial_name(population,
                                                                             done)
                part = records.iloc[:done]
                part_labels = labels if done == len(records) else _first(labels, done)
                for method in baselines.names:
                    results += score_posterior(baselines.posterior(method, part, part_labels),
                                               truth[:done], population=name, **score)
    assessment = Assessment(
        dataset={}, model=model.describe(),
        threat={"sensitive": list(candidates.names), "known": known,
                "unknown": list(fitted[0][1].unknown_names_), "label": model.label,
                "label_source": threat.label_source, **oracle.describe(),
                "positive": {str(k): v for k, v in (threat.positive or {}).items()},
                "attacks": [{**a.describe(), "variant": s.variant} for s, a in fitted],
                "skipped": skipped,
                "notes": sorted({str(n) for _, a in fitted
                                 if (n := a.describe().get("notes"))}),
                **({} if ledger is None else {"queries": ledger.to_dict()})},
        results=tuple(results),
        leakage=tuple(_leakage(results, threat.n_boot, threat.random_state)),
        strongest=tuple(_strongest(results, threat.n_boot, threat.random_state)),
        membership=tuple(_membership(results)),
        settings={"random_state": threat.random_state, "n_boot": threat.n_boot,
                  "min_cell": threat.min_cell,
                  "tabinv": __version__,
                  "timings_seconds": {k: round(v, 4) for k, v in timings.items()}},
    )
    return assessment, posteriors


def partial_name(population: str, done: int) -> str:
    """The population name of a result on the first ``done`` records only (a query
    budget ran out): never the name of a complete result."""
    return f"{population} (partial: first {done:,} records)"


def _first(labels: Any, done: int) -> Any:
    return labels.iloc[:done] if isinstance(labels, pd.Series) else labels[:done]


def _labels(model: TargetModel, records: pd.DataFrame, label_source: str) -> Any:
    return records[model.label] if label_source == "true" else model.predict(records)


def _baselines(results: Sequence[MethodResult]) -> dict[tuple[str, str], list[MethodResult]]:
    """The model-free baselines a gain is measured over, by attribute and population
    (label-rule only where it was fitted: a discrete label)."""
    baselines: dict[tuple[str, str], list[MethodResult]] = {}
    for r in results:
        if r.method in LEAKAGE_BASELINES:
            baselines.setdefault((r.sensitive, r.population), []).append(r)
    return baselines


def _leakage(results: Sequence[MethodResult], n_boot: int, random_state: int) -> list[Any]:
    """Each attack's gain over the best model-free baseline scored on the same attribute
    and population."""
    baselines = _baselines(results)
    return [leakage_over(r, baselines[(r.sensitive, r.population)], n_boot=n_boot * 5,
                         random_state=random_state)
            for r in results if r.method not in BASELINES
            and (r.sensitive, r.population) in baselines]


def _strongest(results: Sequence[MethodResult], n_boot: int, random_state: int
               ) -> list[Strongest]:
    """Per attribute and population with a baseline, the strongest attack chosen out of
    fold and its gain over the best baseline."""
    baselines = _baselines(results)
    attacks: dict[tuple[str, str], list[MethodResult]] = {}
    for r in results:
        if r.method not in BASELINES and (r.sensitive, r.population) in baselines:
            attacks.setdefault((r.sensitive, r.population), []).append(r)
    return [strongest_over(group, baselines[key], n_boot=n_boot * 5,
                           random_state=random_state) for key, group in attacks.items()]


def _membership(results: Sequence[MethodResult]) -> list[dict[str, Any]]:
    by_key = {(r.method, r.variant, r.sensitive, r.population): r for r in results}
    return [membership_gap(r, by_key[(r.method, r.variant, r.sensitive, "non-members")])
            for r in results if r.population == "members"
            and (r.method, r.variant, r.sensitive, "non-members") in by_key]
