"""Small-cell suppression of the per-value and confusion tables.

A per-value row or a confusion cell counting 1 to 4 training members says something
about those few people (small-cell disclosure). Counts of at least 1 and fewer than
``min_cell`` records are withheld: the count becomes None (``null`` in JSON, ``<N`` in
the reports) and a per-value row that lost a count is marked ``"suppressed": True``. A
precision or recall whose numerator (records of the value inferred as it) or denominator
(records inferred as the value, records holding it) is such a count is withheld too,
since it would give the count back. ``min_cell = 0`` withholds nothing. Zero counts are
kept: they say that nobody is in the cell.

This is primary suppression only. The summary metrics (accuracy, AUC ...) are computed
on every record and kept, as are the counts at or above ``min_cell``; a withheld cell
can still follow from them by subtraction (for instance the only withheld cell of a
confusion row, from the row's total). Withholding enough other cells to prevent that
(secondary suppression) is not done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["DEFAULT_MIN_CELL", "is_small", "suppress_confusion", "suppress_rows"]

#: records below which a count is withheld by default (``--min-cell``, ``min_cell``)
DEFAULT_MIN_CELL = 10


def is_small(count: int, min_cell: int) -> bool:
    """True for a count of at least 1 and fewer than ``min_cell`` records.

    >>> [is_small(c, 10) for c in (0, 1, 9, 10)], is_small(3, 0)
    ([False, True, True, False], False)
    """
    return 0 < count < min_cell


def suppress_rows(rows: Sequence[Mapping[str, Any]], hits: Sequence[int], min_cell: int
                  ) -> tuple[dict[str, Any], ...]:
    """Per-value rows (``support``, ``predicted``, ``precision``, ``recall``) with their
    small counts withheld; ``hits[k]``: records of row k's value inferred as it.

    >>> rows = [{"value": "a", "support": 3, "predicted": 12, "precision": 0.25,
    ...          "recall": 1.0}]
    >>> suppress_rows(rows, [3], 10)[0]
    {'value': 'a', 'support': None, 'predicted': 12, 'precision': None, 'recall': None, \
'suppressed': True}
    """
    if min_cell == 0:
        return tuple({**row, "suppressed": False} for row in rows)
    shown = []
    for row, hit in zip(rows, hits, strict=True):
        support, predicted = int(row["support"]), int(row["predicted"])
        small_hits = is_small(int(hit), min_cell)
        entry = dict(row)
        if is_small(support, min_cell):
            entry["support"] = None
        if is_small(predicted, min_cell):
            entry["predicted"] = None
        if small_hits or entry["predicted"] is None:
            entry["precision"] = None
        if small_hits or entry["support"] is None:
            entry["recall"] = None
        entry["suppressed"] = small_hits or None in (entry["support"], entry["predicted"])
        shown.append(entry)
    return tuple(shown)


def suppress_confusion(confusion: Sequence[Sequence[int]], min_cell: int
                       ) -> tuple[tuple[int | None, ...], ...]:
    """The confusion counts with each count of 1 to ``min_cell - 1`` as None.

    >>> suppress_confusion([[12, 3], [0, 40]], 10)
    ((12, None), (0, 40))
    """
    return tuple(tuple(None if is_small(int(c), min_cell) else int(c) for c in row)
                 for row in confusion)
