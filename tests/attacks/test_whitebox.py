"""White-box tree inversion against the brute-force reference and a hand-worked example.

Random small worlds and models (decision trees, random forests, XGBoost boosters; binary
and multiclass classifiers, regressors), one-hot and ordinal encodings, the sensitive
attribute first, in the middle or last among the features, zero to two unknown features
(categorical and numeric), one or two sensitive attributes: the vectorised posteriors
agree with plain recursive tree walks to 1e-9 and give the same guesses. Also: the
hand-worked example, refusals, one-record chunks, the zero-count rule, and agreement
with black-box MAP inversion where the two must coincide (nothing unknown).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tabinv.attacks import registry as attacks_registry
from tabinv.attacks import whitebox
from tabinv.attacks.leafboxes import BoxReach
from tabinv.attacks.map import MAPInversion
from tabinv.attacks.treereader import extract_ensemble
from tabinv.attacks.whitebox import WhiteBoxTreeInversion
from tabinv.data.schema import card_from_dict
from tabinv.exceptions import AttackError
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle

from .reference import ToyWorld
from .whitebox_reference import brute_force_whitebox

TOLERANCE = 1e-9
N_MEMBERS, N_REFERENCE, N_ATTACKED = 150, 40, 15
SMALL: dict[str, dict[str, Any]] = {
    "tree": {"max_depth": 4},
    "forest": {"n_estimators": 4, "max_depth": 4},
    "xgboost": {"n_estimators": 4, "max_depth": 3},
}
#: (task, family, classes)
FAMILIES = [("classification", "tree", 3), ("classification", "forest", 3),
            ("classification", "xgboost", 2), ("classification", "xgboost", 3),
            ("regression", "tree", 0), ("regression", "forest", 0),
            ("regression", "xgboost", 0)]
UNKNOWN = [(), ("c2",), ("n0",), ("c2", "n0"), ("n0", "n1")]
#: where the sensitive attribute c0 sits among the model's features
ORDERS = {"first": ["c0", "c1", "n0", "c2", "n1"], "middle": ["c1", "n0", "c0", "c2", "n1"],
          "last": ["c1", "c2", "n0", "n1", "c0"]}
SEED = 300
#: case index -> seed bump where the first seed gives a model that never splits on an
#: unknown column (no forks to test) or ignores the candidates
RESEED: dict[int, int] = {16: 1, 21: 2, 31: 2, 32: 1}


@dataclass(frozen=True)
class Case:
    task: str
    family: str
    n_classes: int
    unknown: tuple[str, ...]
    encoding: str
    position: str
    n_sensitive: int = 1
    leaf_label: str = "majority"
    transform: str = "identity"
    seed: int = 0

    @property
    def sensitive(self) -> tuple[str, ...]:
        return ("c0", "c1")[: self.n_sensitive]

    def id(self) -> str:
        classes = f"{self.n_classes}c" if self.task == "classification" else self.transform
        return (f"{self.family}-{classes}-u{'+'.join(self.unknown) or 'none'}-{self.encoding}-"
                f"{self.position}-s{self.n_sensitive}-{self.leaf_label}-{self.seed}")


def _cases() -> list[Case]:
    cases = []
    for f, (task, family, n_classes) in enumerate(FAMILIES):
        for u, unknown in enumerate(UNKNOWN):
            i = f * len(UNKNOWN) + u
            soft = task == "classification" and family != "xgboost" and u % 2 == 1
            cases.append(Case(
                task=task, family=family, n_classes=n_classes, unknown=unknown,
                encoding=("onehot", "ordinal")[i % 2], position=list(ORDERS)[(f + u) % 3],
                n_sensitive=2 if i % 4 == 3 else 1,
                leaf_label="fractions" if soft else "majority",
                transform="sqrt" if task == "regression" and u % 2 else "identity",
                seed=SEED + i + 1000 * RESEED.get(i, 0)))
    return cases


CASES = _cases()


@dataclass
class Setup:
    case: Case
    world: ToyWorld
    model: Any
    members: pd.DataFrame
    reference: pd.DataFrame
    attacked: pd.DataFrame
    known: tuple[str, ...]


def build(case: Case) -> Setup:
    world = ToyWorld(case.seed, task=case.task, n_numeric=2, n_classes=max(case.n_classes, 2),
                     transform=case.transform)
    card = card_from_dict({**world.card_dict, "features": ORDERS[case.position]})
    members, reference = world.sample(N_MEMBERS), world.sample(N_REFERENCE)
    model = make_model(case.family, card, random_state=case.seed, categorical=case.encoding,
                       **SMALL[case.family]).fit(members)
    known = tuple(f for f in model.features if f not in case.sensitive + case.unknown)
    attacked = members.iloc[N_MEMBERS - N_ATTACKED:]  # index does not start at 0
    return Setup(case, world, model, members, reference, attacked, known)


def attack(setup: Setup, *, label_only: bool = False, **params: Any) -> WhiteBoxTreeInversion:
    oracle = Oracle.for_model(setup.model, "white-box")
    if label_only:  # the model file, but queries answer with the label alone
        oracle = Oracle(setup.model, "label", white_box=True)
    params = {"leaf_label": setup.case.leaf_label, **params}
    return WhiteBoxTreeInversion(**params).fit(oracle, sensitive=setup.case.sensitive,
                                               known=setup.known, reference=setup.reference)


def reference_posterior(setup: Setup, **overrides: Any) -> np.ndarray:
    params = {"sensitive": setup.case.sensitive, "known": setup.known,
              "reference": setup.reference, "leaf_label": setup.case.leaf_label, **overrides}
    return brute_force_whitebox(setup.model, setup.attacked, **params)


def assert_same_posterior(fast: np.ndarray, slow: np.ndarray) -> None:
    assert fast.shape == slow.shape
    assert np.isfinite(fast).all()
    np.testing.assert_allclose(fast, slow, rtol=0, atol=TOLERANCE)
    # identical guesses; where the reference ties, the fast guess is one of the maxima
    ordered = np.sort(slow, axis=1)
    tie = ordered[:, -1] - ordered[:, -2] <= TOLERANCE
    np.testing.assert_array_equal(fast.argmax(axis=1)[~tie], slow.argmax(axis=1)[~tie])
    best = slow.max(axis=1)
    assert (slow[np.arange(len(slow)), fast.argmax(axis=1)] >= best - TOLERANCE).all()


def test_cases_cover_the_brief() -> None:
    for task, family, n_classes in FAMILIES:
        mine = [c for c in CASES if (c.task, c.family, c.n_classes) == (task, family, n_classes)]
        assert {c.unknown for c in mine} == set(UNKNOWN)
        assert {c.encoding for c in mine} == {"onehot", "ordinal"}
        assert {c.position for c in mine} == set(ORDERS)
    assert {c.n_sensitive for c in CASES} == {1, 2}
    assert {c.leaf_label for c in CASES} == {"majority", "fractions"}
    assert {c.transform for c in CASES} == {"identity", "sqrt"}


@pytest.mark.parametrize("case", CASES, ids=Case.id)
def test_posterior_matches_brute_force(case: Case) -> None:
    setup = build(case)
    fitted = attack(setup)
    posterior = fitted.infer(setup.attacked)
    assert_same_posterior(posterior.probabilities, reference_posterior(setup))
    # the case is informative: the trees tell the candidates apart ...
    y = np.asarray(setup.model.encode_label(setup.attacked["y"]))
    assert np.ptp(fitted.log_likelihood(setup.attacked, y), axis=1).max() > 1e-3
    # ... and, with unknown features, some tree splits on them (paths fork)
    encoder = setup.model.encoder_
    unknown_columns = {c for f in case.unknown for c in range(*encoder.slices_[f])}
    split_columns = {int(c) for tree in fitted.ensemble_.trees
                     for c in tree.feature[tree.left >= 0]}
    assert not case.unknown or split_columns & unknown_columns


@pytest.mark.parametrize("case", [CASES[0], CASES[3], CASES[8], CASES[18], CASES[25], CASES[33]],
                         ids=Case.id)
def test_one_record_chunks_change_nothing(case: Case) -> None:
    setup = build(case)
    whole = attack(setup).infer(setup.attacked).probabilities
    chunked = attack(setup)
    chunked.set_params(memory=chunked.memory_needed(len(setup.attacked)))
    assert chunked.chunk_size(len(setup.attacked)) == 1
    np.testing.assert_allclose(chunked.infer(setup.attacked).probabilities, whole,
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", [CASES[1], CASES[16]], ids=Case.id)
def test_label_only_oracle_reads_the_same_structure(case: Case) -> None:
    """The attack reads the model file, not the answers: label-only access changes nothing."""
    setup = build(case)
    np.testing.assert_array_equal(attack(setup, label_only=True).infer(setup.attacked)
                                  .probabilities,
                                  attack(setup).infer(setup.attacked).probabilities)


def test_conditional_prior_and_explicit_labels() -> None:
    setup = build(CASES[7])
    assert "c2" in setup.known
    labels = list(setup.model.predict(setup.attacked))
    fast = attack(setup, prior="conditional", prior_given=("c2",)).infer(setup.attacked, labels)
    slow = reference_posterior(setup, prior="conditional", prior_given=("c2",), labels=labels)
    assert_same_posterior(fast.probabilities, slow)


@pytest.mark.parametrize("case", [c for c in CASES if not c.unknown and
                                  (c.task, c.family) != ("regression", "forest")], ids=Case.id)
def test_equals_black_box_map_when_nothing_is_unknown(case: Case) -> None:
    """With every other feature known, one leaf per tree is consistent: leaf fractions
    averaged over trees are the model's own confidences, a regression tree's leaf is its
    prediction, and a booster's expected margin is its margin, so the attack must agree
    with black-box MAP inversion. (A regression forest averages the trees' Gaussian
    densities, not their predictions: no such identity.)"""
    setup = build(replace(case, leaf_label="fractions"))
    oracle = Oracle.for_model(setup.model)
    black_box = MAPInversion().fit(oracle, sensitive=case.sensitive, known=setup.known,
                                   reference=setup.reference).infer(setup.attacked)
    white_box = attack(setup).infer(setup.attacked)
    # boosters: XGBoost sums its margins in float32
    tolerance = 1e-5 if case.family == "xgboost" else TOLERANCE
    np.testing.assert_allclose(white_box.probabilities, black_box.probabilities, rtol=0,
                               atol=tolerance)


@pytest.mark.parametrize("case", [c for c in CASES if not c.unknown], ids=Case.id)
def test_model_traversal_equals_the_leaf_box_descent(case: Case) -> None:
    """Nothing unknown: the grid of candidate rows goes through the model's own traversal
    (``apply`` / ``pred_leaf``); the leaf-box descent must give the same posterior."""
    setup = build(case)
    fitted = attack(setup)
    assert fitted.use_grid_
    grid = fitted.infer(setup.attacked).probabilities
    fitted.use_grid_ = False
    np.testing.assert_allclose(fitted.infer(setup.attacked).probabilities, grid, rtol=0,
                               atol=1e-12)


# -- zero counts ---------------------------------------------------------------------------

def _zero_weights(monkeypatch: pytest.MonkeyPatch, keep: Any) -> None:
    """Make extracted trees carry weight 0 on the leaves where ``keep`` is False."""
    def extract(estimator: Any) -> Any:
        ensemble = extract_ensemble(estimator)
        trees = tuple(replace(tree, weight=np.where(keep(t, np.flatnonzero(tree.left < 0)),
                                                    tree.weight, 0.0))
                      for t, tree in enumerate(ensemble.trees))
        return replace(ensemble, trees=trees)
    monkeypatch.setattr(whitebox, "extract_ensemble", extract)


@pytest.mark.parametrize("case", [CASES[6], CASES[8], CASES[22], CASES[23]], ids=Case.id)
@pytest.mark.parametrize("rule", ["none", "odd-leaves"])
def test_zero_counts_fall_back_to_uniform_weights(case: Case, rule: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A model that exports no counts (all zero) weights consistent leaves uniformly; with
    some zero counts, only the (record, candidate, tree) whose consistent leaves all
    weigh nothing fall back."""
    setup = build(case)
    keep = (lambda t, nodes: np.zeros(len(nodes), dtype=bool)) if rule == "none" else \
        (lambda t, nodes: nodes % 2 == 0)
    _zero_weights(monkeypatch, keep)
    fell_back: list[np.ndarray] = []  # per tree: which (record, candidate) fell back
    mean = BoxReach.mean

    def spy(reach: BoxReach, values: np.ndarray) -> np.ndarray:
        weights = reach.weight[:, None] * reach.consistent.T
        fell_back.append(((reach.consistency @ weights) <= 0).ravel())
        return mean(reach, values)

    monkeypatch.setattr(BoxReach, "mean", spy)
    fast = attack(setup).infer(setup.attacked).probabilities
    fell_back_all = np.concatenate(fell_back)
    assert fell_back_all.all() if rule == "none" else 0 < fell_back_all.mean() < 1

    def hook(t: int, node: int, count: float) -> float:
        return count if bool(keep(t, np.array([node]))[0]) else 0.0

    assert_same_posterior(fast, reference_posterior(setup, count_hook=hook))


# -- the descent follows the model's own comparisons -------------------------------------

@pytest.mark.parametrize("case", [CASES[0], CASES[5], CASES[11], CASES[26]], ids=Case.id)
def test_descent_reaches_the_models_own_leaf_at_exact_thresholds(case: Case) -> None:
    """Every column known: each record reaches one leaf per tree, the one the model's
    ``apply`` / ``pred_leaf`` gives, also for values at, just below and just above every
    threshold (the float32 rule: scikit-learn ``x <= t``, XGBoost ``x < t``)."""
    setup = build(case)
    estimator = setup.model.estimator_
    ensemble = extract_ensemble(estimator)
    base = setup.model.encode(setup.members).astype(np.float32)
    rows = [base]
    for tree in ensemble.trees:
        for node in np.flatnonzero(tree.left >= 0):
            at = np.float32(tree.threshold[node])
            for value in (np.nextafter(at, np.float32(-1)), at, np.nextafter(at, np.float32(2))):
                row = base[:1].copy()
                row[0, tree.feature[node]] = value
                rows.append(row)
    encoded = np.concatenate(rows)
    if case.family == "xgboost":
        import xgboost
        applied = estimator.get_booster().predict(xgboost.DMatrix(encoded), pred_leaf=True)
    else:
        applied = estimator.apply(encoded)
    applied = np.asarray(applied, dtype=np.int64).reshape(len(encoded), -1)
    for t, tree in enumerate(ensemble.trees):
        found_rows, leaves = tree.router(np.zeros(len(tree.left), dtype=bool)).descend(encoded)
        np.testing.assert_array_equal(np.sort(found_rows), np.arange(len(encoded)))
        nodes = np.flatnonzero(tree.left < 0)[leaves[np.argsort(found_rows)]]
        np.testing.assert_array_equal(nodes, applied[:, t])


# -- refusals ------------------------------------------------------------------------------

def test_refuses_a_model_that_is_not_a_tree_ensemble() -> None:
    setup = build(CASES[0])
    model = make_model("logistic", setup.world.card()).fit(setup.members)
    with pytest.raises(AttackError, match="LogisticRegression.*Supported: DecisionTree"):
        WhiteBoxTreeInversion().fit(Oracle.for_model(model, "white-box"), sensitive=["c0"],
                                    known=["c1"], reference=setup.reference)


def test_refuses_an_oracle_without_the_model_file() -> None:
    setup = build(CASES[0])
    with pytest.raises(AttackError, match="needs white-box access"):
        WhiteBoxTreeInversion().fit(Oracle.for_model(setup.model), sensitive=["c0"],
                                    known=["c1"], reference=setup.reference)


def test_refuses_an_unsupported_booster_objective() -> None:
    world = ToyWorld(SEED, task="regression", n_numeric=2)
    members = world.sample(60)
    members["y"] = np.abs(members["y"])
    model = make_model("xgboost", world.card(), objective="count:poisson",
                       n_estimators=2).fit(members)
    with pytest.raises(AttackError, match="XGBRegressor.*count:poisson"):
        WhiteBoxTreeInversion().fit(Oracle.for_model(model, "white-box"), sensitive=["c0"],
                                    known=["c1"], reference=members)


def test_refuses_an_unknown_leaf_label() -> None:
    setup = build(CASES[0])
    with pytest.raises(AttackError, match="^whitebox-tree: leaf_label must be one of "
                       "'majority', 'fractions', got 'mode'$"):
        attack(setup, leaf_label="mode")


def test_registered_by_name_and_described() -> None:
    setup = build(CASES[0])
    assert isinstance(attacks_registry.get_attack("whitebox-tree"), WhiteBoxTreeInversion)
    described = attack(setup).describe()
    assert described["white_box"] is True
    assert "DecisionTreeClassifier" in described["likelihood"]


# -- the hand-worked example ---------------------------------------------------------------

HAND_CARD = {"name": "hand", "label": "y", "columns": {
    "s": {"kind": "categorical", "domain": ["a", "b"]},
    "k": {"kind": "categorical", "domain": ["p", "q"]},
    "u": {"kind": "numeric", "bounds": [0.0, 10.0]},
    "y": {"kind": "categorical", "domain": ["no", "yes"]}}}
HAND_ROWS = pd.DataFrame(
    [("a", "p", 4, "no"), ("b", "q", 6, "yes"), ("b", "p", 3, "no"), ("b", "p", 1, "yes"),
     ("a", "p", 7, "no"), ("b", "p", 2, "yes"), ("a", "q", 5, "yes"), ("b", "p", 8, "yes")],
    columns=["s", "k", "u", "y"])


def hand_model() -> Any:
    """A depth-2 tree, ordinal encoding (columns s, k, u/10):

        s <= 0.5 (s = a, 3 rows)
            k <= 0.5 (k = p): leaf 2, rows 1, 5        -> 2 x no
            k  > 0.5 (k = q): leaf 3, row 7            -> 1 x yes
        s  > 0.5 (s = b, 5 rows)
            u <= 0.25 (u <= 2.5): leaf 5, rows 4, 6    -> 2 x yes
            u  > 0.25:            leaf 6, rows 2, 3, 8 -> 1 x no, 2 x yes (majority yes)
    """
    model = make_model("tree", card_from_dict(HAND_CARD), categorical="ordinal",
                       max_depth=2).fit(HAND_ROWS)
    tree = model.estimator_.tree_
    assert list(tree.feature) == [0, 1, -2, -2, 2, -2, -2]
    np.testing.assert_allclose(tree.threshold[[0, 1, 4]], [0.5, 0.5, 0.25])
    assert list(tree.n_node_samples) == [8, 3, 2, 1, 5, 2, 3]
    np.testing.assert_allclose(tree.value[[2, 3, 5, 6], 0, 1], [0, 1, 1, 2 / 3])
    return model


# prior (marginal of the 8 rows, smoothing 1): p(a) = (3 + 1) / (8 + 2) = 0.4, p(b) = 0.6
HAND_CASES = [
    # known k, unknown u. Candidate a reaches leaf 2 (k = p) or leaf 3 (k = q); candidate
    # b reaches leaves 5 and 6 (u is free), counts 2 + 3 = 5.
    # k = p, y = no: a: 2/2 = 1 -> 0.4; b: 0/5 -> floor 1e-12 -> 0.6e-12
    ("majority", ["k"], ("p", "no"), [0.4 / (0.4 + 0.6e-12), 0.6e-12 / (0.4 + 0.6e-12)]),
    # k = q, y = yes: a: 1/1 -> 0.4; b: (2 + 3)/5 = 1 -> 0.6
    ("majority", ["k"], ("q", "yes"), [0.4, 0.6]),
    # k = q, y = no: no consistent leaf says no: both floored, the posterior is the prior
    ("majority", ["k"], ("q", "no"), [0.4, 0.6]),
    # leaf fractions: k = p, y = no: a: 2 * 1 / 2 = 1 -> 0.4;
    # b: (2 * 0 + 3 * 1/3) / 5 = 0.2 -> 0.12; posterior 0.4 / 0.52, 0.12 / 0.52
    ("fractions", ["k"], ("p", "no"), [0.4 / 0.52, 0.12 / 0.52]),
    # fractions, k = q, y = yes: a: 1 -> 0.4; b: (2 * 1 + 3 * 2/3) / 5 = 0.8 -> 0.48
    ("fractions", ["k"], ("q", "yes"), [0.4 / 0.88, 0.48 / 0.88]),
    # nothing known (k and u free), y = yes: a: leaves 2, 3 -> 1 / (2 + 1) -> 0.4 / 3;
    # b: 5 / 5 -> 0.6; posterior (0.4/3) / (0.4/3 + 0.6) = 2/11, 9/11
    ("majority", [], ("p", "yes"), [2 / 11, 9 / 11]),
]


@pytest.mark.parametrize(("leaf_label", "known", "record", "expected"), HAND_CASES)
def test_hand_worked_example(leaf_label: str, known: list[str], record: tuple[str, str],
                             expected: list[float]) -> None:
    model = hand_model()
    oracle = Oracle.for_model(model, "white-box")
    fitted = WhiteBoxTreeInversion(leaf_label=leaf_label).fit(
        oracle, sensitive=["s"], known=known, reference=HAND_ROWS)
    k, y = record
    frame = pd.DataFrame({"k": [k], "y": [y]})
    np.testing.assert_allclose(fitted.infer(frame).probabilities[0], expected, rtol=0,
                               atol=1e-12)
    slow = brute_force_whitebox(model, frame, sensitive=["s"], known=known,
                                reference=HAND_ROWS, leaf_label=leaf_label)
    np.testing.assert_allclose(slow[0], expected, rtol=0, atol=1e-12)
