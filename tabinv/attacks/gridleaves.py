"""The leaf every (record, candidate) reaches in every tree, by one compiled walk.

When no tree splits on a feature the attacker does not know, each candidate row of the
grid reaches exactly one leaf per tree. The white-box attacks then read those leaves
from :class:`~tabinv.attacks.treegrid.TreeGridScorer` (one walk per record and tree for
all its candidates, the same leaves as scikit-learn's ``apply`` and XGBoost's
``pred_leaf`` on the grid rows) instead of descending the trees in numpy, and look up
what they need per leaf in tables indexed by a global node id (tree offset + node).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .grid import CandidateGrid
from .leafboxes import TreeEnsemble
from .treegrid import TreeGridScorer

__all__ = ["GridLeaves"]


@dataclass(frozen=True)
class GridLeaves:
    """Per-node tables of a tree ensemble and the candidate rows to traverse.

    Attributes
    ----------
    walker : TreeGridScorer or None
        Finds the leaves of every (record, candidate); None when its plan would be too
        large (:meth:`TreeGridScorer.fits`): then the estimator's own traversal
        (scikit-learn ``apply``, XGBoost ``pred_leaf``) reads them from the candidate
        rows.
    estimator : object
        The fitted estimator.
    rows : CandidateGrid
        The candidates' patched columns (and their rows, without a walker).
    offsets : ndarray of int, (T,)
        Global id of each tree's node 0.
    votes : ndarray, (nodes, C + 1)
        Each leaf's vote per class column (0 at internal nodes; column -1: never trained).
    values : ndarray, (nodes,)
        Each leaf's value (regression mean or booster leaf value).
    weights : ndarray, (nodes,)
        Each leaf's training weight (count or cover).
    groups : ndarray of int, (T,)
        The output group (margin) each tree adds to (0 for all but multiclass boosters).
    """

    walker: TreeGridScorer | None
    estimator: Any
    rows: CandidateGrid
    offsets: np.ndarray
    votes: np.ndarray
    values: np.ndarray
    weights: np.ndarray
    groups: np.ndarray

    @classmethod
    def build(cls, estimator: Any, ensemble: TreeEnsemble, votes: list[np.ndarray],
              grid: CandidateGrid) -> GridLeaves:
        """Tables for ``ensemble`` (``votes``: each tree's per-leaf votes) over the
        candidates of ``grid`` (no unknown features)."""
        trees = ensemble.trees
        sizes = [len(t.left) for t in trees]
        leaf = np.concatenate([t.leaf_index for t in trees])  # -1 at internal nodes
        leaf += np.repeat(np.cumsum([0] + [t.n_leaves for t in trees])[:-1], sizes)
        internal = np.concatenate([t.leaf_index for t in trees]) < 0

        def per_node(per_leaf: np.ndarray) -> np.ndarray:
            table = per_leaf[leaf]
            table[internal] = 0.0
            return table

        groups = (np.asarray(ensemble.groups, dtype=np.int64) if len(ensemble.groups)
                  else np.zeros(len(trees), dtype=np.int64))
        walker = (TreeGridScorer(ensemble, *grid.patch_values(np.float32))
                  if TreeGridScorer.fits(ensemble, grid.n_points) else None)
        return cls(walker=walker, estimator=estimator, rows=grid,
                   offsets=np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64),
                   votes=per_node(np.concatenate(votes)),
                   values=per_node(np.concatenate([t.value[:, 0] for t in trees])),
                   weights=per_node(np.concatenate([t.weight for t in trees])),
                   groups=groups)

    def sums(self, encoded: np.ndarray, node_table: np.ndarray, columns: np.ndarray,
             initial: np.ndarray) -> np.ndarray:
        """(n K, P) per (record, candidate), record-major: ``initial`` (P,) plus, tree by
        tree, ``node_table[leaf]`` ((nodes, p), by global node id) placed from column
        ``columns[t]``. Summed in the walk, without an (n K, trees) array of leaves."""
        if self.walker is None:
            return _sums(self.nodes(encoded), node_table, columns, initial)
        sums = self.walker.accumulate(encoded, node_table, columns, initial)
        return sums.reshape(-1, sums.shape[2])

    def nodes(self, encoded: np.ndarray) -> np.ndarray:
        """(n K, trees) global node id of the leaf each (record, candidate) reaches in each
        tree, record-major."""
        if self.walker is None:
            grid = self.rows.rows(encoded)
            return _apply(self.estimator, grid, len(self.offsets)) + self.offsets
        nodes = self.walker.nodes(encoded)
        return nodes.reshape(-1, nodes.shape[2])


def _sums(nodes: np.ndarray, node_table: np.ndarray, columns: np.ndarray,
          initial: np.ndarray) -> np.ndarray:
    """:meth:`GridLeaves.sums` from (rows, trees) leaf ids, tree by tree."""
    sums = np.empty((len(nodes), len(initial)))
    sums[...] = initial
    width = node_table.shape[1]
    for t, column in enumerate(columns):
        sums[:, column:column + width] += node_table[nodes[:, t]]
    return sums


def _apply(estimator: Any, grid: np.ndarray, n_trees: int) -> np.ndarray:
    """(rows, trees) node id of the leaf each grid row reaches, by the model's own code."""
    if (type(estimator).__module__ or "").startswith("xgboost"):
        import xgboost

        booster = estimator.get_booster() if hasattr(estimator, "get_booster") else estimator
        nodes = booster.predict(xgboost.DMatrix(grid), pred_leaf=True)
    else:
        nodes = estimator.apply(grid)
    return np.asarray(nodes).reshape(len(grid), -1)[:, :n_trees].astype(np.int64)
