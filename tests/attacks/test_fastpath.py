"""The linear / logistic fast path equals the black-box grid path to 1e-9.

Random small worlds (``reference.ToyWorld``) and models: scikit-learn LinearRegression,
LogisticRegression (binary and 3-class; softmax and one-vs-rest), diffprivlib
LinearRegression (through the ReferenceCoded adapter) and LogisticRegression, the
published IWPC formula (FixedLinearModel). Every access level (output, confidences,
rounded confidences, labels only), one or two sensitive attributes, unknown
categorical and numeric features, one-hot and ordinal encoding. The same attack is run
through an oracle that hides the model's linear parts (so the grid is built and queried)
and through the normal oracle (fast path); grid outputs and posteriors must agree.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from tabinv.attacks.map import MAPInversion
from tabinv.data.registry import builtin_card
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.models.families import make_model
from tabinv.models.oracle import LinearParts, Oracle, linear_parts
from tabinv.models.target import TargetModel

from .reference import ToyWorld, assert_same_answers, fit_map, fit_toy_world

TOLERANCE = 1e-9
N_MEMBERS, N_REFERENCE = 60, 40


class BlackBoxOracle(Oracle):
    """The same oracle without the linear parts: forces the generic grid path."""

    def linear_parts(self) -> LinearParts | None:
        return None


@dataclass(frozen=True)
class Case:
    model: str  # linear | logistic | logistic-ovr | dp-linear | dp-logistic
    access: str
    rounding: int | None
    n_classes: int
    n_sensitive: int
    unknown: tuple[str, ...]
    encoding: str
    seed: int

    @property
    def task(self) -> str:
        return "regression" if self.model in ("linear", "dp-linear") else "classification"

    def id(self) -> str:
        return (f"{self.model}-{self.access}-r{self.rounding}-c{self.n_classes}-"
                f"s{self.n_sensitive}-u{'+'.join(self.unknown) or 'none'}-{self.encoding}")


UNKNOWN = [(), ("c2",), ("n0",), ("c2", "n0")]
ACCESS = [("confidence", None), ("confidence", 2), ("confidence", 1), ("label", None)]


def _cases() -> list[Case]:
    combos: list[tuple[str, str, int | None, int]] = [
        ("linear", "output", None, 0), ("dp-linear", "output", None, 0)]
    for model, (access, rounding), n_classes in itertools.product(
            ("logistic", "logistic-ovr", "dp-logistic"), ACCESS, (2, 3)):
        combos.append((model, access, rounding, n_classes))
    cases = []
    for i, (model, access, rounding, n_classes) in enumerate(combos):
        cases.append(Case(model, access, rounding, n_classes, 1 + i % 2,
                          UNKNOWN[i % len(UNKNOWN)], "ordinal" if i % 3 == 0 else "onehot",
                          500 + i))
    # regression: every unknown set and both encodings
    for j, unknown in enumerate(UNKNOWN):
        for model in ("linear", "dp-linear"):
            cases.append(Case(model, "output", None, 0, 2 - j % 2, unknown,
                              "onehot" if j % 2 else "ordinal", 600 + j))
    return cases


CASES = _cases()


def _model(case: Case, world: ToyWorld) -> TargetModel:
    card = world.card()
    if case.model in ("dp-linear", "dp-logistic"):
        return make_model(case.model[3:], card, epsilon=50.0, random_state=case.seed,
                          categorical=case.encoding)
    if case.model == "logistic-ovr":
        return TargetModel.from_card("logistic", LogisticRegression(solver="liblinear"),
                                     card, categorical=case.encoding)
    return make_model(case.model, card, random_state=case.seed, categorical=case.encoding)


_setup = partial(fit_toy_world, build=_model, n_members=N_MEMBERS, n_reference=N_REFERENCE)
_attack = fit_map


@pytest.mark.parametrize("case", CASES, ids=[c.id() for c in CASES])
def test_fast_path_equals_black_box(case: Case) -> None:
    model, members, reference, known = _setup(case)
    fast_oracle = Oracle(model, case.access, case.rounding)
    slow_oracle = BlackBoxOracle(model, case.access, case.rounding)
    assert fast_oracle.linear_parts() is not None
    fast = _attack(fast_oracle, case, reference, known)
    slow = _attack(slow_oracle, case, reference, known)

    assert_same_answers(fast, slow, members, TOLERANCE)


def test_cases_cover_the_brief() -> None:
    assert {c.model for c in CASES} == {"linear", "logistic", "logistic-ovr", "dp-linear",
                                        "dp-logistic"}
    assert {(c.access, c.rounding) for c in CASES} == {("output", None), *ACCESS}
    assert {c.n_classes for c in CASES if c.task == "classification"} == {2, 3}
    assert {c.unknown for c in CASES} == set(UNKNOWN)
    assert {c.n_sensitive for c in CASES} == {1, 2}
    assert {c.encoding for c in CASES} == {"onehot", "ordinal"}


@pytest.mark.parametrize("extra", [0, 10_000])
def test_small_chunks_and_expected_outputs(extra: int) -> None:
    """One-record chunks, and ``expected_outputs`` (confidences averaged over unknowns)."""
    case = Case("logistic", "confidence", None, 3, 2, ("c2", "n0"), "onehot", 7)
    model, members, reference, known = _setup(case)
    fast_oracle, slow_oracle = Oracle(model, "confidence"), BlackBoxOracle(model, "confidence")
    attack = _attack(fast_oracle, case, reference, known)
    # the least budget that fits both paths' one-record chunks, plus ``extra``
    memory = max(attack.grid_.fixed_bytes(o) for o in (fast_oracle, slow_oracle)) + \
        attack.reserved_bytes(len(members)) + extra
    encoded = model.encoder_.transform(members[list(known)],
                                       skip=(*attack.sensitive_, *attack.unknown_names_))
    reserved = attack.reserved_bytes(len(members))
    fast = attack.grid_.expected_outputs(fast_oracle, encoded, memory=memory, reserved=reserved)
    slow = attack.grid_.expected_outputs(slow_oracle, encoded, memory=memory, reserved=reserved)
    np.testing.assert_allclose(fast, slow, rtol=0, atol=TOLERANCE)


def test_published_iwpc_formula() -> None:
    """FixedLinearModel (the published IWPC formula), VKORC1 x CYP2C9, race unknown."""
    card = builtin_card("iwpc")
    members, reference = synthetic_iwpc(300, random_state=0), synthetic_iwpc(200, 1)
    model = make_model("iwpc-published", card).fit(members)
    sensitive, unknown = ("vkorc1", "cyp2c9"), ("race",)
    known = [f for f in model.features if f not in (*sensitive, *unknown)]
    posteriors = []
    for oracle in (Oracle.for_model(model), BlackBoxOracle(model, "output")):
        attack = MAPInversion().fit(oracle, sensitive=sensitive, known=known,
                                    reference=reference)
        posteriors.append(attack.infer(members).probabilities)
    assert Oracle.for_model(model).linear_parts() is not None
    np.testing.assert_allclose(posteriors[0], posteriors[1], rtol=0, atol=TOLERANCE)


def test_fast_path_does_not_query_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    case = Case("logistic", "label", None, 3, 1, (), "onehot", 11)
    model, members, reference, known = _setup(case)
    oracle = Oracle(model, "label")
    attack = _attack(oracle, case, reference, known)

    def refuse(*args: Any) -> None:
        raise AssertionError("the fast path queried the model on the grid")

    monkeypatch.setattr(Oracle, "query_encoded", refuse)
    assert attack.infer(members).probabilities.shape == (N_MEMBERS, 3)


class _Shifted(LinearRegression):
    def predict(self, X: Any) -> Any:  # type: ignore[override]
        return super().predict(X) + 1.0


def test_other_models_have_no_linear_parts() -> None:
    world = ToyWorld(3)
    members = world.sample(N_MEMBERS)
    tree = make_model("tree", world.card(), max_depth=2).fit(members)
    shifted = TargetModel.from_card("linear", _Shifted(), world.card()).fit(members)
    assert Oracle.for_model(tree).linear_parts() is None
    assert Oracle.for_model(shifted).linear_parts() is None  # a subclass may change predict
    assert linear_parts(None) is None
    plain = make_model("linear", world.card()).fit(members)
    parts = Oracle.for_model(plain).linear_parts()
    assert parts is not None and parts.link == "identity"
    encoded = plain.encode(members)
    np.testing.assert_allclose(encoded @ parts.coef[0] + parts.intercept[0],
                               plain.output_encoded(encoded), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("prior", ["marginal", "conditional"])
def test_gaussian_shortcut_equals_black_box_far_from_the_model(
        prior: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Linear regression, output access: the posterior from r c - c^2 / 2 (the per-record
    term cancelled) equals the black-box Gaussian posterior, also for labels far from the
    model's predictions (large residuals) and for a prior that differs per record."""
    from tabinv.attacks.fastpath import LinearGridScorer

    case = Case("linear", "output", None, 0, 2, (), "onehot", 7)
    model, members, reference, known = _setup(case)
    attacked = members.copy()
    attacked["y"] = attacked["y"] * 3.0 + 40.0  # far from every prediction
    calls = []
    original = LinearGridScorer.gaussian_log_scores

    def counted(self: Any, *args: Any) -> Any:
        calls.append(1)
        return original(self, *args)

    monkeypatch.setattr(LinearGridScorer, "gaussian_log_scores", counted)
    params = {"prior": prior, "prior_given": ("c2",) if prior == "conditional" else ()}
    fast = _attack(Oracle(model, "output", None), case, reference, known, **params)
    slow = _attack(BlackBoxOracle(model, "output", None), case, reference, known, **params)
    fast_post = fast.infer(attacked).probabilities
    assert calls, "the shortcut was not taken"
    slow_post = slow.infer(attacked).probabilities
    np.testing.assert_allclose(fast_post, slow_post, rtol=0, atol=TOLERANCE)
    np.testing.assert_array_equal(fast_post.argmax(axis=1), slow_post.argmax(axis=1))


@pytest.mark.parametrize("model_name", ["linear", "logistic"])
def test_no_records_give_an_empty_posterior(model_name: str) -> None:
    """An empty chunk of a shared-row (marginal) prior has no row to read."""
    case = Case(model_name, "output" if model_name == "linear" else "confidence", None,
                0 if model_name == "linear" else 3, 1, (), "onehot", 11)
    model, members, reference, known = _setup(case)
    attack = _attack(Oracle(model, case.access, None), case, reference, known)
    posterior = attack.infer(members.iloc[:0])
    assert posterior.probabilities.shape == (0, attack.candidates_.size)
