"""Membership metrics against scikit-learn and plain-loop references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score, roc_curve

from tabinv.exceptions import DataError
from tabinv.membership.metrics import membership_metrics, roc_points


def _brute_tpr_at(members, non_members, level):
    """Best TPR over every threshold (each distinct score, and +inf) with FPR <= level."""
    best = 0.0
    for threshold in sorted(set(members) | set(non_members)):
        tpr = sum(1 for s in members if s >= threshold) / len(members)
        fpr = sum(1 for s in non_members if s >= threshold) / len(non_members)
        if fpr <= level:
            best = max(best, tpr)
    return best


def _brute_advantage(members, non_members):
    best = 0.0
    for threshold in sorted(set(members) | set(non_members)):
        tpr = sum(1 for s in members if s >= threshold) / len(members)
        fpr = sum(1 for s in non_members if s >= threshold) / len(non_members)
        best = max(best, tpr - fpr)
    return best


scores = st.lists(st.integers(0, 6).map(float), min_size=1, max_size=12)


@settings(max_examples=60, deadline=None)
@given(scores, scores)
def test_roc_and_auc_equal_scikit_learn(members, non_members):
    truth = [1] * len(members) + [0] * len(non_members)
    values = members + non_members
    fpr, tpr, thresholds = roc_points(members, non_members)
    want_fpr, want_tpr, want_thresholds = roc_curve(truth, values, drop_intermediate=False)
    np.testing.assert_allclose(fpr, want_fpr)
    np.testing.assert_allclose(tpr, want_tpr)
    np.testing.assert_array_equal(thresholds[1:], want_thresholds[1:])
    result = membership_metrics(members, non_members, n_boot=5)
    assert result.auc.value == pytest.approx(roc_auc_score(truth, values), abs=1e-12)
    assert result.advantage.value == pytest.approx(_brute_advantage(members, non_members))
    for level in (0.001, 0.01):
        assert result.tpr(level).value == pytest.approx(
            _brute_tpr_at(members, non_members, level))


@settings(max_examples=40, deadline=None)
@given(scores, scores, st.sampled_from([0.1, 0.25, 0.5]))
def test_tpr_at_any_fpr_equals_the_loop(members, non_members, level):
    result = membership_metrics(members, non_members, fprs=(level,), n_boot=3)
    assert result.tpr(level).value == pytest.approx(_brute_tpr_at(members, non_members, level))


def test_bootstrap_intervals_are_seeded_and_bracket_the_value():
    rng = np.random.default_rng(3)
    members, non_members = rng.normal(1, 1, 300), rng.normal(0, 1, 2000)
    first = membership_metrics(members, non_members, random_state=7)
    again = membership_metrics(members, non_members, random_state=7)
    other = membership_metrics(members, non_members, random_state=8)
    assert first == again
    assert first.auc != other.auc
    for estimate in (first.auc, first.advantage, first.tpr(0.001), first.tpr(0.01)):
        assert estimate.low <= estimate.value <= estimate.high
    # two unit-variance Gaussians one apart: AUC = Phi(1 / sqrt(2)) = 0.760
    assert first.auc.contains(0.760)
    assert 0.02 < first.auc.high - first.auc.low < 0.1
    assert first.smallest_fpr == 1 / 2000
    document = first.to_dict()
    assert document["tpr_at_fpr"][0]["fpr"] == 0.001 and len(document["roc"]) == 41


def test_perfect_and_useless_scores():
    perfect = membership_metrics([3.0, 4.0], [1.0, 2.0], n_boot=10)
    assert perfect.auc.value == 1.0 and perfect.advantage.value == 1.0
    assert perfect.tpr(0.001).value == 1.0
    tied = membership_metrics([1.0] * 5, [1.0] * 5, n_boot=10)
    assert tied.auc.value == 0.5 and tied.advantage.value == 0.0
    assert tied.tpr(0.01).value == 0.0  # a tie at the top cannot be split


@pytest.mark.parametrize("members, non_members, kwargs, message", [
    ([], [1.0], {}, "non-empty"),
    ([np.nan], [1.0], {}, "NaN or infinite"),
    ([[1.0]], [1.0], {}, "1-D"),
    ([1.0], [1.0], {"fprs": (0.0,)}, "fprs"),
    ([1.0], [1.0], {"n_boot": 0}, "n_boot"),
    ([1.0], [1.0], {"confidence": 1.5}, "confidence"),
    (["a"], [1.0], {}, "numbers"),
])
def test_bad_input_is_one_clear_line(members, non_members, kwargs, message):
    with pytest.raises(DataError, match=message) as caught:
        membership_metrics(members, non_members, **kwargs)
    assert "\n" not in str(caught.value)
