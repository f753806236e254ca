"""The compiled walk of :mod:`tabinv.attacks.boosted` (numba; imported lazily)."""

from __future__ import annotations

import math

from numba import njit


@njit(nogil=True, cache=True)
def raw_sums(x, feature, threshold, left, right, missing_left, leaf, value, roots,
             classes, raw):  # pragma: no cover - compiled; tested through boosted
    """raw[i, classes[t]] += value of the leaf record i reaches in tree t, for every tree
    in order (iteration by iteration, class by class, as scikit-learn adds them).

    x (n, d) float64 records; the node arrays hold every tree's nodes, ``left`` and
    ``right`` as indices into them; ``roots`` (T,) each tree's root. At a split on column
    ``feature``: NaN goes left when ``missing_left``, else a value <= ``threshold`` goes
    left and any other right (scikit-learn's numeric splits, in its order of tests).
    One record walks every tree before the next record: its row stays in the first-level
    cache, and so do the few small trees of the meta attack's classifier (measured 1.6x
    faster than blocks of 512 records walking one tree at a time).
    """
    for i in range(x.shape[0]):
        for t in range(roots.shape[0]):
            node = roots[t]
            while not leaf[node]:
                v = x[i, feature[node]]
                if math.isnan(v):
                    node = left[node] if missing_left[node] else right[node]
                elif v <= threshold[node]:
                    node = left[node]
                else:
                    node = right[node]
            raw[i, classes[t]] += value[node]
