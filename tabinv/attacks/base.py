"""Base class of attribute-inference attacks (registered by :mod:`.registry`).

Attacks are estimators: ``__init__`` stores keyword-only parameters, whose constraints
the class declares in ``parameters`` (:mod:`tabinv.params`); ``fit`` checks them,
validates the threat model (oracle, sensitive and known columns, the attacker's
reference data) and returns ``self``; ``infer`` returns a :class:`Posterior` over the
candidates.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from numbers import Integral, Real
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..data.dataset import require_columns
from ..exceptions import AttackError, DataError, closest
from ..models.oracle import Oracle
from ..params import Constraint, Constraints, Interval, validate
from ..utils import RandomState
from .budget import POSTERIOR_COPIES, posterior_bytes, require, require_grid
from .candidates import Candidates, Posterior
from .grid import DEFAULT_MEMORY, CandidateGrid
from .pipeline import LazyRecords
from .unknowns import unknown_support

__all__ = ["BaseAttack", "MEMORY", "NUMERIC_POINTS", "SMOOTHING"]

#: constraints (:mod:`tabinv.params`) of the parameters most attacks share
SMOOTHING: list[Constraint | None] = [Interval(Real, 0, None, closed="left")]
NUMERIC_POINTS: list[Constraint | None] = [Interval(Integral, 1, None, closed="left")]
MEMORY: list[Constraint | None] = [Interval(Integral, 1, None, closed="left"), None]


class BaseAttack(BaseEstimator, ABC):
    """Common validation for attacks; subclasses implement ``_fit`` and ``_infer``."""

    name: ClassVar[str] = ""
    #: what one query must return for the attack to work (:data:`~tabinv.models.oracle.ANSWERS`)
    requires: ClassVar[tuple[str, ...]] = ()
    #: whether the attack reads the model's structure (the model file)
    needs_white_box: ClassVar[bool] = False
    #: constraints of each constructor parameter (:mod:`tabinv.params`): checked by
    #: ``fit`` and by :meth:`check_params` (front ends, before any work)
    parameters: ClassVar[Constraints] = {}

    @classmethod
    def check_params(cls, params: Mapping[str, Any]) -> None:
        """Refuse (:class:`AttackError`, one line) a parameter this attack does not take,
        listing those it takes, or a value outside its constraints."""
        validate(cls.name, params, cls.parameters, AttackError)

    def fit(self, oracle: Oracle, *, sensitive: Sequence[str], known: Sequence[str],
            reference: pd.DataFrame | None = None) -> BaseAttack:
        """Fix the threat model and learn what the attacker can learn before attacking.

        Parameters
        ----------
        oracle : Oracle
            What the attacker may query.
        sensitive : sequence of str
            Categorical model features to infer (jointly when several).
        known : sequence of str
            Model features the attacker knows; the others are summed out.
        reference : DataFrame, optional
            The attacker's own sample of the population (priors, unknown features).
        """
        # here, not in __init__, as scikit-learn does: set_params and clone bypass __init__
        self.check_params(self.get_params(deep=False))
        if oracle.answers not in self.requires:
            raise AttackError(
                f"attack {self.name!r} needs {' or '.join(repr(a) for a in self.requires)} "
                f"answers, but access {oracle.level!r} to this {oracle.model.task} model "
                f"gives {oracle.answers!r}"
            )
        if self.needs_white_box and not oracle.model.has_structure:
            raise AttackError(f"attack {self.name!r} reads the model's trees, but "
                              f"{oracle.model.structure_note()}")
        if self.needs_white_box and not oracle.white_box:
            raise AttackError(f"attack {self.name!r} needs white-box access (the model "
                              f"file), but access {oracle.level!r} only answers queries "
                              "(grant access 'white-box')")
        model = oracle.model
        sensitive = tuple(dict.fromkeys(sensitive))
        for column in (*sensitive, *known):
            if column not in model.features:
                raise AttackError(
                    f"column {column!r} is not a feature of the model"
                    f"{closest(column, model.features)}; features are: "
                    f"{', '.join(model.features)}"
                )
        for column in sensitive:
            if not model.encoder_.is_categorical(column):
                raise AttackError(
                    f"sensitive column {column!r} is numeric; attacks infer categorical "
                    "attributes (give it a domain in the card)"
                )
        overlap = set(sensitive) & set(known)
        if overlap:
            raise AttackError(f"column(s) {sorted(overlap)} cannot be both sensitive and known")
        self.oracle_ = oracle
        self.sensitive_ = sensitive
        self.known_ = tuple(f for f in model.features if f in set(known))
        self.unknown_names_ = tuple(f for f in model.features
                                    if f not in set(sensitive) | set(known))
        self.candidates_ = Candidates.from_domains(
            {s: model.encoder_.domain(s) for s in sensitive})
        # sized from the domains before any table over the candidates exists (priors,
        # grid): at least one grid point per candidate
        require_grid(model.encoder_, self.candidates_.size, sensitive, 1, self.budget)
        self._fit(reference)
        return self

    @property
    def budget(self) -> int:
        """Bytes the attack may hold (its ``memory`` parameter, ``--memory``)."""
        memory = getattr(self, "memory", None)
        return DEFAULT_MEMORY if memory is None else int(memory)

    def posterior_copies(self) -> int:
        """(n, K) float64 arrays alive at once while this attack's posterior is made and
        scored (see :data:`~tabinv.attacks.budget.POSTERIOR_COPIES`)."""
        return POSTERIOR_COPIES

    def memory_needed(self, n_records: int) -> int:
        """Bytes inferring ``n_records`` records holds at its peak, from sizes alone: the
        grid's tables and one record's chunks, and the (n, K) arrays of the result."""
        check_is_fitted(self, "candidates_")
        grid = getattr(self, "grid_", None)
        fixed = 0 if grid is None else grid.fixed_bytes(self.oracle_)
        return fixed + self.reserved_bytes(n_records)

    def reserved_bytes(self, n_records: int) -> int:
        """The (n, K) arrays of inferring ``n_records`` records, kept out of the grid's
        chunks: at :meth:`memory_needed` the chunks hold one record each."""
        return posterior_bytes(n_records, self.candidates_.size, self.posterior_copies())

    def check_memory(self, n_records: int, reserved: int = 0) -> None:
        """Refuse (:class:`AttackError`, with the numbers) unless inferring ``n_records``
        records fits the budget next to ``reserved`` bytes the caller already holds."""
        require(self.memory_needed(n_records) + reserved, self.budget,
                f"{self.name}: the posteriors of {n_records:,} records",
                self.candidates_.size, per_record=True)

    @abstractmethod
    def _fit(self, reference: pd.DataFrame | None) -> None:
        """Learn what the attacker can learn before attacking (priors, grids, ...)."""

    def encode_known(self, records: pd.DataFrame) -> np.ndarray:
        """Encode the records' known columns once, in the float type the model computes
        in; hidden columns are left as zeros for the candidate grid to patch."""
        hidden = (*self.sensitive_, *self.unknown_names_)
        model = self.oracle_.model
        return model.encoder_.transform(records[list(self.known_)], skip=hidden,
                                        dtype=model.input_dtype)

    def lazy_known(self, records: pd.DataFrame) -> LazyRecords:
        """:meth:`encode_known`, block by block as the grid's chunks reach the records (so
        encoding overlaps the model's queries; the values are the same)."""
        records = records[list(self.known_)]

        def encode(start: int, stop: int) -> np.ndarray:
            try:
                return self.encode_known(records.iloc[start:stop])
            except DataError:
                self.encode_known(records)  # the message counts every record, not a block
                raise

        return LazyRecords(encode, len(records), self.oracle_.model.encoder_.n_output_)

    def candidate_grid(self, reference: pd.DataFrame | None, *, smoothing: float,
                       numeric_points: int, random_state: RandomState = 0) -> CandidateGrid:
        """The candidate grid of this threat model: every candidate x the unknown features'
        support points (see :func:`~tabinv.attacks.unknowns.unknown_support`)."""
        model = self.oracle_.model
        unknown = unknown_support(model, self.unknown_names_, reference, smoothing,
                                  numeric_points, random_state)
        return CandidateGrid(model.encoder_, self.candidates_, unknown, self.budget)

    def infer(self, records: pd.DataFrame, labels: Any = None) -> Posterior:
        """Posterior over the candidates for every record.

        Parameters
        ----------
        records : DataFrame
            The attacked records: at least the known columns.
        labels : array-like, optional
            The label the attacker holds for each record, on the label's own scale;
            defaults to the records' label column (the true label).
        """
        check_is_fitted(self, "candidates_")
        require_columns(records, self.known_, "attacked records")
        model = self.oracle_.model
        if labels is None:
            require_columns(records, [model.label], "attacked records")
            labels = records[model.label]
        y = model.encode_label(labels)
        if len(y) != len(records):
            raise AttackError(f"{len(y)} labels for {len(records)} records")
        self.check_memory(len(records))
        return self._infer(records.reset_index(drop=True), np.asarray(y))

    @abstractmethod
    def _infer(self, records: pd.DataFrame, y: np.ndarray) -> Posterior:
        """Posterior for validated records and their labels on the fitted scale."""

    def describe(self) -> dict[str, Any]:
        check_is_fitted(self, "candidates_")
        changed = self.changed_params()
        return {"attack": self.name, "sensitive": list(self.sensitive_),
                "known": list(self.known_), "unknown": list(self.unknown_names_),
                **self.oracle_.describe(), **({"parameters": changed} if changed else {})}

    def changed_params(self) -> dict[str, Any]:
        """Parameters set away from their defaults, except those every assessment records
        elsewhere (prior and prior_given in the variant; memory and random_state)."""
        defaults = {name: p.default for name, p in
                    inspect.signature(type(self).__init__).parameters.items()}
        return {name: value for name, value in self.get_params(deep=False).items()
                if name not in ("prior", "prior_given", "memory", "random_state")
                and name in defaults and not _same(value, defaults[name])}


def _same(value: Any, default: Any) -> bool:
    try:
        return bool(value == default)
    except (TypeError, ValueError):  # values whose == is not a bool (arrays)
        return value is default
