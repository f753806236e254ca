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
from .calibration import fit_calibration
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

__all__ = ["CONFUSIONS", "LIKELIHOODS", "MAPInversion", "PRIOR", "PRIOR_GIVEN", "PRIOR_KINDS"]

PRIOR_KINDS = ("marginal", "conditional", "learned", "published")
CONFUSIONS = ("bayes", "row")
#: the model's answers taken at face value, or calibrated on the reference sample
LIKELIHOODS = ("model", "calibrated")
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
    likelihood : {"model", "calibrated"}
        ``model``: pi(y | output) is what the model reports (its confidence of y, a
        Gaussian with the model's residual sigma, its training confusion counts).
        ``calibrated``: fitted on the reference sample, where the attacker knows the
        sensitive value and so the model's output on each record's true candidate:
        confidences get the isotonic, Platt (per class) or temperature map, or none,
        whichever has the lowest cross-validated log loss on the reference sample
        (seeded by ``random_state``; :mod:`~tabinv.attacks.calibration`); labels get
        the reference sample's confusion table; outputs its residual sigma. The choice
        and the CV scores are in ``describe()["calibration"]``.
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
                  "likelihood": [Options(str, LIKELIHOODS)], "memory": MEMORY,
                  "random_state": RANDOM_STATE}

    def __init__(self, *, prior: str | Prior = "marginal", prior_given: Sequence[str] = (),
                 smoothing: float = 1.0, confusion: str = "bayes", numeric_points: int = 10,
                 likelihood: str = "model", memory: int = DEFAULT_MEMORY,
                 random_state: RandomState = 0) -> None:
        self.prior = prior
        self.prior_given = prior_given
        self.smoothing = smoothing
        self.confusion = confusion
        self.numeric_points = numeric_points
        self.likelihood = likelihood
        self.memory = memory
        self.random_state = random_state

    # -- fitting ----------------------------------------------------------------------
    def _fit(self, reference: pd.DataFrame | None) -> None:
        self._fit_prior_and_grid(reference)
        if self.likelihood == "calibrated":
            self.score_ = self._calibrated_likelihood(reference)
        else:
            self.score_ = self._make_likelihood()

    def _domains(self) -> dict[str, Sequence[Any]]:
        encoder = self.oracle_.model.encoder_
        return {f: encoder.domain(f) for f in self.known_ if encoder.is_categorical(f)}

    def _fit_prior_and_grid(self, reference: pd.DataFrame | None) -> None:
        """The prior, the candidate grid and its unknown features (no calibration yet):
        what every attack built on this one fits first."""
        self.prior_ = self._make_prior(reference)
        self.grid_ = self.candidate_grid(reference, smoothing=self.smoothing,
                                         numeric_points=self.numeric_points,
                                         random_state=self.random_state)
        self.unknown_ = self.grid_.unknown
        self.calibration_: dict[str, Any] | None = None

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

    def _calibrated_likelihood(self, reference: pd.DataFrame | None
                               ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """pi(y | output) fitted on the model's answers for the reference records as they
        are (each with its true sensitive value and its own other features)."""
        oracle, model = self.oracle_, self.oracle_.model
        columns = [*model.features, model.label]
        missing = [] if reference is None else [c for c in columns
                                                if c not in reference.columns]
        if reference is None or missing or not len(reference):
            raise AttackError(
                f"{self.name}: likelihood='calibrated' is fitted on a reference sample "
                "holding every model feature and the label; "
                + ("none was given" if reference is None else
                   "it is empty" if not missing else f"it lacks {', '.join(missing)}"))
        y = np.asarray(model.encode_label(reference[model.label]))
        outputs = oracle.query_encoded(model.encoder_.transform(
            reference[list(model.features)], dtype=model.input_dtype))
        return fit_likelihood(oracle.answers, outputs, y, self.confusion, self.smoothing,
                              self.random_state, self)

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
        plain = {"output": "gaussian", "confidence": "confidence",
                 "label": f"confusion ({self.confusion})"}[self.oracle_.answers]
        facts = {**super().describe(), "prior": self.prior_.describe(),
                 "likelihood": plain}
        if self.calibration_ is not None:
            facts["likelihood"] = f"calibrated {plain} ({self.calibration_['method']})"
            facts["calibration"] = self.calibration_
        return facts


def fit_likelihood(answers: str, outputs: np.ndarray, y: np.ndarray, confusion: str,
                   smoothing: float, random_state: RandomState, attack: MAPInversion
                   ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The calibrated likelihood of ``answers`` fitted on the reference sample's outputs
    and true labels; records what was fitted in ``attack.calibration_``."""
    if answers == "output":
        sigma = float(np.sqrt(np.mean((y - outputs) ** 2)))
        if not sigma > 0:
            raise AttackError(f"{attack.name}: the model reproduces every reference label "
                              "exactly (residual sigma 0); a calibrated Gaussian needs "
                              "some error")
        attack.calibration_ = {"method": "reference residual sigma", "sigma": sigma}
        return lambda grid_outputs, labels: gaussian_log_likelihood(grid_outputs, labels,
                                                                    sigma)
    if answers == "label":
        counts = np.zeros_like(np.asarray(attack.oracle_.confusion, dtype=float))
        np.add.at(counts, (y, outputs), 1)
        table = confusion_table(counts, confusion, smoothing)
        attack.calibration_ = {"method": f"reference confusion ({confusion})",
                               "records": len(y)}
        return lambda grid_outputs, labels: confusion_log_likelihood(grid_outputs, labels,
                                                                     table)
    calibration, losses = fit_calibration(outputs, y, random_state)
    attack.calibration_ = {**calibration.describe(), "records": len(y),
                           "cv_log_loss": {m: round(v, 6) for m, v in losses.items()}}
    attack.calibrator_ = calibration
    return calibration.log_likelihood
