"""Shared fixtures: the real IWPC cohort (loaded once) and small trained models."""

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
