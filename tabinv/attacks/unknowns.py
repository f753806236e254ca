"""Features nobody gives the attacker: their support points and prior weights.

An unknown feature is summed out of the likelihood over support points weighted by
their priors: every category of a categorical feature (smoothed frequencies in the
reference sample or the model's published marginals), quantiles of a numeric one. Too
many combinations are summed over rows of the reference sample instead.
:class:`~tabinv.attacks.grid.CandidateGrid` patches these points into its rows.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import AttackError
from ..models.encoding import encode_codes
from ..models.target import TargetModel
from ..utils import RandomState, check_random_state

__all__ = ["UnknownFeatures", "unknown_support", "MAX_COMBINATIONS", "JOINT_SAMPLES"]


@dataclass(frozen=True)
class UnknownFeatures:
    """Features nobody gives the attacker, with support points and prior weights.

    ``values[j]`` are the support points of ``names[j]`` (categories, or quantiles of a
    numeric feature) and ``log_weights[j]`` their log prior probabilities; the unknowns
    are independent and summed over their Cartesian product. When ``joint`` is given
    instead, it lists the combinations themselves: (U, n_unknown) indices into
    ``values`` and their (U,) log weights (rows sampled from the reference sample).
    """

    names: tuple[str, ...] = ()
    values: tuple[tuple[Any, ...], ...] = ()
    log_weights: tuple[np.ndarray, ...] = ()
    joint: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def size(self) -> int:
        if self.joint is not None:
            return int(len(self.joint[0]))
        return int(np.prod([len(v) for v in self.values])) if self.names else 1

    def combos(self) -> tuple[np.ndarray, np.ndarray]:
        """(U, n_unknown) support indices of every combination and their (U,) log weight."""
        if not self.names:
            return np.zeros((1, 0), dtype=np.int64), np.zeros(1)
        if self.joint is not None:
            return self.joint
        index = np.array(list(itertools.product(*(range(len(v)) for v in self.values))),
                         dtype=np.int64)
        log_weight = np.zeros(len(index))
        for j, weights in enumerate(self.log_weights):
            log_weight += np.asarray(weights)[index[:, j]]
        return index, log_weight


#: above this many combinations of unknown values, unknowns are summed over rows of
#: the reference sample instead of their Cartesian product
MAX_COMBINATIONS = 4096
JOINT_SAMPLES = 256


def unknown_support(model: TargetModel, names: Sequence[str], reference: pd.DataFrame | None,
                    smoothing: float = 1.0, numeric_points: int = 10,
                    random_state: RandomState = 0) -> UnknownFeatures:
    """Support points and prior weights of the features the attacker does not know.

    Categorical: every category, weighted by its smoothed frequency in the reference
    sample (or, without one, in the model's published training marginals). Numeric:
    ``numeric_points`` quantiles of the reference sample, equally weighted. The unknowns
    are independent and summed over all their combinations; when there are more than
    ``MAX_COMBINATIONS`` (say an attacker who knows only covariates of a model on 2,000
    SNPs), they are summed instead over ``JOINT_SAMPLES`` rows drawn (seeded) from the
    reference sample: an empirical joint prior that also keeps their correlations
    (linkage disequilibrium between SNPs).
    """
    encoder = model.encoder_
    values: list[tuple[Any, ...]] = []
    weights: list[np.ndarray] = []
    for name in names:
        if encoder.is_categorical(name):
            domain = encoder.domain(name)
            if reference is not None and name in reference.columns:
                counts = np.bincount(encode_codes(reference[name], domain, name),
                                     minlength=len(domain))
            else:
                counts = model.marginals_[name]
            counts = counts + smoothing
            values.append(domain)
            with np.errstate(divide="ignore"):
                weights.append(np.log(counts / counts.sum()))
            continue
        if reference is None or name not in reference.columns:
            raise AttackError(
                f"unknown numeric feature {name!r} is summed out over quantiles of the "
                "reference sample; give a reference sample that has it"
            )
        points = (np.arange(numeric_points) + 0.5) / numeric_points
        values.append(tuple(np.quantile(reference[name].to_numpy(float), points)))
        weights.append(np.full(numeric_points, -np.log(numeric_points)))
    combinations = float(np.prod([float(len(v)) for v in values])) if values else 1.0
    if combinations <= MAX_COMBINATIONS:
        return UnknownFeatures(tuple(names), tuple(values), tuple(weights))
    return _joint_support(model, names, reference, random_state)


def _joint_support(model: TargetModel, names: Sequence[str], reference: pd.DataFrame | None,
                   random_state: RandomState) -> UnknownFeatures:
    if reference is None or any(n not in reference.columns for n in names):
        raise AttackError(
            f"{len(names)} unknown features have too many value combinations to sum over; "
            "they are summed over rows of the reference sample, so give one that has "
            "every unknown column"
        )
    rng = check_random_state(random_state)
    size = min(JOINT_SAMPLES, len(reference))
    rows = reference.iloc[np.sort(rng.choice(len(reference), size=size, replace=False))]
    encoder = model.encoder_
    values: list[tuple[Any, ...]] = []
    index = np.empty((size, len(names)), dtype=np.int64)
    for j, name in enumerate(names):
        if encoder.is_categorical(name):
            values.append(encoder.domain(name))
            index[:, j] = encode_codes(rows[name], encoder.domain(name), name)
        else:
            values.append(tuple(rows[name].to_numpy(float)))
            index[:, j] = np.arange(size)
    uniform = np.full(size, -np.log(size))
    return UnknownFeatures(tuple(names), tuple(values), (), (index, uniform))
