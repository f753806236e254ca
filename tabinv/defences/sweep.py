"""Privacy-utility sweeps: the same attacks against a model trained at a grid of epsilon.

For every seed the data are split with that seed; the non-private model and one
diffprivlib model per epsilon are trained on the members; the same attacks and baselines
(:func:`tabinv.core.run_attacks`) run on members and non-members; utility is measured on
the non-members. Each (seed, epsilon) pair is an independent task (joblib), seeded from
the seed and the epsilon alone, so the result does not depend on ``jobs`` or on the order
the tasks finish. Results are aggregated over seeds: the mean and a 95% Student t
interval, ``mean +- t(0.975, S - 1) * sd / sqrt(S)`` (undefined with one seed). The
leakage of an attack is, per seed, its accuracy minus the best model-free baseline's on
the same records (:func:`tabinv.evaluation.results.leakage_over`); with one seed its
interval is that seed's paired bootstrap interval. Its rating and size in words follow
from that interval alone.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from joblib import delayed
from threadpoolctl import threadpool_limits

from .._version import __version__
from ..attacks.baselines import BASELINES
from ..core import ThreatModel, load_dataset, run_attacks
from ..core.threat import AttackChoice, PriorChoice
from ..data.dataset import Dataset
from ..data.splits import DEFAULT_FRACTIONS, split_dataset
from ..evaluation.estimate import Estimate
from ..evaluation.intervals import summarise
from ..evaluation.utility import describe_metrics, utility_metric_names, utility_values
from ..exceptions import ModelError
from ..membership.verdict import MembershipOptions
from ..models.dp import BudgetAccountant, dp_model
from ..models.families import make_model
from ..processes import cap_jobs, joblib_workers
from ..schemas import stamp
from ..vocabulary import rating, size_words
from .membership import aggregate_membership, membership_run
from .verdict import sweep_verdict

__all__ = ["SweepResult", "summarise", "sweep"]

Key = tuple[str, str, str, str]  # method, variant, sensitive, population
INTERVAL = "95% Student t interval over seeds: mean +- t(0.975, S-1) * sd / sqrt(S)"


@dataclass(frozen=True)
class SweepResult:
    """A privacy-utility sweep, aggregated over seeds (see :meth:`to_dict`)."""

    dataset: Mapping[str, Any]
    model: Mapping[str, Any]
    threat: Mapping[str, Any]
    epsilons: tuple[float, ...]
    seeds: tuple[int, ...]
    utility_metrics: tuple[str, ...]
    points: tuple[Mapping[str, Any], ...]
    verdict: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def point(self, epsilon: float | None) -> Mapping[str, Any]:
        """The aggregated point of ``epsilon`` (None: the non-private model)."""
        for item in self.points:
            if item["epsilon"] == epsilon:
                return item
        raise KeyError(f"no point for epsilon {epsilon!r}; have {self.epsilons}")

    def to_dict(self) -> dict[str, Any]:
        """The sweep document (``kind = "sweep"``, :mod:`tabinv.schemas`), ready for
        :func:`tabinv.report.json.to_json`."""
        return stamp({
            "dataset": dict(self.dataset), "model": dict(self.model),
            "threat": dict(self.threat), "epsilons": list(self.epsilons),
            "seeds": list(self.seeds), "utility_metrics": list(self.utility_metrics),
            "utility_definitions": {m: describe_metrics()[m] for m in self.utility_metrics},
            "interval": INTERVAL, "points": [_plain(p) for p in self.points],
            "verdict": self.verdict, "notes": list(self.notes),
            "settings": dict(self.settings),
        }, "sweep")


def _plain(value: Any) -> Any:
    if isinstance(value, Estimate):
        return value.to_dict()
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _model_seed(seed: int, epsilon: float | None) -> int:
    """Seed of one model's training noise, from the seed and the epsilon only."""
    bits = 0 if epsilon is None else int(np.float64(epsilon).view(np.uint64))
    return int(np.random.SeedSequence([seed, bits]).generate_state(1)[0])


def _run(data: Dataset, family: str, seed: int, epsilon: float | None, options: ThreatModel,
         fractions: tuple[float, float, float], params: Mapping[str, Any],
         membership: MembershipOptions | None = None) -> dict[str, Any]:
    """One task: split with ``seed``, train at ``epsilon``, attack, measure utility.

    BLAS runs on one thread inside a task: the same floating-point order whatever
    ``jobs`` is (and faster on these small problems; parallelism is across tasks).
    """
    with threadpool_limits(limits=1):
        return _run_task(data, family, seed, epsilon, options, fractions, params,
                         membership)


def _run_task(data: Dataset, family: str, seed: int, epsilon: float | None,
              options: ThreatModel, fractions: tuple[float, float, float],
              params: Mapping[str, Any], membership: MembershipOptions | None = None
              ) -> dict[str, Any]:
    splits = split_dataset(data.frame, fractions, seed)
    model_seed = _model_seed(seed, epsilon)
    if epsilon is None:
        model = make_model(family, data.card, random_state=model_seed, **params)
    else:
        model = dp_model(family, data.card, epsilon, random_state=model_seed,
                         accountant=BudgetAccountant(), **params)
    model.fit(splits.members)
    assessment, _ = run_attacks(
        model, {"members": splits.members, "non-members": splits.non_members},
        dataclasses.replace(options, random_state=seed), reference=splits.reference,
        members=splits.members)
    facts = model.describe()
    # as many replicates as the leakage intervals (n_boot x 5): with one seed the
    # bootstrap interval is the one reported
    # through the attribute attacks' oracle: the same access (rounded, label-only)
    inferred = [] if membership is None else membership_run(
        options.oracle_for(model, options.specs(has_reference=True)), splits, membership,
        options.n_boot * 5, seed)
    return {
        "membership": inferred,
        "seed": seed, "epsilon": epsilon, "epsilon_spent": facts.get("epsilon_spent"),
        "delta_spent": facts.get("delta_spent"),
        "utility": utility_values(model, splits.non_members),
        "accuracy": [[r.method, r.variant, r.sensitive, r.population,
                      r.metrics["accuracy"].value] for r in assessment.results],
        "leakage": [[item.method, item.variant, item.sensitive, item.population,
                     item.estimate.value, item.estimate.low, item.estimate.high, item.over]
                    for item in assessment.leakage],
        "threat": dict(assessment.threat), "model": facts, "splits": splits.sizes(),
    }


def _aggregate_point(runs: Sequence[Mapping[str, Any]], metrics: Sequence[str]
                     ) -> dict[str, Any]:
    tables = [{tuple(row[:4]): row[4] for row in run["accuracy"]} for run in runs]
    leaks = [{tuple(row[:4]): row[4:] for row in run["leakage"]} for run in runs]
    keys: list[Key] = list(dict.fromkeys(k for table in tables for k in table))
    attacks, baselines = [], []
    for key in keys:
        per_seed = [t.get(key, math.nan) for t in tables]
        where = {"sensitive": key[2], "population": key[3],
                 "accuracy": summarise(per_seed, 0.0, 1.0)}
        if key[0] in BASELINES:
            baselines.append({"method": key[0], **where, "accuracy_per_seed": per_seed})
            continue
        attacks.append({"method": key[0], "variant": key[1], **where,
                        **_leakage([t.get(key) for t in leaks], key[2]),
                        "accuracy_per_seed": per_seed})
    spent = [r["epsilon_spent"] for r in runs if r["epsilon_spent"] is not None]
    utility = {m: [r["utility"].get(m, math.nan) for r in runs] for m in metrics}
    return {
        "epsilon": runs[0]["epsilon"],
        "epsilon_spent": float(np.mean(spent)) if spent else None,
        "n_seeds": len(runs),
        "utility": {m: summarise(values, *((-math.inf, 1.0) if m == "r2" else (0.0, 1.0)))
                    for m, values in utility.items()},
        "utility_per_seed": utility,
        "attacks": attacks, "baselines": baselines,
        **({"membership": membership} if (membership := aggregate_membership(runs))
           else {}),
    }


def _leakage(per_seed: Sequence[Sequence[Any] | None], sensitive: str) -> dict[str, Any]:
    """An attack's leakage over the best baseline across seeds: the mean with a Student
    t interval over seeds, or with one seed that seed's paired bootstrap interval; the
    baseline(s) it was measured over; its rating and its size in words."""
    found = [row for row in per_seed if row is not None]
    values = [row[0] if row is not None else math.nan for row in per_seed]
    estimate = Estimate(*found[0][:3]) if len(per_seed) == 1 and found \
        else summarise(values, -1.0, 1.0)
    over = " or ".join(dict.fromkeys(str(row[3]) for row in found)) or "none"
    return {"leakage": estimate, "leakage_per_seed": values, "over": over,
            "rating": rating(estimate.low, estimate.high),
            "size": size_words(estimate.value, sensitive)}


def _check_grid(epsilons: Sequence[float]) -> tuple[float, ...]:
    try:
        grid = sorted({float(e) for e in epsilons})
    except (TypeError, ValueError):
        raise ModelError(f"epsilons must be positive numbers, received {epsilons!r}") from None
    if not grid or any(not (e > 0 and math.isfinite(e)) for e in grid):
        raise ModelError(f"epsilons must be one or more positive finite numbers, received "
                         f"{list(epsilons)!r}")
    return tuple(grid)


def _seed_list(seeds: int | Sequence[int], random_state: int) -> tuple[int, ...]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ModelError(f"seeds must be at least 1, received {seeds}")
        return tuple(range(random_state, random_state + int(seeds)))
    try:
        chosen = tuple(dict.fromkeys(operator.index(s) for s in seeds))
    except TypeError:
        raise ModelError(f"seeds must be a count or a list of integers, received "
                         f"{seeds!r}") from None
    if not chosen:
        raise ModelError("seeds must name at least one seed")
    return chosen


def _run_all(tasks: list[tuple[int, float | None]], jobs: int,
             progress: Callable[[int, int], None] | None, call: Callable[..., Any]
             ) -> list[dict[str, Any]]:
    """Every task, in ``jobs`` processes (never more than tasks); joblib's worker
    processes are stopped when the tasks are done or interrupted."""
    runs: list[dict[str, Any]] = []
    if progress is not None:
        progress(0, len(tasks))
    workers = cap_jobs(jobs, tasks=len(tasks), force=True).jobs
    with joblib_workers(workers) as parallel:
        for run in parallel(delayed(call)(seed, epsilon) for seed, epsilon in tasks):
            runs.append(run)
            if progress is not None:
                progress(len(runs), len(tasks))
    order = {task: i for i, task in enumerate(tasks)}
    return sorted(runs, key=lambda r: order[(r["seed"], r["epsilon"])])


def sweep(dataset: str | Dataset, family: str, *, epsilons: Sequence[float],
          seeds: int | Sequence[int], sensitive: Sequence[str],
          known: Sequence[str] | None = None, attacks: Sequence[AttackChoice] | None = None,
          priors: Sequence[PriorChoice] | None = None,
          attack_params: Mapping[str, Mapping[str, Any]] | None = None,
          access: str | None = None,
          decimals: int | None = None, label_source: str = "true",
          positive: Mapping[str, Any] | None = None, top_k: int = 100, n_boot: int = 20,
          memory: int | None = None, label: str | None = None, jobs: int = 1,
          progress: Callable[[int, int], None] | None = None, random_state: int = 0,
          dataset_params: Mapping[str, Any] | None = None,
          fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
          model_params: Mapping[str, Any] | None = None,
          membership_attacks: MembershipOptions | None = None) -> SweepResult:
    """Train the non-private and DP models over seeds and compare attacks and utility.

    Parameters
    ----------
    dataset : str or Dataset
        Built-in name or loaded data set.
    family : str
        A model family with a DP counterpart (:func:`tabinv.models.dp.dp_family_names`).
    epsilons : sequence of float
        The DP grid (sorted, duplicates removed); the non-private model is always added.
    seeds : int or sequence of int
        Number of seeds (``random_state``, ``random_state + 1`` ...) or the seeds.
    sensitive : sequence of str
        Attribute(s) to infer (several: jointly, each also scored alone).
    known, attacks, priors, attack_params, access, decimals, label_source, positive,
    top_k, memory
        The attacker, as in :func:`tabinv.api.assess` (``access='rounded'`` with
        ``decimals``: rounding on top of DP).
    n_boot : int
        Bootstrap replicates of each run's intervals (20: intervals are taken over seeds).
    label, dataset_params, fractions, model_params
        As in :func:`tabinv.api.assess`.
    jobs : int
        joblib processes (-1: all cores; never more than tasks, and stopped when the
        sweep ends); the result does not depend on it.
    progress : callable, optional
        ``progress(done, total)`` after each finished (seed, epsilon) task.
    membership_attacks : MembershipOptions, optional
        Also run these membership attacks on each model: every point then has
        ``membership`` (AUC and TPR at low FPR per attack, over seeds, rated against
        chance), next to attribute leakage and utility.

    Returns
    -------
    SweepResult

    Examples
    --------
    >>> result = sweep("iwpc", "linear", epsilons=[100], seeds=1, sensitive=["vkorc1"])
    >>> [p["epsilon"] for p in result.points]
    [None, 100.0]
    """
    started = time.perf_counter()
    data = load_dataset(dataset, params=dataset_params, seed=random_state).with_label(label)
    grid, seed_list = _check_grid(epsilons), _seed_list(seeds, random_state)
    dp_model(family, data.card, grid[0])  # fail early: family, task, card bounds
    options = ThreatModel(sensitive=tuple(sensitive), known=known, attacks=attacks,
                          priors=priors, attack_params=attack_params,
                          access=access, decimals=decimals, label_source=label_source,
                          positive=positive, top_k=top_k, n_boot=n_boot,
                          random_state=random_state, memory=memory)
    params = dict(model_params or {})

    def call(seed: int, epsilon: float | None) -> dict[str, Any]:
        return _run(data, family, seed, epsilon, options, fractions, params,
                    membership_attacks)

    points_order: list[float | None] = [None, *grid]
    tasks = [(seed, epsilon) for seed in seed_list for epsilon in points_order]
    runs = _run_all(tasks, jobs, progress, call)
    first = runs[0]
    metrics = tuple(utility_metric_names(data.card))
    points = tuple(_aggregate_point([r for r in runs if r["epsilon"] == e], metrics)
                   for e in points_order)
    return SweepResult(
        dataset=data.facts(first["splits"]),
        model=_model_facts(first["model"], next(r["model"] for r in runs
                                                if r["epsilon"] is not None)),
        threat=first["threat"], epsilons=grid, seeds=seed_list, utility_metrics=metrics,
        points=points, verdict=sweep_verdict(points, metrics, first["threat"]),
        settings={"jobs": jobs, "random_state": random_state, "tabinv": __version__,
                  "seconds": round(time.perf_counter() - started, 2),
                  "n_boot": options.n_boot, "fractions": list(fractions),
                  "budget": _budget(runs, seed_list),
                  **({} if membership_attacks is None
                     else {"membership_attacks": membership_attacks.describe()})},
    )


def _model_facts(plain: Mapping[str, Any], private: Mapping[str, Any]) -> dict[str, Any]:
    keep = ("family", "task", "label", "target_transform", "features",
            "categorical_encoding", "n_train", "dataset")
    dp_keys = ("mechanism", "library", "bounds", "dp_scope", "reference_coded")
    return {**{k: plain[k] for k in keep if k in plain}, "estimator": plain.get("estimator"),
            "dp_estimator": private.get("estimator"),
            **{k: private[k] for k in dp_keys if k in private}}


def _budget(runs: Sequence[Mapping[str, Any]], seeds: Sequence[int]) -> dict[str, Any]:
    """Composition over every DP model of one seed (all trained on the same members)."""
    totals = {}
    for seed in seeds:
        accountant = BudgetAccountant()
        for run in runs:
            if run["seed"] == seed and run["epsilon_spent"] is not None:
                accountant.spend(run["epsilon_spent"], run["delta_spent"] or 0.0)
        totals[seed] = accountant.total()
    first = totals[seeds[0]]
    return {"epsilon_per_seed": float(first[0]), "delta_per_seed": float(first[1]),
            "note": "each point's model spends its own epsilon; the models of one seed are "
                    "trained on the same members, so releasing all of them would spend the "
                    "sum (diffprivlib BudgetAccountant composition)"}


# -- verdict ---------------------------------------------------------------------------
