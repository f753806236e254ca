"""Issue 15: attacking a deployed model through MLflow's scoring server on loopback.

The server: ``mlflow models serve --env-manager local`` (one uvicorn worker) on the
random forest pipeline of ``benchmarks/foreign.py`` (50 trees, depth 12, its own column
order and types), started once for the module (tests/serving.py). The candidate rows:
``foreign.candidate_frame(N)``, N records x K = 18 (``vkorc1`` x ``cyp2c9``), as JSON
bodies in tabinv's own MLflow encoding (``encode_request``), built outside the timer.

- ``test_server``: queries (rows) per second at batch sizes 1, 100, 1,000 and 10,000
  rows a request, sent one after another over one keep-alive connection with the
  bodies pre-built and the answers read but not decoded: what the server itself needs.
  At most ``REQUEST_CAP`` requests a case (batch 1: 500 of the 180,000 rows); where the
  batches cover all N x K rows, that time is **the floor** of a remote attack at that
  batch size. Every answer is checked against ``pipe.predict_proba`` (equal, bit for bit).
- ``test_attack``: the MAP attack (``foreign.attack``, confidence access) on the endpoint
  opened with ``EndpointSpec(batch_rows=B)`` (the client's default concurrency), timed
  ``infer`` over the N records, timed like the floor (one warm-up, the best of three
  rounds); its posteriors equal the in-process attack's on the same pipeline bit for
  bit; ``extra_info`` holds the queries one ``infer`` sends and the ratio to the floor
  at the same batch size and at the best one (the issue's target: at most 1.2x the
  best).

N above 10^4 only with ``TABINV_BENCH_SLOW=1`` (10^5 records are 1.8 x 10^6 rows through
HTTP). With timings enabled the session's rows and the machine go to
``benchmarks/results/endpoint.json`` and a Markdown table to ``endpoint.md``.
"""

from __future__ import annotations

import http.client
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from tabinv.models.endpoint import EndpointSpec
from tabinv.models.endpoint.protocols import encode_request
from tabinv.models.sources import open_model

from . import foreign, memory

# the servers the tests start (tests/ is not a package: the test run puts it on the path)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from serving import LOOPBACK, Server, serve_mlflow  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
SLOW = os.environ.get("TABINV_BENCH_SLOW") == "1"
BATCHES = (1, 100, 1_000, 10_000)
ATTACK_BATCHES = (1_000, 10_000)
REQUEST_CAP = 500  # requests a timed case sends at most
SMOKE_CAP = 20  # ... when timings are off (tests/test_benchmark_smoke.py)
HANG_GUARD = 600.0  # seconds a request may take (a hang, never a speed limit)
_server_rows: dict[tuple[int, int], dict[str, Any]] = {}
_attack_rows: list[dict[str, Any]] = []


def skip_slow(n: int) -> None:
    if n > 10_000 and not SLOW:
        pytest.skip("the endpoint above 10^4 records: TABINV_BENCH_SLOW=1")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    example = foreign.records(5_000, 1)[foreign.COLUMNS].head(20)
    with serve_mlflow(foreign.pipeline("rf"), example,
                      tmp_path_factory.mktemp("mlflow")) as running:
        yield running


def bodies(n: int, batch: int, cap: int) -> tuple[list[bytes], int]:
    """JSON bodies of the first ``min(N x K, batch x cap)`` candidate rows, ``batch``
    rows each (tabinv's MLflow encoding), and that number of rows."""
    frame = foreign.candidate_frame(n)
    rows = min(len(frame), batch * cap)
    columns = {name: frame[name].to_numpy() for name in frame.columns}
    return [encode_request("mlflow", {k: v[start:start + batch] for k, v in columns.items()},
                           min(batch, rows - start))
            for start in range(0, rows, batch)], rows


def send_all(port: int, requests: list[bytes]) -> list[bytes]:
    """POST each body in turn over one keep-alive connection; the answers, undecoded."""
    connection = http.client.HTTPConnection(LOOPBACK, port, timeout=HANG_GUARD)
    answers = []
    try:
        for body in requests:
            connection.request("POST", "/invocations", body,
                               {"Content-Type": "application/json"})
            response = connection.getresponse()
            answers.append(response.read())
            assert response.status == 200, answers[-1][:500]
    finally:
        connection.close()
    return answers


@pytest.fixture(scope="module", autouse=True)
def save_results() -> Iterator[None]:
    yield
    if not _server_rows:
        return  # nothing timed (--benchmark-disable): the last results stay
    RESULTS.mkdir(exist_ok=True)
    report = {"machine": memory.machine(), "model": "foreign rf pipeline (50 trees, depth 12)",
              "server": "mlflow models serve --env-manager local (1 worker)",
              "server_cases": list(_server_rows.values()), "attack_cases": _attack_rows}
    (RESULTS / "endpoint.json").write_text(json.dumps(report, indent=1))
    (RESULTS / "endpoint.md").write_text(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    lines = ["| N | batch rows | requests | rows | seconds | rows/s | requests/s | all rows |",
             "|---|---|---|---|---|---|---|---|"]
    for row in report["server_cases"]:
        lines.append(f"| {row['n']:,} | {row['batch']:,} | {row['requests']:,} | "
                     f"{row['rows']:,} | {row['seconds']:.3g} | {row['rows_per_second']:,.0f} "
                     f"| {row['requests_per_second']:,.1f} | {'yes' if row['full'] else 'no'} |")
    lines += ["", "| N | batch rows | attack s | rows | requests | retries | floor s (same "
              "batch) | ratio | best floor s | ratio |", "|---" * 10 + "|"]
    for row in report["attack_cases"]:
        lines.append(f"| {row['n']:,} | {row['batch']:,} | {row['seconds']:.3g} | "
                     f"{row['rows']:,} | {row['requests']:,} | {row['retries']} | "
                     f"{row['floor_seconds']:.3g} | {row['ratio']:.2f}x | "
                     f"{row['best_floor_seconds']:.3g} | {row['ratio_to_best']:.2f}x |")
    machine = report["machine"]
    return (f"Machine: {machine['cpu']}, {machine['cores']} cores, Python "
            f"{machine['python']}, scikit-learn {machine['scikit-learn']}; "
            f"{report['server']}, {report['model']}.\n\n" + "\n".join(lines) + "\n")


@pytest.mark.parametrize("batch", BATCHES, ids=[f"batch={b}" for b in BATCHES])
def test_server(benchmark: BenchmarkFixture, server: Server, batch: int,
                n_records: int) -> None:
    skip_slow(n_records)
    requests, rows = bodies(n_records, batch, SMOKE_CAP if benchmark.disabled
                            else REQUEST_CAP)
    benchmark.group = f"endpoint mlflow K=18 N={n_records:_}"
    answers = benchmark.pedantic(send_all, args=(server.port, requests), rounds=3,
                                 iterations=1, warmup_rounds=0 if benchmark.disabled else 1)
    served = np.concatenate([np.asarray(json.loads(a)["predictions"]) for a in answers])
    frame = foreign.candidate_frame(n_records).iloc[:rows]
    np.testing.assert_array_equal(served, foreign.pipeline("rf").predict_proba(frame))
    if benchmark.stats is not None:
        seconds = benchmark.stats.stats.min
        facts = {"n": n_records, "k": foreign.K, "batch": batch, "requests": len(requests),
                 "rows": rows, "seconds": seconds, "rows_per_second": rows / seconds,
                 "requests_per_second": len(requests) / seconds,
                 "full": rows == n_records * foreign.K}
        _server_rows[(n_records, batch)] = facts
        benchmark.extra_info.update(facts)


def floor(n: int, batch: int) -> float | None:
    """The server's own time for all N x K rows at ``batch`` rows a request (measured by
    ``test_server``), or None when that case did not cover every row."""
    row = _server_rows.get((n, batch))
    return row["seconds"] if row and row["full"] else None


@pytest.mark.parametrize("batch", ATTACK_BATCHES, ids=[f"batch={b}" for b in ATTACK_BATCHES])
def test_attack(benchmark: BenchmarkFixture, server: Server, batch: int,
                n_records: int) -> None:
    skip_slow(n_records)
    benchmark.group = f"endpoint mlflow K=18 N={n_records:_}"
    model = open_model(EndpointSpec(server.url, batch_rows=batch), card=foreign.card(),
                       records=foreign.records(5_000, 1))
    try:
        assert model.access_.level == "confidences"
        fitted = foreign.attack(model)
        records = foreign.records(n_records)
        spent: list[Any] = []

        def infer() -> Any:
            before = model.query_stats()
            posterior = fitted.infer(records)
            spent.append(model.query_stats() - before)
            return posterior

        timed = not benchmark.disabled
        posterior = benchmark.pedantic(infer, rounds=3 if timed else 1, iterations=1,
                                       warmup_rounds=1 if timed else 0)
    finally:
        model.close()
    foreign.check(posterior, n_records)
    local = foreign.attack(foreign.target("rf", "generic")).infer(records)
    # the server's answers are the pipeline's bit for bit (test_server), and a record's
    # posterior does not depend on the chunk it is in: equal to the last bit
    np.testing.assert_array_equal(posterior.probabilities, local.probabilities)
    assert all(s.rows == n_records * foreign.K and s.retries == 0 for s in spent)
    spent_once = spent[-1]
    same, floors = floor(n_records, batch), [floor(n_records, b) for b in BATCHES]
    best = min((f for f in floors if f is not None), default=None)
    if benchmark.stats is not None and same is not None and best is not None:
        seconds = benchmark.stats.stats.min
        facts = {"n": n_records, "k": foreign.K, "batch": batch, "seconds": seconds,
                 "rows": spent_once.rows, "requests": spent_once.requests,
                 "retries": spent_once.retries,
                 "floor_seconds": same, "ratio": seconds / same,
                 "best_floor_seconds": best, "ratio_to_best": seconds / best,
                 "load_average_1min": os.getloadavg()[0], "measured_at": time.time()}
        _attack_rows.append(facts)
        benchmark.extra_info.update(facts)
