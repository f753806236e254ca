"""Small shared helpers (random state handling)."""

from __future__ import annotations

from typing import TypeAlias

import numpy as np

from .exceptions import TabinvError

__all__ = ["check_random_state", "RandomState"]

RandomState: TypeAlias = int | np.random.Generator | None


def check_random_state(random_state: RandomState) -> np.random.Generator:
    """Turn ``None``, an int seed or a Generator into a Generator (never the global RNG)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return np.random.default_rng(random_state)
    raise TabinvError(
        f"random_state must be None, an int or a numpy Generator, not {type(random_state).__name__}"
    )


def seed_from(random_state: RandomState) -> int:
    """An int seed for libraries that take one (scikit-learn, xgboost)."""
    return int(check_random_state(random_state).integers(0, 2**31 - 1))
