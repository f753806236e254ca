"""The registry of attacks: every module of :mod:`tabinv.attacks` is searched for them.

An attack is one module in ``tabinv/attacks/`` (a name not starting with ``_``) whose
class is decorated with :func:`register`. The registry imports every module of the
package the first time it is read (:meth:`AttackRegistry.discover`), so no list
elsewhere names the attacks: the CLI's
``--attack`` help, ``all``, inventories and the contract test
(``tests/attacks/test_contract.py``) all read :data:`ATTACKS`.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator, Mapping
from typing import Any

from ..exceptions import AttackError, closest
from ..text import shorten
from .base import BaseAttack

__all__ = ["ATTACKS", "AttackRegistry", "attack_class", "attack_names", "get_attack",
           "register"]

PACKAGE = __name__.rpartition(".")[0]


class AttackRegistry(Mapping[str, type[BaseAttack]]):
    """Attack name -> class, complete: reading it first imports every module of
    ``package`` (whose ``@register`` decorators fill it)."""

    def __init__(self, package: str) -> None:
        self.package = package
        self._classes: dict[str, type[BaseAttack]] = {}
        self._discovered = False

    def add(self, cls: type[BaseAttack]) -> None:
        """Register ``cls`` under its own ``name`` (a second class with the name is an
        error, so that no attack silently replaces another)."""
        if not (isinstance(cls, type) and issubclass(cls, BaseAttack)):
            raise TypeError(f"@register takes a BaseAttack subclass, not {cls!r}")
        name = cls.__dict__.get("name")
        if not isinstance(name, str) or not name:
            raise TypeError(f"{cls.__qualname__} must set its own class attribute 'name' "
                            "to be registered")
        known = self._classes.get(name)
        if known is not None and _origin(known) != _origin(cls):
            raise TypeError(f"attack name {name!r} of {_origin(cls)} is already taken by "
                            f"{_origin(known)}")
        self._classes[name] = cls

    def discover(self) -> None:
        """Import every public module of the package: their ``@register`` classes register.

        Modules whose name starts with ``_`` are private helpers, not searched (the
        compiled tree walk imports numba); an attack must not live in one. A module
        still being imported (a read of the registry while the package loads) has not
        registered yet: the search is then repeated at the next read.
        """
        package = importlib.import_module(self.package)
        complete = True
        for found in pkgutil.iter_modules(package.__path__, f"{self.package}."):
            if found.name.rpartition(".")[2].startswith("_"):
                continue
            module = importlib.import_module(found.name)
            complete &= not getattr(module.__spec__, "_initializing", False)
        self._discovered = complete

    def _complete(self) -> dict[str, type[BaseAttack]]:
        if not self._discovered:
            self.discover()
        return self._classes

    def __getitem__(self, name: str) -> type[BaseAttack]:
        return self._complete()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._complete())

    def __len__(self) -> int:
        return len(self._complete())

    def __contains__(self, name: object) -> bool:
        return name in self._complete()


def _origin(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


#: every registered attack, by name
ATTACKS = AttackRegistry(PACKAGE)


def register(cls: type[BaseAttack]) -> type[BaseAttack]:
    """Class decorator: make an attack available by its ``name`` (CLI ``--attack``)."""
    ATTACKS.add(cls)
    return cls


def attack_names() -> list[str]:
    """The registered attacks' names, sorted."""
    return sorted(ATTACKS)


def attack_class(name: str) -> type[BaseAttack]:
    """The registered attack ``name``; :class:`AttackError` naming the others if none."""
    if not isinstance(name, str) or name not in ATTACKS:
        raise AttackError(f"unknown attack {shorten(str(name))}{closest(str(name), ATTACKS)}; "
                          f"attacks are: {', '.join(attack_names())}")
    return ATTACKS[name]


def get_attack(name: str, **params: Any) -> BaseAttack:
    """Instantiate a registered attack by name; its parameters are validated first
    (:class:`AttackError` naming the attack, the parameter and what it takes)."""
    cls = attack_class(name)
    cls.check_params(params)
    return cls(**params)
