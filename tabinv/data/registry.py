"""Built-in data sets by name: one loader and one card each.

A built-in data set is a loader function in a module of :mod:`tabinv.data`, registered
with ``@builtin("NAME")``, and a card ``datasets/NAME.toml`` shipped as the package data
``tabinv._cards``. Nothing else lists them: the first lookup imports the modules of
:mod:`tabinv.data` (cheap; loaders import their heavy libraries inside the function), so
``import tabinv`` imports no loader. A card without a loader, or a loader without a card,
is an error for that name (and :func:`builtin_problems` lists every such pair, for the
test over the shipped cards), never a silently hidden data set.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import pkgutil
from collections.abc import Callable
from importlib import resources
from typing import Any, TypeVar

from ..exceptions import CardError, DataError, closest
from .dataset import Dataset, validate_frame
from .schema import Card, card_from_dict

__all__ = ["builtin", "builtin_card", "builtin_names", "builtin_parameters",
           "builtin_problems", "load_builtin"]

Loader = TypeVar("Loader", bound=Callable[..., Dataset])

#: name -> loader, filled by :func:`builtin` when the loader's module is imported
_LOADERS: dict[str, Callable[..., Dataset]] = {}
_CARDS = "tabinv._cards"


def builtin(name: str) -> Callable[[Loader], Loader]:
    """Register the decorated function as the loader of the built-in data set ``name``.

    The loader takes the data set's card (read from ``NAME.toml``) and the data set's own
    keyword parameters, and returns the clean :class:`Dataset`.

    Raises
    ------
    DataError
        Another function already loads ``name``.
    """
    def register(loader: Loader) -> Loader:
        other = _LOADERS.get(name)
        if other is not None and _where(other) != _where(loader):
            raise DataError(f"built-in dataset {name!r} has two loaders: {_where(other)} and "
                            f"{_where(loader)}")
        _LOADERS[name] = loader
        return loader

    return register


def _where(loader: Callable[..., Any]) -> str:
    return f"{loader.__module__}.{loader.__qualname__}"


@functools.cache
def _discover() -> None:
    """Import every module of :mod:`tabinv.data` once, so each ``@builtin`` has run."""
    package = __name__.rpartition(".")[0]
    for module in pkgutil.iter_modules(importlib.import_module(package).__path__):
        importlib.import_module(f"{package}.{module.name}")


def _loaders() -> dict[str, Callable[..., Dataset]]:
    _discover()
    return _LOADERS


def _card_names() -> set[str]:
    """Names of the cards shipped in ``tabinv._cards`` (``NAME.toml``)."""
    return {entry.name.removesuffix(".toml") for entry in resources.files(_CARDS).iterdir()
            if entry.name.endswith(".toml") and entry.is_file()}


def builtin_names() -> list[str]:
    """Names of the built-in data sets: every registered loader and every shipped card
    (a name with only one of them is listed, and refused when used)."""
    return sorted(set(_loaders()) | _card_names())


def builtin_problems() -> list[str]:
    """One line per card without a loader and per loader without a card (empty when every
    built-in data set has both)."""
    loaders, cards = _loaders(), _card_names()
    return [_unpaired(name, loaders, cards) for name in sorted(set(loaders) ^ cards)]


def _unpaired(name: str, loaders: dict[str, Callable[..., Dataset]], cards: set[str]) -> str:
    if name in cards:
        return (f"built-in dataset {name!r} has a card ({name}.toml) but no loader; register "
                f"one with @builtin({name!r}) in a module of tabinv.data")
    return (f"built-in dataset {name!r} has a loader ({_where(loaders[name])}) but no card; "
            f"add datasets/{name}.toml")


def _check_name(name: str) -> None:
    loaders, cards = _loaders(), _card_names()
    if name in loaders and name in cards:
        return
    if name in loaders or name in cards:
        error = CardError if name in loaders else DataError
        raise error(_unpaired(name, loaders, cards))
    raise DataError(
        f"unknown dataset {name!r}{closest(name, builtin_names())}; "
        f"built-in datasets are: {', '.join(builtin_names())}"
    )


def builtin_parameters(name: str) -> dict[str, Any]:
    """The keyword parameters a built-in data set takes, with their defaults."""
    _check_name(name)
    signature = inspect.signature(_LOADERS[name])
    return {p.name: p.default for p in list(signature.parameters.values())[1:]}


def builtin_card(name: str) -> Card:
    """The card of a built-in data set, read from the installed package."""
    import tomllib

    _check_name(name)
    text = resources.files(_CARDS).joinpath(f"{name}.toml").read_text("utf-8")
    try:
        return card_from_dict(tomllib.loads(text), origin=f"{name}.toml")
    except tomllib.TOMLDecodeError as error:  # pragma: no cover - shipped cards are tested
        raise CardError(f"built-in card {name}.toml is broken: {error}") from None


def load_builtin(name: str, **params: Any) -> Dataset:
    """Load, clean and validate a built-in data set.

    ``params`` are the data set's own parameters (``tabinv datasets show NAME`` lists
    them; e.g. ``people``, ``snps`` and ``seed`` for ``genomic``).
    """
    card = builtin_card(name)
    accepted = builtin_parameters(name)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise DataError(f"dataset {name!r} has no parameter(s) {unknown}; it takes "
                        f"{sorted(accepted) or 'no parameters'}")
    dataset = _LOADERS[name](card, **params)
    validate_frame(dataset.frame, dataset.card, dataset.card.column_names, origin=name)
    return dataset
