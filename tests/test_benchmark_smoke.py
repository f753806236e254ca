"""The benchmark suites still run: every benchmark once, on tiny inputs, untimed.

Item 7 of issue 12: the smallest sizes and one round (the batch benchmarks: one entry);
the subprocess timeouts only guard against a hang, far above a normal run, so that a
busy machine cannot fail these tests.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HANG_GUARD = 900  # seconds: a hang, never a speed limit


def test_benchmarks_pass_on_tiny_inputs() -> None:
    environment = {**os.environ, "TABINV_BENCH_SIZES": "500"}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "benchmarks", "--benchmark-disable",
         "-p", "no:cacheprovider", "-q"],
        cwd=ROOT, env=environment, capture_output=True, text=True, timeout=HANG_GUARD,
        check=False,
    )
    report = completed.stdout + completed.stderr
    assert completed.returncode == 0, report
    assert re.search(r"\b\d+ passed\b", report), report


def test_profile_script_prints_a_table() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.profiles", "linear:map:300", "tree:whitebox:300"],
        cwd=ROOT, capture_output=True, text=True, timeout=HANG_GUARD, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.count("| tottime s |") == 2, completed.stdout
    assert "tree whitebox, N=300, K=18" in completed.stdout


def test_spot_script_prints_rows_and_growth() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.spot", "tree:map:3", "--rounds", "1",
         "--sizes", "200,400"],
        cwd=ROOT, capture_output=True, text=True, timeout=HANG_GUARD, check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.count("| tree | map | 3 |") == 2, completed.stdout
    assert "growth 200 -> 400:" in completed.stdout
