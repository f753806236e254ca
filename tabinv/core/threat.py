"""The threat model: what the attacker knows and can query, and how results are scored.

One definition for every front end (Python API, CLI, inventories, sweeps). The access
vocabulary is :data:`~tabinv.models.oracle.ACCESS_LEVELS`; the default attacks and
priors are :data:`~tabinv.attacks.specs.DEFAULT_ATTACKS` and
:data:`~tabinv.attacks.specs.DEFAULT_PRIORS`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from numbers import Integral
from os import PathLike
from typing import Any

from ..attacks.priors import Prior, TablePrior
from ..attacks.specs import AttackSpec, expand_specs
from ..evaluation.smallcells import DEFAULT_MIN_CELL
from ..exceptions import AttackError
from ..models.oracle import Oracle, check_access
from ..models.target import TargetModel
from ..params import Constraints, InstanceOf, Interval, Options, SequenceOf, validate
from ..text import shorten
from ..vocabulary import ACCESS_LEVELS

__all__ = ["LABEL_SOURCES", "PARAMETERS", "ThreatModel"]

#: the label the attacker holds: the record's own, or the model's prediction for it
LABEL_SOURCES = ("true", "predicted")

AttackChoice = str | AttackSpec
PriorChoice = str | Prior | PathLike[str]


_NAMES = SequenceOf(str)
_WHOLE = Interval(Integral, 1, None, closed="left")

#: what each field of :class:`ThreatModel` takes, checked when one is made
PARAMETERS: Constraints = {
    "sensitive": [_NAMES],
    "known": [_NAMES, None],
    "attacks": [InstanceOf(tuple, "a list of attack names or AttackSpecs"), None],
    "priors": [InstanceOf(tuple, "a list of prior names, Priors or prior tables"), None],
    "attack_params": [InstanceOf(Mapping, "a mapping of attack name to its parameters")],
    "access": [Options(str, tuple(ACCESS_LEVELS)), None],
    "decimals": [Interval(Integral, 0, None, closed="left"), None],
    "label_source": [Options(str, LABEL_SOURCES)],
    "positive": [InstanceOf(Mapping, "a mapping of attribute to its positive value")],
    "top_k": [_WHOLE],
    "n_boot": [_WHOLE],
    "random_state": [Interval(Integral, 0, None, closed="left")],
    "memory": [_WHOLE, None],
    "shortcuts": [InstanceOf(bool, "True or False")],
    "min_cell": [Interval(Integral, 0, None, closed="left")],
}


@dataclass(frozen=True)
class ThreatModel:
    """What the attacker knows and can query, and how results are scored.

    Parameters
    ----------
    sensitive : tuple of str
        Attribute(s) to infer; several are inferred jointly.
    known : tuple of str, optional
        Features the attacker knows. Default: every model feature that is not sensitive
        and that the attacked records hold (the others are unknown and summed out).
    attacks : tuple of str or AttackSpec, optional
        Registered attack names (``all``: every one that applies) or specs. Default:
        :data:`~tabinv.attacks.specs.DEFAULT_ATTACKS`.
    priors : tuple, optional
        Priors of the attacks named in ``attacks`` that take one: ``marginal``,
        ``learned``, ``published``, ``conditional:COL[,COL]``, a :class:`Prior`, or the
        path of a prior table (CSV/Parquet: given columns, sensitive columns,
        ``probability``). Default: :data:`~tabinv.attacks.specs.DEFAULT_PRIORS` when
        the attacker has a reference sample, else ``published`` (the model's own
        training marginals).
    attack_params : mapping, optional
        Attack name -> {parameter: value} for the attacks named in ``attacks`` (e.g.
        ``{"csmia": {"smoothing": 0.5}}``); each attack checks its own.
    access : str, optional
        One of :data:`~tabinv.models.oracle.ACCESS_LEVELS`: ``confidences``,
        ``rounded`` (with ``decimals``), ``label-only`` or ``white-box``. Default:
        ``white-box`` when an attack needs the model file, else ``confidences``. With
        another level, attacks that need the model file are refused (or skipped with a
        note when they come from ``all``).
    decimals : int, optional
        Decimals of ``rounded`` access.
    label_source : {"true", "predicted"}
        The attacker holds the record's true label (the papers' threat model) or the
        model's prediction for the full record.
    positive : mapping, optional
        Attribute -> positive value, for precision / recall / G-mean ... of that value.
    top_k : int
        k of the top-k precision.
    n_boot, random_state, memory
        Bootstrap replicates, seed, bytes the attacks may hold (their grids, chunks and
        (n, K) posteriors; default 1 GiB; refused with the numbers when short).
    shortcuts : bool
        Let attacks answer the candidate grid from the model's parts (linear
        coefficients, tree nodes) where that gives the model's own answers (default);
        False queries the model on every grid row (same results, slower).
    min_cell : int
        Counts of 1 to ``min_cell - 1`` records in the per-value and confusion tables
        are withheld (small-cell suppression, :mod:`tabinv.evaluation.smallcells`;
        default 10, 0 withholds nothing). The metrics are computed on every record.
    """

    sensitive: tuple[str, ...]
    known: tuple[str, ...] | None = None
    attacks: tuple[AttackChoice, ...] | None = None
    priors: tuple[PriorChoice, ...] | None = None
    attack_params: Mapping[str, Mapping[str, Any]] | None = field(default_factory=dict)
    access: str | None = None
    decimals: int | None = None
    label_source: str = "true"
    positive: Mapping[str, Any] | None = field(default_factory=dict)
    top_k: int = 100
    n_boot: int = 200
    random_state: int = 0
    memory: int | None = None
    shortcuts: bool = True
    min_cell: int = DEFAULT_MIN_CELL

    def __post_init__(self) -> None:
        for name in ("positive", "attack_params"):  # None: none given
            if getattr(self, name) is None:
                object.__setattr__(self, name, {})
        for name in ("sensitive", "known", "attacks", "priors"):
            value = getattr(self, name)
            if isinstance(value, (str, bytes, AttackSpec, Prior, PathLike)):
                value = (value,)  # one name, not its letters
            if isinstance(value, (list, tuple)):
                object.__setattr__(self, name, tuple(value))
        validate("threat model", {f.name: getattr(self, f.name) for f in fields(self)},
                 PARAMETERS, AttackError)
        if not self.sensitive:
            raise AttackError("threat model: sensitive must name at least one column")
        if self.access is not None:
            check_access(self.access, self.decimals)
        elif self.decimals is not None:
            raise AttackError("threat model: decimals apply to access 'rounded'; give "
                              "access='rounded'")
        self._check_attacks()

    def _check_attacks(self) -> None:
        """Refuse unknown attacks, priors and attack parameters now, before any data is
        read or model trained (prior tables are read when the attacks run)."""
        names = [a for a in self.attacks or () if not isinstance(a, AttackSpec)]
        for name in names:
            if not isinstance(name, str):
                raise AttackError(f"an attack is a registered name or an AttackSpec, got "
                                  f"{shorten(name)}")
        priors = [p for p in self.priors or () if not isinstance(p, PathLike)]
        for prior in priors:
            if not isinstance(prior, (str, Prior)):
                raise AttackError(f"a prior is a name, a Prior or a table's path, got "
                                  f"{shorten(prior)}")
        if names or not self.attacks:
            expand_specs(names, priors or None, params=self.attack_params)

    def specs(self, has_reference: bool = True) -> tuple[AttackSpec, ...]:
        """The attacks to run, one spec per (attack, prior) row of the results."""
        chosen = self.attacks or ()
        given = tuple(a for a in chosen if isinstance(a, AttackSpec))
        names = [a for a in chosen if not isinstance(a, AttackSpec)]
        priors = self.priors
        if priors is None and not has_reference:
            priors = ("published",)  # no population sample: the model's own marginals
        expanded = expand_specs(names, _priors(priors), params=self.attack_params) \
            if names or not given else ()
        return given + expanded

    def access_for(self, model: TargetModel, specs: Sequence[AttackSpec]) -> str:
        """The access level: the one given, or what the model reveals (label-only for a
        model without probabilities), or what the attacks need (white-box when one needs
        the model file and the model has a structure tabinv reads)."""
        if self.access is not None:
            return self.access
        if model.reveals == "labels":  # detected from the model: it has no probabilities
            return "label-only"
        if getattr(model, "reveals_decimals", None) is not None:  # an endpoint rounding
            return "rounded"
        wanted = any(s.needs_white_box for s in specs if not s.optional) or (
            model.has_structure and any(s.needs_white_box for s in specs))
        return "white-box" if wanted else "confidences"

    def known_for(self, model: TargetModel, columns: Sequence[str] | None = None
                  ) -> list[str]:
        """The known features: those given, or every model feature not sensitive (and in
        ``columns``, the attacked records' columns, when given)."""
        if self.known is not None:
            return list(self.known)
        hidden = set(self.sensitive)
        present = set(model.features if columns is None else columns)
        return [f for f in model.features if f not in hidden and f in present]

    def oracle_for(self, model: TargetModel, specs: Sequence[AttackSpec]) -> Oracle:
        access = self.access_for(model, specs)
        decimals = self.decimals
        if access == "rounded" and decimals is None:  # as detected on an endpoint
            decimals = getattr(model, "reveals_decimals", None)
        return Oracle.for_model(model, access, decimals=decimals, shortcuts=self.shortcuts)


def _priors(priors: Sequence[PriorChoice] | None) -> list[str | Prior] | None:
    """The priors, with each prior table's file read into a :class:`TablePrior`."""
    if priors is None:
        return None
    from ..data.tables import read_table

    return [TablePrior(read_table(p), origin=str(p)) if isinstance(p, PathLike) else p
            for p in priors]
