"""Which attacks to run: names (or ``all``) crossed with prior settings, with parameters."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import AttackError
from ..params import FrozenParams, check_names
from ..text import shorten
from ..utils import RandomState
from ..vocabulary import method_label
from .base import BaseAttack
from .priors import Prior
from .registry import attack_class, attack_names

__all__ = ["DEFAULT_ATTACKS", "DEFAULT_PRIORS", "SHARED_PARAMS", "AttackSpec", "expand_specs",
           "takes_prior"]

#: The attacks run when none is named, by the Python API, the CLI, inventories and
#: sweeps alike: MAP inversion (Fredrikson et al. 2014) ...
DEFAULT_ATTACKS: tuple[str, ...] = ("map",)
#: ... once with each of these priors: the reference sample's marginal distribution,
#: and a prior learned from the known features (see :mod:`tabinv.attacks.priors`).
#: Without a reference sample, given records are attacked with the ``published`` prior.
DEFAULT_PRIORS: tuple[str, ...] = ("marginal", "learned")

#: constructor parameters a spec's ``params`` may not set, and where they are set instead
SHARED_PARAMS = {"prior": "the spec's prior (--prior, inventory priors)",
                 "prior_given": "the spec's prior (conditional:COL)",
                 "random_state": "the threat model's random_state (--seed, inventory seed)",
                 "memory": "the threat model's memory (--memory)"}


def takes_prior(name: str) -> bool:
    """Whether the registered attack ``name`` has a ``prior`` parameter."""
    return "prior" in inspect.signature(attack_class(name).__init__).parameters


@dataclass(frozen=True)
class AttackSpec:
    """An attack by name with its prior settings and parameters (one row of the results).

    ``optional`` specs come from ``all``: when the attack does not apply to the model or
    the access (e.g. white-box tree inversion of a logistic model) it is skipped with a
    note instead of failing the run. ``params`` are the attack's other constructor
    parameters (e.g. ``{"smoothing": 0.5}``); the prior, the seed and the memory budget
    are set elsewhere (:data:`SHARED_PARAMS`). The name, the prior and ``params`` are
    checked against the attack's constraints when the spec is made.

    Raises
    ------
    AttackError
        An unknown attack, a parameter it does not take (listing those it takes) or a
        value outside the parameter's constraints.
    """

    name: str = "map"
    prior: str | Prior = "marginal"
    prior_given: tuple[str, ...] = ()
    optional: bool = False
    params: Mapping[str, Any] = field(default_factory=FrozenParams)

    def __post_init__(self) -> None:
        cls = attack_class(self.name)
        if not isinstance(self.params, Mapping):
            raise AttackError(f"{self.name}: params must be a mapping of parameter names to "
                              f"values, got {shorten(self.params)}")
        params = FrozenParams(self.params)
        for key in params:
            if key in SHARED_PARAMS:
                raise AttackError(f"{self.name}: {key} is not set per attack; it is "
                                  f"{SHARED_PARAMS[key]}")
        given = tuple(self.prior_given) if isinstance(self.prior_given, (list, tuple)) \
            else self.prior_given
        own = {k: v for k, v in cls.parameters.items() if k not in SHARED_PARAMS}
        check_names(self.name, params, own, AttackError)  # listing those it may set
        if takes_prior(self.name):
            cls.check_params({"prior": self.prior, "prior_given": given})
        cls.check_params(params)
        object.__setattr__(self, "prior_given", given)
        object.__setattr__(self, "params", params)

    @property
    def variant(self) -> str:
        """The prior setting (``learned prior`` ...), and ``calibrated likelihood`` when
        the likelihood is fitted on the reference sample; empty for attacks without
        either."""
        calibrated = ["calibrated likelihood"] \
            if self.params.get("likelihood") == "calibrated" else []
        if not takes_prior(self.name):
            return ", ".join(calibrated)
        if isinstance(self.prior, Prior):
            prior = f"{self.prior.name} prior"
        elif self.prior == "conditional":
            prior = f"prior given {', '.join(self.prior_given)}"
        else:
            prior = f"{self.prior} prior"
        return ", ".join([prior, *calibrated])

    @property
    def label(self) -> str:
        return method_label(self.name, self.variant)

    @property
    def needs_white_box(self) -> bool:
        return bool(attack_class(self.name).needs_white_box)

    def build(self, random_state: RandomState, memory: int | None = None) -> BaseAttack:
        """The attack, unfitted, with the spec's prior and params, the seed and budget."""
        cls = attack_class(self.name)
        accepted = inspect.signature(cls.__init__).parameters
        shared: dict[str, Any] = {"prior": self.prior, "prior_given": self.prior_given,
                                  "random_state": random_state, "memory": memory}
        return cls(**{k: v for k, v in shared.items() if k in accepted and v is not None},
                   **self.params)


def _options(name: str, parameter: str) -> tuple[Any, ...]:
    """The values the registered attack ``name`` allows for ``parameter`` (its
    :class:`~tabinv.params.Options` constraints), empty when it has none."""
    allowed: list[Any] = []
    for constraint in attack_class(name).parameters.get(parameter, ()):
        allowed += list(getattr(constraint, "options", ()))
    return tuple(allowed)


def expand_specs(names: Sequence[str] | None, priors: Sequence[str | Prior] | None,
                 params: Mapping[str, Mapping[str, Any]] | None = None
                 ) -> tuple[AttackSpec, ...]:
    """Attack names (default :data:`DEFAULT_ATTACKS`; ``all`` = every registered attack)
    x prior settings (default :data:`DEFAULT_PRIORS`).

    With ``all``, an attack whose likelihood can be calibrated (``map``,
    ``confidence``) runs twice per prior, with the model's likelihood and with the
    calibrated one (variant ``... prior, calibrated likelihood``), unless ``params`` set
    its likelihood.

    A prior is ``marginal``, ``learned``, ``published``, ``conditional:COL[,COL]`` or a
    :class:`Prior`; attacks without a prior parameter run once. ``params`` maps an
    attack's name to its parameters (``{"csmia": {"smoothing": 0.5}}``), given to every
    spec of that attack; an attack named there must be among those run.

    Raises
    ------
    AttackError
        An unknown attack, parameters for an attack not run, or a parameter the attack
        does not take or a value it refuses (see :class:`AttackSpec`).
    """
    chosen = list(names or DEFAULT_ATTACKS)
    optional = "all" in chosen
    if optional:
        chosen = attack_names()
    for name in chosen:
        attack_class(name)  # a clear error for unknown names
    params = dict(params or {})
    for name in params:
        attack_class(name)
        if name not in chosen:
            raise AttackError(f"parameters are given for attack {shorten(name)}, which is "
                              f"not run (attacks: {', '.join(dict.fromkeys(chosen))})")
    parsed: list[tuple[str | Prior, tuple[str, ...]]] = []
    for prior in priors or DEFAULT_PRIORS:
        if isinstance(prior, Prior):
            parsed.append((prior, ()))
            continue
        kind, _, given = prior.partition(":")
        parsed.append((kind, tuple(g for g in given.split(",") if g)))
    specs: list[AttackSpec] = []
    for name in dict.fromkeys(chosen):
        settings = [params.get(name, {})]
        if optional and "likelihood" not in settings[0] \
                and "calibrated" in _options(name, "likelihood"):
            settings.append({**settings[0], "likelihood": "calibrated"})
        for extra in settings:
            if not takes_prior(name):
                specs.append(AttackSpec(name, optional=optional, params=extra))
                continue
            specs += [AttackSpec(name, kind, given, optional, extra)
                      for kind, given in parsed]
    if not specs:
        raise AttackError("no attack to run")
    return tuple(specs)
