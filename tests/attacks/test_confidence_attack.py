"""ConfidenceInversion (CCS 2015 black-box) is MAP inversion with confidence access.

On every confidence case of the MAP reference table (every classifier family, raw and
rounded confidences, one or two sensitive attributes, unknown features, marginal and
conditional priors) it equals MAPInversion to 1e-12 and the brute-force reference
score(v) = p_s(v) * sum_u f_y(v, x_K, u) w(u); learned and published priors too. It
refuses label-only oracles and regression models, naming the access it needs.
"""

from __future__ import annotations

import numpy as np
import pytest

from tabinv.attacks.confidence import ConfidenceInversion
from tabinv.attacks.map import MAPInversion
from tabinv.attacks.registry import ATTACKS, get_attack
from tabinv.exceptions import AttackError
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle

from .reference import ToyWorld
from .test_map_reference import (
    CASES,
    NUMERIC_POINTS,
    Case,
    Setup,
    assert_same_posterior,
    build,
    reference_posterior,
)

CONFIDENCE_CASES = [c for c in CASES if c.access == "confidence"]


def fit(attack_class: type, setup: Setup, **params: object) -> MAPInversion:
    case = setup.case
    params = {"prior": case.prior, "prior_given": setup.prior_given,
              "numeric_points": NUMERIC_POINTS, **params}
    return attack_class(**params).fit(setup.oracle, sensitive=case.sensitive,
                                      known=setup.known, reference=setup.reference)


def test_cases_cover_every_family_and_rounding() -> None:
    assert {c.family for c in CONFIDENCE_CASES} == {"logistic", "tree", "forest", "xgboost",
                                                    "naive-bayes"}
    assert {c.rounding for c in CONFIDENCE_CASES} == {None, 1, 2}
    assert {c.unknown for c in CONFIDENCE_CASES} >= {(), ("c2",), ("n0", "n1")}


@pytest.mark.parametrize("case", CONFIDENCE_CASES, ids=Case.id)
def test_equals_map_with_confidence_access(case: Case) -> None:
    setup = build(case)
    confidence = fit(ConfidenceInversion, setup).infer(setup.attacked)
    mapped = fit(MAPInversion, setup).infer(setup.attacked)
    np.testing.assert_allclose(confidence.probabilities, mapped.probabilities,
                               rtol=0, atol=1e-12)
    np.testing.assert_array_equal(confidence.predicted_index(), mapped.predicted_index())
    assert confidence.method == "confidence"


@pytest.mark.parametrize("case", CONFIDENCE_CASES[::4], ids=Case.id)
def test_matches_the_brute_force_formula(case: Case) -> None:
    setup = build(case)
    fast = fit(ConfidenceInversion, setup).infer(setup.attacked).probabilities
    assert_same_posterior(fast, reference_posterior(setup))


@pytest.mark.parametrize("prior", ["learned", "published"])
def test_other_priors_equal_map(prior: str) -> None:
    setup = build(CONFIDENCE_CASES[3])
    confidence = fit(ConfidenceInversion, setup, prior=prior, prior_given=())
    mapped = fit(MAPInversion, setup, prior=prior, prior_given=())
    np.testing.assert_allclose(confidence.infer(setup.attacked).probabilities,
                               mapped.infer(setup.attacked).probabilities, rtol=0, atol=1e-12)


def test_registered_with_the_same_parameters_as_map() -> None:
    assert ATTACKS["confidence"] is ConfidenceInversion
    attack = get_attack("confidence", prior="published", random_state=3)
    assert attack.get_params() == MAPInversion(prior="published", random_state=3).get_params()


def test_describe_names_the_confidence_likelihood() -> None:
    setup = build(CONFIDENCE_CASES[0])
    described = fit(ConfidenceInversion, setup).describe()
    assert described["attack"] == "confidence" and described["likelihood"] == "confidence"


def test_refuses_label_only_oracles() -> None:
    setup = build(CONFIDENCE_CASES[0])
    oracle = Oracle.for_model(setup.model, "label-only")
    with pytest.raises(AttackError, match="needs 'confidence' answers.*gives 'label'"):
        ConfidenceInversion().fit(oracle, sensitive=setup.case.sensitive, known=setup.known,
                                  reference=setup.reference)


def test_refuses_regression_models() -> None:
    world = ToyWorld(3)
    model = make_model("linear", world.card()).fit(world.sample(30))
    with pytest.raises(AttackError, match="needs 'confidence' answers.*gives 'output'"):
        ConfidenceInversion().fit(Oracle.for_model(model), sensitive=["c0"], known=["c1"],
                                  reference=world.sample(20))
