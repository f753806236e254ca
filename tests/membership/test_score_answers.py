"""Scoring answers read before (``score_answers``): the same scores as ``score``, bit for
bit, for every attack, and one clear line for answers that do not fit."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tabinv.data.registry import builtin_card
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.exceptions import DataError
from tabinv.membership import RMIA, LiRA, LossThreshold, label_confidence
from tabinv.models.families import make_model

CARD = builtin_card("iwpc").with_label("dose_class")


@pytest.fixture(scope="module")
def fitted():
    frame = synthetic_iwpc(120, random_state=7)
    members, reference = frame[:40], frame[80:].reset_index(drop=True)
    candidates = pd.concat([members, frame[40:80]], ignore_index=True)
    target = make_model("tree", CARD, random_state=0, max_depth=4).fit(members)
    attacks = {"loss": LossThreshold(fpr=0.1),
               "lira-offline": LiRA(n_shadows=4, variance="per-example"),
               "lira-online": LiRA(online=True, n_shadows=4),
               "rmia": RMIA(n_shadows=4)}
    for attack in attacks.values():
        attack.fit(target, reference, candidates=candidates)
    return attacks, candidates


def answers(attack, records):
    confidence = label_confidence(attack.oracle_, records)
    if not hasattr(attack, "shadows_"):
        return (confidence,)
    return (confidence, attack.shadows_.confidences(attack.oracle_, records),
            attack.shadows_.in_mask(records))


@pytest.mark.parametrize("name", ["loss", "lira-offline", "lira-online", "rmia"])
def test_scoring_answers_gives_the_scores_of_score(fitted, name):
    attacks, candidates = fitted
    attack = attacks[name]
    read = answers(attack, candidates)
    assert np.array_equal(attack.score_answers(*read), attack.score(candidates))
    lists = [np.asarray(a).tolist() for a in read]  # plain lists are arrays too
    assert np.array_equal(attack.score_answers(*lists), attack.score(candidates))


def test_answers_that_do_not_fit_are_one_clear_line(fitted):
    attacks, candidates = fitted
    lira = attacks["lira-offline"]
    confidence, shadows, inside = answers(lira, candidates)
    bad = [
        ((confidence[:, None],), "confidence must be a 1-D array"),
        ((confidence + 2,), r"finite confidences in \[0, 1\]"),
        ((confidence,), "give shadow_confidence and in_mask"),
        ((confidence, shadows[:3], inside), r"shape \(shadows, records\) = \(4, 80\)"),
        ((confidence, shadows, inside[:, :5]), r"in_mask must have shape"),
        ((confidence, shadows, inside.astype(int)), "in_mask must be booleans"),
        ((confidence, np.where(shadows > 0.5, np.nan, shadows), inside), "finite"),
    ]
    for args, message in bad:
        with pytest.raises(DataError, match=message) as caught:
            lira.score_answers(*args)
        assert "\n" not in str(caught.value)
    with pytest.raises(DataError, match="1-D"):
        attacks["loss"].score_answers([[0.5]])
