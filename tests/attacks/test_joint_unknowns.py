"""Many unknown features: summed over rows of the reference sample (empirical joint prior)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from tabinv.attacks import MAPInversion
from tabinv.attacks.unknowns import JOINT_SAMPLES, MAX_COMBINATIONS
from tabinv.data.schema import card_from_dict
from tabinv.exceptions import AttackError
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle

SNPS = [f"snp{j}" for j in range(12)]


def _world(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({s: rng.integers(0, 3, n) for s in SNPS})
    frame["age"] = rng.uniform(20, 80, n)
    frame["target"] = rng.integers(0, 3, n)
    frame["y"] = (0.8 * frame["target"] + 0.3 * frame[SNPS].sum(axis=1) + 0.02 * frame["age"]
                  + rng.normal(0, 0.5, n))
    return frame


CARD = card_from_dict({
    "name": "joint", "label": "y",
    "columns": {**{s: {"kind": "categorical", "domain": [0, 1, 2], "encoding": "ordinal"}
                   for s in SNPS},
                "age": {"kind": "numeric", "bounds": [0, 100]},
                "target": {"kind": "categorical", "domain": [0, 1, 2]},
                "y": {"kind": "numeric"}},
})


def test_many_unknowns_are_summed_over_reference_rows():
    assert 3 ** len(SNPS) > MAX_COMBINATIONS
    members, reference, records = _world(400, 0), _world(JOINT_SAMPLES - 6, 1), _world(15, 2)
    model = make_model("linear", CARD).fit(members)
    attack = MAPInversion(prior="marginal").fit(
        Oracle.for_model(model), sensitive=["target"], known=["age"], reference=reference)
    assert attack.unknown_.joint is not None and attack.unknown_.size == len(reference)
    posterior = attack.infer(records).probabilities

    # brute force: every reference row supplies the unknown SNPs, equally weighted
    sigma = model.residual_sigma_
    counts = np.bincount(reference["target"], minlength=3) + 1.0
    expected = np.empty((len(records), 3))
    for i, record in records.reset_index(drop=True).iterrows():
        for v in range(3):
            rows = reference[SNPS].copy()
            rows["age"], rows["target"] = record["age"], v
            likelihood = norm.pdf(record["y"], model.predict_fitted(rows), sigma).mean()
            expected[i, v] = likelihood * counts[v] / counts.sum()
    expected /= expected.sum(axis=1, keepdims=True)
    np.testing.assert_allclose(posterior, expected, rtol=1e-9, atol=1e-12)


def test_joint_sampling_is_seeded_and_needs_the_unknown_columns():
    members, reference = _world(300, 0), _world(2 * JOINT_SAMPLES, 1)
    model = make_model("linear", CARD).fit(members)
    oracle = Oracle.for_model(model)

    def fit(seed: int, ref: pd.DataFrame) -> MAPInversion:
        return MAPInversion(random_state=seed).fit(oracle, sensitive=["target"],
                                                   known=["age"], reference=ref)

    first, again, other = fit(0, reference), fit(0, reference), fit(1, reference)
    assert np.array_equal(first.unknown_.joint[0], again.unknown_.joint[0])
    assert not np.array_equal(first.unknown_.joint[0], other.unknown_.joint[0])
    with pytest.raises(AttackError, match="reference sample"):
        MAPInversion(prior="published").fit(oracle, sensitive=["target"], known=["age"])
