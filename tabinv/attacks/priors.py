"""Priors over the sensitive candidates: marginal, conditional, table or learned.

Every prior is fitted on the attacker's own data (a reference sample of the population
or a published table), never on the target's training records, and returns a log
prior of shape (n, K) for the records under attack.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import AttackError, DataError
from ..models.encoding import encode_codes
from ..utils import as_text_column
from .candidates import Candidates
from .imputation import Imputer

__all__ = ["Prior", "MarginalPrior", "ConditionalPrior", "TablePrior", "LearnedPrior",
           "independent_prior"]


class Prior(ABC):
    """Base class: ``fit`` on the attacker's data, ``log_prob`` for the attacked records."""

    name = "prior"

    @abstractmethod
    def fit(self, reference: pd.DataFrame, candidates: Candidates) -> Prior:
        """Estimate the prior from the attacker's own data; returns ``self``."""

    @abstractmethod
    def log_prob(self, records: pd.DataFrame) -> np.ndarray:
        """(n, K) log prior of every candidate for every attacked record (may be a
        read-only view: callers must not write into it)."""

    def describe(self) -> str:
        return self.name


def shared_row(log_prior: np.ndarray) -> np.ndarray | None:
    """The one row of an (n, K) log prior that is the same for every record (a broadcast
    view, as :meth:`MarginalPrior.log_prob` returns), or None when rows may differ or
    there is none."""
    if len(log_prior) and log_prior.strides[0] == 0:
        return np.asarray(log_prior[0])
    return None


def _smoothed_log(counts: np.ndarray, smoothing: float) -> np.ndarray:
    counts = np.asarray(counts, dtype=float) + smoothing
    total = counts.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(counts / total)


class MarginalPrior(Prior):
    """Joint frequencies of the candidates in the reference sample, plus ``smoothing``."""

    name = "marginal"

    def __init__(self, smoothing: float = 1.0) -> None:
        self.smoothing = smoothing

    def fit(self, reference: pd.DataFrame, candidates: Candidates) -> MarginalPrior:
        counts = np.bincount(candidates.joint_index(reference), minlength=candidates.size)
        self.log_prior_ = _smoothed_log(counts, self.smoothing)
        return self

    def log_prob(self, records: pd.DataFrame) -> np.ndarray:
        """The same row for every record: a read-only (n, K) view, no copy."""
        return np.broadcast_to(self.log_prior_, (len(records), len(self.log_prior_)))


def independent_prior(candidates: Candidates, marginal_counts: Sequence[np.ndarray],
                      smoothing: float = 1.0) -> MarginalPrior:
    """A marginal prior from per-attribute counts (e.g. a model's published marginals)."""
    log_prior = np.zeros(candidates.size)
    for a, counts in enumerate(marginal_counts):
        log_prior += _smoothed_log(counts, smoothing)[candidates.codes[:, a]]
    prior = MarginalPrior(smoothing)
    prior.log_prior_ = log_prior
    prior.name = "published marginals"
    return prior


class ConditionalPrior(Prior):
    """p(candidates | given columns) from the reference sample.

    Groups of the categorical ``given`` columns (e.g. race) get their own smoothed
    frequencies; a group absent from the reference falls back to the marginal.
    """

    name = "conditional"

    def __init__(self, given: Sequence[str], domains: dict[str, Sequence[Any]],
                 smoothing: float = 1.0) -> None:
        if not given:
            raise AttackError("a conditional prior needs at least one column to condition on")
        for column in given:
            if column not in domains:
                raise AttackError(
                    f"the prior can be conditioned only on categorical columns; {column!r} "
                    "is numeric or unknown to the card"
                )
        self.given = tuple(given)
        self.domains = {c: tuple(domains[c]) for c in given}
        self.smoothing = smoothing

    def _group(self, frame: pd.DataFrame) -> np.ndarray:
        index = np.zeros(len(frame), dtype=np.int64)
        for column in self.given:
            if column not in frame.columns:
                raise AttackError(f"the conditional prior needs column {column!r}")
            domain = self.domains[column]
            index = index * len(domain) + encode_codes(frame[column], domain, column)
        return index

    def fit(self, reference: pd.DataFrame, candidates: Candidates) -> ConditionalPrior:
        n_groups = math.prod(len(d) for d in self.domains.values())
        counts = np.zeros((n_groups, candidates.size))
        np.add.at(counts, (self._group(reference), candidates.joint_index(reference)), 1)
        marginal = counts.sum(axis=0)
        log_table = _smoothed_log(counts, self.smoothing)
        empty = counts.sum(axis=1) == 0
        log_table[empty] = _smoothed_log(marginal, self.smoothing)
        self.log_table_ = log_table
        return self

    def log_prob(self, records: pd.DataFrame) -> np.ndarray:
        return self.log_table_[self._group(records)]

    def describe(self) -> str:
        return f"conditional on {', '.join(self.given)}"


class TablePrior(Prior):
    """A user-supplied table: given columns (optional), sensitive columns, ``probability``.

    Rows of one group (same given values) must sum to 1; candidates missing from a
    group have probability 0.
    """

    name = "table"

    def __init__(self, table: pd.DataFrame, origin: str = "prior table") -> None:
        self.table = table
        self.origin = origin

    def fit(self, reference: pd.DataFrame | None, candidates: Candidates) -> TablePrior:
        table = self.table
        if "probability" not in table.columns:
            raise DataError(f"{self.origin}: needs a 'probability' column")
        missing = [n for n in candidates.names if n not in table.columns]
        if missing:
            raise DataError(f"{self.origin}: needs the sensitive column(s) {missing}")
        probability = pd.to_numeric(table["probability"], errors="coerce")
        if probability.isna().any() or (probability < 0).any():
            raise DataError(f"{self.origin}: 'probability' must hold numbers >= 0")
        self.given_ = tuple(c for c in table.columns if c not in (*candidates.names,
                                                                   "probability"))
        joint = candidates.joint_index(table)
        keys = _group_keys(table, self.given_)
        self.groups_ = keys.unique()
        group = self.groups_.get_indexer(keys)
        probs = np.zeros((len(self.groups_), candidates.size))
        np.add.at(probs, (group, joint), probability.to_numpy(dtype=float))
        sums = probs.sum(axis=1)
        if not np.allclose(sums, 1.0, atol=1e-6):
            worst = int(np.argmax(np.abs(sums - 1)))
            raise DataError(f"{self.origin}: probabilities of group "
                            f"{tuple(str(v) for v in np.atleast_1d(self.groups_[worst]))} sum to "
                            f"{sums[worst]:.4f}, not 1")
        with np.errstate(divide="ignore"):
            self.log_table_ = np.log(probs)
        return self

    def log_prob(self, records: pd.DataFrame) -> np.ndarray:
        if not self.given_:
            return np.tile(self.log_table_[0], (len(records), 1))
        missing = [c for c in self.given_ if c not in records.columns]
        if missing:
            raise DataError(f"{self.origin}: the records lack column(s) {missing}")
        index = self.groups_.get_indexer(_group_keys(records, self.given_))
        if (index < 0).any():
            raise DataError(f"{self.origin}: {int((index < 0).sum())} record(s) belong to no "
                            f"group of the table (given columns {list(self.given_)})")
        return self.log_table_[index]


def _group_keys(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Index:
    """Text keys of the given columns, one per row, without a Python loop over rows;
    1, 1.0 and "1" are the same group. No given columns: one group for everyone."""
    if not columns:
        return pd.Index(np.zeros(len(frame), dtype=np.int64))
    return pd.MultiIndex.from_arrays([as_text_column(frame[c]) for c in columns])


class LearnedPrior(Prior):
    """p(candidates | known columns) from the imputation classifier, without the label.

    The label is left out on purpose: its evidence enters through the model's
    likelihood, and using it in the prior too would count it twice.
    """

    name = "learned"

    def __init__(self, known: Sequence[str], domains: dict[str, Sequence[Any]],
                 random_state: Any = 0, ordinal: Sequence[str] = ()) -> None:
        self.known = tuple(known)
        self.domains = domains
        self.random_state = random_state
        self.ordinal = tuple(ordinal)

    def fit(self, reference: pd.DataFrame, candidates: Candidates) -> LearnedPrior:
        self.imputer_ = Imputer(self.known, self.domains, candidates, self.random_state,
                                self.ordinal).fit(reference,
                                                       candidates.joint_index(reference))
        return self

    def log_prob(self, records: pd.DataFrame) -> np.ndarray:
        with np.errstate(divide="ignore"):
            return np.log(self.imputer_.predict_proba(records))

    def describe(self) -> str:
        return "learned from known columns (imputation classifier without the label)"
