"""Tree ensembles evaluated on the candidate grid without building it or calling the model.

A record's grid points differ only in the patched columns (sensitive attributes and
unknown features). Descending a tree, every grid point of a record takes the same branch
at a split on a known column; only a split on a patched column can send them different
ways, and which way each grid point goes there is fixed by the split alone, whatever
the record. So, once per model and grid, a *walk plan* marks each split on a patched
column as a fork (grid points go both ways) or a jump (all that reach it go one way)
and lists the grid points that reach each leaf. Then one walk per (record, tree)
serves all G grid points: it follows known splits once, takes both branches at forks,
and at each leaf it reaches writes that leaf for the leaf's grid points. It visits
each node on the union of the grid points' paths once, O(depth x distinct leaves
reached) per record and tree instead of O(G x depth) for the model's own traversal of
G rows, and no (n G, d) rows are ever formed.

The walk is compiled with numba (``nogil``, so the chunk pipeline's worker thread keeps
reducing while it runs) and cached on disk after its first compilation. It compares
exactly as the models do: scikit-learn goes left when ``float32(x) <= threshold``
(threshold a float64), XGBoost when ``float32(x) < split_condition`` (a float32).

:class:`TreeGridScorer` turns the leaves into the oracle's outputs with the estimator's
own arithmetic (per-leaf class fractions normalised as ``predict_proba`` does, summed
tree by tree in the estimator's order and divided by the number of trees; XGBoost
margins summed in float32 from its float32 base margin, then its link in float32 with
C's ``expf``), so they equal the black-box outputs bit for bit (tests:
``tests/attacks/test_treegrid.py``); a forest predicting with ``n_jobs`` > 1 sums its
trees in the order its threads finish, which can differ in the last bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..exceptions import AttackError
from ..models.oracle import Oracle
from .leafboxes import Tree, TreeEnsemble

__all__ = ["TreeGridScorer", "exact_tree_types", "tree_parts"]


def exact_tree_types() -> tuple[type, ...]:
    """Estimators whose outputs are exactly their trees read as :class:`TreeEnsemble`
    (exact classes: a subclass could change ``predict``)."""
    from diffprivlib.models import DecisionTreeClassifier as DPTree
    from diffprivlib.models import RandomForestClassifier as DPForest
    from sklearn.ensemble import (
        ExtraTreesClassifier,
        ExtraTreesRegressor,
        RandomForestClassifier,
        RandomForestRegressor,
    )
    from sklearn.tree import (
        DecisionTreeClassifier,
        DecisionTreeRegressor,
        ExtraTreeClassifier,
        ExtraTreeRegressor,
    )
    from xgboost import XGBClassifier, XGBRegressor

    return (DecisionTreeClassifier, DecisionTreeRegressor, ExtraTreeClassifier,
            ExtraTreeRegressor, RandomForestClassifier, RandomForestRegressor,
            ExtraTreesClassifier, ExtraTreesRegressor, DPTree, DPForest, XGBClassifier,
            XGBRegressor)


def tree_parts(oracle: Oracle) -> TreeEnsemble | None:
    """The model's trees when its outputs are exactly those of its trees, else None.

    Like :meth:`~tabinv.models.oracle.Oracle.linear_parts` this is the same information
    as answering queries, so it is offered at every access level (unless the oracle
    was made with ``shortcuts=False``); a model whose ``output_encoded`` is not
    :class:`~tabinv.models.target.TargetModel`'s own, or whose trees cannot be read
    (categorical XGBoost splits, DART, ...), gets None and is queried instead.
    """
    from ..models.target import TargetModel
    from .treereader import extract_ensemble

    if not oracle.shortcuts or type(oracle.model).output_encoded is not \
            TargetModel.output_encoded:
        return None
    estimator = getattr(oracle.model, "estimator_", None)
    if type(estimator) not in exact_tree_types():
        return None
    try:
        return extract_ensemble(estimator)
    except AttackError:
        return None


def _compiled() -> Any:
    """The compiled module (imported lazily: importing numba and loading the cached
    machine code take about a second)."""
    from . import _treewalk

    return _treewalk


#: most (leaf, grid point) pairs a walk plan may list (4 bytes each), and most
#: (node, grid point) flags one tree's plan may hold while it is built (1 byte each)
MAX_PLAN_ENTRIES = 1 << 25


class TreeGridScorer:
    """Leaves and oracle outputs of a tree ensemble on the candidate grid.

    Parameters
    ----------
    ensemble : TreeEnsemble
        The model's trees on the encoded matrix (:func:`~tabinv.attacks.treereader.
        extract_ensemble`).
    values : ndarray, (G, width)
        The patched columns' values at every grid point (other columns are not read;
        :meth:`~tabinv.attacks.grid.CandidateGrid.patch_values`).
    patched : ndarray of bool, (width,)
        Which encoded columns the grid patches (sensitive attributes, unknown features).
    oracle : Oracle, optional
        Decides the output (regression value, confidences, rounded confidences, label);
        needed by :meth:`outputs` only.
    """

    def __init__(self, ensemble: TreeEnsemble, values: np.ndarray, patched: np.ndarray,
                 oracle: Oracle | None = None) -> None:
        self.oracle = oracle
        self.ensemble = ensemble
        self.n_points = len(values)
        # compared as the model compares its input: cast to float32 (held as float64)
        self.values = np.asarray(values, dtype=np.float32).astype(np.float64)
        self.patched = np.asarray(patched, dtype=bool)
        plans = []
        first_slot = first_node = 0
        for tree in ensemble.trees:  # plan positions = node counts, as the nodes' ids
            plan, leaves, counts, points = self._plan(tree, first_node, first_slot)
            plans.append((plan, leaves + first_node, counts, points,
                          tree.value[tree.leaf_index[leaves]]))
            first_slot += len(leaves)
            first_node += len(tree.left)
        self.plan = np.concatenate([p[0] for p in plans])
        self.roots = np.cumsum([0] + [len(p[0]) for p in plans[:-1]]).astype(np.uint32)
        self.leaf_node = np.concatenate([p[1] for p in plans]).astype(np.int64)
        counts = np.concatenate([p[2] for p in plans])
        self.points = np.concatenate([p[3] for p in plans]).astype(np.uint32)
        self.last = np.cumsum(counts).astype(np.uint64)
        self.first = self.last - counts.astype(np.uint64)
        leaf_values = np.concatenate([p[4] for p in plans])  # (slots, P)
        if ensemble.kind == "booster":  # one margin per output group, float32 as XGBoost
            self.table = leaf_values.astype(np.float32)
            groups = ensemble.groups if len(ensemble.groups) else np.zeros(len(plans))
            self.columns = np.asarray(groups, dtype=np.uint32)
        else:
            self.table = leaf_values.astype(np.float64)
            self.columns = np.zeros(len(plans), dtype=np.uint32)

    @staticmethod
    def fits(ensemble: TreeEnsemble, n_points: int) -> bool:
        """Whether the walk plan of ``ensemble`` over ``n_points`` grid points stays within
        ``MAX_PLAN_ENTRIES`` (else the grid is queried row by row instead)."""
        leaves = sum(t.n_leaves for t in ensemble.trees)
        nodes = max((len(t.left) for t in ensemble.trees), default=0)
        return bool(ensemble.trees) and max(leaves, nodes) * n_points <= MAX_PLAN_ENTRIES

    def _plan(self, tree: Tree, root: int, first_slot: int) -> tuple[np.ndarray, ...]:
        """One tree's walk plan (its nodes breadth first, siblings adjacent, placed from
        plan position ``root``), its leaves' node ids in slot order, and the grid points
        that reach each leaf (counts per slot, then the points slot by slot).

        A grid point reaches a node when its patched values pass every patched split on
        the node's path (compared as the model compares its float32 input); the record's
        known values decide the other splits, the same way for all of its grid points.
        """
        inner = tree.left >= 0
        threshold = _inclusive(tree)
        reach = np.zeros((len(tree.left), self.n_points), dtype=bool)
        reach[0] = True
        order = [np.array([0])]  # the nodes of each level, in plan order
        for _ in range(tree.max_depth):
            at = order[-1][inner[order[-1]]]
            if not at.size:
                break
            here = reach[at]
            on_patch = self.patched[tree.feature[at]]
            go_left = np.ones_like(here)
            go_left[on_patch] = (self.values[:, tree.feature[at[on_patch]]].T
                                 <= threshold[at[on_patch], None])
            go_right = ~go_left
            go_right[~on_patch] = True
            reach[tree.left[at]] = here & go_left
            reach[tree.right[at]] = here & go_right
            order.append(np.stack([tree.left[at], tree.right[at]], axis=1).ravel())
        sequence = np.concatenate(order)  # plan position -> node
        position = np.empty(len(tree.left), dtype=np.int64)
        position[sequence] = np.arange(len(sequence))
        leaves = sequence[~inner[sequence]]
        slot = np.full(len(tree.left), -1, dtype=np.int64)
        slot[leaves] = first_slot + np.arange(len(leaves))
        left = np.where(inner, tree.left, 0)
        right = np.where(inner, tree.right, 0)
        left_used, right_used = reach[left].any(axis=1), reach[right].any(axis=1)
        on_patch = inner & self.patched[tree.feature]
        fork = on_patch & left_used & right_used
        jump = on_patch & ~fork
        plan = np.zeros(len(tree.left), dtype=_compiled().NODE)
        plan["child"] = np.where(inner, root + position[left], slot)
        plan["child"][jump] = root + np.where(left_used, position[left], position[right])[jump]
        plan["feature"] = np.where(inner, tree.feature, int(_compiled().LEAF))
        plan["feature"][fork] = _compiled().FORK
        plan["feature"][jump] = _compiled().JUMP
        plan["threshold"] = np.where(inner, threshold, 0.0)
        counts = reach[leaves].sum(axis=1)
        points = np.nonzero(reach[leaves])[1]  # row-major: slot by slot
        return plan[sequence], leaves, counts, points

    # -- walks ------------------------------------------------------------------------
    def _walk(self, encoded: np.ndarray, table: np.ndarray, columns: np.ndarray,
              nodes: np.ndarray | None, sums: np.ndarray | None) -> None:
        x = np.ascontiguousarray(encoded, dtype=np.float32)
        _compiled().walk(x, self.n_points, self.plan, self.roots, self.first, self.last,
                         self.points, self.leaf_node, table, columns,
                         np.zeros((1, 1, 1), dtype=np.int64) if nodes is None else nodes,
                         np.zeros((1, 1, 1), dtype=table.dtype) if sums is None else sums,
                         nodes is not None, sums is not None)

    def _sums(self, encoded: np.ndarray, table: np.ndarray, columns: np.ndarray,
              initial: np.ndarray) -> np.ndarray:
        """(n, G, P) ``initial`` plus, tree by tree in order, ``table[slot]`` of the leaf
        reached placed from column ``columns[t]``, in the table's float type."""
        sums = np.empty((len(encoded), self.n_points, len(initial)), dtype=table.dtype)
        sums[...] = initial
        self._walk(encoded, table, columns, None, sums)
        return sums

    def nodes(self, encoded: np.ndarray) -> np.ndarray:
        """(n, G, T) global id of the leaf each (record, grid point) reaches in each tree
        (node j of tree t has id j + the number of nodes of the trees before t)."""
        nodes = np.empty((len(encoded), self.n_points, len(self.roots)), dtype=np.int64)
        self._walk(encoded, self.table, self.columns, nodes, None)
        return nodes

    def accumulate(self, encoded: np.ndarray, node_table: np.ndarray, columns: np.ndarray,
                   initial: np.ndarray) -> np.ndarray:
        """(n, G, P) sums over trees, in tree order, of ``node_table[leaf]`` (a (nodes, p)
        float table by global node id) placed from column ``columns[t]`` for tree t,
        starting from ``initial`` (P,)."""
        table = np.ascontiguousarray(node_table[self.leaf_node], dtype=np.float64)
        return self._sums(encoded, table, np.asarray(columns, dtype=np.uint32),
                          np.asarray(initial, dtype=np.float64))

    def raw(self, encoded: np.ndarray) -> np.ndarray:
        """The estimator's output on every grid row: (n, G) for a regression, (n, G, C')
        probabilities over the classes it was trained on for a classifier."""
        ensemble = self.ensemble
        if ensemble.kind == "booster":
            margins = self._sums(encoded, self.table, self.columns,
                                 np.asarray(ensemble.base_margin, dtype=np.float32))
            return _xgboost_link(margins, ensemble.link)
        sums = self._sums(encoded, self.table, self.columns, np.zeros(self.table.shape[1]))
        if len(self.roots) > 1:  # a forest: the mean of its trees
            sums /= len(self.roots)
        return sums[..., 0] if ensemble.kind == "regressor" else sums

    def outputs(self, encoded: np.ndarray) -> np.ndarray:
        """What the oracle answers on every grid row of ``encoded`` records: (n, G, ...)."""
        if self.oracle is None:
            raise AttackError("TreeGridScorer.outputs needs the oracle that answers")
        raw = self.raw(encoded)
        if self.oracle.model.task == "classification":
            raw = self.oracle.model.place_classes(raw)
        return self.oracle.answer(raw)

    @property
    def outputs_per_point(self) -> int:
        """Floats held per (record, grid point) while a chunk is scored."""
        return 2 * max(int(self.table.shape[1]), len(self.ensemble.base_margin), 2)


def _inclusive(tree: Tree) -> np.ndarray:
    """Thresholds t' (float64) with ``x <= t'`` exactly when the tree goes left, for
    float32 x: scikit-learn's own (``x <= t``); for XGBoost's ``x < t`` (t a float32),
    the float32 just below t."""
    if not tree.strict:
        return np.asarray(tree.threshold, dtype=np.float64)
    below = np.nextafter(np.asarray(tree.threshold, dtype=np.float32), np.float32(-np.inf))
    return below.astype(np.float64)


def _xgboost_link(margins: np.ndarray, link: str) -> np.ndarray:
    """XGBoost's output from its float32 margins, as ``XGBModel.predict(_proba)``: the
    identity for regression; ``p = 1 / (expf(min(-m, 88.7)) + 1)`` as [1 - p, p]; or
    ``expf(m - max)`` divided by its float64 sum cast to float32, all in float32 with
    C's ``expf`` (numpy's float32 exponential differs from it in the last bit)."""
    if link == "identity":
        return margins[..., 0].astype(float)
    expf = _compiled().expf
    if link == "logistic":
        exponent = np.minimum(-margins[..., 0], np.float32(88.7))
        denominator = expf(np.ascontiguousarray(exponent)) + np.float32(1)
        positive = np.float32(1) / denominator
        return np.stack([np.float32(1) - positive, positive], axis=-1).astype(float)
    powers = expf(np.ascontiguousarray(margins - margins.max(axis=-1, keepdims=True)))
    totals = np.zeros(powers.shape[:-1])
    for group in range(powers.shape[-1]):  # summed in order, in float64
        totals += powers[..., group]
    return (powers / totals.astype(np.float32)[..., None]).astype(float)
