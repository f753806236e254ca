"""Attack accuracy: tabinv's strongest attack against IBM ART's, same models and records.

Run with ``make bench-peers`` (needs the ``peers`` extra); skipped when ART is missing.
Cases (``accuracy.CASES``): IWPC depth-8 decision tree of ``dose_class`` attacked for
``vkorc1`` (K = 3); GSS decision tree and GSS random forest of ``abany`` attacked for
``partyid`` (K = 8). Each is attacked with the true label and with the model's predicted
label, on the members and on the non-members: 12 cells. In each cell both sides'
strongest attack is chosen out of fold (five folds, seeded) and tabinv's minus ART's
accuracy gets a paired bootstrap interval (2,000 replicates, seeded); see
``accuracy.py`` for what each side runs and what counts as an attack.

Target: the difference is above zero (interval above zero) in every cell where an
attack beats the best model-free baseline, and never below zero (interval not entirely
below zero). The second part is asserted; the first is reported in
``benchmarks/results/peers-accuracy.{json,md}``. About 2 minutes of CPU (5 to 6 minutes
wall on 2 busy shared cores).
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

from .. import memory
from ..conftest import bench_sizes
from . import accuracy, accuracy_report

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    pytest.importorskip("art.attacks.inference.attribute_inference")

RESULTS = Path(__file__).resolve().parents[1] / "results"
#: below this TABINV_BENCH_SIZES (the smoke run: 500) only that many records of each
#: population are attacked, ART's attack models are random forests only, and nothing
#: is written
FULL_RUN = 10_000
_rows: dict[str, list[dict[str, Any]]] = {}
_seconds: dict[str, float] = {}


@pytest.mark.parametrize("case", accuracy.CASES, ids=[c.name for c in accuracy.CASES])
def test_tabinv_never_below_art(case: accuracy.Case) -> None:
    started = time.perf_counter()
    with warnings.catch_warnings():
        # tabinv warns when an attack does no better than its baseline; ART and
        # scikit-learn warn about their own settings: none of it is a failure here
        warnings.simplefilter("ignore")
        rows = accuracy.run_case(case, limit=_limit(),
                                 kinds=None if _limit() is None else ("rf",))
    _seconds[case.name] = time.perf_counter() - started
    _rows[case.name] = rows
    if _limit() is None:
        _save()
    below = [f"{r['label_source']} label, {r['population']}: {_difference(r)}"
             for r in rows if not r["never_below"]]
    assert not below, f"{case.name}: tabinv's strongest attack below ART's in " + \
        "; ".join(below)


def _limit() -> int | None:
    smallest = min(bench_sizes())
    return None if smallest >= FULL_RUN else smallest


def _difference(row: dict[str, Any]) -> str:
    d = row["difference"]
    return f"{d['value']:+.3f} [{d['low']:+.3f}, {d['high']:+.3f}]"


def _save() -> None:
    rows = [row for case in accuracy.CASES for row in _rows.get(case.name, [])]
    RESULTS.mkdir(exist_ok=True)
    report = {"machine": memory.machine(), "seed": accuracy.SEED,
              "n_boot": accuracy.N_BOOT, "art_model_types": list(accuracy.art_model_types()),
              "seconds": {k: round(v, 1) for k, v in _seconds.items()},
              "complete": len(_rows) == len(accuracy.CASES),
              "target": accuracy_report.TARGET, "summary": accuracy_report.summary(rows),
              "cells": rows}
    (RESULTS / "peers-accuracy.json").write_text(json.dumps(report, indent=1))
    (RESULTS / "peers-accuracy.md").write_text(accuracy_report.markdown(report))
