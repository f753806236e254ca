"""Attacks of every model family against the floor: one model evaluation over the grid.

For each family (``benchmarks/memory.py`` describes the world), K = 3 / 18 / 27 and
N in ``TABINV_BENCH_SIZES`` (default 10^4, 10^5, 10^6), pytest-benchmark times the
attack's ``infer``; the floor (the model's ``predict`` / ``predict_proba`` over the
N x K grid, rows pre-built outside the timer in the attack's own chunks) is timed on
the same records and ``extra_info["ratio"]`` = attack / floor. Attacks: ``map`` (the
black-box MAP / confidence attack as it runs by default: linear and logistic models
answer the grid from their coefficients, tree ensembles from one compiled walk per
record and tree; the answers are the model's own, bit for bit), ``queries`` (the same
attack with ``Oracle(shortcuts=False)``: the model is queried on every grid row) and,
for tree families, ``whitebox`` (the white-box tree attack).

Forests and XGBoost above N = 10^5 take minutes per case (the floor itself is about
6 s / 2.5 s per 10^6 grid rows on one core; the white-box attack reads as many leaves)
and run only with ``TABINV_BENCH_SLOW=1``. ``test_peak_memory`` runs each family's
attack at the largest N and K = 27 in a child process (``ru_maxrss``). With timings
enabled, the session's numbers and the machine description go to
``benchmarks/results/families.json`` (timings) and ``memory.json`` (peaks).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from . import memory
from .conftest import bench_sizes

RESULTS = Path(__file__).resolve().parent / "results"
SLOW = os.environ.get("TABINV_BENCH_SLOW") == "1"
KS = (3, 18, 27)
CASES = ([(f, "map") for f in memory.FAMILIES] + [(f, "queries") for f in memory.FAMILIES]
         + [(f, "whitebox") for f in memory.TREE_FAMILIES])
_collected: list[dict[str, Any]] = []


def floor_seconds(attack: Any, records: Any, dtype: Any = None) -> float:
    """Seconds of one model evaluation over the whole N x K grid (rows built untimed, by
    default in the float type the model computes in, so the floor pays no conversion)."""
    target = attack.oracle_.model
    hidden = (*attack.sensitive_, *attack.unknown_names_)
    encoded = target.encoder_.transform(records[list(attack.known_)], skip=hidden,
                                        dtype=dtype or target.input_dtype)
    from tabinv.attacks.grid import CandidateGrid  # white-box: no grid_
    from tabinv.attacks.unknowns import UnknownFeatures
    grid = CandidateGrid(target.encoder_, attack.candidates_, UnknownFeatures())
    step = grid.chunk_size(encoded.shape[1], attack.memory)
    total = 0.0
    for start in range(0, len(encoded), step):
        rows = grid.rows(encoded[start:start + step])
        began = time.perf_counter()
        target.output_encoded(rows)
        total += time.perf_counter() - began
    return total


def rounds_for(family: str, n: int) -> int:
    """Timed rounds (the minimum is reported): one where a call takes minutes, three at
    10^5-10^6 records (a single round on this VM is sometimes 1.5x slow), five below."""
    return 1 if is_slow(family, n) else 5 if n <= 10_000 else 3


def is_slow(family: str, n: int) -> bool:
    """Forests and XGBoost above 10^5 records: minutes per case (``TABINV_BENCH_SLOW=1``)."""
    return family in ("forest", "xgboost") and n > 100_000


#: (family, K, N) -> floor seconds, measured once and shared by the map and white-box
#: cases (same model, records and grid)
_floors: dict[tuple[str, int, int], float] = {}


@pytest.fixture(scope="module", autouse=True)
def save_results() -> Any:
    yield
    timed = [r for r in _collected if "floor_seconds" in r]
    probes = [r for r in _collected if r.get("measure") == "peak_memory"]
    for name, rows in (("families.json", timed), ("memory.json", probes)):
        if rows:  # only what this session measured: a partial run keeps the other file
            RESULTS.mkdir(exist_ok=True)
            report = {"machine": memory.machine(), "sizes": list(bench_sizes()),
                      "cases": rows}
            (RESULTS / name).write_text(json.dumps(report, indent=1))


@pytest.mark.parametrize("k", KS, ids=[f"K={k}" for k in KS])
@pytest.mark.parametrize(("family", "kind"), CASES, ids=[f"{f}-{a}" for f, a in CASES])
def test_attack_vs_floor(benchmark: BenchmarkFixture, family: str, kind: str, k: int,
                         n_records: int) -> None:
    slow = is_slow(family, n_records)
    if slow and not SLOW:
        pytest.skip("forest / XGBoost above 10^5 records: TABINV_BENCH_SLOW=1")
    attack = memory.attack(family, kind, k)
    records = memory.records(n_records)
    benchmark.group = f"{family} K={k}"
    # one warm-up call: the first touch of freshly mapped memory is several times slower
    # on this VM than in steady state (a batch job's); skipped where a call takes minutes
    posterior = benchmark.pedantic(attack.infer, args=(records,),
                                   rounds=rounds_for(family, n_records), iterations=1,
                                   warmup_rounds=0 if slow else 1)
    assert posterior.probabilities.shape == (n_records, k)
    assert np.isfinite(posterior.probabilities).all()
    row: dict[str, Any] = {"family": family, "attack": kind, "k": k, "n": n_records,
                           "seconds": None}
    if benchmark.stats is not None:
        seconds = benchmark.stats.stats.min
        key = (family, k, n_records)
        if key not in _floors:
            _floors[key] = min(floor_seconds(attack, records)
                               for _ in range(1 if slow else 2))
        floor = _floors[key]
        row.update(seconds=seconds, floor_seconds=floor, ratio=seconds / floor)
        benchmark.extra_info.update(row)
    _collected.append(row)


@pytest.mark.parametrize(("family", "kind"), CASES, ids=[f"{f}-{a}" for f, a in CASES])
def test_peak_memory(benchmark: BenchmarkFixture, family: str, kind: str) -> None:
    """Peak resident memory of the attack at the largest N, K = 27, in a child process
    (the benchmark's time is the child's whole run: imports, training, the attack)."""
    if benchmark.disabled:
        pytest.skip("memory probes run with timings only")
    n = max(bench_sizes())
    if is_slow(family, n) and not SLOW:
        pytest.skip("forest / XGBoost above 10^5 records: TABINV_BENCH_SLOW=1")
    benchmark.group = "peak memory, K=27"
    report = benchmark.pedantic(memory.probe, args=(family, kind, 27, n), rounds=1,
                                iterations=1)
    benchmark.extra_info.update(report)
    _collected.append({**report, "measure": "peak_memory"})
    assert report["peak_bytes"] < 1.5 * 2**30, report
