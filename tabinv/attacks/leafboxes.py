"""Tree structure read from a fitted model, and the leaves a partly known record reaches.

A leaf of a binary tree is a box in the encoded feature space: the conjunction of the
splits on its path (scikit-learn goes left when ``x <= threshold``, XGBoost when
``x < split_condition``, both after casting the input to float32). A record whose
features are only partly known is *consistent* with a leaf when it lies in the leaf's
box on every known column; splits on the other columns constrain nothing.

:meth:`Router.descend` computes that consistency for many records at once, as the sparse
(records x leaves) matrix it is: all records move down the tree together, one level per
step; at a split on a known column each record takes its branch, at a split on a free
column it takes both. This evaluates exactly the box tests of the leaves a record can
reach, so it costs O(consistent paths) instead of O(records x leaves x columns), with a
handful of numpy calls per tree level and no call to the model.

:func:`tabinv.attacks.treereader.extract_ensemble` reads scikit-learn decision trees
and forests (random forests, extra trees; diffprivlib's subclasses included) and XGBoost
boosters into
:class:`TreeEnsemble`, the one representation the white-box attack scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix

from ..exceptions import AttackError

__all__ = ["BoxReach", "Router", "Tree", "TreeEnsemble"]


@dataclass(frozen=True)
class Tree:
    """One binary tree over the encoded matrix.

    Attributes
    ----------
    left, right : ndarray of int, (n_nodes,)
        Child node ids; -1 at leaves. Node 0 is the root.
    feature : ndarray of int, (n_nodes,)
        Encoded column a node splits on (0 at leaves, never read there).
    threshold : ndarray of float, (n_nodes,)
        Split value; a float32 value for XGBoost (stored exactly as float64).
    strict : bool
        Go left when ``x < threshold`` (XGBoost) instead of ``x <= threshold``.
    leaf_index : ndarray of int, (n_nodes,)
        Position of each leaf among the leaves; -1 for internal nodes.
    weight : ndarray of float, (L,)
        Training weight of each leaf: the (weighted) training count for scikit-learn,
        the cover (hessian sum) for XGBoost.
    value : ndarray of float, (L, P)
        Class fractions (scikit-learn classifiers, P = classes), the mean target
        (scikit-learn regressors, P = 1) or the leaf value added to the margin
        (XGBoost, P = 1).
    depth : ndarray of int, (n_nodes,)
        Depth of every node (the root has depth 0).
    """

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    strict: bool
    weight: np.ndarray
    value: np.ndarray
    leaf_index: np.ndarray = field(init=False)
    depth: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        leaves = np.flatnonzero(self.left < 0)
        leaf_index = np.full(len(self.left), -1, dtype=np.int64)
        leaf_index[leaves] = np.arange(len(leaves))
        depth = np.zeros(len(self.left), dtype=np.int64)
        frontier, level = np.array([0]), 0
        while frontier.size:
            depth[frontier] = level
            inner = frontier[self.left[frontier] >= 0]
            frontier, level = np.concatenate([self.left[inner], self.right[inner]]), level + 1
        object.__setattr__(self, "leaf_index", leaf_index)
        object.__setattr__(self, "depth", depth)
        if len(self.weight) != len(leaves) or len(self.value) != len(leaves):
            raise AttackError("tree structure: one weight and one value per leaf expected")

    @property
    def n_leaves(self) -> int:
        return int(len(self.weight))

    @property
    def max_depth(self) -> int:
        return int(self.depth.max())

    def router(self, free: np.ndarray, alive: np.ndarray | None = None) -> Router:
        """The tree prepared for :meth:`Router.descend` with these free and alive nodes.

        Parameters
        ----------
        free : ndarray of bool, (n_nodes,)
            Nodes whose split column is not known: a record follows both branches.
        alive : ndarray of bool, (n_nodes,), optional
            Nodes worth entering (default: all); paths into the others are dropped.
        """
        n = len(self.left)
        sink = n  # an extra node where paths into dead subtrees end
        alive = np.ones(n, dtype=bool) if alive is None else np.asarray(alive, dtype=bool)
        inner = self.left >= 0
        left = np.where(inner, self.left, 0)
        right = np.where(inner, self.right, 0)
        left_alive, right_alive = inner & alive[left], inner & alive[right]
        # float32 thresholds t' with  x <= t'  <=>  the model's own rule, for float32 x
        threshold = self.threshold.astype(np.float32)
        below = np.nextafter(threshold, np.float32(-np.inf))
        if self.strict:  # x < t  <=>  x <= (the float32 just below t)
            threshold = below
        else:  # x <= t (float64)  <=>  x <= (the largest float32 not above t)
            threshold = np.where(threshold.astype(float) > self.threshold, below, threshold)
        fork = inner & free & left_alive & right_alive
        one_way = inner & free & ~fork  # a free split with one live branch: a fixed move
        threshold = np.where(one_way, np.where(left_alive, np.inf, -np.inf), threshold)
        kind = np.where(inner, np.where(fork, 1, 0), 2)
        itself = np.arange(n)
        children = np.stack([np.where(left_alive, left, np.where(inner, sink, itself)),
                             np.where(right_alive, right, np.where(inner, sink, itself))],
                            axis=1)
        if not alive[0]:
            kind[0], children[0] = 3, sink
        fork_levels = np.zeros(self.max_depth, dtype=bool)
        fork_levels[self.depth[fork]] = True
        return Router(kind=np.append(kind, 3).astype(np.int8),
                      feature=np.append(np.where(one_way, 0, self.feature), 0),
                      threshold=np.append(threshold, np.float32(0)).astype(np.float32),
                      children=np.append(children, [[sink, sink]], axis=0).ravel(),
                      leaf_index=np.append(self.leaf_index, -1), fork_levels=fork_levels)

    def alive_nodes(self, leaf_alive: np.ndarray) -> np.ndarray:
        """Nodes with at least one alive leaf below them, (n_nodes,) bool."""
        alive = np.zeros(len(self.left), dtype=bool)
        is_leaf = self.left < 0
        alive[is_leaf] = leaf_alive[self.leaf_index[is_leaf]]
        for level in range(self.max_depth - 1, -1, -1):
            inner = np.flatnonzero((self.depth == level) & ~is_leaf)
            alive[inner] = alive[self.left[inner]] | alive[self.right[inner]]
        return alive


@dataclass(frozen=True)
class Router:
    """A tree's node tables for one attack: which nodes fork, compare or end a path.

    ``kind``: 0 compares a known column (go right when ``x > threshold``, in float32),
    1 forks (both branches), 2 is a leaf, 3 is the sink where dead paths end (the last
    node). ``children`` holds (left, right) of node j at 2j and 2j + 1; a leaf and the
    sink are their own children, so a finished path may take more steps and stay put.
    ``fork_levels[d]`` says whether any node at depth d forks.
    """

    kind: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    children: np.ndarray
    leaf_index: np.ndarray
    fork_levels: np.ndarray

    #: finished paths are dropped every this many levels (bookkeeping vs wasted steps)
    DROP_EVERY = 4

    def descend(self, encoded: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Every (record, leaf) pair where the record is consistent with the leaf.

        Parameters
        ----------
        encoded : ndarray of float32, (n, d)
            Encoded records (float32: the precision trees compare in); the values of
            free columns are never read.

        Returns
        -------
        rows, leaves : ndarray of int, (P,)
            Record index and leaf position of each consistent pair (each pair once).
        """
        n, width = encoded.shape
        flat = np.ascontiguousarray(encoded, dtype=np.float32).ravel()
        rows = np.arange(n, dtype=np.int64)
        nodes = np.zeros(n, dtype=np.int64)
        found_rows: list[np.ndarray] = []
        found_leaves: list[np.ndarray] = []
        for level, forks in enumerate(self.fork_levels):
            if level % self.DROP_EVERY == self.DROP_EVERY - 1:
                rows, nodes = self._drop_finished(rows, nodes, found_rows, found_leaves)
            if forks:
                fork = self.kind[nodes] == 1
                fork_rows, fork_nodes = rows[fork], nodes[fork]
                rows, nodes = rows[~fork], nodes[~fork]
            values = flat[rows * width + self.feature[nodes]]
            nodes = self.children[2 * nodes + (values > self.threshold[nodes])]
            if forks:
                rows = np.concatenate([rows, fork_rows, fork_rows])
                nodes = np.concatenate([nodes, self.children[2 * fork_nodes],
                                        self.children[2 * fork_nodes + 1]])
        self._drop_finished(rows, nodes, found_rows, found_leaves)
        return np.concatenate(found_rows), np.concatenate(found_leaves)

    def _drop_finished(self, rows: np.ndarray, nodes: np.ndarray, found_rows: list[np.ndarray],
                       found_leaves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Record the paths at leaves, forget those at the sink, return the others."""
        kind = self.kind[nodes]
        leaf = kind == 2
        found_rows.append(rows[leaf])
        found_leaves.append(self.leaf_index[nodes[leaf]])
        going = kind < 2
        return rows[going], nodes[going]


class BoxReach:
    """The leaves of one tree a chunk of records reaches, with some columns free.

    ``consistency`` is A, the sparse (n x L) matrix with a 1 where the record's known
    columns lie in the leaf's box; ``consistent`` is B, (K x L), the same for the
    candidates' sensitive columns. A pair (record, leaf) has ``rows[p]``,
    ``leaves[p]``; :meth:`mean` averages per-pair values over the leaves consistent
    with both, weighted by the leaves' counts.
    """

    def __init__(self, consistency: csr_matrix, consistent: np.ndarray,
                 weight: np.ndarray) -> None:
        if (np.diff(consistency.indptr) == 0).any():
            raise AssertionError("a record reaches no leaf of a tree")
        self.consistency = consistency
        self.consistent = consistent
        self.weight = weight
        self.rows = np.repeat(np.arange(consistency.shape[0]), np.diff(consistency.indptr))
        self.leaves = consistency.indices

    @classmethod
    def descend(cls, router: Router, encoded: np.ndarray, consistent: np.ndarray,
                weight: np.ndarray) -> BoxReach:
        rows, leaves = router.descend(encoded)
        shape = (len(encoded), consistent.shape[1])
        return cls(csr_matrix((np.ones(len(rows)), (rows, leaves)), shape=shape), consistent,
                   weight)

    def mean(self, values: np.ndarray) -> np.ndarray:
        """(n, K): sum_l A B count value / sum_l A B count, for per-pair ``values``.

        Where the consistent leaves weigh nothing, they are weighted uniformly instead.
        """
        valued = csr_matrix((values, self.consistency.indices, self.consistency.indptr),
                            shape=self.consistency.shape)
        weights = self.weight[:, None] * self.consistent.T
        total, part = self.consistency @ weights, valued @ weights
        empty = total <= 0
        if empty.any():
            uniform = self.consistent.T.astype(float)
            count = self.consistency @ uniform
            if not (count > 0).all():
                raise AssertionError("a candidate reaches no leaf of a tree")
            total = np.where(empty, count, total)
            part = np.where(empty, valued @ uniform, part)
        return part / total

    def log_mean(self, log_values: np.ndarray) -> np.ndarray:
        """log of :meth:`mean` of exp(``log_values``), without underflow."""
        shift = np.maximum.reduceat(log_values, self.consistency.indptr[:-1])
        with np.errstate(divide="ignore"):
            return np.log(self.mean(np.exp(log_values - shift[self.rows]))) + shift[:, None]


@dataclass(frozen=True)
class TreeEnsemble:
    """The trees of a model and how their leaves combine into an output.

    Attributes
    ----------
    kind : {"classifier", "regressor", "booster"}
        ``classifier`` / ``regressor``: scikit-learn trees (one tree, or a forest
        averaging its trees). ``booster``: XGBoost, leaf values summed into margins.
    trees : tuple of Tree
    estimator : str
        Type name of the fitted estimator.
    classes : ndarray of int
        Classifiers and classifying boosters: positions in the estimator's ``classes_``
        (column j of a leaf's fractions, or margin j, is its class ``classes[j]``, which
        the model's ``classes_present_`` places in the label's domain); empty otherwise.
    groups : ndarray of int, (T,)
        Boosters: the margin (output group) each tree adds to.
    base_margin : ndarray of float, (n_groups,)
        Boosters: the margin before any tree.
    link : {"identity", "logistic", "softmax"}
        Boosters: margin -> output (regression value, or class probabilities).
    """

    kind: str
    trees: tuple[Tree, ...]
    estimator: str
    classes: np.ndarray
    groups: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    base_margin: np.ndarray = field(default_factory=lambda: np.zeros(1))
    link: str = "identity"

    @property
    def max_leaves(self) -> int:
        return max(t.n_leaves for t in self.trees)


