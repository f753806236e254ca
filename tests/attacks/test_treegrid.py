"""Tree ensembles answered by the compiled walk equal the model's own answers.

Random small worlds (``reference.ToyWorld``) and models: scikit-learn decision trees,
extra trees, random forests and extra-trees forests (classifiers and regressors),
diffprivlib's decision tree and random forest, XGBoost classifiers (binary, 3-class) and
regressors. Every access level (output, confidences, rounded confidences, labels only),
one or two sensitive attributes, unknown categorical and numeric features, one-hot and
ordinal encoding. The same attack runs through an oracle with ``shortcuts=False`` (the
grid is built and the model queried) and through the normal one (the walk): grid
outputs and posteriors must agree to 1e-9 (they are in fact identical). Also: the
leaves equal the model's own traversal (``apply`` / ``pred_leaf``), hand-built trees
with values exactly on thresholds against a plain walk, the fallbacks.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
from sklearn.tree import DecisionTreeClassifier, ExtraTreeClassifier, ExtraTreeRegressor

from tabinv.attacks import treegrid
from tabinv.attacks.grid import CandidateGrid
from tabinv.attacks.gridleaves import GridLeaves
from tabinv.attacks.leafboxes import Tree, TreeEnsemble
from tabinv.attacks.treegrid import TreeGridScorer, tree_parts
from tabinv.attacks.treereader import extract_ensemble
from tabinv.attacks.unknowns import UnknownFeatures
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle
from tabinv.models.target import TargetModel

from .reference import ToyWorld, assert_same_answers, fit_map, fit_toy_world

TOLERANCE = 1e-9
N_MEMBERS, N_REFERENCE = 120, 40
MODELS = ("tree", "extra-tree", "forest", "extra-trees", "dp-tree", "dp-forest", "xgboost")
REGRESSORS = ("tree", "extra-tree", "forest", "extra-trees", "xgboost")
UNKNOWN = [(), ("c2",), ("n0",), ("c2", "n0")]
ACCESS = [("confidence", None), ("confidence", 2), ("label", None)]


@dataclass(frozen=True)
class Case:
    model: str
    task: str
    access: str
    rounding: int | None
    n_classes: int
    n_sensitive: int
    unknown: tuple[str, ...]
    encoding: str
    seed: int

    def id(self) -> str:
        return (f"{self.model}-{self.access}-r{self.rounding}-c{self.n_classes}-"
                f"s{self.n_sensitive}-u{'+'.join(self.unknown) or 'none'}-{self.encoding}")


def _cases() -> list[Case]:
    cases = []
    classifiers = itertools.product(MODELS, ACCESS, (2, 3))
    for i, (model, (access, rounding), n_classes) in enumerate(classifiers):
        cases.append(Case(model, "classification", access, rounding, n_classes, 1 + i % 2,
                          UNKNOWN[i % len(UNKNOWN)], "ordinal" if i % 3 == 0 else "onehot",
                          700 + i))
    for j, model in enumerate(REGRESSORS):
        for k, unknown in enumerate(UNKNOWN[::3]):
            cases.append(Case(model, "regression", "output", None, 0, 2 - k,
                              unknown, "onehot" if (j + k) % 2 else "ordinal", 800 + 2 * j + k))
    return cases


CASES = _cases()


def _model(case: Case, world: ToyWorld) -> TargetModel:
    card, seed, encoding = world.card(), case.seed, case.encoding
    regression = case.task == "regression"
    if case.model.startswith("dp-"):
        return make_model(case.model[3:], card, epsilon=50.0, random_state=seed,
                          categorical=encoding)
    if case.model == "extra-tree":
        estimator = (ExtraTreeRegressor if regression else ExtraTreeClassifier)(
            max_depth=6, random_state=seed)
        return TargetModel.from_card("tree", estimator, card, categorical=encoding)
    if case.model == "extra-trees":
        estimator = (ExtraTreesRegressor if regression else ExtraTreesClassifier)(
            n_estimators=6, max_depth=6, random_state=seed)
        return TargetModel.from_card("forest", estimator, card, categorical=encoding)
    params = {"tree": {"max_depth": 6}, "forest": {"n_estimators": 6, "max_depth": 6},
              "xgboost": {"n_estimators": 8, "max_depth": 3}}[case.model]
    return make_model(case.model, card, random_state=seed, categorical=encoding, **params)


_setup = partial(fit_toy_world, build=_model, n_members=N_MEMBERS, n_reference=N_REFERENCE)
_attack = fit_map


@pytest.mark.parametrize("case", CASES, ids=[c.id() for c in CASES])
def test_walk_equals_queries(case: Case) -> None:
    model, members, reference, known = _setup(case)
    walked = Oracle(model, case.access, case.rounding)
    queried = Oracle(model, case.access, case.rounding, shortcuts=False)
    assert tree_parts(walked) is not None and tree_parts(queried) is None
    fast = _attack(walked, case, reference, known)
    slow = _attack(queried, case, reference, known)
    assert isinstance(fast.grid_.scorer(walked), TreeGridScorer)
    assert fast.grid_.scorer(queried) is None

    assert_same_answers(fast, slow, members, TOLERANCE)


def test_cases_cover_the_brief() -> None:
    assert {c.model for c in CASES} == set(MODELS)
    assert {c.model for c in CASES if c.task == "regression"} == set(REGRESSORS)
    assert {(c.access, c.rounding) for c in CASES} == {("output", None), *ACCESS}
    assert {c.n_classes for c in CASES if c.task == "classification"} == {2, 3}
    assert {c.unknown for c in CASES} == set(UNKNOWN)
    assert {c.n_sensitive for c in CASES} == {1, 2}
    assert {c.encoding for c in CASES} == {"onehot", "ordinal"}


@pytest.mark.parametrize("name", ["tree", "forest", "xgboost"])
def test_leaves_equal_the_models_own_traversal(name: str) -> None:
    case = Case(name, "classification", "confidence", None, 3, 2, (), "onehot", 21)
    model, members, reference, known = _setup(case)
    attack = _attack(Oracle(model, "confidence"), case, reference, known)
    grid = attack.grid_
    encoded = model.encoder_.transform(members[list(known)], skip=attack.sensitive_)
    scorer = TreeGridScorer(extract_ensemble(model.estimator_), *grid.patch_values())
    walked = scorer.nodes(encoded)
    rows = grid.rows(encoded.astype(np.float32))
    estimator = model.estimator_
    if name == "xgboost":
        import xgboost

        own = estimator.get_booster().predict(xgboost.DMatrix(rows), pred_leaf=True)
        offsets = np.cumsum([0] + [len(t.left) for t in scorer.ensemble.trees])[:-1]
        own = own.astype(np.int64) + offsets
    elif name == "forest":
        own = estimator.apply(rows)
        own = own + np.cumsum([0] + [e.tree_.node_count for e in estimator.estimators_])[:-1]
    else:
        own = estimator.apply(rows)[:, None]
    np.testing.assert_array_equal(walked.reshape(len(rows), -1), own)


def test_the_walk_does_not_query_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    case = Case("forest", "classification", "label", None, 3, 2, ("n0",), "onehot", 31)
    model, members, reference, known = _setup(case)
    attack = _attack(Oracle(model, "label"), case, reference, known)

    def refuse(*args: Any) -> None:
        raise AssertionError("the walk queried the model on the grid")

    monkeypatch.setattr(Oracle, "query_encoded", refuse)
    assert attack.infer(members).probabilities.shape == (N_MEMBERS, attack.candidates_.size)
    assert attack.infer(members.iloc[:0]).probabilities.shape == (0, attack.candidates_.size)


def test_the_walk_plan_is_made_once_per_oracle_and_model() -> None:
    case = Case("forest", "classification", "confidence", None, 3, 1, (), "onehot", 51)
    model, members, reference, known = _setup(case)
    oracle = Oracle(model, "confidence")
    grid = _attack(oracle, case, reference, known).grid_
    first = grid.scorer(oracle)
    assert isinstance(first, TreeGridScorer) and grid.scorer(oracle) is first
    assert grid.scorer(Oracle(model, "confidence")) is not first  # another oracle
    other = Oracle(model, "confidence")
    before = grid.scorer(other)
    model.fit(members)  # refit: a new estimator, a new plan
    assert grid.scorer(other) is not before


class _Shifted(DecisionTreeClassifier):
    def predict_proba(self, X: Any, check_input: bool = True) -> Any:  # type: ignore[override]
        return super().predict_proba(X, check_input)[:, ::-1]


def test_models_whose_outputs_are_not_their_trees_are_queried() -> None:
    world = ToyWorld(3, task="classification")
    members = world.sample(N_MEMBERS)
    shifted = TargetModel.from_card("tree", _Shifted(max_depth=3), world.card()).fit(members)
    plain = make_model("tree", world.card(), max_depth=3).fit(members)
    linear = make_model("logistic", world.card()).fit(members)
    assert tree_parts(Oracle.for_model(shifted)) is None  # a subclass may change predict
    assert tree_parts(Oracle.for_model(linear)) is None
    assert tree_parts(Oracle(plain, "confidence", shortcuts=False)) is None
    assert tree_parts(Oracle.for_model(plain)) is not None
    assert Oracle(linear, "confidence", shortcuts=False).linear_parts() is None


def test_too_large_a_plan_falls_back_to_queries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Over ``MAX_PLAN_ENTRIES`` the grid is queried (MAP) or traversed by the model's own
    ``apply`` (white-box grid leaves), with the same results."""
    case = Case("forest", "classification", "confidence", None, 3, 2, (), "onehot", 41)
    model, members, reference, known = _setup(case)
    attack = _attack(Oracle(model, "confidence"), case, reference, known)
    walked = attack.infer(members).probabilities
    ensemble = extract_ensemble(model.estimator_)
    votes = [np.hstack([t.value, np.zeros((t.n_leaves, 1))]) for t in ensemble.trees]
    candidate_grid = CandidateGrid(model.encoder_, attack.candidates_, UnknownFeatures())
    args = (model.estimator_, ensemble, votes, candidate_grid)
    encoded = model.encoder_.transform(members[list(known)], skip=attack.sensitive_)
    leaves = GridLeaves.build(*args)
    assert leaves.walker is not None
    monkeypatch.setattr(treegrid, "MAX_PLAN_ENTRIES", 10)
    queried = _attack(Oracle(model, "confidence"), case, reference, known)
    assert queried.grid_.scorer(queried.oracle_) is None
    np.testing.assert_array_equal(queried.infer(members).probabilities, walked)
    applied = GridLeaves.build(*args)
    assert applied.walker is None
    np.testing.assert_array_equal(applied.nodes(encoded), leaves.nodes(encoded))
    columns, initial = np.zeros(len(ensemble.trees), dtype=np.int64), np.arange(4.0)
    np.testing.assert_allclose(applied.sums(encoded, leaves.votes, columns, initial),
                               leaves.sums(encoded, leaves.votes, columns, initial),
                               rtol=0, atol=1e-12)


# -- hand-built trees: values exactly on thresholds, strict and inclusive splits -------
def _random_tree(rng: np.random.Generator, strict: bool, depth: int = 5) -> Tree:
    left, right, feature, threshold = [], [], [], []

    def grow(level: int) -> int:
        node = len(left)
        left.append(-1), right.append(-1), feature.append(0), threshold.append(0.0)
        if level < depth and rng.random() < 0.85:
            feature[node] = int(rng.integers(0, 4))
            threshold[node] = float(rng.choice([0.0, 0.5, 1.0, 2.0]))
            left[node] = grow(level + 1)
            right[node] = grow(level + 1)
        return node

    grow(0)
    n_leaves = sum(1 for c in left if c < 0)
    return Tree(left=np.array(left), right=np.array(right), feature=np.array(feature),
                threshold=np.array(threshold), strict=strict, weight=np.ones(n_leaves),
                value=rng.random((n_leaves, 2)))


def _plain_walk(tree: Tree, row: np.ndarray) -> int:
    node = 0
    while tree.left[node] >= 0:
        x, t = float(np.float32(row[tree.feature[node]])), tree.threshold[node]
        node = tree.left[node] if (x < t if tree.strict else x <= t) else tree.right[node]
    return node


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.parametrize("seed", range(4))
def test_hand_built_trees_against_a_plain_walk(strict: bool, seed: int) -> None:
    """Columns 2 and 3 are patched (their grid values include the thresholds themselves),
    0 and 1 known; records take values on the thresholds too."""
    rng = np.random.default_rng(seed)
    trees = tuple(_random_tree(rng, strict) for _ in range(3))
    ensemble = TreeEnsemble("classifier", trees, "hand-built", np.arange(2))
    points = np.array(list(itertools.product([0.0, 0.5, 1.0, 2.5], [0.0, 1.0, 2.0])))
    values = np.hstack([np.zeros((len(points), 2)), points])
    records = rng.choice([0.0, 0.5, 1.0, 1.5, 2.0], size=(40, 4))
    scorer = TreeGridScorer(ensemble, values, np.array([False, False, True, True]))
    walked = scorer.nodes(records)
    offsets = np.cumsum([0] + [len(t.left) for t in trees])[:-1]
    for i, record in enumerate(records):
        for g, point in enumerate(points):
            row = record.copy()
            row[2:] = point
            expected = [_plain_walk(t, row) + offsets[j] for j, t in enumerate(trees)]
            assert list(walked[i, g]) == expected
    # the forest's mean of leaf values, summed tree by tree
    sums = scorer.raw(records)
    leaf_rows = [t.leaf_index[walked[:, :, j] - offsets[j]] for j, t in enumerate(trees)]
    mean = sum(t.value[rows] for t, rows in zip(trees, leaf_rows, strict=True)) / len(trees)
    np.testing.assert_allclose(sums, mean, rtol=0, atol=1e-12)
