"""The candidate set of the sensitive attribute(s) and the posterior over it.

With several sensitive attributes the candidates are their Cartesian product
(VKORC1 x CYP2C9 gives 3 x 6 = 18 joint candidates); posteriors are over the joint
candidates and each attribute's marginal is a sum over the others.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import AttackError
from ..models.encoding import encode_codes

__all__ = ["Candidates", "Posterior"]


@dataclass(frozen=True)
class Candidates:
    """Joint candidates of one or more categorical sensitive attributes.

    Attributes
    ----------
    names : tuple of str
        The sensitive attributes, in order.
    domains : tuple of tuple
        Each attribute's values, in the card's order.
    """

    names: tuple[str, ...]
    domains: tuple[tuple[Any, ...], ...]

    @classmethod
    def from_domains(cls, domains: Mapping[str, Sequence[Any]]) -> Candidates:
        if not domains:
            raise AttackError("an attack needs at least one sensitive attribute")
        return cls(tuple(domains), tuple(tuple(d) for d in domains.values()))

    @property
    def codes(self) -> np.ndarray:
        """(K, n_attributes) category indices of every joint candidate (C order)."""
        return self.decode(np.arange(self.size))

    @property
    def size(self) -> int:
        """K, the exact product of the domain sizes (a Python int: never overflows)."""
        return math.prod(len(d) for d in self.domains)

    def decode(self, index: np.ndarray) -> np.ndarray:
        """(n, n_attributes) category indices of the joint candidates ``index`` (n,),
        without building the (K, n_attributes) table of every candidate."""
        sizes = tuple(len(d) for d in self.domains)
        return np.stack(np.unravel_index(np.asarray(index, dtype=np.int64), sizes),
                        axis=1).reshape(-1, len(sizes))

    def label(self, index: int) -> str:
        """Readable name of one joint candidate ("A/G", or "A/G | *1/*1")."""
        return " | ".join(str(self.domains[a][c])
                          for a, c in enumerate(self.decode(np.array([index]))[0]))

    @property
    def labels(self) -> tuple[str, ...]:
        """Readable names of every joint candidate (K of them: for small K only)."""
        return tuple(self.label(k) for k in range(self.size))

    @property
    def joint_name(self) -> str:
        return "+".join(self.names)

    def joint_index(self, frame: pd.DataFrame) -> np.ndarray:
        """The true joint candidate index of each row of ``frame`` (n,)."""
        index = np.zeros(len(frame), dtype=np.int64)
        for name, domain in zip(self.names, self.domains, strict=True):
            if name not in frame.columns:
                raise AttackError(f"the records have no column {name!r} to score against")
            index = index * len(domain) + encode_codes(frame[name], domain, name)
        return index

    def marginal(self, joint: np.ndarray, attribute: int) -> np.ndarray:
        """Sum joint probabilities (n, K) onto one attribute's values (n, K_a)."""
        sizes = [len(d) for d in self.domains]
        shaped = joint.reshape(joint.shape[0], *sizes)
        others = tuple(1 + a for a in range(len(sizes)) if a != attribute)
        return shaped.sum(axis=others) if others else shaped


#: rows normalised together by :func:`normalise_log_scores` (fits in cache)
NORMALISE_BLOCK = 8192


def row_sums(values: np.ndarray) -> np.ndarray:
    """The sums of the rows of a 2-D array, each computed from its own row only.

    A matrix-vector product (``values @ ones``) is faster but not reproducible: BLAS
    sums the last rows of a block in another order than the others, so a record's
    posterior would change in the last bit with the chunk it lands in (an endpoint's
    chunks are not the in-process attack's). ``einsum`` reduces each row alike.
    """
    return np.einsum("ij->i", values)


def normalise_log_scores(log_scores: np.ndarray, method: str,
                         out: np.ndarray | None = None) -> np.ndarray:
    """Row-wise softmax of log scores (n, K), in blocks that stay in cache (one pass over
    memory instead of four). ``out`` may be ``log_scores`` itself.

    Raises
    ------
    AttackError
        A record has no candidate with a finite score (``method`` names the culprit).
    """
    out = np.empty_like(log_scores, dtype=float) if out is None else out
    for start in range(0, len(log_scores), NORMALISE_BLOCK):
        block = log_scores[start:start + NORMALISE_BLOCK]
        target = out[start:start + NORMALISE_BLOCK]
        peak = block.max(axis=1, keepdims=True)
        if not np.isfinite(peak).all():
            raise AttackError(f"{method}: a record has no candidate with a finite score")
        np.subtract(block, peak, out=target)
        np.exp(target, out=target)
        target /= row_sums(target)[:, None]
    return out


@dataclass(frozen=True)
class Posterior:
    """Normalised scores of every candidate for every record (rows sum to 1).

    ``method`` names what produced it (an attack or a baseline).
    """

    candidates: Candidates
    probabilities: np.ndarray
    method: str

    def __post_init__(self) -> None:
        probabilities = np.asarray(self.probabilities, dtype=float)
        if probabilities.ndim != 2 or probabilities.shape[1] != self.candidates.size:
            raise AttackError(
                f"posterior of shape {probabilities.shape} does not match "
                f"{self.candidates.size} candidates"
            )
        object.__setattr__(self, "probabilities", probabilities)

    @classmethod
    def from_log_scores(cls, candidates: Candidates, log_scores: np.ndarray, method: str,
                        *, overwrite: bool = False) -> Posterior:
        """Normalise unnormalised log scores (n, K) row-wise.

        Rows are normalised in blocks that stay in cache (one pass over memory instead of
        four); ``overwrite=True`` reuses ``log_scores`` (float64) for the result.
        """
        log_scores = np.asarray(log_scores, dtype=float)
        out = log_scores if overwrite else np.empty_like(log_scores)
        return cls(candidates, normalise_log_scores(log_scores, method, out=out), method)

    @property
    def n_records(self) -> int:
        return int(self.probabilities.shape[0])

    def predicted_index(self) -> np.ndarray:
        """Joint MAP candidate index per record (first maximum on ties)."""
        return np.argmax(self.probabilities, axis=1)

    def marginal(self, attribute: str) -> np.ndarray:
        return self.candidates.marginal(self.probabilities, self.candidates.names.index(attribute))

    def to_frame(self, include_probabilities: bool = True) -> pd.DataFrame:
        """Per-record inferred values (joint MAP) and, optionally, every marginal posterior."""
        codes = self.candidates.decode(self.predicted_index())
        columns: dict[str, Any] = {}
        for a, (name, domain) in enumerate(zip(self.candidates.names, self.candidates.domains,
                                                strict=True)):
            columns[f"inferred_{name}"] = np.asarray(domain, dtype=object)[codes[:, a]]
            if include_probabilities:
                marginal = self.marginal(name)
                for k, value in enumerate(domain):
                    columns[f"p_{name}={value}"] = marginal[:, k]
        return pd.DataFrame(columns)
