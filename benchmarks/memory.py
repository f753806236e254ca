"""The benchmark world (models of every family, K = 3 / 18 / 27) and a peak-memory probe.

World: the IWPC card plus two synthetic SNPs ``snp_a`` and ``snp_b`` (dosages 0/1/2,
Hardy-Weinberg with allele frequencies 0.3 and 0.4) and a synthetic 5-level
``haplotype``, each shifting sqrt dose a little so that models use them. Candidate sets:

- K=3:  ``vkorc1``
- K=18: ``vkorc1`` x ``cyp2c9`` (3 x 6)
- K=27: ``vkorc1`` x ``snp_a`` x ``snp_b`` (3 x 3 x 3: "three SNPs")

Families: ``linear`` (regression on sqrt dose, output access), and classifiers of the
IWPC dose class (low / medium / high, confidence access): ``logistic``, ``tree``
(depth 12), ``forest`` (100 trees, depth 12), ``xgboost`` (100 rounds, depth 4).
Models train on 5,000 synthetic members (seed 1); the attacker's reference sample is
5,000 more (seed 2); attacked records are seed 3.

Run as a script, it measures one case in a fresh process and prints JSON::

    python -m benchmarks.memory FAMILY ATTACK K N

The child resets the kernel's peak-RSS mark just before ``infer`` (``/proc/self/clear_refs``)
and reads ``VmHWM`` after it: the peak resident memory while the attack ran, including
what the process already held (imports, model, the records); ``VmRSS`` just before is
the baseline, so the attack's own peak is the difference. Without ``clear_refs`` (not
Linux) the lifetime ``ru_maxrss`` is reported instead, an upper bound.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FAMILIES = ("linear", "logistic", "tree", "forest", "xgboost")
TREE_FAMILIES = ("tree", "forest", "xgboost")
SENSITIVE = {3: ("vkorc1",), 18: ("vkorc1", "cyp2c9"), 27: ("vkorc1", "snp_a", "snp_b")}
PARAMS: dict[str, dict[str, Any]] = {"tree": {"max_depth": 12}, "forest": {},
                                     "xgboost": {}, "linear": {}, "logistic": {}}
SNPS = {"snp_a": (0.3, 0.15), "snp_b": (0.4, -0.1)}  # allele frequency, effect on sqrt dose
#: a 5-level haplotype (frequencies, effect of each level on sqrt dose): the K = 5
#: sensitive attribute of the peer comparison
HAPLOTYPE = ((0.35, 0.25, 0.2, 0.12, 0.08), (0.0, 0.1, -0.1, 0.2, -0.2))


def with_snps(frame: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Add the synthetic SNP columns (and their effect on the dose) to IWPC-like records."""
    rng = np.random.default_rng(seed + 10_000)
    frame = frame.copy()
    root = np.sqrt(frame["dose"].to_numpy(float))
    for name, (p, effect) in SNPS.items():
        dosage = rng.binomial(2, p, len(frame))
        frame[name] = dosage
        root = root + effect * dosage
    frequencies, effects = HAPLOTYPE
    haplotype = rng.choice(len(frequencies), size=len(frame), p=frequencies)
    frame["haplotype"] = haplotype
    root = root + np.asarray(effects)[haplotype]
    frame["dose"] = np.square(np.clip(root, 0.5, 20.0))
    return frame


@functools.cache
def card(task: str) -> Any:
    from tabinv.data.registry import builtin_card
    from tabinv.data.schema import card_from_dict
    raw = builtin_card("iwpc").to_dict()
    # haplotype first: ART cannot attack the last column (its attack_feature must index
    # a column of the records without it)
    raw["features"] = ["haplotype", *raw["features"], *SNPS]
    for name in SNPS:
        raw["columns"][name] = {"kind": "categorical", "domain": [0, 1, 2],
                                "description": "synthetic SNP dosage"}
    raw["columns"]["haplotype"] = {"kind": "categorical",
                                   "domain": list(range(len(HAPLOTYPE[0]))),
                                   "description": "synthetic 5-level haplotype"}
    result = card_from_dict(raw, "benchmark card")
    return result if task == "regression" else result.with_label("dose_class")


@functools.cache
def records(n: int, seed: int = 3) -> pd.DataFrame:
    from tabinv.data.synthetic import synthetic_iwpc
    return with_snps(synthetic_iwpc(n, random_state=seed), seed)


@functools.cache
def model(family: str, categorical: str = "onehot") -> Any:
    from tabinv.models.families import make_model
    task = "regression" if family == "linear" else "classification"
    return make_model(family, card(task), random_state=0, categorical=categorical,
                      **PARAMS[family]).fit(records(5_000, 1))


def attack(family: str, kind: str, k: int) -> Any:
    """A fitted tabinv attack: ``map`` (the black-box MAP / confidence attack as it runs
    by default: linear and logistic models answer from their coefficients, tree
    ensembles from one compiled walk), ``queries`` (the same attack with
    ``shortcuts=False``: the model is queried on every grid row) or ``whitebox`` (the
    white-box tree attack; tree families)."""
    from tabinv.attacks.map import MAPInversion
    from tabinv.attacks.whitebox import WhiteBoxTreeInversion
    from tabinv.models.oracle import Oracle
    target = model(family)
    sensitive = SENSITIVE[k]
    known = [f for f in target.features if f not in sensitive]
    white = kind == "whitebox"
    cls = WhiteBoxTreeInversion if white else MAPInversion
    oracle = Oracle.for_model(target, "white-box" if white else "confidences")
    if kind == "queries":
        oracle = Oracle(target, oracle.answers, white_box=oracle.white_box, shortcuts=False)
    return cls().fit(oracle, sensitive=sensitive, known=known,
                     reference=records(5_000, 2))


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    import numpy
    import sklearn
    import xgboost
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "platform": platform.platform(),
            "python": platform.python_version(), "numpy": numpy.__version__,
            "scikit-learn": sklearn.__version__, "xgboost": xgboost.__version__,
            "pandas": pd.__version__,
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
                                / 2**30, 1)}


def probe(family: str, kind: str, k: int, n: int, timeout: float = 900) -> dict[str, Any]:
    """Measure one case in a child process; returns its JSON report."""
    completed = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", family, kind, str(k), str(n)],
        cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=True)
    return dict(json.loads(completed.stdout.strip().splitlines()[-1]))


def _status_bytes(field: str) -> int | None:
    """A ``/proc/self/status`` memory field (VmRSS, VmHWM) in bytes, if readable."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    """Reset the kernel's peak-RSS mark (Linux ``clear_refs`` 5), so that the peak read
    afterwards is the attack's, not that of generating the records."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _main(family: str, kind: str, k: str, n: str) -> None:
    import gc
    fitted = attack(family, kind, int(k))
    attacked = records(int(n))
    gc.collect()
    reset = _reset_peak()
    baseline = _status_bytes("VmRSS") or 0
    start = time.perf_counter()
    fitted.infer(attacked)
    seconds = time.perf_counter() - start
    peak = _status_bytes("VmHWM") if reset else None
    if peak is None:  # no clear_refs: the process's lifetime peak (an upper bound)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"family": family, "attack": kind, "k": int(k), "n": int(n),
                      "seconds": seconds, "peak_bytes": peak, "baseline_bytes": baseline,
                      "attack_bytes": peak - baseline, "peak_of": "attack" if reset
                      else "process lifetime"}))


if __name__ == "__main__":
    _main(*sys.argv[1:5])
