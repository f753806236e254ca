"""``whitebox-dt``: Fredrikson et al.'s decision-tree rule, answer for answer as IBM ART.

The reference below re-implements ART's ``AttributeInferenceWhiteBoxDecisionTree.infer``
the way ART runs it: for every record and every candidate, the model's own
``predict_proba`` and ``decision_path`` on that one row (no vectorisation). Random toy
worlds and trees (one-hot and ordinal encodings, the sensitive attribute anywhere,
one or two sensitive attributes jointly) must give the same answer on every record.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tabinv.attacks.decisionrule import WhiteBoxDecisionRule
from tabinv.attacks.registry import get_attack
from tabinv.data.schema import card_from_dict
from tabinv.exceptions import AttackError
from tabinv.models.encoding import encode_codes
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle

from .reference import ToyWorld

ORDERS = [["c0", "c1", "n0", "c2", "n1"], ["c1", "n0", "c0", "c2", "n1"],
          ["c1", "c2", "n0", "n1", "c0"]]
CASES = [(seed, encoding, order, n_sensitive)
         for seed, (encoding, order, n_sensitive) in enumerate(
             [("onehot", 0, 1), ("ordinal", 1, 1), ("onehot", 2, 2), ("ordinal", 0, 2),
              ("ordinal", 2, 1), ("onehot", 1, 1)])]


def _setup(seed: int, encoding: str, order: int, n_sensitive: int) -> dict[str, Any]:
    world = ToyWorld(400 + seed, task="classification", n_numeric=2, n_classes=3)
    card = card_from_dict({**world.card_dict, "features": ORDERS[order]})
    members, reference = world.sample(300), world.sample(80)
    model = make_model("tree", card, random_state=seed, categorical=encoding,
                       max_depth=6).fit(members)
    sensitive = ("c0", "c1")[:n_sensitive]
    known = tuple(f for f in model.features if f not in sensitive)
    return {"model": model, "members": members, "reference": reference,
            "sensitive": sensitive, "known": known}


def art_loop(model: Any, records: pd.DataFrame, sensitive: tuple[str, ...],
             reference: pd.DataFrame) -> np.ndarray:
    """ART's rule, one row and one candidate at a time (joint candidates, first varying
    slowest); the priors are the smoothed (+1) joint frequencies in the reference."""
    domains = [model.domain(name) for name in sensitive]
    sizes = [len(d) for d in domains]
    joint = list(np.ndindex(*sizes))
    index = np.zeros(len(reference), dtype=np.int64)
    for name, domain in zip(sensitive, domains, strict=True):
        index = index * len(domain) + encode_codes(reference[name], domain, name)
    counts = np.bincount(index, minlength=len(joint)) + 1.0
    priors = counts / counts.sum()
    estimator = model.estimator_
    classes = list(np.asarray(model.classes_present_))
    answers = []
    for _, row in records.iterrows():
        y = classes.index(int(model.label_codes([row[model.label]])[0]))
        predicted, score = [], []
        for combo in joint:
            candidate = row.copy()
            for name, domain, code in zip(sensitive, domains, combo, strict=True):
                candidate[name] = domain[code]
            prior = priors[len(predicted)]
            x = model.encode(pd.DataFrame([candidate]))
            predicted.append(int(np.argmax(estimator.predict_proba(x)[0])))
            leaf = estimator.decision_path(x).indices[-1]
            score.append(estimator.tree_.n_node_samples[leaf] / len(records) * prior)
        matches = [j for j, p in enumerate(predicted) if p == y]
        answers.append(matches[0] if len(matches) == 1 else int(np.argmax(score)))
    return np.asarray(answers)


@pytest.mark.parametrize(("seed", "encoding", "order", "n_sensitive"), CASES)
def test_same_answer_as_arts_loop_on_every_record(seed: int, encoding: str, order: int,
                                                   n_sensitive: int) -> None:
    setup = _setup(seed, encoding, order, n_sensitive)
    oracle = Oracle.for_model(setup["model"], "white-box")
    attack = WhiteBoxDecisionRule(smoothing=1.0).fit(
        oracle, sensitive=setup["sensitive"], known=setup["known"],
        reference=setup["reference"])
    attacked = setup["members"].iloc[::5]
    posterior = attack.infer(attacked)
    expected = art_loop(setup["model"], attacked, setup["sensitive"], setup["reference"])
    np.testing.assert_array_equal(posterior.predicted_index(), expected)
    np.testing.assert_allclose(posterior.probabilities.sum(axis=1), 1.0, atol=1e-12)
    # one-record chunks change nothing
    attack.memory = attack.memory_needed(len(attacked))  # the least that fits
    assert attack.chunk_size(len(attacked)) == 1
    np.testing.assert_array_equal(attack.infer(attacked).probabilities,
                                  posterior.probabilities)


def test_both_branches_of_the_rule_occur() -> None:
    """The cases exercise the single-match answer and the prior x count fallback."""
    single = fallback = 0
    for case in CASES:
        setup = _setup(*case)
        attack = WhiteBoxDecisionRule().fit(
            Oracle.for_model(setup["model"], "white-box"), sensitive=setup["sensitive"],
            known=setup["known"], reference=setup["reference"])
        probabilities = attack.infer(setup["members"]).probabilities
        one_hot = np.isclose(probabilities.max(axis=1), 1.0)
        single += int(one_hot.sum())
        fallback += int((~one_hot).sum())
    assert single > 50 and fallback > 50, (single, fallback)


def test_refuses_forests_and_unknown_splits() -> None:
    setup = _setup(0, "onehot", 0, 1)
    world = ToyWorld(400, task="classification", n_numeric=2, n_classes=3)
    card = card_from_dict({**world.card_dict, "features": ORDERS[0]})
    forest = make_model("forest", card, random_state=0, n_estimators=3,
                        max_depth=4).fit(setup["members"])
    with pytest.raises(AttackError, match="one decision-tree classifier.*RandomForest"):
        WhiteBoxDecisionRule().fit(Oracle.for_model(forest, "white-box"),
                                   sensitive=["c0"], known=[f for f in forest.features
                                                            if f != "c0"],
                                   reference=setup["reference"])
    model = setup["model"]
    known = [f for f in model.features if f not in ("c0", "n0")]
    with pytest.raises(AttackError, match="does not know.*n0"):
        WhiteBoxDecisionRule().fit(Oracle.for_model(model, "white-box"),
                                   sensitive=["c0"], known=known,
                                   reference=setup["reference"])


def test_registered_and_described() -> None:
    attack = get_attack("whitebox-dt")
    assert isinstance(attack, WhiteBoxDecisionRule)
    setup = _setup(1, "ordinal", 1, 1)
    attack.fit(Oracle.for_model(setup["model"], "white-box"), sensitive=["c0"],
               known=setup["known"], reference=setup["reference"])
    assert "as ART" in attack.describe()["likelihood"]
