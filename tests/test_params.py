"""Item 3 of issue 12: declarative parameter validation (tabinv.params)."""

from __future__ import annotations

import pickle
from numbers import Integral, Real

import numpy as np
import pytest

from tabinv.exceptions import AttackError, TabinvError
from tabinv.params import (
    RANDOM_STATE,
    FrozenParams,
    InstanceOf,
    Interval,
    Options,
    SequenceOf,
    check_names,
    describe,
    validate,
    validate_params,
)


@pytest.mark.parametrize(("closed", "inside", "outside"), [
    ("left", [0, 0.5], [1, -0.1]),
    ("right", [1, 0.5], [0, 1.1]),
    ("both", [0, 1], [-1e-9, 1 + 1e-9]),
    ("neither", [0.5, 1e-9], [0, 1]),
])
def test_item3_interval_bounds(closed: str, inside: list[float], outside: list[float]) -> None:
    interval = Interval(Real, 0, 1, closed=closed)  # type: ignore[arg-type]
    assert all(interval.is_satisfied_by(v) for v in inside)
    assert not any(interval.is_satisfied_by(v) for v in outside)


def test_item3_interval_kinds() -> None:
    ints = Interval(Integral, 1, None, closed="left")
    assert ints.is_satisfied_by(1) and ints.is_satisfied_by(np.int64(7))
    assert ints.is_satisfied_by(10**400)  # no float conversion of big ints
    assert not any(ints.is_satisfied_by(v) for v in (True, 2.0, "3", None, 0))
    floats = Interval(Real, 0, None, closed="left")
    assert floats.is_satisfied_by(3) and floats.is_satisfied_by(np.float32(0.5))
    assert not any(floats.is_satisfied_by(v) for v in (False, np.bool_(True), float("nan"),
                                                       float("inf"), "0.5", -1))
    with pytest.raises(TypeError):
        Interval(int, 0, 1, closed="left")
    with pytest.raises(TypeError):
        Interval(Real, 0, 1, closed="open")  # type: ignore[arg-type]


def test_item3_descriptions() -> None:
    assert str(Interval(Real, 0, None, closed="left")) == "a float in [0, inf)"
    assert str(Interval(Integral, None, 5, closed="both")) == "an int in (-inf, 5]"
    assert str(Interval(Real, 0, 1, closed="neither")) == "a float in (0, 1)"
    assert str(Options(str, ("bayes", "row"))) == "one of 'bayes', 'row'"
    assert str(InstanceOf((int, str))) == "an int or a str"
    assert str(SequenceOf(str)) == "a list of str"
    assert describe(RANDOM_STATE) == "an int in [0, inf), a numpy Generator or None"


def test_item3_options_instances_and_sequences() -> None:
    options = Options(str, ("bayes", "row"))
    assert options.is_satisfied_by("row")
    assert not any(options.is_satisfied_by(v) for v in ("Row", ["row"], 1, None))
    assert not Options(int, (1, 2)).is_satisfied_by(True)  # True == 1, but not an option
    assert Options(bool, (True,)).is_satisfied_by(True)
    strings = SequenceOf(str)
    assert strings.is_satisfied_by(("a", "b")) and strings.is_satisfied_by([])
    assert not any(strings.is_satisfied_by(v) for v in ("ab", ["a", 1], {"a"}))
    generator = np.random.default_rng(0)
    assert all(any(c is None and v is None or c is not None and c.is_satisfied_by(v)
                   for c in RANDOM_STATE) for v in (None, 0, 2**40, generator))


CONSTRAINTS = {"smoothing": [Interval(Real, 0, None, closed="left")],
               "memory": [Interval(Integral, 1, None, closed="left"), None],
               "confusion": [Options(str, ("bayes", "row"))]}


def test_item3_validate_raises_one_line_naming_owner_parameter_and_value() -> None:
    validate("map", {"smoothing": 0, "memory": None, "confusion": "row"}, CONSTRAINTS)
    validate("map", {}, CONSTRAINTS)
    with pytest.raises(TabinvError) as error:
        validate("csmia", {"smoothing": -1}, CONSTRAINTS)
    assert str(error.value) == "csmia: smoothing must be a float in [0, inf), got -1"
    with pytest.raises(AttackError) as error:
        validate("map", {"memory": 0}, CONSTRAINTS, AttackError)
    assert str(error.value) == "map: memory must be an int in [1, inf) or None, got 0"
    with pytest.raises(TabinvError) as error:
        validate("map", {"confusion": "x" * 10**6}, CONSTRAINTS)
    assert len(str(error.value)) < 300 and "(1000000 chars)" in str(error.value)


def test_item3_unknown_names_list_the_accepted_ones() -> None:
    with pytest.raises(AttackError) as error:
        check_names("map", ["smoothng"], CONSTRAINTS, AttackError)
    assert str(error.value) == ("map has no parameter 'smoothng' (did you mean 'smoothing'?); "
                                "it takes confusion, memory, smoothing")
    with pytest.raises(TabinvError, match="it takes no parameters$"):
        validate("prior-mode", {"k": 1}, {})


def test_item3_validate_params_checks_a_functions_arguments() -> None:
    @validate_params({"top_k": [Interval(Integral, 1, None, closed="left")]}, owner="assess",
                     error=AttackError)
    def score(records: int, *, top_k: int = 100) -> int:
        return records + top_k

    assert score(1) == 101 and score(1, top_k=2) == 3
    with pytest.raises(AttackError, match="^assess: top_k must be an int in \\[1, inf\\), "
                       "got 0$"):
        score(1, top_k=0)
    with pytest.raises(TypeError, match="no parameter"):
        validate_params({"k": []})(score)


def test_item3_frozen_params() -> None:
    params = FrozenParams({"b": [1, 2], "a": 0.5})
    assert list(params) == ["a", "b"] and params["b"] == (1, 2) and len(params) == 2
    assert params == {"a": 0.5, "b": (1, 2)} and params != {"a": 0.5}
    assert hash(params) == hash(FrozenParams({"a": 0.5, "b": (1, 2)}))
    assert pickle.loads(pickle.dumps(params)) == params
    assert repr(params) == "{'a': 0.5, 'b': (1, 2)}"
    with pytest.raises(TypeError):
        params["a"] = 1  # type: ignore[index]
