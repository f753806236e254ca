"""The contract every registered attack meets (issue 12, items 3 and 4), like scikit-learn's
common estimator checks: parametrised over the registry, so a new attack gets every check
for free, and it must bring a brute-force reference (``REFERENCES``) or the suite fails.

On tiny toy worlds (a depth-3 tree, 3 candidates, 12 records, every feature known), for
every access the attack accepts: (n, K) posteriors, non-negative and summing to 1;
identical posteriors for the same seed; equal to the brute-force reference. It refuses
every access it lacks, unknown parameters and values outside its constraints, with an
AttackError naming it; it declares constraints for exactly its constructor parameters,
and each parameter it may be given reaches it through an AttackSpec.
"""

from __future__ import annotations

import functools
import inspect
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import pandas as pd
import pytest

from tabinv.attacks.registry import ATTACKS, attack_names, get_attack
from tabinv.attacks.specs import SHARED_PARAMS, AttackSpec, expand_specs
from tabinv.exceptions import AttackError
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle
from tabinv.params import Constraint, Interval, Options, SequenceOf, validate

from .label_only_reference import brute_force_csmia, brute_force_lomia
from .match_reference import brute_force_match
from .meta_reference import brute_force_meta
from .reference import ToyWorld, brute_force_map
from .whitebox_reference import brute_force_decision_rule, brute_force_whitebox

NAMES = attack_names()
ACCESS = ("output", "confidence", "label")
SEED = 3
TOLERANCE = 1e-9
#: (attack, access it accepts) and (attack, access it lacks)
ACCEPTED = [(name, access) for name in NAMES for access in ATTACKS[name].requires]
LACKING = [(name, access) for name in NAMES for access in ACCESS
           if access not in ATTACKS[name].requires]


@dataclass(frozen=True)
class World:
    """A fitted depth-3 tree (classifier or regressor), its data and the attacked records."""

    model: Any
    members: pd.DataFrame
    reference: pd.DataFrame
    attacked: pd.DataFrame

    def known(self, sensitive: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(f for f in self.model.features if f not in sensitive)


@functools.cache
def world(task: str) -> World:
    toy = ToyWorld(21, task=task, domain_sizes=(3, 2, 2), n_numeric=1)
    members, reference = toy.sample(80), toy.sample(40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make_model("tree", toy.card(), max_depth=3, random_state=0).fit(members)
    # the index repeats and does not start at 0: half members, half not
    attacked = pd.concat([members.iloc[3:9], toy.sample(6)])
    tree = model.estimator_.tree_
    start, stop = model.encoder_.slices_["c0"]
    assert np.isin(tree.feature[tree.feature >= 0], range(start, stop)).any(), \
        "the tree must split on the sensitive column for the checks to mean anything"
    return World(model, members, reference, attacked)


def oracle_for(access: str, white_box: bool) -> tuple[Oracle, World]:
    data = world("regression" if access == "output" else "classification")
    return Oracle(data.model, access, white_box=white_box), data  # access: what queries answer


def fitted(name: str, access: str, sensitive: tuple[str, ...] = ("c0",), *,
           white_box: bool | None = None, **params: Any) -> tuple[Any, World]:
    cls = ATTACKS[name]
    oracle, data = oracle_for(access, cls.needs_white_box if white_box is None else white_box)
    attack = cls(**{"random_state": SEED, **params}).fit(
        oracle, sensitive=sensitive, known=data.known(sensitive), reference=data.reference)
    return attack, data


# -- brute-force references: attack name -> (world, access) -> (n, K) posterior ----------
Reference = Callable[[World, str], np.ndarray]


def _grid(data: World) -> dict[str, Any]:
    return {"sensitive": ("c0",), "known": data.known(("c0",)), "reference": data.reference}


def _map(data: World, access: str) -> np.ndarray:
    return brute_force_map(data.model, data.attacked, access=access, **_grid(data))


def _csmia(data: World, access: str) -> np.ndarray:
    return brute_force_csmia(data.model, data.attacked, random_state=SEED, **_grid(data))[1]


def _lomia(data: World, access: str) -> np.ndarray:
    return brute_force_lomia(data.model, data.attacked, access=access, random_state=SEED,
                             **_grid(data))[0]


def _match(data: World, access: str) -> np.ndarray:
    return brute_force_match(data.model, data.attacked, access=access, random_state=SEED,
                             **_grid(data))


def _meta(data: World, access: str) -> np.ndarray:
    return brute_force_meta(data.model, data.attacked, access=access, random_state=SEED,
                            **_grid(data))


def _whitebox(data: World, access: str) -> np.ndarray:
    return brute_force_whitebox(data.model, data.attacked, **_grid(data))


def _decision_rule(data: World, access: str) -> np.ndarray:
    return brute_force_decision_rule(data.model, data.attacked, **_grid(data))


#: every registered attack's brute-force reference (a new attack adds its own here)
REFERENCES: dict[str, Reference] = {
    "map": _map, "confidence": _map, "csmia": _csmia, "lomia": _lomia, "match": _match,
    "whitebox-tree": _whitebox, "whitebox-dt": _decision_rule, "meta": _meta,
}


# -- item 4: behaviour --------------------------------------------------------------------

@pytest.mark.parametrize(("name", "access"), ACCEPTED)
@pytest.mark.parametrize("sensitive", [("c0",), ("c0", "c1")], ids=["one", "joint"])
def test_item4_posteriors_are_n_by_k_distributions(name: str, access: str,
                                                   sensitive: tuple[str, ...]) -> None:
    attack, data = fitted(name, access, sensitive)
    posterior = attack.infer(data.attacked)
    sizes = [len(data.model.domain(s)) for s in sensitive]
    assert attack.candidates_.size == math.prod(sizes) == posterior.candidates.size
    assert posterior.probabilities.shape == (len(data.attacked), math.prod(sizes))
    assert np.isfinite(posterior.probabilities).all()
    assert (posterior.probabilities >= 0).all()
    np.testing.assert_allclose(posterior.probabilities.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert posterior.method == name


@pytest.mark.parametrize(("name", "access"), ACCEPTED)
def test_item4_same_seed_same_posteriors(name: str, access: str) -> None:
    first, data = fitted(name, access)
    again, _ = fitted(name, access)
    expected = first.infer(data.attacked).probabilities
    np.testing.assert_array_equal(again.infer(data.attacked).probabilities, expected)
    # and the same fitted attack, asked again
    np.testing.assert_array_equal(first.infer(data.attacked).probabilities, expected)


@pytest.mark.parametrize(("name", "access"), ACCEPTED)
def test_item4_equals_its_brute_force_reference(name: str, access: str) -> None:
    if name not in REFERENCES:
        pytest.fail(f"attack {name!r} has no brute-force reference: add one to REFERENCES "
                    "in tests/attacks/test_contract.py")
    attack, data = fitted(name, access)
    fast = attack.infer(data.attacked).probabilities
    slow = REFERENCES[name](data, access)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal(fast.argmax(axis=1), slow.argmax(axis=1))


def test_item4_every_reference_is_of_a_registered_attack() -> None:
    assert set(REFERENCES) == set(NAMES)


@pytest.mark.parametrize(("name", "access"), LACKING)
def test_item4_refuses_access_it_lacks(name: str, access: str) -> None:
    with pytest.raises(AttackError, match=f"^attack '{name}' needs .*gives '{access}'"):
        fitted(name, access)


@pytest.mark.parametrize("name", [n for n in NAMES if ATTACKS[n].needs_white_box])
def test_item4_white_box_attacks_refuse_a_black_box_oracle(name: str) -> None:
    with pytest.raises(AttackError, match=f"^attack '{name}' needs white-box access"):
        fitted(name, ATTACKS[name].requires[0], white_box=False)


def test_item4_the_checks_cover_every_access_and_refusal() -> None:
    """The toy worlds exercise each access level; refusals of label-only and regression
    outputs are exercised (every attack reads confidences)."""
    assert {a for _, a in ACCEPTED} == set(ACCESS)
    assert {a for _, a in LACKING} == {"label", "output"}


# -- items 2 and 3: parameters ------------------------------------------------------------

def constructor_parameters(name: str) -> set[str]:
    return {p for p in inspect.signature(ATTACKS[name].__init__).parameters if p != "self"}


class _Nothing:
    """A value no constraint of any parameter accepts."""

    def __repr__(self) -> str:
        return "<nothing>"


def invalid_values(constraints: list[Constraint | None]) -> list[Any]:
    """Values outside every constraint: the sentinel, and just outside each interval or
    set of options."""
    candidates: list[Any] = [_Nothing()]
    for constraint in constraints:
        if isinstance(constraint, Interval):
            step = 1 if constraint.kind is Integral else 0.5
            if constraint.low is not None:
                candidates.append(constraint.low - step)
            if constraint.high is not None:
                candidates.append(constraint.high + step)
            candidates += [math.nan, True] if constraint.kind is not Integral else [1.5, True]
        if isinstance(constraint, Options):
            candidates.append("not-an-option")
        if isinstance(constraint, SequenceOf):
            candidates += ["a-bare-string", [1]]
    return [v for v in candidates if not any(
        v is None if c is None else c.is_satisfied_by(v) for c in constraints)]


def valid_other_value(constraints: list[Constraint | None], default: Any) -> Any:
    """A valid value other than the default (None when none can be made)."""
    for constraint in constraints:
        if isinstance(constraint, Options):
            return next((o for o in constraint.options if o != default), None)
        if isinstance(constraint, Interval):
            low = 0 if constraint.low is None else constraint.low
            value = low + (2 if constraint.kind is Integral else 0.25)
            if value != default and constraint.is_satisfied_by(value):
                return value
    return None


@pytest.mark.parametrize("name", NAMES)
def test_item3_declares_constraints_for_exactly_its_constructor_parameters(name: str) -> None:
    assert set(ATTACKS[name].parameters) == constructor_parameters(name)
    defaults = ATTACKS[name]().get_params(deep=False)
    validate(name, defaults, ATTACKS[name].parameters, AttackError)  # defaults are valid


@pytest.mark.parametrize("name", NAMES)
def test_item3_refuses_values_outside_the_constraints_where_they_enter(name: str) -> None:
    """At fit (as scikit-learn: set_params and clone bypass __init__), and before any work
    through get_attack and AttackSpec."""
    access = ATTACKS[name].requires[0]
    checked = 0
    for parameter, constraints in ATTACKS[name].parameters.items():
        for value in invalid_values(list(constraints)):
            message = f"^{name}: {parameter} must be .*, got "
            with pytest.raises(AttackError, match=message):
                fitted(name, access, **{parameter: value})
            with pytest.raises(AttackError, match=message):
                get_attack(name, **{parameter: value})
            attack = ATTACKS[name]().set_params(**{parameter: value})
            oracle, data = oracle_for(access, ATTACKS[name].needs_white_box)
            with pytest.raises(AttackError, match=message):
                attack.fit(oracle, sensitive=["c0"], known=data.known(("c0",)))
            spec: dict[str, Any] = {"params": {parameter: value}}
            if parameter in ("prior", "prior_given"):
                spec = {parameter: value}
            if parameter not in ("random_state", "memory"):  # the threat model's
                with pytest.raises(AttackError, match=message):
                    AttackSpec(name, **spec)
            checked += 1
    assert checked >= len(ATTACKS[name].parameters)


@pytest.mark.parametrize("name", NAMES)
def test_item2_refuses_unknown_parameters_naming_those_it_takes(name: str) -> None:
    with pytest.raises(AttackError, match=f"^{name} has no parameter 'bogus'; it takes "
                       f"{', '.join(sorted(ATTACKS[name].parameters))}$"):
        get_attack(name, bogus=1)
    own = sorted(constructor_parameters(name) - set(SHARED_PARAMS))
    with pytest.raises(AttackError, match=f"^{name} has no parameter 'bogus'; it takes "
                       f"{', '.join(own) or 'no parameters'}$"):
        AttackSpec(name, params={"bogus": 1})
    for shared in constructor_parameters(name) & set(SHARED_PARAMS):
        with pytest.raises(AttackError, match=f"^{name}: {shared} is not set per attack"):
            AttackSpec(name, params={shared: ATTACKS[name]().get_params()[shared]})


@pytest.mark.parametrize("name", NAMES)
def test_item2_every_parameter_reaches_the_attack_through_a_spec(name: str) -> None:
    own = constructor_parameters(name) - set(SHARED_PARAMS)
    defaults = ATTACKS[name]().get_params(deep=False)
    for parameter in sorted(own):
        value = valid_other_value(list(ATTACKS[name].parameters[parameter]),
                                  defaults[parameter])
        assert value is not None, f"add a way to make a valid {name}.{parameter}"
        [spec] = expand_specs([name], ["marginal"], params={name: {parameter: value}})
        attack = spec.build(random_state=7, memory=12345)
        assert attack.get_params()[parameter] == value
        assert {k: attack.get_params()[k] for k in ("random_state", "memory")
                if k in defaults} == {k: v for k, v in (("random_state", 7),
                                                        ("memory", 12345)) if k in defaults}
