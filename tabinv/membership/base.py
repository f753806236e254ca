"""The base of the membership attacks: validation, querying the target and the shadows,
and training shadows when none are given; each attack implements ``_fit`` and
``_score_answers``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..exceptions import AttackError
from ..models.oracle import Oracle
from ..models.target import TargetModel
from .queries import (
    CONFIDENCE_ANSWERS,
    as_oracle,
    check_answers,
    check_records,
    label_confidence,
)
from .shadows import ShadowSet, train_shadows

__all__ = ["MembershipAttack"]


class MembershipAttack(ABC, BaseEstimator):
    """Base of the membership attacks: ``fit`` validates and stores the oracle, then
    calls ``_fit``; ``score`` checks, queries the target (and the shadows) and calls
    ``_score_answers``, which :meth:`score_answers` also calls on answers read before."""

    #: the oracle answers the attack reads (:data:`~.queries.CONFIDENCE_ANSWERS` or
    #: :data:`~.queries.LABEL_ANSWERS`)
    reads: ClassVar[tuple[str, ...]] = CONFIDENCE_ANSWERS

    def fit(self, target: Oracle | TargetModel, reference: pd.DataFrame, *,
            candidates: pd.DataFrame | None = None,
            shadows: ShadowSet | None = None, client: Any = None) -> MembershipAttack:
        """Learn what the attack needs from the attacker's reference sample.

        Parameters
        ----------
        target : Oracle or TargetModel
            The attacked classifier (a fitted TargetModel gets confidence access).
        reference : pandas.DataFrame
            The attacker's own sample of the population (never the target's members).
        candidates : pandas.DataFrame, optional
            The records to be attacked (LiRA online trains shadows on them too).
        shadows : ShadowSet, optional
            Shadow models trained already (shared between attacks); trained here
            when None.
        client : distributed.Client or str, optional
            Train those shadows on this Dask cluster (a client, or a scheduler address)
            instead of ``n_jobs`` processes here; the same shadows either way. A place
            to run, not a parameter of the attack: it is neither stored nor cloned.

        Returns
        -------
        self

        Raises
        ------
        AttackError, DataError
            Bad target, records or parameters.
        """
        self.oracle_ = as_oracle(target, self.reads)
        model = self.oracle_.model
        self.reference_ = check_records(reference, model, "reference")
        if candidates is not None:
            candidates = check_records(candidates, model, "candidates")
        if shadows is not None and not isinstance(shadows, ShadowSet):
            raise AttackError(f"shadows must be a ShadowSet, received {type(shadows).__name__}")
        self._fit(candidates, shadows, client)
        return self

    @abstractmethod
    def _fit(self, candidates: pd.DataFrame | None, shadows: ShadowSet | None,
             client: Any) -> None:
        """Fit what the attack needs beyond the oracle and the reference sample."""

    def score(self, records: pd.DataFrame) -> np.ndarray:
        """Membership score of each record, shape (n,); higher means more likely a member.

        Queries the target (and the shadows, for attacks that use them), then scores
        those answers with :meth:`score_answers`.

        Raises
        ------
        DataError
            ``records`` is not a frame with the model's columns.
        """
        check_is_fitted(self, "oracle_")
        records = check_records(records, self.oracle_.model, "records")
        confidence = label_confidence(self.oracle_, records)
        shadows = getattr(self, "shadows_", None)
        if shadows is None:
            return self._score_answers(confidence, None, None)
        return self._score_answers(confidence, shadows.confidences(self.oracle_, records),
                                   shadows.in_mask(records))

    def score_answers(self, confidence: Any, shadow_confidence: Any = None,
                      in_mask: Any = None) -> np.ndarray:
        """Membership scores from answers already read (no model is queried).

        Parameters
        ----------
        confidence : array-like, shape (n,)
            The target's confidence in each record's true label.
        shadow_confidence : array-like, shape (S, n), optional
            Each shadow's confidence in each record's true label, seen through the same
            oracle (:meth:`ShadowSet.confidences`); needed by attacks with shadows,
            ignored by the loss threshold.
        in_mask : array-like of bool, shape (S, n), optional
            Which shadows trained on each record (:meth:`ShadowSet.in_mask`).

        Returns
        -------
        numpy.ndarray, shape (n,)
            What :meth:`score` gives for records with these answers.

        Raises
        ------
        DataError
            Shapes that do not match each other or the fitted shadows, confidences
            outside [0, 1] or not finite.
        """
        check_is_fitted(self, "oracle_")
        shadows = getattr(self, "shadows_", None)
        if shadows is None:
            return self._score_answers(check_answers(confidence), None, None)
        return self._score_answers(*check_answers(confidence, shadow_confidence, in_mask,
                                                  n_shadows=len(shadows.models)))

    @abstractmethod
    def _score_answers(self, confidence: np.ndarray, shadow_confidence: np.ndarray | None,
                       in_mask: np.ndarray | None) -> np.ndarray:
        """Scores from checked answers (see :meth:`score_answers`)."""

    def _shadows(self, pool: pd.DataFrame, given: ShadowSet | None, client: Any
                 ) -> ShadowSet:
        if given is not None:
            return given
        return train_shadows(self.oracle_.model, pool, n_shadows=self.n_shadows,
                             n_jobs=self.n_jobs, client=client, substitute=self.substitute,
                             random_state=self.random_state)
