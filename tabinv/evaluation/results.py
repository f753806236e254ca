"""Frozen result types and the scoring of posteriors against the truth."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..attacks.candidates import Posterior
from ..exceptions import AttackError
from ..vocabulary import LEAKAGE_BASELINES, RESOLUTION, method_label, rating, size_words
from .estimate import Estimate
from .intervals import wilson
from .metrics import (
    accuracy,
    auc_ovr,
    balanced_accuracy,
    binary_metrics,
    per_value,
    top_k_precision,
)
from .paired import paired_gain_over_best
from .selection import DEFAULT_FOLDS, cross_fitted_choice
from .smallcells import DEFAULT_MIN_CELL, suppress_confusion, suppress_rows

__all__ = ["MethodResult", "Leakage", "Strongest", "Assessment", "score_posterior",
           "leakage_over", "strongest_over", "membership_gap", "verdict_sentence"]


@dataclass(frozen=True)
class MethodResult:
    """Metrics of one method (attack or baseline) on one attribute and population."""

    method: str
    sensitive: str
    population: str
    n: int
    metrics: Mapping[str, Estimate]
    per_value: tuple[Mapping[str, Any], ...] = ()
    hidden: tuple[str, ...] = ()
    variant: str = ""
    label_source: str = "true"
    confusion: tuple[tuple[int | None, ...], ...] = ()
    suppressed_below: int = 0
    correct: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def key(self) -> str:
        return method_label(self.method, self.variant)

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method, "variant": self.variant, "sensitive": self.sensitive,
            "hidden": list(self.hidden), "population": self.population, "n": self.n,
            "label_source": self.label_source,
            "confusion": [list(row) for row in self.confusion],
            "suppressed_below": self.suppressed_below,
            **{name: estimate.to_dict() for name, estimate in self.metrics.items()},
            "per_value": [{k: (v.to_dict() if isinstance(v, Estimate) else v)
                           for k, v in row.items()} for row in self.per_value],
        }


@dataclass(frozen=True)
class Leakage:
    """Attack accuracy minus the best model-free baseline's, on the same records.

    ``over`` names the best baseline (highest accuracy on these records), ``baselines``
    holds each baseline's accuracy, ``estimate`` the gain with its paired bootstrap
    interval (the maximum over the baselines taken inside each replicate). ``rating``
    (:data:`~tabinv.vocabulary.RATINGS`), ``size`` and ``verdict`` follow from the
    interval alone; ``imputation_weak`` says imputation scored below prior-mode (a
    reference sample too small for it).
    """

    method: str
    variant: str
    sensitive: str
    population: str
    over: str
    baselines: Mapping[str, float]
    estimate: Estimate
    rating: str
    size: str
    imputation_weak: bool
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "variant": self.variant, "sensitive": self.sensitive,
                "population": self.population, "over": self.over,
                "baselines": dict(self.baselines), "leakage": self.estimate.to_dict(),
                "rating": self.rating, "size": self.size,
                "imputation_weak": self.imputation_weak, "verdict": self.verdict}


@dataclass(frozen=True)
class Strongest:
    """The strongest of several attacks on one attribute and population, chosen without
    overfitting the records it is scored on (:mod:`tabinv.evaluation.selection`).

    ``leakage`` is the gain of the cross-fitted correctness (each fold's attack chosen on
    the other folds) over the best model-free baseline, with its paired interval; its
    ``method`` and ``variant`` are those of the attack chosen by the most folds.
    ``accuracy`` is the cross-fitted accuracy (Wilson interval); ``selection`` says how
    it was chosen (the folds, how many chose each attack, every attack compared).
    """

    leakage: Leakage
    accuracy: Estimate
    selection: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {**self.leakage.to_dict(), "accuracy": self.accuracy.to_dict(),
                "selection": {**self.selection,
                              "chosen": dict(self.selection.get("chosen", {})),
                              "considered": list(self.selection.get("considered", ()))}}


@dataclass(frozen=True)
class Assessment:
    """Everything one assessment found, ready for the report writers."""

    dataset: Mapping[str, Any]
    model: Mapping[str, Any]
    threat: Mapping[str, Any]
    results: tuple[MethodResult, ...]
    leakage: tuple[Leakage, ...] = ()
    #: per attribute and population, the strongest attack chosen out of fold
    strongest: tuple[Strongest, ...] = ()
    membership: tuple[Mapping[str, Any], ...] = ()
    #: membership-inference attacks on members vs non-members, one entry each
    #: (:func:`tabinv.membership.verdict.membership_entry`); empty when none were run
    membership_inference: tuple[Mapping[str, Any], ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    #: the model's own utility on non-members, one entry per metric
    #: (:func:`tabinv.evaluation.utility.utility_entries`); empty when none were held out
    utility: tuple[Mapping[str, Any], ...] = ()

    @property
    def verdicts(self) -> tuple[str, ...]:
        """One sentence per attack, attribute and population: its rating, over which
        baseline, and the size in plain words (from the leakage interval alone)."""
        return tuple(item.verdict for item in self.leakage)

    def result(self, method: str, sensitive: str, population: str,
               variant: str | None = None) -> MethodResult:
        for item in self.results:
            if (item.method, item.sensitive, item.population) == (method, sensitive, population) \
                    and (variant is None or item.variant == variant):
                return item
        raise KeyError(f"no result for {method!r}/{sensitive!r}/{population!r}")

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": dict(self.dataset), "model": dict(self.model),
            "threat": dict(self.threat), "settings": dict(self.settings),
            "results": [r.to_dict() for r in self.results],
            "leakage": [item.to_dict() for item in self.leakage],
            "strongest": [item.to_dict() for item in self.strongest],
            "membership": [dict(m) for m in self.membership],
            **({"membership_inference": [dict(m) for m in self.membership_inference]}
               if self.membership_inference else {}),
            "utility": [dict(u) for u in self.utility],
            "verdicts": list(self.verdicts),
        }


def score_posterior(posterior: Posterior, truth: np.ndarray, *, population: str,
                    variant: str = "", label_source: str = "true", n_boot: int = 200,
                    random_state: int = 0, positive: Mapping[str, Any] | None = None,
                    top_k: int = 100, min_cell: int = DEFAULT_MIN_CELL
                    ) -> list[MethodResult]:
    """Metrics of a posterior against true joint indices, per attribute and jointly.

    Each attribute is predicted by the argmax of its marginal posterior; with several
    attributes a joint entry (``a+b``) scores the joint MAP. ``positive`` maps an
    attribute to its positive value: that attribute also gets precision, recall, F1,
    G-mean, MCC, FPR and the precision among the ``top_k`` records ranked most likely
    positive (Mehnaz et al. 2022). Above ``MAX_TABLE_VALUES`` values (joint candidates)
    the per-value table lists the values that occur and the confusion is left out.
    Counts of 1 to ``min_cell - 1`` records in the per-value and confusion tables are
    withheld (:mod:`tabinv.evaluation.smallcells`; 0: none); the metrics are not.
    """
    candidates = posterior.candidates
    truth_codes = candidates.decode(truth)
    # (name, true codes, probabilities, readable name of value k)
    targets: list[tuple[str, np.ndarray, np.ndarray, Callable[[int], str]]] = []
    for a, name in enumerate(candidates.names):
        targets.append((name, truth_codes[:, a], posterior.marginal(name),
                        lambda k, a=a: str(candidates.domains[a][k])))
    if len(candidates.names) > 1:
        targets.append((candidates.joint_name, truth, posterior.probabilities,
                        candidates.label))
    results = []
    for name, true_codes, probabilities, label_of in targets:
        predicted = np.argmax(probabilities, axis=1)
        extra: dict[str, Estimate] = {}
        if positive and name in positive:
            code = _positive_code(positive[name], probabilities.shape[1], label_of, name)
            extra = {f"{key}": value for key, value in binary_metrics(
                true_codes, predicted, code, n_boot=n_boot, random_state=random_state).items()
                if key != "accuracy"}
            extra[f"top_{min(top_k, len(true_codes))}_precision"] = top_k_precision(
                true_codes, probabilities, code, min(top_k, len(true_codes)))
        rows, confusion = _value_tables(true_codes, predicted, probabilities.shape[1],
                                        label_of, min_cell)
        results.append(MethodResult(
            method=posterior.method, sensitive=name, population=population,
            n=len(true_codes), hidden=candidates.names, variant=variant,
            label_source=label_source, confusion=confusion, suppressed_below=min_cell,
            metrics={
                "accuracy": accuracy(true_codes, predicted),
                "balanced_accuracy": balanced_accuracy(true_codes, predicted, n_boot=n_boot,
                                                       random_state=random_state),
                "auc": auc_ovr(true_codes, probabilities, n_boot=n_boot,
                               random_state=random_state),
                **extra,
            },
            per_value=rows,
            correct=predicted == true_codes,
        ))
    return results


#: values of an attribute listed one by one, with a confusion matrix; above it (joint
#: candidates), only the values some record holds or was given, and no confusion
MAX_TABLE_VALUES = 256


def _value_tables(truth: np.ndarray, predicted: np.ndarray, size: int,
                  label_of: Callable[[int], str], min_cell: int
                  ) -> tuple[tuple[Mapping[str, Any], ...], tuple[tuple[int | None, ...], ...]]:
    """Per-value precision and recall, and the confusion counts, small counts withheld;
    sized by the values that occur when there are more than ``MAX_TABLE_VALUES`` (K x K
    cells at K = 810,000 joint candidates would be 5 TB; a value no record holds or was
    given has no count)."""
    confusion: tuple[tuple[int | None, ...], ...] = ()
    if size <= MAX_TABLE_VALUES:
        shown: Sequence[int] = range(size)
        codes = (truth, predicted)
        confusion = suppress_confusion(_confusion(truth, predicted, size), min_cell)
    else:
        shown, compact = np.unique(np.concatenate([truth, predicted]), return_inverse=True)
        codes = (compact[:len(truth)], compact[len(truth):])
    rows = per_value(*codes, len(shown))
    hits = np.bincount(codes[0][codes[0] == codes[1]], minlength=len(shown))
    rows = suppress_rows(rows, hits.tolist(), min_cell)
    return tuple({"value": label_of(int(v)), **row}
                 for v, row in zip(shown, rows, strict=True)), confusion


def _confusion(truth: np.ndarray, predicted: np.ndarray, size: int
               ) -> tuple[tuple[int, ...], ...]:
    """Counts of (true value, inferred value): aggregate, never per record."""
    counts = np.bincount(truth * size + predicted, minlength=size * size).reshape(size, size)
    return tuple(tuple(int(c) for c in row) for row in counts)


def _positive_code(value: Any, size: int, label_of: Callable[[int], str], name: str) -> int:
    text = str(value)
    for code in range(size):
        if label_of(code) == text:
            return code
    shown = [label_of(k) for k in range(min(size, 20))]
    raise AttackError(f"positive value {value!r} is not a value of {name!r}; its values "
                      f"are {shown}{' ...' if size > 20 else ''}")


def verdict_sentence(leak: Estimate, method: str, sensitive: str, population: str,
                     over: str, imputation_weak: bool = False) -> str:
    """One sentence saying what the leakage interval shows, in plain words.

    Examples
    --------
    >>> verdict_sentence(Estimate(0.081, 0.05, 0.11), "map (marginal prior)", "VKORC1",
    ...                  "members", "prior-mode")  # doctest: +NORMALIZE_WHITESPACE
    'On members, map (marginal prior) guesses VKORC1 right 8 points more often than
    population statistics allow (+0.081 [+0.050, +0.110] over prior-mode): the model
    leaks VKORC1.'
    """
    figures = f"{leak.value:+.3f} [{leak.low:+.3f}, {leak.high:+.3f}] over {over}"
    where = "the given records" if population == "given" else population
    head = f"On {where}, {method} {size_words(leak.value, sensitive)} ({figures})"
    found = rating(leak.low, leak.high)
    if found == "leaks":
        text = f"{head}: the model leaks {sensitive}."
    elif found == "no measurable leakage":
        text = (f"{head}: no measurable leakage of {sensitive} (a gain of "
                f"{round(100 * RESOLUTION)} points or more is ruled out).")
    else:
        text = (f"{head}: inconclusive (the interval includes no gain and a gain of "
                f"{round(100 * RESOLUTION)} points or more).")
    if imputation_weak:
        text += (" The reference sample is too small for imputation to beat always "
                 "guessing the most common value.")
    return text


def leakage_over(attack: MethodResult, baselines: Sequence[MethodResult], *,
                 n_boot: int = 1000, random_state: int = 0) -> Leakage:
    """Gain of ``attack`` over the best of the model-free ``baselines`` on the same
    records (:func:`~tabinv.evaluation.paired.paired_gain_over_best`); only the
    baselines of :data:`~tabinv.vocabulary.LEAKAGE_BASELINES` count."""
    used = {b.method: b for b in baselines if b.method in LEAKAGE_BASELINES}
    if attack.correct is None or not used \
            or any(b.correct is None for b in used.values()):
        raise ValueError("leakage needs per-record correctness of the attack and of at "
                         f"least one of {', '.join(LEAKAGE_BASELINES)}")
    estimate, over = paired_gain_over_best(
        attack.correct, {name: b.correct for name, b in used.items()}, n_boot=n_boot,
        random_state=random_state)
    scores = {name: b.metrics["accuracy"].value for name, b in used.items()}
    weak = "imputation" in scores and "prior-mode" in scores \
        and scores["imputation"] < scores["prior-mode"]
    return Leakage(attack.method, attack.variant, attack.sensitive, attack.population,
                   over, scores, estimate, rating(estimate.low, estimate.high),
                   size_words(estimate.value, attack.sensitive), weak,
                   verdict_sentence(estimate, attack.key, attack.sensitive,
                                    attack.population, over, weak))


def strongest_over(attacks: Sequence[MethodResult], baselines: Sequence[MethodResult], *,
                   n_boot: int = 1000, random_state: int = 0,
                   folds: int = DEFAULT_FOLDS) -> Strongest:
    """The strongest of ``attacks`` (one attribute and population, the same records),
    chosen out of fold (:func:`~tabinv.evaluation.selection.cross_fitted_choice`), and
    its gain over the best model-free ``baselines`` (:func:`leakage_over`'s rules).

    The verdict names the attack most folds chose; its figures are those of the
    cross-fitted correctness, so choosing among many attacks does not inflate them.
    """
    if not attacks or any(a.correct is None for a in attacks):
        raise ValueError("the strongest attack needs per-record correctness of each attack")
    by_key = {a.key: a for a in attacks}
    choice = cross_fitted_choice({key: a.correct for key, a in by_key.items()}, folds,
                                 random_state)
    favourite = by_key[choice.favourite]
    combined = MethodResult(favourite.method, favourite.sensitive, favourite.population,
                            favourite.n, {}, variant=favourite.variant,
                            correct=choice.correct)
    leak = leakage_over(combined, baselines, n_boot=n_boot, random_state=random_state)
    if len(by_key) > 1:
        chosen = ", ".join(f"{key} in {count} of {choice.folds} folds"
                           for key, count in choice.chosen.items())
        label = f"the strongest of {len(by_key)} attacks ({chosen})"
        leak = replace(leak, verdict=verdict_sentence(
            leak.estimate, label, leak.sensitive, leak.population, leak.over,
            leak.imputation_weak))
    hits = int(choice.correct.sum())
    return Strongest(leak, wilson(hits, choice.correct.size), choice.describe())


def membership_gap(members: MethodResult, non_members: MethodResult) -> dict[str, Any]:
    """Members' minus non-members' accuracy (Newcombe's interval for two proportions)."""
    first, second = members.metrics["accuracy"], non_members.metrics["accuracy"]
    difference = first.value - second.value
    low = difference - math.hypot(first.value - first.low, second.high - second.value)
    high = difference + math.hypot(first.high - first.value, second.value - second.low)
    return {"method": members.method, "variant": members.variant,
            "sensitive": members.sensitive,
            "difference": Estimate(difference, low, high).to_dict()}


