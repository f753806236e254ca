"""The floor itself, and the linear fast path against one plain ``predict``.

``test_floor`` times one model evaluation (``predict`` / ``predict_proba``) over the
pre-built N x K grid at K = 18 for every family: the least any black-box attack must
spend. ``test_linear_fast_path`` times the MAP attack on the linear model at K = 18
(fast path: each record scored once, not K times) and compares it with one plain
prediction over the N records, both as the estimator's ``predict`` on the encoded
records and as ``TargetModel.predict`` on the data frame (which also encodes).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from . import memory
from .test_families import floor_seconds, is_slow, rounds_for


@pytest.mark.parametrize("family", memory.FAMILIES)
def test_floor(benchmark: BenchmarkFixture, family: str, n_records: int) -> None:
    """The floor at K = 18 (``extra_info["floor_seconds"]``: model time only, last round)
    and the same for a float64 grid (what a default numpy grid costs: scikit-learn trees
    and XGBoost convert it to float32 first). The benchmark's own statistics time both
    floors together with building their rows."""
    if is_slow(family, n_records):
        pytest.skip("forests / XGBoost above 10^5: their floors are in families.json")
    attack = memory.attack(family, "map", 18)
    records = memory.records(n_records)
    benchmark.group = f"floor K=18 {family}"
    benchmark.extra_info.update({"family": family, "k": 18, "n": n_records})
    floors = benchmark.pedantic(lambda: (floor_seconds(attack, records),
                                         floor_seconds(attack, records, np.float64)),
                                rounds=rounds_for(family, n_records), iterations=1,
                                warmup_rounds=1)
    if benchmark.stats is not None:  # the benchmark's own time includes building the rows
        benchmark.extra_info.update({"floor_seconds": floors[0],
                                     "float64_grid_seconds": floors[1]})


def _best(function: Any, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def test_linear_fast_path(benchmark: BenchmarkFixture, n_records: int) -> None:
    attack = memory.attack("linear", "map", 18)
    assert attack.oracle_.linear_parts() is not None
    records = memory.records(n_records)
    target = attack.oracle_.model
    encoded = target.encode(records)
    benchmark.group = "linear fast path K=18"
    rounds = rounds_for("linear", n_records) + 2
    benchmark.pedantic(attack.infer, args=(records,), rounds=rounds, iterations=1)
    if benchmark.stats is None:
        return
    seconds = benchmark.stats.stats.min
    estimator_predict = _best(lambda: target.estimator_.predict(encoded), rounds)
    frame_predict = _best(lambda: target.predict(records), rounds)
    benchmark.extra_info.update({
        "n": n_records, "k": 18, "seconds": seconds,
        "estimator_predict_seconds": estimator_predict,
        "frame_predict_seconds": frame_predict,
        "ratio_to_estimator_predict": seconds / estimator_predict,
        "ratio_to_frame_predict": seconds / frame_predict})
