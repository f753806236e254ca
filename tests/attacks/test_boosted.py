"""The compiled walk of a HistGradientBoostingClassifier gives scikit-learn's own
``predict_proba``, bit for bit; boosters it cannot read are left to scikit-learn."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression

from tabinv.attacks import learners
from tabinv.attacks.boosted import CompiledBooster


def world(n: int, n_classes: int, seed: int, missing: bool = False
          ) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 6))
    x[:, 3] = rng.integers(0, 3, n)  # a few repeated values: thresholds between them
    score = x[:, 0] + x[:, 1] * x[:, 3] - x[:, 2]
    y = np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))
    if missing:
        x[rng.random((n, 6)) < 0.1] = np.nan
    return x, y


@pytest.mark.parametrize(("n_classes", "missing", "params"), [
    (3, False, {"max_iter": 25, "max_leaf_nodes": 4}),
    (2, False, {"max_iter": 10, "max_leaf_nodes": 7}),
    (5, True, {"max_iter": 15, "max_leaf_nodes": 5}),
    (3, True, {"max_iter": 30, "max_depth": 3, "learning_rate": 0.3}),
])
def test_compiled_walk_equals_predict_proba(n_classes: int, missing: bool,
                                            params: dict[str, float]) -> None:
    x, y = world(600, n_classes, 1, missing)
    classifier = HistGradientBoostingClassifier(random_state=0, early_stopping=False,
                                                **params).fit(x, y)
    attacked, _ = world(3_000, n_classes, 2, missing)
    attacked[:5] = np.nan  # every split's missing-value branch, also where fit saw none
    compiled = CompiledBooster.of(classifier)
    assert compiled is not None
    np.testing.assert_array_equal(compiled.predict_proba(attacked),
                                  classifier.predict_proba(attacked))
    assert compiled.predict_proba(attacked[:0]).shape == (0, n_classes)


def test_full_proba_takes_the_compiled_walk_with_the_same_numbers(
        monkeypatch: pytest.MonkeyPatch) -> None:
    x, y = world(600, 3, 3)
    classifier = HistGradientBoostingClassifier(max_iter=20, random_state=0,
                                                early_stopping=False).fit(x, y + 1)
    attacked, _ = world(learners.COMPILED_FROM, 3, 4)
    walked = learners.full_proba(classifier, attacked, 5)
    monkeypatch.setattr(learners.CompiledBooster, "of", classmethod(lambda cls, c: None))
    np.testing.assert_array_equal(walked, learners.full_proba(classifier, attacked, 5))
    assert np.all(walked[:, [0, 4]] == 0)  # candidates never seen in training


def test_boosters_it_cannot_read_are_not_compiled() -> None:
    x, y = world(300, 3, 5)
    x[:, 3] = y  # a categorical column that decides the class: split on
    categorical = HistGradientBoostingClassifier(
        max_iter=5, categorical_features=[3], early_stopping=False).fit(x, y)
    assert any(p.nodes["is_categorical"].any()  # the premise
               for iteration in categorical._predictors for p in iteration)
    assert CompiledBooster.of(categorical) is None
    assert CompiledBooster.of(HistGradientBoostingClassifier()) is None  # unfitted
    assert CompiledBooster.of(LogisticRegression().fit(x, y)) is None


def test_wrong_width_is_refused() -> None:
    x, y = world(300, 3, 6)
    compiled = CompiledBooster.of(HistGradientBoostingClassifier(max_iter=3).fit(x, y))
    assert compiled is not None
    with pytest.raises(ValueError, match="fitted on 6 columns"):
        compiled.predict_proba(x[:, :5])


@pytest.mark.parametrize(("field", "value"), [("left", 0), ("right", 10_000),
                                              ("feature_idx", 6)])
def test_trees_whose_walk_could_loop_or_escape_are_not_compiled(field: str,
                                                                 value: int) -> None:
    """A child at or above its parent (a loop), outside the tree, or a split on a column
    the booster was not fitted on: not compiled (scikit-learn keeps its own walk)."""
    x, y = world(300, 3, 7)
    classifier = HistGradientBoostingClassifier(max_iter=3).fit(x, y)
    assert CompiledBooster.of(classifier) is not None
    nodes = classifier._predictors[1][2].nodes
    assert not nodes["is_leaf"][0]  # the root splits
    nodes[field][0] = value
    assert CompiledBooster.of(classifier) is None
