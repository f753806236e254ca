"""The meta attack's cheaper paths give the same numbers: features written in place as
the grid's chunks arrive, and gradient boosting predicting in cache-sized blocks."""

from __future__ import annotations

import numpy as np
import pytest

from tabinv.attacks import learners
from tabinv.attacks.meta import MetaClassifier
from tabinv.models.oracle import Oracle

from .test_meta import SEED, toy


def fitted(access: str = "confidence", **params: object) -> tuple[MetaClassifier, object]:
    model, members, reference = toy("regression" if access == "output" else "classification")
    attack = MetaClassifier(random_state=SEED, **params).fit(
        Oracle(model, access), sensitive=["c0"], known=["c1", "c2", "n0"],
        reference=reference)
    return attack, members


def test_gradient_boosting_predicts_in_blocks_with_the_same_probabilities(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 7 records (``PREDICT_BYTES`` shrunk) give one call's probabilities, bit
    for bit, placed on the candidates seen in training."""
    attack, members = fitted()
    model = attack.oracle_.model
    features = attack.features(members, model.encode_label(members["y"]))
    whole = attack.classifier_.predict_proba(features)
    monkeypatch.setattr(learners, "PREDICT_BYTES", 8 * features.shape[1] * 7)
    assert learners.predict_rows(features.shape[1]) == 7 < len(members)
    blocks = learners.full_proba(attack.classifier_, features, attack.candidates_.size)
    np.testing.assert_array_equal(blocks[:, attack.classifier_.classes_], whole)
    assert learners.full_proba(attack.classifier_, features[:0], 3).shape == (0, 3)


@pytest.mark.parametrize("access", ["confidence", "label", "output"])
def test_features_in_place_equal_their_parts(access: str) -> None:
    """The matrix written in place is [known columns, label, answers, agreement], each
    part computed on its own from the records."""
    attack, members = fitted(access, classifier="logistic")
    model = attack.oracle_.model
    y = np.asarray(model.encode_label(members["y"]))
    features = attack.features(members, y)
    answers = attack.candidate_answers(members)
    n, k, width = answers.shape
    known = attack.encode_known(members)[:, attack.known_columns_].astype(float)
    if access == "output":
        label, agreement = y.astype(float)[:, None], y[:, None] - answers[:, :, 0]
    else:
        label = (y[:, None] == np.arange(width)).astype(float)
        agreement = answers[np.arange(n), :, y]
    expected = np.hstack([known, label, answers.reshape(n, -1), agreement])
    np.testing.assert_array_equal(features, expected)
    assert attack.features(members.iloc[:0], y[:0]).shape == (0, attack.feature_width())


def test_the_search_limits_threads_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hyperparameter search (6 fold fits and predictions, the refit) scans the
    thread pools once, and the classifiers run on one OpenMP / BLAS thread throughout."""
    from threadpoolctl import threadpool_info

    real = learners.threadpool_limits
    calls: list[int] = []
    seen: list[int] = []

    def counted(limits: int) -> object:
        calls.append(limits)
        return real(limits)

    def fit_and_look(classifier: object, *args: object) -> object:
        seen.extend(pool["num_threads"] for pool in threadpool_info())
        return fit_quietly(classifier, *args)

    fit_quietly = learners._fit_quietly
    monkeypatch.setattr(learners, "threadpool_limits", counted)
    monkeypatch.setattr(learners, "_fit_quietly", fit_and_look)
    attack, _ = fitted()
    assert calls == [1]
    assert len(seen) >= 7 and set(seen) == {1}
    with learners.one_thread():
        with learners.one_thread():
            pass
    assert calls == [1, 1]  # the inner one entered nothing
