"""Priors over the sensitive candidates: tables of hand-computed cases, and their errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from tabinv.attacks.candidates import Candidates
from tabinv.attacks.map import MAPInversion
from tabinv.attacks.priors import (
    ConditionalPrior,
    LearnedPrior,
    MarginalPrior,
    Prior,
    TablePrior,
    independent_prior,
)
from tabinv.exceptions import AttackError, DataError
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle

from .reference import ToyWorld

S_ABC = Candidates.from_domains({"s": ["a", "b", "c"]})
S_AB = Candidates.from_domains({"s": ["a", "b"]})
JOINT = Candidates.from_domains({"s1": ["a", "b"], "s2": [0, 1]})  # (a,0) (a,1) (b,0) (b,1)


def probabilities(prior: Prior, records: pd.DataFrame) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.exp(prior.log_prob(records))


# -- marginal ------------------------------------------------------------------------

MARGINAL_CASES = [
    # candidates, reference rows, smoothing, expected prior
    pytest.param(S_ABC, {"s": ["a", "a", "b"]}, 1.0, [3 / 6, 2 / 6, 1 / 6], id="add-one"),
    pytest.param(S_ABC, {"s": ["a", "a", "b"]}, 2.0, [4 / 9, 3 / 9, 2 / 9], id="add-two"),
    pytest.param(S_ABC, {"s": ["a", "a", "b"]}, 0.0, [2 / 3, 1 / 3, 0.0], id="unsmoothed"),
    pytest.param(S_ABC, {"s": ["c"] * 7}, 1.0, [1 / 10, 1 / 10, 8 / 10], id="one-value"),
    # joint counts (a,0)=1 (a,1)=1 (b,0)=0 (b,1)=2, plus one each, over 4 + 4
    pytest.param(JOINT, {"s1": ["a", "a", "b", "b"], "s2": [0, 1, 1, 1]}, 1.0,
                 [2 / 8, 2 / 8, 1 / 8, 3 / 8], id="joint-C-order"),
]


@pytest.mark.parametrize(("candidates", "reference", "smoothing", "expected"), MARGINAL_CASES)
def test_marginal_prior(candidates: Candidates, reference: dict[str, list[Any]],
                        smoothing: float, expected: list[float]) -> None:
    prior = MarginalPrior(smoothing).fit(pd.DataFrame(reference), candidates)
    records = pd.DataFrame({"anything": [1, 2, 3]})
    np.testing.assert_allclose(probabilities(prior, records), [expected] * 3, rtol=0,
                               atol=1e-12)


def test_marginal_prior_rejects_values_outside_the_domain() -> None:
    with pytest.raises(DataError, match="not in its domain"):
        MarginalPrior().fit(pd.DataFrame({"s": ["a", "z"]}), S_ABC)


def test_independent_prior_multiplies_smoothed_marginals() -> None:
    candidates = Candidates.from_domains({"s1": ["a", "b"], "s2": ["x", "y", "z"]})
    prior = independent_prior(candidates, [np.array([2, 1]), np.array([0, 3, 1])])
    # (2+1, 1+1) / 5 and (0+1, 3+1, 1+1) / 7, joint in C order
    expected = [3 / 35, 12 / 35, 6 / 35, 2 / 35, 8 / 35, 4 / 35]
    np.testing.assert_allclose(probabilities(prior, pd.DataFrame(index=range(2))),
                               [expected] * 2, rtol=0, atol=1e-12)
    assert prior.describe() == "published marginals"


# -- conditional -----------------------------------------------------------------------

G_XYZ = {"g": ["x", "y", "z"]}
REF_G = {"g": ["x", "x", "x", "y"], "s": ["a", "a", "b", "b"]}
REF_GH = {"g": ["x", "x", "x", "y"], "h": [0, 1, 1, 0], "s": ["a", "b", "b", "a"]}

CONDITIONAL_CASES = [
    # given, domains, reference, records, smoothing, expected rows
    # group x: (2+1, 1+1)/5; group y: (0+1, 1+1)/3; z unseen -> marginal (2+1, 2+1)/6
    pytest.param(("g",), G_XYZ, REF_G, {"g": ["z", "x", "y"]}, 1.0,
                 [[0.5, 0.5], [3 / 5, 2 / 5], [1 / 3, 2 / 3]], id="fallback-to-marginal"),
    pytest.param(("g",), G_XYZ, REF_G, {"g": ["x", "y", "z"]}, 0.0,
                 [[2 / 3, 1 / 3], [0.0, 1.0], [0.5, 0.5]], id="unsmoothed"),  # no 0/0 warning
    # groups (g, h): (x,0): a -> (2, 1)/3; (x,1): b b -> (1, 3)/4; (y,0): a -> (2, 1)/3;
    # (y,1) unseen -> marginal counts (2, 2) -> (3, 3)/6
    pytest.param(("g", "h"), {"g": ["x", "y"], "h": [0, 1]}, REF_GH,
                 {"g": ["y", "x", "x", "y"], "h": [1, 1, 0, 0]}, 1.0,
                 [[0.5, 0.5], [1 / 4, 3 / 4], [2 / 3, 1 / 3], [2 / 3, 1 / 3]],
                 id="two-given-columns"),
]


@pytest.mark.parametrize(("given", "domains", "reference", "records", "smoothing", "expected"),
                         CONDITIONAL_CASES)
def test_conditional_prior(given: tuple[str, ...], domains: dict[str, list[Any]],
                           reference: dict[str, list[Any]], records: dict[str, list[Any]],
                           smoothing: float, expected: list[list[float]]) -> None:
    prior = ConditionalPrior(given, domains, smoothing).fit(pd.DataFrame(reference), S_AB)
    np.testing.assert_allclose(probabilities(prior, pd.DataFrame(records)), expected, rtol=0,
                               atol=1e-12)
    assert prior.describe() == f"conditional on {', '.join(given)}"


def test_conditional_prior_over_joint_candidates() -> None:
    reference = pd.DataFrame({"g": ["x", "x", "y"], "s1": ["a", "b", "b"], "s2": [0, 1, 1]})
    prior = ConditionalPrior(["g"], {"g": ["x", "y"]}).fit(reference, JOINT)
    # x: (a,0)=1 (b,1)=1 -> (2, 1, 1, 2)/6; y: (b,1)=1 -> (1, 1, 1, 2)/5
    np.testing.assert_allclose(probabilities(prior, pd.DataFrame({"g": ["y", "x"]})),
                               [[1 / 5, 1 / 5, 1 / 5, 2 / 5], [2 / 6, 1 / 6, 1 / 6, 2 / 6]],
                               rtol=0, atol=1e-12)


@pytest.mark.parametrize(("given", "domains", "message"), [
    pytest.param((), G_XYZ, "at least one column", id="nothing-given"),
    pytest.param(("age",), G_XYZ, "only on categorical columns", id="numeric-given"),
])
def test_conditional_prior_configuration_errors(given: tuple[str, ...],
                                                domains: dict[str, list[Any]],
                                                message: str) -> None:
    with pytest.raises(AttackError, match=message):
        ConditionalPrior(given, domains)


def test_conditional_prior_needs_the_given_column_in_the_records() -> None:
    prior = ConditionalPrior(["g"], G_XYZ).fit(pd.DataFrame(REF_G), S_AB)
    with pytest.raises(AttackError, match="needs column 'g'"):
        prior.log_prob(pd.DataFrame({"s": ["a"]}))


def test_conditional_prior_rejects_values_outside_the_domain() -> None:
    prior = ConditionalPrior(["g"], G_XYZ).fit(pd.DataFrame(REF_G), S_AB)
    with pytest.raises(DataError, match="not in its domain"):
        prior.log_prob(pd.DataFrame({"g": ["w"]}))


# -- table -----------------------------------------------------------------------------

TABLE_CASES = [
    # table, records, expected rows (candidates a, b, c)
    pytest.param({"s": ["a", "b", "c"], "probability": [0.2, 0.3, 0.5]}, {"x": [0, 1]},
                 [[0.2, 0.3, 0.5]] * 2, id="no-given"),
    # c missing from every group: probability 0
    pytest.param({"race": ["W", "W", "B", "B"], "s": ["a", "b", "a", "b"],
                  "probability": [0.7, 0.3, 0.2, 0.8]}, {"race": ["B", "W", "B"]},
                 [[0.2, 0.8, 0.0], [0.7, 0.3, 0.0], [0.2, 0.8, 0.0]], id="by-race"),
    # given values are compared as text: an integer column matches integer records
    pytest.param({"drug": [0, 0, 1], "s": ["a", "c", "b"], "probability": [0.5, 0.5, 1.0]},
                 {"drug": [1, 0]}, [[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]], id="integer-given"),
    pytest.param({"s": ["a", "b", "c"], "probability": ["0.25", "0.25", "0.5"]}, {"x": [0]},
                 [[0.25, 0.25, 0.5]], id="probabilities-as-text"),
    pytest.param({"s": ["a", "b", "c"], "probability": [0.2, 0.3, 0.4999999]}, {"x": [0]},
                 [[0.2, 0.3, 0.4999999]], id="sum-within-1e-6"),
]


def test_table_prior_matches_float_held_integer_categories() -> None:
    """1 in the table and 1.0 in the records (a CSV column read as float) are one group,
    as they are for the model's encoder and the other priors."""
    table = pd.DataFrame({"drug": [0, 1], "s": ["a", "b"], "probability": [1.0, 1.0]})
    prior = TablePrior(table).fit(None, S_ABC)
    np.testing.assert_array_equal(probabilities(prior, pd.DataFrame({"drug": [1.0, 0.0]})),
                                  [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])


@pytest.mark.parametrize(("table", "records", "expected"), TABLE_CASES)
def test_table_prior(table: dict[str, list[Any]], records: dict[str, list[Any]],
                     expected: list[list[float]]) -> None:
    prior = TablePrior(pd.DataFrame(table)).fit(None, S_ABC)
    np.testing.assert_allclose(probabilities(prior, pd.DataFrame(records)), expected, rtol=0,
                               atol=1e-12)


TABLE_ERRORS = [
    # table, records (or None: the error comes from fit), message
    pytest.param({"s": ["a", "b"], "probability": [0.5, 0.4]}, None,
                 r"sum to 0\.9000, not 1", id="sum-below-1"),
    pytest.param({"race": ["W", "W", "B"], "s": ["a", "b", "a"],
                  "probability": [0.5, 0.5, 0.6]}, None, r"group \('B',\) sum to 0\.6000",
                 id="one-group-off"),
    pytest.param({"s": ["a", "b"], "p": [0.5, 0.5]}, None, "needs a 'probability' column",
                 id="no-probability-column"),
    pytest.param({"t": ["a", "b"], "probability": [0.5, 0.5]}, None,
                 r"needs the sensitive column\(s\) \['s'\]", id="no-sensitive-column"),
    pytest.param({"s": ["a", "b"], "probability": [1.5, -0.5]}, None, "numbers >= 0",
                 id="negative"),
    pytest.param({"s": ["a", "b"], "probability": ["half", 0.5]}, None, "numbers >= 0",
                 id="not-a-number"),
    pytest.param({"s": ["a", "z"], "probability": [0.5, 0.5]}, None, "not in its domain",
                 id="value-outside-domain"),
    pytest.param({"race": ["W", "B"], "s": ["a", "a"], "probability": [1.0, 1.0]},
                 {"race": ["W", "A", "A"]},
                 r"2 record\(s\) belong to no group of the table", id="record-in-no-group"),
    pytest.param({"race": ["W", "B"], "s": ["a", "a"], "probability": [1.0, 1.0]},
                 {"ethnicity": ["W"]}, r"the records lack column\(s\) \['race'\]",
                 id="records-lack-given-column"),
]


@pytest.mark.parametrize(("table", "records", "message"), TABLE_ERRORS)
def test_table_prior_errors(table: dict[str, list[Any]], records: dict[str, list[Any]] | None,
                            message: str) -> None:
    prior = TablePrior(pd.DataFrame(table), origin="priors.csv")
    with pytest.raises(DataError, match=message) as caught:
        prior.fit(None, S_ABC)
        prior.log_prob(pd.DataFrame(records))
    assert str(caught.value).startswith("priors.csv") or "domain" in str(caught.value)


# -- learned ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def world_frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    world = ToyWorld(7, n_numeric=2)
    return world.sample(60), world.sample(25)


DOMAINS = {"c1": [0, 1], "c2": ["v20", "v21", "v22"]}
C0 = Candidates.from_domains({"c0": ["v00", "v01", "v02"]})
C0_C1 = Candidates.from_domains({"c0": ["v00", "v01", "v02"], "c1": [0, 1]})


@pytest.mark.parametrize(("known", "candidates"), [
    pytest.param(("c1", "c2", "n0", "n1"), C0, id="all-known"),
    pytest.param(("n0",), C0, id="numeric-only"),
    pytest.param(("c2", "n1"), C0_C1, id="joint"),
    pytest.param((), C0, id="nothing-known"),
])
def test_learned_prior_rows_sum_to_one(world_frames: tuple[pd.DataFrame, pd.DataFrame],
                                       known: tuple[str, ...], candidates: Candidates) -> None:
    reference, records = world_frames
    prior = LearnedPrior(known, DOMAINS, random_state=0).fit(reference, candidates)
    p = probabilities(prior, records)
    assert p.shape == (len(records), candidates.size)
    assert (p >= 0).all()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_learned_prior_with_one_value_in_the_reference_is_that_value(
        world_frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, records = world_frames
    reference = reference.assign(c0="v01")
    prior = LearnedPrior(("c1", "n0"), DOMAINS).fit(reference, C0)
    np.testing.assert_array_equal(probabilities(prior, records), [[0.0, 1.0, 0.0]] * 25)


def test_learned_prior_gives_zero_to_values_the_reference_lacks(
        world_frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, records = world_frames
    reference = reference[reference["c0"] != "v02"]
    prior = LearnedPrior(("c1", "n0"), DOMAINS).fit(reference, C0)
    p = probabilities(prior, records)
    np.testing.assert_array_equal(p[:, 2], 0.0)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-12)


def test_learned_prior_is_reproducible(world_frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, records = world_frames
    runs = [LearnedPrior(("c1", "c2", "n0"), DOMAINS, random_state=3).fit(reference, C0)
            .log_prob(records).tobytes() for _ in range(2)]
    assert runs[0] == runs[1]


# -- priors chosen through MAPInversion ----------------------------------------------

@pytest.fixture(scope="module")
def linear_oracle(world_frames: tuple[pd.DataFrame, pd.DataFrame]) -> Oracle:
    reference, _ = world_frames
    model = make_model("linear", ToyWorld(7, n_numeric=2).card()).fit(reference)
    return Oracle.for_model(model)


def test_map_with_a_table_prior_equal_to_the_marginal_matches_the_marginal(
        linear_oracle: Oracle, world_frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    reference, records = world_frames
    counts = reference["c0"].value_counts().reindex(["v00", "v01", "v02"], fill_value=0)
    table = pd.DataFrame({"c0": ["v00", "v01", "v02"],
                          "probability": ((counts + 1) / (counts.sum() + 3)).to_numpy()})
    known = ["c1", "c2", "n0", "n1"]
    by_table = MAPInversion(prior=TablePrior(table)).fit(
        linear_oracle, sensitive=["c0"], known=known, reference=reference).infer(records)
    marginal = MAPInversion().fit(linear_oracle, sensitive=["c0"], known=known,
                                  reference=reference).infer(records)
    np.testing.assert_allclose(by_table.probabilities, marginal.probabilities, rtol=0,
                               atol=1e-12)


@pytest.mark.parametrize(("params", "reference", "message"), [
    pytest.param({"prior": "conditional", "prior_given": ["c2"]}, True, "does not know",
                 id="conditioned-on-unknown-column"),
    pytest.param({"prior": "conditional", "prior_given": ["n0"]}, True,
                 "only on categorical columns", id="conditioned-on-numeric-column"),
    pytest.param({"prior": "uniform"}, True, "^map: prior must be one of 'marginal', "
                     "'conditional', 'learned', 'published' or a Prior, got 'uniform'$",
                     id="unknown-prior"),
    pytest.param({"prior": "marginal"}, False, "reference sample", id="no-reference"),
])
def test_map_prior_errors(linear_oracle: Oracle, world_frames: tuple[pd.DataFrame, pd.DataFrame],
                          params: dict[str, Any], reference: bool, message: str) -> None:
    with pytest.raises(AttackError, match=message):
        MAPInversion(**params).fit(linear_oracle, sensitive=["c0"], known=["c1", "n0", "n1"],
                                   reference=world_frames[0] if reference else None)
