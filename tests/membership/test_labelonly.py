"""The label-only membership attacks (gap, label-noise): brute-force references written
with plain loops, seeding, what they find on models that do and do not fit their
members, and how label-only access, regressions and bad input are refused."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tabinv.data.registry import builtin_card
from tabinv.data.splits import split_dataset
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.exceptions import AttackError, DataError
from tabinv.membership import LabelGap, LossThreshold, NoiseRobustness, assess_membership, labelonly
from tabinv.membership.assess import attacks_for
from tabinv.membership.shadows import train_shadows
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle
from tabinv.utils import seed_from

CARD = builtin_card("iwpc").with_label("dose_class")
NUMERIC = ("age", "height_cm", "weight_kg")
CATEGORICAL = ("race", "enzyme_inducer", "amiodarone", "vkorc1", "cyp2c9")


@pytest.fixture(scope="module")
def tiny():
    frame = synthetic_iwpc(48, random_state=5)
    members, outsiders, reference = frame[:20], frame[20:24], frame[24:]
    target = make_model("tree", CARD, random_state=0, max_depth=3).fit(members)
    candidates = pd.concat([members[:3], outsiders[:3]], ignore_index=True)
    return target, reference.reset_index(drop=True), candidates


@pytest.fixture(scope="module")
def splits():
    return split_dataset(synthetic_iwpc(800, random_state=4), (0.3, 0.3, 0.4), 0)


# -- plain references ------------------------------------------------------------------
def true_code(model, records, i):
    return list(model.domain(model.label)).index(records[model.label].iloc[i])


def predicted_codes(model, rows):
    """The label the model gives each record (dicts of features): the largest of its
    predict_proba (one call for all rows, for speed)."""
    return [int(np.argmax(p)) for p in model.predict_proba(pd.DataFrame(rows))]


def std(values):
    values = [float(v) for v in values]
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))


def copies_by_loops(records, reference, scale, n_queries, seed, start=0):
    """Each record's perturbed copies, drawn as documented: one generator seeded with
    (seed, start), then the normal draws, the replacement draws and the picks."""
    rng = np.random.default_rng([seed, start])
    n = len(records)
    noise = rng.standard_normal((n, n_queries, len(NUMERIC)))
    draws = rng.random((n, n_queries, len(CATEGORICAL)))
    picks = rng.random((n, n_queries, len(CATEGORICAL)))
    stds = {column: std(reference[column]) for column in NUMERIC}
    bounds = {column: CARD.to_dict()["columns"][column].get("bounds", (-math.inf, math.inf))
              for column in NUMERIC}
    copies = []
    for i in range(n):
        own = []
        for k in range(n_queries):
            row = {}
            for j, column in enumerate(NUMERIC):
                low, high = bounds[column]
                moved = float(records[column].iloc[i]) + scale * stds[column] * noise[i, k, j]
                row[column] = min(max(moved, low), high)
            for j, column in enumerate(CATEGORICAL):
                row[column] = records[column].iloc[i]
                if draws[i, k, j] < min(scale, 1.0):
                    values = list(reference[column].dropna())
                    row[column] = values[int(picks[i, k, j] * len(values))]
            own.append(row)
        copies.append(own)
    return copies


def patterns_by_loops(model, records, copies):
    """(own answer right, copies answered right) of each record."""
    rows = [records.iloc[i].to_dict() for i in range(len(records))]
    rows += [row for own in copies for row in own]
    predicted = predicted_codes(model, rows)
    found = []
    for i, own in enumerate(copies):
        truth = true_code(model, records, i)
        first = len(records) + i * len(own)
        right = sum(predicted[first + k] == truth for k in range(len(own)))
        found.append((predicted[i] == truth, right))
    return found


# -- brute force ---------------------------------------------------------------------
@pytest.mark.parametrize("access", ["confidences", "label-only", "rounded"])
def test_the_gap_attack_is_whether_the_label_is_right(tiny, access):
    target, reference, candidates = tiny
    oracle = Oracle.for_model(target, access, decimals=1 if access == "rounded" else None)
    scores = LabelGap().fit(oracle, reference).score(candidates)
    expected = []
    for i in range(len(candidates)):
        probabilities = target.predict_proba(candidates.iloc[[i]])[0]
        if access == "rounded":
            probabilities = np.round(probabilities, 1)
        expected.append(1.0 if int(np.argmax(probabilities)) == true_code(target, candidates, i)
                        else 0.0)
    assert scores.tolist() == expected
    assert 0 < sum(expected) < len(expected)  # both kinds of record in the case


def test_noise_share_scores_equal_a_brute_force_reference(tiny):
    target, reference, candidates = tiny
    attack = NoiseRobustness(n_queries=3, scale=0.3, statistic="share", random_state=2)
    attack.fit(Oracle.for_model(target, "label-only"), reference)
    assert attack.seed_ == seed_from(2)
    copies = copies_by_loops(candidates, reference, 0.3, 3, attack.seed_)
    expected = [(own + right) / 4 for own, right in patterns_by_loops(target, candidates,
                                                                       copies)]
    assert attack.score(candidates).tolist() == pytest.approx(expected, abs=1e-12)
    assert 0 < np.mean(expected) < 1


def test_the_learned_table_equals_a_brute_force_reference(tiny):
    target, reference, candidates = tiny
    shadows = train_shadows(target, reference, n_shadows=4, random_state=1)
    attack = NoiseRobustness(n_queries=3, scale=0.3, random_state=2)
    attack.fit(target, reference, shadows=shadows)
    q = 3
    counts = {False: [1] * (2 * (q + 1)), True: [1] * (2 * (q + 1))}  # plus one
    pool_copies = copies_by_loops(shadows.pool, reference, 0.3, q, attack.seed_)
    for s, shadow in enumerate(shadows.models):
        for j, (own, right) in enumerate(patterns_by_loops(shadow, shadows.pool,
                                                           pool_copies)):
            counts[bool(shadows.keep[s, j])][int(own) * (q + 1) + right] += 1
    table = [math.log(counts[True][c] / sum(counts[True]))
             - math.log(counts[False][c] / sum(counts[False])) for c in range(2 * (q + 1))]
    copies = copies_by_loops(candidates, reference, 0.3, q, attack.seed_)
    expected = [table[int(own) * (q + 1) + right]
                for own, right in patterns_by_loops(target, candidates, copies)]
    assert attack.score(candidates).tolist() == pytest.approx(expected, abs=1e-12)
    assert attack.calibration_[0][0] == 0.3 and attack.scale_ == 0.3


def test_auto_picks_the_scale_with_the_best_mean_shadow_auc(tiny):
    target, reference, _ = tiny
    shadows = train_shadows(target, reference, n_shadows=4, random_state=1)
    attack = NoiseRobustness(n_queries=3, scales=[0.1, 1.5], statistic="share",
                             random_state=2).fit(target, reference, shadows=shadows)
    inside = shadows.keep  # the synthetic pool has no repeated rows
    means = []
    for scale in (0.1, 1.5):
        copies = copies_by_loops(shadows.pool, reference, scale, 3, attack.seed_)
        aucs = []
        for s, shadow in enumerate(shadows.models):
            share = [(own + right) / 4 for own, right in patterns_by_loops(
                shadow, shadows.pool, copies)]
            aucs.append(roc_auc_score(inside[s], share))
        means.append(sum(aucs) / len(aucs))
    assert [auc for _, auc in attack.calibration_] == pytest.approx(means)
    assert attack.scale_ == (0.1, 1.5)[int(np.argmax(means))]


def test_queries_in_chunks_give_each_chunk_its_own_draws(tiny, monkeypatch):
    target, reference, candidates = tiny
    monkeypatch.setattr(labelonly, "QUERY_ROWS", 9)  # 3 records of 3 copies at once
    attack = NoiseRobustness(n_queries=3, scale=0.3, statistic="share").fit(target,
                                                                             reference)
    answers = attack.answers(candidates)
    for start in (0, 3):
        part = candidates.iloc[start:start + 3]
        copies = attack.perturbed(part, start)
        labels = target.predict_proba(copies).argmax(axis=1).reshape(3, 3)
        truth = target.label_codes(part[target.label])
        assert np.array_equal(answers[start:start + 3, 1:], labels == truth[:, None])
    assert np.array_equal(attack.score_answers(answers), attack.score(candidates))


# -- seeds -----------------------------------------------------------------------------
def test_the_same_seed_gives_the_same_perturbations_and_another_seed_others(tiny):
    target, reference, candidates = tiny

    def run(seed):
        attack = NoiseRobustness(n_queries=4, scale=0.2, statistic="share",
                                 random_state=seed).fit(target, reference)
        return attack.perturbed(candidates, 0), attack.score(candidates)

    first, again, other = run(7), run(7), run(8)
    pd.testing.assert_frame_equal(first[0], again[0])
    assert np.array_equal(first[1], again[1])
    assert not first[0][list(NUMERIC)].equals(other[0][list(NUMERIC)])


def test_perturbations_have_the_documented_size(tiny):
    target, reference, _ = tiny
    many = pd.concat([reference] * 20, ignore_index=True)
    attack = NoiseRobustness(n_queries=10, scale=0.2, statistic="share").fit(target,
                                                                              reference)
    copies = attack.perturbed(many)
    original = many.loc[many.index.repeat(10)].reset_index(drop=True)
    moved = copies["height_cm"].to_numpy() - original["height_cm"].to_numpy()
    assert np.std(moved) == pytest.approx(0.2 * np.std(reference["height_cm"]), rel=0.05)
    changed = (copies["vkorc1"] != original["vkorc1"]).mean()
    same_anyway = sum((reference["vkorc1"] == v).mean() ** 2
                      for v in reference["vkorc1"].unique())  # a draw equal to the value
    assert changed == pytest.approx(0.2 * (1 - same_anyway), abs=0.02)
    assert set(copies["vkorc1"]) <= set(reference["vkorc1"])


# -- what they find --------------------------------------------------------------------
def _auc_pair(target, splits, seed=0):
    results = assess_membership(target, splits.members, splits.non_members,
                                splits.reference, attacks=["gap", "label-noise"],
                                n_shadows=4, n_boot=50, random_state=seed)
    return {r.attack: r for r in results}


def test_a_model_that_fits_its_members_is_seen_and_noise_robustness_sees_more(splits):
    """A fully grown tree on noisy labels labels every member right: the gap attack sees
    it, and the noise-robustness attack at least as well (Choquette-Choo et al.)."""
    target = make_model("tree", CARD, random_state=0, max_depth=None).fit(splits.members)
    found = _auc_pair(target, splits)
    assert found["gap"].metrics.auc.low > 0.6
    assert found["label-noise"].metrics.auc.value >= found["gap"].metrics.auc.value
    assert found["label-noise"].n_shadows == 4
    params = dict(found["label-noise"].params)
    assert params["scale"] in params["scales"] and params["statistic"] == "learned"


def test_a_model_that_never_saw_the_members_gives_chance(splits):
    """Fitted on records outside every split: members and non-members are equally new."""
    others = synthetic_iwpc(240, random_state=11)
    target = make_model("tree", CARD, random_state=0, max_depth=None).fit(others)
    for result in _auc_pair(target, splits).values():
        assert result.metrics.auc.contains(0.5), (result.attack, result.metrics.auc)


# -- access and task -------------------------------------------------------------------
def test_label_only_access_runs_the_label_only_attacks_and_refuses_the_others(tiny):
    target, reference, candidates = tiny
    oracle = Oracle.for_model(target, "label-only")
    members, non_members = candidates[:3], candidates[3:]
    results = assess_membership(oracle, members, non_members, reference,
                                attacks=["all"], n_shadows=4, n_boot=10)
    assert [r.attack for r in results] == ["gap", "label-noise"]
    with pytest.raises(AttackError, match="^membership attack 'loss' reads the confidence "
                       r"of the true label .*but the oracle answers labels only "
                       r"\(label-only access\)$"):
        assess_membership(oracle, members, non_members, reference, attacks=["gap", "loss"])
    with pytest.raises(AttackError, match="^membership attacks here read the confidence"):
        LossThreshold().fit(oracle, reference)
    assert attacks_for(["all"], Oracle.for_model(target, "confidences")) == (
        "loss", "lira-offline", "lira-online", "rmia", "gap", "label-noise")


def test_a_regression_is_refused_in_one_line():
    frame = synthetic_iwpc(60, random_state=3)
    card = builtin_card("iwpc")  # the dose, a regression
    target = make_model("linear", card).fit(frame[:30])
    for attack in (LabelGap(), NoiseRobustness(n_queries=2, scale=0.1, statistic="share")):
        with pytest.raises(AttackError, match="^label-only membership attacks compare .* a "
                           r"regression answers an output, not a label \(the loss attack "
                           r"covers regressions\)$"):
            attack.fit(target, frame[30:])
    with pytest.raises(AttackError, match="^membership attack 'gap' reads the label a "
                       "classifier predicts .*but the regression answers its output"):
        assess_membership(target, frame[:30], frame[30:45], frame[45:], attacks=["gap"])
    assert attacks_for(["all"], Oracle.for_model(target)) == (
        "loss", "lira-offline", "lira-online", "rmia")


# -- bad input ---------------------------------------------------------------------------
@pytest.mark.parametrize(("params", "message"), [
    ({"n_queries": 0}, "^n_queries must be a whole number from 1 to 1000, received 0$"),
    ({"n_queries": 2.5}, "^n_queries must be a whole number from 1 to 1000, received 2.5$"),
    ({"n_queries": True}, "^n_queries must be a whole number .* received True$"),
    ({"scale": -0.1}, "^scale must be a positive number or 'auto', received -0.1$"),
    ({"scale": "big"}, "^scale must be a positive number or 'auto', received 'big'$"),
    ({"scales": []}, r"^scales must be a non-empty list of positive numbers, received \[\]$"),
    ({"scales": [0.1, float("nan")]}, "^scales must be a non-empty list of positive"),
    ({"scales": "0.1"}, "^scales must be a non-empty list of positive numbers, received"),
    ({"statistic": "mean"}, "^statistic must be 'learned' or 'share', received 'mean'$"),
])
def test_bad_parameters_are_one_clear_line(tiny, params, message):
    target, reference, _ = tiny
    with pytest.raises(AttackError, match=message):
        NoiseRobustness(**params).fit(target, reference)


def test_answers_that_do_not_fit_are_one_clear_line(tiny):
    target, reference, candidates = tiny
    gap = LabelGap().fit(target, reference)
    noise = NoiseRobustness(n_queries=2, scale=0.1, statistic="share").fit(target, reference)
    with pytest.raises(DataError, match=r"^correct must have shape \(n,\), received \(6, 1\)$"):
        gap.score_answers(np.ones((6, 1), dtype=bool))
    with pytest.raises(DataError, match=r"^correct must have shape \(n, 3\), received \(6, 2\)$"):
        noise.score_answers(np.ones((6, 2), dtype=bool))
    with pytest.raises(DataError, match="^correct must hold booleans or 0 / 1"):
        gap.score_answers([0, 1, 2])
    assert gap.score_answers([1, 0]).tolist() == [1.0, 0.0]
    with pytest.raises(DataError, match="^records lacks the model's column"):
        noise.score(candidates.drop(columns=["age"]))


def test_scoring_answers_gives_the_scores_of_score(tiny):
    target, reference, candidates = tiny
    shadows = train_shadows(target, reference, n_shadows=4, random_state=1)
    for attack in (LabelGap(), NoiseRobustness(n_queries=3, scales=[0.1, 0.4])):
        attack.fit(target, reference, shadows=shadows)
        read = attack.answers(candidates)
        assert np.array_equal(attack.score_answers(read), attack.score(candidates))
        assert np.array_equal(attack.score_answers(read.astype(int).tolist()),
                              attack.score(candidates))
