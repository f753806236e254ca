"""The benchmark suites still run: every benchmark once, on tiny inputs, untimed.

Item 7 of issue 12: the smallest sizes and one round (the batch benchmarks: one entry),
the scripts in this process; the subprocess timeout only guards against a hang, far
above a normal run, so that a busy machine cannot fail these tests.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
HANG_GUARD = 900  # seconds: a hang, never a speed limit


def test_benchmarks_pass_on_tiny_inputs() -> None:
    """Every benchmark once, except the batch run on a Dask LocalCluster: starting one
    costs more than the rest together, and tests/batch/test_dask.py runs the same
    executor on a real cluster."""
    # one OpenMP thread: on the suite's busy cores HistGradientBoosting's spinning
    # threads made the hgb case 3x slower (untimed here, so nothing is measured wrong)
    # the foreign-model probes in this process (benchmarks/foreign.py): a fresh
    # interpreter and pipeline per case cost half of this test, and measure nothing here
    environment = {**os.environ, "TABINV_BENCH_SIZES": "500", "OMP_NUM_THREADS": "1",
                   "TABINV_BENCH_INPROCESS": "1"}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks", "--benchmark-disable",
         "-p", "no:cacheprovider", "-p", "no:hypothesispytest", "-q", "-k", "not dask"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=HANG_GUARD,
        check=False,
    )
    report = completed.stdout + completed.stderr
    assert completed.returncode == 0, report
    assert re.search(r"\b\d+ passed\b", report), report


def script(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    """``benchmarks.NAME``, imported in this process (no interpreter to start: what
    ``python -m benchmarks.NAME ARGS`` runs is ``main(ARGS)``)."""
    monkeypatch.syspath_prepend(str(ROOT))
    return importlib.import_module(f"benchmarks.{name}")


def test_profile_script_prints_a_table(monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    script("profiles", monkeypatch).main(["linear:map:300", "tree:whitebox:300"])
    printed = capsys.readouterr().out
    assert printed.count("| tottime s |") == 2, printed
    assert "tree whitebox, N=300, K=18" in printed


def test_spot_script_prints_rows_and_growth(monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    script("spot", monkeypatch).main(["tree:map:3", "--rounds", "1", "--sizes", "200,400"])
    printed = capsys.readouterr().out
    assert printed.count("| tree | map | 3 |") == 2, printed
    assert "growth 200 -> 400:" in printed


def test_meta_accuracy_script_reports_both_label_sources(monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    report = script("meta_accuracy", monkeypatch).summary(1)
    assert [run["seed"] for run in report["runs"]] == [0]
    for source in ("true", "predicted"):
        mean = report["mean"][source]
        assert 0.4 < mean["members"] <= 1 and 0.4 < mean["non_members"] <= 1, report
        assert mean["cv_log_loss"] > 0
        assert report["runs"][0][source]["hyperparameters"]["max_iter"] == 25


def test_membership_benchmark_scores_a_tiny_case(monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 18: the membership suite imports, and one scoring case runs in this process
    (LiRA offline on the IWPC tree world: 200 reference records, 4 shadows, 50 scored
    records); ``test_benchmarks_pass_on_tiny_inputs`` runs every case."""
    bench = script("test_membership", monkeypatch)
    target, reference = bench.build_world("iwpc-tree", smoke=True)
    lira = bench.fit_attacks(target, reference, n_shadows=4, names=("lira-offline",))
    assert list(lira) == ["lira-offline"]
    scores = lira["lira-offline"].score_answers(*bench.answers_for(50, lira))
    assert scores.shape == (50,) and bool(np.isfinite(scores).all())


def test_membership_table_script_writes_one_row_per_attack(monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    """Issue 18's table (``benchmarks/membership_table.py``): each membership attack a row
    beside its model's attribute leakage, a TPR below what the non-members resolve marked,
    on results shaped as ``run_case`` gives them (running a case takes seconds)."""
    table = script("membership_table", monkeypatch)

    def estimate(value: float) -> dict[str, float]:
        return {"value": value, "low": value - 0.01, "high": value + 0.01}

    def row(attack: str, smallest: float) -> dict[str, object]:
        return {"attack": attack, "auc": estimate(0.6), "tpr_0.001": estimate(0.02),
                "tpr_0.01": estimate(0.05), "smallest_fpr": smallest, "rating": "leaks"}

    case = {"model": "M", "attribute": "vkorc1", "seconds": 1.0,
            "attribute_leakage": {"leakage": estimate(0.04), "over": "imputation",
                                  "method": "map", "rating": "leaks"},
            "membership": [row("loss", 0.001), row("gap", 0.01)]}
    lines = table.markdown([case]).splitlines()
    assert len(lines) == 4, lines
    assert lines[2].startswith("| M | vkorc1 +0.040 [+0.030, +0.050] over imputation (map)")
    assert "| loss | 0.600 [0.590, 0.610] | 2.0% [1.0, 3.0] | 5.0% [4.0, 6.0] | leaks |" \
        in lines[2]
    assert lines[3].startswith("|  |  | gap |") and "not resolvable" in lines[3]
