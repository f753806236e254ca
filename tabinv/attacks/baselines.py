"""Baselines every attack is reported against (Jayaraman & Evans, CCS 2022).

- ``prior-mode``: always the most frequent candidate of the reference sample.
- ``imputation``: a classifier trained on the reference sample (never the members)
  predicting the sensitive attribute(s) from the known columns and the label, with no
  access to the model: what population statistics alone reveal.
- ``ideal``: the same classifier trained on the members themselves.
- ``label-rule``: p(s | y) from the reference sample, for a discrete label (on Adult,
  "married iff income > 50K" matches published confidence-attack results).
- ``boosted-imputation``: imputation with the ``meta`` attack's learner (gradient
  boosting, hyperparameters chosen by the same cross-validation on the reference
  sample), fitted whenever ``meta`` runs: ``meta`` is then measured against a model-free
  classifier as strong as its own, so a gain it shows comes from the model's answers,
  not from a stronger learner (on the simulated genomic cohort, gradient boosting on the
  known SNPs alone reaches .91 where the logistic imputation reaches .74).

Each returns a :class:`Posterior` over the same candidates as the attack.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import AttackError
from ..models.encoding import TabularEncoder
from ..models.target import TargetModel
from ..utils import RandomState, seed_from
from ..vocabulary import BASELINES
from .candidates import Candidates, Posterior
from .imputation import LABEL_COLUMN, Imputer

__all__ = ["BASELINES", "BOOSTED_FOLDS", "BaselineSuite"]

#: cross-validation folds of the boosted imputation's search (the meta attack's default)
BOOSTED_FOLDS = 3


class BaselineSuite:
    """Fit every applicable baseline once, then score any set of records.

    Parameters
    ----------
    model : TargetModel
        Only its card is used (domains, label, task): baselines never query the model.
    candidates : Candidates
    known : sequence of str
        Columns the attacker knows.
    smoothing : float
        Added to counts of frequency baselines.
    random_state : int, Generator or None
    """

    def __init__(self, model: TargetModel, candidates: Candidates, known: Sequence[str],
                 smoothing: float = 1.0, random_state: RandomState = 0,
                 boosted: bool = False) -> None:
        self.model = model
        self.candidates = candidates
        self.known = tuple(known)
        self.smoothing = smoothing
        self.random_state = random_state
        self.boosted = boosted

    def inputs(self, frame: pd.DataFrame, labels: Any) -> pd.DataFrame:
        """The imputation classifier's inputs: known columns plus the label."""
        inputs = frame[list(self.known)].copy()
        y = self.model.encode_label(labels)
        inputs[LABEL_COLUMN] = y if self.model.task == "regression" else \
            np.asarray(self.model.domain(self.model.label), dtype=object)[y]
        return inputs

    def imputer(self) -> Imputer:
        """An unfitted imputation classifier over the known columns and the label."""
        encoder = self.model.encoder_
        domains: dict[str, Sequence[Any]] = {f: encoder.domain(f) for f in self.known
                                             if encoder.is_categorical(f)}
        if self.model.task == "classification":
            domains[LABEL_COLUMN] = self.model.domain(self.model.label)
        return Imputer((*self.known, LABEL_COLUMN), domains, self.candidates,
                       self.random_state, ordinal=encoder.ordinal)

    def fit(self, reference: pd.DataFrame, members: pd.DataFrame | None) -> BaselineSuite:
        """Fit on the reference sample (and, for ``ideal``, on the members)."""
        label = self.model.label
        for name, frame in (("reference", reference), ("members", members)):
            if frame is not None and label not in frame.columns:
                raise AttackError(f"the {name} sample has no label column {label!r}")
        truth = self.candidates.joint_index(reference)
        counts = np.bincount(truth, minlength=self.candidates.size) + self.smoothing
        self.prior_ = counts / counts.sum()
        self.imputation_ = self.imputer().fit(self.inputs(reference, reference[label]),
                                               truth)
        self.ideal_ = None
        if members is not None:
            self.ideal_ = self.imputer().fit(self.inputs(members, members[label]),
                                              self.candidates.joint_index(members))
        self.boosted_ = self._fit_boosted(reference, truth) if self.boosted else None
        self.label_rule_ = None
        if self.model.task == "classification":
            y = self.model.encode_label(reference[label])
            table = np.zeros((len(self.model.domain(label)), self.candidates.size))
            np.add.at(table, (y, truth), 1)
            table += self.smoothing
            self.label_rule_ = table / table.sum(axis=1, keepdims=True)
        return self

    def _fit_boosted(self, reference: pd.DataFrame, truth: np.ndarray) -> dict[str, Any]:
        """The ``meta`` attack's classifier search on the imputation inputs (known
        columns and label, no model): the encoder, the classifier (None: one candidate
        only) and the record of the search."""
        from .learners import CLASSIFIERS, search_classifier

        plain = self.imputer()
        encoder = TabularEncoder(features=plain.features, domains=plain.domains,
                                 ordinal=plain.ordinal).fit()
        present = np.unique(truth)
        if len(present) < 2:
            return {"encoder": encoder, "classifier": None, "constant": int(present[0])}
        classifier, record = search_classifier(
            CLASSIFIERS[0], encoder.transform(self.inputs(reference,
                                                          reference[self.model.label])),
            truth, self.candidates.size, BOOSTED_FOLDS, seed_from(self.random_state))
        return {"encoder": encoder, "classifier": classifier, "search": record}

    def describe(self) -> dict[str, Any]:
        """How the fitted baselines were chosen (the boosted imputation's search)."""
        if self.boosted_ is None or "search" not in self.boosted_:
            return {}
        return {"boosted-imputation": self.boosted_["search"]}

    @property
    def names(self) -> tuple[str, ...]:
        names = ["prior-mode", "imputation"]
        if self.boosted_ is not None:
            names.append("boosted-imputation")
        if self.ideal_ is not None:
            names.append("ideal")
        if self.label_rule_ is not None:
            names.append("label-rule")
        return tuple(names)

    def posterior(self, name: str, records: pd.DataFrame, labels: Any) -> Posterior:
        """The baseline ``name``'s posterior for ``records`` holding ``labels``."""
        n = len(records)
        if name == "prior-mode":
            probabilities = np.tile(self.prior_, (n, 1))
        elif name == "imputation":
            probabilities = self.imputation_.predict_proba(self.inputs(records, labels))
        elif name == "ideal" and self.ideal_ is not None:
            probabilities = self.ideal_.predict_proba(self.inputs(records, labels))
        elif name == "boosted-imputation" and self.boosted_ is not None:
            probabilities = self._boosted_proba(records, labels)
        elif name == "label-rule" and self.label_rule_ is not None:
            probabilities = self.label_rule_[self.model.encode_label(labels)]
        else:
            raise AttackError(f"baseline {name!r} is not available here; have {self.names}")
        return Posterior(self.candidates, probabilities, name)

    def _boosted_proba(self, records: pd.DataFrame, labels: Any) -> np.ndarray:
        from .learners import full_proba

        fitted = self.boosted_ or {}
        if fitted.get("classifier") is None:
            probabilities = np.zeros((len(records), self.candidates.size))
            probabilities[:, fitted["constant"]] = 1.0
            return probabilities
        features = fitted["encoder"].transform(self.inputs(records, labels))
        return full_proba(fitted["classifier"], features, self.candidates.size)
