"""MAP attribute inversion (Fredrikson et al., USENIX Security 2014; CCS 2015).

    s_hat = argmax_v  p(v | prior) * sum_{x_U} pi(y | f(v, x_K, x_U)) prod_j p_j(x_j)

The likelihood pi depends on what the oracle reveals: a Gaussian around a regression's
output (sigma = the model's residual standard deviation), the confidence a classifier
reports for the label, or a label-only classifier's confusion statistics.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from ..exceptions import AttackError
from ..params import RANDOM_STATE, InstanceOf, Options, SequenceOf
from ..utils import RandomState
from .base import MEMORY, NUMERIC_POINTS, SMOOTHING, BaseAttack
from .budget import joint_size, posterior_bytes, require
from .candidates import Posterior
from .grid import DEFAULT_MEMORY
from .likelihood import (
    confidence_log_likelihood,
    confusion_log_likelihood,
    confusion_table,
    gaussian_log_likelihood,
)
from .priors import ConditionalPrior, LearnedPrior, MarginalPrior, Prior, independent_prior
from .registry import register

__all__ = ["CONFUSIONS", "MAPInversion", "PRIOR", "PRIOR_GIVEN", "PRIOR_KINDS"]

PRIOR_KINDS = ("marginal", "conditional", "learned", "published")
CONFUSIONS = ("bayes", "row")
#: constraints of the prior parameters (:mod:`tabinv.params`)
PRIOR = [Options(str, PRIOR_KINDS), InstanceOf(Prior)]
PRIOR_GIVEN = [SequenceOf(str)]


@register
class MAPInversion(BaseAttack):
    """Maximum a posteriori inversion over the joint candidate grid.

    Parameters
    ----------
    prior : {"marginal", "conditional", "learned", "published"} or Prior
        ``marginal``: joint frequencies in the reference sample. ``conditional``:
        frequencies given the ``prior_given`` columns (e.g. genotype given race).
        ``learned``: the imputation classifier's per-record p(s | known) (Jayaraman &
        Evans' BB x IP). ``published``: the marginals stored with the model (no
        reference sample needed). A :class:`Prior` instance is used as given.
    prior_given : sequence of str
        Known categorical columns a conditional prior conditions on.
    smoothing : float
        Added to every count of frequency priors and confusion tables.
    confusion : {"bayes", "row"}
        Label-only likelihood: P(true = y | predicted) (Bayes-consistent, default) or
        P(predicted | true = y).
    numeric_points : int
        Support points (reference quantiles) for each unknown numeric feature.
    memory : int
        Bytes the attack may hold (``--memory``): the candidate grid, its chunks (down
        to one record) and the (n, K) posteriors; what cannot fit is refused with the
        numbers (:mod:`~tabinv.attacks.budget`).
    random_state : int, Generator or None
        Seed of the learned prior's classifier.

    References
    ----------
    Fredrikson, Lantz, Jha, Lin, Page, Ristenpart. Privacy in pharmacogenetics: an
    end-to-end case study of personalized warfarin dosing. USENIX Security 2014.

    Examples
    --------
    >>> from tabinv.data.registry import load_builtin
    >>> from tabinv.data.splits import split_dataset
    >>> from tabinv.models.families import make_model
    >>> from tabinv.models.oracle import Oracle
    >>> data = load_builtin("iwpc"); splits = split_dataset(data.frame, random_state=0)
    >>> model = make_model("linear", data.card).fit(splits.members)
    >>> known = [f for f in model.features if f != "vkorc1"]
    >>> attack = MAPInversion().fit(Oracle.for_model(model), sensitive=["vkorc1"],
    ...                             known=known, reference=splits.reference)
    >>> attack.infer(splits.members).probabilities.shape
    (2081, 3)
    """

    name = "map"
    requires = ("output", "confidence", "label")
    parameters = {"prior": PRIOR, "prior_given": PRIOR_GIVEN, "smoothing": SMOOTHING,
                  "confusion": [Options(str, CONFUSIONS)], "numeric_points": NUMERIC_POINTS,
                  "memory": MEMORY, "random_state": RANDOM_STATE}

    def __init__(self, *, prior: str | Prior = "marginal", prior_given: Sequence[str] = (),
                 smoothing: float = 1.0, confusion: str = "bayes", numeric_points: int = 10,
                 memory: int = DEFAULT_MEMORY, random_state: RandomState = 0) -> None:
        self.prior = prior
        self.prior_given = prior_given
        self.smoothing = smoothing
        self.confusion = confusion
        self.numeric_points = numeric_points
        self.memory = memory
        self.random_state = random_state

    # -- fitting ----------------------------------------------------------------------
    def _fit(self, reference: pd.DataFrame | None) -> None:
        self.prior_ = self._make_prior(reference)
        self.grid_ = self.candidate_grid(reference, smoothing=self.smoothing,
                                         numeric_points=self.numeric_points,
                                         random_state=self.random_state)
        self.unknown_ = self.grid_.unknown
        self.score_ = self._make_likelihood()

    def _domains(self) -> dict[str, Sequence[Any]]:
        encoder = self.oracle_.model.encoder_
        return {f: encoder.domain(f) for f in self.known_ if encoder.is_categorical(f)}

    def _make_prior(self, reference: pd.DataFrame | None) -> Prior:
        model = self.oracle_.model
        if reference is None and not (self.prior == "published" or
                                      isinstance(self.prior, Prior)):
            raise AttackError(
                f"prior {self.prior!r} is estimated from a reference sample; give one, or "
                "use prior='published' (the marginals stored with the model)"
            )
        if isinstance(self.prior, Prior):
            return self.prior.fit(reference, self.candidates_)
        if self.prior == "published":
            return independent_prior(self.candidates_,
                                     [model.marginals_[s] for s in self.sensitive_],
                                     self.smoothing)
        assert reference is not None
        if self.prior == "marginal":
            return MarginalPrior(self.smoothing).fit(reference, self.candidates_)
        if self.prior == "conditional":
            for column in self.prior_given:
                if column not in self.known_:
                    raise AttackError(f"the prior is conditioned on {column!r}, which the "
                                      "attacker does not know")
            prior = ConditionalPrior(self.prior_given, self._domains(), self.smoothing)
            groups = joint_size(len(d) for d in prior.domains.values())
            require(posterior_bytes(groups, self.candidates_.size, 3), self.budget,
                    f"the prior's table for {groups:,} groups of "
                    f"{', '.join(prior.given)}", self.candidates_.size)
            return prior.fit(reference, self.candidates_)
        if self.prior == "learned":
            return LearnedPrior(self.known_, self._domains(), self.random_state,
                                model.encoder_.ordinal).fit(reference, self.candidates_)
        raise AttackError(f"prior {self.prior!r} is not one of {PRIOR_KINDS} or a Prior")

    def _make_likelihood(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        oracle = self.oracle_
        if oracle.answers == "output":
            sigma = oracle.residual_sigma
            return lambda outputs, y: gaussian_log_likelihood(outputs, y, sigma)
        if oracle.answers == "confidence":
            return confidence_log_likelihood
        table = confusion_table(oracle.confusion, self.confusion, self.smoothing)
        return lambda outputs, y: confusion_log_likelihood(outputs, y, table)

    # -- inference --------------------------------------------------------------------
    def log_likelihood(self, records: pd.DataFrame, y: np.ndarray) -> np.ndarray:
        """log p(y | candidate, known columns), unknowns summed out: (n, K)."""
        return self.grid_.log_likelihood(self.oracle_, self.lazy_known(records), self.score_,
                                         y, self.budget, self.reserved_bytes(len(records)))

    def _infer(self, records: pd.DataFrame, y: np.ndarray) -> Posterior:
        probabilities = self.grid_.posterior(self.oracle_, self.lazy_known(records),
                                             self.score_, y, self.prior_.log_prob(records),
                                             self.name, self.budget,
                                             self.reserved_bytes(len(records)))
        return Posterior(self.candidates_, probabilities, self.name)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "prior": self.prior_.describe(),
                "likelihood": {"output": "gaussian", "confidence": "confidence",
                               "label": f"confusion ({self.confusion})"}[self.oracle_.answers]}
