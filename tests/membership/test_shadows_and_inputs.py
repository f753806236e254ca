"""Shadow models (balanced halves, seeds, workers, clones vs a stated substitute, DP
budget), seeded determinism, and one clear error line for every bad input."""

from __future__ import annotations

import json
import os
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestClassifier
from sklearn.exceptions import NotFittedError
from sklearn.tree import DecisionTreeClassifier

from tabinv.data.registry import builtin_card
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.exceptions import AttackError, DataError
from tabinv.membership import RMIA, LiRA, LossThreshold, assess_membership, train_shadows
from tabinv.membership import shadows as shadows_module
from tabinv.membership.queries import logit
from tabinv.membership.shadows import balanced_halves, shadow_blueprint
from tabinv.models.dp import BudgetAccountant
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle
from tabinv.models.target import TargetModel
from tabinv.processes import available_cores

CARD = builtin_card("iwpc").with_label("dose_class")


@pytest.fixture(scope="module")
def small():
    frame = synthetic_iwpc(120, random_state=3)
    members, non_members, reference = frame[:40], frame[40:80], frame[80:]
    target = make_model("tree", CARD, random_state=0, max_depth=4).fit(members)
    return target, members.reset_index(drop=True), non_members.reset_index(drop=True), \
        reference.reset_index(drop=True)


def test_balanced_halves_put_each_record_in_half_the_shadows():
    keep = balanced_halves(8, 500, random_state=0)
    assert (keep.sum(axis=0) == 4).all()
    assert abs(keep.sum(axis=1) - 250).max() < 40
    assert np.array_equal(keep, balanced_halves(8, 500, random_state=0))


def test_logit_is_clipped():
    assert logit([0.0, 1.0], clip=1e-6) == pytest.approx([-13.8155, 13.8155], abs=1e-3)
    with pytest.raises(DataError, match="clip"):
        logit([0.5], clip=0.7)


def test_shadows_are_seeded(small):
    target, _, _, reference = small
    one = train_shadows(target, reference, n_shadows=4, random_state=5)
    again = train_shadows(target, reference, n_shadows=4, random_state=5)
    oracle = Oracle.for_model(target)
    assert np.array_equal(one.keep, again.keep)
    assert np.array_equal(one.confidences(oracle, reference),
                          again.confidences(oracle, reference))
    other = train_shadows(target, reference, n_shadows=4, random_state=6)
    assert not np.array_equal(one.keep, other.keep)
    seeds = {m.estimator.random_state for m in one.models}
    assert len(seeds) == 4 and target.estimator.random_state not in seeds
    assert "clones of the target: family 'tree'" in one.source


@contextmanager
def _backwards(jobs, asked):
    """A stand-in for joblib_workers whose tasks finish last-first, as workers may."""
    asked.append(jobs)
    yield lambda tasks: [f(*a, **k) for f, a, k in reversed(list(tasks))]


def test_the_order_workers_finish_in_changes_nothing(small, monkeypatch):
    target, _, _, reference = small
    plain = train_shadows(target, reference, n_shadows=4, random_state=5)
    asked: list[int] = []
    monkeypatch.setattr(shadows_module, "joblib_workers", lambda jobs: _backwards(jobs, asked))
    shuffled = train_shadows(target, reference, n_shadows=4, random_state=5, n_jobs=2)
    oracle = Oracle.for_model(target)
    assert asked == [min(2, available_cores())]
    assert np.array_equal(plain.confidences(oracle, reference),
                          shuffled.confidences(oracle, reference))


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("TABINV_SLOW"), reason="starts worker processes "
                    "(about 10 s on two busy cores); set TABINV_SLOW=1 to run it")
def test_worker_processes_change_nothing(small):
    """Real worker processes give the shadows one process gives."""
    target, _, _, reference = small
    one = train_shadows(target, reference, n_shadows=4, random_state=5)
    two = train_shadows(target, reference, n_shadows=4, random_state=5, n_jobs=2)
    oracle = Oracle.for_model(target)
    assert np.array_equal(one.confidences(oracle, reference),
                          two.confidences(oracle, reference))


class Unknown(TargetModel):
    """A model tabinv did not train (its family is not one tabinv can rebuild)."""


def test_a_model_tabinv_did_not_train_gets_the_stated_substitute(small):
    target, members, _, reference = small
    foreign = Unknown(family="imported", estimator=target.estimator, card=target.card)
    foreign.fit(members)
    blueprint, source = shadow_blueprint(foreign)  # the default: tabinv's forest
    assert isinstance(blueprint.estimator, RandomForestClassifier)
    assert "substitute family 'forest'" in source and "imported" in source
    tree = train_shadows(foreign, reference, n_shadows=4, substitute="tree", random_state=0)
    assert isinstance(tree.models[0].estimator_, DecisionTreeClassifier)
    assert "substitute family 'tree'" in tree.source


def test_dp_shadows_do_not_spend_the_run_budget(small):
    _, members, _, reference = small
    accountant = BudgetAccountant()
    target = make_model("naive-bayes", CARD, epsilon=1.0, accountant=accountant).fit(members)
    spent = len(accountant.spent_budget)
    shadows = train_shadows(target, reference, n_shadows=4, random_state=0)
    assert len(accountant.spent_budget) == spent
    assert all(m.epsilon_spent_ == pytest.approx(1.0) for m in shadows.models)
    assert "at epsilon 1" in shadows.source


def test_the_same_seed_gives_the_same_assessment(small):
    target, members, non_members, reference = small
    run = [assess_membership(target, members, non_members, reference, n_shadows=4,
                             n_boot=20, random_state=9) for _ in range(2)]
    assert [r.to_dict() for r in run[0]] == [r.to_dict() for r in run[1]]
    assert json.loads(json.dumps([r.to_dict() for r in run[0]]))[3]["attack"] == "rmia"
    assert [r.attack for r in run[0]] == ["loss", "lira-offline", "lira-online", "rmia",
                                          "gap", "label-noise"]


def test_the_loss_threshold_gives_its_fpr_on_the_reference(small):
    target, _, _, reference = small
    attack = LossThreshold(fpr=0.25).fit(target, reference)
    assert attack.predict(reference).mean() <= 0.25


def test_online_lira_scores_only_its_candidates(small):
    target, members, non_members, reference = small
    attack = LiRA(online=True, n_shadows=4).fit(target, reference, candidates=members)
    assert attack.score(members[:5]).shape == (5,)
    with pytest.raises(AttackError, match="not among them"):
        attack.score(non_members[:5])
    with pytest.raises(AttackError, match="candidates"):
        LiRA(online=True, n_shadows=4).fit(target, reference)


def _bad_calls(small):
    target, members, _, reference = small
    return [
        (lambda: LossThreshold().fit(Oracle.for_model(target, "label-only"), reference),
         AttackError, "answers 'label'"),
        (lambda: LossThreshold().fit("model.pkl", reference), AttackError, "TargetModel"),
        (lambda: LossThreshold().fit(target, reference.drop(columns="vkorc1")), DataError,
         "lacks"),
        (lambda: LossThreshold().fit(target, reference.to_numpy()), DataError, "DataFrame"),
        (lambda: LossThreshold().fit(target, reference[:0]), DataError, "no records"),
        (lambda: LossThreshold(fpr=1.0).fit(target, reference), AttackError, "fpr"),
        (lambda: LiRA(n_shadows=3).fit(target, reference), AttackError, "at least 4"),
        (lambda: LiRA(n_shadows=1).fit(target, reference), AttackError, "n_shadows"),
        (lambda: LiRA(n_shadows=True).fit(target, reference), AttackError, "n_shadows"),
        (lambda: LiRA(variance="pooled").fit(target, reference), AttackError, "variance"),
        (lambda: RMIA(gamma=0).fit(target, reference), AttackError, "gamma"),
        (lambda: RMIA(a=2).fit(target, reference), AttackError, "a must"),
        (lambda: RMIA(n_shadows=2).fit(target, reference), AttackError, "a='auto'"),
        (lambda: LiRA(substitute="nope").fit(
            Unknown(family="x", estimator=target.estimator, card=target.card).fit(members),
            reference), Exception, "unknown model family"),
        (lambda: assess_membership(target, members, members, reference, attacks=["lira"]),
         AttackError, "unknown membership attack"),
        (lambda: train_shadows(target, pd.concat([reference] * 1300), n_shadows=1024),
         AttackError, "more than 50000000"),
    ]


def test_bad_input_is_one_clear_line(small):
    for call, error, message in _bad_calls(small):
        with pytest.raises(error, match=message) as caught:
            call()
        assert "\n" not in str(caught.value)


def test_score_needs_fit(small):
    with pytest.raises(NotFittedError):
        LossThreshold().score(small[3])


def test_rmia_with_two_reference_models_and_a_given_a(small):
    target, members, non_members, reference = small
    attack = RMIA(a=0.5, n_shadows=2).fit(target, reference)
    scores = attack.score(pd.concat([members, non_members]))
    assert ((0 <= scores) & (scores <= 1)).all()


def test_a_foreign_pipeline_is_attacked_with_the_stated_substitute(small):
    """A scikit-learn pipeline tabinv only queries: shadows are the substitute asked
    for (a tree here, to keep the test fast; the default forest is tested above)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    from tabinv.models.foreign import ForeignModel, RecordModel

    _, members, non_members, reference = small
    categorical = ["race", "vkorc1", "cyp2c9"]
    numeric = ["age", "height_cm", "weight_kg", "amiodarone", "enzyme_inducer"]
    pipe = Pipeline([("prep", ColumnTransformer([
        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
        ("num", StandardScaler(), numeric)])), ("model", LogisticRegression(max_iter=300))])
    pipe.fit(members[categorical + numeric], members["dose_class"])
    record_model = RecordModel(pipe, origin="pipe.skops", kind="sklearn Pipeline",
                               inputs=None, classes=list(pipe.classes_),
                               proba=pipe.predict_proba, predict=pipe.predict)
    model = ForeignModel.wrap(record_model, CARD).fit(members)
    [result] = assess_membership(model, members, non_members, reference,
                                 attacks=["lira-offline"], n_shadows=4, n_boot=20,
                                 substitute="tree")
    assert result.shadows.startswith("substitute family 'tree'")
    assert result.to_dict()["params"]["substitute"] == "tree"
    assert 0.0 <= result.metrics.auc.value <= 1.0


def test_rounded_confidences_reach_the_attacks_and_their_shadows_alike(small):
    """An oracle that rounds: the target's and the shadows' answers are rounded the same
    way, so LiRA compares like with like."""
    target, members, _, reference = small
    rounded = Oracle.for_model(target, "rounded", decimals=1)
    attack = LiRA(n_shadows=4).fit(rounded, reference)
    seen = attack.shadows_.confidences(rounded, members)
    assert np.array_equal(seen, np.round(seen, 1))
    plain = LiRA(n_shadows=4).fit(target, reference)
    assert not np.array_equal(plain.shadows_.confidences(plain.oracle_, members), seen)
    assert not np.allclose(attack.score(members), plain.score(members))


def test_a_repeated_record_is_in_every_shadow_that_drew_one_of_its_copies(small):
    """Tabular data repeat rows (IWPC does): a record is in a shadow when any exact copy
    of it trained that shadow, and online LiRA runs on pools with copies."""
    target, members, non_members, reference = small
    pool = pd.concat([reference, reference.iloc[:5]], ignore_index=True)  # 5 copies
    shadows = train_shadows(target, pool, n_shadows=4, random_state=1)
    mask = shadows.in_mask(reference.iloc[:7])
    n = len(reference)
    expected = shadows.keep[:, :7].copy()
    expected[:, :5] |= shadows.keep[:, n:n + 5]
    np.testing.assert_array_equal(mask, expected)
    assert not shadows.in_mask(members.iloc[:3]).any()  # not in the pool
    doubled = pd.concat([members, members.iloc[:4]], ignore_index=True)
    results = assess_membership(target, doubled, non_members, reference,
                                attacks=["lira-online"], n_shadows=4, n_boot=10)
    assert results[0].metrics.n_members == len(doubled)


def test_lira_scores_a_record_every_shadow_saw_a_copy_of(small):
    """With enough copies of a record in the pool every shadow trains on one: LiRA has
    no OUT shadow for it and uses its IN mean minus the average IN - OUT gap, a finite
    score, offline and online."""
    target, members, non_members, reference = small
    pool = pd.concat([reference, *[reference.iloc[:1]] * 7], ignore_index=True)
    shadows = train_shadows(target, pool, n_shadows=4, random_state=2)
    assert shadows.in_mask(reference.iloc[:1]).all()  # the case under test
    for online in (False, True):
        lira = LiRA(online=online, n_shadows=4).fit(target, reference, shadows=shadows)
        scores = lira.score(reference.iloc[:10])
        assert np.isfinite(scores).all()


def test_a_record_the_pool_holds_twice_is_in_where_either_copy_trained(small):
    """Real data repeat records (IWPC's reference split does); each copy is in its own
    shadows' halves, and the record is IN wherever one of them is (the brute-force
    reference of test_reference.py says the same)."""
    target, members, _, reference = small
    pool = pd.concat([reference, reference[:5], members[:3]], ignore_index=True)
    shadows = train_shadows(target, pool, n_shadows=8, random_state=4)
    records = pd.concat([reference[:5], members[:3], members[3:6]], ignore_index=True)
    columns = [*target.features, target.label]
    rows = [list(r) for r in pool[columns].itertuples(index=False)]
    expected = np.array([[any(shadows.keep[s, j] and rows[j] == list(record)
                              for j in range(len(rows)))
                          for record in records[columns].itertuples(index=False)]
                         for s in range(8)])
    assert np.array_equal(shadows.in_mask(records), expected)
    assert not expected[:, 8:].any() and expected[:, :8].any(axis=0).all()
    assert not np.array_equal(expected[:, :5], shadows.keep[:, :5])  # copies count


def test_a_regression_is_attacked_through_the_likelihood_of_its_residual(small):
    """A regression's "confidence" is exp(-r^2 / (2 sigma^2)) with its own residual
    sigma: a deep regression tree fits its members exactly, so every attack separates
    them; an OLS model barely overfits, so the loss attack stays near chance."""
    from tabinv.membership.queries import label_confidence

    _, members, non_members, reference = small
    card = builtin_card("iwpc")  # label: the stable dose, a regression
    tree = make_model("tree", card, random_state=0).fit(members)
    oracle = Oracle.for_model(tree)
    got = label_confidence(oracle, non_members)
    residual = tree.encode_label(non_members[card.label]) \
        - tree.output_encoded(tree.encode(non_members))
    sigma = max(tree.residual_sigma_, np.finfo(float).tiny)
    with np.errstate(over="ignore"):
        expected = np.exp(-0.5 * (residual / sigma) ** 2)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-300)
    results = assess_membership(tree, members, non_members, reference,
                                attacks=["loss", "lira-offline", "rmia"], n_shadows=4,
                                n_boot=50)
    for result in results:
        assert result.metrics.auc.value > 0.6, (result.attack, result.metrics.auc)
    frame = synthetic_iwpc(3000, random_state=8)  # enough records for OLS to generalise
    inside, outside = frame[:1500].reset_index(drop=True), frame[1500:].reset_index(drop=True)
    ols = make_model("linear", card).fit(inside)
    [loss] = assess_membership(ols, inside, outside, outside, attacks=["loss"], n_boot=50)
    assert loss.metrics.auc.low < 0.5 < loss.metrics.auc.high, loss.metrics.auc
