"""CSMIA and LOMIA (vectorised) against the loop references in ``label_only_reference``.

Small random cards, data and models of every classifier family (logistic, trees,
forests, xgboost, naive Bayes), raw and rounded confidences, label-only oracles, one or
two sensitive attributes, zero to two unknown features: identical decisions (CSMIA ties
broken identically with the same seed), identical LOMIA training sets, posteriors equal
to 1e-9. Also: the three |M| cases and ties are all exercised, hand-computed decision
tables, properties of the scores, seeds, chunking, fallback to the prior, refusals.
"""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tabinv.attacks.csmia import (
    CSMIA,
    TIE_TOLERANCE,
    csmia_decision,
    csmia_scores,
    predicts_label,
)
from tabinv.attacks.lomia import LOMIA
from tabinv.attacks.registry import ATTACKS, get_attack
from tabinv.exceptions import AttackError
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle

from .label_only_reference import brute_force_csmia, brute_force_lomia, lomia_matches
from .reference import ToyWorld
from .test_map_reference import NUMERIC_POINTS, Case, Setup, build

TOLERANCE = 1e-9
C = "classification"

CSMIA_CASES = [
    Case(C, "logistic", "confidence", None, n_sensitive=1, seed=301),
    Case(C, "tree", "confidence", None, n_sensitive=2, seed=302, domain_sizes=(3, 3, 2)),
    Case(C, "tree", "confidence", 1, n_sensitive=1, unknown=("c2",), seed=303),
    Case(C, "forest", "confidence", 2, n_sensitive=2, unknown=("n0",), seed=304,
         n_classes=2),
    Case(C, "xgboost", "confidence", None, n_sensitive=1, unknown=("c2", "n0"), seed=305),
    Case(C, "naive-bayes", "confidence", 2, n_sensitive=1, unknown=("n0", "n1"), seed=311,
         domain_sizes=(4, 2, 3)),
    Case(C, "logistic", "confidence", 0, n_sensitive=2, unknown=("c2",), seed=307),
    Case(C, "xgboost", "confidence", 1, n_sensitive=2, encoding="ordinal", seed=308,
         n_classes=2),
    Case(C, "forest", "confidence", None, n_sensitive=1, unknown=("c2", "n0"),
         encoding="ordinal", seed=309, domain_sizes=(4, 2, 2)),
    Case(C, "tree", "confidence", 2, n_sensitive=1, unknown=("n0", "n1"),
         encoding="ordinal", seed=310),
]
#: seeds chosen so that 8+ records have exactly one matching candidate, of 2+ distinct
#: candidates (otherwise LOMIA falls back to the prior, tested separately)
LOMIA_CASES = [
    Case(C, "logistic", "label", n_sensitive=1, seed=401),
    Case(C, "tree", "label", n_sensitive=2, unknown=("c2",), seed=402),
    Case(C, "forest", "label", n_sensitive=1, unknown=("n0",), seed=423, n_classes=2),
    Case(C, "xgboost", "label", n_sensitive=1, unknown=("c2", "n0"), seed=454,
         encoding="ordinal"),
    Case(C, "naive-bayes", "label", n_sensitive=2, seed=415, domain_sizes=(2, 2, 3)),
    Case(C, "tree", "confidence", 1, n_sensitive=1, unknown=("n0", "n1"), seed=586),
    Case(C, "logistic", "confidence", None, n_sensitive=1, unknown=("c2",), seed=417,
         domain_sizes=(4, 2, 3)),
    Case(C, "xgboost", "confidence", 0, n_sensitive=2, seed=478),
    Case(C, "naive-bayes", "confidence", 2, n_sensitive=1, unknown=("n0",), seed=419),
]


@functools.cache
def setup_of(case: Case) -> Setup:
    """The case's world and model; attacked: 35 members and 40 non-members."""
    setup = build(case)
    # the index does not start at 0 and repeats
    setup.attacked = pd.concat([setup.members.iloc[5:], setup.world.sample(40)])
    return setup


def grid_params(setup: Setup) -> dict[str, Any]:
    return {"sensitive": setup.case.sensitive, "known": setup.known,
            "reference": setup.reference, "rounding": setup.case.rounding,
            "numeric_points": NUMERIC_POINTS}


@functools.cache
def csmia_reference(case: Case, seed: int) -> tuple[np.ndarray, np.ndarray, list[int],
                                                    list[bool]]:
    setup = setup_of(case)
    return brute_force_csmia(setup.model, setup.attacked, random_state=seed,
                             **grid_params(setup))


def fit(attack_class: type, setup: Setup, **params: Any) -> Any:
    params = {"numeric_points": NUMERIC_POINTS, **params}
    return attack_class(**params).fit(setup.oracle, sensitive=setup.case.sensitive,
                                      known=setup.known, reference=setup.reference)


# -- CSMIA ------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 7])
@pytest.mark.parametrize("case", CSMIA_CASES, ids=Case.id)
def test_csmia_matches_brute_force(case: Case, seed: int) -> None:
    setup = setup_of(case)
    attack = fit(CSMIA, setup, random_state=seed)
    posterior = attack.infer(setup.attacked)
    decisions, scores, _, _ = csmia_reference(case, seed)
    np.testing.assert_array_equal(posterior.predicted_index(), decisions)
    np.testing.assert_allclose(posterior.probabilities, scores, rtol=0, atol=TOLERANCE)
    # informative: the model's confidences move with the candidate for some record
    confidences = attack.expected_confidences(setup.attacked)
    assert np.ptp(confidences, axis=1).max() > 1e-3


def test_csmia_cases_cover_every_branch_and_ties() -> None:
    """Across the cases: |M| = 0, 1 and >= 2, ties within M and among all candidates,
    and ties that the two seeds break differently."""
    sizes, tied_sizes, broken_differently = set(), set(), 0
    for case in CSMIA_CASES:
        first, _, case_sizes, ties = csmia_reference(case, 0)
        second = csmia_reference(case, 7)[0]
        sizes |= {min(s, 2) for s in case_sizes}
        tied_sizes |= {min(s, 2) for s, tie in zip(case_sizes, ties, strict=True) if tie}
        broken_differently += int((first != second).sum())
        # decisions differ only where there was a tie
        assert all(ties[i] for i in np.flatnonzero(first != second))
    assert sizes == {0, 1, 2}
    assert tied_sizes == {0, 2}
    assert broken_differently > 0


def test_same_seed_same_bytes_and_generators_are_consumed() -> None:
    case = CSMIA_CASES[1]
    setup = setup_of(case)
    first = fit(CSMIA, setup, random_state=3).infer(setup.attacked).probabilities
    again = fit(CSMIA, setup, random_state=3).infer(setup.attacked).probabilities
    assert first.tobytes() == again.tobytes()
    attack = fit(CSMIA, setup, random_state=3)  # an int seed: every infer call is the same
    assert attack.infer(setup.attacked).probabilities.tobytes() == first.tobytes()
    assert attack.infer(setup.attacked).probabilities.tobytes() == first.tobytes()
    generator = np.random.default_rng(3)  # a Generator: drawn from, call after call
    attack = fit(CSMIA, setup, random_state=generator)
    assert attack.infer(setup.attacked).probabilities.tobytes() == first.tobytes()
    later = [attack.infer(setup.attacked).predicted_index() for _ in range(5)]
    assert any((p != first.argmax(axis=1)).any() for p in later)


@pytest.mark.parametrize("case", [CSMIA_CASES[4], CSMIA_CASES[6]], ids=Case.id)
def test_csmia_one_record_chunks_change_nothing(case: Case) -> None:
    setup = setup_of(case)
    whole = fit(CSMIA, setup).infer(setup.attacked).probabilities
    attack = fit(CSMIA, setup)  # at the least budget that fits, chunks hold one record
    attack.set_params(memory=attack.memory_needed(len(setup.attacked)))
    grid = attack.grid_
    assert grid.chunk_size(grid.point_width(attack.oracle_), attack.memory,
                           attack.reserved_bytes(len(setup.attacked))) == 1
    chunked = attack.infer(setup.attacked).probabilities
    np.testing.assert_array_equal(chunked.argmax(axis=1), whole.argmax(axis=1))
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-12)


def test_csmia_with_the_models_predictions_as_labels() -> None:
    """labels= replaces the true label: then |M| >= 1 whenever no feature is unknown."""
    case = CSMIA_CASES[0]
    setup = setup_of(case)
    labels = list(setup.model.predict(setup.attacked))
    posterior = fit(CSMIA, setup).infer(setup.attacked, labels)
    decisions, scores, sizes, _ = brute_force_csmia(setup.model, setup.attacked,
                                                    random_state=0, labels=labels,
                                                    **grid_params(setup))
    np.testing.assert_array_equal(posterior.predicted_index(), decisions)
    np.testing.assert_allclose(posterior.probabilities, scores, rtol=0, atol=TOLERANCE)
    assert min(sizes) >= 1


# hand-computed: (confidence for y, M, priority) -> decision
DECISIONS = [
    ([0.6, 0.7, 0.2], [True, False, False], [0.1, 0.2, 0.3], 0),   # |M| = 1
    ([0.2, 0.9, 0.5], [True, False, False], [0.9, 0.1, 0.1], 0),   # |M| = 1, not the max
    ([0.6, 0.7, 0.9], [True, True, False], [0.1, 0.2, 0.3], 1),    # |M| = 2: best in M
    ([0.6, 0.6, 0.9], [True, True, False], [0.1, 0.2, 0.3], 1),    # |M| = 2, tie: priority
    ([0.6, 0.6, 0.9], [True, True, False], [0.5, 0.2, 0.3], 0),    # same tie, other priority
    ([0.3, 0.1, 0.4], [False, False, False], [0.1, 0.2, 0.3], 1),  # |M| = 0: lowest
    ([0.1, 0.3, 0.1], [False, False, False], [0.1, 0.2, 0.3], 2),  # |M| = 0, tie: priority
    ([0.1, 0.3, 0.1 + 0.5 * TIE_TOLERANCE], [False] * 3, [0.4, 0.2, 0.3], 0),  # near tie
    ([0.5, 0.5], [True, True], [0.2, 0.1], 0),                        # everything tied
]


@pytest.mark.parametrize(("confidence", "matches", "priority", "expected"), DECISIONS)
def test_csmia_decision_hand_computed(confidence: list[float], matches: list[bool],
                                      priority: list[float], expected: int) -> None:
    c, m = np.array([confidence]), np.array([matches])
    decision = csmia_decision(c, m, np.array([priority]))
    assert decision.tolist() == [expected]
    scores = csmia_scores(c, m, decision)
    assert scores.argmax(axis=1).tolist() == [expected]
    assert np.isclose(scores.sum(), 1.0)


def test_csmia_scores_hand_computed() -> None:
    """[v in M] + c(v) when M is non-empty, 1 - c(v) otherwise, normalised."""
    c = np.array([[0.6, 0.7, 0.2], [0.3, 0.1, 0.4]])
    m = np.array([[True, False, False], [False, False, False]])
    scores = csmia_scores(c, m, np.array([0, 1]))
    np.testing.assert_allclose(scores[0], np.array([1.6, 0.7, 0.2]) / 2.5, atol=1e-8)
    np.testing.assert_allclose(scores[1], np.array([0.7, 0.9, 0.6]) / 2.2, atol=1e-8)


values = st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0]) | st.floats(0, 1)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 4), st.integers(1, 5), st.integers(2, 3), st.data())
def test_csmia_score_properties(n: int, k: int, n_classes: int, data: st.DataObject) -> None:
    """On arbitrary (rounded-looking) confidences: the argmax of the scores is the
    decision, the decision follows the rule with ties broken by priority, members of M
    outrank non-members, rows are probabilities."""
    outputs = np.array(data.draw(st.lists(values, min_size=n * k * n_classes,
                                          max_size=n * k * n_classes))).reshape(n, k, n_classes)
    y = np.array(data.draw(st.lists(st.integers(0, n_classes - 1), min_size=n, max_size=n)))
    c = outputs[np.arange(n), :, y]
    m = predicts_label(outputs, y)
    priority = np.random.default_rng(data.draw(st.integers(0, 99))).random((n, k))
    decision = csmia_decision(c, m, priority)
    scores = csmia_scores(c, m, decision)
    np.testing.assert_array_equal(scores.argmax(axis=1), decision)
    assert (scores >= 0).all()
    np.testing.assert_allclose(scores.sum(axis=1), 1.0)
    for i in range(n):
        if m[i].any():
            best = c[i, m[i]].max()
            tied = [j for j in range(k) if m[i, j] and c[i, j] >= best - TIE_TOLERANCE]
            assert scores[i, m[i]].min() > scores[i, ~m[i]].max(initial=-1.0)
        else:
            lowest = c[i].min()
            tied = [j for j in range(k) if c[i, j] <= lowest + TIE_TOLERANCE]
        assert decision[i] in tied
        assert priority[i, decision[i]] == max(priority[i, j] for j in tied)


# -- LOMIA ------------------------------------------------------------------------------

@pytest.mark.parametrize("case", LOMIA_CASES, ids=Case.id)
def test_lomia_matches_brute_force(case: Case) -> None:
    setup = setup_of(case)
    attack = fit(LOMIA, setup, random_state=5)
    posterior = attack.infer(setup.attacked)
    slow, rows, targets = brute_force_lomia(setup.model, setup.attacked, access=case.access,
                                            random_state=5, **grid_params(setup))
    matches = attack.reproduces(setup.attacked)
    slow_matches = lomia_matches(setup.model, setup.attacked, access=case.access,
                                 **grid_params(setup))
    np.testing.assert_array_equal(matches, np.array(slow_matches))
    assert np.flatnonzero(matches.sum(axis=1) == 1).tolist() == rows
    assert attack.describe()["training_set"]["records"] == len(rows)
    assert len(set(targets)) >= 2 and attack.describe()["training_set"]["fallback"] is None
    np.testing.assert_allclose(posterior.probabilities, slow, rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal(posterior.predicted_index(), slow.argmax(axis=1))
    # informative: some record is reproduced by some candidates and not by others
    assert (matches.any(axis=1) & ~matches.all(axis=1)).any()


def test_lomia_uses_only_labels_of_a_confidence_oracle() -> None:
    """On a confidence oracle without rounding, LOMIA equals LOMIA on the label oracle."""
    case = LOMIA_CASES[6]
    setup = setup_of(case)
    with_confidences = fit(LOMIA, setup).infer(setup.attacked).probabilities
    labels_only = replace(setup, oracle=Oracle.for_model(setup.model, "label-only"))
    np.testing.assert_array_equal(fit(LOMIA, labels_only).infer(setup.attacked).probabilities,
                                  with_confidences)


def test_lomia_one_record_chunks_change_nothing() -> None:
    setup = setup_of(LOMIA_CASES[3])
    whole = fit(LOMIA, setup).infer(setup.attacked).probabilities
    attack = fit(LOMIA, setup)  # at the least budget that fits, chunks hold one record
    attack.set_params(memory=attack.memory_needed(len(setup.attacked)))
    chunked = attack.infer(setup.attacked).probabilities
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=1e-12)


def test_lomia_falls_back_to_the_prior_with_one_distinct_candidate() -> None:
    """Keep only records whose unique match is candidate 0 (and records with no unique
    match): the training set has one distinct candidate, the posterior is the prior."""
    case = LOMIA_CASES[0]
    setup = setup_of(case)
    attack = fit(LOMIA, setup)
    matches = attack.reproduces(setup.attacked)
    keep = (matches.sum(axis=1) != 1) | matches[:, 0]
    assert (matches.sum(axis=1) == 1)[keep].any() and not keep.all()
    records = setup.attacked[keep]
    posterior = attack.infer(records)
    slow, rows, targets = brute_force_lomia(setup.model, records, access=case.access,
                                            **grid_params(setup))
    assert set(targets) == {0}
    np.testing.assert_allclose(posterior.probabilities, slow, rtol=0, atol=TOLERANCE)
    described = attack.describe()["training_set"]
    assert described["records"] == len(rows) and described["fallback"] == "prior (marginal)"


def test_lomia_falls_back_when_the_model_ignores_the_sensitive_attribute() -> None:
    """A stump that splits on another column: every candidate gives the same label, so
    no record has exactly one match."""
    world = ToyWorld(7, task=C)
    members, reference = world.sample(60), world.sample(40)
    model = make_model("tree", world.card(), max_depth=1).fit(members)
    assert model.estimator_.tree_.feature[0] >= 3  # the split is not on c0 (one-hot 0..2)
    attack = LOMIA().fit(Oracle.for_model(model, "label-only"), sensitive=["c0"],
                         known=["c1", "c2", "n0"], reference=reference)
    posterior = attack.infer(members)
    counts = np.array([(reference["c0"] == v).sum() for v in world.domains[0]]) + 1.0
    np.testing.assert_allclose(posterior.probabilities,
                               np.tile(counts / counts.sum(), (len(members), 1)), atol=1e-12)
    assert attack.describe()["training_set"] == {
        "records": 0, "of": 60, "candidates": [], "fallback": "prior (marginal)"}


def test_lomia_without_reference_falls_back_to_published_marginals() -> None:
    world = ToyWorld(7, task=C)
    members = world.sample(60)
    model = make_model("tree", world.card(), max_depth=1).fit(members)
    attack = LOMIA().fit(Oracle.for_model(model, "label-only"), sensitive=["c0"],
                         known=["c1", "c2", "n0"])
    posterior = attack.infer(members)
    counts = model.marginals_["c0"] + 1.0
    np.testing.assert_allclose(posterior.probabilities[0], counts / counts.sum(), atol=1e-12)
    assert attack.describe()["training_set"]["fallback"] == "prior (published marginals)"


# -- registry and refusals ---------------------------------------------------------------

def test_registered_by_name() -> None:
    assert ATTACKS["csmia"] is CSMIA and ATTACKS["lomia"] is LOMIA
    assert get_attack("csmia", random_state=4).get_params()["random_state"] == 4


def test_csmia_refuses_label_only_and_regression() -> None:
    setup = setup_of(LOMIA_CASES[0])  # a classifier behind a label-only oracle
    with pytest.raises(AttackError, match="needs 'confidence' answers.*gives 'label'"):
        fit(CSMIA, setup)
    world = ToyWorld(3)
    regression = make_model("linear", world.card()).fit(world.sample(30))
    for attack_class, needs in ((CSMIA, "'confidence'"), (LOMIA, "'label' or 'confidence'")):
        with pytest.raises(AttackError, match=f"needs {needs} answers.*gives 'output'"):
            attack_class().fit(Oracle.for_model(regression), sensitive=["c0"], known=["c1"])
