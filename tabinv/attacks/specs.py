"""Which attacks to run: names (or ``all``) crossed with prior settings."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..exceptions import AttackError
from ..utils import RandomState
from ..vocabulary import method_label
from .base import ATTACKS, BaseAttack, attack_names, get_attack
from .priors import Prior

__all__ = ["DEFAULT_ATTACKS", "DEFAULT_PRIORS", "AttackSpec", "expand_specs", "takes_prior"]

#: The attacks run when none is named, by the Python API, the CLI, inventories and
#: sweeps alike: MAP inversion (Fredrikson et al. 2014) ...
DEFAULT_ATTACKS: tuple[str, ...] = ("map",)
#: ... once with each of these priors: the reference sample's marginal distribution,
#: and a prior learned from the known features (see :mod:`tabinv.attacks.priors`).
#: Without a reference sample, given records are attacked with the ``published`` prior.
DEFAULT_PRIORS: tuple[str, ...] = ("marginal", "learned")


def takes_prior(name: str) -> bool:
    """Whether the registered attack ``name`` has a ``prior`` parameter."""
    get_attack(name)  # raises a clear error for unknown names
    return "prior" in inspect.signature(ATTACKS[name].__init__).parameters


@dataclass(frozen=True)
class AttackSpec:
    """An attack by name with its prior settings (one row of the results table).

    ``optional`` specs come from ``all``: when the attack does not apply to the model or
    the access (e.g. white-box tree inversion of a logistic model) it is skipped with a
    note instead of failing the run.
    """

    name: str = "map"
    prior: str | Prior = "marginal"
    prior_given: tuple[str, ...] = ()
    optional: bool = False

    @property
    def variant(self) -> str:
        if not takes_prior(self.name):
            return ""
        if isinstance(self.prior, Prior):
            return f"{self.prior.name} prior"
        if self.prior == "conditional":
            return f"prior given {', '.join(self.prior_given)}"
        return f"{self.prior} prior"

    @property
    def label(self) -> str:
        return method_label(self.name, self.variant)

    @property
    def needs_white_box(self) -> bool:
        return bool(ATTACKS[self.name].needs_white_box)

    def build(self, random_state: RandomState, memory: int | None = None) -> BaseAttack:
        accepted = inspect.signature(ATTACKS[self.name].__init__).parameters
        params: dict[str, Any] = {"prior": self.prior, "prior_given": self.prior_given,
                                  "random_state": random_state, "memory": memory}
        return get_attack(self.name, **{k: v for k, v in params.items()
                                        if k in accepted and v is not None})


def expand_specs(names: Sequence[str] | None, priors: Sequence[str | Prior] | None
                 ) -> tuple[AttackSpec, ...]:
    """Attack names (default :data:`DEFAULT_ATTACKS`; ``all`` = every registered attack)
    x prior settings (default :data:`DEFAULT_PRIORS`).

    A prior is ``marginal``, ``learned``, ``published``, ``conditional:COL[,COL]`` or a
    :class:`Prior`; attacks without a prior parameter run once.
    """
    chosen = list(names or DEFAULT_ATTACKS)
    optional = "all" in chosen
    if optional:
        chosen = attack_names()
    parsed: list[tuple[str | Prior, tuple[str, ...]]] = []
    for prior in priors or DEFAULT_PRIORS:
        if isinstance(prior, Prior):
            parsed.append((prior, ()))
            continue
        kind, _, given = prior.partition(":")
        parsed.append((kind, tuple(g for g in given.split(",") if g)))
    specs: list[AttackSpec] = []
    for name in dict.fromkeys(chosen):
        if not takes_prior(name):
            specs.append(AttackSpec(name, optional=optional))
            continue
        specs += [AttackSpec(name, kind, given, optional) for kind, given in parsed]
    if not specs:
        raise AttackError("no attack to run")
    return tuple(specs)
