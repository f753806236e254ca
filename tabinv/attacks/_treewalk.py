"""The compiled walk of :mod:`tabinv.attacks.treegrid` (numba; imported lazily)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(nogil=True, cache=True)
def expf(values):  # pragma: no cover - compiled; tested through treegrid
    """C's float32 ``expf`` of every element of a contiguous float32 array (numpy's own
    float32 exponential differs from it in the last bit for a fraction of inputs)."""
    out = np.empty_like(values)
    source = values.reshape(-1)
    target = out.reshape(-1)
    for i in range(source.size):
        target[i] = math.exp(source[i])
    return out


@njit(cache=True)
def logf(value):  # pragma: no cover - compiled; tested through treereader
    """C's float32 ``logf`` of a float32 scalar."""
    return math.log(value)


#: one node of the walk plan (unsigned, so that numba indexes without wraparound checks)
NODE = np.dtype([("child", np.uint32), ("feature", np.uint32), ("threshold", np.float64)])
#: ``feature`` values that are not columns
FORK, JUMP, LEAF = np.uint32(0xFFFFFFFF), np.uint32(0xFFFFFFFE), np.uint32(0xFFFFFFFD)
COLUMNS = 0xFFFFFFFD  # feature < COLUMNS: a split on that column
BLOCK = 256  # records that walk one tree before the next tree


@njit(nogil=True, cache=True)
def walk(x, n_points, plan, roots, first, last, points, leaf_node, table, columns, nodes,
         sums, want_nodes, want_sums):  # pragma: no cover - compiled; tested via treegrid
    """Leaves of every (record, grid point) in every tree, one walk per (record, tree).

    x (n, d) float32 encoded records, ``n_points`` grid points each. ``plan`` (nodes,)
    of :data:`NODE`: every tree's nodes numbered breadth first with siblings adjacent;
    ``feature`` says what a node does: a column (< ``COLUMNS``): go to ``child`` when
    ``x[feature] <= threshold``, else to ``child + 1``; FORK: a split on a patched
    column with grid points on both sides (visit both children); JUMP: all grid points
    that reach it go on to ``child``; LEAF: ``child`` is the leaf's slot, reached by
    grid points ``points[first[slot]:last[slot]]``. ``roots`` (T,) plan index of each
    tree's root. With ``want_nodes``, nodes[i, g, t] = leaf_node[slot]; with
    ``want_sums``, sums[i, g, columns[t] + p] += table[slot, p] for every tree in order
    (an array not wanted may have a single row). Every index array is unsigned.
    """
    n = x.shape[0]
    n_trees = roots.shape[0]
    width = table.shape[1]
    stack = np.empty(n_points + 1, dtype=np.uint32)  # forks pending: disjoint points
    for block in range(0, n, BLOCK):  # every tree over a block of records: the tree
        end = min(n, block + BLOCK)  # stays in cache while the block walks it
        for t in range(n_trees):
            column = columns[t]
            for i in range(block, end):
                row = x[i]
                record_nodes = nodes[i if want_nodes else 0]
                record_sums = sums[i if want_sums else 0]
                top = 1
                stack[0] = roots[t]
                while top > 0:
                    top -= 1
                    node = stack[top]
                    while True:
                        step = plan[node]
                        feature = step.feature
                        if feature < COLUMNS:
                            if row[feature] <= step.threshold:
                                node = step.child
                            else:
                                node = step.child + np.uint32(1)
                        elif feature == FORK:
                            stack[top] = step.child + np.uint32(1)
                            top += 1
                            node = step.child
                        elif feature == JUMP:
                            node = step.child
                        else:
                            break
                    slot = plan[node].child
                    start = first[slot]
                    stop = last[slot]
                    if want_nodes:
                        reached = leaf_node[slot]
                        for j in range(start, stop):
                            record_nodes[points[j], t] = reached
                    if want_sums:
                        for j in range(start, stop):
                            point_sums = record_sums[points[j]]
                            for p in range(width):
                                point_sums[column + p] += table[slot, p]
