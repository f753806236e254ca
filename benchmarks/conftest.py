"""Shared fixtures of the benchmark suites: one synthetic target model and its attacker.

Everything here runs outside the timed functions. Sizes of the attacked record sets
come from ``TABINV_BENCH_SIZES`` (comma-separated row counts, e.g. ``"1000"``), so a
smoke run is cheap; the default is 10^4, 10^5 and 10^6.
"""

from __future__ import annotations

import os

import pandas as pd
import pytest

from tabinv.data.registry import builtin_card
from tabinv.data.schema import Card
from tabinv.data.synthetic import synthetic_iwpc
from tabinv.models.families import make_model
from tabinv.models.oracle import Oracle

SIZES_VARIABLE = "TABINV_BENCH_SIZES"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
N_TRAIN = 5_000
N_REFERENCE = 5_000
#: different seeds, so members, reference and attacked records are disjoint draws
TRAIN_SEED, REFERENCE_SEED, RECORDS_SEED = 1, 2, 3


def bench_sizes() -> tuple[int, ...]:
    """Row counts of the attacked record sets, from ``TABINV_BENCH_SIZES`` or the default."""
    raw = os.environ.get(SIZES_VARIABLE, "").strip()
    if not raw:
        return DEFAULT_SIZES
    try:
        sizes = tuple(int(part) for part in raw.split(",") if part.strip())
    except ValueError:
        raise pytest.UsageError(
            f"{SIZES_VARIABLE}={raw!r} must be comma-separated row counts, e.g. '1000,10000'"
        ) from None
    if not sizes or min(sizes) < 1:
        raise pytest.UsageError(f"{SIZES_VARIABLE}={raw!r} must list positive row counts")
    return sizes


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrise every benchmark taking ``n_records`` over the configured sizes."""
    if "n_records" in metafunc.fixturenames:
        sizes = bench_sizes()
        metafunc.parametrize("n_records", sizes, ids=[f"N={n:_}" for n in sizes],
                             scope="module")


@pytest.fixture(scope="session")
def card() -> Card:
    return builtin_card("iwpc")


@pytest.fixture(scope="session")
def oracle(card: Card) -> Oracle:
    """Output access to a linear model (sqrt dose) trained once on synthetic members."""
    members = synthetic_iwpc(N_TRAIN, random_state=TRAIN_SEED)
    return Oracle.for_model(make_model("linear", card, random_state=0).fit(members))


@pytest.fixture(scope="session")
def reference() -> pd.DataFrame:
    """The attacker's own sample of the population (priors)."""
    return synthetic_iwpc(N_REFERENCE, random_state=REFERENCE_SEED)


@pytest.fixture(scope="module")
def records(n_records: int) -> pd.DataFrame:
    """The attacked records (every column, so the truth is at hand for the sanity check)."""
    return synthetic_iwpc(n_records, random_state=RECORDS_SEED)
