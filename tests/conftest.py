"""Shared fixtures: the real IWPC cohort (loaded once) and small trained models; and
the order tests are handed to the xdist workers in."""

from __future__ import annotations

import pytest

from tabinv.data.registry import load_builtin
from tabinv.data.splits import Splits, split_dataset


@pytest.fixture(scope="session")
def iwpc():
    return load_builtin("iwpc")


@pytest.fixture(scope="session")
def iwpc_splits(iwpc) -> Splits:
    return split_dataset(iwpc.frame, random_state=0)


#: files that take longest (seconds of one worker, measured with --durations), started
#: first: with ``--dist loadfile`` a long file handed out last keeps one worker busy
#: while the other waits. Only the order changes; every test runs as before.
LONGEST_FIRST = (
    "tests/test_benchmark_smoke.py",
    "tests/batch/test_batch_endpoint.py",
    "tests/hostile/test_procs.py",
    "tests/endpoint/test_servers.py",
    "tests/test_no_leftover_processes.py",
    "tests/batch/test_dask.py",
    "tests/batch/test_runner.py",
    "tests/batch/test_inventory_foreign.py",
    "tests/lessons/test_lesson_05.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {path: index for index, path in enumerate(LONGEST_FIRST)}

    def key(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return rank.get(path, len(rank))

    items.sort(key=key)  # stable: the order within a file and among the rest is kept
