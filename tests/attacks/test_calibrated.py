"""The calibrated likelihood of ``map`` / ``confidence`` (issue 17, item 1).

* the calibration maps (temperature, per-class Platt, isotonic) against plain-loop
  computations, and the choice by cross-validated log loss against a loop over the
  same folds;
* the attack against the brute-force MAP reference with its likelihood replaced by the
  calibrated one, fitted from the model's answers on the reference records asked through
  the frame API (confidences, rounded confidences, labels, regression outputs; unknown
  features summed out);
* seeds, what ``describe()`` records, refusals, the spec / CLI route;
* known answers: a model that reveals s is inverted exactly; a model independent of s
  leaves the learned prior; on an over-confident tree calibration beats the plain map on
  non-members.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tabinv.attacks.calibration import (
    CALIBRATIONS,
    cross_validated_losses,
    fit_calibration,
    fit_method,
)
from tabinv.attacks.confidence import ConfidenceInversion
from tabinv.attacks.map import MAPInversion
from tabinv.attacks.specs import AttackSpec, expand_specs
from tabinv.cli.options import attack_params
from tabinv.data.schema import card_from_dict
from tabinv.exceptions import AttackError
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle
from tabinv.utils import seed_from

from . import reference as reference_module
from .reference import FrameOracle, brute_force_map, label_on_fitted_scale
from .test_map_reference import NUMERIC_POINTS, Case, build

TOLERANCE = 1e-9
C = "classification"
SEED = 11


def random_confidences(n: int = 60, c: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Over-confident answers: sharpened noisy truths, and true labels."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    logits = rng.normal(0, 1, (n, c)) + 1.5 * np.eye(c)[y]
    confidences = np.exp(3 * logits)
    return confidences / confidences.sum(axis=1, keepdims=True), y


def loop_log_loss(probabilities: list[list[float]], y: np.ndarray) -> float:
    return -sum(math.log(row[int(label)]) for row, label in
                zip(probabilities, y, strict=True)) / len(y)


def tempered(confidences: np.ndarray, temperature: float) -> list[list[float]]:
    rows = []
    for row in confidences:
        powered = [max(v, 1e-12) ** (1 / temperature) for v in row]
        rows.append([v / sum(powered) for v in powered])
    return rows


# -- the calibration maps --------------------------------------------------------------------

def test_temperature_minimises_the_log_loss_over_a_grid() -> None:
    confidences, y = random_confidences()
    fitted = fit_method("temperature", confidences, y)
    best = fitted.params["temperature"]
    loss = loop_log_loss(tempered(confidences, best), y)
    for temperature in np.exp(np.linspace(-3, 3, 121)):
        assert loss <= loop_log_loss(tempered(confidences, temperature), y) + 1e-9
    probabilities = np.exp(fitted.log_probabilities(confidences))
    np.testing.assert_allclose(probabilities, tempered(confidences, best), atol=1e-12)
    assert best > 1  # over-confident answers are softened


def test_platt_per_class_beats_its_start_and_the_temperature() -> None:
    confidences, y = random_confidences(seed=1)
    platt = fit_method("platt", confidences, y)
    temperature = fit_method("temperature", confidences, y).params["temperature"]
    slopes, intercepts = platt.params["slopes"], platt.params["intercepts"]
    rows = []
    for row in confidences:
        z = [a * math.log(max(v, 1e-12)) + b for v, a, b in
             zip(row, slopes, intercepts, strict=True)]
        top = max(z)
        rows.append([math.exp(v - top) / sum(math.exp(w - top) for w in z) for v in z])
    np.testing.assert_allclose(np.exp(platt.log_probabilities(confidences)), rows,
                               atol=1e-12)
    loss = loop_log_loss(rows, y)
    assert loss <= loop_log_loss(tempered(confidences, 1.0), y)
    assert loss <= loop_log_loss(tempered(confidences, temperature), y) + 1e-3


def test_isotonic_is_one_isotonic_map_per_class_renormalised() -> None:
    from sklearn.isotonic import IsotonicRegression

    confidences, y = random_confidences(seed=2)
    fitted = fit_method("isotonic", confidences, y)
    per_class = [IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip")
                 .fit(confidences[:, c], y == c) for c in range(3)]
    expected = []
    for row in confidences:
        values = [max(float(per_class[c].predict([row[c]])[0]), 1e-12) for c in range(3)]
        expected.append([v / sum(values) for v in values])
    np.testing.assert_allclose(np.exp(fitted.log_probabilities(confidences)), expected,
                               atol=1e-12)


def test_the_choice_is_the_lowest_cross_validated_log_loss() -> None:
    from sklearn.model_selection import KFold

    confidences, y = random_confidences(80, seed=3)
    losses = cross_validated_losses(confidences, y, random_state=SEED)
    folds = list(KFold(5, shuffle=True, random_state=seed_from(SEED)).split(confidences))
    for method in CALIBRATIONS:
        total = 0.0
        for train, test in folds:
            fitted = fit_method(method, confidences[train], y[train])
            probabilities = np.exp(fitted.log_probabilities(confidences[test])).tolist()
            total += loop_log_loss(probabilities, y[test]) * len(test)
        assert losses[method] == pytest.approx(total / len(y), abs=1e-9)
    chosen, reported = fit_calibration(confidences, y, random_state=SEED)
    assert reported == losses
    assert chosen.method == min(CALIBRATIONS, key=losses.__getitem__)
    assert losses[chosen.method] < losses["none"]  # over-confident: calibration helps


def test_calibration_refuses_too_little_data() -> None:
    with pytest.raises(AttackError, match="at least 2 reference records, got 1"):
        fit_calibration(np.array([[0.5, 0.5]]), np.array([0]))


# -- the attack against brute force ---------------------------------------------------------

def reference_answers(setup: Any) -> tuple[list[Any], np.ndarray]:
    """The model's answers on each reference record as it is, asked one row at a time
    through the frame API, and the records' labels on the fitted scale."""
    model, access = setup.model, setup.case.access
    oracle = FrameOracle(model, access, setup.case.rounding)
    rows = setup.reference.to_dict("records")
    answers = [oracle.ask({f: row[f] for f in model.features}) for row in rows]
    labels = np.array([label_on_fitted_scale(model, row[model.label]) for row in rows])
    return answers, labels


def calibrated_likelihood(setup: Any, smoothing: float = 1.0) -> Any:
    """pi(y | answer) fitted on the reference answers, as a function of one answer."""
    answers, labels = reference_answers(setup)
    access = setup.case.access
    if access == "output":
        sigma = math.sqrt(sum((t - a) ** 2 for t, a in zip(labels, answers, strict=True))
                          / len(labels))

        def gaussian(model: Any, access: str, answer: Any, y: Any, *_: Any) -> float:
            z = (y - answer) / sigma
            return math.exp(-0.5 * z * z) / (sigma * math.sqrt(2 * math.pi))

        return gaussian
    if access == "label":
        n_classes = len(setup.model.domain(setup.model.label))
        counts = [[0] * n_classes for _ in range(n_classes)]
        for true, predicted in zip(labels, answers, strict=True):
            counts[int(true)][int(predicted)] += 1

        def bayes(model: Any, access: str, answer: Any, y: Any, *_: Any) -> float:
            total = sum(counts[t][answer] + smoothing for t in range(n_classes))
            return (counts[y][answer] + smoothing) / total

        return bayes
    calibration, _ = fit_calibration(np.array(answers), labels, random_state=SEED)

    def calibrated(model: Any, access: str, answer: Any, y: Any, *_: Any) -> float:
        log_p = calibration.log_likelihood(np.array([[answer]]), np.array([y]))
        return float(np.exp(log_p[0, 0]))

    return calibrated


CASES = [
    Case(C, "tree", "confidence", n_sensitive=1, seed=501),
    Case(C, "forest", "confidence", 2, n_sensitive=2, unknown=("c2",), seed=502),
    Case(C, "logistic", "confidence", n_sensitive=1, unknown=("n0",), seed=503),
    Case(C, "tree", "label", n_sensitive=1, unknown=("c2",), seed=504),
    Case("regression", "tree", "output", n_sensitive=1, unknown=("n0",), seed=505),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.family}-{c.access}")
def test_equals_brute_force_with_the_calibrated_likelihood(case: Case,
                                                           monkeypatch: Any) -> None:
    setup = build(case)
    attack = MAPInversion(likelihood="calibrated", numeric_points=NUMERIC_POINTS,
                          random_state=SEED).fit(setup.oracle, sensitive=case.sensitive,
                                                 known=setup.known,
                                                 reference=setup.reference)
    fast = attack.infer(setup.attacked).probabilities
    monkeypatch.setattr(reference_module, "likelihood", calibrated_likelihood(setup))
    slow = brute_force_map(setup.model, setup.attacked, sensitive=case.sensitive,
                           known=setup.known, reference=setup.reference,
                           access=case.access, rounding=case.rounding,
                           numeric_points=NUMERIC_POINTS)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal(fast.argmax(axis=1), slow.argmax(axis=1))
    facts = attack.describe()
    assert facts["likelihood"].startswith("calibrated ")
    assert facts["parameters"]["likelihood"] == "calibrated"
    if case.access == "confidence":
        assert set(facts["calibration"]["cv_log_loss"]) == set(CALIBRATIONS)
        assert facts["calibration"]["method"] in CALIBRATIONS


def test_the_confidence_attack_takes_it_too() -> None:
    setup = build(CASES[1])
    kwargs = {"sensitive": CASES[1].sensitive, "known": setup.known,
              "reference": setup.reference}
    plain = MAPInversion(likelihood="calibrated", random_state=SEED).fit(setup.oracle,
                                                                         **kwargs)
    confidence = ConfidenceInversion(likelihood="calibrated", random_state=SEED).fit(
        setup.oracle, **kwargs)
    np.testing.assert_array_equal(plain.infer(setup.attacked).probabilities,
                                  confidence.infer(setup.attacked).probabilities)
    assert confidence.describe()["calibration"] == plain.describe()["calibration"]


def test_same_seed_same_answers_other_seed_other_folds() -> None:
    setup = build(CASES[0])
    kwargs = {"sensitive": CASES[0].sensitive, "known": setup.known,
              "reference": setup.reference}

    def run(seed: int) -> tuple[np.ndarray, dict[str, Any]]:
        attack = MAPInversion(likelihood="calibrated", random_state=seed).fit(
            setup.oracle, **kwargs)
        return attack.infer(setup.attacked).probabilities, attack.describe()["calibration"]

    first, again, other = run(4), run(4), run(5)
    np.testing.assert_array_equal(first[0], again[0])
    assert first[1] == again[1]
    assert first[1]["cv_log_loss"] != other[1]["cv_log_loss"]


def test_refusals_name_what_is_missing() -> None:
    setup = build(CASES[0])
    kwargs = {"sensitive": CASES[0].sensitive, "known": setup.known}
    attack = MAPInversion(likelihood="calibrated", prior="published")
    with pytest.raises(AttackError, match="^map: likelihood='calibrated' .* none was given"):
        attack.fit(setup.oracle, **kwargs)
    with pytest.raises(AttackError, match="it lacks y$"):
        attack.fit(setup.oracle, reference=setup.reference.drop(columns="y"), **kwargs)
    with pytest.raises(AttackError, match="map: likelihood must be"):
        MAPInversion(likelihood="isotonic").fit(setup.oracle, reference=setup.reference,
                                                **kwargs)


def test_reaches_the_attack_through_specs_and_the_cli_syntax() -> None:
    params = attack_params(["map.likelihood=calibrated"])
    assert params == {"map": {"likelihood": "calibrated"}}
    specs = expand_specs(["map"], None, params=params)
    assert [s.params["likelihood"] for s in specs] == ["calibrated", "calibrated"]
    assert specs[0].build(random_state=3).likelihood == "calibrated"
    with pytest.raises(AttackError, match="likelihood must be"):
        AttackSpec("map", params={"likelihood": "isotonic"})


# -- known answers -----------------------------------------------------------------------

CARD = card_from_dict({"name": "calibration", "label": "y", "columns": {
    "s": {"kind": "categorical", "domain": ["a", "b", "c"]},
    "k": {"kind": "categorical", "domain": ["x", "y"]},
    "y": {"kind": "categorical", "domain": ["l0", "l1", "l2"]}}})


def world(reveals: bool, n: int = 400, seed: int = 0) -> pd.DataFrame:
    """k predicts s (a learned prior knows it); the label is s (``reveals``) or mostly k."""
    rng = np.random.default_rng(seed)
    k = rng.integers(0, 2, n)
    s = np.where(rng.random(n) < 0.7, k, rng.integers(0, 3, n))
    label = s if reveals else np.where(rng.random(n) < 0.8, k, rng.integers(0, 3, n))
    return pd.DataFrame({"s": np.array(["a", "b", "c"])[s], "k": np.array(["x", "y"])[k],
                         "y": np.array(["l0", "l1", "l2"])[label]})


@pytest.mark.parametrize("reveals", [True, False], ids=["reveals-s", "independent"])
def test_known_answers(reveals: bool) -> None:
    members, reference, others = (world(reveals, seed=s) for s in (0, 1, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_model("tree", CARD, max_depth=4 if reveals else 1,
                           random_state=0).fit(members)
    attack = MAPInversion(prior="learned", likelihood="calibrated").fit(
        Oracle.for_model(model), sensitive=["s"], known=["k"], reference=reference)
    posterior = attack.infer(others).probabilities
    truth = attack.candidates_.joint_index(others)
    accuracy = (posterior.argmax(axis=1) == truth).mean()
    prior = np.exp(attack.prior_.log_prob(others))
    if reveals:
        assert accuracy == 1.0
        assert (prior.argmax(axis=1) == truth).mean() < 0.85
    else:  # every candidate gets the same answer: the posterior is the prior
        np.testing.assert_allclose(posterior, prior, rtol=0, atol=1e-9)
