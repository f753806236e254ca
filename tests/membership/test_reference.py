"""Every attack's vectorised scores equal a brute-force reference written with plain
loops on a tiny case: 6 attacked records (3 members, 3 non-members), 4 shadow models."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from tabinv.data.registry import builtin_card
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.membership import RMIA, LiRA, LossThreshold, train_shadows
from tabinv.models.families import make_model

CLIP = 1e-6
MIN_SIGMA = 1e-3


@pytest.fixture(scope="module")
def tiny():
    card = builtin_card("iwpc").with_label("dose_class")
    frame = synthetic_iwpc(48, random_state=5)
    members, outsiders, reference = frame[:20], frame[20:24], frame[24:]
    target = make_model("tree", card, random_state=0, max_depth=3).fit(members)
    candidates = pd.concat([members[:3], outsiders[:3]], ignore_index=True)
    offline = train_shadows(target, reference.reset_index(drop=True), n_shadows=4,
                            random_state=1)
    online = train_shadows(target, pd.concat([reference, candidates], ignore_index=True),
                           n_shadows=4, random_state=2)
    return target, reference.reset_index(drop=True), candidates, offline, online


# -- plain references ------------------------------------------------------------------
_ANSWERS: dict = {}


def confidence(model, records, i):
    """The model's confidence in record i's true label (the model answers each frame
    once; the answers are kept)."""
    key = (id(model), id(records))
    if key not in _ANSWERS:
        _ANSWERS[key] = model.predict_proba(records)
    label = records[model.label].iloc[i]
    return float(_ANSWERS[key][i][list(model.domain(model.label)).index(label)])


def phi(p):
    p = min(max(p, CLIP), 1 - CLIP)
    return math.log(p / (1 - p))


_POOL_ROWS: dict = {}


def trained_on(shadows, s, records, i):
    """Did shadow s train on record i? (compare with every pool row in turn)"""
    columns = [*shadows.models[0].features, shadows.models[0].label]
    row = records[columns].iloc[i].tolist()
    if id(shadows) not in _POOL_ROWS:
        _POOL_ROWS[id(shadows)] = [list(r) for r in shadows.pool[columns].itertuples(index=False)]
    for j, pool_row in enumerate(_POOL_ROWS[id(shadows)]):
        if shadows.keep[s, j] and pool_row == row:
            return True
    return False


def mean_var(values):
    mean = sum(values) / len(values)
    return mean, sum((v - mean) ** 2 for v in values) / len(values)


def global_sigmas(shadows):
    """sqrt of the mean over pool records of each record's IN / OUT variance."""
    ins, outs = [], []
    for j in range(len(shadows.pool)):
        values = [phi(confidence(m, shadows.pool, j)) for m in shadows.models]
        ins.append(mean_var([v for s, v in enumerate(values) if shadows.keep[s, j]])[1])
        outs.append(mean_var([v for s, v in enumerate(values) if not shadows.keep[s, j]])[1])
    return math.sqrt(sum(ins) / len(ins)), math.sqrt(sum(outs) / len(outs))


def log_normal(x, mean, sigma):
    return -0.5 * ((x - mean) / sigma) ** 2 - math.log(sigma) - 0.5 * math.log(2 * math.pi)


def lira_reference(target, shadows, records, online, global_variance):
    sigma_in_all, sigma_out_all = global_sigmas(shadows)
    scores = []
    for i in range(len(records)):
        observed = phi(confidence(target, records, i))
        ins, outs = [], []
        for s, model in enumerate(shadows.models):
            value = phi(confidence(model, records, i))
            (ins if trained_on(shadows, s, records, i) else outs).append(value)
        mean_out, var_out = mean_var(outs)
        sigma_out = max(sigma_out_all if global_variance else math.sqrt(var_out), MIN_SIGMA)
        if not online:
            scores.append((observed - mean_out) / sigma_out)
            continue
        mean_in, var_in = mean_var(ins)
        sigma_in = max(sigma_in_all if global_variance else math.sqrt(var_in), MIN_SIGMA)
        scores.append(log_normal(observed, mean_in, sigma_in)
                      - log_normal(observed, mean_out, sigma_out))
    return scores


def rmia_ratio(target, model_shadows, records, i, a, models, keep=None):
    """p(x | target) / p(x), p(x) from the OUT models' mean confidence (offline)."""
    p_target = max(confidence(target, records, i), CLIP)
    outs = []
    for s, model in models:
        if keep is not None:
            inside = keep[s][i]
        else:
            inside = trained_on(model_shadows, s, records, i)
        if not inside:
            outs.append(confidence(model, records, i))
    p_out = sum(outs) / len(outs) if outs else 0.0
    p_x = ((1 + a) * p_out + (1 - a)) / 2
    return p_target / max(p_x, CLIP)


def rmia_reference(target, shadows, reference, records, a, gamma):
    """The population z is the reference sample."""
    models = list(enumerate(shadows.models))
    population = [rmia_ratio(target, shadows, reference, j, a, models=models)
                  for j in range(len(reference))]
    scores = []
    for i in range(len(records)):
        ratio_x = rmia_ratio(target, shadows, records, i, a, models=models)
        wins = sum(1 for ratio_z in population if ratio_x / ratio_z >= gamma)
        scores.append(wins / len(population))
    return scores


# -- the tests ---------------------------------------------------------------------------
def test_loss_threshold_equals_the_loop(tiny):
    target, reference, candidates, _, _ = tiny
    attack = LossThreshold(fpr=0.1).fit(target, reference)
    want = [math.log(max(confidence(target, candidates, i), CLIP))
            for i in range(len(candidates))]
    np.testing.assert_allclose(attack.score(candidates), want, rtol=1e-12, atol=0)
    losses = sorted(math.log(max(confidence(target, reference, j), CLIP))
                    for j in range(len(reference)))
    assert attack.threshold_ == losses[math.ceil(0.9 * (len(losses) - 1))]


@pytest.mark.parametrize("online", [False, True])
@pytest.mark.parametrize("variance", ["global", "per-example"])
def test_lira_equals_the_loop(tiny, online, variance):
    target, reference, candidates, offline, online_set = tiny
    shadows = online_set if online else offline
    attack = LiRA(online=online, variance=variance).fit(
        target, reference, candidates=candidates, shadows=shadows)
    want = lira_reference(target, shadows, candidates, online, variance == "global")
    np.testing.assert_allclose(attack.score(candidates), want, rtol=1e-10, atol=1e-12)


def test_lira_offline_on_the_online_shadows_uses_out_shadows_only(tiny):
    target, reference, candidates, _, online_set = tiny
    attack = LiRA(online=False, variance="per-example").fit(
        target, reference, shadows=online_set)
    want = lira_reference(target, online_set, candidates, False, False)
    np.testing.assert_allclose(attack.score(candidates), want, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("a, gamma", [(0.0, 1.0), (0.3, 1.0), (1.0, 2.0), (0.6, 0.5)])
def test_rmia_equals_the_loop(tiny, a, gamma):
    target, reference, candidates, offline, _ = tiny
    attack = RMIA(a=a, gamma=gamma).fit(target, reference, shadows=offline)
    want = rmia_reference(target, offline, reference, candidates, a, gamma)
    np.testing.assert_array_equal(attack.score(candidates), want)


def test_rmia_tunes_a_as_the_loop_does(tiny):
    """Reference model 0 plays the target on the pool; the a with the best AUC wins."""
    target, reference, _, offline, _ = tiny
    pool, keep = offline.pool, offline.keep
    others = list(enumerate(offline.models))[1:]
    best, best_auc, aucs = None, -1.0, set()
    for a in [k / 10 for k in range(11)]:
        ratios = [rmia_ratio(offline.models[0], offline, pool, j, a, models=others,
                             keep=[list(row) for row in keep]) for j in range(len(pool))]
        population = [r for j, r in enumerate(ratios) if not keep[0][j]]
        scores = [sum(1 for z in population if r / z >= 1.0) / len(population)
                  for r in ratios]
        auc = roc_auc_score(keep[0], scores)
        aucs.add(round(auc, 12))
        if auc > best_auc + 1e-12:
            best, best_auc = a, auc
    attack = RMIA(a="auto").fit(target, reference, shadows=offline)
    assert len(aucs) > 1, "the tiny case must make the choice of a matter"
    assert attack.a_ == pytest.approx(best)


def test_rmia_on_shadows_that_trained_on_the_candidates_too(tiny):
    """Reference models from the online pool: each record's p_OUT uses only the models
    that did not train on it, for the population and the attacked records alike."""
    target, reference, candidates, _, online_set = tiny
    attack = RMIA(a=0.4, gamma=1.0).fit(target, reference, shadows=online_set)
    want = rmia_reference(target, online_set, reference, candidates, 0.4, 1.0)
    np.testing.assert_array_equal(attack.score(candidates), want)
