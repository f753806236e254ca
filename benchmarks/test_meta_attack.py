"""The meta attack's cost against MAP inversion's, on the same target, records and labels.

World (``benchmarks/memory.py``): the depth-12 tree classifying the dose class, trained
on 5,000 synthetic members; the attacker's reference sample is 5,000 other records (it
trains meta's classifier; MAP uses it for its marginal prior); N attacked records
(``TABINV_BENCH_SIZES``; above 10^5 only with ``TABINV_BENCH_SLOW=1``). Both attacks
get the same ``Oracle`` (confidence access, the tree's compiled walk answering the
candidate grid), the same sensitive column (``vkorc1``, K = 3; every other feature
known), the same records and the same labels: the records' true dose class, passed
explicitly to ``infer``. Both run with their defaults (MAP: marginal prior; meta:
gradient boosting, 3-fold search of :data:`~tabinv.attacks.learners.GRIDS`).

What is timed, per stage:

- ``infer``: ``attack.infer(records, labels)`` of an attack fitted outside the timer;
- ``fit+infer``: a fresh attack's ``fit(oracle, ..., reference)`` then ``infer``
  (meta's fit trains and cross-validates its classifier on the reference sample: its
  cost does not grow with N, MAP's fit is a table of prior weights).

pytest-benchmark times meta (one warm-up, then the rounds: its own table). The
comparison is timed after it in the same process: one warm-up each, then the same
number of rounds, each running meta then MAP, so that the shared machine's load hits
both alike. ``extra_info`` holds the best round of each, wall clock (``meta_seconds``,
``map_seconds``, ``ratio`` = meta / map) and process CPU (``*_cpu_seconds``,
``cpu_ratio``: both threads of the grid's pipeline, the work done whatever else the
machine runs), the 1-minute load average, and in the ``fit+infer`` stage the best fit
alone of each. With timings enabled, the rows go to ``benchmarks/results/meta.json`` with
the machine description. Each case also checks that meta's posterior is finite and its
VKORC1 accuracy beats the majority rate.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from tabinv.attacks.base import BaseAttack
from tabinv.attacks.map import MAPInversion
from tabinv.attacks.meta import MetaClassifier
from tabinv.models.oracle import Oracle

from . import memory
from .conftest import bench_sizes
from .test_map_attack import vkorc1_accuracy

RESULTS = Path(__file__).resolve().parent / "results"
SLOW = os.environ.get("TABINV_BENCH_SLOW") == "1"
SENSITIVE = ["vkorc1"]
STAGES = ("infer", "fit+infer")
_collected: list[dict[str, Any]] = []


def rounds_for(n_records: int) -> int:
    """Timed rounds of each attack (the best is reported)."""
    return 5 if n_records <= 100_000 else 3


@pytest.fixture(scope="module")
def oracle() -> Oracle:
    """Confidence access to the benchmark world's depth-12 tree (shared by both attacks)."""
    return Oracle.for_model(memory.model("tree"), "confidences")


def fitted(cls: type[BaseAttack], oracle: Oracle) -> BaseAttack:
    known = [f for f in oracle.model.features if f not in SENSITIVE]
    return cls().fit(oracle, sensitive=SENSITIVE, known=known,
                     reference=memory.records(5_000, 2))


def best_of(call: Callable[[], Any], rounds: int) -> float:
    """Seconds of the best of ``rounds`` calls, after one warm-up call."""
    call()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def interleaved(calls: dict[str, Callable[[], Any]], rounds: int) -> dict[str, float]:
    """Best wall-clock and process CPU seconds of each call over ``rounds`` rounds that
    run every call in turn (after one warm-up each), so that a change in the shared
    machine's load hits all of them alike. CPU counts both threads of the grid's
    pipeline: the work done, whatever else the machine runs."""
    for call in calls.values():
        call()
    wall: dict[str, list[float]] = {name: [] for name in calls}
    cpu: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            started, used = time.perf_counter(), time.process_time()
            call()
            wall[name].append(time.perf_counter() - started)
            cpu[name].append(time.process_time() - used)
    return {**{f"{name}_seconds": min(wall[name]) for name in calls},
            **{f"{name}_cpu_seconds": min(cpu[name]) for name in calls}}


@pytest.fixture(scope="module", autouse=True)
def save_results() -> Any:
    yield
    if _collected:
        RESULTS.mkdir(exist_ok=True)
        report = {"machine": memory.machine(), "sizes": list(bench_sizes()),
                  "cases": _collected}
        (RESULTS / "meta.json").write_text(json.dumps(report, indent=1))


@pytest.mark.parametrize("stage", STAGES)
def test_meta_against_map(benchmark: BenchmarkFixture, oracle: Oracle, stage: str,
                          n_records: int) -> None:
    if n_records > 100_000 and not SLOW:
        pytest.skip("meta above 10^5 records: TABINV_BENCH_SLOW=1")
    records = memory.records(n_records)
    labels = records[oracle.model.label]
    attacks = {cls: fitted(cls, oracle) for cls in (MetaClassifier, MAPInversion)}

    def run(cls: type[BaseAttack]) -> Callable[[], Any]:
        if stage == "infer":
            return lambda: attacks[cls].infer(records, labels)
        return lambda: fitted(cls, oracle).infer(records, labels)

    rounds = rounds_for(n_records)
    benchmark.group = f"meta vs map, {stage}"
    posterior = benchmark.pedantic(run(MetaClassifier), rounds=rounds, iterations=1,
                                   warmup_rounds=1)
    assert posterior.probabilities.shape == (n_records, 3)
    assert np.isfinite(posterior.probabilities).all()
    accuracy, majority = vkorc1_accuracy(posterior, records)
    assert accuracy > majority, f"meta accuracy {accuracy:.3f} <= majority {majority:.3f}"
    row: dict[str, Any] = {"stage": stage, "n": n_records, "k": 3, "rounds": rounds,
                           "meta_vkorc1_accuracy": accuracy, "majority": majority}
    if benchmark.stats is not None:  # None under --benchmark-disable
        row["load_average"] = os.getloadavg()[0]
        row.update(interleaved({"meta": run(MetaClassifier), "map": run(MAPInversion)},
                               rounds))
        row.update(ratio=row["meta_seconds"] / row["map_seconds"],
                   cpu_ratio=row["meta_cpu_seconds"] / row["map_cpu_seconds"],
                   benchmark_meta_seconds=benchmark.stats.stats.min)
        if stage == "fit+infer":
            row.update({f"{name}_fit_seconds": best_of(lambda c=cls: fitted(c, oracle),
                                                       rounds)
                        for name, cls in (("meta", MetaClassifier),
                                          ("map", MAPInversion))})
        _collected.append(row)
    benchmark.extra_info.update(row)

