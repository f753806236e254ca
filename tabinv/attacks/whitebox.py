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
A, built once per record by :meth:`~tabinv.attacks.leafboxes.Tree.descend`) and the
candidate's sensitive columns do too (a (K x L) matrix B, built once at ``fit``). The
(N x K) sums above are then sparse matrix products A @ diag(count) B^T.

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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.special import expit, softmax

from ..exceptions import AttackError
from .base import BaseAttack, register
from .candidates import Posterior
from .grid import DEFAULT_MEMORY
from .leafboxes import Router, Tree, TreeEnsemble, extract_ensemble
from .likelihood import LOG_FLOOR, gaussian_log_likelihood
from .map import MAPInversion
from .priors import Prior

__all__ = ["WhiteBoxTreeInversion", "LEAF_LABELS"]

LEAF_LABELS = ("majority", "fractions")
#: bytes per (record, leaf) pair while a chunk is scored (indices, descent temporaries,
#: sparse matrices)
PAIR_BYTES = 96
#: records per chunk at most: larger chunks were not faster
MAX_CHUNK = 1 << 15


@dataclass(frozen=True)
class _TreePlan:
    """What ``fit`` prepares for one tree: B and the router that builds A."""

    tree: Tree
    consistent: np.ndarray  # (K, L) bool: candidate k lies in leaf l's box (sensitive cols)
    router: Router  # known columns compared, other columns free, dead subtrees skipped

    @property
    def weights(self) -> np.ndarray:
        """(L, K) count(l) * B[k, l]."""
        return self.tree.weight[:, None] * self.consistent.T


@register
class WhiteBoxTreeInversion(MAPInversion):
    """White-box inversion of decision trees, forests and gradient-boosted trees.

    For every record and candidate v, the leaves of each tree consistent with
    (s = v, x_K) (unknown features free) are weighted by their training counts, and the
    share of that weight on leaves labelled y is the likelihood of v; it is multiplied
    by the same priors p_s(v) as :class:`~tabinv.attacks.map.MAPInversion`. The model
    is read, never queried.

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
        Bytes one chunk of records may take (at most ``L`` consistent leaves a record).
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
    >>> attack = WhiteBoxTreeInversion().fit(Oracle.for_model(model, white_box=True),
    ...                                      sensitive=["vkorc1"], known=known,
    ...                                      reference=reference)
    >>> attack.infer(members.iloc[:5]).probabilities.shape
    (5, 3)
    """

    name = "whitebox-tree"
    requires = ("confidence", "label", "output")
    needs_white_box = True

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
        if self.leaf_label not in LEAF_LABELS:
            raise AttackError(f"leaf_label {self.leaf_label!r} is not one of {LEAF_LABELS}")
        model = self.oracle_.model
        self.ensemble_ = extract_ensemble(self.oracle_.structure())
        classifier = self.ensemble_.kind == "classifier" or self.ensemble_.link != "identity"
        if classifier != (model.task == "classification"):
            raise AttackError(f"the {self.ensemble_.estimator} does not match the model's "
                              f"{model.task} task")
        if reference is None and not (self.prior == "published" or
                                      isinstance(self.prior, Prior)):
            raise AttackError(
                f"prior {self.prior!r} is estimated from a reference sample; give one, or "
                "use prior='published' (the marginals stored with the model)"
            )
        self.prior_ = self._make_prior(reference)
        encoder = model.encoder_
        sensitive_columns = self._column_mask(self.sensitive_)
        known_columns = self._column_mask(self.known_)
        patches = np.zeros((self.candidates_.size, encoder.n_output_), dtype=np.float32)
        for a, name in enumerate(self.candidates_.names):
            start, stop = encoder.slices_[name]
            patches[:, start:stop] = encoder.block(name, self.candidates_.codes[:, a])
        self.plans_ = tuple(self._plan(tree, patches, sensitive_columns, known_columns)
                            for tree in self.ensemble_.trees)
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
                             tree.alive_nodes(consistent.any(axis=0)))
        return _TreePlan(tree, consistent, router)

    def _label_columns(self) -> np.ndarray:
        """Label domain index -> the estimator's class column (-1: class never trained)."""
        model = self.oracle_.model
        columns = np.full(len(model.domain(model.label)), -1, dtype=np.int64)
        columns[np.asarray(model.classes_present_)[self.ensemble_.classes]] = np.arange(
            len(self.ensemble_.classes))
        return columns

    # -- inference --------------------------------------------------------------------
    def chunk_size(self) -> int:
        """Records per chunk: every record may be consistent with every leaf of a tree."""
        per_record = PAIR_BYTES * self.ensemble_.max_leaves + 64 * self.candidates_.size
        return int(np.clip(self.memory // per_record, 1, MAX_CHUNK))

    def log_likelihood(self, records: pd.DataFrame, y: np.ndarray) -> np.ndarray:
        """log p(y | candidate, known columns) from the trees, shape (n, K)."""
        hidden = (*self.sensitive_, *self.unknown_names_)
        encoded = self.oracle_.model.encoder_.transform(records[list(self.known_)], skip=hidden)
        encoded = encoded.astype(np.float32)  # the precision trees compare in
        n, step = len(encoded), self.chunk_size()
        parts = [self._chunk(encoded[start:start + step], y[start:start + step])
                 for start in range(0, n, step)]
        return np.concatenate(parts) if parts else np.zeros((0, self.candidates_.size))

    def _chunk(self, encoded: np.ndarray, y: np.ndarray) -> np.ndarray:
        kind = self.ensemble_.kind
        if kind == "booster":
            return self._booster(encoded, y)
        if kind == "classifier":
            return self._classifier(encoded, y)
        return self._regressor(encoded, y)

    def _consistency(self, plan: _TreePlan, encoded: np.ndarray) -> csr_matrix:
        """A: (n, L) sparse, 1 where the record's known columns lie in the leaf's box."""
        rows, leaves = plan.router.descend(encoded)
        shape = (len(encoded), plan.tree.n_leaves)
        matrix = csr_matrix((np.ones(len(rows)), (rows, leaves)), shape=shape)
        if (np.diff(matrix.indptr) == 0).any():
            raise AssertionError("a record reaches no leaf of a tree")
        return matrix

    @staticmethod
    def _ratio(plan: _TreePlan, consistency: csr_matrix, pair_values: np.ndarray
               ) -> np.ndarray:
        """(n, K): sum_l A B count value / sum_l A B count, with per-pair values.

        Where the consistent leaves weigh nothing, they are weighted uniformly instead.
        """
        valued = csr_matrix((pair_values, consistency.indices, consistency.indptr),
                            shape=consistency.shape)
        weights = plan.weights
        total, part = consistency @ weights, valued @ weights
        empty = total <= 0
        if empty.any():
            uniform = plan.consistent.T.astype(float)
            count = consistency @ uniform
            if not (count > 0).all():
                raise AssertionError("a candidate reaches no leaf of a tree")
            total = np.where(empty, count, total)
            part = np.where(empty, valued @ uniform, part)
        return part / total

    @staticmethod
    def _pair_rows(consistency: csr_matrix) -> np.ndarray:
        return np.repeat(np.arange(consistency.shape[0]), np.diff(consistency.indptr))

    def _classifier(self, encoded: np.ndarray, y: np.ndarray) -> np.ndarray:
        columns = self.label_columns_[y]
        likelihood = np.zeros((len(encoded), self.candidates_.size))
        for plan in self.plans_:
            votes = plan.tree.value
            if self.leaf_label == "majority":
                votes = np.eye(votes.shape[1])[np.argmax(votes, axis=1)]
            votes = np.hstack([votes, np.zeros((len(votes), 1))])  # column -1: untrained
            consistency = self._consistency(plan, encoded)
            pair_votes = votes[consistency.indices, columns[self._pair_rows(consistency)]]
            likelihood += self._ratio(plan, consistency, pair_votes)
        likelihood /= len(self.plans_)
        return np.log(np.maximum(likelihood, LOG_FLOOR))

    def _regressor(self, encoded: np.ndarray, y: np.ndarray) -> np.ndarray:
        sigma = self.sigma_
        log_total = np.full((len(encoded), self.candidates_.size), -np.inf)
        for plan in self.plans_:
            consistency = self._consistency(plan, encoded)
            z = (y[self._pair_rows(consistency)] - plan.tree.value[consistency.indices, 0]) \
                / sigma
            log_density = -0.5 * z * z - np.log(sigma) - 0.5 * np.log(2.0 * np.pi)
            shift = np.maximum.reduceat(log_density, consistency.indptr[:-1])
            scaled = np.exp(log_density - np.repeat(shift, np.diff(consistency.indptr)))
            with np.errstate(divide="ignore"):
                log_tree = np.log(self._ratio(plan, consistency, scaled)) + shift[:, None]
            log_total = np.logaddexp(log_total, log_tree)
        return log_total - np.log(len(self.plans_))

    def _booster(self, encoded: np.ndarray, y: np.ndarray) -> np.ndarray:
        ensemble: TreeEnsemble = self.ensemble_
        margins = np.tile(ensemble.base_margin, (len(encoded), self.candidates_.size, 1))
        for plan, group in zip(self.plans_, ensemble.groups, strict=True):
            consistency = self._consistency(plan, encoded)
            leaf_values = plan.tree.value[consistency.indices, 0]
            margins[:, :, group] += self._ratio(plan, consistency, leaf_values)
        if ensemble.link == "identity":
            return gaussian_log_likelihood(margins[:, :, 0], y, self.sigma_)
        if ensemble.link == "logistic":
            positive = expit(margins[:, :, 0])
            probabilities = np.stack([1.0 - positive, positive], axis=2)
        else:
            probabilities = softmax(margins, axis=2)
        probabilities = np.concatenate(  # column -1: a class the model never trained on
            [probabilities, np.zeros((*probabilities.shape[:2], 1))], axis=2)
        columns = self.label_columns_[y]
        chosen = np.take_along_axis(probabilities, columns[:, None, None], axis=2)[:, :, 0]
        return np.log(np.maximum(chosen, LOG_FLOOR))

    def _infer(self, records: pd.DataFrame, y: np.ndarray) -> Posterior:
        log_scores = self.log_likelihood(records, y) + self.prior_.log_prob(records)
        return Posterior.from_log_scores(self.candidates_, log_scores, self.name)

    def describe(self) -> dict[str, Any]:
        ensemble = self.ensemble_
        if ensemble.kind == "booster":
            rule = f"expected margin over consistent leaves (cover), {ensemble.link} link"
        elif ensemble.kind == "regressor":
            rule = "count-weighted Gaussian mixture over consistent leaves"
        else:
            rule = f"count share of consistent leaves voting y ({self.leaf_label})"
        return {**BaseAttack.describe(self), "prior": self.prior_.describe(),
                "likelihood": f"white-box {ensemble.estimator} ({len(ensemble.trees)} "
                              f"tree(s)): {rule}"}
