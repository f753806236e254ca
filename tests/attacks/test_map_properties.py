"""Properties of MAPInversion that hold for every model, data set and seed (hypothesis).

- posteriors are distributions (rows non-negative, summing to 1);
- a model that ignores the sensitive attribute leaves the posterior equal to the prior;
- the order of the attacked records changes nothing but the order of the rows;
- the same seeds give byte-identical posteriors.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tabinv.attacks.map import MAPInversion
from tabinv.models.encoding import TabularEncoder
from tabinv.models.oracle import Oracle
from tabinv.models.published import FixedLinearModel
from tabinv.models.target import TargetModel

from .reference import ToyWorld, joint_counts
from .test_map_reference import CASES, UNKNOWN, Case, attack, build

PROPERTY_SETTINGS = settings(max_examples=12, deadline=None, database=None)

case_indices = st.integers(0, len(CASES) - 1)
seeds = st.integers(0, 2**16)


def reseeded(index: int, seed: int) -> Case:
    return replace(CASES[index], seed=seed)


@PROPERTY_SETTINGS
@given(index=case_indices, seed=seeds,
       prior=st.sampled_from(["case", "learned", "published"]))
def test_posterior_rows_are_distributions(index: int, seed: int, prior: str) -> None:
    setup = build(reseeded(index, seed), check=False)
    params: dict[str, Any] = {} if prior == "case" else {"prior": prior}
    posterior = attack(setup, **params).infer(setup.attacked).probabilities
    assert posterior.shape == (len(setup.attacked), int(np.prod(
        [len(setup.model.domain(s)) for s in setup.case.sensitive])))
    assert np.isfinite(posterior).all()
    assert (posterior >= 0).all()
    np.testing.assert_allclose(posterior.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def blind_model(world: ToyWorld, sensitive: tuple[str, ...], members: pd.DataFrame,
                coefficients: list[float]) -> TargetModel:
    """A fixed linear model with zero weight on every encoded column of ``sensitive``."""
    card = world.card()
    columns = card.to_dict()["columns"]
    encoder = TabularEncoder(
        features=card.features,
        domains={f: columns[f]["domain"] for f in card.features if "domain" in columns[f]},
        bounds={f: columns[f]["bounds"] for f in card.features if "domain" not in columns[f]},
    ).fit()
    coef = np.resize(np.asarray(coefficients, dtype=float), encoder.n_output_)
    for name in sensitive:
        start, stop = encoder.slices_[name]
        coef[start:stop] = 0.0
    estimator = FixedLinearModel(coef=tuple(coef.tolist()), intercept=1.5)
    return TargetModel.from_card("fixed", estimator, card).fit(members)


@PROPERTY_SETTINGS
@given(seed=seeds, n_sensitive=st.integers(1, 2), unknown=st.sampled_from(UNKNOWN),
       coefficients=st.lists(st.floats(-5, 5, allow_nan=False), min_size=1, max_size=12))
def test_model_blind_to_the_sensitive_attribute_gives_the_prior(
        seed: int, n_sensitive: int, unknown: tuple[str, ...], coefficients: list[float],
) -> None:
    world = ToyWorld(seed, n_numeric=2)
    members, reference = world.sample(40), world.sample(30)
    sensitive = ("c0", "c1")[:n_sensitive]
    model = blind_model(world, sensitive, members, coefficients)
    known = [f for f in model.features if f not in sensitive and f not in unknown]
    fitted = MAPInversion(numeric_points=3).fit(Oracle.for_model(model), sensitive=sensitive,
                                                known=known, reference=reference)
    posterior = fitted.infer(members).probabilities
    candidates = list(itertools.product(*(model.domain(s) for s in sensitive)))
    counts = np.array(joint_counts(reference, sensitive, candidates), dtype=float)
    prior = (counts + 1) / (counts.sum() + len(candidates))
    np.testing.assert_allclose(posterior, np.tile(prior, (len(members), 1)), rtol=0,
                               atol=1e-12)


@PROPERTY_SETTINGS
@given(index=case_indices, seed=seeds, data=st.data())
def test_record_order_does_not_change_results(index: int, seed: int, data: Any) -> None:
    setup = build(reseeded(index, seed), check=False)
    permutation = data.draw(st.permutations(range(len(setup.attacked))))
    fitted = attack(setup)
    posterior = fitted.infer(setup.attacked).probabilities
    shuffled = fitted.infer(setup.attacked.iloc[permutation]).probabilities
    np.testing.assert_allclose(shuffled, posterior[permutation], rtol=0, atol=1e-12)
    # explicit labels are permuted with their records
    labels = setup.attacked["y"].to_numpy()[permutation]
    relabelled = fitted.infer(setup.attacked.iloc[permutation].drop(columns=["y"]), labels)
    np.testing.assert_allclose(relabelled.probabilities, posterior[permutation], rtol=0,
                               atol=1e-12)


@PROPERTY_SETTINGS
@given(index=case_indices, seed=seeds, prior=st.sampled_from(["case", "learned"]))
def test_same_seed_gives_identical_bytes(index: int, seed: int, prior: str) -> None:
    def run() -> bytes:
        setup = build(reseeded(index, seed), check=False)
        params: dict[str, Any] = {"random_state": seed}
        if prior != "case":
            params["prior"] = prior
        return attack(setup, **params).infer(setup.attacked).probabilities.tobytes()

    assert run() == run()
