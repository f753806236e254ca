"""Issue 13, item 5: attacking a model tabinv did not train costs about one prediction.

For each pipeline of ``benchmarks/foreign.py`` (a scikit-learn ``Pipeline(
ColumnTransformer(OneHotEncoder, StandardScaler), RandomForest)`` and the same with
HistGradientBoosting) and N in ``TABINV_BENCH_SIZES`` (default 10^4, 10^5, 10^6),
K = 18 (``vkorc1`` x ``cyp2c9``):

- ``test_baseline``: one ``pipe.predict_proba`` over the pre-built N x K candidate
  DataFrame (built untimed, in the pipeline's own form: its column order, the records'
  column types). Above ``ONE_CALL_ROWS`` rows (N = 10^6: 1.8 x 10^7 rows) one call would
  hold several GiB of the pipeline's temporaries (its dense one-hot matrix, float32
  copy, per-tree outputs), so the frame is still built whole but predicted in slices of
  the attack's own chunk size (``mode`` in the results).
- ``test_attack``: the MAP attack (confidence access) in a fresh child process
  (:func:`benchmarks.foreign.probe`: warm-up, then the timed ``infer``, best of three
  below 10^6 records, and the process's peak resident memory while it ran), on the
  pipeline opened through ``open_model(..., recognise=False)`` (``generic``: the
  pipeline answers every candidate row, built in its own form chunk by chunk within
  ``memory``) and ``recognise=True`` (``recognised``: tabinv's readable equivalent, whose
  fast paths answer without building the rows; recorded as ``not recognised`` while
  :mod:`tabinv.models.recognise` does not reproduce the pipeline). The benchmark's own
  time is the child's whole run; ``extra_info`` holds the attack's seconds, the ratio
  to the baseline (item 5 asks for at most 1.3) and the peak memory (at most 1.5 GiB).

Above 10^5 records the cases run only with ``TABINV_BENCH_SLOW=1`` (minutes each).
``TABINV_BENCH_STRICT=1`` also fails a case whose ratio is above 1.3 (off by default:
on a shared machine another process's load shows up in the ratio).
With timings enabled the session's rows and the machine description go to
``benchmarks/results/foreign.json`` and a Markdown table to ``foreign.md``.
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

from . import foreign, memory

RESULTS = Path(__file__).resolve().parent / "results"
SLOW = os.environ.get("TABINV_BENCH_SLOW") == "1"
#: candidate rows predicted in one call by the baseline; above, in the attack's chunks
ONE_CALL_ROWS = 2_000_000
RATIO_LIMIT = 1.3
_baselines: dict[tuple[str, int], dict[str, Any]] = {}
_attacks: list[dict[str, Any]] = []


def rounds_for(n: int) -> int:
    """Timed rounds (the minimum counts): one at 10^6 records (minutes a call)."""
    return 1 if n > 100_000 else 3


def skip_slow(n: int) -> None:
    """Above 10^5 records a case takes minutes: only with ``TABINV_BENCH_SLOW=1``."""
    if n > 100_000 and not SLOW:
        pytest.skip("foreign pipelines above 10^5 records: TABINV_BENCH_SLOW=1")


def baseline_call(name: str, n: int, chunked: bool | None = None
                  ) -> tuple[Callable[[], Any], dict[str, Any]]:
    """``predict_proba`` over the pre-built candidate frame, in one call or (``chunked``,
    by default above ``ONE_CALL_ROWS``) in slices of the attack's chunk size, and what
    it is."""
    pipe = foreign.pipeline(name)
    frame = foreign.candidate_frame(n)
    if chunked is None:
        chunked = len(frame) > ONE_CALL_ROWS
    if not chunked:
        return (lambda: pipe.predict_proba(frame)), {"mode": "one call", "rows": len(frame)}
    attack = foreign.attack(foreign.target(name, "generic"))
    grid, oracle = attack.grid_, attack.oracle_
    step = foreign.K * grid.chunk_size(grid.point_width(oracle), foreign.MEMORY,
                                       attack.reserved_bytes(n), grid.query_bytes(oracle))

    def in_chunks() -> None:
        for start in range(0, len(frame), step):
            pipe.predict_proba(frame.iloc[start:start + step])

    return in_chunks, {"mode": f"chunks of {step:,} rows", "rows": len(frame)}


def best_seconds(call: Callable[[], Any], rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return min(times)


def baseline(name: str, n: int) -> dict[str, Any]:
    """The baseline measured by ``test_baseline``, or measured here (best of the same
    rounds) when that test did not run."""
    if (name, n) not in _baselines:
        call, facts = baseline_call(name, n)
        _baselines[(name, n)] = {**facts, "seconds": best_seconds(call, rounds_for(n))}
    return _baselines[(name, n)]


@pytest.fixture(scope="module", autouse=True)
def save_results() -> Any:
    yield
    if not any(row.get("ratio") is not None for row in _attacks):
        return  # nothing timed (--benchmark-disable): the last results stay
    rows = [row for row in _attacks if row.get("ratio") is not None
            or row.get("status") == "not recognised"]
    baselines = [{"pipeline": name, "n": n, **facts} for (name, n), facts in _baselines.items()]
    RESULTS.mkdir(exist_ok=True)
    report = merged(RESULTS / "foreign.json", {
        "machine": memory.machine(), "memory_budget": foreign.MEMORY,
        "baselines": baselines, "cases": rows})
    (RESULTS / "foreign.json").write_text(json.dumps(report, indent=1))
    (RESULTS / "foreign.md").write_text(markdown(report))


def merged(path: Path, report: dict[str, Any]) -> dict[str, Any]:
    """This session's rows, plus the earlier file's rows of the sizes not run now (a
    10^6 run kept next to a 10^5 run of another session)."""
    try:
        earlier = json.loads(path.read_text())
    except (OSError, ValueError):
        return report
    sizes = {row["n"] for row in report["cases"]}
    for key in ("baselines", "cases"):
        kept = [row for row in earlier.get(key, []) if row.get("n") not in sizes]
        report[key] = sorted(kept + report[key], key=lambda row: (
            row["n"], foreign.PIPELINES.index(row["pipeline"]) if row["pipeline"] in
            foreign.PIPELINES else 99, row.get("path", "")))
    return report


def markdown(report: dict[str, Any]) -> str:
    """The results as a Markdown table (one row per pipeline, N and path)."""
    bases = {(b["pipeline"], b["n"]): b for b in report["baselines"]}
    lines = ["| pipeline | N | path | attack s | baseline s (mode) | ratio | baseline in "
             "the attack's chunks s | ratio | peak RSS | attack's own | chunk (records) "
             "| load |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for row in report["cases"]:
        base = bases.get((row["pipeline"], row["n"]), {})
        if row.get("status") == "not recognised":
            lines.append(f"| {row['pipeline']} | {row['n']:,} | {row['path']} | not "
                         "recognised | | | | | | | | |")
            continue
        chunked = (f"{base['chunked_seconds']:.3g} | {row['ratio_to_chunked']:.2f}x"
                   if "ratio_to_chunked" in row else "(the same) | ")
        lines.append(
            f"| {row['pipeline']} | {row['n']:,} | {row['path']} | {row['seconds']:.3g} | "
            f"{base.get('seconds', float('nan')):.3g} ({base.get('mode', '')}) | "
            f"{row['ratio']:.2f}x | {chunked} | {row['peak_bytes'] / 2**30:.2f} GiB | "
            f"{row['attack_bytes'] / 2**30:.2f} GiB | {row['chunk_records']:,} | "
            f"{row['load_average_1min']:.2f} |")
    machine = report["machine"]
    return (f"Machine: {machine['cpu']}, {machine['cores']} cores, Python "
            f"{machine['python']}, scikit-learn {machine['scikit-learn']}, pandas "
            f"{machine['pandas']}; attack memory budget "
            f"{report['memory_budget'] / 2**20:.0f} MiB.\n\n" + "\n".join(lines) + "\n")


@pytest.mark.parametrize("name", foreign.PIPELINES)
def test_baseline(benchmark: BenchmarkFixture, name: str, n_records: int) -> None:
    skip_slow(n_records)
    call, facts = baseline_call(name, n_records)
    benchmark.group = f"foreign {name} K=18 N={n_records:_}"
    slow = n_records > 100_000
    benchmark.pedantic(call, rounds=rounds_for(n_records), iterations=1,
                       warmup_rounds=0 if slow else 1)
    del call
    if benchmark.stats is not None:
        facts["seconds"] = benchmark.stats.stats.min
        if facts["mode"] == "one call":  # the stricter floor: the attack's own chunks
            chunked, more = baseline_call(name, n_records, chunked=True)
            facts.update(chunked_mode=more["mode"],
                         chunked_seconds=best_seconds(chunked, rounds_for(n_records)))
            del chunked
        _baselines[(name, n_records)] = facts
        benchmark.extra_info.update(facts)
    result = foreign.pipeline(name).predict_proba(foreign.candidate_frame(50)[:foreign.K])
    assert result.shape == (foreign.K, 3)


@pytest.mark.parametrize("path", foreign.PATHS)
@pytest.mark.parametrize("name", foreign.PIPELINES)
def test_attack(benchmark: BenchmarkFixture, name: str, path: str, n_records: int) -> None:
    skip_slow(n_records)
    benchmark.group = f"foreign {name} K=18 N={n_records:_}"
    if path == "recognised" and not foreign.is_recognised(name):
        _attacks.append({"pipeline": name, "path": path, "n": n_records, "k": foreign.K,
                         "status": "not recognised"})
        pytest.skip(f"{name}: tabinv.models.recognise does not recognise the pipeline")
    report = benchmark.pedantic(foreign.probe, args=(name, path, n_records,
                                                     rounds_for(n_records)),
                                rounds=1, iterations=1)
    assert np.isfinite(report["seconds"])
    report["ratio"] = None
    if benchmark.stats is not None:
        base = baseline(name, n_records)
        report["baseline_seconds"] = base["seconds"]
        report["ratio"] = report["seconds"] / report["baseline_seconds"]
        if "chunked_seconds" in base:
            report["ratio_to_chunked"] = report["seconds"] / base["chunked_seconds"]
        benchmark.extra_info.update(report)
    _attacks.append(report)
    assert report["peak_bytes"] < foreign.LIMIT, report
    if os.environ.get("TABINV_BENCH_STRICT") == "1" and report["ratio"] is not None:
        assert report["ratio"] <= RATIO_LIMIT, report
