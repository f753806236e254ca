"""Paired comparisons: one method's accuracy minus another's (or the best of several) on
the same records, with bootstrap intervals that keep the pairing.

Inputs are per-record correctness flags (booleans or 0/1). Both functions draw the joint
correctness cells from a multinomial (``intervals.bootstrap_cell_counts``), which has the
same distribution as resampling records, in O(n_boot * 2^methods) memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ..exceptions import DataError
from ..utils import RandomState
from .estimate import Estimate
from .inputs import as_flags
from .intervals import bootstrap_cell_counts, percentile_interval

__all__ = ["paired_accuracy_difference", "paired_gain_over_best"]


def paired_accuracy_difference(
    correct_a: Any,
    correct_b: Any,
    n_boot: int = 1000,
    random_state: RandomState = 0,
    *,
    confidence: float = 0.95,
) -> Estimate:
    """Accuracy of A minus accuracy of B on the same records, paired bootstrap interval.

    Records are resampled together, so the interval accounts for the correlation between
    the two methods (Jayaraman and Evans, CCS 2022). Leakage, over the best of several
    baselines, is :func:`paired_gain_over_best`.

    Parameters
    ----------
    correct_a, correct_b : array-like of bool (or 0/1), shape (n,)
        Whether method A (resp. B) recovered each record's value.
    n_boot, random_state, confidence
        Bootstrap replicates, their seed, and the coverage of the percentile interval.

    Returns
    -------
    Estimate
        ``mean(correct_a) - mean(correct_b)``; ``is_above(0.0)`` says A beats B.

    Examples
    --------
    >>> paired_accuracy_difference([1, 1, 1, 0], [1, 0, 0, 0]).value
    0.5
    """
    flags_a, flags_b = as_flags(correct_a, "correct_a"), as_flags(correct_b, "correct_b")
    if flags_a.shape != flags_b.shape:
        raise DataError(
            "correct_a and correct_b must describe the same records, received lengths "
            f"{flags_a.size} and {flags_b.size}"
        )
    cells = np.bincount(2 * flags_a + flags_b, minlength=4)  # (a, b) = 00, 01, 10, 11
    replicates = bootstrap_cell_counts(cells, n_boot, random_state)
    differences = (replicates[:, 2] - replicates[:, 1]) / flags_a.size
    return percentile_interval((cells[2] - cells[1]) / flags_a.size, differences, confidence)


#: baselines one gain is measured over at most (2^(1 + B) joint-correctness cells)
MAX_PAIRED_BASELINES = 16


def paired_gain_over_best(
    correct_attack: Any,
    baselines: Mapping[str, Any],
    n_boot: int = 1000,
    random_state: RandomState = 0,
    *,
    confidence: float = 0.95,
) -> tuple[Estimate, str]:
    """Accuracy of an attack minus that of the best of several baselines, same records.

    The best baseline is the one with the highest accuracy (the first named on a tie).
    In each bootstrap replicate the maximum over the baselines is taken again, so the
    interval accounts for the choice of the best baseline as well as for the
    correlation of the methods on the same records: the records' joint correctness
    (attack, each baseline) falls into ``2^(1 + B)`` cells whose counts are drawn from a
    multinomial, the same distribution as resampling records.

    Parameters
    ----------
    correct_attack : array-like of bool (or 0/1), shape (n,)
        Whether the attack recovered each record's value.
    baselines : mapping of str to array-like of bool, each shape (n,)
        Baseline name -> whether it recovered each record's value (1 to 16 baselines).
    n_boot, random_state, confidence
        Bootstrap replicates, their seed, and the coverage of the percentile interval.

    Returns
    -------
    (Estimate, str)
        ``mean(correct_attack) - max_j mean(baselines[j])`` with its interval, and the
        name of the best baseline.

    Examples
    --------
    >>> gain, best = paired_gain_over_best([1, 1, 1, 0], {"a": [1, 0, 0, 0],
    ...                                                   "b": [1, 1, 0, 0]})
    >>> gain.value, best
    (0.25, 'b')
    """
    flags = as_flags(correct_attack, "correct_attack")
    names = list(baselines)
    if not 1 <= len(names) <= MAX_PAIRED_BASELINES:
        raise DataError(f"baselines must name 1 to {MAX_PAIRED_BASELINES} baselines, "
                        f"received {len(names)}")
    columns = [flags]
    for name in names:
        column = as_flags(baselines[name], f"baselines[{name!r}]")
        if column.shape != flags.shape:
            raise DataError(f"baseline {name!r} must describe the attack's {flags.size} "
                            f"records, received {column.size}")
        columns.append(column)
    # cell of a record: bit 0 the attack, bit j the j-th baseline
    bits = np.stack(columns, axis=1).astype(np.int64)
    weights = 1 << np.arange(bits.shape[1], dtype=np.int64)
    cells = np.bincount(bits @ weights, minlength=1 << bits.shape[1])
    # which methods are right in each cell: (cells, 1 + B)
    right = (np.arange(cells.size)[:, None] >> np.arange(bits.shape[1])) & 1
    hits = cells @ right
    best = int(np.argmax(hits[1:]))
    replicates = bootstrap_cell_counts(cells, n_boot, random_state) @ right
    gains = (replicates[:, 0] - replicates[:, 1:].max(axis=1)) / flags.size
    point = (hits[0] - hits[1 + best]) / flags.size
    return percentile_interval(float(point), gains, confidence), names[best]
