"""Label-only membership attacks: they read only the label the model gives a record (the
largest confidence when the model answers confidences), so they attack any classifier
tabinv can query, label-only access included.

:class:`LabelGap` is the gap attack (Yeom et al. 2018), the baseline of Choquette-Choo et
al. (2021): a record the model labels correctly is called a member. :class:`NoiseRobustness`
is their data-augmentation attack adapted to tabular records: members sit further from
the decision boundary, so their label survives more perturbed copies. Both score
answers read before with :meth:`score_answers` (whether each query got the true label).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from ..exceptions import AttackError, DataError
from ..models.target import TargetModel
from ..utils import seed_from
from .base import MembershipAttack
from .metrics import roc_points
from .queries import LABEL_ANSWERS, answered_labels, check_records, label_match
from .shadows import DEFAULT_SUBSTITUTE, ShadowSet

__all__ = ["LabelGap", "MAX_QUERIES", "NoiseRobustness", "QUERY_ROWS", "SCALES"]

#: the noise scales ``scale="auto"`` chooses from on the shadows
SCALES = (0.05, 0.1, 0.2, 0.4)
#: most perturbed copies per record
MAX_QUERIES = 1000
#: perturbed rows encoded and queried at once (64 MB for 32 encoded columns)
QUERY_ROWS = 1 << 18


class _LabelOnly(MembershipAttack):
    """Shared by the label-only attacks: they read labels, and score ``correct``, whether
    each query of a record got its true label."""

    reads: ClassVar[tuple[str, ...]] = LABEL_ANSWERS

    def score(self, records: pd.DataFrame) -> np.ndarray:
        """Membership score of each record, shape (n,); higher means more likely a member.

        Raises
        ------
        DataError
            ``records`` is not a frame with the model's columns.
        """
        return self._score_answers(self.answers(records), None, None)  # it checks them

    def score_answers(self, correct: Any, shadow_confidence: Any = None,
                      in_mask: Any = None) -> np.ndarray:
        """Membership scores from answers already read (no model is queried).

        Parameters
        ----------
        correct : array-like of bool or 0/1
            Whether each query got the record's true label, as :meth:`answers` gives:
            shape (n,) for :class:`LabelGap`, (n, n_queries + 1) for
            :class:`NoiseRobustness` (the record itself first).
        shadow_confidence, in_mask : None
            Not read: the label-only attacks score the target's labels alone.

        Raises
        ------
        DataError
            Wrong shape, or values other than 0 and 1.
        """
        check_is_fitted(self, "oracle_")
        array = np.asarray(correct)
        width = self._width()
        expected = "(n,)" if width is None else f"(n, {width})"
        if array.ndim != (1 if width is None else 2) or (
                width is not None and array.shape[1] != width):
            raise DataError(f"correct must have shape {expected}, received {array.shape}")
        if array.dtype != bool and not np.isin(array, (0, 1)).all():
            raise DataError("correct must hold booleans or 0 / 1 (whether each query got "
                            "the true label)")
        return self._score_answers(array.astype(bool), None, None)

    def _width(self) -> int | None:  # None: one answer per record
        return None

    @abstractmethod
    def answers(self, records: pd.DataFrame) -> np.ndarray:
        """Whether each query of each record got its true label (see
        :meth:`score_answers`)."""


class LabelGap(_LabelOnly):
    """The gap attack (Yeom et al. 2018; the baseline of Choquette-Choo et al. 2021).

    Score 1 when the model's label for the record is its true label, else 0: a model
    that fits its training data labels its members correctly more often than other
    records. With confidence answers the label is the largest confidence.

    Raises
    ------
    AttackError
        A regression (it answers an output, not a label: the loss attack covers it).

    References
    ----------
    S. Yeom, I. Giacomelli, M. Fredrikson, S. Jha, "Privacy Risk in Machine Learning:
    Analyzing the Connection to Overfitting", IEEE CSF 2018.
    C. A. Choquette-Choo, F. Tramer, N. Carlini, N. Papernot, "Label-Only Membership
    Inference Attacks", ICML 2021.

    Examples
    --------
    >>> from tabinv.data.registry import builtin_card
    >>> from tabinv.data.synthetic import synthetic_iwpc
    >>> from tabinv.models.families import make_model
    >>> from tabinv.models.oracle import Oracle
    >>> frame = synthetic_iwpc(90, random_state=0)
    >>> card = builtin_card("iwpc").with_label("dose_class")
    >>> target = make_model("tree", card, max_depth=3).fit(frame[:30])
    >>> gap = LabelGap().fit(Oracle.for_model(target, "label-only"), frame[60:])
    >>> sorted(set(gap.score(frame[:60]).tolist()))
    [0.0, 1.0]
    """

    def _fit(self, candidates: pd.DataFrame | None, shadows: ShadowSet | None,
             client: Any) -> None:
        return None

    def answers(self, records: pd.DataFrame) -> np.ndarray:
        """Whether the model gives each record its true label, shape (n,)."""
        check_is_fitted(self, "oracle_")
        return label_match(self.oracle_, check_records(records, self.oracle_.model,
                                                       "records"))

    def _score_answers(self, confidence: np.ndarray, shadow_confidence: np.ndarray | None,
                       in_mask: np.ndarray | None) -> np.ndarray:
        return confidence.astype(float)


def _auc(member_scores: np.ndarray, non_member_scores: np.ndarray) -> float:
    fpr, tpr, _ = roc_points(member_scores, non_member_scores)
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2.0))


class NoiseRobustness(_LabelOnly):
    """Noise-robustness label-only attack (Choquette-Choo et al. 2021), for tabular records.

    Each record is queried as it is and as ``n_queries`` perturbed copies: a numeric
    feature gets Gaussian noise of ``scale`` times its standard deviation on the
    reference sample (kept inside the card's public bounds), a categorical feature is
    replaced, with probability ``min(scale, 1)``, by a value drawn from the reference
    sample's marginal of that column. Which of these answers are the true label is the
    record's answer pattern, summed up by ``statistic``:

    - ``share``: the share of the answers that are the true label (the paper's
      statistic: members of a smooth model sit further from the decision boundary).
    - ``learned`` (default): the log likelihood ratio of the pattern (whether the record
      itself got its label, and how many copies did) among the shadows' IN records
      against their OUT records, counts pooled over the shadows (plus one). The paper
      calibrates its attack on shadows; learning the direction matters for trees,
      whose members with an unusual label sit on small islands of their own: labelled
      correctly, yet less robust to noise than non-members labelled correctly.

    ``scale="auto"`` picks the scale from ``scales`` on offline shadow models trained on
    the reference sample: each shadow's IN records against its OUT records, the mean
    AUC over shadows (``learned``: each shadow scored by the table of the others), the
    first best on ties.

    The copies of the ``i``-th record of a call are fixed by the seed drawn from
    ``random_state`` at ``fit``, ``i`` and the chunk of :data:`QUERY_ROWS` rows it falls
    in: the same records give the same perturbations every time. Scales share the draws
    (only the size of the noise changes). A categorical value is drawn as
    ``values[floor(u * len(values))]``, ``u`` uniform and ``values`` the column's
    non-missing reference values in order.

    Parameters
    ----------
    n_queries : int, default 16
        Perturbed copies per record (1 to :data:`MAX_QUERIES`).
    scale : float or "auto", default "auto"
        Noise scale (> 0).
    scales : sequence of float, default :data:`SCALES`
        The scales ``auto`` chooses from.
    statistic : {"learned", "share"}
        How the answer pattern is scored (shadows are trained for ``learned``, and for
        ``auto``).
    n_shadows : int, default 16
        Shadow models, trained on halves of the reference sample when none are given.
    n_jobs, substitute, random_state
        As for :class:`~tabinv.membership.attacks.LiRA`.

    Attributes
    ----------
    scale_ : float
        The scale used.
    calibration_ : tuple of (float, float)
        Each scale tried and its mean AUC on the shadows (empty without shadows).
    table_ : numpy.ndarray or None
        ``learned``: the score of each answer pattern ``own * (n_queries + 1) + k``.

    Raises
    ------
    AttackError
        Bad parameters, or a regression (it answers an output, not a label).

    References
    ----------
    C. A. Choquette-Choo, F. Tramer, N. Carlini, N. Papernot, "Label-Only Membership
    Inference Attacks", ICML 2021.

    Examples
    --------
    >>> from tabinv.data.registry import builtin_card
    >>> from tabinv.data.synthetic import synthetic_iwpc
    >>> from tabinv.models.families import make_model
    >>> frame = synthetic_iwpc(90, random_state=0)
    >>> card = builtin_card("iwpc").with_label("dose_class")
    >>> target = make_model("tree", card, max_depth=3).fit(frame[:30])
    >>> attack = NoiseRobustness(n_queries=4, n_shadows=4).fit(target, frame[60:])
    >>> attack.scale_ in SCALES, attack.score(frame[:60]).shape
    (True, (60,))
    """

    def __init__(self, *, n_queries: int = 16, scale: float | str = "auto",
                 scales: Sequence[float] = SCALES, statistic: str = "learned",
                 n_shadows: int = 16, n_jobs: int = 1, substitute: str = DEFAULT_SUBSTITUTE,
                 random_state: Any = 0) -> None:
        self.n_queries = n_queries
        self.scale = scale
        self.statistic = statistic
        self.scales = scales
        self.n_shadows = n_shadows
        self.n_jobs = n_jobs
        self.substitute = substitute
        self.random_state = random_state

    def _check_params(self) -> tuple[float, ...]:
        if isinstance(self.n_queries, bool) or not isinstance(self.n_queries, (int, np.integer)) \
                or not 1 <= self.n_queries <= MAX_QUERIES:
            raise AttackError(f"n_queries must be a whole number from 1 to {MAX_QUERIES}, "
                              f"received {self.n_queries!r}")
        if self.statistic not in ("learned", "share"):
            raise AttackError(f"statistic must be 'learned' or 'share', received "
                              f"{self.statistic!r}")
        if self.scale != "auto" and not _positive(self.scale):
            raise AttackError(f"scale must be a positive number or 'auto', received "
                              f"{self.scale!r}")
        scales = tuple(self.scales) if isinstance(self.scales, (list, tuple)) else ()
        if not scales or not all(_positive(s) for s in scales):
            raise AttackError(f"scales must be a non-empty list of positive numbers, "
                              f"received {self.scales!r}")
        return tuple(float(s) for s in scales)

    def _fit(self, candidates: pd.DataFrame | None, shadows: ShadowSet | None,
             client: Any) -> None:
        scales = self._check_params()
        self.seed_ = seed_from(self.random_state)
        self._learn_noise(self.oracle_.model)
        self.table_ = None
        if self.scale != "auto" and self.statistic == "share":
            self.scale_, self.calibration_ = float(self.scale), ()
            return
        self.shadows_ = self._shadows(self.reference_, shadows, client)
        pool, models = self.shadows_.pool, self.shadows_.models
        inside = self.shadows_.in_mask(pool)
        tried, tables = [], []
        for scale in scales if self.scale == "auto" else (float(self.scale),):
            correct = self._correct(pool, models, scale)  # (S, n, q + 1)
            counts = _cell_counts(correct, inside)  # (S, 2, cells): OUT, IN
            aucs = []
            for s, (answers, mask) in enumerate(zip(correct, inside, strict=True)):
                if not mask.any() or mask.all():
                    continue
                # share, or the table learned on the other shadows (out of fold)
                score = answers.mean(axis=1) if self.statistic == "share" else \
                    _log_ratio(counts.sum(axis=0) - counts[s])[_cells(answers)]
                aucs.append(_auc(score[mask], score[~mask]))
            tried.append((scale, float(np.mean(aucs)) if aucs else 0.5))
            tables.append(_log_ratio(counts.sum(axis=0)))
        self.calibration_ = tuple(tried)
        best = max(auc for _, auc in tried)
        chosen = next(i for i, (_, auc) in enumerate(tried) if auc >= best - 1e-12)
        self.scale_ = tried[chosen][0]
        if self.statistic == "learned":
            self.table_ = tables[chosen]

    def _learn_noise(self, model: TargetModel) -> None:
        """Each numeric feature's standard deviation and bounds, each categorical
        feature's values, from the reference sample."""
        columns = (model.card or {})["columns"]
        reference = self.reference_
        self.categorical_ = tuple(f for f in model.features if "domain" in columns[f])
        self.numeric_ = tuple(f for f in model.features if f not in self.categorical_)
        values = {f: pd.to_numeric(reference[f], errors="coerce").to_numpy(dtype=float)
                  for f in self.numeric_}
        self.stds_ = np.array([np.nanstd(values[f]) if np.isfinite(values[f]).any() else 0.0
                               for f in self.numeric_])
        bounds = [columns[f].get("bounds") or (-np.inf, np.inf) for f in self.numeric_]
        self.bounds_ = np.array(bounds, dtype=float).reshape(len(self.numeric_), 2)
        self.pools_ = tuple(reference[f].dropna().to_numpy(dtype=object)
                            for f in self.categorical_)

    def _width(self) -> int | None:
        return int(self.n_queries) + 1

    def perturbed(self, records: pd.DataFrame, start: int = 0,
                  scale: float | None = None) -> pd.DataFrame:
        """The perturbed copies of ``records`` (the model's features), record by record:
        row ``i * n_queries + k`` is copy ``k`` of record ``i``; ``start`` is the
        position of the first record in its call (it seeds the draws)."""
        check_is_fitted(self, "seed_")
        scale = self.scale_ if scale is None else float(scale)
        n, q = len(records), int(self.n_queries)
        rng = np.random.default_rng([self.seed_, int(start)])
        noise = rng.standard_normal((n, q, len(self.numeric_)))
        draws = rng.random((n, q, len(self.categorical_)))
        picks = rng.random((n, q, len(self.categorical_)))
        copies = records[list(self.oracle_.model.features)].iloc[np.repeat(np.arange(n), q)]
        copies = copies.reset_index(drop=True)
        for j, feature in enumerate(self.numeric_):
            value = pd.to_numeric(records[feature], errors="coerce").to_numpy(dtype=float)
            moved = value[:, None] + scale * self.stds_[j] * noise[:, :, j]
            copies[feature] = np.clip(moved, *self.bounds_[j]).reshape(-1)
        replace = draws < min(scale, 1.0)
        for j, (feature, pool) in enumerate(zip(self.categorical_, self.pools_, strict=True)):
            value = records[feature].to_numpy(dtype=object)
            if pool.size == 0:  # nothing to draw from: the feature stays as it is
                copies[feature] = np.repeat(value, q)
                continue
            drawn = pool[(picks[:, :, j] * pool.size).astype(np.intp)]
            chosen = np.where(replace[:, :, j], drawn, value[:, None])
            copies[feature] = pd.Series(chosen.reshape(-1), dtype=object)
        return copies

    def _correct(self, records: pd.DataFrame, models: Sequence[TargetModel],
                 scale: float) -> np.ndarray:
        """(len(models), n, n_queries + 1): whether each model's label (seen through the
        oracle) is the true label, for each record and then each perturbed copy."""
        model = self.oracle_.model
        q = int(self.n_queries)
        codes = model.label_codes(records[model.label])
        correct = np.zeros((len(models), len(records), q + 1), dtype=bool)
        step = max(1, QUERY_ROWS // q)
        for start in range(0, len(records), step):
            stop = min(start + step, len(records))
            chunk = records.iloc[start:stop]
            itself = model.encode(chunk)
            encoded = model.encode(self.perturbed(chunk, start, scale))
            for s, shadow in enumerate(models):
                correct[s, start:stop, 0] = answered_labels(self.oracle_, itself, shadow) \
                    == codes[start:stop]
                labels = answered_labels(self.oracle_, encoded, shadow).reshape(-1, q)
                correct[s, start:stop, 1:] = labels == codes[start:stop, None]
        return correct

    def answers(self, records: pd.DataFrame) -> np.ndarray:
        """Whether the target gives each record, then each of its perturbed copies, its
        true label: shape (n, n_queries + 1)."""
        check_is_fitted(self, "oracle_")
        records = check_records(records, self.oracle_.model, "records")
        return self._correct(records, (self.oracle_.model,), self.scale_)[0]

    def _score_answers(self, confidence: np.ndarray, shadow_confidence: np.ndarray | None,
                       in_mask: np.ndarray | None) -> np.ndarray:
        if self.table_ is None:
            return confidence.mean(axis=1)
        return self.table_[_cells(confidence)]


def _cells(correct: np.ndarray) -> np.ndarray:
    """The answer pattern of each record (..., n): ``own * (q + 1) + k``, ``own`` whether
    the record itself got its label and ``k`` how many of its ``q`` copies did."""
    q = correct.shape[-1] - 1
    return correct[..., 0].astype(np.intp) * (q + 1) + correct[..., 1:].sum(axis=-1)


def _cell_counts(correct: np.ndarray, inside: np.ndarray) -> np.ndarray:
    """(S, 2, 2 (q + 1)) counts of each answer pattern among each shadow's OUT (0) and
    IN (1) records."""
    n_shadows, _, width = correct.shape
    cells = _cells(correct) + 2 * width * inside.astype(np.intp)  # IN patterns after OUT
    flat = cells + (np.arange(n_shadows) * 4 * width)[:, None]
    counts = np.bincount(flat.ravel(), minlength=n_shadows * 4 * width)
    return counts.reshape(n_shadows, 2, 2 * width)


def _log_ratio(counts: np.ndarray) -> np.ndarray:
    """log P(pattern | IN) - log P(pattern | OUT) from (2, cells) counts, each count
    plus one (a pattern no shadow showed scores near 0)."""
    smoothed = counts + 1.0
    frequency = smoothed / smoothed.sum(axis=1, keepdims=True)
    return np.log(frequency[1]) - np.log(frequency[0])


def _positive(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.number)) \
        and bool(np.isfinite(value)) and value > 0
