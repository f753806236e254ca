"""White-box decision-tree inversion (Fredrikson, Jha, Ristenpart, CCS 2015).

The attacker holds the model file: every tree's paths, thresholds and the training
count at each leaf. For a candidate v of the sensitive attribute, the leaves reachable
by (s = v, x_K) with the unknown features x_U left free are the *consistent* leaves;
weighted by their training counts they give the likelihood of the record's label y:

    score(v) = p_s(v) * sum_{consistent l, label(l) = y} count(l)
                      / sum_{consistent l} count(l)

Everything happens in the model's encoded space, so it works through the model's own
preprocessing: a one-hot sensitive attribute is several columns, an ordinal one a single
column, at any position. Consistency factorises over columns: a leaf is consistent with
(v, x_K) when the record's known columns lie in the leaf's box (an (N x L) sparse matrix
A, built once per record by :meth:`~tabinv.attacks.leafboxes.Router.descend`) and the
candidate's sensitive columns do too (a (K x L) matrix B, built once at ``fit``). The
(N x K) sums above are then sparse matrix products A @ diag(count) B^T.

When no tree splits on a column of an unknown feature, each (record, candidate) reaches
exactly one leaf per tree and the sums reduce to that leaf's value: the leaves are then
read from the estimator's own compiled traversal of the (N x K) candidate grid
(scikit-learn ``apply``, XGBoost ``pred_leaf``), about three times faster than the
numpy descent; tests check that both give the same posteriors. The model's outputs are
never queried.

Rules beyond the paper (also in :class:`WhiteBoxTreeInversion`'s docstring):

- forests: the per-tree ratios are averaged over the trees;
- XGBoost: per tree, the cover-weighted mean leaf value over the consistent leaves,
  summed over trees plus the base margin, through the model's link (sigmoid, softmax
  or identity) gives p(y | v, x_K);
- regression trees: a count-weighted mixture of Normal(y; leaf value, sigma^2) over the
  consistent leaves, sigma the model's published residual sigma;
- consistent leaves whose counts sum to 0: uniform weights over them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import expit, logsumexp, softmax

from ..exceptions import AttackError
from ..params import RANDOM_STATE, Options
from .base import MEMORY, SMOOTHING, BaseAttack
from .budget import require
from .candidates import Posterior
from .grid import DEFAULT_MEMORY, CandidateGrid
from .gridleaves import GridLeaves
from .leafboxes import BoxReach, Router, Tree, TreeEnsemble
from .likelihood import LOG_FLOOR, gaussian_log_likelihood
from .map import PRIOR, PRIOR_GIVEN, MAPInversion
from .priors import Prior
from .registry import register
from .treereader import extract_ensemble
from .unknowns import UnknownFeatures

__all__ = ["WhiteBoxTreeInversion", "LEAF_LABELS"]

LEAF_LABELS = ("majority", "fractions")
#: bytes per (record, leaf) pair while a chunk is scored (indices, descent temporaries,
#: sparse matrices)
PAIR_BYTES = 96
#: records per chunk at most: larger chunks were not faster
MAX_CHUNK = 1 << 15
#: bytes per chunk at most, whatever ``memory`` allows: a forest's (rows x trees) node
#: tables are large, and smaller chunks keep the peak low at no cost in speed
CHUNK_BYTES = 256 << 20


@dataclass(frozen=True)
class _TreePlan:
    """What ``fit`` prepares for one tree: B and the router that builds A."""

    tree: Tree
    consistent: np.ndarray  # (K, L) bool: candidate k lies in leaf l's box (sensitive cols)
    router: Router  # known columns compared, other columns free, dead subtrees skipped
    votes: np.ndarray  # classifiers: (L, C + 1) each leaf's vote per class column, 0 last


@register
class WhiteBoxTreeInversion(MAPInversion):
    """White-box inversion of decision trees, forests and gradient-boosted trees.

    For every record and candidate v, the leaves of each tree consistent with
    (s = v, x_K) (unknown features free) are weighted by their training counts, and the
    share of that weight on leaves labelled y is the likelihood of v; it is multiplied
    by the same priors p_s(v) as :class:`~tabinv.attacks.map.MAPInversion`. The model
    file is read; its outputs are never queried.

    Rules:

    - *counts*: scikit-learn's ``weighted_n_node_samples`` (the training count; for a
      random forest it counts the tree's bootstrap draws, matching the tree's own class
      fractions); XGBoost's cover (hessian sum).
    - *label of a leaf* (``leaf_label``): ``"majority"`` (the paper's rule) takes the
      leaf's majority class, first on ties, as the tree's ``predict`` does;
      ``"fractions"`` counts each leaf's weight times its training fraction of y (with
      every feature known it gives the forest's ``predict_proba``).
    - *forests*: the per-tree ratios are averaged over the trees (as the forest averages
      its trees' outputs).
    - *XGBoost*: boosted trees have no per-leaf label. Per tree, the cover-weighted mean
      leaf value over the consistent leaves; summed over the trees of each output group
      plus the base margin, it is the expected margin, and the model's link (sigmoid for
      ``binary:logistic``, softmax for ``multi:softprob``) gives p(y | v, x_K); for
      regression objectives the link is the identity and the likelihood is
      Normal(y; expected margin, sigma^2).
    - *regression trees and forests*: the count-weighted mixture of
      Normal(y; leaf value, sigma^2) over the consistent leaves (averaged over a forest's
      trees), sigma the model's residual sigma, on the fitted scale.
    - *zero counts*: when the consistent leaves of a tree carry no weight at all (a model
      that exports no counts), they get uniform weights. Every (candidate, known values)
      reaches at least one leaf of every tree; the attack asserts it.
    - classifier likelihoods below 1e-12 count as 1e-12 (as in the MAP attack): a record
      whose label no consistent leaf predicts keeps its prior.

    Parameters
    ----------
    prior : {"marginal", "conditional", "learned", "published"} or Prior
        p_s(v), exactly as in :class:`~tabinv.attacks.map.MAPInversion`.
    prior_given : sequence of str
        Known categorical columns a conditional prior conditions on.
    smoothing : float
        Added to every count of frequency priors.
    leaf_label : {"majority", "fractions"}
        How a scikit-learn classifier leaf votes for the label (see above); boosters and
        regressors ignore it.
    memory : int
        Bytes the attack may hold (``--memory``): the candidates' leaf tables, the
        (n, K) posteriors and one chunk of records (budgeted for every record consistent
        with every leaf of a tree, or for its K candidate rows when nothing is free),
        down to one record; what cannot fit is refused with the numbers.
    random_state : int, Generator or None
        Seed of the learned prior's classifier.

    Raises
    ------
    AttackError
        From ``fit``: the oracle has no white-box access, or the model is not a tree
        ensemble (the message names the estimator and the supported ones).

    References
    ----------
    Fredrikson, Jha, Ristenpart. Model inversion attacks that exploit confidence
    information and basic countermeasures. ACM CCS 2015.

    Examples
    --------
    >>> from tabinv.data.registry import builtin_card
    >>> from tabinv.data.synthetic import synthetic_iwpc
    >>> from tabinv.models.families import make_model
    >>> from tabinv.models.oracle import Oracle
    >>> card = builtin_card("iwpc").with_label("dose_class")
    >>> members, reference = synthetic_iwpc(500, 0), synthetic_iwpc(300, 1)
    >>> model = make_model("tree", card, max_depth=4).fit(members)
    >>> known = [f for f in model.features if f != "vkorc1"]
    >>> attack = WhiteBoxTreeInversion().fit(Oracle.for_model(model, "white-box"),
    ...                                      sensitive=["vkorc1"], known=known,
    ...                                      reference=reference)
    >>> attack.infer(members.iloc[:5]).probabilities.shape
    (5, 3)
    """

    name = "whitebox-tree"
    requires = ("confidence", "label", "output")
    needs_white_box = True
    parameters = {"prior": PRIOR, "prior_given": PRIOR_GIVEN, "smoothing": SMOOTHING,
                  "leaf_label": [Options(str, LEAF_LABELS)], "memory": MEMORY,
                  "random_state": RANDOM_STATE}

    def __init__(self, *, prior: str | Prior = "marginal", prior_given: Sequence[str] = (),
                 smoothing: float = 1.0, leaf_label: str = "majority",
                 memory: int = DEFAULT_MEMORY, random_state: Any = 0) -> None:
        self.prior = prior
        self.prior_given = prior_given
        self.smoothing = smoothing
        self.leaf_label = leaf_label
        self.memory = memory
        self.random_state = random_state

    # -- fitting ----------------------------------------------------------------------
    def _fit(self, reference: pd.DataFrame | None) -> None:
        model = self.oracle_.model
        self.ensemble_ = extract_ensemble(self.oracle_.structure())
        classifier = self.ensemble_.kind == "classifier" or self.ensemble_.link != "identity"
        if classifier != (model.task == "classification"):
            raise AttackError(f"the {self.ensemble_.estimator} does not match the model's "
                              f"{model.task} task")
        self.prior_ = self._make_prior(reference)
        # the candidates' rows of the sensitive columns (no unknowns: those are free)
        candidate_grid = CandidateGrid(model.encoder_, self.candidates_, UnknownFeatures(),
                                       self.budget)
        k = self.candidates_.size  # and each tree's (K, leaves) consistency table
        self.table_bytes_ = candidate_grid.table_bytes + k * sum(
            t.n_leaves for t in self.ensemble_.trees)
        require(self.table_bytes_, self.budget, f"the leaves consistent with each candidate "
                f"in {len(self.ensemble_.trees)} tree(s)", k)
        patches, sensitive_columns = candidate_grid.patch_values(np.float32)
        known_columns = self._column_mask(self.known_)
        self.plans_ = tuple(self._plan(tree, patches, sensitive_columns, known_columns)
                            for tree in self.ensemble_.trees)
        unknown_columns = self._column_mask(self.unknown_names_)
        self.use_grid_ = not any(unknown_columns[t.feature[t.left >= 0]].any()
                                 for t in self.ensemble_.trees)
        self.leaves_ = GridLeaves.build(
            self.oracle_.structure(), self.ensemble_, [plan.votes for plan in self.plans_],
            candidate_grid) if self.use_grid_ else None
        if classifier:
            self.label_columns_ = self._label_columns()
        else:
            self.sigma_ = self.oracle_.residual_sigma
            if not self.sigma_ > 0:
                raise AttackError(f"residual sigma must be positive, got {self.sigma_!r}")

    def _column_mask(self, features: Sequence[str]) -> np.ndarray:
        encoder = self.oracle_.model.encoder_
        mask = np.zeros(encoder.n_output_, dtype=bool)
        for name in features:
            start, stop = encoder.slices_[name]
            mask[start:stop] = True
        return mask

    def _plan(self, tree: Tree, patches: np.ndarray, sensitive_columns: np.ndarray,
              known_columns: np.ndarray) -> _TreePlan:
        if tree.feature.max() >= len(known_columns):
            raise AttackError(f"the {self.ensemble_.estimator} splits on encoded column "
                              f"{int(tree.feature.max())}, but the model's encoder has "
                              f"{len(known_columns)}")
        rows, leaves = tree.router(~sensitive_columns[tree.feature]).descend(patches)
        consistent = np.zeros((len(patches), tree.n_leaves), dtype=bool)
        consistent[rows, leaves] = True
        router = tree.router(~known_columns[tree.feature],
                             tree.alive_nodes(np.asarray(consistent.any(axis=0))))
        votes = tree.value
        if self.leaf_label == "majority":
            votes = np.eye(votes.shape[1])[np.argmax(votes, axis=1)]
        votes = np.hstack([votes, np.zeros((len(votes), 1))])  # column -1: never trained
        return _TreePlan(tree, consistent, router, votes)

    def _label_columns(self) -> np.ndarray:
        """Label domain index -> the estimator's class column (-1: class never trained)."""
        model = self.oracle_.model
        columns = np.full(len(model.domain(model.label)), -1, dtype=np.int64)
        columns[np.asarray(model.classes_present_)[self.ensemble_.classes]] = np.arange(
            len(self.ensemble_.classes))
        return columns

    # -- inference --------------------------------------------------------------------
    def record_bytes(self) -> int:
        """Bytes one record takes in a chunk: one tree's pairs, or its grid chunk.

        With free splits every record may be consistent with every leaf of a tree;
        without, a record is K grid rows and K leaves per tree.
        """
        k, trees = self.candidates_.size, len(self.plans_)
        if self.use_grid_:
            width = self.oracle_.model.encoder_.n_output_
            return k * (4 * width + 24 * trees + 64)
        return PAIR_BYTES * self.ensemble_.max_leaves + 64 * k

    def memory_needed(self, n_records: int) -> int:
        """The fitted tables, one record's chunk and the (n, K) arrays of the result."""
        return self.table_bytes_ + self.record_bytes() + self.reserved_bytes(n_records)

    def chunk_size(self, n_records: int) -> int:
        """Records per chunk, so that the chunk fits ``memory`` next to the tables and
        the result; one record at :meth:`memory_needed`, refused below it."""
        per_record = self.record_bytes()
        available = self.budget - self.table_bytes_ - self.reserved_bytes(n_records)
        if per_record > available:
            require(self.memory_needed(n_records), self.budget,
                    f"{self.name}: one record's chunk of the walk next to the posteriors of "
                    f"{n_records:,} records", self.candidates_.size, per_record=True)
        return int(np.clip(min(available, CHUNK_BYTES) // per_record, 1, MAX_CHUNK))

    def log_likelihood(self, records: pd.DataFrame, y: np.ndarray) -> np.ndarray:
        """log p(y | candidate, known columns) from the trees, shape (n, K)."""
        encoded = self.encode_known(records)
        encoded = encoded.astype(np.float32, copy=False)  # the precision trees compare in
        n = len(encoded)
        step = self.chunk_size(n)
        parts = [self._chunk(encoded[start:start + step], y[start:start + step])
                 for start in range(0, n, step)]
        return np.concatenate(parts) if parts else np.zeros((0, self.candidates_.size))

    def _chunk(self, encoded: np.ndarray, y: np.ndarray) -> np.ndarray:
        if self.use_grid_:
            return self._grid_log_likelihood(encoded, y)
        reaches = (BoxReach.descend(plan.router, encoded, plan.consistent, plan.tree.weight)
                   for plan in self.plans_)
        kind = self.ensemble_.kind
        if kind == "booster":
            return self._booster(reaches, len(encoded), y)
        if kind == "classifier":
            return self._classifier(reaches, len(encoded), y)
        return self._regressor(reaches, len(encoded), y)

    def _classifier(self, reaches: Iterable[BoxReach], n: int, y: np.ndarray) -> np.ndarray:
        columns = self.label_columns_[y]
        likelihood = np.zeros((n, self.candidates_.size))
        for plan, reach in zip(self.plans_, reaches, strict=True):
            likelihood += reach.mean(plan.votes[reach.leaves, columns[reach.rows]])
        likelihood /= len(self.plans_)
        return np.log(np.maximum(likelihood, LOG_FLOOR))

    def _regressor(self, reaches: Iterable[BoxReach], n: int, y: np.ndarray) -> np.ndarray:
        log_total = np.full((n, self.candidates_.size), -np.inf)
        for plan, reach in zip(self.plans_, reaches, strict=True):
            log_density = self._log_density(y[reach.rows], plan.tree.value[reach.leaves, 0])
            log_total = np.logaddexp(log_total, reach.log_mean(log_density))
        return log_total - np.log(len(self.plans_))

    def _booster(self, reaches: Iterable[BoxReach], n: int, y: np.ndarray) -> np.ndarray:
        ensemble: TreeEnsemble = self.ensemble_
        margins = np.tile(ensemble.base_margin, (n, self.candidates_.size, 1))
        for plan, group, reach in zip(self.plans_, ensemble.groups, reaches, strict=True):
            margins[:, :, group] += reach.mean(plan.tree.value[reach.leaves, 0])
        return self._margin_log_likelihood(margins, y)

    def _log_density(self, y: np.ndarray, values: np.ndarray) -> np.ndarray:
        z = (y - values) / self.sigma_
        return -0.5 * z * z - np.log(self.sigma_) - 0.5 * np.log(2.0 * np.pi)

    def _margin_log_likelihood(self, margins: np.ndarray, y: np.ndarray) -> np.ndarray:
        """log p(y | margins (n, K, groups)) through the booster's link."""
        link = self.ensemble_.link
        if link == "identity":
            return gaussian_log_likelihood(margins[:, :, 0], y, self.sigma_)
        if link == "logistic":
            positive = expit(margins[:, :, 0])
            probabilities = np.stack([1.0 - positive, positive], axis=2)
        else:
            probabilities = softmax(margins, axis=2)
        probabilities = np.concatenate(  # column -1: a class the model never trained on
            [probabilities, np.zeros((*probabilities.shape[:2], 1))], axis=2)
        columns = self.label_columns_[y]
        chosen = np.take_along_axis(probabilities, columns[:, None, None], axis=2)[:, :, 0]
        return np.log(np.maximum(chosen, LOG_FLOOR))

    def _grid_log_likelihood(self, encoded: np.ndarray, y: np.ndarray) -> np.ndarray:
        """No split on an unknown column: one leaf per (record, candidate, tree), found by
        one compiled walk per record and tree (:class:`GridLeaves`); all trees at once."""
        k, n, leaves = self.candidates_.size, len(encoded), self.leaves_
        assert leaves is not None
        kind, n_trees = self.ensemble_.kind, len(leaves.offsets)
        if kind == "booster":  # margins summed in the walk
            margins = leaves.sums(encoded, leaves.values[:, None], leaves.groups,
                                  self.ensemble_.base_margin)
            return self._margin_log_likelihood(margins.reshape(n, k, -1), y)
        if kind == "classifier":  # every class's votes summed in the walk
            votes = leaves.sums(encoded, leaves.votes, np.zeros(n_trees, dtype=np.int64),
                                np.zeros(leaves.votes.shape[1]))
            label_columns = np.repeat(self.label_columns_[y], k)
            likelihood = votes[np.arange(len(votes)), label_columns] / n_trees
            return np.log(np.maximum(likelihood, LOG_FLOOR)).reshape(n, k)
        nodes = leaves.nodes(encoded)
        log_density = self._log_density(np.repeat(y, k)[:, None], leaves.values[nodes])
        return (logsumexp(log_density, axis=1) - np.log(len(self.plans_))).reshape(n, k)

    def _infer(self, records: pd.DataFrame, y: np.ndarray) -> Posterior:
        log_scores = self.log_likelihood(records, y)
        log_scores += self.prior_.log_prob(records)
        return Posterior.from_log_scores(self.candidates_, log_scores, self.name,
                                         overwrite=True)

    def describe(self) -> dict[str, Any]:
        ensemble = self.ensemble_
        if ensemble.kind == "booster":
            rule = f"expected margin over consistent leaves (cover), {ensemble.link} link"
        elif ensemble.kind == "regressor":
            rule = "count-weighted Gaussian mixture over consistent leaves"
        else:
            rule = f"count share of consistent leaves voting y ({self.leaf_label})"
        facts = {**BaseAttack.describe(self), "prior": self.prior_.describe(),
                 "likelihood": f"white-box {ensemble.estimator} ({len(ensemble.trees)} "
                               f"tree(s)): {rule}"}
        blind = sum(1 for tree in ensemble.trees if not np.any(tree.weight > 0))
        if blind:
            facts["notes"] = (
                f"{blind} of {len(ensemble.trees)} tree(s) export no training counts (as "
                "diffprivlib's trees do): the attacker saw their structure, thresholds and "
                "leaf labels but not how many training records reached each leaf, so their "
                "consistent leaves were weighted equally")
        return facts

