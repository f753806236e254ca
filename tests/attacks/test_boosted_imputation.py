"""The boosted-imputation baseline: whenever the meta attack runs, imputation with the
meta attack's own learner (gradient boosting, the same cross-validated search on the
reference sample) and no model is a leakage baseline, so meta's gain is the model's and
not its learner's."""

from __future__ import annotations

import numpy as np
import pytest

from tabinv.attacks.baselines import BOOSTED_FOLDS, BaselineSuite
from tabinv.attacks.learners import full_proba, search_classifier
from tabinv.core import ThreatModel, run_attacks
from tabinv.models.encoding import TabularEncoder
from tabinv.models.families import make_model
from tabinv.utils import seed_from

from .test_meta import XOR_CARD, accuracy, xor_world


@pytest.fixture(scope="module")
def world():
    members = xor_world(1, 300, model_sees_s=True)
    reference = xor_world(2, 240, model_sees_s=True)
    attacked = xor_world(3, 200, model_sees_s=True)
    model = make_model("tree", XOR_CARD, max_depth=6, random_state=0).fit(members)
    return model, members, reference, attacked


def test_meta_is_measured_against_a_learner_as_strong_as_its_own(world):
    """In the XOR world s is a function of (c, y): an attacker holding the true label
    needs no model. The logistic imputation cannot represent it, gradient boosting can,
    so the meta attack's near-perfect accuracy is no leakage of the model."""
    model, members, reference, attacked = world
    threat = ThreatModel(sensitive=("s",), known=("c", "n0"), attacks=("meta",),
                         n_boot=50, random_state=5)
    assessment, _ = run_attacks(model, {"attacked": attacked}, threat, reference=reference,
                                members=members)
    scores = {r.method: r.metrics["accuracy"].value for r in assessment.results}
    assert scores["meta"] >= 0.99
    assert scores["imputation"] < 0.9 <= scores["boosted-imputation"]
    [leak] = assessment.leakage
    assert leak.over == "boosted-imputation" and leak.rating != "leaks"
    assert leak.estimate.low <= 0.0 <= leak.estimate.high
    # without the boosted baseline the same attack would be rated as leaking
    assert leak.baselines["imputation"] < scores["meta"] - 0.1


def test_the_baseline_is_the_meta_search_on_the_inputs_without_the_model(world):
    model, _, reference, attacked = world
    suite = BaselineSuite(model, _candidates(model, reference), ("c", "n0"),
                          random_state=7, boosted=True).fit(reference, None)
    assert "boosted-imputation" in suite.names
    plain = suite.imputer()
    encoder = TabularEncoder(features=plain.features, domains=plain.domains,
                             ordinal=plain.ordinal).fit()
    target = suite.candidates.joint_index(reference)
    classifier, record = search_classifier(
        "gradient-boosting", encoder.transform(suite.inputs(reference, reference["y"])),
        target, suite.candidates.size, BOOSTED_FOLDS, seed_from(7))
    expected = full_proba(classifier, encoder.transform(suite.inputs(attacked,
                                                                     attacked["y"])),
                          suite.candidates.size)
    got = suite.posterior("boosted-imputation", attacked, attacked["y"]).probabilities
    np.testing.assert_array_equal(got, expected)
    assert suite.describe() == {"boosted-imputation": record}
    assert accuracy(got, attacked) >= 0.9


def _candidates(model, reference):
    from tabinv.attacks.candidates import Candidates

    return Candidates.from_domains({"s": model.encoder_.domain("s")})


def test_without_meta_there_is_no_boosted_baseline(world):
    model, members, reference, attacked = world
    threat = ThreatModel(sensitive=("s",), known=("c", "n0"), attacks=("map",),
                         priors=("marginal",), n_boot=20)
    assessment, _ = run_attacks(model, {"attacked": attacked}, threat, reference=reference,
                                members=members)
    assert "boosted-imputation" not in {r.method for r in assessment.results}


def test_one_candidate_in_the_reference_sample_gives_a_constant(world):
    model, _, reference, attacked = world
    only = reference[reference["s"] == "s1"]
    suite = BaselineSuite(model, _candidates(model, reference), ("c", "n0"),
                          boosted=True).fit(only, None)
    probabilities = suite.posterior("boosted-imputation", attacked,
                                    attacked["y"]).probabilities
    assert (probabilities[:, 1] == 1.0).all() and probabilities.sum() == len(attacked)
    assert suite.describe() == {}
