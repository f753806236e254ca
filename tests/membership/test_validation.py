"""What the papers lead us to expect, on seeded synthetic data small enough for CI.

1000 members and 1000 non-members: the smallest FPR with a false positive is 0.1 %, so
the TPR at 0.1 % FPR is measured, not extrapolated.
"""

from __future__ import annotations

import numpy as np
import pytest

from tabinv.data.registry import builtin_card
from tabinv.data.splits import split_dataset
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.membership import assess_membership, label_confidence
from tabinv.membership.queries import as_oracle
from tabinv.models.families import make_model


@pytest.fixture(scope="module")
def splits():
    frame = synthetic_iwpc(3000, random_state=1)
    return split_dataset(frame, (1 / 3, 1 / 3, 1 / 3), random_state=0)


@pytest.fixture(scope="module")
def card():
    return builtin_card("iwpc").with_label("dose_class")


def _by_attack(results):
    return {r.attack: r for r in results}


@pytest.fixture(scope="module")
def overfit_forest(splits, card):
    target = make_model("forest", card, random_state=0, n_estimators=10, max_depth=None,
                        min_samples_leaf=1, bootstrap=False).fit(splits.members)
    return _by_attack(assess_membership(target, splits.members, splits.non_members,
                                        splits.reference, n_shadows=8, n_boot=100,
                                        random_state=0))


def test_the_fpr_of_0_1_percent_is_resolvable(overfit_forest):
    assert overfit_forest["loss"].metrics.n_non_members == 1000
    assert overfit_forest["loss"].metrics.smallest_fpr <= 0.001


def test_every_attack_sees_the_overfit_forest(overfit_forest):
    """The confidence attacks clearly; the label-only ones less (a label is 1 bit where
    a confidence is a number), the noise robustness more than the gap attack."""
    for result in overfit_forest.values():
        label_only = result.attack in ("gap", "label-noise")
        assert result.metrics.auc.low > (0.6 if label_only else 0.85), result.attack
    assert overfit_forest["label-noise"].metrics.auc.value \
        > overfit_forest["gap"].metrics.auc.value


@pytest.mark.parametrize("attack", ["lira-offline", "lira-online", "rmia"])
def test_shadow_attacks_find_members_at_low_fpr_where_the_loss_attack_cannot(
        overfit_forest, attack):
    """Members and easy non-members alike get confidence 1 from a forest that fits its
    training data exactly: the loss threshold cannot tell them apart at a low FPR, while
    the shadows show which records are easy for every forest."""
    loss = overfit_forest["loss"].metrics.tpr(0.001)
    shadow = overfit_forest[attack].metrics.tpr(0.001)
    assert shadow.value >= loss.value + 0.05
    assert shadow.low > loss.high


def test_the_loss_threshold_calibrated_on_the_reference_keeps_its_fpr(overfit_forest):
    """Yeom's attacker picks the threshold giving 1 % FPR on its own (non-member)
    sample; on the true non-members the FPR stays near 1 %."""
    tpr, fpr = overfit_forest["loss"].calibrated
    assert fpr.value <= 0.03 and fpr.high >= 0.0
    assert 0.0 <= tpr.value <= 1.0
    assert overfit_forest["rmia"].calibrated is None


def test_results_say_what_the_shadows_were(overfit_forest):
    online = overfit_forest["lira-online"]
    assert online.n_shadows == 8 and "clones of the target: family 'forest'" in online.shadows
    document = online.to_dict()
    assert document["params"]["global_variance"] is True  # 8 shadows < 64
    assert overfit_forest["loss"].to_dict()["n_shadows"] == 0


def test_a_dp_model_at_small_epsilon_hides_membership(splits, card):
    target = make_model("forest", card, random_state=0, epsilon=0.1).fit(splits.members)
    seen = label_confidence(as_oracle(target), splits.members)
    assert np.unique(seen).size >= 5  # not a constant model: 0.5 is earned
    results = assess_membership(target, splits.members, splits.non_members, splits.reference,
                                n_shadows=4, n_boot=100, random_state=0)
    for result in results:
        assert result.metrics.auc.contains(0.5), (result.attack, result.metrics.auc)
        assert result.metrics.tpr(0.01).value < 0.05
        assert "at epsilon 0.1" in result.shadows or result.attack in ("loss", "gap")
