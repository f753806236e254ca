"""The foreign-model benchmark world (issue 13, item 5) and its child-process probe.

A hospital's pipeline, not trained by tabinv: ``Pipeline(ColumnTransformer(
OneHotEncoder(race, vkorc1, cyp2c9), StandardScaler(the five numeric columns)),
classifier)`` predicting the IWPC ``dose_class`` from a DataFrame in the pipeline's own
column order (numeric columns first, reversed, then the categorical ones), with the
records' own column types (text as object columns, the two co-medication flags as
integers). Classifiers (``PIPELINES``): ``rf``, a random forest (50 trees, depth 12,
one core), and ``hgb``, a histogram gradient boosting (20 iterations of 3 trees, up
to 31 leaves; it runs on every core through OpenMP). They are kept modest so that the
10^6-record cases (1.8 x 10^7 candidate rows) take minutes, not hours, on 2 cores.

Records are tabinv's synthetic IWPC-like patients (``tabinv.data.synthetic``): the
pipeline trains on 5,000 (seed 1), the attacker's reference sample is 5,000 more
(seed 2), the attacked records are seed 3. The attack: MAP with confidence access,
K = 18 joint candidates (``vkorc1`` x ``cyp2c9``), every other feature known.

Run as a script, it measures one attack in a fresh process and prints JSON::

    python -m benchmarks.foreign PIPELINE PATH N [ROUNDS]

``PATH``: ``generic`` (``open_model(..., recognise=False)``: the pipeline is queried on
every candidate row, built in its own input form chunk by chunk) or ``recognised``
(``recognise=True``: tabinv's readable equivalent when :mod:`tabinv.models.recognise`
reproduces the preprocessing; ``"status": "not recognised"`` in the report when it does
not).
The child warms up on 2,000 records, resets the kernel's peak-RSS mark, times ROUNDS
``infer`` calls on the N records (default 1; the best counts) and reads ``VmHWM``: the
peak resident memory of the whole process (imports, model, records, attack) while the
attack ran (see :mod:`benchmarks.memory`).
"""

from __future__ import annotations

import functools
import gc
import json
import os
import subprocess
import sys
import time
from typing import Any

import numpy as np
import pandas as pd

from .memory import ROOT, _reset_peak, _status_bytes

PIPELINES = ("rf", "hgb")
PATHS = ("generic", "recognised")
SENSITIVE = ("vkorc1", "cyp2c9")
K = 18
CATEGORICAL = ["race", "vkorc1", "cyp2c9"]
NUMERIC = ["age", "height_cm", "weight_kg", "enzyme_inducer", "amiodarone"]
#: the pipeline's own column order
COLUMNS = NUMERIC[::-1] + CATEGORICAL
#: the attack's ``memory`` budget: bounds the chunks of candidate rows in flight
MEMORY = 512 << 20
#: the memory the issue allows the whole attack
LIMIT = int(1.5 * 2**30)
WARM_UP = 2_000


def card() -> Any:
    from tabinv.data.registry import builtin_card
    return builtin_card("iwpc").with_label("dose_class")


@functools.cache
def records(n: int, seed: int = 3) -> pd.DataFrame:
    from tabinv.data.synthetic import synthetic_iwpc
    return synthetic_iwpc(n, random_state=seed)


@functools.cache
def pipeline(name: str) -> Any:
    """The fitted pipeline ``rf`` or ``hgb`` (see the module docstring)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    classifier = (RandomForestClassifier(n_estimators=50, max_depth=12, n_jobs=1,
                                         random_state=0) if name == "rf"
                  else HistGradientBoostingClassifier(max_iter=20, random_state=0))
    prep = ColumnTransformer([("cat", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
                              ("num", StandardScaler(), NUMERIC)])
    members = records(5_000, 1)
    return Pipeline([("prep", prep), ("clf", classifier)]).fit(members[COLUMNS],
                                                                members["dose_class"])


def target(name: str, path: str) -> Any:
    """The pipeline opened as tabinv opens a user's model (recognised or not)."""
    from tabinv.models.sources import open_model
    return open_model(pipeline(name), card=card(), records=records(5_000, 1),
                      recognise=path == "recognised")


def is_recognised(name: str) -> bool:
    """Whether :mod:`tabinv.models.recognise` turns the pipeline into a readable model."""
    from tabinv.models.recognise import readable_model
    return readable_model(pipeline(name), card(), None, "benchmark pipeline") is not None


def attack(model: Any) -> Any:
    """The fitted MAP attack (confidence access, K = 18)."""
    from tabinv.attacks.map import MAPInversion
    from tabinv.models.oracle import Oracle
    known = [f for f in model.features if f not in SENSITIVE]
    return MAPInversion(memory=MEMORY).fit(Oracle.for_model(model), sensitive=SENSITIVE,
                                           known=known, reference=records(5_000, 2))


def candidate_frame(n: int) -> pd.DataFrame:
    """The N x K candidate rows in the pipeline's own form: each record repeated K times
    (its column types kept), the sensitive columns set to every joint candidate, in the
    attack's candidate order (``vkorc1`` major)."""
    spec = card()
    vkorc1 = np.asarray(spec.column("vkorc1").domain, dtype=object)
    cyp2c9 = np.asarray(spec.column("cyp2c9").domain, dtype=object)
    source = records(n)[COLUMNS]
    frame = source.iloc[np.repeat(np.arange(n), K)].reset_index(drop=True)
    frame["vkorc1"] = pd.Series(np.tile(np.repeat(vkorc1, len(cyp2c9)), n),
                                dtype=source["vkorc1"].dtype)
    frame["cyp2c9"] = pd.Series(np.tile(np.tile(cyp2c9, len(vkorc1)), n),
                                dtype=source["cyp2c9"].dtype)
    return frame


def check(posterior: Any, n: int) -> None:
    """A fast but broken attack cannot pass: shapes, finite probabilities, and the MAP
    VKORC1 genotype beats the records' majority rate (from 1,000 records on)."""
    from tabinv.models.encoding import encode_codes
    probabilities = posterior.probabilities
    assert probabilities.shape == (n, K), probabilities.shape
    assert np.isfinite(probabilities).all()
    if n >= 1_000:
        domain = card().column("vkorc1").domain
        truth = encode_codes(records(n)["vkorc1"], domain, "vkorc1")
        accuracy = float(np.mean(np.argmax(posterior.marginal("vkorc1"), axis=1) == truth))
        majority = float(np.bincount(truth, minlength=len(domain)).max() / n)
        assert accuracy > majority, (accuracy, majority)


def probe(name: str, path: str, n: int, rounds: int = 1,
          timeout: float = 3600) -> dict[str, Any]:
    """Measure one attack in a child process (the best of ``rounds`` timed calls);
    returns its JSON report. With ``TABINV_BENCH_INPROCESS=1`` (the untimed smoke run of
    tests/test_benchmark_smoke.py) it runs in this process instead: the same code, without
    a fresh interpreter and pipeline per case (the peak is then this process's)."""
    if os.environ.get("TABINV_BENCH_INPROCESS") == "1":
        return measure(name, path, n, rounds)
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.foreign", name, path, str(n), str(rounds)],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    if completed.returncode != 0:
        raise RuntimeError(f"benchmarks.foreign {name} {path} {n} failed:\n"
                           f"{completed.stdout}\n{completed.stderr}")
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def measure(name: str, path: str, n: int, rounds: int = 1) -> dict[str, Any]:
    """The work of :func:`probe`, in this process: its report."""
    size = int(n)
    report: dict[str, Any] = {"pipeline": name, "path": path, "n": size, "k": K}
    if path == "recognised" and not is_recognised(name):
        return {**report, "status": "not recognised"}
    model = target(name, path)
    fitted = attack(model)
    attacked = records(size)
    fitted.infer(attacked.iloc[:WARM_UP])
    gc.collect()
    reset = _reset_peak()
    baseline = _status_bytes("VmRSS") or 0
    load = os.getloadavg()
    times, posterior = [], None
    for _ in range(int(rounds)):
        posterior = None  # the previous round's result is not held during the next
        started = time.perf_counter()
        posterior = fitted.infer(attacked)
        times.append(time.perf_counter() - started)
    peak = _status_bytes("VmHWM") if reset else None
    if peak is None:  # no clear_refs: the process's lifetime peak (an upper bound)
        import resource
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    check(posterior, size)
    grid = fitted.grid_
    oracle = fitted.oracle_
    return {
        **report, "status": "measured", "model": type(model).__name__,
        "seconds": min(times), "rounds": times, "peak_bytes": peak, "baseline_bytes": baseline,
        "attack_bytes": peak - baseline, "peak_of": "attack" if reset else "process lifetime",
        "memory_budget": MEMORY, "query_row_bytes": grid.query_bytes(oracle),
        "chunk_records": grid.chunk_size(grid.point_width(oracle), MEMORY,
                                         fitted.reserved_bytes(size),
                                         grid.query_bytes(oracle)),
        "load_average_1min": load[0]}


if __name__ == "__main__":
    print(json.dumps(measure(*sys.argv[1:4], *sys.argv[4:5])))
