"""Item 2 of issue 12: AttackSpec.params and expand_specs(..., params=) carry every
attack's parameters to it, or refuse them with one line naming the attack, the parameter
and what it takes."""

from __future__ import annotations

import pickle

import pytest

from tabinv.attacks.csmia import CSMIA
from tabinv.attacks.specs import AttackSpec, expand_specs
from tabinv.exceptions import AttackError


def test_item2_positional_fields_keep_their_order() -> None:
    spec = AttackSpec("map", "conditional", ["race"], True, {"smoothing": 0.5})
    assert (spec.name, spec.prior, spec.prior_given, spec.optional) == (
        "map", "conditional", ("race",), True)
    assert dict(spec.params) == {"smoothing": 0.5}
    assert AttackSpec().params == {} and AttackSpec().label == "map (marginal prior)"


def test_item2_params_reach_the_attack_with_the_seed_and_budget() -> None:
    attack = AttackSpec("csmia", params={"smoothing": 0.5, "numeric_points": 4}).build(
        random_state=3, memory=1000)
    assert isinstance(attack, CSMIA)
    assert attack.get_params() == {"smoothing": 0.5, "numeric_points": 4, "memory": 1000,
                                   "random_state": 3}


def test_item2_a_spec_is_frozen_hashable_and_picklable() -> None:
    spec = AttackSpec("map", params={"confusion": "row", "smoothing": 2})
    same = AttackSpec("map", params={"smoothing": 2, "confusion": "row"})
    assert spec == same and hash(spec) == hash(same)
    assert spec != AttackSpec("map", params={"smoothing": 3, "confusion": "row"})
    assert pickle.loads(pickle.dumps(spec)) == spec  # sent to sweep workers
    with pytest.raises(TypeError):
        spec.params["smoothing"] = 5  # type: ignore[index]


@pytest.mark.parametrize(("params", "message"), [
    ({"smoothin": 1}, "^map has no parameter 'smoothin' \\(did you mean 'smoothing'\\?\\); "
                      "it takes confusion, likelihood, numeric_points, smoothing$"),
    ({"smoothing": -1}, "^map: smoothing must be a float in \\[0, inf\\), got -1$"),
    ({"confusion": "col"}, "^map: confusion must be one of 'bayes', 'row', got 'col'$"),
    ({"numeric_points": 2.5}, "^map: numeric_points must be an int in \\[1, inf\\), "
                              "got 2.5$"),
    ({"memory": 10}, "^map: memory is not set per attack; it is the threat model's memory"),
    ({"random_state": 1}, "^map: random_state is not set per attack; it is the threat "
                          "model's random_state"),
    ({"prior": "learned"}, "^map: prior is not set per attack; it is the spec's prior"),
    ("smoothing=1", "^map: params must be a mapping"),
])
def test_item2_bad_params_are_refused_in_one_line(params: object, message: str) -> None:
    with pytest.raises(AttackError, match=message) as error:
        AttackSpec("map", params=params)  # type: ignore[arg-type]
    assert "\n" not in str(error.value)


def test_item2_a_bad_prior_is_refused_when_the_spec_is_made() -> None:
    with pytest.raises(AttackError, match="^map: prior must be one of 'marginal', "
                       "'conditional', 'learned', 'published' or a Prior, got 'uniform'$"):
        expand_specs(["map"], ["uniform"])
    with pytest.raises(AttackError, match="^confidence: prior_given must be a list of str, "
                       "got 'race'$"):
        AttackSpec("confidence", "conditional", "race")  # type: ignore[arg-type]
    assert AttackSpec("csmia", prior="anything").label == "csmia"  # takes no prior


def test_item2_expand_specs_gives_each_attack_its_own_params() -> None:
    specs = expand_specs(["map", "csmia"], ["marginal", "learned"],
                         params={"map": {"confusion": "row"}, "csmia": {"smoothing": 0.5}})
    assert [(s.name, s.prior, dict(s.params)) for s in specs] == [
        ("map", "marginal", {"confusion": "row"}), ("map", "learned", {"confusion": "row"}),
        ("csmia", "marginal", {"smoothing": 0.5})]
    everything = expand_specs(["all"], ["marginal"], params={"lomia": {"numeric_points": 3}})
    assert {s.name: dict(s.params) for s in everything}["lomia"] == {"numeric_points": 3}
    calibrated = {"likelihood": "calibrated"}
    assert all(not s.params or dict(s.params) == calibrated
               for s in everything if s.name != "lomia")


def test_all_runs_calibratable_attacks_with_both_likelihoods() -> None:
    everything = expand_specs(["all"], ["marginal", "learned"])
    labels = [s.label for s in everything]
    assert len(labels) == len(set(labels))  # every spec is its own row
    for name in ("map", "confidence"):
        assert [s.label for s in everything if s.name == name] == [
            f"{name} (marginal prior)", f"{name} (learned prior)",
            f"{name} (marginal prior, calibrated likelihood)",
            f"{name} (learned prior, calibrated likelihood)"]
    calibrated = {s.name for s in everything if s.params.get("likelihood") == "calibrated"}
    assert calibrated == {"map", "confidence"}
    # a likelihood the user sets is the only one run
    chosen = expand_specs(["all"], ["learned"], params={"map": {"likelihood": "model"}})
    assert [s.label for s in chosen if s.name == "map"] == ["map (learned prior)"]
    # named attacks run with the likelihood given (default: the model's) only
    assert [s.label for s in expand_specs(["map"], ["learned"])] == ["map (learned prior)"]
    assert [s.label for s in expand_specs(["map"], ["learned"], params={
        "map": {"likelihood": "calibrated"}})] == ["map (learned prior, calibrated likelihood)"]


def test_item2_expand_specs_refuses_params_of_attacks_not_run() -> None:
    with pytest.raises(AttackError, match="^parameters are given for attack 'csmia', which "
                       "is not run \\(attacks: map\\)$"):
        expand_specs(["map"], None, params={"csmia": {"smoothing": 0.5}})
    with pytest.raises(AttackError, match="^unknown attack 'csmai' \\(did you mean 'csmia'"):
        expand_specs(["map"], None, params={"csmai": {"smoothing": 0.5}})
