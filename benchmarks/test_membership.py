"""Membership inference (issue 18): training shadow models, and scoring against them.

``test_train_shadows``: 16 shadows of a target tabinv trained, on balanced halves of the
attacker's reference sample, for three worlds: IWPC (dose class) behind a depth-8
tree and behind a 100-tree forest, GSS (``abany``) behind a 100-tree forest; targets on
the members of ``split_dataset(frame, random_state=0)``, shadows on its reference
split, exactly as :func:`~tabinv.membership.assess_membership` trains its offline set.
Three ways: ``jobs-1`` (this process), ``jobs-2`` (two joblib worker processes, started
and stopped by the call, so their start-up is timed), ``dask-2`` (a Dask LocalCluster of
two single-threaded worker processes on 127.0.0.1, the one ``tabinv batch --executor
dask`` starts; started and warmed up (tabinv imported on its workers) outside the timer,
as a batch run keeps one cluster for all its entries; its start-up time is recorded).
Every way's shadows must answer exactly as ``jobs-1``'s (bit for bit). ``extra_info``
holds the speed-up over ``jobs-1``.

``test_score_answers``: each attack (loss, LiRA offline and online, RMIA) scoring N
records (``TABINV_BENCH_SIZES``, default 10^4 and 10^5 here) against answers read
before: the target's and 16 shadows' confidences of each record's true label
(IWPC tree world, synthetic IWPC records), each record IN for 8 shadows (as if they
were LiRA online's candidates). No model is queried in the timer: this is the scoring
itself, and its time per record must not grow with N (no loop over records).

With timings enabled, the numbers and the machine go to ``results/membership.json``.
Under ``--benchmark-disable`` (the smoke test) each world trains 2 shadows on 200
records.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from tabinv.api import load_dataset
from tabinv.data.splits import split_dataset
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.membership import RMIA, LiRA, LossThreshold, label_confidence, train_shadows
from tabinv.membership.shadows import ShadowSet, balanced_halves
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle
from tabinv.models.target import TargetModel

from . import memory
from .conftest import SIZES_VARIABLE, bench_sizes

RESULTS = Path(__file__).resolve().parent / "results"
N_SHADOWS = 16
#: world -> (data set, label or None for the card's, target family)
WORLDS = {"iwpc-tree": ("iwpc", "dose_class", "tree"),
          "iwpc-forest": ("iwpc", "dose_class", "forest"),
          "gss-forest": ("gss", None, "forest")}
WAYS = ("jobs-1", "jobs-2", "dask-2")
ATTACKS = ("loss", "lira-offline", "lira-online", "rmia")
SCORING_SIZES = (10_000, 100_000)
_collected: list[dict[str, Any]] = []
_best: dict[tuple[str, str], float] = {}  # (world, way) or (attack, "N") -> seconds


def scoring_sizes() -> tuple[int, ...]:
    return bench_sizes() if os.environ.get(SIZES_VARIABLE, "").strip() else SCORING_SIZES


def is_smoke(config: pytest.Config) -> bool:
    return bool(config.getoption("benchmark_disable"))


def build_world(name: str, smoke: bool) -> tuple[TargetModel, pd.DataFrame]:
    """(fitted target, the attacker's reference sample) of a world."""
    source, label, family = WORLDS[name]
    dataset = load_dataset(source)
    if label is not None:
        dataset = dataset.with_label(label)
    splits = split_dataset(dataset.frame, random_state=0)
    target = make_model(family, dataset.card, random_state=0).fit(splits.members)
    reference = splits.reference[:200] if smoke else splits.reference
    return target, reference


class Worlds(dict):  # type: ignore[type-arg]
    """World name -> (target, reference), each built when first asked for."""

    def __init__(self, smoke: bool) -> None:
        super().__init__()
        self.smoke = smoke

    def __missing__(self, name: str) -> tuple[TargetModel, pd.DataFrame]:
        self[name] = build_world(name, self.smoke)
        return self[name]


@pytest.fixture(scope="module")
def worlds(request: pytest.FixtureRequest) -> Worlds:
    return Worlds(is_smoke(request.config))


@pytest.fixture(scope="module")
def dask_client(tmp_path_factory: pytest.TempPathFactory,
                worlds: dict[str, Any]) -> Iterator[tuple[Any, float]]:
    """tabinv's Dask LocalCluster (2 workers, 127.0.0.1, scratch under a temporary
    folder), warmed up by training 2 shadows; (client, start-up seconds). Closed with
    its workers after the module."""
    from tabinv.batch.executors import DaskExecutor

    began = time.perf_counter()
    scratch = tmp_path_factory.mktemp("membership") / ".tabinv-dask"
    with DaskExecutor(workers=2, scratch=scratch)._connect(2) as client:
        started = time.perf_counter() - began
        target, reference = worlds["iwpc-tree"]
        train_shadows(target, reference[:100], n_shadows=2, client=client)
        yield client, started


@pytest.fixture(scope="module", autouse=True)
def save_results(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if _collected and not is_smoke(request.config):
        RESULTS.mkdir(exist_ok=True)
        report = {"machine": memory.machine(), "n_shadows": N_SHADOWS,
                  "load_average_at_end": list(os.getloadavg()),
                  "training": [r for r in _collected if r["measure"] == "train_shadows"],
                  "scoring": [r for r in _collected if r["measure"] == "score_answers"]}
        (RESULTS / "membership.json").write_text(json.dumps(report, indent=1))


def shadow_answers(shadows: ShadowSet, target: TargetModel, records: pd.DataFrame
                   ) -> np.ndarray:
    return shadows.confidences(Oracle.for_model(target), records)


_reference_answers: dict[str, np.ndarray] = {}


def reference_answers(world: str, target: TargetModel, reference: pd.DataFrame,
                      n_shadows: int) -> np.ndarray:
    """The answers of ``jobs-1``'s shadows (trained here, untimed, if that case did
    not run first)."""
    if world not in _reference_answers:
        shadows = train_shadows(target, reference, n_shadows=n_shadows, random_state=0)
        _reference_answers[world] = shadow_answers(shadows, target, reference)
    return _reference_answers[world]


@pytest.mark.parametrize("way", WAYS)
@pytest.mark.parametrize("world", list(WORLDS))
def test_train_shadows(benchmark: BenchmarkFixture, request: pytest.FixtureRequest,
                       worlds: dict[str, Any], world: str, way: str) -> None:
    smoke = is_smoke(request.config)
    if smoke and way == "jobs-2" and world != "iwpc-tree":
        pytest.skip("smoke run: worker processes for one world only (each call starts "
                    "two, which import tabinv: seconds)")
    target, reference = worlds[world]
    n_shadows = 2 if smoke else N_SHADOWS
    options: dict[str, Any] = {"n_jobs": 2} if way == "jobs-2" else {}
    facts: dict[str, Any] = {}
    if way == "dask-2":
        options["client"], facts["cluster_start_seconds"] = \
            request.getfixturevalue("dask_client")
    made: list[ShadowSet] = []

    def train() -> None:
        made.append(train_shadows(target, reference, n_shadows=n_shadows, random_state=0,
                                  **options))

    benchmark.group = f"train {n_shadows} shadows: {world}"
    benchmark.pedantic(train, rounds=3 if world == "iwpc-tree" else 2, iterations=1)
    answers = shadow_answers(made[-1], target, reference)
    if way == "jobs-1":
        _reference_answers.setdefault(world, answers)
    assert np.array_equal(answers, reference_answers(world, target, reference, n_shadows))
    if benchmark.stats is None:
        return
    seconds = _best[(world, way)] = benchmark.stats.stats.min
    one_job = _best.get((world, "jobs-1"))
    facts.update({"world": world, "way": way, "n_shadows": n_shadows,
                  "reference_rows": len(reference), "seconds": round(seconds, 3),
                  "speedup_vs_1_job": None if one_job is None else round(one_job / seconds,
                                                                         2)})
    benchmark.extra_info.update(facts)
    _collected.append({"measure": "train_shadows", **facts})


@pytest.fixture(scope="module")
def fitted_attacks(worlds: dict[str, Any], request: pytest.FixtureRequest
                   ) -> dict[str, Any]:
    """Every attack fitted on the IWPC tree world (16 shadows, 4 in a smoke run)."""
    target, reference = worlds["iwpc-tree"]
    return fit_attacks(target, reference, 4 if is_smoke(request.config) else N_SHADOWS)


def fit_attacks(target: TargetModel, reference: pd.DataFrame, n_shadows: int,
                names: tuple[str, ...] = ATTACKS) -> dict[str, Any]:
    """The attacks ``names`` fitted (``lira-offline`` always: its shadows answer for
    :func:`answers_for`); LiRA online's candidates are 100 synthetic IWPC records."""
    candidates = synthetic_iwpc(100, random_state=3)
    offline = train_shadows(target, reference, n_shadows=n_shadows, random_state=1)
    attacks: dict[str, Any] = {"loss": (LossThreshold, {}, None),
                               "lira-offline": (LiRA, {}, offline),
                               "rmia": (RMIA, {}, offline)}
    if "lira-online" in names:
        online = train_shadows(target, pd.concat([reference, candidates], ignore_index=True),
                               n_shadows=n_shadows, random_state=2)
        attacks["lira-online"] = (LiRA, {"online": True}, online)
    return {name: kind(**params).fit(target, reference, candidates=candidates,
                                     shadows=shadows)
            for name, (kind, params, shadows) in attacks.items()
            if name in names or name == "lira-offline"}


_answers: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}


def answers_for(n: int, attacks: dict[str, Any]) -> tuple[np.ndarray, ...]:
    """The target's and the offline shadows' confidences on n synthetic IWPC records,
    and an in-mask putting each record IN half of the shadows (read once per N)."""
    if n not in _answers:
        lira = attacks["lira-offline"]
        records = synthetic_iwpc(n, random_state=4)
        shadows = lira.shadows_.confidences(lira.oracle_, records)
        _answers[n] = (label_confidence(lira.oracle_, records), shadows,
                       balanced_halves(len(shadows), n, random_state=5))
    return _answers[n]


@pytest.mark.parametrize("n_scored", scoring_sizes(), ids=[f"N={n:_}" for n in
                                                          scoring_sizes()])
@pytest.mark.parametrize("attack", ATTACKS)
def test_score_answers(benchmark: BenchmarkFixture, fitted_attacks: dict[str, Any],
                       attack: str, n_scored: int) -> None:
    scorer = fitted_attacks[attack]
    answers = answers_for(n_scored, fitted_attacks)
    benchmark.group = f"score answers: {attack}"
    scores = benchmark.pedantic(scorer.score_answers, args=answers, rounds=20,
                                iterations=1, warmup_rounds=1)
    assert scores.shape == (n_scored,) and np.isfinite(scores).all()
    if benchmark.stats is None:
        return
    seconds = _best[(attack, str(n_scored))] = benchmark.stats.stats.min
    smaller = [n for n in scoring_sizes() if n < n_scored and (attack, str(n)) in _best]
    facts: dict[str, Any] = {"attack": attack, "n": n_scored,
                             "n_shadows": len(answers[1]), "seconds": seconds,
                             "ns_per_record": round(seconds / n_scored * 1e9, 1)}
    if smaller:
        previous = max(smaller)
        facts["growth"] = {"from_n": previous,
                           "time_ratio": round(seconds / _best[(attack, str(previous))], 2),
                           "size_ratio": n_scored / previous}
    benchmark.extra_info.update(facts)
    _collected.append({"measure": "score_answers", **facts})
