"""The strongest attack chosen out of fold (issue 17, item 4)."""

from __future__ import annotations

import numpy as np
import pytest

from tabinv.evaluation.estimate import Estimate
from tabinv.evaluation.results import MethodResult, leakage_over, strongest_over
from tabinv.evaluation.selection import cross_fitted_choice
from tabinv.exceptions import DataError


def brute_force(correct: dict[str, np.ndarray], folds: int, seed: int) -> np.ndarray:
    """The kept flags, record by record, with loops: the part of the record at position
    ``i`` of the seeded permutation is ``i % folds``; each part keeps the flags of the
    first attack with the most hits on the other parts."""
    names = list(correct)
    n = len(correct[names[0]])
    order = np.random.default_rng(seed).permutation(n)
    part = [0] * n
    for position, record in enumerate(order):
        part[record] = position % folds
    kept = np.zeros(n, dtype=bool)
    for f in range(folds):
        best, best_hits = None, -1
        for name in names:
            hits = sum(1 for i in range(n) if part[i] != f and correct[name][i])
            if hits > best_hits:
                best, best_hits = name, hits
        for i in range(n):
            if part[i] == f:
                kept[i] = correct[best][i]
    return kept


@pytest.mark.parametrize("seed", [0, 1, 7])
@pytest.mark.parametrize("folds", [2, 3, 5])
def test_choice_equals_a_brute_force_reference(seed: int, folds: int) -> None:
    rng = np.random.default_rng(100 + seed)
    correct = {f"a{j}": rng.random(23) < p for j, p in enumerate((0.4, 0.5, 0.55, 0.5))}
    choice = cross_fitted_choice(correct, folds, random_state=seed)
    np.testing.assert_array_equal(choice.correct, brute_force(correct, folds, seed))
    assert sum(choice.chosen.values()) == folds == choice.folds
    assert choice.considered == tuple(correct)
    assert choice.chosen[choice.favourite] == max(choice.chosen.values())


def test_a_clearly_strongest_attack_is_chosen_by_every_fold() -> None:
    rng = np.random.default_rng(3)
    strong, weak = rng.random(400) < 0.9, rng.random(400) < 0.3
    choice = cross_fitted_choice({"weak": weak, "strong": strong}, 5, random_state=0)
    assert choice.chosen == {"strong": 5} and choice.favourite == "strong"
    np.testing.assert_array_equal(choice.correct, strong)
    assert choice.describe() == {"procedure": "cross-fitted", "folds": 5,
                                 "chosen": {"strong": 5}, "considered": ["weak", "strong"]}


def test_one_attack_or_one_record_is_not_split() -> None:
    alone = cross_fitted_choice({"map": [1, 0, 1]})
    assert alone.folds == 1 and alone.chosen == {"map": 1} and alone.accuracy == 2 / 3
    single = cross_fitted_choice({"a": [0], "b": [1]})
    assert single.favourite == "b" and single.correct.tolist() == [True]


def test_choosing_among_equal_attacks_does_not_inflate_accuracy() -> None:
    """Ten attacks that are each right on a coin flip: the most accurate of them on the
    records scored is about 4 points above 0.5 on 200 records, the cross-fitted choice
    stays at 0.5 (the mean over 300 repetitions: standard error 0.002)."""
    rng = np.random.default_rng(11)
    in_sample, cross_fitted = [], []
    for repetition in range(300):
        correct = {f"a{j}": rng.random(200) < 0.5 for j in range(10)}
        in_sample.append(max(flags.mean() for flags in correct.values()))
        cross_fitted.append(cross_fitted_choice(correct, 5, repetition).accuracy)
    assert np.mean(in_sample) > 0.53
    assert abs(np.mean(cross_fitted) - 0.5) < 0.01


def test_choice_is_seeded() -> None:
    rng = np.random.default_rng(5)
    correct = {f"a{j}": rng.random(60) < 0.5 for j in range(4)}
    first, again = (cross_fitted_choice(correct, 5, 42) for _ in range(2))
    np.testing.assert_array_equal(first.correct, again.correct)
    assert first.chosen == again.chosen
    others = [cross_fitted_choice(correct, 5, seed).correct for seed in range(10)]
    assert any(not np.array_equal(first.correct, other) for other in others)


@pytest.mark.parametrize(("correct", "folds", "message"), [
    ({}, 5, "^choosing the strongest attack needs at least one attack$"),
    ({"a": [1, 0], "b": [1]}, 5, "^every attack's correctness must describe the same "
     r"records, received lengths \[2, 1\]$"),
    ({"a": [1, 0]}, 1, "^folds must be an integer of at least 2, received 1$"),
    ({"a": [1, 0]}, True, "^folds must be an integer of at least 2, received True$"),
    ({"a": [1, 2]}, 5, r"^correct\['a'\] must hold booleans or 0/1"),
])
def test_bad_input_is_one_clear_error(correct: dict, folds: int, message: str) -> None:
    with pytest.raises(DataError, match=message):
        cross_fitted_choice(correct, folds)


def _result(method: str, variant: str, correct: np.ndarray) -> MethodResult:
    n = len(correct)
    value = float(np.mean(correct))
    return MethodResult(method, "vkorc1", "members", n, {
        "accuracy": Estimate(value, value, value)}, variant=variant, correct=correct)


def test_strongest_over_names_the_favourite_and_scores_the_out_of_fold_flags() -> None:
    rng = np.random.default_rng(9)
    truth_like = rng.random(300)
    attacks = [_result("map", "learned prior", truth_like < 0.8),
               _result("map", "marginal prior", truth_like < 0.6),
               _result("csmia", "", rng.random(300) < 0.5)]
    baselines = [_result("prior-mode", "", truth_like < 0.4),
                 _result("imputation", "", truth_like < 0.55)]
    found = strongest_over(attacks, baselines, n_boot=200, random_state=0)
    assert (found.leakage.method, found.leakage.variant) == ("map", "learned prior")
    assert found.selection["chosen"] == {"map (learned prior)": 5}
    assert found.selection["considered"] == ["map (learned prior)", "map (marginal prior)",
                                             "csmia"]
    # chosen by every fold: the figures are the favourite's own
    own = leakage_over(attacks[0], baselines, n_boot=200, random_state=0)
    assert found.leakage.estimate == own.estimate and found.leakage.over == "imputation"
    assert found.accuracy.value == pytest.approx(0.8, abs=0.05)
    assert found.leakage.verdict.startswith(
        "On members, the strongest of 3 attacks (map (learned prior) in 5 of 5 folds) ")
    assert found.to_dict()["selection"]["procedure"] == "cross-fitted"


def test_strongest_over_a_single_attack_is_its_own_leakage() -> None:
    rng = np.random.default_rng(2)
    attack = _result("map", "marginal prior", rng.random(100) < 0.6)
    baselines = [_result("prior-mode", "", rng.random(100) < 0.5)]
    found = strongest_over([attack], baselines, n_boot=100, random_state=3)
    assert found.leakage == leakage_over(attack, baselines, n_boot=100, random_state=3)
    assert found.selection["folds"] == 1
