"""DP models: diffprivlib classes with the card's bounds, budget accounting, clear errors."""

from __future__ import annotations

import math
import subprocess
import sys
import warnings

import numpy as np
import pytest
from sklearn.base import clone

from tabinv.data.registry import builtin_card
from tabinv.data.schema import card_from_dict
from tabinv.exceptions import CardError, ModelError
from tabinv.models.dp import (
    BudgetAccountant,
    DPTargetModel,
    dp_family_names,
    dp_model,
    encoded_bounds,
    label_bounds,
    max_row_norm,
)

CLASSIFIERS = ["logistic", "naive-bayes", "tree", "forest"]


@pytest.fixture(scope="module")
def members(iwpc_splits):
    return iwpc_splits.members.iloc[:800]


@pytest.fixture(scope="module")
def class_card():
    return builtin_card("iwpc").with_label("dose_class")


def test_import_leaves_warning_filters_alone():
    code = ("import warnings, tabinv.api; before = list(warnings.filters); "
            "import tabinv.models.dp; assert list(warnings.filters) == before, "
            "[f for f in warnings.filters if f not in before]")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("epsilon", [0.5, 5.0, 50.0])
def test_linear_trains_without_leak_and_records_budget(iwpc_splits, members, epsilon):
    accountant = BudgetAccountant()
    model = dp_model("linear", builtin_card("iwpc"), epsilon, random_state=1,
                     accountant=accountant).fit(members)
    assert model.epsilon_spent_ == epsilon and accountant.total()[0] == epsilon
    facts = model.describe()
    assert facts["family"] == "linear" and facts["dp"] is True
    assert facts["epsilon"] == facts["epsilon_spent"] == epsilon
    assert facts["estimator"] == "LinearRegression" and "Laplace" in facts["mechanism"]
    predictions = model.predict(iwpc_splits.non_members)
    assert predictions.shape == (len(iwpc_splits.non_members),)
    assert np.isfinite(model.residual_sigma_)


@pytest.mark.parametrize("family", CLASSIFIERS)
@pytest.mark.parametrize("epsilon", [0.5, 20.0])
def test_classifiers_train_without_leak(iwpc_splits, members, class_card, family, epsilon):
    model = dp_model(family, class_card, epsilon, random_state=0).fit(members)
    assert model.epsilon_spent_ == pytest.approx(epsilon)
    probabilities = model.predict_proba(iwpc_splits.non_members.iloc[:50])
    assert probabilities.shape == (50, 3)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    assert model.describe()["epsilon"] == epsilon


def test_one_accountant_per_run_sums_and_enforces_budget(members, class_card):
    accountant = BudgetAccountant(epsilon=3.0)
    dp_model("linear", builtin_card("iwpc"), 1.0, accountant=accountant).fit(members)
    dp_model("naive-bayes", class_card, 1.5, accountant=accountant).fit(members)
    assert accountant.total()[0] == pytest.approx(2.5)
    with pytest.raises(ModelError, match="budget"):
        dp_model("tree", class_card, 1.0, accountant=accountant).fit(members)


def test_bounds_come_from_the_card_not_the_data(iwpc_splits, class_card):
    card = builtin_card("iwpc")
    lows, highs = encoded_bounds(card)
    # 3 scaled numeric columns + one-hot race(4), inducer(2), amiodarone(2), vkorc1(3), cyp2c9(6)
    assert lows.shape == (20,) and (lows == 0).all() and (highs == 1).all()
    assert label_bounds(card) == (0.0, 20.0)  # sqrt of [0, 400] mg/week
    assert max_row_norm(card) == pytest.approx(math.sqrt(8))
    _, ordinal_highs = encoded_bounds(card, "ordinal")
    assert ordinal_highs.tolist() == [1, 1, 1, 3, 1, 1, 2, 5]
    small = iwpc_splits.members.iloc[:300]
    other = iwpc_splits.members.iloc[300:600]
    fitted = [dp_model("naive-bayes", class_card, 5.0).fit(frame) for frame in (small, other)]
    for model in fitted:
        np.testing.assert_array_equal(model.estimator_.bounds[0], lows)
        np.testing.assert_array_equal(model.estimator_.bounds[1], highs)
    linear = dp_model("linear", card, 5.0).fit(small)
    np.testing.assert_array_equal(np.ravel(linear.estimator_.estimator_.bounds_y), [0, 20])
    logistic = dp_model("logistic", class_card, 5.0).fit(small)
    assert logistic.estimator_.data_norm == pytest.approx(math.sqrt(8))


def _card(**dose: object) -> dict:
    return {
        "name": "tiny", "label": "dose",
        "columns": {"age": {"kind": "numeric"}, "weight": {"kind": "numeric",
                                                           "bounds": [30, 250]},
                    "sex": {"kind": "categorical", "domain": ["f", "m"]},
                    "dose": {"kind": "numeric", **dose}},
    }


def test_card_without_feature_bounds_is_refused_naming_the_column():
    card = card_from_dict(_card(bounds=[0, 400]))
    with pytest.raises(CardError, match=r"'age'.*add bounds"):
        dp_model("linear", card, 1.0)


def test_card_without_label_bounds_is_refused():
    raw = _card()
    raw["columns"]["age"]["bounds"] = [0, 120]
    with pytest.raises(CardError, match="label 'dose'"):
        dp_model("linear", card_from_dict(raw), 1.0)


@pytest.mark.parametrize("family", ["xgboost", "iwpc-published", "nope"])
def test_families_without_dp_counterpart_list_those_with_one(family):
    with pytest.raises(ModelError, match="forest, linear, logistic, naive-bayes, tree"):
        dp_model(family, builtin_card("iwpc"), 1.0)
    assert dp_family_names() == ["forest", "linear", "logistic", "naive-bayes", "tree"]


def test_wrong_task_and_bad_epsilon_are_refused(class_card):
    with pytest.raises(ModelError, match="for classification"):
        dp_model("logistic", builtin_card("iwpc"), 1.0)
    with pytest.raises(ModelError, match="for regression"):
        dp_model("linear", class_card, 1.0)
    for epsilon in (0, -1.0, math.nan, math.inf, "1", True):
        with pytest.raises(ModelError, match="epsilon"):
            dp_model("linear", builtin_card("iwpc"), epsilon)  # type: ignore[arg-type]
    with pytest.raises(ModelError, match="bad parameter"):
        dp_model("tree", class_card, 1.0, no_such_parameter=3)


def test_same_seed_same_model(members):
    first, second = (dp_model("linear", builtin_card("iwpc"), 20.0, random_state=7).fit(members)
                     for _ in range(2))
    np.testing.assert_array_equal(first.estimator_.coef_, second.estimator_.coef_)
    other = dp_model("linear", builtin_card("iwpc"), 20.0, random_state=8).fit(members)
    assert not np.array_equal(first.estimator_.coef_, other.estimator_.coef_)


def test_a_leak_warning_becomes_an_error(members, class_card):
    from diffprivlib.models import GaussianNB

    model = DPTargetModel(family="naive-bayes", estimator=GaussianNB(epsilon=1.0),
                          card=class_card.to_dict(), epsilon=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("default")  # the model itself must turn it into an error
        with pytest.raises(ModelError, match="bound from the data"):
            model.fit(members)


def test_clone_keeps_parameters(class_card):
    model = dp_model("forest", class_card, 2.0)
    copy = clone(model)
    assert copy.epsilon == 2.0 and copy.family == "forest"


def test_whitebox_attack_on_a_dp_tree_states_what_the_attacker_could_not_see():
    """diffprivlib trees export no training counts: the documented rule is used and said."""
    import tabinv
    from tabinv.api import expand_specs
    from tabinv.data.dataset import Dataset
    from tabinv.data.registry import load_builtin
    from tabinv.data.splits import split_dataset
    from tabinv.models.families import make_model
    from tabinv.report.document import as_document
    from tabinv.report.markdown import render_markdown

    data = load_builtin("iwpc")
    card = data.card.with_label("dose_class")
    splits = split_dataset(data.frame.head(600), random_state=0)
    model = make_model("tree", card, epsilon=5.0, random_state=0).fit(splits.members)
    assert not model.estimator_.tree_.n_node_samples.any()
    result = tabinv.assess(Dataset("iwpc", card, data.frame.head(600)), model,
                           sensitive=["vkorc1"], splits=splits, n_boot=10,
                           attacks=expand_specs(["whitebox-tree"], ["marginal"]))
    accuracy = result.result("whitebox-tree", "vkorc1", "members").metrics["accuracy"]
    assert 0.0 <= accuracy.value <= 1.0
    assert any("no training counts" in note for note in result.threat["notes"])
    assert "no training counts" in render_markdown(as_document([result]))
