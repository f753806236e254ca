"""The meta-classifier attack (issue 17, item 2): features against a brute-force
construction, seeded determinism, worlds with a known answer, label-only access, and
clear refusals."""

from __future__ import annotations

import functools
import warnings
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tabinv.attacks.baselines import BaselineSuite
from tabinv.attacks.meta import MetaClassifier
from tabinv.attacks.registry import get_attack
from tabinv.attacks.specs import AttackSpec, expand_specs
from tabinv.data.schema import card_from_dict
from tabinv.exceptions import AttackError
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle

from .meta_reference import brute_force_features
from .reference import ToyWorld

SEED = 5


# -- features against loops, with unknown features summed out ----------------------------

@functools.cache
def toy(task: str) -> tuple[Any, pd.DataFrame, pd.DataFrame]:
    world = ToyWorld(8, task=task, domain_sizes=(3, 2, 2), n_numeric=1)
    members, reference = world.sample(120), world.sample(50)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_model("tree", world.card(), max_depth=4, random_state=0).fit(members)
    return model, members, reference


@pytest.mark.parametrize("access", ["confidence", "label", "output"])
def test_features_equal_a_brute_force_construction(access: str) -> None:
    """c2 (categorical) and n0 (numeric, 3 support points) are unknown: averaged out."""
    model, members, reference = toy("regression" if access == "output" else "classification")
    grid = {"sensitive": ["c0"], "known": ["c1"], "reference": reference}
    attack = MetaClassifier(numeric_points=3, classifier="logistic",
                            random_state=SEED).fit(Oracle(model, access), **grid)
    assert attack.unknown_names_ == ("c2", "n0")
    records = members.iloc[:7]
    y = model.encode_label(records["y"])
    fast = attack.features(records.reset_index(drop=True), y)
    slow = brute_force_features(model, records, list(records["y"]), access=access,
                                numeric_points=3, **grid)
    assert fast.shape == slow.shape == (7, attack.feature_width())
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-9)


def test_features_are_chunked_by_the_memory_budget() -> None:
    """A budget that holds a few records' chunks gives the same features."""
    model, members, reference = toy("classification")
    grid = {"sensitive": ["c0"], "known": ["c1"], "reference": reference}
    wide = MetaClassifier(classifier="logistic").fit(Oracle(model, "confidence"), **grid)
    y = model.encode_label(members["y"])
    expected = wide.features(members, y)
    small = MetaClassifier(classifier="logistic", memory=wide.memory_needed(len(members))
                           + 4 * wide.grid_.fixed_bytes(wide.oracle_)
                           ).fit(Oracle(model, "confidence"), **grid)
    candidate_grid = small.grid_
    step = candidate_grid.chunk_size(candidate_grid.point_width(small.oracle_), small.budget,
                                     small.reserved_bytes(len(members)),
                                     candidate_grid.query_bytes(small.oracle_))
    assert step < len(members) // 3  # several chunks
    np.testing.assert_array_equal(small.features(members, y), expected)


# -- determinism ---------------------------------------------------------------------------

@pytest.mark.parametrize("classifier", ["gradient-boosting", "logistic"])
def test_same_seed_same_posterior_and_description(classifier: str) -> None:
    model, members, reference = toy("classification")
    grid = {"sensitive": ["c0", "c1"], "known": ["c2", "n0"], "reference": reference}

    def run(seed: int) -> tuple[np.ndarray, dict[str, Any]]:
        attack = MetaClassifier(classifier=classifier, random_state=seed).fit(
            Oracle(model, "confidence"), **grid)
        return attack.infer(members).probabilities, attack.describe()

    first, described = run(SEED)
    again, described_again = run(SEED)
    np.testing.assert_array_equal(first, again)
    assert described == described_again
    training = described["meta_classifier"]
    assert training["classifier"] == classifier
    assert training["cv_folds"] == 3 and 0 <= training["cv_accuracy"] <= 1
    assert training["hyperparameters"] in [
        {k: v for k, v in s.items() if k not in ("log_loss", "accuracy")}
        for s in training["searched"]]
    assert training["training_records"] == len(reference)


# -- worlds with a known answer ------------------------------------------------------------

def xor_world(seed: int, n: int, *, model_sees_s: bool) -> pd.DataFrame:
    """s, c in {0, 1, 2}; y = s, shifted by one (mod 3) where c = 2, when ``model_sees_s``;
    else y depends on c only and s is correlated with c (so the imputation baseline learns
    something)."""
    rng = np.random.default_rng(seed)
    c = rng.integers(0, 3, n)
    if model_sees_s:
        s = rng.integers(0, 3, n)
        y = (s + (c == 2)) % 3
    else:
        s = np.where(rng.random(n) < 0.6, c, rng.integers(0, 3, n))
        y = np.where(rng.random(n) < 0.8, c, rng.integers(0, 3, n))
    return pd.DataFrame({"s": [f"s{v}" for v in s], "c": [f"c{v}" for v in c],
                         "n0": rng.uniform(0, 1, n), "y": [f"y{v}" for v in y]})


XOR_CARD = card_from_dict({"name": "xor", "label": "y", "columns": {
    "s": {"kind": "categorical", "domain": ["s0", "s1", "s2"]},
    "c": {"kind": "categorical", "domain": ["c0", "c1", "c2"]},
    "n0": {"kind": "numeric", "bounds": [0.0, 1.0]},
    "y": {"kind": "categorical", "domain": ["y0", "y1", "y2"]}}})


def accuracy(posterior: np.ndarray, records: pd.DataFrame) -> float:
    truth = np.array([int(v[1]) for v in records["s"]])
    return float(np.mean(posterior.argmax(axis=1) == truth))


def xor_attack(model_sees_s: bool, access: str, **params: Any
               ) -> tuple[MetaClassifier, pd.DataFrame, pd.DataFrame]:
    members = xor_world(1, 300, model_sees_s=model_sees_s)
    reference = xor_world(2, 240, model_sees_s=model_sees_s)
    attacked = xor_world(3, 200, model_sees_s=model_sees_s)
    model = make_model("tree", XOR_CARD, max_depth=6 if model_sees_s else 2,
                       random_state=0).fit(members)
    attack = MetaClassifier(random_state=SEED, **params).fit(
        Oracle(model, access), sensitive=["s"], known=["c", "n0"], reference=reference)
    return attack, reference, attacked


@pytest.mark.parametrize("access", ["confidence", "label"])
def test_a_model_that_reveals_s_is_inverted_exactly(access: str) -> None:
    """y = s shifted where c = 2, learnt exactly by the tree: the one candidate whose
    answer is the label is s. The imputation classifier (additive in c and y) cannot
    represent the shift."""
    attack, reference, attacked = xor_attack(True, access)
    model = attack.oracle_.model
    assert (model.predict(attacked) == attacked["y"]).all()  # the premise
    assert accuracy(attack.infer(attacked).probabilities, attacked) >= 0.99
    suite = BaselineSuite(attack.oracle_.model, attack.candidates_, ["c", "n0"]).fit(
        reference, None)
    imputation = suite.posterior("imputation", attacked, attacked["y"]).probabilities
    assert accuracy(imputation, attacked) < 0.9


def test_a_model_independent_of_s_leaves_the_imputation_baseline() -> None:
    """The model never uses s (its answers are the same on every candidate): the meta
    attack can only learn what the reference sample says of s given c and y."""
    attack, reference, attacked = xor_attack(False, "confidence", classifier="logistic")
    assert not np.any(np.diff(attack.candidate_answers(attacked), axis=1))
    meta = accuracy(attack.infer(attacked).probabilities, attacked)
    suite = BaselineSuite(attack.oracle_.model, attack.candidates_, ["c", "n0"]).fit(
        reference, None)
    imputation = accuracy(suite.posterior("imputation", attacked, attacked["y"])
                          .probabilities, attacked)
    assert imputation > 0.55  # the baseline learns something: s follows c
    assert abs(meta - imputation) <= 0.04


def test_predicted_reference_labels_are_the_models_answers() -> None:
    attack, reference, attacked = xor_attack(True, "label",
                                             reference_labels="predicted")
    model = attack.oracle_.model
    np.testing.assert_array_equal(attack._reference_labels(reference),
                                  model.encode_label(model.predict(reference)))
    assert attack.describe()["meta_classifier"]["reference_labels"] == "predicted"
    assert accuracy(attack.infer(attacked, model.predict(attacked)).probabilities,
                    attacked) >= 0.99


def test_unseen_candidates_get_probability_zero() -> None:
    model, members, reference = toy("classification")
    seen = reference[reference["c0"] != "v01"]
    attack = MetaClassifier(classifier="logistic").fit(
        Oracle(model, "confidence"), sensitive=["c0"], known=["c1", "c2", "n0"],
        reference=seen)
    probabilities = attack.infer(members).probabilities
    assert np.all(probabilities[:, 1] == 0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-12)


# -- the registry and refusals -------------------------------------------------------------

def test_registered_and_reachable_through_specs() -> None:
    [spec] = expand_specs(["meta"], ["marginal", "learned"],
                          params={"meta": {"classifier": "logistic"}})
    assert spec.variant == ""
    attack = spec.build(random_state=3)
    assert isinstance(attack, MetaClassifier)
    assert attack.get_params()["classifier"] == "logistic"
    assert isinstance(get_attack("meta", cv=4), MetaClassifier)


@pytest.mark.parametrize(("params", "message"), [
    ({"classifier": "svm"}, "^meta: classifier must be one of 'gradient-boosting', "
                            "'logistic', got 'svm'"),
    ({"cv": 1}, "^meta: cv must be an int in \\[2, inf\\), got 1"),
    ({"reference_labels": "both"}, "^meta: reference_labels must be one of"),
])
def test_bad_parameters_are_one_clear_error(params: dict[str, Any], message: str) -> None:
    with pytest.raises(AttackError, match=message):
        AttackSpec("meta", params=params)
    model, _, reference = toy("classification")
    with pytest.raises(AttackError, match=message):
        MetaClassifier(**params).fit(Oracle(model, "confidence"), sensitive=["c0"],
                                     known=["c1"], reference=reference)


@pytest.mark.parametrize(("reference", "message"), [
    (None, "trains its classifier on a reference sample"),
    ("no-label", r"lacks column\(s\) \['y'\]"),
    ("no-sensitive", r"lacks column\(s\) \['c0'\]"),
    ("empty", "needs a non-empty reference sample"),
])
def test_an_unusable_reference_sample_is_refused(reference: str | None, message: str) -> None:
    model, _, sample = toy("classification")
    frames = {None: None, "no-label": sample.drop(columns="y"),
              "no-sensitive": sample.drop(columns="c0"), "empty": sample.iloc[:0]}
    with pytest.raises(AttackError, match=message):
        MetaClassifier().fit(Oracle(model, "confidence"), sensitive=["c0"], known=["c1"],
                             reference=frames[reference])
