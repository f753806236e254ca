"""Attack accuracy of tabinv against IBM ART on the same fitted models and records.

Used by ``test_art_accuracy.py``. One *case* is a data set, a model family, a label
and a sensitive attribute; tabinv's own loader and a seeded split give the members (the
model's training records), the non-members and the attacker's reference sample, the
same for both tools. The model is fitted once, with ``categorical="ordinal"`` so that
the sensitive attribute is one column holding its category index, as ART expects.

The attacker holds one label per record, by ``label_source``: the record's true label
or the model's prediction on the full record (tabinv's ``label_source``). Every method
of both tools gets that label wherever it takes one:

- tabinv: every registered attack (``attacks=["all"]``) with the marginal and the
  learned prior, plus ``map`` with ``likelihood="calibrated"``, through
  :func:`tabinv.api.assess`; its model-free baselines are the yardstick.
- ART: ``AttributeInferenceBlackBox`` (attack models ``rf`` and ``gb``; ``nn``, ART's
  default, only when PyTorch is importable), each fitted on the reference sample
  without and with its labels (``+y``), given the attacker's label as ``pred`` (and as
  ``y`` for ``+y``); for a single tree also the white-box decision-tree attacks
  (Fredrikson et al. 2015 and the "lifestyle" variant), with the reference sample's
  smoothed frequencies as priors. ART's baselines (``AttributeInferenceBaselineTrueLabel``
  and ``AttributeInferenceBaseline``, ``rf`` and ``gb``) use no model: they are reported
  but are not ART attacks.

The strongest attack of each side is chosen out of fold
(:func:`~tabinv.evaluation.selection.cross_fitted_choice`), and the two are compared
record by record (:func:`~tabinv.evaluation.paired.paired_accuracy_difference`).
"""

from __future__ import annotations

import importlib.util
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from tabinv.api import assess, load_dataset, split_dataset
from tabinv.data.splits import Splits
from tabinv.evaluation.paired import paired_accuracy_difference, paired_gain_over_best
from tabinv.evaluation.selection import cross_fitted_choice
from tabinv.models.encoding import encode_codes
from tabinv.models.families import make_model
from tabinv.models.target import TargetModel
from tabinv.vocabulary import BASELINES, LEAKAGE_BASELINES

SEED = 0
N_BOOT = 2000
POPULATIONS = {"members": "members", "non-members": "non_members"}
LABEL_SOURCES = ("true", "predicted")


@dataclass(frozen=True)
class Case:
    """A data set, a model family and the attribute attacked."""

    name: str
    dataset: str
    family: str
    label: str
    sensitive: str
    params: Mapping[str, Any] = field(default_factory=dict)


CASES = (
    Case("iwpc-tree", "iwpc", "tree", "dose_class", "vkorc1", {"max_depth": 8}),
    Case("gss-tree", "gss", "tree", "abany", "partyid"),
    Case("gss-forest", "gss", "forest", "abany", "partyid"),
)


@dataclass
class World:
    """One case, fitted: the splits, the model and the encoded records ART sees."""

    case: Case
    dataset: Any
    splits: Splits
    model: TargetModel
    column: int  # the sensitive attribute's column in the encoded matrix
    k: int
    limit: int | None = None  # attack only the first records of each population

    def attacked(self) -> Splits:
        """The splits whose members and non-members are attacked (the first ``limit``
        of each: the smoke run), the reference sample whole."""
        head = slice(None, self.limit)
        return Splits(members=self.splits.members.iloc[head],
                      non_members=self.splits.non_members.iloc[head],
                      reference=self.splits.reference)

    def codes(self, frame: pd.DataFrame) -> np.ndarray:
        """Category index of the sensitive attribute of each record."""
        domain = self.model.encoder_.domain(self.case.sensitive)
        return encode_codes(frame[self.case.sensitive], domain, self.case.sensitive)

    def label_index(self, frame: pd.DataFrame, label_source: str) -> np.ndarray:
        """The attacker's label of each record (class index of the estimator)."""
        labels = frame[self.model.label] if label_source == "true" \
            else self.model.predict(frame)
        encoded = self.model.encode_label(labels)
        return np.searchsorted(self.model.classes_present_, encoded)

    def one_hot(self, frame: pd.DataFrame, label_source: str) -> np.ndarray:
        """The attacker's labels one-hot (ART's label format, every class a column)."""
        index = self.label_index(frame, label_source)
        return np.eye(len(self.model.classes_present_))[index]

    def priors(self) -> list[float]:
        """The reference sample's smoothed frequencies (ART's white-box priors)."""
        counts = np.bincount(self.codes(self.splits.reference), minlength=self.k) + 1.0
        return list(counts / counts.sum())


def build(case: Case, seed: int = SEED, limit: int | None = None) -> World:
    """Load the case's data set, split it (seeded) and fit its model on the members
    (all of them; ``limit`` only shortens the attacked populations)."""
    dataset = load_dataset(case.dataset)
    card = dataset.card.with_label(case.label)
    splits = split_dataset(dataset.frame, random_state=seed)
    model = make_model(case.family, card, random_state=seed, categorical="ordinal",
                       **case.params).fit(splits.members)
    start, stop = model.encoder_.slices_[case.sensitive]
    if stop - start != 1 or stop == len(model.features):
        raise AssertionError(f"{case.sensitive} must be one column, not the last (ART)")
    k = len(model.encoder_.domain(case.sensitive))
    return World(case, dataset, splits, model, start, k, limit)


# --- tabinv -------------------------------------------------------------------------

def tabinv_flags(world: World, label_source: str
                 ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, np.ndarray]]]:
    """Per population, each tabinv attack's and each model-free baseline's correctness."""
    case = world.case
    common = {"sensitive": [case.sensitive], "splits": world.attacked(),
              "label": case.label, "label_source": label_source, "n_boot": 20,
              "random_state": SEED}
    # every attack; `all` also runs map and confidence with the calibrated likelihood,
    # and boosted imputation joins the baselines because meta runs
    assessment = assess(world.dataset, world.model, attacks=["all"],
                        priors=["marginal", "learned"], **common)
    attacks: dict[str, dict[str, np.ndarray]] = {p: {} for p in POPULATIONS}
    baselines: dict[str, dict[str, np.ndarray]] = {p: {} for p in POPULATIONS}
    for result in assessment.results:
        if result.population not in POPULATIONS or result.sensitive != case.sensitive:
            continue
        if result.method in LEAKAGE_BASELINES:
            baselines[result.population].setdefault(result.key, result.correct)
        elif result.method not in BASELINES:
            attacks[result.population][result.key] = np.asarray(result.correct, bool)
    return attacks, baselines


# --- ART ----------------------------------------------------------------------------

def _art() -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from art.attacks.inference import attribute_inference
    return attribute_inference


def art_model_types() -> tuple[str, ...]:
    """ART's attack-model types run here: ``nn`` (its default) needs PyTorch."""
    has_torch = importlib.util.find_spec("torch") is not None
    return ("nn", "rf", "gb") if has_torch else ("rf", "gb")


def _estimator(world: World) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from art.estimators.classification.scikitlearn import (
            ScikitlearnClassifier,
            ScikitlearnDecisionTreeClassifier,
        )
    wrap = ScikitlearnDecisionTreeClassifier if world.case.family == "tree" \
        else ScikitlearnClassifier
    return wrap(world.model.estimator_)


#: a fitted ART method: (attacked records, label source) -> guessed category indices
Guess = Callable[[pd.DataFrame, str], np.ndarray]


def art_methods(world: World, kinds: tuple[str, ...] | None = None
                ) -> tuple[dict[str, Guess], dict[str, Guess]]:
    """ART's attacks and baselines, fitted once on the reference sample (with its true
    labels: the attacker knows its own sample), by name."""
    art = _art()
    model, column = world.model, world.column
    ref_x = model.encode(world.splits.reference)
    ref_y = world.one_hot(world.splits.reference, label_source="true")

    def without(frame: pd.DataFrame) -> np.ndarray:
        return np.delete(model.encode(frame), column, axis=1)

    values = list(range(world.k))
    attacks: dict[str, Guess] = {}
    baselines: dict[str, Guess] = {}
    estimator = _estimator(world)
    for kind in kinds or art_model_types():
        for with_y in (False, True):
            attack = _seeded(art.AttributeInferenceBlackBox(
                estimator, attack_model_type=kind, attack_feature=column))
            attack.fit(ref_x, y=ref_y if with_y else None)
            attacks[f"blackbox-{kind}{'+y' if with_y else ''}"] = _black_box(
                attack, world, without, values, with_y)
        true_label = _seeded(art.AttributeInferenceBaselineTrueLabel(
            attack_model_type=kind, attack_feature=column))
        true_label.fit(ref_x, ref_y)
        baselines[f"baseline-true-label-{kind}"] = (
            lambda frame, source, a=true_label: a.infer(without(frame),
                                                        y=world.one_hot(frame, source)))
        plain = _seeded(art.AttributeInferenceBaseline(attack_model_type=kind,
                                                       attack_feature=column))
        plain.fit(ref_x)
        baselines[f"baseline-{kind}"] = lambda frame, _, a=plain: a.infer(without(frame))
    if world.case.family == "tree":
        priors = world.priors()
        rule = art.AttributeInferenceWhiteBoxDecisionTree(estimator, attack_feature=column)
        attacks["whitebox-dt"] = lambda frame, source: rule.infer(
            without(frame), world.label_index(frame, source), values=values, priors=priors)
        lifestyle = art.AttributeInferenceWhiteBoxLifestyleDecisionTree(
            estimator, attack_feature=column)
        attacks["whitebox-lifestyle-dt"] = lambda frame, _: lifestyle.infer(
            without(frame), None, values=values, priors=priors)
    return attacks, baselines


def _seeded(attack: Any) -> Any:
    """ART builds its rf / gb attack models unseeded: seed them (same configuration)."""
    model = getattr(attack, "attack_model", None)
    if model is not None and "random_state" in model.get_params():
        model.set_params(random_state=SEED)
    return attack


def _black_box(attack: Any, world: World, without: Callable[[pd.DataFrame], np.ndarray],
               values: list[int], with_y: bool) -> Guess:
    """ART's black box given the attacker's label as the model's prediction (``pred``)
    and, for ``+y``, as the label too."""
    def infer(frame: pd.DataFrame, label_source: str) -> np.ndarray:
        pred = world.label_index(frame, label_source).reshape(-1, 1)
        y = world.one_hot(frame, label_source) if with_y else None
        return attack.infer(without(frame), y=y, pred=pred, values=values)
    return infer


def art_flags(world: World, methods: tuple[dict[str, Guess], dict[str, Guess]],
              label_source: str
              ) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, dict[str, np.ndarray]]]:
    """Per population, each ART attack's and baseline's correctness."""
    out: tuple[dict[str, dict[str, np.ndarray]], ...] = ({}, {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for population, split in POPULATIONS.items():
            frame = getattr(world.attacked(), split)
            truth = world.codes(frame)
            for kept, guesses in zip(out, methods, strict=True):
                kept[population] = {
                    name: np.asarray(guess(frame, label_source)).astype(int).ravel() == truth
                    for name, guess in guesses.items()}
    return out[0], out[1]


# --- comparison ---------------------------------------------------------------------

def compare_cell(tabinv: Mapping[str, np.ndarray], tabinv_baselines: Mapping[str, np.ndarray],
                 art: Mapping[str, np.ndarray], art_baselines: Mapping[str, np.ndarray]
                 ) -> dict[str, Any]:
    """One cell of the table: both sides' strongest attack chosen out of fold, their
    paired difference, the gain of each over the best model-free baseline."""
    ours, theirs = cross_fitted_choice(tabinv, random_state=SEED), \
        cross_fitted_choice(art, random_state=SEED)
    true_label = cross_fitted_choice(
        {k: v for k, v in art_baselines.items() if k.startswith("baseline-true-label")},
        random_state=SEED)
    difference = paired_accuracy_difference(ours.correct, theirs.correct, n_boot=N_BOOT,
                                            random_state=SEED)
    over_true_label = paired_accuracy_difference(ours.correct, true_label.correct,
                                                 n_boot=N_BOOT, random_state=SEED)
    gain_ours, best = paired_gain_over_best(ours.correct, tabinv_baselines, n_boot=N_BOOT,
                                            random_state=SEED)
    gain_theirs, _ = paired_gain_over_best(theirs.correct, tabinv_baselines,
                                           n_boot=N_BOOT, random_state=SEED)
    beats_baseline = gain_ours.low > 0 or gain_theirs.low > 0
    return {
        "n": int(ours.correct.size),
        "best_baseline": best,
        "best_baseline_accuracy": float(np.mean(tabinv_baselines[best])),
        "tabinv": _side(ours, tabinv, gain_ours),
        "art": _side(theirs, art, gain_theirs),
        "art_baselines": {k: float(np.mean(v)) for k, v in art_baselines.items()},
        "art_baseline_true_label": {**true_label.describe(),
                                    "favourite": true_label.favourite,
                                    "accuracy": true_label.accuracy},
        "difference": difference.to_dict(),
        "difference_over_art_baseline_true_label": over_true_label.to_dict(),
        "any_attack_beats_best_baseline": bool(beats_baseline),
        "never_below": bool(difference.high >= 0),
        "above_where_needed": bool(difference.low > 0 or not beats_baseline),
    }


def _side(choice: Any, flags: Mapping[str, np.ndarray], gain: Any) -> dict[str, Any]:
    return {"favourite": choice.favourite, "accuracy": choice.accuracy,
            "selection": choice.describe(), "gain_over_best_baseline": gain.to_dict(),
            "accuracy_by_attack": {k: float(np.mean(v)) for k, v in flags.items()}}


def run_case(case: Case, limit: int | None = None, kinds: tuple[str, ...] | None = None
             ) -> list[dict[str, Any]]:
    """The four cells (label sources x populations) of one case. ``limit`` attacks only
    the first records of each population and ``kinds`` narrows ART's attack models (the
    smoke run)."""
    world = build(case, limit=limit)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        methods = art_methods(world, kinds)
    rows = []
    for label_source in LABEL_SOURCES:
        ours, our_baselines = tabinv_flags(world, label_source)
        theirs, their_baselines = art_flags(world, methods, label_source)
        for population in POPULATIONS:
            cell = compare_cell(ours[population], our_baselines[population],
                                theirs[population], their_baselines[population])
            rows.append({"case": case.name, "dataset": case.dataset,
                         "family": case.family, "label": case.label,
                         "sensitive": case.sensitive, "k": world.k,
                         "label_source": label_source, "population": population, **cell})
    return rows
