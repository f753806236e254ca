"""The prediction-match attack (issue 17, item 3) against its loop reference
(``match_reference``): small worlds of several classifier families, label-only and
confidence oracles, one or two sensitive attributes, unknown features, marginal and
learned priors; posteriors equal to 1e-9. Also: seeds, ties and no-match records, and
synthetic models whose answer is known (a model that reveals s, one that ignores it).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from tabinv.attacks.match import PredictionMatch
from tabinv.attacks.registry import ATTACKS
from tabinv.attacks.specs import AttackSpec, expand_specs
from tabinv.data.schema import card_from_dict
from tabinv.exceptions import AttackError
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle

from .match_reference import brute_force_match
from .test_map_reference import NUMERIC_POINTS, Case, build

TOLERANCE = 1e-9
C = "classification"
CASES = [
    (Case(C, "tree", "label", n_sensitive=1, seed=401), "marginal"),
    (Case(C, "tree", "confidence", 1, n_sensitive=2, unknown=("c2",), seed=402), "learned"),
    (Case(C, "forest", "label", n_sensitive=1, unknown=("n0",), seed=403), "learned"),
    (Case(C, "logistic", "confidence", n_sensitive=1, unknown=("c2", "n0"), seed=404),
     "marginal"),
]


def mixed_labels(setup: object) -> list[object]:
    """The true label for the first half of the attacked records, the next class for
    the rest (labels the model often reproduces for no candidate)."""
    records = setup.attacked  # type: ignore[attr-defined]
    domain = list(setup.model.domain(setup.model.label))  # type: ignore[attr-defined]
    half = len(records) // 2
    return [v if i < half else domain[(domain.index(v) + 1) % len(domain)]
            for i, v in enumerate(records[setup.model.label])]  # type: ignore[attr-defined]


def fitted(case: Case, prior: str, seed: int = 0) -> tuple[PredictionMatch, object]:
    setup = build(case)
    attack = PredictionMatch(prior=prior, numeric_points=NUMERIC_POINTS,
                             random_state=seed).fit(
        setup.oracle, sensitive=case.sensitive, known=setup.known,
        reference=setup.reference)
    return attack, setup


@pytest.mark.parametrize(("case", "prior"), CASES, ids=lambda c: getattr(c, "family", c))
def test_equals_brute_force(case: Case, prior: str) -> None:
    attack, setup = fitted(case, prior)
    labels = mixed_labels(setup)
    fast = attack.infer(setup.attacked, labels).probabilities
    slow = brute_force_match(setup.model, setup.attacked, sensitive=case.sensitive,
                             known=setup.known, reference=setup.reference,
                             access=case.access, prior=prior,
                             numeric_points=NUMERIC_POINTS, labels=labels)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal(fast.argmax(axis=1), slow.argmax(axis=1))


def test_exercises_ties_and_no_match() -> None:
    """The reference cases include records with no, one and several matches."""
    seen = {"none": 0, "one": 0, "several": 0}
    for case, prior in CASES:
        attack, setup = fitted(case, prior)
        attack.infer(setup.attacked, mixed_labels(setup))
        for key, count in attack.describe()["matches"].items():
            seen[key] += count
    assert all(count > 0 for count in seen.values()), seen


def test_same_seed_same_posteriors() -> None:
    case, prior = CASES[1]
    first, setup = fitted(case, prior, seed=5)
    again, _ = fitted(case, prior, seed=5)
    np.testing.assert_array_equal(first.infer(setup.attacked).probabilities,
                                  again.infer(setup.attacked).probabilities)


# -- the rule, case by case ----------------------------------------------------------------

def world(reveals: bool, n: int = 400, seed: int = 0) -> pd.DataFrame:
    """s in {a, b, c}; known k in {x, y} predicts s (a prior can learn it); the label
    is s itself (``reveals``) or mostly k (a depth-1 tree of it splits on k alone)."""
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 2, n)
    s = np.where(rng.random(n) < 0.7, k, rng.integers(0, 3, n))
    label = s if reveals else np.where(rng.random(n) < 0.8, k, rng.integers(0, 3, n))
    return pd.DataFrame({"s": np.array(["a", "b", "c"])[s], "k": np.array(["x", "y"])[k],
                         "y": np.array(["l0", "l1", "l2"])[label]})


CARD = card_from_dict({"name": "rule", "label": "y", "columns": {
    "s": {"kind": "categorical", "domain": ["a", "b", "c"]},
    "k": {"kind": "categorical", "domain": ["x", "y"]},
    "y": {"kind": "categorical", "domain": ["l0", "l1", "l2"]}}})


def attack_world(reveals: bool, access: str = "label-only", prior: str = "learned"
                 ) -> tuple[float, float, PredictionMatch, pd.DataFrame]:
    members, reference, others = (world(reveals, seed=s) for s in (0, 1, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_model("tree", CARD, max_depth=4 if reveals else 1,
                           random_state=0).fit(members)
    attack = PredictionMatch(prior=prior).fit(Oracle.for_model(model, access),
                                              sensitive=["s"], known=["k"],
                                              reference=reference)
    guess = attack.infer(others).probabilities.argmax(axis=1)
    truth = attack.candidates_.joint_index(others)
    prior_guess = attack.prior_.log_prob(others).argmax(axis=1)
    return float((guess == truth).mean()), float((prior_guess == truth).mean()), attack, others


@pytest.mark.parametrize("access", ["label-only", "confidences"])
def test_a_model_that_reveals_s_is_inverted_exactly(access: str) -> None:
    accuracy, prior_accuracy, _, _ = attack_world(True, access)
    assert accuracy == 1.0
    assert prior_accuracy < 0.85


def test_a_model_independent_of_s_leaves_the_prior() -> None:
    """Every candidate gets the same prediction: all match or none does, and either way
    the posterior is the learned prior itself."""
    accuracy, prior_accuracy, attack, others = attack_world(False)
    posterior = attack.infer(others).probabilities
    np.testing.assert_allclose(posterior, np.exp(attack.prior_.log_prob(others)),
                               rtol=0, atol=1e-12)
    assert accuracy == prior_accuracy
    matches = attack.describe()["matches"]
    assert matches["one"] == 0 and matches["none"] > 0 and matches["several"] > 0


def test_ties_go_to_the_prior_among_the_matching_candidates() -> None:
    _, _, attack, others = attack_world(True, prior="marginal")
    y = attack.oracle_.model.encode_label(others["y"])
    matches = attack.match_probability(others.reset_index(drop=True), np.asarray(y))
    assert set(np.unique(matches)) <= {0.0, 1.0}
    prior = np.exp(attack.prior_.log_prob(others))
    expected = prior * matches
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(attack.infer(others).probabilities, expected, atol=1e-12)


def test_refuses_regression_and_calibration_parameters() -> None:
    assert ATTACKS["match"] is PredictionMatch
    assert "likelihood" not in PredictionMatch.parameters
    with pytest.raises(AttackError, match="match has no parameter 'likelihood'"):
        AttackSpec("match", params={"likelihood": "calibrated"})
    specs = expand_specs(["match"], None)
    assert [s.prior for s in specs] == ["marginal", "learned"]
    assert "output" not in PredictionMatch.requires
