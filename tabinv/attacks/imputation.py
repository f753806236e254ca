"""The imputation classifier: predicts the sensitive attribute(s) without the model.

Jayaraman & Evans (CCS 2022): a classifier trained on a sample of the population
predicts the sensitive value from what the attacker knows. Trained on the attacker's
reference sample it is the *imputation* baseline (what population statistics reveal);
trained on the members it is the *ideal* baseline; without the label it gives the
*learned prior* of the MAP attack.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..models.encoding import TabularEncoder
from ..utils import RandomState, seed_from
from .candidates import Candidates

__all__ = ["Imputer", "LABEL_COLUMN"]

LABEL_COLUMN = "__label__"


class Imputer:
    """Multinomial logistic regression from known columns (and label) to joint candidates.

    Parameters
    ----------
    features : sequence of str
        Known columns used as inputs (plus ``LABEL_COLUMN`` if the label is used).
    domains : mapping
        Domains of the categorical inputs (the rest are numeric).
    candidates : Candidates
        The output classes.
    random_state : int, Generator or None
    ordinal : sequence of str
        Categorical inputs encoded as one index column (SNP dosages), as the model does.
    """

    def __init__(self, features: Sequence[str], domains: dict[str, Sequence[Any]],
                 candidates: Candidates, random_state: RandomState = 0,
                 ordinal: Sequence[str] = ()) -> None:
        self.features = tuple(features)
        self.domains = {f: list(d) for f, d in domains.items() if f in self.features}
        self.candidates = candidates
        self.random_state = random_state
        self.ordinal = tuple(f for f in ordinal if f in self.domains)

    def fit(self, frame: pd.DataFrame, target: np.ndarray) -> Imputer:
        """Fit on ``frame`` (input columns) and joint candidate indices ``target``."""
        self.encoder_ = TabularEncoder(features=self.features, domains=self.domains,
                                       ordinal=self.ordinal).fit()
        self.present_ = np.unique(target)
        if len(self.present_) == 1 or not self.features:
            self.constant_ = np.bincount(target, minlength=self.candidates.size) / len(target)
            return self
        self.constant_ = None
        self.classifier_ = make_pipeline(
            StandardScaler(),
            LogisticRegression(max_iter=5000, random_state=seed_from(self.random_state)),
        ).fit(self.encoder_.transform(frame), target)
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """(n, K) probabilities over every joint candidate (0 for classes never seen)."""
        if self.constant_ is not None:
            return np.tile(self.constant_, (len(frame), 1))
        full = np.zeros((len(frame), self.candidates.size))
        classes = self.classifier_.classes_
        full[:, classes] = self.classifier_.predict_proba(self.encoder_.transform(frame))
        return full
