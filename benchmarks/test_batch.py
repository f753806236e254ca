"""The batch runner on a 200-entry example inventory: entries per minute and peak memory.

Cases: the local executor with 1 and 2 worker processes, a Dask LocalCluster with 2
workers (started by the run, on 127.0.0.1, its start-up time included), and the resume
case: a rerun over a finished output directory, where every entry is checked (key and
report hashes) and reused. The inventory comes from ``tabinv inventory example`` (small
models of mixed families and formats on IWPC, 50 bootstrap replicates); it is trained
outside the timed runs. ``TABINV_BENCH_ENTRIES`` sets the size (default 200); a smoke run
(``--benchmark-disable``) uses 1 entry. Peak memory is the largest sum of the resident
set sizes of this process and all its descendants (workers), sampled every 0.1 s.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from tabinv.batch.example import write_example_inventory
from tabinv.batch.executors import DaskExecutor, Executor, LocalExecutor
from tabinv.batch.inventory import Inventory, read_inventory
from tabinv.batch.runner import BatchResult, run_batch

ENTRIES_VARIABLE = "TABINV_BENCH_ENTRIES"
EXECUTORS: dict[str, Callable[[], Executor]] = {
    "local-1": lambda: LocalExecutor(1),
    "local-2": lambda: LocalExecutor(2),
    "dask-2": lambda: DaskExecutor(workers=2),
}
FINISHED: dict[str, Path] = {}  # an output directory of a complete run, for the resume case


def entry_count(config: pytest.Config) -> int:
    if config.getoption("benchmark_disable"):
        return 1
    raw = os.environ.get(ENTRIES_VARIABLE, "").strip() or "200"
    if not raw.isdigit() or int(raw) < 1:
        raise pytest.UsageError(f"{ENTRIES_VARIABLE}={raw!r} must be a positive integer")
    return int(raw)


@pytest.fixture(scope="module")
def inventory(request: pytest.FixtureRequest,
              tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    folder = tmp_path_factory.mktemp("inventory")
    return read_inventory(write_example_inventory(folder, entries=entry_count(request.config)))


@contextmanager
def peak_memory() -> Iterator[dict[str, float]]:
    """Track the peak total RSS (MB) of this process tree while the block runs."""
    me = psutil.Process()
    peak = {"total_mb": 0.0, "driver_mb": 0.0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    continue
            peak["total_mb"] = max(peak["total_mb"], total / 2**20)
            peak["driver_mb"] = max(peak["driver_mb"], me.memory_info().rss / 2**20)
            stop.wait(0.1)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield peak
    finally:
        stop.set()
        thread.join()


def stop_idle_workers() -> None:
    """loky keeps idle workers for a few seconds; stop them so runs do not overlap."""
    from joblib.externals.loky import get_reusable_executor

    get_reusable_executor().shutdown(wait=True)


def record(benchmark: BenchmarkFixture, result: BatchResult, peak: dict[str, float]) -> None:
    minutes = result.seconds / 60
    benchmark.extra_info.update({
        "entries": result.total, "reused": result.reused, "failed": result.failed,
        "seconds": round(result.seconds, 2), "executor": result.executor,
        "entries_per_minute": round(result.total / minutes, 1),
        "peak_rss_total_mb": round(peak["total_mb"], 1),
        "peak_rss_driver_mb": round(peak["driver_mb"], 1)})


@pytest.mark.parametrize("executor", list(EXECUTORS))
def test_batch(benchmark: BenchmarkFixture, inventory: Inventory, executor: str,
               tmp_path: Path) -> None:
    outcome: dict[str, Any] = {}

    def run() -> None:
        out = tmp_path / f"out-{len(outcome)}"
        with peak_memory() as peak:
            outcome[out] = run_batch(inventory, out, executor=EXECUTORS[executor]())
        outcome["peak"] = peak
        stop_idle_workers()

    benchmark.group = f"batch of {len(inventory)} entries"
    benchmark.pedantic(run, rounds=1, iterations=1)
    result = next(v for k, v in outcome.items() if k != "peak")
    record(benchmark, result, outcome["peak"])
    assert (result.failed, result.reused, result.succeeded) == (0, 0, len(inventory)), \
        result.failures
    FINISHED.setdefault("out", result.out)


def test_batch_resume(benchmark: BenchmarkFixture, inventory: Inventory,
                      tmp_path: Path) -> None:
    if "out" not in FINISHED:  # run on its own: finish a run first, untimed
        FINISHED["out"] = run_batch(inventory, tmp_path / "first", executor=LocalExecutor(2)
                                    ).out
        stop_idle_workers()
    outcome: dict[str, Any] = {}

    def run() -> None:
        out = tmp_path / f"out-{len(outcome)}"
        shutil.copytree(FINISHED["out"], out)
        with peak_memory() as peak:
            outcome["result"] = run_batch(inventory, out, executor=LocalExecutor(2))
        outcome["peak"] = peak
        stop_idle_workers()

    benchmark.group = f"batch of {len(inventory)} entries"
    benchmark.pedantic(run, rounds=1, iterations=1)
    result = outcome["result"]
    record(benchmark, result, outcome["peak"])
    assert (result.reused, result.failed) == (len(inventory), 0)
