"""The compiled walk of :mod:`tabinv.attacks.boosted` (numba; imported lazily)."""

from __future__ import annotations

import math

from numba import njit

BLOCK = 512  # records that walk one tree before the next: the block stays in cache


@njit(nogil=True, cache=True)
def raw_sums(x, feature, threshold, left, right, missing_left, leaf, value, roots,
             classes, raw):  # pragma: no cover - compiled; tested through boosted
    """raw[i, classes[t]] += value of the leaf record i reaches in tree t, for every tree
    in order (iteration by iteration, class by class, as scikit-learn adds them).

    x (n, d) float64 records; the node arrays hold every tree's nodes, ``left`` and
    ``right`` as indices into them; ``roots`` (T,) each tree's root. At a split on column
    ``feature``: NaN goes left when ``missing_left``, else a value <= ``threshold`` goes
    left and any other right (scikit-learn's numeric splits, in its order of tests).
    """
    n = x.shape[0]
    for block in range(0, n, BLOCK):
        end = min(n, block + BLOCK)
        for t in range(roots.shape[0]):
            root = roots[t]
            k = classes[t]
            for i in range(block, end):
                node = root
                while not leaf[node]:
                    v = x[i, feature[node]]
                    if math.isnan(v):
                        node = left[node] if missing_left[node] else right[node]
                    elif v <= threshold[node]:
                        node = left[node]
                    else:
                        node = right[node]
                raw[i, k] += value[node]
