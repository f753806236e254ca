"""Throughput of MAP inversion (``MAPInversion.infer``) on synthetic IWPC-like records.

Cases: N attacked records (``TABINV_BENCH_SIZES``, default 10^4, 10^5, 10^6) times
K joint candidates: K = 3 (VKORC1 hidden, every other feature known) and K = 18
(VKORC1 and CYP2C9 jointly hidden). The target is a linear model on sqrt dose trained
once on 5,000 synthetic rows; the attacker's marginal prior comes from another 5,000.
Only ``infer`` is timed; fitting the attack and drawing the records happen outside.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from tabinv.attacks.candidates import Posterior
from tabinv.attacks.map import MAPInversion
from tabinv.models.encoding import encode_codes
from tabinv.models.oracle import Oracle

HIDDEN = {"K=3": ("vkorc1",), "K=18": ("vkorc1", "cyp2c9")}


def rounds_for(n_records: int) -> int:
    """Fewer timed rounds for larger N, so the whole suite takes a minute or two."""
    if n_records <= 10_000:
        return 20
    if n_records <= 100_000:
        return 10
    return 5


def fitted_attack(oracle: Oracle, reference: pd.DataFrame,
                  sensitive: Sequence[str]) -> MAPInversion:
    known = [f for f in oracle.model.features if f not in sensitive]
    attack = MAPInversion(prior="marginal")
    attack.fit(oracle, sensitive=list(sensitive), known=known, reference=reference)
    return attack


def vkorc1_accuracy(posterior: Posterior, records: pd.DataFrame) -> tuple[float, float]:
    """Accuracy of the MAP VKORC1 genotype, and the majority rate of the records."""
    domain = posterior.candidates.domains[posterior.candidates.names.index("vkorc1")]
    truth = encode_codes(records["vkorc1"], domain, "vkorc1")
    accuracy = float(np.mean(np.argmax(posterior.marginal("vkorc1"), axis=1) == truth))
    majority = float(np.bincount(truth, minlength=len(domain)).max() / len(truth))
    return accuracy, majority


@pytest.mark.parametrize("hidden", list(HIDDEN), ids=list(HIDDEN))
def test_map_infer(benchmark: BenchmarkFixture, oracle: Oracle,
                   reference: pd.DataFrame, records: pd.DataFrame, n_records: int,
                   hidden: str) -> None:
    attack = fitted_attack(oracle, reference, HIDDEN[hidden])
    k = attack.candidates_.size
    benchmark.group = f"map-infer K={k}"
    benchmark.extra_info.update({"n_records": n_records, "k": k,
                                 "sensitive": list(attack.sensitive_)})
    posterior = benchmark.pedantic(attack.infer, args=(records,),
                                   rounds=rounds_for(n_records), iterations=1,
                                   warmup_rounds=1)

    assert posterior.probabilities.shape == (n_records, k)
    if benchmark.stats is not None:  # None under --benchmark-disable
        mean_seconds = benchmark.stats.stats.mean
        benchmark.extra_info["mean_seconds"] = mean_seconds
        benchmark.extra_info["records_per_second"] = n_records / mean_seconds
    accuracy, majority = vkorc1_accuracy(posterior, records)
    benchmark.extra_info["vkorc1_accuracy"] = accuracy
    assert accuracy > majority, f"VKORC1 accuracy {accuracy:.3f} <= majority {majority:.3f}"
