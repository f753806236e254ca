"""Choosing the strongest of several attacks without overfitting the evaluated records.

Picking the attack with the highest accuracy on the records it is then scored on
overstates what an attacker would get: among several attacks of equal strength, the one
that was luckiest on these records wins. Cross-fitting removes that bias. The records are
split into ``folds`` seeded parts; for each part, the attack most accurate on the *other*
parts is chosen, and its per-record correctness on this part is kept. The kept flags
describe an attack chosen on data it is not scored on, record by record, so their
accuracy (and its gain over a baseline, :func:`~tabinv.evaluation.paired.
paired_gain_over_best`) is free of the selection bias. When one attack is clearly the
strongest, every part chooses it and the flags are its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..exceptions import DataError
from ..utils import RandomState, check_random_state
from .inputs import as_flags

__all__ = ["CrossFitted", "DEFAULT_FOLDS", "cross_fitted_choice"]

#: parts the records are split into to choose the strongest attack
DEFAULT_FOLDS = 5


@dataclass(frozen=True)
class CrossFitted:
    """The strongest attack chosen out of fold.

    ``correct`` holds, per record, whether the attack chosen on the other folds was right;
    ``chosen`` counts the folds that chose each attack (in the order given, only those
    chosen at least once); ``favourite`` is the attack chosen by the most folds (the
    first given on a tie); ``considered`` lists every attack compared.
    """

    correct: np.ndarray = field(repr=False, compare=False)
    chosen: Mapping[str, int]
    favourite: str
    considered: tuple[str, ...]
    folds: int

    @property
    def accuracy(self) -> float:
        return float(self.correct.mean())

    def describe(self) -> dict[str, Any]:
        """The selection as plain data: procedure, folds, choices, attacks compared."""
        return {"procedure": "cross-fitted", "folds": self.folds,
                "chosen": dict(self.chosen), "considered": list(self.considered)}


def cross_fitted_choice(correct: Mapping[str, Any], folds: int = DEFAULT_FOLDS,
                        random_state: RandomState = 0) -> CrossFitted:
    """Per-record correctness of the strongest attack, each part chosen on the others.

    Parameters
    ----------
    correct : mapping of str to array-like of bool (or 0/1), each shape (n,)
        Attack name -> whether it recovered each record's value (at least one attack).
    folds : int
        Parts the records are split into (at least 2; at most ``n`` are used). With one
        attack, or a single record, there is nothing to choose and no split.
    random_state : None, int or numpy.random.Generator
        Seed of the split into parts.

    Returns
    -------
    CrossFitted

    Examples
    --------
    >>> choice = cross_fitted_choice({"a": [1, 1, 1, 1, 0, 0], "b": [0, 0, 0, 0, 1, 1]},
    ...                              folds=2)
    >>> choice.favourite, choice.chosen
    ('a', {'a': 2})
    """
    names = list(correct)
    if not names:
        raise DataError("choosing the strongest attack needs at least one attack")
    if isinstance(folds, bool) or not isinstance(folds, (int, np.integer)) or folds < 2:
        raise DataError(f"folds must be an integer of at least 2, received {folds!r}")
    columns = [as_flags(correct[name], f"correct[{name!r}]") for name in names]
    if len({column.size for column in columns}) > 1:
        raise DataError("every attack's correctness must describe the same records, "
                        f"received lengths {[column.size for column in columns]}")
    flags = np.stack(columns)
    n = flags.shape[1]
    if len(names) == 1 or n < 2:
        best = int(np.argmax(flags.sum(axis=1)))
        return CrossFitted(flags[best].copy(), {names[best]: 1}, names[best],
                           tuple(names), 1)
    parts = min(int(folds), n)
    # a seeded assignment of records to parts of (almost) equal size
    part = np.empty(n, dtype=np.int64)
    part[check_random_state(random_state).permutation(n)] = np.arange(n) % parts
    # hits[a, f]: records of part f attack a got right
    hits = np.stack([np.bincount(part, weights=row, minlength=parts) for row in flags])
    outside = hits.sum(axis=1, keepdims=True) - hits  # right on the other parts
    choice = np.argmax(outside, axis=0)  # first attack on a tie
    kept = flags[choice[part], np.arange(n)]
    votes = np.bincount(choice, minlength=len(names))
    chosen = {names[a]: int(votes[a]) for a in range(len(names)) if votes[a]}
    return CrossFitted(kept, chosen, names[int(np.argmax(votes))], tuple(names), parts)
